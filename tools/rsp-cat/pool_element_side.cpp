// rsp-cat -l POOL: a pool element. Without --exec, every session's messages go to stdout and
// stdin goes to the most recent session (like nc -l). With --exec CMD, each session gets its own
// `/bin/sh -c CMD`: messages to its stdin, its stdout back as messages (like ncat --exec).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <map>

#include "cat.hpp"
#include "stream_io.hpp"

namespace rsp::tools::cat {
namespace {

using std::chrono::milliseconds;

struct Child {
  pid_t pid = -1;
  std::unique_ptr<FdWriter> to_child;
  std::unique_ptr<FdReader> from_child;
  std::unique_ptr<Framer> framer;
  bool session_gone = false;
};

class PoolElementSide {
 public:
  PoolElementSide(boost::asio::io_context& io, asap::Context& context, Runner& runner, const Options& o, const Log& log)
      : io_(io), context_(context), runner_(runner), o_(o), log_(log), framer_(!o.raw, o.max_message), idle_timer_(io) {}

  int start() {
    std::string error;
    auto policy = parse_policy(o_.policy, &error);
    auto local = parse_listen(o_.local, &error);
    asap::PoolElementOptions pe;
    pe.pool_handle = PoolHandle(o_.pool);
    pe.policy = policy->policy;
    pe.local_addresses = local->addresses;
    pe.port = local->port;
    asap::PoolElementHandlers h;
    h.on_event = [this](const asap::PoolElementEvent& e) { on_event(e); };
    h.on_message = [this](asap::ReceivedData&& d) { on_message(std::move(d)); };
    auto created = asap::PoolElement::create(context_, std::move(pe), std::move(h));
    if (!created) {
      log_.error("cannot register in '" + o_.pool + "': " + describe(created.error()));
      return exit_code_for(created.error().code);
    }
    pe_ = std::move(*created);
    if (o_.exec.empty()) {
      stdin_ = std::make_unique<FdReader>(io_, STDIN_FILENO, o_.max_message);
      stdin_->start([this] { return current_ != asap::kNoSession; },
                    [this](std::span<const std::byte> d) {
                      touch();
                      framer_.feed(d, [this](std::span<const std::byte> m) { send(current_, m); });
                    },
                    [this](int error) { on_stdin_end(error); });
    }
    runner_.on_child([this] { reap(); });
    touch();
    return exit_code::ok;
  }

  void stop(int code) {
    for (auto& [s, c] : children_)
      if (c.pid > 0) ::kill(c.pid, SIGTERM);
    if (!pe_) return runner_.finish(code);
    pe_->deregister([this, code](asap::AsapResult<void> r) {
      if (!r) log_.info("deregistration: " + describe(r.error()));
      runner_.finish(code);
    });
  }

 private:
  void touch() {
    if (auto idle = o_.idle()) {
      idle_timer_.start(*idle, [this, idle] {
        log_.info("idle for " + format_duration(*idle) + "; quitting");
        stop(exit_code::ok);
      });
    }
  }

  void send(asap::SessionId session, std::span<const std::byte> m) {
    asap::SendOptions so;
    so.ppid = o_.ppid;
    so.stream = o_.stream;
    if (auto r = pe_->send(session, m, so); !r) log_.error("session " + std::to_string(session) + ": " + describe(r.error()));
  }

  void on_stdin_end(int error) {
    if (error != 0) log_.error(std::string("reading stdin: ") + std::strerror(error));
    if (current_ != asap::kNoSession) framer_.finish([this](std::span<const std::byte> m) { send(current_, m); });
    const auto q = o_.quit_after();
    if (!q) return stop(error == 0 ? exit_code::ok : exit_code::io_error);
    quit_timer_.start(*q, [this, error] { stop(error == 0 ? exit_code::ok : exit_code::io_error); });
  }

  void on_event(const asap::PoolElementEvent& e) {
    using K = asap::PoolElementEventKind;
    switch (e.kind) {
      case K::Registered:
        log_.info(fmt::format("registered {:#010x} in '{}' serving on {}", pe_->id(), o_.pool, format_addresses(pe_->user_transport())));
        break;
      case K::RegistrationFailed:
        if (e.cause) {
          log_.error("registration rejected: " + std::string(wire::to_string(*e.cause)));
          runner_.finish(exit_code::protocol);
        } else if (e.error) {
          log_.error("registration failed: " + describe(*e.error) + " (still trying)");
        }
        break;
      case K::SessionAdded:
        touch();
        log_.info(fmt::format("session {} from {}", e.session, e.peer ? asap::format_transport_address(*e.peer) : "?"));
        if (o_.exec.empty()) current_ = e.session;
        else spawn(e.session, e.peer);
        break;
      case K::SessionRemoved:
        log_.info(fmt::format("session {} ended", e.session));
        if (current_ == e.session) current_ = asap::kNoSession;
        if (auto it = children_.find(e.session); it != children_.end()) {
          it->second.session_gone = true;
          it->second.to_child->close();  // EOF on the command's stdin
          if (it->second.pid < 0) children_.erase(it);
        }
        break;
      default: break;
    }
  }

