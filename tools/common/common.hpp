// What every rsp-* tool shares: exit codes, durations and ADDR:PORT on the command line,
// environment defaults, one-line diagnostics on stderr, --version text, CLI11 glue.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rsp/wire/types.hpp"

namespace CLI {
class App;
}

namespace rsp::tools {

// sysexits.h values, documented in every man page's EXIT STATUS.
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 64,        // EX_USAGE: bad flags or arguments
  kExitDataErr = 65,      // EX_DATAERR: bad input data
  kExitUnavailable = 69,  // EX_UNAVAILABLE: service/transport/pool not available
  kExitSoftware = 70,     // EX_SOFTWARE: internal error
  kExitOsErr = 71,        // EX_OSERR: an OS call failed (socket, bind, ...)
  kExitIoErr = 74,        // EX_IOERR: input/output error
  kExitTempFail = 75,     // EX_TEMPFAIL: try again later
  kExitTimeout = 124,     // like timeout(1)
};

// "250ms", "5s", "2m", "1h", "1.5s"; a bare "0" is allowed (no unit needed for nothing).
// nullopt with a message in `error` otherwise.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        std::string* error = nullptr);
std::string format_duration(std::chrono::milliseconds d);  // "5s", "250ms", "2m"

struct HostPort {
  IpAddress address;  // 0.0.0.0 / :: for "*" or an empty host
  std::uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};
// "1.2.3.4:80", "[2001:db8::1]:80", "*:80" or ":80" (wildcard), and without ":PORT" when
// `default_port` is given. Names are not resolved (no DNS in a registrar's config path).
std::optional<HostPort> parse_host_port(std::string_view text,
                                        std::optional<std::uint16_t> default_port = std::nullopt,
                                        std::string* error = nullptr);
std::string format_host_port(const HostPort& hp);  // "1.2.3.4:80", "[::1]:80"
std::optional<IpAddress> parse_ip(std::string_view text);
std::string format_ip(const IpAddress& address);

// Environment defaults shared by the tools: RSP_REGISTRAR (comma-separated ADDR:PORT list,
// port 3863 if absent) and RSP_TRANSPORT (kernel|udp|auto).
std::vector<HostPort> registrars_from_env(std::string* error = nullptr);
std::optional<std::string> transport_from_env();

// "rsp-registrar (rsptools) 0.1.0" plus a licence line.
std::string version_text(std::string_view tool);

// ---- diagnostics ----
enum class LogFormat : std::uint8_t { Text, Json };
enum class LogLevel : int { Error = 0, Warning = 1, Info = 2, Debug = 3 };

// One line per event on stderr. Text: "rsp-registrar: warning: message key=value ...", with
// colour only when stderr is a terminal; JSON: one object per line {"ts","tool","level",...}.
class Logger {
 public:
  Logger(std::string tool, LogLevel threshold = LogLevel::Warning,
         LogFormat format = LogFormat::Text);
  void set_threshold(LogLevel level) noexcept { threshold_ = level; }
  void set_format(LogFormat format) noexcept { format_ = format; }
  bool enabled(LogLevel level) const noexcept {
    return static_cast<int>(level) <= static_cast<int>(threshold_);
  }
  // `fields`: extra key/value pairs (values are strings; JSON numbers are up to the caller's
  // choice of text, they are emitted as strings).
  void log(LogLevel level, std::string_view event, std::string_view message,
           const std::vector<std::pair<std::string, std::string>>& fields = {}) const;
  void error(std::string_view message) const { log(LogLevel::Error, "error", message); }
  const std::string& tool() const noexcept { return tool_; }

 private:
  std::string tool_;
  LogLevel threshold_;
  LogFormat format_;
  bool colour_;
};
// -v count -> level: 0 warning, 1 info, 2+ debug.
LogLevel level_from_verbosity(int count) noexcept;
std::optional<LogFormat> parse_log_format(std::string_view text) noexcept;

// ---- CLI11 glue ----
// Parses; on --help/--version prints and returns kExitOk, on errors prints one line
// "tool: message" plus a hint and returns kExitUsage. nullopt: go on.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

}  // namespace rsp::tools
