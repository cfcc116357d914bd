// Independent check of the encoder: every sample message goes into a pcap as an SCTP DATA
// chunk (PPID 11 for ASAP, 12 for ENRP) and tshark (Wireshark's packet-asap.c/packet-enrp.c)
// decodes it. tshark must name each message type, show every key field with the value we
// encoded and nothing more, verify the SCTP CRC32c, and raise no expert info or malformed flag.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <variant>

#include "pcap_writer.hpp"
#include "rsp/wire/codec.hpp"
#include "samples.hpp"

using namespace rsp;
using namespace rsp::wire;

namespace {

// tshark -T fields output of one frame: field name -> all occurrences, in tree order.
using Fields = std::map<std::string, std::vector<std::string>>;

// Fields compared after the protocol prefix ("asap." / "enrp."). Doubles are compared with a
// tolerance, everything else as text.
const std::set<std::string> kDoubleFields = {
    "pool_member_selection_policy_load", "pool_member_selection_policy_degradation",
    "pool_member_selection_policy_load_dpf", "pool_member_selection_policy_weight_dpf"};
const std::vector<std::string> kCommonFields = {
    "message_type",
    "pool_handle_pool_handle",
    "pool_element_pe_identifier",
    "pool_element_home_enrp_server_identifier",
    "pool_element_registration_life",
    "pe_identifier",
    "ipv4_address",
    "ipv6_address",
    "sctp_transport_port",
    "tcp_transport_port",
    "udp_transport_port",
    "udp_lite_transport_port",
    "dccp_transport_port",
    "dccp_transport_service_code",
    "transport_use",
    "pool_member_selection_policy_type",
    "pool_member_selection_policy_weight",
    "pool_member_selection_policy_priority",
    "pool_member_selection_policy_load",
    "pool_member_selection_policy_degradation",
    "pool_member_selection_policy_load_dpf",
    "pool_member_selection_policy_weight_dpf",
    "pool_member_selection_policy_distance",
    "pool_member_selection_policy_value",
    "cause_code",
    "cookie",
    "pe_checksum",
    "r_bit",
};
const std::vector<std::string> kAsapFields = {"server_identifier", "hropt_items", "h_bit"};
const std::vector<std::string> kEnrpFields = {
    "sender_servers_id", "receiver_servers_id", "target_servers_id",
    "server_information_server_identifier", "update_action", "w_bit", "m_bit", "t_bit"};

std::string hex32(std::uint32_t v) { return fmt::format("0x{:08x}", v); }
std::string hex_bytes(std::span<const std::byte> b) {
  std::string s;
  for (auto x : b) s += fmt::format("{:02x}", static_cast<unsigned>(x));
  return s;
}
std::string percent(std::uint32_t v) { return fmt::format("{:.9f}", 100.0 * v / 0xffffffff); }
std::string fraction(std::uint32_t v) { return fmt::format("{:.12f}", v / double(0xffffffff)); }

// What tshark should show for a message, built by walking our typed value.
class Expected {
 public:
  explicit Expected(std::string prefix) : prefix_(std::move(prefix)) {}
  Fields fields;

