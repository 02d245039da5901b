// lpm4: table-driven cases for the tricky rules (nesting, default route, host routes,
// removes that uncover shorter prefixes, replace, bad input) and a randomized
// comparison of lookup and lookup_bulk against a linear-scan reference.
#include "dataplane/lpm4.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace eg::dp {
namespace {

constexpr uint32_t ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a << 24 | b << 16 | c << 8 | d; }

struct op {
    enum kind_t { add, remove } kind;
    uint32_t prefix;
    uint8_t depth;
    uint32_t next_hop;  // add only
    bool ok;            // expected result
};

struct probe {
    uint32_t addr;
    uint32_t want;
};

struct lpm4_case {
    std::string name;
    std::vector<op> ops;
    std::vector<probe> probes;
    size_t rules;
};

const std::vector<lpm4_case>& cases() {
    static const std::vector<lpm4_case> c = {
        {"empty", {}, {{ip(10, 0, 0, 1), k_lpm_no_route}, {0, k_lpm_no_route}, {0xffffffff, k_lpm_no_route}}, 0},
        {"default_route",
         {{op::add, 0, 0, 7, true}},
         {{0, 7}, {ip(1, 2, 3, 4), 7}, {0xffffffff, 7}},
         1},
        {"nested_prefixes_across_all_levels",
         {{op::add, 0, 0, 1, true},
          {op::add, ip(10, 0, 0, 0), 8, 2, true},
          {op::add, ip(10, 1, 0, 0), 16, 3, true},
          {op::add, ip(10, 1, 128, 0), 17, 4, true},
          {op::add, ip(10, 1, 200, 0), 24, 5, true},
          {op::add, ip(10, 1, 200, 128), 25, 6, true},
          {op::add, ip(10, 1, 200, 200), 32, 7, true}},
         {{ip(11, 0, 0, 0), 1},
          {ip(10, 2, 0, 0), 2},
          {ip(10, 1, 5, 5), 3},
          {ip(10, 1, 127, 255), 3},
          {ip(10, 1, 128, 0), 4},
          {ip(10, 1, 200, 1), 5},
          {ip(10, 1, 200, 127), 5},
          {ip(10, 1, 200, 128), 6},
          {ip(10, 1, 200, 199), 6},
          {ip(10, 1, 200, 200), 7},
          {ip(10, 1, 200, 201), 6},
          {ip(10, 1, 201, 0), 4}},
         7},
        {"longer_added_first_then_shorter_does_not_override",
         {{op::add, ip(192, 168, 1, 0), 24, 9, true}, {op::add, ip(192, 168, 0, 0), 16, 8, true},
          {op::add, ip(192, 0, 0, 0), 8, 7, true}},
         {{ip(192, 168, 1, 1), 9}, {ip(192, 168, 2, 1), 8}, {ip(192, 1, 0, 0), 7}, {ip(193, 0, 0, 0), k_lpm_no_route}},
         3},
        {"host_routes",
         {{op::add, ip(8, 8, 8, 8), 32, 1, true}, {op::add, ip(8, 8, 4, 4), 32, 2, true},
          {op::add, 0xffffffff, 32, 3, true}, {op::add, 0, 32, 4, true}},
         {{ip(8, 8, 8, 8), 1},
          {ip(8, 8, 8, 9), k_lpm_no_route},
          {ip(8, 8, 4, 4), 2},
          {0xffffffff, 3},
          {0xfffffffe, k_lpm_no_route},
          {0, 4},
          {1, k_lpm_no_route}},
         4},
        {"remove_uncovers_shorter_prefix",
         {{op::add, 0, 0, 1, true},
          {op::add, ip(10, 0, 0, 0), 8, 2, true},
          {op::add, ip(10, 1, 2, 0), 24, 3, true},
          {op::add, ip(10, 1, 2, 3), 32, 4, true},
          {op::remove, ip(10, 1, 2, 0), 24, 0, true}},
         {{ip(10, 1, 2, 1), 2}, {ip(10, 1, 2, 3), 4}, {ip(10, 9, 9, 9), 2}, {ip(11, 0, 0, 0), 1}},
         3},
        {"remove_all_levels_back_to_default",
         {{op::add, 0, 0, 1, true},
          {op::add, ip(10, 0, 0, 0), 8, 2, true},
          {op::add, ip(10, 1, 2, 0), 24, 3, true},
          {op::add, ip(10, 1, 2, 3), 32, 4, true},
          {op::remove, ip(10, 1, 2, 3), 32, 0, true},
          {op::remove, ip(10, 0, 0, 0), 8, 0, true},
          {op::remove, ip(10, 1, 2, 0), 24, 0, true}},
         {{ip(10, 1, 2, 3), 1}, {ip(10, 1, 2, 4), 1}, {ip(10, 0, 0, 0), 1}},
         1},
        {"remove_default_leaves_specifics",
         {{op::add, 0, 0, 1, true}, {op::add, ip(10, 1, 2, 3), 32, 4, true}, {op::remove, 0, 0, 0, true}},
         {{ip(10, 1, 2, 3), 4}, {ip(10, 1, 2, 4), k_lpm_no_route}, {0, k_lpm_no_route}},
         1},
        {"replace_equal_prefix",
         {{op::add, ip(10, 0, 0, 0), 8, 2, true}, {op::add, ip(10, 1, 0, 0), 24, 3, true},
          {op::add, ip(10, 0, 0, 0), 8, 5, true}, {op::add, ip(10, 1, 0, 0), 24, 6, true}},
         {{ip(10, 2, 0, 0), 5}, {ip(10, 1, 0, 9), 6}},
         2},
        {"host_bits_in_prefix_are_ignored",
         {{op::add, ip(10, 1, 2, 3), 8, 2, true}, {op::remove, ip(10, 0, 0, 0), 8, 0, true},
          {op::add, ip(172, 16, 5, 5), 12, 3, true}},
         {{ip(10, 1, 2, 3), k_lpm_no_route}, {ip(172, 31, 255, 255), 3}, {ip(172, 32, 0, 0), k_lpm_no_route}},
         1},
        {"bad_input",
         {{op::add, ip(10, 0, 0, 0), 33, 1, false},
          {op::add, ip(10, 0, 0, 0), 8, k_lpm_max_next_hop + 1, false},
          {op::add, ip(10, 0, 0, 0), 8, k_lpm_max_next_hop, true},
          {op::remove, ip(10, 0, 0, 0), 9, 0, false},
          {op::remove, ip(10, 0, 0, 0), 40, 0, false},
          {op::remove, ip(11, 0, 0, 0), 8, 0, false}},
         {{ip(10, 0, 0, 1), k_lpm_max_next_hop}},
         1},
        {"remove_then_readd",
         {{op::add, ip(10, 1, 2, 0), 25, 1, true}, {op::remove, ip(10, 1, 2, 0), 25, 0, true},
          {op::remove, ip(10, 1, 2, 0), 25, 0, false}, {op::add, ip(10, 1, 2, 0), 26, 2, true}},
         {{ip(10, 1, 2, 1), 2}, {ip(10, 1, 2, 64), k_lpm_no_route}},
         1},
    };
    return c;
}

