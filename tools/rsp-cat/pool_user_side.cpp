// rsp-cat POOL: stdin -> one session with the pool, replies -> stdout. Failover is transparent
// (RFC 5352 §3.8): it is announced on stderr with exactly the messages that may not have been
// delivered (FailoverReport: dropped + unconfirmed), and the exit status says so at the end.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <set>

#include "cat.hpp"
#include "stream_io.hpp"

namespace rsp::tools::cat {
namespace {

using std::chrono::milliseconds;

// "3, 5-9, 12"
std::string ranges(const std::set<asap::MessageSeq>& seqs) {
  std::string out;
  for (auto it = seqs.begin(); it != seqs.end();) {
    const auto first = *it;
    auto last = first;
    while (++it != seqs.end() && *it == last + 1) last = *it;
    if (!out.empty()) out += ", ";
    out += first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
  }
  return out;
}

class PoolUserSide {
 public:
  PoolUserSide(boost::asio::io_context& io, asap::PoolUser& pu, Runner& runner, const Options& o, const Log& log)
      : io_(io), pu_(pu), runner_(runner), o_(o), log_(log), framer_(!o.raw, o.max_message),
        reader_(io, STDIN_FILENO, o.max_message), idle_timer_(io), quit_timer_(io) {}

  void start() {
    pu_.set_handlers({[this](const asap::PoolUserEvent& e) { on_event(e); },
                      [this](asap::ReceivedData&& d) { on_reply(std::move(d)); }});
    asap::SessionOptions so;
    so.confirmation = asap::Confirmation::ReplyConfirmsOldest;
    auto session = pu_.open_session(PoolHandle(o_.pool), so);
    if (!session) return fail(session.error());
    session_ = *session;
    touch();
    reader_.start([this] { return may_read(); },
                  [this](std::span<const std::byte> d) {
                    touch();
                    framer_.feed(d, [this](std::span<const std::byte> m) { send(m); });
                  },
                  [this](int error) { on_eof(error); });
  }

  void report_and_finish(int code) {
    if (!maybe_lost_.empty()) {
      log_.error(fmt::format("messages {} (of {}) may not have been delivered", ranges(maybe_lost_), sent_));
      if (code == exit_code::ok) code = exit_code::undelivered;
    }
    runner_.finish(code);
  }

 private:
  bool may_read() const {
    if (runner_.finished() || failed_) return false;
    const auto st = pu_.session_status(session_);
    if (!st) return false;
    if (st->queued > 16) return false;  // the association's send buffer is full
    return o_.window == 0 || outstanding() < o_.window;
  }

  std::uint64_t outstanding() const {
    const std::uint64_t settled = replies_ + maybe_lost_.size();
    return sent_ > settled ? sent_ - settled : 0;
  }

  void send(std::span<const std::byte> message) {
    asap::SendOptions so;
    so.ppid = o_.ppid;
    so.stream = o_.stream;
    so.failover_allowed = !o_.no_failover;
    auto seq = pu_.send(session_, message, so);
    if (!seq) return fail(seq.error());
    sent_ = *seq;
  }

  void on_eof(int error) {
    if (error != 0) {
      log_.error(std::string("reading stdin: ") + std::strerror(error));
      return report_and_finish(exit_code::io_error);
    }
    framer_.finish([this](std::span<const std::byte> m) { send(m); });
    eof_ = true;
    log_.debug(fmt::format("end of input after {} messages", sent_));
    if (auto q = o_.quit_after()) quit_timer_.start(*q, [this] { report_and_finish(exit_code::ok); });
    check_done();
  }

  // After EOF: done when every message was answered or reported as possibly lost. With
  // --window 0 (PEs that never answer) when everything is handed to the association.
  void check_done() {
    if (!eof_ || runner_.finished()) return;
    if (o_.window == 0) {
      const auto st = pu_.session_status(session_);
      if (st && st->state == asap::SessionState::Connected && st->queued == 0) {
        (void)pu_.close_session(session_);
        quit_timer_.start(milliseconds(200), [this] { report_and_finish(exit_code::ok); });
        return;
      }
      idle_timer_.start(milliseconds(5), [this] { check_done(); });
      return;
    }
    if (outstanding() == 0) {
      (void)pu_.close_session(session_);
      report_and_finish(exit_code::ok);
    }
  }

  void touch() {
    if (auto idle = o_.idle()) {
      idle_timer_.start(*idle, [this, idle] {
        log_.info("idle for " + format_duration(*idle) + "; quitting");
        report_and_finish(exit_code::ok);
      });
    }
  }

  void on_reply(asap::ReceivedData&& d) {
    touch();
    ++replies_;
    if (!write_all(STDOUT_FILENO, d.payload)) {
      if (errno != EPIPE) log_.error(std::string("writing stdout: ") + std::strerror(errno));
      return report_and_finish(errno == EPIPE ? exit_code::ok : exit_code::io_error);
    }
    check_done();
  }

