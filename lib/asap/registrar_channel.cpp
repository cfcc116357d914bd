#include "registrar_channel.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

#include "rsp/wire/codec.hpp"

namespace rsp::asap::detail {

using transport::AssociationEventKind;

namespace {

bool same_address(const TransportAddress& a, const TransportAddress& b) {
  if (a.port != b.port) return false;
  for (const auto& x : a.addresses) {
    if (std::find(b.addresses.begin(), b.addresses.end(), x) != b.addresses.end()) return true;
  }
  return false;
}

}  // namespace

AsapResult<std::unique_ptr<RegistrarChannel>> RegistrarChannel::open(Context& context, bool listen) {
  transport::EndpointOptions options;
  options.listen = listen;
  options.parameters = context.config().registrar_association;
  options.backend = context.config().backend;
  auto endpoint = context.open_endpoint(options);
  if (!endpoint) {
    return make_error(AsapErrc::TransportError,
                      "cannot open the ASAP endpoint: " + endpoint.error().message);
  }
  return std::unique_ptr<RegistrarChannel>(new RegistrarChannel(context, std::move(*endpoint)));
}

RegistrarChannel::RegistrarChannel(Context& context, std::unique_ptr<transport::Endpoint> endpoint)
    : context_(context), endpoint_(std::move(endpoint)), hunt_timer_(context.time().make_timer()) {
  transport::EndpointHandlers h;
  h.on_association = [this](const transport::AssociationEvent& e) { on_association(e); };
  h.on_message = [this](transport::ReceivedMessage&& m) { on_message(std::move(m)); };
  endpoint_->set_handlers(std::move(h));
  listener_token_ = context_.add_registrar_listener([this] {
    // A newly announced registrar ends a wait between hunt rounds at once.
    if (state_ == State::Waiting) {
      hunt_timer_->cancel();
      start_round();
    }
  });
}

RegistrarChannel::~RegistrarChannel() {
  context_.remove_registrar_listener(listener_token_);
  alive_.reset();
  endpoint_->close();
}

void RegistrarChannel::set_persistent(bool persistent) { persistent_ = persistent; }

std::optional<TransportAddress> RegistrarChannel::current() const {
  if (state_ != State::Connected) return std::nullopt;
  return peer_;
}

void RegistrarChannel::hunt() {
  if (state_ != State::Idle || kick_pending_) return;
  // Started from the io_context, never inside the caller: a hunt that fails at once would
  // otherwise complete requests inside request().
  kick_pending_ = true;
  boost::asio::post(context_.io(), [this, weak = std::weak_ptr<int>(alive_)] {
    if (weak.expired()) return;
    kick_pending_ = false;
    if (state_ == State::Idle) {
      rounds_ = 0;
      hunt_started_ = context_.time().now();
      start_round();
    }
  });
}

void RegistrarChannel::start_round() {
  candidates_.clear();
  for (auto& r : context_.registrars()) candidates_.push_back(std::move(r.address));
  if (last_failed_) {
    // RFC 5352 §3.6: prefer another registrar than the one that just failed.
    std::stable_partition(candidates_.begin(), candidates_.end(),
                          [&](const TransportAddress& a) { return !same_address(a, *last_failed_); });
  }
  next_candidate_ = 0;
  try_next();
}

void RegistrarChannel::try_next() {
  while (next_candidate_ < candidates_.size()) {
    const auto& candidate = candidates_[next_candidate_++];
    auto id = endpoint_->connect(candidate);
    if (!id) continue;
    state_ = State::Connecting;
    association_ = *id;
    peer_ = candidate;
    hunt_timer_->start(context_.config().timers.server_hunt_timeout, [this, id = *id] {
      // T5-Serverhunt expired: give up on this candidate.
      if (state_ != State::Connecting || association_ != id) return;
      (void)endpoint_->abort(id);
      last_failed_ = peer_;
      try_next();
    });
    return;
  }
  round_failed();
}

void RegistrarChannel::round_failed() {
  const auto& timers = context_.config().timers;
  const auto announce_source = context_.announce_source();
  state_ = State::Waiting;
  if (candidates_.empty() && announce_source) {
    // RFC 5352 §3.6: nothing configured and nothing announced yet. A registrar that announces
    // is heard within T7-ENRPoutdate (an announcement is valid that long, and registrars repeat
    // theirs every announce cycle), so wait that long from the start of the hunt for one (an
    // announcement ends the wait at once); hunt rounds would give up after a retry delay,
    // before a registrar announcing once a second had a chance.
    const auto waited = context_.time().now() - hunt_started_;
    if (waited < timers.announce_timeout) {
      hunt_timer_->start(timers.announce_timeout - waited, [this] {
        if (state_ == State::Waiting) start_round();
      });
      return;
    }
    // Silence for that long: give up now rather than after further rounds.
    if (timers.server_hunt_rounds > 0) rounds_ = std::max(rounds_, timers.server_hunt_rounds - 1);
  }
  ++rounds_;
  const std::weak_ptr<int> alive = alive_;
  if (rounds_ >= timers.server_hunt_rounds) {
    fail_waiting(AsapErrc::NoRegistrar,
                 !candidates_.empty() ? "no registrar answered (" + std::to_string(candidates_.size()) +
                                            " tried, " + std::to_string(rounds_) + " rounds)"
                 : announce_source    ? "no registrar configured, none announced on " + *announce_source
                                     : "no registrar configured or announced");
    if (alive.expired()) return;
    if (rounds_ == context_.config().timers.server_hunt_rounds && handlers_.on_hunt_exhausted) {
      handlers_.on_hunt_exhausted();
    }
    if (alive.expired()) return;
  }
  const bool waiting_requests = std::any_of(requests_.begin(), requests_.end(),
                                            [](const Request& r) { return !r.sent; });
  if (!persistent_ && !waiting_requests && rounds_ >= context_.config().timers.server_hunt_rounds) {
    state_ = State::Idle;
    return;
  }
  hunt_timer_->start(context_.config().timers.server_hunt_retry_delay, [this] {
    if (state_ == State::Waiting) start_round();
  });
}

void RegistrarChannel::on_association(const transport::AssociationEvent& e) {
  switch (e.kind) {
    case AssociationEventKind::Up:
    case AssociationEventKind::Restart:
      if (state_ == State::Connecting && e.association == association_) {
        hunt_timer_->cancel();
        connected_to(e.association, e.peer.addresses.size() != 0 ? e.peer : peer_);
      }
      return;
    case AssociationEventKind::CannotStart:
    case AssociationEventKind::Lost:
    case AssociationEventKind::ShutdownComplete:
      if (e.association != association_) return;
      if (state_ == State::Connecting) {
        hunt_timer_->cancel();
        last_failed_ = peer_;
        try_next();
      } else if (state_ == State::Connected) {
        lose_current(false);
      }
      return;
  }
}

void RegistrarChannel::connected_to(transport::AssociationId association, const TransportAddress& peer) {
  state_ = State::Connected;
  association_ = association;
  // Keep the address we dialled: it is the one configured/announced (the event's may differ).
  if (peer_.addresses.size() == 0) peer_ = peer;
  rounds_ = 0;
  last_failed_.reset();
  const std::weak_ptr<int> alive = alive_;
  if (handlers_.on_found) handlers_.on_found(peer_);
  if (alive.expired()) return;
  flush();
}

void RegistrarChannel::lose_current(bool abort) {
  const auto lost = peer_;
  if (abort) (void)endpoint_->abort(association_);
  state_ = State::Idle;
  last_failed_ = lost;
  // Requests in flight go again to the next registrar (counted as retransmissions).
  for (auto& r : requests_) {
    if (r.sent) {
      r.sent = false;
      r.timer->cancel();
    }
  }
  const std::weak_ptr<int> alive = alive_;
  if (handlers_.on_lost) handlers_.on_lost(lost);
  if (alive.expired()) return;
  if (persistent_ || !requests_.empty()) hunt();
}

void RegistrarChannel::adopt(transport::AssociationId association, const TransportAddress& peer) {
  if (state_ == State::Connected && association == association_) return;
  if (state_ == State::Connecting) (void)endpoint_->abort(association_);
  // The former registrar is no longer ours: close its association gracefully.
  if (state_ == State::Connected) (void)endpoint_->shutdown(association_);
  hunt_timer_->cancel();
  peer_ = peer;
  connected_to(association, peer);
}

std::uint64_t RegistrarChannel::request(const wire::AsapMessage& message, Matcher match,
                                        std::chrono::milliseconds timeout, Completion done,
                                        Prepare prepare) {
  Request r;
  r.id = next_request_++;
  r.message = message;
  r.prepare = std::move(prepare);
  r.match = std::move(match);
  r.timeout = timeout;
  r.timer = context_.time().make_timer();
  r.done = std::move(done);
  requests_.push_back(std::move(r));
  const auto id = requests_.back().id;
  if (state_ == State::Connected) {
    flush();
  } else {
    hunt();
  }
  return id;
}

void RegistrarChannel::cancel(std::uint64_t request_id) {
  std::erase_if(requests_, [&](const Request& r) { return r.id == request_id; });
}

void RegistrarChannel::flush() {
  for (auto& r : requests_) {
    if (r.sent || state_ != State::Connected) continue;
    transport::SendInfo info;
    info.ppid = wire::kAsapPpid;
    std::vector<std::byte> bytes;
    if (r.prepare) {
      auto adjusted = r.message;
      r.prepare(adjusted, peer_);
      bytes = wire::encode(adjusted);
    } else {
      bytes = wire::encode(r.message);
    }
    if (!endpoint_->send(association_, bytes, info)) continue;  // retried after the next loss/up
    r.sent = true;
    r.timer->start(r.timeout, [this, id = r.id] { on_timeout(id); });
  }
}

void RegistrarChannel::on_timeout(std::uint64_t id) {
  auto it = std::find_if(requests_.begin(), requests_.end(), [&](const Request& r) { return r.id == id; });
  if (it == requests_.end()) return;
  if (++it->retransmissions > context_.config().timers.max_request_retransmit) {
    complete(it, make_error(AsapErrc::Timeout,
                            "no answer from a registrar after " +
                                std::to_string(context_.config().timers.max_request_retransmit + 1) +
                                " attempts"));
    return;
  }
  // RFC 5352 §3.6: an unresponsive registrar is given up; the request goes to the next one.
  if (state_ == State::Connected) lose_current(true);
}

void RegistrarChannel::complete(std::list<Request>::iterator it, AsapResult<wire::AsapMessage> result) {
  auto done = std::move(it->done);
  requests_.erase(it);
  if (done) done(std::move(result));
}

void RegistrarChannel::fail_waiting(AsapErrc code, const std::string& why) {
  const std::weak_ptr<int> alive = alive_;
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->sent) {
      ++it;
      continue;
    }
    auto done = std::move(it->done);
    it = requests_.erase(it);
    if (done) done(make_error(code, why));
    if (alive.expired()) return;
  }
}

