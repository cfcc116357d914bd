// Pool member selection policies (RFC 5356 and RSPLIB's extensions): names and properties.
// The selection itself is Handlespace::select (handlespace.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "rsp/wire/types.hpp"

namespace rsp::handlespace {

// How a policy picks elements; decides the per-pool index the handlespace maintains.
enum class SelectionMethod : std::uint8_t {
  RoundRobin,  // RR, WRR: a rotating head over the pool (RFC 5356 §4.1-4.2)
  Ordered,     // PRIO and the least-used family: ascending key, round robin among equal keys
  Weighted,    // RAND, WRAND and the randomized least-used family: probability ~ a value
};

// True for every policy id this build can select by (RFC 5356 and RSPLIB's extensions).
bool is_known_policy(PolicyType type) noexcept;
std::optional<SelectionMethod> selection_method(PolicyType type) noexcept;

// "RoundRobin", "LeastUsedDegradationDPF", ... (RSPLIB's names, for tools and logs).
std::string_view policy_name(PolicyType type) noexcept;
std::optional<PolicyType> policy_from_name(std::string_view name) noexcept;

// Whether selecting an element changes its state (degradation grows, WRR/RR head moves).
bool policy_uses_degradation(PolicyType type) noexcept;

}  // namespace rsp::handlespace
