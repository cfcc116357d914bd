// A minimal pool element process for the registrar's kill/freeze tests:
//   registrar_pe REGISTRAR_PORT POOL PE_ID
// registers over its own association, prints "registered" on stdout, then answers
// ENDPOINT_KEEP_ALIVE until killed.
#include <cstdio>
#include <cstdlib>

#include "asap_client.hpp"

int main(int argc, char** argv) {
  using namespace rsp::registrar::test;
  if (argc != 4) {
    std::fprintf(stderr, "usage: registrar_pe REGISTRAR_PORT POOL PE_ID\n");
    return 64;
  }
  boost::asio::io_context io;
  AsapClient client(io, static_cast<std::uint16_t>(std::atoi(argv[1])));
  if (!client.wait_up()) return 69;
  client.send(make_registration(argv[2], static_cast<rsp::PoolElementId>(std::strtoul(argv[3], nullptr, 0)),
                                client.port()));
  auto r = client.next_as<rsp::wire::asap::RegistrationResponse>();
  if (!r || r->rejected) return 65;
  std::printf("registered\n");
  std::fflush(stdout);
  io.restart();
  while (!client.lost) io.run_one();  // answers keep-alives in the handler
  return 0;
}
