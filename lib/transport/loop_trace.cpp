#include "rsp/transport/loop_trace.hpp"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace rsp::transport::loop_trace {
namespace {

// Enough for minutes of a loaded registrar; beyond it records are dropped (counted).
constexpr std::size_t kMaxRecords = std::size_t{1} << 22;

struct State {
  bool checked = false;
  bool on = false;
  std::string path;
  std::vector<Record> records;
  std::uint64_t dropped = 0;
};

State& state() {
  static State s;
  return s;
}

void write_file() {
  auto& s = state();
  if (s.path.empty()) return;
  std::FILE* f = std::fopen(s.path.c_str(), "w");
  if (f == nullptr) return;
  std::fprintf(f, "# kind t_ns rx_ns dur_ns count (kind 0 wakeup, 1 message, 2 sctp tick, 3 timer); dropped %llu\n",
               static_cast<unsigned long long>(s.dropped));
  for (const auto& r : s.records)
    std::fprintf(f, "%u %lld %lld %lld %u\n", static_cast<unsigned>(r.kind),
                 static_cast<long long>(r.t_ns), static_cast<long long>(r.rx_ns),
                 static_cast<long long>(r.dur_ns), r.count);
  std::fclose(f);
}

}  // namespace

bool enabled() noexcept {
  auto& s = state();
  if (!s.checked) {
    s.checked = true;
    if (const char* p = std::getenv("RSP_LOOP_TRACE"); p != nullptr && *p != '\0') {
      s.path = p;
      s.on = true;
      s.records.reserve(std::size_t{1} << 18);
      std::atexit(write_file);
    }
  }
  return s.on;
}

void enable() {
  auto& s = state();
  s.checked = true;
  s.on = true;
  s.records.reserve(std::size_t{1} << 18);
}

void disable() {
  auto& s = state();
  s.checked = true;
  s.on = false;
}

void record(const Record& r) noexcept {
  auto& s = state();
  if (s.records.size() >= kMaxRecords) {
    ++s.dropped;
    return;
  }
  s.records.push_back(r);
}

std::int64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

const std::vector<Record>& records() noexcept { return state().records; }
void clear() noexcept { state().records.clear(); }

}  // namespace rsp::transport::loop_trace
