// The BOOTP/DHCP codec (control/dhcp/message.*): a captured-style udhcpc DISCOVER
// parsed byte by byte, malformed inputs as a table, RFC 3396 concatenation and option
// overload, and the writer (round trip, 300-byte padding, size limit).
#include "control/dhcp/message.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/unit/control/dhcp/dhcp_test_messages.hpp"

namespace eg::ctl::dhcp {
namespace {

using namespace eg::test;
using namespace eg::test::dhcp;

const mac_t k_mac = mac("52:54:00:12:34:56");

// busybox udhcpc 1.35 DISCOVER (init_packet + add_client_options): 53, 61 (type 1 +
// MAC), 57 = 576, 55 = its OPTION_REQ list, 60 = "udhcp 1.35.0", End, zero padding to
// 300 bytes. Written out as on the wire.
bytes udhcpc_discover() {
    bytes b = {
        0x01, 0x01, 0x06, 0x00,              // op BOOTREQUEST, htype Ethernet, hlen 6, hops 0
        0x39, 0x03, 0xf3, 0x26,              // xid
        0x00, 0x00, 0x00, 0x00,              // secs, flags
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // ciaddr yiaddr siaddr giaddr
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // chaddr
    };
    b.resize(236, 0);                      // chaddr padding, sname, file
    const bytes tail = {
        0x63, 0x82, 0x53, 0x63,                          // cookie
        53, 1, 1,                                        // DHCPDISCOVER
        61, 7, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // client id
        57, 2, 0x02, 0x40,                               // max size 576
        55, 8, 1, 3, 6, 12, 15, 28, 42, 121,             // parameter request list
        60, 12, 'u', 'd', 'h', 'c', 'p', ' ', '1', '.', '3', '5', '.', '0',
        255,
    };
    b.insert(b.end(), tail.begin(), tail.end());
    b.resize(300, 0);
    return b;
}

TEST(DhcpMessage, ParsesUdhcpcDiscover) {
    const bytes wire = udhcpc_discover();
    auto m = std::make_unique<message>();
    ASSERT_EQ(parse_message(wire, *m), parse_error::none);
    EXPECT_EQ(m->h.op, 1);
    EXPECT_TRUE(m->h.ethernet());
    EXPECT_EQ(m->h.xid, 0x3903f326u);
    EXPECT_FALSE(m->h.broadcast());
    EXPECT_EQ(m->h.ciaddr, 0u);
    EXPECT_TRUE(std::equal(k_mac.begin(), k_mac.end(), m->h.chaddr.begin()));
    EXPECT_EQ(m->type(), message_type::discover);
    EXPECT_EQ(m->options.count(), 5u);
    EXPECT_EQ(*m->options.u16(opt::max_message_size), 576);
    const auto prl = m->options.get(opt::parameter_request_list);
    EXPECT_EQ(bytes(prl.begin(), prl.end()), (bytes{1, 3, 6, 12, 15, 28, 42, 121}));
    const auto cid = m->options.get(opt::client_id);
    EXPECT_EQ(bytes(cid.begin(), cid.end()), client_id_of(k_mac));
    const auto vc = m->options.get(opt::vendor_class);
    EXPECT_EQ(std::string(vc.begin(), vc.end()), "udhcp 1.35.0");
    EXPECT_TRUE(m->saw_end);
    EXPECT_EQ(m->overload, 0);
    // Typed reads refuse wrong lengths.
    EXPECT_FALSE(m->options.u32(opt::max_message_size));
    EXPECT_FALSE(m->options.u8(opt::requested_address));
}

TEST(DhcpMessage, HeaderFieldsInNetworkOrder) {
    dhcp_spec s;
    s.hops = 3;
    s.secs = 0x0102;
    s.flags = 0x8000;
    s.ciaddr = ip4("10.0.0.1");
    s.yiaddr = ip4("10.0.0.2");
    s.siaddr = ip4("10.0.0.3");
    s.giaddr = ip4("10.0.0.4");
    s.chaddr = k_mac;
    s.options = {{53, u8v(3)}, {50, ipv(ip4("10.0.0.9"))}};
    auto m = std::make_unique<message>();
    ASSERT_EQ(parse_message(dhcp_payload(s), *m), parse_error::none);
    EXPECT_EQ(m->h.hops, 3);
    EXPECT_EQ(m->h.secs, 0x0102);
    EXPECT_TRUE(m->h.broadcast());
    EXPECT_EQ(m->h.ciaddr, 0x0a000001u);
    EXPECT_EQ(m->h.yiaddr, 0x0a000002u);
    EXPECT_EQ(m->h.siaddr, 0x0a000003u);
    EXPECT_EQ(m->h.giaddr, 0x0a000004u);
    EXPECT_EQ(*m->options.u32(opt::requested_address), 0x0a000009u);
    EXPECT_EQ(m->type(), message_type::request);
}

struct malformed_case {
    const char* name;
    bytes wire;
    parse_error expect;
};

bytes with(bytes b, size_t at, uint8_t v) {
    b.at(at) = v;
    return b;
}

TEST(DhcpMessage, MalformedInputs) {
    const bytes good = udhcpc_discover();
    dhcp_spec overrun;
    overrun.options = {{53, u8v(1)}};
    bytes overrun_wire = dhcp_payload(overrun);
    overrun_wire.resize(243);  // cookie + 53,1,1 then cut
    overrun_wire.push_back(12);
    overrun_wire.push_back(5);  // says 5 bytes, two follow
    overrun_wire.push_back('a');
    overrun_wire.push_back('b');
    bytes code_only = overrun_wire;
    code_only.resize(243);
    code_only.push_back(12);  // code, no length byte
    dhcp_spec bad_overload;
    bad_overload.options = {{53, u8v(1)}, {52, u8v(4)}};
    dhcp_spec overload_len;
    overload_len.options = {{53, u8v(1)}, {52, bytes{1, 2}}};
    dhcp_spec file_overrun;
    file_overrun.options = {{53, u8v(1)}, {52, u8v(1)}};
    bytes file_overrun_wire = dhcp_payload(file_overrun);
    file_overrun_wire[108] = 12;
    file_overrun_wire[109] = 200;  // runs past the 128-byte file field

    const malformed_case cases[] = {
        {"empty", {}, parse_error::too_short},
        {"one byte", {1}, parse_error::too_short},
        {"239 bytes", bytes(good.begin(), good.begin() + 239), parse_error::too_short},
        {"too long", bytes(k_max_message + 1, 0), parse_error::too_long},
        {"op 0", with(good, 0, 0), parse_error::bad_op},
        {"op 3", with(good, 0, 3), parse_error::bad_op},
        {"hlen 17", with(good, 2, 17), parse_error::bad_hlen},
        {"hlen 255", with(good, 2, 255), parse_error::bad_hlen},
        {"bad cookie", with(good, 239, 0x64), parse_error::bad_cookie},
        {"option overruns", overrun_wire, parse_error::option_overrun},
        {"code without length", code_only, parse_error::option_overrun},
        {"overload 4", dhcp_payload(bad_overload), parse_error::bad_overload},
        {"overload 2 bytes", dhcp_payload(overload_len), parse_error::bad_overload},
        {"overrun in file", file_overrun_wire, parse_error::option_overrun},
    };
    auto m = std::make_unique<message>();
    for (const malformed_case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(parse_message(c.wire, *m), c.expect) << to_string(parse_error(c.expect));
        EXPECT_EQ(m->options.count(), 0u);  // nothing half-parsed is left behind
    }
}

TEST(DhcpMessage, ToleratesMissingEndAndHlen16) {
    dhcp_spec s;
    s.options = {{53, u8v(1)}};
    s.end = false;
    s.pad_to = 0;
    auto m = std::make_unique<message>();
    ASSERT_EQ(parse_message(dhcp_payload(s), *m), parse_error::none);
    EXPECT_FALSE(m->saw_end);
    EXPECT_EQ(m->type(), message_type::discover);

    // Exactly 240 bytes: header and cookie, no options at all.
    dhcp_spec bare;
    bare.end = false;
    bare.pad_to = 0;
    bare.hlen = 16;
    ASSERT_EQ(parse_message(dhcp_payload(bare), *m), parse_error::none);
    EXPECT_EQ(m->type(), message_type::none);
    EXPECT_EQ(m->options.count(), 0u);
}

TEST(DhcpMessage, RepeatedOptionsConcatenateRfc3396) {
    // Option 82 split in two, with another option in between: one value, in order.
    dhcp_spec s;
    s.options = {{53, u8v(1)}, {82, bytes{1, 4, 'e', 't'}}, {12, bytes{'v', 'm'}}, {82, bytes{'h', '0'}}};
    auto m = std::make_unique<message>();
    ASSERT_EQ(parse_message(dhcp_payload(s), *m), parse_error::none);
    const auto v = m->options.get(opt::relay_agent_info);
    EXPECT_EQ(bytes(v.begin(), v.end()), (bytes{1, 4, 'e', 't', 'h', '0'}));
    EXPECT_EQ(m->options.count(), 3u);
    EXPECT_EQ(bytes(m->options.codes().begin(), m->options.codes().end()), (bytes{53, 82, 12}));
    // Re-parsing into the same object forgets the previous message's options.
    dhcp_spec other;
    other.options = {{53, u8v(8)}, {12, bytes{'x'}}};
    ASSERT_EQ(parse_message(dhcp_payload(other), *m), parse_error::none);
    EXPECT_FALSE(m->options.has(opt::relay_agent_info));
    EXPECT_EQ(m->options.get(opt::host_name).size(), 1u);
    EXPECT_EQ(m->options.count(), 2u);
    // Zero-length option is present with an empty value.
    s.options = {{53, u8v(1)}, {80, bytes{}}};
    ASSERT_EQ(parse_message(dhcp_payload(s), *m), parse_error::none);
    EXPECT_TRUE(m->options.has(80));
    EXPECT_TRUE(m->options.get(80).empty());
    EXPECT_FALSE(m->options.has(81));
}

TEST(DhcpMessage, OverloadedFileAndSnameCarryOptions) {
    // Option 52 = 3: options continue in file, then sname (RFC 3396 §7 order).
    dhcp_spec s;
    s.options = {{53, u8v(3)}, {52, u8v(3)}, {12, bytes{'a'}}};
    bytes wire = dhcp_payload(s);
    const bytes file_opts = {12, 1, 'b', 50, 4, 10, 0, 0, 7, 255};
    const bytes sname_opts = {0, 12, 1, 'c', 255};
    std::copy(file_opts.begin(), file_opts.end(), wire.begin() + 108);
    std::copy(sname_opts.begin(), sname_opts.end(), wire.begin() + 44);
    auto m = std::make_unique<message>();
    ASSERT_EQ(parse_message(wire, *m), parse_error::none);
    EXPECT_EQ(m->overload, 3);
    const auto host = m->options.get(opt::host_name);
    EXPECT_EQ(std::string(host.begin(), host.end()), "abc");
    EXPECT_EQ(*m->options.u32(opt::requested_address), 0x0a000007u);

    // Without option 52 the same bytes in file/sname are not options.
    s.options = {{53, u8v(3)}, {12, bytes{'a'}}};
    wire = dhcp_payload(s);
    std::copy(file_opts.begin(), file_opts.end(), wire.begin() + 108);
    ASSERT_EQ(parse_message(wire, *m), parse_error::none);
    EXPECT_FALSE(m->options.has(opt::requested_address));
    EXPECT_EQ(m->options.get(opt::host_name).size(), 1u);
}

TEST(DhcpMessageWriter, RoundTripAndPadding) {
    header h;
    h.op = 2;
    h.htype = 1;
    h.hlen = 6;
    h.xid = 0xdeadbeef;
    h.flags = k_flag_broadcast;
    h.yiaddr = 0xc0a8640a;
    h.giaddr = 0x0a000001;
    std::copy(k_mac.begin(), k_mac.end(), h.chaddr.begin());
    std::vector<uint8_t> buf(1000, 0xee);
    message_writer w(buf, 548, h);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w.options().add_u8(opt::message_type, 2));
    ASSERT_TRUE(w.options().add_u32(opt::server_id, 0xc0a86401));
    const size_t len = w.finish();
    EXPECT_EQ(len, k_bootp_min_len);  // 240 + 9 bytes of options + End, padded to 300
    EXPECT_EQ(buf[240 + 9], 255);
    for (size_t i = 250; i < 300; ++i) ASSERT_EQ(buf[i], 0) << i;
    EXPECT_EQ(buf[300], 0xee);  // nothing written past the message
    // Byte-exact fixed fields.
    EXPECT_EQ(buf[0], 2);
    EXPECT_EQ(bytes(buf.begin() + 4, buf.begin() + 8), (bytes{0xde, 0xad, 0xbe, 0xef}));
    EXPECT_EQ(bytes(buf.begin() + 10, buf.begin() + 12), (bytes{0x80, 0x00}));
    EXPECT_EQ(bytes(buf.begin() + 16, buf.begin() + 20), (bytes{192, 168, 100, 10}));
    EXPECT_EQ(bytes(buf.begin() + 236, buf.begin() + 240), (bytes{0x63, 0x82, 0x53, 0x63}));

