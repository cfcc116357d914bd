// Public encode/decode of single parameters (codec.hpp "single parameters").
#include <fmt/format.h>

#include "decoder.hpp"

namespace rsp::wire {

using namespace detail;

namespace {

// One TLV spanning all of `bytes` (its final padding optional), accepted by `is_type`.
template <typename T, typename IsType, typename Decode>
Result<T, DecodeError> decode_single(std::span<const std::byte> bytes, const char* what,
                                     IsType is_type, Decode decode) {
  if (bytes.size() > kMaxMessageSize) {
    return make_error(DecodeError::TooLarge, fmt::format("{}: {} bytes", what, bytes.size()));
  }
  DecodeContext c;
  Reader r(bytes);
  Tlv t;
  if (!read_tlv(r, c, t, what)) return c.error<T>();
  if (!r.empty()) {
    c.fail(DecodeError::TrailingBytes, fmt::format("{}: bytes after the parameter", what));
    return c.error<T>();
  }
  if (!is_known_parameter(t.type) || !is_type(known_type(t.type))) {
    c.fail(DecodeError::UnexpectedParameter,
           fmt::format("{}: found parameter type 0x{:04x}", what, t.type), t.whole());
    return c.error<T>();
  }
  T value{};
  if (!decode(t, c, value)) return c.error<T>();
  return value;
}

auto is(ParameterType wanted) {
  return [wanted](ParameterType t) { return t == wanted; };
}

}  // namespace

void encode_pool_handle(const PoolHandle& handle, std::vector<std::byte>& out) {
  put_pool_handle(out, handle);
}
void encode_pool_element(const PoolElement& element, std::vector<std::byte>& out) {
  put_pool_element(out, element);
}
void encode_transport(const TransportAddress& transport, std::vector<std::byte>& out) {
  put_transport(out, transport);
}
void encode_policy(const PolicyInfo& policy, std::vector<std::byte>& out) {
  put_policy(out, policy);
}
void encode_server_information(const ServerInformation& info, std::vector<std::byte>& out) {
  put_server_information(out, info);
}
void encode_operation_error(const OperationError& error, std::vector<std::byte>& out) {
  put_operation_error(out, error);
}

Result<PoolHandle, DecodeError> decode_pool_handle(std::span<const std::byte> bytes) {
  return decode_single<PoolHandle>(bytes, "pool handle", is(ParameterType::PoolHandle),
                                   detail::decode_pool_handle);
}
Result<PoolElement, DecodeError> decode_pool_element(std::span<const std::byte> bytes) {
  return decode_single<PoolElement>(bytes, "pool element", is(ParameterType::PoolElement),
                                    detail::decode_pool_element);
}
Result<TransportAddress, DecodeError> decode_transport(std::span<const std::byte> bytes) {
  return decode_single<TransportAddress>(
      bytes, "transport",
      [](ParameterType t) { return is_transport_type(static_cast<std::uint16_t>(t)); },
      detail::decode_transport);
}
Result<PolicyInfo, DecodeError> decode_policy(std::span<const std::byte> bytes) {
  return decode_single<PolicyInfo>(bytes, "policy", is(ParameterType::PoolMemberSelectionPolicy),
                                   detail::decode_policy);
}
Result<ServerInformation, DecodeError> decode_server_information(
    std::span<const std::byte> bytes) {
  return decode_single<ServerInformation>(bytes, "server information",
                                          is(ParameterType::ServerInformation),
                                          detail::decode_server_information);
}
Result<OperationError, DecodeError> decode_operation_error(std::span<const std::byte> bytes) {
  return decode_single<OperationError>(bytes, "operation error",
                                       is(ParameterType::OperationError),
                                       detail::decode_operation_error);
}

}  // namespace rsp::wire
