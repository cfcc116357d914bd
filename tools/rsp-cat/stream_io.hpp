// Byte streams for rsp-cat: reading a file descriptor on the io_context with pause/resume
// (pipes, terminals, sockets through asio; regular files by plain reads), cutting the bytes into
// messages (lines or raw chunks), and writing to a descriptor in order (write_all, for a blocking
// write of everything, is pool_tool.hpp's).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace rsp::tools::cat {

// Cuts a byte stream into messages. Lines: each message ends with '\n' (the newline is part of
// it, so the bytes are unchanged end to end); a line longer than `max` goes out in pieces of
// `max`. Raw: every read is one message (at most `max` bytes). finish() flushes the last piece.
class Framer {
 public:
  Framer(bool lines, std::size_t max) : lines_(lines), max_(max) {}
  void feed(std::span<const std::byte> data, const std::function<void(std::span<const std::byte>)>& emit);
  void finish(const std::function<void(std::span<const std::byte>)>& emit);

 private:
  bool lines_;
  std::size_t max_;
  std::vector<std::byte> pending_;
};

// Reads `fd` on the io_context. Before each read it asks `ready()`; while that says no it checks
// again every 2 ms (flow control). `on_data` gets each chunk, `on_end` EOF or an error (errno,
// 0 for EOF). The reader owns a dup of `fd`.
class FdReader {
 public:
  FdReader(boost::asio::io_context& io, int fd, std::size_t chunk);
  ~FdReader();
  void start(std::function<bool()> ready, std::function<void(std::span<const std::byte>)> on_data,
             std::function<void(int error)> on_end);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Writes to `fd` asynchronously, in order; `on_error` gets errno (EPIPE when the reader left).
// close() closes the descriptor after the queued data is written.
class FdWriter {
 public:
  FdWriter(boost::asio::io_context& io, int fd, std::function<void(int error)> on_error);
  ~FdWriter();
  void write(std::span<const std::byte> data);
  void close();
  std::size_t queued() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rsp::tools::cat
