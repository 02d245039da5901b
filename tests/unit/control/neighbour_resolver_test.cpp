// ARP/ND resolution on the control thread (control/neighbour_resolver.*), sans-I/O:
// driven with explicit now_ms and a send function that captures what goes out.
#include "control/neighbour_resolver.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "control/snapshot_builder.hpp"
#include "tests/unit/test_frames.hpp"

namespace eg::ctl {
namespace {

using namespace eg::test;

constexpr std::string_view k_config = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
ipv6 = ["2001:db8:100::1/64"]

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

[neighbours]
reachable_s = 30
retransmit_ms = 1000
max_probes = 3
queue_per_neighbour = 2
)";

constexpr uint16_t k_vm = 0, k_up = 1;
const mac_t k_vm_mac = mac("02:00:00:00:00:01"), k_up_mac = mac("02:00:00:00:00:02");
const mac_t k_gw_mac = mac("52:54:00:00:00:22"), k_vm1_mac = mac("52:54:00:00:00:11");
const ip4_t k_up4 = ip4("203.0.113.1"), k_gw4 = ip4("203.0.113.2"), k_vm1 = ip4("192.168.100.11");
const ip6_t k_up6 = ip6("2001:db8:1::1"), k_gw6 = ip6("2001:db8:1::2");

struct sent {
    uint16_t port;
    bytes frame;
    dp::offload_info offload;
};

class NeighbourResolver : public ::testing::Test {
protected:
    NeighbourResolver() {
        const cfg::load_result r = cfg::load_string(k_config, "neighbour_resolver_test.toml");
        if (!r.value) throw std::runtime_error(r.errors.empty() ? "config" : r.errors[0].to_string());
        config = *r.value;
        snap = build_snapshot(config, {{k_vm_mac}, {k_up_mac}}, {}, 1);
        resolver = std::make_unique<neighbour_resolver>(
            table, config.neighbours,
            [this](uint16_t port, std::span<const uint8_t> f, const dp::offload_info& o) {
                out.push_back({port, bytes(f.begin(), f.end()), o});
            });
    }

    std::unique_ptr<dp::frame_message> message(dp::frame_message::kind_t kind, uint16_t port, const bytes& frame,
                                               const uint8_t* next_hop = nullptr, bool v6 = false) {
        auto m = std::make_unique<dp::frame_message>();
        m->kind = kind;
        m->port = port;
        m->next_hop_v6 = v6;
        if (next_hop) std::memcpy(m->next_hop, next_hop, v6 ? 16 : 4);
        m->len = static_cast<uint16_t>(frame.size());
        std::memcpy(m->data, frame.data(), frame.size());
        return m;
    }
    /// A packet the worker could not send: already addressed from the uplink, dst MAC blank.
    bytes waiting_ipv4(uint16_t id) {
        ip4_opts o;
        o.id = id;
        o.ttl = 63;
        return eth(k_up_mac, k_up_mac, 0x0800, ipv4(ip4("192.168.100.11"), ip4("198.51.100.7"), 17,
                                                   udp(ip4("192.168.100.11"), ip4("198.51.100.7"), 1, 2, payload(20)), o));
    }
    void unresolved4(const bytes& frame, uint64_t now, const ip4_t& nh = k_gw4, uint16_t port = k_up,
                     dp::offload_info off = {}) {
        auto m = message(dp::frame_message::unresolved, port, frame, nh.data());
        m->offload = off;
        resolver->on_punted(*m, *snap, now);
    }
    void learn(uint16_t port, const bytes& frame, uint64_t now) {
        resolver->on_punted(*message(dp::frame_message::learn, port, frame), *snap, now);
    }
    bytes arp_reply_from_gw() { return padded(eth(k_up_mac, k_gw_mac, 0x0806, arp(2, k_gw_mac, k_gw4, k_up_mac, k_up4))); }
    std::optional<mac_t> in_table4(uint16_t port, const ip4_t& a) {
        mac_t m;
        if (!table.lookup(dp::neighbour_key::ipv4(port, host_order(a)), m.data())) return std::nullopt;
        return m;
    }
    std::optional<mac_t> in_table6(uint16_t port, const ip6_t& a) {
        mac_t m;
        if (!table.lookup(dp::neighbour_key::ipv6(port, a.data()), m.data())) return std::nullopt;
        return m;
    }
    std::vector<sent> take() { return std::exchange(out, {}); }

