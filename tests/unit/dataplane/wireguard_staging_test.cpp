// The staging queue for packets that wait for a WireGuard handshake
// (dataplane/wireguard_staging.hpp): per-peer order and limits, the shared arena,
// expiry, and a flush that may stage again.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "dataplane/wireguard_staging.hpp"

namespace eg::dp {
namespace {

using bytes = std::vector<uint8_t>;

bytes numbered(uint32_t n, size_t len = 40) {
    bytes b(len, 0);
    b[0] = static_cast<uint8_t>(n);
    b[1] = static_cast<uint8_t>(n >> 8);
    return b;
}
uint32_t number_of(std::span<const uint8_t> b) { return b[0] | uint32_t{b[1]} << 8; }

/// Everything a flush sends, as (slot, number), and the expiries it reports.
struct flushed {
    std::vector<std::pair<uint32_t, uint32_t>> sent;
    std::vector<std::pair<uint32_t, uint32_t>> expired;
};
flushed flush(wg_staging& st, uint64_t now) {
    flushed f;
    st.flush(
        now, [&](uint32_t slot, std::span<const uint8_t> p) { f.sent.emplace_back(slot, number_of(p)); },
        [&](uint32_t slot, uint32_t n) { f.expired.emplace_back(slot, n); });
    return f;
}

TEST(WgStaging, ReadyPeersLeaveInArrivalOrderOthersKeepWaiting) {
    wg_staging st(8, 64, 128);
    for (uint32_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(st.stage(2, numbered(i), 0).staged);
        EXPECT_TRUE(st.stage(5, numbered(100 + i), 0).staged);
    }
    EXPECT_FALSE(st.any_ready());
    st.mark_ready(2);
    st.mark_ready(2);  // twice: still sent once
    const flushed f = flush(st, 1);
    EXPECT_EQ(f.sent, (std::vector<std::pair<uint32_t, uint32_t>>{{2, 0}, {2, 1}, {2, 2}}));
    EXPECT_EQ(st.staged(2), 0u);
    EXPECT_EQ(st.staged(5), 3u) << "a peer whose keypair is not ready keeps its packets";
    EXPECT_EQ(st.free_entries(), 61u);
    EXPECT_FALSE(st.any_ready());
}

TEST(WgStaging, APeerHoldsAtMostItsShareTheOldestGoesFirst) {
    wg_staging st(4, 1024, 64);
    for (uint32_t i = 0; i < wg_staging::k_per_peer; ++i) {
        const auto r = st.stage(1, numbered(i), 0);
        EXPECT_TRUE(r.staged);
        EXPECT_EQ(r.evicted, 0u);
    }
    const auto r = st.stage(1, numbered(999), 0);
    EXPECT_TRUE(r.staged);
    EXPECT_EQ(r.evicted, 1u);
    EXPECT_EQ(st.staged(1), wg_staging::k_per_peer);
    st.mark_ready(1);
    const flushed f = flush(st, 0);
    ASSERT_EQ(f.sent.size(), wg_staging::k_per_peer);
    EXPECT_EQ(f.sent.front().second, 1u) << "packet 0 made room";
    EXPECT_EQ(f.sent.back().second, 999u);
}

TEST(WgStaging, AFullArenaTakesFromTheSamePeerNeverFromAnother) {
    wg_staging st(4, 3, 64);
    EXPECT_TRUE(st.stage(0, numbered(1), 0).staged);
    EXPECT_TRUE(st.stage(0, numbered(2), 0).staged);
    EXPECT_TRUE(st.stage(1, numbered(3), 0).staged);
    EXPECT_EQ(st.free_entries(), 0u);
    const auto refused = st.stage(2, numbered(4), 0);
    EXPECT_FALSE(refused.staged) << "peer 2 holds nothing it could give up";
    EXPECT_EQ(refused.evicted, 0u);
    const auto own = st.stage(1, numbered(5), 0);
    EXPECT_TRUE(own.staged);
    EXPECT_EQ(own.evicted, 1u) << "peer 1 gives up its own oldest";
    EXPECT_EQ(st.staged(0), 2u);
    st.mark_ready(1);
    EXPECT_EQ(flush(st, 0).sent, (std::vector<std::pair<uint32_t, uint32_t>>{{1, 5}}));
}

TEST(WgStaging, TooBigOrUnknownSlotIsRefused) {
    wg_staging st(2, 4, 64);
    EXPECT_FALSE(st.stage(0, bytes(65, 0), 0).staged);
    EXPECT_TRUE(st.stage(0, bytes(64, 0), 0).staged);
    EXPECT_FALSE(st.stage(2, bytes(10, 0), 0).staged);
    EXPECT_EQ(st.staged(2), 0u);
}

TEST(WgStaging, PacketsOlderThanTheHandshakeAttemptTimeAreDropped) {
    wg_staging st(2, 8, 64);
    const uint64_t t0 = 1'000'000'000;
    st.stage(0, numbered(1), t0);
    st.stage(0, numbered(2), t0 + 10);
    // Staging a new packet clears what has waited too long.
    const auto r = st.stage(0, numbered(3), t0 + wg_staging::k_max_age_ns);
    EXPECT_EQ(r.expired, 1u);
    EXPECT_EQ(st.staged(0), 2u);
    // So does the flush, before sending.
    st.mark_ready(0);
    const flushed f = flush(st, t0 + 10 + wg_staging::k_max_age_ns);
    EXPECT_EQ(f.expired, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}}));
    EXPECT_EQ(f.sent, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 3}}));
    EXPECT_EQ(st.free_entries(), 8u);
}

TEST(WgStaging, ASendThatStagesAgainStartsANewQueue) {
    // The keypair went away between the mark and the flush: send() stages again.
    wg_staging st(2, 4, 64);
    st.stage(0, numbered(1), 0);
    st.stage(0, numbered(2), 0);
    st.mark_ready(0);
    std::vector<uint32_t> tried;
    st.flush(
        0,
        [&](uint32_t slot, std::span<const uint8_t> p) {
            tried.push_back(number_of(p));
            EXPECT_TRUE(st.stage(slot, p, 0).staged);
        },
        [](uint32_t, uint32_t) {});
    EXPECT_EQ(tried, (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(st.staged(0), 2u);
    EXPECT_FALSE(st.any_ready()) << "not sent again until a keypair marks it";
    st.mark_ready(0);
    const flushed f = flush(st, 0);
    EXPECT_EQ(f.sent, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}, {0, 2}}));
    EXPECT_EQ(st.free_entries(), 4u);
}

TEST(WgStaging, DiscardFreesEverythingAndAStaleMarkIsHarmless) {
    wg_staging st(2, 4, 64);
    st.stage(1, numbered(1), 0);
    st.stage(1, numbered(2), 0);
    st.mark_ready(1);
    EXPECT_EQ(st.discard(1), 2u);
    EXPECT_EQ(st.free_entries(), 4u);
    EXPECT_TRUE(flush(st, 0).sent.empty());
    EXPECT_EQ(st.discard(1), 0u);
}

}  // namespace
}  // namespace eg::dp
