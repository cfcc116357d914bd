// The association of a PE or PU with "its" registrar (RFC 5352 §3.6 ENRP server hunt) and the
// request/response bookkeeping on it (T1/T2/T3 timers, MAX-REQUEST-RETRANSMIT).
//
// Hunt: candidates come from Context::registrars() at the start of each round, the registrar that
// failed last moved to the end. One candidate at a time gets T5-Serverhunt to bring the
// association up; CannotStart, Lost or the timer moves to the next. After a round without success
// the channel waits server_hunt_retry_delay (or until the Context learns a new registrar), and
// after server_hunt_rounds rounds it fails the requests waiting for a registrar with NoRegistrar.
//
// Requests: a request waits for an association, is sent, and its timer runs. SCTP is reliable,
// so a timeout means the registrar is unresponsive: the channel drops that registrar (RegistrarLost),
// hunts the next and sends the request again there, at most MAX-REQUEST-RETRANSMIT times; then
// the request fails with Timeout. A request whose registrar association is lost is resent the
// same way.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <optional>

#include "rsp/asap/context.hpp"
#include "rsp/asap/error.hpp"
#include "rsp/transport/endpoint.hpp"
#include "rsp/wire/messages.hpp"

namespace rsp::asap::detail {

class RegistrarChannel {
 public:
  struct Handlers {
    std::function<void(const TransportAddress&)> on_found;
    std::function<void(const TransportAddress&)> on_lost;
    // Messages that answer no pending request (ENDPOINT_KEEP_ALIVE, ...), with the association
    // they came on (a registrar taking over may open its own, RFC 5352 §3.7).
    std::function<void(transport::AssociationId, const TransportAddress&, wire::AsapMessage&&)> on_unsolicited;
    // server_hunt_rounds rounds passed without reaching a registrar.
    std::function<void()> on_hunt_exhausted;
  };
  using Matcher = std::function<bool(const wire::AsapMessage&)>;
  using Completion = std::function<void(AsapResult<wire::AsapMessage>)>;
  // Adjusts a request for the registrar it is about to be sent to (e.g. the PE's addresses as
  // seen from that registrar); called before every (re)transmission.
  using Prepare = std::function<void(wire::AsapMessage&, const TransportAddress& registrar)>;

  // listen: accept associations from registrars (a PE's ASAP endpoint, for keep-alives after a
  // takeover).
  static AsapResult<std::unique_ptr<RegistrarChannel>> open(Context& context, bool listen);
  ~RegistrarChannel();
  RegistrarChannel(const RegistrarChannel&) = delete;
  RegistrarChannel& operator=(const RegistrarChannel&) = delete;

  void set_handlers(Handlers handlers) { handlers_ = std::move(handlers); }
  // Keep hunting after the round limit (a PE that must stay registered).
  void set_persistent(bool persistent);

  // Sends `message` to the registrar and completes with the first message `match` accepts.
  // Returns an id for cancel().
  std::uint64_t request(const wire::AsapMessage& message, Matcher match,
                        std::chrono::milliseconds timeout, Completion done, Prepare prepare = {});
  void cancel(std::uint64_t request_id);
  // Fire-and-forget on the current association; false when there is none (nothing queued).
  bool send(const wire::AsapMessage& message);
  bool send_on(transport::AssociationId association, const wire::AsapMessage& message);
  // Makes another live association the current one (keep-alive with the H flag).
  void adopt(transport::AssociationId association, const TransportAddress& peer);
  // Starts the hunt when not connected or connecting.
  void hunt();

  bool connected() const noexcept { return state_ == State::Connected; }
  std::optional<TransportAddress> current() const;
  transport::Endpoint& endpoint() noexcept { return *endpoint_; }

 private:
  enum class State { Idle, Connecting, Connected, Waiting };
  struct Request {
    std::uint64_t id = 0;
    wire::AsapMessage message;
    Prepare prepare;
    Matcher match;
    std::chrono::milliseconds timeout{};
    unsigned retransmissions = 0;
    bool sent = false;
    std::unique_ptr<Timer> timer;
    Completion done;
  };

  RegistrarChannel(Context& context, std::unique_ptr<transport::Endpoint> endpoint);
  void start_round();
  void try_next();
  void round_failed();
  void on_association(const transport::AssociationEvent& event);
  void on_message(transport::ReceivedMessage&& message);
  void connected_to(transport::AssociationId association, const TransportAddress& peer);
  void lose_current(bool abort);
  void flush();
  void on_timeout(std::uint64_t id);
  void complete(std::list<Request>::iterator it, AsapResult<wire::AsapMessage> result);
  void fail_waiting(AsapErrc code, const std::string& why);
  void on_error_message(const wire::asap::ErrorMessage& error);

  Context& context_;
  std::unique_ptr<transport::Endpoint> endpoint_;
  Handlers handlers_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::uint64_t listener_token_ = 0;

  State state_ = State::Idle;
  bool persistent_ = false;
  bool kick_pending_ = false;
  std::vector<TransportAddress> candidates_;
  std::size_t next_candidate_ = 0;
  unsigned rounds_ = 0;
  TimePoint hunt_started_{};  // start of the current hunt (round 0)
  std::optional<TransportAddress> last_failed_;
  transport::AssociationId association_ = 0;
  TransportAddress peer_;
  std::unique_ptr<Timer> hunt_timer_;

  std::list<Request> requests_;
  std::uint64_t next_request_ = 1;
};

}  // namespace rsp::asap::detail
