// The kernel SCTP backend (lksctp) on real sockets. These need a kernel with SCTP: they run for
// real inside the qemu VM (scripts/vm-test.sh, docs/kernel-sctp.md); on a host without the sctp
// module every case reports that it was skipped and checks only that the backend says so.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "endpoint_scenarios.hpp"

using namespace rsp;
using namespace rsp::transport;
using namespace rsp::transport::test;
using namespace std::chrono_literals;

namespace {

// True when the case can run; otherwise records why it was skipped.
bool have_kernel_sctp() {
  if (kernel_sctp_available()) return true;
  MESSAGE("skipped: this kernel has no SCTP (run scripts/vm-test.sh for the kernel backend)");
  return false;
}

// RFC 4960's default timers: nothing here waits for a timer to expire, and on a loaded
// emulated guest the fast INIT timer (3 tries in under a second) can give up on a handshake
// that is merely slow. Loss detection is tested with the echo peer's --fast timers.
EndpointOptions kernel_options(bool listen = true) {
  EndpointOptions o;
  o.backend = Backend::Kernel;
  o.listen = listen;
  return o;
}

// The VM's second interface (scripts/vm/init: dummy rsp0 with 10.99.0.1/24), if this host has it.
bool have_address(const IpAddress& ip) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  std::memcpy(&sin.sin_addr, ip.bytes.data(), 4);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("kernel backend: without kernel SCTP, opening it fails as Unsupported, never silently") {
  if (kernel_sctp_available()) {
    MESSAGE("this kernel has SCTP: the backend opens");
    boost::asio::io_context io;
    auto ep = open_or_fail(io, kernel_options());
    CHECK(ep->backend() == Backend::Kernel);
    CHECK(ep->local_port() != 0);
    return;
  }
  boost::asio::io_context io;
  auto r = open_endpoint(io, kernel_options());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == TransportErrc::Unsupported);
  CHECK(r.error().message.find("RSP_TRANSPORT=udp") != std::string::npos);
}

TEST_CASE("kernel backend: messages of 1 B to 200 KiB travel both ways with PPID, stream and flags intact") {
  if (!have_kernel_sctp()) return;
  scenarios::messages_travel_both_ways(kernel_options);
}

TEST_CASE("kernel backend: PPIDs are in network byte order on the wire (RFC 6458 §5.3.4)") {
  if (!have_kernel_sctp()) return;
  // A plain lksctp socket as the receiver shows the raw rcv_ppid the kernel got from the wire.
  boost::asio::io_context io;
  auto server = open_or_fail(io, kernel_options());
  auto client = open_or_fail(io, kernel_options(false));
  Recorder s;
  server->set_handlers(s.handlers());
  REQUIRE(client->send_to(loopback(server->local_port()), pattern(8), SendInfo{0x0000000b, 0, false, {}}));
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1; }, bound(5s)));
  CHECK(s.messages[0].ppid == 11);  // ASAP's PPID (RFC 5352 §5) reads as 11, not 0x0b000000
}

TEST_CASE("kernel backend: one endpoint serves many associations at once") {
  if (!have_kernel_sctp()) return;
  scenarios::one_endpoint_serves_many_associations(kernel_options);
}

TEST_CASE("kernel backend: a taken port is reported as AddressInUse") {
  if (!have_kernel_sctp()) return;
  boost::asio::io_context io;
  auto ep = open_or_fail(io, kernel_options());
  REQUIRE(ep->local_port() != 0);
  auto o = kernel_options();
  o.port = ep->local_port();
  auto again = open_endpoint(io, o);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == TransportErrc::AddressInUse);
}

TEST_CASE("kernel backend: an association nobody answers ends in CannotStart and returns the message") {
  if (!have_kernel_sctp()) return;
  scenarios::unanswered_association_cannot_start(kernel_options);
}

TEST_CASE("kernel backend: shutdown completes on both sides, abort is seen as loss on both sides") {
  if (!have_kernel_sctp()) return;
  scenarios::shutdown_and_abort_seen_on_both_sides(kernel_options);
}

TEST_CASE("kernel backend: handlers never run inside the caller's send, connect or close") {
  if (!have_kernel_sctp()) return;
  scenarios::handlers_never_run_inside_a_call(kernel_options);
}

