// Shared pieces of the pool tools; see pool_tool.hpp.
#include "pool_tool.hpp"

#include <sys/select.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "rsp/handlespace/policy.hpp"

namespace rsp::tools {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

struct ShortName {
  std::string_view alias;
  PolicyType type;
};
// Short forms (RSPLIB's abbreviations, lower case).
constexpr std::array<ShortName, 16> kShort{{
    {"rr", PolicyType::RoundRobin},
    {"wrr", PolicyType::WeightedRoundRobin},
    {"rand", PolicyType::Random},
    {"wrand", PolicyType::WeightedRandom},
    {"prio", PolicyType::Priority},
    {"lu", PolicyType::LeastUsed},
    {"lud", PolicyType::LeastUsedWithDegradation},
    {"plu", PolicyType::PriorityLeastUsed},
    {"rlu", PolicyType::RandomizedLeastUsed},
    {"rplu", PolicyType::RandomizedPriorityLeastUsed},
    {"rlud", PolicyType::RandomizedLeastUsedDegradation},
    {"plud", PolicyType::PriorityLeastUsedDegradation},
    {"rplud", PolicyType::RandomizedPriorityLeastUsedDegradation},
    {"wranddpf", PolicyType::WeightedRandomDpf},
    {"ludpf", PolicyType::LeastUsedDpf},
    {"luddpf", PolicyType::LeastUsedDegradationDpf},
}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<PolicyType> policy_type_from(std::string_view name) {
  const std::string l = lower(name);
  for (const auto& s : kShort) {
    if (s.alias == l) return s.type;
    if (lower(handlespace::policy_name(s.type)) == l) return s.type;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> parse_u32(std::string_view text) {
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool uses_weight(PolicyType t) {
  return t == PolicyType::WeightedRoundRobin || t == PolicyType::WeightedRandom ||
         t == PolicyType::WeightedRandomDpf;
}
bool uses_priority(PolicyType t) { return t == PolicyType::Priority; }

}  // namespace

std::optional<std::uint32_t> parse_load(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  const std::string_view rest(end);
  if (end == s.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  if (rest == "%") v /= 100.0;
  else if (!rest.empty()) return std::nullopt;
  else if (v > 1.0) {  // a raw 32-bit value
    if (v != std::floor(v) || v > kPolicyLoadMax) return std::nullopt;
    return static_cast<std::uint32_t>(v);
  }
  if (v > 1.0) return std::nullopt;
  return static_cast<std::uint32_t>(std::llround(v * kPolicyLoadMax));
}

double load_fraction(std::uint32_t load) { return static_cast<double>(load) / kPolicyLoadMax; }

std::optional<PolicyArg> parse_policy(std::string_view text, std::string* error) {
  const auto colon = text.find(':');
  const auto name = text.substr(0, colon);
  const auto type = policy_type_from(name);
  if (!type) {
    if (error) *error = "unknown policy '" + std::string(name) + "' (expected e.g. rr, wrr:3, lu, prio:1; see --help)";
    return std::nullopt;
  }
  PolicyArg arg;
  arg.policy.type = *type;
  if (uses_weight(*type)) arg.policy.weight = 1;
  if (colon == std::string_view::npos) return arg;
  const auto value = text.substr(colon + 1);
  arg.has_value = true;
  if (uses_weight(*type) || uses_priority(*type)) {
    auto v = parse_u32(value);
    if (!v || (uses_weight(*type) && *v == 0)) {
      if (error) *error = "bad value '" + std::string(value) + "' for policy " + std::string(handlespace::policy_name(*type)) +
                          " (expected a " + (uses_weight(*type) ? "weight >= 1" : "priority 0..4294967295") + ")";
      return std::nullopt;
    }
    (uses_weight(*type) ? arg.policy.weight : arg.policy.priority) = *v;
    return arg;
  }
  if (handlespace::selection_method(*type) != handlespace::SelectionMethod::RoundRobin &&
      *type != PolicyType::Random) {
    auto v = parse_load(value);
    if (!v) {
      if (error) *error = "bad load '" + std::string(value) + "' for policy " + std::string(handlespace::policy_name(*type)) +
                          " (expected 0..1 or a percentage like 25%)";
      return std::nullopt;
    }
    arg.policy.load = *v;
    return arg;
  }
  if (error) *error = "policy " + std::string(handlespace::policy_name(*type)) + " takes no value";
  return std::nullopt;
}

std::string format_policy(const PolicyInfo& p) {
  std::string out(handlespace::policy_name(p.type));
  if (uses_weight(p.type)) return out + ":" + std::to_string(p.weight);
  if (uses_priority(p.type)) return out + ":" + std::to_string(p.priority);
  if (p.type == PolicyType::RoundRobin || p.type == PolicyType::Random) return out;
  char buf[32];
  std::snprintf(buf, sizeof buf, ":%.4g", load_fraction(p.load));
  return out + buf;
}

std::vector<std::string> policy_names() {
  std::vector<std::string> out;
  for (const auto& s : kShort) out.emplace_back(s.alias);
  for (const auto& s : kShort) out.emplace_back(handlespace::policy_name(s.type));
  return out;
}

std::string_view protocol_name(TransportProtocol p) {
  switch (p) {
    case TransportProtocol::Sctp: return "sctp";
    case TransportProtocol::Tcp: return "tcp";
    case TransportProtocol::Udp: return "udp";
    case TransportProtocol::UdpLite: return "udplite";
    case TransportProtocol::Dccp: return "dccp";
  }
  return "unknown";
}

std::string format_addresses(const TransportAddress& t) {
  std::string out;
  for (const auto& a : t.addresses) {
    if (!out.empty()) out += ",";
    out += a.is_v4() ? asap::format_ip_address(a) : "[" + asap::format_ip_address(a) + "]";
  }
  if (out.empty()) out = "*";
  return out + ":" + std::to_string(t.port);
}

std::string format_id(std::uint32_t id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", id);
  return buf;
}

bool write_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      fd_set set;
      FD_ZERO(&set);
      FD_SET(fd, &set);
      ::select(fd + 1, nullptr, &set, nullptr, nullptr);
      continue;
    }
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<ListenAddress> parse_listen(std::string_view text, std::string* error) {
  ListenAddress out;
  if (text.empty()) return out;
  std::string_view host = text;
  std::string_view port;
  const auto colon = text.rfind(':');
  const bool bracketed = text.front() == '[';
  if (colon != std::string_view::npos && (bracketed ? text[colon - 1] == ']' : text.find(':') == colon)) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (!port.empty()) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc{} || end != port.data() + port.size() || v > 65535) {
      if (error) *error = "bad port in '" + std::string(text) + "' (expected 0..65535)";
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(v);
  }
  if (!host.empty() && host != "*") {
    auto parsed = asap::parse_transport_address(host);
    if (!parsed) {
      if (error) *error = parsed.error().message;
      return std::nullopt;
    }
    out.addresses.assign(parsed->addresses.begin(), parsed->addresses.end());
  }
  return out;
}

CLI::Validator listen_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        std::string error;
        return parse_listen(s, &error) ? std::string() : error;
      },
      "", "listen address");
}

