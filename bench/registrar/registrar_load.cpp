// Load generator for rsp-registrar over the real transport on loopback (usrsctp backend):
//   registrar_load [--associations 100] [--pes-per-association 100] [--pus 16]
//                  [--window 32] [--seconds 3] [--rate N] [--registrar PATH]
// Starts the registrar as a child process, then measures
//   1. registrations/s: every association registers its PEs pipelined (10k PEs by default),
//   2. handle resolutions/s from N concurrent PUs, each keeping `window` requests in flight,
//      with latency percentiles,
//   3. latency at half that rate, or at --rate resolutions/s (paced sends, each response
//      timestamped on arrival), with both processes' CPU and the hypervisor's steal,
//   4. the registrar's RSS per PE (VmRSS after registration minus before, over PEs),
//   5. UDP datagrams the kernel dropped for want of receive buffer space, per phase.
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "asap_client.hpp"
#include "process.hpp"

using namespace rsp;
using namespace rsp::registrar::test;
using Clock = std::chrono::steady_clock;
namespace asap = rsp::wire::asap;

namespace {

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long v = 0;
      in >> v;
      return v;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return -1;
}

// CPU seconds (user + system) used so far by process `pid` (0: this process).
double cpu_seconds(pid_t pid) {
  std::ifstream in(pid ? "/proc/" + std::to_string(pid) + "/stat" : std::string("/proc/self/stat"));
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Datagrams the kernel dropped for want of receive buffer space (all UDP sockets of the host).
long udp_receive_drops() {
  std::ifstream in("/proc/net/snmp");
  std::string header, values;
  while (std::getline(in, header) && std::getline(in, values)) {
    if (header.rfind("Udp:", 0) != 0) continue;
    std::istringstream h(header), v(values);
    std::string name, value;
    while (h >> name && v >> value)
      if (name == "RcvbufErrors") return std::stol(value);
  }
  return -1;
}

// The host's CPU time stolen by the hypervisor so far, and all CPU time, in clock ticks
// (/proc/stat "cpu" line): a p99 in milliseconds on a VM is often a stolen vCPU.
std::pair<double, double> steal_and_total_ticks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double v = 0, total = 0, steal = 0;
  for (int i = 0; i < 8 && in >> v; ++i) {
    total += v;
    if (i == 7) steal = v;
  }
  return {steal, total};
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  return v[i];
}

