#include "rsp/handlespace/policy.hpp"

#include <array>

namespace rsp::handlespace {
namespace {

struct PolicyEntry {
  PolicyType type;
  std::string_view name;
  SelectionMethod method;
  bool degradation;
};

// RSPLIB's names (its policy ids and spellings, so that mixed deployments and tools agree).
constexpr std::array<PolicyEntry, 16> kPolicies{{
    {PolicyType::RoundRobin, "RoundRobin", SelectionMethod::RoundRobin, false},
    {PolicyType::WeightedRoundRobin, "WeightedRoundRobin", SelectionMethod::RoundRobin, false},
    {PolicyType::Random, "Random", SelectionMethod::Weighted, false},
    {PolicyType::WeightedRandom, "WeightedRandom", SelectionMethod::Weighted, false},
    {PolicyType::Priority, "Priority", SelectionMethod::Ordered, false},
    {PolicyType::LeastUsed, "LeastUsed", SelectionMethod::Ordered, false},
    {PolicyType::LeastUsedWithDegradation, "LeastUsedDegradation", SelectionMethod::Ordered, true},
    {PolicyType::PriorityLeastUsed, "PriorityLeastUsed", SelectionMethod::Ordered, false},
    {PolicyType::RandomizedLeastUsed, "RandomizedLeastUsed", SelectionMethod::Weighted, false},
    {PolicyType::RandomizedPriorityLeastUsed, "RandomizedPriorityLeastUsed",
     SelectionMethod::Weighted, false},
    {PolicyType::RandomizedLeastUsedDegradation, "RandomizedLeastUsedDegradation",
     SelectionMethod::Weighted, true},
    {PolicyType::PriorityLeastUsedDegradation, "PriorityLeastUsedDegradation",
     SelectionMethod::Ordered, true},
    {PolicyType::RandomizedPriorityLeastUsedDegradation, "RandomizedPriorityLeastUsedDegradation",
     SelectionMethod::Weighted, true},
    {PolicyType::WeightedRandomDpf, "WeightedRandomDPF", SelectionMethod::Weighted, false},
    {PolicyType::LeastUsedDpf, "LeastUsedDPF", SelectionMethod::Ordered, false},
    {PolicyType::LeastUsedDegradationDpf, "LeastUsedDegradationDPF", SelectionMethod::Ordered,
     true},
}};

const PolicyEntry* lookup(PolicyType type) noexcept {
  for (const auto& e : kPolicies) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

}  // namespace

bool is_known_policy(PolicyType type) noexcept { return lookup(type) != nullptr; }

std::optional<SelectionMethod> selection_method(PolicyType type) noexcept {
  if (const auto* e = lookup(type)) return e->method;
  return std::nullopt;
}

std::string_view policy_name(PolicyType type) noexcept {
  if (const auto* e = lookup(type)) return e->name;
  return "Unknown";
}

std::optional<PolicyType> policy_from_name(std::string_view name) noexcept {
  for (const auto& e : kPolicies) {
    if (e.name == name) return e.type;
  }
  return std::nullopt;
}

bool policy_uses_degradation(PolicyType type) noexcept {
  const auto* e = lookup(type);
  return e != nullptr && e->degradation;
}

}  // namespace rsp::handlespace
