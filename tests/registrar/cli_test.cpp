// rsp-registrar's command line: --help, --version, bad flags and values, exit codes.
#include <doctest/doctest.h>

#include "e2e_support.hpp"

using namespace rsp::registrar::test;

TEST_CASE("--help and --version exit 0 and print to stdout") {
  auto help = run_program(RSP_REGISTRAR_BIN, {"--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("--keepalive-interval") != std::string::npos);
  auto version = run_program(RSP_REGISTRAR_BIN, {"--version"});
  CHECK(version.status == 0);
  CHECK(version.out.rfind("rsp-registrar (rsptools) ", 0) == 0);
}

TEST_CASE("an unknown flag is a usage error: exit 64 and one line saying why") {
  auto r = run_program(RSP_REGISTRAR_BIN, {"--frobnicate"});
  CHECK(r.status == 64);
  CHECK(r.err.find("--frobnicate") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("bad values are usage errors: duration without unit, bad address, id 0, --announce with --no-announce") {
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--keepalive-interval", "5"}).status == 64);
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--keepalive-timeout", "3 parsecs"}).status == 64);
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--listen", "localhost"}).status == 64);
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--listen", "::1:80"}).status == 64);
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--id", "0"}).status == 64);
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--transport", "carrier-pigeon"}).status == 64);
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--no-announce", "--announce", "239.0.0.50:3863"}).status == 64);
}

TEST_CASE("an --announce-interface that does not exist is a usage error naming it") {
  auto r = run_program(RSP_REGISTRAR_BIN, {"--listen", "127.0.0.1:0", "--transport", "udp",
                                           "--no-status-socket", "--announce-interface", "nosuchif0"});
  CHECK(r.status == 64);
  CHECK(r.err.find("nosuchif0") != std::string::npos);
}

TEST_CASE("a listen port that is taken exits 69 with a message") {
  RegistrarProcess first;
  auto r = run_program(RSP_REGISTRAR_BIN, {"--listen", "127.0.0.1:" + std::to_string(first.port),
                                           "--transport", "udp", "--no-announce", "--no-status-socket"});
  CHECK(r.status == 69);
  CHECK(r.err.find("port") != std::string::npos);
}

TEST_CASE("--busy-poll takes microseconds and the other units, bounded; a registrar with it serves") {
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--busy-poll", "50"}).status == 64);      // no unit
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--busy-poll", "5.5us"}).status == 64);   // whole us only
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--busy-poll", "2s"}).status == 64);      // above 1s
  CHECK(run_program(RSP_REGISTRAR_BIN, {"--busy-poll", "-1ms"}).status == 64);
  RegistrarProcess reg({"--busy-poll", "200us"});
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  pe.send(make_registration("BusyPoll", 7, pe.port()));
  REQUIRE(pe.next_as<rsp::wire::asap::RegistrationResponse>());
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  for (int i = 0; i < 20; ++i) {
    pu.send(rsp::wire::asap::HandleResolution{rsp::PoolHandle("BusyPoll"), std::nullopt});
    auto r = pu.next_as<rsp::wire::asap::HandleResolutionResponse>();
    REQUIRE(r);
    REQUIRE(r->pool_elements.size() == 1);
    CHECK(r->pool_elements.front().id == 7);
  }
  reg.child->signal(SIGTERM);
  CHECK(reg.child->wait(std::chrono::seconds(5)) == std::optional<int>(0));
}

TEST_CASE("status with no registrar behind the socket exits 69") {
  auto r = run_program(RSP_REGISTRAR_BIN, {"status", "--status-socket", "/nonexistent/rsp.sock"});
  CHECK(r.status == 69);
}

TEST_CASE("-v reports the transport backend in use") {
  RegistrarProcess reg;  // runs with -vv
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (reg.log_text().find("transport backend udp") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    ::poll(nullptr, 0, 20);
  CHECK(reg.log_text().find("transport backend udp") != std::string::npos);
}

TEST_CASE("--log-format json writes one JSON object per line") {
  RegistrarProcess reg({"--log-format", "json"});
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  pe.send(make_registration("J", 1, pe.port()));
  REQUIRE(pe.next_as<rsp::wire::asap::RegistrationResponse>());
  reg.child->signal(SIGTERM);
  REQUIRE(reg.child->wait(std::chrono::seconds(5)) == std::optional<int>(0));
  std::istringstream lines(reg.log_text());
  std::string line;
  int parsed = 0;
  bool registered = false;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    ++parsed;
    CHECK(j.contains("level"));
    if (j["event"] == "registered") registered = j["pool"] == "J";
  }
  CHECK(parsed >= 3);
  CHECK(registered);
}
