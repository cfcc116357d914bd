// The registrar directory (configured, RSP_REGISTRAR, SERVER_ANNOUNCE) and shared services.
#include "rsp/asap/context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>

#include "announce_socket.hpp"
#include "unreachable_memory.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::asap {

namespace asio = boost::asio;

namespace {

IpAddress from_asio(const asio::ip::address& a) {
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    return IpAddress::v4(b[0], b[1], b[2], b[3]);
  }
  std::array<std::uint8_t, 16> bytes{};
  const auto b = a.to_v6().to_bytes();
  std::copy(b.begin(), b.end(), bytes.begin());
  return IpAddress::v6(bytes);
}

bool same_registrar(const TransportAddress& a, const TransportAddress& b) {
  if (a.port != b.port) return false;
  for (const auto& x : a.addresses) {
    if (std::find(b.addresses.begin(), b.addresses.end(), x) != b.addresses.end()) return true;
  }
  return false;
}

}  // namespace

struct Context::Impl {
  asio::io_context& io;
  ContextOptions options;
  std::shared_ptr<TimeSource> time;
  detail::UnreachableMemory unreachable;  // shared by the context's pool users
  std::vector<KnownRegistrar> configured;
  std::vector<KnownRegistrar> announced;
  bool listening = false;
  std::mt19937_64 random;
  std::map<std::uint64_t, std::function<void()>> listeners;
  std::uint64_t next_token = 1;

  // RFC 5352 §3.6.1: SERVER_ANNOUNCE over UDP multicast.
  std::unique_ptr<asio::ip::udp::socket> socket;
  std::vector<std::byte> buffer = std::vector<std::byte>(wire::kMaxMessageSize);
  asio::ip::udp::endpoint sender;
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  Impl(asio::io_context& io_, ContextOptions o) : io(io_), options(std::move(o)) {}

  // Where announcements are listened for (resolved in Context::create).
  IpAddress group = default_announce_group();
  std::uint16_t port = wire::kAsapPort;
  std::string interface_name;

  AsapResult<void> open_announce_socket() {
    auto s = detail::open_announce_socket(io, group, port, interface_name);
    if (!s) return std::move(s).error();
    socket = std::move(*s);
    receive();
    return {};
  }

  void receive() {
    socket->async_receive_from(asio::buffer(buffer.data(), buffer.size()), sender,
                               [this, weak = std::weak_ptr<int>(alive)](const boost::system::error_code& ec,
                                                                         std::size_t n) {
                                 if (weak.expired() || ec == asio::error::operation_aborted) return;
                                 if (!ec) {
                                   auto decoded = wire::decode_asap(std::span(buffer.data(), n));
                                   if (decoded) {
                                     if (auto* a = std::get_if<wire::asap::ServerAnnounce>(&*decoded)) {
                                       handle_announce(*a, from_asio(sender.address()));
                                     }
                                   }
                                 }
                                 if (socket) receive();
                               });
  }

  void expire() {
    const auto now = time->now();
    const auto limit = options.config.timers.announce_timeout;
    std::erase_if(announced, [&](const KnownRegistrar& r) { return now - r.last_heard > limit; });
  }

  void handle_announce(const wire::asap::ServerAnnounce& a, const IpAddress& source) {
    const auto now = time->now();
    std::vector<TransportAddress> transports;
    for (auto t : a.transports) {
      if (t.protocol != TransportProtocol::Sctp) continue;  // we speak ASAP over SCTP only
      if (t.addresses.size() == 0) t.addresses.push_back(source);
      transports.push_back(std::move(t));
    }
    if (transports.empty()) {
      // RFC 5352 §2.2.10: no transport parameter means "the sender's address, the ASAP port".
      TransportAddress t;
      t.port = wire::kAsapPort;
      t.addresses.push_back(source);
      transports.push_back(std::move(t));
    }
    bool is_new = false;
    for (auto& t : transports) {
      auto it = std::find_if(announced.begin(), announced.end(),
                             [&](const KnownRegistrar& r) { return same_registrar(r.address, t); });
      if (it == announced.end()) {
        announced.push_back(KnownRegistrar{t, a.server_id, true, now});
        is_new = true;
      } else {
        it->id = a.server_id;
        it->last_heard = now;
        it->address = t;
      }
    }
    if (is_new) {
      auto copy = listeners;  // a listener may remove itself
      for (auto& [token, listener] : copy) {
        if (listeners.count(token) != 0) listener();
      }
    }
  }
};

