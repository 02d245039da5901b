// The variable-length handoff ring (dataplane/byte_ring.hpp).
#include "dataplane/byte_ring.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace eg::dp {
namespace {

/// A record of `len` bytes whose content names its sequence number.
bool push(byte_ring& r, uint32_t seq, uint32_t len) {
    const std::span<uint8_t> m = r.reserve(len);
    if (m.empty()) return false;
    for (uint32_t i = 0; i < len; ++i) {
        m[i] = static_cast<uint8_t>(seq * 31 + i);
    }
    r.commit();
    return true;
}
/// Pops one record (if any) and says whether it is record `seq` of `len` bytes.
bool pop_expect(byte_ring& r, uint32_t seq, uint32_t len) {
    const std::span<uint8_t> m = r.front();
    if (m.empty()) return false;
    bool same = m.size() == len;
    for (uint32_t i = 0; same && i < len; ++i) {
        same = m[i] == static_cast<uint8_t>(seq * 31 + i);
    }
    r.pop();
    return same;
}

TEST(ByteRing, CapacityIsAPowerOfTwoOfAtLeastFourKiB) {
    EXPECT_EQ(byte_ring(1).capacity(), 4096u);
    EXPECT_EQ(byte_ring(5000).capacity(), 8192u);
    EXPECT_EQ(byte_ring(8192).capacity(), 8192u);
}

TEST(ByteRing, EmptyRingHasNothing) {
    byte_ring r(4096);
    EXPECT_TRUE(r.empty());
    EXPECT_TRUE(r.front().empty());
}

TEST(ByteRing, RecordsTakeTheirSizeRoundedToACacheLine) {
    byte_ring r(4096);
    // 60 bytes + the 4-byte length = one 64-byte line: 64 of them fill 4 KiB exactly.
    uint32_t n = 0;
    while (push(r, n, 60)) ++n;
    EXPECT_EQ(n, 64u);
    // 61 bytes need two lines: after freeing one line there is still no room.
    ASSERT_TRUE(pop_expect(r, 0, 60));
    EXPECT_TRUE(r.reserve(61).empty());
    EXPECT_TRUE(push(r, 64, 60));
    for (uint32_t i = 1; i <= 64; ++i) {
        EXPECT_TRUE(pop_expect(r, i, 60)) << i;
    }
    EXPECT_TRUE(r.empty());
}

TEST(ByteRing, RefusesEmptyAndOversizedRecords) {
    byte_ring r(4096);
    EXPECT_TRUE(r.reserve(0).empty());
    EXPECT_EQ(r.max_record(), 4092u);
    EXPECT_TRUE(r.reserve(4093).empty());
    // The largest record fits an empty ring, and only then.
    EXPECT_TRUE(push(r, 1, 4092));
    EXPECT_TRUE(r.reserve(1).empty());
    EXPECT_TRUE(pop_expect(r, 1, 4092));
    EXPECT_TRUE(r.empty());
}

TEST(ByteRing, ARecordThatWouldCrossTheEndStartsAtOffsetZero) {
    byte_ring r(4096);
    // 3000 bytes (3008 with the header, 47 lines) then 1000 (1024, 16 lines, from 3008
    // to 4032): the next 1000 does not fit in the 64 bytes left at the end.
    ASSERT_TRUE(push(r, 1, 3000));
    ASSERT_TRUE(push(r, 2, 1000));
    EXPECT_TRUE(r.reserve(1000).empty());  // the front is not free yet
    ASSERT_TRUE(pop_expect(r, 1, 3000));
    ASSERT_TRUE(push(r, 3, 1000));  // wraps: mark at 4032, record at 0
    // 64 + 1024 of the 3008 freed are used: one more 1900-byte record (1920) fits.
    ASSERT_TRUE(push(r, 4, 1900));
    EXPECT_TRUE(r.reserve(100).empty());
    EXPECT_TRUE(pop_expect(r, 2, 1000));
    EXPECT_TRUE(pop_expect(r, 3, 1000));  // the consumer skipped the wrap mark
    EXPECT_TRUE(pop_expect(r, 4, 1900));
    EXPECT_TRUE(r.empty());
}

TEST(ByteRing, AWrapNeedsRoomForTheSkippedEndToo) {
    byte_ring r(4096);
    ASSERT_TRUE(push(r, 1, 2044));  // 2048 bytes: lines 0..31
    ASSERT_TRUE(push(r, 2, 1980));  // 1984 bytes: up to 4032
    ASSERT_TRUE(pop_expect(r, 1, 2044));
    // 2048 + 64 bytes are free, but a 2045-byte record needs 2112 at offset 0 plus the
    // 64 skipped at the end: 2176 > 2112.
    EXPECT_TRUE(r.reserve(2045).empty());
    EXPECT_TRUE(push(r, 3, 2044));  // 2048 at offset 0 plus the 64 skipped: fits
    EXPECT_TRUE(pop_expect(r, 2, 1980));
    EXPECT_TRUE(pop_expect(r, 3, 2044));
    EXPECT_TRUE(r.empty());
}

TEST(ByteRing, TwoThreadStressWithMixedSizesKeepsOrderAndLosesNothing) {
    constexpr uint32_t k_count = 300'000;
    byte_ring r(64 * 1024);
    // Sizes from a 64-byte frame to a 64 KB super-packet's worth, a fixed pseudo-random
    // mix so the ring wraps at every possible distance from its end.
    auto size_of = [](uint32_t i) -> uint32_t {
        const uint32_t h = i * 2654435761u;
        return (h >> 28) == 0 ? 20000 + h % 12000 : 1 + h % 1600;
    };
    std::thread producer([&] {
        for (uint32_t i = 0; i < k_count;) {
            if (push(r, i, size_of(i))) ++i;
        }
    });
    uint32_t bad = 0;
    for (uint32_t i = 0; i < k_count;) {
        const std::span<uint8_t> m = r.front();
        if (m.empty()) continue;
        bad += !pop_expect(r, i, size_of(i));
        ++i;
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
    EXPECT_TRUE(r.empty());
}

}  // namespace
}  // namespace eg::dp
