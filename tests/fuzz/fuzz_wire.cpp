// libFuzzer target for the wire decoders. Any input must decode or fail with a DecodeError
// (the sanitizers catch every overread and UB); whatever decodes must survive a round trip:
// decode(encode(x)) == x, and encoding is a fixed point: encode(decode(encode(x))) == encode(x).
// Whatever fails must yield an Operation Error (operation_error_for) whose ERROR decodes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>

#include "rsp/wire/codec.hpp"

using namespace rsp::wire;

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_wire: %s\n", what);
  std::abort();
}

// A decoded message can re-encode a little longer than its input (padding the input left
// out, RSPLIB's 4-byte PLU policy written with the RFC's 8 bytes), so a message near the 16-bit
// limit may legitimately no longer fit.
bool may_outgrow(std::size_t input_size) { return input_size > kMaxMessageSize * 10 / 11; }

template <typename Message, typename Decode>
void round_trip(std::span<const std::byte> input, Decode decode) {
  DecodeReport report;
  auto decoded = decode(input, &report);
  if (!decoded) {
    if (decoded.error().message.empty()) finding("decode error without a message");
    // The report sent back to the peer must itself always decode (cause info is opaque).
    if (auto oe = operation_error_for(decoded.error().code, report)) {
      const AsapMessage reply{asap::ErrorMessage{*oe}};
      auto back = decode_asap(encode(reply), nullptr);
      if (!back) finding("operation_error_for() built an ERROR that does not decode");
      if (!(*back == reply)) finding("operation_error_for() ERROR does not round-trip");
    }
    return;
  }
  std::vector<std::byte> bytes;
  try {
    bytes = encode(*decoded);
  } catch (const std::length_error&) {
    if (may_outgrow(input.size())) return;
    finding("a decoded message does not re-encode");
  }
  auto again = decode(std::span<const std::byte>(bytes),
                      static_cast<DecodeReport*>(nullptr));
  if (!again) finding("a re-encoded message does not decode");
  if (!(*again == *decoded)) finding("decode(encode(x)) != x");
  if (encode(*again) != bytes) finding("encode(decode(encode(x))) != encode(x)");
  (void)unrecognized_parameters_error(report);
}

template <typename T, typename Decode, typename Encode>
void parameter_round_trip(std::span<const std::byte> input, Decode decode, Encode encode_one) {
  auto decoded = decode(input);
  if (!decoded) return;
  std::vector<std::byte> bytes;
  encode_one(*decoded, bytes);
  auto again = decode(bytes);
  if (!again || !(*again == *decoded)) finding("parameter round trip failed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  using Bytes = std::span<const std::byte>;
  round_trip<AsapMessage>(input, [](Bytes b, DecodeReport* r) { return decode_asap(b, r); });
  round_trip<EnrpMessage>(input, [](Bytes b, DecodeReport* r) { return decode_enrp(b, r); });
  // The same bytes seen as single parameters (skipping a message header's worth of bytes, so
  // that message seeds reach the parameter decoders too).
  for (auto part : {input, size > 4 ? input.subspan(4) : input}) {
    parameter_round_trip<rsp::PolicyInfo>(
        part, [](Bytes b) { return decode_policy(b); },
        [](const auto& v, auto& out) { encode_policy(v, out); });
    parameter_round_trip<PoolElement>(
        part, [](Bytes b) { return decode_pool_element(b); },
        [](const auto& v, auto& out) { encode_pool_element(v, out); });
    parameter_round_trip<rsp::TransportAddress>(
        part, [](Bytes b) { return decode_transport(b); },
        [](const auto& v, auto& out) { encode_transport(v, out); });
    parameter_round_trip<OperationError>(
        part, [](Bytes b) { return decode_operation_error(b); },
        [](const auto& v, auto& out) { encode_operation_error(v, out); });
  }
  return 0;
}
