// The DHCPv4 server core (control/dhcp/server.*), sans-I/O: client messages built by
// hand (dhcp_test_messages.hpp), a simulated clock, an in-memory lease book
// (memory_lease_book.hpp, the dependency, not the thing under test), and replies read
// back with the codec (tested on its own in message_test.cpp) plus byte-exact checks
// where layout matters.
#include "control/dhcp/server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "tests/unit/control/dhcp/dhcp_test_messages.hpp"
#include "tests/unit/control/dhcp/memory_lease_book.hpp"

namespace eg::ctl::dhcp {
namespace {

using namespace eg::test;
using namespace eg::test::dhcp;

uint32_t h(const ip4_t& a) { return host_order(a); }
dp::mac_bytes dm(const mac_t& m) { return m; }

constexpr uint32_t k_lan = 7, k_remote = 8;
constexpr uint16_t k_vm_port = 0, k_uplink_port = 1;
constexpr uint64_t k_t0 = 1'700'000'000;  // lease clock: Unix seconds

const ip4_t k_server_ip = ip4("192.168.100.1"), k_remote_server_ip = ip4("203.0.113.1");
const ip4_t k_relay_ip = ip4("10.20.0.254");
const mac_t k_server_mac = mac("02:00:00:00:00:01"), k_relay_mac = mac("02:00:00:00:00:fe");
const mac_t k_a = mac("52:54:00:00:00:0a"), k_b = mac("52:54:00:00:00:0b"), k_c = mac("52:54:00:00:00:0c");
const mac_t k_reserved_mac = mac("52:54:00:00:00:50");

server_config make_config() {
    server_config c;
    network_config lan;
    lan.id = k_lan;
    lan.port = k_vm_port;
    lan.subnet = h(ip4("192.168.100.0"));
    lan.prefix_len = 24;
    lan.server_address = h(k_server_ip);
    lan.lease_time_s = 3600;
    lan.routers = {h(ip4("192.168.100.1"))};
    lan.dns_servers = {h(ip4("9.9.9.9")), h(ip4("1.1.1.1"))};
    lan.domain_name = "vm.example";
    lan.mtu = 1450;
    lan.classless_routes = {{h(ip4("10.0.0.0")), 8, h(ip4("192.168.100.254"))}};
    network_config remote;
    remote.id = k_remote;
    remote.subnet = h(ip4("10.20.0.0"));
    remote.prefix_len = 16;
    remote.server_address = h(k_remote_server_ip);
    remote.lease_time_s = 600;
    remote.routers = {h(k_relay_ip)};
    c.networks = {lan, remote};
    return c;
}

struct reply {
    send_action send;
    std::unique_ptr<message> m;
};

class DhcpServer : public ::testing::Test {
protected:
    DhcpServer() { reset(make_config()); }

    void reset(server_config c, uint32_t pool_last = h(ip4("192.168.100.199"))) {
        book = std::make_unique<memory_lease_book>();
        book->add_pool(k_lan, h(ip4("192.168.100.100")), pool_last);
        book->add_pool(k_remote, h(ip4("10.20.1.0")), h(ip4("10.20.1.255")));
        book->reserve(k_lan, dm(k_reserved_mac), h(ip4("192.168.100.50")));
        srv = std::make_unique<server>(std::move(c), *book);
    }

    /// Arrival of a client broadcast on the VM port.
    static arrival broadcast_from(const mac_t& m, uint16_t port = k_vm_port) {
        arrival a;
        a.port = port;
        a.from.src_mac = m;
        a.from.dst_mac = k_broadcast;
        a.from.dst_ip = 0xffffffff;
        a.from.src_port = 68;
        a.from.dst_port = 67;
        return a;
    }
    /// Arrival of a client's unicast to the server (RENEWING, INFORM).
    static arrival unicast_from(const mac_t& m, const ip4_t& src) {
        arrival a = broadcast_from(m);
        a.from.dst_mac = k_server_mac;
        a.from.dst_ip = h(k_server_ip);
        a.from.src_ip = h(src);
        return a;
    }

    /// Feeds one message; returns every action. With `durable` the journal is made
    /// durable right after, so held ACKs come out too.
    std::vector<action> feed(const dhcp_spec& s, const arrival& a, bool durable = true) {
        const bytes wire = dhcp_payload(s);
        auto m = std::make_unique<message>();
        EXPECT_EQ(parse_message(wire, *m), parse_error::none);
        std::vector<action> out;
        srv->on_message(*m, a, now, out);
        if (durable) srv->on_durable(book->last_ticket, out);
        return out;
    }

    static std::vector<reply> replies(const std::vector<action>& acts) {
        std::vector<reply> r;
        for (const action& x : acts) {
            if (const auto* s = std::get_if<send_action>(&x)) {
                reply rp{*s, std::make_unique<message>()};
                EXPECT_EQ(parse_message(s->payload, *rp.m), parse_error::none);
                r.push_back(std::move(rp));
            }
        }
        return r;
    }
    static std::vector<lease_action> lease_actions(const std::vector<action>& acts) {
        std::vector<lease_action> r;
        for (const action& x : acts) {
            if (const auto* l = std::get_if<lease_action>(&x)) r.push_back(*l);
        }
        return r;
    }
    static std::vector<std::string> logs(const std::vector<action>& acts) {
        std::vector<std::string> r;
        for (const action& x : acts) {
            if (const auto* l = std::get_if<log_action>(&x)) r.push_back(l->text);
        }
        return r;
    }

    static dhcp_spec discover(const mac_t& m, std::vector<option> extra = {}) {
        dhcp_spec s;
        s.chaddr = m;
        s.xid = 0x1000 + m[5];
        s.options = {{53, u8v(1)}};
        s.options.insert(s.options.end(), extra.begin(), extra.end());
        return s;
    }
    static dhcp_spec request(const mac_t& m, std::vector<option> extra, const ip4_t& ciaddr = {}) {
        dhcp_spec s;
        s.chaddr = m;
        s.xid = 0x2000 + m[5];
        s.ciaddr = ciaddr;
        s.options = {{53, u8v(3)}};
        s.options.insert(s.options.end(), extra.begin(), extra.end());
        return s;
    }
    static ip4_t addr_of(uint32_t v) {
        return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                static_cast<uint8_t>(v)};
    }

