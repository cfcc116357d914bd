// The rsp_* socket calls (draft-ietf-rserpool-api-00 §2-4, RSPLIB's forms): argument checks on
// the caller's thread, asap work done with the io lease (in this thread when it can take it,
// else posted to the holder), waits bounded by the socket's timeouts.
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "api/runtime.hpp"

using namespace rsp;
using namespace rsp::api;
using std::chrono::milliseconds;

namespace {

// lksctp's SCTP_UNORDERED (<netinet/sctp.h>, RFC 6458 §5.3.2), the sctp_flags value RSPLIB
// callers on Linux use; usrsctp's header spells the same flag 0x0400.
constexpr std::uint16_t kSctpUnordered = 1;

// Deregistration on close is bounded: the registrar may be gone, and rsp_close must return.
constexpr milliseconds kCloseDeregistrationBound{2000};
// How long rsp_close waits for its associations' graceful SHUTDOWN before they are aborted.
constexpr milliseconds kCloseShutdownBound{1000};

Runtime* runtime() {
  if (Runtime* r = Runtime::get()) return r;
  // Calls before rsp_initialize() initialise with the defaults (registrars from RSP_REGISTRAR
  // or SERVER_ANNOUNCE), as if rsp_initialize(NULL) had been called.
  if (Runtime::initialize(nullptr) != 0) return nullptr;
  return Runtime::get();
}

std::shared_ptr<Socket> lookup(int fd) {
  Runtime* r = Runtime::get();
  return r != nullptr ? r->find(fd) : nullptr;
}

// Waits for a future the io fulfils; timeout 0 means forever. nullopt on timeout.
template <typename T>
std::optional<T> wait(std::future<T>& future, milliseconds timeout) {
  if (Runtime* r = Runtime::get()) r->about_to_block();
  if (timeout.count() > 0 && future.wait_for(timeout) != std::future_status::ready)
    return std::nullopt;
  return future.get();
}

std::span<const std::byte> bytes_of(const void* data, std::size_t length) {
  return {static_cast<const std::byte*>(data), length};
}

// Lease holder: the socket's pool user, created on first use.
asap::PoolUser* ensure_pool_user(Runtime& r, const std::shared_ptr<Socket>& s) {
  assert(r.lease().held_by_this_thread());
  if (s->pool_user) return s->pool_user.get();
  asap::Context* context = context_for(r, *s);
  if (context == nullptr) return nullptr;
  auto created = asap::PoolUser::create(*context, pool_user_handlers(s));
  if (!created) return nullptr;
  s->pool_user = std::move(*created);
  return s->pool_user.get();
}

asap::SessionOptions session_options(const Socket& s) {
  asap::SessionOptions o;
  switch (s.options().confirmation) {
    case RSP_CONFIRM_REPLY_ALL: o.confirmation = asap::Confirmation::ReplyConfirmsAll; break;
    case RSP_CONFIRM_EXPLICIT: o.confirmation = asap::Confirmation::Explicit; break;
    default: o.confirmation = asap::Confirmation::ReplyConfirmsOldest;
  }
  o.connect_now = true;
  o.max_queued_bytes = s.options().send_queue_limit;  // RSP_SNDBUF
  return o;
}

// Lease holder: the PE session a send/cookie addresses (0 = the only one).
std::optional<asap::SessionId> pe_session(Socket& s, rserpool_session_t requested) {
  if (requested != 0) return static_cast<asap::SessionId>(requested);
  const auto sessions = s.pool_element->sessions();
  if (sessions.size() == 1) return sessions.front();
  return std::nullopt;
}

// RSPLIB's rsp_register: a re-registration interval, and a Registration Life of three times
// it (RSPLIB's rule). Neither set: the context's (RFC 5352 §5.1 T4, docs/asap.md).
struct RegistrationTimers {
  std::optional<milliseconds> reregistration_interval;
  std::optional<milliseconds> registration_lifetime;
};

int register_impl(int fd, const unsigned char* pool_handle, std::size_t size,
                  const rsp_loadinfo* loadinfo, int flags, RegistrationTimers timers = {}) {
  Runtime* r = runtime();
  if (r == nullptr) return -1;
  auto s = r->find(fd);
  if (!s) return fail(EBADF);
  if (!valid_pool_handle(pool_handle, size)) return fail(EINVAL);
  const PoolHandle pool = pool_handle_of(pool_handle, size);
  const PolicyInfo policy = policy_from_loadinfo(loadinfo);
  auto promise = std::make_shared<std::promise<int>>();
  auto future = promise->get_future();
  const int started = r->call([&]() -> int {
    if (s->pool_user) return EISCONN;
    if (s->pool_element) {
      if (s->pool_element->pool_handle() != pool) return EINVAL;
      auto updated = s->pool_element->update_policy(policy);
      if (!updated) return to_errno(updated.error());
      promise->set_value(0);  // RSPLIB: re-registering updates the values, no new wait
      return 0;
    }
    asap::Context* context = context_for(*r, *s);
    if (context == nullptr) return EIO;
    asap::PoolElementOptions options;
    options.pool_handle = pool;
    options.policy = policy;
    options.local_addresses = s->bind_addresses;
    options.port = s->bind_port;
    options.reregistration_interval = timers.reregistration_interval;
    options.registration_lifetime = timers.registration_lifetime;
    s->registration_waiter = promise;
    auto created = asap::PoolElement::create(*context, std::move(options), pool_element_handlers(s));
    if (!created) {
      s->registration_waiter.reset();
      return to_errno(created.error());
    }
    s->pool_element = std::move(*created);
    return 0;
  });
  if (started != 0) return fail(started);
  if ((flags & REGF_DONTWAIT) != 0) return 0;
  const auto outcome = wait(future, s->options().send_timeout);
  const int error = outcome ? *outcome : ETIMEDOUT;
  if (error == 0) return 0;
  if ((flags & REGF_DAEMONMODE) == 0) {
    // Not registered: the socket goes back to its unregistered state.
    r->call([&] {
      s->registration_waiter.reset();
      s->pool_element.reset();
    });
  }
  return fail(error);
}

int connect_impl(int fd, const unsigned char* pool_handle, std::size_t size,
                 unsigned int stale_cache_ms) {
  Runtime* r = runtime();
  if (r == nullptr) return -1;
  auto s = r->find(fd);
  if (!s) return fail(EBADF);
  if (!valid_pool_handle(pool_handle, size)) return fail(EINVAL);
  const PoolHandle pool = pool_handle_of(pool_handle, size);
  if (stale_cache_ms != 0)
    s->update_options([&](SocketOptions& o) { o.stale_cache = milliseconds(stale_cache_ms); });
  auto promise = std::make_shared<std::promise<int>>();
  auto future = promise->get_future();
  // draft §3 rsp_connect: query the registrar for the pool first; an unknown pool is an error.
  const int started = r->call([&]() -> int {
    if (s->pool_element) return EINVAL;
    if (s->session != asap::kNoSession) return EISCONN;
    asap::PoolUser* pu = ensure_pool_user(*r, s);
    if (pu == nullptr) return EIO;
    pu->resolve(pool, {}, [promise](asap::AsapResult<asap::Resolution> result) {
      promise->set_value(result ? 0 : to_errno(result.error()));
    });
    return 0;
  });
  if (started != 0) return fail(started);
  const auto outcome = wait(future, s->options().send_timeout);
  if (!outcome) return fail(ETIMEDOUT);
  if (*outcome != 0) return fail(*outcome);
  const int opened = r->call([&]() -> int {
    if (s->session != asap::kNoSession) return EISCONN;
    auto session = s->pool_user->open_session(pool, session_options(*s));
    if (!session) return to_errno(session.error());
    s->session = *session;
    s->pool_sessions[pool] = *session;
    s->connected_session = *session;
    return 0;
  });
  return opened == 0 ? 0 : fail(opened);
}

// `timeout`: the call's own bound on waiting for room (RSPLIB's timeout_ms), instead of
// RSP_SNDTIMEO; `nonblocking`: the call never waits, whatever the socket's mode.
ssize_t send_impl(int fd, const void* data, std::size_t length, const rsp_sndrcvinfo* sinfo,
                  int flags, std::optional<milliseconds> timeout = std::nullopt, bool nonblocking = false) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  if (data == nullptr && length > 0) return fail(EFAULT);
  if (length == 0) return fail(EINVAL);
  const SocketOptions options = s->options();
  const std::uint16_t info_flags = sinfo != nullptr ? sinfo->rinfo_flags : 0;
  asap::SendOptions send;
  if (sinfo != nullptr) {
    send.ppid = sinfo->rinfo_ppid;
    send.stream = sinfo->rinfo_stream;
    // RFC 3758 timed reliability (PR-SCTP), which both backends offer.
    send.lifetime = milliseconds(sinfo->rinfo_timetolive);
  }
  send.unordered = (info_flags & RSP_UNORDERED) != 0;
  const bool addressed = (info_flags & (RSP_PE_HANDLE | RSP_POOL_HANDLE)) != 0;
  send.failover_allowed = (info_flags & RSP_FAILOVER_NOT_ALLOWED) == 0 &&
                          (flags & FAILOVER_NOT_ALLOWED) == 0 &&
                          options.failover_policy != RSP_FAILOVER_POLICY_NOT_ALLOWED;
  // RFC 5352 §5: PPID 11 is ASAP's own (COOKIE, BUSINESS_CARD) on a data association.
  if (send.ppid == asap::kControlPpid) return fail(EINVAL);
  if ((info_flags & RSP_PE_HANDLE) != 0) send.pool_element = sinfo->rinfo_pe_id;
  std::optional<PoolHandle> pool;
  if ((info_flags & RSP_POOL_HANDLE) != 0) {
    if (!valid_pool_handle(sinfo->rinfo_pool_handle, sinfo->rinfo_pool_handle_size))
      return fail(EINVAL);
    pool = pool_handle_of(sinfo->rinfo_pool_handle, sinfo->rinfo_pool_handle_size);
  }
  Runtime* r = Runtime::get();
  // Runs with the io lease: sends at once (usrsctp hands the packet to the kernel before this
  // returns) and reports errors directly.
  auto send_now = [&]() -> int {
    assert(r->lease().held_by_this_thread());
    const auto payload = bytes_of(data, length);
    if (s->pool_element) {
      // A PE answers its sessions; it does not address PEs or pools (draft §2.1 is the PU's).
      if (addressed) return EINVAL;
      const auto session = pe_session(*s, sinfo != nullptr ? sinfo->rinfo_session : 0);
      if (!session) return EDESTADDRREQ;
      auto sent = s->pool_element->send(*session, payload, send);
      return sent ? 0 : to_errno(sent.error());
    }
    asap::SessionId session = s->session;
    if (sinfo != nullptr && sinfo->rinfo_session != 0)
      session = static_cast<asap::SessionId>(sinfo->rinfo_session);
    if (pool) {
      // draft §2.1: send by pool handle; the socket keeps one session per pool.
      auto it = s->pool_sessions.find(*pool);
      if (it != s->pool_sessions.end()) {
        session = it->second;
      } else {
        asap::PoolUser* pu = ensure_pool_user(*r, s);
        if (pu == nullptr) return EIO;
        auto opened = pu->open_session(*pool, session_options(*s));
        if (!opened) return to_errno(opened.error());
        session = *opened;
        s->pool_sessions[*pool] = session;
        if (s->session == asap::kNoSession) s->session = session;
      }
    }
    if (session == asap::kNoSession || !s->pool_user) return ENOTCONN;
    auto seq = s->pool_user->send(session, payload, send);
    if (!seq) return to_errno(seq.error());
    s->last_seq[session] = *seq;
    return 0;
  };
  // The destination is known to exist: a PE's named session, a PU's own session that is not
  // in the Failed state.
  const bool pe_fast = s->registered_pe && sinfo != nullptr && sinfo->rinfo_session != 0 && !addressed;
  const bool pu_fast = !s->registered_pe && s->connected_session != asap::kNoSession &&
                       !s->session_failed && !pool &&
                       (sinfo == nullptr || sinfo->rinfo_session == 0 ||
                        static_cast<asap::SessionId>(sinfo->rinfo_session) == s->connected_session);
  // One attempt: 0 or the errno of its failure.
  auto attempt = [&]() -> int {
    {
      const IoLease::Guard guard = r->lease().take();
      if (guard.held()) {
        // Any other send may open a session, and with it an endpoint (and usrsctp's thread).
        std::optional<SignalDeferral> signals;
        if (!pe_fast && !pu_fast) signals.emplace();
        // More received messages wait in this socket's queue: the application is answering a
        // burst, as the echo PE and a pipelining PU do. Its packets are held back to go out
        // together (one sendmmsg instead of a sendto each) with the answer to the burst's last
        // message, or at the io's next turn (transport::Endpoint::hold_output).
        transport::Endpoint* endpoint = s->data_endpoint();
        const bool burst = endpoint != nullptr && s->readable();
        if (burst) endpoint->hold_output(true);
        const int error = send_now();
        if (endpoint != nullptr && !burst) endpoint->hold_output(false);
        return error;
      }
    }
    // Another application thread holds the lease (it runs the io). To a known destination the
    // message is copied and posted without waiting, unless the last send found the session's
    // queue full; ordering is kept (posts run in order, and a new holder runs pending posts
    // before anything else). A posted message was accepted, so it is queued beyond the
    // session's limit if need be. An error found then (the session vanished meanwhile) is
    // reported in-band as RSERPOOL_MESSAGE_STATUS / DROPPED with sequence number 0. Otherwise
    // the send is posted and waited for.
    if ((pe_fast || pu_fast) && !s->send_blocked.load(std::memory_order_relaxed)) {
      std::vector<std::byte> copy(static_cast<const std::byte*>(data),
                                  static_cast<const std::byte*>(data) + length);
      const asap::SessionId session = pe_fast ? static_cast<asap::SessionId>(sinfo->rinfo_session)
                                              : s->connected_session.load();
      asap::SendOptions accepted = send;
      accepted.beyond_queue_limit = true;
      r->lease().post([r, s, session, accepted, copy = std::move(copy)] {
        assert(r->lease().held_by_this_thread());
        std::optional<asap::AsapError> error;
        if (s->pool_element) {
          auto sent = s->pool_element->send(session, copy, accepted);
          if (!sent) error = sent.error();
        } else if (s->pool_user) {
          auto seq = s->pool_user->send(session, copy, accepted);
          if (seq) s->last_seq[session] = *seq; else error = seq.error();
        } else {
          return;  // closed meanwhile
        }
        if (error) {
          rserpool_message_status m{};
          m.rms_type = RSERPOOL_MESSAGE_STATUS;
          m.rms_length = sizeof m;
          m.rms_state = RSERPOOL_MESSAGE_DROPPED;
          m.rms_session = static_cast<rserpool_session_t>(session);
          s->push_notification(RSERPOOL_MESSAGE_STATUS, &m, sizeof m);
        }
      });
      return 0;
    }
    return r->call(send_now);
  };

