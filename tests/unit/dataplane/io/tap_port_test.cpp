// tap_port against the kernel stack of a private namespace:
//
//   netns eg-iotest-tap-<pid>
//   ┌────────────────────────────────────────────────────────────────────┐
//   │ tap_port (engine, 10.98.0.2, MAC 02:00:5e:00:00:02) ══ egtap0 10.98.0.1/24 │
//   │                                              kernel: UDP socket, ICMP │
//   └────────────────────────────────────────────────────────────────────┘
// The kernel sends UDP to 10.98.0.2 (static neighbour): it must arrive with needs_csum
// (TUN_F_CSUM). The port sends an ICMP echo request to 10.98.0.1: the kernel answers.
#include "dataplane/io/uring/tap_port.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "tests/unit/dataplane/io/netns_fixture.hpp"

namespace eg::dp {
namespace {

using namespace std::chrono_literals;

constexpr std::array<uint8_t, 6> k_engine_mac{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02};

uint16_t inet_csum(const uint8_t* d, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
    if (n & 1)
        s += static_cast<uint32_t>(d[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

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

bool is_ipv4_proto(const packet& p, uint8_t proto) {
    return p.len >= 34 && p.data[12] == 0x08 && p.data[13] == 0x00 && p.data[23] == proto;
}

class tap_port_netns : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root (network namespaces, TAP)";
        ns_ = std::make_unique<test::netns_fixture>("tap");
        ASSERT_TRUE(ns_->ok()) << "could not create and enter " << ns_->name();
    }
    void TearDown() override { ns_.reset(); }
    std::unique_ptr<test::netns_fixture> ns_;
};

TEST_F(tap_port_netns, kernel_traffic_in_and_echo_reply_out) {
    buffer_pool pool({.count = 256, .buffer_size = 2048});
    auto port = open_tap_port({.name = "egtap0", .port_index = 9, .mac = k_engine_mac, .ring_entries = 64,
                               .rx_buffers = 16},
                              pool);
    EXPECT_EQ(port->mac(), k_engine_mac);
    EXPECT_FALSE(port->gso_enabled());  // 2 KiB buffers: the kernel segments for us
    ASSERT_TRUE(ns_->sh("ip addr add 10.98.0.1/24 dev egtap0 && "
                        "ip neigh replace 10.98.0.2 lladdr 02:00:5e:00:00:02 dev egtap0 nud permanent"));
    // The kernel side's own MAC (from a socket in this namespace; sysfs shows the old one).
    std::array<uint8_t, 6> kmac{};
    {
        int c = ::socket(AF_INET, SOCK_DGRAM, 0);
        ifreq ifr{};
        std::strcpy(ifr.ifr_name, "egtap0");
        ASSERT_EQ(::ioctl(c, SIOCGIFHWADDR, &ifr), 0);
        std::memcpy(kmac.data(), ifr.ifr_hwaddr.sa_data, 6);
        ::close(c);
    }
    packet* pkts[k_max_burst];
    port->release(pkts, port->rx_burst(pkts, k_max_burst));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(test::io_uring_worker_threads(), 0) << "TAP reads block in io-wq instead of being poll-armed";

    // 1. The kernel sends to the engine's address; the TAP hands the frame over.
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(6666);
    ::inet_pton(AF_INET, "10.98.0.2", &to.sin_addr);
    const std::string payload = "to the engine via tap";
    ASSERT_EQ(::sendto(s, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(payload.size()));
    ::close(s);
    pollfd pfd{port->wait_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 3000), 1) << "wait_fd never became readable";
    packet* p = receive_matching(*port, [](const packet& q) {
        return is_ipv4_proto(q, 17) && q.len >= 42 && (q.data[36] << 8 | q.data[37]) == 6666;
    });
    ASSERT_NE(p, nullptr) << "UDP from the kernel never arrived";
    EXPECT_EQ(p->in_port, 9);
    EXPECT_EQ(std::memcmp(p->data, k_engine_mac.data(), 6), 0);
    EXPECT_EQ(std::memcmp(p->data + 6, kmac.data(), 6), 0);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(p->data) + 42, payload.size()), payload);
    EXPECT_EQ(p->offload.needs_csum, 1);  // TUN_F_CSUM: checksum left to us
    EXPECT_EQ(p->offload.csum_start, 34);
    EXPECT_EQ(p->offload.csum_offset, 6);

    // 2. Reuse the buffer for an ICMP echo request 10.98.0.2 -> 10.98.0.1.
    uint8_t* d = p->data;
    std::memcpy(d, kmac.data(), 6);
    std::memcpy(d + 6, k_engine_mac.data(), 6);
    d[12] = 0x08;
    d[13] = 0x00;
    const uint8_t ip[20] = {0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 98, 0, 2, 10, 98, 0, 1};
    std::memcpy(d + 14, ip, 20);
    uint16_t c = inet_csum(d + 14, 20);
    d[24] = static_cast<uint8_t>(c >> 8);
    d[25] = static_cast<uint8_t>(c);
    uint8_t* icmp = d + 34;
    std::memset(icmp, 0, 64);
    icmp[0] = 8;  // echo request
    icmp[4] = 0xbe;
    icmp[5] = 0xef;  // identifier
    icmp[7] = 1;     // sequence
    for (int i = 8; i < 64; ++i)
        icmp[i] = static_cast<uint8_t>(i);
    c = inet_csum(icmp, 64);
    icmp[2] = static_cast<uint8_t>(c >> 8);
    icmp[3] = static_cast<uint8_t>(c);
    p->len = 14 + 84;
    p->offload = {};
    ASSERT_EQ(port->tx_burst(&p, 1), 1);
    port->flush();

    packet* reply = receive_matching(*port, [](const packet& q) {
        return is_ipv4_proto(q, 1) && q.len >= 42 && q.data[34] == 0 && q.data[38] == 0xbe && q.data[39] == 0xef;
    });
    ASSERT_NE(reply, nullptr) << "the kernel never answered the echo request";
    EXPECT_EQ(std::memcmp(reply->data + 26, "\x0a\x62\x00\x01", 4), 0);  // from 10.98.0.1
    EXPECT_EQ(std::memcmp(reply->data + 30, "\x0a\x62\x00\x02", 4), 0);  // to 10.98.0.2
    port->release(&reply, 1);
    EXPECT_EQ(port->stats().tx_packets.get(), 1u);
    port.reset();
    EXPECT_EQ(pool.available(), pool.capacity()) << "buffers leaked by the port";
}

TEST_F(tap_port_netns, large_buffers_negotiate_gso_and_multi_queue_attaches) {
    buffer_pool pool({.count = 64, .buffer_size = 65536 + 256});
    auto q0 = open_tap_port({.name = "egtap1", .rx_buffers = 8, .queues = 2}, pool);
    auto q1 = open_tap_port({.name = "egtap1", .port_index = 0, .rx_buffers = 8, .queues = 2}, pool);
    EXPECT_TRUE(q0->gso_enabled());
    packet* pkts[k_max_burst];
    q0->release(pkts, q0->rx_burst(pkts, k_max_burst));
    q1->release(pkts, q1->rx_burst(pkts, k_max_burst));
    EXPECT_TRUE(ns_->sh("ip link show egtap1 | grep -q UP"));
}

}  // namespace
}  // namespace eg::dp
