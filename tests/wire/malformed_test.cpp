// Every malformation class yields a typed DecodeError with the right cause code for the peer,
// and RFC 5354 §3's unknown-parameter rule in all four variants.
#include <doctest/doctest.h>

#include <initializer_list>

#include "rsp/wire/codec.hpp"
#include "samples.hpp"

using namespace rsp;
using namespace rsp::wire;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

void set_u16(std::vector<std::byte>& b, std::size_t at, unsigned v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

DecodeError asap_error(const std::vector<std::byte>& b, DecodeReport* report = nullptr) {
  auto r = decode_asap(b, report);
  REQUIRE_FALSE(r.has_value());
  CHECK_FALSE(r.error().message.empty());
  return r.error().code;
}

// HANDLE_RESOLUTION for "EP" followed by `extra` (a parameter), with the length fixed up.
std::vector<std::byte> resolution_with(std::initializer_list<int> extra) {
  auto b = bytes({0x05, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x06, 0x45, 0x50, 0x00, 0x00});
  for (int v : extra) b.push_back(static_cast<std::byte>(v));
  set_u16(b, 2, static_cast<unsigned>(b.size()));
  return b;
}

std::vector<std::byte> registration() {
  return encode(AsapMessage{asap::Registration{PoolHandle("EP"), samples::pool_element()}});
}

}  // namespace

TEST_CASE("truncated input: header, message length and parameter lengths past the end") {
  CHECK(asap_error(bytes({})) == DecodeError::Truncated);
  CHECK(asap_error(bytes({0x05, 0x00, 0x00})) == DecodeError::Truncated);
  // Length field says 16, only 12 bytes present.
  auto b = resolution_with({});
  set_u16(b, 2, 16);
  CHECK(asap_error(b) == DecodeError::Truncated);
  // Pool handle TLV claims 0xfff0 bytes inside a 12-byte message.
  b = resolution_with({});
  set_u16(b, 6, 0xfff0);
  CHECK(asap_error(b) == DecodeError::Truncated);
  // Every proper prefix of a valid REGISTRATION fails, never crashes.
  const auto reg = registration();
  for (std::size_t n = 0; n < reg.size(); ++n) {
    auto prefix = std::vector<std::byte>(reg.begin(), reg.begin() + static_cast<long>(n));
    if (n >= 4) set_u16(prefix, 2, static_cast<unsigned>(n));  // consistent message length
    CAPTURE(n);
    CHECK_FALSE(decode_asap(prefix).has_value());
  }
}

TEST_CASE("lengths below the header size are bad lengths") {
  auto b = resolution_with({});
  set_u16(b, 2, 3);
  CHECK(asap_error(b) == DecodeError::BadLength);
  b = resolution_with({});
  set_u16(b, 6, 2);  // pool handle TLV of length 2
  CHECK(asap_error(b) == DecodeError::BadLength);
}

TEST_CASE("padding must be present between parameters and zero") {
  // HROPT after a pool handle whose 2 padding bytes are non-zero.
  auto b = resolution_with({0x80, 0x3f, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01});
  b[10] = std::byte{0x01};
  CHECK(asap_error(b) == DecodeError::BadPadding);
  // Padding left out before the next parameter: the next TLV starts misaligned.
  auto unpadded = bytes({0x05, 0x00, 0x00, 0x12, 0x00, 0x09, 0x00, 0x06, 0x45, 0x50, 0x80, 0x3f,
                         0x00, 0x08, 0x00, 0x00, 0x00, 0x01});
  CHECK_FALSE(decode_asap(unpadded).has_value());
  // Non-zero bytes after the message, within its padding.
  auto tail = bytes({0x05, 0x00, 0x00, 0x0a, 0x00, 0x09, 0x00, 0x06, 0x45, 0x50, 0x00, 0x07});
  CHECK(asap_error(tail) == DecodeError::BadPadding);
}