    auto m = std::make_unique<message>();
    ASSERT_EQ(parse_message(std::span<const uint8_t>(buf.data(), len), *m), parse_error::none);
    EXPECT_EQ(m->h.xid, 0xdeadbeefu);
    EXPECT_EQ(m->h.yiaddr, 0xc0a8640au);
    EXPECT_EQ(m->h.giaddr, 0x0a000001u);
    EXPECT_TRUE(m->h.broadcast());
    EXPECT_EQ(m->type(), message_type::offer);
    EXPECT_EQ(*m->options.u32(opt::server_id), 0xc0a86401u);
}

TEST(DhcpMessageWriter, RespectsMaxLength) {
    header h;
    h.op = 2;
    std::vector<uint8_t> buf(600, 0xee);
    message_writer w(buf, 260, h);  // room for 20 bytes of options, End included
    ASSERT_TRUE(w.ok());
    EXPECT_FALSE(w.options().add(12, bytes(18, 'x')));  // 20 bytes + End = 21
    EXPECT_TRUE(w.options().add(12, bytes(17, 'x')));
    EXPECT_EQ(w.finish(), 260u);  // padding never goes past max_len
    EXPECT_EQ(buf[259], 255);
    EXPECT_EQ(buf[260], 0xee);

    std::vector<uint8_t> tiny(240);
    message_writer t(tiny, 1000, h);
    EXPECT_FALSE(t.ok());  // not even room for End
    EXPECT_EQ(t.finish(), 0u);
}

}  // namespace
}  // namespace eg::ctl::dhcp