bool RegistrarChannel::send(const wire::AsapMessage& message) {
  if (state_ != State::Connected) return false;
  return send_on(association_, message);
}

bool RegistrarChannel::send_on(transport::AssociationId association, const wire::AsapMessage& message) {
  transport::SendInfo info;
  info.ppid = wire::kAsapPpid;
  return endpoint_->send(association, wire::encode(message), info).has_value();
}

void RegistrarChannel::on_message(transport::ReceivedMessage&& m) {
  if (m.ppid != wire::kAsapPpid) return;
  auto decoded = wire::decode_asap(m.payload);
  if (!decoded) return;  // RFC 5352 §3: malformed messages are dropped
  if (auto* error = std::get_if<wire::asap::ErrorMessage>(&*decoded)) {
    on_error_message(*error);
    return;
  }
  for (auto it = requests_.begin(); it != requests_.end(); ++it) {
    if (it->sent && it->match(*decoded)) {
      complete(it, std::move(*decoded));
      return;
    }
  }
  if (handlers_.on_unsolicited) handlers_.on_unsolicited(m.association, m.peer, std::move(*decoded));
}

// RFC 5352 §2.2.14: the registrar could not process something we sent; the Operation Error
// parameter says why (RFC 5354 §3.12). An ERROR answers the request it is about, so that request
// fails with the causes rather than waiting for MAX-REQUEST-RETRANSMIT timeouts. When a cause
// echoes the offending message (Unrecognized Message, RFC 5354 §3.12.2), its type picks the
// request; otherwise the oldest request in flight (one association, delivered in order).
void RegistrarChannel::on_error_message(const wire::asap::ErrorMessage& error) {
  std::string why = "the registrar answered with ASAP ERROR";
  std::optional<std::byte> echoed_type;
  for (std::size_t i = 0; i < error.error.causes.size(); ++i) {
    const auto& cause = error.error.causes[i];
    why += (i == 0 ? ": " : ", ") + std::string(wire::to_string(cause.code));
    if (cause.code == wire::CauseCode::UnrecognizedMessage && !cause.info.empty()) echoed_type = cause.info[0];
  }
  auto target = requests_.end();
  for (auto it = requests_.begin(); it != requests_.end(); ++it) {
    if (!it->sent) continue;
    if (echoed_type) {
      const auto bytes = wire::encode(it->message);
      if (bytes.empty() || bytes[0] != *echoed_type) continue;
    }
    target = it;
    break;
  }
  if (target != requests_.end()) {
    complete(target, make_error(AsapErrc::ProtocolError, why));
    return;
  }
  // Nothing pending it could be about (e.g. an ENDPOINT_UNREACHABLE or keep-alive ack the
  // registrar did not understand): those are fire-and-forget, nothing to fail or retry.
  if (handlers_.on_unsolicited) {
    handlers_.on_unsolicited(association_, peer_, wire::AsapMessage{error});
  }
}

}  // namespace rsp::asap::detail
