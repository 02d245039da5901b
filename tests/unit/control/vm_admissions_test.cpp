// Runtime VM admission (control/vm_admissions): stable slots, leases replacing leases,
// and the two conditions a slot must meet before another VM gets it (out of every
// snapshot a worker may hold, no session left).
#include "control/vm_admissions.hpp"

#include <gtest/gtest.h>

#include <set>

namespace eg::ctl {
namespace {

const dp::mac_bytes k_a{0x52, 0x54, 0, 0, 0, 0x0a};
const dp::mac_bytes k_b{0x52, 0x54, 0, 0, 0, 0x0b};
const dp::mac_bytes k_c{0x52, 0x54, 0, 0, 0, 0x0c};
constexpr uint32_t k_ip1 = 0xc0a86464, k_ip2 = 0xc0a86465, k_ip3 = 0xc0a86466;

using res = vm_admissions::result;

TEST(VmAdmissions, PairsKeepTheirSlotsAndReasonsAddUp) {
    vm_admissions a(4);
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip1, "dhcp-a", 1000), res::admitted);
    EXPECT_EQ(a.admit(admitted_by_allocation, k_b, k_ip2, "vps-b"), res::admitted);
    EXPECT_EQ(a.slot_of(k_a, k_ip1), 0u);
    EXPECT_EQ(a.slot_of(k_b, k_ip2), 1u);
    EXPECT_TRUE(a.dirty());
    a.published(std::make_shared<int>(0));
    EXPECT_FALSE(a.dirty());
    // The allocated VM's DHCP client binds the same pair: nothing changes for the data plane.
    EXPECT_EQ(a.admit(admitted_by_lease, k_b, k_ip2, "dhcp-b", 2000), res::unchanged);
    EXPECT_FALSE(a.dirty());
    EXPECT_EQ(a.slots()[1].name, "vps-b") << "an allocation's name outlives a lease's";
    // Its lease ends: still admitted by the allocation.
    EXPECT_TRUE(a.withdraw(admitted_by_lease, k_b, k_ip2));
    EXPECT_TRUE(a.slot_of(k_b, k_ip2));
    EXPECT_FALSE(a.withdraw(admitted_by_lease, k_b, k_ip2)) << "that reason is gone already";
    EXPECT_TRUE(a.withdraw(admitted_by_allocation, k_b, k_ip2));
    EXPECT_FALSE(a.slot_of(k_b, k_ip2));
    EXPECT_TRUE(a.dirty());
    EXPECT_EQ(a.admitted(), 1u);
    ASSERT_EQ(a.slots().size(), 2u) << "a slot outlives its VM";
    EXPECT_EQ(a.slots()[1].reasons, 0);
    EXPECT_EQ(a.slots()[1].ipv4, k_ip2) << "kept for the old VM's sessions";
}

TEST(VmAdmissions, AnAllocationsIpv6IsBoundWhileTheAllocationAdmitsThePair) {
    const dp::ipv6_bytes v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    vm_admissions a(4);
    EXPECT_EQ(a.admit(admitted_by_allocation, k_a, k_ip1, "vps-a", 0, v6), res::admitted);
    EXPECT_EQ(a.slots()[0].ipv6, v6);
    a.published(std::make_shared<int>(0));
    // Its DHCP client binds the pair: the /128 stays, nothing new for the data plane.
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip1, "dhcp-a", 1000), res::unchanged);
    EXPECT_EQ(a.slots()[0].ipv6, v6);
    EXPECT_FALSE(a.dirty());
    // The allocation goes, the lease stays: the pair is still admitted, without the /128.
    EXPECT_TRUE(a.withdraw(admitted_by_allocation, k_a, k_ip1));
    EXPECT_TRUE(a.slot_of(k_a, k_ip1));
    EXPECT_EQ(a.slots()[0].ipv6, dp::ipv6_bytes{});
    EXPECT_TRUE(a.dirty()) << "the snapshot must drop the binding";
    a.published(std::make_shared<int>(0));
    // A new allocation on the leased pair brings its /128 back.
    EXPECT_EQ(a.admit(admitted_by_allocation, k_a, k_ip1, "vps-a2", 0, v6), res::unchanged);
    EXPECT_EQ(a.slots()[0].ipv6, v6);
    EXPECT_TRUE(a.dirty());
    // A lease alone never carries one.
    EXPECT_EQ(a.admit(admitted_by_lease, k_b, k_ip2, "dhcp-b", 1000, v6), res::admitted);
    EXPECT_EQ(a.slots()[1].ipv6, dp::ipv6_bytes{});
}

