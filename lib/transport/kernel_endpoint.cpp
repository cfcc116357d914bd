// Kernel SCTP backend: not written yet (it is a separate work item, see kernel_endpoint.hpp).
// Until it exists, asking for it fails cleanly so that callers can fall back or report.
#include "transport/kernel_endpoint.hpp"

namespace rsp::transport {

TransportResult<std::unique_ptr<Endpoint>> open_kernel_endpoint(boost::asio::io_context&,
                                                                const EndpointOptions&) {
  return make_error(TransportErrc::Unsupported,
                    "the kernel SCTP backend is not implemented in this build; "
                    "use RSP_TRANSPORT=udp (usrsctp over UDP)");
}

}  // namespace rsp::transport