  // A full send buffer or session queue (EAGAIN): a blocking socket runs the io (or lets the
  // lease holder run it) until the association took enough, up to RSP_SNDTIMEO (then EAGAIN,
  // as send(2) with SO_SNDTIMEO), or until a signal handler is to run (EINTR).
  using Clock = std::chrono::steady_clock;
  nonblocking = nonblocking || options.nonblocking || (flags & MSG_DONTWAIT) != 0;
  if (!timeout) timeout = options.send_timeout;
  std::optional<Clock::time_point> deadline;
  std::optional<SignalDeferral> waiting;
  for (;;) {
    const int error = attempt();
    if (error != EAGAIN) {
      if (error != 0) return fail(error);
      if (s->send_blocked.load(std::memory_order_relaxed)) s->send_blocked = false;
      return static_cast<ssize_t>(length);
    }
    s->send_blocked = true;
    if (nonblocking) return fail(EAGAIN);
    if (!deadline) {
      deadline = timeout->count() > 0 ? Clock::now() + *timeout : Clock::time_point::max();
      waiting.emplace();
    }
    if (Clock::now() >= *deadline) return fail(EAGAIN);
    if (r->run_io_briefly(*deadline, *waiting) == Runtime::Wait::Interrupted) return fail(EINTR);
  }
}

