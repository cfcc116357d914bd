// Typed ASAP (RFC 5352 §2.2) and ENRP (RFC 5353 §2) messages and the parameters they carry
// (RFC 5354 §3). Values only: rsp/wire/codec.hpp turns them into bytes and back.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "rsp/wire/types.hpp"

namespace rsp::wire {

// SCTP payload protocol identifiers (IANA, per the IANA sections of RFC 5352 and RFC 5353).
inline constexpr std::uint32_t kAsapPpid = 11;
inline constexpr std::uint32_t kEnrpPpid = 12;
// IANA ports: asap-sctp 3863, enrp-sctp 9901 (the ones RSPLIB and Wireshark use).
inline constexpr std::uint16_t kAsapPort = 3863;
inline constexpr std::uint16_t kEnrpPort = 9901;

// RFC 5354 §3.12: error cause codes of an Operation Error parameter.
enum class CauseCode : std::uint16_t {
  UnrecognizedParameter = 0x1,                 // info: the unrecognized parameter TLV
  UnrecognizedMessage = 0x2,                   // info: the unrecognized message
  InvalidValues = 0x3,                         // info: the offending parameter TLV
  NonUniquePeIdentifier = 0x4,                 // no info
  InconsistentPoolingPolicy = 0x5,             // info: the policy parameter TLV
  LackOfResources = 0x6,                       // no info
  InconsistentTransportType = 0x7,             // info: the user transport parameter TLV
  InconsistentDataControlConfiguration = 0x8,  // no info
  UnknownPoolHandle = 0x9,                     // no info
  RejectedDueToSecurity = 0xa,                 // no info
};
std::string_view to_string(CauseCode code) noexcept;  // "Invalid Values", "unknown cause 0x1f"...

// One error cause: code plus the cause-specific information, kept verbatim (for the codes
// that echo something, the whole offending TLV or message including its own header).
// A cause code this build does not know is kept with its raw value.
struct ErrorCause {
  CauseCode code = CauseCode::InvalidValues;
  std::vector<std::byte> info;
  bool operator==(const ErrorCause&) const = default;
};

// RFC 5354 §3.12: one or more error causes.
struct OperationError {
  std::vector<ErrorCause> causes;
  bool operator==(const OperationError&) const = default;
};

// RFC 5354 §3.15: 16-bit handlespace checksum of the PEs a registrar owns (RFC 5353 §3.5).
using PoolElementChecksum = std::uint16_t;

// RFC 5354 §3.10: a pool element. Registration life is a signed 32-bit count of milliseconds on
// the wire; values outside that range are saturated by the encoder.
struct PoolElement {
  PoolElementId id = 0;
  RegistrarId home_registrar_id = 0;
  std::chrono::milliseconds registration_life{0};
  TransportAddress user_transport;
  PolicyInfo policy;
  std::optional<TransportAddress> asap_transport;  // SCTP, when the PE offers control channel
  bool operator==(const PoolElement&) const = default;
};

// RFC 5354 §3.11: a registrar's identifier and its SCTP transport (ENRP endpoint).
struct ServerInformation {
  RegistrarId server_id = 0;
  TransportAddress transport;  // protocol must be Sctp
  bool operator==(const ServerInformation&) const = default;
};

// draft-dreibholz-rserpool-asap-hropt §3: how many PEs the PU wants in the response.
struct HandleResolutionOption {
  std::uint32_t items = 0;
  bool operator==(const HandleResolutionOption&) const = default;
};

namespace asap {

// RFC 5352 §2.1 message types (note: DEREGISTRATION is 0x02, REGISTRATION_RESPONSE 0x03).
enum class MessageType : std::uint8_t {
  Registration = 0x01,
  Deregistration = 0x02,
  RegistrationResponse = 0x03,
  DeregistrationResponse = 0x04,
  HandleResolution = 0x05,
  HandleResolutionResponse = 0x06,
  EndpointKeepAlive = 0x07,
  EndpointKeepAliveAck = 0x08,
  EndpointUnreachable = 0x09,
  ServerAnnounce = 0x0a,
  Cookie = 0x0b,
  CookieEcho = 0x0c,
  BusinessCard = 0x0d,
  Error = 0x0e,
};

// §2.2.1
struct Registration {
  PoolHandle pool_handle;
  PoolElement pool_element;
  bool operator==(const Registration&) const = default;
};
// §2.2.2
struct Deregistration {
  PoolHandle pool_handle;
  PoolElementId pe_id = 0;
  bool operator==(const Deregistration&) const = default;
};
// §2.2.3: R flag = registration rejected.
struct RegistrationResponse {
  bool rejected = false;
  PoolHandle pool_handle;
  PoolElementId pe_id = 0;
  std::optional<OperationError> error;
  bool operator==(const RegistrationResponse&) const = default;
};
// §2.2.4
struct DeregistrationResponse {
  PoolHandle pool_handle;
  PoolElementId pe_id = 0;
  std::optional<OperationError> error;
  bool operator==(const DeregistrationResponse&) const = default;
};
// §2.2.5; RSPLIB adds the Handle Resolution Option.
struct HandleResolution {
  PoolHandle pool_handle;
  std::optional<HandleResolutionOption> option;
  bool operator==(const HandleResolution&) const = default;
};
// §2.2.6: the selected PEs, or an Operation Error (e.g. Unknown Pool Handle).
struct HandleResolutionResponse {
  PoolHandle pool_handle;
  std::optional<PolicyInfo> overall_policy;
  std::vector<PoolElement> pool_elements;
  std::optional<OperationError> error;
  bool operator==(const HandleResolutionResponse&) const = default;
};
// §2.2.7: H flag = "the sender is now your home registrar".
struct EndpointKeepAlive {
  bool home = false;
  RegistrarId server_id = 0;
  PoolHandle pool_handle;
  PoolElementId pe_id = 0;
  bool operator==(const EndpointKeepAlive&) const = default;
};
// §2.2.8
struct EndpointKeepAliveAck {
  PoolHandle pool_handle;
  PoolElementId pe_id = 0;
  bool operator==(const EndpointKeepAliveAck&) const = default;
};
// §2.2.9
struct EndpointUnreachable {
  PoolHandle pool_handle;
  PoolElementId pe_id = 0;
  bool operator==(const EndpointUnreachable&) const = default;
};
// §2.2.10: the registrar's id and the transports its ASAP endpoint listens on.
struct ServerAnnounce {
  RegistrarId server_id = 0;
  std::vector<TransportAddress> transports;
  bool operator==(const ServerAnnounce&) const = default;
};
// §2.2.11
struct Cookie {
  std::vector<std::byte> cookie;
  bool operator==(const Cookie&) const = default;
};
// §2.2.12
struct CookieEcho {
  std::vector<std::byte> cookie;
  bool operator==(const CookieEcho&) const = default;
};
// §2.2.13
struct BusinessCard {
  PoolHandle pool_handle;
  std::vector<PoolElement> pool_elements;
  bool operator==(const BusinessCard&) const = default;
};
// §2.2.14 (ERROR)
struct ErrorMessage {
  OperationError error;
  bool operator==(const ErrorMessage&) const = default;
};

}  // namespace asap

using AsapMessage =
    std::variant<asap::Registration, asap::Deregistration, asap::RegistrationResponse,
                 asap::DeregistrationResponse, asap::HandleResolution,
                 asap::HandleResolutionResponse, asap::EndpointKeepAlive,
                 asap::EndpointKeepAliveAck, asap::EndpointUnreachable, asap::ServerAnnounce,
                 asap::Cookie, asap::CookieEcho, asap::BusinessCard, asap::ErrorMessage>;

asap::MessageType message_type(const AsapMessage& message) noexcept;
std::string_view to_string(asap::MessageType type) noexcept;  // "REGISTRATION", ...

namespace enrp {

// RFC 5353 §2 message types.
enum class MessageType : std::uint8_t {
  Presence = 0x01,
  HandleTableRequest = 0x02,
  HandleTableResponse = 0x03,
  HandleUpdate = 0x04,
  ListRequest = 0x05,
  ListResponse = 0x06,
  InitTakeover = 0x07,
  InitTakeoverAck = 0x08,
  TakeoverServer = 0x09,
  Error = 0x0a,
};

// §2.1: R flag = reply required.
struct Presence {
  bool reply_required = false;
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  PoolElementChecksum checksum = 0;
  std::optional<ServerInformation> server_information;
  bool operator==(const Presence&) const = default;
};
// §2.2: W flag = own children only.
struct HandleTableRequest {
  bool own_children_only = false;
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  bool operator==(const HandleTableRequest&) const = default;
};
// One pool of a HANDLE_TABLE_RESPONSE: its handle followed by its PEs.
struct PoolEntry {
  PoolHandle pool_handle;
  std::vector<PoolElement> pool_elements;
  bool operator==(const PoolEntry&) const = default;
};
// §2.3: M flag = more to send, R flag = rejected.
struct HandleTableResponse {
  bool more_to_send = false;
  bool rejected = false;
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  std::vector<PoolEntry> pools;
  bool operator==(const HandleTableResponse&) const = default;
};
// §2.4
enum class UpdateAction : std::uint16_t { AddPe = 0, DeletePe = 1 };
// §2.4: T flag = takeover suggested (draft-dreibholz-rserpool-enrp-takeover, as RSPLIB).
struct HandleUpdate {
  bool takeover_suggested = false;
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  UpdateAction action = UpdateAction::AddPe;
  PoolHandle pool_handle;
  PoolElement pool_element;
  bool operator==(const HandleUpdate&) const = default;
};
// §2.5
struct ListRequest {
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  bool operator==(const ListRequest&) const = default;
};
// §2.6: R flag = rejected.
struct ListResponse {
  bool rejected = false;
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  std::vector<ServerInformation> servers;
  bool operator==(const ListResponse&) const = default;
};
// §2.7-2.9: takeover of the target registrar's PEs.
struct InitTakeover {
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  RegistrarId target_id = 0;
  bool operator==(const InitTakeover&) const = default;
};
struct InitTakeoverAck {
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  RegistrarId target_id = 0;
  bool operator==(const InitTakeoverAck&) const = default;
};
struct TakeoverServer {
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  RegistrarId target_id = 0;
  bool operator==(const TakeoverServer&) const = default;
};
// §2.10 (ERROR)
struct ErrorMessage {
  RegistrarId sender_id = 0;
  RegistrarId receiver_id = 0;
  OperationError error;
  bool operator==(const ErrorMessage&) const = default;
};

}  // namespace enrp

using EnrpMessage =
    std::variant<enrp::Presence, enrp::HandleTableRequest, enrp::HandleTableResponse,
                 enrp::HandleUpdate, enrp::ListRequest, enrp::ListResponse, enrp::InitTakeover,
                 enrp::InitTakeoverAck, enrp::TakeoverServer, enrp::ErrorMessage>;

enrp::MessageType message_type(const EnrpMessage& message) noexcept;
std::string_view to_string(enrp::MessageType type) noexcept;  // "PRESENCE", ...

}  // namespace rsp::wire
