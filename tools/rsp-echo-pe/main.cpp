// rsp-echo-pe POOL: a pool element that echoes every message back to the pool user that sent
// it (the RSerPool API draft's example, productised), with knobs for failover drills.
#include <boost/asio/io_context.hpp>

#include <list>

#include <CLI/CLI.hpp>

#include "pool_tool.hpp"

namespace {

using namespace rsp;
using namespace rsp::tools;
using std::chrono::milliseconds;

struct Options {
  std::string pool;
  ClientOptions client;
  std::string listen;
  std::string policy = "rr";
  std::string delay;
  std::uint64_t fail_after = 0;
  std::string load;
  std::string load_per_session;
  bool cookie = false;
  std::string prefix;
  std::uint32_t id = 0;
};

class EchoElement {
 public:
  EchoElement(asap::Context& context, Runner& runner, const Options& o, const Log& log)
      : context_(context), runner_(runner), o_(o), log_(log) {}

  int start(const PolicyInfo& policy, const ListenAddress& listen) {
    delay_ = o_.delay.empty() ? milliseconds(0) : parse_duration(o_.delay).value_or(milliseconds(0));
    if (!o_.load_per_session.empty()) load_per_session_ = *parse_load(o_.load_per_session);
    asap::PoolElementOptions pe;
    pe.pool_handle = PoolHandle(o_.pool);
    pe.policy = policy;
    if (o_.id != 0) pe.id = o_.id;
    pe.local_addresses = listen.addresses;
    pe.port = listen.port;
    base_load_ = policy.load;
    asap::PoolElementHandlers h;
    h.on_event = [this](const asap::PoolElementEvent& e) { on_event(e); };
    h.on_message = [this](asap::ReceivedData&& d) { on_message(std::move(d)); };
    h.on_cookie_echo = [this](asap::SessionId s, std::vector<std::byte> cookie) {
      log_.info("session " + std::to_string(s) + ": cookie echo from the previous PE: '" +
                std::string(reinterpret_cast<const char*>(cookie.data()), cookie.size()) + "'");
    };
    auto created = asap::PoolElement::create(context_, std::move(pe), std::move(h));
    if (!created) {
      log_.error("cannot start a pool element for '" + o_.pool + "': " + describe(created.error()));
      return exit_code_for(created.error().code);
    }
    pe_ = std::move(*created);
    log_.info("pool element " + format_id(pe_->id()) + " for '" + o_.pool + "' serving on " +
              format_addresses(pe_->user_transport()) + ", policy " + format_policy(pe_->policy()));
    return exit_code::ok;
  }

  void stop(int code) {
    if (!pe_) return runner_.finish(code);
    log_.info("deregistering " + format_id(pe_->id()));
    pe_->deregister([this, code](asap::AsapResult<void> r) {
      if (!r) log_.error("deregistration of " + format_id(pe_->id()) + " failed: " + describe(r.error()));
      runner_.finish(code);
    });
  }

  bool registered() const { return pe_ && pe_->registered(); }

 private:
  void on_event(const asap::PoolElementEvent& e) {
    using K = asap::PoolElementEventKind;
    const std::string where = e.registrar_address ? " at " + asap::format_transport_address(*e.registrar_address) : "";
    switch (e.kind) {
      case K::Registered:
        log_.info("registered " + format_id(pe_->id()) + " in '" + o_.pool + "'" + where);
        break;
      case K::Reregistered: log_.debug("re-registered" + where); break;
      case K::RegistrationFailed:
        if (e.cause) {
          log_.error("registration of '" + o_.pool + "' rejected" + where + ": " + std::string(wire::to_string(*e.cause)));
          runner_.finish(exit_code::protocol);
        } else if (e.error) {
          log_.error("registration of '" + o_.pool + "' failed: " + describe(*e.error) + " (still trying)");
        }
        break;
      case K::RegistrarLost: log_.info("registrar lost" + where + "; hunting for another"); break;
      case K::RegistrarFound: log_.debug("registrar found" + where); break;
      case K::SessionAdded:
        ++sessions_;
        log_.info("session " + std::to_string(e.session) + " from " +
                  (e.peer ? asap::format_transport_address(*e.peer) : std::string("?")));
        update_load();
        break;
      case K::SessionRemoved:
        if (sessions_ > 0) --sessions_;
        log_.info("session " + std::to_string(e.session) + " ended");
        update_load();
        break;
      default: break;
    }
  }

  // --load-per-session: the registered load follows the number of sessions (RFC 5356 §4.x
  // least-used policies rely on PEs updating their load by re-registering).
  void update_load() {
    if (!load_per_session_) return;
    PolicyInfo p = pe_->policy();
    const double l = load_fraction(base_load_) + load_fraction(*load_per_session_) * sessions_;
    p.load = static_cast<std::uint32_t>(std::min(1.0, l) * kPolicyLoadMax);
    if (auto r = pe_->update_policy(p); !r) log_.error("load update failed: " + describe(r.error()));
    else log_.debug("load now " + format_policy(p));
  }

  void on_message(asap::ReceivedData&& d) {
    if (o_.fail_after != 0 && echoed_ >= o_.fail_after) return;
    ++echoed_;
    if (delay_.count() == 0) return echo(std::move(d));
    auto& timer = timers_.emplace_back(context_.time().make_timer());
    auto it = std::prev(timers_.end());
    timer->start(delay_, [this, it, d = std::move(d)]() mutable {
      echo(std::move(d));
      timers_.erase(it);
    });
  }

