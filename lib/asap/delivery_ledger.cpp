#include "delivery_ledger.hpp"

#include <algorithm>
#include <cstring>

namespace rsp::asap::detail {

std::uint64_t payload_hash(std::span<const std::byte> payload) noexcept {
  // MurmurHash64A's mixing, 8 bytes per step: a byte-wise FNV-1a took ~7 us per 4 KiB message,
  // a sixth of a pipelining pool user's CPU time (bench/api/README.md). Only ever compared
  // within this process, so the byte order of the loads does not matter.
  constexpr std::uint64_t m = 0xc6a4a7935bd1e995ull;
  constexpr int r = 47;
  const std::byte* p = payload.data();
  const std::size_t n = payload.size();
  std::uint64_t h = 0xcbf29ce484222325ull ^ (n * m);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t k;
    std::memcpy(&k, p + i, sizeof k);
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  if (i < n) {
    std::uint64_t k = 0;
    std::memcpy(&k, p + i, n - i);
    h ^= k;
    h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

void DeliveryLedger::sent(MessageSeq seq, std::uint32_t ppid, std::uint16_t stream,
                          std::span<const std::byte> payload, bool failover_allowed) {
  records_.push_back(Record{seq, ppid, stream, payload.size(), payload_hash(payload), failover_allowed, false, false});
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
                                                               std::span<const std::byte> payload) {
  // A confirmed message was processed by the PE even if its acknowledgement never reached us:
  // confirmed records are not candidates (and are trimmed: no match means "processed").
  const auto hash = payload_hash(payload);
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (!it->returned && !it->confirmed && it->ppid == ppid && it->stream == stream &&
        it->size == payload.size() && it->hash == hash) {
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
