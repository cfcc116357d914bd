// Configuration of the ASAP client layer: where the registrars are, and every timer with its
// unit. Defaults are RFC 5352 §5's where the RFC names a value; docs/asap.md lists them all.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rsp/asap/error.hpp"
#include "rsp/transport/endpoint.hpp"
#include "rsp/wire/messages.hpp"
#include "rsp/wire/types.hpp"

namespace rsp::asap {

using std::chrono::milliseconds;

// Where a PE/PU finds registrars (RFC 5352 §3.6 "ENRP server hunt": a configured list, or
// servers learned from SERVER_ANNOUNCE, §3.6.1 / §2.2.10).
struct RegistrarSource {
  // Registrars given explicitly (the tools' --registrar ADDR:PORT). Tried in order.
  std::vector<TransportAddress> registrars;
  // When `registrars` is empty: read RSP_REGISTRAR (comma-separated ADDR:PORT; a bare ADDR means
  // port 3863). Ignored when `registrars` is not empty.
  bool use_environment = true;
  // Listen for SERVER_ANNOUNCE on UDP multicast and add the announced registrars. Used when no
  // registrar was configured (neither list nor environment), or always with `always_listen`.
  bool use_announcements = true;
  bool always_listen = false;
  // The multicast group announcements arrive on, IPv4 or IPv6. nullopt: $RSP_ANNOUNCE
  // (ADDR[:PORT], "[V6]:PORT") when `use_environment`, else 239.0.0.50 (RFC 5352 §3.6's IPv4
  // group; no IPv6 group is assigned, so IPv6 discovery is opt-in: the registrar's --announce
  // and this group must agree).
  std::optional<IpAddress> announce_group;
  std::uint16_t announce_port = wire::kAsapPort;
  // Interface to join the group on, by name ("eth0"). Empty: $RSP_ANNOUNCE_INTERFACE when
  // `use_environment`, else every interface that is up and multicast-capable (loopback
  // included), so that a registrar on any attached link is heard without configuration.
  std::string announce_interface;
};

// RFC 5352 §3.6: the IPv4 group registrars announce themselves on (with port kAsapPort).
IpAddress default_announce_group();

// All timers (RFC 5352 §5.1) and thresholds (§5.2) the client uses. Defaults are the RFC's
// where it gives a value; where we differ, or the RFC is silent, the reason is given here.
// docs/asap.md has the table (RFC value, ours, low-latency profile, API/tool knob).
struct Timers {
  // T1-ENRPrequest (RFC 5352 §5.1: 15 s): wait for a HANDLE_RESOLUTION_RESPONSE (and other PU
  // requests).
  milliseconds request_timeout{15000};
  // T2-registration / T3-deregistration (RFC 5352 §5.1: 30 s each): wait for a
  // (DE)REGISTRATION_RESPONSE.
  milliseconds registration_timeout{30000};
  milliseconds deregistration_timeout{30000};
  // MAX-REQUEST-RETRANSMIT (RFC 5352 §5.2: 2): retransmissions of one request (to the next
  // registrar of the hunt) before the operation fails. MAX-REG-ATTEMPT (§5.2: 2 registration
  // attempts before a server hunt) has no knob of its own: over SCTP a registration is not lost
  // in transit, so an unanswered one means an unresponsive registrar, and the hunt starts after
  // the first T2; the registration goes to the next registrar, counted here, and a started PE
  // keeps retrying after that.
  unsigned max_request_retransmit = 2;
  // Registration Life sent in the Pool Element parameter (RFC 5354 §3.9, which gives no
  // default; RSPLIB's 300 s); the registrar drops the PE after it unless renewed.
  milliseconds registration_lifetime{300000};
  // T4-reregistration: RFC 5352 §5.1 "10 minutes or 20 seconds less than the Life Timer
  // parameter ..., whichever is less". nullopt computes exactly that; lifetimes under 40 s (where
  // the 20 s margin would eat more than half) use lifetime / 2.
  std::optional<milliseconds> reregistration_interval;
  // T5-Serverhunt (RFC 5352 §5.1: 120 s for the server hunt). Here it bounds one candidate's
  // association setup (5 s) before the next is tried: SCTP retransmits the INIT itself, a
  // registrar that has not answered within 5 s is not going to, and trying the next one sooner
  // finds a working registrar in a fraction of 120 s. The hunt as a whole is bounded by
  // server_hunt_rounds (operations) and goes on for as long as a PE is started.
  milliseconds server_hunt_timeout{5000};
  // Pause between full rounds over all candidates when none answered (bounded backoff). Not in
  // the RFC.
  milliseconds server_hunt_retry_delay{1000};
  // How many full rounds before NoRegistrar is reported to waiting operations (the hunt itself
  // continues in the background for a PE). Not in the RFC.
  unsigned server_hunt_rounds = 2;
  // T7-ENRPoutdate (RFC 5352 §5.1: 5 s): an announced registrar not heard again within this
  // time is forgotten. Also how long a hunt with nothing configured waits for a first
  // SERVER_ANNOUNCE before operations fail with NoRegistrar.
  milliseconds announce_timeout{5000};
  // Stale.cache.value (RFC 5352 §3.4, §5.2, which name it without a number): a cached handle
  // resolution is used for this long. 30 s: a PE removed by its registrar (keep-alive audit,
  // 5 s + 5 s) is out of a PU's cache within a minute, while a busy PU does not resolve per
  // message; sessions report unreachable PEs and drop them from the cache at once anyway.
  milliseconds stale_cache{30000};
  // Failover: how long to wait for the new PE's association (CannotStart/timeout -> next PE).
  // Not in the RFC (§3.8 leaves failover timing to the implementation).
  milliseconds failover_connect_timeout{1000};
  // Failover: a PE whose association is not up after this long is raced by a setup to the
  // next candidate (both keep going; the first up wins, the other is aborted unblamed), as
  // Happy Eyeballs does (RFC 8305 §5). A registrar may still list a PE that died moments ago
  // (it drops it after MAX-BAD-PE-REPORT reports or a failed keep-alive, RFC 5352 §3.5, §3.7):
  // such a PE costs this delay instead of a whole failed setup (SCTP INIT retransmissions, or
  // failover_connect_timeout). Well above a LAN round trip, below the first INIT
  // retransmission. 0: one setup at a time. Not in the RFC.
  milliseconds failover_connect_stagger{100};
  // How many PEs one failover may try before FailoverExhausted. Not in the RFC.
  unsigned failover_max_attempts = 8;
  // How long a PE this pool user reported unreachable (ENDPOINT_UNREACHABLE, RFC 5352 §3.5)
  // stays a last resort for all its sessions: picked only when no other candidate is left,
  // unless a resolution shows it re-registered. The registrar keeps listing a dead PE until
  // MAX-BAD-PE-REPORT reports or its keep-alive audit fails (§3.5, §3.7; 5 s + 5 s, RSPLIB's
  // and our registrar's defaults), and a resolution answered until then is used for up to
  // Stale.cache.value: nullopt = stale_cache + 10 s, the longest a dead PE can come back in
  // a listing. Not in the RFC.
  std::optional<milliseconds> unreachable_memory;

