#include "api/signal_deferral.hpp"

#include <pthread.h>

#include <initializer_list>

namespace rsp::api {

namespace {

// Synchronous signals (a fault in this thread) cannot wait and stay deliverable.
const sigset_t& deferred() {
  static const sigset_t set = [] {
    sigset_t s;
    sigfillset(&s);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&s, sig);
    return s;
  }();
  return set;
}

}  // namespace

SignalDeferral::SignalDeferral() { pthread_sigmask(SIG_BLOCK, &deferred(), &caller_mask_); }

SignalDeferral::~SignalDeferral() { pthread_sigmask(SIG_SETMASK, &caller_mask_, nullptr); }

bool SignalDeferral::interrupted() const {
  sigset_t pending;
  if (sigpending(&pending) != 0 || sigisemptyset(&pending)) return false;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&pending, sig) != 1 || sigismember(&caller_mask_, sig) == 1) continue;
    struct sigaction action {};
    if (sigaction(sig, nullptr, &action) != 0) continue;
    if ((action.sa_flags & SA_SIGINFO) != 0 ||
        (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN))
      return true;
  }
  return false;
}

}  // namespace rsp::api
