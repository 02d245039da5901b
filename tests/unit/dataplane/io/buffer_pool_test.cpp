#include "dataplane/io/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

namespace eg::dp {
namespace {

TEST(buffer_pool, geometry_and_alignment) {
    buffer_pool pool({.count = 8, .buffer_size = 2000, .headroom = 100});
    EXPECT_EQ(pool.capacity(), 8u);
    EXPECT_EQ(pool.available(), 8u);
    EXPECT_EQ(pool.headroom(), 128u);      // raised to the minimum
    EXPECT_EQ(pool.buffer_size(), 2048u);  // rounded up to 64
    EXPECT_EQ(pool.data_room(), 2048u - 128u);
    std::set<uint8_t*> bufs;
    for (uint32_t i = 0; i < 8; ++i) {
        packet* p = pool.alloc();
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p->buf) % 64, 0u);
        EXPECT_EQ(p->headroom(), 128u);
        EXPECT_EQ(p->tailroom(), pool.data_room());
        EXPECT_TRUE(pool.owns(p));
        bufs.insert(p->buf);
        p->data[0] = 0xaa;  // writable
        p->data[pool.data_room() - 1] = 0x55;
    }
    EXPECT_EQ(bufs.size(), 8u);
}

TEST(buffer_pool, exhaustion_returns_nullptr_and_free_makes_room) {
    buffer_pool pool({.count = 4, .buffer_size = 512});
    std::vector<packet*> got;
    for (int i = 0; i < 4; ++i)
        got.push_back(pool.alloc());
    EXPECT_EQ(pool.alloc(), nullptr);
    EXPECT_EQ(pool.available(), 0u);
    pool.free(got.back());
    got.pop_back();
    packet* again = pool.alloc();
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(pool.alloc(), nullptr);
    got.push_back(again);
    pool.free(got.data(), static_cast<uint32_t>(got.size()));
    EXPECT_EQ(pool.available(), 4u);
}

TEST(buffer_pool, alloc_resets_descriptor) {
    buffer_pool pool({.count = 1, .buffer_size = 512});
    packet* p = pool.alloc();
    ASSERT_NE(p, nullptr);
    uint8_t* buf = p->buf;
    p->data += 20;
    p->len = 99;
    p->verdict = 3;
    p->in_port = 7;
    p->l3_offset = 14;
    p->drop_reason = 5;
    p->offload.needs_csum = 1;
    p->offload.gso_type = offload_info::gso_tcpv4;
    p->offload.gso_size = 1448;
    pool.free(p);
    packet* q = pool.alloc();
    ASSERT_EQ(q, p);  // LIFO reuse: the warm buffer comes back first
    EXPECT_EQ(q->buf, buf);
    EXPECT_EQ(q->data, buf + pool.headroom());
    EXPECT_EQ(q->len, 0u);
    EXPECT_EQ(q->verdict, k_verdict_none);
    EXPECT_EQ(q->in_port, 0u);
    EXPECT_EQ(q->l3_offset, 0u);
    EXPECT_EQ(q->drop_reason, 0u);
    EXPECT_EQ(q->offload.needs_csum, 0u);
    EXPECT_EQ(q->offload.gso_type, 0u);
    EXPECT_EQ(q->offload.gso_size, 0u);
    EXPECT_EQ(q->backend_ref, &pool);
}

TEST(buffer_pool, alloc_bulk_is_bounded_by_what_is_free) {
    buffer_pool pool({.count = 5, .buffer_size = 512});
    packet* out[8];
    EXPECT_EQ(pool.alloc_bulk(out, 3), 3u);
    EXPECT_EQ(pool.alloc_bulk(out + 3, 8), 2u);
    EXPECT_EQ(pool.alloc_bulk(out, 1), 0u);
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(out[i]->len, 0u);
    pool.free(out, 5);
    EXPECT_EQ(pool.available(), 5u);
}

TEST(buffer_pool, rejects_impossible_sizes) {
    EXPECT_THROW(buffer_pool({.count = 0}), std::invalid_argument);
    EXPECT_THROW(buffer_pool({.count = 4, .buffer_size = 128}), std::invalid_argument);
}

}  // namespace
}  // namespace eg::dp
