#include "transport/usrsctp_stack.hpp"

#include <usrsctp.h>

#include "rsp/transport/loop_trace.hpp"

namespace rsp::transport::usrsctp_detail {
namespace {

// usrsctp's own timer thread ticks every 10 ms; we keep its granularity.
constexpr std::chrono::milliseconds kTick{10};

int conn_output(void* address, void* buffer, std::size_t length, std::uint8_t /*tos*/,
                std::uint8_t /*set_df*/) {
  auto* peer = static_cast<Peer*>(address);
  if (peer != nullptr && peer->sink != nullptr) peer->sink->output(*peer, buffer, length);
  return 0;  // a lost datagram is SCTP's to retransmit, as on a real network
}

void tune_sysctls() {
  // Defaults that only matter for the data path; RTO/heartbeat/retransmission limits are set per
  // endpoint through socket options (RFC 6458 §8.1). See bench/transport/README.md for what each
  // one did to the figures.
  usrsctp_sysctl_set_sctp_ecn_enable(0);
  usrsctp_sysctl_set_sctp_asconf_enable(0);  // AF_CONN addresses cannot be added anyway
  usrsctp_sysctl_set_sctp_auto_asconf(0);
  usrsctp_sysctl_set_sctp_initial_cwnd(10);  // RFC 6928-sized initial window (MTUs)
  usrsctp_sysctl_set_sctp_max_burst_default(0);  // 0: no artificial burst cap (cwnd rules)
  usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);  // ms, bounded by RFC 4960 §6.2's 200
  usrsctp_sysctl_set_sctp_blackhole(0);
}

}  // namespace

Stack& Stack::instance() {
  static Stack stack;
  return stack;
}

TransportResult<void> Stack::attach(boost::asio::io_context& io, PacketSink& endpoint) {
  if (endpoints_ > 0 && io_ != &io) {
    return make_error(TransportErrc::InvalidArgument,
                      "all usrsctp endpoints of a process must share one io_context");
  }
  if (!initialised_) {
    // Port 0: no UDP socket of usrsctp's own; all I/O goes through AF_CONN and our sockets.
    usrsctp_init_nothreads(0, conn_output, nullptr);
    // We compute and check CRC32c ourselves (crc32c.hpp, SSE4.2) in the UDP layer: usrsctp's
    // table-driven loop was a quarter of the CPU time of a round trip.
    usrsctp_enable_crc32c_offload();
    tune_sysctls();
    initialised_ = true;
  }
  endpoint_list_.push_back(&endpoint);
  if (endpoints_++ == 0) {
    io_ = &io;
    timer_ = std::make_unique<boost::asio::steady_timer>(io);
    last_tick_ = std::chrono::steady_clock::now();
    schedule_tick();
  }
  return {};
}

void Stack::detach(PacketSink& endpoint) {
  if (endpoints_ == 0) return;
  endpoint_list_.erase(std::remove(endpoint_list_.begin(), endpoint_list_.end(), &endpoint),
                       endpoint_list_.end());
  if (--endpoints_ == 0) {
    // Without endpoints nothing keeps the io_context busy; run() may return.
    timer_.reset();
    io_ = nullptr;
  }
}

void Stack::retire(std::vector<std::unique_ptr<Peer>> peers) {
  for (auto& p : peers) retired_.push_back(std::move(p));
}

void Stack::schedule_tick() {
  timer_->expires_at(last_tick_ + kTick);
  timer_->async_wait([this, timer = timer_.get()](const boost::system::error_code& ec) {
    if (ec || timer != timer_.get()) return;  // cancelled, or a new timer replaced this one
    const auto now = std::chrono::steady_clock::now();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_tick_);
    last_tick_ += elapsed;  // keep the sub-millisecond remainder for the next tick
    {
      const loop_trace::Scope traced(loop_trace::Kind::SctpTick);
      usrsctp_handle_timers(static_cast<std::uint32_t>(elapsed.count()));
      // Copy: an endpoint may not close from after_timers (it only posts), but be safe anyway.
      const auto endpoints = endpoint_list_;
      for (auto* e : endpoints) e->after_timers();
    }
    if (timer_.get() == timer) schedule_tick();
  });
}

}  // namespace rsp::transport::usrsctp_detail
