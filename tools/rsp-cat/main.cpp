// rsp-cat: netcat for pools. `rsp-cat POOL` is a pool user (stdin -> pool, replies -> stdout,
// transparent failover); `rsp-cat -l POOL` a pool element (sessions <-> stdin/stdout, or
// --exec CMD per session).
#include <signal.h>

#include <CLI/CLI.hpp>

#include "cat.hpp"

namespace rsp::tools::cat {

std::optional<std::chrono::milliseconds> Options::quit_after() const {
  if (quit_after_eof.empty()) return std::nullopt;
  return parse_duration(quit_after_eof);
}
std::optional<std::chrono::milliseconds> Options::idle() const {
  if (idle_timeout.empty()) return std::nullopt;
  return parse_duration(idle_timeout);
}

namespace {

void define(CLI::App& app, Options& o) {
  app.add_option("POOL", o.pool, "Pool handle to talk to (or to register with -l)")->required();
  add_client_options(app, o.client, "PU: give up after DURATION in all (exit 124); PE: registration bound");
  app.add_flag("-l,--listen", o.listen, "Be a pool element of POOL (serve sessions) instead of a pool user");
  app.add_option("-e,--exec", o.exec, "With -l: run '/bin/sh -c CMD' per session, connected to it")->type_name("CMD");
  app.add_flag("--raw", o.raw, "Send what each read returns as one message (default: one message per line)");
  app.add_option("--max-message", o.max_message, "Largest message in bytes; longer lines are split (default 16384)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{200 * 1024}))->type_name("BYTES");
  app.add_option("-q,--quit-after-eof", o.quit_after_eof,
                 "After EOF on stdin, quit after DURATION even if replies are missing")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("-i,--idle-timeout", o.idle_timeout, "Quit when nothing was sent or received for DURATION")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("--window", o.window,
                 "PU: messages awaiting a reply before reading pauses (default 64; 0: PEs that never reply)")->type_name("N");
  app.add_option("--policy", o.policy, "With -l: pool policy NAME[:VALUE] (default rr)")->check(policy_validator())->type_name("POLICY[:VALUE]");
  app.add_option("--local", o.local, "With -l: local ADDR:PORT of the data endpoint (default: any, ephemeral)")
      ->check(listen_validator())->type_name("ADDR:PORT");
  app.add_option("--ppid", o.ppid, "SCTP payload protocol identifier of sent messages (not 11)")->type_name("N");
  app.add_option("--stream", o.stream, "SCTP stream of sent messages")->check(CLI::Range(0, 15))->type_name("N");
  app.add_flag("--no-failover", o.no_failover, "PU: never resend messages to another pool element");
}

}  // namespace
}  // namespace rsp::tools::cat

int main(int argc, char** argv) {
  using namespace rsp::tools;
  CLI::App app{"rsp-cat: netcat for pools (RFC 5352 ASAP sessions with failover)", "rsp-cat"};
  app.set_version_flag("-V,--version", "");
  cat::Options o;
  cat::define(app, o);
  Log log("rsp-cat");
  if (auto rc = parse_client_arguments(app, argc, argv, o.client, log)) return *rc;
  if (!o.exec.empty() && !o.listen) return log.error("--exec needs -l (it runs on the pool element side)"), exit_code::usage;
  if (o.ppid == rsp::asap::kControlPpid) return log.error("--ppid 11 is reserved for ASAP"), exit_code::usage;
  if (o.pool.size() > rsp::kMaxPoolHandleSize) return log.error("pool handle '" + o.pool + "' is too long"), exit_code::usage;
  ::signal(SIGPIPE, SIG_IGN);
  return o.listen ? cat::run_pool_element(o, log) : cat::run_pool_user(o, log);
}
