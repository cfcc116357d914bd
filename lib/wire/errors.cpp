// Names of things, and what a peer is told when a message fails to decode (RFC 5354 §3.12).
#include <fmt/format.h>

#include "decoder.hpp"

namespace rsp::wire {

std::string_view to_string(CauseCode code) noexcept {
  switch (code) {
    case CauseCode::UnrecognizedParameter: return "Unrecognized Parameter";
    case CauseCode::UnrecognizedMessage: return "Unrecognized Message";
    case CauseCode::InvalidValues: return "Invalid Values";
    case CauseCode::NonUniquePeIdentifier: return "Non-unique PE Identifier";
    case CauseCode::InconsistentPoolingPolicy: return "Inconsistent Pooling Policy";
    case CauseCode::LackOfResources: return "Lack of Resources";
    case CauseCode::InconsistentTransportType: return "Inconsistent Transport Type";
    case CauseCode::InconsistentDataControlConfiguration:
      return "Inconsistent Data/Control Configuration";
    case CauseCode::UnknownPoolHandle: return "Unknown Pool Handle";
    case CauseCode::RejectedDueToSecurity: return "Rejected due to Security Considerations";
  }
  return "unknown cause";
}

std::string_view to_string(DecodeError error) noexcept {
  switch (error) {
    case DecodeError::Truncated: return "truncated";
    case DecodeError::BadLength: return "bad length";
    case DecodeError::BadPadding: return "bad padding";
    case DecodeError::TrailingBytes: return "trailing bytes";
    case DecodeError::TooDeep: return "nested too deep";
    case DecodeError::TooLarge: return "too large";
    case DecodeError::UnrecognizedMessage: return "unrecognized message";
    case DecodeError::UnrecognizedParameter: return "unrecognized parameter";
    case DecodeError::UnrecognizedParameterNoReport: return "unrecognized parameter (no report)";
    case DecodeError::MissingParameter: return "missing parameter";
    case DecodeError::UnexpectedParameter: return "unexpected parameter";
    case DecodeError::InvalidValue: return "invalid value";
  }
  return "unknown decode error";
}

std::optional<CauseCode> cause_for(DecodeError error) noexcept {
  switch (error) {
    case DecodeError::UnrecognizedMessage: return CauseCode::UnrecognizedMessage;
    case DecodeError::UnrecognizedParameter: return CauseCode::UnrecognizedParameter;
    case DecodeError::UnrecognizedParameterNoReport: return std::nullopt;  // RFC 5354 §3: 00
    case DecodeError::TooLarge: return CauseCode::LackOfResources;
    case DecodeError::Truncated:
    case DecodeError::BadLength:
    case DecodeError::BadPadding:
    case DecodeError::TrailingBytes:
    case DecodeError::TooDeep:
    case DecodeError::MissingParameter:
    case DecodeError::UnexpectedParameter:
    case DecodeError::InvalidValue: return CauseCode::InvalidValues;
  }
  return CauseCode::InvalidValues;
}

std::optional<OperationError> operation_error_for(DecodeError error, const DecodeReport& report) {
  const auto cause = cause_for(error);
  if (!cause) return std::nullopt;
  ErrorCause c{*cause, {}};
  const bool echoes = *cause == CauseCode::InvalidValues ||
                      *cause == CauseCode::UnrecognizedParameter ||
                      *cause == CauseCode::UnrecognizedMessage;
  // The echo must leave room for the headers of the ERROR message that carries it.
  constexpr std::size_t kRoom = 64;
  if (echoes && report.offending.size() <= kMaxMessageSize - kRoom) c.info = report.offending;
  return OperationError{{std::move(c)}};
}

std::optional<OperationError> unrecognized_parameters_error(const DecodeReport& report) {
  if (report.unrecognized_parameters.empty()) return std::nullopt;
  OperationError error;
  for (const auto& tlv : report.unrecognized_parameters) {
    error.causes.push_back(ErrorCause{CauseCode::UnrecognizedParameter, tlv});
  }
  return error;
}

// Variant alternatives are declared in message-type order (types 0x01, 0x02, ...).
asap::MessageType message_type(const AsapMessage& message) noexcept {
  return static_cast<asap::MessageType>(message.index() + 1);
}
enrp::MessageType message_type(const EnrpMessage& message) noexcept {
  return static_cast<enrp::MessageType>(message.index() + 1);
}

std::string_view to_string(asap::MessageType type) noexcept {
  switch (type) {
    case asap::MessageType::Registration: return "REGISTRATION";
    case asap::MessageType::Deregistration: return "DEREGISTRATION";
    case asap::MessageType::RegistrationResponse: return "REGISTRATION_RESPONSE";
    case asap::MessageType::DeregistrationResponse: return "DEREGISTRATION_RESPONSE";
    case asap::MessageType::HandleResolution: return "HANDLE_RESOLUTION";
    case asap::MessageType::HandleResolutionResponse: return "HANDLE_RESOLUTION_RESPONSE";
    case asap::MessageType::EndpointKeepAlive: return "ENDPOINT_KEEP_ALIVE";
    case asap::MessageType::EndpointKeepAliveAck: return "ENDPOINT_KEEP_ALIVE_ACK";
    case asap::MessageType::EndpointUnreachable: return "ENDPOINT_UNREACHABLE";
    case asap::MessageType::ServerAnnounce: return "SERVER_ANNOUNCE";
    case asap::MessageType::Cookie: return "COOKIE";
    case asap::MessageType::CookieEcho: return "COOKIE_ECHO";
    case asap::MessageType::BusinessCard: return "BUSINESS_CARD";
    case asap::MessageType::Error: return "ERROR";
  }
  return "unknown ASAP message";
}

std::string_view to_string(enrp::MessageType type) noexcept {
  switch (type) {
    case enrp::MessageType::Presence: return "PRESENCE";
    case enrp::MessageType::HandleTableRequest: return "HANDLE_TABLE_REQUEST";
    case enrp::MessageType::HandleTableResponse: return "HANDLE_TABLE_RESPONSE";
    case enrp::MessageType::HandleUpdate: return "HANDLE_UPDATE";
    case enrp::MessageType::ListRequest: return "LIST_REQUEST";
    case enrp::MessageType::ListResponse: return "LIST_RESPONSE";
    case enrp::MessageType::InitTakeover: return "INIT_TAKEOVER";
    case enrp::MessageType::InitTakeoverAck: return "INIT_TAKEOVER_ACK";
    case enrp::MessageType::TakeoverServer: return "TAKEOVER_SERVER";
    case enrp::MessageType::Error: return "ERROR";
  }
  return "unknown ENRP message";
}

}  // namespace rsp::wire
