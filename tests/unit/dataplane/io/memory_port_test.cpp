#include "dataplane/io/memory/memory_port.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace eg::dp {
namespace {

std::vector<uint8_t> frame(uint8_t fill, size_t len) { return std::vector<uint8_t>(len, fill); }

TEST(memory_port, push_rx_then_rx_burst_returns_copies_in_order) {
    buffer_pool pool({.count = 16, .buffer_size = 2048});
    memory_port port({.port_index = 3}, pool);
    auto a = frame(0x11, 60), b = frame(0x22, 1514);
    offload_info off{};
    off.needs_csum = 1;
    off.csum_start = 34;
    off.csum_offset = 6;
    ASSERT_TRUE(port.push_rx(a));
    ASSERT_TRUE(port.push_rx(b, off));
    a[0] = 0;  // the port holds copies
    EXPECT_EQ(port.rx_pending(), 2u);

    packet* pkts[4];
    ASSERT_EQ(port.rx_burst(pkts, 1), 1);
    EXPECT_EQ(pkts[0]->len, 60u);
    EXPECT_EQ(pkts[0]->data[0], 0x11);
    EXPECT_EQ(pkts[0]->in_port, 3);
    EXPECT_EQ(pkts[0]->offload.needs_csum, 0);
    ASSERT_EQ(port.rx_burst(pkts + 1, 4), 1);
    EXPECT_EQ(pkts[1]->len, 1514u);
    EXPECT_EQ(pkts[1]->offload.needs_csum, 1);
    EXPECT_EQ(pkts[1]->offload.csum_start, 34);
    EXPECT_EQ(port.rx_burst(pkts + 2, 4), 0);
    EXPECT_EQ(port.rx_count(), 2u);
    EXPECT_EQ(port.stats().rx_bytes.get(), 60u + 1514u);
    port.release(pkts, 2);
    EXPECT_EQ(pool.available(), 16u);
}

TEST(memory_port, push_rx_refuses_oversize_and_empty_pool) {
    buffer_pool pool({.count = 2, .buffer_size = 512});
    memory_port port({}, pool);
    EXPECT_FALSE(port.push_rx(frame(1, pool.data_room() + 1)));
    EXPECT_TRUE(port.push_rx(frame(1, pool.data_room())));
    EXPECT_TRUE(port.push_rx(frame(2, 64)));
    EXPECT_FALSE(port.push_rx(frame(3, 64)));  // pool empty
}

TEST(memory_port, tx_captures_frames_with_offload_and_releases) {
    buffer_pool pool({.count = 8, .buffer_size = 2048});
    memory_port in({.port_index = 0}, pool), out({.port_index = 1}, pool);
    ASSERT_TRUE(in.push_rx(frame(0x33, 100)));
    ASSERT_TRUE(in.push_rx(frame(0x44, 200)));
    packet* pkts[2];
    ASSERT_EQ(in.rx_burst(pkts, 2), 2);
    pkts[1]->data[0] = 0x99;  // edited in place by a stage
    pkts[1]->offload.gso_type = offload_info::gso_tcpv4;
    pkts[1]->offload.gso_size = 1448;
    EXPECT_EQ(out.tx_burst(pkts, 2), 2);  // received on one port, sent (and freed) by another
    EXPECT_EQ(pool.available(), 8u);
    EXPECT_EQ(out.tx_count(), 2u);
    auto frames = out.take_tx_frames();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].bytes, frame(0x33, 100));
    EXPECT_EQ(frames[1].bytes.size(), 200u);
    EXPECT_EQ(frames[1].bytes[0], 0x99);
    EXPECT_EQ(frames[1].offload.gso_type, offload_info::gso_tcpv4);
    EXPECT_EQ(frames[1].offload.gso_size, 1448);
    EXPECT_TRUE(out.take_tx().empty());
}

TEST(memory_port, tx_takes_only_its_pools_packets) {
    buffer_pool pool({.count = 4, .buffer_size = 512}), other({.count = 4, .buffer_size = 512});
    memory_port port({.tx_sink = true}, pool);
    packet* pkts[3] = {pool.alloc(), other.alloc(), pool.alloc()};
    EXPECT_EQ(port.tx_burst(pkts, 3), 1);  // stops at the foreign one; the caller keeps the rest
    other.free(pkts[1]);
    pool.free(pkts[2]);
    EXPECT_EQ(pool.available(), 4u);
}

