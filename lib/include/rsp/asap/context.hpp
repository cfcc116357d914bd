// The per-process ASAP client context: configuration, time, how endpoints are opened, and the
// directory of known registrars (configured, from RSP_REGISTRAR, or learned from SERVER_ANNOUNCE
// multicast, RFC 5352 §3.6). PoolElement and PoolUser objects are created against a Context and
// must not outlive it.
//
// Threading (the whole asap layer): every object lives on one boost::asio::io_context, run by
// one thread. Member functions must be called from that thread (post/dispatch onto it from
// others); handlers are invoked from it, never from inside a member function call, so a handler
// may call any member function, including destroying the object. A blocking wrapper (the rsp_*
// C API) runs the io_context on a background thread and posts its calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rsp/asap/clock.hpp"
#include "rsp/asap/config.hpp"
#include "rsp/asap/error.hpp"
#include "rsp/transport/endpoint.hpp"
#include "rsp/wire/messages.hpp"

namespace boost::asio {
class io_context;
}

namespace rsp::asap {

namespace detail {
class UnreachableMemory;
}

// Opens an endpoint; the default calls transport::open_endpoint on the context's io_context with
// config.backend. Tests pass one that opens on a transport::MemoryNetwork.
using EndpointFactory = std::function<transport::TransportResult<std::unique_ptr<transport::Endpoint>>(
    const transport::EndpointOptions&)>;

// One registrar the client knows of.
struct KnownRegistrar {
  TransportAddress address;           // its ASAP SCTP transport
  std::optional<RegistrarId> id;      // from SERVER_ANNOUNCE or ENDPOINT_KEEP_ALIVE, if learned
  bool announced = false;             // learned from SERVER_ANNOUNCE (expires, T7-ENRPoutdate)
  TimePoint last_heard{};             // announced ones: last SERVER_ANNOUNCE
};

struct ContextOptions {
  AsapConfig config = default_config();
  std::shared_ptr<TimeSource> time;   // nullptr: steady clock on the io_context
  EndpointFactory endpoint_factory;   // empty: transport::open_endpoint
  // Start the UDP SERVER_ANNOUNCE listener when the config asks for it. Tests turn it off and
  // feed announcements through Context::handle_server_announce.
  bool open_announce_socket = true;
  // Seed for PE identifiers (RFC 5354 §3.13: random); 0 seeds from std::random_device.
  std::uint64_t random_seed = 0;
};

class Context {
 public:
  // Resolves the registrar source (list, else RSP_REGISTRAR, else announcements) and opens the
  // announce socket when needed. Fails with InvalidArgument for an unparsable RSP_REGISTRAR, or
  // TransportError when the multicast socket cannot be opened and no registrar is configured.
  static AsapResult<std::unique_ptr<Context>> create(boost::asio::io_context& io,
                                                     ContextOptions options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  boost::asio::io_context& io() noexcept;
  const AsapConfig& config() const noexcept;
  TimeSource& time() noexcept;
  // The PEs reported unreachable (RFC 5352 §3.5) by any pool user of this context: a last
  // resort for all of them for Timers::unreachable_memory (lib/asap/unreachable_memory.hpp).
  detail::UnreachableMemory& unreachable_memory() noexcept;
  transport::TransportResult<std::unique_ptr<transport::Endpoint>> open_endpoint(
      const transport::EndpointOptions& options);
  std::uint32_t random32();

  // The registrars a server hunt should try now, in preference order: configured ones first (in
  // configuration order), then announced ones (most recently heard first); expired announced ones
  // are dropped here.
  std::vector<KnownRegistrar> registrars();
  // True when a registrar is configured or announcements are being listened for.
  bool has_registrar_source() const noexcept;
  // "239.0.0.50:3863" (plus " on IFNAME") when registrars are learned from SERVER_ANNOUNCE;
  // nullopt when announcements are not listened for.
  std::optional<std::string> announce_source() const;

  // RFC 5352 §3.6.1: a SERVER_ANNOUNCE arrived (the UDP listener calls this; tests may too).
  // `source` is the sender's address: announced transports without addresses use it.
  void handle_server_announce(const wire::asap::ServerAnnounce& announce, const IpAddress& source);
  // Records a registrar's id learned otherwise (keep-alive) for this address.
  void learn_registrar_id(const TransportAddress& address, RegistrarId id);
  std::optional<RegistrarId> registrar_id(const TransportAddress& address) const;

  // Called whenever a new registrar becomes known (announce) — a hunting PE/PU retries at once.
  // Returns a token for remove_registrar_listener.
  std::uint64_t add_registrar_listener(std::function<void()> listener);
  void remove_registrar_listener(std::uint64_t token);

 private:
  struct Impl;
  explicit Context(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rsp::asap
