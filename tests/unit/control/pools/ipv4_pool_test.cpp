// IPv4 pools (control/pools/ipv4_pool.*, ipv4_pool_set.*): exclusions, allocation
// order, reservations, quarantine of declined addresses, counts, pool sets that grow.
#include "control/pools/ipv4_pool.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "control/pools/ipv4_pool_set.hpp"

namespace eg::ctl::pools {
namespace {

constexpr uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}
using st = ipv4_pool::address_state;

TEST(Ipv4Pool, RejectsBadPrefixes) {
    EXPECT_THROW(ipv4_pool(ip(10, 0, 0, 0), 7), std::invalid_argument);
    EXPECT_THROW(ipv4_pool(ip(10, 0, 0, 0), 31), std::invalid_argument);
    EXPECT_THROW(ipv4_pool(ip(10, 0, 0, 1), 24), std::invalid_argument);
    EXPECT_NO_THROW(ipv4_pool(ip(10, 0, 0, 0), 8));
    EXPECT_NO_THROW(ipv4_pool(ip(10, 0, 0, 4), 30));
}

TEST(Ipv4Pool, Slash30HandsOutItsTwoHostsThenRunsOut) {
    ipv4_pool p(ip(192, 168, 0, 4), 30);
    EXPECT_EQ(p.total(), 2u);
    EXPECT_EQ(p.state(ip(192, 168, 0, 4)), st::excluded);
    EXPECT_EQ(p.state(ip(192, 168, 0, 7)), st::excluded);
    EXPECT_EQ(p.state(ip(192, 168, 0, 8)), st::outside);
    EXPECT_EQ(p.allocate(), ip(192, 168, 0, 5));
    EXPECT_EQ(p.allocate(), ip(192, 168, 0, 6));
    EXPECT_EQ(p.allocate(), std::nullopt);
    EXPECT_EQ(p.used(), 2u);
    EXPECT_EQ(p.available(), 0u);
}

TEST(Ipv4Pool, ExclusionsAreNeverHandedOut) {
    ipv4_pool::options o;
    o.excluded_addresses = {ip(10, 1, 2, 1)};                              // gateway
    o.excluded_ranges = {{ip(10, 1, 2, 100), ip(10, 1, 2, 199)},          // static block
                         {ip(10, 1, 1, 0), ip(10, 1, 2, 10)}};            // overlaps the start
    ipv4_pool p(ip(10, 1, 2, 0), 24, o);
    // 256 - network..10 (11) - 100..199 (100) - broadcast (1) = 144
    EXPECT_EQ(p.total(), 144u);
    std::set<uint32_t> got;
    while (auto a = p.allocate()) {
        EXPECT_TRUE(got.insert(*a).second);
        EXPECT_GT(*a, ip(10, 1, 2, 10));
        EXPECT_FALSE(*a >= ip(10, 1, 2, 100) && *a <= ip(10, 1, 2, 199));
        EXPECT_NE(*a, ip(10, 1, 2, 255));
    }
    EXPECT_EQ(got.size(), 144u);
    EXPECT_EQ(p.reserve(ip(10, 1, 2, 1)), pool_errc::excluded);
    EXPECT_EQ(p.release(ip(10, 1, 2, 150)), pool_errc::excluded);
    EXPECT_EQ(p.quarantine(ip(10, 1, 2, 0), 5), pool_errc::excluded);
}

TEST(Ipv4Pool, ReleasedAddressIsNotReusedUntilTheCursorComesRound) {
    ipv4_pool p(ip(10, 0, 0, 0), 29);  // .1 .. .6
    const auto a = p.allocate();
    const auto b = p.allocate();
    ASSERT_EQ(a, ip(10, 0, 0, 1));
    ASSERT_EQ(b, ip(10, 0, 0, 2));
    EXPECT_FALSE(p.release(*a));
    EXPECT_EQ(p.allocate(), ip(10, 0, 0, 3));
    EXPECT_EQ(p.allocate(), ip(10, 0, 0, 4));
    EXPECT_EQ(p.allocate(), ip(10, 0, 0, 5));
    EXPECT_EQ(p.allocate(), ip(10, 0, 0, 6));
    EXPECT_EQ(p.allocate(), ip(10, 0, 0, 1));  // wrapped round
    EXPECT_EQ(p.allocate(), std::nullopt);
}

TEST(Ipv4Pool, ReserveAndReleaseReportWhatIsWrong) {
    ipv4_pool p(ip(10, 0, 0, 0), 24);
    EXPECT_FALSE(p.reserve(ip(10, 0, 0, 50)));
    EXPECT_EQ(p.reserve(ip(10, 0, 0, 50)), pool_errc::in_use);
    EXPECT_EQ(p.state(ip(10, 0, 0, 50)), st::in_use);
    EXPECT_EQ(p.reserve(ip(10, 0, 1, 1)), pool_errc::out_of_range);
    EXPECT_EQ(p.release(ip(10, 0, 0, 51)), pool_errc::not_in_use);
    EXPECT_EQ(p.used(), 1u);
    EXPECT_FALSE(p.release(ip(10, 0, 0, 50)));
    EXPECT_EQ(p.state(ip(10, 0, 0, 50)), st::free);
    EXPECT_EQ(p.used(), 0u);
    EXPECT_EQ(p.available(), 254u);
}

TEST(Ipv4Pool, QuarantinedAddressComesBackAtItsTime) {
    ipv4_pool p(ip(10, 0, 0, 0), 30);  // .1 .2
    const auto a = p.allocate();
    ASSERT_TRUE(a);
    EXPECT_FALSE(p.quarantine(*a, 1000));  // declined: in use -> quarantined
    EXPECT_FALSE(p.quarantine(ip(10, 0, 0, 2), 500));  // free -> quarantined (conflict seen)
    EXPECT_EQ(p.used(), 0u);
    EXPECT_EQ(p.quarantined(), 2u);
    EXPECT_EQ(p.available(), 0u);
    EXPECT_EQ(p.allocate(), std::nullopt);
    EXPECT_EQ(p.reserve(*a), pool_errc::quarantined);
    EXPECT_EQ(p.release(*a), pool_errc::quarantined);
    EXPECT_EQ(p.next_quarantine_end(), 500u);
    EXPECT_EQ(p.reclaim_quarantine(499), 0u);
    EXPECT_EQ(p.reclaim_quarantine(500), 1u);
    EXPECT_EQ(p.allocate(), ip(10, 0, 0, 2));
    // Moving a quarantine's end later: the old end no longer frees it.
    EXPECT_FALSE(p.quarantine(*a, 2000));
    EXPECT_EQ(p.reclaim_quarantine(1500), 0u);
    EXPECT_EQ(p.state(*a), st::quarantined);
    EXPECT_EQ(p.reclaim_quarantine(2000), 1u);
    EXPECT_EQ(p.state(*a), st::free);
    EXPECT_EQ(p.next_quarantine_end(), std::nullopt);
}

TEST(Ipv4Pool, SlashEightFillsCompletelyWithDistinctAddresses) {
    // 16.7M allocations is slow under sanitizers; take a /8 and reserve most of it
    // through exclusions' bulk path, then allocate the rest and churn.
    ipv4_pool::options o;
    o.excluded_ranges = {{ip(10, 0, 0, 0), ip(10, 254, 255, 255)}};
    ipv4_pool p(ip(10, 0, 0, 0), 8, o);
    EXPECT_EQ(p.total(), 65535u);  // 10.255.0.0/16 minus broadcast
    EXPECT_LE(p.memory_bytes(), (1u << 21) + (1u << 16));
    std::set<uint32_t> got;
    while (auto a = p.allocate()) {
        ASSERT_TRUE(got.insert(*a).second);
        ASSERT_GE(*a, ip(10, 255, 0, 0));
    }
    EXPECT_EQ(got.size(), 65535u);
    std::mt19937 rng(7);
    std::vector<uint32_t> held(got.begin(), got.end());
    for (int i = 0; i < 20000; ++i) {
        const size_t k = rng() % held.size();
        ASSERT_FALSE(p.release(held[k]));
        const auto a = p.allocate();
        ASSERT_EQ(a, held[k]);  // the only free address
    }
}

TEST(Ipv4PoolSet, GrowsAndAllocatesFromTheFirstPoolWithSpace) {
    ipv4_pool_set s;
    EXPECT_FALSE(s.add(ip(10, 0, 0, 0), 30));
    EXPECT_FALSE(s.add(ip(10, 1, 0, 0), 16));
    EXPECT_EQ(s.add(ip(10, 1, 5, 0), 24), pool_errc::overlap);
    EXPECT_EQ(s.add(ip(10, 0, 0, 0), 8), pool_errc::overlap);
    EXPECT_EQ(s.add(ip(11, 0, 0, 1), 24), pool_errc::bad_prefix);
    EXPECT_FALSE(s.add(ip(9, 0, 0, 0), 8));  // added last, sorts first
    EXPECT_EQ(s.total(), 2u + 65534u + 16777214u);

    EXPECT_EQ(s.allocate(), ip(10, 0, 0, 1));
    EXPECT_EQ(s.allocate(), ip(10, 0, 0, 2));
    EXPECT_EQ(s.allocate(), ip(10, 1, 0, 1));  // first pool full: next in the order added
    EXPECT_EQ(s.find(ip(9, 200, 1, 1))->prefix_len(), 8);
    EXPECT_EQ(s.find(ip(10, 1, 255, 3))->network(), ip(10, 1, 0, 0));
    EXPECT_EQ(s.find(ip(10, 0, 0, 5)), nullptr);
    EXPECT_EQ(s.find(ip(8, 255, 255, 255)), nullptr);
    EXPECT_FALSE(s.release(ip(10, 0, 0, 2)));
    EXPECT_EQ(s.allocate(), ip(10, 0, 0, 2));  // space again in the first pool
    EXPECT_FALSE(s.reserve(ip(9, 1, 2, 3)));
    EXPECT_EQ(s.state(ip(9, 1, 2, 3)), st::in_use);
    EXPECT_EQ(s.reserve(ip(12, 0, 0, 1)), pool_errc::out_of_range);
    EXPECT_FALSE(s.quarantine(ip(10, 1, 0, 1), 10));
    EXPECT_EQ(s.used(), 3u);
    EXPECT_EQ(s.quarantined(), 1u);
    EXPECT_EQ(s.next_quarantine_end(), 10u);
    EXPECT_EQ(s.reclaim_quarantine(10), 1u);
    EXPECT_EQ(s.available(), s.total() - 3u);
}

}  // namespace
}  // namespace eg::ctl::pools
