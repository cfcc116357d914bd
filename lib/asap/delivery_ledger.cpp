#include "delivery_ledger.hpp"

namespace rsp::asap::detail {

void DeliveryLedger::sent(MessageSeq seq, std::uint32_t ppid, std::uint16_t stream, std::size_t size,
                          bool failover_allowed) {
  records_.push_back(Record{seq, ppid, stream, size, failover_allowed, false, false});
}

void DeliveryLedger::reply(Confirmation mode) {
  switch (mode) {
    case Confirmation::ReplyConfirmsOldest:
      for (auto& r : records_) {
        if (!r.confirmed && !r.returned) {
          r.confirmed = true;
          break;
        }
      }
      break;
    case Confirmation::ReplyConfirmsAll:
      for (auto& r : records_) r.confirmed = r.confirmed || !r.returned;
      break;
    case Confirmation::Explicit:
      return;
  }
  trim_confirmed();
}

void DeliveryLedger::confirm(MessageSeq up_to) {
  for (auto& r : records_) {
    if (r.seq <= up_to && !r.returned) r.confirmed = true;
  }
  trim_confirmed();
}

std::optional<DeliveryLedger::Record> DeliveryLedger::returned(std::uint32_t ppid, std::uint16_t stream,
                                                               std::uint32_t context, std::size_t size) {
  // A confirmed message was processed by the PE even if its acknowledgement never reached us:
  // confirmed records are not candidates (and are trimmed: no match means "processed").
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (!it->returned && !it->confirmed && send_context(it->seq) == context && it->ppid == ppid &&
        it->stream == stream && it->size == size) {
      it->returned = true;
      return *it;
    }
  }
  return std::nullopt;
}

std::optional<MessageSeq> DeliveryLedger::oldest_unconfirmed() const {
  std::optional<MessageSeq> out;
  for (const auto& r : records_) {
    if (!r.confirmed && !r.returned && (!out || r.seq < *out)) out = r.seq;
  }
  return out;
}

std::vector<SeqRange> DeliveryLedger::unconfirmed() const {
  std::vector<SeqRange> out;
  for (const auto& r : records_) {
    if (r.confirmed || r.returned) continue;
    if (!out.empty() && out.back().last + 1 == r.seq) {
      out.back().last = r.seq;
    } else {
      out.push_back(SeqRange{r.seq, r.seq});
    }
  }
  return out;
}

void DeliveryLedger::trim_confirmed() {
  while (!records_.empty() && (records_.front().confirmed || records_.front().returned)) records_.pop_front();
}

}  // namespace rsp::asap::detail
