// Handle resolution and the handling of malformed or unexpected messages.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "core_test_support.hpp"

using namespace rsp;
using namespace rsp::registrar;
using namespace rsp::registrar::test;
using wire::CauseCode;
namespace asap = rsp::wire::asap;

namespace {
void fill(Harness& h, std::string_view pool, int count) {
  h.up(1, 1);
  for (int i = 1; i <= count; ++i) h.deliver(1, registration(pool, static_cast<PoolElementId>(i)));
  h.out.take(1);
}
}  // namespace

TEST_CASE("handle resolution returns the registrar's default number of PEs (RSPLIB: 3)") {
  Harness h;
  fill(h, "P", 10);
  h.deliver(2, asap::HandleResolution{PoolHandle("P"), std::nullopt});
  auto r = h.out.only<asap::HandleResolutionResponse>(2);
  CHECK_FALSE(r.error);
  CHECK(r.pool_elements.size() == 3);
  for (auto& e : r.pool_elements) {
    CHECK(e.home_registrar_id == 0x1234);
    CHECK(e.user_transport.port == 7000);
  }
}

TEST_CASE("the Handle Resolution Option sets how many PEs come back, bounded by the registrar") {
  auto c = Harness::default_config();
  c.max_handle_resolution_items = 8;
  Harness h(c);
  fill(h, "P", 10);
  h.deliver(2, asap::HandleResolution{PoolHandle("P"), wire::HandleResolutionOption{5}});
  CHECK(h.out.only<asap::HandleResolutionResponse>(2).pool_elements.size() == 5);
  h.deliver(2, asap::HandleResolution{PoolHandle("P"), wire::HandleResolutionOption{0xffffffff}});
  CHECK(h.out.only<asap::HandleResolutionResponse>(2).pool_elements.size() == 8);
  h.deliver(2, asap::HandleResolution{PoolHandle("P"), wire::HandleResolutionOption{0}});
  CHECK(h.out.only<asap::HandleResolutionResponse>(2).pool_elements.size() == 3);
}

TEST_CASE("round robin resolutions rotate through the pool") {
  Harness h;
  fill(h, "P", 4);
  std::set<PoolElementId> first;
  for (int i = 0; i < 4; ++i) {
    h.deliver(2, asap::HandleResolution{PoolHandle("P"), wire::HandleResolutionOption{1}});
    auto r = h.out.only<asap::HandleResolutionResponse>(2);
    REQUIRE(r.pool_elements.size() == 1);
    first.insert(r.pool_elements[0].id);
  }
  CHECK(first.size() == 4);
}

TEST_CASE("resolving an unknown pool answers Unknown Pool Handle (RFC 5352 §3.3)") {
  Harness h;
  h.deliver(2, asap::HandleResolution{PoolHandle("Nope"), std::nullopt});
  auto r = h.out.only<asap::HandleResolutionResponse>(2);
  REQUIRE(r.error);
  CHECK(r.error->causes[0].code == CauseCode::UnknownPoolHandle);
  CHECK(r.pool_elements.empty());
}

TEST_CASE("a large pool's response is cut to fit one ASAP message") {
  auto c = Harness::default_config();
  c.max_handle_resolution_items = 100'000;
  Harness h(c);
  fill(h, "Big", 3000);
  h.deliver(2, asap::HandleResolution{PoolHandle("Big"), wire::HandleResolutionOption{0xffffffff}});
  REQUIRE(h.out.sent.size() == 1);
  CHECK(h.out.sent[0].second.size() <= wire::kMaxMessageSize);
  auto r = h.out.only<asap::HandleResolutionResponse>(2);
  CHECK(r.pool_elements.size() > 100);
  CHECK(r.pool_elements.size() < 3000);
}

TEST_CASE("handle resolutions above the per-PU rate get lack of resources") {
  auto c = Harness::default_config();
  c.limits.max_handle_resolution_rate = 5;
  Harness h(c);
  fill(h, "P", 2);
  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    h.deliver(2, asap::HandleResolution{PoolHandle("P"), std::nullopt});
    auto r = h.out.only<asap::HandleResolutionResponse>(2);
    if (r.error && r.error->causes[0].code == CauseCode::LackOfResources) ++refused;
  }
  CHECK(refused == 3);
  // Another PU is not affected.
  h.deliver(3, asap::HandleResolution{PoolHandle("P"), std::nullopt});
  CHECK_FALSE(h.out.only<asap::HandleResolutionResponse>(3).error);
}

TEST_CASE("a truncated message gets an ERROR and the registrar keeps serving") {
  Harness h;
  fill(h, "P", 1);
  auto bytes = bytes_of(registration("P", 5));
  bytes.resize(bytes.size() - 3);
  h.deliver_raw(2, bytes);
  auto err = h.out.only<asap::ErrorMessage>(2);
  CHECK_FALSE(err.error.causes.empty());
  CHECK(h.core.counters().malformed_messages == 1);
  h.deliver(3, asap::HandleResolution{PoolHandle("P"), std::nullopt});
  CHECK(h.out.only<asap::HandleResolutionResponse>(3).pool_elements.size() == 1);
}

TEST_CASE("an unknown message type gets Unrecognized Message with the message echoed") {
  Harness h;
  auto bytes = raw({0x7f, 0x00, 0x00, 0x04});
  h.deliver_raw(2, bytes);
  auto err = h.out.only<asap::ErrorMessage>(2);
  REQUIRE(err.error.causes.size() == 1);
  CHECK(err.error.causes[0].code == CauseCode::UnrecognizedMessage);
  CHECK(err.error.causes[0].info == bytes);
}

TEST_CASE("a message a registrar never receives is reported as unrecognized") {
  Harness h;
  auto announce = asap::ServerAnnounce{7, {}};
  h.deliver(2, announce);
  auto err = h.out.only<asap::ErrorMessage>(2);
  CHECK(err.error.causes[0].code == CauseCode::UnrecognizedMessage);
  CHECK(err.error.causes[0].info == bytes_of(announce));
}

TEST_CASE("an ERROR from a peer is logged, never answered") {
  Harness h;
  wire::OperationError e;
  e.causes.push_back({CauseCode::LackOfResources, {}});
  h.deliver(2, asap::ErrorMessage{e});
  CHECK(h.out.take(2).empty());
  CHECK(h.out.saw("error-received"));
}

TEST_CASE("random bytes never crash the core and every answer is a well-formed ERROR") {
  Harness h;
  fill(h, "P", 3);
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::byte> b(rng() % 64);
    for (auto& x : b) x = std::byte(static_cast<unsigned char>(rng()));
    if (b.size() >= 4 && rng() % 2) {  // sometimes a plausible header
      b[0] = std::byte(static_cast<unsigned char>(1 + rng() % 14));
      b[2] = std::byte(0);
      b[3] = std::byte(static_cast<unsigned char>(b.size()));
    }
    h.deliver_raw(100 + i, b);
    for (auto& m : h.out.take(100 + i)) {
      const bool allowed = std::holds_alternative<asap::ErrorMessage>(m) ||
                           std::holds_alternative<asap::RegistrationResponse>(m) ||
                           std::holds_alternative<asap::DeregistrationResponse>(m) ||
                           std::holds_alternative<asap::HandleResolutionResponse>(m);
      CHECK(allowed);
    }
  }
  h.deliver(3, asap::HandleResolution{PoolHandle("P"), wire::HandleResolutionOption{3}});
  CHECK(h.out.only<asap::HandleResolutionResponse>(3).pool_elements.size() == 3);
}
