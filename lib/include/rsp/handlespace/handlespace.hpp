// The handlespace: pool handle -> pool -> pool elements (RFC 5351, RFC 5352 §3, RFC 5353),
// with selection by pool policy (RFC 5356). A registrar keeps one for the whole operational
// scope; a PU keeps one as its cache. Pure data structure: no I/O, no clock (time is passed in),
// no threads, no locks — the caller serialises access.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "rsp/handlespace/checksum.hpp"
#include "rsp/handlespace/error.hpp"
#include "rsp/handlespace/policy.hpp"
#include "rsp/wire/types.hpp"

namespace rsp::handlespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// The ASAP association an element registered over, as an opaque id the registrar chooses.
// kNoOwner: learned from a peer registrar (ENRP) or a cache entry, not from a local association.
using OwnerTag = std::uint64_t;
inline constexpr OwnerTag kNoOwner = 0;

// What a PE registers (RFC 5354 §3.10 Pool Element parameter) plus the registrar's bookkeeping.
struct PoolElementRegistration {
  PoolElementId id = 0;
  RegistrarId home_registrar = 0;
  std::chrono::milliseconds lifetime{0};        // RFC 5354 §3.10 "Registration Life"
  std::vector<TransportAddress> user_transports;  // at least one
  PolicyInfo policy;
  OwnerTag owner = kNoOwner;
  std::vector<std::byte> metadata;               // opaque to the handlespace, may be empty
};

// One element as stored, returned by look-ups (a copy: the handlespace owns its storage).
struct PoolElement {
  PoolElementId id = 0;
  RegistrarId home_registrar = 0;
  std::chrono::milliseconds lifetime{0};
  TimePoint expiry{};
  std::vector<TransportAddress> user_transports;
  PolicyInfo policy;         // as registered
  std::uint32_t degradation = 0;  // RFC 5356 §5.2: grown per selection, reset by re-registration
  OwnerTag owner = kNoOwner;
  std::vector<std::byte> metadata;
  bool operator==(const PoolElement&) const = default;
};

// A (pool, element) pair, e.g. one that expire() or remove_owner() removed.
struct PoolElementKey {
  PoolHandle handle;
  PoolElementId id = 0;
  bool operator==(const PoolElementKey&) const = default;
};

struct Limits {
  std::size_t max_pools = 1'000'000;
  std::size_t max_elements_per_pool = 10'000'000;
  std::size_t max_elements = 100'000'000;
  std::size_t max_transports_per_element = 16;
  std::size_t max_addresses_per_transport = 16;
  std::size_t max_metadata_bytes = 65'535;
};

enum class RegistrationOutcome : std::uint8_t { Added, Updated };

// A handle resolution request (RFC 5352 §3, handle resolution).
struct SelectionRequest {
  // How many elements to return at most (the request's Handle Resolution Option, else the
  // registrar's maximum).
  std::size_t max_elements = 1;
  // How many of the returned elements count as "used": for RR/WRR the head moves by this many;
  // for the degradation policies this many get their degradation increased. RFC 5356 §4.1.2
  // advances the head by one element per resolution, hence 1.
  std::size_t max_increment = 1;
};

// Uniform 64-bit random numbers; the default is a seeded xoshiro256** (deterministic).
using RandomSource = std::function<std::uint64_t()>;

