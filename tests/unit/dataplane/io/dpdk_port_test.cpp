// Tests of the dpdk backend: checksum completion (a table of crafted frames, checked
// against DPDK's own rte_ip.h checksum code), net_ring loopback through dpdk_port, and
// net_af_packet on veth pairs inside network namespaces the tests create and delete
// (root only; skipped otherwise).
//
// The EAL can be initialised only once per process, so every DPDK test lives in this
// file and shares one dpdk_environment (--no-huge -m 256, a --file-prefix unique to
// the PID, 2 workers).
#ifdef EG_WITH_DPDK

// rte_ipv{4,6}_udptcp_cksum_verify (the independent reference here) are experimental in 22.11.
#define ALLOW_EXPERIMENTAL_API 1

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/io/dpdk/dpdk_checksum.hpp"
#include "dataplane/io/dpdk/dpdk_eal.hpp"
#include "dataplane/io/dpdk/dpdk_port.hpp"

namespace eg::dp {
namespace {

using namespace std::chrono_literals;
using dpdk_csum::partial_result;

// --- crafted frames -------------------------------------------------------------------

struct frame_spec {
    bool v6 = false;
    uint8_t proto = 17;
    uint32_t payload = 64;
    int vlans = 0;
    bool fragment = false;
};

struct crafted {
    std::vector<uint8_t> bytes;
    uint32_t l3 = 0, l4 = 0, field = 0;  // offsets
};

// Builds an Ethernet frame with a correct L4 checksum computed by DPDK's rte_ip.h.
crafted craft(const frame_spec& s, uint32_t seed = 1) {
    crafted c;
    std::mt19937 rng(seed);
    uint32_t l4_hdr = s.proto == 6 ? 20 : 8;
    uint32_t l3_hdr = s.v6 ? 40 : 20;
    c.l3 = 14 + 4u * static_cast<uint32_t>(s.vlans);
    c.l4 = c.l3 + l3_hdr;
    c.bytes.assign(c.l4 + l4_hdr + s.payload, 0);
    uint8_t* f = c.bytes.data();
    for (int i = 0; i < 12; ++i) f[i] = static_cast<uint8_t>(0x02 + i);
    uint32_t off = 12;
    for (int v = 0; v < s.vlans; ++v, off += 4) {
        dpdk_csum::store_be16(f + off, v == 0 && s.vlans == 2 ? 0x88a8 : 0x8100);
        dpdk_csum::store_be16(f + off + 2, static_cast<uint16_t>(100 + v));
    }
    dpdk_csum::store_be16(f + off, s.v6 ? 0x86dd : 0x0800);
    uint8_t* ip = f + c.l3;
    uint8_t* l4 = f + c.l4;
    for (uint32_t i = 0; i < l4_hdr + s.payload; ++i) l4[i] = static_cast<uint8_t>(rng());
    if (s.proto == 17) {
        dpdk_csum::store_be16(l4 + 4, static_cast<uint16_t>(l4_hdr + s.payload));
    } else {
        l4[12] = 5 << 4;  // data offset
    }
    c.field = c.l4 + (s.proto == 6 ? 16 : 6);
    dpdk_csum::store_be16(f + c.field, 0);
    if (!s.v6) {
        ip[0] = 0x45;
        dpdk_csum::store_be16(ip + 2, static_cast<uint16_t>(20 + l4_hdr + s.payload));
        if (s.fragment) dpdk_csum::store_be16(ip + 6, 0x2000);  // MF
        ip[8] = 64;
        ip[9] = s.proto;
        uint8_t a[8] = {10, 1, 2, 3, 192, 168, 77, 9};
        std::memcpy(ip + 12, a, 8);
        auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
        h->hdr_checksum = rte_ipv4_cksum(h);
        uint16_t ck = rte_ipv4_udptcp_cksum(h, l4);
        std::memcpy(f + c.field, &ck, 2);
    } else {
        ip[0] = 0x60;
        dpdk_csum::store_be16(ip + 4, static_cast<uint16_t>(l4_hdr + s.payload));
        ip[6] = s.proto;
        ip[7] = 64;
        for (int i = 0; i < 32; ++i) ip[8 + i] = static_cast<uint8_t>(0x20 + i * 7);
        uint16_t ck = rte_ipv6_udptcp_cksum(reinterpret_cast<rte_ipv6_hdr*>(ip), l4);
        std::memcpy(f + c.field, &ck, 2);
    }
    return c;
}

// The kernel's CHECKSUM_PARTIAL seed, from DPDK's pseudo-header helpers (which return
// the folded, non-complemented sum in memory order: what tx offload seeds the field with).
uint16_t dpdk_seed(const crafted& c, bool v6) {
    const uint8_t* ip = c.bytes.data() + c.l3;
    return v6 ? rte_ipv6_phdr_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), 0)
              : rte_ipv4_phdr_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip), 0);
}

