// Vocabulary shared by the pool element and pool user sides.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rsp/wire/messages.hpp"
#include "rsp/wire/types.hpp"

namespace rsp::asap {

// A data session: on the PU side one conversation with a pool (it survives failover from PE to
// PE); on the PE side one PU association on the PE's data endpoint. Ids are unique within their
// PoolUser/PoolElement for its whole life (never reused), starting at 1.
using SessionId = std::uint32_t;
inline constexpr SessionId kNoSession = 0;

// PU side: sequence number of a message accepted by PoolUser::send, per session, from 1. Used to
// say exactly which messages a failover resent, dropped, or left uncertain.
using MessageSeq = std::uint64_t;

// PPID 11 on a data association carries ASAP session-layer messages (COOKIE, COOKIE_ECHO,
// BUSINESS_CARD, RFC 5352 §3.9-3.10); applications must not send user data with PPID 11.
inline constexpr std::uint32_t kControlPpid = wire::kAsapPpid;

struct SendOptions {
  std::uint32_t ppid = 0;
  std::uint16_t stream = 0;
  bool unordered = false;
  // Partial reliability (RFC 3758 timed reliability, transport::SendInfo::lifetime): SCTP may
  // abandon the message once it is this old and still unsent or unacknowledged. 0 = reliable.
  std::chrono::milliseconds lifetime{0};
  // PU side: when the session's PE fails before this message is known delivered, may it be sent
  // to another PE (true), or must it be reported dropped (false)? (draft-ietf-rserpool-api's
  // per-message failover flag.)
  bool failover_allowed = true;
  // PU side: send to this PE of the pool rather than the session's current one (connects to it
  // if needed and makes it current).
  std::optional<PoolElementId> pool_element;
  // PU side: queue the message even when the session holds SessionOptions::max_queued_bytes
  // already (for a caller that has accepted it from its own caller and cannot refuse it now).
  bool beyond_queue_limit = false;
};

struct ReceivedData {
  SessionId session = kNoSession;
  PoolElementId pool_element = 0;  // PU side: which PE sent it; PE side: 0
  std::uint32_t ppid = 0;
  std::uint16_t stream = 0;
  bool unordered = false;
  std::vector<std::byte> payload;
};

}  // namespace rsp::asap
