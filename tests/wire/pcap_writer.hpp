// A pcap file of SCTP DATA chunks in hand-built Ethernet/IPv4/SCTP frames, for having tshark
// decode what the codec encodes. One message per frame, PPID as given, correct CRC32c
// (RFC 4960 §6.8, Appendix B) and IPv4 header checksum.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace rsp::wire::testing {

inline std::uint32_t crc32c(const std::vector<std::uint8_t>& data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xffffffffu;
  for (auto b : data) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

class PcapWriter {
 public:
  void add(std::uint32_t ppid, const std::vector<std::byte>& payload) {
    std::vector<std::uint8_t> sctp;
    put16(sctp, 40000);  // source port: not an ASAP/ENRP port, so tshark goes by the PPID
    put16(sctp, 40001);
    put32(sctp, 0x01020304);  // verification tag
    put32(sctp, 0);           // checksum, filled in below
    // DATA chunk (RFC 4960 §3.3.1): B and E set, one unfragmented message.
    sctp.push_back(0);
    sctp.push_back(0x03);
    put16(sctp, static_cast<std::uint16_t>(16 + payload.size()));
    put32(sctp, 1000 + tsn_);  // TSN
    put16(sctp, 0);            // stream
    put16(sctp, static_cast<std::uint16_t>(tsn_));
    put32(sctp, ppid);
    for (auto b : payload) sctp.push_back(static_cast<std::uint8_t>(b));
    while (sctp.size() % 4) sctp.push_back(0);
    // RFC 4960 Appendix B: the CRC32c goes into the packet least significant byte first.
    const auto crc = crc32c(sctp);
    for (int i = 0; i < 4; ++i) sctp[8 + i] = static_cast<std::uint8_t>(crc >> (8 * i));

    std::vector<std::uint8_t> ip;
    ip.push_back(0x45);
    ip.push_back(0);
    put16(ip, static_cast<std::uint16_t>(20 + sctp.size()));
    put16(ip, static_cast<std::uint16_t>(tsn_));
    put16(ip, 0x4000);  // DF
    ip.push_back(64);
    ip.push_back(132);  // SCTP
    put16(ip, 0);
    for (int b : {10, 0, 0, 1, 10, 0, 0, 2}) ip.push_back(static_cast<std::uint8_t>(b));
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < ip.size(); i += 2) sum += (ip[i] << 8) | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    const auto check = static_cast<std::uint16_t>(~sum);
    ip[10] = static_cast<std::uint8_t>(check >> 8);
    ip[11] = static_cast<std::uint8_t>(check & 0xff);

    std::vector<std::uint8_t> frame;
    for (int b : {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}) frame.push_back(static_cast<std::uint8_t>(b));
    put16(frame, 0x0800);
    frame.insert(frame.end(), ip.begin(), ip.end());
    frame.insert(frame.end(), sctp.begin(), sctp.end());
    frames_.push_back(std::move(frame));
    ++tsn_;
  }

  bool write(const std::string& path) const {
    std::vector<std::uint8_t> out;
    put32le(out, 0xa1b2c3d4);  // pcap magic, microsecond timestamps
    put16le(out, 2);
    put16le(out, 4);
    put32le(out, 0);
    put32le(out, 0);
    put32le(out, 65535);
    put32le(out, 1);  // LINKTYPE_ETHERNET
    std::uint32_t second = 1700000000;
    for (const auto& f : frames_) {
      put32le(out, second++);
      put32le(out, 0);
      put32le(out, static_cast<std::uint32_t>(f.size()));
      put32le(out, static_cast<std::uint32_t>(f.size()));
      out.insert(out.end(), f.begin(), f.end());
    }
    std::ofstream file(path, std::ios::binary);
    file.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    return static_cast<bool>(file);
  }

 private:
  static void put16(std::vector<std::uint8_t>& o, std::uint16_t v) {
    o.push_back(static_cast<std::uint8_t>(v >> 8));
    o.push_back(static_cast<std::uint8_t>(v));
  }
  static void put32(std::vector<std::uint8_t>& o, std::uint32_t v) {
    put16(o, static_cast<std::uint16_t>(v >> 16));
    put16(o, static_cast<std::uint16_t>(v));
  }
  static void put16le(std::vector<std::uint8_t>& o, std::uint16_t v) {
    o.push_back(static_cast<std::uint8_t>(v));
    o.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  static void put32le(std::vector<std::uint8_t>& o, std::uint32_t v) {
    put16le(o, static_cast<std::uint16_t>(v));
    put16le(o, static_cast<std::uint16_t>(v >> 16));
  }
  std::vector<std::vector<std::uint8_t>> frames_;
  std::uint32_t tsn_ = 0;
};

}  // namespace rsp::wire::testing
