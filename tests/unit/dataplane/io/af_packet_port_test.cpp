// af_packet_port against a real veth pair in a private namespace:
//
//   netns eg-iotest-afp-<pid>
//   ┌───────────────────────────────────────────────────────────────┐
//   │ af_packet_port ── egv0 ══ veth ══ egv1 10.99.0.1/24 ── UDP socket │
//   │ (answers as 10.99.0.2, static neighbour on egv1)              │
//   └───────────────────────────────────────────────────────────────┘
// The UDP socket's frames cross veth with checksum offload on (CHECKSUM_PARTIAL), so
// they must arrive with needs_csum, and our reply sent with needs_csum must reach the
// socket with a valid checksum.
#include "dataplane/io/uring/af_packet_port.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/dataplane/io/netns_fixture.hpp"

namespace eg::dp {
namespace {

using namespace std::chrono_literals;

std::string mac_text(const std::array<uint8_t, 6>& m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

bool is_udp_to(const packet& p, uint16_t dport) {
    const uint8_t* d = p.data;
    return p.len >= 42 && d[12] == 0x08 && d[13] == 0x00 && d[23] == 17 && (d[36] << 8 | d[37]) == dport;
}

// Polls rx_burst until a packet matching `pred` arrives (others are released).
template <class Pred>
packet* receive_matching(port_io& port, Pred pred, std::chrono::milliseconds timeout = 3000ms) {
    auto end = std::chrono::steady_clock::now() + timeout;
    packet* pkts[k_max_burst];
    while (std::chrono::steady_clock::now() < end) {
        uint16_t n = port.rx_burst(pkts, k_max_burst);
        packet* found = nullptr;
        for (uint16_t i = 0; i < n; ++i) {
            if (!found && pred(*pkts[i]))
                found = pkts[i];
            else
                port.release(&pkts[i], 1);
        }
        if (found)
            return found;
        if (n == 0)
            std::this_thread::sleep_for(1ms);
    }
    return nullptr;
}

int udp_socket(const char* addr, uint16_t port) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &sin.sin_addr);
    if (s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&sin), sizeof sin) < 0) {
        ::close(s);
        return -1;
    }
    timeval tv{3, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
}

void send_udp(int s, const char* addr, uint16_t port, const std::string& payload) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &to.sin_addr);
    ::sendto(s, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
}

TEST(af_packet_port, missing_interface_is_a_clear_startup_error) {
    buffer_pool pool({.count = 64, .buffer_size = 2048});
    try {
        af_packet_port p({.interface = "eg-no-such-if0"}, pool);
        FAIL() << "expected an exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("eg-no-such-if0"), std::string::npos) << e.what();
    }
}

class af_packet_veth : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root (network namespaces, AF_PACKET)";
        ns_ = std::make_unique<test::netns_fixture>("afp");
        ASSERT_TRUE(ns_->ok()) << "could not create and enter " << ns_->name();
        ASSERT_TRUE(ns_->sh("ip link add egv0 type veth peer name egv1 && ip link set egv0 up && "
                            "ip link set egv1 up && ip addr add 10.99.0.1/24 dev egv1"));
    }
    void TearDown() override { ns_.reset(); }
    std::unique_ptr<test::netns_fixture> ns_;
};

