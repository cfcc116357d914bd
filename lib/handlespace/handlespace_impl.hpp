// Handlespace internals. Storage is flat: every element lives in one vector and is named by its
// 32-bit index; pools, owner lists, home-registrar lists and the expiry heap hold indices, never
// pointers. docs/handlespace.md describes the structures and their costs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "fenwick.hpp"
#include "flat_index.hpp"
#include "packed_blob.hpp"
#include "policy_values.hpp"
#include "rsp/handlespace/handlespace.hpp"

namespace rsp::handlespace {

namespace detail {

struct Element {
  PoolElementId id = 0;
  RegistrarId home = 0;
  OwnerTag owner = kNoOwner;
  std::int64_t expiry_ns = 0;  // steady_clock ticks since its epoch, in nanoseconds
  std::uint32_t lifetime_ms = 0;
  std::uint32_t pool = kNone;      // pool index; kNone marks a free slot
  std::uint32_t pos = 0;           // position in the pool's member array
  std::uint32_t heap_pos = 0;      // position in the expiry heap
  std::uint32_t owner_prev = kNone, owner_next = kNone;
  std::uint32_t home_prev = kNone, home_next = kNone;
  std::uint32_t link_prev = kNone, link_next = kNone;  // ordered-bucket list; free list (next)
  PolicyValues values;
  std::uint32_t degradation = 0;  // RFC 5356 §5.2
  std::uint32_t uses = 0;         // RR/WRR: selections in the current round
  std::uint64_t key = 0;          // Ordered policies: current key
  PackedBlob blob;
};

struct TransportSignature {
  TransportProtocol protocol;
  TransportUse use;
  bool operator==(const TransportSignature&) const = default;
};

struct Bucket {
  std::uint32_t head = kNone;
  std::uint32_t tail = kNone;
};

struct Pool {
  PoolHandle handle;
  PolicyType policy = PolicyType::RoundRobin;
  SelectionMethod method = SelectionMethod::RoundRobin;
  std::vector<TransportSignature> transports;  // of the first element (RFC 5352 consistency)
  std::vector<std::uint32_t> members;          // dense; element.pos indexes it
  std::uint32_t cursor = 0;                    // RoundRobin: the head
  Fenwick weights;                             // Weighted: aligned with members
  std::map<std::uint64_t, Bucket> buckets;     // Ordered: key -> FIFO of elements
};

// Random needs no weights (every element weighs 1): it draws a position directly.
inline bool has_weights(const Pool& pool) noexcept {
  return pool.method == SelectionMethod::Weighted && pool.policy != PolicyType::Random;
}

struct HomeInfo {
  std::uint32_t head = kNone;
  std::size_t count = 0;
  ChecksumAccumulator checksum;
};

struct HeapEntry {
  std::int64_t expiry_ns;
  std::uint32_t element;
};

}  // namespace detail

struct Handlespace::Impl {
  Limits limits;
  std::uint64_t rng_state[4]{};
  RandomSource random_override;

  std::vector<detail::Element> elements;
  std::uint32_t free_elements = detail::kNone;
  std::size_t element_count = 0;

  std::vector<std::unique_ptr<detail::Pool>> pools;
  std::vector<std::uint32_t> free_pools;
  std::map<PoolHandle, std::uint32_t> pool_by_handle;  // handle order

  detail::FlatIndex by_id;     // (pool << 32 | id) -> element
  detail::FlatIndex by_owner;  // owner -> first element of its list
  std::unordered_map<RegistrarId, detail::HomeInfo> homes;
  ChecksumAccumulator total_checksum;
  std::vector<detail::HeapEntry> expiry_heap;

  Impl(Limits l, std::uint64_t seed);

  std::uint64_t random();
  // Uniform in [0, bound), bound > 0.
  std::uint64_t random_below(std::uint64_t bound);

  static std::uint64_t id_key(std::uint32_t pool, PoolElementId id) noexcept {
    return (std::uint64_t{pool} << 32) | id;
  }
  std::uint32_t find_pool(const PoolHandle& handle) const noexcept;
  std::uint32_t find_element(std::uint32_t pool, PoolElementId id) const noexcept {
    return by_id.find(id_key(pool, id));
  }

  // Registration pieces (handlespace.cpp).
  HsResult<RegistrationOutcome> register_element(const PoolHandle& handle,
                                                 const PoolElementRegistration& r, TimePoint now);
  void remove_element(std::uint32_t e);
  std::uint32_t allocate_element();
  std::uint32_t create_pool(const PoolHandle& handle, PolicyType policy,
                            std::vector<detail::TransportSignature> transports);
  void reset_pool_policy(detail::Pool& pool, PolicyType policy);

  // Lists.
  void link_owner(std::uint32_t e);
  void unlink_owner(std::uint32_t e);
  void link_home(std::uint32_t e);
  void unlink_home(std::uint32_t e);

  // Expiry heap.
  void heap_push(std::uint32_t e);
  void heap_remove(std::uint32_t e);
  void heap_update(std::uint32_t e);
  void heap_sift_up(std::size_t i);
  void heap_sift_down(std::size_t i);
  void heap_place(std::size_t i, const detail::HeapEntry& entry);

  // Policy indices (selection.cpp).
  void policy_insert(detail::Pool& pool, std::uint32_t e);
  void policy_erase(detail::Pool& pool, std::uint32_t e);
  void policy_refresh(detail::Pool& pool, std::uint32_t e);  // values or degradation changed
  void bucket_append(detail::Pool& pool, std::uint32_t e);
  void bucket_unlink(detail::Pool& pool, std::uint32_t e);
  std::size_t select(detail::Pool& pool, const SelectionRequest& request,
                     std::span<PoolElementId> out);
  std::size_t select_round_robin(detail::Pool& pool, std::size_t n, std::size_t inc,
                                 std::span<PoolElementId> out);
  std::size_t select_ordered(detail::Pool& pool, std::size_t n, std::size_t inc,
                             std::span<PoolElementId> out);
  std::size_t select_weighted(detail::Pool& pool, std::size_t n, std::size_t inc,
                              std::span<PoolElementId> out);

  PoolElement materialize(std::uint32_t e) const;
  std::vector<PoolElementKey> remove_list(std::uint32_t first, bool by_owner);
};

}  // namespace rsp::handlespace
