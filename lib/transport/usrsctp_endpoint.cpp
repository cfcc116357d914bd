#include "transport/usrsctp_endpoint.hpp"
namespace rsp::transport {
TransportResult<std::unique_ptr<Endpoint>> open_usrsctp_endpoint(boost::asio::io_context&,
                                                                 const EndpointOptions&) {
  return make_error(TransportErrc::Unsupported, "usrsctp backend: work in progress");
}
}  // namespace rsp::transport