class Handlespace {
 public:
  explicit Handlespace(Limits limits = {}, std::uint64_t seed = 0x5eed'1234'abcd'ef01ull);
  ~Handlespace();
  Handlespace(Handlespace&&) noexcept;
  Handlespace& operator=(Handlespace&&) noexcept;
  Handlespace(const Handlespace&) = delete;
  Handlespace& operator=(const Handlespace&) = delete;

  // Replaces the random source (tests inject their own; nullptr restores the seeded default).
  void set_random_source(RandomSource source);

  // RFC 5352 §3 (registration) / RFC 5353 (ENRP handle update): add the element, or update
  // it if (handle, id) exists. Checks, in this order: valid values; the pool's policy type
  // (PoolingPolicyInconsistent); the pool's transport protocols (InconsistentTransportType)
  // and SCTP transport use (InconsistentDataControlConfiguration) — a pool's only element may
  // change them; for an update, the owner (NonUniquePeIdentifier unless same owner or the stored
  // element has kNoOwner); limits (LackOfResources). The expiry becomes now + lifetime; an
  // update resets the degradation (RFC 5356 §5.2).
  HsResult<RegistrationOutcome> register_element(const PoolHandle& handle,
                                                 const PoolElementRegistration& registration,
                                                 TimePoint now);

  // RFC 5352 §3 (deregistration): remove one element; UnknownPoolHandle or
  // UnknownPoolElement if absent.
  // With an owner other than kNoOwner, only that owner may deregister (else NonUniquePeIdentifier).
  HsResult<void> deregister_element(const PoolHandle& handle, PoolElementId id,
                                    OwnerTag owner = kNoOwner);

  // Removes every element whose expiry is <= now; returns them (handle order not guaranteed).
  std::vector<PoolElementKey> expire(TimePoint now);
  // Earliest expiry of any element (for the caller's timer), if any.
  std::optional<TimePoint> next_expiry() const;

  // RFC 5352 §3 / RFC 5353: drop all elements registered over one association, or all
  // elements whose home registrar is `registrar` (peer failure, takeover). Returns them.
  std::vector<PoolElementKey> remove_owner(OwnerTag owner);
  std::vector<PoolElementKey> remove_home_registrar(RegistrarId registrar);
  // Moves every element of `from` to home registrar `to` (RFC 5353 takeover).
  std::size_t reassign_home_registrar(RegistrarId from, RegistrarId to);

  // Look-ups.
  std::optional<PoolElement> find(const PoolHandle& handle, PoolElementId id) const;
  bool contains(const PoolHandle& handle, PoolElementId id) const;
  bool has_pool(const PoolHandle& handle) const;
  std::optional<PolicyType> pool_policy(const PoolHandle& handle) const;
  std::size_t pool_size(const PoolHandle& handle) const;  // 0 if absent
  std::size_t pool_count() const noexcept;
  std::size_t element_count() const noexcept;

  // Updates an element's policy values in place (RFC 5356 §5: a PE re-registers to announce a
  // new load); same policy type required. Resets degradation like any re-registration.
  HsResult<void> update_policy(const PoolHandle& handle, PoolElementId id,
                               const PolicyInfo& policy);

  // Handle resolution (RFC 5352 §3, RFC 5356): writes up to request.max_elements distinct
  // element ids of the pool, chosen by its policy, into `out` (sized by the caller) and returns
  // how many. Updates policy state (RR head, degradations) as described at SelectionRequest.
  HsResult<std::size_t> select(const PoolHandle& handle, const SelectionRequest& request,
                               std::span<PoolElementId> out);
  // The same, returning full copies of the selected elements.
  HsResult<std::vector<PoolElement>> handle_resolution(const PoolHandle& handle,
                                                       const SelectionRequest& request);

  // Iteration in handle order (bytewise), elements of a pool in ascending id order.
  std::vector<PoolHandle> pool_handles() const;
  std::vector<PoolElementId> element_ids(const PoolHandle& handle) const;  // ascending
  void for_each(const std::function<void(const PoolHandle&, const PoolElement&)>& visit) const;
  // Elements strictly after (handle, id) in handle order, at most `limit` (RFC 5353
  // handle table pages). Start with an empty handle and id 0.
  std::vector<std::pair<PoolHandle, PoolElement>> elements_after(const PoolHandle& handle,
                                                                 PoolElementId id,
                                                                 std::size_t limit) const;

  // RFC 5353: the checksum over the elements whose home registrar is `registrar` (ENRP
  // Presence), and over the whole handlespace.
  std::uint16_t ownership_checksum(RegistrarId registrar) const;
  std::uint16_t checksum() const noexcept;
  std::size_t owned_element_count(RegistrarId registrar) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rsp::handlespace
