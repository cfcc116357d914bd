// rsp-resolve POOL: handle resolution (RFC 5352 §3.3-3.4) from the command line, like dig for
// pools: a table, JSON or --format lines; --watch for changes; --dump for a registrar's
// whole handlespace (its status socket).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "pool_tool.hpp"
#include "rsp/handlespace/policy.hpp"

namespace {

using namespace rsp;
using namespace rsp::tools;
using std::chrono::milliseconds;

struct Options {
  std::string pool;
  ClientOptions client;
  std::uint32_t count = 0;
  bool all = false;
  bool json = false;
  std::string format;
  bool watch = false;
  std::string interval = "1s";
  std::uint32_t wait_count = 0;
  std::string wait_registrar;
  bool dump = false;
  std::string status_socket;
};

nlohmann::ordered_json transport_json(const TransportAddress& t) {
  nlohmann::ordered_json j;
  j["protocol"] = protocol_name(t.protocol);
  auto addresses = nlohmann::ordered_json::array();
  for (const auto& a : t.addresses) addresses.push_back(asap::format_ip_address(a));
  j["addresses"] = addresses;
  j["port"] = t.port;
  if (t.protocol == TransportProtocol::Sctp || t.protocol == TransportProtocol::Tcp) {
    j["use"] = t.use == TransportUse::DataPlusControl ? "data+control" : "data";
  }
  return j;
}

nlohmann::ordered_json element_json(const std::string& pool, const wire::PoolElement& pe) {
  nlohmann::ordered_json j;
  j["pool"] = pool;
  j["id"] = pe.id;
  j["id_hex"] = format_id(pe.id);
  j["home_registrar"] = pe.home_registrar_id;
  j["home_registrar_hex"] = format_id(pe.home_registrar_id);
  j["transport"] = transport_json(pe.user_transport);
  nlohmann::ordered_json p;
  p["name"] = handlespace::policy_name(pe.policy.type);
  p["type"] = static_cast<std::uint32_t>(pe.policy.type);
  p["weight"] = pe.policy.weight;
  p["priority"] = pe.policy.priority;
  p["load"] = load_fraction(pe.policy.load);
  p["load_degradation"] = load_fraction(pe.policy.load_degradation);
  j["policy"] = p;
  j["registration_life_ms"] = pe.registration_life.count();
  j["asap_transport"] = pe.asap_transport ? transport_json(*pe.asap_transport) : nlohmann::ordered_json();
  return j;
}

// --format: {id} {id_hex} {pool} {protocol} {addresses} {address} {port} {transport} {policy}
// {weight} {priority} {load} {home} {life}, and \t \n.
std::string format_element(const std::string& fmt, const std::string& pool, const wire::PoolElement& pe) {
  const auto& t = pe.user_transport;
  std::map<std::string, std::string> f{
      {"id", std::to_string(pe.id)}, {"id_hex", format_id(pe.id)}, {"pool", pool},
      {"protocol", std::string(protocol_name(t.protocol))},
      {"address", t.addresses.empty() ? "*" : asap::format_ip_address(t.addresses[0])},
      {"port", std::to_string(t.port)}, {"transport", format_addresses(t)},
      {"policy", format_policy(pe.policy)}, {"weight", std::to_string(pe.policy.weight)},
      {"priority", std::to_string(pe.policy.priority)},
      {"load", std::to_string(load_fraction(pe.policy.load))}, {"home", format_id(pe.home_registrar_id)},
      {"life", std::to_string(pe.registration_life.count()) + "ms"}};
  std::string addresses;
  for (const auto& a : t.addresses) addresses += (addresses.empty() ? "" : ",") + asap::format_ip_address(a);
  f["addresses"] = addresses;
  std::string out;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] == '\\' && i + 1 < fmt.size()) {
      const char c = fmt[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else if (fmt[i] == '{') {
      const auto close = fmt.find('}', i);
      const auto it = close == std::string::npos ? f.end() : f.find(fmt.substr(i + 1, close - i - 1));
      if (it == f.end()) {
        out += fmt[i];
        continue;
      }
      out += it->second;
      i = close;
    } else {
      out += fmt[i];
    }
  }
  return out;
}

std::string table(const std::string& pool, const std::vector<wire::PoolElement>& elements) {
  std::string out = fmt::format("{:<10}  {:<5}  {:<28}  {:<24}  {:<10}  {}\n", "ID", "PROTO", "ADDRESS",
                                "POLICY", "HOME", "LIFE");
  for (const auto& pe : elements) {
    out += fmt::format("{:<10}  {:<5}  {:<28}  {:<24}  {:<10}  {}\n", format_id(pe.id), protocol_name(pe.user_transport.protocol),
                       format_addresses(pe.user_transport), format_policy(pe.policy), format_id(pe.home_registrar_id),
                       format_duration(pe.registration_life));
  }
  (void)pool;
  return out;
}

bool write_stdout(const std::string& text) {
  std::cout << text << std::flush;
  return static_cast<bool>(std::cout);
}

