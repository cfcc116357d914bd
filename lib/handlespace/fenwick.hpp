// Fenwick (binary indexed) tree over the dense member array of a pool: the selection value of
// each position, prefix sums and "which position holds the r-th unit" in O(log n). Used by the
// weighted policies (RFC 5356 §4.4 Weighted Random and the randomized least-used family), so a
// selection never scans the pool. Supports the dense array's append and swap-with-last removal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rsp::handlespace::detail {

class Fenwick {
 public:
  std::size_t size() const noexcept { return values_.size(); }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t value(std::size_t pos) const noexcept { return values_[pos]; }

  void push_back(std::uint64_t v) {
    values_.push_back(v);
    const std::size_t j = values_.size();  // 1-based index of the new position
    const std::size_t low = j & (~j + 1);
    // tree[j] covers (j - low, j]: the new value plus the earlier part of that range.
    tree_.push_back(v + prefix(j - 1) - prefix(j - low));
    total_ += v;
  }

  // Removes the last position (callers move it into a hole first, see move_last_to).
  void pop_back() noexcept {
    total_ -= values_.back();
    values_.pop_back();
    tree_.pop_back();  // tree[last] covers only ranges ending at last: nothing else changes
  }

  void set(std::size_t pos, std::uint64_t v) noexcept {
    const std::uint64_t delta = v - values_[pos];  // modular: sums stay exact
    values_[pos] = v;
    total_ += delta;
    for (std::size_t j = pos + 1; j <= tree_.size(); j += j & (~j + 1)) tree_[j - 1] += delta;
  }

  // Sum of positions [0, n).
  std::uint64_t prefix(std::size_t n) const noexcept {
    std::uint64_t s = 0;
    for (std::size_t j = n; j > 0; j -= j & (~j + 1)) s += tree_[j - 1];
    return s;
  }

  // The position p with prefix(p) <= r < prefix(p + 1); r < total().
  std::size_t find(std::uint64_t r) const noexcept {
    std::size_t pos = 0;
    std::size_t step = 1;
    while (step * 2 <= tree_.size()) step *= 2;
    for (; step > 0; step /= 2) {
      const std::size_t next = pos + step;
      if (next <= tree_.size() && tree_[next - 1] <= r) {
        pos = next;
        r -= tree_[next - 1];
      }
    }
    return pos;  // 0-based position
  }

  void clear() noexcept {
    values_.clear();
    tree_.clear();
    total_ = 0;
  }

 private:
  std::vector<std::uint64_t> values_;
  std::vector<std::uint64_t> tree_;
  std::uint64_t total_ = 0;
};

}  // namespace rsp::handlespace::detail