  void add(const std::string& field, std::string value) {
    fields[prefix_ + field].push_back(std::move(value));
  }
  void handle(const PoolHandle& h) {
    add("pool_handle_pool_handle",
        hex_bytes(std::as_bytes(std::span(h.view().data(), h.view().size()))));
  }
  void address(const IpAddress& a) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(a.is_v4() ? AF_INET : AF_INET6, a.bytes.data(), text, sizeof text);
    add(a.is_v4() ? "ipv4_address" : "ipv6_address", text);
  }
  void transport(const TransportAddress& t) {
    const char* port = "sctp_transport_port";
    switch (t.protocol) {
      case TransportProtocol::Sctp: port = "sctp_transport_port"; break;
      case TransportProtocol::Tcp: port = "tcp_transport_port"; break;
      case TransportProtocol::Udp: port = "udp_transport_port"; break;
      case TransportProtocol::UdpLite: port = "udp_lite_transport_port"; break;
      case TransportProtocol::Dccp: port = "dccp_transport_port"; break;
    }
    add(port, std::to_string(t.port));
    if (t.protocol == TransportProtocol::Sctp || t.protocol == TransportProtocol::Tcp) {
      add("transport_use", std::to_string(static_cast<unsigned>(t.use)));
    }
    if (t.protocol == TransportProtocol::Dccp) {
      add("dccp_transport_service_code", std::to_string(t.dccp_service_code));
    }
    for (const auto& a : t.addresses) address(a);
  }
  void policy(const PolicyInfo& p) {
    add("pool_member_selection_policy_type", hex32(static_cast<std::uint32_t>(p.type)));
    const std::string f = "pool_member_selection_policy_";
    switch (p.type) {
      case PolicyType::RoundRobin:
      case PolicyType::Random: break;
      case PolicyType::WeightedRoundRobin:
      case PolicyType::WeightedRandom: add(f + "weight", std::to_string(p.weight)); break;
      case PolicyType::Priority: add(f + "priority", std::to_string(p.priority)); break;
      case PolicyType::LeastUsed:
      case PolicyType::RandomizedLeastUsed: add(f + "load", percent(p.load)); break;
      case PolicyType::LeastUsedWithDegradation:
      case PolicyType::PriorityLeastUsed:
        add(f + "load", percent(p.load));
        add(f + "degradation", percent(p.load_degradation));
        break;
      case PolicyType::LeastUsedDpf:
        add(f + "load", percent(p.load));
        add(f + "load_dpf", fraction(p.load_dpf));
        add(f + "distance", std::to_string(p.distance));
        break;
      case PolicyType::WeightedRandomDpf:
        add(f + "weight", std::to_string(p.weight));
        add(f + "weight_dpf", fraction(p.weight_dpf));
        add(f + "distance", std::to_string(p.distance));
        break;
      default: {
        // Types tshark 4.0 does not dissect: it shows the raw values, which must be the
        // fields in RSPLIB's order.
        std::vector<std::byte> tlv;
        encode_policy(p, tlv);
        const std::size_t length = (static_cast<unsigned>(tlv[2]) << 8) | static_cast<unsigned>(tlv[3]);
        if (length > 8) add(f + "value", hex_bytes(std::span(tlv).subspan(8, length - 8)));
      }
    }
  }
  void pool_element(const PoolElement& pe) {
    add("pool_element_pe_identifier", hex32(pe.id));
    add("pool_element_home_enrp_server_identifier", hex32(pe.home_registrar_id));
    add("pool_element_registration_life", std::to_string(pe.registration_life.count()));
    transport(pe.user_transport);
    policy(pe.policy);
    if (pe.asap_transport) transport(*pe.asap_transport);
  }
  void error(const OperationError& e) {
    for (const auto& c : e.causes) {
      add("cause_code", fmt::format("0x{:04x}", static_cast<unsigned>(c.code)));
      // The samples echo a PE identifier TLV, which tshark dissects inside the cause.
      if (c.info.size() == 8 && c.info[1] == std::byte{0x0e}) {
        add("pe_identifier", hex32((static_cast<std::uint32_t>(c.info[4]) << 24) |
                                   (static_cast<std::uint32_t>(c.info[5]) << 16) |
                                   (static_cast<std::uint32_t>(c.info[6]) << 8) |
                                   static_cast<std::uint32_t>(c.info[7])));
      }
    }
  }
  void bit(const char* name, bool v) { add(name, v ? "1" : "0"); }

 private:
  std::string prefix_;
};

Expected expected_for(const AsapMessage& m) {
  Expected e("asap.");
  e.add("message_type", std::to_string(static_cast<unsigned>(message_type(m))));
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, asap::Registration>) {
          e.handle(msg.pool_handle);
          e.pool_element(msg.pool_element);
        } else if constexpr (std::is_same_v<T, asap::RegistrationResponse>) {
          e.bit("r_bit", msg.rejected);
          e.handle(msg.pool_handle);
          e.add("pe_identifier", hex32(msg.pe_id));
          if (msg.error) e.error(*msg.error);
        } else if constexpr (std::is_same_v<T, asap::DeregistrationResponse>) {
          e.handle(msg.pool_handle);
          e.add("pe_identifier", hex32(msg.pe_id));
          if (msg.error) e.error(*msg.error);
        } else if constexpr (std::is_same_v<T, asap::Deregistration> ||
                             std::is_same_v<T, asap::EndpointKeepAliveAck> ||
                             std::is_same_v<T, asap::EndpointUnreachable>) {
          e.handle(msg.pool_handle);
          e.add("pe_identifier", hex32(msg.pe_id));
        } else if constexpr (std::is_same_v<T, asap::HandleResolution>) {
          e.handle(msg.pool_handle);
          if (msg.option) e.add("hropt_items", std::to_string(msg.option->items));
        } else if constexpr (std::is_same_v<T, asap::HandleResolutionResponse>) {
          e.handle(msg.pool_handle);
          if (msg.overall_policy) e.policy(*msg.overall_policy);
          for (const auto& pe : msg.pool_elements) e.pool_element(pe);
          if (msg.error) e.error(*msg.error);
        } else if constexpr (std::is_same_v<T, asap::EndpointKeepAlive>) {
          e.bit("h_bit", msg.home);
          e.add("server_identifier", hex32(msg.server_id));
          e.handle(msg.pool_handle);
          e.add("pe_identifier", hex32(msg.pe_id));
        } else if constexpr (std::is_same_v<T, asap::ServerAnnounce>) {
          e.add("server_identifier", hex32(msg.server_id));
          for (const auto& t : msg.transports) e.transport(t);
        } else if constexpr (std::is_same_v<T, asap::Cookie> ||
                             std::is_same_v<T, asap::CookieEcho>) {
          e.add("cookie", hex_bytes(msg.cookie));
        } else if constexpr (std::is_same_v<T, asap::BusinessCard>) {
          e.handle(msg.pool_handle);
          for (const auto& pe : msg.pool_elements) e.pool_element(pe);
        } else if constexpr (std::is_same_v<T, asap::ErrorMessage>) {
          e.error(msg.error);
        }
      },
      m);
  return e;
}

