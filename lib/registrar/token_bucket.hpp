// A token bucket on caller-supplied time: `rate` tokens per second, at most one second's worth
// saved up (at least one token). Rate 0 means unlimited.
#pragma once

#include <algorithm>
#include <chrono>

namespace rsp::registrar {

class TokenBucket {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  TokenBucket() = default;
  TokenBucket(double rate, TimePoint now)
      : rate_(rate), capacity_(std::max(1.0, rate)), tokens_(capacity_), last_(now) {}

  bool take(TimePoint now) {
    if (rate_ <= 0) return true;
    if (now > last_) {
      const double seconds = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(capacity_, tokens_ + seconds * rate_);
      last_ = now;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_ = 0;
  double capacity_ = 1;
  double tokens_ = 1;
  TimePoint last_{};
};

}  // namespace rsp::registrar