class lpm4_table : public ::testing::TestWithParam<lpm4_case> {};

TEST_P(lpm4_table, lookups_match) {
    const lpm4_case& c = GetParam();
    lpm4 t;
    for (const op& o : c.ops) {
        const bool ok = o.kind == op::add ? t.add(o.prefix, o.depth, o.next_hop) : t.remove(o.prefix, o.depth);
        EXPECT_EQ(ok, o.ok) << (o.kind == op::add ? "add " : "remove ") << std::hex << o.prefix << "/" << std::dec
                            << int(o.depth);
    }
    EXPECT_EQ(t.rule_count(), c.rules);
    std::vector<uint32_t> addrs, bulk(c.probes.size());
    for (const probe& p : c.probes) {
        EXPECT_EQ(t.lookup(p.addr), p.want) << std::hex << p.addr;
        addrs.push_back(p.addr);
    }
    t.lookup_bulk(addrs.data(), bulk.data(), uint32_t(addrs.size()));
    for (size_t i = 0; i < addrs.size(); ++i) EXPECT_EQ(bulk[i], c.probes[i].want) << std::hex << addrs[i];
}

INSTANTIATE_TEST_SUITE_P(cases, lpm4_table, ::testing::ValuesIn(cases()),
                         [](const auto& p) { return p.param.name; });