Expected expected_for(const EnrpMessage& m) {
  Expected e("enrp.");
  e.add("message_type", std::to_string(static_cast<unsigned>(message_type(m))));
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, enrp::Presence>) e.bit("r_bit", msg.reply_required);
        if constexpr (std::is_same_v<T, enrp::HandleTableRequest>) {
          e.bit("w_bit", msg.own_children_only);
        }
        if constexpr (std::is_same_v<T, enrp::HandleTableResponse>) {
          e.bit("m_bit", msg.more_to_send);
          e.bit("r_bit", msg.rejected);
        }
        if constexpr (std::is_same_v<T, enrp::HandleUpdate>) e.bit("t_bit", msg.takeover_suggested);
        if constexpr (std::is_same_v<T, enrp::ListResponse>) e.bit("r_bit", msg.rejected);
        e.add("sender_servers_id", hex32(msg.sender_id));
        e.add("receiver_servers_id", hex32(msg.receiver_id));
        if constexpr (std::is_same_v<T, enrp::Presence>) {
          e.add("pe_checksum", fmt::format("0x{:04x}", msg.checksum));
          if (msg.server_information) {
            e.add("server_information_server_identifier",
                  hex32(msg.server_information->server_id));
            e.transport(msg.server_information->transport);
          }
        } else if constexpr (std::is_same_v<T, enrp::HandleTableResponse>) {
          for (const auto& pool : msg.pools) {
            e.handle(pool.pool_handle);
            for (const auto& pe : pool.pool_elements) e.pool_element(pe);
          }
        } else if constexpr (std::is_same_v<T, enrp::HandleUpdate>) {
          e.add("update_action", std::to_string(static_cast<unsigned>(msg.action)));
          e.handle(msg.pool_handle);
          e.pool_element(msg.pool_element);
        } else if constexpr (std::is_same_v<T, enrp::ListResponse>) {
          for (const auto& s : msg.servers) {
            e.add("server_information_server_identifier", hex32(s.server_id));
            e.transport(s.transport);
          }
        } else if constexpr (std::is_same_v<T, enrp::InitTakeover> ||
                             std::is_same_v<T, enrp::InitTakeoverAck> ||
                             std::is_same_v<T, enrp::TakeoverServer>) {
          e.add("target_servers_id", hex32(msg.target_id));
        } else if constexpr (std::is_same_v<T, enrp::ErrorMessage>) {
          e.error(msg.error);
        }
      },
      m);
  return e;
}

// Wireshark's names for the message types (packet-asap.c / packet-enrp.c value strings).
const char* const kAsapNames[] = {"ASAP Registration", "ASAP Deregistration",
                                  "ASAP Registration Response", "ASAP Deregistration Response",
                                  "ASAP Handle Resolution", "ASAP Handle Resolution Response",
                                  "ASAP Endpoint Keep-Alive",
                                  "ASAP Endpoint Keep-Alive Acknowledgement",
                                  "ASAP Endpoint Unreachable", "ASAP Server Announce",
                                  "ASAP Cookie", "ASAP Cookie Echo", "ASAP Business Card",
                                  "ASAP Error"};
