// A thin C++ layer over <rsp/rsp.h>: RAII for the library and for RSerPool sockets, spans in,
// Result<T, int> (errno values) out. Everything forwards to the C calls, so C and C++ callers
// share one core and one set of semantics (man/rsp_*.3). For the asynchronous, io_context-based
// C++ API use rsp/asap.hpp instead.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rsp/result.hpp"
#include "rsp/rsp.h"

namespace rsp::api {

template <typename T>
using SysResult = Result<T, int>;  // the error is an errno value

inline Error<int> last_error() { return make_error(errno, ""); }

// rsp_initialize() for the object's lifetime, rsp_cleanup() at its end.
class Library {
 public:
  explicit Library(rsp_info* info = nullptr) : ok_(rsp_initialize(info) == 0), error_(errno) {}
  ~Library() {
    if (ok_) rsp_cleanup();
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  bool ok() const noexcept { return ok_; }
  int error() const noexcept { return ok_ ? 0 : error_; }

 private:
  bool ok_;
  int error_;
};

// One PE of a pool as rsp_getpoolinfo() returned it, owned.
struct PoolElementInfo {
  std::uint32_t id = 0;
  std::uint32_t home_registrar = 0;
  std::chrono::milliseconds registration_life{0};
  rsp_loadinfo load{};       // policy and its values (RFC 5356)
  int protocol = 0;          // IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP
  std::vector<sockaddr_storage> addresses;  // user transport addresses, port set
};

// A pool's handle resolution with the full PE list (draft §4 rsp_getpoolinfo), owned.
struct PoolInfo {
  std::string pool;
  std::uint32_t policy = 0;  // RSP_*
  std::vector<PoolElementInfo> elements;
};

// rsp_getsockname()/rsp_getpeername(): a pool handle and a PE identifier.
struct PoolElementName {
  std::string pool;
  std::uint32_t pe_id = 0;
};

namespace detail {

inline const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
inline SysResult<void> check(int rc) {
  if (rc != 0) return last_error();
  return {};
}

// fd -1: the library's own pool user (no socket needed).
inline SysResult<PoolInfo> pool_info(int fd, std::string_view pool, std::size_t items) {
  rsp_poolinfo* raw = nullptr;
  if (rsp_getpoolinfo(fd, bytes(pool), pool.size(), items, &raw) < 0) return last_error();
  PoolInfo info;
  info.pool.assign(reinterpret_cast<const char*>(raw->pi_pool_handle), raw->pi_pool_handle_size);
  info.policy = raw->pi_policy;
  info.elements.reserve(raw->pi_elements);
  for (const rsp_peinfo* e = raw->pi_first; e != nullptr; e = e->pi_next) {
    PoolElementInfo pe;
    pe.id = e->pi_pe_id;
    pe.home_registrar = e->pi_home_registrar;
    pe.registration_life = std::chrono::milliseconds(e->pi_registration_life_ms);
    pe.load = e->pi_loadinfo;
    pe.protocol = e->pi_protocol;
    pe.addresses.assign(e->pi_addr, e->pi_addr + e->pi_addrs);
    info.elements.push_back(std::move(pe));
  }
  rsp_freepoolinfo(raw);
  return info;
}

inline SysResult<void> report_failure(int fd, std::string_view pool, std::uint32_t pe_id) {
  return check(rsp_reportfailure(fd, bytes(pool), pool.size(), pe_id));
}

using NameCall = int (*)(int, unsigned char*, std::size_t*, std::uint32_t*);
inline SysResult<PoolElementName> name(NameCall call, int fd) {
  unsigned char handle[RSP_MAX_POOL_HANDLE_SIZE];
  std::size_t size = sizeof handle;
  PoolElementName n;
  if (call(fd, handle, &size, &n.pe_id) != 0) return last_error();
  n.pool.assign(reinterpret_cast<const char*>(handle), size);
  return n;
}

}  // namespace detail

// Handle resolution without a socket (rsp_getpoolinfo(-1, ...)); items 0: the registrar's
// default number of PEs.
inline SysResult<PoolInfo> pool_info(std::string_view pool, std::size_t items = 0) {
  return detail::pool_info(-1, pool, items);
}

// RFC 5352 §3.5: reports PE pe_id of pool unreachable, for every socket of the process that
// shares the library's asap context (rsp_reportfailure(-1, ...)).
inline SysResult<void> report_failure(std::string_view pool, std::uint32_t pe_id) {
  return detail::report_failure(-1, pool, pe_id);
}

// rsp_poll(): poll(2) over RSerPool sockets (RspSocket::poll_entry) and plain descriptors
// together. Returns the number of entries with revents set; 0 on timeout. A negative timeout
// waits forever.
inline SysResult<int> poll(std::span<pollfd> fds, std::chrono::milliseconds timeout) {
  const auto count = std::min<std::chrono::milliseconds::rep>(timeout.count(), INT_MAX);
  const int n = rsp_poll(fds.data(), static_cast<nfds_t>(fds.size()),
                         count < 0 ? -1 : static_cast<int>(count));
  if (n < 0) return last_error();
  return n;
}

struct Received {
  std::size_t size = 0;
  int flags = 0;  // MSG_EOR, MSG_RSERPOOL_NOTIFICATION, MSG_RSERPOOL_COOKIE_ECHO
  rsp_sndrcvinfo info{};
  bool notification() const noexcept { return (flags & MSG_RSERPOOL_NOTIFICATION) != 0; }
};

// One RSerPool socket; closed (deregistered) by the destructor.
class RspSocket {
 public:
  static SysResult<RspSocket> open(int domain = AF_INET, int type = SOCK_SEQPACKET) {
    const int fd = rsp_socket(domain, type, IPPROTO_SCTP);
    if (fd < 0) return last_error();
    return RspSocket(fd);
  }
  RspSocket(RspSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RspSocket& operator=(RspSocket&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~RspSocket() { close(); }

  int fd() const noexcept { return fd_; }
  void close() noexcept {
    if (fd_ >= 0) rsp_close(std::exchange(fd_, -1));
  }

  pollfd poll_entry(short events = POLLIN) const noexcept { return pollfd{fd_, events, 0}; }

  // draft §4 rsp_bind: the PE's SCTP address and port (port 0: ephemeral), before
  // register_element(). Any address (INADDR_ANY, in6addr_any): all of the host's.
  SysResult<void> bind(const sockaddr_in& address) {
    return check(rsp_bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address));
  }
  SysResult<void> bind(const sockaddr_in6& address) {
    return check(rsp_bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address));
  }
  // A numeric IPv4 or IPv6 address ("127.0.0.1", "::1"); anything else is EINVAL.
  SysResult<void> bind(std::string_view address, std::uint16_t port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.size() >= sizeof text) return make_error(EINVAL, "");
    std::memcpy(text, address.data(), address.size());
    sockaddr_in sin{};
    if (inet_pton(AF_INET, text, &sin.sin_addr) == 1) {
      sin.sin_family = AF_INET;
      sin.sin_port = htons(port);
      return bind(sin);
    }
    sockaddr_in6 sin6{};
    if (inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1) {
      sin6.sin6_family = AF_INET6;
      sin6.sin6_port = htons(port);
      return bind(sin6);
    }
    return make_error(EINVAL, "");
  }

