// rsp_getsockopt / rsp_setsockopt: timeouts, notification subscription (RFC 6458 §6.2.1-style),
// failover policy, association parameters (RFC 6458 §8.1 RTOINFO/ASSOCINFO/PEER_ADDR_PARAMS).
#include <cerrno>
#include <cstring>

#include "api/runtime.hpp"

using namespace rsp;
using namespace rsp::api;
using std::chrono::milliseconds;

namespace {

template <typename T>
bool read_value(const void* optval, socklen_t optlen, T& out) {
  if (optval == nullptr || optlen < static_cast<socklen_t>(sizeof(T))) return false;
  std::memcpy(&out, optval, sizeof(T));
  return true;
}

template <typename T>
int write_value(void* optval, socklen_t* optlen, const T& value) {
  if (optval == nullptr || optlen == nullptr) return fail(EFAULT);
  if (*optlen < static_cast<socklen_t>(sizeof(T))) return fail(EINVAL);
  std::memcpy(optval, &value, sizeof(T));
  *optlen = sizeof(T);
  return 0;
}

// Maps SOL_SOCKET's SO_RCVTIMEO/SO_SNDTIMEO onto ours; 0 when not an option we know.
int normalise(int level, int optname) {
  if (level == SOL_RSERPOOL) return optname;
  if (level == SOL_SOCKET && optname == SO_RCVTIMEO) return RSP_RCVTIMEO;
  if (level == SOL_SOCKET && optname == SO_SNDTIMEO) return RSP_SNDTIMEO;
  if (level == SOL_SOCKET && optname == SO_SNDBUF) return RSP_SNDBUF;
  if (level == SOL_SOCKET && optname == SO_RCVBUF) return RSP_RCVBUF;
  return 0;
}

}  // namespace

extern "C" {

int rsp_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  Runtime* r = Runtime::get();
  auto s = r != nullptr ? r->find(fd) : nullptr;
  if (!s) return fail(EBADF);
  const int option = normalise(level, optname);
  if (option == 0) return fail(ENOPROTOOPT);
  // Options that shape the asap objects work only before they exist.
  const bool started = r->call([&] { return s->pool_element || s->pool_user; });
  switch (option) {
    case RSP_RCVTIMEO:
    case RSP_SNDTIMEO: {
      timeval tv{};
      if (!read_value(optval, optlen, tv) || tv.tv_sec < 0 || tv.tv_usec < 0) return fail(EINVAL);
      s->update_options([&](SocketOptions& o) {
        (option == RSP_RCVTIMEO ? o.receive_timeout : o.send_timeout) = from_timeval(tv);
      });
      return 0;
    }
    case RSP_EVENTS: {
      rsp_event_subscribe e{};
      if (!read_value(optval, optlen, e)) return fail(EINVAL);
      s->update_options([&](SocketOptions& o) { o.events = e; });
      return 0;
    }
    case RSP_FAILOVER_POLICY:
    case RSP_CONFIRMATION:
    case RSP_NONBLOCK:
    case RSP_PROFILE: {
      int v = 0;
      if (!read_value(optval, optlen, v)) return fail(EINVAL);
      if (option == RSP_FAILOVER_POLICY && v != RSP_FAILOVER_POLICY_AUTOMATIC &&
          v != RSP_FAILOVER_POLICY_NOT_ALLOWED)
        return fail(EINVAL);
      if (option == RSP_CONFIRMATION && (v < RSP_CONFIRM_REPLY_OLDEST || v > RSP_CONFIRM_EXPLICIT))
        return fail(EINVAL);
      if (option == RSP_PROFILE) {
        if (v != RSP_PROFILE_DEFAULT && v != RSP_PROFILE_LOW_LATENCY) return fail(EINVAL);
        if (started) return fail(EISCONN);
      }
      if (option == RSP_CONFIRMATION && started) return fail(EISCONN);
      s->update_options([&](SocketOptions& o) {
        if (option == RSP_FAILOVER_POLICY) o.failover_policy = v;
        if (option == RSP_CONFIRMATION) o.confirmation = v;
        if (option == RSP_NONBLOCK) o.nonblocking = v != 0;
        if (option == RSP_PROFILE) o.profile = v;
      });
      return 0;
    }
    case RSP_SNDBUF:
    case RSP_RCVBUF: {
      int bytes = 0;
      if (!read_value(optval, optlen, bytes) || bytes < 1) return fail(EINVAL);
      s->update_options([&](SocketOptions& o) {
        (option == RSP_SNDBUF ? o.send_queue_limit : o.receive_limit) = static_cast<std::size_t>(bytes);
      });
      return 0;
    }
    case RSP_ASSOC_PARAMS: {
      rserpool_session_parameters p{};
      if (!read_value(optval, optlen, p)) return fail(EINVAL);
      if (p.sp_rto_min != 0 && p.sp_rto_max != 0 && p.sp_rto_min > p.sp_rto_max)
        return fail(EINVAL);
      if (started) return fail(EISCONN);
      s->update_options([&](SocketOptions& o) { o.association = p; });
      return 0;
    }
    case RSP_STALE_CACHE: {
      unsigned int ms = 0;
      if (!read_value(optval, optlen, ms)) return fail(EINVAL);
      if (started) return fail(EISCONN);
      s->update_options([&](SocketOptions& o) { o.stale_cache = milliseconds(ms); });
      return 0;
    }
    case RSP_LAST_SEQ:
      return fail(EINVAL);  // read-only
    default:
      return fail(ENOPROTOOPT);
  }
}

