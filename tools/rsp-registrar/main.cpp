// rsp-registrar: the pool registrar (ASAP server, RFC 5352). Options, then the service.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "common.hpp"
#include "rsp/registrar/service.hpp"
#include "rsp/version.hpp"
#include "rsp/wire/codec.hpp"

namespace {

using namespace rsp;
using namespace rsp::tools;
using std::chrono::milliseconds;

// Where the registrar puts its status socket unless told: $RSP_STATUS_SOCKET, the systemd
// unit's RuntimeDirectory, the user's runtime directory, else /run (root) or /tmp.
std::string default_status_socket() {
  if (const char* p = std::getenv("RSP_STATUS_SOCKET"); p && *p) return p;
  struct stat st {};
  if (::geteuid() == 0 && ::stat("/run/rsp-registrar", &st) == 0 && S_ISDIR(st.st_mode))
    return "/run/rsp-registrar/status.sock";
  if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d && *d) return std::string(d) + "/rsp-registrar.sock";
  return ::geteuid() == 0 ? "/run/rsp-registrar.sock" : "/tmp/rsp-registrar.sock";
}

// What `status` asks when not told: the first of the places a registrar may use that exists.
std::string find_status_socket() {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("RSP_STATUS_SOCKET"); p && *p) return p;
  if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d && *d) candidates.push_back(std::string(d) + "/rsp-registrar.sock");
  candidates.insert(candidates.end(), {"/run/rsp-registrar/status.sock", "/run/rsp-registrar.sock",
                                       "/tmp/rsp-registrar.sock"});
  for (const auto& c : candidates)
    if (::access(c.c_str(), F_OK) == 0) return c;
  return default_status_socket();
}

// A CLI11 validator+transform for durations with a unit.
CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string why;
        if (!parse_duration(text, &why)) return why;
        return {};
      },
      "");
}

milliseconds duration_of(const std::string& text) { return *parse_duration(text); }

// --busy-poll takes microseconds too ("50us"); other units as every duration option.
std::optional<std::chrono::microseconds> parse_short_duration(const std::string& text, std::string* why) {
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "us") == 0) {
    const auto number = text.substr(0, text.size() - 2);
    if (number.find_first_not_of("0123456789") != std::string::npos || number.size() > 9) {
      if (why) *why = fmt::format("expected a duration like 50us or 1ms, got '{}'", text);
      return std::nullopt;
    }
    return std::chrono::microseconds(std::stoll(number));
  }
  auto ms = parse_duration(text, why);
  if (!ms) return std::nullopt;
  return std::chrono::microseconds(*ms);
}

CLI::Validator host_port_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string why;
        if (!parse_host_port(text, std::nullopt, &why)) return why;
        return {};
      },
      "");
}

int status_command(const std::string& path, bool json) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "rsp-registrar: socket: %s\n", std::strerror(errno));
    return kExitOsErr;
  }
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    std::fprintf(stderr, "rsp-registrar: status socket path too long: %s\n", path.c_str());
    ::close(fd);
    return kExitUsage;
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::fprintf(stderr, "rsp-registrar: no registrar answers on %s: %s\n", path.c_str(),
                 std::strerror(errno));
    ::close(fd);
    return kExitUnavailable;
  }
  const std::string request = json ? "json\n" : "text\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    std::fprintf(stderr, "rsp-registrar: %s: %s\n", path.c_str(), std::strerror(errno));
    ::close(fd);
    return kExitIoErr;
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      std::fprintf(stderr, "rsp-registrar: reading %s: %s\n", path.c_str(),
                   errno == EAGAIN ? "timed out" : std::strerror(errno));
      ::close(fd);
      return kExitIoErr;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::fwrite(reply.data(), 1, reply.size(), stdout);
  return reply.rfind("error:", 0) == 0 ? kExitSoftware : kExitOk;
}

LogLevel log_level_of(registrar::EventLevel level) {
  switch (level) {
    case registrar::EventLevel::Error: return LogLevel::Error;
    case registrar::EventLevel::Warning: return LogLevel::Warning;
    case registrar::EventLevel::Info: return LogLevel::Info;
    case registrar::EventLevel::Debug: return LogLevel::Debug;
  }
  return LogLevel::Info;
}

