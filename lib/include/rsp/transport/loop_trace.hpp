// A bench-only trace of a process's event loop: when on, the usrsctp backend records every
// wake-up of a UDP socket (when the loop woke, the kernel's arrival time of the oldest datagram
// it read, how long the wake-up took, how many datagrams), its SCTP timer ticks, and layers
// above may record their own per-message work (the registrar's core, lib/registrar/service.cpp).
// Times are CLOCK_MONOTONIC nanoseconds, one time base for all processes of the host, so a load
// generator can lay its requests next to the registrar's wake-ups (bench/registrar/README.md).
//
// Off unless RSP_LOOP_TRACE=<path> is in the environment at the first enabled() call (the
// records are written to <path> as text when the process exits) or enable() is called (the
// process reads records() itself). Off, it costs one branch per wake-up.
#pragma once

#include <cstdint>
#include <vector>

namespace rsp::transport::loop_trace {

enum class Kind : std::uint8_t {
  Wakeup = 0,    // a UDP socket's read handler: t = woke, rx = oldest datagram's kernel arrival
  Message = 1,   // one message's processing above the transport (t = start)
  SctpTick = 2,  // usrsctp's timer tick (t = start)
  Timer = 3,     // a layer's own timer (the registrar's deadlines)
};

struct Record {
  Kind kind = Kind::Wakeup;
  std::uint32_t count = 0;    // Wakeup: datagrams read; Message: the sender's SCTP port
  std::int64_t t_ns = 0;      // CLOCK_MONOTONIC
  std::int64_t rx_ns = 0;     // Wakeup: kernel arrival of the oldest datagram read (0: none)
  std::int64_t dur_ns = 0;    // how long it took
};

bool enabled() noexcept;
void enable();  // in-process use (no file written)
void disable();  // stops recording (tests)
void record(const Record& r) noexcept;
std::int64_t now_ns() noexcept;
// The records so far (in-process use; the trace stays on).
const std::vector<Record>& records() noexcept;
void clear() noexcept;

// Records the enclosing scope as one record of `kind` (t = its start, dur = until it ends)
// when the trace is on; off, it costs one branch.
class Scope {
 public:
  explicit Scope(Kind kind, std::uint32_t count = 0) noexcept : on_(enabled()) {
    if (!on_) return;
    record_.kind = kind;
    record_.count = count;
    record_.t_ns = now_ns();
  }
  ~Scope() {
    if (!on_) return;
    record_.dur_ns = now_ns() - record_.t_ns;
    loop_trace::record(record_);
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool on_;
  Record record_{};
};

}  // namespace rsp::transport::loop_trace
