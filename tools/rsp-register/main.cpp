// rsp-register POOL --address ADDR:PORT: a sidecar that keeps pool elements registered on behalf
// of a service that does not speak RSerPool (RFC 5352 §3.1 registration with another user
// transport), re-registers when its load changes, and deregisters (§3.2) when stopped or when
// the service given after `--` exits.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "pool_tool.hpp"

namespace {

using namespace rsp;
using namespace rsp::tools;
using std::chrono::milliseconds;

struct Options {
  std::string pool;
  ClientOptions client;
  std::vector<std::string> addresses;
  std::string protocol = "tcp";
  std::string policy = "rr";
  std::string load;
  std::string load_from;
  std::string poll = "1s";
  std::uint32_t id = 0;
  std::vector<std::string> command;
};

std::optional<TransportAddress> user_transport(const std::string& text, const std::string& protocol, std::string* error) {
  auto parsed = asap::parse_transport_address(text, 0);
  if (!parsed) {
    *error = parsed.error().message;
    return std::nullopt;
  }
  if (parsed->port == 0) {
    *error = "--address '" + text + "' needs a port";
    return std::nullopt;
  }
  if (protocol == "sctp") parsed->protocol = TransportProtocol::Sctp;
  else if (protocol == "tcp") parsed->protocol = TransportProtocol::Tcp;
  else parsed->protocol = TransportProtocol::Udp;
  parsed->use = TransportUse::DataOnly;
  // RFC 5354 §3.5-3.6: TCP and UDP transports carry exactly one address.
  if (parsed->protocol != TransportProtocol::Sctp && parsed->addresses.size() > 1) {
    AddressList first;
    first.push_back(parsed->addresses[0]);
    parsed->addresses = first;
  }
  return std::move(*parsed);
}

// The first word of FILE as a load ("0.3", "30%").
std::optional<std::uint32_t> read_load(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string word;
  in >> word;
  auto load = parse_load(word);
  if (!load) *error = path + ": expected a load 0..1 or N%, got '" + word + "'";
  return load;
}

class Sidecar {
 public:
  Sidecar(boost::asio::io_context& io, asap::Context& context, Runner& runner, const Options& o, const Log& log)
      : context_(context), runner_(runner), o_(o), log_(log), poll_timer_(io) {}

  int start(const PolicyInfo& policy, const std::vector<TransportAddress>& transports) {
    policy_ = policy;
    for (std::size_t i = 0; i < transports.size(); ++i) {
      asap::PoolElementOptions pe;
      pe.pool_handle = PoolHandle(o_.pool);
      pe.policy = policy;
      if (o_.id != 0) pe.id = o_.id;
      pe.user_transport = transports[i];
      asap::PoolElementHandlers h;
      h.on_event = [this, i](const asap::PoolElementEvent& e) { on_event(i, e); };
      auto created = asap::PoolElement::create(context_, std::move(pe), std::move(h));
      if (!created) {
        log_.error("cannot register " + format_addresses(transports[i]) + ": " + describe(created.error()));
        return exit_code_for(created.error().code);
      }
      elements_.push_back(std::move(*created));
    }
    if (!o_.load_from.empty()) poll_load();
    return exit_code::ok;
  }

  bool all_registered() const {
    for (const auto& pe : elements_)
      if (!pe->registered()) return false;
    return true;
  }

  // Re-reads --load-from now (SIGHUP/SIGUSR1, or its modification time changed).
  void reload() {
    if (o_.load_from.empty()) return;
    std::string error;
    auto load = read_load(o_.load_from, &error);
    if (!load) return log_.error(error + " (load unchanged)");
    if (*load == policy_.load) return;
    policy_.load = *load;
    log_.info("load now " + format_policy(policy_));
    for (auto& pe : elements_) {
      if (auto r = pe->update_policy(policy_); !r) log_.error("re-registration with the new load failed: " + describe(r.error()));
    }
  }

