// The usrsctp backend's endpoint class, shared by its three source files:
//   usrsctp_endpoint.cpp  opening, association parameters, connect/send/shutdown/abort, close
//   usrsctp_udp.cpp       the UDP side: recvmmsg/sendmmsg, checksums, peers, path MTU
//   usrsctp_delivery.cpp  the user side: draining usrsctp, messages, events, send failures
//
// One usrsctp one-to-many AF_CONN socket per endpoint, bound to the endpoint's SCTP port; one
// UDP socket per local address (a dual-stack wildcard socket when none is given) bound to the
// same port number (docs/transport.md: "UDP port == SCTP port").
//
// Packet path: a readable UDP socket is drained with recvmmsg; each datagram's SCTP common header
// names the remote SCTP port, which with the source address picks the Peer whose address is the
// AF_CONN address handed to usrsctp_conninput. usrsctp answers through conn_output (Stack), which
// lands in output(): sendmmsg-batched while we process a burst, sent at once otherwise.
//
// Delivery path: usrsctp's socket upcall only sets readable_; whoever called into usrsctp
// drains afterwards (on_readable directly, user calls through StackCall by posting a drain).
// The drain reads whole messages and notifications with usrsctp_recvv and calls the handlers,
// which therefore never run inside usrsctp or inside a user's call into the endpoint.
#pragma once

#include <sys/socket.h>
#include <netinet/in.h>
#include <usrsctp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "rsp/transport/endpoint.hpp"
#include "rsp/transport/loop_trace.hpp"
#include "transport/usrsctp_stack.hpp"

namespace rsp::transport::usrsctp_detail {

using boost::asio::ip::udp;

constexpr std::size_t kBatch = 16;                 // datagrams per recvmmsg/sendmmsg
constexpr std::size_t kMaxDatagram = 65536;
constexpr std::size_t kMaxPeers = 65536;           // bound on remote endpoints remembered
constexpr std::size_t kMaxBatchesPerWakeup = 8;    // then yield to other io_context work
constexpr std::uint8_t kChunkInit = 1;             // RFC 4960 §3.2
constexpr std::uint8_t kChunkCookieEcho = 10;

inline TransportError system_error(std::string_view what, int err) {
  TransportErrc code = TransportErrc::SystemError;
  if (err == EADDRINUSE) code = TransportErrc::AddressInUse;
  if (err == EWOULDBLOCK) code = TransportErrc::WouldBlock;
  if (err == ENOENT || err == ENOTCONN) code = TransportErrc::NoSuchAssociation;
  if (err == EINVAL || err == EMSGSIZE) code = TransportErrc::InvalidArgument;
  return make_error(code, std::string(what) + ": " + std::strerror(err));
}

struct Association {
  Peer* peer = nullptr;                 // primary peer (where it was started or first heard from)
  std::vector<std::byte> partial;       // RFC 6458 §8.1.20 partial delivery, reassembled here
};

// DATA chunk flags (RFC 4960 §3.3.1) as usrsctp reports them in a failed chunk's snd_flags.
constexpr std::uint16_t kChunkLast = 0x01;
constexpr std::uint16_t kChunkFirst = 0x02;
constexpr std::uint16_t kChunkUnordered = 0x04;

class UsrsctpEndpoint final : public Endpoint, public usrsctp_detail::PacketSink {
 public:
  UsrsctpEndpoint(boost::asio::io_context& io, const EndpointOptions& options)
      : io_(io), options_(options), rx_(options.max_message_size + 4096) {}
  ~UsrsctpEndpoint() override { close(); }

  TransportResult<void> open();

  Backend backend() const noexcept override { return Backend::Udp; }
  std::uint16_t local_port() const noexcept override { return port_; }
  std::vector<IpAddress> local_addresses() const override { return options_.local_addresses; }
  void set_handlers(EndpointHandlers handlers) override { handlers_ = std::move(handlers); }

  TransportResult<AssociationId> connect(const TransportAddress& peer) override;
  TransportResult<void> send(AssociationId id, std::span<const std::byte> payload,
                             const SendInfo& info) override;
  TransportResult<AssociationId> send_to(const TransportAddress& peer,
                                         std::span<const std::byte> payload,
                                         const SendInfo& info) override;
  TransportResult<void> shutdown(AssociationId id) override { return send_flag(id, SCTP_EOF); }
  TransportResult<void> abort(AssociationId id) override { return send_flag(id, SCTP_ABORT); }
  std::optional<AssociationStatus> status(AssociationId id) const override;
  std::vector<AssociationId> associations() const override;
  TransportResult<void> set_parameters(const AssociationParameters& parameters) override;
  void close() override;
  void hold_output(bool hold) override;
  void pause_receiving(bool paused) override;