bool dpdk_verifies(const crafted& c, bool v6) {
    const uint8_t* ip = c.bytes.data() + c.l3;
    const void* l4 = c.bytes.data() + c.l4;
    return v6 ? rte_ipv6_udptcp_cksum_verify(reinterpret_cast<const rte_ipv6_hdr*>(ip), l4) == 0
              : rte_ipv4_udptcp_cksum_verify(reinterpret_cast<const rte_ipv4_hdr*>(ip), l4) == 0;
}

enum class field_kind { valid, partial, garbage, zero };

struct csum_case {
    const char* name;
    frame_spec spec;
    field_kind field;
    partial_result expect;
    bool verifies_after;
};

TEST(DpdkChecksum, PartialCompletionTable) {
    const csum_case cases[] = {
        {"v4 udp valid", {false, 17, 64}, field_kind::valid, partial_result::untouched, true},
        {"v4 udp partial", {false, 17, 64}, field_kind::partial, partial_result::completed, true},
        {"v4 udp garbage", {false, 17, 64}, field_kind::garbage, partial_result::untouched, false},
        {"v4 udp no checksum", {false, 17, 64}, field_kind::zero, partial_result::not_applicable, true},
        {"v4 udp partial odd", {false, 17, 1001}, field_kind::partial, partial_result::completed, true},
        {"v4 udp partial empty", {false, 17, 0}, field_kind::partial, partial_result::completed, true},
        {"v4 tcp valid", {false, 6, 1460}, field_kind::valid, partial_result::untouched, true},
        {"v4 tcp partial", {false, 6, 1460}, field_kind::partial, partial_result::completed, true},
        {"v4 tcp partial odd", {false, 6, 7}, field_kind::partial, partial_result::completed, true},
        {"v4 tcp garbage", {false, 6, 100}, field_kind::garbage, partial_result::untouched, false},
        {"v6 udp valid", {true, 17, 200}, field_kind::valid, partial_result::untouched, true},
        {"v6 udp partial", {true, 17, 200}, field_kind::partial, partial_result::completed, true},
        {"v6 tcp partial", {true, 6, 1400}, field_kind::partial, partial_result::completed, true},
        {"v6 tcp garbage", {true, 6, 3}, field_kind::garbage, partial_result::untouched, false},
        {"vlan v4 udp partial", {false, 17, 50, 1}, field_kind::partial, partial_result::completed, true},
        {"qinq v6 tcp partial", {true, 6, 50, 2}, field_kind::partial, partial_result::completed, true},
        {"v4 fragment partial", {false, 17, 64, 0, true}, field_kind::partial, partial_result::not_applicable,
         false},
    };
    for (const auto& tc : cases) {
        SCOPED_TRACE(tc.name);
        crafted c = craft(tc.spec);
        std::vector<uint8_t> valid = c.bytes;
        uint16_t v;
        switch (tc.field) {
            case field_kind::valid:
                break;
            case field_kind::partial:
                v = dpdk_seed(c, tc.spec.v6);
                std::memcpy(&c.bytes[c.field], &v, 2);
                break;
            case field_kind::garbage:
                v = static_cast<uint16_t>(dpdk_seed(c, tc.spec.v6) ^ 0x5a5a);
                std::memcpy(&c.bytes[c.field], &v, 2);
                break;
            case field_kind::zero:
                c.bytes[c.field] = c.bytes[c.field + 1] = 0;
                break;
        }
        std::vector<uint8_t> before = c.bytes;
        partial_result r =
            dpdk_csum::complete_partial_l4_checksum(c.bytes.data(), static_cast<uint32_t>(c.bytes.size()));
        EXPECT_EQ(static_cast<int>(r), static_cast<int>(tc.expect));
        if (r == partial_result::completed) {
            EXPECT_EQ(c.bytes, valid) << "completed checksum differs from DPDK's";
        } else {
            EXPECT_EQ(c.bytes, before) << "frame changed although not completed";
        }
        if (tc.field != field_kind::zero) {
            EXPECT_EQ(dpdk_verifies(c, tc.spec.v6), tc.verifies_after);
        }
        // UDP/IPv4 with checksum 0 is "no checksum", which l4_checksum_ok accepts.
        const bool want_ok = tc.field == field_kind::zero || (tc.verifies_after && !tc.spec.fragment);
        EXPECT_EQ(dpdk_csum::l4_checksum_ok(c.bytes.data(), static_cast<uint32_t>(c.bytes.size())), want_ok);
    }
}

