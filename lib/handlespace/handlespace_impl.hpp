// Handlespace internals. Storage is flat: every element lives in one chunked array and is named
// by its 32-bit index; pools, indices, owner lists and the expiry heap hold indices, never
// pointers. docs/handlespace.md describes the structures and their costs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "big_allocator.hpp"
#include "hash_index.hpp"
#include "packed_blob.hpp"
#include "policy_values.hpp"
#include "rsp/handlespace/handlespace.hpp"
#include "weight_tree.hpp"

namespace rsp::handlespace {

namespace detail {

struct Element {
  PoolElementId id = 0;
  RegistrarId home = 0;
  OwnerTag owner = kNoOwner;
  std::int64_t expiry_ns = 0;  // steady_clock time since its epoch, in nanoseconds
  std::uint32_t lifetime_ms = 0;
  std::uint32_t pool = kNone;  // pool index; kNone marks a free slot
  std::uint32_t pos = 0;       // position in the pool's member arrays
  std::uint32_t heap_pos = 0;  // position in the expiry heap
  std::uint32_t owner_prev = kNone, owner_next = kNone;
  // Ordered policies: the element's key bucket and its FIFO neighbours. Free slots chain
  // through link_next.
  std::uint32_t link_prev = kNone, link_next = kNone, bucket = kNone;
  // RFC 5356 §5.2 degradation for the degradation policies; selections in the current round
  // for RR/WRR (the two never meet in one pool).
  std::uint32_t state = 0;
  PolicyValues values;
  PackedBlob blob;
};

// Elements in chunks of 32768: growing never moves (or copies) the existing ones, and a
// million elements leave no half-empty doubling buffer behind. A chunk's storage is reserved,
// not constructed, so untouched slots cost address space only.
class ElementStore {
 public:
  static constexpr std::uint32_t kShift = 15;
  static constexpr std::uint32_t kChunk = 1u << kShift;

  Element& operator[](std::uint32_t i) noexcept { return chunks_[i >> kShift][i & (kChunk - 1)]; }
  const Element& operator[](std::uint32_t i) const noexcept {
    return chunks_[i >> kShift][i & (kChunk - 1)];
  }
  std::uint32_t size() const noexcept { return size_; }
  std::uint32_t append() {
    if ((size_ & (kChunk - 1)) == 0) {
      chunks_.emplace_back();
      chunks_.back().reserve(kChunk);
    }
    chunks_.back().emplace_back();
    return size_++;
  }

 private:
  std::vector<BigVector<Element>> chunks_;  // each reserved to kChunk: never reallocates
  std::uint32_t size_ = 0;
};

struct TransportSignature {
  TransportProtocol protocol;
  TransportUse use;
  bool operator==(const TransportSignature&) const = default;
};
using Signature = SmallVector<TransportSignature, 2>;

// Ordered policies: elements with equal keys form a FIFO bucket (round robin among equals);
// the buckets sit in a binary min-heap on their key, found by key through a hash index. A heap
// entry carries its bucket's list ends and the first element's id, so a resolution that
// stays in the first buckets reads heap entries only (no bucket or element records).
struct KeyBucket {
  std::uint32_t key = 0;
  std::uint32_t heap_pos = 0;
};
struct KeyHeapEntry {
  std::uint32_t key;
  std::uint32_t bucket;
  std::uint32_t head;  // first element (served next)
  std::uint32_t tail;  // last element
  PoolElementId head_id;
};
struct BucketTraits {
  static bool matches(const std::vector<KeyBucket>& buckets, std::uint32_t b,
                      std::uint32_t key) noexcept {
    return buckets[b].key == key;
  }
};

struct Pool {
  PoolHandle handle;
  std::uint32_t handle_hash = 0;
  PolicyType policy = PolicyType::RoundRobin;
  SelectionMethod method = SelectionMethod::RoundRobin;
  Signature transports;  // of the first element (RFC 5352 consistency)
  BigVector<std::uint32_t> members;            // dense; element.pos indexes it
  BigVector<PoolElementId> member_ids;         // aligned with members: selection reads only this
  std::uint32_t cursor = 0;                    // RoundRobin: the head
  WeightTree weights;                          // Weighted (not Random): aligned with members
  std::vector<KeyBucket> buckets;              // Ordered
  std::vector<std::uint32_t> free_buckets;
  std::vector<KeyHeapEntry> bucket_heap;
  HashIndex<BucketTraits> bucket_by_key;
};

// Random needs no weights (every element weighs 1): it draws a position directly.
inline bool has_weights(const Pool& pool) noexcept {
  return pool.method == SelectionMethod::Weighted && pool.policy != PolicyType::Random;
}

struct HomeInfo {
  std::size_t count = 0;
  ChecksumAccumulator checksum;
};

struct HeapEntry {
  std::int64_t expiry_ns;
  std::uint32_t element;
};

struct IdKey {
  std::uint32_t pool;
  PoolElementId id;
};
struct IdTraits {
  static bool matches(const ElementStore& elements, std::uint32_t e, const IdKey& k) noexcept {
    return elements[e].id == k.id && elements[e].pool == k.pool;
  }
};
struct OwnerTraits {
  static bool matches(const ElementStore& elements, std::uint32_t e, OwnerTag owner) noexcept {
    return elements[e].owner == owner;
  }
};
struct PoolTraits {
  static bool matches(const std::vector<std::unique_ptr<Pool>>& pools, std::uint32_t p,
                      std::string_view handle) noexcept {
    return pools[p]->handle.view() == handle;
  }
};

inline std::uint32_t hash_id(std::uint32_t pool, PoolElementId id) noexcept {
  return mix64((std::uint64_t{pool} << 32) | id);
}
inline std::uint32_t hash_owner(OwnerTag owner) noexcept { return mix64(owner); }
inline std::uint32_t hash_handle(std::string_view handle) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then mixed
  for (char c : handle) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return mix64(h);
}

}  // namespace detail

