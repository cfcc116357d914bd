// A message-oriented SCTP endpoint (one-to-many style, RFC 6458 §3) behind one interface, with
// three backends: kernel SCTP (lksctp), usrsctp over UDP encapsulation (RFC 6951), and an
// in-memory network for deterministic protocol tests (rsp/transport/memory_network.hpp).
//
// Semantics
// - An Endpoint is bound to one SCTP port and one or more local addresses. It can accept
//   associations (`listen`), start them (`connect`, or implicitly by `send_to`), and carries any
//   number of associations at once, each named by an AssociationId unique within the endpoint.
//   A one-to-one session (RFC 6458 §4) is simply one association of an endpoint.
// - Messages are whole: a send is one SCTP user message; a receive delivers one whole message
//   (partial deliveries are reassembled by the backend before the handler sees them).
// - PPIDs are given and reported in host byte order; backends put them on the wire in network
//   byte order, so PPID 11 (ASAP, RFC 5352 §5) reads as 11 in a capture.
// - Association events (RFC 6458 §6.1.1): Up (COMM_UP), Lost (COMM_LOST: peer unreachable,
//   ABORT received, or retransmissions exhausted), Restart, ShutdownComplete (graceful close done,
//   either side), CannotStart (INIT never answered). After Lost, ShutdownComplete or CannotStart
//   the id is dead and will not be reported again (ids may be reused much later by the backend).
// - A message the stack accepted but could not deliver (association lost or aborted) comes back
//   through on_send_failed with its payload and SendInfo (RFC 6458 §6.1.11 SCTP_SEND_FAILED_EVENT).
//
// Thread model
// - Everything runs on the threads that run the boost::asio::io_context given to open_endpoint;
//   the intended shape is one io_context per process, run by one thread. No handler is ever
//   invoked from inside a call the user makes on an Endpoint: handlers run only from the
//   io_context (so a sans-IO state machine may call send() from its handlers freely, and calls
//   into the endpoint never re-enter the caller).
// - An Endpoint is not thread-safe: call it only from the io_context's thread.
// - The usrsctp backend runs usrsctp without its threads (usrsctp_init_nothreads): the library
//   owns the UDP sockets (asio), feeds packets in with usrsctp_conninput, and drives usrsctp's
//   timers from an asio timer every 10 ms. All packet and timer processing happens on the
//   io_context thread (usrsctp's one remaining thread, its "SCTP iterator", only serves socket
//   options applied to all associations at once, which we do not use). The usrsctp stack is
//   process-wide, so all usrsctp endpoints of a process must share one io_context.
// - The kernel backend waits for readiness of its socket with asio (no thread, no polling).
//
// Backend selection (see resolve_backend): an explicit Backend::Kernel/Udp in EndpointOptions
// wins; otherwise the environment variable RSP_TRANSPORT=kernel|udp; otherwise Kernel when
// socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP) succeeds, else Udp.
//
// UDP port convention of the usrsctp backend (docs/transport.md): the endpoint binds its UDP
// socket to the same port number as its SCTP port (for a port-0 endpoint the kernel picks a free
// UDP port and the SCTP port is set equal to it). A peer at SCTP transport address A:P is
// therefore reached at UDP A:P; replies go to the UDP source port last seen from that peer
// (RFC 6951 §5.1), which keeps us compatible with a Linux kernel peer using net.sctp.udp_port.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rsp/result.hpp"
#include "rsp/wire/types.hpp"

namespace boost::asio {
class io_context;
}