TEST(DpdkChecksum, PaddedAndTruncatedFrames) {
    // A short UDP datagram padded to Ethernet's 60-byte minimum: the padding is not summed.
    crafted c = craft({false, 17, 2});
    std::vector<uint8_t> valid = c.bytes;
    valid.resize(60, 0);
    uint16_t seed = dpdk_seed(c, false);
    std::memcpy(&c.bytes[c.field], &seed, 2);
    c.bytes.resize(60, 0xee);
    std::fill(valid.begin() + static_cast<long>(c.l4 + 10), valid.end(), 0);
    ASSERT_EQ(dpdk_csum::complete_partial_l4_checksum(c.bytes.data(), 60), partial_result::completed);
    EXPECT_TRUE(dpdk_verifies(c, false));
    // IP total length beyond the frame: left alone.
    crafted t = craft({false, 6, 500});
    std::memcpy(&t.bytes[t.field], &seed, 2);
    std::vector<uint8_t> before = t.bytes;
    EXPECT_EQ(dpdk_csum::complete_partial_l4_checksum(t.bytes.data(), 300), partial_result::not_applicable);
    EXPECT_EQ(t.bytes, before);
    EXPECT_EQ(dpdk_csum::complete_partial_l4_checksum(t.bytes.data(), 10), partial_result::not_applicable);
}

TEST(DpdkChecksum, SumMatchesDpdkRawChecksumForAllLengths) {
    std::mt19937 rng(7);
    std::vector<uint8_t> buf(2100);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    for (size_t off = 0; off < 2; ++off) {
        for (size_t n = 0; n < 2000; ++n) {
            uint16_t ours = dpdk_csum::sum_be(buf.data() + off, n);
            uint16_t theirs = rte_be_to_cpu_16(rte_raw_cksum(buf.data() + off, n));
            // Both are ones-complement sums; 0 and 0xffff are the same number.
            if (!((ours == theirs) || (ours == 0xffff && theirs == 0) || (ours == 0 && theirs == 0xffff)))
                FAIL() << "n=" << n << " off=" << off << " ours=" << ours << " dpdk=" << theirs;
        }
    }
}

TEST(DpdkChecksum, OffloadNeedsCsumIsCompleted) {
    for (uint8_t proto : {uint8_t{17}, uint8_t{6}}) {
        crafted c = craft({false, proto, 333});
        std::vector<uint8_t> valid = c.bytes;
        uint16_t seed = dpdk_seed(c, false);
        std::memcpy(&c.bytes[c.field], &seed, 2);
        packet p;
        p.data = c.bytes.data();
        p.len = static_cast<uint32_t>(c.bytes.size());
        p.offload.needs_csum = 1;
        p.offload.csum_start = static_cast<uint16_t>(c.l4);
        p.offload.csum_offset = proto == 6 ? 16 : 6;
        ASSERT_TRUE(dpdk_csum::complete_offload_checksum(p));
        EXPECT_EQ(p.offload.needs_csum, 0);
        EXPECT_EQ(c.bytes, valid);
        p.offload.needs_csum = 1;
        p.offload.csum_start = static_cast<uint16_t>(p.len);  // outside the frame
        EXPECT_FALSE(dpdk_csum::complete_offload_checksum(p));
    }
}

// --- the shared EAL ---------------------------------------------------------------------

dpdk_environment& env() {
    static std::unique_ptr<dpdk_environment> e = [] {
        dpdk_eal_options o;
        o.eal_args = {"--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "-l", "0",
                      "--file-prefix=eg-unit-" + std::to_string(::getpid())};
        o.log_level = "warning";
        o.workers = 2;
        o.mbufs_per_pool = 4095;
        return std::make_unique<dpdk_environment>(o);
    }();
    return *e;
}

unsigned pool_in_use(unsigned w) { return rte_mempool_in_use_count(env().pool(w)); }