TEST(VmAdmissions, ANewLeaseReplacesTheMacsOldOneAndAMovedAddressItsOldHolder) {
    vm_admissions a(4);
    a.admit(admitted_by_lease, k_a, k_ip1, "a", 1000);
    // The same client moved to another address: one leased address per MAC.
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip2, "a", 1000), res::admitted);
    EXPECT_FALSE(a.slot_of(k_a, k_ip1));
    EXPECT_TRUE(a.slot_of(k_a, k_ip2));
    // The address went to another MAC (the old lease ran out): the old pair leaves.
    EXPECT_EQ(a.admit(admitted_by_lease, k_b, k_ip2, "b", 1000), res::admitted);
    EXPECT_FALSE(a.slot_of(k_a, k_ip2));
    EXPECT_TRUE(a.slot_of(k_b, k_ip2));
    EXPECT_EQ(a.admitted(), 1u);
}

TEST(VmAdmissions, ASlotIsReusedOnlyOutOfEverySnapshotAndWithoutSessions) {
    std::set<uint32_t> busy;
    vm_admissions a(2, [&](uint32_t s) { return busy.contains(s); });
    a.admit(admitted_by_allocation, k_a, k_ip1, "a");
    a.admit(admitted_by_allocation, k_b, k_ip2, "b");
    auto snapshot = std::make_shared<int>(0);  // what a worker may still hold
    a.published(snapshot);
    a.withdraw(admitted_by_allocation, k_a, k_ip1);
    busy.insert(0);
    // Full: slot 0 is still in a live snapshot and has sessions.
    EXPECT_EQ(a.admit(admitted_by_allocation, k_c, k_ip3, "c"), res::full);
    snapshot.reset();  // every worker passed a quiescent point: the snapshot is freed
    EXPECT_EQ(a.admit(admitted_by_allocation, k_c, k_ip3, "c"), res::full) << "reused while sessions remain";
    busy.clear();
    EXPECT_EQ(a.admit(admitted_by_allocation, k_c, k_ip3, "c"), res::admitted);
    EXPECT_EQ(a.slot_of(k_c, k_ip3), 0u);
    EXPECT_EQ(a.slots().size(), 2u);
}

TEST(VmAdmissions, TheSameVmComingBackGetsItsOldSlotAtOnce) {
    std::set<uint32_t> busy{0, 1};
    vm_admissions a(3, [&](uint32_t s) { return busy.contains(s); });
    a.admit(admitted_by_lease, k_a, k_ip1, "a", 100);
    a.admit(admitted_by_lease, k_b, k_ip2, "b", 100);
    auto token = std::make_shared<int>(0);
    a.published(token);
    EXPECT_EQ(a.expire_leases(100), 2u);
    EXPECT_EQ(a.admitted(), 0u);
    // Both slots still busy and in a live snapshot; b renews: its own slot back.
    EXPECT_EQ(a.admit(admitted_by_lease, k_b, k_ip2, "b", 700), res::admitted);
    EXPECT_EQ(a.slot_of(k_b, k_ip2), 1u);
    // A newcomer gets a fresh slot (capacity 3), not a, whose slot is busy.
    EXPECT_EQ(a.admit(admitted_by_lease, k_c, k_ip3, "c", 700), res::admitted);
    EXPECT_EQ(a.slot_of(k_c, k_ip3), 2u);
}

TEST(VmAdmissions, RenewedLeasesDoNotExpireAtTheirOldEnd) {
    vm_admissions a(2);
    a.admit(admitted_by_lease, k_a, k_ip1, "a", 100);
    a.admit(admitted_by_lease, k_a, k_ip1, "a", 200);  // renewed
    EXPECT_EQ(a.expire_leases(150), 0u);
    EXPECT_TRUE(a.slot_of(k_a, k_ip1));
    a.admit(admitted_by_lease, k_a, k_ip1, "a", 0);  // now infinite
    EXPECT_EQ(a.expire_leases(1000), 0u);
    EXPECT_TRUE(a.slot_of(k_a, k_ip1));
}

