// Decoding machinery shared by the parameter and message decoders: the failure context, the
// TLV framing reader, and the cursor that applies RFC 5354 §3's unknown-parameter rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "buffer.hpp"
#include "rsp/result.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::wire::detail {

// Where a decode is: the report to fill, the nesting depth, and the first failure.
// Decoders return bool; the first fail() wins (inner errors are the most precise).
struct DecodeContext {
  DecodeReport* report = nullptr;
  std::size_t depth = 0;
  bool failed = false;
  DecodeError code = DecodeError::InvalidValue;
  std::string message;
  std::span<const std::byte> offending;

  bool fail(DecodeError error, std::string what, std::span<const std::byte> echo = {});
  template <typename T>
  Result<T, DecodeError> error() {
    return make_error(code, std::move(message));
  }
};

// Counts one level of TLV nesting for as long as it lives (ParameterCursor checks the limit).
class DepthGuard {
 public:
  explicit DepthGuard(DecodeContext& c) noexcept : c_(c) { ++c_.depth; }
  ~DepthGuard() { --c_.depth; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  DecodeContext& c_;
};

// One TLV as found on the wire.
struct Tlv {
  std::uint16_t type = 0;                // as sent, upper action bits included
  std::span<const std::byte> value;      // length - 4 bytes
  std::span<const std::byte> whole;      // header + value, no padding
};

// Reads the next TLV of a parameter list: header, length, value and padding. The padding
// may be absent only after the last TLV of the list (RFC 4960 §3.2-style tolerance).
bool read_tlv(Reader& r, DecodeContext& c, Tlv& out, const char* where);

// Is this parameter type one this build understands? (HROPT counts, in both of its spellings.)
bool is_known_parameter(std::uint16_t type) noexcept;
ParameterType known_type(std::uint16_t type) noexcept;  // folds 0x003f into 0x803f

// A parameter list with one TLV of lookahead. Unknown parameters are handled here, as
// RFC 5354 §3 says, and never reach the caller.
class ParameterCursor {
 public:
  ParameterCursor(std::span<const std::byte> list, DecodeContext& c, const char* where)
      : r_(list), c_(c), where_(where) {}

  // Next known parameter without consuming it; false with c.failed on error; true and
  // nullopt-equivalent (returns nullptr) at the end of the list.
  bool peek(const Tlv*& out);
  void consume() { have_ = false; }
  // Next parameter, which must be of `type`.
  bool expect(ParameterType type, Tlv& out, const char* what);
  // Optional next parameter of `type`: present = false when the next one is something else.
  bool optional(ParameterType type, Tlv& out, bool& present);
  // The list must be over.
  bool finish();

 private:
  Reader r_;
  DecodeContext& c_;
  const char* where_;
  Tlv next_;
  bool have_ = false;
};

// Parameter decoders: `tlv` has already been framed and is of the named type.
bool decode_pool_handle(const Tlv& tlv, DecodeContext& c, PoolHandle& out);
bool decode_pe_identifier(const Tlv& tlv, DecodeContext& c, PoolElementId& out);
bool decode_pe_checksum(const Tlv& tlv, DecodeContext& c, PoolElementChecksum& out);
bool decode_transport(const Tlv& tlv, DecodeContext& c, TransportAddress& out);
bool decode_policy(const Tlv& tlv, DecodeContext& c, PolicyInfo& out);
bool decode_pool_element(const Tlv& tlv, DecodeContext& c, PoolElement& out);
bool decode_server_information(const Tlv& tlv, DecodeContext& c, ServerInformation& out);
bool decode_operation_error(const Tlv& tlv, DecodeContext& c, OperationError& out);
bool decode_cookie(const Tlv& tlv, DecodeContext& c, std::vector<std::byte>& out);
bool decode_hropt(const Tlv& tlv, DecodeContext& c, HandleResolutionOption& out);

bool is_transport_type(std::uint16_t type) noexcept;

// Parameter encoders (each writes one padded TLV).
void put_pool_handle(std::vector<std::byte>& out, const PoolHandle& handle);
void put_pe_identifier(std::vector<std::byte>& out, PoolElementId id);
void put_pe_checksum(std::vector<std::byte>& out, PoolElementChecksum checksum);
void put_transport(std::vector<std::byte>& out, const TransportAddress& transport);
void put_policy(std::vector<std::byte>& out, const PolicyInfo& policy);
void put_pool_element(std::vector<std::byte>& out, const PoolElement& element);
void put_server_information(std::vector<std::byte>& out, const ServerInformation& info);
void put_operation_error(std::vector<std::byte>& out, const OperationError& error);
void put_cookie(std::vector<std::byte>& out, std::span<const std::byte> cookie);
void put_hropt(std::vector<std::byte>& out, const HandleResolutionOption& option);

// Message framing shared by ASAP and ENRP (RFC 5352 §2.1 / RFC 5353 §2): type, flags, length.
std::size_t begin_message(std::vector<std::byte>& out, std::uint8_t type, std::uint8_t flags);
void end_message(std::vector<std::byte>& out, std::size_t start);
// Checks the common header and returns the body (after the 4-byte header).
bool read_message_header(std::span<const std::byte> bytes, DecodeContext& c, std::uint8_t& type,
                         std::uint8_t& flags, std::span<const std::byte>& body);

}  // namespace rsp::wire::detail