TEST_CASE("kernel backend: a paused receiver pushes back on its sender; resumed, everything arrives in order") {
  if (!have_kernel_sctp()) return;
  scenarios::a_paused_receiver_pushes_back_on_its_sender(kernel_options);
}

TEST_CASE("kernel backend: a multi-homed endpoint binds every address and the peer learns them all") {
  if (!have_kernel_sctp()) return;
  // The VM's dummy interface rsp0 carries 10.99.0.1 and 10.99.0.2 (scripts/vm/init).
  const IpAddress first = IpAddress::v4(10, 99, 0, 1);
  const IpAddress second = IpAddress::v4(10, 99, 0, 2);
  if (!have_address(first) || !have_address(second)) {
    MESSAGE("skipped: no local addresses 10.99.0.1 and 10.99.0.2 (the VM's dummy interface rsp0)");
    return;
  }
  boost::asio::io_context io;
  auto o = kernel_options();
  o.local_addresses = {first, second};
  auto server = open_or_fail(io, o);
  CHECK(server->local_addresses().size() == 2);
  auto client = open_or_fail(io, kernel_options(false));
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());
  TransportAddress only_first;
  only_first.port = server->local_port();
  only_first.addresses.push_back(first);
  auto id = client->send_to(only_first, pattern(300), SendInfo{9, 0, false, {}});
  REQUIRE_MESSAGE(id, (id ? std::string() : id.error().message));
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1 && c.saw(AssociationEventKind::Up); }, bound(5s)));
  CHECK(s.messages[0].payload == pattern(300));
  // RFC 4960 §5.1.2: the INIT ACK listed both server addresses; the client knows them all.
  auto st = client->status(*id);
  REQUIRE(st.has_value());
  CHECK(contains(st->peer, first));
  CHECK(contains(st->peer, second));
  CHECK(contains(c.events.front().peer, second));
  // Either address names the same association.
  TransportAddress only_second = only_first;
  only_second.addresses[0] = second;
  auto again = client->send_to(only_second, pattern(1), SendInfo{});
  REQUIRE(again);
  CHECK(*again == *id);
  CHECK(client->connect(only_second).value() == *id);
}

TEST_CASE("kernel backend: a peer process killed with SIGKILL ends the association") {
  if (!have_kernel_sctp()) return;
  EchoPeer peer(RSP_TRANSPORT_PEER, {"--backend", "kernel", "--fast"});
  AssociationWithPeer a(peer, kernel_options(false), pattern(100), SendInfo{7, 1, false, {}});
  CHECK(a.c.messages[0].payload == pattern(100));
  CHECK(a.c.messages[0].ppid == 7);
  CHECK(a.c.messages[0].stream == 1);

  peer.signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  // The peer's kernel closes its socket: SHUTDOWN (nothing unread) or ABORT (data unread),
  // RFC 6458 §3.1.6; either way the association ends at once, not after heartbeats.
  REQUIRE(run_until(a.io, [&] { return a.c.ended(); }, bound(10s)));
  MESSAGE("end detected after ", std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - killed).count(), " ms (",
          to_string(a.c.events.back().kind), ")");
  CHECK(a.client->associations().empty());
}

