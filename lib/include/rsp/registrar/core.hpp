// The registrar's ASAP server side as a sans-IO state machine (RFC 5352 §3, the "ENRP server"
// role of an ASAP endpoint). No sockets and no clock: the caller feeds received messages,
// association events and the current time, and the core answers through an Output — the bytes
// to send on which association and the events worth logging. The asio shell (service.hpp) and
// the unit tests (simulated time, in-memory network) are its two callers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rsp/handlespace/handlespace.hpp"
#include "rsp/registrar/config.hpp"
#include "rsp/wire/messages.hpp"
#include "rsp/wire/types.hpp"

namespace rsp::registrar {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// An ASAP association as the shell names it: unique among the live associations of the
// registrar (across all its endpoints), never 0. Also the handlespace owner tag of every PE
// registered over it.
using AssociationRef = std::uint64_t;

enum class EventLevel : std::uint8_t { Error, Warning, Info, Debug };
std::string_view to_string(EventLevel level) noexcept;

// One thing that happened, for the log. `kind` is a stable lowercase token
// ("registered", "keepalive-timeout", ...), the rest is filled where it applies.
struct Event {
  EventLevel level = EventLevel::Info;
  std::string_view kind;
  AssociationRef association = 0;
  std::optional<PoolHandle> pool;
  std::optional<PoolElementId> pe_id;
  std::optional<wire::CauseCode> cause;
  std::string detail;
};

class Output {
 public:
  virtual ~Output() = default;
  // One ASAP message (PPID 11) on an association.
  virtual void send(AssociationRef association, std::vector<std::byte> message) = 0;
  virtual void event(const Event& event) = 0;
};

struct Counters {
  std::uint64_t messages_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t registrations = 0;        // new PEs
  std::uint64_t reregistrations = 0;      // updates
  std::uint64_t registrations_rejected = 0;
  std::uint64_t deregistrations = 0;
  std::uint64_t handle_resolutions = 0;
  std::uint64_t handle_resolutions_failed = 0;  // unknown pool, rate limited
  std::uint64_t unreachable_reports = 0;
  std::uint64_t unreachable_removals = 0;
  std::uint64_t keepalives_sent = 0;
  std::uint64_t keepalive_acks = 0;
  std::uint64_t keepalive_timeouts = 0;
  std::uint64_t expirations = 0;
  std::uint64_t association_removals = 0;  // PEs removed because their association ended
  std::uint64_t malformed_messages = 0;
  std::uint64_t unexpected_messages = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t associations_up = 0;
  std::uint64_t associations_lost = 0;
};

// Registrar-side state of one PE beyond what the handlespace keeps.
struct PoolElementState {
  AssociationRef association = 0;
  std::optional<TimePoint> next_keepalive;  // when the next ENDPOINT_KEEP_ALIVE goes out
  std::optional<TimePoint> ack_deadline;    // set while an ACK is awaited
  std::uint32_t unreachable_reports = 0;
  TimePoint registered_at{};
  // RFC 5354 §3.9: the PE's ASAP transport (its control channel endpoint), given out as
  // registered; the handlespace itself keeps user transports only.
  std::optional<TransportAddress> asap_transport;
};

class RegistrarCore {
 public:
  // `config.id` must be non-zero (std::invalid_argument otherwise: a programming error).
  RegistrarCore(Config config, Output& output, std::uint64_t seed = 0x7265'6769'7374'7261ull);
  ~RegistrarCore();
  RegistrarCore(const RegistrarCore&) = delete;
  RegistrarCore& operator=(const RegistrarCore&) = delete;

  // An association came up; `peer` holds the addresses the PE's registrations may use.
  void on_association_up(AssociationRef association, const TransportAddress& peer, TimePoint now);
  // The association ended (lost, shut down, restarted): every PE registered over it goes
  // (RFC 5352 §3.5: the home registrar removes a PE whose association fails).
  void on_association_down(AssociationRef association, TimePoint now);
  // One ASAP message (PPID 11) from an association. `peer` is the sender as the transport saw
  // it; its addresses are merged into what the association vouches for.
  void on_message(AssociationRef association, const TransportAddress& peer,
                  std::span<const std::byte> bytes, TimePoint now);
  // Keep-alives due, ACK timeouts, lifetime expiry. Call at next_deadline() (or later).
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  const Config& config() const noexcept;
  const Counters& counters() const noexcept;
  const handlespace::Handlespace& handlespace() const noexcept;
  std::optional<PoolElementState> element_state(const PoolHandle& pool, PoolElementId id) const;
  std::size_t association_count() const noexcept;
  // PEs registered over one association.
  std::size_t elements_of(AssociationRef association) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rsp::registrar
