// Backend names, the kernel-SCTP probe, and the factory that picks a backend.
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "rsp/transport/endpoint.hpp"
#include "transport/kernel_endpoint.hpp"
#include "transport/usrsctp_endpoint.hpp"

namespace rsp::transport {

std::string_view to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::Automatic: return "automatic";
    case Backend::Kernel: return "kernel";
    case Backend::Udp: return "udp";
    case Backend::Memory: return "memory";
  }
  return "unknown";
}

std::optional<Backend> parse_backend(std::string_view text) noexcept {
  if (text == "auto" || text == "automatic") return Backend::Automatic;
  if (text == "kernel") return Backend::Kernel;
  if (text == "udp" || text == "usrsctp") return Backend::Udp;
  return std::nullopt;
}

std::string_view to_string(AssociationEventKind kind) noexcept {
  switch (kind) {
    case AssociationEventKind::Up: return "up";
    case AssociationEventKind::Lost: return "lost";
    case AssociationEventKind::Restart: return "restart";
    case AssociationEventKind::ShutdownComplete: return "shutdown-complete";
    case AssociationEventKind::CannotStart: return "cannot-start";
  }
  return "unknown";
}

bool kernel_sctp_available() noexcept {
  const int fd = ::socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  // EPROTONOSUPPORT, ESOCKTNOSUPPORT, EAFNOSUPPORT: no SCTP in this kernel (or no module).
  // Anything else (EMFILE, EACCES under a seccomp filter) also means we cannot use it now.
  return false;
}

Backend resolve_backend(Backend requested) noexcept {
  if (requested == Backend::Kernel || requested == Backend::Udp) return requested;
  if (const char* env = std::getenv("RSP_TRANSPORT")) {
    const auto parsed = parse_backend(env);
    if (parsed && *parsed != Backend::Automatic) return *parsed;
  }
  return kernel_sctp_available() ? Backend::Kernel : Backend::Udp;
}

TransportResult<std::unique_ptr<Endpoint>> open_endpoint(boost::asio::io_context& io,
                                                         const EndpointOptions& options) {
  if (options.backend == Backend::Memory) {
    return make_error(TransportErrc::InvalidArgument,
                      "the memory backend is opened through MemoryNetwork::open");
  }
  switch (resolve_backend(options.backend)) {
    case Backend::Kernel: return open_kernel_endpoint(io, options);
    default: return open_usrsctp_endpoint(io, options);
  }
}

}  // namespace rsp::transport
