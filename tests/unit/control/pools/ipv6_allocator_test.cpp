// Per-VM IPv6 /128s (control/pools/ipv6_allocator.*): deterministic, keyed, unique,
// never a reserved identifier, and a recorded address wins over re-derivation.
#include "control/pools/ipv6_allocator.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

namespace eg::ctl::pools {
namespace {

const ipv6_address k_prefix{0x20, 0x01, 0x0d, 0xb8, 0, 0x42, 0, 0};
const ipv6_allocator::key_type k_key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

TEST(Ipv6PoolAllocator, SameVpsGetsTheSameAddressAcrossInstances) {
    ipv6_allocator a(k_prefix, k_key), b(k_prefix, k_key);
    const auto x = a.allocate("vps-1");
    ASSERT_TRUE(x);
    EXPECT_EQ(b.allocate("vps-1"), x);
    EXPECT_EQ(a.allocate("vps-1"), x);  // already held: same answer, no new binding
    EXPECT_EQ(a.used(), 1u);
    EXPECT_TRUE(a.contains(*x));
    EXPECT_EQ(0, std::memcmp(x->data(), k_prefix.data(), 8));
    EXPECT_EQ(a.holder(*x), "vps-1");

    auto other_key = k_key;
    other_key[0] ^= 1;
    ipv6_allocator c(k_prefix, other_key);
    EXPECT_NE(c.allocate("vps-1"), x);  // keyed: not predictable from the id alone
}

TEST(Ipv6PoolAllocator, CollisionProbesToTheNextCandidate) {
    ipv6_allocator a(k_prefix, k_key);
    // Someone else holds vps-2's first candidate (e.g. a recorded lease).
    ASSERT_FALSE(a.reserve("static-1", a.candidate("vps-2", 0)));
    const auto x = a.allocate("vps-2");
    ASSERT_TRUE(x);
    EXPECT_EQ(*x, a.candidate("vps-2", 1));
    EXPECT_EQ(a.reserve("vps-3", *x), pool_errc::in_use);
}

TEST(Ipv6PoolAllocator, RecordedAddressIsKeptAndReservedIdsRefused) {
    ipv6_allocator a(k_prefix, k_key);
    ipv6_address rec = k_prefix;
    rec[15] = 0x99;
    EXPECT_FALSE(a.reserve("vps-9", rec));
    EXPECT_FALSE(a.reserve("vps-9", rec));  // idempotent
    EXPECT_EQ(a.allocate("vps-9"), rec);
    EXPECT_EQ(a.find("vps-9"), rec);

    ipv6_address zero = k_prefix;  // subnet-router anycast
    EXPECT_EQ(a.reserve("x", zero), pool_errc::excluded);
    ipv6_address one = k_prefix;  // the gateway (default exclusion)
    one[15] = 1;
    EXPECT_EQ(a.reserve("x", one), pool_errc::excluded);
    ipv6_address anycast = k_prefix;  // RFC 5453
    for (int i = 8; i < 16; ++i) anycast[i] = 0xff;
    anycast[8] = 0xfd;
    EXPECT_EQ(a.reserve("x", anycast), pool_errc::excluded);
    ipv6_address outside = rec;
    outside[7] = 1;
    EXPECT_EQ(a.reserve("x", outside), pool_errc::out_of_range);

    EXPECT_FALSE(a.release("vps-9"));
    EXPECT_EQ(a.release("vps-9"), pool_errc::not_in_use);
    EXPECT_EQ(a.holder(rec), "");
}

TEST(Ipv6PoolAllocator, ReservingAnotherAddressMovesTheVmAndFreesItsOldOne) {
    ipv6_allocator a(k_prefix, k_key);
    const auto derived = a.allocate("vps-5");
    ASSERT_TRUE(derived);
    ipv6_address rec = k_prefix;
    rec[15] = 0x55;
    // A recorded lease says vps-5 holds another address: that one is bound, the derived one freed.
    EXPECT_FALSE(a.reserve("vps-5", rec));
    EXPECT_EQ(a.find("vps-5"), rec);
    EXPECT_EQ(a.holder(rec), "vps-5");
    EXPECT_EQ(a.holder(*derived), "");
    EXPECT_EQ(a.used(), 1u);
    EXPECT_FALSE(a.reserve("vps-6", *derived)) << "the old address is free for another VM";
    EXPECT_EQ(a.holder(*derived), "vps-6");
    // Taken: refused, and nothing of either binding changes.
    EXPECT_EQ(a.reserve("vps-6", rec), pool_errc::in_use);
    EXPECT_EQ(a.find("vps-6"), *derived);
    EXPECT_EQ(a.holder(rec), "vps-5");
    EXPECT_EQ(a.used(), 2u);
    EXPECT_FALSE(a.release("vps-5"));
    EXPECT_EQ(a.holder(rec), "");
    EXPECT_EQ(a.used(), 1u);
}

TEST(Ipv6PoolAllocator, ManyVpsGetDistinctAddresses) {
    ipv6_allocator a(k_prefix, k_key);
    std::set<ipv6_address> seen;
    for (int i = 0; i < 20000; ++i) {
        const auto x = a.allocate("vps-" + std::to_string(i));
        ASSERT_TRUE(x);
        ASSERT_TRUE(seen.insert(*x).second);
    }
    EXPECT_EQ(a.used(), 20000u);
}

}  // namespace
}  // namespace eg::ctl::pools