Context::Context(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Context::~Context() {
  if (impl_->socket) {
    boost::system::error_code ec;
    impl_->socket->close(ec);
  }
}

AsapResult<std::unique_ptr<Context>> Context::create(asio::io_context& io, ContextOptions options) {
  auto impl = std::make_unique<Impl>(io, std::move(options));
  auto& o = impl->options;
  impl->time = o.time ? o.time : make_steady_time_source(io);
  std::uint64_t seed = o.random_seed;
  if (seed == 0) seed = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  impl->random.seed(seed);
  const auto& src = o.config.source;
  std::vector<TransportAddress> list = src.registrars;
  if (list.empty() && src.use_environment) {
    if (const char* env = std::getenv("RSP_REGISTRAR"); env != nullptr && *env != '\0') {
      auto parsed = parse_registrar_list(env);
      if (!parsed) {
        return make_error(AsapErrc::InvalidArgument, "RSP_REGISTRAR: " + parsed.error().message);
      }
      list = std::move(*parsed);
    }
  }
  for (auto& r : list) impl->configured.push_back(KnownRegistrar{r, std::nullopt, false, {}});
  const bool want_announce = src.use_announcements && (list.empty() || src.always_listen);
  impl->listening = want_announce;
  impl->port = src.announce_port;
  if (src.announce_group) {
    impl->group = *src.announce_group;
  } else if (const char* env = std::getenv("RSP_ANNOUNCE"); src.use_environment && env && *env) {
    auto parsed = parse_transport_address(env, src.announce_port);
    if (!parsed || !detail::is_multicast(parsed->addresses[0])) {
      return make_error(AsapErrc::InvalidArgument,
                        std::string("RSP_ANNOUNCE: ") +
                            (parsed ? "'" + std::string(env) + "' is not a multicast group" : parsed.error().message));
    }
    impl->group = parsed->addresses[0];
    impl->port = parsed->port;
  }
  impl->interface_name = src.announce_interface;
  if (const char* env = std::getenv("RSP_ANNOUNCE_INTERFACE");
      impl->interface_name.empty() && src.use_environment && env && *env) {
    impl->interface_name = env;
  }
  if (want_announce && o.open_announce_socket) {
    if (auto opened = impl->open_announce_socket(); !opened && list.empty()) {
      return std::move(opened).error();
    }
  }
  return std::unique_ptr<Context>(new Context(std::move(impl)));
}

asio::io_context& Context::io() noexcept { return impl_->io; }
const AsapConfig& Context::config() const noexcept { return impl_->options.config; }
TimeSource& Context::time() noexcept { return *impl_->time; }

detail::UnreachableMemory& Context::unreachable_memory() noexcept { return impl_->unreachable; }

transport::TransportResult<std::unique_ptr<transport::Endpoint>> Context::open_endpoint(
    const transport::EndpointOptions& options) {
  if (impl_->options.endpoint_factory) return impl_->options.endpoint_factory(options);
  auto o = options;
  if (o.backend == transport::Backend::Automatic) o.backend = impl_->options.config.backend;
  return transport::open_endpoint(impl_->io, o);
}

std::uint32_t Context::random32() { return static_cast<std::uint32_t>(impl_->random() >> 32); }

std::vector<KnownRegistrar> Context::registrars() {
  impl_->expire();
  std::vector<KnownRegistrar> out = impl_->configured;
  auto announced = impl_->announced;
  std::stable_sort(announced.begin(), announced.end(),
                   [](const KnownRegistrar& a, const KnownRegistrar& b) { return a.last_heard > b.last_heard; });
  for (auto& a : announced) {
    const bool dup = std::any_of(out.begin(), out.end(),
                                 [&](const KnownRegistrar& c) { return same_registrar(c.address, a.address); });
    if (!dup) out.push_back(std::move(a));
  }
  return out;
}

bool Context::has_registrar_source() const noexcept {
  return !impl_->configured.empty() || impl_->listening;
}

std::optional<std::string> Context::announce_source() const {
  if (!impl_->listening) return std::nullopt;
  TransportAddress where;
  where.port = impl_->port;
  where.addresses.push_back(impl_->group);
  auto text = format_transport_address(where);
  if (!impl_->interface_name.empty()) text += " on " + impl_->interface_name;
  return text;
}

void Context::handle_server_announce(const wire::asap::ServerAnnounce& announce, const IpAddress& source) {
  impl_->handle_announce(announce, source);
}

void Context::learn_registrar_id(const TransportAddress& address, RegistrarId id) {
  for (auto* list : {&impl_->configured, &impl_->announced}) {
    for (auto& r : *list) {
      if (same_registrar(r.address, address)) r.id = id;
    }
  }
}

std::optional<RegistrarId> Context::registrar_id(const TransportAddress& address) const {
  for (const auto* list : {&impl_->configured, &impl_->announced}) {
    for (const auto& r : *list) {
      if (same_registrar(r.address, address) && r.id) return r.id;
    }
  }
  return std::nullopt;
}

std::uint64_t Context::add_registrar_listener(std::function<void()> listener) {
  const auto token = impl_->next_token++;
  impl_->listeners.emplace(token, std::move(listener));
  return token;
}

void Context::remove_registrar_listener(std::uint64_t token) { impl_->listeners.erase(token); }

}  // namespace rsp::asap
