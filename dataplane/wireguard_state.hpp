#pragma once
// A worker's WireGuard transport state: for each peer slot it owns (slot % workers ==
// worker), the keypairs (crypto/keypairs.hpp: previous/current/next, each with its EVP
// contexts and replay window), the endpoint packets go to, and the receiver-index map
// that finds a keypair from a data message. Single writer: the owning worker.
//
// The control thread runs handshakes and timers; it talks to the worker through a
// command ring (keypairs published lock-free, endpoints, removals, keepalive requests)
// and reads what the worker saw from the peer's telemetry block (relaxed atomics, one
// writer each). Local indices are chosen by the control thread so that index % workers
// names the owner: any worker can tell where a data message belongs without a lookup.
#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crypto/handshake.hpp"
#include "crypto/keypairs.hpp"
#include "dataplane/spsc_ring.hpp"
#include "dataplane/wg_endpoint.hpp"
#include "dataplane/wireguard_staging.hpp"

namespace eg::dp {

/// What the owning worker reports about one peer slot. Counters only grow while the
/// slot holds one peer; the control thread snapshots them when it assigns the slot.
struct wg_peer_telemetry {
    std::atomic<uint64_t> rx_bytes{0}, tx_bytes{0};          ///< UDP payload bytes
    std::atomic<uint64_t> rx_packets{0}, tx_packets{0};
    std::atomic<uint64_t> last_rx_ns{0};       ///< any authenticated transport message in
    std::atomic<uint64_t> last_tx_ns{0};       ///< any transport message out (keepalives too)
    std::atomic<uint64_t> last_data_rx_ns{0};  ///< a non-keepalive in
    std::atomic<uint64_t> last_data_tx_ns{0};  ///< a non-keepalive out
    wg_endpoint_cell endpoint;                 ///< where authenticated packets came from; port 0 = none
    std::atomic<uint64_t> drop_not_allowed{0}, drop_replayed{0}, drop_auth{0}, drop_no_keypair{0};

    static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
};

/// Control thread -> owning worker.
struct wg_command {
    enum op_t : uint8_t {
        set_peer = 0,         ///< (re)start slot for tunnel, endpoint may be 0; drops old keys
        install_keypair = 1,  ///< keys derived by a handshake (initiator: current; responder: next)
        set_endpoint = 2,     ///< an authenticated handshake came from here
        remove_peer = 3,      ///< wipe every key of the slot
        send_keepalive = 4,   ///< an empty transport message on the current keypair
        clear_keys = 5,       ///< the 540 s timer: wipe keys, keep the peer
        drop_staged = 6,      ///< the handshake gave up: drop what waited for it
    };
    op_t op = set_peer;
    uint16_t tunnel = 0;
    uint32_t slot = 0;
    wg_endpoint endpoint;        ///< set_peer (port 0: none yet), set_endpoint
    uint64_t birth_ns = 0;
    crypto::session_keys keys{};
};
using wg_command_ring = spsc_ring<wg_command>;

/// Worker -> control thread (punted as frame_message::wireguard_event).
struct wg_event {
    enum kind_t : uint8_t {
        want_handshake = 0,     ///< data waits for (or a keypair is due for) a new handshake
        keypair_confirmed = 1,  ///< the first packet under the responder's next keypair
    };
    kind_t kind = want_handshake;
    uint32_t slot = 0;
};

class wireguard_state {
public:
    struct peer {
        crypto::peer_keypairs keys;
        wg_endpoint endpoint;  ///< port 0: none
        uint16_t tunnel = 0;
        bool active = false;
        uint64_t handshake_asked_ns = 0;  ///< last want_handshake event (rate limit)
    };

    /// telemetry: max_peers blocks shared with the control thread, outliving this.
    /// staging_bytes: the largest inner packet to hold while a handshake runs (the
    /// largest tunnel MTU).
    wireguard_state(uint32_t max_peers, wg_peer_telemetry* telemetry, wg_command_ring& commands,
                    uint32_t staging_bytes);

    /// The keypair whose local index is idx, and its slot; nullptr if none.
    crypto::keypair* find_keypair(uint32_t local_index, uint32_t& slot) {
        const auto it = index_.find(local_index);
        if (it == index_.end()) {
            return nullptr;
        }
        slot = it->second;
        return peers_[slot].keys.find(local_index);
    }
    peer* find_peer(uint32_t slot) { return slot < peers_.size() && peers_[slot].active ? &peers_[slot] : nullptr; }
    wg_peer_telemetry& telemetry(uint32_t slot) { return telemetry_[slot]; }
    uint32_t max_peers() const { return static_cast<uint32_t>(peers_.size()); }

    /// Removes the local indices of keypairs that were dropped from the index map.
    void forget(const crypto::peer_keypairs::dropped& d);
    /// Applies one command (cold: may allocate). Keepalives are not handled here: the
    /// worker needs a buffer for them (returns true to ask for one). A keypair that can
    /// send marks the peer's staged packets ready; removing a peer, wiping its keys or
    /// giving up its handshake drops them (see take_staged_drops).
    bool apply(const wg_command& c, uint64_t now_ns);

    wg_command_ring& commands() { return commands_; }
    wg_staging& staging() { return staging_; }
    /// Staged packets apply() dropped since the last call, for the worker's counters.
    uint64_t take_staged_drops() { return std::exchange(staged_drops_, 0); }

    /// Packets one worker may hold for handshakes, all peers together.
    static constexpr uint32_t k_staging_capacity = 1024;

private:
    std::vector<peer> peers_;
    wg_peer_telemetry* telemetry_;
    wg_command_ring& commands_;
    std::unordered_map<uint32_t, uint32_t> index_;  ///< local index -> slot
    wg_staging staging_;
    uint64_t staged_drops_ = 0;

    void drop_staged(uint32_t slot);
};

}  // namespace eg::dp
