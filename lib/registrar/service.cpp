#include "rsp/registrar/service.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>

#include "announcer.hpp"
#include "rsp/transport/loop_trace.hpp"
#include "rsp/wire/codec.hpp"
#include "status.hpp"

namespace rsp::registrar {

namespace asio = boost::asio;
using transport::AssociationEventKind;
using transport::Endpoint;

SocketAddress default_announce_address() noexcept {
  return SocketAddress{IpAddress::v4(239, 0, 0, 50), wire::kAsapPort};
}

RegistrarId random_registrar_id() {
  std::random_device rd;
  std::uniform_int_distribution<RegistrarId> d(1, 0xffffffffu);
  return d(rd);
}

namespace {

bool is_wildcard(const IpAddress& a) { return is_unspecified(a); }

// The host's addresses, for announcing a wildcard endpoint (RFC 5352 §2.2.10 lists transports).
std::vector<IpAddress> host_addresses(bool v6) {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      auto* s = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      std::memcpy(a.bytes.data(), &s->sin_addr, 4);
    } else if (v6 && i->ifa_addr->sa_family == AF_INET6) {
      auto* s = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      a.family = IpAddress::Family::V6;
      std::memcpy(a.bytes.data(), &s->sin6_addr, 16);
      if (scope_of(a) == AddressScope::LinkLocal) continue;
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeifaddrs(list);
  // Loopback only helps PEs on this host; it goes last.
  std::stable_partition(out.begin(), out.end(),
                        [](const IpAddress& a) { return scope_of(a) != AddressScope::Loopback; });
  return out;
}

}  // namespace

struct Service::Impl : Output {
  Impl(asio::io_context& io_, ServiceOptions o)
      : io(io_), options(std::move(o)), timer(io_), started(Clock::now()) {}

  asio::io_context& io;
  ServiceOptions options;
  std::unique_ptr<RegistrarCore> core;
  struct Listener {
    std::unique_ptr<Endpoint> endpoint;
    std::vector<IpAddress> addresses;  // as asked (empty: wildcard)
  };
  std::vector<Listener> listeners;
  asio::steady_timer timer;
  std::optional<TimePoint> armed;
  std::unique_ptr<Announcer> announcer;
  std::optional<asio::local::stream_protocol::acceptor> status_acceptor;
  TimePoint started;
  bool stopped = false;
  std::uint64_t send_failures = 0;

  // ---- Output ----
  void send(AssociationRef ref, std::vector<std::byte> message) override {
    const auto index = static_cast<std::size_t>(ref >> 32) - 1;
    const auto id = static_cast<transport::AssociationId>(ref & 0xffffffffu);
    if (index >= listeners.size() || !listeners[index].endpoint) return;
    auto r = listeners[index].endpoint->send(id, message, transport::SendInfo{wire::kAsapPpid, 0});
    if (!r) {
      ++send_failures;
      event(Event{EventLevel::Debug, "send-failed", ref, std::nullopt, std::nullopt, std::nullopt,
                  r.error().message});
    }
  }
  void event(const Event& e) override {
    if (options.on_event) options.on_event(e);
  }

  static AssociationRef ref_of(std::size_t index, transport::AssociationId id) {
    return (static_cast<AssociationRef>(index + 1) << 32) | id;
  }

