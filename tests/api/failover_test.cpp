// Multi-process tests of the rsp_* API: real rsp-registrar processes, the draft's ECHO pool
// element (examples/echo_pe.c) as a pool of 3 processes, and this process as the pool user
// through the C API. The serving PE is killed (SIGKILL), frozen (SIGSTOP), or deregisters
// (SIGTERM); the next messages must reach another PE, the last COOKIE must be replayed to it,
// failover must be notified, and every message accepted with failover allowed must be echoed
// exactly once or be reported (dropped / unconfirmed / possibly duplicated). A PE that receives
// and never answers (tests/api/hold_pe.c) serves the case of messages that reached the failed
// PE's SCTP stack unanswered (UNCONFIRMED).
// Registrar failure: two registrars, the first dies, PEs and PU continue with the second.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "process.hpp"
#include "rsp/rsp.h"

using namespace std::chrono_literals;
using rsp::api::test::Child;
using rsp::api::test::free_port;

namespace {

std::string unique_pool(const char* tag) {
  static int counter = 0;
  return std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

std::unique_ptr<Child> start_registrar(std::uint16_t port) {
  return std::make_unique<Child>(rsp::api::test::registrar_argv(port));
}

struct PoolElementProcess {
  std::unique_ptr<Child> child;
  std::uint32_t id = 0;
};

// A PE program (echo_pe, hold_pe): both print "registered <PE id>" once registered.
PoolElementProcess start_element(const std::vector<std::string>& argv, const std::string& registrars,
                                 const char* profile) {
  PoolElementProcess pe;
  pe.child = std::make_unique<Child>(
      argv, std::vector<std::string>{"RSP_REGISTRAR=" + registrars, std::string("RSP_PROFILE=") + profile});
  auto line = pe.child->wait_for("registered ", 20s);
  REQUIRE_MESSAGE(line, argv.front(), " did not register");
  pe.id = static_cast<std::uint32_t>(std::stoul(line->substr(11)));
  return pe;
}

// The draft's ECHO PE, sending a cookie ("echoes=N") after each echo.
PoolElementProcess start_pe(const std::string& pool, const std::string& registrars,
                            const char* profile = "default") {
  return start_element({ECHO_PE_BIN, "-a", "127.0.0.1", "-h", pool, "-c"}, registrars, profile);
}

// A PE that never answers; it sends one cookie ("held=N") once it received `cookie_after`
// messages (tests/api/hold_pe.c).
PoolElementProcess start_hold_pe(const std::string& pool, const std::string& registrars, int cookie_after) {
  return start_element({HOLD_PE_BIN, "-a", "127.0.0.1", "-h", pool, "-k", std::to_string(cookie_after)},
                       registrars, "default");
}

// The pool user side: this process, through the C API.
class PoolUser {
 public:
  explicit PoolUser(const std::vector<std::uint16_t>& registrar_ports, int profile) {
    storage_.resize(registrar_ports.size());
    entries_.resize(registrar_ports.size());
    for (std::size_t i = 0; i < registrar_ports.size(); ++i) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      sin.sin_port = htons(registrar_ports[i]);
      std::memcpy(&storage_[i], &sin, sizeof sin);
      entries_[i].rri_addr = reinterpret_cast<sockaddr*>(&storage_[i]);
      entries_[i].rri_addrs = 1;
      entries_[i].rri_next = i + 1 < registrar_ports.size() ? &entries_[i + 1] : nullptr;
    }
    rsp_info info{};
    info.ri_registrars = entries_.data();
    info.ri_disable_autoconfig = 1;
    info.ri_profile = static_cast<unsigned>(profile);
    REQUIRE(rsp_initialize(&info) == 0);
    fd = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
    REQUIRE(fd >= 0);
    rsp_event_subscribe events{1, 1, 1, 1, 1, 1};
    REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_EVENTS, &events, sizeof events) == 0);
    const int on = 1;
    REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_NONBLOCK, &on, sizeof on) == 0);
  }
  ~PoolUser() {
    rsp_close(fd);
    rsp_cleanup();
  }

  struct Reply {
    std::string data;
    std::uint32_t pe = 0;
  };

  // The next data message (notifications are collected on the way); nullopt after `timeout`.
  std::optional<Reply> receive(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      char buf[4096];
      rsp_sndrcvinfo info{};
      int flags = 0;
      const ssize_t n = rsp_recvmsg(fd, buf, sizeof buf, &info, &flags);
      if (n > 0 && (flags & MSG_RSERPOOL_NOTIFICATION) != 0) {
        rserpool_notification note{};
        std::memcpy(&note, buf, std::min(sizeof note, static_cast<std::size_t>(n)));
        notes.push_back(note);
        continue;
      }
      if (n > 0) return Reply{std::string(buf, static_cast<std::size_t>(n)), info.rinfo_pe_id};
      REQUIRE(errno == EAGAIN);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      rsp_poll(&p, 1, static_cast<int>(left.count()));
    }
  }

  void send(const std::string& text) {
    REQUIRE(rsp_sendmsg(fd, text.data(), text.size(), nullptr, 0) ==
            static_cast<ssize_t>(text.size()));
  }
  // With RSP_FAILOVER_NOT_ALLOWED in rinfo_flags when `failover_allowed` is false.
  void send(const std::string& text, bool failover_allowed) {
    rsp_sndrcvinfo info{};
    info.rinfo_flags = failover_allowed ? 0 : RSP_FAILOVER_NOT_ALLOWED;
    REQUIRE(rsp_sendmsg(fd, text.data(), text.size(), &info, 0) ==
            static_cast<ssize_t>(text.size()));
  }

  std::vector<rserpool_notification> notes;
  int fd = -1;

 private:
  std::vector<sockaddr_storage> storage_;
  std::vector<rsp_registrar_info> entries_;
};