// Blocks until the socket's queue has something (or timeout 0 = forever elapses).
ssize_t recv_impl(int fd, void* buffer, std::size_t length, rsp_sndrcvinfo* info, int* msg_flags,
                  std::optional<milliseconds> timeout, bool nonblocking, bool data_only,
                  bool whole_message = false) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  if (buffer == nullptr && length > 0) return fail(EFAULT);
  const SocketOptions options = s->options();
  if (!timeout) timeout = options.receive_timeout;
  nonblocking = nonblocking || options.nonblocking;
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      timeout->count() > 0 ? Clock::now() + *timeout : Clock::time_point::max();
  bool ran_io = false;
  // Created before the first wait: asynchronous signals stay pending until the call returns
  // or they end its wait with EINTR (receive_window.cpp).
  std::optional<SignalDeferral> signals;
  // After the window: the eventfd signals what this call leaves queued (Socket::end_receive).
  struct EndReceive {
    Socket& socket;
    ~EndReceive() { socket.end_receive(); }
  } end_receive{*s};
  std::size_t total = 0;
  int flags_out = 0;
  for (;;) {
    auto piece = s->pop(static_cast<char*>(buffer) + total, length - total, data_only);
    if (piece) {
      if (piece->resume_receiving) {
        // Read down to half the limit: the transport may deliver again (lease holder's work).
        Runtime::get()->lease().post([weak = std::weak_ptr<Socket>(s)] {
          if (auto socket = weak.lock()) socket->resume_receiving();
        });
      }
      total += piece->bytes;
      flags_out = piece->msg_flags;
      if (info != nullptr) *info = piece->info;
      if (!whole_message || (flags_out & MSG_EOR) != 0 || total == length) break;
      continue;
    }
    if (s->closed()) return fail(EBADF);
    if (total > 0 && !whole_message) break;
    if (nonblocking) return fail(EAGAIN);
    std::optional<timespec> left;
    if (timeout->count() > 0) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
      if (ns.count() <= 0) return fail(EAGAIN);  // SO_RCVTIMEO expired
      left = timespec{static_cast<time_t>(ns.count() / 1'000'000'000),
                      static_cast<long>(ns.count() % 1'000'000'000)};
    }
    if (!signals) signals.emplace();
    if (!ran_io) {
      // First run the io in this thread for a bounded window; then, or when another
      // application thread runs it, sleep on the eventfd.
      ran_io = true;
      const auto waited = Runtime::get()->run_until_readable(*s, deadline, *signals);
      if (waited == Runtime::Wait::Interrupted) return fail(EINTR);
      if (waited != Runtime::Wait::Busy) continue;
    }
    pollfd p{s->fd, POLLIN, 0};
    const int n = ::ppoll(&p, 1, left ? &*left : nullptr, &signals->caller_mask());
    if (n < 0 && errno == EINTR) return -1;
  }
  if (msg_flags != nullptr) *msg_flags = flags_out;
  return static_cast<ssize_t>(total);
}

bool is_rsp_socket(int fd) { return lookup(fd) != nullptr; }

// A caller about to wait in poll(2)/select(2): the io thread runs the io from now on (not
// only after the grace period), unless another application thread holds the lease.
void before_waiting(bool waits) {
  Runtime* r = Runtime::get();
  if (r != nullptr && waits) r->about_to_block();
}

}  // namespace

