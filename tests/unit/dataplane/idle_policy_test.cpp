// The worker's poll / nap / sleep decision (dataplane/idle_policy.hpp), driven with a
// synthetic clock.
#include "dataplane/idle_policy.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace eg::dp {
namespace {

constexpr uint64_t us = 1000;
constexpr uint64_t t0 = 5'000'000'000;  // any start: only differences matter

/// Feeds `polls` polls `gap_ns` apart starting at `now`, `packets` frames of
/// `frame_bytes` on every `every`-th (the others empty); returns the time after the
/// last and the last poll's action.
idle_action feed(idle_policy& p, uint64_t& now, uint32_t polls, uint64_t gap_ns, uint32_t every, uint32_t packets,
                 uint32_t frame_bytes = 64) {
    idle_action last = idle_action::poll;
    for (uint32_t i = 0; i < polls; ++i) {
        const uint32_t n = i % every == 0 ? packets : 0;
        last = p.after_poll(now, n, uint64_t{n} * frame_bytes, false);
        now += gap_ns;
    }
    return last;
}

TEST(IdlePolicy, SpinsUntilIdlePollThenSleeps) {
    idle_policy p({.idle_poll_us = 200, .idle_nap_us = 0, .idle_nap_min_pps = 0}, t0);
    EXPECT_EQ(p.after_poll(t0 + 10 * us, 1, 64, false), idle_action::poll);   // work
    EXPECT_EQ(p.after_poll(t0 + 20 * us, 0, 0, false), idle_action::poll);   // 10 µs idle: spin
    EXPECT_EQ(p.after_poll(t0 + 209 * us, 0, 0, false), idle_action::poll);  // 199 µs idle
    EXPECT_EQ(p.after_poll(t0 + 210 * us, 0, 0, false), idle_action::sleep); // 200 µs idle
    p.woke(t0 + 300 * us);
    EXPECT_EQ(p.after_poll(t0 + 301 * us, 0, 0, false), idle_action::poll);  // the clock restarted
}

TEST(IdlePolicy, OtherWorkCountsAsWork) {
    idle_policy p({.idle_poll_us = 100, .idle_nap_us = 50, .idle_nap_min_pps = 0}, t0);
    EXPECT_EQ(p.after_poll(t0 + 99 * us, 0, 0, true), idle_action::poll);
    EXPECT_EQ(p.after_poll(t0 + 150 * us, 0, 0, false), idle_action::nap);  // 51 µs since the work
}

TEST(IdlePolicy, WithoutARateGateEveryEmptyPollNaps) {
    idle_policy p({.idle_poll_us = 200, .idle_nap_us = 30, .idle_nap_min_pps = 0}, t0);
    EXPECT_TRUE(p.fast());
    EXPECT_EQ(p.after_poll(t0 + 1 * us, 0, 0, false), idle_action::nap);
    EXPECT_EQ(p.after_poll(t0 + 2 * us, 3, 192, false), idle_action::poll);
    EXPECT_EQ(p.after_poll(t0 + 3 * us, 0, 0, false), idle_action::nap);
    EXPECT_EQ(p.after_poll(t0 + 250 * us, 0, 0, false), idle_action::sleep);  // idle_poll_us still ends it
}

TEST(IdlePolicy, NapsOnlyWhileTheReceiveRateIsHigh) {
    // Gate at 100 kpps.
    idle_policy p({.idle_poll_us = 1000, .idle_nap_us = 100, .idle_nap_min_pps = 100'000}, t0);
    EXPECT_FALSE(p.fast());
    uint64_t now = t0;
    // 50 kpps (one packet per 20 µs, polls every 5 µs) for 2 ms: spin, never nap.
    for (uint32_t i = 0; i < 400; ++i) {
        const uint32_t n = i % 4 == 0 ? 1 : 0;
        EXPECT_NE(p.after_poll(now, n, 64 * n, false), idle_action::nap) << i;
        now += 5 * us;
    }
    EXPECT_FALSE(p.fast());
    // 400 kpps (8 packets per 20 µs): after the window that saw it, empty polls nap.
    feed(p, now, 400, 5 * us, 4, 8);
    EXPECT_TRUE(p.fast());
    EXPECT_EQ(p.after_poll(now, 0, 0, false), idle_action::nap);
    // Traffic stops: past idle_poll_us the worker sleeps, and the window that closes
    // then reports the low rate.
    EXPECT_EQ(p.after_poll(now + 1100 * us, 0, 0, false), idle_action::sleep);
    EXPECT_FALSE(p.fast());
}

TEST(IdlePolicy, ExactlyTheGateRateCountsAsFast) {
    idle_policy p({.idle_poll_us = 5000, .idle_nap_us = 10, .idle_nap_min_pps = 100'000}, t0);
    for (uint64_t i = 0; i < 100; ++i) {  // 100 packets in the first millisecond
        p.after_poll(t0 + i * 10 * us, 1, 64, false);
    }
    EXPECT_EQ(p.after_poll(t0 + 1000 * us, 0, 0, false), idle_action::nap);
}

TEST(IdlePolicy, ALoadDropWithinTheIdleTimeStopsTheNaps) {
    idle_policy p({.idle_poll_us = 10'000, .idle_nap_us = 50, .idle_nap_min_pps = 100'000}, t0);
    uint64_t now = t0;
    feed(p, now, 300, 5 * us, 1, 1);  // 200 kpps for 1.5 ms: one whole window
    EXPECT_TRUE(p.fast());
    // Then 10 kpps: the naps stop once a window has passed that holds only the low
    // rate (the window open when the load dropped still counts the high rate).
    for (uint32_t i = 0; i < 600; ++i) {
        const uint32_t n = i % 20 == 0 ? 1 : 0;
        p.after_poll(now, n, 64 * n, false);
        now += 5 * us;
    }
    EXPECT_FALSE(p.fast());
    EXPECT_EQ(p.after_poll(now, 0, 0, false), idle_action::poll);
}

TEST(IdlePolicy, ABulkStreamOfLargeFramesNapsOnItsByteRate) {
    // The lab's gates: 100 kpps or 1000 Mbit/s.
    const idle_policy_options o{.idle_poll_us = 1000, .idle_nap_us = 100, .idle_nap_min_pps = 100'000,
                                .idle_nap_min_mbps = 1000};
    {
        // One TCP stream: 25 kpps of 64 KB super-packets (13 Gbit/s): nap.
        idle_policy p(o, t0);
        uint64_t now = t0;
        feed(p, now, 400, 10 * us, 4, 1, 65'000);
        EXPECT_TRUE(p.fast());
        EXPECT_EQ(p.after_poll(now, 0, 0, false), idle_action::nap);
    }
    {
        // Connection set-up: 25 kpps of 66-byte segments (13 Mbit/s): spin.
        idle_policy p(o, t0);
        uint64_t now = t0;
        feed(p, now, 400, 10 * us, 4, 1, 66);
        EXPECT_FALSE(p.fast());
        EXPECT_EQ(p.after_poll(now, 0, 0, false), idle_action::poll);
    }
    {
        // Exactly 1000 Mbit/s over the first millisecond (125 000 bytes) counts.
        idle_policy_options longer = o;
        longer.idle_poll_us = 5000;
        idle_policy p(longer, t0);
        p.after_poll(t0, 1, 125'000, false);
        EXPECT_EQ(p.after_poll(t0 + 1000 * us, 0, 0, false), idle_action::nap);
    }
}

TEST(IdlePolicy, AByteGateAloneLeavesSmallPacketsSpinning) {
    // idle_nap_min_pps 0 with a byte gate: 0 turns the packet gate off, it does not
    // mean "always nap" as it does when both are 0.
    idle_policy p({.idle_poll_us = 1000, .idle_nap_us = 100, .idle_nap_min_pps = 0, .idle_nap_min_mbps = 1000}, t0);
    EXPECT_FALSE(p.fast());
    uint64_t now = t0;
    feed(p, now, 400, 5 * us, 1, 4);  // 800 kpps of 64-byte frames: 410 Mbit/s
    EXPECT_FALSE(p.fast());
    EXPECT_EQ(p.after_poll(now, 0, 0, false), idle_action::poll);
}

}  // namespace
}  // namespace eg::dp
