// Child processes for the multi-process API tests: started with fork/exec, stdout read line by
// line with a bound, killed (SIGKILL) and reaped on every exit path — by the destructor, and by
// the kernel (PR_SET_PDEATHSIG) if the test process itself dies.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "rsp/rsp.h"

namespace rsp::api::test {

class Child {
 public:
  // `input`, when given, is the child's whole stdin (small: it must fit the pipe buffer).
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
        std::optional<std::string> input = std::nullopt) {
    int out[2];
    int in[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    if (input && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(out[1], 1);
      if (input) ::dup2(in[0], 0);
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    if (input) {
      ::close(in[0]);
      [[maybe_unused]] const auto n = ::write(in[1], input->data(), input->size());
      ::close(in[1]);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  // The next line of the child's stdout, or nullopt after `timeout` or at EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // Reads lines until one starts with `prefix`; returns it.
  std::optional<std::string> wait_for(const std::string& prefix, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto line = read_line(left);
      if (!line) return std::nullopt;
      if (line->rfind(prefix, 0) == 0) return line;
    }
  }
  // Waits (bounded) until a SIGSTOP sent to the child took effect: kill(2) returns before the
  // child's threads stop, and until they all have, its SCTP stack may still acknowledge what
  // arrives. The parent learns of the stop once the whole thread group stopped (WUNTRACED).
  bool wait_stopped(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
      if (r == pid_ && WIFSTOPPED(status)) return true;
      if (r == pid_) {  // it exited instead
        pid_ = -1;
        return false;
      }
      pollfd p{out_, POLLIN, 0};
      ::poll(&p, 1, 2);  // a short tick; what the child printed meanwhile is kept
      char sink[512];
      if (p.revents & POLLIN) {
        const ssize_t n = ::read(out_, sink, sizeof sink);
        if (n > 0) buffer_.append(sink, static_cast<std::size_t>(n));
      }
    }
    return false;
  }
  // Waits for the child to exit (bounded); returns its exit status or nullopt.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pollfd p{out_, POLLIN, 0};
      ::poll(&p, 1, 20);  // the pipe reaches EOF when the child exits; else a short tick
      char sink[512];
      if (p.revents & POLLIN) {
        const ssize_t n = ::read(out_, sink, sizeof sink);
        if (n > 0) buffer_.append(sink, static_cast<std::size_t>(n));
      }
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

// A UDP port that is free now on 127.0.0.1 (the usrsctp backend binds its SCTP port's number
// over UDP; kernel SCTP uses the same number). Ports are drawn from the kernel's ephemeral range.
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  return ntohs(sin.sin_port);
}

#ifdef RSP_REGISTRAR_BIN
// The rsp-registrar the API tests run: on 127.0.0.1:`port`, no announcements, no status socket,
// loopback addresses accepted, the fast timers.
inline std::vector<std::string> registrar_argv(std::uint16_t port, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{RSP_REGISTRAR_BIN, "-l", "127.0.0.1:" + std::to_string(port),
                                "--no-announce", "--no-status-socket", "--min-address-scope",
                                "loopback", "--no-address-check", "--fast"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}
#endif

// One registrar on 127.0.0.1:`port` as rsp_info's static list (`entry` points into this object,
// which must stay put while rsp_initialize reads it).
struct LoopbackRegistrar {
  explicit LoopbackRegistrar(std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    static_assert(sizeof sin <= sizeof storage);
    __builtin_memcpy(&storage, &sin, sizeof sin);
    entry.rri_addr = reinterpret_cast<sockaddr*>(&storage);
    entry.rri_addrs = 1;
  }
  LoopbackRegistrar(const LoopbackRegistrar&) = delete;
  LoopbackRegistrar& operator=(const LoopbackRegistrar&) = delete;
  sockaddr_storage storage{};
  rsp_registrar_info entry{};
};

}  // namespace rsp::api::test
