// Time for the ASAP machines: an injected clock with one-shot timers, so that protocol logic
// runs on real time in production (asio steady_timer) and on simulated time in tests
// (ManualClock: no sleeps, deterministic order).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace boost::asio {
class io_context;
}

namespace rsp::asap {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

// A one-shot timer. start() replaces any pending expiry; cancel() and destruction guarantee the
// callback will not run afterwards. Callbacks run from the io_context (or ManualClock::advance),
// never from inside start()/cancel().
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void start(Duration after, std::function<void()> callback) = 0;
  virtual void cancel() = 0;
  virtual bool pending() const = 0;
};

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;
};

// Real time: std::chrono::steady_clock and asio steady_timers on `io`.
std::shared_ptr<TimeSource> make_steady_time_source(boost::asio::io_context& io);

// Simulated time for tests. Time stands still until advance(); advance() runs every timer that
// falls due, in expiry order (ties in start order), moving now() to each expiry in turn, then
// to the target. A callback may start timers; those falling due within the advance run too.
class ManualClock final : public TimeSource {
 public:
  explicit ManualClock(TimePoint start = TimePoint{} + std::chrono::hours(1));
  ~ManualClock() override;
  TimePoint now() const override { return now_; }
  std::unique_ptr<Timer> make_timer() override;

  // Advances time by `by`, firing due timers. `between` (optional) runs after every fired timer,
  // e.g. `[&] { io.poll(); }` so that network deliveries caused by the timer happen "at" its time.
  void advance(Duration by, const std::function<void()>& between = {});
  // Time of the earliest pending timer, if any.
  std::optional<TimePoint> next_expiry() const;
  std::size_t pending_timers() const noexcept { return queue_.size(); }

 private:
  class ManualTimer;
  friend class ManualTimer;
  struct Key {
    TimePoint at;
    std::uint64_t sequence;
    bool operator<(const Key& o) const { return at != o.at ? at < o.at : sequence < o.sequence; }
  };
  TimePoint now_;
  std::uint64_t sequence_ = 0;
  std::map<Key, ManualTimer*> queue_;
};

}  // namespace rsp::asap
