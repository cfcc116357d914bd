// Load generator for rsp-registrar over the real transport on loopback (usrsctp backend):
//   registrar_load [--associations 100] [--pes-per-association 100] [--pus 16]
//                  [--window 32] [--seconds 3] [--rate N] [--paced-runs 1]
//                  [--busy-poll DURATION] [--trace 1] [--registrar PATH]
// Starts the registrar as a child process, then measures
//   1. registrations/s: every association registers its PEs pipelined (10k PEs by default),
//   2. handle resolutions/s from N concurrent PUs, each keeping `window` requests in flight,
//      with latency percentiles,
//   3. latency at half that rate, or at --rate resolutions/s (paced sends, each response
//      timestamped on arrival), with both processes' CPU and the hypervisor's steal, and the
//      tail taken apart: requests sent late by the generator, the registrar's and the
//      generator's loop traces (rsp/transport/loop_trace.hpp), run-queue waits (schedstat),
//   4. the registrar's RSS per PE (VmRSS after registration minus before, over PEs),
//   5. UDP datagrams the kernel dropped for want of receive buffer space, per phase.
#include <dirent.h>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "asap_client.hpp"
#include "process.hpp"
#include "rsp/transport/loop_trace.hpp"

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

// Time on a CPU and waiting on a run queue (ns), over all threads of `pid` (0: this process),
// from /proc/<pid>/task/*/schedstat: a runnable process that does not run waits here; a vCPU
// taken by the hypervisor shows as steal instead.
std::pair<double, double> schedstat_ns(pid_t pid) {
  const std::string dir = pid ? "/proc/" + std::to_string(pid) + "/task" : std::string("/proc/self/task");
  double run = 0, wait = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(dir + "/" + e->d_name + "/schedstat");
      double r = 0, w = 0;
      if (in >> r >> w) {
        run += r;
        wait += w;
      }
    }
    ::closedir(d);
  }
  return {run, wait};
}

std::int64_t ns_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::vector<transport::loop_trace::Record> read_trace(const std::string& path) {
  std::vector<transport::loop_trace::Record> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream l(line);
    unsigned kind = 0;
    transport::loop_trace::Record r;
    long long t = 0, rx = 0, dur = 0;
    if (l >> kind >> t >> rx >> dur >> r.count) {
      r.kind = static_cast<transport::loop_trace::Kind>(kind);
      r.t_ns = t;
      r.rx_ns = rx;
      r.dur_ns = dur;
      out.push_back(r);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.t_ns < b.t_ns; });
  return out;
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
  std::deque<std::size_t> request;  // paced phase: index into the phase's requests
  std::size_t done = 0;
};

// One paced request: when it was due, when it left, when its response arrived (ns, monotonic).
struct Request {
  std::int64_t scheduled = 0, sent = 0, arrived = 0;
  std::size_t pu = 0;
  std::uint32_t port = 0;  // the PU's SCTP port, as the registrar's trace names the sender
  double latency_us() const { return static_cast<double>(arrived - sent) / 1e3; }
  double late_us() const { return static_cast<double>(sent - scheduled) / 1e3; }
};

struct PacedPhase {
  std::int64_t begin = 0, end = 0;
  std::vector<Request> requests;
  double seconds = 0, reg_cpu = 0, own_cpu = 0, steal_pct = 0;
  double reg_runq_ms = 0, own_runq_ms = 0;
  long drops = 0;
  std::size_t refused = 0;  // sends the transport refused (WouldBlock)
  std::string load;
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a;
  in >> a;
  return a;
}

// Records of one kind inside [from, to] (by start time), from a trace sorted by start time.
template <typename F>
void each_in(const std::vector<transport::loop_trace::Record>& trace, std::int64_t from, std::int64_t to, F&& f) {
  auto it = std::lower_bound(trace.begin(), trace.end(), from,
                             [](const auto& r, std::int64_t t) { return r.t_ns < t; });
  for (; it != trace.end() && it->t_ns <= to; ++it) f(*it);
}

// The largest stretch of [from, to] in which the loop ran nothing (no record's [t, t + dur]
// covers it): the loop sleeping, or its process or vCPU not running.
double largest_gap_us(const std::vector<transport::loop_trace::Record>& trace, std::int64_t from, std::int64_t to) {
  std::int64_t cursor = from, gap = 0;
  // A record that started before `from` may still be running.
  auto it = std::lower_bound(trace.begin(), trace.end(), from - 50'000'000,
                             [](const auto& r, std::int64_t t) { return r.t_ns < t; });
  for (; it != trace.end() && it->t_ns <= to; ++it) {
    if (it->kind == transport::loop_trace::Kind::Message) continue;  // inside a wake-up
    if (it->t_ns > cursor) gap = std::max(gap, it->t_ns - cursor);
    cursor = std::max(cursor, it->t_ns + it->dur_ns);
  }
  if (to > cursor) gap = std::max(gap, to - cursor);
  return static_cast<double>(gap) / 1e3;
}

