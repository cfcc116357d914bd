// Real processes on loopback: rsp-registrar, two PEs (asap_echo_pe) and this process as the PU,
// all through the C++ API on real transports (RSP_TRANSPORT, usrsctp by default here). A PE
// registers, the PU resolves and talks to it, the serving PE is killed (SIGKILL): the PU fails
// over to the other PE and replays the cookie.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rsp/asap.hpp"

namespace rsp::asap::test {
namespace {

using namespace std::chrono_literals;

// A child process whose stdout we read by lines; SIGKILLed and reaped by the destructor, and by
// the kernel (PR_SET_PDEATHSIG) if this process dies.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(out[1], 1);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~Child() {
    kill();
    ::close(out_);
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // The next stdout line starting with `prefix`, within `limit`.
  std::optional<std::string> wait_for(const std::string& prefix, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (auto nl = buffer_.find('\n'); nl != std::string::npos; nl = buffer_.find('\n')) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (line.rfind(prefix, 0) == 0) return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[256];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  return ntohs(sin.sin_port);
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now, 50ms));
  }
  return true;
}

std::string text_of(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

void sigkill_failover(bool low_latency, std::chrono::milliseconds bound) {
  if (std::getenv("RSP_TRANSPORT") == nullptr) ::setenv("RSP_TRANSPORT", "udp", 1);
  const std::uint16_t port = free_port();
  const std::string registrar_address = "127.0.0.1:" + std::to_string(port);
  Child registrar({RSP_REGISTRAR_BIN, "-l", registrar_address, "--no-announce", "--no-status-socket",
                   "--min-address-scope", "loopback", "--fast"});
  const std::string pool = "asap-e2e-" + std::to_string(::getpid());
  std::map<PoolElementId, std::unique_ptr<Child>> pes;
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> argv{ASAP_ECHO_PE_BIN, pool, registrar_address};
    if (low_latency) argv.push_back("low-latency");
    auto child = std::make_unique<Child>(argv);
    auto line = child->wait_for("registered ", 20s);
    REQUIRE_MESSAGE(line, "asap_echo_pe did not register");
    pes.emplace(static_cast<PoolElementId>(std::stoul(line->substr(11))), std::move(child));
  }

  boost::asio::io_context io;
  ContextOptions co;
  if (low_latency) co.config = low_latency_config();
  co.config.source.registrars.push_back(parse_transport_address(registrar_address).value());
  co.config.source.use_announcements = false;
  auto ctx = Context::create(io, co);
  REQUIRE(ctx.has_value());
  std::vector<ReceivedData> replies;
  std::vector<PoolUserEvent> events;
  PoolUserHandlers h;
  h.on_message = [&](ReceivedData&& d) { replies.push_back(std::move(d)); };
  h.on_event = [&](const PoolUserEvent& e) { events.push_back(e); };
  auto pu = PoolUser::create(**ctx, h);
  REQUIRE(pu.has_value());

  std::optional<AsapResult<Resolution>> resolution;
  (*pu)->resolve(PoolHandle(pool), {}, [&](AsapResult<Resolution> r) { resolution = std::move(r); });
  REQUIRE(run_until(io, [&] { return resolution.has_value(); }, 10s));
  REQUIRE(resolution->has_value());
  CHECK((*resolution)->elements.size() == 2);
  for (const auto& e : (*resolution)->elements) CHECK(pes.count(e.id) == 1);

  auto session = (*pu)->open_session(PoolHandle(pool));
  REQUIRE(session.has_value());
  const std::string first = "first";
  REQUIRE((*pu)->send(*session, std::as_bytes(std::span(first))).has_value());
  REQUIRE(run_until(io, [&] { return !replies.empty(); }, 10s));
  CHECK(text_of(replies[0].payload) == "first");
  const PoolElementId serving = replies[0].pool_element;
  REQUIRE(pes.count(serving) == 1);
  REQUIRE((*pu)->session_status(*session)->cookie.has_value());  // sent before the echo

  pes.at(serving)->kill();
  const auto killed_at = std::chrono::steady_clock::now();
  const std::string second = "second";
  REQUIRE((*pu)->send(*session, std::as_bytes(std::span(second))).has_value());
  REQUIRE(run_until(io, [&] { return replies.size() == 2; }, 15s));
  const auto failover_time = std::chrono::steady_clock::now() - killed_at;
  MESSAGE(std::string(low_latency ? "low-latency" : "default") << " profile, failover (SIGKILL to first reply from another PE): "
          << std::chrono::duration_cast<std::chrono::milliseconds>(failover_time).count() << " ms");
  CHECK(text_of(replies[1].payload) == "second");
  CHECK(replies[1].pool_element != serving);
  CHECK(failover_time <= bound);

  const PoolUserEvent* complete = nullptr;
  for (const auto& e : events) {
    if (e.kind == PoolUserEventKind::FailoverComplete) complete = &e;
  }
  REQUIRE(complete != nullptr);
  CHECK(complete->report.from == std::optional(serving));
  CHECK(complete->report.to == std::optional(replies[1].pool_element));
  CHECK(complete->report.cookie_replayed);
  // "second" was either handed back and resent, or it reached the dead PE's host: never lost
  // silently (here it is echoed by the successor, so it was resent or sent after the failover).
  auto& successor = *pes.at(replies[1].pool_element);
  auto echo = successor.wait_for("cookie-echo ", 5s);
  REQUIRE(echo.has_value());
  CHECK(*echo == "cookie-echo cookie-" + std::to_string(serving) + "-1");
}

// Bounds: the targets (1 s default, 200 ms low latency) plus slack for a loaded 2-core machine;
// sanitizer builds run several times slower and only get a looser bound.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 4;
#else
constexpr int kSlowdown = 1;
#endif
TEST_CASE("real processes: register, resolve, talk, SIGKILL the serving PE, fail over with cookie replay") {
  sigkill_failover(false, 1500ms * kSlowdown);
}

TEST_CASE("real processes, low-latency profile: SIGKILL failover with cookie replay") {
  sigkill_failover(true, 400ms * kSlowdown);
}

}  // namespace
}  // namespace rsp::asap::test
