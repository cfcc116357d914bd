// Steady-clock timers on asio, and the simulated clock for tests.
#include "rsp/asap/clock.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace rsp::asap {
namespace {

class SteadyTimer final : public Timer {
 public:
  explicit SteadyTimer(boost::asio::io_context& io) : timer_(io) {}
  ~SteadyTimer() override { cancel(); }

  void start(Duration after, std::function<void()> callback) override {
    cancel();
    pending_ = true;
    // The generation guards against a cancelled wait whose handler was already queued.
    const std::uint64_t generation = ++generation_;
    timer_.expires_after(after);
    timer_.async_wait([this, alive = std::weak_ptr<int>(alive_), generation,
                       callback = std::move(callback)](const boost::system::error_code& ec) {
      if (ec || alive.expired() || generation != generation_) return;
      pending_ = false;
      callback();
    });
  }
  void cancel() override {
    ++generation_;
    pending_ = false;
    timer_.cancel();
  }
  bool pending() const override { return pending_; }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::uint64_t generation_ = 0;
  bool pending_ = false;
};

class SteadyTimeSource final : public TimeSource {
 public:
  explicit SteadyTimeSource(boost::asio::io_context& io) : io_(io) {}
  TimePoint now() const override { return Clock::now(); }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<SteadyTimer>(io_); }

 private:
  boost::asio::io_context& io_;
};

}  // namespace

std::shared_ptr<TimeSource> make_steady_time_source(boost::asio::io_context& io) {
  return std::make_shared<SteadyTimeSource>(io);
}

class ManualClock::ManualTimer final : public Timer {
 public:
  explicit ManualTimer(ManualClock& clock) : clock_(clock) {}
  ~ManualTimer() override { cancel(); }
  void start(Duration after, std::function<void()> callback) override {
    cancel();
    callback_ = std::move(callback);
    key_ = Key{clock_.now_ + after, clock_.sequence_++};
    clock_.queue_.emplace(*key_, this);
  }
  void cancel() override {
    if (key_) clock_.queue_.erase(*key_);
    key_.reset();
  }
  bool pending() const override { return key_.has_value(); }
  // Called by advance(): dequeued already.
  std::function<void()> take() {
    key_.reset();
    return std::move(callback_);
  }

 private:
  ManualClock& clock_;
  std::optional<Key> key_;
  std::function<void()> callback_;
};

ManualClock::ManualClock(TimePoint start) : now_(start) {}
ManualClock::~ManualClock() = default;

std::unique_ptr<Timer> ManualClock::make_timer() { return std::make_unique<ManualTimer>(*this); }

std::optional<TimePoint> ManualClock::next_expiry() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first.at;
}

void ManualClock::advance(Duration by, const std::function<void()>& between) {
  const TimePoint target = now_ + by;
  if (between) between();
  while (!queue_.empty() && queue_.begin()->first.at <= target) {
    auto it = queue_.begin();
    now_ = std::max(now_, it->first.at);
    ManualTimer* timer = it->second;
    queue_.erase(it);
    auto callback = timer->take();
    if (callback) callback();
    if (between) between();
  }
  now_ = target;
}

}  // namespace rsp::asap
