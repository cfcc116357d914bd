#include "rsp/registrar/config.hpp"

namespace rsp::registrar {

std::string_view to_string(AddressScope scope) noexcept {
  switch (scope) {
    case AddressScope::Loopback: return "loopback";
    case AddressScope::LinkLocal: return "link-local";
    case AddressScope::SiteLocal: return "site-local";
    case AddressScope::Global: return "global";
  }
  return "global";
}

std::optional<AddressScope> parse_address_scope(std::string_view text) noexcept {
  if (text == "loopback") return AddressScope::Loopback;
  if (text == "link-local") return AddressScope::LinkLocal;
  if (text == "site-local") return AddressScope::SiteLocal;
  if (text == "global") return AddressScope::Global;
  return std::nullopt;
}

AddressScope scope_of(const IpAddress& a) noexcept {
  const auto& b = a.bytes;
  if (a.is_v4()) {
    if (b[0] == 127) return AddressScope::Loopback;
    if (b[0] == 169 && b[1] == 254) return AddressScope::LinkLocal;
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
        (b[0] == 100 && (b[1] & 0xc0) == 64))
      return AddressScope::SiteLocal;
    return AddressScope::Global;
  }
  bool loopback = b[15] == 1;
  for (int i = 0; i < 15 && loopback; ++i) loopback = b[i] == 0;
  if (loopback) return AddressScope::Loopback;
  // ::ffff:a.b.c.d carries an IPv4 address: its scope is the IPv4 one.
  bool mapped = b[10] == 0xff && b[11] == 0xff;
  for (int i = 0; i < 10 && mapped; ++i) mapped = b[i] == 0;
  if (mapped) return scope_of(IpAddress::v4(b[12], b[13], b[14], b[15]));
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressScope::LinkLocal;
  if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)) return AddressScope::SiteLocal;
  return AddressScope::Global;
}

bool is_unspecified(const IpAddress& a) noexcept {
  const std::size_t n = a.is_v4() ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i)
    if (a.bytes[i] != 0) return false;
  return true;
}

Timers fast_timers() noexcept {
  Timers t;
  t.keepalive_interval = std::chrono::milliseconds(1000);
  t.keepalive_timeout = std::chrono::milliseconds(1000);
  t.announce_interval = std::chrono::milliseconds(250);
  return t;
}

}  // namespace rsp::registrar
