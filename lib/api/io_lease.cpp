// The io lease (io_lease.hpp): ownership of the io_context between the io thread and the
// application threads inside rsp_* calls.
#include "api/io_lease.hpp"

#include "api/signal_deferral.hpp"

namespace rsp::api {

namespace {

thread_local bool t_io_thread = false;
thread_local char t_tag;  // its address names the thread while it lives

IoLease::Clock::rep now_rep() { return IoLease::Clock::now().time_since_epoch().count(); }

IoLease::Clock::time_point at(IoLease::Clock::rep rep) {
  return IoLease::Clock::time_point(IoLease::Clock::duration(rep));
}

}  // namespace

std::uintptr_t IoLease::this_token() noexcept {
  return t_io_thread ? kIoThread : reinterpret_cast<std::uintptr_t>(&t_tag);
}

void IoLease::run_io_thread() {
  t_io_thread = true;
  while (wait_for_lease()) {
    // A posted no-op (take(), stop()) makes run_one return after at most the current handler.
    while (yield_requests_.load() == 0 && !stopping_.load()) io_.run_one();
    {
      std::lock_guard lock(mutex_);
      const auto now = now_rep();
      released_at_.store(now);
      last_io_.store(now, std::memory_order_relaxed);
      owner_.store(kFree);
    }
    app_cv_.notify_all();
  }
}

bool IoLease::wait_for_lease() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_.load()) return false;
    const auto grace_period = grace();
    if (owner_.load() != kFree) {
      // An application thread has it; it releases without telling us (that is what keeps its
      // tight loops free of wake-ups), so look again after a grace period.
      io_cv_.wait_for(lock, grace_period);
      continue;
    }
    const auto due = at(released_at_.load()) + grace_period;
    if (urgent_.load() || pending_.load() > 0 || Clock::now() >= due) {
      auto expected = kFree;
      if (owner_.compare_exchange_strong(expected, kIoThread)) {
        urgent_.store(false);
        return true;
      }
      continue;
    }
    io_cv_.wait_until(lock, due);
  }
}

void IoLease::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  io_cv_.notify_all();
  app_cv_.notify_all();
  boost::asio::post(io_, [] {});  // out of run_one
}

IoLease::Guard IoLease::take() {
  const auto me = this_token();
  auto owner = kFree;
  if (owner_.compare_exchange_strong(owner, me)) {
    catch_up_io();
    return Guard(this, true);
  }
  if (owner == me) return Guard(nullptr, true);  // nested: the outer guard releases
  if (owner != kIoThread) return Guard(nullptr, false);
  // The io thread has it: ask it to yield after its current handler and wait for that (a
  // transition, not a per-message cost: the lease stays with us across a tight loop).
  yield_requests_.fetch_add(1);
  boost::asio::post(io_, [] {});
  {
    std::unique_lock lock(mutex_);
    app_cv_.wait(lock, [&] { return owner_.load() != kIoThread || stopping_.load(); });
  }
  yield_requests_.fetch_sub(1);
  owner = kFree;
  if (owner_.compare_exchange_strong(owner, me)) {
    catch_up_io();
    return Guard(this, true);
  }
  return Guard(nullptr, false);  // another application thread was faster
}

void IoLease::catch_up_io() {
  urgent_.store(false);
  // Work posted by threads that could not take the lease runs first (it was submitted first:
  // a thread's posted send must not be overtaken by its next, direct one), and a holder that
  // never waits (a pure sender) still lets packets, SACKs and timers through.
  const bool late = Clock::now() - at(last_io_.load(std::memory_order_relaxed)) > max_io_gap_;
  if (pending_.load() > 0 || late) {
    const SignalDeferral signals;
    io_.poll();
    note_io_ran();
  }
}

void IoLease::release(Release how) {
  released_at_.store(now_rep());
  owner_.store(kFree);
  // Sequentially consistent with post(): either it sees the lease free or we see its work.
  if (how == Release::HandOver || pending_.load() > 0) wake_io_thread();
}

void IoLease::wake_io_thread() {
  {
    std::lock_guard lock(mutex_);
    urgent_.store(true);
  }
  io_cv_.notify_one();
}

}  // namespace rsp::api