// ---- Log ----

void Log::error(std::string_view text) const {
  std::string line = program_ + ": " + std::string(text) + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}
void Log::info(std::string_view text) const {
  if (verbosity_ >= 1) error(text);
}
void Log::debug(std::string_view text) const {
  if (verbosity_ >= 2) error(text);
}
void Log::status(std::string_view text) const {
  if (::isatty(STDERR_FILENO) == 1) error(text);
}

// ---- options ----

std::optional<int> parse_arguments(CLI::App& app, int argc, char** argv, const Log& log) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return exit_code::ok;
  } catch (const CLI::CallForVersion&) {
    std::fputs(version_text(app.get_name()).c_str(), stdout);
    return exit_code::ok;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    log.error(what + " (see --help)");
    return exit_code::usage;
  }
  return std::nullopt;
}

std::optional<int> parse_client_arguments(CLI::App& app, int argc, char** argv, ClientOptions& client,
                                          Log& log) {
  if (auto rc = parse_arguments(app, argc, argv, log)) return rc;
  log.set_verbosity(client.verbose);
  if (!finish_client_options(client, log)) return exit_code::usage;
  return std::nullopt;
}

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        std::string error;
        return parse_duration(s, &error) ? std::string() : error;
      },
      "", "duration");
}

CLI::Validator policy_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        std::string error;
        return parse_policy(s, &error) ? std::string() : error;
      },
      "", "policy");
}

