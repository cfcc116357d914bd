#include "rsp/asap/error.hpp"

namespace rsp::asap {

std::string_view to_string(AsapErrc code) noexcept {
  switch (code) {
    case AsapErrc::NoRegistrar: return "no registrar";
    case AsapErrc::Timeout: return "timeout";
    case AsapErrc::PoolNotFound: return "pool not found";
    case AsapErrc::PoolEmpty: return "pool empty";
    case AsapErrc::RegistrationRejected: return "registration rejected";
    case AsapErrc::TransportError: return "transport error";
    case AsapErrc::InvalidArgument: return "invalid argument";
    case AsapErrc::NoSuchSession: return "no such session";
    case AsapErrc::NotRegistered: return "not registered";
    case AsapErrc::FailoverExhausted: return "failover exhausted";
    case AsapErrc::FailoverNotAllowed: return "failover not allowed";
    case AsapErrc::Closed: return "closed";
    case AsapErrc::ProtocolError: return "protocol error";
    case AsapErrc::WouldBlock: return "send buffer full";
  }
  return "unknown error";
}

}  // namespace rsp::asap