TEST(VmAdmissions, ALeaseWithoutANameIsNamedForItsMacWhenItTakesASlot) {
    vm_admissions a(1);
    EXPECT_EQ(vm_admissions::lease_name(k_a), "dhcp-52:54:00:00:00:0a");
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip1, {}, 1000), res::admitted);
    EXPECT_EQ(a.slots()[0].name, "dhcp-52:54:00:00:00:0a");
    // Full: nothing is taken, and the admitted pair keeps its slot and name.
    EXPECT_EQ(a.admit(admitted_by_lease, k_b, k_ip2, {}, 1000), res::full);
    EXPECT_FALSE(a.slot_of(k_b, k_ip2));
    EXPECT_EQ(a.admitted(), 1u);
    EXPECT_EQ(a.slots()[0].name, "dhcp-52:54:00:00:00:0a");
    // An allocation on the leased pair names it for its vps_id; a renewal does not rename it.
    EXPECT_EQ(a.admit(admitted_by_allocation, k_a, k_ip1, "vps-a"), res::unchanged);
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip1, {}, 2000), res::unchanged);
    EXPECT_EQ(a.slots()[0].name, "vps-a");
}

TEST(VmAdmissions, ANewLeaseReplacesOnlyTheMacsLeaseNotItsAllocation) {
    vm_admissions a(3);
    a.admit(admitted_by_allocation, k_a, k_ip1, "vps-a");
    a.admit(admitted_by_lease, k_a, k_ip2, {}, 1000);
    EXPECT_EQ(a.admitted(), 2u);
    // The client's lease moves to a third address: its old lease pair leaves, the
    // allocated pair of the same MAC stays.
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip3, {}, 1000), res::admitted);
    EXPECT_TRUE(a.slot_of(k_a, k_ip1));
    EXPECT_FALSE(a.slot_of(k_a, k_ip2));
    EXPECT_TRUE(a.slot_of(k_a, k_ip3));
    // Its lease moves onto the allocated pair: the third one leaves, the allocation's stays
    // (now with both reasons: withdrawing the lease keeps it).
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip1, {}, 1000), res::unchanged);
    EXPECT_FALSE(a.slot_of(k_a, k_ip3));
    EXPECT_EQ(a.slots()[*a.slot_of(k_a, k_ip1)].reasons, admitted_by_lease | admitted_by_allocation);
    EXPECT_TRUE(a.withdraw(admitted_by_lease, k_a, k_ip1));
    EXPECT_TRUE(a.slot_of(k_a, k_ip1));
    EXPECT_EQ(a.admitted(), 1u);
}

TEST(VmAdmissions, WhenFullANewLeaseStillEndsTheMacsOldOneAndTakesItsSlot) {
    // What a restart meets: every slot taken, and a later record of a MAC moves its
    // lease. The old pair leaves first, so its slot (in no snapshot yet) is free for it.
    vm_admissions a(2);
    a.admit(admitted_by_lease, k_a, k_ip1, {}, 1000);
    a.admit(admitted_by_lease, k_b, k_ip2, {}, 1000);
    EXPECT_EQ(a.admit(admitted_by_lease, k_c, k_ip3, {}, 1000), res::full);
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip3, {}, 1000), res::admitted);
    EXPECT_EQ(a.slot_of(k_a, k_ip3), 0u);
    EXPECT_FALSE(a.slot_of(k_a, k_ip1));
    // The address moves to a MAC whose lease pair is elsewhere: both old pairs leave.
    EXPECT_EQ(a.admit(admitted_by_lease, k_b, k_ip3, {}, 1000), res::admitted);
    EXPECT_FALSE(a.slot_of(k_a, k_ip3));
    EXPECT_FALSE(a.slot_of(k_b, k_ip2));
    EXPECT_TRUE(a.slot_of(k_b, k_ip3));
    EXPECT_EQ(a.admitted(), 1u);
    // a's lease is gone with its pair: a new lease of a replaces nothing of b's.
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip1, {}, 1000), res::admitted);
    EXPECT_TRUE(a.slot_of(k_b, k_ip3));
    EXPECT_EQ(a.admitted(), 2u);
    EXPECT_EQ(a.expire_leases(1000), 2u);
    EXPECT_EQ(a.admitted(), 0u);
}

TEST(VmAdmissions, ZeroCapacityAdmitsNothing) {
    vm_admissions a(0);
    EXPECT_EQ(a.admit(admitted_by_lease, k_a, k_ip1, "a", 100), res::full);
    EXPECT_EQ(a.admitted(), 0u);
    EXPECT_TRUE(a.slots().empty());
}

}  // namespace
}  // namespace eg::ctl