    /// DISCOVER → OFFER → REQUEST → ACK for `m`; returns the bound address.
    uint32_t bind(const mac_t& m, std::vector<option> client_opts = {}) {
        auto offer = replies(feed(discover(m, client_opts), broadcast_from(m)));
        EXPECT_EQ(offer.size(), 1u);
        if (offer.empty()) return 0;
        const uint32_t addr = offer[0].m->h.yiaddr;
        std::vector<option> req = {{54, ipv(k_server_ip)}, {50, u32v(addr)}};
        req.insert(req.end(), client_opts.begin(), client_opts.end());
        auto ack = replies(feed(request(m, req), broadcast_from(m)));
        EXPECT_EQ(ack.size(), 1u);
        if (ack.empty()) return 0;
        EXPECT_EQ(ack[0].m->type(), message_type::ack);
        return addr;
    }

    std::unique_ptr<memory_lease_book> book;
    std::unique_ptr<server> srv;
    uint64_t now = k_t0;
};

// busybox udhcpc 1.35's DISCOVER in its frame (see message_test.cpp for the layout).
bytes udhcpc_discover_frame() {
    dhcp_spec s;
    s.xid = 0x3903f326;
    s.chaddr = mac("52:54:00:12:34:56");
    s.options = {{53, u8v(1)},
                 {61, client_id_of(s.chaddr)},
                 {57, u16v(576)},
                 {55, bytes{1, 3, 6, 12, 15, 28, 42, 121}},
                 {60, bytes{'u', 'd', 'h', 'c', 'p', ' ', '1', '.', '3', '5', '.', '0'}}};
    return dhcp_frame(dhcp_payload(s), s.chaddr, ip4("0.0.0.0"), k_broadcast, ip4("255.255.255.255"));
}

TEST_F(DhcpServer, OfferToUdhcpcIsByteExact) {
    std::vector<action> out;
    srv->on_frame(k_vm_port, udhcpc_discover_frame(), now, out);
    auto r = replies(out);
    ASSERT_EQ(r.size(), 1u);
    const send_action& s = r[0].send;
    const mac_t client = mac("52:54:00:12:34:56");
    // No broadcast flag, no ciaddr: unicast to yiaddr at chaddr (RFC 2131 §4.1).
    EXPECT_EQ(s.route, reply_route::unicast_chaddr);
    EXPECT_EQ(s.port, k_vm_port);
    EXPECT_EQ(s.to.dst_mac, client);
    EXPECT_EQ(s.to.dst_ip, h(ip4("192.168.100.100")));
    EXPECT_EQ(s.to.dst_port, 68);
    EXPECT_EQ(s.to.src_ip, h(k_server_ip));
    EXPECT_EQ(s.to.src_port, 67);
    EXPECT_EQ(s.type, message_type::offer);

    const bytes& p = s.payload;
    EXPECT_EQ(bytes(p.begin(), p.begin() + 12),
              (bytes{2, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26, 0, 0, 0, 0}));  // op, htype, hlen, hops 0, xid, secs 0, flags
    EXPECT_EQ(bytes(p.begin() + 12, p.begin() + 28),
              (bytes{0, 0, 0, 0, 192, 168, 100, 100, 0, 0, 0, 0, 0, 0, 0, 0}));  // ciaddr yiaddr siaddr giaddr
    EXPECT_EQ(bytes(p.begin() + 28, p.begin() + 34), bytes(client.begin(), client.end()));
    EXPECT_EQ(bytes(p.begin() + 236, p.begin() + 240), (bytes{0x63, 0x82, 0x53, 0x63}));
    const bytes options = {
        53, 1, 2,                                           // DHCPOFFER
        54, 4, 192, 168, 100, 1,                            // server id
        51, 4, 0, 0, 0x0e, 0x10,                            // lease 3600
        58, 4, 0, 0, 0x07, 0x08,                            // T1 1800
        59, 4, 0, 0, 0x0c, 0x4e,                            // T2 3150
        61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,       // client id echoed (RFC 6842)
        1, 4, 255, 255, 255, 0,                             // mask before router
        3, 4, 192, 168, 100, 1,                             //
        6, 8, 9, 9, 9, 9, 1, 1, 1, 1,                       //
        15, 10, 'v', 'm', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
        28, 4, 192, 168, 100, 255,                          // asked for: broadcast address
        121, 11, 8, 10, 192, 168, 100, 254, 0, 192, 168, 100, 1,  // asked for: routes + default
        255,
    };
    ASSERT_EQ(p.size(), 240 + options.size());  // over 300 already: no padding
    EXPECT_EQ(bytes(p.begin() + 240, p.end()), options);
    // Not asked for: MTU (26) although configured.
    EXPECT_FALSE(r[0].m->options.has(opt::interface_mtu));
    EXPECT_EQ(srv->count(counter::rx_discover), 1u);
    EXPECT_EQ(srv->count(counter::tx_offer), 1u);
    // The address is held for the offer, not bound.
    const auto rec = book->record(k_lan, h(ip4("192.168.100.100")));
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state, lease_state::offered);
    EXPECT_EQ(rec->expires_s, now + 30);
}

TEST_F(DhcpServer, DhcpcdStyleDiscoverGetsMtuAndRoutes) {
    // dhcpcd 9's shape: RFC 4361 client id (0xff, IAID, DUID-LL), max size from the
    // interface MTU, rapid commit (80, not supported: a normal OFFER), host name, and
    // a request list asking for routes (121) before the router and for the MTU (26).
    const bytes cid = {0xff, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x01, 0x52, 0x54, 0x00, 0x00, 0x00, 0x0b};
    dhcp_spec d = discover(k_b, {{61, cid},
                                 {57, u16v(1472)},
                                 {80, bytes{}},
                                 {12, bytes{'v', 'm', 'b'}},
                                 {55, bytes{1, 121, 33, 3, 6, 12, 15, 26, 28, 51, 54, 58, 59, 119}}});
    auto r = replies(feed(d, broadcast_from(k_b)));
    ASSERT_EQ(r.size(), 1u);
    const message& m = *r[0].m;
    EXPECT_EQ(m.type(), message_type::offer);
    EXPECT_EQ(*m.options.u16(opt::interface_mtu), 1450);
    const auto routes = decode_classless_routes(m.options.get(opt::classless_routes));
    ASSERT_TRUE(routes);
    ASSERT_EQ(routes->size(), 2u);
    EXPECT_EQ((*routes)[0], (classless_route{h(ip4("10.0.0.0")), 8, h(ip4("192.168.100.254"))}));
    EXPECT_EQ((*routes)[1], (classless_route{0, 0, h(ip4("192.168.100.1"))}));  // default route inside 121
    EXPECT_EQ(bytes(m.options.get(61).begin(), m.options.get(61).end()), cid);
    EXPECT_FALSE(m.options.has(80));                        // no rapid commit
    EXPECT_FALSE(m.options.has(opt::parameter_request_list));  // MUST NOT in replies
    EXPECT_FALSE(m.options.has(opt::max_message_size));
    EXPECT_FALSE(m.options.has(opt::requested_address));
    // Subnet mask precedes the router (RFC 2132 §3.3).
    const auto codes = m.options.codes();
    const auto pos = [&](uint8_t code) { return std::find(codes.begin(), codes.end(), code) - codes.begin(); };
    EXPECT_LT(pos(opt::subnet_mask), pos(opt::router));
    EXPECT_EQ(book->record(k_lan, m.h.yiaddr)->client, client_key::from_client_id(cid.data(), cid.size()));
}

