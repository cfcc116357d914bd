// Seam for the kernel SCTP (lksctp, netinet/sctp.h) backend: a one-to-many SOCK_SEQPACKET socket
// waited on with asio (posix::stream_descriptor::async_wait), sctp_sendv/sctp_recvv, the RFC 6458
// notifications mapped to AssociationEvent/SendFailure. The factory (backend.cpp) calls this
// when resolve_backend() says Kernel.
#pragma once

#include <memory>

#include "rsp/transport/endpoint.hpp"

namespace rsp::transport {

TransportResult<std::unique_ptr<Endpoint>> open_kernel_endpoint(boost::asio::io_context& io,
                                                                const EndpointOptions& options);

}  // namespace rsp::transport
