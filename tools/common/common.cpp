#include "common.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "rsp/version.hpp"

namespace rsp::tools {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::chrono::milliseconds> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (text == "0") return std::chrono::milliseconds(0);
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const auto number = text.substr(0, i);
  const auto unit = text.substr(i);
  if (number.empty() || number.front() == '.' || number.back() == '.' ||
      std::count(number.begin(), number.end(), '.') > 1)
    return fail(fmt::format("expected a duration like 500ms, 5s or 2m, got '{}'", text));
  double factor = 0;
  if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m" || unit == "min") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else if (unit.empty())
    return fail(fmt::format("duration '{}' needs a unit (ms, s, m or h)", text));
  else
    return fail(fmt::format("unknown unit '{}' in duration '{}' (ms, s, m or h)", unit, text));
  const double value = std::strtod(std::string(number).c_str(), nullptr) * factor;
  if (!std::isfinite(value) || value > 1e15)
    return fail(fmt::format("duration '{}' is too large", text));
  return std::chrono::milliseconds(static_cast<long long>(std::llround(value)));
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto n = d.count();
  if (n != 0 && n % 60'000 == 0) return fmt::format("{}m", n / 60'000);
  if (n != 0 && n % 1000 == 0) return fmt::format("{}s", n / 1000);
  return fmt::format("{}ms", n);
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  const std::string s(text);
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.family = IpAddress::Family::V6;
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::string format_ip(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(a.is_v4() ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<HostPort> parse_host_port(std::string_view text,
                                        std::optional<std::uint16_t> default_port,
                                        std::string* error) {
  auto fail = [&](std::string why) -> std::optional<HostPort> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::string_view host = text;
  std::optional<std::string_view> port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail(fmt::format("missing ']' in '{}'", text));
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(fmt::format("expected ':PORT' after ']' in '{}'", text));
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon)
        return fail(fmt::format("IPv6 addresses need brackets: '[{}]:PORT'", text));
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    }
  }
  HostPort hp;
  if (host.empty() || host == "*") {
    hp.address = IpAddress::v4(0, 0, 0, 0);
  } else if (auto ip = parse_ip(host)) {
    hp.address = *ip;
  } else {
    return fail(fmt::format("'{}' is not an IPv4 or IPv6 address", host));
  }
  if (!port_text) {
    if (!default_port) return fail(fmt::format("expected ADDR:PORT, got '{}'", text));
    hp.port = *default_port;
    return hp;
  }
  if (port_text->empty() || port_text->size() > 5 ||
      !std::all_of(port_text->begin(), port_text->end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return fail(fmt::format("port '{}' is not a number from 0 to 65535", *port_text));
  const auto port = std::stoul(std::string(*port_text));
  if (port > 65535) return fail(fmt::format("port {} is above 65535", port));
  hp.port = static_cast<std::uint16_t>(port);
  return hp;
}

std::string format_host_port(const HostPort& hp) {
  return hp.address.is_v4() ? fmt::format("{}:{}", format_ip(hp.address), hp.port)
                            : fmt::format("[{}]:{}", format_ip(hp.address), hp.port);
}

std::vector<HostPort> registrars_from_env(std::string* error) {
  std::vector<HostPort> out;
  const char* env = std::getenv("RSP_REGISTRAR");
  if (!env) return out;
  std::string_view rest(env);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto item = rest.substr(0, comma);
    if (!item.empty()) {
      std::string why;
      if (auto hp = parse_host_port(item, std::uint16_t{3863}, &why))
        out.push_back(*hp);
      else if (error)
        *error = "RSP_REGISTRAR: " + why;
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

std::optional<std::string> transport_from_env() {
  const char* env = std::getenv("RSP_TRANSPORT");
  if (!env || !*env) return std::nullopt;
  return std::string(env);
}

std::string version_text(std::string_view tool) {
  return fmt::format("{} (rsptools) {}\nReliable Server Pooling: RFC 5351-5356\n", tool,
                     rsp::version());
}

// ---- logging ----

Logger::Logger(std::string tool, LogLevel threshold, LogFormat format)
    : tool_(std::move(tool)), threshold_(threshold), format_(format),
      colour_(::isatty(STDERR_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr) {}

namespace {
std::string_view level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Error: return "error";
    case LogLevel::Warning: return "warning";
    case LogLevel::Info: return "info";
    case LogLevel::Debug: return "debug";
  }
  return "info";
}
std::string_view level_colour(LogLevel l) {
  switch (l) {
    case LogLevel::Error: return "\x1b[31m";
    case LogLevel::Warning: return "\x1b[33m";
    case LogLevel::Info: return "\x1b[32m";
    case LogLevel::Debug: return "\x1b[90m";
  }
  return "";
}
std::string timestamp() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  ::gmtime_r(&ts.tv_sec, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1'000'000);
}
}  // namespace

void Logger::log(LogLevel level, std::string_view event, std::string_view message,
                 const std::vector<std::pair<std::string, std::string>>& fields) const {
  if (!enabled(level)) return;
  std::string line;
  if (format_ == LogFormat::Json) {
    nlohmann::ordered_json j;
    j["ts"] = timestamp();
    j["tool"] = tool_;
    j["level"] = level_name(level);
    j["event"] = event;
    if (!message.empty()) j["message"] = message;
    for (const auto& [k, v] : fields) j[k] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = tool_ + ": ";
    if (colour_) line += level_colour(level);
    line += level_name(level);
    if (colour_) line += "\x1b[0m";
    line += ": ";
    line += event;
    if (!message.empty()) {
      line += ": ";
      line += message;
    }
    for (const auto& [k, v] : fields) line += fmt::format(" {}={}", k, v);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

LogLevel level_from_verbosity(int count) noexcept {
  if (count <= 0) return LogLevel::Warning;
  if (count == 1) return LogLevel::Info;
  return LogLevel::Debug;
}

std::optional<LogFormat> parse_log_format(std::string_view text) noexcept {
  if (text == "text") return LogFormat::Text;
  if (text == "json") return LogFormat::Json;
  return std::nullopt;
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    std::fputs(version_text(app.get_name()).c_str(), stdout);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", app.get_name().c_str(),
                 e.what(), app.get_name().c_str());
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace rsp::tools
