// Sans-IO bookkeeping of what a PU sent on one data association, to say after the association
// died exactly which messages were handed back by the transport (never acknowledged: resend or
// drop), and which reached the PE's stack without being confirmed by its application.
//
// Matching: the transport hands back a message's payload and SendInfo, not our sequence number.
// SCTP returns the unacknowledged tail of what was sent, so a returned message is matched to
// the most recent not-yet-returned record with the same PPID, stream, size and payload hash;
// identical messages are interchangeable, so the set of sequence numbers is exact either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "rsp/asap/pool_user.hpp"
#include "rsp/asap/types.hpp"

namespace rsp::asap::detail {

std::uint64_t payload_hash(std::span<const std::byte> payload) noexcept;  // 64-bit, not keyed

class DeliveryLedger {
 public:
  struct Record {
    MessageSeq seq = 0;
    std::uint32_t ppid = 0;
    std::uint16_t stream = 0;
    std::size_t size = 0;
    std::uint64_t hash = 0;
    bool failover_allowed = true;
    bool confirmed = false;
    bool returned = false;
  };

  // A message handed to the transport on this association.
  void sent(MessageSeq seq, std::uint32_t ppid, std::uint16_t stream,
            std::span<const std::byte> payload, bool failover_allowed);
  // A message arrived from the PE (Confirmation rules, pool_user.hpp).
  void reply(Confirmation mode);
  // The application confirms everything up to `up_to`.
  void confirm(MessageSeq up_to);
  // The transport handed a message back: the matching record, marked returned; nullopt when no
  // unconfirmed record matches (it was confirmed: processed, its acknowledgement lost).
  std::optional<Record> returned(std::uint32_t ppid, std::uint16_t stream,
                                 std::span<const std::byte> payload);
  // Records neither confirmed nor returned, as ascending ranges.
  std::vector<SeqRange> unconfirmed() const;
  std::optional<MessageSeq> oldest_unconfirmed() const;
  std::size_t size() const noexcept { return records_.size(); }

 private:
  // Confirmed and returned records at the front are forgotten (nothing more can be learnt).
  void trim_confirmed();
  std::deque<Record> records_;
};

}  // namespace rsp::asap::detail