// The sequence numbers named by a PU's RSERPOOL_MESSAGE_STATUS notifications, by state
// (multisets: a number reported twice shows).
struct MessageStatuses {
  std::multiset<int> dropped, duplicated, unconfirmed;
  std::size_t seen = 0;  // notifications looked at so far
  // Takes the notifications after `seen`; each must name a range within 1..last_seq, and is
  // given to `check` first.
  void collect(const std::vector<rserpool_notification>& notes, int last_seq,
               const std::function<void(const rserpool_message_status&)>& check) {
    for (; seen < notes.size(); ++seen) {
      if (notes[seen].rn_header.rn_type != RSERPOOL_MESSAGE_STATUS) continue;
      const auto& m = notes[seen].rn_message_status;
      REQUIRE(m.rms_first_seq >= 1);
      REQUIRE(m.rms_first_seq <= m.rms_last_seq);
      REQUIRE(m.rms_last_seq <= static_cast<std::uint64_t>(last_seq));
      check(m);
      for (auto seq = m.rms_first_seq; seq <= m.rms_last_seq; ++seq) {
        const int q = static_cast<int>(seq);
        if (m.rms_state == RSERPOOL_MESSAGE_DROPPED) dropped.insert(q);
        if (m.rms_state == RSERPOOL_MESSAGE_POSSIBLY_DUPLICATED) duplicated.insert(q);
        if (m.rms_state == RSERPOOL_MESSAGE_UNCONFIRMED) unconfirmed.insert(q);
      }
    }
  }
};

// A registrar, three examples/echo_pe in a new pool, and this process's pool user connected to
// the pool (destroyed first: the PU closes before the PEs and the registrar go).
struct ThreeEchoPes {
  explicit ThreeEchoPes(const char* tag)
      : port(free_port()), registrar(start_registrar(port)), pool(unique_pool(tag)) {
    const std::string registrars = "127.0.0.1:" + std::to_string(port);
    for (int i = 0; i < 3; ++i) {
      auto pe = start_pe(pool, registrars);
      const auto id = pe.id;
      pes.emplace(id, std::move(pe));
    }
    pu.emplace(std::vector<std::uint16_t>{port}, RSP_PROFILE_DEFAULT);
    REQUIRE(rsp_connect(pu->fd, reinterpret_cast<const unsigned char*>(pool.data()), pool.size()) == 0);
  }
  const std::uint16_t port;
  std::unique_ptr<Child> registrar;
  const std::string pool;
  std::map<std::uint32_t, PoolElementProcess> pes;
  std::optional<PoolUser> pu;
};

std::string message(int seq) { return "msg " + std::to_string(seq); }

enum class Fault { Kill, Stop, Deregister };