  void echo(asap::ReceivedData&& d) {
    std::vector<std::byte> reply;
    reply.reserve(o_.prefix.size() + d.payload.size());
    for (char c : o_.prefix) reply.push_back(static_cast<std::byte>(c));
    reply.insert(reply.end(), d.payload.begin(), d.payload.end());
    asap::SendOptions so;
    so.ppid = d.ppid;
    so.stream = d.stream;
    so.unordered = d.unordered;
    if (auto r = pe_->send(d.session, reply, so); !r) {
      log_.info("session " + std::to_string(d.session) + ": reply not sent: " + describe(r.error()));
    }
    ++replies_;
    if (o_.cookie) {
      // RFC 5352 §3.9: state for the PE the user may fail over to.
      const std::string cookie = "rsp-echo-pe " + format_id(pe_->id()) + " echoed=" + std::to_string(replies_);
      (void)pe_->send_cookie(d.session, std::as_bytes(std::span(cookie.data(), cookie.size())));
    }
    if (o_.fail_after != 0 && replies_ == o_.fail_after) {
      // A crash for failover drills: no deregistration, no SHUTDOWN of the associations. The
      // replies already sent get 100 ms to leave; messages arriving meanwhile are received
      // (acknowledged by SCTP) but never answered.
      log_.info("--fail-after " + std::to_string(o_.fail_after) + " reached: exiting without deregistering");
      crash_ = context_.time().make_timer();
      crash_->start(std::chrono::milliseconds(100), [] { std::_Exit(exit_code::ok); });
    }
  }

  asap::Context& context_;
  Runner& runner_;
  const Options& o_;
  const Log& log_;
  std::unique_ptr<asap::PoolElement> pe_;
  milliseconds delay_{0};
  std::optional<std::uint32_t> load_per_session_;
  std::uint32_t base_load_ = 0;
  std::uint64_t sessions_ = 0;
  std::uint64_t echoed_ = 0;
  std::uint64_t replies_ = 0;
  std::list<std::unique_ptr<asap::Timer>> timers_;
  std::unique_ptr<asap::Timer> crash_;
};

CLI::Validator load_validator() {
  return CLI::Validator(
      [](std::string& s) { return parse_load(s) ? std::string() : "expected a load 0..1 or N%, got '" + s + "'"; },
      "LOAD", "load");
}

void define(CLI::App& app, Options& o) {
  app.add_option("POOL", o.pool, "Pool handle to register")->required();
  add_client_options(app, o.client, "Exit with status 75 when not registered within DURATION");
  app.add_option("--listen", o.listen, "Local ADDR:PORT of the data endpoint (default: all addresses, ephemeral port)")
      ->check(listen_validator())->type_name("ADDR:PORT");
  app.add_option("--policy", o.policy, "Pool policy NAME[:VALUE], e.g. rr, wrr:3, lu:0.2, prio:1 (default rr)")
      ->check(policy_validator())->type_name("POLICY[:VALUE]");
  app.add_option("--id", o.id, "Pool element identifier (default: random)")->check(CLI::Range(1u, 0xffffffffu))->type_name("ID");
  app.add_option("-d,--delay", o.delay, "Wait DURATION before echoing each message")->check(duration_validator())->type_name("DURATION");
  app.add_option("--fail-after", o.fail_after, "Exit abruptly (no deregistration) after echoing N messages")
      ->check(CLI::PositiveNumber)->type_name("N");
  app.add_option("--load", o.load, "Initial load for least-used policies (0..1 or N%)")->check(load_validator())->type_name("LOAD");
  app.add_option("--load-per-session", o.load_per_session,
                 "Add LOAD per open session and re-register on every change")->check(load_validator())->type_name("LOAD");
  app.add_flag("--cookie", o.cookie, "Send an ASAP cookie after every reply; log cookie echoes (-v)");
  app.add_option("--prefix", o.prefix, "Prepend TEXT to every echoed message")->type_name("TEXT");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rsp-echo-pe: a pool element that echoes every message (RFC 5352 ASAP)", "rsp-echo-pe"};
  app.set_version_flag("-V,--version", version_text("rsp-echo-pe"));
  Options o;
  define(app, o);
  Log log("rsp-echo-pe");
  if (auto rc = parse_client_arguments(app, argc, argv, o.client, log)) return *rc;
  std::string error;
  auto policy = parse_policy(o.policy, &error);
  auto listen = parse_listen(o.listen, &error);
  if (!o.load.empty()) policy->policy.load = *parse_load(o.load);

  boost::asio::io_context io;
  auto copts = make_context_options(o.client, o.client.timeout.value_or(milliseconds(5000)), log);
  if (!copts) return exit_code::usage;
  auto context = asap::Context::create(io, std::move(*copts));
  if (!context) {
    log.error(describe(context.error()));
    return exit_code_for(context.error().code);
  }
  Runner runner(io);
  EchoElement pe(**context, runner, o, log);
  if (int rc = pe.start(policy->policy, *listen); rc != exit_code::ok) return rc;
  runner.on_terminate([&](int) { pe.stop(exit_code::ok); });
  if (o.client.timeout) {
    runner.deadline(*o.client.timeout, [&] {
      if (pe.registered()) return;
      log.error("not registered in '" + o.pool + "' within " + format_duration(*o.client.timeout));
      runner.finish(exit_code::temp_fail);
    });
  }
  return runner.run();
}
