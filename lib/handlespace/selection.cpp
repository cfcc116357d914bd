// Handle resolution: selecting elements by pool policy (RFC 5356; RFC 5352 §3).
#include <algorithm>

#include "handlespace_impl.hpp"

namespace rsp::handlespace {

using detail::Element;
using detail::has_weights;
using detail::kNone;
using detail::Pool;

// ---- per-policy indices ----

std::uint32_t Handlespace::Impl::current_key(const Pool& pool, std::uint32_t e) const {
  if (pool.method != SelectionMethod::Ordered) return 0;
  const Element& el = elements[e];
  return static_cast<std::uint32_t>(detail::ordered_key(pool.policy, el.values, el.state));
}

void Handlespace::Impl::policy_insert(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  switch (pool.method) {
    case SelectionMethod::RoundRobin:
      break;
    case SelectionMethod::Ordered:
      ordered_insert(pool, e, current_key(pool, e));
      break;
    case SelectionMethod::Weighted:
      if (has_weights(pool))
        pool.weights.push_back(detail::selection_weight(pool.policy, el.values, el.state));
      break;
  }
}

// Weighted positions are removed by remove_element together with the member arrays.
void Handlespace::Impl::policy_erase(Pool& pool, std::uint32_t e) {
  if (pool.method == SelectionMethod::Ordered) ordered_erase(pool, e);
}

void Handlespace::Impl::policy_refresh(Pool& pool, std::uint32_t e, std::uint32_t old_key) {
  Element& el = elements[e];
  switch (pool.method) {
    case SelectionMethod::RoundRobin:
      break;
    case SelectionMethod::Ordered: {
      const std::uint32_t key = current_key(pool, e);
      if (key != old_key) {  // an unchanged key keeps its place in the round-robin order
        ordered_erase(pool, e);
        ordered_insert(pool, e, key);
      }
      break;
    }
    case SelectionMethod::Weighted:
      if (has_weights(pool))
        pool.weights.set(el.pos, detail::selection_weight(pool.policy, el.values, el.state));
      break;
  }
}

// ---- selection ----

std::size_t Handlespace::Impl::select(Pool& pool, const SelectionRequest& request,
                                      std::span<PoolElementId> out) {
  const std::size_t n = std::min({request.max_elements, out.size(), pool.members.size()});
  if (n == 0) return 0;
  const std::size_t inc = std::min(request.max_increment, n);
  switch (pool.method) {
    case SelectionMethod::RoundRobin: return select_round_robin(pool, n, inc, out);
    case SelectionMethod::Ordered: return select_ordered(pool, n, inc, out);
    case SelectionMethod::Weighted: return select_weighted(pool, n, inc, out);
  }
  return 0;
}

// RFC 5356 §4.1.2: return the elements starting at the head of the circular list, then
// advance the head. §4.2 (WRR): an element heads the list `weight` times per round (RSPLIB
// counts a weight of 0 as 1). Every one of the first `inc` returned elements is counted as
// used; the head moves past elements that have used up their share of the round.
std::size_t Handlespace::Impl::select_round_robin(Pool& pool, std::size_t n, std::size_t inc,
                                                  std::span<PoolElementId> out) {
  const std::size_t size = pool.members.size();
  std::size_t i = pool.cursor;
  if (pool.policy == PolicyType::RoundRobin) {
    // Every element's share of a round is one selection: the head simply moves past the
    // `inc` used elements, and no element record is touched.
    for (std::size_t k = 0; k < n; ++k) {
      out[k] = pool.member_ids[i];
      if (++i == size) i = 0;
    }
    pool.cursor = static_cast<std::uint32_t>((pool.cursor + inc) % size);
    return n;
  }
  for (std::size_t k = 0; k < n; ++k) {
    out[k] = pool.member_ids[i];
    if (k < inc) ++elements[pool.members[i]].state;
    if (++i == size) i = 0;
  }
  const bool weighted = pool.policy == PolicyType::WeightedRoundRobin;
  for (std::size_t steps = 0; steps < size; ++steps) {
    Element& head = elements[pool.members[pool.cursor]];
    const std::uint32_t share = weighted ? std::max<std::uint32_t>(head.values.weight, 1) : 1;
    if (head.state < share) break;
    head.state = 0;
    if (++pool.cursor == size) pool.cursor = 0;
  }
  return n;
}

// Ascending key (least used first, or highest priority first); equal keys in round-robin
// order: a used element moves to the back of its key's queue (RFC 5356 §5.1.2). The
// degradation policies add the PE's load degradation to each used element (§5.2.2).
// The smallest buckets are visited in heap order through a small frontier of candidates.
std::size_t Handlespace::Impl::select_ordered(Pool& pool, std::size_t n, std::size_t inc,
                                              std::span<PoolElementId> out) {
  // The first `inc` elements and the heap position of their bucket.
  std::uint32_t picked_small[64];
  std::uint32_t picked_pos_small[64];
  std::vector<std::uint32_t> picked_large, picked_pos_large;
  std::uint32_t* chosen = picked_small;
  std::uint32_t* chosen_pos = picked_pos_small;
  if (inc > std::size(picked_small)) {
    picked_large.resize(inc);
    picked_pos_large.resize(inc);
    chosen = picked_large.data();
    chosen_pos = picked_pos_large.data();
  }
  std::size_t k = 0;
  const auto& heap = pool.bucket_heap;
  // Heap positions whose bucket is not visited yet: at most one more than visited buckets.
  std::uint32_t frontier_small[72];
  std::vector<std::uint32_t> frontier_large;
  std::uint32_t* frontier = frontier_small;
  if (n + 2 > std::size(frontier_small)) {
    frontier_large.resize(n + 2);
    frontier = frontier_large.data();
  }
  std::size_t frontier_size = 0;
  std::size_t pos = 0;
  for (;;) {
    const detail::KeyHeapEntry& entry = heap[pos];
    // The first element comes from the heap entry; only longer buckets read element records.
    std::uint32_t e = entry.head;
    PoolElementId id = entry.head_id;
    for (;;) {
      if (k < inc) {
        chosen[k] = e;
        chosen_pos[k] = static_cast<std::uint32_t>(pos);
      }
      out[k++] = id;
      if (k == n || e == entry.tail) break;
      e = elements[e].link_next;
      id = elements[e].id;
    }
    if (k == n) break;
    for (std::size_t child = 2 * pos + 1; child <= 2 * pos + 2; ++child) {
      if (child < heap.size()) frontier[frontier_size++] = static_cast<std::uint32_t>(child);
    }
    if (frontier_size == 0) break;
    std::size_t best = 0;
    for (std::size_t i = 1; i < frontier_size; ++i) {
      if (heap[frontier[i]].key < heap[frontier[best]].key) best = i;
    }
    pos = frontier[best];
    frontier[best] = frontier[--frontier_size];
  }
  if (!policy_uses_degradation(pool.policy)) {
    // Same key: to the back of the bucket, O(1). Re-queuing never moves heap entries, so the
    // recorded positions stay valid.
    for (std::size_t i = 0; i < inc; ++i) ordered_requeue(pool, chosen_pos[i], chosen[i]);
    return k;
  }
  for (std::size_t i = 0; i < inc; ++i) {
    const std::uint32_t e = chosen[i];
    Element& el = elements[e];
    ordered_erase(pool, e);
    el.state = static_cast<std::uint32_t>(
        detail::saturate32(std::uint64_t{el.state} + el.values.load_degradation));
    ordered_insert(pool, e, current_key(pool, e));
  }
  return k;
}

// Random (RFC 5356 §4.3) draws uniformly; the others with probability proportional to their
// weight (§4.4, §5.4), without replacement. A draw that hits an element already chosen is
// repeated, which yields exactly the conditional distribution of drawing from the remaining
// elements; after a few repeats (a pool dominated by the chosen weights) the chosen weights are
// zeroed instead. Weight tree: O(log16 n) per draw.
std::size_t Handlespace::Impl::select_weighted(Pool& pool, std::size_t n, std::size_t inc,
                                               std::span<PoolElementId> out) {
  const std::size_t size = pool.members.size();
  std::uint32_t small[64];
  std::vector<std::uint32_t> large;
  std::uint32_t* chosen = small;  // positions
  if (n > std::size(small)) {
    large.resize(n);
    chosen = large.data();
  }
  const auto already = [&](std::size_t k, std::uint32_t pos) {
    return std::find(chosen, chosen + k, pos) != chosen + k;
  };

  if (!has_weights(pool)) {
    if (n * 2 <= size && n <= std::size(small)) {
      for (std::size_t k = 0; k < n;) {
        const auto pos = static_cast<std::uint32_t>(random_below(size));
        if (already(k, pos)) continue;
        chosen[k] = pos;
        out[k++] = pool.member_ids[pos];
      }
    } else {
      // Many of few: a partial Fisher-Yates shuffle of the positions.
      std::vector<std::uint32_t> positions(size);
      for (std::size_t i = 0; i < size; ++i) positions[i] = static_cast<std::uint32_t>(i);
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t j = k + random_below(size - k);
        std::swap(positions[k], positions[j]);
        out[k] = pool.member_ids[positions[k]];
      }
    }
    return n;
  }

