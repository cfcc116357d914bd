#include <doctest/doctest.h>

#include <string>

#include "rsp/result.hpp"

namespace {
enum class Oops { Bad = 1 };
rsp::Result<int, Oops> half(int x) {
  if (x % 2) return rsp::make_error(Oops::Bad, "odd");
  return x / 2;
}
}  // namespace

TEST_CASE("Result carries a value on success") {
  auto r = half(8);
  REQUIRE(r);
  CHECK(*r == 4);
}

TEST_CASE("Result carries the error code and message on failure") {
  auto r = half(3);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Oops::Bad);
  CHECK(r.error().message == "odd");
}

TEST_CASE("Result<void> distinguishes success from an error") {
  rsp::Result<void, Oops> ok;
  rsp::Result<void, Oops> bad = rsp::make_error(Oops::Bad, "no");
  CHECK(ok);
  CHECK_FALSE(bad);
  CHECK(bad.error().message == "no");
}
