// Address, prefix and MAC text helpers (config/addresses.cpp), table-driven.
#include "config/config.hpp"

#include <gtest/gtest.h>

namespace eg::cfg {
namespace {

struct ip_case {
    std::string_view text;
    bool ok;
    std::string_view canonical;  // to_string() of the parsed address
};

TEST(ParseIp, Table) {
    const ip_case cases[] = {
        {"192.168.100.1", true, "192.168.100.1"},
        {"0.0.0.0", true, "0.0.0.0"},
        {"255.255.255.255", true, "255.255.255.255"},
        {"2001:db8:1::1", true, "2001:db8:1::1"},
        {"2001:DB8:0:0:0:0:0:1", true, "2001:db8::1"},  // RFC 5952 canonical output
        {"::", true, "::"},
        {"::ffff:192.0.2.1", true, "::ffff:192.0.2.1"},
        {"fe80::1", true, "fe80::1"},
        {"", false, ""},
        {"256.1.1.1", false, ""},
        {"1.2.3", false, ""},
        {"1.2.3.4.5", false, ""},
        {"010.1.1.1", false, ""},  // no octal ambiguity
        {" 1.2.3.4", false, ""},
        {"1.2.3.4/24", false, ""},
        {"2001:db8::1::2", false, ""},
        {"fe80::1%eth0", false, ""},
        {"gggg::1", false, ""},
        {std::string_view("1.2.3.4\0x", 9), false, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.text));
        const auto a = parse_ip(c.text);
        ASSERT_EQ(a.has_value(), c.ok);
        if (a) {
            EXPECT_EQ(to_string(*a), c.canonical);
        }
    }
}

TEST(ParseIp, FamilyAndBytes) {
    const auto a = parse_ip("10.1.2.3");
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->v6);
    EXPECT_EQ(a->bytes[0], 10);
    EXPECT_EQ(a->bytes[3], 3);
    EXPECT_EQ(a->bytes[4], 0);
    const auto b = parse_ip("2001:db8::ff");
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->v6);
    EXPECT_EQ(b->bytes[0], 0x20);
    EXPECT_EQ(b->bytes[15], 0xff);
}

TEST(ParsePrefix, Table) {
    const ip_case cases[] = {
        {"192.168.100.1/24", true, "192.168.100.1/24"},  // host bits are kept
        {"0.0.0.0/0", true, "0.0.0.0/0"},
        {"10.0.0.0/32", true, "10.0.0.0/32"},
        {"::/0", true, "::/0"},
        {"2001:db8:1::100/122", true, "2001:db8:1::100/122"},
        {"2001:db8::1/128", true, "2001:db8::1/128"},
        {"10.0.0.0/33", false, ""},
        {"::/129", false, ""},
        {"10.0.0.0", false, ""},
        {"10.0.0.0/", false, ""},
        {"10.0.0.0/-1", false, ""},
        {"10.0.0.0/+8", false, ""},
        {"10.0.0.0/0008", false, ""},
        {"10.0.0.0/8/8", false, ""},
        {"/8", false, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.text));
        const auto p = parse_prefix(c.text);
        ASSERT_EQ(p.has_value(), c.ok);
        if (p) {
            EXPECT_EQ(to_string(*p), c.canonical);
        }
    }
}

TEST(ParseMac, Table) {
    const ip_case cases[] = {
        {"02:00:00:00:00:01", true, "02:00:00:00:00:01"},
        {"AA:bb:CC:dd:EE:ff", true, "aa:bb:cc:dd:ee:ff"},
        {"02-00-00-00-00-01", false, ""},
        {"02:00:00:00:00", false, ""},
        {"02:00:00:00:00:011", false, ""},
        {"0g:00:00:00:00:01", false, ""},
        {"", false, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.text));
        const auto m = parse_mac(c.text);
        ASSERT_EQ(m.has_value(), c.ok);
        if (m) {
            EXPECT_EQ(to_string(*m), c.canonical);
        }
    }
}

TEST(Contains, Table) {
    struct contains_case {
        std::string_view prefix, addr;
        bool inside;
    };
    const contains_case cases[] = {
        {"192.168.100.0/24", "192.168.100.77", true},
        {"192.168.100.1/24", "192.168.100.255", true},  // host bits of the prefix ignored
        {"192.168.100.0/24", "192.168.101.1", false},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"10.0.0.0/9", "10.127.255.255", true},
        {"10.0.0.0/9", "10.128.0.0", false},
        {"10.0.0.1/32", "10.0.0.1", true},
        {"10.0.0.1/32", "10.0.0.2", false},
        {"2001:db8:1::100/122", "2001:db8:1::13f", true},
        {"2001:db8:1::100/122", "2001:db8:1::140", false},
        {"::/0", "2001:db8::1", true},
        {"::/0", "10.0.0.1", false},        // families never mix
        {"0.0.0.0/0", "::1", false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.prefix) + " " + std::string(c.addr));
        const auto p = parse_prefix(c.prefix);
        const auto a = parse_ip(c.addr);
        ASSERT_TRUE(p && a);
        EXPECT_EQ(contains(*p, *a), c.inside);
    }
}

}  // namespace
}  // namespace eg::cfg