TEST_F(af_packet_veth, receives_offloaded_udp_and_transmits_reply) {
    buffer_pool pool({.count = 512, .buffer_size = 2048});
    auto port = open_af_packet_port({.interface = "egv0", .port_index = 4, .ring_entries = 64, .rx_buffers = 32}, pool);
    EXPECT_STREQ(port->backend_name(), "uring");
    const auto mac = port->mac();
    EXPECT_NE(mac, (std::array<uint8_t, 6>{}));
    ASSERT_TRUE(ns_->sh("ip neigh replace 10.99.0.2 lladdr " + mac_text(mac) + " dev egv1 nud permanent"));
    ASSERT_GE(port->wait_fd(), 0);

    packet* none[k_max_burst];
    uint16_t early = port->rx_burst(none, k_max_burst);  // arms the receives
    port->release(none, early);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(test::io_uring_worker_threads(), 0) << "receives block in io-wq instead of being poll-armed";

    int s = udp_socket("10.99.0.1", 5555);
    ASSERT_GE(s, 0);
    const std::string payload = "hello edgegate over veth";
    send_udp(s, "10.99.0.2", 7777, payload);

    // An idle worker sleeps on wait_fd: it must wake for the frame.
    pollfd pfd{port->wait_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 3000), 1) << "wait_fd never became readable";

    packet* p = receive_matching(*port, [](const packet& q) { return is_udp_to(q, 7777); });
    ASSERT_NE(p, nullptr) << "UDP frame never arrived through rx_burst";
    EXPECT_EQ(p->in_port, 4);
    EXPECT_EQ(p->len, 42u + payload.size());
    EXPECT_EQ(std::string(reinterpret_cast<char*>(p->data) + 42, payload.size()), payload);
    // A local socket's UDP over veth: checksum left to offload.
    EXPECT_EQ(p->offload.needs_csum, 1);
    EXPECT_EQ(p->offload.csum_start, 34);
    EXPECT_EQ(p->offload.csum_offset, 6);
    EXPECT_EQ(p->offload.gso_type, offload_info::gso_none);

    // Answer in place: swap MACs, addresses and ports. The pseudo-header sum in the
    // checksum field is unchanged by the swap, so needs_csum stays valid.
    uint8_t* d = p->data;
    for (int i = 0; i < 6; ++i)
        std::swap(d[i], d[6 + i]);
    for (int i = 0; i < 4; ++i)
        std::swap(d[26 + i], d[30 + i]);
    std::swap(d[34], d[36]);
    std::swap(d[35], d[37]);
    ASSERT_EQ(port->tx_burst(&p, 1), 1);
    port->flush();

    char buf[256];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t r = ::recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_EQ(r, static_cast<ssize_t>(payload.size())) << "reply never reached the socket (checksum?)";
    EXPECT_EQ(std::string(buf, static_cast<size_t>(r)), payload);
    EXPECT_EQ(ntohs(from.sin_port), 7777);
    char addr[INET_ADDRSTRLEN];
    EXPECT_STREQ(::inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr), "10.99.0.2");
    ::close(s);

    // The send completion hands the packet back to the pool.
    for (int i = 0; i < 100 && port->stats().tx_packets.get() == 0; ++i) {
        port->flush();
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(port->stats().tx_packets.get(), 1u);
    EXPECT_GE(port->stats().rx_packets.get(), 1u);
    EXPECT_EQ(port->stats().tx_errors.get(), 0u);
    port.reset();
    EXPECT_EQ(pool.available(), pool.capacity()) << "buffers leaked by the port";
}

// A UDP_SEGMENT (USO) send crosses veth as one super-packet: it must arrive whole with
// gso_type udp_l4, and sent back with that header the kernel segments it again.
TEST_F(af_packet_veth, gso_super_packet_round_trip) {
    buffer_pool pool({.count = 128, .buffer_size = 65536 + 256});
    auto port = open_af_packet_port({.interface = "egv0", .rx_buffers = 16}, pool);
    ASSERT_TRUE(ns_->sh("ip neigh replace 10.99.0.2 lladdr " + mac_text(port->mac()) + " dev egv1 nud permanent"));
    packet* none[k_max_burst];
    port->release(none, port->rx_burst(none, k_max_burst));

    int s = udp_socket("10.99.0.1", 5557);
    ASSERT_GE(s, 0);
    int seg = 1000;
    ASSERT_EQ(::setsockopt(s, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg), 0);
    std::string payload(8000, 'x');
    for (size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>('a' + i / 1000);
    send_udp(s, "10.99.0.2", 7778, payload);

    packet* p = receive_matching(*port, [](const packet& q) { return is_udp_to(q, 7778); });
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->len, 42u + payload.size()) << "super-packet not whole";
    EXPECT_EQ(p->offload.gso_type, offload_info::gso_udp_l4);
    EXPECT_EQ(p->offload.gso_size, 1000);
    EXPECT_EQ(p->offload.needs_csum, 1);

    uint8_t* d = p->data;
    for (int i = 0; i < 6; ++i)
        std::swap(d[i], d[6 + i]);
    for (int i = 0; i < 4; ++i)
        std::swap(d[26 + i], d[30 + i]);
    std::swap(d[34], d[36]);
    std::swap(d[35], d[37]);
    ASSERT_EQ(port->tx_burst(&p, 1), 1);
    port->flush();

    seg = 0;
    ::setsockopt(s, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg);
    for (int i = 0; i < 8; ++i) {
        char buf[2048];
        ssize_t r = ::recv(s, buf, sizeof buf, 0);
        ASSERT_EQ(r, 1000) << "segment " << i;
        EXPECT_EQ(buf[0], static_cast<char>('a' + i));
    }
    ::close(s);
}

