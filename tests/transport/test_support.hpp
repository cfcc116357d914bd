// Helpers for the transport tests: a Recorder of what an endpoint reports, bounded waits on the
// io_context (stretched by RSP_TEST_TIMEOUT_SCALE), transport_peer as a child process, and a
// client associated with one. endpoint_scenarios.hpp builds the shared backend cases on them.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rsp/transport/endpoint.hpp"

namespace rsp::transport::test {

// Everything an endpoint reports, in order, through its handlers.
struct Recorder {
  std::vector<ReceivedMessage> messages;
  std::vector<AssociationEvent> events;
  std::vector<SendFailure> failures;
  std::size_t writable = 0;
  EndpointHandlers handlers() {
    return {[this](ReceivedMessage&& m) { messages.push_back(std::move(m)); },
            [this](const AssociationEvent& e) { events.push_back(e); },
            [this](SendFailure&& f) { failures.push_back(std::move(f)); }, [this] { ++writable; }};
  }
  bool saw(AssociationEventKind kind) const {
    for (const auto& e : events)
      if (e.kind == kind) return true;
    return false;
  }
  bool ended() const { return saw(AssociationEventKind::Lost) || saw(AssociationEventKind::ShutdownComplete); }
};

// An endpoint of a real backend; the test stops with the transport's message if it cannot open.
inline std::unique_ptr<Endpoint> open_or_fail(boost::asio::io_context& io, const EndpointOptions& o) {
  auto r = open_endpoint(io, o);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return std::move(r).value();
}

// Bounds on waits, stretched by RSP_TEST_TIMEOUT_SCALE (scripts/vm-test.sh sets it: under
// emulation on a busy host the guest runs many times slower). Only failing waits take longer.
inline std::chrono::milliseconds bound(std::chrono::milliseconds limit) {
  static const long scale = [] {
    const char* env = std::getenv("RSP_TEST_TIMEOUT_SCALE");
    const long v = env != nullptr ? std::atol(env) : 1;
    return v >= 1 && v <= 100 ? v : 1;
  }();
  return limit * scale;
}

// Runs the io_context until `done()` holds or `limit` passes; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(deadline - now);
  }
  return true;
}

inline TransportAddress loopback(std::uint16_t port) {
  TransportAddress a;
  a.port = port;
  a.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  return a;
}

inline bool contains(const TransportAddress& a, const IpAddress& ip) {
  for (const auto& x : a.addresses)
    if (x == ip) return true;
  return false;
}

inline std::vector<std::byte> pattern(std::size_t size, std::size_t seed = 0) {
  std::vector<std::byte> b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = std::byte(static_cast<unsigned char>((i * 31 + seed) & 0xff));
  return b;
}

// Short timers so that a dead or frozen peer is noticed in about a second.
inline AssociationParameters fast_parameters() {
  AssociationParameters p;
  p.rto_initial = std::chrono::milliseconds(200);
  p.rto_min = std::chrono::milliseconds(100);
  p.rto_max = std::chrono::milliseconds(300);
  p.heartbeat_interval = std::chrono::milliseconds(200);
  p.max_retransmissions = 3;
  p.path_max_retransmissions = 3;
  p.max_init_retransmissions = 2;
  return p;
}

// transport_peer as a child process (echo mode unless `mode` says otherwise); killed (SIGKILL)
// and reaped on destruction.
class EchoPeer {
 public:
  explicit EchoPeer(const std::string& program, std::vector<std::string> args = {},
                    std::string mode = "echo") {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(program.c_str()));
      argv.push_back(mode.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(program.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~EchoPeer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::kill(pid_, SIGCONT);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  EchoPeer(const EchoPeer&) = delete;
  EchoPeer& operator=(const EchoPeer&) = delete;

  // The first line the child prints ("port P backend B" in echo mode, "ok N backend B" in
  // client mode), or "" if none came within bound(5 s).
  std::string line() {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + bound(std::chrono::seconds(5));
    while (line.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char buf[128];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return {};
      line.append(buf, static_cast<std::size_t>(n));
    }
    return line;
  }

  // The port from the child's "port P backend B" line, or 0 if it did not come in time.
  std::uint16_t port() {
    const std::string line = this->line();
    unsigned port = 0;
    if (std::sscanf(line.c_str(), "port %u", &port) != 1) return 0;
    return static_cast<std::uint16_t>(port);
  }
  void signal(int sig) const { ::kill(pid_, sig); }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

// A client endpoint whose association with a transport_peer echo process is up and proven:
// `first` was sent and its echo is c.messages[0]. For the tests that then kill or freeze the peer.
struct AssociationWithPeer {
  boost::asio::io_context io;
  std::unique_ptr<Endpoint> client;
  Recorder c;
  AssociationId id = 0;

  AssociationWithPeer(EchoPeer& peer, const EndpointOptions& options, const std::vector<std::byte>& first,
                      const SendInfo& info = {}) {
    const std::uint16_t port = peer.port();
    REQUIRE(port != 0);
    client = open_or_fail(io, options);
    client->set_handlers(c.handlers());
    auto r = client->send_to(loopback(port), first, info);
    REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    id = *r;
    REQUIRE(run_until(io, [&] { return c.messages.size() == 1; }, bound(std::chrono::seconds(10))));
  }
};

}  // namespace rsp::transport::test
