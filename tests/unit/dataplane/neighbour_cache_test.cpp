// A worker's next-hop MAC cache (dataplane/neighbour_cache.hpp) in front of the shared
// neighbour_table: a cached MAC is used only while the table's entry is unchanged.
#include "dataplane/neighbour_cache.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>

#include "tests/unit/test_frames.hpp"

namespace eg::dp {
namespace {

using eg::test::ip6;
using mac = std::array<uint8_t, 6>;

mac m(uint8_t v) { return {0x02, 0, 0, 0, 0, v}; }

std::optional<mac> via4(neighbour_cache& c, const neighbour_table& t, uint16_t port, uint32_t addr) {
    mac out;
    if (!c.resolve4(t, port, addr, out.data())) return std::nullopt;
    return out;
}
std::optional<mac> via6(neighbour_cache& c, const neighbour_table& t, uint16_t port, const uint8_t* addr) {
    mac out;
    if (!c.resolve6(t, port, addr, out.data())) return std::nullopt;
    return out;
}

TEST(NeighbourCache, FollowsEveryChangeOfTheTable) {
    neighbour_table t(64);
    auto c = std::make_unique<neighbour_cache>();
    const uint32_t a = 0xc0a8640b;  // 192.168.100.11
    EXPECT_FALSE(via4(*c, t, 0, a));
    ASSERT_TRUE(t.set(neighbour_key::ipv4(0, a), m(1)));
    EXPECT_EQ(via4(*c, t, 0, a), m(1));
    EXPECT_EQ(via4(*c, t, 0, a), m(1));  // now from the cache
    // A new MAC (the VM moved) is seen at the next use, not after some burst.
    ASSERT_TRUE(t.set(neighbour_key::ipv4(0, a), m(2)));
    EXPECT_EQ(via4(*c, t, 0, a), m(2));
    // Gone from the table: gone here.
    t.erase(neighbour_key::ipv4(0, a));
    EXPECT_FALSE(via4(*c, t, 0, a));
    ASSERT_TRUE(t.set(neighbour_key::ipv4(0, a), m(3)));
    EXPECT_EQ(via4(*c, t, 0, a), m(3));
}

TEST(NeighbourCache, PortAndFamilyArePartOfTheKey) {
    neighbour_table t(64);
    auto c = std::make_unique<neighbour_cache>();
    const auto a6 = ip6("2001:db8:1::2");
    ASSERT_TRUE(t.set(neighbour_key::ipv4(1, 0xcb007102), m(1)));
    ASSERT_TRUE(t.set(neighbour_key::ipv6(1, a6.data()), m(2)));
    EXPECT_EQ(via4(*c, t, 1, 0xcb007102), m(1));
    EXPECT_FALSE(via4(*c, t, 0, 0xcb007102));  // same address, other port
    EXPECT_EQ(via4(*c, t, 1, 0xcb007102), m(1));
    EXPECT_EQ(via6(*c, t, 1, a6.data()), m(2));
    EXPECT_FALSE(via6(*c, t, 0, a6.data()));
    // An IPv6 address whose first 8 bytes are an IPv4 entry's bits is not that entry.
    std::array<uint8_t, 16> fake{};
    const uint64_t v4bits = 0xcb007102;
    std::memcpy(fake.data(), &v4bits, 8);
    EXPECT_FALSE(via6(*c, t, 1, fake.data()));
    EXPECT_EQ(via4(*c, t, 1, 0xcb007102), m(1));
}

TEST(NeighbourCache, ManyMoreNeighboursThanEntries) {
    // 3000 VMs through 256 entries: every address maps to its own MAC whatever it
    // evicted, twice around, with the table rewritten in between.
    neighbour_table t(8192);
    auto c = std::make_unique<neighbour_cache>();
    const uint32_t base = 0x0a000000;
    for (uint32_t i = 0; i < 3000; ++i) ASSERT_TRUE(t.set(neighbour_key::ipv4(0, base + i), m(uint8_t(i))));
    for (int round = 0; round < 2; ++round) {
        for (uint32_t i = 0; i < 3000; ++i) {
            ASSERT_EQ(via4(*c, t, 0, base + i), m(uint8_t(i + round))) << i;
            ASSERT_EQ(via4(*c, t, 0, base + i), m(uint8_t(i + round))) << i;
        }
        for (uint32_t i = 0; i < 3000; ++i) ASSERT_TRUE(t.set(neighbour_key::ipv4(0, base + i), m(uint8_t(i + 1))));
    }
}

TEST(NeighbourCache, EntriesMovedByARebuildAreLookedUpAgain) {
    // Erasing leaves tombstones; inserting past 3/4 of the slots in use rebuilds the
    // table in place, moving entries to other slots. Cached slots must not be trusted.
    neighbour_table t(64);
    auto c = std::make_unique<neighbour_cache>();
    for (uint32_t i = 0; i < 40; ++i) ASSERT_TRUE(t.set(neighbour_key::ipv4(0, 0x0a000000 + i), m(uint8_t(i))));
    for (uint32_t i = 0; i < 40; ++i) ASSERT_EQ(via4(*c, t, 0, 0x0a000000 + i), m(uint8_t(i)));
    for (uint32_t i = 0; i < 30; ++i) t.erase(neighbour_key::ipv4(0, 0x0a000000 + i));
    for (uint32_t i = 100; i < 130; ++i) ASSERT_TRUE(t.set(neighbour_key::ipv4(0, 0x0a000000 + i), m(uint8_t(i))));
    for (uint32_t i = 0; i < 30; ++i) EXPECT_FALSE(via4(*c, t, 0, 0x0a000000 + i)) << i;
    for (uint32_t i = 30; i < 40; ++i) EXPECT_EQ(via4(*c, t, 0, 0x0a000000 + i), m(uint8_t(i))) << i;
    for (uint32_t i = 100; i < 130; ++i) EXPECT_EQ(via4(*c, t, 0, 0x0a000000 + i), m(uint8_t(i))) << i;
}

}  // namespace
}  // namespace eg::dp
