// DHCP option encoding (control/dhcp/options.*): the writer (RFC 3396 splitting, all
// or nothing when out of room), typed reads, and RFC 3442 classless static routes
// against the RFC's own examples.
#include "control/dhcp/options.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "tests/unit/test_frames.hpp"

namespace eg::ctl::dhcp {
namespace {

using test::bytes;

uint32_t a4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return uint32_t{a} << 24 | uint32_t{b} << 16 | c << 8 | d; }

TEST(DhcpOptionWriter, WritesCodeLengthValue) {
    std::array<uint8_t, 64> area{};
    option_writer w(area);
    ASSERT_TRUE(w.add_u8(53, 2));
    ASSERT_TRUE(w.add_u32(54, a4(192, 168, 100, 1)));
    ASSERT_TRUE(w.add_u16(26, 1400));
    const uint32_t dns[] = {a4(9, 9, 9, 9), a4(1, 1, 1, 1)};
    ASSERT_TRUE(w.add_addrs(6, dns));
    ASSERT_TRUE(w.add_string(15, "vm.example"));
    w.end();
    const bytes expect = {53, 1, 2,                                            //
                          54, 4, 192, 168, 100, 1,                             //
                          26, 2, 0x05, 0x78,                                   //
                          6,  8, 9,   9,   9,   9, 1, 1, 1, 1,                 //
                          15, 10, 'v', 'm', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',  // no NUL
                          255};
    EXPECT_EQ(bytes(area.begin(), area.begin() + w.size()), expect);
}

TEST(DhcpOptionWriter, SplitsLongValuesRfc3396) {
    // 300 bytes of option 121 become two options of the same code: 255 + 45.
    bytes value = test::payload(300);
    std::vector<uint8_t> area(400);
    option_writer w(area);
    ASSERT_TRUE(w.add(121, value));
    ASSERT_EQ(w.size(), 304u);
    EXPECT_EQ(area[0], 121);
    EXPECT_EQ(area[1], 255);
    EXPECT_EQ(bytes(area.begin() + 2, area.begin() + 257), bytes(value.begin(), value.begin() + 255));
    EXPECT_EQ(area[257], 121);
    EXPECT_EQ(area[258], 45);
    EXPECT_EQ(bytes(area.begin() + 259, area.begin() + 304), bytes(value.begin() + 255, value.end()));
    EXPECT_EQ(option_writer::encoded_size(300), 304u);
    EXPECT_EQ(option_writer::encoded_size(255), 257u);
    EXPECT_EQ(option_writer::encoded_size(256), 260u);
    EXPECT_EQ(option_writer::encoded_size(0), 2u);
}

TEST(DhcpOptionWriter, AllOrNothingWhenOutOfRoom) {
    std::array<uint8_t, 10> area{};
    area.fill(0xee);
    option_writer w(area);
    ASSERT_TRUE(w.add_u32(51, 3600));  // 6 bytes; 4 left, one of them kept for End
    EXPECT_FALSE(w.add_u32(58, 1800)); // would need 6
    EXPECT_EQ(w.size(), 6u);
    EXPECT_EQ(area[6], 0xee);          // nothing partial written
    EXPECT_TRUE(w.add_u8(53, 5));      // 3 bytes fit exactly before End
    w.end();
    EXPECT_EQ(w.size(), 10u);
    EXPECT_EQ(area[9], 255);
}

TEST(DhcpOptionWriter, LimitReservesRoomAndPadEndAreRefused) {
    std::array<uint8_t, 32> area{};
    option_writer w(area);
    w.set_limit(10);
    EXPECT_FALSE(w.add(12, bytes(8, 'x')));  // 10 bytes, but one is kept for End
    EXPECT_TRUE(w.add(12, bytes(7, 'x')));
    w.raise_limit_to_area();
    EXPECT_TRUE(w.add(82, bytes(10, 1)));
    EXPECT_FALSE(w.add(0, bytes{}));
    EXPECT_FALSE(w.add(255, bytes{}));
    EXPECT_TRUE(w.add(80, bytes{}));  // zero-length option (RFC 4039 rapid commit)
    EXPECT_EQ(area[w.size() - 2], 80);
    EXPECT_EQ(area[w.size() - 1], 0);
}

// RFC 3442 §2, the table of example destination descriptors, plus the router.
struct route_case {
    const char* name;
    classless_route route;
    bytes encoded;
};

TEST(DhcpClasslessRoutes, Rfc3442Examples) {
    const uint32_t gw = a4(10, 0, 0, 1);
    const route_case cases[] = {
        {"default", {0, 0, gw}, {0, 10, 0, 0, 1}},
        {"10/8", {a4(10, 0, 0, 0), 8, gw}, {8, 10, 10, 0, 0, 1}},
        {"10.0.0/24", {a4(10, 0, 0, 0), 24, gw}, {24, 10, 0, 0, 10, 0, 0, 1}},
        {"10.17/16", {a4(10, 17, 0, 0), 16, gw}, {16, 10, 17, 10, 0, 0, 1}},
        {"10.27.129/24", {a4(10, 27, 129, 0), 24, gw}, {24, 10, 27, 129, 10, 0, 0, 1}},
        {"10.229.0.128/25", {a4(10, 229, 0, 128), 25, gw}, {25, 10, 229, 0, 128, 10, 0, 0, 1}},
        {"10.198.122.47/32", {a4(10, 198, 122, 47), 32, gw}, {32, 10, 198, 122, 47, 10, 0, 0, 1}},
    };
    for (const route_case& c : cases) {
        SCOPED_TRACE(c.name);
        std::array<uint8_t, 16> out{};
        const classless_route one[] = {c.route};
        const size_t n = encode_classless_routes(one, out);
        EXPECT_EQ(bytes(out.begin(), out.begin() + n), c.encoded);
        EXPECT_EQ(n, classless_route_size(c.route));
        const auto back = decode_classless_routes(c.encoded);
        ASSERT_TRUE(back.has_value());
        ASSERT_EQ(back->size(), 1u);
        EXPECT_EQ((*back)[0], c.route);
    }
}

TEST(DhcpClasslessRoutes, ListHostBitsAndErrors) {
    // Several routes back to back; host bits beyond the width are not sent.
    const classless_route routes[] = {{a4(10, 1, 2, 3), 16, a4(192, 168, 0, 1)}, {0, 0, a4(192, 168, 0, 254)}};
    std::array<uint8_t, 32> out{};
    const size_t n = encode_classless_routes(routes, out);
    EXPECT_EQ(bytes(out.begin(), out.begin() + n), (bytes{16, 10, 1, 192, 168, 0, 1, 0, 192, 168, 0, 254}));
    const auto back = decode_classless_routes(std::span<const uint8_t>(out.data(), n));
    ASSERT_TRUE(back);
    EXPECT_EQ((*back)[0].destination, a4(10, 1, 0, 0));
    EXPECT_EQ((*back)[1], routes[1]);

    std::array<uint8_t, 6> small{};
    EXPECT_EQ(encode_classless_routes(routes, small), 0u);  // does not fit
    const classless_route bad[] = {{0, 33, 0}};
    EXPECT_EQ(encode_classless_routes(bad, out), 0u);

    EXPECT_FALSE(decode_classless_routes(bytes{33, 1, 2, 3, 4, 5, 6, 7, 8}));  // width > 32
    EXPECT_FALSE(decode_classless_routes(bytes{24, 10, 0, 0, 10, 0, 0}));     // router cut short
    EXPECT_FALSE(decode_classless_routes(bytes{8}));
    EXPECT_TRUE(decode_classless_routes(bytes{}));  // empty list is well-formed
}

}  // namespace
}  // namespace eg::ctl::dhcp