extern "C" {

// ---------------------------------------------------------------- initialisation

int rsp_initialize(struct rsp_info* info) {
  const int result = Runtime::initialize(info);
  if (result == 0 && info != nullptr) {
    info->ri_version = RSP_API_VERSION;
    info->ri_revision = RSP_API_REVISION;
  }
  return result;
}

void rsp_cleanup(void) { Runtime::cleanup(); }

void rsp_initinfo(struct rsp_info* info) {
  if (info == nullptr) return;
  std::memset(info, 0, sizeof *info);
  info->ri_version = RSP_API_VERSION;
  info->ri_revision = RSP_API_REVISION;
}

void rsp_freeinfo(struct rsp_info* info) {
  if (info == nullptr) return;
  rsp_registrar_info* r = info->ri_registrars;
  while (r != nullptr) {
    rsp_registrar_info* next = r->rri_next;
    std::free(r->rri_addr);
    std::free(r);
    r = next;
  }
  info->ri_registrars = nullptr;
}

int rsp_initarg(struct rsp_info* info, const char* arg) {
  if (info == nullptr || arg == nullptr) return 0;
  const std::string_view a(arg);
  if (a == "-disable-autoconfig") {
    info->ri_disable_autoconfig = 1;
    return 1;
  }
  if (a == "-low-latency") {
    info->ri_profile = RSP_PROFILE_LOW_LATENCY;
    return 1;
  }
  constexpr std::string_view prefix = "-registrar=";
  if (a.substr(0, prefix.size()) != prefix) return 0;
  auto address = asap::parse_transport_address(a.substr(prefix.size()));
  if (!address || address->addresses.empty()) return 0;
  // C allocation: rsp_freeinfo() releases it, as RSPLIB's does.
  auto* entry = static_cast<rsp_registrar_info*>(std::calloc(1, sizeof(rsp_registrar_info)));
  auto* storage = static_cast<sockaddr_storage*>(std::calloc(1, sizeof(sockaddr_storage)));
  if (entry == nullptr || storage == nullptr) {
    std::free(entry);
    std::free(storage);
    return 0;
  }
  sockaddr_from_ip(address->addresses.front(), address->port, *storage);
  entry->rri_addr = reinterpret_cast<sockaddr*>(storage);
  entry->rri_addrs = 1;
  rsp_registrar_info** tail = &info->ri_registrars;
  while (*tail != nullptr) tail = &(*tail)->rri_next;
  *tail = entry;
  return 1;
}

// ---------------------------------------------------------------- sockets

int rsp_socket(int domain, int type, int protocol) {
  if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNSPEC) return fail(EAFNOSUPPORT);
  if (type != SOCK_DGRAM && type != SOCK_SEQPACKET && type != SOCK_STREAM) return fail(EINVAL);
  if (protocol != 0 && protocol != IPPROTO_SCTP) return fail(EPROTONOSUPPORT);
  Runtime* r = runtime();
  if (r == nullptr) return -1;
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return -1;
  auto socket = std::make_shared<Socket>(fd);
  r->insert(socket);
  return fd;
}