const char* const kEnrpNames[] = {"ENRP Presence", "ENRP Handle Table Request",
                                  "ENRP Handle Table Response", "ENRP Handle Update",
                                  "ENRP List Request", "ENRP List Response",
                                  "ENRP Init Takeover", "ENRP Init Takeover Ack",
                                  "ENRP Takeover Server", "ENRP Error"};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

bool same_value(const std::string& field, const std::string& want, const std::string& got) {
  const auto dot = field.find('.');
  if (kDoubleFields.count(field.substr(dot + 1)) == 0) return want == got;
  const double w = std::stod(want), g = std::stod(got);
  return std::fabs(w - g) <= 1e-9 * std::max(1.0, std::fabs(w));
}

}  // namespace

TEST_CASE("tshark decodes every encoded ASAP and ENRP message with the values we encoded") {
  const auto asap_messages = samples::all_asap();
  const auto enrp_messages = samples::all_enrp();
  testing::PcapWriter pcap;
  std::vector<Expected> expected;
  std::vector<std::string> names;
  for (const auto& m : asap_messages) {
    pcap.add(kAsapPpid, encode(m));
    expected.push_back(expected_for(m));
    names.push_back(kAsapNames[static_cast<unsigned>(message_type(m)) - 1]);
  }
  for (const auto& m : enrp_messages) {
    pcap.add(kEnrpPpid, encode(m));
    expected.push_back(expected_for(m));
    names.push_back(kEnrpNames[static_cast<unsigned>(message_type(m)) - 1]);
  }
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("rsp-wire-tshark-{}.pcap", ::getpid());
  REQUIRE(pcap.write(path.string()));

  std::vector<std::string> fields = {"frame.protocols", "sctp.checksum.status", "_ws.expert",
                                     "_ws.malformed", "_ws.col.Info"};
  for (const auto* prefix : {"asap.", "enrp."}) {
    for (const auto& f : kCommonFields) fields.push_back(prefix + f);
  }
  for (const auto& f : kAsapFields) fields.push_back("asap." + f);
  for (const auto& f : kEnrpFields) fields.push_back("enrp." + f);
  std::string command = fmt::format(
      "tshark -n -r '{}' -o 'sctp.checksum:CRC 32c' -T fields -E occurrence=a -E aggregator=,",
      path.string());
  for (const auto& f : fields) command += " -e " + f;
  command += " 2>/dev/null";

  std::string output;
  {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    REQUIRE_MESSAGE(pipe != nullptr, "cannot run tshark");
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe.get())) output += buffer;
  }
  std::filesystem::remove(path);
  const auto lines = split(output, '\n');
  REQUIRE_MESSAGE(lines.size() >= expected.size(),
                  "tshark printed " << lines.size() << " frames, expected " << expected.size()
                                    << " (is tshark installed?)");

  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CAPTURE(names[i]);
    const auto columns = split(lines[i], '\t');
    REQUIRE(columns.size() == fields.size());
    Fields got;
    for (std::size_t k = 0; k < fields.size(); ++k) {
      if (!columns[k].empty()) got[fields[k]] = split(columns[k], ',');
    }
    const bool is_asap = i < asap_messages.size();
    CHECK(got["frame.protocols"][0].find(is_asap ? ":asap" : ":enrp") != std::string::npos);
    CHECK(got["sctp.checksum.status"] == std::vector<std::string>{"1"});  // CRC32c good
    CHECK_MESSAGE(got["_ws.expert"].empty(), "expert info: " << columns[2]);
    CHECK_MESSAGE(got["_ws.malformed"].empty(), "malformed: " << columns[3]);
    CHECK(columns[4].rfind(names[i] + " ", 0) == 0);  // Info column names the message type

    for (std::size_t k = 5; k < fields.size(); ++k) {
      const auto& field = fields[k];
      CAPTURE(field);
      const auto want_it = expected[i].fields.find(field);
      const std::vector<std::string> want =
          want_it == expected[i].fields.end() ? std::vector<std::string>{} : want_it->second;
      const auto& have = got[field];
      CHECK_MESSAGE(want.size() == have.size(),
                    "tshark: " << columns[k] << " | we encoded "
                               << fmt::format("{}", fmt::join(want, ",")));
      for (std::size_t n = 0; n < std::min(want.size(), have.size()); ++n) {
        CHECK_MESSAGE(same_value(field, want[n], have[n]),
                      "occurrence " << n << ": tshark " << have[n] << ", we encoded " << want[n]);
      }
    }
  }
}
