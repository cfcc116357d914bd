// rsp-send POOL: one message to one pool element chosen by the pool's policy, and its reply on
// stdout (a request/response client; RFC 5352 §3.3 resolution, §3.8 failover, §3.5 reports).
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "pool_tool.hpp"

namespace {

using namespace rsp;
using namespace rsp::tools;
using std::chrono::milliseconds;

struct Options {
  std::string pool;
  ClientOptions client;
  std::optional<std::string> message;
  bool no_reply = false;
  bool json = false;
  std::uint32_t ppid = 0;
  std::uint16_t stream = 0;
  bool unordered = false;
  std::string reply_timeout = "2s";
  unsigned attempts = 3;
  bool no_failover = false;
};

std::string base64(std::span<const std::byte> data) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (std::to_integer<unsigned>(data[i]) << 16) | (std::to_integer<unsigned>(data[i + 1]) << 8) |
                       std::to_integer<unsigned>(data[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == data.size()) {
    const unsigned v = std::to_integer<unsigned>(data[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == data.size()) {
    const unsigned v = (std::to_integer<unsigned>(data[i]) << 16) | (std::to_integer<unsigned>(data[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

class Sender {
 public:
  Sender(boost::asio::io_context& io, asap::PoolUser& pu, Runner& runner, const Options& o, const Log& log)
      : pu_(pu), runner_(runner), o_(o), log_(log), reply_timer_(io), done_timer_(io) {}

  void start(std::vector<std::byte> message) {
    message_ = std::move(message);
    reply_timeout_ = *parse_duration(o_.reply_timeout);
    pu_.set_handlers({[this](const asap::PoolUserEvent& e) { on_event(e); },
                      [this](asap::ReceivedData&& d) { on_reply(std::move(d)); }});
    asap::SessionOptions so;
    so.confirmation = asap::Confirmation::ReplyConfirmsOldest;
    auto session = pu_.open_session(PoolHandle(o_.pool), so);
    if (!session) return fail(session.error());
    session_ = *session;
    send();
  }

 private:
  void send() {
    asap::SendOptions so;
    so.ppid = o_.ppid;
    so.stream = o_.stream;
    so.unordered = o_.unordered;
    so.failover_allowed = !o_.no_failover;
    auto seq = pu_.send(session_, message_, so);
    if (!seq) return fail(seq.error());
    seq_ = *seq;
    sent_at_ = std::chrono::steady_clock::now();
    if (o_.no_reply) return wait_handed_over();
    arm_reply_timer();
  }

  // --no-reply: done once the message left the queue on a live association; a graceful close
  // (SCTP SHUTDOWN) delivers it before the association ends.
  void wait_handed_over() {
    const auto st = pu_.session_status(session_);
    if (st && st->state == asap::SessionState::Connected && st->queued == 0) {
      log_.info("message " + std::to_string(seq_) + " handed to " + (st->pool_element ? format_id(st->pool_element->id) : "?"));
      (void)pu_.close_session(session_);
      done_timer_.start(milliseconds(200), [this] { runner_.finish(exit_code::ok); });
      return;
    }
    done_timer_.start(milliseconds(5), [this] { wait_handed_over(); });
  }

  void arm_reply_timer() {
    reply_timer_.start(reply_timeout_, [this] {
      const auto st = pu_.session_status(session_);
      const std::string pe = st && st->pool_element ? format_id(st->pool_element->id) : "no pool element";
      log_.info(pe + " did not answer within " + format_duration(reply_timeout_) + "; reporting it unreachable");
      if (++tried_ >= o_.attempts) return exhausted();
      (void)pu_.report_failure(session_);
      arm_reply_timer();
    });
  }

  void exhausted() {
    log_.error(fmt::format("no pool element answered for '{}' ({} tried)", o_.pool, tried_));
    runner_.finish(exit_code::failover_exhausted);
  }

  void on_event(const asap::PoolUserEvent& e) {
    using K = asap::PoolUserEventKind;
    switch (e.kind) {
      case K::FailoverNecessary:
        log_.info(fmt::format("pool element {} lost ({}); failing over",
                              e.report.from ? format_id(*e.report.from) : "?", e.error ? describe(*e.error) : "transport"));
        break;
      case K::FailoverComplete: {
        log_.info("failed over to " + (e.report.to ? format_id(*e.report.to) : std::string("?")));
        bool resend = false;
        for (const auto& r : e.report.unconfirmed) resend |= seq_ >= r.first && seq_ <= r.last;
        if (std::find(e.report.dropped.begin(), e.report.dropped.end(), seq_) != e.report.dropped.end()) {
          if (o_.no_failover) {
            log_.error(fmt::format("message to '{}' was not delivered (--no-failover)", o_.pool));
            return runner_.finish(exit_code::undelivered);
          }
          resend = true;
        }
        if (resend && !o_.no_reply) {
          log_.info("resending the message to " + (e.report.to ? format_id(*e.report.to) : std::string("?")));
          send();
        }
        break;
      }
      case K::FailoverFailed:
      case K::SessionRemoved:
        if (e.error) fail(*e.error);
        break;
      default: break;
    }
  }

  void fail(const asap::AsapError& error) {
    if (auto line = describe_pool_failure(error, o_.pool)) {
      log_.error(*line);
    } else if (error.code == asap::AsapErrc::FailoverExhausted) {
      if (tried_ > 0) return exhausted();
      log_.error(fmt::format("no pool element of '{}' could be reached: {}", o_.pool, describe(error)));
    } else {
      log_.error(fmt::format("sending to '{}' failed: {}", o_.pool, describe(error)));
    }
    runner_.finish(exit_code_for(error.code));
  }

  void on_reply(asap::ReceivedData&& d) {
    if (runner_.finished() || o_.no_reply) return;
    reply_timer_.cancel();
    const auto rtt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent_at_).count();
    log_.info(fmt::format("reply from {} ({} bytes, {:.2f} ms)", format_id(d.pool_element), d.payload.size(), rtt));
    bool ok = true;
    if (o_.json) {
      nlohmann::ordered_json j;
      j["pool"] = o_.pool;
      j["pool_element"] = d.pool_element;
      j["pool_element_hex"] = format_id(d.pool_element);
      j["ppid"] = d.ppid;
      j["stream"] = d.stream;
      j["rtt_ms"] = rtt;
      j["failovers"] = tried_;
      j["size"] = d.payload.size();
      j["reply_base64"] = base64(d.payload);
      const std::string text(reinterpret_cast<const char*>(d.payload.data()), d.payload.size());
      try {
        nlohmann::json probe = text;
        (void)probe.dump();
        j["reply"] = text;
      } catch (const nlohmann::json::exception&) {
        j["reply"] = nullptr;  // not UTF-8: reply_base64 only
      }
      const std::string line = j.dump() + "\n";
      ok = write_all(STDOUT_FILENO, std::as_bytes(std::span(line.data(), line.size())));
    } else {
      ok = write_all(STDOUT_FILENO, d.payload);
    }
    if (!ok) log_.error(std::string("writing the reply: ") + std::strerror(errno));
    (void)pu_.close_session(session_);
    runner_.finish(ok ? exit_code::ok : exit_code::io_error);
  }

  asap::PoolUser& pu_;
  Runner& runner_;
  const Options& o_;
  const Log& log_;
  ToolTimer reply_timer_;
  ToolTimer done_timer_;
  std::vector<std::byte> message_;
  milliseconds reply_timeout_{2000};
  asap::SessionId session_ = asap::kNoSession;
  asap::MessageSeq seq_ = 0;
  unsigned tried_ = 0;
  std::chrono::steady_clock::time_point sent_at_;
};

std::optional<std::vector<std::byte>> read_stdin(const Log& log) {
  std::vector<std::byte> data;
  std::byte buf[65536];
  for (;;) {
    const auto n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log.error(std::string("reading stdin: ") + std::strerror(errno));
      return std::nullopt;
    }
    if (n == 0) return data;
    data.insert(data.end(), buf, buf + n);
  }
}

void define(CLI::App& app, Options& o) {
  app.add_option("POOL", o.pool, "Pool handle to send to")->required();
  add_client_options(app, o.client, "Give up after DURATION in all (exit 124; default 10s)");
  app.add_option("-m,--message", o.message, "Send TEXT (exactly, no newline added) instead of stdin")->type_name("TEXT");
  app.add_flag("-N,--no-reply", o.no_reply, "Do not wait for a reply; exit once the message is handed to a PE");
  app.add_flag("-j,--json", o.json, "Print the reply as one JSON object (reply, reply_base64, pool_element, rtt_ms...)");
  app.add_option("--ppid", o.ppid, "SCTP payload protocol identifier of the message (not 11)")
      ->check(CLI::Range(0u, 0xffffffffu))->type_name("N");
  app.add_option("--stream", o.stream, "SCTP stream of the message")->check(CLI::Range(0, 15))->type_name("N");
  app.add_flag("-U,--unordered", o.unordered, "Send unordered");
  app.add_option("--reply-timeout", o.reply_timeout,
                 "Fail over when a PE has not answered within DURATION (default 2s)")
      ->type_name("DURATION")->check(duration_validator());
  app.add_option("--attempts", o.attempts, "Pool elements to try before giving up (default 3)")->check(CLI::Range(1u, 64u))->type_name("N");
  app.add_flag("--no-failover", o.no_failover, "Never resend the message to another pool element");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rsp-send: send one message to a pool and print the reply (RFC 5352 ASAP)", "rsp-send"};
  app.set_version_flag("-V,--version", "");
  Options o;
  define(app, o);
  Log log("rsp-send");
  if (auto rc = parse_client_arguments(app, argc, argv, o.client, log)) return *rc;
  if (o.pool.size() > kMaxPoolHandleSize) {
    log.error(fmt::format("pool handle '{}' is longer than {} bytes", o.pool, kMaxPoolHandleSize));
    return exit_code::usage;
  }
  if (o.ppid == asap::kControlPpid) {
    log.error("--ppid 11 is reserved for ASAP on data associations (RFC 5352 §5)");
    return exit_code::usage;
  }
  std::vector<std::byte> message;
  if (o.message) {
    for (char c : *o.message) message.push_back(static_cast<std::byte>(c));
  } else if (auto in = read_stdin(log)) {
    message = std::move(*in);
  } else {
    return exit_code::io_error;
  }
  if (message.empty()) return log.error("empty message (SCTP cannot carry one)"), exit_code::data_error;
  if (message.size() > 256 * 1024 - 1024) {
    log.error(fmt::format("message of {} bytes is too big (limit {} bytes)", message.size(), 255 * 1024));
    return exit_code::data_error;
  }
  const auto timeout = o.client.timeout.value_or(milliseconds(10000));
  boost::asio::io_context io;
  auto copts = make_context_options(o.client, std::min(timeout * 3 / 4, milliseconds(4000)), log);
  if (!copts) return exit_code::usage;
  copts->config.timers.failover_max_attempts = o.attempts;
  auto context = asap::Context::create(io, std::move(*copts));
  if (!context) return log.error(describe(context.error())), exit_code_for(context.error().code);
  auto pu = asap::PoolUser::create(**context);
  if (!pu) return log.error(describe(pu.error())), exit_code_for(pu.error().code);
  Runner runner(io);
  Sender sender(io, **pu, runner, o, log);
  runner.deadline(timeout, [&] {
    log.error(fmt::format("no reply from '{}' within {}", o.pool, format_duration(timeout)));
    runner.finish(exit_code::timeout);
  });
  sender.start(std::move(message));
  return runner.run();
}