TEST_CASE("the last parameter may end the message without its padding") {
  // Length 10: pool handle "EP" (length 6) unpadded at the end.
  auto b = bytes({0x05, 0x00, 0x00, 0x0a, 0x00, 0x09, 0x00, 0x06, 0x45, 0x50});
  auto r = decode_asap(b);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(std::get<asap::HandleResolution>(*r).pool_handle.view() == "EP");
}

TEST_CASE("bytes beyond the message length are trailing bytes") {
  auto b = resolution_with({});
  for (int i = 0; i < 4; ++i) b.push_back(std::byte{0});
  CHECK(asap_error(b) == DecodeError::TrailingBytes);
  std::vector<std::byte> tlv;
  encode_pool_handle(PoolHandle("EP"), tlv);
  tlv.push_back(std::byte{0});
  tlv.push_back(std::byte{0});
  tlv.push_back(std::byte{0});
  tlv.push_back(std::byte{0});
  CHECK(decode_pool_handle(tlv).error().code == DecodeError::TrailingBytes);
}

TEST_CASE("oversized input and too many items are refused with Lack of Resources") {
  std::vector<std::byte> huge(kMaxMessageSize + 1, std::byte{0});
  CHECK(asap_error(huge) == DecodeError::TooLarge);
  CHECK(cause_for(DecodeError::TooLarge) == CauseCode::LackOfResources);

  TransportAddress t = samples::sctp(1, {});
  for (std::size_t i = 0; i <= kMaxAddressesPerTransport; ++i) {
    t.addresses.push_back(IpAddress::v4(10, 0, static_cast<std::uint8_t>(i >> 8),
                                        static_cast<std::uint8_t>(i)));
  }
  std::vector<std::byte> tlv;
  encode_transport(t, tlv);
  CHECK(decode_transport(tlv).error().code == DecodeError::TooLarge);

  OperationError many;
  for (std::size_t i = 0; i <= kMaxErrorCauses; ++i) {
    many.causes.push_back({CauseCode::LackOfResources, {}});
  }
  CHECK(decode_asap(encode(AsapMessage{asap::ErrorMessage{many}})).error().code ==
        DecodeError::TooLarge);
}

TEST_CASE("error cause information is opaque: deeply nested echoes decode verbatim") {
  // Each level: an Invalid Values cause echoing the Operation Error of the level below. The
  // receiver never parses cause information, so depth costs nothing and nothing is refused.
  OperationError error{{ErrorCause{CauseCode::LackOfResources, {}}}};
  for (std::size_t level = 0; level < 2 * kMaxNestingDepth; ++level) {
    std::vector<std::byte> tlv;
    encode_operation_error(error, tlv);
    tlv.resize(static_cast<std::size_t>(static_cast<unsigned>(tlv[2]) << 8 |
                                        static_cast<unsigned>(tlv[3])));  // drop padding
    error = OperationError{{ErrorCause{CauseCode::InvalidValues, tlv}}};
  }
  auto r = decode_asap(encode(AsapMessage{asap::ErrorMessage{error}}));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(std::get<asap::ErrorMessage>(*r).error == error);
}

TEST_CASE("an ERROR whose cause echoes a truncated TLV round-trips verbatim") {
  // Invalid Values echoing a pool handle TLV whose length claims 0x20 bytes, only 3 present
  // (7 bytes: not a multiple of 4, so the cause is padded on the wire).
  const auto truncated_tlv = bytes({0x00, 0x09, 0x00, 0x20, 0x45, 0x50, 0x58});
  const OperationError error{{ErrorCause{CauseCode::InvalidValues, truncated_tlv},
                              ErrorCause{CauseCode::UnrecognizedParameter, truncated_tlv}}};
  const AsapMessage asap_message{asap::ErrorMessage{error}};
  auto a = decode_asap(encode(asap_message));
  REQUIRE_MESSAGE(a.has_value(), a.error().message);
  CHECK(*a == asap_message);
  const EnrpMessage enrp_message{enrp::ErrorMessage{1, 2, error}};
  auto e = decode_enrp(encode(enrp_message));
  REQUIRE_MESSAGE(e.has_value(), e.error().message);
  CHECK(*e == enrp_message);
}