    cfg::config config;
    std::unique_ptr<dp::snapshot> snap;
    dp::neighbour_table table{1024};
    std::vector<sent> out;
    std::unique_ptr<neighbour_resolver> resolver;
};

TEST_F(NeighbourResolver, UnresolvedSendsArpRequestAndQueuesTheFrame) {
    unresolved4(waiting_ipv4(1), 1000);
    auto s = take();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].port, k_up);
    // Broadcast who-has 203.0.113.2 tell 203.0.113.1.
    EXPECT_EQ(s[0].frame, eth(k_broadcast, k_up_mac, 0x0806, arp(1, k_up_mac, k_up4, mac_t{}, k_gw4)));
    EXPECT_EQ(resolver->counters().queued, 1u);
    EXPECT_EQ(resolver->counters().requests_sent, 1u);
    EXPECT_EQ(resolver->entries(), 1u);
    EXPECT_FALSE(in_table4(k_up, k_gw4));

    unresolved4(waiting_ipv4(2), 1100);  // queued, no second request
    EXPECT_TRUE(take().empty());
    unresolved4(waiting_ipv4(3), 1200);  // queue_per_neighbour = 2
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(resolver->counters().queued, 2u);
    EXPECT_EQ(resolver->counters().queue_drops, 1u);
}

TEST_F(NeighbourResolver, LearnReleasesTheQueueWithTheDestinationMac) {
    dp::offload_info gso{};
    gso.gso_type = dp::offload_info::gso_tcpv4;
    gso.gso_size = 1360;
    unresolved4(waiting_ipv4(1), 0);
    unresolved4(waiting_ipv4(2), 10, k_gw4, k_up, gso);
    take();
    learn(k_up, arp_reply_from_gw(), 50);
    EXPECT_EQ(in_table4(k_up, k_gw4), k_gw_mac);
    auto s = take();
    ASSERT_EQ(s.size(), 2u);
    for (int i = 0; i < 2; ++i) {
        bytes want = waiting_ipv4(static_cast<uint16_t>(i + 1));
        std::copy(k_gw_mac.begin(), k_gw_mac.end(), want.begin());
        EXPECT_EQ(s[i].port, k_up);
        EXPECT_EQ(s[i].frame, want) << i;
    }
    EXPECT_EQ(s[1].offload.gso_type, dp::offload_info::gso_tcpv4);
    EXPECT_EQ(s[1].offload.gso_size, 1360);
    EXPECT_EQ(resolver->counters().released, 2u);
    EXPECT_EQ(resolver->counters().resolved, 1u);

    // Later frames for a resolved neighbour go straight out.
    unresolved4(waiting_ipv4(9), 60);
    s = take();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(bytes(s[0].frame.begin(), s[0].frame.begin() + 6), bytes(k_gw_mac.begin(), k_gw_mac.end()));

    // No retransmission once resolved.
    resolver->on_tick(*snap, 5000);
    EXPECT_TRUE(take().empty());
}

