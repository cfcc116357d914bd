// Round trips per second (sequential) and messages per second (pipelined, 16 in flight) for
// 64 B and 4 KiB messages: raw UDP echo (the practical limit on this loopback), the usrsctp
// backend, and kernel SCTP when the host has it. Each echo server is this program re-executed
// as a separate process (`--serve raw|udp|kernel`), so client and server run as they would.
// After the Google Benchmark output a summary table compares every backend with raw UDP.
// checksum/crc32c/N: the SCTP checksum we compute for usrsctp, per packet of N bytes.
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cpu_time.hpp"
#include "rsp/transport/endpoint.hpp"
#include "transport/crc32c.hpp"

using namespace rsp;
using namespace rsp::transport;

namespace {

constexpr int kInFlight = 16;

// ---- servers (run in the child process) ----

int serve_raw() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) return 71;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  std::printf("port %u\n", ntohs(sin.sin_port));
  std::fflush(stdout);
  std::vector<char> buf(65536);
  for (;;) {
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    const ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 0) continue;
    ::sendto(fd, buf.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
  }
}

int serve_sctp(Backend backend) {
  boost::asio::io_context io;
  EndpointOptions o;
  o.backend = backend;
  auto ep = open_endpoint(io, o);
  if (!ep) {
    std::fprintf(stderr, "server: %s\n", ep.error().message.c_str());
    return 69;
  }
  Endpoint& e = **ep;
  e.set_handlers({[&e](ReceivedMessage&& m) {
                    (void)e.send(m.association, m.payload, SendInfo{m.ppid, m.stream, m.unordered, {}});
                  },
                  {}, {}, {}});
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  std::printf("port %u\n", e.local_port());
  std::fflush(stdout);
  io.run();
  return 0;
}

// ---- the child process ----

class Server {
 public:
  explicit Server(const std::string& kind) {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execl("/proc/self/exe", "transport_bench", "--serve", kind.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    pollfd p{out[0], POLLIN, 0};
    char line[64] = {};
    if (::poll(&p, 1, 5000) == 1 && ::read(out[0], line, sizeof line - 1) > 0) {
      unsigned port = 0;
      if (std::sscanf(line, "port %u", &port) == 1) port_ = static_cast<std::uint16_t>(port);
    }
    ::close(out[0]);
  }
  ~Server() { stop(); }
  // Ends the server and returns the CPU time it used (user + system).
  double stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGKILL);
    rusage usage{};
    ::wait4(pid_, nullptr, 0, &usage);
    pid_ = -1;
    return rsp::bench::cpu_seconds(usage);
  }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// ---- results for the summary table ----

struct Figures {
  double round_trip_us = 0;
  double round_trips_per_s = 0;
  double messages_per_s = 0;
};
std::map<std::pair<std::string, std::size_t>, Figures>& results() {
  static std::map<std::pair<std::string, std::size_t>, Figures> r;
  return r;
}

// ---- raw UDP client ----

