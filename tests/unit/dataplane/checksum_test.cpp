// Internet checksum helpers (dataplane/checksum.hpp) against the RFC 1071 definition
// as implemented independently in tests/unit/test_frames.hpp (byte by byte).
#include "dataplane/checksum.hpp"

#include <gtest/gtest.h>

#include "dataplane/headers.hpp"

#include <random>
#include <vector>

#include "tests/unit/test_frames.hpp"

namespace eg::dp {
namespace {

using eg::test::bytes;

/// The engine's checksum as it lands in memory, read back as a big-endian number.
uint16_t stored(uint16_t memory_order) {
    uint8_t b[2];
    std::memcpy(b, &memory_order, 2);
    return static_cast<uint16_t>(b[0] << 8 | b[1]);
}

TEST(Checksum, Rfc1071Section3Example) {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, so the checksum is 220d.
    const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(stored(checksum_fold(checksum_add(0, data, 8))), 0xddf2);
    EXPECT_EQ(stored(checksum(data, 8)), 0x220d);
    EXPECT_EQ(eg::test::inet_checksum(data, 8), 0x220d);
}

TEST(Checksum, KnownIpv4Header) {
    // A textbook header (192.168.0.1 -> 192.168.0.199, UDP, TTL 64, DF): checksum b861.
    uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(stored(checksum(h, 20)), 0xb861);
    h[10] = 0xb8, h[11] = 0x61;
    EXPECT_EQ(checksum(h, 20), 0);  // a valid header sums to zero
}

TEST(Checksum, EveryLengthAndAlignmentMatchesTheDefinition) {
    std::mt19937 rng(1071);
    std::vector<uint8_t> buf(2048 + 16);
    for (int round = 0; round < 4; ++round) {
        for (auto& b : buf) b = static_cast<uint8_t>(round == 3 ? 0xff : rng());  // all-ones: carry stress
        for (uint32_t off = 0; off < 8; ++off) {
            for (uint32_t len = 0; len <= 300; ++len) {
                ASSERT_EQ(stored(checksum(buf.data() + off, len)), eg::test::inet_checksum(buf.data() + off, len))
                    << "round " << round << " offset " << off << " length " << len;
            }
            const uint32_t len = 2048 - off;
            ASSERT_EQ(stored(checksum(buf.data() + off, len)), eg::test::inet_checksum(buf.data() + off, len));
        }
    }
}

TEST(Checksum, OddLengthPadsTheLastByteAsTheHighByte) {
    const uint8_t one[] = {0xab};
    EXPECT_EQ(stored(checksum(one, 1)), static_cast<uint16_t>(~0xab00));
    const uint8_t three[] = {0x12, 0x34, 0x56};
    EXPECT_EQ(stored(checksum(three, 3)), static_cast<uint16_t>(~(0x1234 + 0x5600)));
}

TEST(Checksum, InitialSumChainsLikeOneBuffer) {
    std::mt19937 rng(7);
    bytes b(101);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    for (uint32_t split = 0; split <= 100; split += 2) {  // even split: word boundaries kept
        const uint64_t first = checksum_add(0, b.data(), split);
        EXPECT_EQ(checksum(b.data() + split, static_cast<uint32_t>(b.size()) - split, first),
                  checksum(b.data(), static_cast<uint32_t>(b.size())));
    }
}

TEST(Checksum, IncrementalUpdateEqualsFullRecomputation) {
    std::mt19937 rng(1624);
    for (int i = 0; i < 100000; ++i) {
        uint8_t h[20];
        for (auto& x : h) x = static_cast<uint8_t>(rng());
        if (i % 100 == 0) std::memset(h, i % 200 ? 0xff : 0x00, 20);  // extremes
        h[10] = h[11] = 0;
        put_raw16(h + 10, checksum(h, 20));
        const uint32_t word = 2 * (rng() % 10);
        if (word == 10) continue;  // the checksum field itself
        const uint16_t old_word = raw16(h + word);
        uint16_t new_word = static_cast<uint16_t>(rng());
        if (i % 7 == 0) new_word = static_cast<uint16_t>(old_word - 1);  // like a TTL decrement
        put_raw16(h + word, new_word);
        const uint16_t updated = checksum_update16(raw16(h + 10), old_word, new_word);
        h[10] = h[11] = 0;
        const uint16_t full = checksum(h, 20);
        put_raw16(h + 10, updated);
        // Equal as numbers, or at least both +0/-0 forms of a valid checksum.
        ASSERT_TRUE(updated == full || eg::test::checksum_ok(h, 20))
            << "iteration " << i << " word " << word << ": " << std::hex << stored(updated) << " vs " << stored(full);
        ASSERT_TRUE(eg::test::checksum_ok(h, 20)) << "iteration " << i;
    }
}

TEST(Checksum, TtlDecrementEqualsFullRecomputationForEveryChecksumValue) {
    // Sweeping the 16-bit identification field walks the checksum through every value,
    // the end-around-carry corners (stored ff fe, ff ff as a little-endian word) included.
    std::mt19937 rng(1141);
    for (const uint8_t ttl : {uint8_t{1}, uint8_t{2}, uint8_t{64}, uint8_t{255}}) {
        uint8_t h[20];
        for (auto& x : h) x = static_cast<uint8_t>(rng());
        h[0] = 0x45;
        h[8] = ttl;
        for (uint32_t id = 0; id <= 0xffff; ++id) {
            h[4] = static_cast<uint8_t>(id >> 8), h[5] = static_cast<uint8_t>(id);
            h[10] = h[11] = 0;
            put_raw16(h + 10, checksum(h, 20));
            ipv4_decrement_ttl(h);
            ASSERT_EQ(h[8], ttl - 1);
            const uint16_t updated = raw16(h + 10);
            h[10] = h[11] = 0;
            ASSERT_EQ(stored(updated), eg::test::inet_checksum(h, 20)) << "ttl " << int{ttl} << " id " << id;
            h[8] = ttl;
        }
    }
}

TEST(Checksum, PseudoHeaderSumMatchesTheDefinition) {
    const auto s4 = eg::test::ip4("192.0.2.1"), d4 = eg::test::ip4("198.51.100.200");
    const bytes seg = eg::test::udp(s4, d4, 1234, 53, eg::test::payload(33));
    EXPECT_EQ(checksum(seg.data(), static_cast<uint32_t>(seg.size()),
                       pseudo_header_sum(s4.data(), d4.data(), 4, 17, static_cast<uint32_t>(seg.size()))),
              0);
    const auto s6 = eg::test::ip6("2001:db8::1"), d6 = eg::test::ip6("fe80::1234:5678");
    const bytes icmp = eg::test::icmp6(s6, d6, 128, 0, 0x00010002, eg::test::payload(57));
    EXPECT_EQ(checksum(icmp.data(), static_cast<uint32_t>(icmp.size()),
                       pseudo_header_sum(s6.data(), d6.data(), 16, 58, static_cast<uint32_t>(icmp.size()))),
              0);
}

}  // namespace
}  // namespace eg::dp
