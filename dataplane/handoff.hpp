#pragma once
// Worker-to-worker handoff of the rare packet that arrived on a worker other than the
// one owning its NAT state (DESIGN.md: flows are owned per worker). Each ordered pair of
// workers has one SPSC ring; a message is a copy of the frame (the receiving backend's
// buffer cannot change threads), up to a 64 KB GSO super-packet. The owner processes
// it as if it had received it on `port`, and never hands it on again.
//
// Waking: a worker about to sleep sets `asleep` and re-checks its rings; a producer
// writes the owner's eventfd only when it finds the flag set (Dekker-style, seq_cst
// on both sides), so a busy owner costs no system call.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/packet.hpp"
#include "dataplane/spsc_ring.hpp"

namespace eg::dp {

inline constexpr uint32_t k_handoff_max = 65600;  ///< a 64 KB super-packet and its headers
/// Slots per ring: 64 with two workers, fewer with more (the mesh has workers^2 rings of
/// 64 KB slots: 16 workers -> 240 rings of 16 slots, 250 MB).
inline uint32_t handoff_ring_slots(uint32_t workers) { return std::max<uint32_t>(16, 128 / std::max<uint32_t>(workers, 1)); }

struct handoff_message {
    uint16_t port = 0;  ///< the port it was received on
    uint32_t len = 0;
    offload_info offload{};
    uint8_t data[k_handoff_max];
};
using handoff_ring = spsc_ring<handoff_message>;

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
                    rings_[from * workers + to] = std::make_unique<handoff_ring>(handoff_ring_slots(workers));
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
