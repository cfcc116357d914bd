// The machinery under the rsp_* calls: the io lease (io_lease.hpp) over the asap layer's
// io_context and its background io thread, the table of RSerPool sockets, and the per-socket
// receive queue whose readiness an eventfd mirrors (the socket's descriptor *is* that eventfd,
// so poll(2) works on it).
//
// Threads: asap and transport objects are touched only by the holder of the io lease. An
// application thread inside an rsp_* call holds it when it can (then it sends directly and runs
// the io itself while it waits for its socket); otherwise it posts its work to the holder and
// waits on its socket's eventfd. Data crosses threads through each socket's queue, which has its
// own mutex. There is no global lock on the data path: the socket table is lock-free to read and
// the lease is taken with one compare-and-swap.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "api/io_lease.hpp"
#include "api/signal_deferral.hpp"
#include "rsp/asap.hpp"
#include "rsp/rsp.h"

namespace rsp::api {

// One entry of a socket's receive queue: user data, a cookie echo, or a notification.
struct QueuedItem {
  int msg_flags = 0;  // MSG_RSERPOOL_NOTIFICATION / MSG_RSERPOOL_COOKIE_ECHO
  rsp_sndrcvinfo info{};
  std::vector<std::byte> data;
  std::size_t offset = 0;  // bytes already returned (partial delivery)
};

// Options an application sets per socket (rsp_setsockopt), read on both threads.
struct SocketOptions {
  std::chrono::milliseconds receive_timeout{0};  // 0 = forever
  std::chrono::milliseconds send_timeout{0};
  rsp_event_subscribe events{0, 1, 1, 0, 1, 0};
  int failover_policy = RSP_FAILOVER_POLICY_AUTOMATIC;
  int confirmation = RSP_CONFIRM_REPLY_OLDEST;
  bool nonblocking = false;
  std::optional<int> profile;
  std::optional<rserpool_session_parameters> association;
  std::optional<std::chrono::milliseconds> stale_cache;
  std::size_t send_queue_limit = asap::SessionOptions::kDefaultMaxQueuedBytes;  // RSP_SNDBUF
  std::size_t receive_limit = std::size_t{1} << 20;     // RSP_RCVBUF: Socket's flow control
};

class Socket : public std::enable_shared_from_this<Socket> {
 public:
  explicit Socket(int event_fd) : fd(event_fd) {}
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  const int fd;  // the eventfd; the descriptor the application holds

  // ---- shared between threads (mutex) ----
  void push(QueuedItem item);
  // Notification of `type`, if the application subscribed to it.
  void push_notification(int type, const void* bytes, std::size_t size);
  // Pops up to `length` bytes of the front item. nullopt when the queue is empty.
  struct Piece {
    std::size_t bytes = 0;
    int msg_flags = 0;
    rsp_sndrcvinfo info{};
    // The queue went down to half the limit while receiving is paused: the caller posts
    // resume_receiving() to the lease holder (it is posted once per pause).
    bool resume_receiving = false;
  };
  std::optional<Piece> pop(void* buffer, std::size_t length, bool skip_notifications);
  void mark_closed();
  bool closed() const;

  // Receive flow control: a socket whose queue holds more than its RSP_RCVBUF (1 MiB) stops
  // taking messages from its transport (transport::Endpoint::pause_receiving), so that a peer
  // sending faster than the application reads is slowed down by SCTP instead of growing this
  // queue; it takes them again once the application has read it down to half.
  // Lease holder, in a message handler: queues a received message and pauses the transport when
  // the queue is over the limit.
  void push_received(QueuedItem item);
  // Lease holder: takes messages from the transport again if the queue is down to half.
  void resume_receiving();
  std::size_t queued_bytes() const;  // diagnostics for tests
  // Lease holder: the endpoint the socket's messages come through (nullptr before
  // rsp_register/rsp_connect).
  transport::Endpoint* data_endpoint() const;
  // A receiving thread about to run the io itself (receive_window.cpp): items that its own
  // handlers queue meanwhile do not signal the eventfd (a write now and a read when it pops
  // them); end_receive(), before its call returns, signals for whatever it leaves queued.
  void begin_receive();
  void end_receive();
  // An item is queued, or the socket was closed: what poll(2) on the eventfd says, except
  // during begin_receive()..end_receive().
  bool readable() const;
  SocketOptions options() const;
  template <typename F>
  void update_options(F&& f) {
    std::lock_guard lock(mutex_);
    f(options_);
  }

