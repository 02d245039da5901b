// Compiling the config into the data-plane snapshot (control/snapshot_builder.*):
// real TOML through the real loader, then the snapshot's ports, LPM tables and next hops.
#include "control/snapshot_builder.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/test_frames.hpp"

namespace eg::ctl {
namespace {

using namespace eg::test;

std::unique_ptr<dp::snapshot> build(std::string_view toml, bool with_host) {
    const cfg::load_result r = cfg::load_string(toml, "snapshot_builder_test.toml");
    if (!r.value) {
        std::string all;
        for (const auto& e : r.errors) all += e.to_string() + "\n";
        ADD_FAILURE() << all;
        return nullptr;
    }
    std::vector<port_runtime_info> ports;
    for (size_t i = 0; i < r.value->ports.size() + (with_host ? 1 : 0); ++i) {
        ports.push_back({dp::mac_bytes{0x02, 0, 0, 0, 0, static_cast<uint8_t>(i + 1)}});
    }
    return build_snapshot(*r.value, ports, dp::mac_bytes{0x02, 0, 0, 0, 0, 0xff}, 42);
}

constexpr std::string_view k_lab = R"(
[icmp]
errors_per_second = 250

[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
ipv6 = ["2001:db8:100::1/64"]
[ports.router_advertisements]
enabled = true
router_lifetime_s = 600
prefixes = ["2001:db8:100::/64"]
autonomous = true

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
mtu = 1400
ipv4 = ["203.0.113.1/24"]
ipv6 = ["2001:db8:1::1/64"]

[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"

[[routes]]
prefix = "::/0"
via = "2001:db8:1::2"

[[routes]]
prefix = "2001:db8:1::100/122"
port = "vm"

[[routes]]
prefix = "10.8.0.0/16"
via = "192.168.100.9"

[[routes]]
prefix = "2001:db8:200::/48"
via = "fe80::1"
port = "vm"

[host]
enabled = true
)";

struct route_case {
    const char* addr;
    uint16_t port;         // k_no_port: local
    const char* gateway;   // nullptr: on-link
};

TEST(SnapshotBuilder, PortsAndHostPort) {
    auto s = build(k_lab, true);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->generation, 42u);
    EXPECT_EQ(s->icmp_errors_per_second, 250u);
    ASSERT_EQ(s->ports.size(), 3u);
    const auto& vm = s->ports[0];
    const auto& up = s->ports[1];
    const auto& host = s->ports[2];
    EXPECT_EQ(vm.name, "vm");
    EXPECT_EQ(vm.role, dp::port_role::vm);
    EXPECT_EQ(vm.mac, (dp::mac_bytes{2, 0, 0, 0, 0, 1}));
    EXPECT_EQ(vm.mtu, 1500u);
    ASSERT_EQ(vm.ipv4.size(), 1u);
    EXPECT_EQ(vm.ipv4[0].addr, host_order(ip4("192.168.100.1")));
    EXPECT_EQ(vm.ipv4[0].prefix_len, 24);
    EXPECT_EQ(vm.ipv6[0].addr, ip6("2001:db8:100::1"));
    EXPECT_EQ(vm.link_local, ip6("fe80::ff:fe00:1"));
    EXPECT_TRUE(vm.ra.enabled);
    EXPECT_EQ(vm.ra.router_lifetime_s, 600);
    EXPECT_TRUE(vm.ra.autonomous);
    ASSERT_EQ(vm.ra.prefixes.size(), 1u);
    EXPECT_EQ(vm.ra.prefixes[0].addr, ip6("2001:db8:100::"));
    EXPECT_EQ(vm.ra.prefixes[0].prefix_len, 64);

    EXPECT_EQ(up.role, dp::port_role::uplink);
    EXPECT_EQ(up.mtu, 1400u);
    EXPECT_TRUE(up.nd_proxy);  // the default on an uplink with IPv6
    EXPECT_FALSE(up.ra.enabled);
    EXPECT_EQ(up.link_local, link_local(mac("02:00:00:00:00:02")));

    EXPECT_EQ(s->host_port, 2);
    EXPECT_EQ(host.index, 2);
    EXPECT_EQ(host.role, dp::port_role::host);
    EXPECT_EQ(host.mac, (dp::mac_bytes{2, 0, 0, 0, 0, 3}));
    EXPECT_EQ(host.mtu, 1500u);
    EXPECT_TRUE(host.ipv4.empty());
    EXPECT_EQ(s->host_kernel_mac, (dp::mac_bytes{2, 0, 0, 0, 0, 0xff}));
}

TEST(SnapshotBuilder, NoHostPortWhenDisabled) {
    const std::string toml = std::string(k_lab.substr(0, k_lab.find("[host]"))) + "[host]\nenabled = false\n";
    auto s = build(toml, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->ports.size(), 2u);
    EXPECT_EQ(s->host_port, dp::k_no_port);
}

TEST(SnapshotBuilder, RoutesCompileToTheRightNextHops) {
    auto s = build(k_lab, true);
    ASSERT_TRUE(s);
    const route_case v4_cases[] = {
        {"192.168.100.1", dp::k_no_port, nullptr},    // our own: local /32
        {"203.0.113.1", dp::k_no_port, nullptr},
        {"192.168.100.11", 0, nullptr},               // connected
        {"192.168.100.0", 0, nullptr},
        {"203.0.113.2", 1, nullptr},
        {"198.51.100.7", 1, "203.0.113.2"},           // default route
        {"10.8.255.255", 0, "192.168.100.9"},         // via an on-link gateway on the vm port
        {"10.9.0.0", 1, "203.0.113.2"},
    };
    for (const auto& c : v4_cases) {
        SCOPED_TRACE(c.addr);
        const uint32_t nh = s->routes4.lookup(host_order(ip4(c.addr)));
        ASSERT_NE(nh, dp::k_lpm_no_route);
        ASSERT_LT(nh, s->next_hops.size());
        if (c.port == dp::k_no_port) {
            EXPECT_EQ(nh, dp::k_nh_local);
            continue;
        }
        ASSERT_NE(nh, dp::k_nh_local);
        EXPECT_EQ(s->next_hops[nh].port, c.port);
        EXPECT_EQ(s->next_hops[nh].via_gateway, c.gateway != nullptr);
        if (c.gateway) {
            EXPECT_EQ(s->next_hops[nh].gateway4, host_order(ip4(c.gateway)));
        }
    }
    const route_case v6_cases[] = {
        {"2001:db8:1::1", dp::k_no_port, nullptr},
        {"2001:db8:100::1", dp::k_no_port, nullptr},
        {"2001:db8:1::2", 1, nullptr},
        {"2001:db8:1::ff", 1, nullptr},      // just below the /122
        {"2001:db8:1::100", 0, nullptr},
        {"2001:db8:1::13f", 0, nullptr},
        {"2001:db8:1::140", 1, nullptr},     // just above it
        {"2001:db8:100::77", 0, nullptr},
        {"2001:db8:ffff::9", 1, "2001:db8:1::2"},
        {"2001:db8:200:1::1", 0, "fe80::1"},  // explicit port for a link-local gateway
    };
    for (const auto& c : v6_cases) {
        SCOPED_TRACE(c.addr);
        const uint32_t nh = s->routes6.lookup(ip6(c.addr).data());
        ASSERT_NE(nh, dp::k_lpm_no_route);
        ASSERT_LT(nh, s->next_hops.size());
        if (c.port == dp::k_no_port) {
            EXPECT_EQ(nh, dp::k_nh_local);
            continue;
        }
        ASSERT_NE(nh, dp::k_nh_local);
        EXPECT_EQ(s->next_hops[nh].port, c.port);
        EXPECT_EQ(s->next_hops[nh].via_gateway, c.gateway != nullptr);
        if (c.gateway) {
            EXPECT_EQ(s->next_hops[nh].gateway6, ip6(c.gateway));
        }
    }
    // Shared next hops are stored once: local, vm, uplink and the 4 gateways (the /122
    // through "vm" reuses the vm port's connected next hop).
    EXPECT_EQ(s->next_hops.size(), 7u);
    EXPECT_EQ(s->next_hops[dp::k_nh_local].port, dp::k_no_port);
}

TEST(SnapshotBuilder, NoDefaultRouteMeansNoRoute) {
    auto s = build(R"(
[[ports]]
name = "a"
role = "vm"
backend = "memory"
ipv4 = ["10.0.0.1/30"]
ipv6 = ["2001:db8::1/127"]
)",
                   false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->routes4.lookup(host_order(ip4("10.0.0.4"))), dp::k_lpm_no_route);
    EXPECT_EQ(s->next_hops[s->routes4.lookup(host_order(ip4("10.0.0.2")))].port, 0);
    EXPECT_EQ(s->routes4.lookup(host_order(ip4("10.0.0.1"))), dp::k_nh_local);
    EXPECT_EQ(s->routes6.lookup(ip6("2001:db8::1").data()), dp::k_nh_local);
    EXPECT_EQ(s->next_hops[s->routes6.lookup(ip6("2001:db8::").data())].port, 0);
    EXPECT_EQ(s->routes6.lookup(ip6("2001:db8::2").data()), dp::k_lpm_no_route);
    EXPECT_TRUE(s->ports[0].ra.enabled);  // vm port with IPv6: on by default
}

TEST(SnapshotBuilder, LinkLocalFromMacIsModifiedEui64) {
    // RFC 4291 Appendix A: 34-56-78-9A-BC-DE -> interface id 3656:78ff:fe9a:bcde.
    EXPECT_EQ(dp::link_local_from_mac({0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde}), ip6("fe80::3656:78ff:fe9a:bcde"));
    // A locally administered MAC gets its U/L bit cleared.
    EXPECT_EQ(dp::link_local_from_mac({0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}), ip6("fe80::5eff:fe10:1"));
    for (const char* m : {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "52:54:00:12:34:56", "02:42:ac:11:00:02"}) {
        const mac_t a = mac(m);
        EXPECT_EQ(dp::link_local_from_mac(a), link_local(a)) << m;
    }
}

TEST(SnapshotBuilder, SnapshotAddressHelpers) {
    auto s = build(k_lab, true);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->source_address4(0), host_order(ip4("192.168.100.1")));
    EXPECT_EQ(s->source_address4(1), host_order(ip4("203.0.113.1")));
    EXPECT_EQ(s->source_address4(2), host_order(ip4("192.168.100.1")));  // host port: the first of any
    EXPECT_EQ(s->source_address6(0), ip6("2001:db8:100::1"));
    EXPECT_EQ(s->source_address6(2), s->ports[2].link_local);
    EXPECT_TRUE(s->is_our_address4(0, host_order(ip4("192.168.100.1"))));
    EXPECT_FALSE(s->is_our_address4(1, host_order(ip4("192.168.100.1"))));
    EXPECT_TRUE(s->is_our_address6(1, ip6("2001:db8:1::1").data()));
    EXPECT_TRUE(s->is_our_address6(1, s->ports[1].link_local.data()));
    EXPECT_FALSE(s->is_our_address6(0, ip6("2001:db8:1::1").data()));
}

}  // namespace
}  // namespace eg::ctl

