// What the pool tools (rsp-register, rsp-resolve, rsp-send, rsp-echo-pe, rsp-cat) share beyond
// the basic option conventions: exit codes, the client options every one of them takes
// (--registrar, --transport, --timeout, -v), policy arguments, durations, diagnostics, and the
// io_context loop with a deadline and signal handling. docs/tools.md documents all of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common.hpp"
#include "rsp/asap.hpp"
#include "rsp/wire/types.hpp"

// Forward declarations: only the files that build a command line include <CLI/CLI.hpp>, whose
// header-only implementation costs ~16 s of compiler CPU per file (docs/ci.md).
namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace boost::asio {
class io_context;
}

namespace rsp::tools {

// Exit codes (sysexits.h where one fits; docs/tools.md, each man page's EXIT STATUS).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int usage = 64;            // EX_USAGE: bad option or argument
inline constexpr int data_error = 65;       // EX_DATAERR: bad input (message too big, load file)
inline constexpr int no_pool = 68;          // EX_NOHOST: the registrar does not know the pool
inline constexpr int unavailable = 69;      // EX_UNAVAILABLE: the pool has no PE / none usable
inline constexpr int software = 70;         // EX_SOFTWARE: internal error
inline constexpr int os_error = 71;         // EX_OSERR: cannot fork/exec/open a socket
inline constexpr int io_error = 74;         // EX_IOERR: reading stdin / writing stdout failed
inline constexpr int temp_fail = 75;        // EX_TEMPFAIL: no registrar answered (try again)
inline constexpr int protocol = 76;         // EX_PROTOCOL: the registrar rejected a registration
inline constexpr int failover_exhausted = 79;  // every PE tried failed; nothing left to fail over to
inline constexpr int undelivered = 80;      // rsp-cat: some messages may not have been delivered
inline constexpr int timeout = 124;         // --timeout expired (as timeout(1))
inline constexpr int interrupted = 130;     // SIGINT before the job was done (128 + 2)
}  // namespace exit_code

// Durations ("250ms", "5s", "2m"): parse_duration/format_duration from common.hpp.

// Policy arguments: RSPLIB names or short forms, case-insensitive, with an optional value:
// "RoundRobin", "rr", "WeightedRoundRobin:3", "wrr:3", "lu:0.25" (load as a fraction or "25%"),
// "prio:2". The value sets the policy's main parameter (weight, priority, load).
struct PolicyArg {
  PolicyInfo policy;
  bool has_value = false;
};
// Error text (one line, no program name) on failure.
std::optional<PolicyArg> parse_policy(std::string_view text, std::string* error);
// Loads: "0.25", "25%", "1073741824" (raw 32-bit value).
std::optional<std::uint32_t> parse_load(std::string_view text);
std::string format_policy(const PolicyInfo& policy);        // "WeightedRoundRobin:3"
double load_fraction(std::uint32_t load);                    // 0..1
// The short forms for --help, the man pages and completions.
std::vector<std::string> policy_names();

// --listen ADDR:PORT / ADDR / :PORT; port 0 (or none) means ephemeral.
struct ListenAddress {
  std::vector<IpAddress> addresses;  // empty: wildcard
  std::uint16_t port = 0;
};
std::optional<ListenAddress> parse_listen(std::string_view text, std::string* error);
CLI::Validator listen_validator();

// "sctp" "tcp" "udp" ...
std::string_view protocol_name(TransportProtocol p);
std::string format_addresses(const TransportAddress& t);     // "127.0.0.1,10.0.0.1:4711"
std::string format_id(std::uint32_t id);                     // "0x11223344" (PE, registrar ids)

// Writes all of `data` to `fd` (the data tools' stdout), waiting while a non-blocking descriptor
// is full; false with errno set on failure.
bool write_all(int fd, std::span<const std::byte> data);