  void on_event(const asap::PoolUserEvent& e) {
    using K = asap::PoolUserEventKind;
    const auto& r = e.report;
    switch (e.kind) {
      case K::FailoverNecessary:
        had_pe_ = true;
        log_.error(fmt::format("pool element {} of '{}' lost ({}); failing over", r.from ? format_id(*r.from) : "?", o_.pool,
                               e.error ? describe(*e.error) : "association lost"));
        break;
      case K::FailoverComplete:
      case K::MessagesReturned: {
        std::set<asap::MessageSeq> lost(r.dropped.begin(), r.dropped.end());
        for (const auto& range : r.unconfirmed)
          for (auto s = range.first; s <= range.last && !range.empty(); ++s) lost.insert(s);
        for (auto s : r.resent) maybe_lost_.erase(s);  // going to the new PE after all
        maybe_lost_.insert(lost.begin(), lost.end());
        std::string text = e.kind == K::FailoverComplete
                               ? fmt::format("failed over to pool element {}", r.to ? format_id(*r.to) : "?")
                               : std::string("late report from the lost pool element");
        if (!lost.empty()) text += fmt::format("; messages {} may not have been delivered", ranges(lost));
        if (!r.resent.empty()) text += fmt::format("; resent {}", ranges({r.resent.begin(), r.resent.end()}));
        if (!r.possibly_duplicated.empty())
          text += fmt::format(" ({} possibly twice)", ranges({r.possibly_duplicated.begin(), r.possibly_duplicated.end()}));
        if (r.cookie_replayed) text += "; cookie replayed";
        if (e.kind == K::FailoverComplete || !lost.empty() || !r.resent.empty()) log_.error(text);
        check_done();
        break;
      }
      case K::FailoverFailed: {
        if (e.error && replies_ == 0 && !had_pe_ &&
            (e.error->code == asap::AsapErrc::NoRegistrar || e.error->code == asap::AsapErrc::PoolNotFound ||
             e.error->code == asap::AsapErrc::PoolEmpty)) {
          maybe_lost_.clear();
          return fail(*e.error);  // never reached any PE: one line says it all
        }
        for (auto s : r.dropped) maybe_lost_.insert(s);
        for (const auto& range : r.unconfirmed)
          for (auto s = range.first; s <= range.last && !range.empty(); ++s) maybe_lost_.insert(s);
        failed_ = true;
        log_.error(fmt::format("no pool element left for '{}': {}", o_.pool, e.error ? describe(*e.error) : "failover exhausted"));
        // The session had a PE and none is left, whatever the resolution said (pool gone, empty).
        report_and_finish(exit_code::failover_exhausted);
        break;
      }
      case K::SessionRemoved:
        if (e.error) {
          failed_ = true;
          log_.error(fmt::format("session with '{}' ended: {}", o_.pool, describe(*e.error)));
          report_and_finish(exit_code_for(e.error->code));
        }
        break;
      case K::CookieReceived: log_.debug("cookie received"); break;
      default: break;
    }
    if (e.kind == K::SessionAdded || e.kind == K::FailoverComplete) connected_notice();
  }

  void connected_notice() {
    // The association comes up asynchronously; say where we are once it is.
    const auto st = pu_.session_status(session_);
    if (st && st->state == asap::SessionState::Connected && st->pool_element) {
      had_pe_ = true;
      const std::string text = fmt::format("connected to {} at {}", format_id(st->pool_element->id),
                                           format_addresses(st->pool_element->user_transport));
      if (log_.verbosity() >= 1) log_.info(text);
      else log_.status(text);
      return;
    }
    if (++notice_polls_ < 400 && !runner_.finished()) idle_poll_.start(milliseconds(5), [this] { connected_notice(); });
  }

  void fail(const asap::AsapError& error) {
    failed_ = true;
    log_.error(describe_pool_failure(error, o_.pool)
                   .value_or(fmt::format("session with '{}': {}", o_.pool, describe(error))));
    report_and_finish(exit_code_for(error.code));
  }

  boost::asio::io_context& io_;
  asap::PoolUser& pu_;
  Runner& runner_;
  const Options& o_;
  const Log& log_;
  Framer framer_;
  FdReader reader_;
  ToolTimer idle_timer_;
  ToolTimer quit_timer_;
  ToolTimer idle_poll_{io_};
  asap::SessionId session_ = asap::kNoSession;
  std::uint64_t sent_ = 0;
  std::uint64_t replies_ = 0;
  std::set<asap::MessageSeq> maybe_lost_;
  bool eof_ = false;
  bool failed_ = false;
  bool had_pe_ = false;  // a PE served the session at some point
  int notice_polls_ = 0;
};

}  // namespace

int run_pool_user(const Options& o, const Log& log) {
  boost::asio::io_context io;
  auto copts = make_context_options(o.client, std::min(o.client.timeout.value_or(milliseconds(4000)) * 3 / 4, milliseconds(4000)), log);
  if (!copts) return exit_code::usage;
  auto context = asap::Context::create(io, std::move(*copts));
  if (!context) return log.error(describe(context.error())), exit_code_for(context.error().code);
  auto pu = asap::PoolUser::create(**context);
  if (!pu) return log.error(describe(pu.error())), exit_code_for(pu.error().code);
  Runner runner(io);
  PoolUserSide side(io, **pu, runner, o, log);
  runner.on_terminate([&](int sig) { side.report_and_finish(128 + sig); });
  if (o.client.timeout) {
    runner.deadline(*o.client.timeout, [&] {
      log.error("--timeout " + format_duration(*o.client.timeout) + " expired");
      side.report_and_finish(exit_code::timeout);
    });
  }
  side.start();
  return runner.run();
}

}  // namespace rsp::tools::cat