namespace eg::ctl {
namespace {

constexpr std::string_view k_nat_dhcp = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]

[[ports]]
name = "up"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]

[nat]
public_addresses = ["203.0.113.1"]
sessions_per_vm = 100
max_vms = 3

[[vms]]
name = "vm1"
mac = "02:00:00:00:01:01"
ipv4 = "192.168.100.11"
egress = "port_block"
port_block = 0

[dhcp]
state_dir = "/nonexistent"

[[dhcp.networks]]
port = "vm"
pool = ["192.168.100.100-192.168.100.199"]
)";

TEST(SnapshotBuilder, RuntimeVmsFollowTheConfiguredOnesBySlot) {
    const cfg::load_result r = cfg::load_string(k_nat_dhcp, "t.toml");
    ASSERT_TRUE(r.value) << r.errors.front().to_string();
    const std::vector<port_runtime_info> ports{{dp::mac_bytes{2, 0, 0, 0, 0, 1}}, {dp::mac_bytes{2, 0, 0, 0, 0, 2}}};
    const std::vector<runtime_vm> runtime{{"dhcp-a", dp::mac_bytes{0x52, 0x54, 0, 0, 0, 0xa}, 0xc0a86464, true},
                                          {"gone", dp::mac_bytes{0x52, 0x54, 0, 0, 0, 0xb}, 0xc0a86465, false},
                                          {"vps-c", dp::mac_bytes{0x52, 0x54, 0, 0, 0, 0xc}, 0xc0a86466, true}};
    const auto s = build_snapshot(*r.value, ports, {}, 1, runtime);
    const dp::nat44_policy& n = s->nat;
    EXPECT_TRUE(n.anti_spoofing);
    EXPECT_EQ(n.vm_capacity, 3u);
    ASSERT_EQ(n.vms.size(), 3u) << "[[vms]] + runtime VMs, cut at nat.max_vms";
    EXPECT_EQ(n.vms[0].name, "vm1");
    EXPECT_EQ(n.vms[1].name, "dhcp-a");
    EXPECT_EQ(n.vms[1].egress, dp::nat_egress::masquerade);
    EXPECT_EQ(n.vms[1].max_sessions, 100u);
    EXPECT_EQ(n.vms[1].public_addr, 0xcb007101u);
    EXPECT_EQ(n.vms[1].mac[5], 0xa);
    // Admitted VMs are found by address; a slot whose VM left keeps its entry but is not.
    ASSERT_NE(n.vm_of(0xc0a86464), nullptr);
    EXPECT_EQ(n.vm_of(0xc0a86464)->name, "dhcp-a");
    EXPECT_EQ(n.vm_of(0xc0a86465), nullptr);
    EXPECT_FALSE(n.vms[2].admitted);
    EXPECT_NE(n.vm_of(0xc0a8640b), nullptr);
    EXPECT_TRUE(n.retire_token);
}

TEST(SnapshotBuilder, AntiSpoofingNeedsVmsOrDhcp) {
    std::string toml(k_nat_dhcp);
    toml = toml.substr(0, toml.find("[[vms]]"));  // neither [[vms]] nor [dhcp]
    const cfg::load_result r = cfg::load_string(toml, "t.toml");
    ASSERT_TRUE(r.value) << r.errors.front().to_string();
    const std::vector<port_runtime_info> ports{{dp::mac_bytes{2, 0, 0, 0, 0, 1}}, {dp::mac_bytes{2, 0, 0, 0, 0, 2}}};
    EXPECT_FALSE(build_snapshot(*r.value, ports, {}, 1)->nat.anti_spoofing);
}

}  // namespace
}  // namespace eg::ctl
