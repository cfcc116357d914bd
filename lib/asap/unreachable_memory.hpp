// Sans-IO memory of the PEs pool users reported unreachable (ENDPOINT_UNREACHABLE, RFC 5352
// §3.5), shared by every pool user of one asap::Context and for a bounded time. The registrar keeps listing such a PE until
// MAX-BAD-PE-REPORT reports or its keep-alive audit fails (§3.5, §3.7), so a fresh resolution
// may offer it again moments after it failed; while remembered it is a last resort: picked only
// when no other candidate is left (a PE reported wrongly must not make its pool unusable).
// A listing with other user transport addresses than the ones reported means the PE
// re-registered (a restarted process, RFC 5352 §3.1 with the same PE identifier): forgiven.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <utility>

#include "rsp/asap/clock.hpp"
#include "rsp/asap/types.hpp"

namespace rsp::asap::detail {

class UnreachableMemory {
 public:
  // Enough for every PE of the pools one pool user works with; beyond it the entries closest
  // to expiry go first, so a flood of reports cannot grow the memory without bound.
  static constexpr std::size_t kCapacity = 256;

  // Remembers `pe` of `pool` until now + hold (again: the time restarts). `transport`: the
  // user transport it was reported at, if known; else the next listing of it is taken as
  // the one reported.
  void remember(const PoolHandle& pool, PoolElementId pe, const std::optional<TransportAddress>& transport,
                TimePoint now, Duration hold);
  // Reported and not yet expired or forgiven.
  bool remembered(const PoolHandle& pool, PoolElementId pe, TimePoint now);
  // A resolution listed `pe` of `pool`: forgiven if its user transport changed.
  void listed(const PoolHandle& pool, const wire::PoolElement& pe, TimePoint now);
  // The PE answered after all (its association came up).
  void forgive(const PoolHandle& pool, PoolElementId pe);
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    TimePoint until{};
    std::optional<TransportAddress> transport;
  };
  using Key = std::pair<PoolHandle, PoolElementId>;
  // The entry while it lasts (an expired one is dropped): nullptr when there is none.
  Entry* live(const PoolHandle& pool, PoolElementId pe, TimePoint now);
  void expire(TimePoint now);

  std::map<Key, Entry> entries_;
};

}  // namespace rsp::asap::detail
