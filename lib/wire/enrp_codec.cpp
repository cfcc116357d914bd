// ENRP messages (RFC 5353 §2) <-> bytes. Every ENRP message starts with the sending and the
// receiving server's identifiers after the common 4-byte header.
#include <fmt/format.h>

#include "decoder.hpp"

namespace rsp::wire {

using namespace detail;

namespace {

constexpr std::uint8_t kReplyRequiredFlag = 0x01;    // R: PRESENCE (§2.1)
constexpr std::uint8_t kOwnChildrenOnlyFlag = 0x01;  // W: HANDLE_TABLE_REQUEST (§2.2)
constexpr std::uint8_t kEnrpRejectFlag = 0x01;       // R: HANDLE_TABLE_RESPONSE, LIST_RESPONSE
constexpr std::uint8_t kMoreToSendFlag = 0x02;       // M: HANDLE_TABLE_RESPONSE (§2.3)
constexpr std::uint8_t kTakeoverSuggestedFlag = 0x01;  // T: HANDLE_UPDATE

// RFC 5353 §2: PRESENCE 0x01 ... ERROR 0x0a.
constexpr MessageFamily kEnrpFamily{"ENRP", 0x0a};

struct EnrpEncoder {
  std::vector<std::byte>& out;

  std::size_t begin(enrp::MessageType t, std::uint8_t flags, RegistrarId sender,
                    RegistrarId receiver) {
    const auto s = begin_message(out, static_cast<std::uint8_t>(t), flags);
    put_u32(out, sender);
    put_u32(out, receiver);
    return s;
  }
  void operator()(const enrp::Presence& m) {
    const auto s = begin(enrp::MessageType::Presence, m.reply_required ? kReplyRequiredFlag : 0,
                         m.sender_id, m.receiver_id);
    put_pe_checksum(out, m.checksum);
    if (m.server_information) put_server_information(out, *m.server_information);
    end_message(out, s);
  }
  void operator()(const enrp::HandleTableRequest& m) {
    const auto s = begin(enrp::MessageType::HandleTableRequest,
                         m.own_children_only ? kOwnChildrenOnlyFlag : 0, m.sender_id,
                         m.receiver_id);
    end_message(out, s);
  }
  void operator()(const enrp::HandleTableResponse& m) {
    const std::uint8_t flags =
        (m.rejected ? kEnrpRejectFlag : 0) | (m.more_to_send ? kMoreToSendFlag : 0);
    const auto s =
        begin(enrp::MessageType::HandleTableResponse, flags, m.sender_id, m.receiver_id);
    for (const auto& pool : m.pools) {
      put_pool_handle(out, pool.pool_handle);
      for (const auto& pe : pool.pool_elements) put_pool_element(out, pe);
    }
    end_message(out, s);
  }
  void operator()(const enrp::HandleUpdate& m) {
    const auto s =
        begin(enrp::MessageType::HandleUpdate, m.takeover_suggested ? kTakeoverSuggestedFlag : 0,
              m.sender_id, m.receiver_id);
    put_u16(out, static_cast<std::uint16_t>(m.action));
    put_u16(out, 0);  // reserved
    put_pool_handle(out, m.pool_handle);
    put_pool_element(out, m.pool_element);
    end_message(out, s);
  }
  void operator()(const enrp::ListRequest& m) {
    end_message(out, begin(enrp::MessageType::ListRequest, 0, m.sender_id, m.receiver_id));
  }
  void operator()(const enrp::ListResponse& m) {
    const auto s = begin(enrp::MessageType::ListResponse, m.rejected ? kEnrpRejectFlag : 0,
                         m.sender_id, m.receiver_id);
    for (const auto& info : m.servers) put_server_information(out, info);
    end_message(out, s);
  }
  void takeover(enrp::MessageType t, RegistrarId sender, RegistrarId receiver,
                RegistrarId target) {
    const auto s = begin(t, 0, sender, receiver);
    put_u32(out, target);
    end_message(out, s);
  }
  void operator()(const enrp::InitTakeover& m) {
    takeover(enrp::MessageType::InitTakeover, m.sender_id, m.receiver_id, m.target_id);
  }
  void operator()(const enrp::InitTakeoverAck& m) {
    takeover(enrp::MessageType::InitTakeoverAck, m.sender_id, m.receiver_id, m.target_id);
  }
  void operator()(const enrp::TakeoverServer& m) {
    takeover(enrp::MessageType::TakeoverServer, m.sender_id, m.receiver_id, m.target_id);
  }
  void operator()(const enrp::ErrorMessage& m) {
    const auto s = begin(enrp::MessageType::Error, 0, m.sender_id, m.receiver_id);
    put_operation_error(out, m.error);
    end_message(out, s);
  }
};

bool fixed_field_missing(DecodeContext& c, const char* what) {
  return c.fail(DecodeError::Truncated, fmt::format("message: {} missing", what));
}

template <typename M>
bool takeover_body(Reader& r, DecodeContext& c, EnrpMessage& out, RegistrarId sender,
                   RegistrarId receiver) {
  auto& m = out.emplace<M>();
  m.sender_id = sender;
  m.receiver_id = receiver;
  if (!r.u32(m.target_id)) return fixed_field_missing(c, "target server identifier");
  return true;
}

// RFC 5353 §2: the body after the common header (decode_message has checked the type).
bool decode_enrp_body(enrp::MessageType type, std::uint8_t flags, std::span<const std::byte> body,
                      DecodeContext& c, EnrpMessage& out) {
  Reader r(body);
  RegistrarId sender = 0, receiver = 0;
  if (!r.u32(sender) || !r.u32(receiver)) {
    return fixed_field_missing(c, "sending/receiving server identifiers");
  }
  std::uint16_t action = 0, reserved = 0;
  switch (type) {
    case enrp::MessageType::InitTakeover:
      if (!takeover_body<enrp::InitTakeover>(r, c, out, sender, receiver)) return false;
      break;
    case enrp::MessageType::InitTakeoverAck:
      if (!takeover_body<enrp::InitTakeoverAck>(r, c, out, sender, receiver)) return false;
      break;
    case enrp::MessageType::TakeoverServer:
      if (!takeover_body<enrp::TakeoverServer>(r, c, out, sender, receiver)) return false;
      break;
    case enrp::MessageType::HandleUpdate:
      if (!r.u16(action) || !r.u16(reserved)) return fixed_field_missing(c, "update action");
      if (action > 1) {
        return c.fail(DecodeError::InvalidValue,
                      fmt::format("handle update: update action {} is neither 0 (add) nor 1 "
                                  "(delete)",
                                  action));
      }
      break;
    default: break;
  }
  ParameterCursor cur(r.rest(), c, "message");
  Tlv t;
  bool present = false;
  switch (type) {
    case enrp::MessageType::Presence: {
      auto& m = alternative<enrp::Presence>(out);
      m.reply_required = (flags & kReplyRequiredFlag) != 0;
      m.sender_id = sender;
      m.receiver_id = receiver;
      if (!cur.expect(ParameterType::PoolElementChecksum, t, "PE checksum") ||
          !decode_pe_checksum(t, c, m.checksum) ||
          !cur.optional(ParameterType::ServerInformation, t, present)) {
        return false;
      }
      if (present && !decode_server_information(t, c, m.server_information.emplace())) {
        return false;
      }
      break;
    }
    case enrp::MessageType::HandleTableRequest: {
      auto& m = alternative<enrp::HandleTableRequest>(out);
      m.own_children_only = (flags & kOwnChildrenOnlyFlag) != 0;
      m.sender_id = sender;
      m.receiver_id = receiver;
      break;
    }
    case enrp::MessageType::HandleTableResponse: {
      auto& m = alternative<enrp::HandleTableResponse>(out);
      m.rejected = (flags & kEnrpRejectFlag) != 0;
      m.more_to_send = (flags & kMoreToSendFlag) != 0;
      m.sender_id = sender;
      m.receiver_id = receiver;
      // RFC 5353 §2.3: pool entries, each a pool handle followed by that pool's PEs.
      for (;;) {
        if (!cur.optional(ParameterType::PoolHandle, t, present)) return false;
        if (!present) break;
        auto& pool = m.pools.emplace_back();
        if (!decode_pool_handle(t, c, pool.pool_handle)) return false;
        for (;;) {
          if (!cur.optional(ParameterType::PoolElement, t, present)) return false;
          if (!present) break;
          if (!decode_pool_element(t, c, pool.pool_elements.emplace_back())) return false;
        }
      }
      break;
    }
    case enrp::MessageType::HandleUpdate: {
      auto& m = alternative<enrp::HandleUpdate>(out);
      m.takeover_suggested = (flags & kTakeoverSuggestedFlag) != 0;
      m.sender_id = sender;
      m.receiver_id = receiver;
      m.action = static_cast<enrp::UpdateAction>(action);
      if (!cur.expect(ParameterType::PoolHandle, t, "pool handle") ||
          !decode_pool_handle(t, c, m.pool_handle) ||
          !cur.expect(ParameterType::PoolElement, t, "pool element") ||
          !decode_pool_element(t, c, m.pool_element)) {
        return false;
      }
      break;
    }
    case enrp::MessageType::ListRequest: {
      auto& m = alternative<enrp::ListRequest>(out);
      m.sender_id = sender;
      m.receiver_id = receiver;
      break;
    }
    case enrp::MessageType::ListResponse: {
      auto& m = alternative<enrp::ListResponse>(out);
      m.rejected = (flags & kEnrpRejectFlag) != 0;
      m.sender_id = sender;
      m.receiver_id = receiver;
      for (;;) {
        if (!cur.optional(ParameterType::ServerInformation, t, present)) return false;
        if (!present) break;
        if (!decode_server_information(t, c, m.servers.emplace_back())) return false;
      }
      break;
    }
    case enrp::MessageType::Error: {
      auto& m = alternative<enrp::ErrorMessage>(out);
      m.sender_id = sender;
      m.receiver_id = receiver;
      if (!cur.expect(ParameterType::OperationError, t, "operation error") ||
          !decode_operation_error(t, c, m.error)) {
        return false;
      }
      break;
    }
    case enrp::MessageType::InitTakeover:
    case enrp::MessageType::InitTakeoverAck:
    case enrp::MessageType::TakeoverServer: break;  // fixed fields only, read above
  }
  return cur.finish();
}

}  // namespace

void encode(const EnrpMessage& message, std::vector<std::byte>& out) {
  std::visit(EnrpEncoder{out}, message);
}

std::vector<std::byte> encode(const EnrpMessage& message) { return encode_new(message); }

Result<EnrpMessage, DecodeError> decode_enrp(std::span<const std::byte> bytes,
                                             DecodeReport* report) {
  return decode_message<EnrpMessage, enrp::MessageType, decode_enrp_body>(bytes, report,
                                                                          kEnrpFamily);
}

}  // namespace rsp::wire