TEST_CASE("an ERROR whose causes carry arbitrary junk bytes round-trips verbatim") {
  const auto junk = bytes({0xff, 0xff, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x07});
  OperationError error;
  for (auto code : {CauseCode::UnrecognizedParameter, CauseCode::UnrecognizedMessage,
                    CauseCode::InvalidValues, CauseCode::InconsistentPoolingPolicy,
                    CauseCode::InconsistentTransportType, static_cast<CauseCode>(0x77)}) {
    error.causes.push_back({code, junk});
    error.causes.push_back({code, bytes({0x01})});  // a one-byte echo: shorter than a header
  }
  const AsapMessage message{asap::ErrorMessage{error}};
  auto r = decode_asap(encode(message));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(*r == message);

  // The cause's own framing still holds: a cause whose length runs past the Operation Error,
  // or whose padding is not zero before the next cause, is refused without reading past it.
  auto b = encode(message);
  // ERROR header (4) + Operation Error header (4): the first cause's length is at 10.
  set_u16(b, 10, 0x0400);
  CHECK(asap_error(b) == DecodeError::Truncated);
  b = encode(message);
  b[8 + 4 + junk.size()] = std::byte{1};  // first padding byte after the first cause
  CHECK(asap_error(b) == DecodeError::BadPadding);
}

TEST_CASE("operation_error_for a truncated TLV gives an ERROR that decodes and echoes it") {
  // HANDLE_RESOLUTION whose pool handle TLV claims 0x20 bytes; the message holds 8 of them.
  auto b = resolution_with({});
  set_u16(b, 6, 0x20);
  DecodeReport report;
  const DecodeError code = asap_error(b, &report);
  const auto oe = operation_error_for(code, report);
  REQUIRE(oe.has_value());
  REQUIRE(oe->causes.size() == 1);
  CHECK(oe->causes[0].code == CauseCode::InvalidValues);
  REQUIRE_FALSE(oe->causes[0].info.empty());
  CHECK(oe->causes[0].info == report.offending);  // verbatim echo, badly framed as it is

  const AsapMessage reply{asap::ErrorMessage{*oe}};
  auto r = decode_asap(encode(reply));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(*r == reply);
  const EnrpMessage enrp_reply{enrp::ErrorMessage{7, 9, *oe}};
  auto e = decode_enrp(encode(enrp_reply));
  REQUIRE_MESSAGE(e.has_value(), e.error().message);
  CHECK(*e == enrp_reply);
}

TEST_CASE("an unknown message type is Unrecognized Message, echoing the whole message") {
  const auto b = bytes({0x0f, 0x00, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04});
  DecodeReport report;
  CHECK(asap_error(b, &report) == DecodeError::UnrecognizedMessage);
  CHECK(report.offending == b);
  const auto oe = operation_error_for(DecodeError::UnrecognizedMessage, report);
  REQUIRE(oe.has_value());
  CHECK(oe->causes[0].code == CauseCode::UnrecognizedMessage);
  CHECK(oe->causes[0].info == b);

  auto e = bytes({0x0b, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0, 2});
  CHECK(decode_enrp(e).error().code == DecodeError::UnrecognizedMessage);

  // Both protocols number their types from 0x01 (RFC 5352 §2.1, RFC 5353 §2): 0x00 is unknown too.
  auto a0 = decode_asap(bytes({0x00, 0x00, 0x00, 0x04}));
  REQUIRE_FALSE(a0.has_value());
  CHECK(a0.error().code == DecodeError::UnrecognizedMessage);
  CHECK(a0.error().message == "unknown ASAP message type 0x00");
  auto e0 = decode_enrp(bytes({0x00, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0, 2}));
  REQUIRE_FALSE(e0.has_value());
  CHECK(e0.error().code == DecodeError::UnrecognizedMessage);
  CHECK(e0.error().message == "unknown ENRP message type 0x00");
  CHECK(decode_enrp(e).error().message == "unknown ENRP message type 0x0b");
}

