// WeightTree: selection weights of a pool's dense member positions with 16-ary partial sums,
// so that "which position holds the r-th unit of weight" and a weight change cost
// O(log16 n): five levels for a million elements, each a scan of at most 16 adjacent sums
// (two cache lines). Used by the weighted policies (RFC 5356 §4.4 Weighted Random and the
// randomized least-used family); supports the dense array's append and pop-last.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <vector>

namespace rsp::handlespace::detail {

class WeightTree {
 public:
  static constexpr std::size_t kFan = 16;

  std::size_t size() const noexcept { return levels_.empty() ? 0 : levels_[0].size(); }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t value(std::size_t pos) const noexcept { return levels_[0][pos]; }

  // Invariant: levels_[l][i] sums levels_[l - 1][16 i .. 16 i + 15]; the top level has at
  // most 16 entries.
  void push_back(std::uint64_t v) {
    if (levels_.empty()) levels_.emplace_back();
    levels_[0].push_back(0);
    for (std::size_t l = 1;; ++l) {
      const std::size_t below = levels_[l - 1].size();
      if (l == levels_.size()) {
        if (below <= kFan) break;
        // The top level just outgrew one group: put a new level of sums above it.
        std::vector<std::uint64_t> top((below + kFan - 1) / kFan, 0);
        for (std::size_t i = 0; i < below; ++i) top[i / kFan] += levels_[l - 1][i];
        levels_.push_back(std::move(top));
        break;
      }
      if (levels_[l].size() < (below + kFan - 1) / kFan) levels_[l].push_back(0);
    }
    set(levels_[0].size() - 1, v);
  }

  // Removes the last position; its weight must already be 0 (callers set it first).
  void pop_back() noexcept {
    levels_[0].pop_back();
    for (std::size_t l = 1; l < levels_.size(); ++l) {
      const std::size_t need = (levels_[l - 1].size() + kFan - 1) / kFan;
      while (levels_[l].size() > need) levels_[l].pop_back();  // an emptied group sums to 0
    }
  }

  void set(std::size_t pos, std::uint64_t v) noexcept {
    const std::uint64_t delta = v - levels_[0][pos];  // modular arithmetic keeps sums exact
    total_ += delta;
    for (auto& level : levels_) {
      level[pos] += delta;
      pos /= kFan;
    }
  }

  // The position p with (sum of weights before p) <= r < (that sum + weight(p)); r < total().
  std::size_t find(std::uint64_t r) const noexcept {
    std::size_t index = 0;
    for (std::size_t l = levels_.size(); l-- > 0;) {
      const auto& level = levels_[l];
      std::size_t i = index * kFan;
      const std::size_t end = std::min(i + kFan, level.size());
      // Branch-free scan: count the leading entries whose running sum stays <= r (weights
      // are non-negative, so the running sum only grows).
      std::uint64_t running = 0;
      std::uint64_t before = 0;
      std::size_t skipped = 0;
      for (std::size_t j = i; j < end; ++j) {
        running += level[j];
        const bool passed = running <= r;
        skipped += passed;
        before = passed ? running : before;
      }
      index = std::min(i + skipped, end - 1);
      r -= before;
    }
    return index;
  }

  void clear() noexcept {
    levels_.clear();
    total_ = 0;
  }

 private:
  std::vector<std::vector<std::uint64_t>> levels_;  // [0] = per position
  std::uint64_t total_ = 0;
};

}  // namespace rsp::handlespace::detail