  std::size_t k = 0;
  std::size_t zeroed = 0;  // chosen[0, zeroed) have weight 0 in the tree for now
  std::uint32_t saved_small[64];
  std::vector<std::uint32_t> saved_large;
  std::uint32_t* saved = saved_small;
  if (n > std::size(saved_small)) {
    saved_large.resize(n);
    saved = saved_large.data();
  }
  // First attempts for up to kBatch draws in one descent of the tree (independent draws from
  // the full weights; a repeat is redrawn below, which keeps the distribution exact).
  std::size_t first_attempts[detail::WeightTree::kBatch];
  std::size_t batched = 0;
  std::size_t next_batched = 0;
  if (pool.weights.total() > 0) {
    std::uint64_t units[detail::WeightTree::kBatch];
    batched = std::min(n, detail::WeightTree::kBatch);
    for (std::size_t q = 0; q < batched; ++q) units[q] = random_below(pool.weights.total());
    pool.weights.find_many(units, first_attempts, batched);
  }
  while (k < n) {
    const std::uint64_t total = pool.weights.total();
    if (total == 0) break;  // only weight-0 elements left: they are never chosen
    std::uint32_t pos = 0;
    bool found = false;
    if (next_batched < batched) {
      pos = static_cast<std::uint32_t>(first_attempts[next_batched++]);
      found = !already(k, pos) && pool.weights.value(pos) > 0;
    }
    for (int attempt = 0; attempt < 8 && !found; ++attempt) {
      pos = static_cast<std::uint32_t>(pool.weights.find(random_below(total)));
      found = !already(k, pos);
    }
    if (!found) {
      // Zero the chosen weights (once) and draw from what is left.
      for (; zeroed < k; ++zeroed) {
        saved[zeroed] = pool.weights.value(chosen[zeroed]);
        pool.weights.set(chosen[zeroed], 0);
      }
      continue;
    }
    chosen[k] = pos;
    out[k++] = pool.member_ids[pos];
    if (zeroed > 0) {  // keep the invariant: every chosen weight is zeroed from now on
      saved[zeroed] = pool.weights.value(pos);
      pool.weights.set(pos, 0);
      ++zeroed;
    }
  }
  for (std::size_t i = 0; i < zeroed; ++i) pool.weights.set(chosen[i], saved[i]);
  if (policy_uses_degradation(pool.policy)) {
    for (std::size_t i = 0; i < std::min(inc, k); ++i) {
      Element& el = elements[pool.members[chosen[i]]];
      el.state = static_cast<std::uint32_t>(
          detail::saturate32(std::uint64_t{el.state} + el.values.load_degradation));
      pool.weights.set(chosen[i], detail::selection_weight(pool.policy, el.values, el.state));
    }
  }
  return k;
}

// ---- public surface ----

HsResult<std::size_t> Handlespace::select(const PoolHandle& handle,
                                          const SelectionRequest& request,
                                          std::span<PoolElementId> out) {
  const std::uint32_t p = impl_->find_pool(handle);
  if (p == kNone)
    return make_error(HandlespaceError::UnknownPoolHandle,
                      "no pool '" + std::string(handle.view()) + "'");
  return impl_->select(*impl_->pools[p], request, out);
}

HsResult<std::vector<PoolElement>> Handlespace::handle_resolution(
    const PoolHandle& handle, const SelectionRequest& request) {
  const std::uint32_t p = impl_->find_pool(handle);
  if (p == kNone)
    return make_error(HandlespaceError::UnknownPoolHandle,
                      "no pool '" + std::string(handle.view()) + "'");
  Pool& pool = *impl_->pools[p];
  std::vector<PoolElementId> ids(std::min(request.max_elements, pool.members.size()));
  const std::size_t n = impl_->select(pool, request, ids);
  std::vector<PoolElement> result;
  result.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    result.push_back(impl_->materialize(impl_->find_element(p, ids[i])));
  return result;
}

}  // namespace rsp::handlespace