// --dump: the registrar's status socket ("json\n" or "text\n" request, reply until EOF).
int dump(const Options& o, const Log& log) {
  std::string path = o.status_socket;
  if (path.empty()) {
    if (const char* p = std::getenv("RSP_STATUS_SOCKET"); p && *p) path = p;
    else if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d && *d) path = std::string(d) + "/rsp-registrar.sock";
    else path = ::geteuid() == 0 ? "/run/rsp-registrar.sock" : "/tmp/rsp-registrar.sock";
  }
  const auto wait = o.wait_registrar.empty() ? milliseconds(0) : *parse_duration(o.wait_registrar);
  const auto until = std::chrono::steady_clock::now() + wait;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    log.error("status socket path too long: " + path);
    return exit_code::usage;
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  int fd = -1;
  for (;;) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return log.error(std::string("socket: ") + std::strerror(errno)), exit_code::os_error;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) break;
    const int err = errno;
    ::close(fd);
    if (std::chrono::steady_clock::now() >= until) {
      log.error("no registrar answers on status socket " + path + ": " + std::strerror(err));
      return exit_code::temp_fail;
    }
    ::usleep(50'000);  // bounded by --wait-registrar
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string request = o.json ? "json\n" : "text\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    log.error(path + ": " + std::strerror(errno));
    ::close(fd);
    return exit_code::io_error;
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      log.error("reading " + path + ": " + (errno == EAGAIN ? std::string("timed out") : std::strerror(errno)));
      ::close(fd);
      return exit_code::io_error;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!write_stdout(reply)) return exit_code::io_error;
  return reply.rfind("error:", 0) == 0 ? exit_code::software : exit_code::ok;
}

class Resolver {
 public:
  Resolver(boost::asio::io_context& io, asap::PoolUser& pu, Runner& runner, const Options& o, const Log& log)
      : pu_(pu), runner_(runner), o_(o), log_(log), timer_(io) {}

  void start() {
    if (!o_.wait_registrar.empty()) registrar_until_ = std::chrono::steady_clock::now() + *parse_duration(o_.wait_registrar);
    resolve();
  }

 private:
  asap::ResolveOptions resolve_options() const {
    asap::ResolveOptions r;
    r.items = o_.all ? 0xffffffffu : o_.count;
    r.bypass_cache = true;
    return r;
  }

  void resolve() {
    pu_.resolve(PoolHandle(o_.pool), resolve_options(), [this](asap::AsapResult<asap::Resolution> r) { on_result(std::move(r)); });
  }

  void again(milliseconds after) {
    timer_.start(after, [this] { resolve(); });
  }

  void on_result(asap::AsapResult<asap::Resolution> r) {
    if (!r && r.error().code == asap::AsapErrc::NoRegistrar && registrar_until_ &&
        std::chrono::steady_clock::now() < *registrar_until_) {
      log_.status("waiting for a registrar");
      return again(milliseconds(100));
    }
    registrar_until_.reset();  // a registrar answered: --wait-registrar is satisfied
    std::vector<wire::PoolElement> elements;
    if (r) elements = r->elements;
    if (!r && r.error().code != asap::AsapErrc::PoolNotFound && r.error().code != asap::AsapErrc::PoolEmpty) {
      log_.error("cannot resolve '" + o_.pool + "': " + describe(r.error()));
      return runner_.finish(exit_code_for(r.error().code));
    }
    if (o_.watch) return watch(elements, r ? std::nullopt : std::optional(r.error().code));
    if (o_.wait_count != 0 && elements.size() < o_.wait_count) {
      log_.status(fmt::format("'{}' has {} of {} pool elements; waiting", o_.pool, elements.size(), o_.wait_count));
      return again(milliseconds(100));
    }
    if (!r) {  // PoolNotFound or PoolEmpty
      log_.error(*describe_pool_failure(r.error(), o_.pool));
      return runner_.finish(exit_code_for(r.error().code));
    }
    if (o_.count != 0 && elements.size() > o_.count) elements.resize(o_.count);
    std::string out;
    if (o_.json) {
      auto a = nlohmann::ordered_json::array();
      for (const auto& pe : elements) a.push_back(element_json(o_.pool, pe));
      out = a.dump() + "\n";
    } else if (!o_.format.empty()) {
      for (const auto& pe : elements) out += format_element(o_.format, o_.pool, pe) + "\n";
    } else {
      out = table(o_.pool, elements);
    }
    runner_.finish(write_stdout(out) ? exit_code::ok : exit_code::io_error);
  }

