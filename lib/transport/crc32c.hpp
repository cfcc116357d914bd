// CRC32c (Castagnoli) for SCTP packets (RFC 4960 §6.8, Appendix B), with the SSE4.2 crc32
// instruction where the CPU has it. usrsctp's own table-driven CRC was the largest single cost
// in the benchmark, so the usrsctp backend offloads the checksum to this code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rsp::transport {

// The CRC32c of `length` bytes (initial value ~0, final complement): crc32c("123456789") ==
// 0xe3069283.
std::uint32_t crc32c(const void* data, std::size_t length) noexcept;

// RFC 4960 §6.8: computes the checksum over the packet with its checksum field (bytes 8-11)
// as zero and stores it there, least significant byte first (Appendix B's bit order).
void sctp_set_checksum(void* packet, std::size_t length) noexcept;
// True when the stored checksum matches. `packet` is left unchanged.
bool sctp_checksum_ok(void* packet, std::size_t length) noexcept;

}  // namespace rsp::transport
