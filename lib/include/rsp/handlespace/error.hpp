// Why the handlespace refused an operation, and the RFC 5352 cause code a registrar sends for it.
#pragma once

#include <cstdint>
#include <string_view>

#include "rsp/result.hpp"

namespace rsp::handlespace {

enum class HandlespaceError : std::uint8_t {
  InvalidValues,                         // empty handle, no transport, zero lifetime, ...
  NonUniquePeIdentifier,                 // PE id in use by another owner (association)
  PoolingPolicyInconsistent,             // policy differs from the pool's
  LackOfResources,                       // pool or element limit reached
  InconsistentTransportType,             // transport protocol differs from the pool's
  InconsistentDataControlConfiguration,  // SCTP transport use differs from the pool's
  UnknownPoolHandle,                     // no such pool
  UnknownPoolElement,                    // pool exists, element does not
  UnknownPolicy,                         // a policy type this build cannot select by
};

// RFC 5352 Operation Error cause codes. Numeric on purpose: the handlespace does not
// depend on the codec's CauseCode enum; the values are the RFC's.
constexpr std::uint16_t cause_code(HandlespaceError e) noexcept {
  switch (e) {
    case HandlespaceError::InvalidValues: return 0x3;
    case HandlespaceError::NonUniquePeIdentifier: return 0x4;
    case HandlespaceError::PoolingPolicyInconsistent: return 0x5;
    case HandlespaceError::LackOfResources: return 0x6;
    case HandlespaceError::InconsistentTransportType: return 0x7;
    case HandlespaceError::InconsistentDataControlConfiguration: return 0x8;
    case HandlespaceError::UnknownPoolHandle: return 0x9;
    // No RFC cause names "no such element"; a registrar deregistering an unknown element
    // normally answers success. 0x0 = "unspecified error" for callers that report it.
    case HandlespaceError::UnknownPoolElement: return 0x0;
    // An unknown policy cannot be served consistently: reported as a policy inconsistency.
    case HandlespaceError::UnknownPolicy: return 0x5;
  }
  return 0x0;
}

std::string_view to_string(HandlespaceError e) noexcept;

template <typename T>
using HsResult = Result<T, HandlespaceError>;

}  // namespace rsp::handlespace