void report_phase(int run, const PacedPhase& ph, const std::vector<transport::loop_trace::Record>& reg_trace,
                  const std::vector<transport::loop_trace::Record>& own_trace) {
  using transport::loop_trace::Kind;
  std::vector<double> all, on_time;
  std::size_t late = 0;
  for (const auto& r : ph.requests) {
    if (r.arrived == 0) continue;
    all.push_back(r.latency_us());
    if (r.late_us() < 100) on_time.push_back(r.latency_us());
    else ++late;
  }
  auto sorted = all;
  std::sort(sorted.begin(), sorted.end());
  std::sort(on_time.begin(), on_time.end());
  const double p50 = percentile(sorted, 50), p99 = percentile(sorted, 99);
  fmt::print("paced run {} (load {}): {:.0f}/s offered, {} requests: p50 {:.0f} us, p99 {:.0f} us, p99.9 {:.0f} us, max {:.0f} us; "
             "sent on time (< 100 us late): {} requests, p99 {:.0f} us; sent late: {}\n",
             run, ph.load, static_cast<double>(ph.requests.size()) / ph.seconds, all.size(), p50, p99,
             percentile(sorted, 99.9), sorted.empty() ? 0 : sorted.back(), on_time.size(), percentile(on_time, 99), late);
  fmt::print("  CPU registrar {:.0f} % / generator {:.0f} % ({:.1f} / {:.1f} us per resolution); steal {:.2f} %; "
             "run-queue wait registrar {:.1f} ms / generator {:.1f} ms; UDP drops {}; sends refused {}\n",
             100 * ph.reg_cpu / ph.seconds, 100 * ph.own_cpu / ph.seconds,
             1e6 * ph.reg_cpu / static_cast<double>(ph.requests.size()),
             1e6 * ph.own_cpu / static_cast<double>(ph.requests.size()), ph.steal_pct, ph.reg_runq_ms,
             ph.own_runq_ms, ph.drops, ph.refused);
  // The loops over the whole phase: how long datagrams lay in each process's socket before it
  // read them (wake-up latency, or the loop being busy or not running), how long the
  // registrar's core took per message, the longest wake-ups and SCTP ticks.
  auto loop_figures = [&](const char* who, const std::vector<transport::loop_trace::Record>& trace) {
    std::vector<double> wait, busy, msg, tick;
    double datagrams = 0;
    each_in(trace, ph.begin, ph.end, [&](const auto& r) {
      if (r.kind == Kind::Wakeup) datagrams += r.count;
      if (r.kind == Kind::Wakeup && r.rx_ns != 0) wait.push_back(static_cast<double>(r.t_ns - r.rx_ns) / 1e3);
      if (r.kind == Kind::Wakeup) busy.push_back(static_cast<double>(r.dur_ns) / 1e3);
      if (r.kind == Kind::Message) msg.push_back(static_cast<double>(r.dur_ns) / 1e3);
      if (r.kind == Kind::SctpTick) tick.push_back(static_cast<double>(r.dur_ns) / 1e3);
    });
    if (wait.empty()) {
      fmt::print("  {}: no loop trace\n", who);
      return;
    }
    for (auto* v : {&wait, &busy, &msg, &tick}) std::sort(v->begin(), v->end());
    const double n_wake = static_cast<double>(busy.size());
    fmt::print("  {} loop: {} wake-ups; socket wait p50 {:.0f} / p99 {:.0f} / max {:.0f} us; wake-up busy p99 {:.0f} / max {:.0f} us",
               who, busy.size(), percentile(wait, 50), percentile(wait, 99), wait.empty() ? 0 : wait.back(),
               percentile(busy, 99), busy.empty() ? 0 : busy.back());
    if (!msg.empty())
      fmt::print("; core per message p50 {:.1f} / p99 {:.1f} / max {:.0f} us", percentile(msg, 50),
                 percentile(msg, 99), msg.back());
    if (!tick.empty()) fmt::print("; SCTP tick p99 {:.0f} / max {:.0f} us", percentile(tick, 99), tick.back());
    fmt::print(" ({:.1f} datagrams per wake-up)\n", n_wake > 0 ? datagrams / n_wake : 0.0);
  };
  loop_figures("registrar", reg_trace);
  loop_figures("generator", own_trace);

  // Each request taken apart, from the two traces. The registrar records each message it
  // handles with the sender's SCTP port; a PU's requests and responses are in order (one
  // stream), so the k-th message from a PU's port in this phase is the PU's k-th request. With
  // M = the registrar's record of that message and G = the generator's wake-up that delivered
  // the response (G.rx: the kernel's arrival time of the oldest datagram in that PU's socket,
  // which holds little else than this response at this load):
  //   a = M.t - sent       until the registrar's core starts on it: its socket, its wake-up,
  //                        usrsctp's input, messages ahead of it in the batch
  //   c = G.rx - M.t       the core, the rest of the registrar's batch until its sendmmsg, the
  //                        kernel to the generator's socket
  //   d = G.t - G.rx       waiting in the generator's socket
  //   e = arrived - G.t    the generator's wake-up until the handler
  // a + c + d + e = latency. a + c is the registrar's part, d + e the generator's (its send
  // path is not in it: the request is in the registrar's socket when send() returns).
  std::map<std::uint32_t, std::vector<const transport::loop_trace::Record*>> by_port;
  std::vector<const transport::loop_trace::Record*> own_wakeups;
  for (const auto& r : reg_trace) {
    if (r.kind == Kind::Message && r.t_ns >= ph.begin && r.t_ns <= ph.end) by_port[r.count].push_back(&r);
  }
  for (const auto& r : own_trace)
    if (r.kind == Kind::Wakeup) own_wakeups.push_back(&r);
  // The wake-up (sorted by start) running at time t.
  auto containing = [](const std::vector<const transport::loop_trace::Record*>& w, std::int64_t t)
      -> const transport::loop_trace::Record* {
    auto it = std::upper_bound(w.begin(), w.end(), t, [](std::int64_t x, const auto* r) { return x < r->t_ns; });
    if (it == w.begin()) return nullptr;
    --it;
    return t <= (*it)->t_ns + (*it)->dur_ns && (*it)->rx_ns != 0 ? *it : nullptr;
  };
  struct Parts {
    double a, c, d, e;
    std::int64_t core_start;
  };
  std::vector<std::optional<Parts>> parts(ph.requests.size());
  std::map<std::size_t, std::size_t> seen;  // PU -> requests matched so far
  std::size_t matched = 0, unmatched = 0;
  for (std::size_t i = 0; i < ph.requests.size(); ++i) {
    const auto& q = ph.requests[i];
    auto& k = seen[q.pu];
    const auto it = by_port.find(q.port);
    const transport::loop_trace::Record* m = it != by_port.end() && k < it->second.size() ? it->second[k] : nullptr;
    ++k;
    const auto* gw = q.arrived ? containing(own_wakeups, q.arrived) : nullptr;
    if (!m || !gw) {
      ++unmatched;
      continue;
    }
    ++matched;
    parts[i] = Parts{static_cast<double>(m->t_ns - q.sent) / 1e3, static_cast<double>(gw->rx_ns - m->t_ns) / 1e3,
                     static_cast<double>(gw->t_ns - gw->rx_ns) / 1e3, static_cast<double>(q.arrived - gw->t_ns) / 1e3,
                     m->t_ns};
  }
  if (matched == 0) {
    fmt::print("  no request could be matched to the traces ({} unmatched)\n", unmatched);
    return;
  }
  if (unmatched > 0) fmt::print("  {} requests not matched to the traces\n", unmatched);
  // The requests that make the p99, and those over the 2 ms target.
  for (const double threshold : {p99, 2000.0}) {
    std::size_t slow = 0, gen_late = 0, reg_idle = 0, reg_major = 0;
    double sum[4] = {0, 0, 0, 0};
    std::size_t dominant[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < ph.requests.size(); ++i) {
      const auto& r = ph.requests[i];
      if (r.arrived == 0 || r.latency_us() < threshold || !parts[i]) continue;
      ++slow;
      const auto& p = *parts[i];
      const double v[4] = {p.a, p.c, p.d, p.e};
      std::size_t top = 0;
      for (std::size_t j = 0; j < 4; ++j) {
        sum[j] += v[j];
        if (v[j] > v[top]) top = j;
      }
      ++dominant[top];
      if (p.a + p.c > r.latency_us() / 2) ++reg_major;
      // Generator stalled meanwhile: a request due in the window left >= 100 us late.
      for (const auto& o : ph.requests)
        if (o.scheduled >= r.sent && o.scheduled <= r.arrived && o.late_us() >= 100) {
          ++gen_late;
          break;
        }
      // The registrar's loop ran nothing for most of the time before it got to the request:
      // asleep in epoll with the datagram waiting (wake-up latency) or not running at all.
      if (p.a >= 200 && largest_gap_us(reg_trace, r.sent, p.core_start) >= p.a / 2) ++reg_idle;
    }
    if (slow == 0) continue;
    const auto pct = [&](std::size_t n) { return 100.0 * static_cast<double>(n) / static_cast<double>(slow); };
    const auto mean = [&](std::size_t j) { return sum[j] / static_cast<double>(slow); };
    fmt::print("  {} requests >= {:.0f} us, mean us: a until the registrar's core {:.0f}, c core to the generator's socket {:.0f}, "
               "d in the generator's socket {:.0f}, e generator's wake-up {:.0f}; largest part a/c/d/e {:.0f}/{:.0f}/{:.0f}/{:.0f} %; "
               "registrar's part (a+c) > half {:.0f} %; registrar's loop idle for most of a >= 200 us {:.0f} %; "
               "generator sent late meanwhile {:.0f} %\n",
               slow, threshold, mean(0), mean(1), mean(2), mean(3), pct(dominant[0]), pct(dominant[1]),
               pct(dominant[2]), pct(dominant[3]), pct(reg_major), pct(reg_idle), pct(gen_late));
  }
  // All requests: the percentiles of each part.
  std::vector<double> pa, pc, pd, pe;
  for (const auto& p : parts)
    if (p) {
      pa.push_back(p->a);
      pc.push_back(p->c);
      pd.push_back(p->d);
      pe.push_back(p->e);
    }
  fmt::print("  all requests, p50 / p99 us: a {:.0f} / {:.0f}, c {:.0f} / {:.0f}, d {:.0f} / {:.0f}, e {:.0f} / {:.0f}\n",
             percentile(pa, 50), percentile(pa, 99), percentile(pc, 50), percentile(pc, 99), percentile(pd, 50),
             percentile(pd, 99), percentile(pe, 50), percentile(pe, 99));
}

}  // namespace