TEST_CASE("unknown parameter with upper bits 00: stop, discard, report nothing") {
  DecodeReport report;
  const auto b = resolution_with({0x00, 0x20, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04});
  CHECK(asap_error(b, &report) == DecodeError::UnrecognizedParameterNoReport);
  CHECK(report.unrecognized_parameters.empty());
  CHECK_FALSE(cause_for(DecodeError::UnrecognizedParameterNoReport).has_value());
  CHECK_FALSE(operation_error_for(DecodeError::UnrecognizedParameterNoReport, report));
}

TEST_CASE("unknown parameter with upper bits 01: stop and report it") {
  DecodeReport report;
  const auto b = resolution_with({0x40, 0x20, 0x00, 0x06, 0xaa, 0xbb, 0x00, 0x00});
  CHECK(asap_error(b, &report) == DecodeError::UnrecognizedParameter);
  const auto tlv = bytes({0x40, 0x20, 0x00, 0x06, 0xaa, 0xbb});
  REQUIRE(report.unrecognized_parameters.size() == 1);
  CHECK(report.unrecognized_parameters[0] == tlv);
  const auto oe = operation_error_for(DecodeError::UnrecognizedParameter, report);
  REQUIRE(oe.has_value());
  CHECK(oe->causes[0].code == CauseCode::UnrecognizedParameter);
  CHECK(oe->causes[0].info == tlv);
}

TEST_CASE("unknown parameter with upper bits 10: skip it silently") {
  DecodeReport report;
  const auto b = resolution_with({0x80, 0x20, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04});
  auto r = decode_asap(b, &report);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(std::get<asap::HandleResolution>(*r).pool_handle.view() == "EP");
  CHECK(report.unrecognized_parameters.empty());
  CHECK_FALSE(unrecognized_parameters_error(report));
}

TEST_CASE("unknown parameter with upper bits 11: skip it and report it") {
  DecodeReport report;
  const auto b = resolution_with({0xc0, 0x20, 0x00, 0x05, 0x09, 0x00, 0x00, 0x00});
  auto r = decode_asap(b, &report);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  REQUIRE(report.unrecognized_parameters.size() == 1);
  CHECK(report.unrecognized_parameters[0] == bytes({0xc0, 0x20, 0x00, 0x05, 0x09}));
  const auto oe = unrecognized_parameters_error(report);
  REQUIRE(oe.has_value());
  CHECK(oe->causes[0].code == CauseCode::UnrecognizedParameter);
}

TEST_CASE("unknown parameters are skipped inside nested parameters too") {
  // A skip-and-report TLV inserted into the PE, after its policy.
  auto pe = samples::pool_element();
  pe.asap_transport.reset();
  std::vector<std::byte> tlv;
  encode_pool_element(pe, tlv);
  for (int v : {0xc1, 0x00, 0x00, 0x04}) tlv.push_back(static_cast<std::byte>(v));
  set_u16(tlv, 2, static_cast<unsigned>(tlv.size()));
  auto r = decode_pool_element(tlv);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(*r == pe);
}

TEST_CASE("a missing mandatory parameter is Invalid Values") {
  const auto b = bytes({0x01, 0x00, 0x00, 0x0c, 0x00, 0x09, 0x00, 0x06, 0x45, 0x50, 0x00, 0x00});
  CHECK(asap_error(b) == DecodeError::MissingParameter);
  CHECK(cause_for(DecodeError::MissingParameter) == CauseCode::InvalidValues);
}

TEST_CASE("a known parameter in the wrong place is an unexpected parameter") {
  // REGISTRATION with a PE identifier where the PE belongs.
  const auto b = bytes({0x01, 0x00, 0x00, 0x14, 0x00, 0x09, 0x00, 0x06, 0x45, 0x50, 0x00, 0x00,
                        0x00, 0x0e, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01});
  DecodeReport report;
  CHECK(asap_error(b, &report) == DecodeError::UnexpectedParameter);
  CHECK(report.offending == bytes({0x00, 0x0e, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01}));
  // A second HROPT.
  CHECK(asap_error(resolution_with({0x80, 0x3f, 0x00, 0x08, 0, 0, 0, 1, 0x80, 0x3f, 0x00, 0x08,
                                    0, 0, 0, 1})) == DecodeError::UnexpectedParameter);
}

