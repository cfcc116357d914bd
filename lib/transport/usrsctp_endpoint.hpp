// The usrsctp backend: SCTP over UDP encapsulation (RFC 6951), usrsctp without threads,
// UDP owned by us through asio (AF_CONN). See docs/transport.md for the port convention.
#pragma once

#include <memory>

#include "rsp/transport/endpoint.hpp"

namespace rsp::transport {

TransportResult<std::unique_ptr<Endpoint>> open_usrsctp_endpoint(boost::asio::io_context& io,
                                                                 const EndpointOptions& options);

}  // namespace rsp::transport
