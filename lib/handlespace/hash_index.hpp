// HashIndex: an open-addressing hash index whose slots hold only a 32-bit hash fingerprint and
// a 32-bit value (an element, pool or bucket index) — 8 bytes a slot. The key itself lives in
// the indexed object; a Traits type says how to hash a key, how to re-hash a stored value
// (for moves) and whether a stored value matches a key. Linear probing, backward-shift
// deletion (no tombstones), at most 3/4 full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "big_allocator.hpp"

namespace rsp::handlespace::detail {

inline constexpr std::uint32_t kNone = 0xffffffffu;


inline std::uint32_t mix64(std::uint64_t x) noexcept {  // splitmix64 finaliser, low 32 bits
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<std::uint32_t>(x);
}

// Traits: static std::uint32_t hash_of_value(const Ctx&, std::uint32_t value);
//         static bool matches(const Ctx&, std::uint32_t value, const Key&);
template <typename Traits>
class HashIndex {
 public:
  template <typename Ctx, typename Key>
  std::uint32_t find(const Ctx& ctx, std::uint32_t hash, const Key& key) const noexcept {
    if (slots_.empty()) return kNone;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot s = slots_[i];
      if (s.value == kNone) return kNone;
      if (s.hash == hash && Traits::matches(ctx, s.value, key)) return s.value;
    }
  }

  // Starts loading the slot a look-up of `hash` begins with, so that several independent
  // look-ups of one operation miss the cache in parallel rather than one after the other.
  void prefetch(std::uint32_t hash) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }

  // Adds a value whose key is not present yet.
  template <typename Ctx>
  void insert(const Ctx& ctx, std::uint32_t hash, std::uint32_t value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow(ctx);
    place(hash, value);
    ++size_;
  }

  // Replaces the value stored for `old_value` (same key) by `new_value`.
  void replace(std::uint32_t hash, std::uint32_t old_value, std::uint32_t new_value) noexcept {
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].value == old_value) {
        slots_[i].value = new_value;
        return;
      }
    }
  }

  // Removes `value` (which must be present under `hash`).
  void erase(std::uint32_t hash, std::uint32_t value) noexcept {
    std::size_t hole = hash & mask_;
    while (slots_[hole].value != value) hole = (hole + 1) & mask_;
    for (std::size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
      if (slots_[j].value == kNone) break;
      const std::size_t h = slots_[j].hash & mask_;
      // j may move into the hole unless its home lies cyclically in (hole, j].
      const bool stays = (hole <= j) ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
  }

  std::size_t size() const noexcept { return size_; }
  void clear() noexcept {
    slots_.clear();
    mask_ = 0;
    size_ = 0;
  }

 private:
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t value = kNone;
  };

  void place(std::uint32_t hash, std::uint32_t value) noexcept {
    std::size_t i = hash & mask_;
    while (slots_[i].value != kNone) i = (i + 1) & mask_;
    slots_[i] = Slot{hash, value};
  }

  template <typename Ctx>
  void grow(const Ctx&) {
    BigVector<Slot> old = std::move(slots_);
    const std::size_t n = old.empty() ? 8 : old.size() * 2;
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    for (const Slot& s : old) {
      if (s.value != kNone) place(s.hash, s.value);
    }
  }

  BigVector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace rsp::handlespace::detail
