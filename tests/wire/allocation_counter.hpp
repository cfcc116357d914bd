// Heap allocations counted by a replaced global operator new (allocation_counter.cpp). A program
// that links allocation_counter.cpp counts every allocation it makes: test_wire_allocations
// asserts on the counts, bench/wire's wire_bench reports them per operation.
#pragma once

#include <cstddef>

namespace rsp::wire::allocation_counter {

struct Count {
  std::size_t allocations = 0;
  std::size_t bytes = 0;
};

// Everything allocated since the program started.
Count so_far() noexcept;

// What `f()` allocated.
template <typename F>
Count during(F&& f) {
  const Count before = so_far();
  f();
  const Count after = so_far();
  return {after.allocations - before.allocations, after.bytes - before.bytes};
}

}  // namespace rsp::wire::allocation_counter