  // Deregisters every PE, then calls done.
  void deregister(std::function<void()> done) {
    poll_timer_.cancel();
    pending_ = elements_.size();
    done_ = std::move(done);
    if (pending_ == 0) return done_();
    for (auto& pe : elements_) {
      pe->deregister([this, id = pe->id()](asap::AsapResult<void> r) {
        if (!r) log_.info(fmt::format("deregistration of {:#010x}: {}", id, describe(r.error())));
        else log_.info(fmt::format("deregistered {:#010x}", id));
        if (--pending_ == 0 && done_) done_();
      });
    }
  }

 private:
  void poll_load() {
    struct stat st{};
    if (::stat(o_.load_from.c_str(), &st) == 0 && st.st_mtim.tv_sec * 1'000'000'000L + st.st_mtim.tv_nsec != mtime_) {
      mtime_ = st.st_mtim.tv_sec * 1'000'000'000L + st.st_mtim.tv_nsec;
      reload();
    }
    poll_timer_.start(*parse_duration(o_.poll), [this] { poll_load(); });
  }

  void on_event(std::size_t i, const asap::PoolElementEvent& e) {
    using K = asap::PoolElementEventKind;
    const auto& pe = *elements_[i];
    switch (e.kind) {
      case K::Registered:
        log_.info(fmt::format("registered {:#010x} ({} {}) in '{}'", pe.id(), protocol_name(pe.user_transport().protocol),
                              format_addresses(pe.user_transport()), o_.pool));
        break;
      case K::RegistrationFailed:
        if (e.cause) {
          log_.error(fmt::format("registration of {} in '{}' rejected: {}", format_addresses(pe.user_transport()), o_.pool,
                                 wire::to_string(*e.cause)));
          runner_.finish(exit_code::protocol);
        } else if (e.error) {
          log_.error("registration failed: " + describe(*e.error) + " (still trying)");
        }
        break;
      case K::RegistrarLost: log_.info("registrar lost; hunting for another"); break;
      default: break;
    }
  }

  asap::Context& context_;
  Runner& runner_;
  const Options& o_;
  const Log& log_;
  ToolTimer poll_timer_;
  PolicyInfo policy_;
  std::vector<std::unique_ptr<asap::PoolElement>> elements_;
  long mtime_ = -1;
  std::size_t pending_ = 0;
  std::function<void()> done_;
};

// `-- COMMAND ARGS...`: started once registration is under way; its exit ends the sidecar.
pid_t spawn(const std::vector<std::string>& command, const Log& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "rsp-register: cannot run '%s': %s\n", argv[0], std::strerror(errno));
    std::_Exit(errno == ENOENT ? 127 : 126);
  }
  if (pid < 0) log.error(std::string("fork: ") + std::strerror(errno));
  return pid;
}

