// TLV and message framing (RFC 5354 §2, RFC 5352 §2.1, RFC 5353 §2) and RFC 5354 §3's
// unknown-parameter rule. All length and padding checks of the codec live here.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "decoder.hpp"

namespace rsp::wire::detail {

namespace {
bool all_zero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}
}  // namespace

std::size_t begin_tlv(std::vector<std::byte>& out, std::uint16_t type) {
  const std::size_t start = out.size();
  put_u16(out, type);
  put_u16(out, 0);  // length, patched by end_tlv()
  return start;
}

void end_tlv(std::vector<std::byte>& out, std::size_t start) {
  const std::size_t length = out.size() - start;
  if (length > 0xffff) {
    throw std::length_error(fmt::format("parameter of {} bytes exceeds the 16-bit length", length));
  }
  patch_u16(out, start + 2, static_cast<std::uint16_t>(length));
  out.resize(out.size() + padding_of(length), std::byte{0});
}

std::size_t begin_message(std::vector<std::byte>& out, std::uint8_t type, std::uint8_t flags) {
  const std::size_t start = out.size();
  put_u8(out, type);
  put_u8(out, flags);
  put_u16(out, 0);  // length, patched by end_message()
  return start;
}

void end_message(std::vector<std::byte>& out, std::size_t start) {
  // Every parameter is padded, so the message is a multiple of 4 and its length counts all.
  const std::size_t length = out.size() - start;
  if (length > kMaxMessageSize) {
    throw std::length_error(fmt::format("message of {} bytes exceeds the 16-bit length", length));
  }
  patch_u16(out, start + 2, static_cast<std::uint16_t>(length));
}

bool DecodeContext::fail(DecodeError error, std::string what, std::span<const std::byte> echo) {
  if (failed) return false;
  failed = true;
  code = error;
  message = std::move(what);
  offending = echo;
  if (report) report->offending.assign(echo.begin(), echo.end());
  return false;
}

bool read_tlv_failed(Reader& r, DecodeContext& c, const char* where) {
  const auto start = r.rest();
  if (start.size() < kTlvHeaderSize) {
    return c.fail(DecodeError::Truncated,
                  fmt::format("{}: {} byte(s) left, a parameter header needs 4", where,
                              start.size()));
  }
  const std::uint16_t type = Reader::load_u16(start.data());
  const std::uint16_t length = Reader::load_u16(start.data() + 2);
  if (length < kTlvHeaderSize) {
    return c.fail(DecodeError::BadLength,
                  fmt::format("{}: parameter 0x{:04x} has length {}, below its 4-byte header",
                              where, type, length),
                  start.first(kTlvHeaderSize));
  }
  if (length > start.size()) {
    return c.fail(DecodeError::Truncated,
                  fmt::format("{}: parameter 0x{:04x} claims {} bytes, only {} present", where,
                              type, length, start.size()),
                  start);
  }
  return c.fail(DecodeError::BadPadding,
                fmt::format("{}: parameter 0x{:04x} of length {} is not followed by {} zero "
                            "padding byte(s)",
                            where, type, length, padding_of(length)),
                start.first(length));
}

bool ParameterCursor::skip_unknown() {
  // RFC 5354 §3: the upper two bits of an unknown type say what to do.
  const Tlv& t = next_;
  const unsigned action = t.type >> 14;
  if ((action & 1u) && c_.report) {
    const auto whole = t.whole();
    c_.report->unrecognized_parameters.emplace_back(whole.begin(), whole.end());
  }
  switch (action) {
    case 0:
      return c_.fail(DecodeError::UnrecognizedParameterNoReport,
                     fmt::format("{}: unknown parameter type 0x{:04x} (stop, do not report)",
                                 where_, t.type),
                     t.whole());
    case 1:
      return c_.fail(DecodeError::UnrecognizedParameter,
                     fmt::format("{}: unknown parameter type 0x{:04x} (stop and report)", where_,
                                 t.type),
                     t.whole());
    default: return true;  // 10: skip; 11: skip and report (recorded above)
  }
}

bool ParameterCursor::wrong_parameter(ParameterType type, const Tlv* found, const char* what) {
  if (found == nullptr) {
    return c_.fail(DecodeError::MissingParameter, fmt::format("{}: {} missing", where_, what));
  }
  return c_.fail(DecodeError::UnexpectedParameter,
                 fmt::format("{}: expected {} (0x{:04x}), found parameter 0x{:04x}", where_, what,
                             static_cast<unsigned>(type), found->type),
                 found->whole());
}

std::size_t ParameterCursor::count_run(ParameterType type, std::size_t min_length) const {
  std::size_t n = 0;
  auto counts = [&](const Tlv& t) {
    return known_type(t.type) == type && t.value.size() + kTlvHeaderSize >= min_length;
  };
  if (have_) {
    if (!counts(next_)) return 0;
    ++n;
  }
  Reader r = r_;
  DecodeContext scratch;  // framing errors end the count; the real pass reports them
  Tlv t;
  while (!r.empty() && read_tlv(r, scratch, t, "")) {
    if (!is_known_parameter(t.type)) continue;
    if (!counts(t)) break;
    ++n;
  }
  return n;
}

bool ParameterCursor::not_allowed(const Tlv& found) {
  return c_.fail(DecodeError::UnexpectedParameter,
                 fmt::format("{}: parameter 0x{:04x} not allowed here", where_, found.type),
                 found.whole());
}

bool read_message_header(std::span<const std::byte> bytes, DecodeContext& c, std::uint8_t& type,
                         std::uint8_t& flags, std::span<const std::byte>& body) {
  if (bytes.size() > kMaxMessageSize) {
    return c.fail(DecodeError::TooLarge,
                  fmt::format("message: {} bytes, above the {}-byte maximum", bytes.size(),
                              kMaxMessageSize));
  }
  Reader r(bytes);
  std::uint16_t length = 0;
  if (!r.u8(type) || !r.u8(flags) || !r.u16(length)) {
    return c.fail(DecodeError::Truncated,
                  fmt::format("message: {} byte(s), a message header needs 4", bytes.size()));
  }
  if (length < 4) {
    return c.fail(DecodeError::BadLength,
                  fmt::format("message: length field {} is below the 4-byte header", length));
  }
  if (length > bytes.size()) {
    return c.fail(DecodeError::Truncated,
                  fmt::format("message: length field says {} bytes, only {} present", length,
                              bytes.size()));
  }
  const auto trailing = bytes.subspan(length);
  if (trailing.size() > padding_of(length)) {
    return c.fail(DecodeError::TrailingBytes,
                  fmt::format("message: {} byte(s) after the {}-byte message", trailing.size(),
                              length));
  }
  if (!all_zero(trailing)) {
    return c.fail(DecodeError::BadPadding, "message: non-zero padding after the last parameter");
  }
  body = bytes.subspan(4, length - 4u);
  return true;
}

bool unrecognized_message(std::span<const std::byte> bytes, DecodeContext& c,
                          MessageFamily family, std::uint8_t type) {
  // RFC 5354 §3.12: "Unrecognized Message" echoes the whole message.
  return c.fail(DecodeError::UnrecognizedMessage,
                fmt::format("unknown {} message type 0x{:02x}", family.name, type), bytes);
}

}  // namespace rsp::wire::detail
