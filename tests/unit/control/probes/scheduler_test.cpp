// Probe scheduling (control/probes/scheduler.hpp) on a simulated clock: first probes
// spread over one interval, jittered intervals within bounds, one probe per port in
// flight, the global rate limit, most overdue first, removal.
#include "control/probes/scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <set>

namespace eg::ctl::probes {
namespace {

TEST(Scheduler, FirstProbesSpreadOverOneInterval) {
    scheduler s({1000, 10, 100000}, 42);  // a limit far above the load
    for (uint16_t p = 1; p <= 200; ++p) s.add(p, 5000);
    std::set<uint16_t> started;
    for (uint64_t t = 5000; t < 6000; ++t) {
        for (uint16_t p : s.take_due(t)) EXPECT_TRUE(started.insert(p).second);
    }
    EXPECT_EQ(started.size(), 200u);  // all due within [now, now + interval)
    EXPECT_TRUE(s.take_due(5999).empty());
}

TEST(Scheduler, JitteredIntervalStaysInBounds) {
    scheduler s({1000, 20, 10}, 7);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 5000; ++i) {
        const uint64_t v = s.draw_interval();
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    EXPECT_GE(lo, 800u);
    EXPECT_LE(hi, 1200u);
    EXPECT_LT(lo, 850u);  // the draw really varies (5000 draws over 401 values)
    EXPECT_GT(hi, 1150u);
    scheduler none({1000, 0, 10}, 7);
    EXPECT_EQ(none.draw_interval(), 1000u);
}

TEST(Scheduler, OneInFlightPerPortAndNextAfterDone) {
    scheduler s({1000, 0, 1000}, 1);
    s.add(10001, 0);
    std::vector<uint16_t> got;
    uint64_t t = 0;
    for (; got.empty(); ++t) got = s.take_due(t);
    ASSERT_EQ(got, std::vector<uint16_t>{10001});
    EXPECT_EQ(s.in_flight(), 1u);
    EXPECT_TRUE(s.take_due(t + 5000).empty());  // still in flight: not started again
    EXPECT_EQ(s.next_wakeup(t + 5000), std::numeric_limits<uint64_t>::max());
    EXPECT_TRUE(s.on_done(10001, 20000));
    EXPECT_FALSE(s.on_done(10001, 20000));  // not in flight any more
    EXPECT_TRUE(s.take_due(20999).empty());
    EXPECT_EQ(s.next_wakeup(20100), 21000u);
    EXPECT_EQ(s.take_due(21000), std::vector<uint16_t>{10001});
}

TEST(Scheduler, RateLimitSpacesStarts) {
    // 100 ports all due, at most 10 per second: starts are 100 ms apart.
    scheduler s({1000, 0, 10}, 3);
    for (uint16_t p = 1; p <= 100; ++p) s.add(p, 0);
    std::vector<uint64_t> starts;
    for (uint64_t t = 1000; t < 6000; ++t) {
        for (uint16_t p : s.take_due(t)) {
            starts.push_back(t);
            s.on_done(p, t);  // done at once: the limit alone holds them back
        }
    }
    ASSERT_GE(starts.size(), 40u);
    for (size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 100u) << i;
    // Over any second, never more than max_per_second starts.
    for (size_t i = 0; i + 10 < starts.size(); ++i) EXPECT_GE(starts[i + 10] - starts[i], 1000u);
}

TEST(Scheduler, HeldBackProbesGoMostOverdueFirst) {
    // Due times: port 3 in [0, 1000), port 1 in [5000, 6000), port 2 in [8000, 9000).
    scheduler s({1000, 0, 1}, 9);
    s.add(3, 0);
    s.add(1, 5000);
    s.add(2, 8000);
    // First look at t=20000: all overdue, one start per second, oldest first.
    std::vector<uint16_t> order;
    for (uint64_t t = 20000; t < 23000; t += 10) {
        for (uint16_t p : s.take_due(t)) order.push_back(p);
    }
    EXPECT_EQ(order, (std::vector<uint16_t>{3, 1, 2}));
}

TEST(Scheduler, RemovedPortIsForgotten) {
    scheduler s({100, 0, 1000}, 5);
    s.add(7, 0);
    s.add(8, 0);
    s.remove(7);
    EXPECT_FALSE(s.contains(7));
    std::set<uint16_t> seen;
    for (uint64_t t = 0; t < 1000; ++t) {
        for (uint16_t p : s.take_due(t)) seen.insert(p), s.on_done(p, t);
    }
    EXPECT_EQ(seen, std::set<uint16_t>{8});
    EXPECT_FALSE(s.on_done(7, 5));
    scheduler empty({100, 0, 10}, 5);
    EXPECT_EQ(empty.next_wakeup(0), std::numeric_limits<uint64_t>::max());
}

}  // namespace
}  // namespace eg::ctl::probes
