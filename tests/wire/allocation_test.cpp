// Decoding allocates nothing for a typical REGISTRATION, and never in proportion to a length
// that the input claims but does not have. Counts through a replaced global operator new.
#include <doctest/doctest.h>

#include "allocation_counter.hpp"
#include "rsp/wire/codec.hpp"
#include "samples.hpp"

using namespace rsp;
using namespace rsp::wire;

TEST_CASE("decoding a REGISTRATION with two-address SCTP transports allocates nothing") {
  // Issue 2's message (bench/wire measures it), and the sample PE that also has an ASAP transport.
  for (const auto& message : {samples::registration_with_one_transport(),
                              AsapMessage{asap::Registration{PoolHandle("EchoPool"),
                                                             samples::pool_element()}}}) {
    const auto bytes = encode(message);
    bool ok = false;
    const auto c = allocation_counter::during([&] { ok = decode_asap(bytes).has_value(); });
    CHECK(ok);
    CHECK(c.allocations == 0);
  }
}

TEST_CASE("a claimed 64 KiB parameter in a short message costs no proportional allocation") {
  // HANDLE_RESOLUTION whose pool handle claims 0xfff0 bytes.
  std::vector<std::byte> b;
  for (int v : {0x05, 0x00, 0x00, 0x0c, 0x00, 0x09, 0xff, 0xf0, 0x45, 0x50, 0x00, 0x00}) {
    b.push_back(static_cast<std::byte>(v));
  }
  bool failed = false;
  const auto c = allocation_counter::during([&] { failed = !decode_asap(b).has_value(); });
  CHECK(failed);
  CHECK(c.bytes < 1024);  // the error message only
}

TEST_CASE("a decoded HANDLE_RESOLUTION_RESPONSE with 3 PEs allocates its PE vector once") {
  const auto bytes = encode(samples::resolution_response_with_3_pes());
  bool ok = false;
  const auto c = allocation_counter::during([&] { ok = decode_asap(bytes).has_value(); });
  CHECK(ok);
  CHECK(c.allocations == 1);  // the PE vector, reserved once; nothing per field
}