TEST_CASE("values out of range are invalid values, echoing the offending parameter") {
  // Pool handle longer than kMaxPoolHandleSize.
  std::vector<std::byte> long_handle = bytes({0x05, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00});
  for (std::size_t i = 0; i < kMaxPoolHandleSize + 4; ++i) long_handle.push_back(std::byte{'x'});
  set_u16(long_handle, 6, static_cast<unsigned>(4 + kMaxPoolHandleSize + 4));
  set_u16(long_handle, 2, static_cast<unsigned>(long_handle.size()));
  DecodeReport report;
  CHECK(asap_error(long_handle, &report) == DecodeError::InvalidValue);
  CHECK(report.offending.size() == 4 + kMaxPoolHandleSize + 4);
  const auto oe = operation_error_for(DecodeError::InvalidValue, report);
  REQUIRE(oe.has_value());
  CHECK(oe->causes[0].code == CauseCode::InvalidValues);
  CHECK(oe->causes[0].info == report.offending);

  // SCTP transport use 2.
  auto t = bytes({0x00, 0x04, 0x00, 0x10, 0x00, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0x08, 0x7f,
                  0x00, 0x00, 0x01});
  CHECK(decode_transport(t).error().code == DecodeError::InvalidValue);
  // IPv4 address of 5 bytes.
  t = bytes({0x00, 0x04, 0x00, 0x11, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x09, 0x7f, 0x00,
             0x00, 0x01, 0x02});
  CHECK(decode_transport(t).error().code == DecodeError::InvalidValue);
  // TCP with two addresses.
  t = bytes({0x00, 0x05, 0x00, 0x18, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x7f, 0x00,
             0x00, 0x01, 0x00, 0x01, 0x00, 0x08, 0x7f, 0x00, 0x00, 0x02});
  CHECK(decode_transport(t).error().code == DecodeError::InvalidValue);
  // Transport without any address.
  t = bytes({0x00, 0x04, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00});
  CHECK(decode_transport(t).error().code == DecodeError::MissingParameter);
  // Policy with a value too long for its type (Round Robin carries none).
  auto p = bytes({0x00, 0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01});
  CHECK(decode_policy(p).error().code == DecodeError::InvalidValue);
  // PE checksum of 4 bytes.
  auto presence = bytes({0x01, 0x00, 0x00, 0x14, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x0f, 0x00, 0x08,
                         0x00, 0x00, 0xab, 0xcd});
  CHECK(decode_enrp(presence).error().code == DecodeError::InvalidValue);
  // HANDLE_UPDATE with update action 2.
  auto update = bytes({0x04, 0x00, 0x00, 0x10, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x02, 0x00, 0x00});
  CHECK(decode_enrp(update).error().code == DecodeError::InvalidValue);
}

TEST_CASE("an ENRP message too short for its server identifiers is truncated") {
  CHECK(decode_enrp(bytes({0x05, 0x00, 0x00, 0x08, 0, 0, 0, 1})).error().code ==
        DecodeError::Truncated);
  CHECK(decode_enrp(bytes({0x07, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0, 2})).error().code ==
        DecodeError::Truncated);
}

TEST_CASE("every single-byte corruption of every sample message decodes or fails cleanly") {
  // Not a property about the result, but the sanitizer build turns any overread into a failure.
  std::size_t failures = 0;
  for (const auto& m : samples::all_asap()) {
    const auto good = encode(m);
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (int v : {0x00, 0xff, 0x80}) {
        auto b = good;
        b[i] = static_cast<std::byte>(v);
        auto r = decode_asap(b);
        if (!r) {
          ++failures;
          CHECK_FALSE(r.error().message.empty());
        } else {
          CHECK(decode_asap(encode(*r)).has_value());  // what decodes re-encodes and decodes
        }
      }
    }
  }
  CHECK(failures > 0);
}