TEST_F(DhcpServer, SelectingRequestAckIsHeldUntilDurable) {
    auto offer = replies(feed(discover(k_a), broadcast_from(k_a)));
    ASSERT_EQ(offer.size(), 1u);
    const uint32_t addr = offer[0].m->h.yiaddr;
    now += 2;
    auto acts = feed(request(k_a, {{54, ipv(k_server_ip)}, {50, u32v(addr)}}), broadcast_from(k_a), false);
    // The binding is recorded, but no ACK goes out before its ticket is durable.
    EXPECT_TRUE(replies(acts).empty());
    auto leases = lease_actions(acts);
    ASSERT_EQ(leases.size(), 1u);
    EXPECT_EQ(leases[0].kind, lease_action::bound);
    EXPECT_EQ(leases[0].l.address, addr);
    EXPECT_EQ(leases[0].l.expires_s, now + 3600);
    EXPECT_EQ(leases[0].durable_at, book->last_ticket);
    EXPECT_EQ(srv->held_replies(), 1u);
    EXPECT_EQ(srv->count(counter::request_selecting), 1u);

    std::vector<action> out;
    srv->on_durable(book->last_ticket - 1, out);  // an older batch: not ours
    EXPECT_TRUE(out.empty());
    srv->on_durable(book->last_ticket, out);
    auto ack = replies(out);
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(srv->held_replies(), 0u);
    EXPECT_EQ(ack[0].m->type(), message_type::ack);
    EXPECT_EQ(ack[0].m->h.yiaddr, addr);
    EXPECT_EQ(ack[0].m->h.xid, 0x2000u + k_a[5]);
    EXPECT_EQ(*ack[0].m->options.u32(opt::lease_time), 3600u);
    EXPECT_EQ(*ack[0].m->options.u32(opt::server_id), h(k_server_ip));
    EXPECT_EQ(ack[0].send.route, reply_route::unicast_chaddr);
    ASSERT_EQ(book->commits.size(), 1u);
    EXPECT_EQ(book->commits[0].state, lease_state::bound);
    EXPECT_EQ(book->commits[0].client, client_key::from_mac(k_a));

    // Once a ticket is known durable, a later commit at or below it is sent at once.
    book->last_ticket -= 1;  // the journal coalesced this record into the synced batch
    auto again = feed(request(k_a, {{54, ipv(k_server_ip)}, {50, u32v(addr)}}), broadcast_from(k_a), false);
    EXPECT_EQ(replies(again).size(), 1u);
}

TEST_F(DhcpServer, SelectingAnotherServerDropsOurOffer) {
    auto offer = replies(feed(discover(k_a), broadcast_from(k_a)));
    ASSERT_EQ(offer.size(), 1u);
    const uint32_t addr = offer[0].m->h.yiaddr;
    auto acts = feed(request(k_a, {{54, ipv(ip4("192.168.100.2"))}, {50, u32v(addr)}}), broadcast_from(k_a));
    EXPECT_TRUE(acts.empty());
    EXPECT_EQ(srv->count(counter::other_server_selected), 1u);
    EXPECT_EQ(srv->drops(drop_reason::not_for_us), 1u);
    EXPECT_FALSE(book->record(k_lan, addr));  // the hold is gone: the address is free again
    // So another client asking for it is offered it.
    auto next = replies(feed(discover(k_b, {{50, u32v(addr)}}), broadcast_from(k_b)));
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].m->h.yiaddr, addr);
}

TEST_F(DhcpServer, SelectingForAddressTakenMeanwhileIsNaked) {
    // A's offer hold runs out, B gets and binds the address, then A's late REQUEST.
    auto offer = replies(feed(discover(k_a), broadcast_from(k_a)));
    const uint32_t addr = offer[0].m->h.yiaddr;
    now += 31;
    ASSERT_EQ(replies(feed(discover(k_b, {{50, u32v(addr)}}), broadcast_from(k_b)))[0].m->h.yiaddr, addr);
    ASSERT_EQ(replies(feed(request(k_b, {{54, ipv(k_server_ip)}, {50, u32v(addr)}}), broadcast_from(k_b)))[0].m->type(),
              message_type::ack);
    auto r = replies(feed(request(k_a, {{54, ipv(k_server_ip)}, {50, u32v(addr)}}), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->type(), message_type::nak);
    EXPECT_EQ(r[0].send.route, reply_route::broadcast);
    EXPECT_EQ(r[0].send.to.dst_ip, 0xffffffffu);
    EXPECT_EQ(r[0].send.to.dst_mac, k_broadcast);
    EXPECT_EQ(r[0].m->h.yiaddr, 0u);
    EXPECT_FALSE(r[0].m->options.has(opt::lease_time));
    EXPECT_TRUE(r[0].m->options.has(opt::message));
    EXPECT_EQ(*r[0].m->options.u32(opt::server_id), h(k_server_ip));
    EXPECT_EQ(srv->count(counter::tx_nak), 1u);
    EXPECT_EQ(r[0].send.payload.size(), 300u);  // a short reply is padded to the BOOTP minimum
    for (size_t i = 240; i < 300; ++i) {
        if (r[0].send.payload[i] == 255) {
            for (size_t j = i + 1; j < 300; ++j) ASSERT_EQ(r[0].send.payload[j], 0) << j;
            break;
        }
    }
}

// INIT-REBOOT (no server id, option 50, ciaddr 0): a table of what the client asks
// for against what we know about it.
struct init_reboot_case {
    const char* name;
    bool known;          // the client was bound before
    const char* asks;    // option 50
    bool authoritative;
    bool other_holds;    // someone else is bound to the asked address
    message_type expect; // none: silence
};

TEST_F(DhcpServer, InitRebootTable) {
    const init_reboot_case cases[] = {
        {"own address", true, nullptr, false, false, message_type::ack},
        {"other address in subnet", true, "192.168.100.180", false, false, message_type::nak},
        {"wrong network", true, "10.9.9.9", false, false, message_type::nak},
        {"network address", true, "192.168.100.0", false, false, message_type::nak},
        {"unknown client", false, "192.168.100.180", false, false, message_type::none},
        {"unknown client, authoritative", false, "192.168.100.180", true, false, message_type::nak},
        {"unknown client, wrong network", false, "10.9.9.9", false, false, message_type::nak},
        {"unknown client, someone else's address", false, nullptr, false, true, message_type::nak},
    };
    for (const init_reboot_case& c : cases) {
        SCOPED_TRACE(c.name);
        server_config cfg = make_config();
        cfg.authoritative = c.authoritative;
        reset(cfg);
        uint32_t own = 0;
        if (c.known) own = bind(k_a);
        if (c.other_holds) own = bind(k_b);
        const uint32_t asks = c.asks ? h(ip4(c.asks)) : own;
        auto acts = feed(request(k_a, {{50, u32v(asks)}}), broadcast_from(k_a));
        auto r = replies(acts);
        EXPECT_EQ(srv->count(counter::request_init_reboot), 1u);
        if (c.expect == message_type::none) {
            EXPECT_TRUE(r.empty());
            EXPECT_EQ(srv->drops(drop_reason::unknown_client), 1u);
            continue;
        }
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].m->type(), c.expect);
        if (c.expect == message_type::ack) {
            EXPECT_EQ(r[0].m->h.yiaddr, own);
            EXPECT_EQ(r[0].send.route, reply_route::unicast_chaddr);
        } else {
            EXPECT_EQ(r[0].send.route, reply_route::broadcast);
        }
    }
}