void add_client_options(CLI::App& app, ClientOptions& o, std::string_view timeout_help) {
  app.add_option("-r,--registrar", o.registrars,
                 "Registrar ADDR:PORT to use (repeatable; default $RSP_REGISTRAR, else SERVER_ANNOUNCE discovery)")
      ->type_name("ADDR:PORT")
      ->allow_extra_args(false);
  app.add_option("-t,--transport", o.transport, "SCTP backend: kernel, udp (usrsctp over UDP) or auto (default $RSP_TRANSPORT)")
      ->type_name("kernel|udp|auto")
      ->check(CLI::IsMember({"kernel", "udp", "usrsctp", "auto", "automatic"}))->type_name("kernel|udp|auto");
  app.add_option("-w,--timeout", o.timeout_text, std::string(timeout_help))->check(duration_validator())->type_name("DURATION");
  app.add_flag("-v,--verbose", o.verbose, "More diagnostics on stderr (repeatable)");
}

bool finish_client_options(ClientOptions& o, const Log& log) {
  if (!o.timeout_text.empty()) {
    o.timeout = parse_duration(o.timeout_text);
    if (!o.timeout) {
      log.error("bad --timeout '" + o.timeout_text + "'");
      return false;
    }
  }
  for (const auto& r : o.registrars) {
    if (auto parsed = asap::parse_registrar_list(r); !parsed) {
      log.error(parsed.error().message);
      return false;
    }
  }
  return true;
}

std::optional<asap::ContextOptions> make_context_options(const ClientOptions& o, milliseconds patience,
                                                         const Log& log) {
  asap::ContextOptions c;
  c.config = asap::default_config();
  for (const auto& r : o.registrars) {
    auto parsed = asap::parse_registrar_list(r);
    if (!parsed) {
      log.error(parsed.error().message);
      return std::nullopt;
    }
    for (auto& t : *parsed) c.config.source.registrars.push_back(std::move(t));
  }
  if (const char* env = std::getenv("RSP_REGISTRAR"); c.config.source.registrars.empty() && env && *env) {
    auto parsed = asap::parse_registrar_list(env);
    if (!parsed) {
      log.error("RSP_REGISTRAR: " + parsed.error().message);
      return std::nullopt;
    }
  }
  if (!o.transport.empty()) {
    const std::string t = o.transport == "automatic" ? "auto" : o.transport;
    auto backend = transport::parse_backend(t);
    if (!backend) {
      log.error("unknown transport '" + o.transport + "' (expected kernel, udp or auto)");
      return std::nullopt;
    }
    c.config.backend = *backend;
  }
  // An unreachable registrar must be reported within `patience`: two hunt rounds of a third
  // of it each, plus the pause between them.
  auto& t = c.config.timers;
  const auto half = std::max(milliseconds(200), patience / 3);
  t.server_hunt_timeout = std::min(t.server_hunt_timeout, half);
  t.server_hunt_retry_delay = std::min(t.server_hunt_retry_delay, milliseconds(200));
  t.server_hunt_rounds = 2;
  t.request_timeout = std::min(t.request_timeout, half);
  t.registration_timeout = std::min(t.registration_timeout, std::max(patience, milliseconds(1000)));
  t.deregistration_timeout = std::min(t.deregistration_timeout, milliseconds(2000));
  t.max_request_retransmit = 1;
  return c;
}