// The scenario of issue 6 for one kind of PE failure.
void failover_scenario(Fault fault) {
  ThreeEchoPes three("echo");
  auto& pes = three.pes;
  auto& pu = *three.pu;

  // Phase 1: request/response; the serving PE sends a cookie after each echo.
  constexpr int kBefore = 5;
  std::uint32_t serving = 0;
  for (int seq = 1; seq <= kBefore; ++seq) {
    pu.send(message(seq));
    auto reply = pu.receive(10s);
    REQUIRE_MESSAGE(reply, "no echo for ", message(seq));
    CHECK(reply->data == message(seq));
    if (serving == 0) serving = reply->pe;
    CHECK(reply->pe == serving);
  }
  REQUIRE(pes.count(serving) == 1);
  // The cookie sent after the last echo may still be in flight: wait until it is kept.
  for (int i = 0; i < 200 && rsp_has_cookie(pu.fd) != 1; ++i) pu.receive(10ms);
  CHECK(rsp_has_cookie(pu.fd) == 1);

  Child& victim = *pes.at(serving).child;
  switch (fault) {
    case Fault::Kill:
      victim.signal(SIGKILL);
      CHECK(victim.wait_exit(5s));
      break;
    case Fault::Stop:
      victim.signal(SIGSTOP);
      REQUIRE(victim.wait_stopped(5s));  // else it may still echo what is sent next
      break;
    case Fault::Deregister:
      victim.signal(SIGTERM);  // echo_pe: rsp_deregister, rsp_close, exit 0
      CHECK(victim.wait_exit(10s) == 0);
      break;
  }

  // Phase 2: pipelined messages with failover allowed.
  constexpr int kAfter = 5;
  for (int seq = kBefore + 1; seq <= kBefore + kAfter; ++seq) pu.send(message(seq));
  std::map<int, int> replies;
  std::set<std::uint32_t> repliers;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  auto accounted = [&] {
    for (int seq = kBefore + 1; seq <= kBefore + kAfter; ++seq) {
      bool reported = false;
      for (const auto& n : pu.notes) {
        if (n.rn_header.rn_type == RSERPOOL_MESSAGE_STATUS &&
            n.rn_message_status.rms_state != RSERPOOL_MESSAGE_POSSIBLY_DUPLICATED &&
            n.rn_message_status.rms_first_seq <= static_cast<std::uint64_t>(seq) &&
            static_cast<std::uint64_t>(seq) <= n.rn_message_status.rms_last_seq)
          reported = true;
      }
      if (replies[seq] == 0 && !reported) return false;
    }
    return true;
  };
  while (!accounted() && std::chrono::steady_clock::now() < deadline) {
    auto reply = pu.receive(500ms);
    if (!reply) continue;
    const int seq = std::stoi(reply->data.substr(4));
    CHECK(seq > kBefore);
    ++replies[seq];
    repliers.insert(reply->pe);
  }
  REQUIRE_MESSAGE(accounted(), "some messages were neither echoed nor reported");

  // Another PE answered, and only it.
  CHECK(repliers.size() == 1);
  CHECK(repliers.count(serving) == 0);
  const std::uint32_t successor = repliers.empty() ? 0 : *repliers.begin();
  CHECK(pes.count(successor) == 1);

  // Failover was notified: necessary (from the serving PE), complete (to the successor, with
  // the cookie replayed).
  bool necessary = false, complete = false;
  if (std::getenv("RSP_TEST_VERBOSE") != nullptr) {
    for (const auto& n : pu.notes) rsp_print_notification(&n, stderr);
  }
  for (const auto& n : pu.notes) {
    if (n.rn_header.rn_type != RSERPOOL_FAILOVER) continue;
    if (n.rn_failover.rf_state == RSERPOOL_FAILOVER_NECESSARY) {
      // A candidate that fails during setup (e.g. the dead PE still in the cache) gives a
      // further NECESSARY with no PE given up (0).
      if (n.rn_failover.rf_from_pe == serving) necessary = true;
      CHECK((n.rn_failover.rf_from_pe == serving || n.rn_failover.rf_from_pe == 0));
    }
    if (n.rn_failover.rf_state == RSERPOOL_FAILOVER_COMPLETE) {
      complete = true;
      CHECK(n.rn_failover.rf_from_pe == serving);
      CHECK(n.rn_failover.rf_to_pe == successor);
      CHECK(n.rn_failover.rf_has_cookie == 1);
    }
  }
  CHECK(necessary);
  CHECK(complete);
  // The session was announced once (RSERPOOL_SESSION_CHANGE) and survives the failover.
  int added = 0, removed = 0;
  for (const auto& n : pu.notes) {
    if (n.rn_header.rn_type != RSERPOOL_SESSION_CHANGE) continue;
    if (n.rn_session_change.rsc_state == RSERPOOL_SESSION_ADD) ++added;
    if (n.rn_session_change.rsc_state == RSERPOOL_SESSION_REMOVE) ++removed;
  }
  CHECK(added == 1);
  CHECK(removed == 0);
  // RSERPOOL_SHUTDOWN_EVENT: only a PE that deregistered and closed ended the session on purpose.
  int shutdowns = 0;
  for (const auto& n : pu.notes) {
    if (n.rn_header.rn_type != RSERPOOL_SHUTDOWN_EVENT) continue;
    ++shutdowns;
    CHECK(n.rn_shutdown_event.rse_session != 0);
  }
  CHECK(shutdowns == (fault == Fault::Deregister ? 1 : 0));

  // The successor got the serving PE's last cookie (COOKIE_ECHO, RFC 5352 §3.9).
  if (pes.count(successor) == 1) {
    auto echo = pes.at(successor).child->wait_for("cookie-echo ", 5s);
    REQUIRE_MESSAGE(echo, "the successor PE saw no cookie echo");
    // The serving PE sends its cookie right after each echo, so the last cookie the PU holds is
    // that of echo kBefore, or of kBefore-1 when the last one was still in flight at the fault.
    INFO(*echo);
    CHECK((echo->find("echoes=" + std::to_string(kBefore)) != std::string::npos ||
           echo->find("echoes=" + std::to_string(kBefore - 1)) != std::string::npos));
  }

  // Nothing duplicated without being told.
  for (const auto& [seq, count] : replies) {
    if (count <= 1) continue;
    bool flagged = false;
    for (const auto& n : pu.notes) {
      if (n.rn_header.rn_type == RSERPOOL_MESSAGE_STATUS &&
          n.rn_message_status.rms_state == RSERPOOL_MESSAGE_POSSIBLY_DUPLICATED &&
          n.rn_message_status.rms_first_seq <= static_cast<std::uint64_t>(seq) &&
          static_cast<std::uint64_t>(seq) <= n.rn_message_status.rms_last_seq)
        flagged = true;
    }
    CHECK_MESSAGE(flagged, message(seq), " was echoed ", count, " times without notice");
  }

  // Messages that must not fail over: after the failover they go to the successor as usual;
  // the per-message flag is accepted.
  rsp_sndrcvinfo info{};
  info.rinfo_flags = RSP_FAILOVER_NOT_ALLOWED;
  const std::string last = message(99);
  REQUIRE(rsp_sendmsg(pu.fd, last.data(), last.size(), &info, 0) ==
          static_cast<ssize_t>(last.size()));
  std::optional<PoolUser::Reply> reply;
  while ((reply = pu.receive(10s)) && reply->data != last) {
  }
  REQUIRE(reply);
  CHECK(reply->pe == successor);
}

