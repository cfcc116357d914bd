// Buffers for received payloads, reused instead of freed and allocated again.
//
// An endpoint copies each received message into a buffer of its own (ReceivedMessage::payload).
// A consumer that queues messages before the application reads them (the rsp_* API's socket
// queue) frees them in another order than they were allocated; for buffers of 1 KiB and more,
// beyond malloc's per-thread cache, that costs the allocator more than a buffer freed in the
// handler that got it. Such a consumer hands a payload back once it has copied it out
// (recycle_payload), and the endpoints take their next buffer from here (copy_payload).
// Thread-safe (the io lease holder takes, the application thread recycles); bounded: at most
// kPooledBuffers buffers of kMinPooled..kMaxPooled bytes of capacity are kept.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace rsp::transport {

inline constexpr std::size_t kMinPooled = 1024;
inline constexpr std::size_t kMaxPooled = 64 * 1024;
inline constexpr std::size_t kPooledBuffers = 32;

// A buffer holding a copy of `data`: a pooled one with room for it when there is one.
std::vector<std::byte> copy_payload(std::span<const std::byte> data);
// Keeps `buffer`'s storage for a later copy_payload (or frees it when the pool is full or its
// capacity is outside kMinPooled..kMaxPooled).
void recycle_payload(std::vector<std::byte>&& buffer) noexcept;

}  // namespace rsp::transport
