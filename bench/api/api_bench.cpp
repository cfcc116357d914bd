// rsp_* API figures (issue 6):
//  - echo message rate through rsp_sendmsg/rsp_recvmsg against an echo_pe process, sequential
//    round trips and pipelined (16 in flight), 64 B and 4 KiB — the same shapes as
//    bench/transport, whose usrsctp figures are the reference (target >= 80%);
//  - failover time: SIGKILL of the serving PE to the first reply from another PE, default and
//    low-latency profiles (targets <= 1 s and <= 200 ms on loopback).
// A registrar and the PEs are separate processes (rsp-registrar, examples/echo_pe).
#include <benchmark/benchmark.h>

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cpu_time.hpp"
#include "process.hpp"
#include "rsp/rsp.h"

using rsp::api::test::Child;
// All threads of this process: the application thread and the API's io thread.
using rsp::bench::own_cpu_seconds;
using namespace std::chrono_literals;

namespace {

constexpr int kInFlight = 16;

struct Pool {
  std::uint16_t port = 0;
  std::unique_ptr<Child> registrar;
  std::string handle;
  std::string registrars;
  std::map<std::uint32_t, std::unique_ptr<Child>> pes;

  explicit Pool(const std::string& name) : handle(name) {
    port = rsp::api::test::free_port();
    registrars = "127.0.0.1:" + std::to_string(port);
    registrar = std::make_unique<Child>(std::vector<std::string>{
        RSP_REGISTRAR_BIN, "-l", registrars, "--no-announce", "--no-status-socket",
        "--min-address-scope", "loopback", "--no-address-check", "--fast"});
  }
  bool add_pe(const char* profile) {
    auto child = std::make_unique<Child>(
        std::vector<std::string>{ECHO_PE_BIN, "-a", "127.0.0.1", "-h", handle},
        std::vector<std::string>{"RSP_REGISTRAR=" + registrars, std::string("RSP_PROFILE=") + profile});
    auto line = child->wait_for("registered ", 20s);
    if (!line) return false;
    pes.emplace(static_cast<std::uint32_t>(std::stoul(line->substr(11))), std::move(child));
    return true;
  }
};

Pool* g_pool = nullptr;
rsp_registrar_info g_registrar{};
sockaddr_storage g_registrar_address{};

void initialize(std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  std::memcpy(&g_registrar_address, &sin, sizeof sin);
  g_registrar.rri_addr = reinterpret_cast<sockaddr*>(&g_registrar_address);
  g_registrar.rri_addrs = 1;
  rsp_info info{};
  info.ri_registrars = &g_registrar;
  info.ri_disable_autoconfig = 1;
  rsp_initialize(&info);
}

int connect_pu(const std::string& pool, int profile) {
  const int fd = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  rsp_setsockopt(fd, SOL_RSERPOOL, RSP_PROFILE, &profile, sizeof profile);
  if (rsp_connect(fd, reinterpret_cast<const unsigned char*>(pool.data()), pool.size()) != 0) {
    rsp_close(fd);
    return -1;
  }
  return fd;
}

// Receives the next data message (skipping notifications); returns its PE or 0 on error.
std::uint32_t receive(int fd, std::vector<char>& buf) {
  for (;;) {
    rsp_sndrcvinfo info{};
    int flags = 0;
    const ssize_t n = rsp_recvmsg(fd, buf.data(), buf.size(), &info, &flags);
    if (n < 0) return 0;
    if ((flags & MSG_RSERPOOL_NOTIFICATION) == 0) return info.rinfo_pe_id;
  }
}

// CPU time (user + system, seconds) of a child process, from /proc/PID/stat (clock ticks).
double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field && i <= 15; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime (proc(5))
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void BM_Echo(benchmark::State& state, bool pipelined) {
  const auto size = static_cast<std::size_t>(state.range(0));
  // The echo PE's CPU: every PE of the pool (only one serves this socket).
  auto pe_cpu = [] {
    double total = 0;
    for (const auto& [id, child] : g_pool->pes) total += process_cpu_seconds(child->pid());
    return total;
  };
  const int fd = connect_pu(g_pool->handle, RSP_PROFILE_DEFAULT);
  if (fd < 0) return state.SkipWithError("rsp_connect failed");
  std::vector<char> msg(size, 'x');
  std::vector<char> buf(size + 1024);
  rsp_sendmsg(fd, msg.data(), size, nullptr, 0);
  if (receive(fd, buf) == 0) return state.SkipWithError("no echo");
  if (pipelined) {
    for (int i = 0; i < kInFlight; ++i) rsp_sendmsg(fd, msg.data(), size, nullptr, 0);
  }
  const double pu_cpu0 = own_cpu_seconds(), pe_cpu0 = pe_cpu();
  for (auto _ : state) {
    if (!pipelined) rsp_sendmsg(fd, msg.data(), size, nullptr, 0);
    receive(fd, buf);
    if (pipelined) rsp_sendmsg(fd, msg.data(), size, nullptr, 0);
  }
  // Both sides' CPU per message (all threads of each process): unlike the rate, it hardly
  // changes when the host takes the vCPUs away for a while (bench/api/README.md).
  const double n = static_cast<double>(state.iterations());
  state.counters["pu_cpu_us"] = benchmark::Counter((own_cpu_seconds() - pu_cpu0) * 1e6 / n);
  state.counters["pe_cpu_us"] = benchmark::Counter((pe_cpu() - pe_cpu0) * 1e6 / n);
  if (pipelined) {
    timeval tv{2, 0};
    rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVTIMEO, &tv, sizeof tv);
    for (int i = 0; i < kInFlight; ++i) receive(fd, buf);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  rsp_close(fd);
}

// One failover measurement: ms from SIGKILL of the serving PE to the first echo from another.
std::optional<double> failover_once(Pool& pool, int profile, const char* pe_profile) {
  while (pool.pes.size() < 3) {
    if (!pool.add_pe(pe_profile)) return std::nullopt;
  }
  const int fd = connect_pu(pool.handle, profile);
  if (fd < 0) return std::nullopt;
  timeval tv{10, 0};
  rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVTIMEO, &tv, sizeof tv);
  std::vector<char> buf(1024);
  const char ping[] = "ping";
  rsp_sendmsg(fd, ping, 4, nullptr, 0);
  const std::uint32_t serving = receive(fd, buf);
  auto it = pool.pes.find(serving);
  if (it == pool.pes.end()) {
    rsp_close(fd);
    return std::nullopt;
  }
  const auto start = std::chrono::steady_clock::now();
  it->second->signal(SIGKILL);
  rsp_sendmsg(fd, ping, 4, nullptr, 0);
  const std::uint32_t next = receive(fd, buf);
  const auto took = std::chrono::steady_clock::now() - start;
  rsp_close(fd);
  pool.pes.erase(it);
  if (next == 0 || next == serving) return std::nullopt;
  return std::chrono::duration<double, std::milli>(took).count();
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  // --no-failover: the message rates only (quick runs, profiling); --failover-only: the
  // failover times only.
  bool failover = true;
  bool rates = true;
  for (int i = 1; i < argc;) {
    const std::string_view arg(argv[i]);
    if (arg == "--no-failover" || arg == "--failover-only") {
      (arg == "--no-failover" ? failover : rates) = false;
      std::copy(argv + i + 1, argv + argc + 1, argv + i);
      --argc;
    } else {
      ++i;
    }
  }
  Pool pool("bench-" + std::to_string(::getpid()));
  g_pool = &pool;
  initialize(pool.port);
  if (!pool.add_pe("default")) {
    std::fprintf(stderr, "api_bench: echo_pe did not register\n");
    return 69;
  }
  for (const bool pipelined : {false, true}) {
    benchmark::RegisterBenchmark(pipelined ? "pipelined/rsp_sendmsg" : "sequential/rsp_sendmsg",
                                 [pipelined](benchmark::State& s) { BM_Echo(s, pipelined); })
        ->Arg(64)->Arg(4096)->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  if (rates) benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!failover) {
    rsp_cleanup();
    return 0;
  }