int rsp_bind(int fd, const struct sockaddr* addr, socklen_t addrlen) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  if (addr == nullptr) return fail(EFAULT);
  // As bind(2): addrlen must cover the address of its family.
  if (addrlen < static_cast<socklen_t>(sizeof(sa_family_t))) return fail(EINVAL);
  const std::size_t needed = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (addrlen < static_cast<socklen_t>(needed)) return fail(EINVAL);
  return rsp_bind_rsplib(fd, addr, 1);
}

int rsp_bind_rsplib(int fd, const struct sockaddr* addrs, int addrcnt) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  if (addrs == nullptr || addrcnt <= 0) return fail(EINVAL);
  std::vector<IpAddress> addresses;
  std::uint16_t port = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(addrs);
  for (int i = 0; i < addrcnt; ++i) {
    const auto* sa = reinterpret_cast<const sockaddr*>(bytes);
    std::uint16_t p = 0;
    auto ip = ip_from_sockaddr(sa, &p);
    if (!ip) return fail(EAFNOSUPPORT);
    if (i == 0) port = p;
    // INADDR_ANY / in6addr_any: all addresses (an empty list for the asap layer).
    const bool wildcard = std::all_of(ip->bytes.begin(), ip->bytes.end(),
                                      [](std::uint8_t b) { return b == 0; });
    if (!wildcard) addresses.push_back(*ip);
    bytes += sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  }
  const int error = Runtime::get()->call([&]() -> int {
    if (s->pool_element || s->pool_user) return EINVAL;
    s->bind_addresses = std::move(addresses);
    s->bind_port = port;
    return 0;
  });
  return error == 0 ? 0 : fail(error);
}