// Issue 6: messages sent with failover NOT allowed that were pending on the serving PE when it
// died are reported DROPPED (RSERPOOL_MESSAGE_STATUS) with their exact sequence numbers and are
// not resent; those allowed to fail over reach the successor exactly once. The fault comes first
// and the messages after it, so none of them can have been acknowledged by the dead PE's SCTP
// stack: every one is handed back by the transport, and the accounting is exact.
void not_allowed_scenario(Fault fault) {
  ThreeEchoPes three("nofo");
  auto& pes = three.pes;
  auto& pu = *three.pu;

  // Phase 1: request/response, every message answered (and so acknowledged) before the fault.
  constexpr int kBefore = 3;
  std::uint32_t serving = 0;
  for (int seq = 1; seq <= kBefore; ++seq) {
    pu.send(message(seq), seq % 2 == 0);
    auto reply = pu.receive(10s);
    REQUIRE_MESSAGE(reply, "no echo for ", message(seq));
    CHECK(reply->data == message(seq));
    if (serving == 0) serving = reply->pe;
    CHECK(reply->pe == serving);
  }
  REQUIRE(pes.count(serving) == 1);

  Child& victim = *pes.at(serving).child;
  if (fault == Fault::Kill) {
    victim.signal(SIGKILL);
    CHECK(victim.wait_exit(5s));
  } else {
    victim.signal(SIGSTOP);
    // Else its stack may still acknowledge (UNCONFIRMED) or echo what is sent next.
    REQUIRE(victim.wait_stopped(5s));
  }

  // Phase 2: pipelined, mixed. Sequence numbers are the session's: kBefore + 1 onwards.
  const std::vector<bool> allowed = {true, false, false, true, true, false, true, false};
  std::set<int> expect_dropped, expect_echoed;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    const int seq = kBefore + 1 + static_cast<int>(i);
    pu.send(message(seq), allowed[i]);
    (allowed[i] ? expect_echoed : expect_dropped).insert(seq);
  }
  const int last_seq = kBefore + static_cast<int>(allowed.size());

  std::map<int, int> echoes;
  std::set<std::uint32_t> repliers;
  MessageStatuses statuses;
  auto& dropped = statuses.dropped;  // every DROPPED report, to catch one reported twice
  auto& duplicated = statuses.duplicated;
  auto& unconfirmed = statuses.unconfirmed;
  auto collect = [&] {
    statuses.collect(pu.notes, last_seq, [&](const rserpool_message_status& m) {
      if (m.rms_state == RSERPOOL_MESSAGE_DROPPED) CHECK(m.rms_pe_id == serving);
    });
  };
  auto accounted = [&] {
    collect();
    for (int seq : expect_echoed)
      if (echoes[seq] == 0) return false;
    for (int seq : expect_dropped)
      if (dropped.count(seq) == 0) return false;
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!accounted() && std::chrono::steady_clock::now() < deadline) {
    auto reply = pu.receive(200ms);
    if (!reply) continue;
    const int seq = std::stoi(reply->data.substr(4));
    ++echoes[seq];
    repliers.insert(reply->pe);
  }
  if (std::getenv("RSP_TEST_VERBOSE") != nullptr) {
    for (const auto& n : pu.notes) rsp_print_notification(&n, stderr);
  }
  REQUIRE_MESSAGE(accounted(), "some messages were neither echoed nor reported dropped");
  // Anything still on its way (an echo of a dropped message would be a resend): a bounded look.
  for (auto extra = pu.receive(500ms); extra; extra = pu.receive(500ms)) {
    const int seq = std::stoi(extra->data.substr(4));
    ++echoes[seq];
    repliers.insert(extra->pe);
  }
  collect();

  // Exactly the not-allowed messages were dropped, each reported once; none of them was resent.
  CHECK(std::set<int>(dropped.begin(), dropped.end()) == expect_dropped);
  CHECK(dropped.size() == expect_dropped.size());
  for (int seq : expect_dropped) CHECK_MESSAGE(echoes[seq] == 0, message(seq), " was resent");
  // Every allowed message reached the successor exactly once (the frozen or dead PE echoed none).
  for (int seq : expect_echoed) CHECK_MESSAGE(echoes[seq] == 1, message(seq), " echoed ", echoes[seq], " times");
  for (int seq = 1; seq <= kBefore; ++seq) CHECK(echoes[seq] == 0);
  CHECK(repliers.size() == 1);
  CHECK(repliers.count(serving) == 0);
  // Nothing of phase 2 reached the old PE's stack (no UNCONFIRMED), and a resent message may be
  // flagged possibly duplicated but a dropped one never is.
  for (int seq = kBefore + 1; seq <= last_seq; ++seq) CHECK(unconfirmed.count(seq) == 0);
  for (int seq : duplicated) CHECK(expect_echoed.count(seq) == 1);

  // The failover itself was reported, from the serving PE to the one that echoed.
  bool complete = false;
  for (const auto& n : pu.notes) {
    if (n.rn_header.rn_type == RSERPOOL_FAILOVER && n.rn_failover.rf_state == RSERPOOL_FAILOVER_COMPLETE) {
      complete = true;
      CHECK(n.rn_failover.rf_from_pe == serving);
      if (!repliers.empty()) CHECK(n.rn_failover.rf_to_pe == *repliers.begin());
    }
  }
  CHECK(complete);
}

// Issue 6, the hard case: messages that reached the serving PE's SCTP stack (acknowledged) but
// that its application never answered. A PE that holds what it receives (hold_pe) is alone in
// the pool, so the PU picks it; the PU sends kHeld messages with failover allowed, the holder's
// application reads them all (two echo PEs joined the pool meanwhile), and the holder is killed
// or frozen; the PU sends kAfter more. docs/api.md's contract: each held message is either
// UNCONFIRMED (reached the old PE's stack, not resent) or resent to the successor — and then
// flagged POSSIBLY_DUPLICATED, since it was transmitted once; every later message reaches one
// successor exactly once; nothing is dropped; the COMPLETE notification counts what the ranges
// name. Which of the two a held message gets depends on whether its SACK had reached the PU
// (the holder's stack may delay it up to 200 ms): `Ack::Awaited` waits until it has, so all
// must be UNCONFIRMED; `Ack::NotAwaited` faults at once and accepts either.
enum class Ack { Awaited, NotAwaited };

