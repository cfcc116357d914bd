// Sans-IO bookkeeping of what a PU sent on one data association, to say after the association
// died exactly which messages were handed back by the transport (never acknowledged: resend or
// drop), and which reached the PE's stack without being confirmed by its application.
//
// Matching: each message is sent with the low 32 bits of its sequence number as its SCTP send
// context, which the stack hands back with a failed message (transport::SendInfo::context;
// RFC 6458 §5.3.4, §6.1.11). Unconfirmed records span far fewer than 2^32 sequence numbers, so
// the context, checked together with PPID, stream and size, names exactly one record. (Before,
// a 64-bit hash of the payload did, at ~1.5 us per 4 KiB message sent: bench/api/README.md.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "rsp/asap/pool_user.hpp"
#include "rsp/asap/types.hpp"

namespace rsp::asap::detail {

// The send context that names a message (SendInfo::context).
constexpr std::uint32_t send_context(MessageSeq seq) noexcept { return static_cast<std::uint32_t>(seq); }

class DeliveryLedger {
 public:
  struct Record {
    MessageSeq seq = 0;
    std::uint32_t ppid = 0;
    std::uint16_t stream = 0;
    std::size_t size = 0;
    bool failover_allowed = true;
    bool confirmed = false;
    bool returned = false;
  };

  // A message handed to the transport on this association, with send_context(seq).
  void sent(MessageSeq seq, std::uint32_t ppid, std::uint16_t stream, std::size_t size,
            bool failover_allowed);
  // A message arrived from the PE (Confirmation rules, pool_user.hpp).
  void reply(Confirmation mode);
  // The application confirms everything up to `up_to`.
  void confirm(MessageSeq up_to);
  // The transport handed a message back: the matching record, marked returned; nullopt when no
  // unconfirmed record matches (it was confirmed: processed, its acknowledgement lost).
  std::optional<Record> returned(std::uint32_t ppid, std::uint16_t stream, std::uint32_t context,
                                 std::size_t size);
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
