// NAT44 with two workers (dataplane/handoff.hpp): real worker loops over memory ports,
// each worker with its own queue of both ports, as the kernel's fanout gives them. A
// packet that arrives at the worker not owning its NAT state must be handed over and
// leave, translated, from the owner; the owner's public ports come from its own slice,
// so the replies name it. Also one worker's expiry against a VM's session quota when
// it wakes after the sessions came due.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dataplane/handoff.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/memory/memory_port.hpp"
#include "dataplane/nat44_state.hpp"
#include "dataplane/nat_port_pool.hpp"
#include "dataplane/worker.hpp"
#include "tests/unit/pipeline_harness.hpp"
#include "tests/unit/test_frames.hpp"

namespace eg::dp {
namespace {

using namespace eg::test;

constexpr std::string_view k_config = R"(
[workers]
count = 2

[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]

[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"

[nat]
public_addresses = ["203.0.113.1"]
port_range = [10000, 61439]

[nat.timeouts]
udp_s = 4

[[vms]]
name = "vm1"
mac = "52:54:00:00:01:01"
ipv4 = "192.168.100.11"

[[vms]]
name = "vm2"
mac = "52:54:00:00:01:02"
ipv4 = "192.168.100.12"
max_sessions = 4
)";

const mac_t k_vm_mac = mac("02:00:00:00:00:01"), k_up_mac = mac("02:00:00:00:00:02");
const mac_t k_vm1_mac = mac("52:54:00:00:01:01"), k_inet_mac = mac("52:54:00:00:00:22");
const mac_t k_vm2_mac = mac("52:54:00:00:01:02");
const ip4_t k_vm1 = ip4("192.168.100.11"), k_pub = ip4("203.0.113.1"), k_inet = ip4("203.0.113.2");
const ip4_t k_vm2 = ip4("192.168.100.12");

/// One worker with its own pool and its queue of each port.
struct worker_rig {
    worker_rig(uint32_t id, rcu_publisher<snapshot>& snaps, const neighbour_table& neighbours)
        : vm(port_opts(0, k_vm_mac), pool), up(port_opts(1, k_up_mac), pool) {
        worker_options o;
        o.id = id;
        w = std::make_unique<worker>(o, std::vector<port_io*>{&vm, &up}, snaps, neighbours, punt, inject, -1, -1,
                                     counters);
    }
    static memory_port_options port_opts(uint16_t index, const mac_t& m) {
        memory_port_options o;
        o.port_index = index;
        std::copy(m.begin(), m.end(), o.mac.begin());
        return o;
    }
    buffer_pool pool{buffer_pool_options{.count = 256, .buffer_size = 2048}};
    memory_port vm, up;
    frame_ring punt{64}, inject{64};
    worker_counters counters;
    std::unique_ptr<worker> w;
};

class Nat44Handoff : public ::testing::Test {
protected:
    void SetUp() override {
        snaps.publish(snapshot_from(k_config, "nat44_handoff_test.toml", {{k_vm_mac}, {k_up_mac}}, mac_t{}));
        neighbours.set(neighbour_key::ipv4(1, host_order(k_inet)), k_inet_mac);
        neighbours.set(neighbour_key::ipv4(0, host_order(k_vm1)), k_vm1_mac);
        const nat44_policy& policy = snaps.acquire()->nat;
        for (uint32_t i = 0; i < 2; ++i) {
            rigs.push_back(std::make_unique<worker_rig>(i, snaps, neighbours));
            nat.push_back(std::make_unique<nat44_state>(policy, i, 1024));
            rigs[i]->w->set_nat(nat[i].get());
        }
        mesh = std::make_unique<handoff_mesh>(2, std::vector<int>{-1, -1},
                                              std::vector<const std::atomic<bool>*>{&rigs[0]->w->asleep(),
                                                                                    &rigs[1]->w->asleep()});
        for (uint32_t i = 0; i < 2; ++i) rigs[i]->w->set_handoff(&mesh->links(i));
    }

    /// vm1's socket (source port sport) is owned by worker (address + port) % 2.
    static uint32_t owner_of_socket(uint16_t sport) { return (host_order(k_vm1) + sport) % 2; }

