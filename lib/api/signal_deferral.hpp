// Asynchronous signals held back while an application thread runs asap/transport code with the
// io lease or waits on its behalf. Two reasons: (1) threads started meanwhile (usrsctp starts its iterator thread
// when the first endpoint opens) inherit the creator's mask and must not take the
// application's signals, which would then run a handler without interrupting the call that
// waits for it; (2) asio's epoll loop retries after EINTR, so a handler running inside it
// would go unnoticed by a blocking rsp_recvmsg (receive_window.cpp).
#pragma once

#include <signal.h>

namespace rsp::api {

class SignalDeferral {
 public:
  SignalDeferral();   // blocks asynchronous signals, remembering the caller's mask
  ~SignalDeferral();  // restores it: what is pending is delivered now
  SignalDeferral(const SignalDeferral&) = delete;
  SignalDeferral& operator=(const SignalDeferral&) = delete;

  // A signal is pending that would have interrupted poll(2) with EINTR: the caller had not
  // blocked it and it has a handler (ignored ones and default actions never give EINTR).
  bool interrupted() const;
  // The caller's own mask, for ppoll(2): waiting with it lets exactly the signals through that
  // would have interrupted the caller, with no gap between a last check and the wait.
  const sigset_t& caller_mask() const noexcept { return caller_mask_; }

 private:
  sigset_t caller_mask_{};
};

}  // namespace rsp::api