int exit_code_for(asap::AsapErrc code) {
  using asap::AsapErrc;
  switch (code) {
    case AsapErrc::NoRegistrar:
    case AsapErrc::WouldBlock: return exit_code::temp_fail;
    case AsapErrc::Timeout: return exit_code::timeout;
    case AsapErrc::PoolNotFound: return exit_code::no_pool;
    case AsapErrc::PoolEmpty: return exit_code::unavailable;
    case AsapErrc::RegistrationRejected: return exit_code::protocol;
    case AsapErrc::TransportError: return exit_code::os_error;
    case AsapErrc::InvalidArgument: return exit_code::usage;
    case AsapErrc::FailoverExhausted: return exit_code::failover_exhausted;
    case AsapErrc::FailoverNotAllowed: return exit_code::undelivered;
    case AsapErrc::NoSuchSession:
    case AsapErrc::NotRegistered:
    case AsapErrc::Closed:
    case AsapErrc::ProtocolError: return exit_code::software;
  }
  return exit_code::software;
}

std::string describe(const asap::AsapError& error) {
  std::string out(asap::to_string(error.code));
  if (!error.message.empty()) out += ": " + error.message;
  return out;
}

std::optional<std::string> describe_pool_failure(const asap::AsapError& error, std::string_view pool) {
  using asap::AsapErrc;
  switch (error.code) {
    case AsapErrc::PoolNotFound: return fmt::format("pool '{}' not found", pool);
    case AsapErrc::PoolEmpty: return fmt::format("pool '{}' has no pool elements", pool);
    case AsapErrc::NoRegistrar: return error.message.empty() ? "no registrar answered" : error.message;
    default: return std::nullopt;
  }
}

// ---- Runner ----

struct Runner::Impl {
  explicit Impl(asio::io_context& i) : io(i) {}
  asio::io_context& io;
  asio::signal_set terminate{io, SIGINT, SIGTERM};
  asio::signal_set reload{io, SIGHUP, SIGUSR1};
  asio::signal_set child{io, SIGCHLD};
  asio::steady_timer deadline{io};
  std::function<void(int)> on_terminate, on_reload;
  std::function<void()> on_child;
  bool terminating = false;
  std::optional<int> result;

  void wait_terminate() {
    terminate.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (terminating || !on_terminate) {
        finish(128 + sig);
        return;
      }
      terminating = true;
      on_terminate(sig);
      wait_terminate();
    });
  }
  void wait_reload() {
    reload.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (on_reload) on_reload(sig);
      wait_reload();
    });
  }
  void wait_child() {
    child.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (on_child) on_child();
      wait_child();
    });
  }
  void finish(int code) {
    if (!result) result = code;
    io.stop();
  }
};

Runner::Runner(asio::io_context& io) : impl_(std::make_unique<Impl>(io)) {
  impl_->wait_terminate();
}
Runner::~Runner() = default;
void Runner::on_terminate(std::function<void(int)> handler) { impl_->on_terminate = std::move(handler); }
void Runner::on_reload(std::function<void(int)> handler) {
  impl_->on_reload = std::move(handler);
  impl_->wait_reload();
}
void Runner::on_child(std::function<void()> handler) {
  impl_->on_child = std::move(handler);
  impl_->wait_child();
}
void Runner::deadline(milliseconds after, std::function<void()> handler) {
  impl_->deadline.expires_after(after);
  impl_->deadline.async_wait([h = std::move(handler)](const boost::system::error_code& ec) {
    if (!ec) h();
  });
}
void Runner::cancel_deadline() { impl_->deadline.cancel(); }
int Runner::run() {
  impl_->io.run();
  return impl_->result.value_or(exit_code::ok);
}
void Runner::finish(int code) { impl_->finish(code); }
bool Runner::finished() const { return impl_->result.has_value(); }

struct ToolTimer::Impl {
  explicit Impl(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
};
ToolTimer::ToolTimer(asio::io_context& io) : impl_(std::make_unique<Impl>(io)) {}
ToolTimer::~ToolTimer() = default;
void ToolTimer::start(milliseconds after, std::function<void()> handler) {
  impl_->timer.expires_after(after);
  impl_->timer.async_wait([h = std::move(handler)](const boost::system::error_code& ec) {
    if (!ec) h();
  });
}
void ToolTimer::cancel() { impl_->timer.cancel(); }

}  // namespace rsp::tools
