// Last-resort memory of PEs reported unreachable (RFC 5352 §3.5); see unreachable_memory.hpp.
#include "unreachable_memory.hpp"

#include <algorithm>

namespace rsp::asap::detail {

void UnreachableMemory::remember(const PoolHandle& pool, PoolElementId pe,
                                 const std::optional<TransportAddress>& transport, TimePoint now, Duration hold) {
  Key key{pool, pe};
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kCapacity) expire(now);
    if (entries_.size() >= kCapacity) {
      entries_.erase(std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.until < b.second.until;
      }));
    }
    it = entries_.emplace(std::move(key), Entry{}).first;
  }
  it->second.until = now + hold;
  if (transport) it->second.transport = transport;
}

UnreachableMemory::Entry* UnreachableMemory::live(const PoolHandle& pool, PoolElementId pe, TimePoint now) {
  auto it = entries_.find(Key{pool, pe});
  if (it == entries_.end()) return nullptr;
  if (it->second.until <= now) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second;
}

bool UnreachableMemory::remembered(const PoolHandle& pool, PoolElementId pe, TimePoint now) {
  return live(pool, pe, now) != nullptr;
}

void UnreachableMemory::listed(const PoolHandle& pool, const wire::PoolElement& pe, TimePoint now) {
  Entry* entry = live(pool, pe.id, now);
  if (entry == nullptr) return;
  if (!entry->transport) {
    entry->transport = pe.user_transport;
  } else if (*entry->transport != pe.user_transport) {
    forgive(pool, pe.id);
  }
}

void UnreachableMemory::forgive(const PoolHandle& pool, PoolElementId pe) { entries_.erase(Key{pool, pe}); }

void UnreachableMemory::expire(TimePoint now) {
  std::erase_if(entries_, [now](const auto& e) { return e.second.until <= now; });
}

}  // namespace rsp::asap::detail
