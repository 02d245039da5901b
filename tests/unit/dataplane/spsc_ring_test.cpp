// The punt/inject ring (dataplane/spsc_ring.hpp).
#include "dataplane/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

namespace eg::dp {
namespace {

bool push(spsc_ring<uint64_t>& r, uint64_t v) {
    uint64_t* s = r.reserve();
    if (!s) return false;
    *s = v;
    r.commit();
    return true;
}
std::optional<uint64_t> pop(spsc_ring<uint64_t>& r) {
    uint64_t* s = r.front();
    if (!s) return std::nullopt;
    const uint64_t v = *s;
    r.pop();
    return v;
}

TEST(SpscRing, EmptyFullAndFifoOrder) {
    spsc_ring<uint64_t> r(5);  // rounded up to 8
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.front(), nullptr);
    for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(push(r, 100 + i)) << i;
    EXPECT_FALSE(push(r, 999));
    EXPECT_EQ(r.reserve(), nullptr);
    EXPECT_FALSE(r.empty());
    for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(pop(r), 100 + i);
    EXPECT_EQ(pop(r), std::nullopt);
    EXPECT_TRUE(r.empty());
}

TEST(SpscRing, ReserveWithoutCommitPublishesNothing) {
    spsc_ring<uint64_t> r(4);
    uint64_t* s = r.reserve();
    ASSERT_NE(s, nullptr);
    *s = 7;
    EXPECT_EQ(r.front(), nullptr);
    EXPECT_EQ(r.reserve(), s);  // the same slot until committed
    r.commit();
    EXPECT_EQ(pop(r), 7u);
}

TEST(SpscRing, WrapsAroundManyTimes) {
    spsc_ring<uint64_t> r(4);
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 10000; ++round) {
        const int n = 1 + round % 4;
        for (int i = 0; i < n; ++i) ASSERT_TRUE(push(r, next_in++));
        for (int i = 0; i < n; ++i) ASSERT_EQ(pop(r), next_out++);
    }
    EXPECT_TRUE(r.empty());
}

TEST(SpscRing, TwoThreadStressKeepsOrderAndLosesNothing) {
    constexpr uint64_t k_count = 2'000'000;
    spsc_ring<uint64_t> r(64);
    std::thread producer([&] {
        for (uint64_t i = 1; i <= k_count;) {
            if (push(r, i * 0x9e3779b97f4a7c15ULL)) ++i;
        }
    });
    uint64_t expected = 1, bad = 0;
    while (expected <= k_count) {
        if (auto v = pop(r)) {
            bad += *v != expected * 0x9e3779b97f4a7c15ULL;
            ++expected;
        }
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
    EXPECT_TRUE(r.empty());
}

}  // namespace
}  // namespace eg::dp
