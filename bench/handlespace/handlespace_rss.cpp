// Resident memory per pool element at 1M elements (one SCTP transport with two IPv4
// addresses), per policy and pool layout. Each measurement runs in a fresh child process so
// that one configuration's freed memory does not hide the next one's growth.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "rsp/handlespace/handlespace.hpp"

using namespace rsp;
using namespace rsp::handlespace;

namespace {

// Of the resident memory, how much sits in transparent huge pages.
long huge_page_bytes() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string key;
  long kb = 0;
  while (rollup >> key) {
    if (key == "AnonHugePages:") {
      rollup >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

void measure(PolicyType policy, std::size_t elements, std::size_t pools) {
  std::vector<PoolHandle> handles;
  for (std::size_t i = 0; i < pools; ++i) handles.emplace_back("Pool-" + std::to_string(i));
  PoolElementRegistration reg;
  reg.home_registrar = 0x1234;
  reg.lifetime = std::chrono::seconds(300);
  TransportAddress t;
  t.protocol = TransportProtocol::Sctp;
  t.port = 7;
  t.addresses.push_back(IpAddress::v4(10, 0, 0, 1));
  t.addresses.push_back(IpAddress::v4(172, 16, 0, 1));
  reg.user_transports.push_back(t);
  reg.policy.type = policy;

  const long before = resident_bytes();
  Handlespace hs;
  std::uint32_t x = 12345;
  for (std::size_t i = 0; i < elements; ++i) {
    x = x * 1664525u + 1013904223u;
    reg.id = static_cast<PoolElementId>(i + 1);
    reg.owner = i + 1;
    reg.policy.load = x;  // distinct loads: the least-used index's worst case
    reg.policy.weight = 1 + x % 1000;
    if (!hs.register_element(handles[i % pools], reg, TimePoint{})) std::abort();
  }
  const long after = resident_bytes();
  std::printf("%-14s %9zu PEs %5zu pool(s): %7.1f bytes/PE resident (%.0f MiB in huge pages)\n",
              std::string(policy_name(policy)).c_str(), elements, pools,
              static_cast<double>(after - before) / static_cast<double>(elements),
              static_cast<double>(huge_page_bytes()) / (1 << 20));
}

}  // namespace

int main() {
  for (PolicyType policy : {PolicyType::RoundRobin, PolicyType::Random,
                            PolicyType::WeightedRandom, PolicyType::LeastUsed}) {
    for (std::size_t pools : {std::size_t{1}, std::size_t{1000}}) {
      std::fflush(stdout);
      const pid_t child = fork();
      if (child == 0) {
        measure(policy, 1'000'000, pools);
        std::fflush(stdout);
        _exit(0);
      }
      int status = 0;
      waitpid(child, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    }
  }
  return 0;
}
