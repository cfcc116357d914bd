// Conversions between the C API's types and the asap layer's: errno values, socket addresses,
// policies, timevals; policy names; printing notifications.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "api/runtime.hpp"
#include "rsp/handlespace/policy.hpp"

namespace rsp::api {

// The errno of each asap error; docs/api.md "errno" documents the same table.
int to_errno(asap::AsapErrc code) noexcept {
  switch (code) {
    case asap::AsapErrc::NoRegistrar: return ENETUNREACH;
    case asap::AsapErrc::Timeout: return ETIMEDOUT;
    case asap::AsapErrc::PoolNotFound: return ENOENT;
    case asap::AsapErrc::PoolEmpty: return ENOENT;
    case asap::AsapErrc::RegistrationRejected: return EACCES;
    case asap::AsapErrc::TransportError: return EIO;
    case asap::AsapErrc::InvalidArgument: return EINVAL;
    case asap::AsapErrc::NoSuchSession: return ENOTCONN;
    case asap::AsapErrc::NotRegistered: return ENOTCONN;
    case asap::AsapErrc::FailoverExhausted: return EHOSTUNREACH;
    case asap::AsapErrc::FailoverNotAllowed: return ECONNRESET;
    case asap::AsapErrc::Closed: return ESHUTDOWN;
    case asap::AsapErrc::ProtocolError: return EPROTO;
    case asap::AsapErrc::WouldBlock: return EAGAIN;
  }
  return EIO;
}

int to_errno(const asap::AsapError& error) noexcept { return to_errno(error.code); }

int fail(int error) noexcept {
  errno = error;
  return -1;
}

std::optional<IpAddress> ip_from_sockaddr(const sockaddr* address, std::uint16_t* port) {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, address, sizeof sin);
    IpAddress ip;
    std::memcpy(ip.bytes.data(), &sin.sin_addr, 4);
    if (port != nullptr) *port = ntohs(sin.sin_port);
    return ip;
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, address, sizeof sin6);
    IpAddress ip;
    ip.family = IpAddress::Family::V6;
    std::memcpy(ip.bytes.data(), &sin6.sin6_addr, 16);
    if (port != nullptr) *port = ntohs(sin6.sin6_port);
    return ip;
  }
  return std::nullopt;
}

socklen_t sockaddr_from_ip(const IpAddress& address, std::uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (address.is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, address.bytes.data(), 4);
    std::memcpy(&out, &sin, sizeof sin);
    return sizeof sin;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  std::memcpy(&sin6.sin6_addr, address.bytes.data(), 16);
  std::memcpy(&out, &sin6, sizeof sin6);
  return sizeof sin6;
}

PolicyInfo policy_from_loadinfo(const rsp_loadinfo* info) {
  PolicyInfo policy;
  if (info == nullptr) return policy;
  policy.type = info->rli_policy == 0 ? PolicyType::RoundRobin
                                      : static_cast<PolicyType>(info->rli_policy);
  policy.weight = info->rli_weight;
  policy.weight_dpf = info->rli_weight_dpf;
  policy.load = info->rli_load;
  policy.load_degradation = info->rli_load_degradation;
  policy.load_dpf = info->rli_load_dpf;
  policy.priority = info->rli_priority;
  return policy;
}

rsp_loadinfo loadinfo_from_policy(const PolicyInfo& policy) {
  rsp_loadinfo info{};
  info.rli_policy = static_cast<std::uint32_t>(policy.type);
  info.rli_weight = policy.weight;
  info.rli_weight_dpf = policy.weight_dpf;
  info.rli_load = policy.load;
  info.rli_load_degradation = policy.load_degradation;
  info.rli_load_dpf = policy.load_dpf;
  info.rli_priority = policy.priority;
  return info;
}

std::chrono::milliseconds from_timeval(const timeval& tv) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000);
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

bool valid_pool_handle(const unsigned char* bytes, std::size_t size) {
  return bytes != nullptr && size > 0 && size <= kMaxPoolHandleSize;
}

