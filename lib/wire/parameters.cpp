// RFC 5354 §3 parameters: decoders (from framed TLVs) and encoders (to padded TLVs).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "decoder.hpp"

namespace rsp::wire::detail {

namespace {

constexpr std::uint16_t raw(ParameterType t) { return static_cast<std::uint16_t>(t); }

bool truncated(DecodeContext& c, const Tlv& tlv, const char* what) {
  return c.fail(DecodeError::Truncated,
                fmt::format("{}: value of {} byte(s) too short", what, tlv.value.size()),
                tlv.whole());
}

[[gnu::noinline]] bool wrong_size(DecodeContext& c, const Tlv& tlv, std::size_t expected,
                                   const char* what) {
  return c.fail(tlv.value.size() < expected ? DecodeError::Truncated : DecodeError::InvalidValue,
                fmt::format("{}: value of {} byte(s), expected {}", what, tlv.value.size(),
                            expected),
                tlv.whole());
}

inline bool exact_size(DecodeContext& c, const Tlv& tlv, std::size_t expected, const char* what) {
  return tlv.value.size() == expected || wrong_size(c, tlv, expected, what);
}

std::uint32_t read_u32_unchecked(std::span<const std::byte> b) {
  Reader r(b);
  std::uint32_t v = 0;
  (void)r.u32(v);
  return v;
}

// ---- policies: RFC 5356 §4-5 and RSPLIB's rserpoolmessage.h for the 0xb000xxxx ids ----
using Field = std::uint32_t PolicyInfo::*;
struct PolicyLayout {
  PolicyType type;
  std::size_t count;
  Field fields[4];
};
// Order of fields = order on the wire, after the 32-bit policy type.
constexpr PolicyLayout kPolicyLayouts[] = {
    {PolicyType::RoundRobin, 0, {}},
    {PolicyType::WeightedRoundRobin, 1, {&PolicyInfo::weight}},
    {PolicyType::Random, 0, {}},
    {PolicyType::WeightedRandom, 1, {&PolicyInfo::weight}},
    {PolicyType::Priority, 1, {&PolicyInfo::priority}},
    {PolicyType::LeastUsed, 1, {&PolicyInfo::load}},
    {PolicyType::LeastUsedWithDegradation, 2, {&PolicyInfo::load, &PolicyInfo::load_degradation}},
    // RFC 5356 §5.3 (and Wireshark): load, load increment. RSPLIB sends the load alone; the
    // decoder accepts both (see decode_policy).
    {PolicyType::PriorityLeastUsed, 2, {&PolicyInfo::load, &PolicyInfo::load_degradation}},
    {PolicyType::RandomizedLeastUsed, 1, {&PolicyInfo::load}},
    {PolicyType::RandomizedPriorityLeastUsed, 1, {&PolicyInfo::load}},
    {PolicyType::RandomizedLeastUsedDegradation, 2,
     {&PolicyInfo::load, &PolicyInfo::load_degradation}},
    {PolicyType::PriorityLeastUsedDegradation, 2,
     {&PolicyInfo::load, &PolicyInfo::load_degradation}},
    {PolicyType::RandomizedPriorityLeastUsedDegradation, 2,
     {&PolicyInfo::load, &PolicyInfo::load_degradation}},
    {PolicyType::WeightedRandomDpf, 3,
     {&PolicyInfo::weight, &PolicyInfo::weight_dpf, &PolicyInfo::distance}},
    {PolicyType::LeastUsedDpf, 3,
     {&PolicyInfo::load, &PolicyInfo::load_dpf, &PolicyInfo::distance}},
    {PolicyType::LeastUsedDegradationDpf, 4,
     {&PolicyInfo::load, &PolicyInfo::load_degradation, &PolicyInfo::load_dpf,
      &PolicyInfo::distance}},
};

const PolicyLayout* policy_layout(PolicyType type) {
  for (const auto& l : kPolicyLayouts) {
    if (l.type == type) return &l;
  }
  return nullptr;
}

void put_address(std::vector<std::byte>& out, const IpAddress& a) {
  const auto start =
      begin_tlv(out, raw(a.is_v4() ? ParameterType::Ipv4Address : ParameterType::Ipv6Address));
  const std::size_t n = a.is_v4() ? 4 : 16;
  put_bytes(out, std::as_bytes(std::span(a.bytes.data(), n)));
  end_tlv(out, start);
}

bool decode_address(const Tlv& tlv, DecodeContext& c, IpAddress& out) {
  const bool v4 = known_type(tlv.type) == ParameterType::Ipv4Address;
  if (!exact_size(c, tlv, v4 ? 4 : 16, v4 ? "IPv4 address" : "IPv6 address")) return false;
  out = IpAddress{};
  out.family = v4 ? IpAddress::Family::V4 : IpAddress::Family::V6;
  for (std::size_t i = 0; i < tlv.value.size(); ++i) {
    out.bytes[i] = static_cast<std::uint8_t>(tlv.value[i]);
  }
  return true;
}

ParameterType transport_parameter_type(TransportProtocol p) {
  switch (p) {
    case TransportProtocol::Dccp: return ParameterType::DccpTransport;
    case TransportProtocol::Sctp: return ParameterType::SctpTransport;
    case TransportProtocol::Tcp: return ParameterType::TcpTransport;
    case TransportProtocol::Udp: return ParameterType::UdpTransport;
    case TransportProtocol::UdpLite: return ParameterType::UdpLiteTransport;
  }
  throw std::invalid_argument("unknown TransportProtocol value");
}

// RFC 5354 §3.12: each cause is framed like a TLV (code, length, zero padding); its
// cause-specific information is opaque to the receiver. The echoes of RFC 5354 §3.12 (the
// unrecognized or invalid parameter, the unrecognized message) are by nature the bytes that
// failed to decode, often badly framed themselves (a truncated TLV), so they are kept verbatim
// and never parsed: a peer's error report always decodes. Nothing inside a cause recurses.
bool check_causes(std::span<const std::byte> value, DecodeContext& c, OperationError& out) {
  Reader r(value);
  std::size_t count = 0;
  while (!r.empty()) {
    Tlv cause;  // RFC 5354 §3.12: causes are framed exactly like TLVs (code, length, padding)
    if (!read_tlv(r, c, cause, "error cause")) return false;
    if (++count > kMaxErrorCauses) {
      return c.fail(DecodeError::TooLarge,
                    fmt::format("operation error: more than {} causes", kMaxErrorCauses));
    }
    out.causes.push_back(ErrorCause{static_cast<CauseCode>(cause.type),
                                    {cause.value.begin(), cause.value.end()}});
  }
  if (count == 0) return c.fail(DecodeError::InvalidValue, "operation error: no error cause");
  return true;
}

}  // namespace

// ---- decoders ----

bool decode_pool_handle(const Tlv& tlv, DecodeContext& c, PoolHandle& out) {
  if (tlv.value.empty() || tlv.value.size() > kMaxPoolHandleSize) {
    return c.fail(DecodeError::InvalidValue,
                  fmt::format("pool handle: {} byte(s), allowed 1 to {}", tlv.value.size(),
                              kMaxPoolHandleSize),
                  tlv.whole());
  }
  out = PoolHandle::from_bytes(tlv.value);
  return true;
}

bool decode_pe_identifier(const Tlv& tlv, DecodeContext& c, PoolElementId& out) {
  if (!exact_size(c, tlv, 4, "PE identifier")) return false;
  out = read_u32_unchecked(tlv.value);
  return true;
}

bool decode_pe_checksum(const Tlv& tlv, DecodeContext& c, PoolElementChecksum& out) {
  if (!exact_size(c, tlv, 2, "PE checksum")) return false;
  out = static_cast<PoolElementChecksum>((static_cast<unsigned>(tlv.value[0]) << 8) |
                                         static_cast<unsigned>(tlv.value[1]));
  return true;
}

bool decode_transport(const Tlv& tlv, DecodeContext& c, TransportAddress& out) {
  out.use = TransportUse::DataOnly;
  out.dccp_service_code = 0;
  out.addresses.clear();
  Reader r(tlv.value);
  std::uint16_t second = 0;
  if (!r.u16(out.port) || !r.u16(second)) return truncated(c, tlv, "transport parameter");
  switch (known_type(tlv.type)) {
    case ParameterType::SctpTransport: out.protocol = TransportProtocol::Sctp; break;
    case ParameterType::TcpTransport: out.protocol = TransportProtocol::Tcp; break;
    case ParameterType::UdpTransport: out.protocol = TransportProtocol::Udp; break;
    case ParameterType::UdpLiteTransport: out.protocol = TransportProtocol::UdpLite; break;
    case ParameterType::DccpTransport:
      out.protocol = TransportProtocol::Dccp;
      if (!r.u32(out.dccp_service_code)) return truncated(c, tlv, "DCCP transport parameter");
      break;
    default:
      return c.fail(DecodeError::UnexpectedParameter, "expected a transport parameter",
                    tlv.whole());
  }
  // RFC 5354 §3.4-3.5: SCTP and TCP carry "transport use"; the others a reserved field,
  // ignored on receipt.
  if (out.protocol == TransportProtocol::Sctp || out.protocol == TransportProtocol::Tcp) {
    if (second > 1) {
      return c.fail(DecodeError::InvalidValue,
                    fmt::format("transport parameter: transport use {} is neither 0 (data only) "
                                "nor 1 (data plus control)",
                                second),
                    tlv.whole());
    }
    out.use = static_cast<TransportUse>(second);
  }
  ParameterCursor cur(r.rest(), c, "transport parameter");
  for (;;) {
    const Tlv* next = nullptr;
    if (!cur.peek(next)) return false;
    if (next == nullptr) break;
    const auto t = known_type(next->type);
    if (t != ParameterType::Ipv4Address && t != ParameterType::Ipv6Address) {
      return c.fail(DecodeError::UnexpectedParameter,
                    fmt::format("transport parameter: parameter 0x{:04x} where addresses belong",
                                next->type),
                    next->whole());
    }
    if (out.addresses.size() == kMaxAddressesPerTransport) {
      return c.fail(DecodeError::TooLarge,
                    fmt::format("transport parameter: more than {} addresses",
                                kMaxAddressesPerTransport),
                    tlv.whole());
    }
    IpAddress a;
    if (!decode_address(*next, c, a)) return false;
    out.addresses.push_back(a);
    cur.consume();
  }
  if (out.addresses.empty()) {
    return c.fail(DecodeError::MissingParameter, "transport parameter: no address", tlv.whole());
  }
  // RFC 5354 §3.3, 3.5-3.7: only SCTP is multi-homed; the others carry exactly one address.
  if (out.protocol != TransportProtocol::Sctp && out.addresses.size() != 1) {
    return c.fail(DecodeError::InvalidValue,
                  fmt::format("transport parameter: {} addresses for a single-homed transport",
                              out.addresses.size()),
                  tlv.whole());
  }
  return true;
}

bool decode_policy(const Tlv& tlv, DecodeContext& c, PolicyInfo& out) {
  out.weight = out.priority = out.load = out.load_degradation = 0;
  out.load_dpf = out.weight_dpf = out.distance = 0;
  out.unknown_value.clear();
  Reader r(tlv.value);
  std::uint32_t type = 0;
  if (!r.u32(type)) return truncated(c, tlv, "policy parameter");
  out.type = static_cast<PolicyType>(type);
  const PolicyLayout* layout = policy_layout(out.type);
  if (layout == nullptr) {
    // A policy this build does not know: kept verbatim so that a registrar can relay it.
    const auto rest = r.rest();
    out.unknown_value.assign(rest.begin(), rest.end());
    return true;
  }
  std::size_t count = layout->count;
  // RSPLIB sends Priority Least Used with the load alone.
  if (out.type == PolicyType::PriorityLeastUsed && r.remaining() == 4) count = 1;
  if (r.remaining() != count * 4) {
    return c.fail(r.remaining() < count * 4 ? DecodeError::Truncated : DecodeError::InvalidValue,
                  fmt::format("policy parameter: policy 0x{:08x} takes {} byte(s) of values, "
                              "found {}",
                              type, count * 4, r.remaining()),
                  tlv.whole());
  }
  for (std::size_t i = 0; i < count; ++i) (void)r.u32(out.*(layout->fields[i]));
  return true;
}

bool decode_pool_element(const Tlv& tlv, DecodeContext& c, PoolElement& out) {
  Reader r(tlv.value);
  std::uint32_t life = 0;
  if (!r.u32(out.id) || !r.u32(out.home_registrar_id) || !r.u32(life)) {
    return truncated(c, tlv, "pool element parameter");
  }
  out.registration_life = std::chrono::milliseconds(static_cast<std::int32_t>(life));
  ParameterCursor cur(r.rest(), c, "pool element parameter");
  const Tlv* next = nullptr;
  if (!cur.peek(next)) return false;
  if (next == nullptr) {
    return c.fail(DecodeError::MissingParameter, "pool element parameter: user transport missing",
                  tlv.whole());
  }
  if (!is_transport_type(next->type)) {
    return c.fail(DecodeError::UnexpectedParameter,
                  fmt::format("pool element parameter: expected the user transport, found "
                              "parameter 0x{:04x}",
                              next->type),
                  next->whole());
  }
  if (!decode_transport(*next, c, out.user_transport)) return false;
  cur.consume();
  Tlv t;
  if (!cur.expect(ParameterType::PoolMemberSelectionPolicy, t, "member selection policy")) {
    return false;
  }
  if (!decode_policy(t, c, out.policy)) return false;
  out.asap_transport.reset();
  if (!cur.peek(next)) return false;
  if (next != nullptr && is_transport_type(next->type)) {
    // RFC 5354 §3.10: the ASAP transport is the PE's SCTP endpoint for control traffic.
    if (known_type(next->type) != ParameterType::SctpTransport) {
      return c.fail(DecodeError::InvalidValue,
                    "pool element parameter: ASAP transport is not SCTP", next->whole());
    }
    TransportAddress asap;
    if (!decode_transport(*next, c, asap)) return false;
    out.asap_transport = std::move(asap);
    cur.consume();
  }
  return cur.finish();
}

bool decode_server_information(const Tlv& tlv, DecodeContext& c, ServerInformation& out) {
  Reader r(tlv.value);
  if (!r.u32(out.server_id)) return truncated(c, tlv, "server information parameter");
  ParameterCursor cur(r.rest(), c, "server information parameter");
  Tlv t;
  if (!cur.expect(ParameterType::SctpTransport, t, "SCTP transport")) return false;
  if (!decode_transport(t, c, out.transport)) return false;
  return cur.finish();
}

bool decode_operation_error(const Tlv& tlv, DecodeContext& c, OperationError& out) {
  out.causes.clear();
  return check_causes(tlv.value, c, out);
}

bool decode_cookie(const Tlv& tlv, DecodeContext&, std::vector<std::byte>& out) {
  out.assign(tlv.value.begin(), tlv.value.end());
  return true;
}

bool decode_hropt(const Tlv& tlv, DecodeContext& c, HandleResolutionOption& out) {
  if (!exact_size(c, tlv, 4, "handle resolution option")) return false;
  out.items = read_u32_unchecked(tlv.value);
  return true;
}

// ---- encoders ----

void put_pool_handle(std::vector<std::byte>& out, const PoolHandle& handle) {
  if (handle.empty() || handle.size() > kMaxPoolHandleSize) {
    throw std::invalid_argument(fmt::format("pool handle of {} bytes (allowed 1 to {})",
                                            handle.size(), kMaxPoolHandleSize));
  }
  const auto start = begin_tlv(out, raw(ParameterType::PoolHandle));
  const auto v = handle.view();
  put_bytes(out, std::as_bytes(std::span(v.data(), v.size())));
  end_tlv(out, start);
}

void put_pe_identifier(std::vector<std::byte>& out, PoolElementId id) {
  const auto start = begin_tlv(out, raw(ParameterType::PoolElementIdentifier));
  put_u32(out, id);
  end_tlv(out, start);
}

void put_pe_checksum(std::vector<std::byte>& out, PoolElementChecksum checksum) {
  const auto start = begin_tlv(out, raw(ParameterType::PoolElementChecksum));
  put_u16(out, checksum);
  end_tlv(out, start);
}

void put_transport(std::vector<std::byte>& out, const TransportAddress& t) {
  const auto start = begin_tlv(out, raw(transport_parameter_type(t.protocol)));
  put_u16(out, t.port);
  const bool has_use = t.protocol == TransportProtocol::Sctp || t.protocol == TransportProtocol::Tcp;
  put_u16(out, has_use ? static_cast<std::uint16_t>(t.use) : 0);
  if (t.protocol == TransportProtocol::Dccp) put_u32(out, t.dccp_service_code);
  for (const auto& a : t.addresses) put_address(out, a);
  end_tlv(out, start);
}

void put_policy(std::vector<std::byte>& out, const PolicyInfo& p) {
  const auto start = begin_tlv(out, raw(ParameterType::PoolMemberSelectionPolicy));
  put_u32(out, static_cast<std::uint32_t>(p.type));
  if (const PolicyLayout* layout = policy_layout(p.type)) {
    for (std::size_t i = 0; i < layout->count; ++i) put_u32(out, p.*(layout->fields[i]));
  } else {
    put_bytes(out, p.unknown_value);
  }
  end_tlv(out, start);
}

void put_pool_element(std::vector<std::byte>& out, const PoolElement& e) {
  const auto start = begin_tlv(out, raw(ParameterType::PoolElement));
  put_u32(out, e.id);
  put_u32(out, e.home_registrar_id);
  // RFC 5354 §3.10: a signed 32-bit number of milliseconds; saturate what does not fit.
  const auto life = std::clamp<std::chrono::milliseconds::rep>(
      e.registration_life.count(), std::numeric_limits<std::int32_t>::min(),
      std::numeric_limits<std::int32_t>::max());
  put_u32(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(life)));
  put_transport(out, e.user_transport);
  put_policy(out, e.policy);
  if (e.asap_transport) put_transport(out, *e.asap_transport);
  end_tlv(out, start);
}

void put_server_information(std::vector<std::byte>& out, const ServerInformation& info) {
  const auto start = begin_tlv(out, raw(ParameterType::ServerInformation));
  put_u32(out, info.server_id);
  put_transport(out, info.transport);
  end_tlv(out, start);
}

void put_operation_error(std::vector<std::byte>& out, const OperationError& error) {
  const auto start = begin_tlv(out, raw(ParameterType::OperationError));
  for (const auto& cause : error.causes) {
    const auto cause_start = begin_tlv(out, static_cast<std::uint16_t>(cause.code));
    put_bytes(out, cause.info);
    end_tlv(out, cause_start);
  }
  end_tlv(out, start);
}

void put_cookie(std::vector<std::byte>& out, std::span<const std::byte> cookie) {
  const auto start = begin_tlv(out, raw(ParameterType::Cookie));
  put_bytes(out, cookie);
  end_tlv(out, start);
}

void put_hropt(std::vector<std::byte>& out, const HandleResolutionOption& option) {
  const auto start = begin_tlv(out, raw(ParameterType::HandleResolutionOption));
  put_u32(out, option.items);
  end_tlv(out, start);
}

}  // namespace rsp::wire::detail
