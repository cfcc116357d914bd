// WeightTree: selection weights of a pool's dense member positions with 16-ary partial sums,
// so that "which position holds the r-th unit of weight" and a weight change cost
// O(log16 n): five levels for a million elements, each a scan of at most 16 adjacent entries
// (the 32-bit leaves of a group fill one cache line). Used by the weighted policies (RFC 5356
// §4.4 Weighted Random and the randomized least-used family); supports the dense array's append
// and pop-last.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "big_allocator.hpp"

namespace rsp::handlespace::detail {

class WeightTree {
 public:
  static constexpr std::size_t kFan = 16;

  std::size_t size() const noexcept { return leaves_.size(); }
  std::uint64_t total() const noexcept { return total_; }
  std::uint32_t value(std::size_t pos) const noexcept { return leaves_[pos]; }

  // Invariant: sums_[0][i] sums leaves_[16 i .. 16 i + 15], sums_[l][i] sums
  // sums_[l - 1][16 i .. 16 i + 15]; the top level has at most 16 entries.
  void push_back(std::uint32_t v) {
    leaves_.push_back(0);
    for (std::size_t l = 0;; ++l) {
      const std::size_t below = l == 0 ? leaves_.size() : sums_[l - 1].size();
      const std::size_t need = (below + kFan - 1) / kFan;
      if (l == sums_.size()) {
        if (below <= kFan) break;
        // The top level just outgrew one group: put a new level of sums above it.
        BigVector<std::uint64_t> top(need, 0);
        for (std::size_t i = 0; i < below; ++i)
          top[i / kFan] += l == 0 ? leaves_[i] : sums_[l - 1][i];
        sums_.push_back(std::move(top));
        break;
      }
      if (sums_[l].size() < need) sums_[l].push_back(0);
    }
    set(leaves_.size() - 1, v);
  }

  // Removes the last position; its weight must already be 0 (callers set it first).
  void pop_back() noexcept {
    leaves_.pop_back();
    for (std::size_t l = 0; l < sums_.size(); ++l) {
      const std::size_t below = l == 0 ? leaves_.size() : sums_[l - 1].size();
      const std::size_t need = (below + kFan - 1) / kFan;
      while (sums_[l].size() > need) sums_[l].pop_back();  // an emptied group sums to 0
    }
  }

  void set(std::size_t pos, std::uint32_t v) noexcept {
    const std::uint64_t delta = std::uint64_t{v} - leaves_[pos];  // modular: sums stay exact
    leaves_[pos] = v;
    total_ += delta;
    for (auto& level : sums_) {
      pos /= kFan;
      level[pos] += delta;
    }
  }

  // The position p with (sum of weights before p) <= r < (that sum + weight(p)); r < total().
  std::size_t find(std::uint64_t r) const noexcept {
    std::size_t index = 0;
    for (std::size_t l = sums_.size(); l-- > 0;) index = scan(sums_[l], index, r);
    return scan(leaves_, index, r);
  }

  // find() for several units at once (count <= kBatch): the descents run level by level side
  // by side, so their cache misses overlap instead of queueing behind each other.
  static constexpr std::size_t kBatch = 8;
  void find_many(const std::uint64_t* units, std::size_t* positions, std::size_t count) const noexcept {
    std::uint64_t r[kBatch];
    std::size_t index[kBatch] = {};
    for (std::size_t q = 0; q < count; ++q) r[q] = units[q];
    for (std::size_t l = sums_.size(); l-- > 0;) {
      for (std::size_t q = 0; q < count; ++q) index[q] = scan(sums_[l], index[q], r[q]);
    }
    for (std::size_t q = 0; q < count; ++q) positions[q] = scan(leaves_, index[q], r[q]);
  }

  void clear() noexcept {
    leaves_.clear();
    sums_.clear();
    total_ = 0;
  }

 private:
  // Within group `group` of `level`, the entry holding unit r; r becomes the offset into it.
  // Branch-free: count the leading entries whose running sum stays <= r (weights are
  // non-negative, so the running sum only grows).
  template <typename Level>
  static std::size_t scan(const Level& level, std::size_t group, std::uint64_t& r) noexcept {
    const std::size_t begin = group * kFan;
    const std::size_t end = std::min(begin + kFan, level.size());
    std::uint64_t running = 0;
    std::uint64_t before = 0;
    std::size_t skipped = 0;
    for (std::size_t j = begin; j < end; ++j) {
      running += level[j];
      const bool passed = running <= r;
      skipped += passed;
      before = passed ? running : before;
    }
    r -= before;
    return std::min(begin + skipped, end - 1);
  }

  BigVector<std::uint32_t> leaves_;
  std::vector<BigVector<std::uint64_t>> sums_;
  std::uint64_t total_ = 0;
};

}  // namespace rsp::handlespace::detail