int rsp_listen(int fd, int /*backlog*/) {
  // A PE socket accepts sessions from registration on (one-to-many style); nothing to change.
  return is_rsp_socket(fd) ? 0 : fail(EBADF);
}

int rsp_close(int fd) {
  Runtime* r = Runtime::get();
  auto s = r != nullptr ? r->find(fd) : nullptr;
  if (!s) return ::close(fd);
  r->erase(fd);
  // RFC 5352 §3.2 via draft §3: closing a PE socket deregisters it. Bounded: the registrar may
  // be unreachable.
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  const bool waiting = r->call([&] {
    if (s->pool_element && s->pool_element->registered()) {
      s->pool_element->deregister([promise](asap::AsapResult<void>) { promise->set_value(); });
      return true;
    }
    return false;
  });
  if (waiting) {
    r->about_to_block();
    future.wait_for(kCloseDeregistrationBound);
  }
  // Every session ends with SCTP's graceful SHUTDOWN (RFC 4960 §9.2), as close(2) of an SCTP
  // socket does: what was sent is delivered first, and the peer sees a PE (or PU) that left on
  // purpose. Bounded: an unresponsive peer's association is aborted when the endpoint goes.
  auto associations_left = [&] {
    const transport::Endpoint* endpoint = s->data_endpoint();
    return endpoint != nullptr && !endpoint->associations().empty();
  };
  const bool shutting_down = r->call([&] {
    s->registration_waiter.reset();
    if (s->pool_user) {
      for (auto id : s->pool_user->sessions()) (void)s->pool_user->close_session(id);
    }
    if (s->pool_element) {
      for (auto id : s->pool_element->sessions()) (void)s->pool_element->close_session(id);
    }
    return associations_left();
  });
  if (shutting_down) {
    const SignalDeferral signals;
    const auto deadline = std::chrono::steady_clock::now() + kCloseShutdownBound;
    while (std::chrono::steady_clock::now() < deadline && r->call(associations_left))
      (void)r->run_io_briefly(deadline, signals);
  }
  r->call([&] {
    s->pool_element.reset();
    s->pool_user.reset();
    s->own_context.reset();
  });
  s->mark_closed();
  return 0;
}

int rsp_getsockname(int fd, unsigned char* pool_handle, size_t* pool_handle_size, uint32_t* pe_id) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  return Runtime::get()->call([&]() -> int {
    if (!s->pool_element) return fail(ENOTCONN);
    const auto handle = s->pool_element->pool_handle().view();
    if (pool_handle_size != nullptr) {
      if (pool_handle != nullptr) {
        if (*pool_handle_size < handle.size()) return fail(ENOBUFS);
        std::memcpy(pool_handle, handle.data(), handle.size());
      }
      *pool_handle_size = handle.size();
    }
    if (pe_id != nullptr) *pe_id = s->pool_element->id();
    return 0;
  });
}

int rsp_getpeername(int fd, unsigned char* pool_handle, size_t* pool_handle_size, uint32_t* pe_id) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  return Runtime::get()->call([&]() -> int {
    if (!s->pool_user || s->session == asap::kNoSession) return fail(ENOTCONN);
    const auto status = s->pool_user->session_status(s->session);
    if (!status) return fail(ENOTCONN);
    const auto handle = status->pool_handle.view();
    if (pool_handle_size != nullptr) {
      if (pool_handle != nullptr) {
        if (*pool_handle_size < handle.size()) return fail(ENOBUFS);
        std::memcpy(pool_handle, handle.data(), handle.size());
      }
      *pool_handle_size = handle.size();
    }
    if (pe_id != nullptr) *pe_id = status->pool_element ? status->pool_element->id : 0;
    return 0;
  });
}

// ---------------------------------------------------------------- pool element

int rsp_register(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                 const struct rsp_loadinfo* loadinfo) {
  return register_impl(fd, pool_handle, pool_handle_size, loadinfo, 0);
}

int rsp_register_rsplib(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                        const struct rsp_loadinfo* loadinfo, unsigned int reregistration_interval,
                        int flags) {
  RegistrationTimers timers;
  if (reregistration_interval != 0) {
    timers.reregistration_interval = milliseconds(reregistration_interval);
    // RFC 5354 §3.9: the Registration Life field is 32 bits of milliseconds.
    timers.registration_lifetime =
        std::min<milliseconds>(3 * milliseconds(reregistration_interval), milliseconds(UINT32_MAX));
  }
  return register_impl(fd, pool_handle, pool_handle_size, loadinfo, flags, timers);
}

