// Registration, deregistration, expiry and bulk removal (RFC 5352 §3, RFC 5353).
#include "handlespace_impl.hpp"

#include <algorithm>
#include <string>

namespace rsp::handlespace {

using detail::Element;
using detail::kNone;
using detail::Pool;
using detail::TransportSignature;
using detail::has_weights;

std::string_view to_string(HandlespaceError e) noexcept {
  switch (e) {
    case HandlespaceError::InvalidValues: return "invalid values";
    case HandlespaceError::NonUniquePeIdentifier: return "non-unique PE identifier";
    case HandlespaceError::PoolingPolicyInconsistent: return "pooling policy inconsistent";
    case HandlespaceError::LackOfResources: return "lack of resources";
    case HandlespaceError::InconsistentTransportType: return "inconsistent transport type";
    case HandlespaceError::InconsistentDataControlConfiguration:
      return "inconsistent data/control configuration";
    case HandlespaceError::UnknownPoolHandle: return "unknown pool handle";
    case HandlespaceError::UnknownPoolElement: return "unknown pool element";
    case HandlespaceError::UnknownPolicy: return "unknown pool policy";
  }
  return "unknown error";
}

namespace {

std::int64_t to_ns(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

detail::Signature signature_of(const std::vector<TransportAddress>& transports) {
  detail::Signature sig;
  for (const auto& t : transports) sig.push_back({t.protocol, t.use});
  std::sort(sig.begin(), sig.end(), [](const auto& a, const auto& b) {
    return a.protocol != b.protocol ? a.protocol < b.protocol : a.use < b.use;
  });
  return sig;
}

detail::PolicyValues values_of(const PolicyInfo& p) {
  return {p.weight, p.priority, p.load, p.load_degradation, p.load_dpf, p.weight_dpf, p.distance};
}

std::string hex(std::uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string text = "0x00000000";
  for (int i = 9; i >= 2; --i, v >>= 4) text[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return text;
}

template <typename... Args>
Error<HandlespaceError> fail(HandlespaceError code, Args&&... parts) {
  std::string message;
  (message.append(parts), ...);
  return make_error(code, std::move(message));
}

}  // namespace

Handlespace::Impl::Impl(Limits l, std::uint64_t seed) : limits(l) {
  for (auto& s : rng_state) s = splitmix(seed);
}

std::uint64_t Handlespace::Impl::random() {
  if (random_override) return random_override();
  // xoshiro256** (Blackman & Vigna): fast, seeded, reproducible.
  const auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  std::uint64_t* s = rng_state;
  const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

std::uint64_t Handlespace::Impl::random_below(std::uint64_t bound) {
  // Lemire's multiply-shift: unbiased enough for bounds far below 2^64 (bias < bound / 2^64).
  __extension__ using u128 = unsigned __int128;
  return static_cast<std::uint64_t>((static_cast<u128>(random()) * bound) >> 64);
}

std::uint32_t Handlespace::Impl::allocate_element() {
  if (free_elements != kNone) {
    const std::uint32_t e = free_elements;
    free_elements = elements[e].link_next;
    elements[e] = Element{};
    return e;
  }
  return elements.append();
}

std::uint32_t Handlespace::Impl::create_pool(const PoolHandle& handle, PolicyType policy,
                                             detail::Signature transports) {
  std::uint32_t index;
  if (!free_pools.empty()) {
    index = free_pools.back();
    free_pools.pop_back();
    pools[index] = std::make_unique<Pool>();
  } else {
    index = static_cast<std::uint32_t>(pools.size());
    pools.push_back(std::make_unique<Pool>());
  }
  Pool& pool = *pools[index];
  pool.handle = handle;
  pool.handle_hash = detail::hash_handle(handle.view());
  pool.policy = policy;
  pool.method = *selection_method(policy);
  pool.transports = std::move(transports);
  pool_order.emplace(handle, index);
  pool_by_handle.insert(pools, pool.handle_hash, index);
  return index;
}

// The pool's only element changed its policy: rebuild the (single-element) policy index.
void Handlespace::Impl::reset_pool_policy(Pool& pool, PolicyType policy) {
  for (std::uint32_t e : pool.members) policy_erase(pool, e);
  pool.weights.clear();
  pool.cursor = 0;
  pool.policy = policy;
  pool.method = *selection_method(policy);
  for (std::uint32_t e : pool.members) {
    elements[e].state = 0;
    policy_insert(pool, e);
  }
}

HsResult<RegistrationOutcome> Handlespace::Impl::register_element(const PoolHandle& handle,
                                                                  const PoolElementRegistration& r,
                                                                  TimePoint now) {
  std::uint32_t p = find_pool(handle);
  // The two hash look-ups below usually miss the cache: start both loads now, before the
  // validation work.
  if (p != kNone) by_id.prefetch(detail::hash_id(p, r.id));
  if (r.owner != kNoOwner) by_owner.prefetch(detail::hash_owner(r.owner));
  if (p != kNone && pools[p]->method == SelectionMethod::Ordered) {
    const auto key = detail::ordered_key(pools[p]->policy, values_of(r.policy), 0);
    pools[p]->bucket_by_key.prefetch(detail::mix64(key));
  }
  // Valid values first: nothing below may see a malformed registration.
  if (handle.empty() || handle.size() > kMaxPoolHandleSize)
    return fail(HandlespaceError::InvalidValues, "pool handle must have 1 to ",
                std::to_string(kMaxPoolHandleSize), " bytes, got ", std::to_string(handle.size()));
  if (r.id == 0)
    return fail(HandlespaceError::InvalidValues, "PE identifier 0 is reserved (\"undefined\")");
  const auto lifetime_ms = r.lifetime.count();
  if (lifetime_ms <= 0 || lifetime_ms > 0xffffffffll)
    return fail(HandlespaceError::InvalidValues, "registration lifetime must be 1 ms to 2^32-1 ms");
  const std::size_t max_transports = std::min<std::size_t>(limits.max_transports_per_element, 255);
  const std::size_t max_addresses = std::min<std::size_t>(limits.max_addresses_per_transport, 255);
  if (r.user_transports.empty() || r.user_transports.size() > max_transports)
    return fail(HandlespaceError::InvalidValues, "expected 1 to ", std::to_string(max_transports),
                " user transports, got ", std::to_string(r.user_transports.size()));
  for (const auto& t : r.user_transports) {
    if (t.addresses.empty() || t.addresses.size() > max_addresses)
      return fail(HandlespaceError::InvalidValues, "a transport needs 1 to ",
                  std::to_string(max_addresses), " addresses");
  }
  if (r.metadata.size() > limits.max_metadata_bytes)
    return fail(HandlespaceError::InvalidValues, "metadata too large");
  if (!is_known_policy(r.policy.type))
    return fail(HandlespaceError::UnknownPolicy, "policy type ",
                hex(static_cast<std::uint32_t>(r.policy.type)), " is not supported");

  const auto signature = signature_of(r.user_transports);
  std::uint32_t existing = p == kNone ? kNone : find_element(p, r.id);

  if (p != kNone) {
    Pool& pool = *pools[p];
    // A pool's only element may change what the pool is; otherwise the pool decides.
    const bool sole = existing != kNone && pool.members.size() == 1;
    if (!sole) {
      // RFC 5352 §3: a different policy than the pool's is "pooling policy inconsistent".
      if (r.policy.type != pool.policy)
        return fail(HandlespaceError::PoolingPolicyInconsistent, "pool uses ",
                    std::string(policy_name(pool.policy)), ", registration asks for ",
                    std::string(policy_name(r.policy.type)));
      // RFC 5352 §3: transport protocol, then SCTP/TCP transport use, must match the pool.
      bool same_protocols = signature.size() == pool.transports.size();
      for (std::size_t i = 0; same_protocols && i < signature.size(); ++i)
        same_protocols = signature[i].protocol == pool.transports[i].protocol;
      if (!same_protocols)
        return fail(HandlespaceError::InconsistentTransportType,
                    "transport protocols differ from the pool's");
      if (signature != pool.transports)
        return fail(HandlespaceError::InconsistentDataControlConfiguration,
                    "transport use (data only / data plus control) differs from the pool's");
    }
  }

  if (existing != kNone) {
    Element& el = elements[existing];
    // RFC 5352 §3: the identifier belongs to whoever registered it; another association
    // using it is "non-unique PE identifier". An entry learned from a peer (kNoOwner) may be
    // taken over by a local registration.
    if (el.owner != kNoOwner && el.owner != r.owner)
      return fail(HandlespaceError::NonUniquePeIdentifier, "PE identifier ",
                  std::to_string(r.id), " is registered by another association");
    Pool& pool = *pools[p];
    if (pool.members.size() == 1) {
      pool.transports = signature;
      if (pool.policy != r.policy.type) reset_pool_policy(pool, r.policy.type);
    }
    if (el.owner != r.owner) {
      unlink_owner(existing);
      el.owner = r.owner;
      link_owner(existing);
    }
    if (el.home != r.home_registrar) {
      remove_home(existing);
      el.home = r.home_registrar;
      add_home(existing);
    }
    el.lifetime_ms = static_cast<std::uint32_t>(lifetime_ms);
    const std::int64_t expiry = to_ns(now + r.lifetime);
    if (expiry != el.expiry_ns) {
      el.expiry_ns = expiry;
      heap_update(existing);
    }
    el.blob = detail::PackedBlob(r.user_transports, r.metadata);
    const std::uint32_t old_key = current_key(pool, existing);
    el.values = values_of(r.policy);
    // RFC 5356 §5.2: re-registration resets the degradation (RR/WRR keep their round).
    if (pool.method != SelectionMethod::RoundRobin) el.state = 0;
    policy_refresh(pool, existing, old_key);
    return RegistrationOutcome::Updated;
  }

  // A new element: limits (RFC 5352 §3 "lack of resources").
  if (element_count >= limits.max_elements)
    return fail(HandlespaceError::LackOfResources, "handlespace holds the maximum of ",
                std::to_string(limits.max_elements), " elements");
  if (p == kNone && pool_by_handle.size() >= limits.max_pools)
    return fail(HandlespaceError::LackOfResources, "handlespace holds the maximum of ",
                std::to_string(limits.max_pools), " pools");
  if (p != kNone && pools[p]->members.size() >= limits.max_elements_per_pool)
    return fail(HandlespaceError::LackOfResources, "pool holds the maximum of ",
                std::to_string(limits.max_elements_per_pool), " elements");

  if (p == kNone) p = create_pool(handle, r.policy.type, signature);
  const std::uint32_t e = allocate_element();
  Element& el = elements[e];
  Pool& pool = *pools[p];
  el.id = r.id;
  el.home = r.home_registrar;
  el.owner = r.owner;
  el.lifetime_ms = static_cast<std::uint32_t>(lifetime_ms);
  el.expiry_ns = to_ns(now + r.lifetime);
  el.pool = p;
  el.values = values_of(r.policy);
  el.blob = detail::PackedBlob(r.user_transports, r.metadata);
  el.pos = static_cast<std::uint32_t>(pool.members.size());
  pool.members.push_back(e);
  pool.member_ids.push_back(r.id);
  policy_insert(pool, e);
  by_id.insert(elements, detail::hash_id(p, r.id), e);
  link_owner(e);
  add_home(e);
  heap_push(e);
  ++element_count;
  return RegistrationOutcome::Added;
}

void Handlespace::Impl::remove_element(std::uint32_t e) {
  Element& el = elements[e];
  const std::uint32_t p = el.pool;
  Pool& pool = *pools[p];
  policy_erase(pool, e);
  // Swap-with-last keeps the member arrays dense (RoundRobin cursor, Weighted positions).
  const std::uint32_t pos = el.pos;
  const std::size_t last_pos = pool.members.size() - 1;
  const std::uint32_t last = pool.members[last_pos];
  const bool weighted = has_weights(pool);
  if (last != e) {
    pool.members[pos] = last;
    pool.member_ids[pos] = pool.member_ids[last_pos];
    elements[last].pos = pos;
    if (weighted) pool.weights.set(pos, pool.weights.value(last_pos));
  }
  if (weighted) {
    pool.weights.set(last_pos, 0);
    pool.weights.pop_back();
  }
  pool.members.pop_back();
  pool.member_ids.pop_back();
  if (pool.cursor >= pool.members.size()) pool.cursor = 0;

  by_id.erase(detail::hash_id(p, el.id), e);
  unlink_owner(e);
  remove_home(e);
  heap_remove(e);
  el.blob = detail::PackedBlob();
  el.pool = kNone;
  el.link_next = free_elements;
  free_elements = e;
  --element_count;

  if (pool.members.empty()) {
    pool_by_handle.erase(pool.handle_hash, p);
    pool_order.erase(pool.handle);
    pools[p].reset();
    free_pools.push_back(p);
  }
}

// ---- owner lists (intrusive, doubly linked through element indices) ----

void Handlespace::Impl::link_owner(std::uint32_t e) {
  Element& el = elements[e];
  el.owner_prev = el.owner_next = kNone;
  if (el.owner == kNoOwner) return;
  const std::uint32_t hash = detail::hash_owner(el.owner);
  const std::uint32_t head = by_owner.find(elements, hash, el.owner);
  if (head == kNone) {
    by_owner.insert(elements, hash, e);
    return;
  }
  // Insert after the head: the index keeps pointing at the same element.
  el.owner_prev = head;
  el.owner_next = elements[head].owner_next;
  if (el.owner_next != kNone) elements[el.owner_next].owner_prev = e;
  elements[head].owner_next = e;
}

void Handlespace::Impl::unlink_owner(std::uint32_t e) {
  Element& el = elements[e];
  if (el.owner == kNoOwner) return;
  if (el.owner_prev != kNone) {
    elements[el.owner_prev].owner_next = el.owner_next;
  } else if (el.owner_next != kNone) {
    by_owner.replace(detail::hash_owner(el.owner), e, el.owner_next);
  } else {
    by_owner.erase(detail::hash_owner(el.owner), e);
  }
  if (el.owner_next != kNone) elements[el.owner_next].owner_prev = el.owner_prev;
  el.owner_prev = el.owner_next = kNone;
}

// ---- per-home-registrar counts and checksums (RFC 5353) ----

void Handlespace::Impl::add_home(std::uint32_t e) {
  const Element& el = elements[e];
  detail::HomeInfo& home = homes[el.home];
  ++home.count;
  const std::uint32_t words = element_checksum_words(pools[el.pool]->handle.view(), el.id);
  home.checksum.add(words);
  total_checksum.add(words);
}

void Handlespace::Impl::remove_home(std::uint32_t e) {
  const Element& el = elements[e];
  const auto it = homes.find(el.home);
  const std::uint32_t words = element_checksum_words(pools[el.pool]->handle.view(), el.id);
  it->second.checksum.remove(words);
  total_checksum.remove(words);
  if (--it->second.count == 0) homes.erase(it);
}

// ---- expiry heap (binary min-heap on expiry; elements know their heap position) ----

void Handlespace::Impl::heap_place(std::size_t i, const detail::HeapEntry& entry) {
  expiry_heap[i] = entry;
  elements[entry.element].heap_pos = static_cast<std::uint32_t>(i);
}

void Handlespace::Impl::heap_sift_up(std::size_t i) {
  const detail::HeapEntry entry = expiry_heap[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (expiry_heap[parent].expiry_ns <= entry.expiry_ns) break;
    heap_place(i, expiry_heap[parent]);
    i = parent;
  }
  heap_place(i, entry);
}

void Handlespace::Impl::heap_sift_down(std::size_t i) {
  const detail::HeapEntry entry = expiry_heap[i];
  const std::size_t n = expiry_heap.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && expiry_heap[child + 1].expiry_ns < expiry_heap[child].expiry_ns) ++child;
    if (expiry_heap[child].expiry_ns >= entry.expiry_ns) break;
    heap_place(i, expiry_heap[child]);
    i = child;
  }
  heap_place(i, entry);
}

void Handlespace::Impl::heap_push(std::uint32_t e) {
  expiry_heap.push_back({elements[e].expiry_ns, e});
  heap_sift_up(expiry_heap.size() - 1);
}

void Handlespace::Impl::heap_remove(std::uint32_t e) {
  const std::size_t i = elements[e].heap_pos;
  const detail::HeapEntry last = expiry_heap.back();
  expiry_heap.pop_back();
  if (i == expiry_heap.size()) return;
  heap_place(i, last);
  heap_update(last.element);
}

void Handlespace::Impl::heap_update(std::uint32_t e) {
  const std::size_t i = elements[e].heap_pos;
  expiry_heap[i].expiry_ns = elements[e].expiry_ns;
  if (i > 0 && expiry_heap[(i - 1) / 2].expiry_ns > expiry_heap[i].expiry_ns) {
    heap_sift_up(i);
  } else {
    heap_sift_down(i);
  }
}

std::vector<PoolElementKey> Handlespace::Impl::remove_all(const std::vector<std::uint32_t>& victims) {
  std::vector<PoolElementKey> removed;
  removed.reserve(victims.size());
  for (std::uint32_t e : victims) {
    const Element& el = elements[e];
    removed.push_back({pools[el.pool]->handle, el.id});
    remove_element(e);
  }
  return removed;
}

// ---- public surface ----

Handlespace::Handlespace(Limits limits, std::uint64_t seed)
    : impl_(std::make_unique<Impl>(limits, seed)) {}
Handlespace::~Handlespace() = default;
Handlespace::Handlespace(Handlespace&&) noexcept = default;
Handlespace& Handlespace::operator=(Handlespace&&) noexcept = default;

void Handlespace::set_random_source(RandomSource source) {
  impl_->random_override = std::move(source);
}

HsResult<RegistrationOutcome> Handlespace::register_element(
    const PoolHandle& handle, const PoolElementRegistration& registration, TimePoint now) {
  return impl_->register_element(handle, registration, now);
}

HsResult<void> Handlespace::deregister_element(const PoolHandle& handle, PoolElementId id,
                                               OwnerTag owner) {
  const std::uint32_t p = impl_->find_pool(handle);
  if (p == kNone) return fail(HandlespaceError::UnknownPoolHandle, "no pool '",
                              std::string(handle.view()), "'");
  const std::uint32_t e = impl_->find_element(p, id);
  if (e == kNone)
    return fail(HandlespaceError::UnknownPoolElement, "no PE ", std::to_string(id), " in '",
                std::string(handle.view()), "'");
  const OwnerTag stored = impl_->elements[e].owner;
  if (owner != kNoOwner && stored != kNoOwner && stored != owner)
    return fail(HandlespaceError::NonUniquePeIdentifier, "PE ", std::to_string(id),
                " belongs to another association");
  impl_->remove_element(e);
  return {};
}

std::vector<PoolElementKey> Handlespace::expire(TimePoint now) {
  std::vector<PoolElementKey> removed;
  const std::int64_t t = to_ns(now);
  while (!impl_->expiry_heap.empty() && impl_->expiry_heap.front().expiry_ns <= t) {
    const std::uint32_t e = impl_->expiry_heap.front().element;
    const Element& el = impl_->elements[e];
    removed.push_back({impl_->pools[el.pool]->handle, el.id});
    impl_->remove_element(e);
  }
  return removed;
}

std::optional<TimePoint> Handlespace::next_expiry() const {
  if (impl_->expiry_heap.empty()) return std::nullopt;
  return TimePoint(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(impl_->expiry_heap.front().expiry_ns)));
}

std::vector<PoolElementKey> Handlespace::remove_owner(OwnerTag owner) {
  if (owner == kNoOwner) return {};
  std::vector<std::uint32_t> victims;
  const std::uint32_t head =
      impl_->by_owner.find(impl_->elements, detail::hash_owner(owner), owner);
  for (std::uint32_t e = head; e != kNone; e = impl_->elements[e].owner_next) victims.push_back(e);
  return impl_->remove_all(victims);
}

// Registrar failures are rare: a scan of the element array keeps per-element memory down
// (no per-registrar list links) and costs a few milliseconds per million elements.
std::vector<PoolElementKey> Handlespace::remove_home_registrar(RegistrarId registrar) {
  if (impl_->homes.find(registrar) == impl_->homes.end()) return {};
  std::vector<std::uint32_t> victims;
  for (std::uint32_t e = 0; e < impl_->elements.size(); ++e) {
    const Element& el = impl_->elements[e];
    if (el.pool != kNone && el.home == registrar) victims.push_back(e);
  }
  return impl_->remove_all(victims);
}

std::size_t Handlespace::reassign_home_registrar(RegistrarId from, RegistrarId to) {
  if (from == to || impl_->homes.find(from) == impl_->homes.end()) return 0;
  std::size_t moved = 0;
  for (std::uint32_t e = 0; e < impl_->elements.size(); ++e) {
    Element& el = impl_->elements[e];
    if (el.pool == kNone || el.home != from) continue;
    impl_->remove_home(e);
    el.home = to;
    impl_->add_home(e);
    ++moved;
  }
  return moved;
}

}  // namespace rsp::handlespace
