// dataplane/wg_outer.hpp and wg_endpoint.hpp: the headers around a WireGuard message are
// those the independent frame builder (test_frames.hpp) makes, for both families; an
// endpoint is known only with a port and an address other than 0.0.0.0 or ::.
#include "dataplane/wg_outer.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/test_frames.hpp"

namespace eg::dp {
namespace {

using namespace eg::test;

const bytes k_message = {4, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};  // odd length

TEST(WgOuter, IPv4HeadersMatchTheFrameBuilderWithAZeroUdpChecksum) {
    const wg_endpoint to = wg_endpoint::v4(0xc6336407, 40000);  // 198.51.100.7
    std::vector<uint8_t> out(k_wg_outer4 + k_message.size());
    ASSERT_EQ(wg_outer_size(to), k_wg_outer4);
    std::copy(k_message.begin(), k_message.end(), out.begin() + k_wg_outer4);
    const uint32_t len = write_wg_outer(out.data(), 0xcb007101, nullptr, 51820, to, uint32_t(k_message.size()), 0x1234);
    ASSERT_EQ(len, out.size());

    ip4_opts o;
    o.id = 0x1234;
    bytes want = test::ipv4(ip4("203.0.113.1"), ip4("198.51.100.7"), 17,
                      udp(ip4("203.0.113.1"), ip4("198.51.100.7"), 51820, 40000, k_message), o);
    // IPv4 lets UDP go without a checksum (RFC 768); the builder always computes one.
    want[20 + 6] = 0;
    want[20 + 7] = 0;
    EXPECT_EQ(hex(out.data(), out.size()), hex(want.data(), want.size()));
    EXPECT_TRUE(ipv4_header_ok(out.data()));
}

TEST(WgOuter, IPv6HeadersCarryTheMandatoryUdpChecksum) {
    const ip6_t ours = ip6("2001:db8:1::1"), peer = ip6("2001:db8:1::2");
    const wg_endpoint to = wg_endpoint::v6(peer.data(), 51821);
    std::vector<uint8_t> out(k_wg_outer6 + k_message.size());
    ASSERT_EQ(wg_outer_size(to), k_wg_outer6);
    std::copy(k_message.begin(), k_message.end(), out.begin() + k_wg_outer6);
    const uint32_t len = write_wg_outer(out.data(), 0, ours.data(), 51820, to, uint32_t(k_message.size()), 0x1234);
    ASSERT_EQ(len, out.size());
    const bytes want = test::ipv6(ours, peer, 17, udp(ours, peer, 51820, 51821, k_message));
    EXPECT_EQ(hex(out.data(), out.size()), hex(want.data(), want.size()));
}

TEST(WgEndpoint, KnownNeedsAPortAndAnAddress) {
    const ip6_t v6 = ip6("2001:db8:1::2"), any6{};
    EXPECT_TRUE(wg_endpoint::v4(0xc6336407, 1).known());
    EXPECT_FALSE(wg_endpoint::v4(0xc6336407, 0).known());
    EXPECT_FALSE(wg_endpoint::v4(0, 51820).known()) << "0.0.0.0";
    EXPECT_TRUE(wg_endpoint::v6(v6.data(), 1).known());
    EXPECT_FALSE(wg_endpoint::v6(v6.data(), 0).known());
    EXPECT_FALSE(wg_endpoint::v6(any6.data(), 51820).known()) << "::";
    EXPECT_FALSE(wg_endpoint{}.known());
    // An address with only its last or first byte set is an address.
    ip6_t low{}, high{};
    low[15] = 1;
    high[0] = 0x20;
    EXPECT_TRUE(wg_endpoint::v6(low.data(), 1).known());
    EXPECT_TRUE(wg_endpoint::v6(high.data(), 1).known());
    EXPECT_TRUE(wg_endpoint::v4(1, 1).known()) << "0.0.0.1 is an address";
}

TEST(WgEndpoint, IPv4IsHeldMappedAndComparesByAddressAndPort) {
    const wg_endpoint a = wg_endpoint::v4(0xc6336407, 40000);
    const ip6_t mapped = ip6("::ffff:198.51.100.7");
    const wg_endpoint b = wg_endpoint::v6(mapped.data(), 40000);
    EXPECT_TRUE(a.is_v4());
    EXPECT_TRUE(b.is_v4());
    EXPECT_EQ(a, b);
    EXPECT_EQ(b.v4_addr(), 0xc6336407u);
    EXPECT_FALSE(a == wg_endpoint::v4(0xc6336407, 40001));
    const ip6_t v6 = ip6("2001:db8:1::2");
    EXPECT_FALSE(wg_endpoint::v6(v6.data(), 40000).is_v4());
}

}  // namespace
}  // namespace eg::dp
