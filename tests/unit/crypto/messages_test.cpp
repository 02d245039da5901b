// WireGuard wire formats: exact sizes, reserved bytes, transport minimum, round trips.
#include "crypto/messages.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace eg::crypto {
namespace {

std::vector<uint8_t> header(uint8_t type, size_t size) {
    std::vector<uint8_t> b(size, 0xab);
    b[0] = type;
    b[1] = b[2] = b[3] = 0;
    return b;
}

TEST(WireguardMessages, PeekTypeChecksTheHeaderWord) {
    struct tc {
        std::vector<uint8_t> bytes;
        parse_error want;
    };
    std::vector<tc> cases = {
        {{}, parse_error::too_short},
        {{1, 0, 0}, parse_error::too_short},
        {header(0, 148), parse_error::unknown_type},
        {header(5, 148), parse_error::unknown_type},
        {header(0xff, 148), parse_error::unknown_type},
        {header(1, 148), parse_error::ok},
        {header(4, 31), parse_error::too_short},  // transport minimum is header + tag
        {header(4, 32), parse_error::ok},
    };
    for (uint8_t bad_byte : {1, 2, 3}) {
        auto b = header(1, 148);
        b[bad_byte] = 1;
        cases.push_back({b, parse_error::reserved_not_zero});
    }
    for (size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE(i);
        message_type t{};
        EXPECT_EQ(peek_type(cases[i].bytes, t), cases[i].want);
    }
}

TEST(WireguardMessages, HandshakeTypesNeedTheirExactSize) {
    struct tc {
        uint8_t type;
        size_t size;
    };
    for (const tc c : {tc{1, k_initiation_size}, tc{2, k_response_size}, tc{3, k_cookie_reply_size}}) {
        SCOPED_TRACE(int(c.type));
        for (size_t size : {c.size - 1, c.size, c.size + 1, size_t(200)}) {
            const auto b = header(c.type, size);
            message_initiation i;
            message_response r;
            message_cookie_reply k;
            parse_error e = c.type == 1 ? parse(b, i) : c.type == 2 ? parse(b, r) : parse(b, k);
            EXPECT_EQ(e, size == c.size ? parse_error::ok : parse_error::wrong_size) << size;
        }
        // A message of another type is not accepted by this parser.
        message_initiation i;
        EXPECT_EQ(parse(header(2, k_initiation_size), i), parse_error::unknown_type);
    }
}

TEST(WireguardMessages, InitiationRoundTripAndOffsets) {
    message_initiation m;
    m.sender_index = 0x04030201;
    for (size_t i = 0; i < 32; ++i) m.ephemeral[i] = uint8_t(0x10 + i);
    m.encrypted_static.fill(0x55);
    m.encrypted_timestamp.fill(0x66);
    m.mac1.fill(0x77);
    m.mac2.fill(0x88);
    std::array<uint8_t, k_initiation_size> b{};
    serialise(m, b);
    EXPECT_EQ(b[0], 1);
    EXPECT_EQ(b[4], 0x01) << "indices are little-endian";
    EXPECT_EQ(b[7], 0x04);
    EXPECT_EQ(b[8], 0x10);
    EXPECT_EQ(b[40], 0x55);
    EXPECT_EQ(b[87], 0x55);
    EXPECT_EQ(b[88], 0x66);
    EXPECT_EQ(b[115], 0x66);
    EXPECT_EQ(b[116], 0x77);
    EXPECT_EQ(b[132], 0x88);
    message_initiation back;
    ASSERT_EQ(parse(b, back), parse_error::ok);
    EXPECT_EQ(back.sender_index, m.sender_index);
    EXPECT_EQ(back.ephemeral, m.ephemeral);
    EXPECT_EQ(back.encrypted_static, m.encrypted_static);
    EXPECT_EQ(back.encrypted_timestamp, m.encrypted_timestamp);
    EXPECT_EQ(back.mac1, m.mac1);
    EXPECT_EQ(back.mac2, m.mac2);
}

TEST(WireguardMessages, ResponseCookieAndTransportRoundTrips) {
    message_response r;
    r.sender_index = 7;
    r.receiver_index = 0xdeadbeef;
    r.ephemeral.fill(1);
    r.encrypted_nothing.fill(2);
    r.mac1.fill(3);
    r.mac2.fill(4);
    std::array<uint8_t, k_response_size> rb{};
    serialise(r, rb);
    EXPECT_EQ(rb[44], 2);
    EXPECT_EQ(rb[60], 3);
    EXPECT_EQ(rb[76], 4);
    message_response rr;
    ASSERT_EQ(parse(rb, rr), parse_error::ok);
    EXPECT_EQ(rr.receiver_index, 0xdeadbeefu);
    EXPECT_EQ(rr.mac2, r.mac2);

    message_cookie_reply c;
    c.receiver_index = 9;
    c.nonce.fill(5);
    c.encrypted_cookie.fill(6);
    std::array<uint8_t, k_cookie_reply_size> cb{};
    serialise(c, cb);
    EXPECT_EQ(cb[8], 5);
    EXPECT_EQ(cb[32], 6);
    message_cookie_reply cc;
    ASSERT_EQ(parse(cb, cc), parse_error::ok);
    EXPECT_EQ(cc.nonce, c.nonce);
    EXPECT_EQ(cc.encrypted_cookie, c.encrypted_cookie);

    std::vector<uint8_t> tb(32, 0);
    serialise(transport_header{0x11223344, 0x0102030405060708ULL}, std::span<uint8_t, 16>(tb.data(), 16));
    EXPECT_EQ(tb[8], 0x08) << "counter is LE64";
    transport_header th;
    ASSERT_EQ(parse(tb, th), parse_error::ok);
    EXPECT_EQ(th.receiver_index, 0x11223344u);
    EXPECT_EQ(th.counter, 0x0102030405060708ULL);
    EXPECT_EQ(parse(std::span<const uint8_t>(tb).first(31), th), parse_error::too_short);
    EXPECT_STREQ(to_string(parse_error::reserved_not_zero), "reserved_not_zero");
}

}  // namespace
}  // namespace eg::crypto