namespace rsp::transport {

// Which SCTP implementation carries an endpoint. Memory is only produced by MemoryNetwork.
enum class Backend : std::uint8_t { Automatic, Kernel, Udp, Memory };

std::string_view to_string(Backend backend) noexcept;
// "auto"/"automatic", "kernel", "udp"/"usrsctp" (case-sensitive); nullopt otherwise.
std::optional<Backend> parse_backend(std::string_view text) noexcept;

// True when this host's kernel offers SCTP: socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP) works.
// EPROTONOSUPPORT, ESOCKTNOSUPPORT and EAFNOSUPPORT mean "no"; the probe socket is closed at once.
bool kernel_sctp_available() noexcept;

// The backend open_endpoint would use for `requested` (never Automatic): explicit Kernel/Udp
// as given, else RSP_TRANSPORT=kernel|udp if set (other values are ignored), else the probe.
Backend resolve_backend(Backend requested) noexcept;

enum class TransportErrc : std::uint8_t {
  Unsupported,         // backend not available on this host / not built
  InvalidArgument,     // bad address, port, stream number, empty or oversized message
  AddressInUse,        // bind failed: the SCTP (or its UDP encapsulation) port is taken
  NoSuchAssociation,   // the id does not name a live association of this endpoint
  WouldBlock,          // send buffer full: retry after on_writable
  Closed,              // the endpoint was closed
  SystemError,         // anything else the OS or SCTP stack reported; see the message
};
using TransportError = Error<TransportErrc>;
template <typename T>
using TransportResult = Result<T, TransportErrc>;

// RFC 6458 §6.1.1 sac_assoc_id; unique among the live associations of one endpoint.
using AssociationId = std::uint32_t;

// Per-endpoint association parameters, applied to every association the endpoint starts or
// accepts afterwards (RFC 6458 §8.1.1 SCTP_RTOINFO, §8.1.2 SCTP_ASSOCINFO, §8.1.3 SCTP_INITMSG,
// §8.1.12 SCTP_PEER_ADDR_PARAMS). Defaults are RFC 4960 §15's.
struct AssociationParameters {
  std::chrono::milliseconds rto_initial{3000};
  std::chrono::milliseconds rto_min{1000};
  std::chrono::milliseconds rto_max{60000};
  std::chrono::milliseconds heartbeat_interval{30000};  // 0 disables heartbeats
  std::uint16_t max_retransmissions = 10;       // Association.Max.Retrans
  std::uint16_t path_max_retransmissions = 5;   // Path.Max.Retrans
  std::uint16_t max_init_retransmissions = 8;   // Max.Init.Retransmits
  std::uint16_t outbound_streams = 16;
  std::uint16_t max_inbound_streams = 16;
};

struct EndpointOptions {
  Backend backend = Backend::Automatic;
  // Local addresses to bind; empty means the wildcard (all addresses of the host). The usrsctp
  // backend binds its UDP socket(s) to these; kernel SCTP binds them all (multi-homing).
  std::vector<IpAddress> local_addresses;
  std::uint16_t port = 0;  // SCTP port; 0 picks a free one (see local_port())
  bool listen = true;      // accept incoming associations
  AssociationParameters parameters;
  // Largest message accepted by send/send_to and delivered by receive (bigger incoming ones are
  // dropped with the association aborted). 64 KiB + headroom by default.
  std::size_t max_message_size = 256 * 1024;
  // Send buffer per endpoint (bytes). The usrsctp/kernel stack's SO_SNDBUF.
  std::size_t send_buffer = 2 * 1024 * 1024;
  std::size_t receive_buffer = 2 * 1024 * 1024;
  // usrsctp backend only (RFC 6951 §5.1): the UDP port that packets of associations this endpoint
  // starts are sent to until the peer's own packets show its real port. 0 = the convention (the
  // peer's SCTP port). Set it to reach a Linux kernel peer that has one UDP port for all its SCTP
  // sockets (sysctl net.sctp.udp_port; IANA's port for SCTP over UDP is 9899).
  std::uint16_t remote_udp_port = 0;
  // usrsctp backend only: after a wake-up has handled what its UDP socket held, keep reading it
  // (recvmmsg, MSG_DONTWAIT) for up to this long before the io_context blocks in epoll again.
  // Trades a CPU spinning while idle for the wake-up latency of a halted (virtual) CPU.
  // 0 = off (the kernel backend ignores it).
  std::chrono::microseconds busy_poll{0};
};

// Per-message send parameters (RFC 6458 §5.3.4 sctp_sndinfo).
struct SendInfo {
  std::uint32_t ppid = 0;      // host byte order
  std::uint16_t stream = 0;
  bool unordered = false;
  // Partial reliability (RFC 3758 timed reliability) where the backend supports it; 0 = reliable.
  std::chrono::milliseconds lifetime{0};
  // Opaque to the stack and not sent: handed back with the message when it fails
  // (SendFailure::info; RFC 6458 §5.3.4 snd_context, §6.1.11 ssfe_info).
  std::uint32_t context = 0;
};

struct ReceivedMessage {
  AssociationId association = 0;
  TransportAddress peer;       // the peer's SCTP port and its addresses as known to the stack
  std::uint32_t ppid = 0;      // host byte order
  std::uint16_t stream = 0;
  bool unordered = false;
  std::vector<std::byte> payload;
};

enum class AssociationEventKind : std::uint8_t { Up, Lost, Restart, ShutdownComplete, CannotStart };
std::string_view to_string(AssociationEventKind kind) noexcept;

struct AssociationEvent {
  AssociationEventKind kind = AssociationEventKind::Up;
  AssociationId association = 0;
  TransportAddress peer;              // may be empty for Lost/CannotStart if the stack forgot it
  std::uint16_t inbound_streams = 0;  // Up/Restart only
  std::uint16_t outbound_streams = 0;
};

struct SendFailure {
  AssociationId association = 0;
  SendInfo info;
  std::vector<std::byte> payload;
  bool was_transmitted = false;  // sent at least once but never acknowledged (SCTP_DATA_SENT)
};

struct AssociationStatus {
  AssociationId association = 0;
  TransportAddress peer;
  std::uint16_t inbound_streams = 0;
  std::uint16_t outbound_streams = 0;
  // Smoothed RTT of the primary path (RFC 4960 §6.3.1 SRTT); nullopt before the first
  // measurement or when the backend does not expose it.
  std::optional<std::chrono::microseconds> smoothed_rtt;
  // DATA chunks queued or sent but not yet acknowledged (RFC 6458 §8.2.1 sstat_unackdata +
  // sstat_penddata: the stacks count chunks, not bytes).
  std::size_t unacknowledged_chunks = 0;
  // Deprecated alias kept while the kernel backend moves over: holds the same chunk count.
  std::size_t unacknowledged_bytes = 0;
};

// Handlers, all optional, all invoked from the io_context (never from inside an Endpoint call).
struct EndpointHandlers {
  std::function<void(ReceivedMessage&&)> on_message;
  std::function<void(const AssociationEvent&)> on_association;
  std::function<void(SendFailure&&)> on_send_failed;
  // After a send returned WouldBlock: the send buffer may have room again (a hint, the way
  // EPOLLOUT is one; a send that still finds no room returns WouldBlock and re-arms it).
  std::function<void()> on_writable;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  virtual Backend backend() const noexcept = 0;
  // The bound SCTP port (never 0 after a successful open).
  virtual std::uint16_t local_port() const noexcept = 0;
  // The bound local addresses; empty when bound to the wildcard.
  virtual std::vector<IpAddress> local_addresses() const = 0;