TEST_F(DhcpServer, RenewingUnicastExtendsLease) {
    const uint32_t addr = bind(k_a);
    ASSERT_NE(addr, 0u);
    now += 1800;  // T1
    auto acts = feed(request(k_a, {}, addr_of(addr)), unicast_from(k_a, addr_of(addr)));
    auto r = replies(acts);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(srv->count(counter::request_renewing), 1u);
    EXPECT_EQ(r[0].m->type(), message_type::ack);
    EXPECT_EQ(r[0].m->h.ciaddr, addr);  // echoed in ACKs
    EXPECT_EQ(r[0].m->h.yiaddr, addr);
    EXPECT_EQ(r[0].send.route, reply_route::unicast_ciaddr);
    EXPECT_EQ(r[0].send.to.dst_ip, addr);
    EXPECT_EQ(r[0].send.to.dst_mac, k_a);
    EXPECT_EQ(r[0].send.to.dst_port, 68);
    ASSERT_EQ(book->commits.size(), 2u);
    EXPECT_EQ(book->commits.back().expires_s, now + 3600);  // extended from now
}

TEST_F(DhcpServer, RebindingBroadcastExtendsLease) {
    const uint32_t addr = bind(k_a);
    now += 3200;  // past T2
    auto r = replies(feed(request(k_a, {}, addr_of(addr)), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(srv->count(counter::request_rebinding), 1u);
    EXPECT_EQ(srv->count(counter::request_renewing), 0u);
    EXPECT_EQ(r[0].m->type(), message_type::ack);
    EXPECT_EQ(r[0].send.route, reply_route::unicast_ciaddr);  // ciaddr set: unicast (§4.1)
    EXPECT_EQ(book->commits.back().expires_s, now + 3600);

    // After the lease ran out (nobody took the address), the client still gets it.
    now += 4000;
    r = replies(feed(request(k_a, {}, addr_of(addr)), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->type(), message_type::ack);
}

TEST_F(DhcpServer, RenewingWrongOrUnknownAddress) {
    const uint32_t addr = bind(k_a);
    const uint32_t other = bind(k_b);
    // A renews B's address: NAK, broadcast even though the request was unicast.
    auto r = replies(feed(request(k_a, {}, addr_of(other)), unicast_from(k_a, addr_of(other))));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->type(), message_type::nak);
    EXPECT_EQ(r[0].send.route, reply_route::broadcast);
    // An unknown client renewing a free address: silent (we have no record of it).
    r = replies(feed(request(k_c, {}, ip4("192.168.100.190")), unicast_from(k_c, ip4("192.168.100.190"))));
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(srv->drops(drop_reason::unknown_client), 1u);
    EXPECT_EQ(book->record(k_lan, addr)->client, client_key::from_mac(k_a));  // untouched
}

TEST_F(DhcpServer, ReleaseFreesAndKeepsAffinity) {
    const uint32_t addr = bind(k_a);
    dhcp_spec rel;
    rel.chaddr = k_a;
    rel.ciaddr = addr_of(addr);
    rel.options = {{53, u8v(7)}, {54, ipv(k_server_ip)}};
    // Someone else cannot release A's lease.
    dhcp_spec forged = rel;
    forged.chaddr = k_b;
    auto acts = feed(forged, unicast_from(k_b, addr_of(addr)));
    EXPECT_TRUE(acts.empty());
    EXPECT_EQ(srv->drops(drop_reason::release_mismatch), 1u);
    EXPECT_EQ(book->record(k_lan, addr)->state, lease_state::bound);

    acts = feed(rel, unicast_from(k_a, addr_of(addr)));
    EXPECT_TRUE(replies(acts).empty());  // no reply to RELEASE
    auto l = lease_actions(acts);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].kind, lease_action::released);
    EXPECT_EQ(l[0].l.address, addr);
    EXPECT_EQ(book->record(k_lan, addr)->state, lease_state::released);
    EXPECT_EQ(srv->count(counter::leases_released), 1u);
    // A second RELEASE finds nothing bound.
    feed(rel, unicast_from(k_a, addr_of(addr)));
    EXPECT_EQ(srv->drops(drop_reason::release_mismatch), 2u);
    // The client comes back and gets the same address (RFC 2131 §4.3.1 affinity).
    auto offer = replies(feed(discover(k_a), broadcast_from(k_a)));
    ASSERT_EQ(offer.size(), 1u);
    EXPECT_EQ(offer[0].m->h.yiaddr, addr);
}

