#include "rsp/transport/payload_pool.hpp"

#include <mutex>
#include <utility>

namespace rsp::transport {
namespace {

struct Pool {
  std::mutex mutex;
  std::vector<std::vector<std::byte>> buffers;  // the most recently recycled last
};

Pool& pool() {
  static Pool* p = [] {  // never destroyed: endpoints may deliver during static teardown
    auto* created = new Pool;
    created->buffers.reserve(kPooledBuffers);
    return created;
  }();
  return *p;
}

}  // namespace

std::vector<std::byte> copy_payload(std::span<const std::byte> data) {
  if (data.size() >= kMinPooled && data.size() <= kMaxPooled) {
    std::vector<std::byte> buffer;
    {
      Pool& p = pool();
      std::lock_guard lock(p.mutex);
      // Newest first: the warmest in cache. The pool is short, a scan is cheap.
      for (auto it = p.buffers.rbegin(); it != p.buffers.rend(); ++it) {
        if (it->capacity() >= data.size()) {
          buffer = std::move(*it);
          p.buffers.erase(std::next(it).base());
          break;
        }
      }
    }
    if (buffer.capacity() >= data.size()) {
      buffer.assign(data.begin(), data.end());  // within capacity: no allocation
      return buffer;
    }
  }
  return std::vector<std::byte>(data.begin(), data.end());
}

void recycle_payload(std::vector<std::byte>&& buffer) noexcept {
  if (buffer.capacity() < kMinPooled || buffer.capacity() > kMaxPooled) return;
  Pool& p = pool();
  std::vector<std::byte> keep = std::move(buffer);
  std::lock_guard lock(p.mutex);
  if (p.buffers.size() >= kPooledBuffers) return;  // `keep` is freed after the unlock
  p.buffers.push_back(std::move(keep));
}

}  // namespace rsp::transport
