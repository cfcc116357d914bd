#include <doctest/doctest.h>

#include "rsp/wire/small_vector.hpp"

TEST_CASE("SmallVector keeps order across the inline-to-heap spill") {
  rsp::SmallVector<int, 2> v;
  for (int i = 0; i < 5; ++i) v.push_back(i);
  REQUIRE(v.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(v[i] == i);
}

TEST_CASE("SmallVector equality compares elements, not storage") {
  rsp::SmallVector<int, 2> a{1, 2, 3};
  rsp::SmallVector<int, 2> b;
  b.push_back(1); b.push_back(2); b.push_back(3);
  CHECK(a == b);
  b.clear();
  CHECK(b.empty());
  CHECK_FALSE(a == b);
}