TEST_F(DhcpServer, DeclineQuarantinesAddress) {
    const uint32_t addr = bind(k_a);
    dhcp_spec dec;
    dec.chaddr = k_a;
    dec.options = {{53, u8v(4)}, {54, ipv(k_server_ip)}, {50, u32v(addr)}};
    // Only the holder may decline.
    dhcp_spec forged = dec;
    forged.chaddr = k_b;
    EXPECT_TRUE(feed(forged, broadcast_from(k_b)).empty());
    EXPECT_EQ(srv->drops(drop_reason::decline_mismatch), 1u);
    dhcp_spec no_addr = dec;
    no_addr.options = {{53, u8v(4)}, {54, ipv(k_server_ip)}};
    EXPECT_TRUE(feed(no_addr, broadcast_from(k_a)).empty());
    EXPECT_EQ(srv->drops(drop_reason::missing_address), 1u);

    auto acts = feed(dec, broadcast_from(k_a));
    EXPECT_TRUE(replies(acts).empty());
    auto l = lease_actions(acts);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].kind, lease_action::declined);
    EXPECT_EQ(l[0].l.expires_s, now + 86400);
    ASSERT_EQ(logs(acts).size(), 1u);
    EXPECT_NE(logs(acts)[0].find("declined 192.168.100.100"), std::string::npos);
    EXPECT_EQ(book->record(k_lan, addr)->state, lease_state::quarantined);
    EXPECT_EQ(srv->count(counter::addresses_declined), 1u);
    // The client starts over and gets another address; nobody gets the declined one.
    auto offer = replies(feed(discover(k_a, {{50, u32v(addr)}}), broadcast_from(k_a)));
    ASSERT_EQ(offer.size(), 1u);
    EXPECT_NE(offer[0].m->h.yiaddr, addr);
    // After the quarantine it is usable again.
    now += 86401;
    offer = replies(feed(discover(k_c, {{50, u32v(addr)}}), broadcast_from(k_c)));
    ASSERT_EQ(offer.size(), 1u);
    EXPECT_EQ(offer[0].m->h.yiaddr, addr);
}

TEST_F(DhcpServer, InformGetsConfigurationWithoutLease) {
    const ip4_t static_ip = ip4("192.168.100.77");
    dhcp_spec inf;
    inf.chaddr = k_c;
    inf.ciaddr = static_ip;
    inf.options = {{53, u8v(8)}, {55, bytes{1, 3, 6, 15, 26}}};
    auto acts = feed(inf, unicast_from(k_c, static_ip));
    auto r = replies(acts);
    ASSERT_EQ(r.size(), 1u);
    const message& m = *r[0].m;
    EXPECT_EQ(m.type(), message_type::ack);
    EXPECT_EQ(m.h.yiaddr, 0u);  // §4.3.5: no yiaddr
    EXPECT_EQ(m.h.ciaddr, h(static_ip));
    EXPECT_FALSE(m.options.has(opt::lease_time));  // MUST NOT
    EXPECT_FALSE(m.options.has(opt::renewal_time));
    EXPECT_FALSE(m.options.has(opt::rebinding_time));
    EXPECT_EQ(*m.options.u32(opt::subnet_mask), 0xffffff00u);
    EXPECT_EQ(*m.options.u16(opt::interface_mtu), 1450);
    EXPECT_EQ(r[0].send.route, reply_route::unicast_ciaddr);
    EXPECT_EQ(r[0].send.to.dst_ip, h(static_ip));
    EXPECT_TRUE(lease_actions(acts).empty());
    EXPECT_TRUE(book->commits.empty());
    EXPECT_EQ(book->holds, 0u);
}

