// The Ethernet + IPv4 + UDP wrapping of DHCP (control/dhcp/frame.*), checked against
// frames and checksums from tests/unit/test_frames.hpp (written independently).
#include "control/dhcp/frame.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/control/dhcp/dhcp_test_messages.hpp"

namespace eg::ctl::dhcp {
namespace {

using namespace eg::test;
using namespace eg::test::dhcp;

const mac_t k_client = mac("52:54:00:12:34:56"), k_server = mac("02:00:00:00:00:01");

bytes discover_payload() {
    dhcp_spec s;
    s.chaddr = k_client;
    s.options = {{53, u8v(1)}};
    return dhcp_payload(s);
}

TEST(DhcpFrame, ParsesClientBroadcast) {
    const bytes payload = discover_payload();
    const bytes f = padded(dhcp_frame(payload, k_client, ip4("0.0.0.0"), k_broadcast, ip4("255.255.255.255")));
    frame_view v;
    ASSERT_EQ(parse_frame(f, v), frame_error::none);
    EXPECT_EQ(v.addr.src_mac, k_client);
    EXPECT_EQ(v.addr.dst_mac, k_broadcast);
    EXPECT_EQ(v.addr.src_ip, 0u);
    EXPECT_EQ(v.addr.dst_ip, 0xffffffffu);
    EXPECT_EQ(v.addr.src_port, 68);
    EXPECT_EQ(v.addr.dst_port, 67);
    EXPECT_EQ(v.addr.vlan_tags_len, 0);
    EXPECT_EQ(bytes(v.payload.begin(), v.payload.end()), payload);
}

TEST(DhcpFrame, ParsesVlanTaggedAndTrailingPadding) {
    const bytes payload = discover_payload();
    bytes ip = ipv4(ip4("10.0.0.2"), ip4("10.0.0.1"), 17, udp(ip4("10.0.0.2"), ip4("10.0.0.1"), 67, 67, payload));
    bytes f = eth(k_server, k_client, 0x0800, ip, {{0x88a8, 100}, {0x8100, 200}});
    f.resize(f.size() + 7, 0);  // trailing bytes beyond the IP datagram (FCS, padding)
    frame_view v;
    ASSERT_EQ(parse_frame(f, v), frame_error::none);
    EXPECT_EQ(v.addr.vlan_tags_len, 8);
    EXPECT_EQ(bytes(v.addr.vlan_tags.begin(), v.addr.vlan_tags.end()), (bytes{0x88, 0xa8, 0, 100, 0x81, 0, 0, 200}));
    EXPECT_EQ(v.addr.src_port, 67);  // a relay
    EXPECT_EQ(v.payload.size(), payload.size());
}

TEST(DhcpFrame, BuildsValidFrame) {
    const bytes payload = discover_payload();
    frame_addresses a;
    a.dst_mac = k_client;
    a.src_mac = k_server;
    a.src_ip = 0xc0a86401;
    a.dst_ip = 0xc0a8640a;
    a.src_port = 67;
    a.dst_port = 68;
    std::vector<uint8_t> out(1500, 0xee);
    const size_t n = build_frame(out, a, payload);
    ASSERT_EQ(n, 14 + 20 + 8 + payload.size());
    // The same frame from the independent builder, byte for byte (it uses IP id
    // 0x1234; ours 0, so compare after patching the id and its checksum).
    bytes expect = dhcp_frame(payload, k_server, ip4("192.168.100.1"), k_client, ip4("192.168.100.10"), 67, 68);
    EXPECT_TRUE(ipv4_header_ok(out.data() + 14));
    EXPECT_EQ(out[14 + 8], 64);  // TTL
    EXPECT_EQ(bytes(out.begin(), out.begin() + 14), bytes(expect.begin(), expect.begin() + 14));
    EXPECT_EQ(bytes(out.begin() + 14 + 20, out.begin() + n), bytes(expect.begin() + 14 + 20, expect.end()));
    // UDP checksum verifies over the pseudo-header.
    const ip4_t src = ip4("192.168.100.1"), dst = ip4("192.168.100.10");
    EXPECT_TRUE(checksum_ok(out.data() + 34, n - 34, pseudo_sum(src, dst, 17, static_cast<uint32_t>(n - 34))));
    // And our parser reads back what we built (to port 68 it says: not for the server).
    frame_view v;
    EXPECT_EQ(parse_frame(std::span<const uint8_t>(out.data(), n), v), frame_error::not_server_port);

    EXPECT_EQ(build_frame(std::span<uint8_t>(out.data(), n - 1), a, payload), 0u);  // too small
    a.vlan_tags = {0x81, 0x00, 0x00, 0x2a};
    a.vlan_tags_len = 4;
    const size_t tagged = build_frame(out, a, payload);
    ASSERT_EQ(tagged, n + 4);
    EXPECT_EQ(bytes(out.begin() + 12, out.begin() + 18), (bytes{0x81, 0x00, 0x00, 0x2a, 0x08, 0x00}));
    EXPECT_TRUE(ipv4_header_ok(out.data() + 18));
}

struct bad_frame_case {
    const char* name;
    bytes frame;
    frame_error expect;
};

TEST(DhcpFrame, RejectsBadFrames) {
    const bytes payload = discover_payload();
    const ip4_t c = ip4("10.0.0.2"), s = ip4("10.0.0.1");
    const bytes good = dhcp_frame(payload, k_client, c, k_server, s);
    auto patched = [&](size_t at, uint8_t v) {
        bytes b = good;
        b.at(at) = v;
        return b;
    };
    bytes no_udp_csum = good;
    no_udp_csum[14 + 20 + 6] = 0;
    no_udp_csum[14 + 20 + 7] = 0;
    frame_view v;
    ASSERT_EQ(parse_frame(no_udp_csum, v), frame_error::none);  // zero: no checksum (RFC 768)

    bytes fragment = eth(k_server, k_client, 0x0800, ipv4(c, s, 17, udp(c, s, 68, 67, payload), {.mf = true}));
    bytes later_fragment =
        eth(k_server, k_client, 0x0800, ipv4(c, s, 17, udp(c, s, 68, 67, payload), {.frag_offset = 8}));
    bytes tcp_frame = eth(k_server, k_client, 0x0800, ipv4(c, s, 6, tcp(c, s, 68, 67, 1, 0, k_tcp_syn, {})));
    bytes to_68 = dhcp_frame(payload, k_client, c, k_server, s, 67, 68);
    bytes ipv6_frame = eth(k_server, k_client, 0x86dd, bytes(60, 0));
    bytes udp_len_big = good;
    set16(udp_len_big.data() + 14 + 20 + 4, static_cast<uint16_t>(payload.size() + 9));
    bytes udp_len_small = good;
    set16(udp_len_small.data() + 14 + 20 + 4, 7);
    bytes total_len_big = good;
    set16(total_len_big.data() + 14 + 2, static_cast<uint16_t>(good.size()));  // beyond the frame
    set16(total_len_big.data() + 14 + 10, 0);
    set16(total_len_big.data() + 14 + 10, inet_checksum(total_len_big.data() + 14, 20));
    bytes three_tags = eth(k_server, k_client, 0x0800, bytes(40, 0), {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}});

