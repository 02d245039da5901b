#pragma once
// Worker-to-worker handoff of a packet that arrived on a worker other than the one
// owning its state (DESIGN.md: flows are owned per worker; a WireGuard peer's keys live
// at one worker). Each ordered pair of workers has one SPSC byte ring (byte_ring.hpp); a
// message is a copy of the frame (the receiving backend's buffer cannot change threads)
// behind a small header, taking only the bytes it needs, up to a 64 KB GSO
// super-packet. The owner processes it as if it had received it on `port`, and never
// hands it on again.
//
// Why bytes, not slots: with WireGuard about half of a tunnel's packets change workers
// (the kernel's fanout does not know receiver indices), and a worker that loses its
// core for a scheduler tick must find them waiting. 64 slots of 64 KB held 1.8 ms of a
// 0.4 Gbit/s tunnel and overflowed (2 % of handed packets lost in the lab's iperf3);
// the same 4 MB as bytes holds about 2 700 full-size frames.
//
// Waking: a worker about to sleep sets `asleep` and re-checks its rings; a producer
// writes the owner's eventfd only when it finds the flag set (Dekker-style, seq_cst
// on both sides), so a busy owner costs no system call.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/byte_ring.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

inline constexpr uint32_t k_handoff_max = 65600;  ///< a 64 KB super-packet and its headers
/// Bytes per ring: 4 MB with two workers, less with more (the mesh has workers^2 rings:
/// 16 workers -> 240 rings of 1 MB, 240 MB, as many as the fixed slots took before).
inline uint64_t handoff_ring_bytes(uint32_t workers) {
    return std::max<uint64_t>(uint64_t{1} << 20, (uint64_t{8} << 20) / std::max<uint32_t>(workers, 1));
}

/// What precedes the frame's bytes in a ring record.
struct handoff_header {
    uint16_t port = 0;  ///< the port it was received on
    offload_info offload{};
};
using handoff_ring = byte_ring;

/// One worker's view of the handoff mesh (built by the gateway; rings owned there).
struct handoff_links {
    uint32_t self = 0;
    uint32_t workers = 1;
    std::vector<handoff_ring*> out;                  ///< [w]: to worker w (null for self)
    std::vector<handoff_ring*> in;                   ///< [w]: from worker w (null for self)
    std::vector<int> wake_fd;                        ///< [w]: worker w's eventfd
    std::vector<const std::atomic<bool>*> asleep;    ///< [w]: worker w sleeps in epoll
    uint64_t to_wake = 0;                            ///< bit w: wrote to w in this iteration
};

/// The rings of an N-worker mesh, and each worker's links into it.
class handoff_mesh {
public:
    /// `wake_fds[w]` / `asleep[w]`: worker w's eventfd and sleep flag.
    handoff_mesh(uint32_t workers, const std::vector<int>& wake_fds, const std::vector<const std::atomic<bool>*>& asleep)
        : rings_(workers * workers), links_(workers) {
        for (uint32_t from = 0; from < workers; ++from) {
            for (uint32_t to = 0; to < workers; ++to) {
                if (from != to) {
                    rings_[from * workers + to] = std::make_unique<handoff_ring>(handoff_ring_bytes(workers));
                }
            }
        }
        for (uint32_t w = 0; w < workers; ++w) {
            handoff_links& l = links_[w];
            l.self = w;
            l.workers = workers;
            l.wake_fd = wake_fds;
            l.asleep = asleep;
            for (uint32_t o = 0; o < workers; ++o) {
                l.out.push_back(rings_[w * workers + o].get());
                l.in.push_back(rings_[o * workers + w].get());
            }
        }
    }
    handoff_links& links(uint32_t w) { return links_[w]; }

private:
    std::vector<std::unique_ptr<handoff_ring>> rings_;  ///< [from * workers + to]
    std::vector<handoff_links> links_;
};

}  // namespace eg::dp
