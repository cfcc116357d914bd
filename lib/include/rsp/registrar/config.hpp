// What a registrar is configured with: identity, timers, validation and protective limits.
// Defaults follow RFC 5352 §5 / RFC 5353 §7 where the RFCs give a value; where they leave the
// value to the implementation, RSPLIB's registrar defaults (docs/registrar.md lists each one).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "rsp/wire/types.hpp"

namespace rsp::registrar {

// How far a registered address may reach (RSPLIB's "minimum endpoint address scope").
// A PE whose address is narrower than the registrar's minimum is useless to the PUs the
// registrar serves: a loopback address handed to a PU on another host points at the PU itself.
enum class AddressScope : std::uint8_t { Loopback, LinkLocal, SiteLocal, Global };
std::string_view to_string(AddressScope scope) noexcept;  // "loopback", "link-local", ...
std::optional<AddressScope> parse_address_scope(std::string_view text) noexcept;
// Scope of one address: 127/8 and ::1 loopback; 169.254/16, fe80::/10 link-local;
// RFC 1918, 100.64/10 and fc00::/7 site-local; the rest global.
AddressScope scope_of(const IpAddress& address) noexcept;
// 0.0.0.0 or :: — a PE's way of saying "the addresses of my association".
bool is_unspecified(const IpAddress& address) noexcept;

struct Timers {
  // Endpoint keep-alive audit of home PEs (RFC 5352 §3.6/§3.7, RFC 5353 §3.3.1): how often an
  // ENDPOINT_KEEP_ALIVE is sent to each home PE, and how long its ACK may take. Neither RFC
  // gives a value; 5 s and 5 s are RSPLIB's registrar defaults, so a dead or frozen PE leaves
  // the handlespace within 10 s (PUs also report it with ENDPOINT_UNREACHABLE, §3.5).
  std::chrono::milliseconds keepalive_interval{5000};
  std::chrono::milliseconds keepalive_timeout{5000};
  // Upper bound of a registration's lifetime, whatever the PE asks (RFC 5354 §3.9 Registration
  // Life is the PE's request; the registrar may hold it shorter; no RFC value). 0 = no bound.
  std::chrono::milliseconds max_registration_life{0};
  // SERVER_ANNOUNCE cycle: RFC 5352 §5.1 T6-Serverannounce, RFC 5353 §7 SERVER-ANNOUNCE-CYCLE:
  // 1 s. Clients forget an announced registrar after T7-ENRPoutdate (5 s): five cycles.
  std::chrono::milliseconds announce_interval{1000};
};

// RSPLIB's test setups (--fast): keep-alive 1 s / 1 s, announce cycle 250 ms, so that failures
// show within about two seconds. Not for production: ten times the keep-alive traffic.
Timers fast_timers() noexcept;

struct Limits {
  std::size_t max_pools = 100'000;
  std::size_t max_elements_per_pool = 100'000;
  std::size_t max_elements = 1'000'000;
  std::size_t max_elements_per_association = 10'000;
  // Handle resolutions and unreachable reports per association and second (RFC 5355 §3.x
  // threats: a PU flooding the registrar). 0 = unlimited. A burst of one second is allowed.
  double max_handle_resolution_rate = 0;
  double max_unreachable_rate = 0;
};

struct Config {
  // RFC 5353 §2: this registrar's identifier, non-zero. It becomes the home registrar id of
  // every PE that registers here (ENRP will announce ownership with it).
  RegistrarId id = 0;
  Timers timers;
  Limits limits;
  // RFC 5352 §5.2 MAX-BAD-PE-REPORT (3): unreachable reports after which a PE is removed.
  std::uint32_t max_bad_pe_reports = 3;
  // Handle resolution: PEs returned when the PU does not say (RSPLIB: 3), and the most a PU may
  // ask for with the Handle Resolution Option (the response must also fit one message).
  std::size_t handle_resolution_items = 3;
  std::size_t max_handle_resolution_items = 256;
  // RFC 5352 §3.1 / RFC 5355 §3.1: a PE may only register addresses its association to the
  // registrar can vouch for (the association's peer addresses). Off: trust the PE (NAT, tests).
  bool verify_addresses = true;
  AddressScope min_address_scope = AddressScope::SiteLocal;
};

}  // namespace rsp::registrar
