// Per-policy arithmetic: the ordering key of the "Ordered" policies and the selection weight of
// the "Weighted" ones, computed from a PE's policy values and its current degradation.
// RFC 5356 §4-5 and RSPLIB's extensions; docs/handlespace.md explains each formula.
#pragma once

#include <cstdint>

#include "rsp/wire/types.hpp"

namespace rsp::handlespace::detail {

struct PolicyValues {
  std::uint32_t weight = 0;
  std::uint32_t priority = 0;
  std::uint32_t load = 0;
  std::uint32_t load_degradation = 0;
  std::uint32_t load_dpf = 0;
  std::uint32_t weight_dpf = 0;
  std::uint32_t distance = 0;
};

inline std::uint64_t saturate32(std::uint64_t v) noexcept {
  return v > kPolicyLoadMax ? kPolicyLoadMax : v;
}

// distance * fraction(dpf), in load units: RSPLIB scales the DPF (0..0xffffffff = 0..100 %)
// per unit of distance, so the penalty is distance * dpf (saturating).
inline std::uint64_t distance_penalty(std::uint32_t distance, std::uint32_t dpf) noexcept {
  return saturate32(static_cast<std::uint64_t>(distance) * dpf);
}

// Ascending key; ties are served round robin (oldest selection first).
inline std::uint64_t ordered_key(PolicyType type, const PolicyValues& v,
                                 std::uint32_t degradation) noexcept {
  switch (type) {
    case PolicyType::Priority:  // RFC 5356 §4.5: highest priority first
      return kPolicyLoadMax - v.priority;
    case PolicyType::LeastUsed:  // RFC 5356 §5.1
      return v.load;
    case PolicyType::LeastUsedWithDegradation:  // RFC 5356 §5.2
      return saturate32(std::uint64_t{v.load} + degradation);
    case PolicyType::PriorityLeastUsed:  // RFC 5356 §5.3: load plus the announced increment
      return saturate32(std::uint64_t{v.load} + v.load_degradation);
    case PolicyType::PriorityLeastUsedDegradation:
      return saturate32(std::uint64_t{v.load} + v.load_degradation + degradation);
    case PolicyType::LeastUsedDpf:
      return saturate32(v.load + distance_penalty(v.distance, v.load_dpf));
    case PolicyType::LeastUsedDegradationDpf:
      return saturate32(std::uint64_t{v.load} + degradation +
                        distance_penalty(v.distance, v.load_dpf));
    default:
      return 0;
  }
}

// Selection weight (probability ~ weight); 0 = never chosen. At most 0xffffffff.
inline std::uint32_t selection_weight(PolicyType type, const PolicyValues& v,
                                      std::uint32_t degradation) noexcept {
  // RSPLIB: the randomized least-used family weighs by the unused capacity, at least 1 so
  // that a fully loaded PE stays selectable.
  const auto unused = [](std::uint64_t used) -> std::uint32_t {
    return used >= kPolicyLoadMax ? 1 : static_cast<std::uint32_t>(kPolicyLoadMax - used);
  };
  switch (type) {
    case PolicyType::Random:  // RFC 5356 §4.3
      return 1;
    case PolicyType::WeightedRandom:  // RFC 5356 §4.4
      return v.weight;
    case PolicyType::RandomizedLeastUsed:  // RFC 5356 §5.4
      return unused(v.load);
    case PolicyType::RandomizedLeastUsedDegradation:
      return unused(std::uint64_t{v.load} + degradation);
    case PolicyType::RandomizedPriorityLeastUsed:
      return unused(std::uint64_t{v.load} + v.load_degradation);
    case PolicyType::RandomizedPriorityLeastUsedDegradation:
      return unused(std::uint64_t{v.load} + v.load_degradation + degradation);
    case PolicyType::WeightedRandomDpf: {
      // weight reduced by distance * weight_dpf (as a fraction), but never below 1.
      const std::uint64_t cut =
          static_cast<std::uint64_t>((static_cast<double>(v.weight) *
                                      static_cast<double>(distance_penalty(v.distance, v.weight_dpf))) /
                                     static_cast<double>(kPolicyLoadMax) + 0.5);
      return cut >= v.weight ? 1 : static_cast<std::uint32_t>(v.weight - cut);
    }
    default:
      return 0;
  }
}

}  // namespace rsp::handlespace::detail
