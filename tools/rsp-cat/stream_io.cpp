#include "stream_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <deque>

namespace rsp::tools::cat {

namespace asio = boost::asio;

void Framer::feed(std::span<const std::byte> data, const std::function<void(std::span<const std::byte>)>& emit) {
  if (!lines_) {
    while (!data.empty()) {
      const auto n = std::min(data.size(), max_);
      emit(data.first(n));
      data = data.subspan(n);
    }
    return;
  }
  while (!data.empty()) {
    const auto nl = std::find(data.begin(), data.end(), std::byte{'\n'});
    const std::size_t upto = nl == data.end() ? data.size() : static_cast<std::size_t>(nl - data.begin()) + 1;
    const std::size_t n = std::min(upto, max_ - pending_.size());
    const bool complete_line = nl != data.end() && n == upto;
    pending_.insert(pending_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    data = data.subspan(n);
    if (complete_line || pending_.size() == max_) {
      emit(pending_);
      pending_.clear();
    }
  }
}

void Framer::finish(const std::function<void(std::span<const std::byte>)>& emit) {
  if (!pending_.empty()) emit(pending_);
  pending_.clear();
}

// ---- FdReader ----

struct FdReader::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, int fd, std::size_t chunk) : io(io), stream(io), timer(io), buffer(chunk) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    boost::system::error_code ec;
    stream.assign(copy, ec);  // regular files cannot be polled: plain reads then
    if (ec) {
      plain_fd = copy;
      stream.release();
    }
  }
  ~Impl() {
    if (plain_fd >= 0) ::close(plain_fd);
  }
  asio::io_context& io;
  asio::posix::stream_descriptor stream;
  asio::steady_timer timer;
  int plain_fd = -1;
  std::vector<std::byte> buffer;
  std::function<bool()> ready;
  std::function<void(std::span<const std::byte>)> on_data;
  std::function<void(int)> on_end;
  bool stopped = false;

  void next() {
    if (stopped) return;
    if (ready && !ready()) {
      timer.expires_after(std::chrono::milliseconds(2));
      timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->next();
      });
      return;
    }
    if (plain_fd >= 0) {
      asio::post(io, [self = shared_from_this()] {
        if (self->stopped) return;
        const auto n = ::read(self->plain_fd, self->buffer.data(), self->buffer.size());
        if (n < 0 && errno == EINTR) return self->next();
        if (n <= 0) return self->end(n == 0 ? 0 : errno);
        self->on_data(std::span(self->buffer.data(), static_cast<std::size_t>(n)));
        self->next();
      });
      return;
    }
    stream.async_read_some(asio::buffer(buffer), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
      if (self->stopped) return;
      if (n > 0) self->on_data(std::span(self->buffer.data(), n));
      if (ec) return self->end(ec == asio::error::eof ? 0 : ec.value());
      self->next();
    });
  }
  void end(int error) {
    stopped = true;
    if (on_end) on_end(error);
  }
};

FdReader::FdReader(asio::io_context& io, int fd, std::size_t chunk) : impl_(std::make_shared<Impl>(io, fd, chunk)) {}
FdReader::~FdReader() { stop(); }
void FdReader::start(std::function<bool()> ready, std::function<void(std::span<const std::byte>)> on_data,
                     std::function<void(int)> on_end) {
  impl_->ready = std::move(ready);
  impl_->on_data = std::move(on_data);
  impl_->on_end = std::move(on_end);
  impl_->next();
}
void FdReader::stop() {
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->timer.cancel();
  if (impl_->stream.is_open()) impl_->stream.cancel(ec);
}

// ---- FdWriter ----

struct FdWriter::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, int fd) : stream(io, fd) {}
  asio::posix::stream_descriptor stream;
  std::deque<std::vector<std::byte>> queue;
  std::size_t bytes = 0;
  bool writing = false;
  bool closing = false;
  bool failed = false;
  std::function<void(int)> on_error;

  void pump() {
    if (writing || failed) return;
    if (queue.empty()) {
      if (closing && stream.is_open()) {
        boost::system::error_code ec;
        stream.close(ec);
      }
      return;
    }
    writing = true;
    asio::async_write(stream, asio::buffer(queue.front()), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
      self->writing = false;
      if (ec) {
        self->failed = true;
        if (self->on_error && ec != asio::error::operation_aborted) self->on_error(ec.value());
        return;
      }
      self->bytes -= self->queue.front().size();
      self->queue.pop_front();
      self->pump();
    });
  }
};

FdWriter::FdWriter(asio::io_context& io, int fd, std::function<void(int)> on_error)
    : impl_(std::make_shared<Impl>(io, fd)) {
  impl_->on_error = std::move(on_error);
}
FdWriter::~FdWriter() {
  impl_->on_error = nullptr;
  boost::system::error_code ec;
  if (impl_->stream.is_open()) impl_->stream.close(ec);
}
void FdWriter::write(std::span<const std::byte> data) {
  if (impl_->closing || impl_->failed) return;
  impl_->queue.emplace_back(data.begin(), data.end());
  impl_->bytes += data.size();
  impl_->pump();
}
void FdWriter::close() {
  impl_->closing = true;
  impl_->pump();
}
std::size_t FdWriter::queued() const { return impl_->bytes; }

}  // namespace rsp::tools::cat
