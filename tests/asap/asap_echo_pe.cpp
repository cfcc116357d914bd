// A pool element for the multi-process tests, written directly against the C++ API: registers
// POOL with the registrar at ADDR:PORT, echoes every message, sends a COOKIE ("cookie-<id>-<n>")
// before each echo (optionally with the low-latency profile), and prints "registered <id>" and "cookie-echo <text>" lines on stdout.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <string>

#include "rsp/asap.hpp"

int main(int argc, char** argv) {
  using namespace rsp::asap;
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: asap_echo_pe POOL ADDR:PORT [low-latency]\n");
    return 64;
  }
  boost::asio::io_context io;
  ContextOptions co;
  if (argc == 4 && std::string(argv[3]) == "low-latency") co.config = low_latency_config();
  auto registrar = parse_transport_address(argv[2]);
  if (!registrar) return 64;
  co.config.source.registrars.push_back(*registrar);
  auto ctx = Context::create(io, co);
  if (!ctx) return 69;
  PoolElementOptions o;
  o.pool_handle = rsp::PoolHandle(argv[1]);
  o.policy.type = rsp::PolicyType::RoundRobin;
  auto created = PoolElement::create(**ctx, o);
  if (!created) {
    std::fprintf(stderr, "asap_echo_pe: %s\n", created.error().message.c_str());
    return 69;
  }
  PoolElement& pe = **created;
  unsigned long echoes = 0;
  PoolElementHandlers h;
  h.on_event = [&](const PoolElementEvent& e) {
    if (e.kind == PoolElementEventKind::Registered) {
      std::printf("registered %u\n", pe.id());
      std::fflush(stdout);
    }
  };
  h.on_message = [&](ReceivedData&& d) {
    const std::string cookie = "cookie-" + std::to_string(pe.id()) + "-" + std::to_string(++echoes);
    (void)pe.send_cookie(d.session, std::as_bytes(std::span(cookie)));
    SendOptions so;
    so.ppid = d.ppid;
    so.stream = d.stream;
    (void)pe.send(d.session, d.payload, so);
  };
  h.on_cookie_echo = [&](SessionId, std::vector<std::byte> cookie) {
    std::printf("cookie-echo %.*s\n", static_cast<int>(cookie.size()), reinterpret_cast<const char*>(cookie.data()));
    std::fflush(stdout);
  };
  pe.set_handlers(std::move(h));
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    pe.deregister([&](AsapResult<void>) { io.stop(); });
  });
  io.run();
  return 0;
}
