// The kernel SCTP (lksctp, netinet/sctp.h) backend: a non-blocking one-to-many SOCK_SEQPACKET
// socket waited on with asio (posix::stream_descriptor::async_wait), sendmsg with SCTP_SNDINFO,
// recvmsg with SCTP_RCVINFO, the RFC 6458 notifications mapped to AssociationEvent/SendFailure.
// The factory (backend.cpp) calls this when resolve_backend() says Kernel. Where the kernel has
// no SCTP it fails with TransportErrc::Unsupported. Details and Linux specifics:
// docs/kernel-sctp.md.
#pragma once

#include <memory>

#include "rsp/transport/endpoint.hpp"

namespace rsp::transport {

TransportResult<std::unique_ptr<Endpoint>> open_kernel_endpoint(boost::asio::io_context& io,
                                                                const EndpointOptions& options);

}  // namespace rsp::transport