  void on_message(asap::ReceivedData&& d) {
    touch();
    if (o_.exec.empty()) {
      if (!write_all(STDOUT_FILENO, d.payload)) {
        log_.error(std::string("writing stdout: ") + std::strerror(errno));
        stop(exit_code::io_error);
      }
      return;
    }
    if (auto it = children_.find(d.session); it != children_.end()) it->second.to_child->write(d.payload);
  }

  // --exec: /bin/sh -c CMD with pipes, RSP_POOL/RSP_SESSION/RSP_PEER in its environment.
  void spawn(asap::SessionId session, const std::optional<TransportAddress>& peer) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      log_.error(std::string("pipe: ") + std::strerror(errno));
      (void)pe_->close_session(session);
      return;
    }
    const std::string peer_text = peer ? asap::format_transport_address(*peer) : "";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::setenv("RSP_POOL", o_.pool.c_str(), 1);
      ::setenv("RSP_SESSION", std::to_string(session).c_str(), 1);
      ::setenv("RSP_PEER", peer_text.c_str(), 1);
      ::signal(SIGPIPE, SIG_DFL);
      ::execl("/bin/sh", "sh", "-c", o_.exec.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    if (pid < 0) {
      log_.error(std::string("fork: ") + std::strerror(errno));
      ::close(in[1]);
      ::close(out[0]);
      (void)pe_->close_session(session);
      return;
    }
    log_.info(fmt::format("session {}: started '{}' (pid {})", session, o_.exec, pid));
    Child& c = children_[session];
    c.pid = pid;
    c.to_child = std::make_unique<FdWriter>(io_, in[1], [this, session](int) {
      log_.debug(fmt::format("session {}: the command stopped reading", session));
    });
    c.framer = std::make_unique<Framer>(!o_.raw, o_.max_message);
    c.from_child = std::make_unique<FdReader>(io_, out[0], o_.max_message);
    ::close(out[0]);  // FdReader keeps its own duplicate
    c.from_child->start(nullptr,
                        [this, session](std::span<const std::byte> d) {
                          touch();
                          auto it = children_.find(session);
                          if (it == children_.end() || it->second.session_gone) return;
                          it->second.framer->feed(d, [this, session](std::span<const std::byte> m) { send(session, m); });
                        },
                        [this, session](int) {
                          // The command closed its stdout: flush and end the session.
                          auto it = children_.find(session);
                          if (it == children_.end()) return;
                          if (!it->second.session_gone) {
                            it->second.framer->finish([this, session](std::span<const std::byte> m) { send(session, m); });
                            (void)pe_->close_session(session);
                          }
                        });
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto it = children_.begin(); it != children_.end(); ++it) {
        if (it->second.pid != pid) continue;
        log_.info(fmt::format("session {}: command exited with status {}", it->first,
                              WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)));
        it->second.pid = -1;
        if (it->second.session_gone) children_.erase(it);
        break;
      }
    }
  }

  boost::asio::io_context& io_;
  asap::Context& context_;
  Runner& runner_;
  const Options& o_;
  const Log& log_;
  Framer framer_;
  ToolTimer idle_timer_;
  ToolTimer quit_timer_{io_};
  std::unique_ptr<asap::PoolElement> pe_;
  std::unique_ptr<FdReader> stdin_;
  asap::SessionId current_ = asap::kNoSession;
  std::map<asap::SessionId, Child> children_;
};

}  // namespace

int run_pool_element(const Options& o, const Log& log) {
  boost::asio::io_context io;
  auto copts = make_context_options(o.client, o.client.timeout.value_or(milliseconds(5000)), log);
  if (!copts) return exit_code::usage;
  auto context = asap::Context::create(io, std::move(*copts));
  if (!context) return log.error(describe(context.error())), exit_code_for(context.error().code);
  Runner runner(io);
  PoolElementSide side(io, **context, runner, o, log);
  if (int rc = side.start(); rc != exit_code::ok) return rc;
  runner.on_terminate([&](int) { side.stop(exit_code::ok); });
  return runner.run();
}

}  // namespace rsp::tools::cat