TEST(lpm4, removing_everything_frees_all_groups) {
    lpm4 t;
    t.add(ip(10, 1, 2, 3), 32, 1);
    t.add(ip(10, 1, 2, 0), 28, 2);
    t.add(ip(10, 1, 0, 0), 20, 3);
    EXPECT_EQ(t.groups_in_use(), 2u);
    t.remove(ip(10, 1, 2, 3), 32);
    EXPECT_EQ(t.groups_in_use(), 2u);  // the /28 still needs the /24-level group
    t.remove(ip(10, 1, 2, 0), 28);
    EXPECT_EQ(t.groups_in_use(), 1u);
    t.remove(ip(10, 1, 0, 0), 20);
    EXPECT_EQ(t.groups_in_use(), 0u);
    EXPECT_EQ(t.lookup(ip(10, 1, 2, 3)), k_lpm_no_route);
}

// --- randomized comparison against a naive reference --------------------------------

struct rule4 {
    uint32_t prefix;
    uint8_t depth;
    uint32_t next_hop;
};

uint32_t mask_of(uint8_t depth) { return depth == 0 ? 0 : ~uint32_t(0) << (32 - depth); }

// Linear scan over rules sorted longest first: the first hit is the longest match.
class reference4 {
public:
    void add(uint32_t p, uint8_t d, uint32_t nh) {
        p &= mask_of(d);
        for (rule4& r : rules_)
            if (r.prefix == p && r.depth == d) {
                r.next_hop = nh;
                return;
            }
        rules_.push_back({p, d, nh});
        sorted_ = false;
    }
    void remove(uint32_t p, uint8_t d) {
        std::erase_if(rules_, [&](const rule4& r) { return r.prefix == p && r.depth == d; });
    }
    uint32_t lookup(uint32_t a) {
        if (!sorted_) {
            std::stable_sort(rules_.begin(), rules_.end(), [](const rule4& x, const rule4& y) { return x.depth > y.depth; });
            sorted_ = true;
        }
        for (const rule4& r : rules_)
            if ((a & mask_of(r.depth)) == r.prefix) return r.next_hop;
        return k_lpm_no_route;
    }
    const std::vector<rule4>& rules() const { return rules_; }

private:
    std::vector<rule4> rules_;
    bool sorted_ = true;
};

// Prefix bytes drawn partly from a small alphabet so that routes nest and collide.
uint32_t random_prefix(std::mt19937_64& rng) {
    static constexpr uint8_t alphabet[] = {0x00, 0x0a, 0x80, 0xff};
    uint32_t v = 0;
    for (int b = 0; b < 4; ++b) v = v << 8 | (rng() % 2 ? alphabet[rng() % 4] : uint8_t(rng()));
    return v;
}

std::vector<uint32_t> random_addrs(std::mt19937_64& rng, const std::vector<rule4>& rules, size_t n) {
    std::vector<uint32_t> a(n);
    for (auto& x : a) {
        const uint64_t pick = rng() % 4;
        if (pick == 0 || rules.empty()) {
            x = uint32_t(rng());
        } else {  // inside a rule, maybe just outside its edge
            const rule4& r = rules[rng() % rules.size()];
            x = r.prefix | (uint32_t(rng()) & ~mask_of(r.depth));
            if (pick == 3 && r.depth > 0) x ^= uint32_t(1) << (32 - r.depth);
        }
    }
    return a;
}

