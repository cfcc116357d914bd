// ASAP messages (RFC 5352 §2.2) <-> bytes.
#include <algorithm>

#include "decoder.hpp"

namespace rsp::wire {

using namespace detail;

namespace {

constexpr std::uint8_t kAsapRejectFlag = 0x01;  // R: REGISTRATION_RESPONSE (§2.2.3)
constexpr std::uint8_t kHomeFlag = 0x01;    // H: ENDPOINT_KEEP_ALIVE (§2.2.7)

std::uint8_t type_byte(asap::MessageType t) { return static_cast<std::uint8_t>(t); }

// RFC 5352 §2.1: REGISTRATION 0x01 ... ERROR 0x0e.
constexpr MessageFamily kAsapFamily{"ASAP", 0x0e};

struct AsapEncoder {
  std::vector<std::byte>& out;

  std::size_t begin(asap::MessageType t, std::uint8_t flags = 0) {
    return begin_message(out, type_byte(t), flags);
  }
  void operator()(const asap::Registration& m) {
    const auto s = begin(asap::MessageType::Registration);
    put_pool_handle(out, m.pool_handle);
    put_pool_element(out, m.pool_element);
    end_message(out, s);
  }
  void operator()(const asap::Deregistration& m) {
    const auto s = begin(asap::MessageType::Deregistration);
    put_pool_handle(out, m.pool_handle);
    put_pe_identifier(out, m.pe_id);
    end_message(out, s);
  }
  void operator()(const asap::RegistrationResponse& m) {
    const auto s = begin(asap::MessageType::RegistrationResponse, m.rejected ? kAsapRejectFlag : 0);
    put_pool_handle(out, m.pool_handle);
    put_pe_identifier(out, m.pe_id);
    if (m.error) put_operation_error(out, *m.error);
    end_message(out, s);
  }
  void operator()(const asap::DeregistrationResponse& m) {
    const auto s = begin(asap::MessageType::DeregistrationResponse);
    put_pool_handle(out, m.pool_handle);
    put_pe_identifier(out, m.pe_id);
    if (m.error) put_operation_error(out, *m.error);
    end_message(out, s);
  }
  void operator()(const asap::HandleResolution& m) {
    const auto s = begin(asap::MessageType::HandleResolution);
    put_pool_handle(out, m.pool_handle);
    if (m.option) put_hropt(out, *m.option);
    end_message(out, s);
  }
  void operator()(const asap::HandleResolutionResponse& m) {
    const auto s = begin(asap::MessageType::HandleResolutionResponse);
    put_pool_handle(out, m.pool_handle);
    if (m.overall_policy) put_policy(out, *m.overall_policy);
    for (const auto& pe : m.pool_elements) put_pool_element(out, pe);
    if (m.error) put_operation_error(out, *m.error);
    end_message(out, s);
  }
  void operator()(const asap::EndpointKeepAlive& m) {
    const auto s = begin(asap::MessageType::EndpointKeepAlive, m.home ? kHomeFlag : 0);
    put_u32(out, m.server_id);
    put_pool_handle(out, m.pool_handle);
    put_pe_identifier(out, m.pe_id);
    end_message(out, s);
  }
  void operator()(const asap::EndpointKeepAliveAck& m) {
    const auto s = begin(asap::MessageType::EndpointKeepAliveAck);
    put_pool_handle(out, m.pool_handle);
    put_pe_identifier(out, m.pe_id);
    end_message(out, s);
  }
  void operator()(const asap::EndpointUnreachable& m) {
    const auto s = begin(asap::MessageType::EndpointUnreachable);
    put_pool_handle(out, m.pool_handle);
    put_pe_identifier(out, m.pe_id);
    end_message(out, s);
  }
  void operator()(const asap::ServerAnnounce& m) {
    const auto s = begin(asap::MessageType::ServerAnnounce);
    put_u32(out, m.server_id);
    for (const auto& t : m.transports) put_transport(out, t);
    end_message(out, s);
  }
  void operator()(const asap::Cookie& m) {
    const auto s = begin(asap::MessageType::Cookie);
    put_cookie(out, m.cookie);
    end_message(out, s);
  }
  void operator()(const asap::CookieEcho& m) {
    const auto s = begin(asap::MessageType::CookieEcho);
    put_cookie(out, m.cookie);
    end_message(out, s);
  }
  void operator()(const asap::BusinessCard& m) {
    const auto s = begin(asap::MessageType::BusinessCard);
    put_pool_handle(out, m.pool_handle);
    for (const auto& pe : m.pool_elements) put_pool_element(out, pe);
    end_message(out, s);
  }
  void operator()(const asap::ErrorMessage& m) {
    const auto s = begin(asap::MessageType::Error);
    put_operation_error(out, m.error);
    end_message(out, s);
  }
};

// Decoders of the message bodies. Each reads the parameters in the order RFC 5352 gives.
bool handle_and_pe_id(ParameterCursor& cur, DecodeContext& c, PoolHandle& handle,
                      PoolElementId& id) {
  Tlv t;
  return cur.expect(ParameterType::PoolHandle, t, "pool handle") &&
         decode_pool_handle(t, c, handle) &&
         cur.expect(ParameterType::PoolElementIdentifier, t, "PE identifier") &&
         decode_pe_identifier(t, c, id);
}

bool optional_error(ParameterCursor& cur, DecodeContext& c, std::optional<OperationError>& out) {
  Tlv t;
  bool present = false;
  if (!cur.optional(ParameterType::OperationError, t, present)) return false;
  if (!present) return true;
  out.emplace();
  return decode_operation_error(t, c, *out);
}

// The smallest PE parameter that can decode: header, 12 fixed bytes, a transport with one
// IPv4 address (16), a policy without values (8).
constexpr std::size_t kMinPoolElementSize = 4 + 12 + 16 + 8;
// Storage reserved up front is capped, so that a message of many bogus PE parameters cannot
// make the decoder allocate much before it fails; beyond the cap the vector grows as usual.
constexpr std::size_t kMaxReservedPoolElements = 16;

bool pool_elements(ParameterCursor& cur, DecodeContext& c, std::vector<PoolElement>& out) {
  out.reserve(std::min(cur.count_run(ParameterType::PoolElement, kMinPoolElementSize),
                       kMaxReservedPoolElements));
  for (;;) {
    Tlv t;
    bool present = false;
    if (!cur.optional(ParameterType::PoolElement, t, present)) return false;
    if (!present) return true;
    if (!decode_pool_element(t, c, out.emplace_back())) return false;
  }
}

// RFC 5352 §2.2: the body after the common header (decode_message has checked the type).
bool decode_asap_body(asap::MessageType type, std::uint8_t flags, std::span<const std::byte> body,
                      DecodeContext& c, AsapMessage& out) {
  Reader r(body);
  std::uint32_t server_id = 0;
  if (type == asap::MessageType::EndpointKeepAlive || type == asap::MessageType::ServerAnnounce) {
    if (!r.u32(server_id)) {
      return c.fail(DecodeError::Truncated, "message: server identifier missing");
    }
  }
  ParameterCursor cur(r.rest(), c, "message");
  Tlv t;
  switch (type) {
    case asap::MessageType::Registration: {
      auto& m = alternative<asap::Registration>(out);
      if (!cur.expect(ParameterType::PoolHandle, t, "pool handle") ||
          !decode_pool_handle(t, c, m.pool_handle) ||
          !cur.expect(ParameterType::PoolElement, t, "pool element") ||
          !decode_pool_element(t, c, m.pool_element)) {
        return false;
      }
      break;
    }
    case asap::MessageType::Deregistration: {
      auto& m = alternative<asap::Deregistration>(out);
      if (!handle_and_pe_id(cur, c, m.pool_handle, m.pe_id)) return false;
      break;
    }
    case asap::MessageType::RegistrationResponse: {
      auto& m = alternative<asap::RegistrationResponse>(out);
      m.rejected = (flags & kAsapRejectFlag) != 0;
      if (!handle_and_pe_id(cur, c, m.pool_handle, m.pe_id) || !optional_error(cur, c, m.error)) {
        return false;
      }
      break;
    }
    case asap::MessageType::DeregistrationResponse: {
      auto& m = alternative<asap::DeregistrationResponse>(out);
      if (!handle_and_pe_id(cur, c, m.pool_handle, m.pe_id) || !optional_error(cur, c, m.error)) {
        return false;
      }
      break;
    }
    case asap::MessageType::HandleResolution: {
      auto& m = alternative<asap::HandleResolution>(out);
      if (!cur.expect(ParameterType::PoolHandle, t, "pool handle") ||
          !decode_pool_handle(t, c, m.pool_handle)) {
        return false;
      }
      bool present = false;
      if (!cur.optional(ParameterType::HandleResolutionOption, t, present)) return false;
      if (present && !decode_hropt(t, c, m.option.emplace())) return false;
      break;
    }
    case asap::MessageType::HandleResolutionResponse: {
      auto& m = alternative<asap::HandleResolutionResponse>(out);
      if (!cur.expect(ParameterType::PoolHandle, t, "pool handle") ||
          !decode_pool_handle(t, c, m.pool_handle)) {
        return false;
      }
      bool present = false;
      if (!cur.optional(ParameterType::PoolMemberSelectionPolicy, t, present)) return false;
      if (present && !decode_policy(t, c, m.overall_policy.emplace())) return false;
      if (!pool_elements(cur, c, m.pool_elements) || !optional_error(cur, c, m.error)) {
        return false;
      }
      break;
    }
    case asap::MessageType::EndpointKeepAlive: {
      auto& m = alternative<asap::EndpointKeepAlive>(out);
      m.home = (flags & kHomeFlag) != 0;
      m.server_id = server_id;
      if (!handle_and_pe_id(cur, c, m.pool_handle, m.pe_id)) return false;
      break;
    }
    case asap::MessageType::EndpointKeepAliveAck: {
      auto& m = alternative<asap::EndpointKeepAliveAck>(out);
      if (!handle_and_pe_id(cur, c, m.pool_handle, m.pe_id)) return false;
      break;
    }
    case asap::MessageType::EndpointUnreachable: {
      auto& m = alternative<asap::EndpointUnreachable>(out);
      if (!handle_and_pe_id(cur, c, m.pool_handle, m.pe_id)) return false;
      break;
    }
    case asap::MessageType::ServerAnnounce: {
      auto& m = alternative<asap::ServerAnnounce>(out);
      m.server_id = server_id;
      for (;;) {
        const Tlv* next = nullptr;
        if (!cur.peek(next)) return false;
        if (next == nullptr || !is_transport_type(next->type)) break;
        if (!decode_transport(*next, c, m.transports.emplace_back())) return false;
        cur.consume();
      }
      break;
    }
    case asap::MessageType::Cookie: {
      auto& m = alternative<asap::Cookie>(out);
      if (!cur.expect(ParameterType::Cookie, t, "cookie") || !decode_cookie(t, c, m.cookie)) {
        return false;
      }
      break;
    }
    case asap::MessageType::CookieEcho: {
      auto& m = alternative<asap::CookieEcho>(out);
      if (!cur.expect(ParameterType::Cookie, t, "cookie") || !decode_cookie(t, c, m.cookie)) {
        return false;
      }
      break;
    }
    case asap::MessageType::BusinessCard: {
      auto& m = alternative<asap::BusinessCard>(out);
      if (!cur.expect(ParameterType::PoolHandle, t, "pool handle") ||
          !decode_pool_handle(t, c, m.pool_handle) || !pool_elements(cur, c, m.pool_elements)) {
        return false;
      }
      if (m.pool_elements.empty()) {
        return c.fail(DecodeError::MissingParameter, "business card: no pool element");
      }
      break;
    }
    case asap::MessageType::Error: {
      auto& m = alternative<asap::ErrorMessage>(out);
      if (!cur.expect(ParameterType::OperationError, t, "operation error") ||
          !decode_operation_error(t, c, m.error)) {
        return false;
      }
      break;
    }
  }
  return cur.finish();
}

}  // namespace

void encode(const AsapMessage& message, std::vector<std::byte>& out) {
  std::visit(AsapEncoder{out}, message);
}

std::vector<std::byte> encode(const AsapMessage& message) { return encode_new(message); }

Result<AsapMessage, DecodeError> decode_asap(std::span<const std::byte> bytes,
                                             DecodeReport* report) {
  return decode_message<AsapMessage, asap::MessageType, decode_asap_body>(bytes, report,
                                                                          kAsapFamily);
}

}  // namespace rsp::wire
