// Decoding machinery shared by the parameter and message decoders: the failure context, the
// TLV framing reader, and the cursor that applies RFC 5354 §3's unknown-parameter rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "buffer.hpp"
#include "rsp/result.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::wire::detail {

// Where a decode is: the report to fill and the first failure.
// Decoders return bool; the first fail() wins (inner errors are the most precise).
struct DecodeContext {
  DecodeReport* report = nullptr;
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

// Is this parameter type one this build understands? (HROPT counts, in both of its spellings:
// RSPLIB's headers write 0x003f, the draft and Wireshark 0x803f.)
inline bool is_known_parameter(std::uint16_t type) noexcept {
  return (type >= 0x0001 && type <= 0x000f) || type == 0x803f || type == 0x003f;
}
inline ParameterType known_type(std::uint16_t type) noexcept {
  if (type == 0x003f) return ParameterType::HandleResolutionOption;
  return static_cast<ParameterType>(type);
}
inline bool is_transport_type(std::uint16_t type) noexcept {
  return type >= 0x0003 && type <= 0x0007;
}

// One TLV as found on the wire.
struct Tlv {
  std::uint16_t type = 0;                // as sent, upper action bits included
  std::span<const std::byte> value;      // length - 4 bytes, right after the 4-byte header
  // Header + value, without padding (what error causes echo).
  std::span<const std::byte> whole() const noexcept {
    return {value.data() - kTlvHeaderSize, value.size() + kTlvHeaderSize};
  }
};

// Reads the next TLV of a parameter list: header, length, value and padding. The padding
// may be absent only after the last TLV of the list (RFC 4960 §3.2-style tolerance); when
// present it must be zero. The fast path is inline; every failure goes to read_tlv_failed(),
// which names what is wrong.
bool read_tlv_failed(Reader& r, DecodeContext& c, const char* where);

inline bool read_tlv(Reader& r, DecodeContext& c, Tlv& out, const char* where) {
  const std::size_t remaining = r.remaining();
  if (remaining >= kTlvHeaderSize) [[likely]] {
    const std::byte* p = r.position();
    const std::uint16_t length = Reader::load_u16(p + 2);
    if (length >= kTlvHeaderSize && length <= remaining) [[likely]] {
      std::size_t consumed = padded_size(length);
      if (consumed > remaining) {
        consumed = remaining;  // only legal when the TLV ends the list exactly
        if (remaining != length) return read_tlv_failed(r, c, where);
      }
      for (std::size_t i = length; i < consumed; ++i) {
        if (p[i] != std::byte{0}) return read_tlv_failed(r, c, where);
      }
      out.type = Reader::load_u16(p);
      out.value = std::span<const std::byte>(p + kTlvHeaderSize, length - kTlvHeaderSize);
      (void)r.skip(consumed);
      return true;
    }
  }
  return read_tlv_failed(r, c, where);
}

// A parameter list with one TLV of lookahead. Unknown parameters are handled here, as
// RFC 5354 §3 says, and never reach the caller.
class ParameterCursor {
 public:
  ParameterCursor(std::span<const std::byte> list, DecodeContext& c, const char* where)
      : r_(list), c_(c), where_(where) {}

