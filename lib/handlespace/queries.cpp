// Look-ups, iteration in handle order, checksums, in-place policy updates.
#include <algorithm>

#include "handlespace_impl.hpp"

namespace rsp::handlespace {

using detail::Element;
using detail::kNone;
using detail::Pool;

PoolElement Handlespace::Impl::materialize(std::uint32_t e) const {
  const Element& el = elements[e];
  const Pool& pool = *pools[el.pool];
  PoolElement pe;
  pe.id = el.id;
  pe.home_registrar = el.home;
  pe.lifetime = std::chrono::milliseconds(el.lifetime_ms);
  pe.expiry = TimePoint(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(el.expiry_ns)));
  pe.user_transports = el.blob.transports();
  pe.policy.type = pool.policy;
  pe.policy.weight = el.values.weight;
  pe.policy.priority = el.values.priority;
  pe.policy.load = el.values.load;
  pe.policy.load_degradation = el.values.load_degradation;
  pe.policy.load_dpf = el.values.load_dpf;
  pe.policy.weight_dpf = el.values.weight_dpf;
  pe.policy.distance = el.values.distance;
  pe.degradation = pool.method == SelectionMethod::RoundRobin ? 0 : el.state;
  pe.owner = el.owner;
  pe.metadata = el.blob.metadata();
  return pe;
}

std::optional<PoolElement> Handlespace::find(const PoolHandle& handle, PoolElementId id) const {
  const std::uint32_t p = impl_->find_pool(handle);
  if (p == kNone) return std::nullopt;
  const std::uint32_t e = impl_->find_element(p, id);
  if (e == kNone) return std::nullopt;
  return impl_->materialize(e);
}

bool Handlespace::contains(const PoolHandle& handle, PoolElementId id) const {
  const std::uint32_t p = impl_->find_pool(handle);
  return p != kNone && impl_->find_element(p, id) != kNone;
}

bool Handlespace::has_pool(const PoolHandle& handle) const {
  return impl_->find_pool(handle) != kNone;
}

std::optional<PolicyType> Handlespace::pool_policy(const PoolHandle& handle) const {
  const std::uint32_t p = impl_->find_pool(handle);
  if (p == kNone) return std::nullopt;
  return impl_->pools[p]->policy;
}

std::size_t Handlespace::pool_size(const PoolHandle& handle) const {
  const std::uint32_t p = impl_->find_pool(handle);
  return p == kNone ? 0 : impl_->pools[p]->members.size();
}

std::size_t Handlespace::pool_count() const noexcept { return impl_->pool_order.size(); }
std::size_t Handlespace::element_count() const noexcept { return impl_->element_count; }

HsResult<void> Handlespace::update_policy(const PoolHandle& handle, PoolElementId id,
                                          const PolicyInfo& policy) {
  const std::uint32_t p = impl_->find_pool(handle);
  if (p == kNone)
    return make_error(HandlespaceError::UnknownPoolHandle,
                      "no pool '" + std::string(handle.view()) + "'");
  const std::uint32_t e = impl_->find_element(p, id);
  if (e == kNone)
    return make_error(HandlespaceError::UnknownPoolElement, "no PE " + std::to_string(id));
  Pool& pool = *impl_->pools[p];
  if (policy.type != pool.policy)
    return make_error(HandlespaceError::PoolingPolicyInconsistent,
                      "pool uses " + std::string(policy_name(pool.policy)));
  Element& el = impl_->elements[e];
  const std::uint32_t old_key = impl_->current_key(pool, e);
  el.values = {policy.weight,     policy.priority,   policy.load,    policy.load_degradation,
               policy.load_dpf,   policy.weight_dpf, policy.distance};
  if (pool.method != SelectionMethod::RoundRobin) el.state = 0;  // RFC 5356 §5.2
  impl_->policy_refresh(pool, e, old_key);
  return {};
}

std::vector<PoolHandle> Handlespace::pool_handles() const {
  std::vector<PoolHandle> handles;
  handles.reserve(impl_->pool_order.size());
  for (const auto& [handle, index] : impl_->pool_order) handles.push_back(handle);
  return handles;
}

std::vector<PoolElementId> Handlespace::element_ids(const PoolHandle& handle) const {
  std::vector<PoolElementId> ids;
  const std::uint32_t p = impl_->find_pool(handle);
  if (p == kNone) return ids;
  ids.assign(impl_->pools[p]->member_ids.begin(), impl_->pools[p]->member_ids.end());
  std::sort(ids.begin(), ids.end());
  return ids;
}

void Handlespace::for_each(
    const std::function<void(const PoolHandle&, const PoolElement&)>& visit) const {
  for (const auto& [handle, p] : impl_->pool_order) {
    for (PoolElementId id : element_ids(handle))
      visit(handle, impl_->materialize(impl_->find_element(p, id)));
  }
}

std::vector<std::pair<PoolHandle, PoolElement>> Handlespace::elements_after(
    const PoolHandle& handle, PoolElementId id, std::size_t limit) const {
  std::vector<std::pair<PoolHandle, PoolElement>> page;
  if (limit == 0) return page;
  for (auto it = impl_->pool_order.lower_bound(handle); it != impl_->pool_order.end();
       ++it) {
    const bool same_pool = it->first == handle;
    for (PoolElementId pe : element_ids(it->first)) {
      if (same_pool && pe <= id) continue;
      page.emplace_back(it->first, impl_->materialize(impl_->find_element(it->second, pe)));
      if (page.size() == limit) return page;
    }
  }
  return page;
}

std::uint16_t Handlespace::ownership_checksum(RegistrarId registrar) const {
  const auto it = impl_->homes.find(registrar);
  return it == impl_->homes.end() ? ChecksumAccumulator{}.value() : it->second.checksum.value();
}

std::uint16_t Handlespace::checksum() const noexcept { return impl_->total_checksum.value(); }

std::size_t Handlespace::owned_element_count(RegistrarId registrar) const {
  const auto it = impl_->homes.find(registrar);
  return it == impl_->homes.end() ? 0 : it->second.count;
}

}  // namespace rsp::handlespace