void define(CLI::App& app, Options& o) {
  app.add_option("POOL", o.pool, "Pool handle to register the service in")->required();
  app.add_option("COMMAND", o.command, "After --: the service to run; its exit deregisters and ends rsp-register");
  add_client_options(app, o.client, "Exit with status 75 when not registered within DURATION");
  app.add_option("-a,--address", o.addresses, "The service's ADDR:PORT (repeatable: one pool element each)")
      ->required()->type_name("ADDR:PORT")->allow_extra_args(false);
  app.add_option("-P,--protocol", o.protocol, "The service's transport protocol (default tcp)")
      ->check(CLI::IsMember({"sctp", "tcp", "udp"}))->type_name("sctp|tcp|udp");
  app.add_option("--policy", o.policy, "Pool policy NAME[:VALUE], e.g. rr, wrr:3, lu:0.2 (default rr)")->check(policy_validator())->type_name("POLICY[:VALUE]");
  app.add_option("--load", o.load, "Initial load for least-used policies (0..1 or N%)")->type_name("LOAD");
  app.add_option("--load-from", o.load_from,
                 "Read the load from FILE (0..1 or N%): at start, on SIGHUP/SIGUSR1 and when it changes")
      ->type_name("FILE");
  app.add_option("--poll-interval", o.poll, "How often --load-from is checked for changes (default 1s)")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("--id", o.id, "Pool element identifier (default: random; only with one --address)")
      ->check(CLI::Range(1u, 0xffffffffu))->type_name("ID");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rsp-register: keep a non-RSerPool service registered in a pool (RFC 5352 ASAP)", "rsp-register"};
  app.set_version_flag("-V,--version", "");
  Options o;
  define(app, o);
  Log log("rsp-register");
  if (auto rc = parse_client_arguments(app, argc, argv, o.client, log)) return *rc;
  std::string error;
  std::vector<TransportAddress> transports;
  for (const auto& a : o.addresses) {
    auto t = user_transport(a, o.protocol, &error);
    if (!t) return log.error(error), exit_code::usage;
    transports.push_back(*t);
  }
  if (o.id != 0 && transports.size() > 1) return log.error("--id needs exactly one --address"), exit_code::usage;
  auto policy = parse_policy(o.policy, &error);
  if (!o.load.empty()) {
    auto load = parse_load(o.load);
    if (!load) return log.error("bad --load '" + o.load + "' (expected 0..1 or N%)"), exit_code::usage;
    policy->policy.load = *load;
  }
  if (!o.load_from.empty()) {
    auto load = read_load(o.load_from, &error);
    if (!load) return log.error(error), exit_code::data_error;
    policy->policy.load = *load;
  }

  boost::asio::io_context io;
  auto copts = make_context_options(o.client, o.client.timeout.value_or(milliseconds(5000)), log);
  if (!copts) return exit_code::usage;
  auto context = asap::Context::create(io, std::move(*copts));
  if (!context) return log.error(describe(context.error())), exit_code_for(context.error().code);
  Runner runner(io);
  Sidecar sidecar(io, **context, runner, o, log);
  if (int rc = sidecar.start(policy->policy, transports); rc != exit_code::ok) return rc;

  // Ends when the PEs are deregistered and the service (if any) has exited.
  pid_t child = -1;
  int stop_code = exit_code::ok;
  bool deregistering = false, deregistered = false;
  auto maybe_finish = [&] {
    if (deregistered && child <= 0) runner.finish(stop_code);
  };
  auto stop = [&](int code) {
    if (deregistering) return;
    stop_code = code;
    deregistering = true;
    sidecar.deregister([&] {
      deregistered = true;
      maybe_finish();
    });
  };
  runner.on_reload([&](int) { sidecar.reload(); });
  runner.on_terminate([&](int sig) {
    log.info(fmt::format("signal {}: deregistering", sig));
    if (child > 0) ::kill(child, sig);  // the service stops too; its status becomes ours
    stop(exit_code::ok);
  });
  if (!o.command.empty()) {
    runner.on_child([&] {
      int status = 0;
      if (child <= 0 || ::waitpid(child, &status, WNOHANG) != child) return;
      child = -1;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      log.info(fmt::format("'{}' exited with status {}", o.command[0], code));
      stop(code);
      stop_code = code;
      maybe_finish();
    });
    child = spawn(o.command, log);
    if (child < 0) return exit_code::os_error;
  }
  if (o.client.timeout) {
    runner.deadline(*o.client.timeout, [&] {
      if (sidecar.all_registered()) return;
      log.error(fmt::format("not registered in '{}' within {}", o.pool, format_duration(*o.client.timeout)));
      if (child > 0) ::kill(child, SIGTERM);
      stop(exit_code::temp_fail);
    });
  }
  const int rc = runner.run();
  if (child > 0) {  // finished for another reason (rejection): do not leave the service behind
    ::kill(child, SIGTERM);
    ::waitpid(child, nullptr, 0);
  }
  return rc;
}