    const bad_frame_case cases[] = {
        {"empty", {}, frame_error::truncated},
        {"13 bytes", bytes(good.begin(), good.begin() + 13), frame_error::truncated},
        {"ethernet only", bytes(good.begin(), good.begin() + 14), frame_error::truncated},
        {"ip header cut", bytes(good.begin(), good.begin() + 30), frame_error::truncated},
        {"datagram cut", bytes(good.begin(), good.begin() + 100), frame_error::bad_ip_header},
        {"ipv6", ipv6_frame, frame_error::not_ipv4},
        {"three vlan tags", three_tags, frame_error::not_ipv4},
        {"version 6 in ipv4", patched(14, 0x65), frame_error::bad_ip_header},
        {"ihl 4", patched(14, 0x44), frame_error::bad_ip_header},
        {"ip checksum", patched(14 + 8, 63), frame_error::bad_ip_checksum},
        {"first fragment", fragment, frame_error::fragment},
        {"later fragment", later_fragment, frame_error::fragment},
        {"tcp", tcp_frame, frame_error::not_udp},
        {"udp checksum", patched(14 + 20 + 8 + 4, 0x77), frame_error::bad_udp_checksum},
        {"udp length > datagram", udp_len_big, frame_error::bad_udp_length},
        {"udp length < 8", udp_len_small, frame_error::bad_udp_length},
        {"total length > frame", total_len_big, frame_error::bad_ip_header},
        {"to client port", to_68, frame_error::not_server_port},
    };
    for (const bad_frame_case& bc : cases) {
        SCOPED_TRACE(bc.name);
        EXPECT_EQ(parse_frame(bc.frame, v), bc.expect) << to_string(bc.expect);
    }
}

}  // namespace
}  // namespace eg::ctl::dhcp
