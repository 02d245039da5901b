// IPv4 fragmentation: the fragments' headers, offsets and flags (RFC 791 §3.2), that
// they reassemble to the original, and the whole path through a worker.
#include "dataplane/ipv4_fragment.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "config/config.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/memory/memory_port.hpp"
#include "dataplane/worker.hpp"
#include "tests/unit/test_frames.hpp"

namespace {

using namespace eg::test;
using eg::dp::packet;

const mac_t k_gw = mac("02:00:00:00:00:02"), k_next = mac("02:00:00:00:00:99");
const ip4_t k_src = ip4("192.168.100.11"), k_dst = ip4("198.51.100.7");

/// 4 KiB buffers and a memory port to fragment into; load() puts a frame in a buffer.
struct fragment_io {
    static eg::dp::buffer_pool_options options(uint32_t count) {
        eg::dp::buffer_pool_options bo;
        bo.count = count;
        bo.buffer_size = 4096;
        return bo;
    }
    eg::dp::buffer_pool pool;
    eg::dp::memory_port port;
    explicit fragment_io(uint32_t count) : pool(options(count)), port(eg::dp::memory_port_options{}, pool) {}
    packet* load(const bytes& frame) {
        packet* p = pool.alloc();
        std::memcpy(p->data, frame.data(), frame.size());
        p->len = static_cast<uint32_t>(frame.size());
        p->l3_offset = 14;
        return p;
    }
};

struct fragment_case {
    const char* name;
    size_t udp_data;
    uint32_t mtu;
    size_t expect_fragments;
};

class Ipv4Fragment : public ::testing::TestWithParam<fragment_case> {};

TEST_P(Ipv4Fragment, FragmentsReassembleToTheOriginal) {
    const auto& c = GetParam();
    fragment_io io(256);
    eg::dp::buffer_pool& pool = io.pool;
    eg::dp::memory_port& port = io.port;

    const bytes l4 = udp(k_src, k_dst, 4000, 53, payload(c.udp_data));
    ip4_opts o;
    o.id = 0xbeef;
    const bytes ip = ipv4(k_src, k_dst, 17, l4, o);
    const bytes frame = eth(k_next, k_gw, 0x0800, ip);
    packet* p = io.load(frame);

    packet* frags[64];
    eg::dp::drop_reason why{};
    const uint32_t n = eg::dp::fragment_ipv4(*p, c.mtu, port, frags, 64, why);
    ASSERT_EQ(n, c.expect_fragments);
    bytes reassembled(ip.size() - 20, 0);
    size_t covered = 0;
    for (uint32_t i = 0; i < n; ++i) {
        SCOPED_TRACE("fragment " + std::to_string(i));
        const uint8_t* f = frags[i]->data;
        EXPECT_EQ(0, std::memcmp(f, frame.data(), 14)) << "Ethernet header copied";
        const uint8_t* h = f + 14;
        const uint32_t total = get16(h + 2);
        EXPECT_LE(total, c.mtu);
        EXPECT_EQ(frags[i]->len, 14 + total);
        EXPECT_TRUE(checksum_ok(h, 20));
        EXPECT_EQ(get16(h + 4), 0xbeef) << "identification kept";
        const uint16_t fw = get16(h + 6);
        const bool mf = fw & 0x2000;
        EXPECT_EQ(mf, i + 1 < n);
        const size_t offset = (fw & 0x1fff) * 8u;
        if (i + 1 < n) {
            EXPECT_EQ((total - 20) % 8, 0u) << "non-last fragments carry multiples of 8 bytes";
        }
        ASSERT_LE(offset + total - 20, reassembled.size());
        std::memcpy(reassembled.data() + offset, h + 20, total - 20);
        covered += total - 20;
    }
    EXPECT_EQ(covered, reassembled.size());
    EXPECT_TRUE(std::equal(reassembled.begin(), reassembled.end(), ip.begin() + 20));
    port.release(frags, static_cast<uint16_t>(n));
    pool.free(p);
}

INSTANTIATE_TEST_SUITE_P(Cases, Ipv4Fragment,
                         ::testing::Values(fragment_case{"two", 1472, 1400, 2},
                                           fragment_case{"three", 2900, 1400, 3},
                                           fragment_case{"min_mtu", 1000, 576, 2},
                                           fragment_case{"exact_multiple", 2 * 1376 - 8, 1396, 2}),
                         [](const auto& tc) { return std::string(tc.param.name); });

TEST(Ipv4FragmentPartialChecksum, IsCompletedBeforeSplitting) {
    fragment_io io(64);
    eg::dp::buffer_pool& pool = io.pool;
    eg::dp::memory_port& port = io.port;
    bytes l4 = udp(k_src, k_dst, 4000, 53, payload(2000));
    // As a local socket hands it over (CHECKSUM_PARTIAL): only the pseudo-header sum.
    bytes pseudo;
    put(pseudo, k_src);
    put(pseudo, k_dst);
    put16(pseudo, 17);
    put16(pseudo, static_cast<uint16_t>(l4.size()));
    const uint16_t expected = get16(l4.data() + 6);
    const uint32_t s = ones_sum(pseudo);
    set16(l4.data() + 6, static_cast<uint16_t>(s));
    const bytes frame = eth(k_next, k_gw, 0x0800, ipv4(k_src, k_dst, 17, l4));
    packet* p = io.load(frame);
    p->offload.needs_csum = 1;
    p->offload.csum_start = 34;
    p->offload.csum_offset = 6;
    packet* frags[8];
    eg::dp::drop_reason why{};
    const uint32_t n = eg::dp::fragment_ipv4(*p, 1400, port, frags, 8, why);
    ASSERT_EQ(n, 2u);
    EXPECT_EQ(get16(frags[0]->data + 34 + 6), expected) << "UDP checksum completed in the first fragment";
    EXPECT_EQ(frags[0]->offload.needs_csum, 0);
    port.release(frags, 2);
    pool.free(p);
}

// Offload offsets are the sender's: ones pointing into the IP header (here at its
// total length) must not be "completed" there, or the length read afterwards runs past
// the buffer (found by wireguard_pipeline_fuzz through the WireGuard path).
TEST(Ipv4FragmentPartialChecksum, OffsetsIntoTheIpHeaderAreNotWritten) {
    fragment_io io(64);
    eg::dp::buffer_pool& pool = io.pool;
    eg::dp::memory_port& port = io.port;
    const bytes frame = eth(k_next, k_gw, 0x0800, ipv4(k_src, k_dst, 17, udp(k_src, k_dst, 4000, 53, payload(2000))));
    packet* p = io.load(frame);
    p->ether_type = 0x0800;
    p->offload.needs_csum = 1;
    p->offload.csum_start = 14;
    p->offload.csum_offset = 2;
    packet* frags[8];
    eg::dp::drop_reason why{};
    const uint32_t n = eg::dp::fragment_ipv4(*p, 1400, port, frags, 8, why);
    ASSERT_EQ(n, 2u);
    EXPECT_EQ(get16(frags[0]->data + 14 + 2) + get16(frags[1]->data + 14 + 2), 20u + 2008u + 20u)
        << "the fragments carry the datagram's 2008 bytes once";
    port.release(frags, 2);
    pool.free(p);
}

// A fragment cut again keeps its place: offsets continue from its own, and every piece
// but a last one of the datagram says more fragments follow. One whose end lies past
// 65 535 bytes (RFC 791's largest datagram) is refused by name: its pieces' offsets
// would wrap the 13-bit field into the flag bits (found by wireguard_pipeline_fuzz
// through the WireGuard path).
TEST(Ipv4FragmentOfAFragment, OffsetsContinueAndAnEndPast65535IsRefused) {
    fragment_io io(64);
    eg::dp::buffer_pool& pool = io.pool;
    eg::dp::memory_port& port = io.port;
    struct fragment_in {
        uint16_t offset_units;  ///< of 8 bytes
        bool mf;
        uint32_t fragments;     ///< expected; 0 = refused
    };
    for (const fragment_in c : {fragment_in{7000, true, 2}, fragment_in{7000, false, 2}, fragment_in{7941, true, 2},
                                fragment_in{7942, true, 0}, fragment_in{8190, false, 0}}) {
        SCOPED_TRACE("offset " + std::to_string(c.offset_units * 8u));
        ip4_opts o;
        o.frag_offset = c.offset_units;
        o.mf = c.mf;
        const bytes data = payload(2000);  // 2000 bytes of the datagram's payload
        const bytes frame = eth(k_next, k_gw, 0x0800, ipv4(k_src, k_dst, 17, data, o));
        packet* p = io.load(frame);
        const size_t free_before = pool.available();
        packet* frags[8];
        eg::dp::drop_reason why{};
        const uint32_t n = eg::dp::fragment_ipv4(*p, 1400, port, frags, 8, why);
        ASSERT_EQ(n, c.fragments);
        if (n == 0) {
            EXPECT_EQ(why, eg::dp::drop_reason::ipv4_oversized_fragment);
            EXPECT_EQ(pool.available(), free_before) << "nothing kept";
        }
        uint32_t next = c.offset_units * 8u;
        for (uint32_t i = 0; i < n; ++i) {
            const uint8_t* h = frags[i]->data + 14;
            const uint16_t fw = get16(h + 6);
            EXPECT_EQ((fw & 0x1fff) * 8u, next) << i;
            EXPECT_EQ((fw & 0x2000) != 0, i + 1 < n || c.mf) << i;
            EXPECT_EQ(fw & 0xc000, 0) << "no flag bits from the offset";
            EXPECT_TRUE(checksum_ok(h, 20));
            EXPECT_EQ(0, std::memcmp(h + 20, data.data() + (next - c.offset_units * 8u), get16(h + 2) - 20u));
            next += get16(h + 2) - 20u;
        }
        if (n) {
            EXPECT_EQ(next, c.offset_units * 8u + data.size());
            port.release(frags, static_cast<uint16_t>(n));
        }
        pool.free(p);
    }
}

// Through the worker: a 1500-byte datagram without DF to a 1400-MTU uplink leaves as
// two fragments; with DF it gets fragmentation-needed back instead.
TEST(Ipv4FragmentWorker, OversizedWithoutDfIsFragmentedOnTheWay) {
    const char* toml = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
mtu = 1400
ipv4 = ["203.0.113.1/24"]
[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"
)";
    auto lr = eg::cfg::load_string(toml);
    ASSERT_TRUE(lr.value) << (lr.errors.empty() ? "" : lr.errors[0].to_string());
    eg::dp::buffer_pool_options bo;
    bo.count = 512;
    bo.buffer_size = 4096;
    eg::dp::buffer_pool pool(bo);
    eg::dp::memory_port_options vo, uo;
    vo.port_index = 0;
    vo.mac = mac("02:00:00:00:00:01");
    uo.port_index = 1;
    uo.mac = k_gw;
    eg::dp::memory_port vm(vo, pool), up(uo, pool);
    eg::dp::rcu_publisher<eg::dp::snapshot> snaps(1);
    snaps.publish(eg::ctl::build_snapshot(*lr.value, {{vo.mac}, {uo.mac}}, {}, 1));
    eg::dp::neighbour_table nt(64);
    nt.set(eg::dp::neighbour_key::ipv4(1, 0xcb007102), k_next);
    eg::dp::frame_ring punt(64), inject(64);
    eg::dp::worker_counters counters;
    eg::dp::worker w(eg::dp::worker_options{}, {&vm, &up}, snaps, nt, punt, inject, -1, -1, counters);

    const mac_t vm1 = mac("02:00:00:00:01:01");
    const bytes no_df = eth(vo.mac, vm1, 0x0800, ipv4(k_src, k_dst, 17, udp(k_src, k_dst, 4000, 53, payload(1472))));
    ASSERT_TRUE(vm.push_rx(no_df));
    w.poll_once();
    auto sent = up.take_tx();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(get16(sent[0].data() + 14 + 2), 1396);  // 20 + 1376
    EXPECT_EQ(get16(sent[1].data() + 14 + 2), 20 + 1480 - 1376);
    EXPECT_EQ(sent[0][14 + 8], 63) << "TTL decremented before fragmenting";
    EXPECT_EQ(counters.fragments_sent.get(), 2u);

    // A dropped packet is not taken for one to fragment (the special verdicts share
    // the fragment bit): only its own reason is counted.
    const bytes bad_checksum = [&] {
        bytes f = no_df;
        f[14 + 10] ^= 0xff;
        return f;
    }();
    ASSERT_TRUE(vm.push_rx(bad_checksum));
    w.poll_once();
    EXPECT_TRUE(up.take_tx().empty());
    EXPECT_EQ(counters.drops[eg::dp::reason_index(eg::dp::drop_reason::ipv4_bad_checksum)].get(), 1u);
    EXPECT_EQ(counters.drops[eg::dp::reason_index(eg::dp::drop_reason::ipv4_fragmentation_failed)].get(), 0u);
}

}  // namespace
