// "Basic mode" (RFC 5351 §3, draft §4 rsp_getpoolinfo): handle resolution for applications that
// do their own transport, and RSPLIB's registration of services that are not RSerPool sockets.
// Results are C allocations (calloc) released by the matching rsp_free* call.
#include <netinet/in.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "api/runtime.hpp"
#include "rsp/handlespace/policy.hpp"

using namespace rsp;
using namespace rsp::api;
using std::chrono::milliseconds;

namespace {

int protocol_number(TransportProtocol p) {
  switch (p) {
    case TransportProtocol::Sctp: return IPPROTO_SCTP;
    case TransportProtocol::Tcp: return IPPROTO_TCP;
    case TransportProtocol::Udp: return IPPROTO_UDP;
    case TransportProtocol::UdpLite: return IPPROTO_UDPLITE;
    case TransportProtocol::Dccp: return IPPROTO_DCCP;
  }
  return 0;
}

// Resolves with the io lease and the socket's pool user (or the runtime's); blocks the caller.
asap::AsapResult<asap::Resolution> resolve(int fd, const PoolHandle& pool, std::size_t items,
                                           std::optional<milliseconds> stale_cache) {
  Runtime* r = Runtime::get();
  if (r == nullptr) {
    if (Runtime::initialize(nullptr) != 0)
      return make_error(asap::AsapErrc::NoRegistrar, "rsp_initialize failed");
    r = Runtime::get();
  }
  auto s = r->find(fd);
  using Promise = std::promise<asap::AsapResult<asap::Resolution>>;
  auto promise = std::make_shared<Promise>();
  auto future = promise->get_future();
  r->call([&] {
    asap::PoolUser* pu = nullptr;
    if (s) {
      if (!s->pool_user) {
        if (asap::Context* c = context_for(*r, *s)) {
          if (auto created = asap::PoolUser::create(*c, pool_user_handlers(s)))
            s->pool_user = std::move(*created);
        }
      }
      pu = s->pool_user.get();
    } else {
      pu = r->utility_pool_user();
    }
    if (pu == nullptr) {
      promise->set_value(make_error(asap::AsapErrc::TransportError, "no pool user"));
      return;
    }
    asap::ResolveOptions options;
    options.items = static_cast<std::uint32_t>(items);
    // A stale-cache value of 0 from RSPLIB callers means "ask the registrar now".
    options.bypass_cache = stale_cache && stale_cache->count() == 0;
    pu->resolve(pool, options, [promise](asap::AsapResult<asap::Resolution> result) {
      promise->set_value(std::move(result));
    });
  });
  r->about_to_block();
  return future.get();
}

}  // namespace

