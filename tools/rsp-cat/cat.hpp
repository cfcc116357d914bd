// rsp-cat's two sides: the pool user (stdin -> pool, replies -> stdout, failover accounting)
// and the pool element (-l: sessions <-> stdin/stdout, or a command per session).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "pool_tool.hpp"

namespace rsp::tools::cat {

struct Options {
  std::string pool;
  ClientOptions client;
  bool listen = false;  // -l: be a pool element
  std::string exec;     // -e/--exec CMD (PE side)
  bool raw = false;     // chunks instead of lines
  std::size_t max_message = 16 * 1024;
  std::string quit_after_eof;  // -q DURATION
  std::string idle_timeout;    // -i DURATION
  std::size_t window = 64;     // PU: messages awaiting a reply before stdin is paused (0: none)
  std::string policy = "rr";   // PE side
  std::string local;           // PE side: --local ADDR:PORT
  std::uint32_t ppid = 0;
  std::uint16_t stream = 0;
  bool no_failover = false;

  std::optional<std::chrono::milliseconds> quit_after() const;
  std::optional<std::chrono::milliseconds> idle() const;
};

int run_pool_user(const Options& o, const Log& log);
int run_pool_element(const Options& o, const Log& log);

}  // namespace rsp::tools::cat