int raw_client(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void BM_RawUdp(benchmark::State& state, bool pipelined) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Server server("raw");
  if (server.port() == 0) return state.SkipWithError("server did not start");
  const int fd = raw_client(server.port());
  std::vector<char> msg(size, 'x'), buf(65536);
  int outstanding = 0;
  if (pipelined) {
    for (; outstanding < kInFlight; ++outstanding) ::send(fd, msg.data(), size, 0);
  }
  for (auto _ : state) {
    if (!pipelined) ::send(fd, msg.data(), size, 0);
    if (::recv(fd, buf.data(), buf.size(), 0) <= 0) {
      state.SkipWithError("echo lost (UDP has no retransmission)");
      break;
    }
    if (pipelined) ::send(fd, msg.data(), size, 0);
  }
  ::close(fd);
  state.counters["server_cpu_us"] = benchmark::Counter(server.stop() * 1e6 / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// ---- the checksum alone ----

void BM_Crc32c(benchmark::State& state) {
  std::vector<unsigned char> packet(static_cast<std::size_t>(state.range(0)));
  for (std::size_t i = 0; i < packet.size(); ++i) packet[i] = static_cast<unsigned char>(i * 31 + 7);
  for (auto _ : state) {
    sctp_set_checksum(packet.data(), packet.size());
    benchmark::DoNotOptimize(packet.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * packet.size()));
}

// ---- SCTP client over our Endpoint ----


void BM_Sctp(benchmark::State& state, Backend backend, bool pipelined) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Server server(backend == Backend::Kernel ? "kernel" : "udp");
  if (server.port() == 0) return state.SkipWithError("server did not start");
  boost::asio::io_context io;
  EndpointOptions o;
  o.backend = backend;
  o.listen = false;
  auto ep = open_endpoint(io, o);
  if (!ep) return state.SkipWithError(ep.error().message.c_str());
  Endpoint& e = **ep;
  std::size_t received = 0;
  bool refill = pipelined;  // pipelined: each echo sends the next message from the handler,
                            // as protocol code would (and so joins the endpoint's send batch)
  TransportAddress to;
  to.port = server.port();
  to.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  const std::vector<std::byte> msg(size, std::byte{'x'});
  AssociationId association = 0;
  e.set_handlers({[&](ReceivedMessage&&) {
                    ++received;
                    if (refill) (void)e.send(association, msg, SendInfo{});
                  },
                  {}, {}, {}});
  auto id = e.send_to(to, msg, SendInfo{});
  if (!id) return state.SkipWithError(id.error().message.c_str());
  association = *id;
  while (received < 1) io.run_one();  // association up and one round trip done
  received = 0;
  if (pipelined) {
    for (int i = 1; i < kInFlight; ++i) (void)e.send(association, msg, SendInfo{});
  }
  const double cpu0 = rsp::bench::own_cpu_seconds();
  for (auto _ : state) {
    if (!pipelined) (void)e.send(association, msg, SendInfo{});
    while (received == 0) io.run_one();
    --received;
  }
  refill = false;
  // The client process's CPU, all threads (usrsctp's timer thread too), per message: with
  // server_cpu_us, what bench/api/interleave.py compares with api_bench's pu_cpu_us + pe_cpu_us.
  state.counters["client_cpu_us"] =
      benchmark::Counter((rsp::bench::own_cpu_seconds() - cpu0) * 1e6 / static_cast<double>(state.iterations()));
  state.counters["server_cpu_us"] = benchmark::Counter(server.stop() * 1e6 / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  e.close();
}


}  // namespace

// A reporter that also keeps the figures for the summary table.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      const std::string name = r.benchmark_name();  // e.g. "sequential/udp/64/real_time"
      if (name.rfind("checksum/", 0) == 0) continue;
      const auto first = name.find('/');
      const auto second = name.find('/', first + 1);
      const auto third = name.find('/', second + 1);
      const std::string mode = name.substr(0, first);
      const std::string backend = name.substr(first + 1, second - first - 1);
      const std::size_t size = std::stoul(name.substr(second + 1, third - second - 1));
      const double seconds = r.real_accumulated_time / static_cast<double>(r.iterations);  // per message
      auto& f = results()[{backend, size}];
      if (mode == "sequential") {
        f.round_trip_us = seconds * 1e6;
        f.round_trips_per_s = 1.0 / seconds;
      } else {
        f.messages_per_s = 1.0 / seconds;
      }
    }
  }
};

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--serve") == 0) {
    const std::string kind = argv[2];
    if (kind == "raw") return serve_raw();
    return serve_sctp(kind == "kernel" ? Backend::Kernel : Backend::Udp);
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<std::pair<std::string, Backend>> backends{{"udp", Backend::Udp}};
  if (kernel_sctp_available()) backends.emplace_back("kernel", Backend::Kernel);
  for (const bool pipelined : {false, true}) {
    const std::string mode = pipelined ? "pipelined" : "sequential";
    benchmark::RegisterBenchmark((mode + "/raw").c_str(), [pipelined](benchmark::State& s) { BM_RawUdp(s, pipelined); })
        ->Arg(64)->Arg(4096)->UseRealTime()->Unit(benchmark::kMicrosecond);
    for (const auto& [name, backend] : backends) {
      benchmark::RegisterBenchmark((mode + "/" + name).c_str(),
                                   [backend = backend, pipelined](benchmark::State& s) { BM_Sctp(s, backend, pipelined); })
          ->Arg(64)->Arg(4096)->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
  // A 64 B message's packet (SCTP common header + DATA chunk) and a 4 KiB one's.
  benchmark::RegisterBenchmark("checksum/crc32c", BM_Crc32c)->Arg(92)->Arg(4124);
  benchmark::Initialize(&argc, argv);
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\n%-8s %6s %14s %12s %16s %10s %10s\n", "backend", "bytes", "round trip us", "rt/s", "pipelined msg/s",
              "rt vs raw", "msg vs raw");
  for (const auto& [key, f] : results()) {
    const auto raw = results().find({"raw", key.second});
    const double rt_ratio = raw != results().end() && raw->second.round_trip_us > 0 ? f.round_trip_us / raw->second.round_trip_us : 0;
    const double msg_ratio = raw != results().end() && raw->second.messages_per_s > 0 ? f.messages_per_s / raw->second.messages_per_s : 0;
    std::printf("%-8s %6zu %14.1f %12.0f %16.0f %9.2fx %9.0f%%\n", key.first.c_str(), key.second, f.round_trip_us,
                f.round_trips_per_s, f.messages_per_s, rt_ratio, msg_ratio * 100);
  }
  std::printf("(usrsctp targets: round trip within 1.5x of raw UDP, pipelined >= 50%% of raw UDP; "
              "%d messages in flight)\n", kInFlight);
  return 0;
}