int rsp_deregister_rsplib(int fd, int flags) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  auto promise = std::make_shared<std::promise<int>>();
  auto future = promise->get_future();
  const int started = Runtime::get()->call([&]() -> int {
    if (!s->pool_element) return ENOTCONN;
    s->pool_element->deregister([promise](asap::AsapResult<void> result) {
      promise->set_value(result ? 0 : to_errno(result.error()));
    });
    return 0;
  });
  if (started != 0) return fail(started);
  if ((flags & DEREGF_DONTWAIT) != 0) return 0;
  const auto outcome = wait(future, s->options().send_timeout);
  if (!outcome) return fail(ETIMEDOUT);
  return *outcome == 0 ? 0 : fail(*outcome);
}

int rsp_deregister(int fd) { return rsp_deregister_rsplib(fd, 0); }

ssize_t rsp_send_cookie(int fd, const unsigned char* cookie, size_t cookie_size, uint32_t session,
                        int /*timeout_ms*/) {
  // RSPLIB's timeout_ms bounds a wait for send buffer space; the COOKIE is handed to SCTP at
  // once or the call fails, with EAGAIN when the buffer is full (rsp_send_cookie(3)).
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  if (cookie == nullptr || cookie_size == 0) return fail(EINVAL);
  const int error = Runtime::get()->call([&]() -> int {
    if (!s->pool_element) return ENOTCONN;
    const auto id = pe_session(*s, static_cast<rserpool_session_t>(session));
    if (!id) return EDESTADDRREQ;
    auto sent = s->pool_element->send_cookie(*id, bytes_of(cookie, cookie_size));
    return sent ? 0 : to_errno(sent.error());
  });
  if (error != 0) return fail(error);
  return static_cast<ssize_t>(cookie_size);
}

int rsp_send_business_card(int fd, uint32_t session, const unsigned char* pool_handle,
                           size_t pool_handle_size) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  std::optional<PoolHandle> pool;
  if (pool_handle != nullptr) {
    if (!valid_pool_handle(pool_handle, pool_handle_size)) return fail(EINVAL);
    pool = pool_handle_of(pool_handle, pool_handle_size);
  }
  const int error = Runtime::get()->call([&]() -> int {
    if (!s->pool_element) return ENOTCONN;
    const auto id = pe_session(*s, static_cast<rserpool_session_t>(session));
    if (!id) return EDESTADDRREQ;
    auto sent = s->pool_element->send_business_card(*id, pool);
    return sent ? 0 : to_errno(sent.error());
  });
  return error == 0 ? 0 : fail(error);
}

// ---------------------------------------------------------------- pool user

int rsp_connect(int fd, const unsigned char* pool_handle, size_t pool_handle_size) {
  return connect_impl(fd, pool_handle, pool_handle_size, 0);
}

int rsp_connect_rsplib(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                       unsigned int stale_cache_ms) {
  return connect_impl(fd, pool_handle, pool_handle_size, stale_cache_ms);
}

int rsp_has_cookie(int fd) {
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  return Runtime::get()->call([&]() -> int {
    if (!s->pool_user || s->session == asap::kNoSession) return fail(ENOTCONN);
    const auto status = s->pool_user->session_status(s->session);
    return status && status->cookie ? 1 : 0;
  });
}

int rsp_forcefailover(int fd, unsigned int flags, unsigned int /*stale_cache_ms*/) {
  // RSPLIB resolves with stale_cache_ms here. The asap failover picks from the socket's cached
  // list only while it is fresh (RSP_STALE_CACHE) and asks the registrar, bypassing the cache,
  // once no untried PE is left in it; it has no per-failover cache age (rsp_forcefailover(3)).
  auto s = lookup(fd);
  if (!s) return fail(EBADF);
  const int error = Runtime::get()->call([&]() -> int {
    if (!s->pool_user || s->session == asap::kNoSession) return ENOTCONN;
    auto result = (flags & FFF_UNREACHABLE) != 0 ? s->pool_user->report_failure(s->session)
                                                 : s->pool_user->force_failover(s->session);
    return result ? 0 : to_errno(result.error());
  });
  return error == 0 ? 0 : fail(error);
}

int rsp_reportfailure(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                      uint32_t pe_id) {
  Runtime* r = runtime();
  if (r == nullptr) return -1;
  auto s = r->find(fd);
  if (pool_handle == nullptr) {
    // The PE of the socket's session: report it and fail over (RFC 5352 §3.5, §3.8).
    if (!s) return fail(EBADF);
    return rsp_forcefailover(fd, FFF_UNREACHABLE, 0);
  }
  if (!valid_pool_handle(pool_handle, pool_handle_size) || pe_id == 0) return fail(EINVAL);
  const PoolHandle pool = pool_handle_of(pool_handle, pool_handle_size);
  const int error = r->call([&]() -> int {
    asap::PoolUser* pu = s ? ensure_pool_user(*r, s) : r->utility_pool_user();
    if (pu == nullptr) return EIO;
    pu->report_unreachable(pool, pe_id);
    return 0;
  });
  return error == 0 ? 0 : fail(error);
}

// ---------------------------------------------------------------- data

