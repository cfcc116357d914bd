// How often does this host take a CPU away from a running thread, and for how long?
//   host_stalls [--seconds 5] [--threshold-us 200]
// One thread per CPU, each pinned, reads the monotonic clock in a tight loop and records every
// gap longer than the threshold: time the thread did not run (hypervisor steal, interrupts,
// other processes). A latency percentile measured on the same host cannot be better than the
// stalls it suffers, so registrar_load's p99 is read next to this (bench/registrar/README.md).
#include <fmt/format.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Stalls {
  std::vector<double> gaps_us;  // each gap above the threshold
  double total_us = 0;
};

Stalls watch(int cpu, Clock::duration length, Clock::duration threshold) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  Stalls s;
  const auto end = Clock::now() + length;
  auto last = Clock::now();
  while (last < end) {
    const auto now = Clock::now();
    if (now - last > threshold) {
      const double us = std::chrono::duration<double, std::micro>(now - last).count();
      s.gaps_us.push_back(us);
      s.total_us += us;
    }
    last = now;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5, threshold_us = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--seconds") seconds = std::stod(v);
    else if (k == "--threshold-us") threshold_us = std::stod(v);
    else {
      fmt::print(stderr, "host_stalls: unknown option {}\n", k);
      return 64;
    }
  }
  const int cpus = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  const auto length = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const auto threshold = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::micro>(threshold_us));
  std::vector<Stalls> results(static_cast<std::size_t>(cpus));
  std::vector<std::thread> threads;
  for (int c = 0; c < cpus; ++c)
    threads.emplace_back([&, c] { results[static_cast<std::size_t>(c)] = watch(c, length, threshold); });
  for (auto& t : threads) t.join();
  for (int c = 0; c < cpus; ++c) {
    auto& r = results[static_cast<std::size_t>(c)];
    std::sort(r.gaps_us.begin(), r.gaps_us.end());
    const double longest = r.gaps_us.empty() ? 0 : r.gaps_us.back();
    const auto over_ms = std::count_if(r.gaps_us.begin(), r.gaps_us.end(), [](double g) { return g >= 1000; });
    fmt::print("cpu {}: {} stalls > {:.0f} us in {:.0f} s ({} >= 1 ms), longest {:.0f} us, "
               "{:.2f} % of the time lost\n",
               c, r.gaps_us.size(), threshold_us, seconds, over_ms, longest,
               100 * r.total_us / (seconds * 1e6));
  }
  return 0;
}