TEST(DpdkEnvironment, PoolsCarryPacketDescriptors) {
    dpdk_environment& e = env();
    ASSERT_EQ(e.workers(), 2u);
    EXPECT_GE(dpdk_mbuf_priv_size(), sizeof(packet));
    EXPECT_EQ(rte_pktmbuf_priv_size(e.pool(0)), dpdk_mbuf_priv_size());
    EXPECT_EQ(rte_mempool_avail_count(e.pool(1)), 4095u);
    dpdk_eal_options again;
    EXPECT_THROW(dpdk_environment{again}, std::runtime_error);
    EXPECT_TRUE(dpdk_environment::eal_was_initialized());
}

TEST(DpdkPort, BadDevargsThrowWithDpdkMessage) {
    env();
    dpdk_port_options o;
    o.devargs = "net_nosuchdriver0";
    try {
        dpdk_port p(env(), o);
        FAIL() << "no exception";
    } catch (const std::runtime_error& ex) {
        EXPECT_NE(std::string(ex.what()).find("net_nosuchdriver0"), std::string::npos) << ex.what();
    }
}

// Fills a packet with a recognisable frame of `len` bytes.
void fill(packet* p, uint32_t len, uint32_t tag) {
    p->len = len;
    for (uint32_t i = 0; i < len; ++i) p->data[i] = static_cast<uint8_t>(tag * 31 + i);
    std::memcpy(p->data + 12, "\x88\xb5", 2);  // local experimental ethertype
}

// net_ring with no arguments creates a port whose tx rings are its rx rings: a loopback.
TEST(DpdkPort, NetRingLoopbackCarriesBytesAndLengths) {
    const unsigned base0 = pool_in_use(0), base1 = pool_in_use(1);
    {
        dpdk_port_options o;
        o.devargs = "net_ring0";
        dpdk_port port(env(), o);
        EXPECT_EQ(port.driver(), "net_ring");
        EXPECT_EQ(port.queues(), 2);
        EXPECT_FALSE(port.completes_partial_checksums());
        auto q0 = port.open_queue(0, 5);
        auto q1 = port.open_queue(1, 5);
        EXPECT_STREQ(q0->backend_name(), "dpdk");
        EXPECT_EQ(q0->mac(), port.mac());

        const uint32_t lens[] = {60, 61, 64, 128, 999, 1514, 1518, 2000};
        packet* out[k_max_burst];
        for (auto* q : {q0.get(), q1.get()}) {
            packet* pk[8];
            for (unsigned i = 0; i < 8; ++i) {
                pk[i] = q->alloc(lens[i]);
                ASSERT_NE(pk[i], nullptr);
                ASSERT_EQ(pk[i]->len, lens[i]);
                ASSERT_GE(pk[i]->headroom(), 64u);
                fill(pk[i], lens[i], i);
            }
            // Move two frames: one prepends 4 bytes into the headroom, one trims its tail.
            pk[2]->data -= 4;
            pk[2]->len += 4;
            fill(pk[2], pk[2]->len, 2);
            pk[3]->len -= 10;
            ASSERT_EQ(q->tx_burst(pk, 8), 8);
            uint16_t n = 0;
            for (int tries = 0; tries < 100 && n < 8; ++tries)
                n = static_cast<uint16_t>(n + q->rx_burst(out + n, static_cast<uint16_t>(k_max_burst - n)));
            ASSERT_EQ(n, 8);
            for (unsigned i = 0; i < 8; ++i) {
                uint32_t want = lens[i] + (i == 2 ? 4 : 0) - (i == 3 ? 10 : 0);
                EXPECT_EQ(out[i]->len, want) << i;
                EXPECT_EQ(out[i]->in_port, 5);
                EXPECT_EQ(out[i]->verdict, k_verdict_none);
                EXPECT_EQ(out[i]->offload.needs_csum, 0);
                EXPECT_EQ(out[i]->buf + (out[i]->data - out[i]->buf), out[i]->data);
                EXPECT_LE(out[i]->headroom() + out[i]->len, out[i]->buf_size);
                auto* mb = static_cast<rte_mbuf*>(out[i]->backend_ref);
                EXPECT_EQ(rte_mbuf_to_priv(mb), out[i]);
                bool same = true;
                for (uint32_t b = 0; b < want; ++b)
                    if (b != 12 && b != 13 && out[i]->data[b] != static_cast<uint8_t>(i * 31 + b)) same = false;
                EXPECT_TRUE(same) << "payload of frame " << i;
            }
            EXPECT_EQ(q->rx_burst(out, k_max_burst), 0);
            q->release(out, 8);
        }
        EXPECT_EQ(q0->stats().tx_packets.get(), 8u);
        EXPECT_EQ(q0->stats().rx_packets.get(), 8u);
        EXPECT_EQ(q1->stats().rx_packets.get(), 8u);
        auto ds = port.read_device_stats();
        EXPECT_EQ(ds.opackets, 16u);
    }
    EXPECT_EQ(pool_in_use(0), base0) << "mbufs leaked";
    EXPECT_EQ(pool_in_use(1), base1) << "mbufs leaked";
}

