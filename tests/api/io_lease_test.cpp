// The io lease alone (lib/api/io_lease.hpp), on a plain io_context with its io thread: who may
// run the io, hand-over from the io thread, work posted by a thread that could not take it,
// and the io thread taking the lease back after the grace period.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "api/io_lease.hpp"

using namespace std::chrono_literals;
using rsp::api::IoLease;

namespace {

// An io_context whose io thread runs the lease's loop, as rsp_initialize starts it.
struct LeasedIo {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  IoLease lease{io};
  std::thread thread{[this] { lease.run_io_thread(); }};
  ~LeasedIo() {
    lease.stop();
    thread.join();
  }
};

// Polls `condition` until it holds or `bound` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("an application thread takes the lease from the io thread and holds it alone") {
  LeasedIo l;
  // The io thread runs the io: a post completes without anyone else running it.
  std::atomic<bool> ran{false};
  boost::asio::post(l.io, [&] { ran = true; });
  REQUIRE(eventually([&] { return ran.load(); }));

  auto guard = l.lease.take();
  REQUIRE(guard.held());
  CHECK(l.lease.held_by_this_thread());
  CHECK(l.lease.held_by_application());
  // While we hold it, nothing else runs the io: a post waits for us.
  ran = false;
  boost::asio::post(l.io, [&] { ran = true; });
  CHECK(l.io.poll() >= 1);
  CHECK(ran);
  // Another application thread gets Busy at once instead of waiting.
  bool other_held = true;
  std::thread other([&] { other_held = l.lease.take().held(); });
  other.join();
  CHECK_FALSE(other_held);
  // A nested take on the holder's thread is held but releases nothing.
  {
    auto nested = l.lease.take();
    CHECK(nested.held());
  }
  CHECK(l.lease.held_by_this_thread());
}

TEST_CASE("the io thread takes the lease back after the grace period, not before") {
  LeasedIo l;
  l.lease.set_grace(1h);
  { auto guard = l.lease.take(); REQUIRE(guard.held()); }
  // Released with Keep and a grace period of an hour: the io stays unserved.
  std::atomic<bool> ran{false};
  boost::asio::post(l.io, [&] { ran = true; });
  CHECK_FALSE(eventually([&] { return ran.load(); }, 200ms));
  // A short grace period: the io thread takes over and runs what waits.
  l.lease.set_grace(1ms);
  { auto guard = l.lease.take(); REQUIRE(guard.held()); }
  CHECK(eventually([&] { return ran.load(); }));
  CHECK_FALSE(l.lease.held_by_application());
}

TEST_CASE("hand-over lets the io thread take the lease at once") {
  LeasedIo l;
  l.lease.set_grace(1h);
  auto guard = l.lease.take();
  REQUIRE(guard.held());
  std::atomic<bool> ran{false};
  boost::asio::post(l.io, [&] { ran = true; });
  guard.release(IoLease::Release::HandOver);
  CHECK(eventually([&] { return ran.load(); }));
}

TEST_CASE("work posted by a thread that cannot take the lease runs when the holder releases") {
  LeasedIo l;
  l.lease.set_grace(1h);  // only the posted work may make the io thread take over
  auto guard = l.lease.take();
  REQUIRE(guard.held());
  std::atomic<int> ran{0};
  std::thread poster([&] {
    auto mine = l.lease.take();
    CHECK_FALSE(mine.held());
    l.lease.post([&] { ++ran; });
  });
  poster.join();
  CHECK(ran == 0);
  guard.release(IoLease::Release::Keep);
  CHECK(eventually([&] { return ran.load() == 1; }));
}

TEST_CASE("a new holder runs earlier posted work before its own") {
  LeasedIo l;
  l.lease.set_grace(1h);
  auto holder = std::make_unique<IoLease::Guard>(l.lease.take());
  REQUIRE(holder->held());
  std::atomic<bool> posted_ran{false};
  bool ran_before_take = false;
  std::thread sender([&] {
    CHECK_FALSE(l.lease.take().held());
    l.lease.post([&] { posted_ran = true; });
  });
  sender.join();
  std::thread next([&] {
    // Whoever got the lease first (the io thread, woken for the posted work, or this thread),
    // the posted work has run once this thread holds it.
    for (;;) {
      auto guard = l.lease.take();
      if (guard.held()) {
        ran_before_take = posted_ran;
        return;
      }
      std::this_thread::yield();
    }
  });
  holder.reset();
  next.join();
  CHECK(ran_before_take);
}

TEST_CASE("stop ends the io thread whether it holds the lease or waits for it") {
  {
    LeasedIo l;  // io thread holding the lease, blocked in epoll
    std::atomic<bool> ran{false};
    boost::asio::post(l.io, [&] { ran = true; });
    REQUIRE(eventually([&] { return ran.load(); }));
  }
  {
    LeasedIo l;  // io thread parked: an application thread holds the lease
    l.lease.set_grace(1h);
    auto guard = l.lease.take();
    REQUIRE(guard.held());
    guard.release(IoLease::Release::Keep);
  }
}