TEST(memory_port, sink_mode_counts_only) {
    buffer_pool pool({.count = 8, .buffer_size = 2048});
    memory_port port({.tx_sink = true}, pool);
    packet* p = port.alloc(100);
    ASSERT_NE(p, nullptr);
    p->len = 100;
    EXPECT_EQ(port.alloc(pool.data_room() + 1), nullptr);
    EXPECT_EQ(port.tx_burst(&p, 1), 1);
    EXPECT_EQ(port.tx_count(), 1u);
    EXPECT_EQ(port.stats().tx_bytes.get(), 100u);
    EXPECT_TRUE(port.take_tx().empty());
    EXPECT_EQ(pool.available(), 8u);
}

TEST(memory_port, replay_cycles_templates_without_end) {
    buffer_pool pool({.count = 64, .buffer_size = 2048});
    memory_port port({.port_index = 2, .tx_sink = true}, pool);
    offload_info off{};
    off.needs_csum = 1;
    port.set_replay({frame(1, 64), frame(2, 128), frame(3, 1500)}, {offload_info{}, off});
    packet* pkts[k_max_burst];
    uint64_t total = 0;
    for (int round = 0; round < 100; ++round) {
        uint16_t n = port.rx_burst(pkts, 32);
        ASSERT_EQ(n, 32);
        for (uint16_t i = 0; i < n; ++i) {
            const uint64_t k = (total + i) % 3;
            ASSERT_EQ(pkts[i]->data[0], k + 1);
            ASSERT_EQ(pkts[i]->len, k == 0 ? 64u : k == 1 ? 128u : 1500u);
            ASSERT_EQ(pkts[i]->offload.needs_csum, k == 1 ? 1 : 0);
            ASSERT_EQ(pkts[i]->in_port, 2);
            pkts[i]->data[0] = 0xee;  // rewriting in place must not touch the template
        }
        total += n;
        port.tx_burst(pkts, n);
    }
    EXPECT_EQ(port.rx_count(), 3200u);
    EXPECT_EQ(port.tx_count(), 3200u);
    // Bounded by the pool: with buffers held elsewhere, a burst returns fewer.
    packet* held[60];
    ASSERT_EQ(pool.alloc_bulk(held, 60), 60u);
    EXPECT_EQ(port.rx_burst(pkts, 32), 4);
    port.release(pkts, 4);
    pool.free(held, 60);
    port.set_replay({});
    EXPECT_EQ(port.rx_burst(pkts, 32), 0);
}

TEST(memory_port, replay_copies_every_byte_of_templates_of_any_length) {
    // rx_burst copies in whole 64-byte blocks: lengths off a block boundary, and a
    // template filling the whole data room, must still arrive byte for byte.
    buffer_pool pool({.count = 16, .buffer_size = 2048});
    memory_port port({.port_index = 0, .tx_sink = true}, pool);
    std::vector<std::vector<uint8_t>> templates;
    for (const size_t len : {size_t{60}, size_t{65}, size_t{127}, size_t{1500}, size_t{pool.data_room()}}) {
        std::vector<uint8_t> t(len);
        for (size_t i = 0; i < len; ++i)
            t[i] = static_cast<uint8_t>(i * 7 + len);
        templates.push_back(std::move(t));
    }
    port.set_replay(templates);
    packet* pkts[k_max_burst];
    for (int round = 0; round < 3; ++round) {
        ASSERT_EQ(port.rx_burst(pkts, static_cast<uint16_t>(templates.size())), templates.size());
        for (size_t k = 0; k < templates.size(); ++k) {
            ASSERT_EQ(pkts[k]->len, templates[k].size());
            ASSERT_EQ(std::vector<uint8_t>(pkts[k]->data, pkts[k]->data + pkts[k]->len), templates[k]) << k;
            std::memset(pkts[k]->data, 0xee, pkts[k]->len);  // the next round's copy must not show it
        }
        port.tx_burst(pkts, static_cast<uint16_t>(templates.size()));
    }
}

}  // namespace
}  // namespace eg::dp