TEST(DpdkPort, NetRingRxCompletesPartialChecksumAndTxFinishesNeedsCsum) {
    dpdk_port_options o;
    o.devargs = "net_ring1";
    o.queues = 1;
    o.complete_partial_checksums = dpdk_port_options::toggle::on;
    dpdk_port port(env(), o);
    auto q = port.open_queue(0, 0);
    crafted partial = craft({false, 17, 300});
    std::vector<uint8_t> valid = partial.bytes;
    uint16_t seed = dpdk_seed(partial, false);
    std::memcpy(&partial.bytes[partial.field], &seed, 2);
    crafted garbage = craft({true, 6, 300});
    garbage.bytes[garbage.field] ^= 0x11;

    packet* pk[3];
    for (int i = 0; i < 3; ++i) {
        const auto& src = i == 1 ? garbage.bytes : partial.bytes;
        pk[i] = q->alloc(static_cast<uint32_t>(src.size()));
        ASSERT_NE(pk[i], nullptr);
        std::memcpy(pk[i]->data, src.data(), src.size());
    }
    // Frame 2 says needs_csum (as if from a virtio path): tx finishes it.
    pk[2]->offload.needs_csum = 1;
    pk[2]->offload.csum_start = static_cast<uint16_t>(partial.l4);
    pk[2]->offload.csum_offset = 6;
    ASSERT_EQ(q->tx_burst(pk, 3), 3);
    EXPECT_EQ(q->stats().tx_csum_completed.get(), 1u);
    packet* out[k_max_burst];
    uint16_t n = 0;
    for (int tries = 0; tries < 100 && n < 3; ++tries) n = static_cast<uint16_t>(n + q->rx_burst(out + n, 8));
    ASSERT_EQ(n, 3);
    EXPECT_EQ(q->stats().rx_partial_csum_completed.get(), 1u);  // frame 0 only
    EXPECT_EQ(std::memcmp(out[0]->data, valid.data(), valid.size()), 0);
    EXPECT_EQ(std::memcmp(out[1]->data, garbage.bytes.data(), garbage.bytes.size()), 0);
    EXPECT_EQ(std::memcmp(out[2]->data, valid.data(), valid.size()), 0);
    q->release(out, n);
}

TEST(DpdkPort, ForeignPacketIsRefusedNotTaken) {
    dpdk_port_options o;
    o.devargs = "net_ring2";
    o.queues = 1;
    dpdk_port port(env(), o);
    auto q = port.open_queue(0, 0);
    packet* a = q->alloc(60);
    ASSERT_NE(a, nullptr);
    std::vector<uint8_t> mem(100);
    packet foreign;
    foreign.data = mem.data();
    foreign.len = 60;
    packet* pk[2] = {a, &foreign};
    EXPECT_EQ(q->tx_burst(pk, 2), 1);
    EXPECT_EQ(q->stats().tx_foreign_refused.get(), 1u);
    packet* out[4];
    uint16_t n = 0;
    for (int tries = 0; tries < 100 && n < 1; ++tries) n = q->rx_burst(out, 4);
    ASSERT_EQ(n, 1);
    q->release(out, n);
}