struct Handlespace::Impl {
  Limits limits;
  std::uint64_t rng_state[4]{};
  RandomSource random_override;

  detail::ElementStore elements;
  std::uint32_t free_elements = detail::kNone;
  std::size_t element_count = 0;

  std::vector<std::unique_ptr<detail::Pool>> pools;
  std::vector<std::uint32_t> free_pools;
  std::map<PoolHandle, std::uint32_t> pool_order;  // handle order, for iteration only
  detail::HashIndex<detail::PoolTraits> pool_by_handle;

  detail::HashIndex<detail::IdTraits> by_id;        // (pool, id) -> element
  detail::HashIndex<detail::OwnerTraits> by_owner;  // owner -> first element of its list
  std::unordered_map<RegistrarId, detail::HomeInfo> homes;
  ChecksumAccumulator total_checksum;
  detail::BigVector<detail::HeapEntry> expiry_heap;

  Impl(Limits l, std::uint64_t seed);

  std::uint64_t random();
  std::uint64_t random_below(std::uint64_t bound);  // uniform in [0, bound), bound > 0

  std::uint32_t find_pool(const PoolHandle& handle) const noexcept {
    return pool_by_handle.find(pools, detail::hash_handle(handle.view()), handle.view());
  }
  std::uint32_t find_element(std::uint32_t pool, PoolElementId id) const noexcept {
    return by_id.find(elements, detail::hash_id(pool, id), detail::IdKey{pool, id});
  }

  // Registration pieces (handlespace.cpp).
  HsResult<RegistrationOutcome> register_element(const PoolHandle& handle,
                                                 const PoolElementRegistration& r, TimePoint now);
  void remove_element(std::uint32_t e);
  std::uint32_t allocate_element();
  std::uint32_t create_pool(const PoolHandle& handle, PolicyType policy,
                            detail::Signature transports);
  void reset_pool_policy(detail::Pool& pool, PolicyType policy);
  void add_home(std::uint32_t e);
  void remove_home(std::uint32_t e);

  // Owner lists.
  void link_owner(std::uint32_t e);
  void unlink_owner(std::uint32_t e);

  // Expiry heap.
  void heap_push(std::uint32_t e);
  void heap_remove(std::uint32_t e);
  void heap_update(std::uint32_t e);
  void heap_sift_up(std::size_t i);
  void heap_sift_down(std::size_t i);
  void heap_place(std::size_t i, const detail::HeapEntry& entry);

  // Policy indices (selection.cpp, ordered_index.cpp).
  void policy_insert(detail::Pool& pool, std::uint32_t e);
  void policy_erase(detail::Pool& pool, std::uint32_t e);
  // After an element's values or degradation changed; old_key is its key before the change.
  void policy_refresh(detail::Pool& pool, std::uint32_t e, std::uint32_t old_key);
  std::uint32_t current_key(const detail::Pool& pool, std::uint32_t e) const;
  void ordered_insert(detail::Pool& pool, std::uint32_t e, std::uint32_t key);
  void ordered_erase(detail::Pool& pool, std::uint32_t e);
  // Moves e, an element of the bucket at heap position pos, to the back of that bucket.
  void ordered_requeue(detail::Pool& pool, std::size_t pos, std::uint32_t e);
  void bucket_heap_sift_up(detail::Pool& pool, std::size_t i);
  void bucket_heap_sift_down(detail::Pool& pool, std::size_t i);
  std::size_t select(detail::Pool& pool, const SelectionRequest& request,
                     std::span<PoolElementId> out);
  std::size_t select_round_robin(detail::Pool& pool, std::size_t n, std::size_t inc,
                                 std::span<PoolElementId> out);
  std::size_t select_ordered(detail::Pool& pool, std::size_t n, std::size_t inc,
                             std::span<PoolElementId> out);
  std::size_t select_weighted(detail::Pool& pool, std::size_t n, std::size_t inc,
                              std::span<PoolElementId> out);

  PoolElement materialize(std::uint32_t e) const;
  std::vector<PoolElementKey> remove_all(const std::vector<std::uint32_t>& victims);
};

}  // namespace rsp::handlespace