TEST_CASE("kernel backend: a frozen kernel peer keeps its association; a full window gives WouldBlock, then on_writable") {
  if (!have_kernel_sctp()) return;
  // Unlike usrsctp, the SIGSTOPped peer's kernel still answers HEARTBEATs and SACKs until its
  // receive buffer is full; the sender then sees WouldBlock (RFC 4960 §6.1 zero window).
  EchoPeer peer(RSP_TRANSPORT_PEER, {"--backend", "kernel", "--fast"});
  auto o = kernel_options(false);
  o.send_buffer = 64 * 1024;
  o.parameters = fast_parameters();  // heartbeats every 200 ms, lost after 3 unanswered
  o.parameters.max_init_retransmissions = 10;
  AssociationWithPeer a(peer, o, pattern(10));

  peer.signal(SIGSTOP);
  // Send whenever there is room until the peer's receive window is shut: a WouldBlock that no
  // on_writable follows for a second (its kernel stopped acknowledging new data).
  std::size_t sent = 0;
  bool window_shut = false;
  while (!window_shut && sent < 4000) {
    auto r = a.client->send(a.id, pattern(16384, sent), SendInfo{1, 0, false, {}});
    if (r) {
      ++sent;
      continue;
    }
    REQUIRE(r.error().code == TransportErrc::WouldBlock);
    const std::size_t before = a.c.writable;
    window_shut = !run_until(a.io, [&] { return a.c.writable > before; }, 1s);
  }
  REQUIRE(window_shut);
  MESSAGE(sent, " messages of 16 KiB accepted before the frozen peer's window shut");
  // Two more seconds frozen (ten heartbeat intervals): the peer's kernel still answers.
  run_until(a.io, [] { return false; }, 2s);
  CHECK_FALSE(a.c.ended());
  CHECK(a.client->associations().size() == 1);
  auto st = a.client->status(a.id);
  REQUIRE(st.has_value());
  CHECK(st->unacknowledged_chunks > 0);

  // Blocked now (if a late SACK made room, fill it again), then thawed: on_writable follows.
  bool blocked = false;
  for (std::size_t i = 0; i < 4000 && !blocked; ++i) {
    auto r = a.client->send(a.id, pattern(16384, sent), SendInfo{1, 0, false, {}});
    if (r) ++sent;
    blocked = !r && r.error().code == TransportErrc::WouldBlock;
  }
  REQUIRE(blocked);
  const std::size_t writable_before = a.c.writable;
  const std::size_t echoes_before = a.c.messages.size();
  peer.signal(SIGCONT);
  REQUIRE(run_until(a.io, [&] { return a.c.writable > writable_before; }, bound(20s)));
  REQUIRE(run_until(a.io, [&] { return a.c.messages.size() > echoes_before; }, bound(20s)));
  CHECK(a.c.messages.back().payload.size() == 16384);
  CHECK(a.client->send(a.id, pattern(100), SendInfo{2, 0, false, {}}).has_value());
}

TEST_CASE("kernel backend: unacknowledged messages come back whole, with their send context, when the association is aborted") {
  if (!have_kernel_sctp()) return;
  // A peer that accepts but never reads: its window closes, our messages queue, then we abort.
  boost::asio::io_context server_io;  // never run after setup: the server never reads
  auto so = kernel_options();
  so.receive_buffer = 64 * 1024;
  auto server = open_or_fail(server_io, so);
  boost::asio::io_context client_io;
  auto lone = open_or_fail(client_io, kernel_options(false));
  Recorder l;
  lone->set_handlers(l.handlers());
  auto lid = lone->connect(loopback(server->local_port()));
  REQUIRE(lid);
  REQUIRE(run_until(client_io, [&] { return l.saw(AssociationEventKind::Up); }, bound(5s)));
  const std::vector<std::size_t> sizes{1, 3000, 65536, 20, 200 * 1024};
  std::size_t queued = 0;
  while (queued < 400) {
    const std::size_t k = queued % sizes.size();
    auto r = lone->send(*lid, pattern(sizes[k], queued), SendInfo{static_cast<std::uint32_t>(queued), 2, k == 3, {},
                                                                   static_cast<std::uint32_t>(0xC0DE0000 + queued)});
    if (!r) {
      CHECK(r.error().code == TransportErrc::WouldBlock);
      break;
    }
    ++queued;
    client_io.poll();
  }
  REQUIRE(queued > 0);
  REQUIRE(lone->abort(*lid));
  REQUIRE(run_until(client_io, [&] { return l.saw(AssociationEventKind::Lost); }, bound(10s)));
  // The kernel may report the failed messages after the loss: wait for the first (bounded, so a
  // slow guest does not fail the test), then 300 ms for the rest.
  run_until(client_io, [&] { return !l.failures.empty(); }, bound(5s));
  run_until(client_io, [] { return false; }, 300ms);
  MESSAGE(queued, " messages queued, ", l.failures.size(), " returned");
  REQUIRE_FALSE(l.failures.empty());
  for (const auto& f : l.failures) {
    const std::size_t k = f.info.ppid % sizes.size();
    CHECK(f.association == *lid);
    CHECK(f.info.stream == 2);
    CHECK(f.info.unordered == (k == 3));
    CHECK(f.info.context == 0xC0DE0000 + f.info.ppid);
    CHECK(f.payload == pattern(sizes[k], f.info.ppid));
  }
}