// Not a benchmark (no assertion on time): prints the rate of a tx->rx loop through one
// net_ring queue so the report has a number to compare backends with.
TEST(DpdkPort, NetRingLoopRate) {
    dpdk_port_options o;
    o.devargs = "net_ring3";
    o.queues = 1;
    dpdk_port port(env(), o);
    auto q = port.open_queue(0, 0);
    packet* pk[32];
    for (auto*& p : pk) {
        p = q->alloc(64);
        ASSERT_NE(p, nullptr);
        fill(p, 64, 1);
    }
    ASSERT_EQ(q->tx_burst(pk, 32), 32);
    uint64_t moved = 0;
    auto t0 = std::chrono::steady_clock::now();
    auto deadline = t0 + 300ms;
    packet* out[k_max_burst];
    while (std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < 256; ++i) {
            uint16_t n = q->rx_burst(out, 32);
            uint16_t s = q->tx_burst(out, n);
            q->release(out + s, static_cast<uint16_t>(n - s));
            moved += n;
        }
    }
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ rate     ] net_ring rx+tx loop, 64 B, burst 32: %.1f Mpps (%.1f ns per packet rx+tx)\n",
                moved / sec / 1e6, sec * 1e9 / static_cast<double>(moved));
    uint16_t n;
    while ((n = q->rx_burst(out, k_max_burst)) != 0) q->release(out, n);
}

// --- net_af_packet in network namespaces -------------------------------------------------

bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// Creates netns named `<prefix>-<pid>-<tag>` and deletes it (and its veths) on scope exit.
struct netns {
    std::string name;
    explicit netns(const std::string& tag) : name("eg-dpdktest-" + std::to_string(::getpid()) + "-" + tag) {
        sh("ip netns del " + name);
        ok = sh("ip netns add " + name);
    }
    ~netns() { sh("ip netns del " + name); }
    std::string exec(const std::string& cmd) const { return "ip netns exec " + name + " " + cmd; }
    bool ok = false;
};

// Moves the calling thread into a namespace until scope exit.
struct in_netns {
    int orig = -1;
    bool ok = false;
    explicit in_netns(const std::string& name) {
        orig = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        int fd = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
        ok = orig >= 0 && fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
        if (fd >= 0) ::close(fd);
    }
    ~in_netns() {
        if (orig >= 0) {
            if (::setns(orig, CLONE_NEWNET) != 0) std::perror("setns back");
            ::close(orig);
        }
    }
};

#define EG_NEED_ROOT()                                                         \
    do {                                                                       \
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, AF_PACKET)"; \
        if (!sh("ip -V")) GTEST_SKIP() << "needs iproute2";                   \
    } while (0)

// Polls rx until a UDP/IPv4 frame to `port` arrives; returns it (or nullptr).
packet* wait_udp(port_io& q, uint16_t udp_port, std::chrono::milliseconds limit) {
    packet* out[k_max_burst];
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        uint16_t n = q.rx_burst(out, k_max_burst);
        packet* found = nullptr;
        for (uint16_t i = 0; i < n; ++i) {
            const uint8_t* f = out[i]->data;
            if (!found && out[i]->len >= 42 && dpdk_csum::load_be16(f + 12) == 0x0800 && f[23] == 17 &&
                dpdk_csum::load_be16(f + 36) == udp_port) {
                found = out[i];
                out[i] = out[n - 1];
                --n;
                --i;
            }
        }
        q.release(out, n);
        if (found) return found;
        std::this_thread::sleep_for(1ms);
    }
    return nullptr;
}

