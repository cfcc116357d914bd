// Errors of the ASAP client layer (pool element and pool user), as values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "rsp/result.hpp"
#include "rsp/wire/messages.hpp"

namespace rsp::asap {

enum class AsapErrc : std::uint8_t {
  NoRegistrar,           // none configured/discovered, or the server hunt found none answering
  Timeout,               // a request or a session send got no answer within its retries
  PoolNotFound,          // handle resolution answered Unknown Pool Handle (RFC 5354 §3.10 0x9)
  PoolEmpty,             // handle resolution returned no pool element
  RegistrationRejected,  // REGISTRATION_RESPONSE with the R flag; the cause is in the event
  TransportError,        // the SCTP endpoint failed (bind, send); the message says what
  InvalidArgument,       // empty/oversized pool handle, unknown session, bad option value
  NoSuchSession,         // the session id names no live session
  NotRegistered,         // a PE operation that needs a registration (e.g. update before start)
  FailoverExhausted,     // no pool element left to fail over to
  FailoverNotAllowed,    // the session's PE is gone and the message forbade failover
  Closed,                // the object was closed or destroyed with the operation pending
  ProtocolError,         // the peer sent something we cannot use (decode error, wrong reply)
  WouldBlock,            // a send found the session's queue or the association's buffer full
};
std::string_view to_string(AsapErrc code) noexcept;  // "no registrar", "timeout", ...

using AsapError = Error<AsapErrc>;
template <typename T>
using AsapResult = Result<T, AsapErrc>;

}  // namespace rsp::asap