TEST_F(DhcpServer, RelayedDiscoverAndNakEchoOption82) {
    const bytes rai = {1, 4, 'e', 't', 'h', '7', 2, 6, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
    dhcp_spec d = discover(k_a, {{82, rai}});
    d.giaddr = k_relay_ip;
    d.hops = 1;
    arrival a;
    a.port = k_uplink_port;
    a.from.src_mac = k_relay_mac;
    a.from.dst_mac = k_server_mac;
    a.from.src_ip = h(k_relay_ip);
    a.from.dst_ip = h(k_remote_server_ip);
    a.from.src_port = 67;
    a.from.dst_port = 67;
    auto r = replies(feed(d, a));
    ASSERT_EQ(r.size(), 1u);
    const message& m = *r[0].m;
    EXPECT_EQ(r[0].send.route, reply_route::relay);
    EXPECT_EQ(r[0].send.port, k_uplink_port);
    EXPECT_EQ(r[0].send.to.dst_ip, h(k_relay_ip));
    EXPECT_EQ(r[0].send.to.dst_port, 67);  // the server port, not 68
    EXPECT_EQ(r[0].send.to.dst_mac, k_relay_mac);
    EXPECT_EQ(r[0].send.to.src_ip, h(k_remote_server_ip));
    EXPECT_EQ(m.h.giaddr, h(k_relay_ip));
    EXPECT_EQ(m.h.hops, 0);
    EXPECT_GE(m.h.yiaddr, h(ip4("10.20.1.0")));  // the network chosen by giaddr
    EXPECT_LE(m.h.yiaddr, h(ip4("10.20.1.255")));
    EXPECT_EQ(*m.options.u32(opt::lease_time), 600u);
    EXPECT_EQ(*m.options.u32(opt::server_id), h(k_remote_server_ip));
    const auto echoed = m.options.get(opt::relay_agent_info);
    EXPECT_EQ(bytes(echoed.begin(), echoed.end()), rai);
    // Option 82 is the last option, right before End (RFC 3046 §2.2).
    const bytes& p = r[0].send.payload;
    size_t i = 240, last_code = 0;
    while (i < p.size() && p[i] != 255) {
        last_code = p[i];
        i += 2 + p[i + 1];
    }
    EXPECT_EQ(last_code, 82u);
    EXPECT_EQ(bytes(p.begin() + static_cast<long>(i) - 16, p.begin() + static_cast<long>(i)),
              (bytes{82, 14, 1, 4, 'e', 't', 'h', '7', 2, 6, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55}));

    // A NAK through a relay goes to the relay with the broadcast bit set (§4.3.2).
    dhcp_spec q = request(k_a, {{50, u32v(h(ip4("192.168.100.150")))}, {82, rai}});
    q.giaddr = k_relay_ip;
    auto n = replies(feed(q, a));
    ASSERT_EQ(n.size(), 1u);
    EXPECT_EQ(n[0].m->type(), message_type::nak);
    EXPECT_EQ(n[0].send.route, reply_route::relay);
    EXPECT_TRUE(n[0].m->h.broadcast());
    EXPECT_EQ(bytes(n[0].m->options.get(82).begin(), n[0].m->options.get(82).end()), rai);

    // A giaddr in no configured network: dropped.
    d.giaddr = ip4("172.16.0.1");
    EXPECT_TRUE(feed(d, a).empty());
    EXPECT_EQ(srv->drops(drop_reason::no_network), 1u);
}

TEST_F(DhcpServer, ClientIdIsTheKeyAndIsEchoed) {
    // Same MAC, two client identifiers (two OSes on one NIC): two clients.
    const bytes id1 = {0xff, 0, 0, 0, 1, 0, 2, 0, 0, 0xab, 0x11};
    const bytes id2 = {0xff, 0, 0, 0, 2, 0, 2, 0, 0, 0xab, 0x22};
    const uint32_t a1 = bind(k_a, {{61, id1}});
    const uint32_t a2 = bind(k_a, {{61, id2}});
    EXPECT_NE(a1, a2);
    EXPECT_EQ(book->commits[0].client, client_key::from_client_id(id1.data(), id1.size()));
    auto r = replies(feed(discover(k_a, {{61, id1}}), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->h.yiaddr, a1);
    EXPECT_EQ(bytes(r[0].m->options.get(61).begin(), r[0].m->options.get(61).end()), id1);
    // Without option 61 the MAC is the key: a third client.
    r = replies(feed(discover(k_a), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_NE(r[0].m->h.yiaddr, a1);
    EXPECT_NE(r[0].m->h.yiaddr, a2);
    EXPECT_FALSE(r[0].m->options.has(61));
}

TEST_F(DhcpServer, BroadcastFlagMeansBroadcastReply) {
    dhcp_spec d = discover(k_a);
    d.flags = 0x8000;
    auto r = replies(feed(d, broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].send.route, reply_route::broadcast);
    EXPECT_EQ(r[0].send.to.dst_ip, 0xffffffffu);
    EXPECT_EQ(r[0].send.to.dst_mac, k_broadcast);
    EXPECT_TRUE(r[0].m->h.broadcast());  // flags echoed
}

TEST_F(DhcpServer, RequestedAddressHonouredWhenFree) {
    auto r = replies(feed(discover(k_a, {{50, ipv(ip4("192.168.100.150"))}}), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->h.yiaddr, h(ip4("192.168.100.150")));
    // Held for A, so B asking for it gets another.
    r = replies(feed(discover(k_b, {{50, ipv(ip4("192.168.100.150"))}}), broadcast_from(k_b)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_NE(r[0].m->h.yiaddr, h(ip4("192.168.100.150")));
    // Outside the pool, or on another network: not honoured.
    r = replies(feed(discover(k_c, {{50, ipv(ip4("192.168.100.20"))}}), broadcast_from(k_c)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_NE(r[0].m->h.yiaddr, h(ip4("192.168.100.20")));
}

TEST_F(DhcpServer, ReservationWinsAndIsNotGivenToOthers) {
    // The reserved MAC gets its address (outside the pool) whatever it asks for.
    auto r = replies(feed(discover(k_reserved_mac, {{50, ipv(ip4("192.168.100.150"))}}), broadcast_from(k_reserved_mac)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->h.yiaddr, h(ip4("192.168.100.50")));
    EXPECT_EQ(bind(k_reserved_mac), h(ip4("192.168.100.50")));
    // Another client asking for it gets a pool address.
    r = replies(feed(discover(k_a, {{50, ipv(ip4("192.168.100.50"))}}), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_NE(r[0].m->h.yiaddr, h(ip4("192.168.100.50")));

    // The platform moves a VM that holds a pool lease to a reserved address: its next
    // renewal is NAKed so it comes back through DISCOVER to the new address.
    const uint32_t old = bind(k_b);
    book->reserve(k_lan, dm(k_b), h(ip4("192.168.100.60")));
    auto n = replies(feed(request(k_b, {}, addr_of(old)), unicast_from(k_b, addr_of(old))));
    ASSERT_EQ(n.size(), 1u);
    EXPECT_EQ(n[0].m->type(), message_type::nak);
    EXPECT_EQ(bind(k_b), h(ip4("192.168.100.60")));
}

TEST_F(DhcpServer, PoolExhaustionIsCountedAndLoggedRateLimited) {
    reset(make_config(), h(ip4("192.168.100.101")));  // two addresses
    bind(k_a);
    bind(k_b);
    auto acts = feed(discover(k_c), broadcast_from(k_c));
    EXPECT_TRUE(replies(acts).empty());
    EXPECT_EQ(srv->count(counter::pool_exhausted), 1u);
    ASSERT_EQ(logs(acts).size(), 1u);
    EXPECT_NE(logs(acts)[0].find("no free address"), std::string::npos);
    now += 1;
    acts = feed(discover(k_c), broadcast_from(k_c));
    EXPECT_TRUE(logs(acts).empty());  // within 10 s: suppressed
    EXPECT_EQ(srv->count(counter::pool_exhausted), 2u);
    now += 10;
    acts = feed(discover(k_c), broadcast_from(k_c));
    ASSERT_EQ(logs(acts).size(), 1u);
    EXPECT_NE(logs(acts)[0].find("(1 similar suppressed)"), std::string::npos);
    // A releases: C gets the address.
    dhcp_spec rel;
    rel.chaddr = k_a;
    rel.ciaddr = ip4("192.168.100.100");
    rel.options = {{53, u8v(7)}, {54, ipv(k_server_ip)}};
    feed(rel, unicast_from(k_a, ip4("192.168.100.100")));
    EXPECT_EQ(bind(k_c), h(ip4("192.168.100.100")));
}

TEST_F(DhcpServer, PoolSpanningSubnetSkipsNetworkServerAndBroadcast) {
    book = std::make_unique<memory_lease_book>();
    book->add_pool(k_lan, h(ip4("192.168.100.0")), h(ip4("192.168.100.255")));
    srv = std::make_unique<server>(make_config(), *book);
    // .0 (network) and .1 (ours) come first from the allocator: skipped.
    EXPECT_EQ(bind(k_a), h(ip4("192.168.100.2")));
    for (uint32_t i = 3; i <= 254; ++i) {
        mac_t m = k_b;
        m[3] = 0x77, m[4] = static_cast<uint8_t>(i >> 8), m[5] = static_cast<uint8_t>(i);
        ASSERT_EQ(replies(feed(discover(m), broadcast_from(m))).size(), 1u) << i;
    }
    // .255 (broadcast) is never offered: the pool is now exhausted.
    EXPECT_TRUE(replies(feed(discover(k_c), broadcast_from(k_c))).empty());
    EXPECT_EQ(srv->count(counter::pool_exhausted), 1u);
    EXPECT_EQ(srv->count(counter::tx_offer), 1u + 252u);
}

TEST_F(DhcpServer, ExpiredOfferIsReusable) {
    reset(make_config(), h(ip4("192.168.100.100")));  // one address
    ASSERT_EQ(replies(feed(discover(k_a), broadcast_from(k_a))).size(), 1u);
    EXPECT_TRUE(replies(feed(discover(k_b), broadcast_from(k_b))).empty());  // held for A
    now += 31;
    auto r = replies(feed(discover(k_b), broadcast_from(k_b)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->h.yiaddr, h(ip4("192.168.100.100")));
}

TEST_F(DhcpServer, HeldRepliesBoundedAndDroppedOnPersistFailure) {
    server_config cfg = make_config();
    cfg.max_held_replies = 1;
    reset(cfg);
    auto oa = replies(feed(discover(k_a), broadcast_from(k_a)));
    auto ob = replies(feed(discover(k_b), broadcast_from(k_b)));
    feed(request(k_a, {{54, ipv(k_server_ip)}, {50, u32v(oa[0].m->h.yiaddr)}}), broadcast_from(k_a), false);
    const ticket ta = book->last_ticket;
    feed(request(k_b, {{54, ipv(k_server_ip)}, {50, u32v(ob[0].m->h.yiaddr)}}), broadcast_from(k_b), false);
    EXPECT_EQ(srv->held_replies(), 1u);
    EXPECT_EQ(srv->drops(drop_reason::held_queue_full), 1u);
    std::vector<action> out;
    srv->on_persist_failed(ta, out);
    EXPECT_EQ(srv->held_replies(), 0u);
    EXPECT_TRUE(replies(out).empty());
    ASSERT_EQ(logs(out).size(), 1u);
    EXPECT_EQ(srv->count(counter::persist_failed), 1u);
    out.clear();
    srv->on_durable(book->last_ticket, out);
    EXPECT_TRUE(out.empty());  // nothing left to send
}

TEST_F(DhcpServer, ReplySizeFollowsMaxMessageSize) {
    server_config cfg = make_config();
    for (uint32_t i = 0; i < 100; ++i) cfg.networks[0].dns_servers.push_back(h(ip4("10.1.0.0")) + i);  // 408 bytes
    reset(cfg);
    // No option 57: the reply stays within 576-byte datagrams; DNS is left out.
    auto r = replies(feed(discover(k_a), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_LE(r[0].send.payload.size(), 548u);
    EXPECT_FALSE(r[0].m->options.has(opt::dns_servers));
    EXPECT_TRUE(r[0].m->options.has(opt::lease_time));
    EXPECT_EQ(srv->count(counter::options_omitted), 1u);
    // 57 = 1500: everything fits, the DNS list split over two options (RFC 3396).
    r = replies(feed(discover(k_b, {{57, u16v(1500)}}), broadcast_from(k_b)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->options.get(opt::dns_servers).size(), 408u);
    EXPECT_GT(r[0].send.payload.size(), 548u);
    EXPECT_LE(r[0].send.payload.size(), 1450u - 28u);  // and never beyond the network's MTU
    // A value under the legal minimum is treated as 576.
    r = replies(feed(discover(k_c, {{57, u16v(300)}}), broadcast_from(k_c)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_LE(r[0].send.payload.size(), 548u);
    EXPECT_FALSE(r[0].m->options.has(opt::dns_servers));
}

TEST_F(DhcpServer, InfiniteLeaseHasNoTimers) {
    server_config cfg = make_config();
    cfg.networks[0].lease_time_s = 0xffffffff;
    reset(cfg);
    auto r = replies(feed(discover(k_a), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(*r[0].m->options.u32(opt::lease_time), 0xffffffffu);
    EXPECT_FALSE(r[0].m->options.has(opt::renewal_time));
    EXPECT_FALSE(r[0].m->options.has(opt::rebinding_time));
    bind(k_b);
    EXPECT_EQ(book->commits.back().expires_s, k_infinite);
}

TEST_F(DhcpServer, LeaseTimeRequestedAndRemaining) {
    // A shorter lease asked for is granted, with timers scaled to it.
    auto r = replies(feed(discover(k_a, {{51, u32v(600)}}), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(*r[0].m->options.u32(opt::lease_time), 600u);
    EXPECT_EQ(*r[0].m->options.u32(opt::renewal_time), 300u);
    EXPECT_EQ(*r[0].m->options.u32(opt::rebinding_time), 525u);
    const uint32_t addr = r[0].m->h.yiaddr;
    auto ack = replies(feed(request(k_a, {{54, ipv(k_server_ip)}, {50, u32v(addr)}, {51, u32v(600)}}),
                            broadcast_from(k_a)));
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(*ack[0].m->options.u32(opt::lease_time), 600u);
    EXPECT_EQ(book->commits.back().expires_s, now + 600);
    // Longer than configured, or absurdly short: the configured lease.
    for (const uint32_t asked : {100000u, 30u}) {
        SCOPED_TRACE(asked);
        r = replies(feed(discover(k_b, {{51, u32v(asked)}}), broadcast_from(k_b)));
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(*r[0].m->options.u32(opt::lease_time), 3600u);
    }
    // A bound client's DISCOVER is offered what is left of its lease (§4.3.1); the
    // REQUEST that follows extends it in full.
    const uint32_t c_addr = bind(k_c);
    now += 1000;
    r = replies(feed(discover(k_c), broadcast_from(k_c)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->h.yiaddr, c_addr);
    EXPECT_EQ(*r[0].m->options.u32(opt::lease_time), 2600u);
    EXPECT_EQ(*r[0].m->options.u32(opt::renewal_time), 1300u);
    ack = replies(feed(request(k_c, {{54, ipv(k_server_ip)}, {50, u32v(c_addr)}}), broadcast_from(k_c)));
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(*ack[0].m->options.u32(opt::lease_time), 3600u);
}

TEST_F(DhcpServer, ConfiguredTimersUsedWhileTheyFit) {
    server_config cfg = make_config();
    cfg.networks[0].renewal_time_s = 1000;
    cfg.networks[0].rebinding_time_s = 2000;
    reset(cfg);
    auto r = replies(feed(discover(k_a), broadcast_from(k_a)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(*r[0].m->options.u32(opt::renewal_time), 1000u);
    EXPECT_EQ(*r[0].m->options.u32(opt::rebinding_time), 2000u);
    r = replies(feed(discover(k_b, {{51, u32v(900)}}), broadcast_from(k_b)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(*r[0].m->options.u32(opt::renewal_time), 450u);
    EXPECT_EQ(*r[0].m->options.u32(opt::rebinding_time), 787u);
}

struct drop_case {
    const char* name;
    dhcp_spec spec;
    uint16_t port;
    drop_reason expect;
};

TEST_F(DhcpServer, DropsAreCountedNeverAnswered) {
    dhcp_spec base = discover(k_a);
    dhcp_spec reply_op = base;
    reply_op.op = 2;
    dhcp_spec bootp = base;
    bootp.options = {};
    dhcp_spec token_ring = base;
    token_ring.htype = 6;
    dhcp_spec offer_type = base;
    offer_type.options = {{53, u8v(2)}};
    dhcp_spec type_99 = base;
    type_99.options = {{53, u8v(99)}};
    dhcp_spec request_nothing = request(k_a, {});
    dhcp_spec release_other = base;
    release_other.options = {{53, u8v(7)}, {54, ipv(ip4("192.168.100.2"))}};
    const drop_case cases[] = {
        {"BOOTREPLY", reply_op, k_vm_port, drop_reason::not_request},
        {"plain BOOTP", bootp, k_vm_port, drop_reason::bootp},
        {"not Ethernet", token_ring, k_vm_port, drop_reason::not_ethernet},
        {"OFFER from a client", offer_type, k_vm_port, drop_reason::bad_message_type},
        {"type 99", type_99, k_vm_port, drop_reason::bad_message_type},
        {"port without network", base, 5, drop_reason::no_network},
        {"REQUEST without address", request_nothing, k_vm_port, drop_reason::missing_address},
        {"RELEASE to another server", release_other, k_vm_port, drop_reason::not_for_us},
    };
    for (const drop_case& c : cases) {
        SCOPED_TRACE(c.name);
        const uint64_t before = srv->drops(c.expect);
        EXPECT_TRUE(feed(c.spec, broadcast_from(k_a, c.port)).empty());
        EXPECT_EQ(srv->drops(c.expect), before + 1);
    }
    EXPECT_EQ(book->holds, 0u);

    // Frames: broken checksums and malformed messages are counted by kind.
    std::vector<action> out;
    bytes f = udhcpc_discover_frame();
    f[14 + 20 + 8 + 236] ^= 1;  // cookie; UDP checksum cleared so the frame passes
    f[14 + 20 + 6] = f[14 + 20 + 7] = 0;
    srv->on_frame(k_vm_port, f, now, out);
    f = udhcpc_discover_frame();
    f[14 + 10] ^= 1;  // IP checksum
    srv->on_frame(k_vm_port, f, now, out);
    srv->on_frame(k_vm_port, bytes(10, 0), now, out);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(srv->drops(drop_reason::bad_frame), 2u);
    EXPECT_EQ(srv->drops(drop_reason::malformed), 1u);
    EXPECT_EQ(srv->frame_errors(frame_error::truncated), 1u);
    EXPECT_EQ(srv->parse_errors(parse_error::bad_cookie), 1u);
    EXPECT_EQ(srv->frame_errors(frame_error::bad_ip_checksum), 1u);
}

TEST_F(DhcpServer, VlanTagsComeBackOnTheReply) {
    dhcp_spec d = discover(k_a);
    d.flags = 0x8000;
    const bytes f = eth(k_broadcast, k_a, 0x0800,
                        ipv4(ip4("0.0.0.0"), ip4("255.255.255.255"), 17,
                             udp(ip4("0.0.0.0"), ip4("255.255.255.255"), 68, 67, dhcp_payload(d))),
                        {{0x8100, 42}});
    std::vector<action> out;
    srv->on_frame(k_vm_port, f, now, out);
    auto r = replies(out);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].send.to.vlan_tags_len, 4);
    EXPECT_EQ(bytes(r[0].send.to.vlan_tags.begin(), r[0].send.to.vlan_tags.begin() + 4), (bytes{0x81, 0x00, 0, 42}));
}

TEST_F(DhcpServer, UnicastRenewalFromRelayedNetworkSelectedByCiaddr) {
    // Bound through the relay, the client later renews by unicast straight to the
    // server: no giaddr, arriving on the uplink; its ciaddr picks the network.
    dhcp_spec d = discover(k_a);
    d.giaddr = k_relay_ip;
    arrival via_relay = broadcast_from(k_relay_mac, k_uplink_port);
    auto offer = replies(feed(d, via_relay));
    ASSERT_EQ(offer.size(), 1u);
    const uint32_t addr = offer[0].m->h.yiaddr;
    dhcp_spec q = request(k_a, {{54, ipv(k_remote_server_ip)}, {50, u32v(addr)}});
    q.giaddr = k_relay_ip;
    ASSERT_EQ(replies(feed(q, via_relay)).size(), 1u);

    arrival direct = unicast_from(k_relay_mac, addr_of(addr));  // routed: the router's MAC
    direct.port = k_uplink_port;
    direct.from.dst_ip = h(k_remote_server_ip);
    auto r = replies(feed(request(k_a, {}, addr_of(addr)), direct));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].m->type(), message_type::ack);
    EXPECT_EQ(*r[0].m->options.u32(opt::server_id), h(k_remote_server_ip));
    EXPECT_EQ(*r[0].m->options.u32(opt::lease_time), 600u);
    EXPECT_EQ(r[0].send.route, reply_route::unicast_ciaddr);
    EXPECT_EQ(r[0].send.to.dst_mac, k_relay_mac);
    EXPECT_EQ(r[0].send.port, k_uplink_port);
    EXPECT_EQ(srv->count(counter::request_renewing), 1u);
}

TEST_F(DhcpServer, FrameInFrameOutRoundTrip) {
    // The adapter's path: punted frame in, send_action out, build_frame, and the
    // result is a valid IPv4/UDP frame to the client.
    std::vector<action> out;
    srv->on_frame(k_vm_port, udhcpc_discover_frame(), now, out);
    ASSERT_EQ(out.size(), 1u);
    send_action s = std::get<send_action>(out[0]);
    s.to.src_mac = k_server_mac;
    std::vector<uint8_t> frame(1514);
    const size_t n = build_frame(frame, s.to, s.payload);
    ASSERT_EQ(n, 14u + 20 + 8 + s.payload.size());
    EXPECT_TRUE(ipv4_header_ok(frame.data() + 14));
    EXPECT_EQ(get16(frame.data() + 34), 67);
    EXPECT_EQ(get16(frame.data() + 36), 68);
    EXPECT_TRUE(checksum_ok(frame.data() + 34, n - 34,
                            pseudo_sum(k_server_ip, ip4("192.168.100.100"), 17, static_cast<uint32_t>(n - 34))));
}

}  // namespace
}  // namespace eg::ctl::dhcp
