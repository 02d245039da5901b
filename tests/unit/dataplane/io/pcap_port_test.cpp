#include "dataplane/io/pcap/pcap_port.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace eg::dp {
namespace {

std::string temp_path(const char* tag) {
    return ::testing::TempDir() + "eg-pcap-" + tag + "-" + std::to_string(::getpid()) + ".pcap";
}

// Ethernet + IPv4 + UDP, addresses inside 192.0.2.0/24 (RFC 5737), UDP checksum holding
// only the pseudo-header sum (as a local socket hands it to veth).
std::vector<uint8_t> udp_frame(uint16_t payload_len) {
    std::vector<uint8_t> f(42 + payload_len, 0);
    const uint8_t hdr[] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
                           0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
                           0x30, 0x39, 0x1f, 0x90, 0, 0, 0, 0};
    std::copy(std::begin(hdr), std::end(hdr), f.begin());
    uint16_t ip_len = static_cast<uint16_t>(28 + payload_len), udp_len = static_cast<uint16_t>(8 + payload_len);
    f[16] = static_cast<uint8_t>(ip_len >> 8);
    f[17] = static_cast<uint8_t>(ip_len);
    f[38] = static_cast<uint8_t>(udp_len >> 8);
    f[39] = static_cast<uint8_t>(udp_len);
    for (uint16_t i = 0; i < payload_len; ++i)
        f[42 + i] = static_cast<uint8_t>(i * 7);
    return f;
}

uint16_t fold(uint32_t s) {
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
}

uint32_t sum16(const uint8_t* d, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
    if (n & 1)
        s += static_cast<uint32_t>(d[n - 1] << 8);
    return s;
}

TEST(pcap_port, round_trip_through_a_capture_file) {
    const std::string path = temp_path("rt");
    buffer_pool pool({.count = 32, .buffer_size = 2048});
    std::vector<std::vector<uint8_t>> sent;
    for (uint16_t len : {60, 64, 300, 1514}) {
        std::vector<uint8_t> f(len);
        for (uint16_t i = 0; i < len; ++i)
            f[i] = static_cast<uint8_t>(len + i);
        sent.push_back(f);
    }
    {
        pcap_port writer({.output_path = path}, pool);
        EXPECT_TRUE(writer.input_exhausted());  // no input side
        packet* none[1];
        EXPECT_EQ(writer.rx_burst(none, 1), 0);
        std::vector<packet*> pkts;
        for (auto& f : sent) {
            packet* p = writer.alloc(static_cast<uint32_t>(f.size()));
            ASSERT_NE(p, nullptr);
            std::memcpy(p->data, f.data(), f.size());
            p->len = static_cast<uint32_t>(f.size());
            pkts.push_back(p);
        }
        EXPECT_EQ(writer.tx_burst(pkts.data(), static_cast<uint16_t>(pkts.size())), pkts.size());
        writer.flush();
        EXPECT_EQ(pool.available(), 32u);
        EXPECT_EQ(writer.stats().tx_packets.get(), 4u);
    }
    pcap_port reader({.input_path = path, .port_index = 5}, pool);
    EXPECT_FALSE(reader.input_exhausted());
    packet* got[8];
    uint16_t n = reader.rx_burst(got, 3);
    ASSERT_EQ(n, 3);
    n = static_cast<uint16_t>(n + reader.rx_burst(got + 3, 5));
    ASSERT_EQ(n, 4);
    EXPECT_TRUE(reader.input_exhausted());
    for (uint16_t i = 0; i < n; ++i) {
        EXPECT_EQ(got[i]->in_port, 5);
        EXPECT_EQ(std::vector<uint8_t>(got[i]->data, got[i]->data + got[i]->len), sent[i]) << "frame " << i;
    }
    reader.release(got, n);
    EXPECT_EQ(reader.rx_burst(got, 8), 0);
    EXPECT_EQ(pool.available(), 32u);
    std::remove(path.c_str());
}

TEST(pcap_port, output_completes_partial_checksums) {
    const std::string path = temp_path("csum");
    buffer_pool pool({.count = 4, .buffer_size = 2048});
    auto f = udp_frame(33);  // odd length exercises the trailing byte
    // Pseudo-header sum in the checksum field, as CHECKSUM_PARTIAL leaves it.
    uint32_t pseudo = sum16(f.data() + 26, 8) + 17 + (8 + 33);
    uint16_t ph = fold(pseudo);
    f[40] = static_cast<uint8_t>(ph >> 8);
    f[41] = static_cast<uint8_t>(ph);
    {
        pcap_port writer({.output_path = path}, pool);
        packet* p = writer.alloc(static_cast<uint32_t>(f.size()));
        std::memcpy(p->data, f.data(), f.size());
        p->len = static_cast<uint32_t>(f.size());
        p->offload.needs_csum = 1;
        p->offload.csum_start = 34;
        p->offload.csum_offset = 6;
        ASSERT_EQ(writer.tx_burst(&p, 1), 1);
    }
    pcap_port reader({.input_path = path}, pool);
    packet* got = nullptr;
    ASSERT_EQ(reader.rx_burst(&got, 1), 1);
    // A receiver's check: pseudo header + UDP header + data sums to 0xffff.
    uint32_t s = sum16(got->data + 26, 8) + 17 + (8 + 33) + sum16(got->data + 34, 8 + 33);
    EXPECT_EQ(fold(s), 0xffff);
    EXPECT_NE(got->data[40] | got->data[41], 0);
    reader.release(&got, 1);
    std::remove(path.c_str());
}

TEST(pcap_port, open_errors_name_the_file) {
    buffer_pool pool({.count = 4, .buffer_size = 2048});
    try {
        pcap_port p({.input_path = "/nonexistent/eg-in.pcap"}, pool);
        FAIL() << "expected an exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/eg-in.pcap"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pcap_port({.output_path = "/nonexistent/dir/eg-out.pcap"}, pool), std::runtime_error);
}

}  // namespace
}  // namespace eg::dp
