// Rise/fall health (control/probes/health.hpp): table-driven sequences of probe
// outcomes and the states and transitions they give.
#include "control/probes/health.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace eg::ctl::probes {
namespace {

struct seq_case {
    const char* name;
    uint32_t rise, fall;
    const char* results;  ///< '+' ok, '-' failed
    const char* states;   ///< state after each: 'u' unknown, 'H' healthy, 'D' unhealthy (down)
    const char* changes;  ///< '*' where a transition is reported
};

const seq_case k_cases[] = {
    {"starts unknown, rises after 2", 2, 3, "++", "uH", ".*"},
    {"falls after 3 from unknown", 2, 3, "---", "uuD", "..*"},
    {"one failure between successes does not fall", 2, 3, "++-+--+", "uHHHHHH", ".*....."},
    {"falls after 3 consecutive", 2, 3, "++---", "uHHHD", ".*..*"},
    {"rises again after 2 consecutive", 2, 3, "---+-++", "uuDDDDH", "..*...*"},
    {"interrupted rise starts over", 2, 3, "---+-+", "uuDDDD", "..*..."},
    {"rise 1 fall 1 follows every result", 1, 1, "+-+-", "HDHD", "****"},
    {"HAProxy-like rise 3", 3, 2, "++-+++--", "uuuuuHHD", ".....*.*"},
    {"stays healthy without report", 2, 3, "++++", "uHHH", ".*.."},
};

class HealthSequence : public testing::TestWithParam<seq_case> {};

TEST_P(HealthSequence, StatesAndTransitions) {
    const seq_case& c = GetParam();
    health_tracker t(c.rise, c.fall);
    EXPECT_EQ(t.state(), health::unknown);
    const std::string results = c.results;
    for (size_t i = 0; i < results.size(); ++i) {
        const auto before = t.state();
        const auto tr = t.on_result(results[i] == '+');
        const char want = c.states[i];
        const health want_state = want == 'H' ? health::healthy : want == 'D' ? health::unhealthy : health::unknown;
        EXPECT_EQ(t.state(), want_state) << "after result " << i;
        EXPECT_EQ(tr.has_value(), c.changes[i] == '*') << "after result " << i;
        if (tr) {
            EXPECT_EQ(tr->from, before);
            EXPECT_EQ(tr->to, want_state);
        }
    }
}

TEST(Health, CountsConsecutive) {
    health_tracker t(2, 3);
    t.on_result(true);
    t.on_result(true);
    t.on_result(true);
    EXPECT_EQ(t.consecutive_ok(), 3u);
    EXPECT_EQ(t.consecutive_fail(), 0u);
    t.on_result(false);
    EXPECT_EQ(t.consecutive_ok(), 0u);
    EXPECT_EQ(t.consecutive_fail(), 1u);
    EXPECT_EQ(to_string(health::unhealthy), "unhealthy");
}

TEST(Health, ZeroThresholdsAreOne) {
    health_tracker t(0, 0);
    EXPECT_TRUE(t.on_result(true));
    EXPECT_EQ(t.state(), health::healthy);
}

INSTANTIATE_TEST_SUITE_P(Table, HealthSequence, testing::ValuesIn(k_cases),
                         [](const testing::TestParamInfo<seq_case>& info_) {
                             std::string s;
                             for (const char* p = info_.param.name; *p; ++p) s.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : 0x5f);
                             return s;
                         });

}  // namespace
}  // namespace eg::ctl::probes