    static bytes from_vm1(uint16_t sport) {
        return eth(k_vm_mac, k_vm1_mac, 0x0800, ipv4(k_vm1, k_inet, 17, udp(k_vm1, k_inet, sport, 53, payload(18))));
    }
    static bytes reply_to(uint16_t public_port) {
        return eth(k_up_mac, k_inet_mac, 0x0800,
                   ipv4(k_inet, k_pub, 17, udp(k_inet, k_pub, 53, public_port, payload(18))));
    }

    rcu_publisher<snapshot> snaps{2};
    neighbour_table neighbours{64};
    std::vector<std::unique_ptr<worker_rig>> rigs;
    std::vector<std::unique_ptr<nat44_state>> nat;
    std::unique_ptr<handoff_mesh> mesh;
};

TEST_F(Nat44Handoff, OutboundAtTheWrongWorkerLeavesFromTheOwnerWithItsPort) {
    const uint16_t sport = 40001;
    const uint32_t owner = owner_of_socket(sport), other = 1 - owner;
    ASSERT_TRUE(rigs[other]->vm.push_rx(from_vm1(sport)));
    rigs[other]->w->poll_once();
    EXPECT_EQ(rigs[other]->counters.nat_handed_off.get(), 1u);
    EXPECT_TRUE(rigs[other]->up.take_tx().empty());  // not sent by the non-owner
    EXPECT_EQ(nat[other]->table().size(), 0u);

    rigs[owner]->w->poll_once();
    const auto sent = rigs[owner]->up.take_tx();
    ASSERT_EQ(sent.size(), 1u);
    const uint8_t* ip = sent[0].data() + 14;
    EXPECT_EQ(get32(ip + 12), host_order(k_pub));
    const uint16_t public_port = get16(ip + 20);
    // The public port lies in the owner's slice of the range: replies will name it.
    const auto [lo, hi] = worker_port_range(10000, 61439, owner, 2);
    EXPECT_GE(public_port, lo);
    EXPECT_LE(public_port, hi);
    EXPECT_TRUE(ipv4_header_ok(ip));
    EXPECT_TRUE(checksum_ok(ip + 20, sent[0].size() - 34, pseudo_sum(ip4_t{ip[12], ip[13], ip[14], ip[15]},
                                                                    ip4_t{ip[16], ip[17], ip[18], ip[19]}, 17,
                                                                    static_cast<uint32_t>(sent[0].size() - 34))));
    EXPECT_EQ(nat[owner]->table().size(), 2u);  // the session and its mapping

    // The reply arrives at the other worker's uplink queue: handed back to the owner,
    // which sends it to vm1's own address and port.
    ASSERT_TRUE(rigs[other]->up.push_rx(reply_to(public_port)));
    rigs[other]->w->poll_once();
    EXPECT_EQ(rigs[other]->counters.nat_handed_off.get(), 2u);
    EXPECT_TRUE(rigs[other]->vm.take_tx().empty());
    rigs[owner]->w->poll_once();
    const auto back = rigs[owner]->vm.take_tx();
    ASSERT_EQ(back.size(), 1u);
    const uint8_t* bip = back[0].data() + 14;
    EXPECT_EQ(get32(bip + 16), host_order(k_vm1));
    EXPECT_EQ(get16(bip + 22), sport);
    EXPECT_TRUE(ipv4_header_ok(bip));
    // Nothing was dropped anywhere.
    for (const auto& r : rigs)
        for (uint32_t reason = 1; reason < k_drop_reason_count; ++reason)
            EXPECT_EQ(r->counters.drops[reason].get(), 0u) << drop_text(static_cast<drop_reason>(reason));
}

TEST_F(Nat44Handoff, TheOwnerHandlesItsOwnPacketsWithoutHandoff) {
    const uint16_t sport = 40001;
    const uint32_t owner = owner_of_socket(sport);
    ASSERT_TRUE(rigs[owner]->vm.push_rx(from_vm1(sport)));
    rigs[owner]->w->poll_once();
    EXPECT_EQ(rigs[owner]->counters.nat_handed_off.get(), 0u);
    EXPECT_EQ(rigs[owner]->up.take_tx().size(), 1u);
}

TEST_F(Nat44Handoff, AnOwnerThatMissedManyPollsFindsEveryHandedPacketWaiting) {
    // The owner lost its core while the other worker handed it 200 packets (more than
    // the 64 fixed slots the handoff rings once had): none is lost, and the owner takes
    // them in a few polls.
    const uint16_t sport = 40001;
    const uint32_t owner = owner_of_socket(sport), other = 1 - owner;
    constexpr size_t k_packets = 200;
    for (size_t i = 0; i < k_packets; ++i) ASSERT_TRUE(rigs[other]->vm.push_rx(from_vm1(sport)));
    for (int poll = 0; poll < 10; ++poll) rigs[other]->w->poll_once();
    EXPECT_EQ(rigs[other]->counters.nat_handed_off.get(), k_packets);
    size_t sent = 0;
    for (int poll = 0; poll < 4; ++poll) {
        rigs[owner]->w->poll_once();
        sent += rigs[owner]->up.take_tx().size();
    }
    EXPECT_EQ(sent, k_packets);
    for (const auto& r : rigs)
        for (uint32_t reason = 1; reason < k_drop_reason_count; ++reason)
            EXPECT_EQ(r->counters.drops[reason].get(), 0u) << drop_text(static_cast<drop_reason>(reason));
}

TEST_F(Nat44Handoff, AWorkerThatSleptThroughAnExpiryFreesTheQuotaBeforeJudgingNewFlows) {
    // vm2 may hold 4 sessions, 2 per worker; UDP sessions expire after 4 s idle. Three
    // sockets owned by worker 0 (address + port even): two open, the third is over quota.
    worker& w = *rigs[0]->w;
    std::vector<uint16_t> ports;
    for (uint16_t p = 50000; ports.size() < 4; ++p) {
        if ((host_order(k_vm2) + p) % 2 == 0) ports.push_back(p);
    }
    const auto from_vm2 = [](uint16_t sport) {
        return eth(k_vm_mac, k_vm2_mac, 0x0800, ipv4(k_vm2, k_inet, 17, udp(k_vm2, k_inet, sport, 53, payload(18))));
    };
    constexpr uint64_t k_s = 1'000'000'000ULL;
    const uint64_t t0 = 1000 * k_s;
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(rigs[0]->vm.push_rx(from_vm2(ports[i])));
    w.poll_once(t0);
    EXPECT_EQ(rigs[0]->up.take_tx().size(), 2u);
    ASSERT_TRUE(rigs[0]->vm.push_rx(from_vm2(ports[2])));
    w.poll_once(t0 + k_s);
    EXPECT_TRUE(rigs[0]->up.take_tx().empty());
    EXPECT_EQ(rigs[0]->counters.drops[reason_index(drop_reason::nat_quota_exceeded)].get(), 1u);
    // The worker sleeps (no poll) until 6 s later, when both sessions are long due; the
    // poll that a new flow wakes it for expires them before judging that flow.
    ASSERT_TRUE(rigs[0]->vm.push_rx(from_vm2(ports[3])));
    w.poll_once(t0 + 6 * k_s);
    EXPECT_EQ(rigs[0]->up.take_tx().size(), 1u);
    EXPECT_EQ(rigs[0]->counters.drops[reason_index(drop_reason::nat_quota_exceeded)].get(), 1u);
    EXPECT_EQ(rigs[0]->counters.nat_sessions_expired.get(), 2u);
}

TEST_F(Nat44Handoff, EverySocketOfAVmLandsOnOneWorkerWhateverQueueItArrivesOn) {
    // 16 sockets, each sent on both queues: each socket's two packets share one session
    // on its owner, and the public port is the same (endpoint-independent mapping).
    for (uint16_t sport = 41000; sport < 41016; ++sport) {
        for (auto& r : rigs) ASSERT_TRUE(r->vm.push_rx(from_vm1(sport)));
    }
    for (int round = 0; round < 3; ++round)
        for (auto& r : rigs) r->w->poll_once();
    size_t sent = 0;
    for (uint32_t i = 0; i < 2; ++i) {
        const auto frames = rigs[i]->up.take_tx();
        sent += frames.size();
        for (const auto& f : frames) {
            const uint16_t sport = get16(f.data() + 14 + 20);
            const auto [lo, hi] = worker_port_range(10000, 61439, i, 2);
            EXPECT_TRUE(sport >= lo && sport <= hi) << "worker " << i << " sent from port " << sport;
        }
    }
    EXPECT_EQ(sent, 32u);
    EXPECT_EQ(nat[0]->table().size() + nat[1]->table().size(), 32u);  // 16 sessions + 16 mappings
}

}  // namespace
}  // namespace eg::dp
