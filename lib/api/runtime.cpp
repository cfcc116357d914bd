// Runtime start/stop, the socket table, and the per-socket queue mirrored by an eventfd.
#include "api/runtime.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "rsp/transport/payload_pool.hpp"

namespace rsp::api {

std::atomic<Runtime*> Runtime::instance_{nullptr};

namespace {
std::mutex& init_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

// ---------------------------------------------------------------- Socket

Socket::~Socket() { ::close(fd); }

void Socket::signal_locked() {
  if (signalled_) return;
  const std::uint64_t one = 1;
  // The counter only ever goes 0 -> 1 here and back to 0 in drain_locked, so the write cannot
  // block or overflow.
  [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
  signalled_ = true;
}

void Socket::drain_locked() {
  if (!signalled_) return;
  std::uint64_t value = 0;
  [[maybe_unused]] const auto n = ::read(fd, &value, sizeof value);  // EFD_NONBLOCK
  signalled_ = false;
}

void Socket::push(QueuedItem item) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  queued_bytes_ += item.data.size();
  queue_.push_back(std::move(item));
  // The thread that runs the io while it waits on this socket takes the item itself before it
  // returns; end_receive() makes the eventfd right for what it leaves.
  if (receiver_ != std::this_thread::get_id()) signal_locked();
}

void Socket::push_received(QueuedItem item) {
  push(std::move(item));
  {
    std::lock_guard lock(mutex_);
    if (receiving_paused_ || closed_ || queued_bytes_ <= options_.receive_limit) return;
    receiving_paused_ = true;
  }
  if (auto* endpoint = data_endpoint()) endpoint->pause_receiving(true);
}

void Socket::resume_receiving() {
  {
    std::lock_guard lock(mutex_);
    resume_posted_ = false;
    if (!receiving_paused_ || queued_bytes_ > options_.receive_limit / 2) return;
    receiving_paused_ = false;
  }
  if (auto* endpoint = data_endpoint()) endpoint->pause_receiving(false);
}

std::size_t Socket::queued_bytes() const {
  std::lock_guard lock(mutex_);
  return queued_bytes_;
}

transport::Endpoint* Socket::data_endpoint() const {
  if (pool_element) return pool_element->data_endpoint();
  if (pool_user) return pool_user->data_endpoint();
  return nullptr;
}

void Socket::begin_receive() {
  std::lock_guard lock(mutex_);
  receiver_ = std::this_thread::get_id();
}

void Socket::end_receive() {
  std::lock_guard lock(mutex_);
  if (receiver_ != std::this_thread::get_id()) return;
  receiver_ = std::thread::id();
  if (!queue_.empty() || closed_) signal_locked();
}

void Socket::push_notification(int type, const void* bytes, std::size_t size) {
  {
    std::lock_guard lock(mutex_);
    const auto& e = options_.events;
    const bool wanted = (type == RSERPOOL_SESSION_CHANGE && e.rsp_session_change_event) ||
                        (type == RSERPOOL_FAILOVER && e.rsp_failover_event) ||
                        (type == RSERPOOL_SHUTDOWN_EVENT && e.rsp_shutdown_event) ||
                        (type == RSERPOOL_REGISTRAR_CHANGE && e.rsp_registrar_event) ||
                        (type == RSERPOOL_MESSAGE_STATUS && e.rsp_message_status_event) ||
                        (type == RSERPOOL_REGISTRATION && e.rsp_registration_event);
    if (!wanted) return;
  }
  QueuedItem item;
  item.msg_flags = MSG_RSERPOOL_NOTIFICATION;
  item.data.resize(size);
  std::memcpy(item.data.data(), bytes, size);
  push(std::move(item));
}

std::optional<Socket::Piece> Socket::pop(void* buffer, std::size_t length,
                                         bool skip_notifications) {
  std::lock_guard lock(mutex_);
  // rsp_read/rsp_recv return user data only: notifications and cookie echoes are skipped.
  while (!queue_.empty() && skip_notifications && queue_.front().msg_flags != 0) {
    queued_bytes_ -= queue_.front().data.size();
    queue_.pop_front();
  }
  if (queue_.empty()) {
    drain_locked();
    return std::nullopt;
  }
  QueuedItem& item = queue_.front();
  const std::size_t remaining = item.data.size() - item.offset;
  Piece piece;
  piece.info = item.info;
  piece.msg_flags = item.msg_flags;
  // Notifications are never split: a too-small buffer gets the start, MSG_TRUNC says so.
  const bool notification = (item.msg_flags & MSG_RSERPOOL_NOTIFICATION) != 0;
  piece.bytes = std::min(remaining, length);
  if (piece.bytes > 0) std::memcpy(buffer, item.data.data() + item.offset, piece.bytes);
  if (piece.bytes == remaining || notification) {
    piece.msg_flags |= MSG_EOR;
    if (piece.bytes < remaining) piece.msg_flags |= MSG_TRUNC;
    queued_bytes_ -= item.data.size();
    // Copied out: the storage serves a later received message (transport/payload_pool.hpp).
    transport::recycle_payload(std::move(item.data));
    queue_.pop_front();
    if (receiving_paused_ && !resume_posted_ && queued_bytes_ <= options_.receive_limit / 2) {
      resume_posted_ = true;
      piece.resume_receiving = true;
    }
    if (queue_.empty()) drain_locked();
  } else {
    item.offset += piece.bytes;  // SCTP-style partial delivery: the rest comes next
  }
  return piece;
}

void Socket::mark_closed() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  signal_locked();  // wakes blocked receivers, which then see closed()
}

bool Socket::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

bool Socket::readable() const {
  std::lock_guard lock(mutex_);
  return closed_ || !queue_.empty();
}

SocketOptions Socket::options() const {
  std::lock_guard lock(mutex_);
  return options_;
}

// ---------------------------------------------------------------- Runtime: table

std::shared_ptr<Socket> Runtime::find(int fd) const {
  if (fd < 0) return nullptr;
  const auto index = static_cast<std::size_t>(fd);
  if (index >= kChunks * kChunkSize) return nullptr;
  Chunk* chunk = chunks_[index >> kChunkBits].load(std::memory_order_acquire);
  if (chunk == nullptr) return nullptr;
  return chunk->slots[index & (kChunkSize - 1)].load(std::memory_order_acquire);
}

void Runtime::insert(const std::shared_ptr<Socket>& socket) {
  const auto index = static_cast<std::size_t>(socket->fd);
  auto& slot = chunks_[index >> kChunkBits];
  Chunk* chunk = slot.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    std::lock_guard lock(chunk_alloc_mutex_);
    chunk = slot.load(std::memory_order_acquire);
    if (chunk == nullptr) {
      chunk_owners_.push_back(std::make_unique<Chunk>());
      chunk = chunk_owners_.back().get();
      slot.store(chunk, std::memory_order_release);
    }
  }
  chunk->slots[index & (kChunkSize - 1)].store(socket, std::memory_order_release);
}