TEST_F(NeighbourResolver, RetransmitsEveryRetransmitMsThenFailsAndDropsTheQueue) {
    unresolved4(waiting_ipv4(1), 10'000);
    unresolved4(waiting_ipv4(2), 10'000);
    ASSERT_EQ(take().size(), 1u);
    const bytes request = eth(k_broadcast, k_up_mac, 0x0806, arp(1, k_up_mac, k_up4, mac_t{}, k_gw4));
    struct step {
        uint64_t now;
        size_t requests;
    };
    const step steps[] = {{10'100, 0}, {10'999, 0}, {11'000, 1}, {11'500, 0}, {12'000, 1}, {12'999, 0}};
    for (const auto& st : steps) {
        resolver->on_tick(*snap, st.now);
        auto s = take();
        ASSERT_EQ(s.size(), st.requests) << "at " << st.now;
        if (!s.empty()) {
            EXPECT_EQ(s[0].frame, request);
        }
    }
    EXPECT_EQ(resolver->counters().requests_sent, 3u);
    resolver->on_tick(*snap, 13'000);  // 3 probes unanswered: give up
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(resolver->counters().failed, 1u);
    EXPECT_EQ(resolver->counters().queue_drops, 2u);
    EXPECT_EQ(resolver->entries(), 0u);
    EXPECT_FALSE(in_table4(k_up, k_gw4));
    // A late answer does not release the dropped frames.
    learn(k_up, arp_reply_from_gw(), 13'100);
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(resolver->counters().released, 0u);
}

TEST_F(NeighbourResolver, RefreshesWithUnicastProbesAndExpiresWhenSilent) {
    learn(k_up, arp_reply_from_gw(), 0);
    ASSERT_EQ(in_table4(k_up, k_gw4), k_gw_mac);
    const bytes probe = eth(k_gw_mac, k_up_mac, 0x0806, arp(1, k_up_mac, k_up4, mac_t{}, k_gw4));
    resolver->on_tick(*snap, 22'499);  // reachable 30 s: refresh from 3/4 of it
    EXPECT_TRUE(take().empty());
    resolver->on_tick(*snap, 22'500);
    auto s = take();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].frame, probe);
    // It answers: confirmed, nothing more for another 22.5 s.
    learn(k_up, arp_reply_from_gw(), 22'600);
    resolver->on_tick(*snap, 23'600);
    resolver->on_tick(*snap, 45'099);
    EXPECT_TRUE(take().empty());
    // Now it stays silent: probes at 45.1, 46.1, 47.1 s, then it is forgotten.
    for (uint64_t t : {45'100u, 46'100u, 47'100u}) {
        resolver->on_tick(*snap, t);
        s = take();
        ASSERT_EQ(s.size(), 1u) << t;
        EXPECT_EQ(s[0].frame, probe);
        EXPECT_EQ(in_table4(k_up, k_gw4), k_gw_mac) << "still usable while being refreshed";
    }
    resolver->on_tick(*snap, 48'100);
    EXPECT_TRUE(take().empty());
    EXPECT_FALSE(in_table4(k_up, k_gw4));
    EXPECT_EQ(resolver->counters().expired, 1u);
    EXPECT_EQ(resolver->entries(), 0u);
}

TEST_F(NeighbourResolver, Ipv6ResolvesWithNeighbourSolicitation) {
    const bytes frame = eth(k_up_mac, k_up_mac, 0x86dd, ipv6(ip6("2001:db8:1::101"), ip6("2001:db8:ffff::9"), 59, {}, 63));
    auto m = message(dp::frame_message::unresolved, k_up, frame, k_gw6.data(), true);
    resolver->on_punted(*m, *snap, 0);
    auto s = take();
    ASSERT_EQ(s.size(), 1u);
    const ip6_t sol = solicited_node(k_gw6);
    EXPECT_EQ(sol, ip6("ff02::1:ff00:2"));
    EXPECT_EQ(s[0].frame, eth(multicast_mac(sol), k_up_mac, 0x86dd, ns_packet(k_up6, sol, k_gw6, k_up_mac)));

    learn(k_up, eth(k_up_mac, k_gw_mac, 0x86dd, na_packet(k_gw6, k_up6, k_gw6, k_na_solicited | k_na_override, k_gw_mac)), 100);
    EXPECT_EQ(in_table6(k_up, k_gw6), k_gw_mac);
    s = take();
    ASSERT_EQ(s.size(), 1u);
    bytes want = frame;
    std::copy(k_gw_mac.begin(), k_gw_mac.end(), want.begin());
    EXPECT_EQ(s[0].frame, want);

    // Refresh: a unicast NS to the neighbour itself.
    resolver->on_tick(*snap, 100 + 22'500);
    s = take();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].frame, eth(k_gw_mac, k_up_mac, 0x86dd, ns_packet(k_up6, k_gw6, k_gw6, k_up_mac)));
}

TEST_F(NeighbourResolver, LearnsFromRequestsAndSolicitationsOnTheLinkOnly) {
    // RFC 826 merge: a request from a host in the connected prefix teaches its mapping.
    learn(k_vm, padded(eth(k_broadcast, k_vm1_mac, 0x0806, arp(1, k_vm1_mac, k_vm1, mac_t{}, ip4("192.168.100.1")))), 0);
    EXPECT_EQ(in_table4(k_vm, k_vm1), k_vm1_mac);
    // VLAN-tagged frames are parsed past the tag.
    learn(k_vm, padded(eth(k_broadcast, mac("52:54:00:00:00:12"), 0x0806,
                           arp(1, mac("52:54:00:00:00:12"), ip4("192.168.100.12"), mac_t{}, ip4("192.168.100.1")),
                           {{0x8100, 5}})),
          0);
    EXPECT_EQ(in_table4(k_vm, ip4("192.168.100.12")), mac("52:54:00:00:00:12"));
    // Not learned: an off-link sender, our own address, the sender 0.0.0.0.
    learn(k_vm, eth(k_broadcast, k_vm1_mac, 0x0806, arp(1, k_vm1_mac, ip4("10.0.0.5"), mac_t{}, ip4("192.168.100.1"))), 0);
    learn(k_vm, eth(k_broadcast, k_vm1_mac, 0x0806, arp(2, k_vm1_mac, ip4("192.168.100.1"), mac_t{}, ip4("192.168.100.1"))), 0);
    learn(k_vm, eth(k_broadcast, k_vm1_mac, 0x0806, arp(1, k_vm1_mac, ip4("0.0.0.0"), mac_t{}, ip4("192.168.100.1"))), 0);
    EXPECT_FALSE(in_table4(k_vm, ip4("10.0.0.5")));
    EXPECT_FALSE(in_table4(k_vm, ip4("192.168.100.1")));
    EXPECT_EQ(table.size(), 2u);

    // An NS with a source link-layer address teaches the solicitor.
    const ip6_t vm1_6 = ip6("2001:db8:100::11");
    learn(k_vm, eth(k_vm_mac, k_vm1_mac, 0x86dd, ns_packet(vm1_6, ip6("2001:db8:100::1"), ip6("2001:db8:100::1"), k_vm1_mac)), 0);
    EXPECT_EQ(in_table6(k_vm, vm1_6), k_vm1_mac);
    EXPECT_TRUE(take().empty());  // learning sends nothing
}

}  // namespace
}  // namespace eg::ctl
