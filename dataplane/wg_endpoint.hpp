#pragma once
// Where a WireGuard peer's packets go: an IPv4 or IPv6 address and a UDP port. One type
// for both families so that roaming can move a peer from one to the other: IPv4 is held
// IPv4-mapped (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), as wireguard-go and the kernel's
// dual-stack sockets see it. Port 0 means "no endpoint".
//
// wg_endpoint_cell publishes the endpoint a worker last authenticated to the control
// thread: one writer (the owning worker), any number of readers, a sequence counter so
// a reader never takes half an address (the seqlock of neighbour_table.hpp).
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>

namespace eg::dp {

struct wg_endpoint {
    std::array<uint8_t, 16> addr{};  ///< IPv6, or IPv4-mapped
    uint16_t port = 0;               ///< host order; 0 = none

    static wg_endpoint v4(uint32_t a, uint16_t port) {
        wg_endpoint e;
        e.addr[10] = 0xff;
        e.addr[11] = 0xff;
        e.addr[12] = static_cast<uint8_t>(a >> 24);
        e.addr[13] = static_cast<uint8_t>(a >> 16);
        e.addr[14] = static_cast<uint8_t>(a >> 8);
        e.addr[15] = static_cast<uint8_t>(a);
        e.port = port;
        return e;
    }
    static wg_endpoint v6(const uint8_t* a, uint16_t port) {
        wg_endpoint e;
        std::memcpy(e.addr.data(), a, 16);
        e.port = port;
        return e;
    }

    bool is_v4() const {
        // Word compares: this runs for every packet sealed or received.
        uint64_t hi = 0;
        uint32_t mid = 0;
        std::memcpy(&hi, addr.data(), 8);
        std::memcpy(&mid, addr.data() + 8, 4);
        constexpr uint8_t k_mapped_mid[4] = {0, 0, 0xff, 0xff};
        uint32_t want = 0;
        std::memcpy(&want, k_mapped_mid, 4);
        return hi == 0 && mid == want;
    }
    /// The IPv4 address, host order (is_v4() only).
    uint32_t v4_addr() const {
        return uint32_t{addr[12]} << 24 | uint32_t{addr[13]} << 16 | uint32_t{addr[14]} << 8 | addr[15];
    }
    /// An address (not 0.0.0.0 or ::) and a port. Word compares, as is_v4().
    bool known() const {
        uint64_t w0 = 0, w1 = 0;
        std::memcpy(&w0, addr.data(), 8);
        std::memcpy(&w1, addr.data() + 8, 8);
        constexpr uint8_t k_mapped_any[8] = {0, 0, 0xff, 0xff, 0, 0, 0, 0};  // ::ffff:0.0.0.0, bytes 8..15
        uint64_t mapped_any = 0;
        std::memcpy(&mapped_any, k_mapped_any, 8);
        return port != 0 && (w0 | w1) != 0 && !(w0 == 0 && w1 == mapped_any);
    }
    friend bool operator==(const wg_endpoint& a, const wg_endpoint& b) {
        uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
        std::memcpy(&a0, a.addr.data(), 8);
        std::memcpy(&a1, a.addr.data() + 8, 8);
        std::memcpy(&b0, b.addr.data(), 8);
        std::memcpy(&b1, b.addr.data() + 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0 && a.port == b.port;
    }
};

class wg_endpoint_cell {
public:
    /// The owning worker only.
    void store(const wg_endpoint& e) {
        uint64_t hi = 0;
        uint64_t lo = 0;
        std::memcpy(&hi, e.addr.data(), 8);
        std::memcpy(&lo, e.addr.data() + 8, 8);
        const uint32_t s = seq_.load(std::memory_order_relaxed);
        seq_.store(s + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        hi_.store(hi, std::memory_order_relaxed);
        lo_.store(lo, std::memory_order_relaxed);
        port_.store(e.port, std::memory_order_relaxed);
        seq_.store(s + 2, std::memory_order_release);
    }
    /// Any thread: the last endpoint stored (port 0 if none yet).
    wg_endpoint load() const {
        for (;;) {
            const uint32_t s = seq_.load(std::memory_order_acquire);
            const uint64_t hi = hi_.load(std::memory_order_relaxed);
            const uint64_t lo = lo_.load(std::memory_order_relaxed);
            const uint16_t port = port_.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if ((s & 1) == 0 && seq_.load(std::memory_order_relaxed) == s) {
                wg_endpoint e;
                std::memcpy(e.addr.data(), &hi, 8);
                std::memcpy(e.addr.data() + 8, &lo, 8);
                e.port = port;
                return e;
            }
        }
    }

private:
    std::atomic<uint32_t> seq_{0};
    std::atomic<uint16_t> port_{0};
    std::atomic<uint64_t> hi_{0}, lo_{0};
};

}  // namespace eg::dp