int main(int argc, char** argv) {
  int associations = 100, per_association = 100, pus = 16, window = 32;
  double seconds = 3;
  double paced_rate_option = 0;  // 0: half the measured pipelined rate
  int paced_runs = 1;
  bool trace = true;
  std::string busy_poll;
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
    else if (k == "--paced-runs") paced_runs = std::stoi(v);
    else if (k == "--busy-poll") busy_poll = v;
    else if (k == "--trace") trace = v != "0";
    else {
      fmt::print(stderr, "registrar_load: unknown option {}\n", k);
      return 64;
    }
  }
  const std::string sock = fmt::format("/tmp/rsp-registrar-load-{}.sock", ::getpid());
  // Both processes trace their loops (rsp/transport/loop_trace.hpp): the registrar writes its
  // records to a file when it exits, this process keeps its own in memory.
  const std::string trace_file = fmt::format("/tmp/rsp-registrar-load-{}.trace", ::getpid());
  if (trace) ::setenv("RSP_LOOP_TRACE", trace_file.c_str(), 1);
  std::vector<std::string> reg_args{"--listen", "127.0.0.1:0", "--no-announce", "--transport", "udp",
                                    "--status-socket", sock, "--keepalive-interval", "0",
                                    "--max-pes-per-association", "100000"};
  if (!busy_poll.empty()) {
    reg_args.push_back("--busy-poll");
    reg_args.push_back(busy_poll);
  }
  Child reg(registrar, reg_args);
  ::unsetenv("RSP_LOOP_TRACE");
  if (trace) transport::loop_trace::enable();
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
  // A request the transport refuses (its send buffer full: WouldBlock) is not waited for: it
  // is counted and the PU's queue of outstanding requests stays in step with its responses.
  std::size_t refused = 0;
  auto send_one = [&](Pu& u) {
    if (!u.client->send(asap::HandleResolution{PoolHandle(fmt::format("pool-{}", rng() % kPools)), std::nullopt})) {
      ++refused;
      return false;
    }
    u.sent.push_back(Clock::now());
    return true;
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

  const long drops_pipelined = udp_receive_drops() - drops1;
  const std::size_t refused_pipelined = refused;
  // ---- 3. half load, paced ----
  // Requests leave at their scheduled times (the loop sleeps in the io_context until the next
  // one is due) and each response is timestamped in the transport's receive handler, so the
  // figures are the registrar's and the transport's, not the polling loop's.
  std::vector<PacedPhase> phases;
  PacedPhase* phase = nullptr;
  for (auto& u : users)
    u.client->on_arrival = [&u, &phase] {
      phase->requests[u.request.front()].arrived = ns_of(Clock::now());
      u.request.pop_front();
      u.sent.pop_front();
      u.client->inbox.pop_front();
      ++u.done;
    };
  const double half = paced_rate_option > 0 ? paced_rate_option : hr_rate / 2;
  const auto per_pu_interval = std::chrono::duration<double>(static_cast<double>(pus) / half);
  phases.reserve(static_cast<std::size_t>(paced_runs));
  for (int run = 0; run < paced_runs; ++run) {
    if (std::any_of(users.begin(), users.end(), [](auto& u) { return !u.sent.empty(); })) {
      fmt::print(stderr, "registrar_load: responses still missing after 10 s; no further paced runs\n");
      break;
    }
    phases.emplace_back();
    phase = &phases.back();
    phase->load = load_average();
    phase->requests.reserve(static_cast<std::size_t>(half * seconds * 1.1) + 16);
    const long drops2 = udp_receive_drops();
    const double reg_cpu0 = cpu_seconds(reg.pid()), own_cpu0 = cpu_seconds(0);
    const auto steal0 = steal_and_total_ticks();
    const auto reg_sched0 = schedstat_ns(reg.pid()), own_sched0 = schedstat_ns(0);
    const auto p0 = Clock::now();
    const auto p_end = p0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<Clock::time_point> next(users.size(), p0);
    for (std::size_t i = 0; i < users.size(); ++i)
      next[i] = p0 + std::chrono::duration_cast<Clock::duration>(per_pu_interval * (static_cast<double>(i) / static_cast<double>(users.size())));
    while (Clock::now() < p_end) {
      for (std::size_t i = 0; i < users.size(); ++i)
        while (next[i] <= Clock::now() && next[i] < p_end) {
          auto& u = users[i];
          if (send_one(u)) {
            u.request.push_back(phase->requests.size());
            phase->requests.push_back(Request{ns_of(next[i]), ns_of(u.sent.back()), 0, i, u.client->port()});
          } else {
            ++phase->refused;
          }
          next[i] += std::chrono::duration_cast<Clock::duration>(per_pu_interval);
        }
      if (io.stopped()) io.restart();
      io.run_one_until(*std::min_element(next.begin(), next.end()));
    }
    run_until(io, [&] { return std::all_of(users.begin(), users.end(), [](auto& u) { return u.sent.empty(); }); }, std::chrono::seconds(10));
    phase->begin = ns_of(p0);
    phase->end = ns_of(Clock::now());
    phase->seconds = seconds;
    phase->drops = udp_receive_drops() - drops2;
    phase->reg_cpu = cpu_seconds(reg.pid()) - reg_cpu0;
    phase->own_cpu = cpu_seconds(0) - own_cpu0;
    const auto steal1 = steal_and_total_ticks();
    phase->steal_pct = steal1.second > steal0.second
                           ? 100 * (steal1.first - steal0.first) / (steal1.second - steal0.second)
                           : 0;
    phase->reg_runq_ms = (schedstat_ns(reg.pid()).second - reg_sched0.second) / 1e6;
    phase->own_runq_ms = (schedstat_ns(0).second - own_sched0.second) / 1e6;
  }

  fmt::print("registrations: {} PEs over {} associations in {:.3f} s = {:.0f} registrations/s\n",
             total, associations, reg_seconds, total / reg_seconds);
  fmt::print("registrar RSS: {} KiB before, {} KiB after = {:.0f} bytes per PE\n", rss_before,
             rss_after, static_cast<double>(rss_after - rss_before) * 1024.0 / total);
  fmt::print("handle resolutions: {} PUs x window {}: {:.0f} resolutions/s; latency p50 {:.0f} us, p99 {:.0f} us\n",
             pus, window, hr_rate, percentile(full, 50), percentile(full, 99));
  fmt::print("UDP datagrams dropped for receive buffer space (host-wide): registrations {}, pipelined {}; "
             "pipelined sends refused (WouldBlock) {}\n",
             drops1 - drops0, drops_pipelined, refused_pipelined);
  reg.signal(SIGTERM);
  reg.wait(std::chrono::seconds(5));
  std::vector<transport::loop_trace::Record> reg_trace;
  if (trace) {
    reg_trace = read_trace(trace_file);
    ::unlink(trace_file.c_str());
  }
  auto own_trace = transport::loop_trace::records();
  std::sort(own_trace.begin(), own_trace.end(), [](const auto& a, const auto& b) { return a.t_ns < b.t_ns; });
  for (std::size_t i = 0; i < phases.size(); ++i) report_phase(static_cast<int>(i + 1), phases[i], reg_trace, own_trace);
  return 0;
}
