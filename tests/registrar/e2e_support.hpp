// rsp-registrar as a child process on loopback (usrsctp backend), found through its status socket.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>

#include "asap_client.hpp"
#include "process.hpp"

namespace rsp::registrar::test {

inline std::string temp_path(const std::string& what) {
  static std::atomic<int> counter{0};
  return "/tmp/rsp-reg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "." + what;
}

class RegistrarProcess {
 public:
  explicit RegistrarProcess(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--listen", "127.0.0.1:0", "--no-announce", "--transport", "udp",
                                  "--status-socket", socket, "-vv"};
    args.insert(args.end(), extra.begin(), extra.end());
    child = std::make_unique<Child>(RSP_REGISTRAR_BIN, args, log);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string reply;
    while (reply.empty() && std::chrono::steady_clock::now() < deadline) {
      reply = query_status(socket, true);
      if (reply.empty()) ::poll(nullptr, 0, 20);
    }
    REQUIRE_MESSAGE(!reply.empty(), "rsp-registrar did not come up; its log: ", log);
    auto j = nlohmann::json::parse(reply);
    const std::string listening = j["listening"][0];
    port = static_cast<std::uint16_t>(std::stoi(listening.substr(listening.rfind(':') + 1)));
  }
  ~RegistrarProcess() {
    child.reset();
    ::unlink(socket.c_str());
    ::unlink(log.c_str());
  }
  nlohmann::json status() const { return nlohmann::json::parse(query_status(socket, true)); }
  std::string log_text() const {
    std::string s;
    if (FILE* f = std::fopen(log.c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
      std::fclose(f);
    }
    return s;
  }

  std::string socket = temp_path("sock");
  std::string log = temp_path("log");
  std::unique_ptr<Child> child;
  std::uint16_t port = 0;
};

inline std::optional<wire::asap::HandleResolutionResponse> resolve(
    AsapClient& pu, std::string_view pool, std::optional<std::uint32_t> items = std::nullopt) {
  wire::asap::HandleResolution hr{PoolHandle(pool), std::nullopt};
  if (items) hr.option = wire::HandleResolutionOption{*items};
  if (!pu.send(hr)) return std::nullopt;
  return pu.next_as<wire::asap::HandleResolutionResponse>();
}

inline std::optional<wire::CauseCode> first_cause(const std::optional<wire::OperationError>& e) {
  if (!e || e->causes.empty()) return std::nullopt;
  return e->causes[0].code;
}

}  // namespace rsp::registrar::test
