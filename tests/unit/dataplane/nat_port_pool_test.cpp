// NAT outside-port pools: preservation, exhaustion, reuse, worker slices, port blocks.
#include "dataplane/nat_port_pool.hpp"

#include <gtest/gtest.h>

#include <set>

namespace eg::dp {
namespace {

TEST(NatPortPool, KeepsTheSourcePortWhenFree) {
    nat_port_pool pool(1024, 65535);
    EXPECT_EQ(pool.allocate(40000), 40000);
    EXPECT_TRUE(pool.in_use(40000));
    // Taken: another port from the range, never the taken one.
    const uint16_t other = pool.allocate(40000);
    EXPECT_NE(other, 40000);
    EXPECT_GE(other, 1024);
    // Outside the range (a privileged source port): any port of the range.
    const uint16_t low = pool.allocate(22);
    EXPECT_GE(low, 1024);
    EXPECT_EQ(pool.free_count(), pool.size() - 3);
}

TEST(NatPortPool, HandsOutEveryPortExactlyOnceThenReportsExhaustion) {
    struct tc {
        uint16_t first, last;
    };
    for (const tc c : {tc{1024, 1024}, tc{1024, 1087}, tc{1000, 1130}, tc{60000, 65535}}) {
        SCOPED_TRACE(std::to_string(c.first) + ".." + std::to_string(c.last));
        nat_port_pool pool(c.first, c.last, c.first * 7919u);
        std::set<uint16_t> seen;
        for (uint32_t i = 0; i < pool.size(); ++i) {
            const uint16_t p = pool.allocate(0);
            ASSERT_NE(p, 0) << "exhausted after " << i;
            ASSERT_GE(p, c.first);
            ASSERT_LE(p, c.last);
            ASSERT_TRUE(seen.insert(p).second) << "port " << p << " handed out twice";
        }
        EXPECT_EQ(pool.free_count(), 0u);
        EXPECT_EQ(pool.allocate(c.first), 0) << "exhausted pool must say so";
        pool.release(c.last);
        EXPECT_EQ(pool.allocate(0), c.last) << "the only free port";
    }
}

// One pool holding every port block of an address: a VM's allocations stay inside its
// block, fill it exactly once, and leave the neighbouring blocks alone.
TEST(NatPortPool, AllocateInStaysInsideItsPart) {
    struct tc {
        uint16_t lo, hi;
    };
    for (const tc c : {tc{61440, 61440}, tc{61440, 61503}, tc{61470, 61600}, tc{65000, 65535}}) {
        SCOPED_TRACE(std::to_string(c.lo) + ".." + std::to_string(c.hi));
        nat_port_pool pool(61440, 65535, c.lo * 31u);
        EXPECT_TRUE(pool.reserve(c.lo));  // a port already held inside the part
        std::set<uint16_t> seen{c.lo};
        for (uint32_t i = 1; i < uint32_t{c.hi} - c.lo + 1; ++i) {
            const uint16_t p = pool.allocate_in(c.lo, c.hi, i % 2 ? 0 : 61439);
            ASSERT_NE(p, 0) << "full after " << i;
            ASSERT_GE(p, c.lo);
            ASSERT_LE(p, c.hi);
            ASSERT_TRUE(seen.insert(p).second) << "port " << p << " handed out twice";
        }
        EXPECT_EQ(pool.allocate_in(c.lo, c.hi, c.lo), 0) << "a full part must say so";
        EXPECT_EQ(pool.free_count(), pool.size() - seen.size()) << "nothing outside the part was taken";
        if (c.lo > 61440) {
            EXPECT_EQ(pool.allocate_in(61440, c.lo - 1, c.lo - 1), c.lo - 1) << "the block below is still free";
        }
        pool.release(c.hi);
        EXPECT_EQ(pool.allocate_in(c.lo, c.hi, 0), c.hi) << "the only free port of the part";
    }
    nat_port_pool pool(61440, 65535);
    EXPECT_EQ(pool.allocate_in(61000, 61500, 61000), 0) << "a part reaching outside the pool";
    EXPECT_EQ(pool.allocate_in(61500, 61450, 61460), 0) << "an empty part";
    EXPECT_EQ(pool.allocate_in(62000, 62999, 62500), 62500) << "a free preferred port inside the part is kept";
}

TEST(NatPortPool, ReleaseAndReserve) {
    nat_port_pool pool(2000, 2009);
    EXPECT_TRUE(pool.reserve(2005));
    EXPECT_FALSE(pool.reserve(2005)) << "already taken";
    EXPECT_FALSE(pool.reserve(1999)) << "outside";
    pool.release(2005);
    pool.release(2005);  // double release is ignored, not double-counted
    EXPECT_EQ(pool.free_count(), 10u);
    pool.release(3000);  // not ours
    EXPECT_EQ(pool.free_count(), 10u);
}

TEST(NatPortPool, RandomStartSpreadsAllocations) {
    // RFC 6056: without a preferred port the choice is not sequential.
    nat_port_pool pool(1024, 65535, 12345);
    uint16_t prev = pool.allocate(0);
    int sequential = 0;
    for (int i = 0; i < 100; ++i) {
        const uint16_t p = pool.allocate(0);
        sequential += p == prev + 1;
        prev = p;
    }
    EXPECT_LT(sequential, 10);
}

TEST(NatPortPool, WorkerSlicesCoverTheRangeWithoutOverlap) {
    for (uint32_t workers : {1u, 2u, 3u, 7u, 16u}) {
        SCOPED_TRACE(workers);
        uint32_t next = 1024;
        for (uint32_t w = 0; w < workers; ++w) {
            const auto [lo, hi] = worker_port_range(1024, 65535, w, workers);
            EXPECT_EQ(lo, next);
            EXPECT_GE(hi, lo);
            next = uint32_t{hi} + 1;
            const uint32_t len = uint32_t{hi} - lo + 1;
            EXPECT_LE(len, 64512 / workers + 1);
            EXPECT_GE(len, 64512 / workers);
        }
        EXPECT_EQ(next, 65536u);
    }
}

TEST(PortBlockPlan, MapsPortsToBlocksBothWays) {
    const port_block_plan plan{1024, 2016};  // 32 blocks of 2016 ports
    EXPECT_EQ(plan.blocks(), 32u);
    EXPECT_EQ(plan.block(0), (std::pair<uint16_t, uint16_t>{1024, 3039}));
    EXPECT_EQ(plan.block(31), (std::pair<uint16_t, uint16_t>{63520, 65535}));
    struct tc {
        uint16_t port;
        int64_t block;
    };
    for (const tc c : {tc{1023, -1}, tc{1024, 0}, tc{3039, 0}, tc{3040, 1}, tc{65535, 31}, tc{0, -1}}) {
        EXPECT_EQ(plan.block_of(c.port), c.block) << c.port;
    }
    const port_block_plan ragged{1024, 1000};  // 64 blocks; 65024..65535 belong to none
    EXPECT_EQ(ragged.blocks(), 64u);
    EXPECT_EQ(ragged.block_of(65023), 63);
    EXPECT_EQ(ragged.block_of(65024), -1);
}

}  // namespace
}  // namespace eg::dp