  // --watch: print what changed since the previous resolution.
  void watch(const std::vector<wire::PoolElement>& elements, std::optional<asap::AsapErrc>) {
    std::map<PoolElementId, wire::PoolElement> now;
    for (const auto& pe : elements) now.emplace(pe.id, pe);
    std::string out;
    auto line = [&](std::string_view event, const wire::PoolElement& pe) {
      if (o_.json) {
        nlohmann::ordered_json j;
        j["event"] = event;
        j["time_ms"] = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        j["element"] = element_json(o_.pool, pe);
        out += j.dump() + "\n";
      } else if (!o_.format.empty()) {
        out += std::string(event == "added" ? "+" : event == "removed" ? "-" : "~") + " " + format_element(o_.format, o_.pool, pe) + "\n";
      } else {
        out += fmt::format("{} {}  {}  {}  {}\n", event == "added" ? "+" : event == "removed" ? "-" : "~", format_id(pe.id),
                           protocol_name(pe.user_transport.protocol), format_addresses(pe.user_transport), format_policy(pe.policy));
      }
    };
    for (const auto& [id, pe] : now) {
      auto it = seen_.find(id);
      if (it == seen_.end()) line("added", pe);
      else if (!(it->second.user_transport == pe.user_transport) || !(it->second.policy == pe.policy)) line("changed", pe);
    }
    for (const auto& [id, pe] : seen_) {
      if (!now.contains(id)) line("removed", pe);
    }
    seen_ = std::move(now);
    if (!out.empty() && !write_stdout(out)) return runner_.finish(exit_code::io_error);
    again(*parse_duration(o_.interval));
  }

  asap::PoolUser& pu_;
  Runner& runner_;
  const Options& o_;
  const Log& log_;
  ToolTimer timer_;
  std::optional<std::chrono::steady_clock::time_point> registrar_until_;
  std::map<PoolElementId, wire::PoolElement> seen_;
};


void define(CLI::App& app, Options& o) {
  app.add_option("POOL", o.pool, "Pool handle to resolve");
  add_client_options(app, o.client, "Give up after DURATION (exit 124; default 10s, none with --watch)");
  auto* count = app.add_option("-n,--count", o.count, "Ask for at most N pool elements")->check(CLI::PositiveNumber)->type_name("N");
  app.add_flag("-a,--all", o.all, "Every pool element of the pool (up to the registrar's limit)")->excludes(count);
  app.add_flag("-j,--json", o.json, "JSON: an array of pool elements (one object per line with --watch)");
  app.add_option("-f,--format", o.format,
                 "One line per PE from a template: {id} {id_hex} {pool} {protocol} {address} {addresses} "
                 "{port} {transport} {policy} {weight} {priority} {load} {home} {life}")
      ->type_name("TEMPLATE");
  app.add_flag("-W,--watch", o.watch, "Re-resolve every --interval and print changes (+ added, - removed, ~ changed)");
  app.add_option("-i,--interval", o.interval, "Re-resolution interval of --watch (default 1s)")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("--wait-count", o.wait_count, "Wait (re-resolving) until the pool has at least N elements")
      ->check(CLI::PositiveNumber)->type_name("N");
  app.add_option("--wait-registrar", o.wait_registrar, "Keep trying for DURATION while no registrar answers")
      ->type_name("DURATION")->check(duration_validator());
  app.add_flag("-D,--dump", o.dump, "Print the registrar's whole handlespace (its status socket) instead");
  app.add_option("--status-socket", o.status_socket,
                 "Registrar status socket for --dump (default $RSP_STATUS_SOCKET, $XDG_RUNTIME_DIR/rsp-registrar.sock, "
                 "/run/rsp-registrar.sock)")
      ->type_name("PATH");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rsp-resolve: resolve a pool handle to its pool elements (RFC 5352 ASAP)", "rsp-resolve"};
  app.set_version_flag("-V,--version", "");
  Options o;
  define(app, o);
  Log log("rsp-resolve");
  if (auto rc = parse_client_arguments(app, argc, argv, o.client, log)) return *rc;
  if (o.dump) return dump(o, log);
  if (o.pool.empty()) {
    log.error("a POOL handle is required (or --dump; see --help)");
    return exit_code::usage;
  }
  if (o.pool.size() > kMaxPoolHandleSize) {
    log.error(fmt::format("pool handle '{}' is longer than {} bytes", o.pool, kMaxPoolHandleSize));
    return exit_code::usage;
  }
  const auto timeout = o.client.timeout.value_or(milliseconds(10000));
  boost::asio::io_context io;
  auto copts = make_context_options(o.client, std::min(timeout * 3 / 4, milliseconds(4000)), log);
  if (!copts) return exit_code::usage;
  auto context = asap::Context::create(io, std::move(*copts));
  if (!context) return log.error(describe(context.error())), exit_code_for(context.error().code);
  auto pu = asap::PoolUser::create(**context);
  if (!pu) return log.error(describe(pu.error())), exit_code_for(pu.error().code);
  Runner runner(io);
  Resolver resolver(io, **pu, runner, o, log);
  if (!o.watch || o.client.timeout) {
    runner.deadline(timeout, [&] {
      if (o.watch) return runner.finish(exit_code::ok);
      log.error(fmt::format("no answer for '{}' within {}", o.pool, format_duration(timeout)));
      runner.finish(exit_code::timeout);
    });
  }
  runner.on_terminate([&](int sig) { runner.finish(o.watch ? exit_code::ok : 128 + sig); });
  resolver.start();
  return runner.run();
}