// A normal UDP socket over a veth with tx checksum offload on (the default) sends
// CHECKSUM_PARTIAL frames; through net_af_packet they arrive with only the pseudo-header
// seed in the checksum field. With completion off the checksum does not verify (the
// trap of baselines.md §6 item 4); with it on (the af_packet default) it does.
TEST(DpdkAfPacket, UdpFromLocalSocketGetsItsChecksumCompleted) {
    EG_NEED_ROOT();
    env();
    netns ns("udp");
    ASSERT_TRUE(ns.ok);
    ASSERT_TRUE(sh(ns.exec("ip link add egd0 type veth peer name egd1")));
    ASSERT_TRUE(sh(ns.exec("ip link set egd0 up")) && sh(ns.exec("ip link set egd1 up")));
    ASSERT_TRUE(sh(ns.exec("ip addr add 10.199.0.1/24 dev egd1")));
    ASSERT_TRUE(sh(ns.exec("ip neigh add 10.199.0.2 lladdr 02:00:00:00:00:02 dev egd1 nud permanent")));
    ASSERT_TRUE(sh(ns.exec("ethtool -K egd1 tx on")));

    in_netns inside(ns.name);
    ASSERT_TRUE(inside.ok);
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9999);
    inet_pton(AF_INET, "10.199.0.2", &to.sin_addr);
    const char payload[] = "edgegate dpdk af_packet checksum test, 57 bytes long ...";

    for (bool complete : {false, true}) {
        SCOPED_TRACE(complete ? "completion on" : "completion off");
        dpdk_port_options o;
        o.devargs = complete ? "net_af_packet0,iface=egd0" : "net_af_packet1,iface=egd0";
        o.queues = 1;
        o.complete_partial_checksums =
            complete ? dpdk_port_options::toggle::automatic : dpdk_port_options::toggle::off;
        dpdk_port port(env(), o);
        EXPECT_EQ(port.driver(), "net_af_packet");
        EXPECT_EQ(port.completes_partial_checksums(), complete);
        auto q = port.open_queue(0, 1);
        ASSERT_EQ(::sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(sizeof payload));
        packet* p = wait_udp(*q, 9999, 3s);
        ASSERT_NE(p, nullptr) << "no UDP frame through net_af_packet";
        EXPECT_EQ(p->len, 14u + 20 + 8 + sizeof payload);
        EXPECT_EQ(std::memcmp(p->data + 42, payload, sizeof payload), 0);
        const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(p->data + 14);
        const bool verifies = rte_ipv4_udptcp_cksum_verify(ip, p->data + 34) == 0;
        uint16_t field;
        std::memcpy(&field, p->data + 40, 2);
        if (complete) {
            EXPECT_TRUE(verifies);
            EXPECT_EQ(q->stats().rx_partial_csum_completed.get(), 1u);
        } else {
            EXPECT_FALSE(verifies) << "expected a CHECKSUM_PARTIAL frame (veth tx offload on)";
            EXPECT_EQ(field, rte_ipv4_phdr_cksum(ip, 0)) << "field should hold the pseudo-header seed";
        }
        q->release(&p, 1);
    }
    ::close(fd);
}

// What happens to TCP super-packets (TSO/GSO) from a veth peer through net_af_packet:
// client netns --veth-- [af_packet p0 ⇄ p1, a wire forwarded by this test] --veth-- server
// netns. Prints what arrived; asserts only that with TSO/GSO off on the sender's veth a
// bulk transfer completes with every checksum completed by the backend.
struct tcp_run {
    size_t received = 0;
    uint64_t frames = 0, truncated = 0, max_len = 0, max_ip_len = 0, completed = 0;
    double seconds = 0;
};