  // ---- timer ----
  void rearm() {
    if (stopped) return;
    auto next = core->next_deadline();
    if (next == armed) return;
    armed = next;
    if (!next) {
      timer.cancel();
      return;
    }
    timer.expires_at(*next);
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopped) return;
      armed.reset();
      const transport::loop_trace::Scope traced(transport::loop_trace::Kind::Timer);
      core->on_timer(Clock::now());
      rearm();
    });
  }

  // ---- endpoints ----
  std::optional<ServiceError> open_listeners() {
    std::map<std::uint16_t, std::vector<IpAddress>> by_port;
    if (options.listen.empty()) by_port[wire::kAsapPort] = {};
    for (const auto& l : options.listen) {
      auto& v = by_port[l.port];
      if (!is_wildcard(l.address)) v.push_back(l.address);
    }
    for (auto& [port, addresses] : by_port) {
      transport::EndpointOptions eo;
      eo.backend = options.backend;
      eo.local_addresses = addresses;
      eo.port = port;
      eo.listen = true;
      eo.parameters = options.sctp;
      eo.busy_poll = options.busy_poll;
      auto r = options.open_endpoint ? options.open_endpoint(eo) : transport::open_endpoint(io, eo);
      if (!r) {
        const auto code = r.error().code;
        const auto what = fmt::format("cannot listen on port {}: {}", port, r.error().message);
        if (code == transport::TransportErrc::AddressInUse)
          return make_error(ServiceErrc::AddressInUse, what);
        if (code == transport::TransportErrc::Unsupported)
          return make_error(ServiceErrc::Unavailable, what);
        if (code == transport::TransportErrc::InvalidArgument)
          return make_error(ServiceErrc::InvalidArgument, what);
        return make_error(ServiceErrc::SystemError, what);
      }
      const std::size_t index = listeners.size();
      listeners.push_back(Listener{std::move(*r), addresses});
      transport::EndpointHandlers h;
      h.on_message = [this, index](transport::ReceivedMessage&& m) {
        if (stopped) return;
        const auto ref = ref_of(index, m.association);
        if (m.ppid != wire::kAsapPpid) {
          event(Event{EventLevel::Debug, "wrong-ppid", ref, std::nullopt, std::nullopt,
                      std::nullopt, fmt::format("PPID {} ignored", m.ppid)});
          return;
        }
        // Bench-only (RSP_LOOP_TRACE): the core's own time per message, and the sender's SCTP
        // port (a load generator matches messages to its requests by it).
        const transport::loop_trace::Scope traced(transport::loop_trace::Kind::Message, m.peer.port);
        core->on_message(ref, m.peer, m.payload, Clock::now());
        rearm();
      };
      h.on_association = [this, index](const transport::AssociationEvent& e) {
        if (stopped) return;
        const auto ref = ref_of(index, e.association);
        const auto now = Clock::now();
        switch (e.kind) {
          case AssociationEventKind::Up: core->on_association_up(ref, e.peer, now); break;
          case AssociationEventKind::Restart:
            // RFC 4960 §5.2.4: the peer restarted, so its PEs are gone; it registers again.
            core->on_association_down(ref, now);
            core->on_association_up(ref, e.peer, now);
            break;
          case AssociationEventKind::Lost:
          case AssociationEventKind::ShutdownComplete:
          case AssociationEventKind::CannotStart: core->on_association_down(ref, now); break;
        }
        rearm();
      };
      listeners.back().endpoint->set_handlers(std::move(h));
    }
    return std::nullopt;
  }

  // ---- SERVER_ANNOUNCE (RFC 5352 §3.6) ----
  std::vector<TransportAddress> announced_transports() const {
    std::vector<TransportAddress> out;
    for (const auto& l : listeners) {
      TransportAddress t;
      t.protocol = TransportProtocol::Sctp;
      t.port = l.endpoint->local_port();
      auto addresses = l.addresses.empty() ? host_addresses(true) : l.addresses;
      for (const auto& a : addresses) {
        if (t.addresses.size() == wire::kMaxAddressesPerTransport) break;
        t.addresses.push_back(a);
      }
      if (!t.addresses.empty()) out.push_back(std::move(t));
    }
    return out;
  }

  std::optional<ServiceError> open_announce() {
    if (!options.announce) return std::nullopt;
    AnnouncerOptions a;
    a.to = *options.announce;
    a.hops = options.announce_ttl;
    a.interfaces = options.announce_interfaces;
    for (const auto& l : options.listen) a.listen.push_back(l.address);
    a.interval = core->config().timers.announce_interval;
    auto opened = Announcer::open(
        io, std::move(a),
        [this] {
          return wire::encode(wire::AsapMessage{wire::asap::ServerAnnounce{core->config().id, announced_transports()}});
        },
        [this](const std::string& why) {
          event(Event{EventLevel::Warning, "announce-failed", 0, std::nullopt, std::nullopt, std::nullopt, why});
        });
    if (!opened) return std::move(opened).error();
    announcer = std::move(*opened);
    return std::nullopt;
  }

  // ---- status socket ----
  struct StatusConnection : std::enable_shared_from_this<StatusConnection> {
    StatusConnection(asio::io_context& io, Impl& s) : socket(io), deadline(io), service(s) {}
    asio::local::stream_protocol::socket socket;
    asio::steady_timer deadline;
    asio::streambuf request{256};
    std::string reply;
    Impl& service;

    void run() {
      auto self = shared_from_this();
      deadline.expires_after(std::chrono::seconds(2));
      deadline.async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->socket.close();
      });
      asio::async_read_until(socket, request, '\n',
                             [self](const boost::system::error_code& ec, std::size_t) {
                               self->answer(ec);
                             });
    }
    void answer(const boost::system::error_code& ec) {
      // The deadline bounds a silent client; a large reply may take longer to write.
      deadline.cancel();
      std::string line;
      if (!ec || ec == asio::error::eof) {
        std::istream in(&request);
        std::getline(in, line);
      }
      if (service.stopped) return;
      if (line == "json")
        reply = service.status(true);
      else if (line == "text" || line.empty())
        reply = service.status(false);
      else
        reply = "error: unknown request '" + line.substr(0, 40) + "' (expected 'text' or 'json')\n";
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(reply),
                        [self](const boost::system::error_code&, std::size_t) {
                          boost::system::error_code ignore;
                          self->socket.shutdown(asio::socket_base::shutdown_both, ignore);
                          self->socket.close(ignore);
                        });
    }
  };

  std::optional<ServiceError> open_status_socket() {
    if (options.status_socket.empty()) return std::nullopt;
    struct stat st {};
    // A socket file left by a previous run that died is replaced; anything else is not ours.
    if (::lstat(options.status_socket.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode))
        return make_error(ServiceErrc::SystemError,
                          fmt::format("status socket {}: exists and is not a socket",
                                      options.status_socket));
      asio::local::stream_protocol::socket probe(io);
      boost::system::error_code ec;
      probe.connect(asio::local::stream_protocol::endpoint(options.status_socket), ec);
      if (!ec)
        return make_error(ServiceErrc::AddressInUse,
                          fmt::format("status socket {}: another registrar answers there",
                                      options.status_socket));
      ::unlink(options.status_socket.c_str());
    }
    boost::system::error_code ec;
    status_acceptor.emplace(io);
    asio::local::stream_protocol::endpoint ep(options.status_socket);
    status_acceptor->open(ep.protocol(), ec);
    if (!ec) status_acceptor->bind(ep, ec);
    if (!ec) status_acceptor->listen(16, ec);
    if (ec)
      return make_error(ServiceErrc::SystemError,
                        fmt::format("status socket {}: {}", options.status_socket, ec.message()));
    accept_status();
    return std::nullopt;
  }

  void accept_status() {
    auto c = std::make_shared<StatusConnection>(io, *this);
    status_acceptor->async_accept(c->socket, [this, c](const boost::system::error_code& ec) {
      if (ec || stopped) return;
      c->run();
      accept_status();
    });
  }

  StatusContext context() const {
    StatusContext ctx;
    ctx.backend = listeners.empty() ? options.backend : listeners.front().endpoint->backend();
    for (const auto& l : listening()) ctx.listening.push_back(socket_text(l.address, l.port));
    if (options.announce) ctx.announce = socket_text(options.announce->address, options.announce->port);
    ctx.now = Clock::now();
    ctx.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.now - started);
    return ctx;
  }
  std::string status(bool as_json) const {
    return as_json ? render_status_json(*core, context()) : render_status_text(*core, context());
  }
  std::vector<SocketAddress> listening() const {
    std::vector<SocketAddress> out;
    for (const auto& l : listeners) {
      if (!l.endpoint) continue;
      const auto port = l.endpoint->local_port();
      if (l.addresses.empty()) out.push_back(SocketAddress{IpAddress::v4(0, 0, 0, 0), port});
      for (const auto& a : l.addresses) out.push_back(SocketAddress{a, port});
    }
    return out;
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    boost::system::error_code ec;
    timer.cancel();
    if (announcer) announcer->stop();
    if (status_acceptor) {
      status_acceptor->close(ec);
      ::unlink(options.status_socket.c_str());
    }
    for (auto& l : listeners)
      if (l.endpoint) l.endpoint->close();
  }
};