void expect_same(const lpm4& t, reference4& ref, const std::vector<uint32_t>& addrs) {
    std::vector<uint32_t> bulk(addrs.size());
    t.lookup_bulk(addrs.data(), bulk.data(), uint32_t(addrs.size()));
    size_t bad = 0;
    for (size_t i = 0; i < addrs.size() && bad < 10; ++i) {
        const uint32_t want = ref.lookup(addrs[i]);
        const uint32_t got = t.lookup(addrs[i]);
        if (got != want || bulk[i] != want) {
            ++bad;
            ADD_FAILURE() << "addr " << std::hex << addrs[i] << " want " << want << " lookup " << got << " bulk "
                          << bulk[i];
        }
    }
}

TEST(lpm4, random_routes_match_reference) {
    std::mt19937_64 rng(0x5eed4);
    lpm4 t;
    reference4 ref;
    ASSERT_TRUE(t.add(0, 0, 4242));
    ref.add(0, 0, 4242);
    for (int i = 0; i < 10000; ++i) {
        const uint8_t d = uint8_t(rng() % 33);
        const uint32_t p = random_prefix(rng) & mask_of(d);
        const uint32_t nh = uint32_t(rng() % (k_lpm_max_next_hop + 1));
        ASSERT_TRUE(t.add(p, d, nh));
        ref.add(p, d, nh);
    }
    EXPECT_EQ(t.rule_count(), ref.rules().size());
    expect_same(t, ref, random_addrs(rng, ref.rules(), 100000));

    // Remove about a third (maybe the default too), re-add a few, compare again.
    std::vector<rule4> rules = ref.rules();
    std::shuffle(rules.begin(), rules.end(), rng);
    for (size_t i = 0; i < rules.size() / 3; ++i) {
        ASSERT_TRUE(t.remove(rules[i].prefix, rules[i].depth));
        ref.remove(rules[i].prefix, rules[i].depth);
    }
    for (size_t i = 0; i < rules.size() / 30; ++i) {
        ASSERT_TRUE(t.add(rules[i].prefix, rules[i].depth, rules[i].next_hop ^ 1));
        ref.add(rules[i].prefix, rules[i].depth, rules[i].next_hop ^ 1);
    }
    EXPECT_EQ(t.rule_count(), ref.rules().size());
    std::vector<uint32_t> addrs = random_addrs(rng, rules, 100000);  // also hits removed ones
    expect_same(t, ref, addrs);

    // Everything gone: no groups left, nothing matches.
    for (const rule4& r : std::vector<rule4>(ref.rules())) ASSERT_TRUE(t.remove(r.prefix, r.depth));
    EXPECT_EQ(t.rule_count(), 0u);
    EXPECT_EQ(t.groups_in_use(), 0u);
    for (size_t i = 0; i < 1000; ++i) EXPECT_EQ(t.lookup(addrs[i]), k_lpm_no_route);
}

TEST(lpm4, dir24_variant_matches_reference) {
    std::mt19937_64 rng(0x24);
    basic_lpm4<24> t;
    reference4 ref;
    for (int i = 0; i < 2000; ++i) {  // depth >= 8: shorter ones rewrite millions of tbl24 entries
        const uint8_t d = uint8_t(8 + rng() % 25);
        const uint32_t p = random_prefix(rng) & mask_of(d);
        ASSERT_TRUE(t.add(p, d, uint32_t(i)));
        ref.add(p, d, uint32_t(i));
    }
    std::vector<rule4> rules = ref.rules();
    for (size_t i = 0; i < rules.size(); i += 3) {
        t.remove(rules[i].prefix, rules[i].depth);
        ref.remove(rules[i].prefix, rules[i].depth);
    }
    std::vector<uint32_t> addrs = random_addrs(rng, rules, 20000);
    std::vector<uint32_t> bulk(addrs.size());
    t.lookup_bulk(addrs.data(), bulk.data(), uint32_t(addrs.size()));
    for (size_t i = 0; i < addrs.size(); ++i) {
        const uint32_t want = ref.lookup(addrs[i]);
        ASSERT_EQ(t.lookup(addrs[i]), want) << std::hex << addrs[i];
        ASSERT_EQ(bulk[i], want) << std::hex << addrs[i];
    }
}

}  // namespace
}  // namespace eg::dp