  // ---- written by the lease holder, read by callers for the asynchronous send path ----
  std::atomic<asap::SessionId> connected_session{asap::kNoSession};  // PU: rsp_connect's session
  std::atomic<bool> registered_pe{false};   // PE: registration succeeded once
  std::atomic<bool> session_failed{false};  // PU: FailoverFailed, until a failover completes
  // PU: the last send found the session's queue full (asap WouldBlock); until one succeeds,
  // sends wait for the lease holder's answer instead of being posted (calls.cpp send_impl).
  std::atomic<bool> send_blocked{false};

  // ---- lease holder only ----
  std::unique_ptr<asap::Context> own_context;  // when the socket's config differs (profile)
  std::unique_ptr<asap::PoolElement> pool_element;
  std::unique_ptr<asap::PoolUser> pool_user;
  asap::SessionId session = asap::kNoSession;  // a PU socket's own session (rsp_connect)
  std::map<PoolHandle, asap::SessionId> pool_sessions;
  std::vector<IpAddress> bind_addresses;
  std::uint16_t bind_port = 0;
  // A blocked rsp_register waits for this (errno value, 0 = registered).
  std::shared_ptr<std::promise<int>> registration_waiter;
  std::map<asap::SessionId, asap::MessageSeq> last_seq;

 private:
  mutable std::mutex mutex_;
  std::deque<QueuedItem> queue_;
  std::size_t queued_bytes_ = 0;    // of the items in queue_
  bool receiving_paused_ = false;   // the transport is paused (push_received)
  bool resume_posted_ = false;      // a Piece asked for resume_receiving()
  SocketOptions options_;
  bool closed_ = false;
  bool signalled_ = false;       // the eventfd counter is 1
  std::thread::id receiver_;     // begin_receive()'s thread, until end_receive()
  void signal_locked();
  void drain_locked();
};

class Runtime {
 public:
  static Runtime* get() noexcept { return instance_.load(std::memory_order_acquire); }
  static int initialize(const rsp_info* info);
  static void cleanup();

  boost::asio::io_context& io() noexcept { return io_; }
  IoLease& lease() noexcept { return lease_; }
  asap::Context& context() noexcept { return *context_; }
  const asap::ContextOptions& context_options() const noexcept { return options_; }

  // Runs f with the io lease and returns its result: in this thread when it can take the lease
  // (or holds it already), else on the thread that holds it (posted; this thread waits).
  template <typename F>
  auto call(F&& f) -> std::invoke_result_t<F&> {
    using R = std::invoke_result_t<F&>;
    {
      const IoLease::Guard guard = lease_.take();
      if (guard.held()) {
        const SignalDeferral signals;  // threads the asap layer starts must not take signals
        return f();
      }
    }
    // f runs on the lease holder's thread: an errno it sets (a call's error) must reach the
    // caller, whose errno is its own thread's (errno is thread-local).
    std::promise<R> promise;
    auto future = promise.get_future();
    int error = 0;
    lease_.post([&] {
      const int saved = errno;
      errno = 0;
      if constexpr (std::is_void_v<R>) {
        f();
        error = errno;
        errno = saved;
        promise.set_value();
      } else {
        R result = f();
        error = errno;
        errno = saved;
        promise.set_value(std::move(result));
      }
    });
    if constexpr (std::is_void_v<R>) {
      future.get();
      if (error != 0) errno = error;
    } else {
      R result = future.get();
      if (error != 0) errno = error;
      return result;
    }
  }

  // The caller is about to block on something the io produces (a registration, a resolution):
  // the io thread takes the lease now instead of after the grace period.
  void about_to_block() { lease_.hand_over(); }