void Runtime::erase(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (fd < 0 || index >= kChunks * kChunkSize) return;
  Chunk* chunk = chunks_[index >> kChunkBits].load(std::memory_order_acquire);
  if (chunk != nullptr) chunk->slots[index & (kChunkSize - 1)].store(nullptr);
}

std::vector<std::shared_ptr<Socket>> Runtime::all_sockets() const {
  std::vector<std::shared_ptr<Socket>> result;
  for (const auto& c : chunks_) {
    Chunk* chunk = c.load(std::memory_order_acquire);
    if (chunk == nullptr) continue;
    for (const auto& s : chunk->slots) {
      if (auto socket = s.load()) result.push_back(std::move(socket));
    }
  }
  return result;
}

asap::PoolUser* Runtime::utility_pool_user() {
  if (!utility_pool_user_) {
    auto created = asap::PoolUser::create(*context_);
    if (!created) return nullptr;
    utility_pool_user_ = std::move(*created);
  }
  return utility_pool_user_.get();
}

void Runtime::stop_io_thread() {
  lease_.stop();
  thread_.join();
  work_.reset();
  io_.stop();
}

// ---------------------------------------------------------------- Runtime: configuration

namespace {

asap::AsapConfig config_from_info(const rsp_info* info) {
  int profile = info != nullptr ? static_cast<int>(info->ri_profile) : RSP_PROFILE_DEFAULT;
  if (const char* env = std::getenv("RSP_PROFILE");
      env != nullptr && std::string_view(env) == "low-latency") {
    profile = RSP_PROFILE_LOW_LATENCY;
  }
  asap::AsapConfig config =
      profile == RSP_PROFILE_LOW_LATENCY ? asap::low_latency_config() : asap::default_config();
  if (info == nullptr) return config;
  for (const rsp_registrar_info* r = info->ri_registrars; r != nullptr; r = r->rri_next) {
    TransportAddress address;
    const auto* bytes = reinterpret_cast<const unsigned char*>(r->rri_addr);
    for (std::size_t i = 0; i < r->rri_addrs && bytes != nullptr; ++i) {
      const auto* sa = reinterpret_cast<const sockaddr*>(bytes);
      std::uint16_t port = 0;
      if (auto ip = ip_from_sockaddr(sa, &port)) {
        address.addresses.push_back(*ip);
        if (address.port == 0) address.port = port == 0 ? wire::kAsapPort : port;
      }
      bytes += sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    }
    if (!address.addresses.empty()) config.source.registrars.push_back(std::move(address));
  }
  if (info->ri_disable_autoconfig != 0) config.source.use_announcements = false;
  if (info->ri_registrar_announce != nullptr) {
    std::uint16_t port = 0;
    if (auto ip = ip_from_sockaddr(info->ri_registrar_announce, &port)) {
      config.source.announce_group = *ip;
      if (port != 0) config.source.announce_port = port;
    }
  }
  using std::chrono::milliseconds;
  auto& t = config.timers;
  if (info->ri_registrar_announce_timeout != 0)
    t.announce_timeout = milliseconds(info->ri_registrar_announce_timeout);
  if (info->ri_registrar_connect_timeout != 0)
    t.server_hunt_timeout = milliseconds(info->ri_registrar_connect_timeout);
  if (info->ri_registrar_connect_max_trials != 0)
    t.server_hunt_rounds = info->ri_registrar_connect_max_trials;
  if (info->ri_registrar_request_timeout != 0) {
    t.request_timeout = milliseconds(info->ri_registrar_request_timeout);
    t.registration_timeout = t.request_timeout;
    t.deregistration_timeout = t.request_timeout;
  }
  if (info->ri_registrar_response_timeout != 0)
    t.request_timeout = milliseconds(info->ri_registrar_response_timeout);
  if (info->ri_registrar_request_max_trials != 0)
    t.max_request_retransmit = info->ri_registrar_request_max_trials;
  return config;
}

}  // namespace

