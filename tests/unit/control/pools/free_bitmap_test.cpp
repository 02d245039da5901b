// The summary-level bitmap under the pools (control/pools/free_bitmap.*), checked
// against a plain std::vector<bool> model with random operations at sizes that hit
// every padding and level boundary.
#include "control/pools/free_bitmap.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace eg::ctl::pools {
namespace {

// The model: the set of free slots.
uint64_t model_find(const std::set<uint64_t>& free, uint64_t from) {
    auto it = free.lower_bound(from);
    return it == free.end() ? free_bitmap::npos : *it;
}

class FreeBitmapPool : public ::testing::TestWithParam<uint64_t> {};

TEST_P(FreeBitmapPool, MatchesModelUnderRandomOperations) {
    const uint64_t n = GetParam();
    free_bitmap b(n);
    std::set<uint64_t> m;
    for (uint64_t i = 0; i < n; ++i) m.insert(m.end(), i);
    std::mt19937_64 rng(n);
    EXPECT_EQ(b.find_free_from(0), 0u);
    EXPECT_EQ(b.find_free_from(n), free_bitmap::npos);
    for (int step = 0; step < 4000; ++step) {
        const uint64_t i = rng() % n;
        switch (rng() % 5) {
            case 0:
            case 1:
                b.set(i);
                m.erase(i);
                break;
            case 2:
                b.clear(i);
                m.insert(i);
                break;
            case 3: {
                const uint64_t hi = std::min<uint64_t>(n - 1, i + rng() % 200);
                b.set_range(i, hi);
                m.erase(m.lower_bound(i), m.upper_bound(hi));
                break;
            }
            default: {
                // Fill everything, then free one slot: the summaries must lead to it.
                b.set_range(0, n - 1);
                m.clear();
                EXPECT_EQ(b.find_free_from(0), free_bitmap::npos);
                b.clear(i);
                m.insert(i);
                break;
            }
        }
        const uint64_t from = rng() % (n + 1);
        ASSERT_EQ(b.find_free_from(from), model_find(m, from)) << "n=" << n << " step=" << step << " from=" << from;
        ASSERT_EQ(b.test(i), !m.contains(i));
    }
}

INSTANTIATE_TEST_SUITE_P(Sizes, FreeBitmapPool,
                         ::testing::Values(1, 2, 4, 63, 64, 65, 127, 4095, 4096, 4097, 64 * 64 * 64 + 5));

TEST(FreeBitmapPoolLevels, SlashEightIsAboutOneBitPerAddress) {
    free_bitmap b(uint64_t{1} << 24);
    // 2^24 bits + 2^18 + 2^12 + 2^6 bits, in bytes.
    EXPECT_EQ(b.mapped_bytes(), (1u << 21) + (1u << 15) + (1u << 9) + 8u);
    b.set(0);
    b.set((uint64_t{1} << 24) - 1);
    EXPECT_EQ(b.find_free_from(0), 1u);
    EXPECT_EQ(b.find_free_from((uint64_t{1} << 24) - 1), free_bitmap::npos);
    b.set_range(0, (uint64_t{1} << 24) - 1);
    EXPECT_EQ(b.find_free_from(0), free_bitmap::npos);
    b.clear(12345678);
    EXPECT_EQ(b.find_free_from(0), 12345678u);
    EXPECT_EQ(b.find_free_from(12345679), free_bitmap::npos);
}

}  // namespace
}  // namespace eg::ctl::pools
