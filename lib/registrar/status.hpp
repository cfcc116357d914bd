// Text and JSON renderings of a registrar's handlespace and counters (the status socket's
// answers). The JSON layout is documented in docs/registrar.md and is stable.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "rsp/registrar/core.hpp"
#include "rsp/transport/endpoint.hpp"

namespace rsp::registrar {

struct StatusContext {
  transport::Backend backend = transport::Backend::Automatic;
  std::vector<std::string> listening;  // "127.0.0.1:3863"
  std::string announce;                // "239.0.0.50:3863" or empty
  std::chrono::milliseconds uptime{0};
  TimePoint now{};
};

std::string render_status_text(const RegistrarCore& core, const StatusContext& context);
std::string render_status_json(const RegistrarCore& core, const StatusContext& context);

std::string address_text(const IpAddress& address);                  // 10.0.0.1, 2001:db8::1
std::string socket_text(const IpAddress& address, std::uint16_t port);  // 10.0.0.1:80, [::1]:80

}  // namespace rsp::registrar