PoolHandle pool_handle_of(const unsigned char* bytes, std::size_t size) {
  return PoolHandle(std::string_view(reinterpret_cast<const char*>(bytes), size));
}

}  // namespace rsp::api

// ---------------------------------------------------------------- C entry points

extern "C" {

const char* rsp_getpolicybytype(unsigned int policy_type) {
  const auto name = rsp::handlespace::policy_name(static_cast<rsp::PolicyType>(policy_type));
  // policy_name returns views of string literals (NUL-terminated); unknown types "Unknown".
  return name.empty() || name == "Unknown" ? nullptr : name.data();
}

unsigned int rsp_getpolicybyname(const char* policy_name) {
  if (policy_name == nullptr) return 0;
  const auto type = rsp::handlespace::policy_from_name(policy_name);
  return type ? static_cast<unsigned int>(*type) : 0u;
}

void rsp_print_notification(const union rserpool_notification* n, FILE* out) {
  if (n == nullptr || out == nullptr) return;
  switch (n->rn_header.rn_type) {
    case RSERPOOL_SESSION_CHANGE:
      std::fprintf(out, "session %d %s (PE $%08x)\n", n->rn_session_change.rsc_session,
                   n->rn_session_change.rsc_state == RSERPOOL_SESSION_ADD ? "added" : "removed",
                   n->rn_session_change.rsc_pe_id);
      break;
    case RSERPOOL_FAILOVER: {
      const auto& f = n->rn_failover;
      const char* state = f.rf_state == RSERPOOL_FAILOVER_NECESSARY ? "necessary"
                          : f.rf_state == RSERPOOL_FAILOVER_COMPLETE ? "complete"
                                                                      : "failed";
      std::fprintf(out,
                   "session %d failover %s: PE $%08x -> $%08x, cookie %s, resent %u "
                   "(possibly duplicated %u), dropped %u, unconfirmed %u\n",
                   f.rf_session, state, f.rf_from_pe, f.rf_to_pe,
                   f.rf_has_cookie ? "replayed" : "none", f.rf_resent, f.rf_possibly_duplicated,
                   f.rf_dropped, f.rf_unconfirmed);
      break;
    }
    case RSERPOOL_SHUTDOWN_EVENT:
      std::fprintf(out, "session %d shut down\n", n->rn_shutdown_event.rse_session);
      break;
    case RSERPOOL_REGISTRAR_CHANGE:
      std::fprintf(out, "registrar $%08x %s\n", n->rn_registrar_change.rrc_registrar_id,
                   n->rn_registrar_change.rrc_state == RSERPOOL_REGISTRAR_LOST ? "lost" : "found");
      break;
    case RSERPOOL_MESSAGE_STATUS: {
      const auto& m = n->rn_message_status;
      const char* state = m.rms_state == RSERPOOL_MESSAGE_DROPPED ? "dropped"
                          : m.rms_state == RSERPOOL_MESSAGE_POSSIBLY_DUPLICATED
                              ? "possibly duplicated"
                              : "unconfirmed";
      std::fprintf(out, "session %d messages %llu..%llu %s (PE $%08x)\n", m.rms_session,
                   static_cast<unsigned long long>(m.rms_first_seq),
                   static_cast<unsigned long long>(m.rms_last_seq), state, m.rms_pe_id);
      break;
    }
    case RSERPOOL_REGISTRATION: {
      const auto& r = n->rn_registration;
      const char* state = r.rr_state == RSERPOOL_REGISTERED            ? "registered"
                          : r.rr_state == RSERPOOL_REGISTRATION_FAILED ? "registration failed"
                                                                       : "deregistered";
      std::fprintf(out, "PE $%08x %s%s%s\n", r.rr_pe_id, state, r.rr_error ? ": " : "",
                   r.rr_error ? std::strerror(r.rr_error) : "");
      break;
    }
    default:
      std::fprintf(out, "notification type %u\n", n->rn_header.rn_type);
  }
}

}  // extern "C"
