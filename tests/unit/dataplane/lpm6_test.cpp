// lpm6: table-driven cases for the tricky rules (nesting, default route, /128 host
// routes, removes that uncover shorter prefixes, replace, bad input) and a randomized
// comparison of lookup and lookup_bulk against a linear-scan reference.
#include "dataplane/lpm6.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace eg::dp {
namespace {

using addr6 = std::array<uint8_t, 16>;

addr6 a6(const char* text) {
    addr6 a{};
    if (inet_pton(AF_INET6, text, a.data()) != 1) ADD_FAILURE() << "bad test address " << text;
    return a;
}

std::string show(const addr6& a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
    return buf;
}

struct op {
    enum kind_t { add, remove } kind;
    const char* prefix;
    uint8_t depth;
    uint32_t next_hop;  // add only
    bool ok;            // expected result
};

struct probe {
    const char* addr;
    uint32_t want;
};

struct lpm6_case {
    std::string name;
    std::vector<op> ops;
    std::vector<probe> probes;
    size_t rules;
};

const std::vector<lpm6_case>& cases() {
    static const std::vector<lpm6_case> c = {
        {"empty", {}, {{"::", k_lpm_no_route}, {"2001:db8::1", k_lpm_no_route}}, 0},
        {"default_route",
         {{op::add, "::", 0, 7, true}},
         {{"::", 7}, {"2001:db8::1", 7}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 7}},
         1},
        {"nested_prefixes",
         {{op::add, "::", 0, 1, true},
          {op::add, "2000::", 3, 2, true},
          {op::add, "2001:db8::", 32, 3, true},
          {op::add, "2001:db8:1::", 48, 4, true},
          {op::add, "2001:db8:1:2::", 64, 5, true},
          {op::add, "2001:db8:1:2:8000::", 65, 6, true},
          {op::add, "2001:db8:1:2::42", 128, 7, true},
          {op::add, "2001:db8:1:2::40", 127, 8, true}},
         {{"fe80::1", 1},
          {"2400::1", 2},
          {"2001:db8:ffff::1", 3},
          {"2001:db8:1:ffff::1", 4},
          {"2001:db8:1:2::1", 5},
          {"2001:db8:1:2:7fff:ffff:ffff:ffff", 5},
          {"2001:db8:1:2:8000::", 6},
          {"2001:db8:1:2::42", 7},
          {"2001:db8:1:2::43", 5},
          {"2001:db8:1:2::41", 8},
          {"2001:db8:1:2::44", 5}},
         8},
        {"odd_depths_inside_the_root_and_groups",
         {{op::add, "2001:db8::", 17, 1, true}, {op::add, "2001:db8::", 15, 2, true},
          {op::add, "2001:db8::", 23, 3, true}, {op::add, "2001:db8:2::", 47, 4, true}},
         {{"2001:db8::1", 3},
          {"2001:e00::", 1},
          {"2001:dff::", 3},
          {"2001:8000::", 2},
          {"2000:ffff::", 2},
          {"2002::", k_lpm_no_route},
          {"2001:db8:1:ffff::", 3},
          {"2001:db8:3:ffff::", 4},
          {"2001:db8::ffff", 3}},
         4},
        {"host_routes",
         {{op::add, "2001:db8::1", 128, 1, true},
          {op::add, "::", 128, 2, true},
          {op::add, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 3, true}},
         {{"2001:db8::1", 1},
          {"2001:db8::", k_lpm_no_route},
          {"2001:db8::2", k_lpm_no_route},
          {"::", 2},
          {"::1", k_lpm_no_route},
          {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 3},
          {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", k_lpm_no_route}},
         3},
        {"remove_uncovers_shorter_prefix",
         {{op::add, "::", 0, 1, true},
          {op::add, "2001:db8::", 32, 2, true},
          {op::add, "2001:db8:0:1::", 64, 3, true},
          {op::add, "2001:db8:0:1::5", 128, 4, true},
          {op::remove, "2001:db8:0:1::", 64, 0, true}},
         {{"2001:db8:0:1::1", 2}, {"2001:db8:0:1::5", 4}, {"2001:db8:0:2::", 2}, {"3000::", 1}},
         3},
        {"remove_all_levels_back_to_default",
         {{op::add, "::", 0, 1, true},
          {op::add, "2001:db8::", 32, 2, true},
          {op::add, "2001:db8:0:1::", 64, 3, true},
          {op::add, "2001:db8:0:1::5", 128, 4, true},
          {op::remove, "2001:db8:0:1::5", 128, 0, true},
          {op::remove, "2001:db8::", 32, 0, true},
          {op::remove, "2001:db8:0:1::", 64, 0, true}},
         {{"2001:db8:0:1::5", 1}, {"2001:db8:0:1::1", 1}, {"2001:db8::", 1}},
         1},
        {"remove_default_leaves_specifics",
         {{op::add, "::", 0, 1, true}, {op::add, "2001:db8::1", 128, 4, true}, {op::remove, "::", 0, 0, true}},
         {{"2001:db8::1", 4}, {"2001:db8::2", k_lpm_no_route}, {"::", k_lpm_no_route}},
         1},
        {"replace_equal_prefix",
         {{op::add, "2001:db8::", 32, 2, true}, {op::add, "2001:db8::1", 128, 3, true},
          {op::add, "2001:db8::", 32, 5, true}, {op::add, "2001:db8::1", 128, 6, true}},
         {{"2001:db8::2", 5}, {"2001:db8::1", 6}},
         2},
        {"host_bits_in_prefix_are_ignored",
         {{op::add, "2001:db8::1", 32, 2, true}, {op::remove, "2001:db8::", 32, 0, true},
          {op::add, "2001:db8:abcd::1", 33, 3, true}},
         {{"2001:db8::1", k_lpm_no_route}, {"2001:db8:7fff::", k_lpm_no_route}, {"2001:db8:8000::", 3}},
         1},
        {"bad_input",
         {{op::add, "2001:db8::", 129, 1, false},
          {op::add, "2001:db8::", 32, k_lpm_max_next_hop + 1, false},
          {op::add, "2001:db8::", 32, k_lpm_max_next_hop, true},
          {op::remove, "2001:db8::", 33, 0, false},
          {op::remove, "2001:db8::", 200, 0, false},
          {op::remove, "2001:db9::", 32, 0, false}},
         {{"2001:db8::1", k_lpm_max_next_hop}},
         1},
    };
    return c;
}

class lpm6_table : public ::testing::TestWithParam<lpm6_case> {};

TEST_P(lpm6_table, lookups_match) {
    const lpm6_case& c = GetParam();
    lpm6 t;
    for (const op& o : c.ops) {
        const addr6 p = a6(o.prefix);
        const bool ok = o.kind == op::add ? t.add(p.data(), o.depth, o.next_hop) : t.remove(p.data(), o.depth);
        EXPECT_EQ(ok, o.ok) << (o.kind == op::add ? "add " : "remove ") << o.prefix << "/" << int(o.depth);
    }
    EXPECT_EQ(t.rule_count(), c.rules);
    std::vector<addr6> addrs;
    for (const probe& p : c.probes) addrs.push_back(a6(p.addr));
    std::vector<const uint8_t*> ptrs;
    for (const addr6& a : addrs) ptrs.push_back(a.data());
    std::vector<uint32_t> bulk(addrs.size());
    t.lookup_bulk(ptrs.data(), bulk.data(), uint32_t(ptrs.size()));
    for (size_t i = 0; i < addrs.size(); ++i) {
        EXPECT_EQ(t.lookup(addrs[i].data()), c.probes[i].want) << c.probes[i].addr;
        EXPECT_EQ(bulk[i], c.probes[i].want) << c.probes[i].addr;
    }
}

INSTANTIATE_TEST_SUITE_P(cases, lpm6_table, ::testing::ValuesIn(cases()),
                         [](const auto& p) { return p.param.name; });

TEST(lpm6, removing_a_host_route_frees_its_groups) {
    lpm6 t;
    const addr6 agg = a6("2001:db8::"), host = a6("2001:db8::1");
    t.add(agg.data(), 32, 1);
    t.add(host.data(), 128, 2);
    EXPECT_EQ(t.groups_in_use(), 14u);  // one per 8-bit stride below the /16 root
    t.remove(host.data(), 128);
    EXPECT_EQ(t.groups_in_use(), 2u);  // the /32 keeps its groups for bits 16-23 and 24-31
    t.remove(agg.data(), 32);
    EXPECT_EQ(t.groups_in_use(), 0u);
}

// --- randomized comparison against a naive reference --------------------------------

struct rule6 {
    addr6 prefix;
    uint8_t depth;
    uint32_t next_hop;
    uint64_t hi = 0, lo = 0, mhi = 0, mlo = 0;  // prefix and mask as 64-bit halves
};

addr6 masked(addr6 a, uint8_t depth) {
    for (unsigned b = 0; b < 16; ++b) {
        if (depth <= b * 8)
            a[b] = 0;
        else if (depth < b * 8 + 8)
            a[b] &= uint8_t(0xff00 >> (depth - b * 8));
    }
    return a;
}

struct halves {
    uint64_t hi, lo;
};

halves split(const addr6& a) {
    halves h{};
    for (unsigned b = 0; b < 8; ++b) {
        h.hi = h.hi << 8 | a[b];
        h.lo = h.lo << 8 | a[b + 8];
    }
    return h;
}

halves mask_of(uint8_t d) {
    const auto m = [](int bits) { return bits <= 0 ? uint64_t(0) : bits >= 64 ? ~uint64_t(0) : ~uint64_t(0) << (64 - bits); };
    return {m(d), m(int(d) - 64)};
}

// Linear scan over rules sorted longest first: the first hit is the longest match.
class reference6 {
public:
    void add(const addr6& p, uint8_t d, uint32_t nh) {
        const addr6 m = masked(p, d);
        for (rule6& r : rules_)
            if (r.prefix == m && r.depth == d) {
                r.next_hop = nh;
                return;
            }
        const halves p2 = split(m), k = mask_of(d);
        rules_.push_back({m, d, nh, p2.hi, p2.lo, k.hi, k.lo});
        sorted_ = false;
    }
    void remove(const addr6& p, uint8_t d) {
        std::erase_if(rules_, [&](const rule6& r) { return r.prefix == p && r.depth == d; });
    }
    uint32_t lookup(const addr6& a) {
        if (!sorted_) {
            std::stable_sort(rules_.begin(), rules_.end(), [](const rule6& x, const rule6& y) { return x.depth > y.depth; });
            sorted_ = true;
        }
        const halves h = split(a);
        for (const rule6& r : rules_)
            if ((h.hi & r.mhi) == r.hi && (h.lo & r.mlo) == r.lo) return r.next_hop;
        return k_lpm_no_route;
    }
    const std::vector<rule6>& rules() const { return rules_; }

private:
    std::vector<rule6> rules_;
    bool sorted_ = true;
};

// Prefixes under a few "sites" with bytes partly from a small alphabet, so routes
// nest and collide (as real tables do: aggregates, /64s, per-VM /128s).
addr6 random_prefix(std::mt19937_64& rng, const std::vector<addr6>& sites) {
    static constexpr uint8_t alphabet[] = {0x00, 0x01, 0x80, 0xff};
    addr6 a{};
    for (auto& b : a) b = rng() % 2 ? alphabet[rng() % 4] : uint8_t(rng());
    if (rng() % 8 != 0) {  // most under a site /32
        const addr6& s = sites[rng() % sites.size()];
        std::copy_n(s.begin(), 4, a.begin());
    }
    return a;
}

uint8_t random_depth(std::mt19937_64& rng) {
    switch (rng() % 4) {
    case 0: return 128;
    case 1: return uint8_t(32 + rng() % 33);
    default: return uint8_t(rng() % 129);
    }
}

std::vector<addr6> random_addrs(std::mt19937_64& rng, const std::vector<rule6>& rules, size_t n) {
    std::vector<addr6> out(n);
    for (auto& x : out) {
        for (auto& b : x) b = uint8_t(rng());
        const uint64_t pick = rng() % 4;
        if (pick == 0 || rules.empty()) continue;
        // Inside a rule (host bits random), or just outside its edge.
        const rule6& r = rules[rng() % rules.size()];
        const addr6 host = x;
        x = r.prefix;
        for (unsigned b = 0; b < 16; ++b) {
            const uint8_t keep = b * 8 + 8 <= r.depth ? 0xff : b * 8 >= r.depth ? 0 : uint8_t(0xff00 >> (r.depth - b * 8));
            x[b] = uint8_t((x[b] & keep) | (host[b] & ~keep));
        }
        if (pick == 3 && r.depth > 0) x[(r.depth - 1) / 8] ^= uint8_t(0x80 >> ((r.depth - 1) % 8));
    }
    return out;
}

void expect_same(const lpm6& t, reference6& ref, const std::vector<addr6>& addrs) {
    std::vector<const uint8_t*> ptrs;
    for (const addr6& a : addrs) ptrs.push_back(a.data());
    std::vector<uint32_t> bulk(addrs.size());
    t.lookup_bulk(ptrs.data(), bulk.data(), uint32_t(ptrs.size()));
    size_t bad = 0;
    for (size_t i = 0; i < addrs.size() && bad < 10; ++i) {
        const uint32_t want = ref.lookup(addrs[i]);
        const uint32_t got = t.lookup(addrs[i].data());
        if (got != want || bulk[i] != want) {
            ++bad;
            ADD_FAILURE() << "addr " << show(addrs[i]) << " want " << want << " lookup " << got << " bulk " << bulk[i];
        }
    }
}

TEST(lpm6, random_routes_match_reference) {
    std::mt19937_64 rng(0x5eed6);
    std::vector<addr6> sites(16);
    for (auto& s : sites)
        for (auto& b : s) b = uint8_t(rng());
    lpm6 t;
    reference6 ref;
    const addr6 zero{};
    ASSERT_TRUE(t.add(zero.data(), 0, 4242));
    ref.add(zero, 0, 4242);
    for (int i = 0; i < 10000; ++i) {
        const uint8_t d = random_depth(rng);
        const addr6 p = random_prefix(rng, sites);
        const uint32_t nh = uint32_t(rng() % (k_lpm_max_next_hop + 1));
        ASSERT_TRUE(t.add(p.data(), d, nh));
        ref.add(p, d, nh);
    }
    EXPECT_EQ(t.rule_count(), ref.rules().size());
    expect_same(t, ref, random_addrs(rng, ref.rules(), 100000));

    // Remove about a third (maybe the default too), re-add a few, compare again.
    std::vector<rule6> rules = ref.rules();
    std::shuffle(rules.begin(), rules.end(), rng);
    for (size_t i = 0; i < rules.size() / 3; ++i) {
        ASSERT_TRUE(t.remove(rules[i].prefix.data(), rules[i].depth));
        ref.remove(rules[i].prefix, rules[i].depth);
    }
    for (size_t i = 0; i < rules.size() / 30; ++i) {
        ASSERT_TRUE(t.add(rules[i].prefix.data(), rules[i].depth, rules[i].next_hop ^ 1));
        ref.add(rules[i].prefix, rules[i].depth, rules[i].next_hop ^ 1);
    }
    EXPECT_EQ(t.rule_count(), ref.rules().size());
    const std::vector<addr6> addrs = random_addrs(rng, rules, 100000);  // also hits removed ones
    expect_same(t, ref, addrs);

    // Everything gone: no groups left, nothing matches.
    for (const rule6& r : std::vector<rule6>(ref.rules())) ASSERT_TRUE(t.remove(r.prefix.data(), r.depth));
    EXPECT_EQ(t.rule_count(), 0u);
    EXPECT_EQ(t.groups_in_use(), 0u);
    for (size_t i = 0; i < 1000; ++i) EXPECT_EQ(t.lookup(addrs[i].data()), k_lpm_no_route);
}

}  // namespace
}  // namespace eg::dp
