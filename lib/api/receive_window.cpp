// A blocking receive's fast window: the receiving thread runs the io itself until its socket
// has something, instead of sleeping on the eventfd while the io thread works and wakes it.
//
// Signals: a blocking rsp_recvmsg fails with EINTR when a signal handler runs, like recv(2).
// asio's epoll loop retries after EINTR, so a handler running inside it would go unnoticed.
// The receiving call therefore blocks asynchronous signals (SignalDeferral) before it waits;
// the window looks for pending ones every kSignalCheck (10 ms) and, on finding one that the
// caller had not blocked and that has a handler, ends with Interrupted: the call returns EINTR
// and its caller's mask comes back (the handler runs then). A signal thus interrupts the call
// at most 10 ms late.
// The window is bounded (kReceiveWindow); a longer wait continues in ppoll(2) on the eventfd
// with the caller's mask, where signals interrupt directly, while the io thread runs the io.
#include <algorithm>

#include "api/runtime.hpp"

namespace rsp::api {

namespace {

// How late a signal may end the window. Not shorter: a wait that ends before the next pending
// kernel timer (usrsctp's 10 ms tick) makes the kernel reprogram the timer hardware twice per
// wait, a costly exit in a VM (a 64 B round trip was 12 % slower with 1 ms).
constexpr std::chrono::milliseconds kSignalCheck{10};

}  // namespace

Runtime::Wait Runtime::run_until_readable(Socket& socket,
                                          std::chrono::steady_clock::time_point deadline,
                                          const SignalDeferral& signals) {
  using Clock = std::chrono::steady_clock;
  IoLease::Guard guard = lease_.take();
  if (!guard.held()) return Wait::Busy;
  socket.begin_receive();
  Wait outcome = Wait::WindowOver;
  {
    const auto window = std::chrono::milliseconds(receive_window_ms_.load());
    const auto end = std::min(deadline, Clock::now() + window);
    auto next_check = Clock::now() + kSignalCheck;
    for (;;) {
      if (socket.readable()) {
        outcome = Wait::Ready;
        break;
      }
      const auto now = Clock::now();
      if (now >= end) break;
      if (now >= next_check) {
        if (signals.interrupted()) {
          outcome = Wait::Interrupted;
          break;
        }
        next_check = now + kSignalCheck;
      }
      io_.run_one_until(std::min(end, next_check));
    }
    if (outcome == Wait::WindowOver && signals.interrupted()) outcome = Wait::Interrupted;
    lease_.note_io_ran();
    // Going back to the application (data, EINTR, RSP_RCVTIMEO): keep the lease for its next
    // call. Going to sleep on the eventfd: the io thread takes over now.
    const bool blocks_next = outcome == Wait::WindowOver && Clock::now() < deadline;
    guard.release(blocks_next ? IoLease::Release::HandOver : IoLease::Release::Keep);
  }
  return outcome;
}

Runtime::Wait Runtime::run_io_briefly(std::chrono::steady_clock::time_point deadline,
                                      const SignalDeferral& signals) {
  {
    IoLease::Guard guard = lease_.take();
    if (guard.held()) {
      io_.run_one_until(std::min(deadline, std::chrono::steady_clock::now() + kSignalCheck));
      lease_.note_io_ran();
    } else {
      // Another application thread runs the io: give it a moment.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return signals.interrupted() ? Wait::Interrupted : Wait::WindowOver;
}

}  // namespace rsp::api