  constexpr int kRuns = 5;
  std::printf("\nfailover time, SIGKILL of the serving PE -> first echo from another PE (%d runs)\n",
              kRuns);
  for (const auto& [name, profile, pe_profile] :
       {std::tuple{"default", RSP_PROFILE_DEFAULT, "default"},
        std::tuple{"low-latency", RSP_PROFILE_LOW_LATENCY, "low-latency"}}) {
    Pool fo(std::string("failover-") + name + "-" + std::to_string(::getpid()));
    rsp_cleanup();
    initialize(fo.port);
    std::vector<double> ms;
    std::string runs;  // in run order: which run of the series was slow tells why
    int failed = 0;
    for (int i = 0; i < kRuns; ++i) {
      char one[32];
      if (auto t = failover_once(fo, profile, pe_profile)) {
        ms.push_back(*t);
        std::snprintf(one, sizeof one, " %.1f", *t);
      } else {
        ++failed;
        std::snprintf(one, sizeof one, " failed");
      }
      runs += one;
    }
    std::sort(ms.begin(), ms.end());
    if (ms.empty()) {
      std::printf("%-12s no successful failover (%d failed)\n", name, failed);
      continue;
    }
    std::printf("%-12s min %7.1f ms  median %7.1f ms  max %7.1f ms  (failed %d; runs:%s)\n", name,
                ms.front(), ms[ms.size() / 2], ms.back(), failed, runs.c_str());
  }
  rsp_cleanup();
  return 0;
}
