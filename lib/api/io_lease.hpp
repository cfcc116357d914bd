// Who runs the runtime's io_context (docs/api.md "Shape"). Exactly one thread at a time may run
// it or touch asap and transport objects: the holder of the lease. That is either the io thread
// or an application thread inside an rsp_* call, which then sends directly and, while it waits
// for its socket, runs the io itself — no hand-off to another thread on the data path (the
// RSPLIB-like approach; RSPLIB takes one global lock instead).
//
// - An application thread takes the lease when it is free, or from the io thread (which yields
//   after its current handler: a posted no-op wakes it from epoll). It never waits for another
//   application thread: take() then answers Busy, and the caller posts its work (post()) or
//   waits on its socket's eventfd, as before the lease existed.
// - Leaving its call, an application thread releases the lease. The io thread takes it back
//   once it has stayed free for `grace` (so a tight send/recv loop keeps it without a
//   ping-pong), or at once when work was posted or the releaser hands the io over
//   (Release::HandOver: it is about to block). Keep-alives, timers and other sockets' messages
//   are therefore served within `grace` while the application computes.
// - A holder that only makes direct calls (a thread that sends and never waits) still lets the
//   io run: take() polls the io_context when nobody ran it for `max_io_gap`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace rsp::api {

class IoLease {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::microseconds kDefaultGrace{2000};
  static constexpr std::chrono::microseconds kDefaultMaxIoGap{2000};

  explicit IoLease(boost::asio::io_context& io) : io_(io) {}
  IoLease(const IoLease&) = delete;
  IoLease& operator=(const IoLease&) = delete;

  // ---- the io thread ----
  // Its body: runs the io_context whenever it holds the lease, until stop().
  void run_io_thread();
  // Tells the io thread to leave run_io_thread() (the caller joins it).
  void stop();

  // ---- application threads ----
  enum class Release { Keep, HandOver };

  // The lease for the duration of a call. held(): this thread may run the io and touch asap
  // objects. Owning guards release on destruction (Keep); a guard taken while this thread
  // already held the lease (a nested call) releases nothing.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& o) noexcept : lease_(std::exchange(o.lease_, nullptr)), held_(o.held_) {}
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    ~Guard() { release(Release::Keep); }
    bool held() const noexcept { return held_; }
    void release(Release how) {
      if (IoLease* l = std::exchange(lease_, nullptr)) l->release(how);
    }

   private:
    friend class IoLease;
    Guard(IoLease* owning, bool held) : lease_(owning), held_(held) {}
    IoLease* lease_ = nullptr;  // set when this guard must release
    bool held_ = false;
  };

  // Takes the lease if it is free or the io thread has it (waiting only for the io thread to
  // finish its current handler). Busy (held() false) when another application thread has it.
  Guard take();
  bool held_by_this_thread() const noexcept {
    return owner_.load(std::memory_order_relaxed) == this_token();
  }

  // For a caller that could not take the lease: f runs on whichever thread holds it next, in
  // post order; the io thread takes over at once if the lease is free or gets free.
  template <typename F>
  void post(F&& f) {
    pending_.fetch_add(1);
    boost::asio::post(io_, [this, f = std::forward<F>(f)]() mutable {
      pending_.fetch_sub(1);
      f();
    });
    if (owner_.load() == kFree) wake_io_thread();
  }

  // The lease is free and the caller is going to block: let the io thread take it now.
  void hand_over() {
    if (owner_.load() == kFree) wake_io_thread();
  }

  // The holder ran the io_context (a receive window): resets the max_io_gap clock.
  void note_io_ran() { last_io_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed); }

  // Tuning (tests set extreme values to make a path observable).
  void set_grace(std::chrono::microseconds grace) { grace_us_.store(grace.count()); }
  std::chrono::microseconds grace() const { return std::chrono::microseconds(grace_us_.load()); }

  // Diagnostics for tests: whether an application thread (not the io thread) holds the lease.
  bool held_by_application() const {
    const auto o = owner_.load();
    return o != kFree && o != kIoThread;
  }

 private:
  static constexpr std::uintptr_t kFree = 0;
  static constexpr std::uintptr_t kIoThread = 1;
  static std::uintptr_t this_token() noexcept;

  void release(Release how);
  void wake_io_thread();
  bool wait_for_lease();  // io thread; false once stopped
  void catch_up_io();     // a new holder runs what is ready when work is pending or io is late

  boost::asio::io_context& io_;
  std::atomic<std::uintptr_t> owner_{kFree};
  std::atomic<int> pending_{0};         // posted closures not yet run
  std::atomic<int> yield_requests_{0};  // application threads waiting for the io thread to yield
  std::atomic<Clock::rep> released_at_{0};
  std::atomic<Clock::rep> last_io_{0};
  std::atomic<std::chrono::microseconds::rep> grace_us_{kDefaultGrace.count()};
  static constexpr std::chrono::microseconds max_io_gap_ = kDefaultMaxIoGap;

  // Only for the io thread's sleeps and the hand-over from it, never held while io runs.
  std::mutex mutex_;
  std::condition_variable io_cv_;   // the io thread waits here for the lease
  std::condition_variable app_cv_;  // application threads wait here for the io thread to yield
  std::atomic<bool> urgent_{false};  // io thread: take the lease without waiting out the grace
  std::atomic<bool> stopping_{false};
};

}  // namespace rsp::api