  // Next known parameter without consuming it: false with c failed on error; true with
  // out == nullptr at the end of the list.
  bool peek(const Tlv*& out) {
    if (!have_) {
      for (;;) {
        if (r_.empty()) {
          out = nullptr;
          return true;
        }
        if (!read_tlv(r_, c_, next_, where_)) return false;
        if (is_known_parameter(next_.type)) [[likely]] break;
        if (!skip_unknown()) return false;
      }
      have_ = true;
    }
    out = &next_;
    return true;
  }
  void consume() noexcept { have_ = false; }
  // Next parameter, which must be of `type`.
  bool expect(ParameterType type, Tlv& out, const char* what) {
    const Tlv* next = nullptr;
    if (!peek(next)) return false;
    if (next == nullptr || known_type(next->type) != type) [[unlikely]] {
      return wrong_parameter(type, next, what);
    }
    out = *next;
    have_ = false;
    return true;
  }
  // Optional next parameter of `type`: present = false when the next one is something else.
  bool optional(ParameterType type, Tlv& out, bool& present) {
    present = false;
    const Tlv* next = nullptr;
    if (!peek(next)) return false;
    if (next != nullptr && known_type(next->type) == type) {
      out = *next;
      have_ = false;
      present = true;
    }
    return true;
  }
  // How many parameters of `type` follow in a row (the lookahead included), counting only
  // well-framed TLVs of at least `min_length` bytes and skipping unknown ones. Consumes nothing;
  // for reserving the result's storage once instead of growing it.
  std::size_t count_run(ParameterType type, std::size_t min_length) const;
  // The list must be over.
  bool finish() {
    const Tlv* next = nullptr;
    if (!peek(next)) return false;
    return next == nullptr || not_allowed(*next);
  }

 private:
  bool skip_unknown();  // RFC 5354 §3 upper-bits rule for next_; false when it says stop
  bool wrong_parameter(ParameterType type, const Tlv* found, const char* what);
  bool not_allowed(const Tlv& found);

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

// The alternative T of a message variant, reusing it when it already holds a T (decoding into a
// Result's own storage then needs neither a second construction nor a move).
template <typename T, typename Variant>
T& alternative(Variant& v) {
  if (auto* p = std::get_if<T>(&v)) return *p;
  return v.template emplace<T>();
}

// Message framing shared by ASAP and ENRP (RFC 5352 §2.1 / RFC 5353 §2): type, flags, length.
std::size_t begin_message(std::vector<std::byte>& out, std::uint8_t type, std::uint8_t flags);
void end_message(std::vector<std::byte>& out, std::size_t start);

// encode(message) for both protocols: a new vector with room for a typical message.
template <typename Message>
std::vector<std::byte> encode_new(const Message& message) {
  std::vector<std::byte> out;
  out.reserve(256);
  encode(message, out);
  return out;
}

// The protocol a decoder expects: its name for diagnostics and its highest message type (both
// number their types from 0x01: RFC 5352 §2.1, RFC 5353 §2).
struct MessageFamily {
  const char* name;
  std::uint8_t last_type;
};

// Checks the common header and returns the body (after the 4-byte header).
bool read_message_header(std::span<const std::byte> bytes, DecodeContext& c, std::uint8_t& type,
                         std::uint8_t& flags, std::span<const std::byte>& body);
// A message type outside `family`: UnrecognizedMessage.
bool unrecognized_message(std::span<const std::byte> bytes, DecodeContext& c,
                          MessageFamily family, std::uint8_t type);

// decode_asap() and decode_enrp(): a fresh report, the common header, the type, then the
// family's body decoder, `bool decode_body(MessageType, flags, body, DecodeContext&, Message&)`.
// The message is decoded in place in the result's storage and returned by NRVO: no copy or move
// of it, and nothing allocated that the message itself does not hold. The body decoder is a
// template argument and the whole is forced inline, so that REGISTRATION's decode costs the
// same instructions as when each protocol spelled this out (bench/wire).
template <typename Message, typename MessageType, auto decode_body>
[[gnu::always_inline]] inline Result<Message, DecodeError> decode_message(
    std::span<const std::byte> bytes, DecodeReport* report, MessageFamily family) {
  if (report) *report = DecodeReport{};
  DecodeContext c;
  c.report = report;
  Result<Message, DecodeError> result{Message{}};
  std::uint8_t type = 0, flags = 0;
  std::span<const std::byte> body;
  if (read_message_header(bytes, c, type, flags, body)) {
    if (type == 0 || type > family.last_type) [[unlikely]] {
      (void)unrecognized_message(bytes, c, family, type);
    } else {
      (void)decode_body(static_cast<MessageType>(type), flags, body, c, result.value());
    }
  }
  if (c.failed) result = c.error<Message>();
  return result;
}

}  // namespace rsp::wire::detail