int exit_code_of(registrar::ServiceErrc e) {
  switch (e) {
    case registrar::ServiceErrc::InvalidArgument: return kExitUsage;
    case registrar::ServiceErrc::Unavailable: return kExitUnavailable;
    case registrar::ServiceErrc::AddressInUse: return kExitUnavailable;
    case registrar::ServiceErrc::SystemError: return kExitOsErr;
  }
  return kExitSoftware;
}

int run(int argc, char** argv) {
  CLI::App app{"rsp-registrar: the pool registrar (ASAP server side, RFC 5352)", "rsp-registrar"};
  app.set_version_flag("--version", std::string(rsp::version()));
  app.get_formatter()->column_width(38);

  std::vector<std::string> listen;
  std::string announce = "239.0.0.50:3863";
  bool no_announce = false;
  int announce_ttl = 1;
  std::vector<std::string> announce_interfaces;
  std::string transport = transport_from_env().value_or("auto");
  std::string id_text;
  bool fast = false;
  std::string keepalive_interval, keepalive_timeout, max_life, announce_interval;
  std::uint32_t max_bad_pe_reports = 3;
  registrar::Config defaults;
  std::size_t max_pools = defaults.limits.max_pools;
  std::size_t max_pes = defaults.limits.max_elements;
  std::size_t max_pes_per_pool = defaults.limits.max_elements_per_pool;
  std::size_t max_pes_per_association = defaults.limits.max_elements_per_association;
  double max_resolution_rate = 0, max_unreachable_rate = 0;
  std::size_t resolution_items = defaults.handle_resolution_items;
  std::size_t max_resolution_items = defaults.max_handle_resolution_items;
  bool no_address_check = false;
  std::string min_scope;
  std::string status_socket;
  bool no_status_socket = false;
  std::string busy_poll;
  int verbosity = 0;
  std::string log_format = "text";

  app.add_option("-l,--listen", listen, "SCTP address to listen on (repeatable; default *:3863)")
      ->type_name("ADDR:PORT")->check(host_port_validator());
  auto* announce_opt = app.add_option("--announce", announce,
                                      "SERVER_ANNOUNCE destination, multicast or unicast")
                           ->type_name("ADDR:PORT")->check(host_port_validator())
                           ->capture_default_str();
  app.add_flag("--no-announce", no_announce, "Send no SERVER_ANNOUNCE")->excludes(announce_opt);
  app.add_option("--announce-ttl", announce_ttl, "Multicast hops of announces")
      ->check(CLI::Range(1, 255))->capture_default_str();
  app.add_option("--announce-interface", announce_interfaces,
                 "Interface for multicast announces (repeatable; default: those of the "
                 "--listen addresses, all multicast-capable ones for the wildcard)")
      ->type_name("IFNAME");
  app.add_option("--announce-interval", announce_interval, "SERVER_ANNOUNCE cycle (default 1s)")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("-t,--transport", transport, "SCTP implementation: kernel, udp (usrsctp) or auto")
      ->check(CLI::IsMember({"kernel", "udp", "usrsctp", "auto"}))->capture_default_str();
  app.add_option("--id", id_text, "Registrar id, non-zero 32-bit (default: random)")
      ->type_name("ID");
  app.add_flag("--fast", fast, "RSPLIB's test timers: keep-alive 1s/1s, announce 250ms");
  app.add_option("--keepalive-interval", keepalive_interval,
                 "ENDPOINT_KEEP_ALIVE period per PE, 0 disables (default 5s)")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("--keepalive-timeout", keepalive_timeout,
                 "Time for the ENDPOINT_KEEP_ALIVE_ACK (default 5s)")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("--max-registration-life", max_life,
                 "Upper bound of a PE's registration life, 0 = as asked (default 0)")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("--max-bad-pe-reports", max_bad_pe_reports,
                 "ENDPOINT_UNREACHABLE reports that remove a PE (MAX-BAD-PE-REPORT)")
      ->check(CLI::Range(1u, 1'000'000u))->capture_default_str();
  app.add_option("--max-pools", max_pools, "Pools in the handlespace")->capture_default_str();
  app.add_option("--max-pes", max_pes, "Pool elements in the handlespace")->capture_default_str();
  app.add_option("--max-pes-per-pool", max_pes_per_pool, "Pool elements per pool")
      ->capture_default_str();
  app.add_option("--max-pes-per-association", max_pes_per_association,
                 "Pool elements one association may register")->capture_default_str();
  app.add_option("--max-resolution-rate", max_resolution_rate,
                 "Handle resolutions per second per association, 0 = unlimited")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--max-unreachable-rate", max_unreachable_rate,
                 "Unreachable reports per second per association, 0 = unlimited")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--resolution-items", resolution_items,
                 "PEs per handle resolution when the PU does not say")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))->capture_default_str();
  app.add_option("--max-resolution-items", max_resolution_items,
                 "Most PEs one handle resolution returns")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))->capture_default_str();
  app.add_flag("--no-address-check", no_address_check,
               "Accept PE addresses the association cannot vouch for (NAT, tests)");
  app.add_option("--min-address-scope", min_scope,
                 "Narrowest PE address accepted (default: loopback when listening on loopback, "
                 "else site-local)")
      ->check(CLI::IsMember({"loopback", "link-local", "site-local", "global"}));
  app.add_option("--busy-poll", busy_poll,
                 "Keep reading the socket this long after a wake-up before sleeping, "
                 "usrsctp backend (e.g. 50us; default 0 = off)")
      ->type_name("DURATION")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            std::string why;
            const auto duration = parse_short_duration(text, &why);
            if (!duration) return why;
            if (*duration > std::chrono::seconds(1)) return "--busy-poll: at most 1s";
            return {};
          },
          ""));
  auto* status_opt = app.add_option("--status-socket", status_socket,
                                    "Unix socket for 'rsp-registrar status' (default "
                                    "$XDG_RUNTIME_DIR/rsp-registrar.sock or /run/...)")
                         ->type_name("PATH");
  app.add_flag("--no-status-socket", no_status_socket, "Open no status socket")->excludes(status_opt);
  app.add_flag("-v,--verbose", verbosity, "More diagnostics on stderr (repeatable)");
  app.add_option("--log-format", log_format, "Diagnostics as text or JSON lines")
      ->check(CLI::IsMember({"text", "json"}))->capture_default_str();

  auto* status_cmd = app.add_subcommand("status", "Print a running registrar's handlespace and counters");
  bool status_json = false;
  std::string status_path;
  status_cmd->add_flag("--json", status_json, "JSON instead of text");
  status_cmd->add_option("--status-socket", status_path, "The registrar's status socket")
      ->type_name("PATH");

  if (auto code = parse_command_line(app, argc, argv)) return *code;

  if (status_cmd->parsed()) return status_command(status_path.empty() ? find_status_socket() : status_path, status_json);

  Logger log("rsp-registrar", level_from_verbosity(verbosity), *parse_log_format(log_format));
  auto usage = [&](const std::string& message) {
    std::fprintf(stderr, "rsp-registrar: %s\nTry 'rsp-registrar --help' for more information.\n",
                 message.c_str());
    return kExitUsage;
  };

  registrar::ServiceOptions options;
  auto& config = options.config;
  if (fast) config.timers = registrar::fast_timers();
  if (!keepalive_interval.empty()) config.timers.keepalive_interval = duration_of(keepalive_interval);
  if (!keepalive_timeout.empty()) config.timers.keepalive_timeout = duration_of(keepalive_timeout);
  if (!max_life.empty()) config.timers.max_registration_life = duration_of(max_life);
  if (!announce_interval.empty()) config.timers.announce_interval = duration_of(announce_interval);
  if (config.timers.keepalive_interval.count() > 0 && config.timers.keepalive_timeout.count() == 0)
    return usage("--keepalive-timeout must be above 0 while keep-alives are on");
  if (config.timers.announce_interval.count() == 0 && !no_announce)
    return usage("--announce-interval must be above 0 (or use --no-announce)");
  config.max_bad_pe_reports = max_bad_pe_reports;
  config.limits.max_pools = max_pools;
  config.limits.max_elements = max_pes;
  config.limits.max_elements_per_pool = max_pes_per_pool;
  config.limits.max_elements_per_association = max_pes_per_association;
  config.limits.max_handle_resolution_rate = max_resolution_rate;
  config.limits.max_unreachable_rate = max_unreachable_rate;
  config.handle_resolution_items = resolution_items;
  config.max_handle_resolution_items = std::max(max_resolution_items, resolution_items);
  config.verify_addresses = !no_address_check;
  if (!busy_poll.empty()) options.busy_poll = *parse_short_duration(busy_poll, nullptr);

  if (!id_text.empty()) {
    char* end = nullptr;
    errno = 0;
    const auto v = std::strtoull(id_text.c_str(), &end, 0);
    if (errno || *end || v == 0 || v > 0xffffffffull)
      return usage(fmt::format("--id: expected a non-zero 32-bit number, got '{}'", id_text));
    config.id = static_cast<RegistrarId>(v);
  } else {
    config.id = registrar::random_registrar_id();
  }

  bool loopback_listener = false;
  for (const auto& l : listen) {
    auto hp = *parse_host_port(l);
    options.listen.push_back(registrar::SocketAddress{hp.address, hp.port});
    if (registrar::scope_of(hp.address) == registrar::AddressScope::Loopback) loopback_listener = true;
  }
  // RSPLIB's minimum scope (site-local) unless the registrar itself is only reachable on
  // loopback, where loopback PEs are the only ones there can be.
  config.min_address_scope = loopback_listener ? registrar::AddressScope::Loopback
                                               : registrar::AddressScope::SiteLocal;
  if (!min_scope.empty()) config.min_address_scope = *registrar::parse_address_scope(min_scope);

  if (no_announce) {
    options.announce.reset();
  } else {
    auto hp = *parse_host_port(announce);
    options.announce = registrar::SocketAddress{hp.address, hp.port};
  }
  options.announce_ttl = announce_ttl;
  options.announce_interfaces = announce_interfaces;
  const auto backend = transport::parse_backend(transport == "usrsctp" ? "udp" : transport);
  options.backend = backend.value_or(transport::Backend::Automatic);
  const bool default_socket = status_socket.empty() && !no_status_socket;
  if (!no_status_socket) options.status_socket = default_socket ? default_status_socket() : status_socket;

  options.on_event = [&log](const registrar::Event& e) {
    const auto level = log_level_of(e.level);
    if (!log.enabled(level)) return;
    std::vector<std::pair<std::string, std::string>> fields;
    if (e.pool) fields.emplace_back("pool", std::string(e.pool->view()));
    if (e.pe_id) fields.emplace_back("pe", fmt::format("0x{:08x}", *e.pe_id));
    if (e.association) fields.emplace_back("assoc", fmt::format("{}", e.association));
    if (e.cause) fields.emplace_back("cause", std::string(wire::to_string(*e.cause)));
    log.log(level, e.kind, e.detail, fields);
  };

  boost::asio::io_context io;
  auto started = registrar::Service::start(io, options);
  if (!started && default_socket && started.error().code != registrar::ServiceErrc::Unavailable &&
      started.error().message.rfind("status socket", 0) == 0) {
    // The default status socket is a convenience: without it the registrar still serves.
    log.log(LogLevel::Warning, "status-socket", started.error().message + " (continuing without)");
    options.status_socket.clear();
    started = registrar::Service::start(io, options);
  }
  if (!started) {
    log.error(started.error().message);
    return exit_code_of(started.error().code);
  }
  auto& service = **started;
  log.log(LogLevel::Info, "started",
          fmt::format("registrar 0x{:08x}, transport backend {}", service.id(),
                      transport::to_string(service.backend())),
          {{"backend", std::string(transport::to_string(service.backend()))}});
  for (const auto& l : service.listening())
    log.log(LogLevel::Info, "listening", format_host_port({l.address, l.port}));
  if (options.announce) {
    std::string on;
    for (const auto& name : service.announce_interfaces())
      if (!name.empty()) on += (on.empty() ? " on " : ", ") + name;
    log.log(LogLevel::Info, "announcing",
            format_host_port({options.announce->address, options.announce->port}) + on);
  }
  if (!options.status_socket.empty()) log.log(LogLevel::Info, "status-socket", options.status_socket);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  int stopped_by = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    stopped_by = signal;
    service.stop();
    io.stop();
  });
  io.run();
  log.log(LogLevel::Info, "stopped", fmt::format("signal {}", stopped_by == SIGINT ? "SIGINT" : "SIGTERM"));
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rsp-registrar: internal error: %s\n", e.what());
    return rsp::tools::kExitSoftware;
  }
}