  SysResult<void> register_element(std::string_view pool, const rsp_loadinfo* load = nullptr) {
    return check(rsp_register(fd_, bytes(pool), pool.size(), load));
  }
  SysResult<void> deregister() { return check(rsp_deregister(fd_)); }
  SysResult<void> connect(std::string_view pool) {
    return check(rsp_connect(fd_, bytes(pool), pool.size()));
  }
  // PE socket: its pool handle and PE identifier (ENOTCONN until registered).
  SysResult<PoolElementName> local_name() const { return detail::name(rsp_getsockname, fd_); }
  // PU socket: the pool and the PE of its current session (ENOTCONN until connected).
  SysResult<PoolElementName> peer_name() const { return detail::name(rsp_getpeername, fd_); }

  // PE socket, RFC 5352 §3.9: a COOKIE for the PU of `session` (rinfo_session of a received
  // message; 0 when the PE has one session), replayed by it to the PE it fails over to.
  SysResult<void> send_cookie(rserpool_session_t session, std::span<const std::byte> cookie) {
    if (rsp_send_cookie(fd_, reinterpret_cast<const unsigned char*>(cookie.data()), cookie.size(),
                        static_cast<std::uint32_t>(session), 0) < 0)
      return last_error();
    return {};
  }
  // PE socket, RFC 5352 §3.10: tells the PU of `session` which pool to fail over to
  // (nullopt: this PE's own pool).
  SysResult<void> send_business_card(rserpool_session_t session,
                                     std::optional<std::string_view> pool = std::nullopt) {
    return check(rsp_send_business_card(fd_, static_cast<std::uint32_t>(session),
                                        pool ? bytes(*pool) : nullptr, pool ? pool->size() : 0));
  }
  // PU socket: whether the PE of its session sent a COOKIE.
  SysResult<bool> has_cookie() const {
    const int rc = rsp_has_cookie(fd_);
    if (rc < 0) return last_error();
    return rc == 1;
  }

