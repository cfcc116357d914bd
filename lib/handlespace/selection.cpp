// Handle resolution: selecting elements by pool policy (RFC 5356; RFC 5352 §3).
#include <algorithm>

#include "handlespace_impl.hpp"

namespace rsp::handlespace {

using detail::Element;
using detail::has_weights;
using detail::kNone;
using detail::Pool;

// ---- per-policy indices ----

void Handlespace::Impl::bucket_append(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  detail::Bucket& b = pool.buckets[el.key];
  el.link_prev = b.tail;
  el.link_next = kNone;
  if (b.tail != kNone) {
    elements[b.tail].link_next = e;
  } else {
    b.head = e;
  }
  b.tail = e;
}

void Handlespace::Impl::bucket_unlink(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  const auto it = pool.buckets.find(el.key);
  detail::Bucket& b = it->second;
  if (el.link_prev != kNone) {
    elements[el.link_prev].link_next = el.link_next;
  } else {
    b.head = el.link_next;
  }
  if (el.link_next != kNone) {
    elements[el.link_next].link_prev = el.link_prev;
  } else {
    b.tail = el.link_prev;
  }
  el.link_prev = el.link_next = kNone;
  if (b.head == kNone) pool.buckets.erase(it);
}

void Handlespace::Impl::policy_insert(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  switch (pool.method) {
    case SelectionMethod::RoundRobin:
      el.uses = 0;
      break;
    case SelectionMethod::Ordered:
      el.key = detail::ordered_key(pool.policy, el.values, el.degradation);
      bucket_append(pool, e);
      break;
    case SelectionMethod::Weighted:
      if (has_weights(pool))
        pool.weights.push_back(detail::selection_weight(pool.policy, el.values, el.degradation));
      break;
  }
}

// Weighted positions are removed by remove_element together with the member array.
void Handlespace::Impl::policy_erase(Pool& pool, std::uint32_t e) {
  if (pool.method == SelectionMethod::Ordered) bucket_unlink(pool, e);
}

void Handlespace::Impl::policy_refresh(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  switch (pool.method) {
    case SelectionMethod::RoundRobin:
      break;
    case SelectionMethod::Ordered: {
      const std::uint64_t key = detail::ordered_key(pool.policy, el.values, el.degradation);
      if (key != el.key) {  // an unchanged key keeps its place in the round-robin order
        bucket_unlink(pool, e);
        el.key = key;
        bucket_append(pool, e);
      }
      break;
    }
    case SelectionMethod::Weighted:
      if (has_weights(pool))
        pool.weights.set(el.pos, detail::selection_weight(pool.policy, el.values, el.degradation));
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
  for (std::size_t k = 0; k < n; ++k) {
    Element& el = elements[pool.members[i]];
    out[k] = el.id;
    if (k < inc) ++el.uses;
    if (++i == size) i = 0;
  }
  const bool weighted = pool.policy == PolicyType::WeightedRoundRobin;
  for (std::size_t steps = 0; steps < size; ++steps) {
    Element& head = elements[pool.members[pool.cursor]];
    const std::uint32_t share = weighted ? std::max<std::uint32_t>(head.values.weight, 1) : 1;
    if (head.uses < share) break;
    head.uses = 0;
    if (++pool.cursor == size) pool.cursor = 0;
  }
  return n;
}

// Ascending key (least used first, or highest priority first); equal keys in round-robin
// order: a used element moves to the back of its key's queue (RFC 5356 §5.1.2). The
// degradation policies add the PE's load degradation to each used element (§5.2.2).
std::size_t Handlespace::Impl::select_ordered(Pool& pool, std::size_t n, std::size_t inc,
                                              std::span<PoolElementId> out) {
  std::uint32_t picked[64];
  std::vector<std::uint32_t> picked_heap;
  std::uint32_t* chosen = picked;
  if (inc > std::size(picked)) {
    picked_heap.resize(inc);
    chosen = picked_heap.data();
  }
  std::size_t k = 0;
  for (auto it = pool.buckets.begin(); it != pool.buckets.end() && k < n; ++it) {
    for (std::uint32_t e = it->second.head; e != kNone && k < n; e = elements[e].link_next) {
      if (k < inc) chosen[k] = e;
      out[k++] = elements[e].id;
    }
  }
  const bool degrade = policy_uses_degradation(pool.policy);
  for (std::size_t i = 0; i < inc; ++i) {
    const std::uint32_t e = chosen[i];
    Element& el = elements[e];
    bucket_unlink(pool, e);
    if (degrade) {
      el.degradation = static_cast<std::uint32_t>(
          detail::saturate32(std::uint64_t{el.degradation} + el.values.load_degradation));
      el.key = detail::ordered_key(pool.policy, el.values, el.degradation);
    }
    bucket_append(pool, e);
  }
  return k;
}

// Random (RFC 5356 §4.3) draws uniformly; the others with probability proportional to their
// weight (§4.4, §5.4), without replacement: a chosen element's weight is set to 0 until the
// draw is complete. Fenwick tree: O(log n) per draw.
std::size_t Handlespace::Impl::select_weighted(Pool& pool, std::size_t n, std::size_t inc,
                                               std::span<PoolElementId> out) {
  const std::size_t size = pool.members.size();
  if (!has_weights(pool)) {
    if (n * 2 <= size && n <= 64) {
      std::uint32_t chosen[64];
      for (std::size_t k = 0; k < n;) {
        const auto pos = static_cast<std::uint32_t>(random_below(size));
        if (std::find(chosen, chosen + k, pos) != chosen + k) continue;  // without replacement
        chosen[k] = pos;
        out[k++] = elements[pool.members[pos]].id;
      }
    } else {
      // Many of few: a partial Fisher-Yates shuffle of the positions.
      std::vector<std::uint32_t> positions(size);
      for (std::size_t i = 0; i < size; ++i) positions[i] = static_cast<std::uint32_t>(i);
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t j = k + random_below(size - k);
        std::swap(positions[k], positions[j]);
        out[k] = elements[pool.members[positions[k]]].id;
      }
    }
    return n;
  }

  std::uint32_t small[64];
  std::vector<std::uint32_t> large;
  std::uint32_t* chosen = small;
  if (n > std::size(small)) {
    large.resize(n);
    chosen = large.data();
  }
  std::size_t k = 0;
  std::uint64_t saved_small[64];
  std::vector<std::uint64_t> saved_large;
  std::uint64_t* saved = saved_small;
  if (n > std::size(saved_small)) {
    saved_large.resize(n);
    saved = saved_large.data();
  }
  for (; k < n; ++k) {
    const std::uint64_t total = pool.weights.total();
    if (total == 0) break;  // only weight-0 elements left: they are never chosen
    const std::size_t pos = pool.weights.find(random_below(total));
    chosen[k] = static_cast<std::uint32_t>(pos);
    saved[k] = pool.weights.value(pos);
    pool.weights.set(pos, 0);
    out[k] = elements[pool.members[pos]].id;
  }
  for (std::size_t i = 0; i < k; ++i) pool.weights.set(chosen[i], saved[i]);
  if (policy_uses_degradation(pool.policy)) {
    for (std::size_t i = 0; i < std::min(inc, k); ++i) {
      Element& el = elements[pool.members[chosen[i]]];
      el.degradation = static_cast<std::uint32_t>(
          detail::saturate32(std::uint64_t{el.degradation} + el.values.load_degradation));
      pool.weights.set(chosen[i], detail::selection_weight(pool.policy, el.values, el.degradation));
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
