// A peer process for the transport tests and the tshark/netns scripts.
//   transport_peer echo [--port P] [--address A] [--backend udp|kernel] [--fast]
//       prints "port P backend B" on stdout, then echoes every message (same PPID, stream,
//       unordered flag) until SIGTERM/SIGINT.
//   transport_peer client --to A:P [--backend ...] [--sizes 1,100,65536] [--rounds N] [--fast]
//       sends each size N times, checks every echo byte for byte, prints "ok <count>", then
//       shuts the association down gracefully; exit 0, or 1 with a reason on stderr (10 s).
//       With --await-loss it keeps the association instead and waits (30 s) for it to be lost,
//       printing "lost".
// --fast sets short RTO and heartbeat values so that a dead peer is noticed within seconds.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "rsp/transport/endpoint.hpp"

using namespace rsp;
using namespace rsp::transport;

namespace {

std::optional<IpAddress> parse_ip(const std::string& text) {
  unsigned a, b, c, d;
  if (std::sscanf(text.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
    return std::nullopt;
  return IpAddress::v4(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b),
                       static_cast<std::uint8_t>(c), static_cast<std::uint8_t>(d));
}

int usage() {
  std::fprintf(stderr, "usage: transport_peer echo|client [--port P] [--address A] [--to A:P] "
                       "[--backend B] [--sizes S,..] [--rounds N] [--fast]\n");
  return 64;
}

std::vector<std::byte> pattern(std::size_t size, std::size_t seed) {
  std::vector<std::byte> b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = std::byte(static_cast<unsigned char>((i * 31 + seed) & 0xff));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  EndpointOptions options;
  std::string to;
  std::vector<std::size_t> sizes{1, 64, 1000, 4096, 65536};
  int rounds = 1;
  bool await_loss = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : std::string(); };
    if (arg == "--port") {
      options.port = static_cast<std::uint16_t>(std::stoi(next()));
    } else if (arg == "--address") {
      auto ip = parse_ip(next());
      if (!ip) return usage();
      options.local_addresses.push_back(*ip);
    } else if (arg == "--backend") {
      auto b = parse_backend(next());
      if (!b) return usage();
      options.backend = *b;
    } else if (arg == "--to") {
      to = next();
    } else if (arg == "--sizes") {
      sizes.clear();
      std::string list = next();
      for (std::size_t pos = 0; pos < list.size();) {
        auto comma = list.find(',', pos);
        sizes.push_back(std::stoul(list.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else if (arg == "--rounds") {
      rounds = std::stoi(next());
    } else if (arg == "--await-loss") {
      await_loss = true;
    } else if (arg == "--fast") {
      options.parameters.rto_initial = std::chrono::milliseconds(200);
      options.parameters.rto_min = std::chrono::milliseconds(100);
      options.parameters.rto_max = std::chrono::milliseconds(300);
      options.parameters.heartbeat_interval = std::chrono::milliseconds(200);
      options.parameters.max_retransmissions = 3;
      options.parameters.path_max_retransmissions = 3;
      options.parameters.max_init_retransmissions = 3;
    } else {
      return usage();
    }
  }

  boost::asio::io_context io;
  if (mode == "echo") {
    auto ep = open_endpoint(io, options);
    if (!ep) {
      std::fprintf(stderr, "transport_peer: %s\n", ep.error().message.c_str());
      return 69;
    }
    Endpoint& e = **ep;
    e.set_handlers({[&e](ReceivedMessage&& m) {
                      (void)e.send(m.association, m.payload, SendInfo{m.ppid, m.stream, m.unordered, {}});
                    },
                    {}, {}, {}});
    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code&, int) {
      e.close();
      io.stop();
    });
    std::printf("port %u backend %s\n", e.local_port(), std::string(to_string(e.backend())).c_str());
    std::fflush(stdout);
    io.run();
    return 0;
  }
  if (mode != "client") return usage();
  const auto colon = to.rfind(':');
  if (colon == std::string::npos) return usage();
  auto ip = parse_ip(to.substr(0, colon));
  if (!ip) return usage();
  TransportAddress peer;
  peer.port = static_cast<std::uint16_t>(std::stoi(to.substr(colon + 1)));
  peer.addresses.push_back(*ip);
  options.listen = false;
  auto ep = open_endpoint(io, options);
  if (!ep) {
    std::fprintf(stderr, "transport_peer: %s\n", ep.error().message.c_str());
    return 69;
  }
  Endpoint& e = **ep;
  std::size_t index = 0;
  const std::size_t total = sizes.size() * static_cast<std::size_t>(rounds);
  std::string failure;
  AssociationId association = 0;
  bool echoed_all = false;
  bool finished = false;
  // PPIDs outside IANA's assignments, so that tshark shows the DATA payload as plain data.
  constexpr std::uint32_t kPpidBase = 0x72737000;
  auto send_next = [&]() {
    const std::size_t size = sizes[index % sizes.size()];
    auto r = e.send(association, pattern(size, index), SendInfo{static_cast<std::uint32_t>(kPpidBase + index),
                                                                static_cast<std::uint16_t>(index % 4), false, {}});
    if (!r) {
      failure = "send: " + r.error().message;
      io.stop();
    }
  };
  e.set_handlers({[&](ReceivedMessage&& m) {
                    const std::size_t size = sizes[index % sizes.size()];
                    if (m.payload != pattern(size, index) || m.ppid != kPpidBase + index || m.stream != index % 4) {
                      failure = "echo " + std::to_string(index) + " differs";
                      io.stop();
                      return;
                    }
                    if (++index == total) {
                      echoed_all = true;
                      std::printf("ok %zu backend %s\n", index, std::string(to_string(e.backend())).c_str());
                      std::fflush(stdout);
                      if (!await_loss) (void)e.shutdown(association);
                      return;
                    }
                    send_next();
                  },
                  [&](const AssociationEvent& ev) {
                    if (ev.kind == AssociationEventKind::Up) return;
                    const bool expected = echoed_all && (await_loss ? ev.kind == AssociationEventKind::Lost
                                                                    : ev.kind == AssociationEventKind::ShutdownComplete);
                    if (expected) {
                      if (await_loss) std::printf("lost\n");
                      finished = true;
                    } else {
                      failure = "association " + std::string(to_string(ev.kind)) + " after " +
                                std::to_string(index) + " echoes";
                    }
                    io.stop();
                  },
                  {}, {}});
  auto id = e.connect(peer);
  if (!id) {
    std::fprintf(stderr, "transport_peer: %s\n", id.error().message.c_str());
    return 69;
  }
  association = *id;
  send_next();
  boost::asio::steady_timer deadline(io, std::chrono::seconds(await_loss ? 30 : 10));
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (!ec) {
      failure = "deadline passed after " + std::to_string(index) + " echoes";
      io.stop();
    }
  });
  io.run();
  if (!failure.empty() || !finished) {
    std::fprintf(stderr, "transport_peer: %s\n", failure.empty() ? "stopped early" : failure.c_str());
    return 1;
  }
  return 0;
}