ssize_t rsp_sendmsg(int fd, const void* data, size_t length, const struct rsp_sndrcvinfo* sinfo,
                    int flags) {
  return send_impl(fd, data, length, sinfo, flags);
}

ssize_t rsp_recvmsg(int fd, void* buffer, size_t length, struct rsp_sndrcvinfo* sinfo,
                    int* msg_flags) {
  return recv_impl(fd, buffer, length, sinfo, msg_flags, std::nullopt, false, false);
}

ssize_t rsp_sendmsg_rsplib(int fd, const void* data, size_t length, unsigned int msg_flags,
                           rserpool_session_t session, uint32_t ppid, uint16_t stream,
                           uint32_t time_to_live, uint16_t sctp_flags, int timeout_ms) {
  // timeout_ms bounds the wait for room when the session's queue or the association's send
  // buffer is full, as RSPLIB's bounds its wait for SCTP send buffer space: -1 forever, 0 not
  // at all (as rsp_recvmsg_rsplib's).
  rsp_sndrcvinfo info{};
  info.rinfo_session = session;
  // RSPLIB hands its PPID to sctp_sendmsg(3) as it is: the caller gives it in network byte
  // order (htonl), while the draft's form and the asap layer use host byte order.
  info.rinfo_ppid = ntohl(ppid);
  info.rinfo_stream = stream;
  info.rinfo_timetolive = time_to_live;
  // RSPLIB passes sctp_flags to sctp_sendmsg(3): SCTP_UNORDERED is the one that concerns a
  // message rather than the association (which the session layer owns).
  if ((sctp_flags & kSctpUnordered) != 0) info.rinfo_flags |= RSP_UNORDERED;
  return send_impl(fd, data, length, &info, static_cast<int>(msg_flags),
                   milliseconds(std::max(timeout_ms, 0)), timeout_ms == 0);
}

namespace {
// RSPLIB's receiving forms: timeout_ms -1 forever, 0 non-blocking; the PPID in network byte
// order, as RSPLIB's rsp_recvmsg returns it (htonl of what SCTP delivered).
ssize_t recv_rsplib(int fd, void* buffer, size_t length, rsp_sndrcvinfo* rinfo, int* msg_flags,
                    int timeout_ms, bool whole_message) {
  const bool nonblocking = timeout_ms == 0;
  const auto timeout = timeout_ms < 0 ? milliseconds(0) : milliseconds(timeout_ms);
  const ssize_t n = recv_impl(fd, buffer, length, rinfo, msg_flags, timeout, nonblocking, false, whole_message);
  if (n >= 0 && rinfo != nullptr) rinfo->rinfo_ppid = htonl(rinfo->rinfo_ppid);
  return n;
}
}  // namespace

ssize_t rsp_recvmsg_rsplib(int fd, void* buffer, size_t length, struct rsp_sndrcvinfo* rinfo,
                           int* msg_flags, int timeout_ms) {
  return recv_rsplib(fd, buffer, length, rinfo, msg_flags, timeout_ms, false);
}

ssize_t rsp_recvfullmsg(int fd, void* buffer, size_t length, struct rsp_sndrcvinfo* rinfo,
                        int* msg_flags, int timeout_ms) {
  return recv_rsplib(fd, buffer, length, rinfo, msg_flags, timeout_ms, true);
}

ssize_t rsp_send(int fd, const void* data, size_t length, int flags) {
  if (!is_rsp_socket(fd)) return ::send(fd, data, length, flags);
  return send_impl(fd, data, length, nullptr, flags);
}

ssize_t rsp_recv(int fd, void* buffer, size_t length, int flags) {
  if (!is_rsp_socket(fd)) return ::recv(fd, buffer, length, flags);
  return recv_impl(fd, buffer, length, nullptr, nullptr, std::nullopt,
                   (flags & MSG_DONTWAIT) != 0, true);
}

ssize_t rsp_write(int fd, const void* data, size_t length) {
  if (!is_rsp_socket(fd)) return ::write(fd, data, length);
  return send_impl(fd, data, length, nullptr, 0);
}

ssize_t rsp_read(int fd, void* buffer, size_t length) {
  if (!is_rsp_socket(fd)) return ::read(fd, buffer, length);
  return recv_impl(fd, buffer, length, nullptr, nullptr, std::nullopt, false, true);
}

// ---------------------------------------------------------------- events

// The descriptor of an RSerPool socket is an eventfd that is readable exactly while its
// receive queue is not empty, so the kernel's poll/select serve mixed sets directly.
int rsp_poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) {
  before_waiting(timeout_ms != 0);
  return ::poll(fds, nfds, timeout_ms);
}

int rsp_select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
               struct timeval* timeout) {
  before_waiting(timeout == nullptr || timeout->tv_sec != 0 || timeout->tv_usec != 0);
  return ::select(nfds, readfds, writefds, exceptfds, timeout);
}

}  // extern "C"