extern "C" {

int rsp_getpoolinfo(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                    size_t items, struct rsp_poolinfo** info) {
  if (info == nullptr) return fail(EFAULT);
  *info = nullptr;
  if (!valid_pool_handle(pool_handle, pool_handle_size)) return fail(EINVAL);
  if (fd >= 0 && !Runtime::get()) return fail(EBADF);
  if (fd >= 0 && !Runtime::get()->find(fd)) return fail(EBADF);
  auto result = resolve(fd, pool_handle_of(pool_handle, pool_handle_size), items, std::nullopt);
  if (!result) return fail(to_errno(result.error()));
  auto* pool = static_cast<rsp_poolinfo*>(std::calloc(1, sizeof(rsp_poolinfo)));
  if (pool == nullptr) return fail(ENOMEM);
  std::memcpy(pool->pi_pool_handle, pool_handle, pool_handle_size);
  pool->pi_pool_handle_size = pool_handle_size;
  if (result->overall_policy) {
    pool->pi_policy = static_cast<std::uint32_t>(result->overall_policy->type);
  } else if (!result->elements.empty()) {
    pool->pi_policy = static_cast<std::uint32_t>(result->elements.front().policy.type);
  }
  rsp_peinfo** tail = &pool->pi_first;
  for (const auto& pe : result->elements) {
    auto* e = static_cast<rsp_peinfo*>(std::calloc(1, sizeof(rsp_peinfo)));
    const auto count = pe.user_transport.addresses.size();
    auto* addrs = static_cast<sockaddr_storage*>(std::calloc(count + 1, sizeof(sockaddr_storage)));
    if (e == nullptr || addrs == nullptr) {
      std::free(e);
      std::free(addrs);
      rsp_freepoolinfo(pool);
      return fail(ENOMEM);
    }
    e->pi_pe_id = pe.id;
    e->pi_home_registrar = pe.home_registrar_id;
    e->pi_registration_life_ms = static_cast<std::uint32_t>(pe.registration_life.count());
    e->pi_loadinfo = loadinfo_from_policy(pe.policy);
    e->pi_protocol = protocol_number(pe.user_transport.protocol);
    e->pi_addrs = count;
    e->pi_addr = addrs;
    for (std::size_t i = 0; i < count; ++i)
      sockaddr_from_ip(pe.user_transport.addresses[i], pe.user_transport.port, addrs[i]);
    *tail = e;
    tail = &e->pi_next;
    ++pool->pi_elements;
  }
  *info = pool;
  return static_cast<int>(pool->pi_elements);
}

void rsp_freepoolinfo(struct rsp_poolinfo* info) {
  if (info == nullptr) return;
  rsp_peinfo* e = info->pi_first;
  while (e != nullptr) {
    rsp_peinfo* next = e->pi_next;
    std::free(e->pi_addr);
    std::free(e);
    e = next;
  }
  std::free(info);
}

int rsp_getaddrinfo(const unsigned char* pool_handle, size_t pool_handle_size,
                    struct rsp_addrinfo** info, size_t items, unsigned int stale_cache_ms) {
  if (info == nullptr) return REAI_SYSTEM;
  *info = nullptr;
  if (!valid_pool_handle(pool_handle, pool_handle_size)) return REAI_NONAME;
  auto result = resolve(-1, pool_handle_of(pool_handle, pool_handle_size), items,
                        milliseconds(stale_cache_ms));
  if (!result) {
    const auto code = result.error().code;
    if (code == asap::AsapErrc::PoolNotFound || code == asap::AsapErrc::PoolEmpty)
      return REAI_NONAME;
    errno = to_errno(result.error());
    return REAI_SYSTEM;
  }
  int count = 0;
  rsp_addrinfo** tail = info;
  for (const auto& pe : result->elements) {
    const auto n = pe.user_transport.addresses.size();
    if (n == 0) continue;
    auto* ai = static_cast<rsp_addrinfo*>(std::calloc(1, sizeof(rsp_addrinfo)));
    const bool v6 = !pe.user_transport.addresses.front().is_v4();
    const std::size_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    auto* packed = static_cast<unsigned char*>(std::calloc(n, sizeof(sockaddr_in6)));
    if (ai == nullptr || packed == nullptr) {
      std::free(ai);
      std::free(packed);
      rsp_freeaddrinfo(*info);
      *info = nullptr;
      return REAI_MEMORY;
    }
    ai->ai_family = v6 ? AF_INET6 : AF_INET;
    ai->ai_protocol = protocol_number(pe.user_transport.protocol);
    ai->ai_socktype = ai->ai_protocol == IPPROTO_TCP   ? SOCK_STREAM
                      : ai->ai_protocol == IPPROTO_UDP ? SOCK_DGRAM
                                                       : SOCK_SEQPACKET;
    ai->ai_addrlen = len;
    ai->ai_pe_id = pe.id;
    // RSPLIB packs addresses of one family at ai_addrlen strides; others are skipped.
    std::size_t packed_count = 0;
    for (const auto& address : pe.user_transport.addresses) {
      if (address.is_v4() == v6) continue;
      sockaddr_storage ss;
      sockaddr_from_ip(address, pe.user_transport.port, ss);
      std::memcpy(packed + packed_count * len, &ss, len);
      ++packed_count;
    }
    ai->ai_addrs = packed_count;
    ai->ai_addr = reinterpret_cast<sockaddr*>(packed);
    *tail = ai;
    tail = &ai->ai_next;
    ++count;
  }
  return count > 0 ? count : REAI_NONAME;
}

void rsp_freeaddrinfo(struct rsp_addrinfo* info) {
  while (info != nullptr) {
    rsp_addrinfo* next = info->ai_next;
    std::free(info->ai_addr);
    std::free(info);
    info = next;
  }
}

unsigned int rsp_pe_registration(const unsigned char* pool_handle, size_t pool_handle_size,
                                 struct rsp_addrinfo* info, const struct rsp_loadinfo* loadinfo,
                                 unsigned int registration_life_ms, int flags) {
  if (!valid_pool_handle(pool_handle, pool_handle_size) || info == nullptr ||
      info->ai_addr == nullptr || info->ai_addrs == 0) {
    errno = EINVAL;
    return 0;
  }
  Runtime* r = Runtime::get();
  if (r == nullptr) {
    if (Runtime::initialize(nullptr) != 0) return 0;
    r = Runtime::get();
  }
  TransportAddress transport;
  transport.protocol = info->ai_protocol == IPPROTO_TCP   ? TransportProtocol::Tcp
                       : info->ai_protocol == IPPROTO_UDP ? TransportProtocol::Udp
                                                          : TransportProtocol::Sctp;
  const auto* bytes = reinterpret_cast<const unsigned char*>(info->ai_addr);
  for (std::size_t i = 0; i < info->ai_addrs; ++i) {
    std::uint16_t port = 0;
    if (auto ip = ip_from_sockaddr(reinterpret_cast<const sockaddr*>(bytes), &port)) {
      transport.addresses.push_back(*ip);
      transport.port = port;
    }
    bytes += info->ai_addrlen;
  }
  if (transport.addresses.empty()) {
    errno = EAFNOSUPPORT;
    return 0;
  }
  const PoolHandle pool = pool_handle_of(pool_handle, pool_handle_size);
  auto promise = std::make_shared<std::promise<int>>();
  auto future = promise->get_future();
  // Runtime::call brings an errno set on the lease holder's thread back to this one.
  const PoolElementId id = r->call([&]() -> PoolElementId {
    asap::PoolElementOptions options;
    options.pool_handle = pool;
    options.policy = policy_from_loadinfo(loadinfo);
    if (info->ai_pe_id != 0) options.id = info->ai_pe_id;
    options.user_transport = transport;
    // RSPLIB: the Registration Life (RFC 5354 §3.9) of this registration; T4 follows from it
    // (RFC 5352 §5.1). 0: the context's.
    if (registration_life_ms != 0) options.registration_lifetime = milliseconds(registration_life_ms);
    asap::PoolElementHandlers handlers;
    auto done = std::make_shared<bool>(false);
    handlers.on_event = [promise, done](const asap::PoolElementEvent& e) {
      if (*done) return;
      if (e.kind == asap::PoolElementEventKind::Registered) {
        *done = true;
        promise->set_value(0);
      } else if (e.kind == asap::PoolElementEventKind::RegistrationFailed) {
        *done = true;
        promise->set_value(e.error ? to_errno(*e.error) : EACCES);
      }
    };
    auto created = asap::PoolElement::create(r->context(), std::move(options), std::move(handlers));
    if (!created) {
      errno = to_errno(created.error());
      return 0;
    }
    const PoolElementId pe = (*created)->id();
    r->sidecar_elements[{pool, pe}] = std::move(*created);
    return pe;
  });
  if (id == 0) return 0;
  if ((flags & REGF_DONTWAIT) != 0) return id;
  r->about_to_block();
  const int error = future.get();
  if (error != 0) {
    r->call([&] { r->sidecar_elements.erase({pool, id}); });
    errno = error;
    return 0;
  }
  info->ai_pe_id = id;
  return id;
}

unsigned int rsp_pe_deregistration(const unsigned char* pool_handle, size_t pool_handle_size,
                                   uint32_t pe_id, int flags) {
  Runtime* r = Runtime::get();
  if (r == nullptr || !valid_pool_handle(pool_handle, pool_handle_size)) return EINVAL;
  const PoolHandle pool = pool_handle_of(pool_handle, pool_handle_size);
  auto promise = std::make_shared<std::promise<int>>();
  auto future = promise->get_future();
  const bool found = r->call([&] {
    auto it = r->sidecar_elements.find({pool, pe_id});
    if (it == r->sidecar_elements.end()) return false;
    it->second->deregister([promise](asap::AsapResult<void> result) {
      promise->set_value(result ? 0 : to_errno(result.error()));
    });
    return true;
  });
  if (!found) return ENOENT;
  if ((flags & DEREGF_DONTWAIT) == 0) r->about_to_block();
  const int error = (flags & DEREGF_DONTWAIT) != 0 ? 0 : future.get();
  r->call([&] { r->sidecar_elements.erase({pool, pe_id}); });
  return static_cast<unsigned int>(error);
}

unsigned int rsp_pe_failure(const unsigned char* pool_handle, size_t pool_handle_size,
                            uint32_t pe_id) {
  return rsp_reportfailure(-1, pool_handle, pool_handle_size, pe_id) == 0
             ? 0u
             : static_cast<unsigned int>(errno);
}

}  // extern "C"