// Diagnostics on stderr, one line each, prefixed with the program name. Status lines (progress)
// only when stderr is a terminal.
class Log {
 public:
  explicit Log(std::string program) : program_(std::move(program)) {}
  void set_verbosity(int v) { verbosity_ = v; }
  int verbosity() const { return verbosity_; }
  void error(std::string_view text) const;
  void warn(std::string_view text) const { error(text); }
  void info(std::string_view text) const;    // -v
  void debug(std::string_view text) const;   // -vv
  void status(std::string_view text) const;  // only on a terminal
  const std::string& program() const { return program_; }

 private:
  std::string program_;
  int verbosity_ = 0;
};

// --registrar/-r (repeatable; RSP_REGISTRAR), --transport/-t (RSP_TRANSPORT), --timeout/-w,
// -v (repeatable). Tools that print data add --json themselves.
struct ClientOptions {
  std::vector<std::string> registrars;
  std::string transport;
  std::string timeout_text;
  std::optional<std::chrono::milliseconds> timeout;
  int verbose = 0;
};
void add_client_options(CLI::App& app, ClientOptions& options, std::string_view timeout_help);
// Completes parsing (timeout) and validation; prints one line and returns false on error.
bool finish_client_options(ClientOptions& options, const Log& log);

// CLI11 parsing with one-line errors ("tool: --policy: unknown policy 'x' ..."), exit 64;
// --help/--version print to stdout and give 0. nullopt: go on.
std::optional<int> parse_arguments(CLI::App& app, int argc, char** argv, const Log& log);
// The start of every pool tool's main(): parse_arguments(), then -v sets `log`'s verbosity and
// finish_client_options() completes `client` (exit 64 on a bad --timeout or --registrar).
std::optional<int> parse_client_arguments(CLI::App& app, int argc, char** argv, ClientOptions& client,
                                          Log& log);

// CLI11 validators.
CLI::Validator duration_validator();
CLI::Validator policy_validator();

// A ContextOptions for the tools: registrars from the options (else RSP_REGISTRAR, else
// SERVER_ANNOUNCE), the transport backend, and timers short enough that an unreachable
// registrar is reported within about `patience`.
std::optional<asap::ContextOptions> make_context_options(const ClientOptions& options,
                                                         std::chrono::milliseconds patience,
                                                         const Log& log);

// The tool's run loop: the io_context with SIGINT/SIGTERM (and optional SIGHUP/SIGUSR1) handling
// and an optional deadline. Handlers run on the io_context.
class Runner {
 public:
  explicit Runner(boost::asio::io_context& io);
  ~Runner();
  // Called once on SIGINT/SIGTERM (second signal: exit at once with 128+sig).
  void on_terminate(std::function<void(int signal)> handler);
  void on_reload(std::function<void(int signal)> handler);  // SIGHUP, SIGUSR1
  void on_child(std::function<void()> handler);             // SIGCHLD
  // Calls `handler` when `after` elapses (replaces a previous deadline).
  void deadline(std::chrono::milliseconds after, std::function<void()> handler);
  void cancel_deadline();
  // Runs until finish() is called (or nothing is left); returns the exit code given to finish().
  int run();
  void finish(int code);
  bool finished() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A repeating or one-shot timer for tools (thin wrapper over asio's steady_timer).
class ToolTimer {
 public:
  explicit ToolTimer(boost::asio::io_context& io);
  ~ToolTimer();
  void start(std::chrono::milliseconds after, std::function<void()> handler);
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Maps an ASAP error to the tool exit code (NoRegistrar -> temp_fail, PoolNotFound -> no_pool,
// PoolEmpty -> unavailable, Timeout -> timeout, FailoverExhausted -> failover_exhausted, ...).
int exit_code_for(asap::AsapErrc code);
// "no registrar answered (tried 127.0.0.1:3863)" style text for an error.
std::string describe(const asap::AsapError& error);
// The line every pool user tool prints alike when the pool cannot be used at all: "pool 'P' not
// found", "pool 'P' has no pool elements", or the NoRegistrar message ("no registrar answered"
// if it has none). nullopt for other errors, which each tool words for what it was doing.
std::optional<std::string> describe_pool_failure(const asap::AsapError& error, std::string_view pool);

}  // namespace rsp::tools
