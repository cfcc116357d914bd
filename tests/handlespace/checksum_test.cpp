#include <doctest/doctest.h>

#include "hs_test_support.hpp"

using namespace rsp;
using namespace rsp::handlespace;
using namespace rsp::handlespace::test;

TEST_CASE("the element checksum is the RFC 1071 sum over handle bytes and PE id") {
  // RFC 1071 §3 example bytes 00 01 f2 03 f4 f5 f6 f7: sum 0x2ddf0, folded 0xddf2, sent 0x220d.
  const std::string handle("\x00\x01\xf2\x03", 4);
  ChecksumAccumulator acc;
  acc.add(element_checksum_words(handle, 0xf4f5f6f7u));
  CHECK(acc.value() == 0x220d);
  // An odd handle byte is padded with zero on the right.
  CHECK(element_checksum_words(std::string("\x12", 1), 0) == 0x1200);
}

TEST_CASE("checksum accumulation is order independent and removal is its inverse") {
  ChecksumAccumulator a, b;
  const std::uint32_t w1 = element_checksum_words("pool-a", 1);
  const std::uint32_t w2 = element_checksum_words("pool-b", 0xffffffffu);
  a.add(w1);
  a.add(w2);
  b.add(w2);
  b.add(w1);
  CHECK(a.value() == b.value());
  a.remove(w2);
  ChecksumAccumulator only1;
  only1.add(w1);
  CHECK(a.value() == only1.value());
  a.remove(w1);
  CHECK(a.value() == ChecksumAccumulator{}.value());
  CHECK(ChecksumAccumulator{}.value() == 0xffff);
}

TEST_CASE("ownership checksums follow registrations, moves and removals") {
  Handlespace hs;
  const PoolHandle pool("CsPool");
  REQUIRE(hs.register_element(pool, pe(1, policy(PolicyType::RoundRobin), 1, 10), t0()).has_value());
  REQUIRE(hs.register_element(pool, pe(2, policy(PolicyType::RoundRobin), 1, 20), t0()).has_value());
  ChecksumAccumulator r10, all;
  r10.add(element_checksum_words("CsPool", 1));
  all.add(element_checksum_words("CsPool", 1));
  all.add(element_checksum_words("CsPool", 2));
  CHECK(hs.ownership_checksum(10) == r10.value());
  CHECK(hs.checksum() == all.value());
  CHECK(hs.ownership_checksum(30) == 0xffff);
  REQUIRE(hs.register_element(pool, pe(2, policy(PolicyType::RoundRobin), 1, 10), t0()).has_value());
  r10.add(element_checksum_words("CsPool", 2));
  CHECK(hs.ownership_checksum(10) == r10.value());
  CHECK(hs.ownership_checksum(20) == 0xffff);
  CHECK(hs.checksum() == all.value());
  REQUIRE(hs.deregister_element(pool, 1).has_value());
  r10.remove(element_checksum_words("CsPool", 1));
  CHECK(hs.ownership_checksum(10) == r10.value());
}