  // Replaces all handlers. Set them right after open_endpoint: events that arrive before are
  // queued on the io_context and see the handlers current when they run.
  virtual void set_handlers(EndpointHandlers handlers) = 0;

  // Starts an association to `peer` (RFC 4960 §5.1); returns its id at once. Up or CannotStart
  // follows. Messages sent to the id before Up are queued by the stack.
  virtual TransportResult<AssociationId> connect(const TransportAddress& peer) = 0;

  // Sends one message on an existing association.
  virtual TransportResult<void> send(AssociationId association, std::span<const std::byte> payload,
                                     const SendInfo& info) = 0;
  // Sends to a transport address: uses the association to that peer if there is one, or sets
  // one up implicitly (RFC 6458 §3.1.4). Returns the association id used.
  virtual TransportResult<AssociationId> send_to(const TransportAddress& peer,
                                                 std::span<const std::byte> payload,
                                                 const SendInfo& info) = 0;

  // Graceful close (SHUTDOWN, RFC 4960 §9.2): queued data is delivered first; ShutdownComplete
  // follows. abort() sends ABORT, drops queued data (it comes back through on_send_failed) and
  // ends with a Lost event.
  virtual TransportResult<void> shutdown(AssociationId association) = 0;
  virtual TransportResult<void> abort(AssociationId association) = 0;

  virtual std::optional<AssociationStatus> status(AssociationId association) const = 0;
  // The live associations (Up or being set up).
  virtual std::vector<AssociationId> associations() const = 0;

  // Replaces the endpoint's association parameters for associations set up from now on.
  virtual TransportResult<void> set_parameters(const AssociationParameters& parameters) = 0;

  // Aborts every association and releases the ports. No handler runs after close() returns.
  // The destructor closes too.
  virtual void close() = 0;

  // Output batching for a caller that sends from outside the endpoint's handlers and knows more
  // sends follow soon (the rsp_* API answering a burst of received messages): hold_output(true)
  // keeps the packets of the following sends back, hold_output(false) sends what was held, in
  // one system call where the backend can. A hold also ends when the io_context next runs a
  // handler, so packets never wait for more than the io's next turn. Sends from inside handlers
  // are batched anyway. Default: no-op (the kernel backend hands each message to the kernel).
  virtual void hold_output(bool /*hold*/) {}

  // Flow control for a receiver that cannot keep up (the rsp_* API when the application leaves
  // its socket queue full): while paused the endpoint delivers nothing — no messages, and no
  // events or returned messages either, since the stacks queue them in the same socket buffer —
  // and leaves what arrives to the SCTP stack, whose receive window then closes, so the peer's
  // sends back up to WouldBlock (RFC 4960 §6.2.1). pause_receiving(false) delivers what waited,
  // in order. The in-memory network holds deliveries back without pushing back on senders.
  virtual void pause_receiving(bool paused) = 0;

 protected:
  Endpoint() = default;
};

// Opens an endpoint on the backend resolve_backend(options.backend) chooses.
TransportResult<std::unique_ptr<Endpoint>> open_endpoint(boost::asio::io_context& io,
                                                         const EndpointOptions& options);

}  // namespace rsp::transport