int Runtime::initialize(const rsp_info* info) {
  std::lock_guard lock(init_mutex());
  if (instance_.load() != nullptr) return 0;
  std::unique_ptr<Runtime> runtime(new Runtime());
  runtime->options_.config = config_from_info(info);
  runtime->work_.emplace(boost::asio::make_work_guard(runtime->io_));
  Runtime* r = runtime.get();
  // The io thread takes no signals: they belong to the application's threads (a SIGTERM must
  // interrupt the application's blocking rsp_recvmsg, not the io loop).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  r->thread_ = std::thread([r] { r->lease_.run_io_thread(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  auto created = r->call([r] { return asap::Context::create(r->io_, r->options_); });
  if (!created) {
    r->stop_io_thread();
    return fail(to_errno(created.error()));
  }
  r->context_ = std::move(*created);
  instance_.store(runtime.release(), std::memory_order_release);
  return 0;
}

void Runtime::cleanup() {
  std::lock_guard lock(init_mutex());
  Runtime* r = instance_.load();
  if (r == nullptr) return;
  for (const auto& socket : r->all_sockets()) rsp_close(socket->fd);
  instance_.store(nullptr, std::memory_order_release);
  r->call([r] {
    r->sidecar_elements.clear();
    r->utility_pool_user_.reset();
    r->context_.reset();
  });
  r->stop_io_thread();
  delete r;  // the instance was released from its unique_ptr in initialize()
}

}  // namespace rsp::api