  // The re-registration interval actually used.
  milliseconds effective_reregistration_interval() const;
  // The unreachable memory actually used.
  milliseconds effective_unreachable_memory() const;
};

// Everything a Context needs.
struct AsapConfig {
  RegistrarSource source;
  Timers timers;
  // Backend for every endpoint the client opens (registrar and data associations).
  transport::Backend backend = transport::Backend::Automatic;
  // Association parameters for data sessions (PU<->PE). Failover speed depends on how fast SCTP
  // declares a dead peer: rto_max * (max_retransmissions) and the heartbeat interval.
  transport::AssociationParameters data_association;
  // Association parameters towards registrars.
  transport::AssociationParameters registrar_association;
};

// Defaults: failover within ~1 s on loopback when the PE's process dies (the kernel/usrsctp
// ABORT is immediate) and within a few seconds when a PE freezes (heartbeats 500 ms, RTO max
// 500 ms, 4 retransmissions).
AsapConfig default_config();
// Low-latency profile (target: failover <= 200 ms on loopback): RTO 20..40 ms, heartbeats
// every 50 ms, 2 retransmissions, 100 ms failover connect timeout, 500 ms request timeout,
// 1 s server hunt timeout, 1 s stale cache. Costs more control traffic; meant for LANs.
AsapConfig low_latency_config();

// "ADDR:PORT", "[V6]:PORT", or a bare "ADDR" (port `default_port`). Protocol SCTP.
AsapResult<TransportAddress> parse_transport_address(std::string_view text,
                                                     std::uint16_t default_port = wire::kAsapPort);
// A comma-separated list of the above (RSP_REGISTRAR's format); empty items are skipped.
AsapResult<std::vector<TransportAddress>> parse_registrar_list(std::string_view text);
// "127.0.0.1:3863", "[::1]:3863" (first address only); for logs and tools.
std::string format_transport_address(const TransportAddress& address);
std::string format_ip_address(const IpAddress& address);

}  // namespace rsp::asap
