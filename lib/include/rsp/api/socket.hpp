// A thin C++ layer over <rsp/rsp.h>: RAII for the library and for RSerPool sockets, spans in,
// Result<T, int> (errno values) out. Everything forwards to the C calls, so C and C++ callers
// share one core and one set of semantics (man/rsp_*.3). For the asynchronous, io_context-based
// C++ API use rsp/asap.hpp instead.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

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

  SysResult<void> register_element(std::string_view pool, const rsp_loadinfo* load = nullptr) {
    return check(rsp_register(fd_, bytes(pool), pool.size(), load));
  }
  SysResult<void> deregister() { return check(rsp_deregister(fd_)); }
  SysResult<void> connect(std::string_view pool) {
    return check(rsp_connect(fd_, bytes(pool), pool.size()));
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
  static const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
  }
  static SysResult<void> check(int rc) {
    if (rc != 0) return last_error();
    return {};
  }
  int fd_ = -1;
};

}  // namespace rsp::api