namespace {

// Sets a sysctl under /proc/sys for the scope of a test and puts the old value back after.
class SysctlOverride {
 public:
  SysctlOverride(std::string path, const std::string& value) : path_(std::move(path)) {
    std::ifstream in(path_);
    if (!(in >> old_)) return;
    std::ofstream out(path_);
    ok_ = static_cast<bool>(out << value << '\n');
    out.close();
    ok_ = ok_ && out.good();
  }
  ~SysctlOverride() {
    if (ok_) std::ofstream(path_) << old_ << '\n';
  }
  SysctlOverride(const SysctlOverride&) = delete;
  SysctlOverride& operator=(const SysctlOverride&) = delete;
  bool ok() const { return ok_; }

 private:
  std::string path_;
  std::string old_;
  bool ok_ = false;
};

}  // namespace

TEST_CASE("kernel backend: a kernel endpoint and a usrsctp endpoint talk over UDP encapsulation (RFC 6951)") {
  if (!have_kernel_sctp()) return;
  // The kernel's tunnel socket listens on net.sctp.udp_port (IANA's 9899) for every SCTP socket;
  // a kernel endpoint reaches a usrsctp one at UDP port == its SCTP port (the usrsctp backend's
  // convention) through SCTP_REMOTE_UDP_ENCAPS_PORT, i.e. EndpointOptions::remote_udp_port.
  SysctlOverride udp_port("/proc/sys/net/sctp/udp_port", "9899");
  if (!udp_port.ok()) {
    MESSAGE("skipped: cannot set net.sctp.udp_port (needs root in the VM)");
    return;
  }
  boost::asio::io_context io;
  EndpointOptions uo;
  uo.backend = Backend::Udp;
  uo.remote_udp_port = 9899;  // where the kernel listens, for associations usrsctp starts
  auto user = open_or_fail(io, uo);
  REQUIRE(user->backend() == Backend::Udp);
  auto ko = kernel_options();
  ko.remote_udp_port = user->local_port();
  auto kernel = open_or_fail(io, ko);
  Recorder u, k;
  user->set_handlers(u.handlers());
  kernel->set_handlers(k.handlers());

  // kernel -> usrsctp, and the answer back on the same association.
  auto kid = kernel->send_to(loopback(user->local_port()), pattern(5000, 1), SendInfo{11, 1, false, {}});
  REQUIRE_MESSAGE(kid, (kid ? std::string() : kid.error().message));
  const bool delivered = run_until(io, [&] { return u.messages.size() == 1; }, bound(15s));
  if (!delivered) {
    for (const auto& e : k.events) MESSAGE("kernel side: ", to_string(e.kind), " ", e.association);
    for (const auto& e : u.events) MESSAGE("usrsctp side: ", to_string(e.kind), " ", e.association);
  }
  REQUIRE(delivered);
  CHECK(u.messages[0].payload == pattern(5000, 1));
  CHECK(u.messages[0].ppid == 11);
  CHECK(u.messages[0].stream == 1);
  CHECK(u.messages[0].peer.port == kernel->local_port());
  REQUIRE(user->send(u.messages[0].association, pattern(70000, 2), SendInfo{12, 0, false, {}}));
  REQUIRE(run_until(io, [&] { return k.messages.size() == 1; }, bound(15s)));
  CHECK(k.messages[0].association == *kid);
  CHECK(k.messages[0].payload == pattern(70000, 2));
  CHECK(k.messages[0].ppid == 12);

  // usrsctp -> kernel: a second kernel endpoint, reached through the kernel's port 9899.
  auto server = open_or_fail(io, kernel_options());
  Recorder s;
  server->set_handlers(s.handlers());
  auto uid = user->send_to(loopback(server->local_port()), pattern(64, 3), SendInfo{13, 0, false, {}});
  REQUIRE_MESSAGE(uid, (uid ? std::string() : uid.error().message));
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1; }, bound(15s)));
  CHECK(s.messages[0].payload == pattern(64, 3));
  CHECK(s.messages[0].ppid == 13);
  REQUIRE(server->send(s.messages[0].association, pattern(3, 4), SendInfo{14, 0, false, {}}));
  REQUIRE(run_until(io, [&] { return u.messages.size() == 2; }, bound(15s)));
  CHECK(u.messages[1].association == *uid);
  CHECK(u.messages[1].payload == pattern(3, 4));
}