  // A blocking receive's fast window (receive_window.cpp): runs the io in this thread until the
  // socket is readable, `deadline` passes or the window (kReceiveWindow) ends, or a signal the
  // caller takes is pending (Interrupted); Busy when another application thread holds the
  // lease. The caller has deferred signals, and calls socket.end_receive() before it returns.
  enum class Wait { Ready, Interrupted, WindowOver, Busy };
  Wait run_until_readable(Socket& socket, std::chrono::steady_clock::time_point deadline,
                          const SignalDeferral& signals);
  static constexpr std::chrono::milliseconds kReceiveWindow{20};
  // A call that waits for the io to make progress (a blocking send whose session queue is full,
  // rsp_close's graceful shutdown): runs the io in this thread for up to 10 ms (or until
  // `deadline`), or sleeps 1 ms while another application thread holds the lease and runs it;
  // Interrupted when a signal the caller takes is pending, else WindowOver.
  Wait run_io_briefly(std::chrono::steady_clock::time_point deadline, const SignalDeferral& signals);
  // Tests: a longer window makes the fast path observable (signals, close from another thread).
  void set_receive_window(std::chrono::milliseconds window) { receive_window_ms_ = window.count(); }

  // ---- socket table (lock-free lookups) ----
  std::shared_ptr<Socket> find(int fd) const;
  void insert(const std::shared_ptr<Socket>& socket);
  void erase(int fd);
  std::vector<std::shared_ptr<Socket>> all_sockets() const;

  // A pool user for calls without a PU socket (rsp_getpoolinfo(-1), rsp_getaddrinfo): lease holder.
  asap::PoolUser* utility_pool_user();
  // Registrations made with rsp_pe_registration (lease holder).
  std::map<std::pair<PoolHandle, PoolElementId>, std::unique_ptr<asap::PoolElement>>
      sidecar_elements;

 private:
  Runtime() = default;
  void stop_io_thread();
  static constexpr std::size_t kChunkBits = 10;
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;
  static constexpr std::size_t kChunks = 1024;  // descriptors below 1M
  struct Chunk {
    std::atomic<std::shared_ptr<Socket>> slots[kChunkSize];
  };

  static std::atomic<Runtime*> instance_;
  boost::asio::io_context io_;
  IoLease lease_{io_};
  std::atomic<std::chrono::milliseconds::rep> receive_window_ms_{kReceiveWindow.count()};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  asap::ContextOptions options_;
  std::unique_ptr<asap::Context> context_;
  std::unique_ptr<asap::PoolUser> utility_pool_user_;
  std::atomic<Chunk*> chunks_[kChunks] = {};
  std::mutex chunk_alloc_mutex_;  // only when a new chunk of 1024 descriptors is first needed
  std::vector<std::unique_ptr<Chunk>> chunk_owners_;
};

// ---- conversions (convert.cpp) ----
int to_errno(asap::AsapErrc code) noexcept;
int to_errno(const asap::AsapError& error) noexcept;
// Sets errno and returns -1.
int fail(int error) noexcept;
std::optional<IpAddress> ip_from_sockaddr(const sockaddr* address, std::uint16_t* port = nullptr);
// Writes `address:port` into `out` (sockaddr_in or sockaddr_in6); returns its length.
socklen_t sockaddr_from_ip(const IpAddress& address, std::uint16_t port, sockaddr_storage& out);
PolicyInfo policy_from_loadinfo(const rsp_loadinfo* info);
rsp_loadinfo loadinfo_from_policy(const PolicyInfo& policy);
std::chrono::milliseconds from_timeval(const timeval& tv);
timeval to_timeval(std::chrono::milliseconds ms);
PoolHandle pool_handle_of(const unsigned char* bytes, std::size_t size);
bool valid_pool_handle(const unsigned char* bytes, std::size_t size);

// ---- asap glue, run by the lease holder (socket_events.cpp) ----
// The Context a socket's asap objects use: its own when its options ask for another profile
// or association parameters, else the runtime's.
asap::Context* context_for(Runtime& runtime, Socket& socket);
asap::PoolUserHandlers pool_user_handlers(const std::shared_ptr<Socket>& socket);
asap::PoolElementHandlers pool_element_handlers(const std::shared_ptr<Socket>& socket);

}  // namespace rsp::api