struct Pu {
  std::unique_ptr<AsapClient> client;
  std::deque<Clock::time_point> sent;
  std::size_t done = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int associations = 100, per_association = 100, pus = 16, window = 32;
  double seconds = 3;
  double paced_rate_option = 0;  // 0: half the measured pipelined rate
  std::string registrar = RSP_REGISTRAR_BIN;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--associations") associations = std::stoi(v);
    else if (k == "--pes-per-association") per_association = std::stoi(v);
    else if (k == "--pus") pus = std::stoi(v);
    else if (k == "--window") window = std::stoi(v);
    else if (k == "--seconds") seconds = std::stod(v);
    else if (k == "--rate") paced_rate_option = std::stod(v);
    else if (k == "--registrar") registrar = v;
    else {
      fmt::print(stderr, "registrar_load: unknown option {}\n", k);
      return 64;
    }
  }
  const std::string sock = fmt::format("/tmp/rsp-registrar-load-{}.sock", ::getpid());
  Child reg(registrar, {"--listen", "127.0.0.1:0", "--no-announce", "--transport", "udp",
                        "--status-socket", sock, "--keepalive-interval", "0",
                        "--max-pes-per-association", "100000"});
  std::string reply;
  for (int i = 0; i < 500 && reply.empty(); ++i) {
    reply = query_status(sock, true);
    if (reply.empty()) ::poll(nullptr, 0, 20);
  }
  if (reply.empty()) {
    fmt::print(stderr, "registrar_load: the registrar did not start\n");
    return 69;
  }
  const std::string listening = nlohmann::json::parse(reply)["listening"][0];
  const auto port = static_cast<std::uint16_t>(std::stoi(listening.substr(listening.rfind(':') + 1)));
  boost::asio::io_context io;

  // ---- 1. registrations ----
  std::vector<std::unique_ptr<AsapClient>> pes;
  for (int i = 0; i < associations; ++i) pes.push_back(std::make_unique<AsapClient>(io, port));
  run_until(io, [&] { return std::all_of(pes.begin(), pes.end(), [](auto& c) { return c->up; }); }, std::chrono::seconds(30));
  const long rss_before = rss_kib(reg.pid());
  constexpr int kPools = 100;
  const long drops0 = udp_receive_drops();
  const auto t0 = Clock::now();
  for (int i = 0; i < associations; ++i)
    for (int p = 0; p < per_association; ++p)
      pes[i]->send(make_registration(fmt::format("pool-{}", p % kPools),
                                     static_cast<PoolElementId>(i * 100000 + p + 1), pes[i]->port()));
  const bool registered = run_until(io, [&] {
    return std::all_of(pes.begin(), pes.end(), [&](auto& c) { return c->inbox.size() >= static_cast<std::size_t>(per_association); });
  }, std::chrono::seconds(120));
  const double reg_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const int total = associations * per_association;
  const long rss_after = rss_kib(reg.pid());
  if (!registered) {
    fmt::print(stderr, "registrar_load: registrations did not complete\n");
    return 70;
  }
  for (auto& c : pes) c->inbox.clear();

  const long drops1 = udp_receive_drops();
  // ---- 2. resolutions, pipelined ----
  std::vector<Pu> users(static_cast<std::size_t>(pus));
  for (auto& u : users) u.client = std::make_unique<AsapClient>(io, port);
  run_until(io, [&] { return std::all_of(users.begin(), users.end(), [](auto& u) { return u.client->up; }); }, std::chrono::seconds(30));
  std::mt19937 rng(7);
  std::vector<double> latencies;
  auto send_one = [&](Pu& u) {
    u.client->send(asap::HandleResolution{PoolHandle(fmt::format("pool-{}", rng() % kPools)), std::nullopt});
    u.sent.push_back(Clock::now());
  };
  auto drain = [&](Pu& u, bool refill) {
    while (!u.client->inbox.empty()) {
      const auto now = Clock::now();
      latencies.push_back(std::chrono::duration<double, std::micro>(now - u.sent.front()).count());
      u.sent.pop_front();
      u.client->inbox.pop_front();
      ++u.done;
      if (refill) send_one(u);
    }
  };
  for (auto& u : users)
    for (int w = 0; w < window; ++w) send_one(u);
  const auto r0 = Clock::now();
  const auto r_end = r0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < r_end) {
    io.run_one_for(std::chrono::milliseconds(10));
    for (auto& u : users) drain(u, true);
  }
  std::size_t resolved = 0;
  for (auto& u : users) resolved += u.done;
  const double hr_rate = static_cast<double>(resolved) / std::chrono::duration<double>(Clock::now() - r0).count();
  auto full = latencies;
  // Let what is in flight come back before the paced phase.
  run_until(io, [&] { for (auto& u : users) drain(u, false); return std::all_of(users.begin(), users.end(), [](auto& u) { return u.sent.empty(); }); }, std::chrono::seconds(10));

  const long drops2 = udp_receive_drops();
  // ---- 3. half load, paced ----
  // Requests leave at their scheduled times (the loop sleeps in the io_context until the next
  // one is due) and each response is timestamped in the transport's receive handler, so the
  // figures are the registrar's and the transport's, not the polling loop's.
  latencies.clear();
  for (auto& u : users)
    u.client->on_arrival = [&u, &latencies] {
      latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - u.sent.front()).count());
      u.sent.pop_front();
      u.client->inbox.pop_front();
      ++u.done;
    };
  const double half = paced_rate_option > 0 ? paced_rate_option : hr_rate / 2;
  const auto per_pu_interval = std::chrono::duration<double>(static_cast<double>(pus) / half);
  const auto p0 = Clock::now();
  const auto p_end = p0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<Clock::time_point> next(users.size(), p0);
  for (std::size_t i = 0; i < users.size(); ++i)
    next[i] = p0 + std::chrono::duration_cast<Clock::duration>(per_pu_interval * (static_cast<double>(i) / static_cast<double>(users.size())));
  std::size_t paced = 0;
  const double reg_cpu0 = cpu_seconds(reg.pid()), own_cpu0 = cpu_seconds(0);
  const auto steal0 = steal_and_total_ticks();
  while (Clock::now() < p_end) {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < users.size(); ++i)
      while (next[i] <= now) {
        send_one(users[i]);
        ++paced;
        next[i] += std::chrono::duration_cast<Clock::duration>(per_pu_interval);
      }
    if (io.stopped()) io.restart();
    io.run_one_until(*std::min_element(next.begin(), next.end()));
  }
  run_until(io, [&] { return std::all_of(users.begin(), users.end(), [](auto& u) { return u.sent.empty(); }); }, std::chrono::seconds(10));
  const double paced_rate = static_cast<double>(paced) / seconds;
  const long drops3 = udp_receive_drops();
  const double reg_cpu = cpu_seconds(reg.pid()) - reg_cpu0, own_cpu = cpu_seconds(0) - own_cpu0;
  const auto steal1 = steal_and_total_ticks();
  const double steal_pct = steal1.second > steal0.second
                               ? 100 * (steal1.first - steal0.first) / (steal1.second - steal0.second)
                               : 0;

  fmt::print("registrations: {} PEs over {} associations in {:.3f} s = {:.0f} registrations/s\n",
             total, associations, reg_seconds, total / reg_seconds);
  fmt::print("registrar RSS: {} KiB before, {} KiB after = {:.0f} bytes per PE\n", rss_before,
             rss_after, static_cast<double>(rss_after - rss_before) * 1024.0 / total);
  fmt::print("handle resolutions: {} PUs x window {}: {:.0f} resolutions/s; latency p50 {:.0f} us, p99 {:.0f} us\n",
             pus, window, hr_rate, percentile(full, 50), percentile(full, 99));
  fmt::print("{} ({:.0f}/s offered): latency p50 {:.0f} us, p99 {:.0f} us over {} requests\n",
             paced_rate_option > 0 ? "paced" : "half load", paced_rate, percentile(latencies, 50),
             percentile(latencies, 99), latencies.size());
  fmt::print("paced CPU: registrar {:.0f} %, load generator {:.0f} % ({:.1f} / {:.1f} us per resolution); "
             "host CPU stolen by the hypervisor {:.1f} %\n",
             100 * reg_cpu / seconds, 100 * own_cpu / seconds, 1e6 * reg_cpu / static_cast<double>(paced),
             1e6 * own_cpu / static_cast<double>(paced), steal_pct);
  fmt::print("UDP datagrams dropped for receive buffer space (host-wide): registrations {}, pipelined {}, paced {}\n",
             drops1 - drops0, drops2 - drops1, drops3 - drops2);
  reg.signal(SIGTERM);
  reg.wait(std::chrono::seconds(5));
  return 0;
}
