// CPU time of processes for the benchmarks' per-message CPU counters (client_cpu_us,
// server_cpu_us, pu_cpu_us ...): user + system seconds.
#pragma once

#include <sys/resource.h>
#include <sys/time.h>

namespace rsp::bench {

// User + system seconds of a getrusage(2)/wait4(2) result.
inline double cpu_seconds(const rusage& usage) {
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// This process, all its threads.
inline double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return cpu_seconds(usage);
}

}  // namespace rsp::bench