int rsp_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen) {
  Runtime* r = Runtime::get();
  auto s = r != nullptr ? r->find(fd) : nullptr;
  if (!s) return fail(EBADF);
  const int option = normalise(level, optname);
  const SocketOptions o = s->options();
  switch (option) {
    case RSP_RCVTIMEO: return write_value(optval, optlen, to_timeval(o.receive_timeout));
    case RSP_SNDTIMEO: return write_value(optval, optlen, to_timeval(o.send_timeout));
    case RSP_EVENTS: return write_value(optval, optlen, o.events);
    case RSP_FAILOVER_POLICY: return write_value(optval, optlen, o.failover_policy);
    case RSP_CONFIRMATION: return write_value(optval, optlen, o.confirmation);
    case RSP_NONBLOCK: return write_value(optval, optlen, static_cast<int>(o.nonblocking));
    case RSP_SNDBUF: return write_value(optval, optlen, static_cast<int>(o.send_queue_limit));
    case RSP_RCVBUF: return write_value(optval, optlen, static_cast<int>(o.receive_limit));
    case RSP_PROFILE: return write_value(optval, optlen, o.profile.value_or(RSP_PROFILE_DEFAULT));
    case RSP_STALE_CACHE: {
      const auto ms = r->call([&] { return context_for(*r, *s)->config().timers.stale_cache; });
      return write_value(optval, optlen, static_cast<unsigned int>(ms.count()));
    }
    case RSP_ASSOC_PARAMS: {
      const auto p = r->call([&] { return context_for(*r, *s)->config().data_association; });
      rserpool_session_parameters out{};
      out.sp_rto_initial = static_cast<unsigned>(p.rto_initial.count());
      out.sp_rto_min = static_cast<unsigned>(p.rto_min.count());
      out.sp_rto_max = static_cast<unsigned>(p.rto_max.count());
      out.sp_assoc_max_rxt = p.max_retransmissions;
      out.sp_path_max_rxt = p.path_max_retransmissions;
      out.sp_hbinterval = static_cast<unsigned>(p.heartbeat_interval.count());
      return write_value(optval, optlen, out);
    }
    case RSP_LAST_SEQ: {
      const auto seq = r->call([&]() -> std::uint64_t {
        auto it = s->last_seq.find(s->session);
        return it != s->last_seq.end() ? it->second : 0;
      });
      return write_value(optval, optlen, seq);
    }
    default:
      return fail(ENOPROTOOPT);
  }
}

int rsp_update_session_parameters(int fd, struct rserpool_session_parameters* params) {
  if (params == nullptr) return fail(EFAULT);
  if (rsp_setsockopt(fd, SOL_RSERPOOL, RSP_ASSOC_PARAMS, params, sizeof *params) != 0) return -1;
  socklen_t len = sizeof *params;
  return rsp_getsockopt(fd, SOL_RSERPOOL, RSP_ASSOC_PARAMS, params, &len);
}

}  // extern "C"