void unconfirmed_scenario(Fault fault, Ack ack) {
  const std::uint16_t port = free_port();
  auto registrar = start_registrar(port);
  const std::string pool = unique_pool("hold");
  const std::string registrars = "127.0.0.1:" + std::to_string(port);
  constexpr int kHeld = 6;
  constexpr int kAfter = 5;
  constexpr int kLast = kHeld + kAfter;
  const bool awaited = ack == Ack::Awaited;
  auto holder = start_hold_pe(pool, registrars, awaited ? kHeld : 0);
  PoolUser pu({port}, RSP_PROFILE_DEFAULT);
  REQUIRE(rsp_connect(pu.fd, reinterpret_cast<const unsigned char*>(pool.data()), pool.size()) == 0);
  // The session is the holder's now; the successors join before the messages, so that the
  // fault can follow their reception at once.
  std::map<std::uint32_t, PoolElementProcess> echoers;
  for (int i = 0; i < 2; ++i) {
    auto pe = start_pe(pool, registrars);
    const auto id = pe.id;
    echoers.emplace(id, std::move(pe));
  }

  for (int seq = 1; seq <= kHeld; ++seq) pu.send(message(seq));
  // The holder's application has read them all, so its SCTP stack received them.
  for (int n = 1; n <= kHeld; ++n) {
    auto line = holder.child->wait_for("received ", 10s);
    REQUIRE_MESSAGE(line, "the holder did not receive ", message(n));
    CHECK(*line == "received " + std::to_string(n) + " " + message(n));
  }
  // The holder's cookie, sent after the last one, travels with the SACK its stack still owed
  // (a delayed SACK is bundled with outgoing DATA): once the PU holds it, the PU has seen the
  // acknowledgement of all kHeld messages. Bounded wait; nothing else may arrive meanwhile.
  if (awaited) {
    for (int i = 0; i < 500 && rsp_has_cookie(pu.fd) != 1; ++i) CHECK_FALSE(pu.receive(10ms).has_value());
    REQUIRE_MESSAGE(rsp_has_cookie(pu.fd) == 1, "the holder's cookie did not reach the PU");
  }
  if (fault == Fault::Kill) {
    holder.child->signal(SIGKILL);
    CHECK(holder.child->wait_exit(5s));
  } else {
    holder.child->signal(SIGSTOP);  // no ABORT: the PU's retransmissions time out
    // Until all its threads stopped, its stack would still acknowledge the next messages.
    REQUIRE(holder.child->wait_stopped(5s));
  }
  for (int seq = kHeld + 1; seq <= kLast; ++seq) pu.send(message(seq));

  std::map<int, int> echoes;
  std::set<std::uint32_t> repliers;
  MessageStatuses statuses;  // multisets: a seq reported twice shows
  auto& unconfirmed = statuses.unconfirmed;
  auto& duplicated = statuses.duplicated;
  auto& dropped = statuses.dropped;
  auto collect = [&] {
    statuses.collect(pu.notes, kLast, [&](const rserpool_message_status& m) { CHECK(m.rms_pe_id == holder.id); });
  };
  auto accounted = [&] {
    collect();
    for (int seq = 1; seq <= kHeld; ++seq)
      if (echoes[seq] == 0 && unconfirmed.count(seq) == 0) return false;
    for (int seq = kHeld + 1; seq <= kLast; ++seq)
      if (echoes[seq] == 0) return false;
    return true;
  };
  auto take = [&](const PoolUser::Reply& reply) {
    const int seq = std::stoi(reply.data.substr(4));
    ++echoes[seq];
    repliers.insert(reply.pe);
  };
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  while (!accounted() && std::chrono::steady_clock::now() < deadline) {
    if (auto reply = pu.receive(200ms)) take(*reply);
  }
  if (std::getenv("RSP_TEST_VERBOSE") != nullptr) {
    for (const auto& n : pu.notes) rsp_print_notification(&n, stderr);
  }
  REQUIRE_MESSAGE(accounted(), "some messages were neither echoed nor reported unconfirmed");
  // A resend of an unconfirmed message would still be on its way: a bounded look.
  for (auto extra = pu.receive(500ms); extra; extra = pu.receive(500ms)) take(*extra);
  collect();

  for (int seq = 1; seq <= kHeld; ++seq) {
    INFO(message(seq), ": echoed ", echoes[seq], ", unconfirmed ", unconfirmed.count(seq),
         ", possibly duplicated ", duplicated.count(seq));
    // Reported once, or resent once: never both, never neither.
    CHECK(unconfirmed.count(seq) + static_cast<std::size_t>(echoes[seq]) == 1);
    // The holder received it, so a resend is a possible duplicate and must say so.
    if (echoes[seq] != 0) CHECK(duplicated.count(seq) == 1);
    // The PU had the SACK for it before the fault (the cookie above): the old PE's stack has
    // it, so the contract leaves one outcome, UNCONFIRMED.
    if (awaited) CHECK(unconfirmed.count(seq) == 1);
  }
  for (int seq = kHeld + 1; seq <= kLast; ++seq) {
    INFO(message(seq));
    CHECK(echoes[seq] == 1);
    CHECK(unconfirmed.count(seq) == 0);
    CHECK(duplicated.count(seq) <= 1);
    // A frozen PE looks alive until the PU's retransmissions give up (~0.7 s), so these were
    // transmitted to it first and never acknowledged: resent, and possibly duplicated. (A
    // killed one might be noticed sooner, and the messages queued untransmitted instead.)
    if (fault == Fault::Stop) CHECK(duplicated.count(seq) == 1);
  }
  // Possibly duplicated means resent, so it reached the successor.
  for (int seq : duplicated) CHECK_MESSAGE(echoes[seq] == 1, message(seq), " flagged possibly duplicated, echoed ", echoes[seq], " times");
  CHECK(dropped.empty());
  // Nothing echoed twice without notice (and here nothing at all: the holder echoes nothing).
  for (const auto& [seq, count] : echoes)
    CHECK_MESSAGE((count <= 1 || duplicated.count(seq) != 0), message(seq), " echoed ", count, " times without notice");

  // One successor answered, one of the echo PEs.
  CHECK(repliers.size() == 1);
  const std::uint32_t successor = repliers.empty() ? 0 : *repliers.begin();
  CHECK(echoers.count(successor) == 1);

  // Failover notified, and COMPLETE counts what the ranges name: unconfirmed exactly (they come
  // only with a report), possibly duplicated at least (late returns come without a FAILOVER).
  bool necessary = false;
  int complete = 0;
  std::uint64_t rf_unconfirmed = 0, rf_duplicated = 0, rf_dropped = 0;
  for (const auto& n : pu.notes) {
    if (n.rn_header.rn_type != RSERPOOL_FAILOVER) continue;
    const auto& f = n.rn_failover;
    if (f.rf_state == RSERPOOL_FAILOVER_NECESSARY && f.rf_from_pe == holder.id) necessary = true;
    CHECK(f.rf_state != RSERPOOL_FAILOVER_FAILED);
    if (f.rf_state != RSERPOOL_FAILOVER_COMPLETE) continue;
    ++complete;
    CHECK(f.rf_from_pe == holder.id);
    CHECK(f.rf_to_pe == successor);
    CHECK(f.rf_has_cookie == (awaited ? 1 : 0));
    CHECK(f.rf_possibly_duplicated <= f.rf_resent);
    rf_unconfirmed += f.rf_unconfirmed;
    rf_duplicated += f.rf_possibly_duplicated;
    rf_dropped += f.rf_dropped;
  }
  CHECK(necessary);
  CHECK(complete == 1);
  CHECK(rf_unconfirmed == unconfirmed.size());
  CHECK(rf_duplicated <= duplicated.size());
  CHECK(rf_dropped == 0);

  // The successor got the holder's cookie (COOKIE_ECHO, RFC 5352 §3.9).
  if (awaited && echoers.count(successor) == 1) {
    auto echo = echoers.at(successor).child->wait_for("cookie-echo ", 5s);
    REQUIRE_MESSAGE(echo, "the successor PE saw no cookie echo");
    CHECK(echo->find("held=" + std::to_string(kHeld)) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("serving PE killed while holding messages unanswered: they are UNCONFIRMED, later ones reach a successor once") {
  unconfirmed_scenario(Fault::Kill, Ack::Awaited);
}

TEST_CASE("serving PE frozen while holding messages unanswered: they are UNCONFIRMED, later ones reach a successor once") {
  unconfirmed_scenario(Fault::Stop, Ack::Awaited);
}

TEST_CASE("serving PE killed right after its application read messages it never answers: each is UNCONFIRMED or resent as possibly duplicated") {
  unconfirmed_scenario(Fault::Kill, Ack::NotAwaited);
}

TEST_CASE("failover not allowed, serving PE frozen: pending not-allowed messages are DROPPED by seq, allowed ones resent once") {
  not_allowed_scenario(Fault::Stop);
}

TEST_CASE("failover not allowed, serving PE killed: pending not-allowed messages are DROPPED by seq, allowed ones resent once") {
  not_allowed_scenario(Fault::Kill);
}

TEST_CASE("SIGKILL of the serving PE: the next messages reach another PE with the cookie replayed") {
  failover_scenario(Fault::Kill);
}

TEST_CASE("SIGSTOP of the serving PE: failover by timeout to another PE, cookie replayed") {
  failover_scenario(Fault::Stop);
}

TEST_CASE("the serving PE deregisters and closes: the PU fails over to another PE") {
  failover_scenario(Fault::Deregister);
}

TEST_CASE("rsp_getpoolinfo lists every PE of the pool with its policy and transport") {
  const std::uint16_t port = free_port();
  auto registrar = start_registrar(port);
  const std::string pool = unique_pool("info");
  const std::string registrars = "127.0.0.1:" + std::to_string(port);
  std::set<std::uint32_t> ids;
  std::vector<PoolElementProcess> pes;
  for (int i = 0; i < 3; ++i) {
    pes.push_back(start_pe(pool, registrars));
    ids.insert(pes.back().id);
  }
  PoolUser pu({port}, RSP_PROFILE_DEFAULT);
  rsp_poolinfo* info = nullptr;
  const auto* handle = reinterpret_cast<const unsigned char*>(pool.data());
  REQUIRE(rsp_getpoolinfo(-1, handle, pool.size(), 10, &info) == 3);
  REQUIRE(info != nullptr);
  CHECK(info->pi_policy == RSP_ROUND_ROBIN);
  std::set<std::uint32_t> seen;
  for (rsp_peinfo* e = info->pi_first; e != nullptr; e = e->pi_next) {
    seen.insert(e->pi_pe_id);
    CHECK(e->pi_loadinfo.rli_policy == RSP_ROUND_ROBIN);
    CHECK(e->pi_protocol == IPPROTO_SCTP);
    REQUIRE(e->pi_addrs >= 1);
    CHECK(e->pi_addr[0].ss_family == AF_INET);
  }
  CHECK(seen == ids);
  rsp_freepoolinfo(info);

  // RSPLIB's basic-mode call agrees.
  rsp_addrinfo* ai = nullptr;
  CHECK(rsp_getaddrinfo(handle, pool.size(), &ai, 10, 0) == 3);
  std::set<std::uint32_t> ai_ids;
  for (rsp_addrinfo* a = ai; a != nullptr; a = a->ai_next) ai_ids.insert(a->ai_pe_id);
  CHECK(ai_ids == ids);
  rsp_freeaddrinfo(ai);

  const unsigned char unknown[] = "no-such-pool";
  errno = 0;
  CHECK(rsp_getpoolinfo(pu.fd, unknown, sizeof unknown - 1, 0, &info) == -1);
  CHECK(errno == ENOENT);
  CHECK(rsp_connect(pu.fd, unknown, sizeof unknown - 1) == -1);
  CHECK(errno == ENOENT);
}

TEST_CASE("rsp_register's policy values reach rsp_getpoolinfo; registering again updates the load; rsp_close deregisters") {
  const std::uint16_t port = free_port();
  auto registrar = start_registrar(port);
  PoolUser pu({port}, RSP_PROFILE_DEFAULT);  // this process is the PU and, below, the PE
  const unsigned int no_cache = 1;
  REQUIRE(rsp_setsockopt(pu.fd, SOL_RSERPOOL, RSP_STALE_CACHE, &no_cache, sizeof no_cache) == 0);
  const std::string pool = unique_pool("load");
  const auto* handle = reinterpret_cast<const unsigned char*>(pool.data());

  const int pe = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  REQUIRE(pe >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(rsp_bind(pe, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  rsp_loadinfo load{};
  load.rli_policy = RSP_LEAST_USED_DEGRADATION;
  load.rli_load = 0x20000000;
  load.rli_load_degradation = 0x01000000;
  REQUIRE(rsp_register(pe, handle, pool.size(), &load) == 0);
  std::uint32_t id = 0;
  REQUIRE(rsp_getsockname(pe, nullptr, nullptr, &id) == 0);

  // The registrar's view of the pool's only PE, through a resolution.
  auto listed = [&]() -> std::optional<rsp_loadinfo> {
    rsp_poolinfo* info = nullptr;
    if (rsp_getpoolinfo(pu.fd, handle, pool.size(), 10, &info) != 1) return std::nullopt;
    std::optional<rsp_loadinfo> out;
    if (info->pi_first->pi_pe_id == id) out = info->pi_first->pi_loadinfo;
    rsp_freepoolinfo(info);
    return out;
  };
  auto first = listed();
  REQUIRE(first);
  CHECK(first->rli_policy == RSP_LEAST_USED_DEGRADATION);
  CHECK(first->rli_load == 0x20000000);
  CHECK(first->rli_load_degradation == 0x01000000);
  // A PE socket answers its sessions; it cannot address a PE or a pool.
  rsp_sndrcvinfo to_pe{};
  to_pe.rinfo_flags = RSP_PE_HANDLE;
  to_pe.rinfo_session = 1;
  to_pe.rinfo_pe_id = id;
  errno = 0;
  CHECK(rsp_sendmsg(pe, "x", 1, &to_pe, 0) == -1);
  CHECK(errno == EINVAL);

  // RSPLIB's way of updating the load: rsp_register again (a re-registration at once).
  load.rli_load = 0x60000000;
  REQUIRE(rsp_register(pe, handle, pool.size(), &load) == 0);
  std::optional<rsp_loadinfo> now;
  for (int i = 0; i < 100 && !(now && now->rli_load == 0x60000000); ++i) {
    now = listed();
    pu.receive(20ms);  // bounded pause
  }
  REQUIRE(now);
  CHECK(now->rli_load == 0x60000000);
  CHECK(now->rli_load_degradation == 0x01000000);

  // rsp_close of a registered socket deregisters it (draft §4): the pool is gone.
  REQUIRE(rsp_close(pe) == 0);
  rsp_poolinfo* info = nullptr;
  errno = 0;
  CHECK(rsp_getpoolinfo(pu.fd, handle, pool.size(), 10, &info) == -1);
  CHECK(errno == ENOENT);
}

TEST_CASE("registrar failure: PEs re-register with and the PU resolves through the second") {
  const std::uint16_t port1 = free_port();
  const std::uint16_t port2 = free_port();
  auto first = start_registrar(port1);
  auto second = start_registrar(port2);
  const std::string pool = unique_pool("reg");
  const std::string registrars =
      "127.0.0.1:" + std::to_string(port1) + ",127.0.0.1:" + std::to_string(port2);
  std::set<std::uint32_t> ids;
  std::vector<PoolElementProcess> pes;
  for (int i = 0; i < 3; ++i) {
    pes.push_back(start_pe(pool, registrars, "low-latency"));
    ids.insert(pes.back().id);
  }
  PoolUser pu({port1, port2}, RSP_PROFILE_LOW_LATENCY);
  // Every resolution below asks a registrar: none is answered from the cache.
  const unsigned int no_cache = 1;
  REQUIRE(rsp_setsockopt(pu.fd, SOL_RSERPOOL, RSP_STALE_CACHE, &no_cache, sizeof no_cache) == 0);
  const auto* handle = reinterpret_cast<const unsigned char*>(pool.data());
  rsp_poolinfo* info = nullptr;
  REQUIRE(rsp_getpoolinfo(pu.fd, handle, pool.size(), 10, &info) == 3);
  rsp_freepoolinfo(info);

  // RSERPOOL_REGISTRAR_CHANGE notifications for the registrar on `port`.
  auto told = [&](unsigned state, std::uint16_t port) {
    for (const auto& n : pu.notes) {
      if (n.rn_header.rn_type != RSERPOOL_REGISTRAR_CHANGE) continue;
      const auto& change = n.rn_registrar_change;
      if (change.rrc_state != state || change.rrc_address.ss_family != AF_INET) continue;
      if (ntohs(reinterpret_cast<const sockaddr_in*>(&change.rrc_address)->sin_port) == port) return true;
    }
    return false;
  };
  pu.receive(10ms);  // collects what is queued
  CHECK(told(RSERPOOL_REGISTRAR_FOUND, port1));
  CHECK_FALSE(told(RSERPOOL_REGISTRAR_FOUND, port2));

  first->signal(SIGKILL);
  REQUIRE(first->wait_exit(5s));

  // Only the second registrar can answer now; it knows the PEs once they re-registered, and the
  // PU is told it lost the first and found the second.
  std::set<std::uint32_t> seen;
  auto done = [&] {
    return seen == ids && told(RSERPOOL_REGISTRAR_LOST, port1) && told(RSERPOOL_REGISTRAR_FOUND, port2);
  };
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    info = nullptr;
    seen.clear();
    if (rsp_getpoolinfo(pu.fd, handle, pool.size(), 10, &info) > 0) {
      for (rsp_peinfo* e = info->pi_first; e != nullptr; e = e->pi_next) seen.insert(e->pi_pe_id);
    }
    rsp_freepoolinfo(info);
    pu.receive(200ms);  // bounded pause that also collects notifications
  }
  if (std::getenv("RSP_TEST_VERBOSE") != nullptr) {
    for (const auto& n : pu.notes) rsp_print_notification(&n, stderr);
  }
  CHECK(seen == ids);
  CHECK(told(RSERPOOL_REGISTRAR_LOST, port1));
  CHECK(told(RSERPOOL_REGISTRAR_FOUND, port2));

  REQUIRE(rsp_connect(pu.fd, handle, pool.size()) == 0);
  pu.send("after registrar failure");
  auto reply = pu.receive(10s);
  REQUIRE(reply);
  CHECK(reply->data == "after registrar failure");
  CHECK(ids.count(reply->pe) == 1);
}

TEST_CASE("rsp_forcefailover and rsp_reportfailure move the session to another PE, and say so") {
  ThreeEchoPes three("force");
  auto& pes = three.pes;
  auto& pu = *three.pu;
  auto echo = [&](const std::string& text) {
    pu.send(text);
    auto reply = pu.receive(10s);
    REQUIRE_MESSAGE(reply, "no echo for ", text);
    CHECK(reply->data == text);
    return reply->pe;
  };
  auto completed = [&](std::uint32_t from, std::uint32_t to) {
    for (const auto& n : pu.notes) {
      if (n.rn_header.rn_type == RSERPOOL_FAILOVER && n.rn_failover.rf_state == RSERPOOL_FAILOVER_COMPLETE &&
          n.rn_failover.rf_from_pe == from && n.rn_failover.rf_to_pe == to)
        return true;
    }
    return false;
  };
  const std::uint32_t first = echo("one");
  REQUIRE(pes.count(first) == 1);

  REQUIRE(rsp_forcefailover(pu.fd, 0, 0) == 0);
  const std::uint32_t second = echo("two");
  CHECK(second != first);
  CHECK(pes.count(second) == 1);
  CHECK(completed(first, second));

  // The session's PE reported unreachable (ENDPOINT_UNREACHABLE to the registrar): another PE.
  REQUIRE(rsp_reportfailure(pu.fd, nullptr, 0, 0) == 0);
  const std::uint32_t third = echo("three");
  CHECK(third != second);
  CHECK(completed(second, third));
  // Reported PEs are a last resort for a while: a further forced failover avoids `second`.
  REQUIRE(rsp_forcefailover(pu.fd, 0, 0) == 0);
  CHECK(echo("four") != second);

  // Addressed sends (draft §2.1): to a PE by its handle, whichever PE the session has now.
  for (const auto& [pe_id, process] : pes) {
    if (pe_id == second) continue;  // reported unreachable: still asked for when named, but slow
    rsp_sndrcvinfo to_pe{};
    to_pe.rinfo_flags = RSP_PE_HANDLE;
    to_pe.rinfo_pe_id = pe_id;
    const std::string text = "to " + std::to_string(pe_id);
    REQUIRE(rsp_sendmsg(pu.fd, text.data(), text.size(), &to_pe, 0) == static_cast<ssize_t>(text.size()));
    auto reply = pu.receive(10s);
    REQUIRE(reply);
    CHECK(reply->data == text);
    CHECK(reply->pe == pe_id);
  }
  // To a pool by its handle, on a socket that never called rsp_connect.
  const int other = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  REQUIRE(other >= 0);
  rsp_sndrcvinfo to_pool{};
  to_pool.rinfo_flags = RSP_POOL_HANDLE;
  std::memcpy(to_pool.rinfo_pool_handle, three.pool.data(), three.pool.size());
  to_pool.rinfo_pool_handle_size = three.pool.size();
  REQUIRE(rsp_sendmsg(other, "by pool", 7, &to_pool, 0) == 7);
  char buf[64];
  rsp_sndrcvinfo from{};
  int flags = 0;
  ssize_t n = 0;
  const timeval ten{10, 0};
  REQUIRE(rsp_setsockopt(other, SOL_RSERPOOL, RSP_RCVTIMEO, &ten, sizeof ten) == 0);
  do {
    n = rsp_recvmsg(other, buf, sizeof buf, &from, &flags);
  } while (n > 0 && (flags & MSG_RSERPOOL_NOTIFICATION) != 0);
  REQUIRE(n == 7);
  CHECK(std::string(buf, 7) == "by pool");
  CHECK(pes.count(from.rinfo_pe_id) == 1);
  rsp_close(other);
}

TEST_CASE("the draft's ECHO pool user example echoes its input through the ECHO pool element") {
  const std::uint16_t port = free_port();
  auto registrar = start_registrar(port);
  const std::string pool = unique_pool("echo");
  const std::string registrars = "127.0.0.1:" + std::to_string(port);
  auto pe = start_pe(pool, registrars);
  const std::string input = "hello pool\n";
  Child pu({ECHO_PU_BIN, "-h", pool}, {"RSP_REGISTRAR=" + registrars}, input);
  auto line = pu.read_line(15s);
  REQUIRE(line);
  CHECK(*line + "\n" == input);
  CHECK(pu.wait_exit(10s) == 0);
}