// A tagged frame arrives with its 802.1Q tag taken out of the frame into the skb (the
// core receive path untags it; TP_STATUS_VLAN_VALID): the port puts the tag back in
// front of the EtherType, so stages see the frame as it was on the wire.
TEST_F(af_packet_veth, offloaded_vlan_tag_is_put_back_in_place) {
    buffer_pool pool({.count = 64, .buffer_size = 2048});
    auto port = open_af_packet_port({.interface = "egv0", .rx_buffers = 16}, pool);
    packet* none[k_max_burst];
    port->release(none, port->rx_burst(none, k_max_burst));
    // A raw socket on the far end sends the frame with the tag in it.
    const int raw = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    ASSERT_GE(raw, 0);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(::if_nametoindex("egv1"));
    to.sll_halen = 6;
    const auto mac = port->mac();
    std::memcpy(to.sll_addr, mac.data(), 6);
    std::vector<uint8_t> f = {mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0x02, 0, 0, 0, 0, 0x01,
                              0x81, 0x00, 0x20, 0x64,  // 802.1Q, PCP 1, VLAN 100
                              0x08, 0x00};
    const uint8_t ip_udp[28] = {0x45, 0, 0, 34, 0, 0, 0, 0, 64, 17, 0, 0, 10, 98, 0, 1, 10, 98, 0, 2,
                                0x16, 0x69, 0x1e, 0x65, 0, 14, 0, 0};  // UDP 5737 -> 7781
    f.insert(f.end(), ip_udp, ip_udp + 28);
    const std::string payload = "tagged";
    f.insert(f.end(), payload.begin(), payload.end());
    ASSERT_EQ(::sendto(raw, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(f.size()));
    ::close(raw);
    packet* p = receive_matching(*port, [](const packet& q) {
        const uint8_t* d = q.data;
        return q.len >= 46 && d[12] == 0x81 && d[13] == 0x00 && (d[40] << 8 | d[41]) == 7781;
    });
    ASSERT_NE(p, nullptr) << "no tagged frame";
    EXPECT_EQ(p->len, f.size());
    EXPECT_EQ(std::vector<uint8_t>(p->data, p->data + p->len), f) << "the frame as sent, tag included";
    port->release(&p, 1);
    port.reset();
    EXPECT_EQ(pool.available(), pool.capacity());
}

TEST_F(af_packet_veth, fanout_group_opens_for_several_workers) {
    buffer_pool pool({.count = 256, .buffer_size = 2048});
    auto a = open_af_packet_port({.interface = "egv0", .rx_buffers = 16, .fanout_workers = 2}, pool);
    auto b = open_af_packet_port({.interface = "egv0", .port_index = 0, .rx_buffers = 16, .fanout_workers = 2}, pool);
    packet* pkts[k_max_burst];
    EXPECT_EQ(a->rx_burst(pkts, k_max_burst), 0);
    EXPECT_EQ(b->rx_burst(pkts, k_max_burst), 0);
}

TEST_F(af_packet_veth, pool_too_small_for_mtu_is_rejected) {
    buffer_pool pool({.count = 16, .buffer_size = 1024});
    EXPECT_THROW(open_af_packet_port({.interface = "egv0"}, pool), std::runtime_error);
}

// Optional throughput check (EG_IO_THROUGHPUT=1): a generator thread blasts 64-byte
// UDP over egv1 for 2 s while the port busy-polls egv0. Prints, asserts nothing.
TEST_F(af_packet_veth, rx_throughput_report) {
    if (!std::getenv("EG_IO_THROUGHPUT"))
        GTEST_SKIP() << "set EG_IO_THROUGHPUT=1 to measure";
    buffer_pool pool({.count = 4096, .buffer_size = 2048});
    auto port = open_af_packet_port({.interface = "egv0", .ring_entries = 256, .rx_buffers = 128}, pool);
    ASSERT_TRUE(ns_->sh("ip neigh replace 10.99.0.2 lladdr " + mac_text(port->mac()) + " dev egv1 nud permanent"));
    packet* pkts[k_max_burst];
    port->rx_burst(pkts, 0);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> sent{0};
    std::thread gen([&] {
        int s = udp_socket("10.99.0.1", 5556);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(9);
        ::inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
        char payload[22] = {};
        mmsghdr msgs[64];
        iovec iov{payload, sizeof payload};
        for (auto& m : msgs) {
            m = {};
            m.msg_hdr.msg_name = &to;
            m.msg_hdr.msg_namelen = sizeof to;
            m.msg_hdr.msg_iov = &iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        while (!stop.load(std::memory_order_relaxed)) {
            int n = ::sendmmsg(s, msgs, 64, 0);
            if (n > 0)
                sent.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        }
        ::close(s);
    });
    uint64_t got = 0, bursts = 0;
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < 2s) {
        uint16_t n = port->rx_burst(pkts, k_max_burst);
        if (n) {
            got += n;
            ++bursts;
            port->release(pkts, n);
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stop = true;
    gen.join();
    std::printf("af_packet_port rx: %.0f pps received (%.1f per burst), generator %.0f pps, "
                "rx_errors %llu, truncated %llu, no_buffer %llu, deferred_taskrun %d\n",
                static_cast<double>(got) / secs, bursts ? static_cast<double>(got) / static_cast<double>(bursts) : 0.0,
                static_cast<double>(sent.load()) / secs,
                static_cast<unsigned long long>(port->stats().rx_errors.get()),
                static_cast<unsigned long long>(port->stats().rx_truncated.get()),
                static_cast<unsigned long long>(port->stats().rx_no_buffer.get()), port->deferred_taskrun() ? 1 : 0);
}

}  // namespace
}  // namespace eg::dp