Service::Service() = default;
Service::~Service() {
  if (impl_) impl_->stop();
}

Result<std::unique_ptr<Service>, ServiceErrc> Service::start(asio::io_context& io,
                                                             ServiceOptions options) {
  if (options.config.id == 0)
    return make_error(ServiceErrc::InvalidArgument, "the registrar id must be non-zero");
  std::unique_ptr<Service> s(new Service());
  s->impl_ = std::make_unique<Impl>(io, std::move(options));
  auto& impl = *s->impl_;
  impl.core = std::make_unique<RegistrarCore>(impl.options.config, impl);
  if (auto e = impl.open_listeners()) return std::move(*e);
  if (auto e = impl.open_status_socket()) return std::move(*e);
  if (auto e = impl.open_announce()) return std::move(*e);
  impl.rearm();
  return s;
}

void Service::stop() { impl_->stop(); }
const RegistrarCore& Service::core() const noexcept { return *impl_->core; }
RegistrarId Service::id() const noexcept { return impl_->core->config().id; }
transport::Backend Service::backend() const noexcept {
  return impl_->listeners.empty() ? impl_->options.backend
                                  : impl_->listeners.front().endpoint->backend();
}
std::vector<SocketAddress> Service::listening() const { return impl_->listening(); }
std::vector<std::string> Service::announce_interfaces() const {
  return impl_->announcer ? impl_->announcer->interfaces() : std::vector<std::string>{};
}
std::string Service::status_text() const { return impl_->status(false); }
std::string Service::status_json() const { return impl_->status(true); }

}  // namespace rsp::registrar