tcp_run run_tcp_through_wire(const netns& cli, const netns& srv, size_t bytes, std::chrono::seconds limit) {
    tcp_run r;
    dpdk_port_options o;
    o.queues = 1;
    o.devargs = "net_af_packet10,iface=egg0";
    auto p0 = std::make_unique<dpdk_port>(env(), o);
    o.devargs = "net_af_packet11,iface=egg1";
    auto p1 = std::make_unique<dpdk_port>(env(), o);
    auto q0 = p0->open_queue(0, 0);
    auto q1 = p1->open_queue(0, 1);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> frames{0}, truncated{0}, max_len{0}, max_ip_len{0};
    std::thread wire([&] {
        packet* pk[k_max_burst];
        while (!stop.load(std::memory_order_relaxed)) {
            uint16_t total = 0;
            for (auto [in, out] : {std::pair{q0.get(), q1.get()}, std::pair{q1.get(), q0.get()}}) {
                uint16_t n = in->rx_burst(pk, k_max_burst);
                total = static_cast<uint16_t>(total + n);
                for (uint16_t i = 0; i < n; ++i) {
                    frames.fetch_add(1, std::memory_order_relaxed);
                    if (pk[i]->len > max_len.load()) max_len = pk[i]->len;
                    if (pk[i]->len >= 34 && dpdk_csum::load_be16(pk[i]->data + 12) == 0x0800) {
                        uint32_t ip_len = dpdk_csum::load_be16(pk[i]->data + 16);
                        if (ip_len > max_ip_len.load()) max_ip_len = ip_len;
                        if (14 + ip_len > pk[i]->len) truncated.fetch_add(1, std::memory_order_relaxed);
                    }
                }
                uint16_t s = out->tx_burst(pk, n);
                in->release(pk + s, static_cast<uint16_t>(n - s));
            }
            if (total == 0) std::this_thread::sleep_for(50us);
        }
    });

    int lfd, cfd;
    {
        in_netns s(srv.name);
        lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    {
        in_netns c(cli.name);
        cfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    int one = 1;
    ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5201);
    inet_pton(AF_INET, "10.199.1.2", &a.sin_addr);
    ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(lfd, 1);
    timeval tv{static_cast<time_t>(limit.count()), 0};
    ::setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto t0 = std::chrono::steady_clock::now();
    std::atomic<size_t> received{0};
    std::thread server([&] {
        pollfd pf{lfd, POLLIN, 0};
        if (::poll(&pf, 1, static_cast<int>(limit.count() * 1000)) != 1) return;
        int fd = ::accept(lfd, nullptr, nullptr);
        if (fd < 0) return;
        timeval rtv{0, 200000};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof rtv);
        std::vector<char> buf(65536);
        auto end = std::chrono::steady_clock::now() + limit;
        while (received < bytes && std::chrono::steady_clock::now() < end) {
            ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n > 0) received += static_cast<size_t>(n);
            if (n == 0) break;
        }
        ::close(fd);
    });
    if (::connect(cfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        std::vector<char> data(bytes, 'x');
        size_t sent = 0;
        while (sent < bytes) {
            ssize_t n = ::send(cfd, data.data() + sent, bytes - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<size_t>(n);
        }
    }
    server.join();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::close(cfd);
    ::close(lfd);
    stop = true;
    wire.join();
    r.received = received;
    r.frames = frames;
    r.truncated = truncated;
    r.max_len = max_len;
    r.max_ip_len = max_ip_len;
    r.completed = q0->stats().rx_partial_csum_completed.get() + q1->stats().rx_partial_csum_completed.get();
    q0.reset();
    q1.reset();
    return r;
}

TEST(DpdkAfPacket, TcpSuperPacketsFromVethAreTruncatedSoTheLabMustTurnOffTso) {
    EG_NEED_ROOT();
    env();
    netns gw("gw"), cli("cli"), srv("srv");
    ASSERT_TRUE(gw.ok && cli.ok && srv.ok);
    ASSERT_TRUE(sh(gw.exec("ip link add egg0 type veth peer name egc netns " + cli.name)));
    ASSERT_TRUE(sh(gw.exec("ip link add egg1 type veth peer name egs netns " + srv.name)));
    for (const char* l : {"egg0", "egg1"}) ASSERT_TRUE(sh(gw.exec(std::string("ip link set up dev ") + l)));
    ASSERT_TRUE(sh(cli.exec("ip addr add 10.199.1.1/24 dev egc")) && sh(cli.exec("ip link set up dev egc")));
    ASSERT_TRUE(sh(srv.exec("ip addr add 10.199.1.2/24 dev egs")) && sh(srv.exec("ip link set up dev egs")));

    in_netns inside(gw.name);  // the af_packet sockets are opened in the gateway's namespace
    ASSERT_TRUE(inside.ok);
    const size_t bytes = 4u << 20;

    sh(cli.exec("ethtool -K egc tso on gso on"));
    tcp_run on = run_tcp_through_wire(cli, srv, bytes, 2s);
    std::printf("[ gso      ] TSO/GSO on:  %zu of %zu bytes in %.2f s; %llu frames, %llu truncated "
                "(IP length > frame), largest frame %llu B, largest IP length %llu B; %llu checksums completed\n",
                on.received, bytes, on.seconds, static_cast<unsigned long long>(on.frames),
                static_cast<unsigned long long>(on.truncated), static_cast<unsigned long long>(on.max_len),
                static_cast<unsigned long long>(on.max_ip_len), static_cast<unsigned long long>(on.completed));

    ASSERT_TRUE(sh(cli.exec("ethtool -K egc tso off gso off")));
    ASSERT_TRUE(sh(srv.exec("ethtool -K egs tso off gso off")));
    tcp_run off = run_tcp_through_wire(cli, srv, bytes, 10s);
    std::printf("[ gso      ] TSO/GSO off: %zu of %zu bytes in %.2f s; %llu frames, %llu truncated, largest "
                "frame %llu B; %llu checksums completed\n",
                off.received, bytes, off.seconds, static_cast<unsigned long long>(off.frames),
                static_cast<unsigned long long>(off.truncated), static_cast<unsigned long long>(off.max_len),
                static_cast<unsigned long long>(off.completed));
    EXPECT_EQ(off.received, bytes);
    EXPECT_EQ(off.truncated, 0u);
    EXPECT_LE(off.max_len, 1514u);
    EXPECT_GT(off.completed, 0u) << "veth tx checksum offload is on: frames should arrive partial";
}

}  // namespace
}  // namespace eg::dp

#endif  // EG_WITH_DPDK