  // Handle resolution through this socket's asap context (its profile and cache).
  SysResult<PoolInfo> pool_info(std::string_view pool, std::size_t items = 0) const {
    return detail::pool_info(fd_, pool, items);
  }
  // PU socket, RFC 5352 §3.5: reports the PE of its session unreachable and fails over.
  SysResult<void> report_failure() { return check(rsp_reportfailure(fd_, nullptr, 0, 0)); }
  // Reports PE pe_id of pool unreachable, through this socket's asap context.
  SysResult<void> report_failure(std::string_view pool, std::uint32_t pe_id) {
    return detail::report_failure(fd_, pool, pe_id);
  }
  SysResult<void> force_failover(bool report_unreachable = false) {
    return check(rsp_forcefailover(fd_, report_unreachable ? FFF_UNREACHABLE : FFF_NONE, 0));
  }
  SysResult<std::size_t> send(std::span<const std::byte> data, const rsp_sndrcvinfo* info = nullptr,
                              int flags = 0) {
    const ssize_t n = rsp_sendmsg(fd_, data.data(), data.size(), info, flags);
    if (n < 0) return last_error();
    return static_cast<std::size_t>(n);
  }
  // PE socket: an answer on `session` (rinfo_session of the message it answers).
  SysResult<std::size_t> send_to_session(rserpool_session_t session,
                                         std::span<const std::byte> data) {
    rsp_sndrcvinfo info{};
    info.rinfo_session = session;
    return send(data, &info);
  }
  // PU socket, draft §2.2: to PE pe_id of the socket's pool, whichever PE its session has now.
  SysResult<std::size_t> send_to_pe(std::uint32_t pe_id, std::span<const std::byte> data) {
    rsp_sndrcvinfo info{};
    info.rinfo_flags = RSP_PE_HANDLE;
    info.rinfo_pe_id = pe_id;
    return send(data, &info);
  }
  // PU socket, draft §2.1: to a pool by its handle (one session per pool, opened on first use).
  SysResult<std::size_t> send_to_pool(std::string_view pool, std::span<const std::byte> data) {
    if (pool.size() > RSP_MAX_POOL_HANDLE_SIZE) return make_error(EINVAL, "");
    rsp_sndrcvinfo info{};
    info.rinfo_flags = RSP_POOL_HANDLE;
    std::memcpy(info.rinfo_pool_handle, pool.data(), pool.size());
    info.rinfo_pool_handle_size = static_cast<std::uint32_t>(pool.size());
    return send(data, &info);
  }
  SysResult<Received> receive(std::span<std::byte> buffer) {
    Received r;
    const ssize_t n = rsp_recvmsg(fd_, buffer.data(), buffer.size(), &r.info, &r.flags);
    if (n < 0) return last_error();
    r.size = static_cast<std::size_t>(n);
    return r;
  }
  template <typename T>
  SysResult<void> set_option(int name, const T& value) {
    return check(rsp_setsockopt(fd_, SOL_RSERPOOL, name, &value, sizeof value));
  }
  template <typename T>
  SysResult<T> option(int name) const {
    T value{};
    socklen_t len = sizeof value;
    if (rsp_getsockopt(fd_, SOL_RSERPOOL, name, &value, &len) != 0) return last_error();
    return value;
  }

 private:
  explicit RspSocket(int fd) : fd_(fd) {}
  static const unsigned char* bytes(std::string_view s) { return detail::bytes(s); }
  static SysResult<void> check(int rc) { return detail::check(rc); }
  int fd_ = -1;
};

}  // namespace rsp::api