  void output(Peer& peer, const void* packet, std::size_t length) override;
  void after_timers() override {
    if (sctp_ != nullptr && (usrsctp_get_events(sctp_) & SCTP_EVENT_READ) != 0) schedule_drain();
  }

 private:
  struct UdpSocket {
    explicit UdpSocket(boost::asio::io_context& io) : socket(io) {}
    udp::socket socket;
    bool dual_stack = false;
  };

  TransportResult<void> open_udp();
  TransportResult<void> open_sctp();
  void arm(std::size_t index);
  void on_readable(std::size_t index);
  struct ReadResult {
    std::size_t datagrams = 0;
    bool full = false;  // stopped at kMaxBatchesPerWakeup with more possibly waiting
  };
  // Reads and handles up to kMaxBatchesPerWakeup batches (the caller flushes what they sent).
  ReadResult receive_batches(std::size_t index, loop_trace::Record* trace);
  void input(std::size_t index, const std::byte* data, std::size_t length, const udp::endpoint& from);
  void flush();
  void schedule_drain();
  void drain();
  bool handle_notification(const std::byte* data, std::size_t length);
  void handle_assoc_change(const sctp_assoc_change& change);
  void handle_send_failed(const sctp_send_failed_event& event, std::span<const std::byte> data);
  void flush_failures(std::optional<AssociationId> only);
  void emit_failures(std::vector<SendFailure> failures);
  void deliver(const sctp_rcvinfo& info, const sockaddr_conn& from, std::vector<std::byte> payload);
  Peer* find_or_add_peer(std::size_t socket_index, const IpAddress& address, std::uint16_t port);
  std::optional<std::size_t> socket_for(const IpAddress& address) const;
  Peer* peer_of(AssociationId id);
  TransportAddress address_of(const Peer* peer) const;
  void set_path_mtu(AssociationId id, Peer& peer);
  void set_default_mtu(std::uint32_t mtu);
  TransportResult<void> send_flag(AssociationId id, std::uint16_t flag);
  bool alive_after(const std::weak_ptr<int>& token) const { return !token.expired() && sctp_ != nullptr; }

  // Brackets a call into usrsctp. When the outermost one returns and usrsctp raised an upcall,
  // a drain is posted: handlers never run inside the call, and a drain that is already running
  // (or on_readable's, which drains itself) is not duplicated — a post from inside a handler
  // would cost the reactor an epoll_ctl and an extra wakeup per message.
  class StackCall {
   public:
    explicit StackCall(UsrsctpEndpoint& e) : e_(e), token_(e.alive_) { ++e_.stack_calls_; }
    ~StackCall() {
      if (token_.expired()) return;
      if (--e_.stack_calls_ == 0 && e_.readable_ && e_.sctp_ != nullptr) e_.schedule_drain();
    }
    StackCall(const StackCall&) = delete;
    StackCall& operator=(const StackCall&) = delete;

   private:
    UsrsctpEndpoint& e_;
    std::weak_ptr<int> token_;
  };

  boost::asio::io_context& io_;
  EndpointOptions options_;
  EndpointHandlers handlers_;
  std::vector<std::unique_ptr<UdpSocket>> sockets_;
  struct socket* sctp_ = nullptr;
  bool attached_ = false;
  std::uint16_t port_ = 0;
  std::map<std::pair<IpAddress, std::uint16_t>, std::unique_ptr<Peer>> peers_;
  std::map<AssociationId, Association> associations_;
  // Returned messages being put back together from per-chunk SEND_FAILED events, per stream.
  std::map<std::pair<AssociationId, std::uint16_t>, SendFailure> failing_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak copies guard posted work

  bool readable_ = false;      // usrsctp raised an upcall: messages or notifications may wait
  bool paused_ = false;        // pause_receiving(true): drains read nothing
  bool drain_posted_ = false;
  int stack_calls_ = 0;        // depth of our calls into usrsctp (StackCall)
  bool want_writable_ = false;  // a send said WouldBlock: hint on_writable after the next input
  std::vector<std::byte> rx_;
  std::uint32_t default_mtu_ = 0;  // the MTU new associations start with (set_default_mtu)

  // Receive batch (recvmmsg) and send batch (sendmmsg); batching_ while a burst is processed,
  // held_ while a user holds output back (hold_output), until release_posted_ runs at the latest.
  std::vector<std::array<std::byte, kMaxDatagram>> rx_batch_{kBatch};
  bool batching_ = false;
  bool held_ = false;
  bool release_posted_ = false;
  struct Pending {
    std::size_t socket_index = 0;
    udp::endpoint to;
    std::vector<std::byte> bytes;  // keeps its capacity from batch to batch
  };
  std::vector<Pending> tx_;  // the first tx_count_ are queued
  std::size_t tx_count_ = 0;
};

}  // namespace rsp::transport::usrsctp_detail
