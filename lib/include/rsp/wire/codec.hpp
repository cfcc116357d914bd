// Bytes <-> typed ASAP/ENRP messages (RFC 5352 §2, RFC 5353 §2, RFC 5354 §2-3).
//
// Decoding never trusts a length: every input that is not a well-formed message yields a
// DecodeError, whose cause_for() says which RFC 5354 §3.12 error cause the peer should get.
// Unknown parameters follow the upper-two-bits rule of RFC 5354 §3: 00 stop, 01 stop and
// report, 10 skip, 11 skip and report. What is to be reported lands in a DecodeReport.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "rsp/result.hpp"
#include "rsp/wire/messages.hpp"
#include "rsp/wire/types.hpp"

namespace rsp::wire {

// Limits the decoder enforces (beyond the 16-bit lengths of the format itself).
inline constexpr std::size_t kMaxMessageSize = 0xffff;  // RFC 5352 §2.1: 16-bit message length
// TLVs inside TLVs. The ASAP/ENRP grammars nest only a few levels (PE > transport > address)
// and error cause information is opaque (never parsed), so no decoder recurses and nothing
// currently yields TooDeep; both stay for API stability.
inline constexpr std::size_t kMaxNestingDepth = 8;
inline constexpr std::size_t kMaxAddressesPerTransport = 64;
inline constexpr std::size_t kMaxErrorCauses = 64;

enum class DecodeError : std::uint8_t {
  Truncated,                // a header, field or TLV runs past the end of its enclosing span
  BadLength,                // a length field below its header size, or disagreeing with the input
  BadPadding,               // padding missing before a following TLV, or not zero
  TrailingBytes,            // bytes left over where the format has none
  TooDeep,                  // TLVs nested deeper than kMaxNestingDepth (not produced today)
  TooLarge,                 // input above kMaxMessageSize, or too many items of one kind
  UnrecognizedMessage,      // unknown message type
  UnrecognizedParameter,    // unknown parameter, upper bits 01: stop and report
  UnrecognizedParameterNoReport,  // unknown parameter, upper bits 00: stop, report nothing
  MissingParameter,         // a mandatory parameter is absent
  UnexpectedParameter,      // a known parameter where the message does not allow it
  InvalidValue,             // a field out of range (address family, transport use, size...)
};
std::string_view to_string(DecodeError error) noexcept;

// The error cause a peer should receive for a message that failed with `error`
// (nullopt for UnrecognizedParameterNoReport: RFC 5354 §3 says discard silently).
std::optional<CauseCode> cause_for(DecodeError error) noexcept;

// Side output of decoding.
struct DecodeReport {
  // RFC 5354 §3: unknown parameters whose upper bits say "report" (01, 11), verbatim TLVs
  // (header + value, without padding), in message order.
  std::vector<std::vector<std::byte>> unrecognized_parameters;
  // On failure: what the error cause should echo (RFC 5354 §3.12): the offending TLV for
  // Invalid Values / Unrecognized Parameter, the whole message for Unrecognized Message.
  std::vector<std::byte> offending;
};

// The Operation Error to send back for a decode failure (nullopt when nothing is to be sent).
std::optional<OperationError> operation_error_for(DecodeError error, const DecodeReport& report);
// The Operation Error reporting the "skip and report" parameters of a successful decode
// (nullopt when there are none).
std::optional<OperationError> unrecognized_parameters_error(const DecodeReport& report);

// ---- messages ----
// encode() appends to `out`; the returned-vector forms allocate one buffer.
// Preconditions (programming errors otherwise): the encoded message and each parameter fit
// their 16-bit lengths (std::length_error), every pool handle has 1 to kMaxPoolHandleSize
// bytes (std::invalid_argument).
void encode(const AsapMessage& message, std::vector<std::byte>& out);
void encode(const EnrpMessage& message, std::vector<std::byte>& out);
std::vector<std::byte> encode(const AsapMessage& message);
std::vector<std::byte> encode(const EnrpMessage& message);

// `bytes` is exactly one message (one SCTP DATA chunk's user data with PPID 11 / 12).
Result<AsapMessage, DecodeError> decode_asap(std::span<const std::byte> bytes,
                                             DecodeReport* report = nullptr);
Result<EnrpMessage, DecodeError> decode_enrp(std::span<const std::byte> bytes,
                                             DecodeReport* report = nullptr);

// ---- single parameters (a whole TLV: header, value, padding) ----
// For checksums (RFC 5353 §3.5 sums PE parameters), handlespace storage and tests.
void encode_pool_handle(const PoolHandle& handle, std::vector<std::byte>& out);
void encode_pool_element(const PoolElement& element, std::vector<std::byte>& out);
void encode_transport(const TransportAddress& transport, std::vector<std::byte>& out);
void encode_policy(const PolicyInfo& policy, std::vector<std::byte>& out);
void encode_server_information(const ServerInformation& info, std::vector<std::byte>& out);
void encode_operation_error(const OperationError& error, std::vector<std::byte>& out);

// Each decodes exactly one TLV of the named type spanning all of `bytes` (final padding
// optional).
Result<PoolHandle, DecodeError> decode_pool_handle(std::span<const std::byte> bytes);
Result<PoolElement, DecodeError> decode_pool_element(std::span<const std::byte> bytes);
Result<TransportAddress, DecodeError> decode_transport(std::span<const std::byte> bytes);
Result<PolicyInfo, DecodeError> decode_policy(std::span<const std::byte> bytes);
Result<ServerInformation, DecodeError> decode_server_information(std::span<const std::byte> bytes);
Result<OperationError, DecodeError> decode_operation_error(std::span<const std::byte> bytes);

}  // namespace rsp::wire
