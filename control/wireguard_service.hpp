#pragma once
// WireGuard on the control thread: the tunnels' identities, every peer's handshake,
// cookie and timer state, and the link to the workers that carry the transport data.
//
//  - Handshake messages and cookie replies arrive punted from the workers (on_frame).
//    mac1 is checked first, then (under load) mac2 with cookie replies, then the
//    per-source rate limit — all before any Diffie-Hellman work.
//  - Derived keypairs go to the peer's owning worker (slot % workers) over that
//    worker's command ring: lock-free publication; the worker builds the EVP contexts.
//  - Workers report what they see through the peer's telemetry block (bytes, last
//    send/receive, endpoint); on_tick feeds that into the whitepaper timers, which
//    decide rekeys, retries, keepalives and the key wipe.
//  - Packets we send (handshakes, cookie replies) are injected as IPv4 packets for a
//    worker to route (frame_message::originate).
// Owner: the control thread. No locks: workers are reached through rings and atomics.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
#include "crypto/responder_batch.hpp"
#include "crypto/timers.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/wireguard_state.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::ctl {

/// Peer slots per gateway: telemetry and per-worker state are sized by it at start.
inline constexpr uint32_t k_max_wireguard_peers = 4096;

/// What `wg show` says about a peer, plus the health operators watch.
struct wireguard_peer_status {
    std::string tunnel;
    std::string name;
    std::string public_key;              ///< base64
    std::vector<std::string> allowed_ips;
    std::string endpoint;                ///< "a.b.c.d:port" or "[v6]:port", empty when unknown
    uint64_t last_handshake_unix_s = 0;  ///< 0 = never
    uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
    uint64_t handshakes = 0;             ///< completed, either role
    uint64_t drop_not_allowed = 0, drop_replayed = 0, drop_auth = 0, drop_no_keypair = 0;
    uint32_t persistent_keepalive_s = 0;
    uint64_t idle_timeout_s = 0;         ///< ephemeral peers: removed after this long without a handshake
    bool has_preshared_key = false;      ///< whether it has one (the key itself is never shown)
    /// A session (handshake within 180 s) and, when we sent data in the last 12 s,
    /// something authenticated back within 12 s: the keepalive heartbeat answered.
    bool healthy = false;
};

/// Counters of the handshake side (the status line, metrics, tests).
struct wireguard_handshake_counters {
    uint64_t initiations_received = 0, responses_received = 0, cookie_replies_received = 0;
    uint64_t initiations_sent = 0, responses_sent = 0, cookie_replies_sent = 0;
    uint64_t completed = 0;
    uint64_t invalid_mac1 = 0, rate_limited = 0, unknown_peer = 0, rejected = 0, malformed = 0;
};

/// A peer added at runtime (POST /v1/wireguard/peers).
struct wireguard_new_peer {
    std::string tunnel;                       ///< empty: the first tunnel
    std::string name;                         ///< empty: the public key
    std::optional<cfg::wg_key> public_key;    ///< none: the gateway generates the client's keypair
    std::vector<cfg::ip_prefix> allowed_ips;  ///< the client's addresses/networks
    std::vector<cfg::ip_prefix> routes;       ///< what the client routes to us; empty: the VM networks
    uint32_t idle_timeout_s = 0;              ///< >0: removed after this long without a handshake
    uint32_t persistent_keepalive_s = 0;
    /// The Noise IKpsk2 pre-shared key (WireGuard's optional extra symmetric layer);
    /// none: 32 zero bytes, as without one.
    std::optional<cfg::wg_key> preshared_key;
    bool generate_preshared_key = false;  ///< the gateway makes one (then preshared_key is unset)
    /// The generated wg_quick config's Endpoint: the tunnel's IPv6 listen socket
    /// (address6) instead of its IPv4 one. Only with a generated keypair.
    bool ipv6_endpoint = false;
};

struct wireguard_add_result {
    enum class outcome : uint8_t { added, bad_request, not_found, conflict, full };
    outcome result = outcome::added;
    std::string message;     ///< why not, when not added
    std::string public_key;  ///< base64
    std::string tunnel;      ///< the tunnel it was added to (the request may leave it out)
    std::string wg_quick;    ///< a ready client config when the gateway made the keypair
    /// The peer's pre-shared key, given or generated (the records store it).
    std::optional<cfg::wg_key> preshared_key;
    bool preshared_key_generated = false;  ///< the answer must hand it out
};

class wireguard_service {
public:
    struct hooks {
        /// Routes an IPv4 packet of ours: 14 blank bytes (Ethernet) then the packet.
        std::function<void(std::span<const uint8_t>)> originate;
        /// Signals worker w that its command ring has something.
        std::function<void(uint32_t)> wake;
        std::function<void(const std::string&)> log;
        /// Publishes a new snapshot (peers were added or removed); may be empty in tests.
        std::function<void()> republish;
        /// Asks for one flush_initiations() call after the handlers that are running now
        /// (the gateway: boost::asio::post), so that the initiations of one control-loop
        /// turn are answered together. Empty: each initiation is answered as it arrives.
        std::function<void()> schedule_flush;
        /// An ephemeral peer was removed for idleness (on_tick): what keeps it across
        /// restarts forgets it too. May be empty.
        std::function<void(const cfg::wg_key&)> idle_removed;
    };

    /// Throws std::runtime_error for what config validation cannot see (a peer key
    /// that can never handshake, too many peers).
    wireguard_service(const std::vector<cfg::wireguard_config>& tunnels, uint32_t workers, hooks h);
    ~wireguard_service();
    wireguard_service(const wireguard_service&) = delete;
    wireguard_service& operator=(const wireguard_service&) = delete;

    /// Worker w's transport state (the gateway hands it to the worker before it runs).
    dp::wireguard_state* worker_state(uint32_t w) { return states_[w].get(); }

    /// Adds the tunnels, peer slots, allowed IPs and routes into a snapshot being built.
    void contribute(dp::snapshot& s) const;

    /// A punted frame (frame_message::wireguard) or worker event (wireguard_event).
    /// Initiations that pass the checks before any Diffie-Hellman work (admitted) are
    /// queued when hooks.schedule_flush is set, and answered by flush_initiations.
    void on_frame(const dp::frame_message& m, uint64_t now_ns);
    /// Answers the queued initiations with batched Diffie-Hellmans
    /// (crypto/responder_batch.hpp): the same replies, counters and refusals, in arrival
    /// order, as answering each on arrival. Every other entry point that could observe
    /// or change handshake state flushes first, so the queue is never overtaken.
    void flush_initiations();
    /// Initiations waiting for flush_initiations (tests).
    size_t queued_initiations() const { return queue_.size(); }
    void on_event(const dp::wg_event& e, uint64_t now_ns);
    /// Timers; call every few hundred milliseconds at most.
    void on_tick(uint64_t now_ns);

    /// What runtime peers may not claim, with a name for messages: prefixes no allowed IP
    /// may overlap (connected networks) and prefixes none may equal (static routes);
    /// and the VM networks a generated client config routes to us.
    void set_networks(std::vector<std::pair<cfg::ip_prefix, std::string>> no_overlap,
                      std::vector<std::pair<cfg::ip_prefix, std::string>> no_equal, std::vector<cfg::ip_prefix> vm_networks);
    /// Whether add_peer publishes the new snapshot itself, or the caller does once after
    /// adding many (start-up restores every stored peer with one snapshot).
    enum class publish : uint8_t { now, by_caller };
    /// Adds a peer. Checked like [[wireguard.peers]].
    wireguard_add_result add_peer(const wireguard_new_peer& np, uint64_t now_ns, publish p = publish::now);
    /// Removes the peer with this public key and all its state; false if unknown.
    bool remove_peer(const cfg::wg_key& key);

    std::vector<wireguard_peer_status> status(uint64_t now_ns) const;
    const wireguard_handshake_counters& counters() const { return counters_; }
    size_t peer_count() const;
    /// The tunnel's public key (base64), for wg-quick configs and the API.
    std::string public_key(size_t tunnel) const;

private:
    struct tunnel;
    struct peer;
    class batch_sink;

    void handle_initiation(tunnel& t, std::span<const uint8_t> msg, const dp::wg_endpoint& from, uint64_t now);
    void handle_response(tunnel& t, std::span<const uint8_t> msg, const dp::wg_endpoint& from, uint64_t now);
    void handle_cookie_reply(std::span<const uint8_t> msg, uint64_t now);
    /// The checks before any Diffie-Hellman work, in the kernel's order: mac1; under
    /// load, mac2 (else a cookie reply is sent); the per-source rate limit.
    bool admitted(tunnel& t, std::span<const uint8_t> msg, const dp::wg_endpoint& from, uint64_t now);
    /// Per-source token bucket (kernel ratelimiter.c: 20/s, burst 5; an IPv6 source
    /// counts by its /64, as there).
    bool source_allowed(const dp::wg_endpoint& from, uint64_t now);
    bool under_load(tunnel& t, uint64_t now);
    void send_initiation(peer& p, uint64_t now);
    /// Sends a handshake message from the tunnel's socket of to's family (false when the
    /// tunnel has no IPv6 address for an IPv6 endpoint).
    bool send_udp(const tunnel& t, const dp::wg_endpoint& to, std::span<const uint8_t> payload);
    /// A fresh local index that names p's owning worker (index % workers == slot % workers).
    uint32_t new_index(peer& p);
    void command(const dp::wg_command& c);
    /// A command that names only a slot (send_keepalive, clear_keys, remove_peer).
    void command(dp::wg_command::op_t op, uint32_t slot);
    /// The peer's endpoint, here and on its worker (an authenticated handshake came from it).
    void set_endpoint(peer& p, const dp::wg_endpoint& e);
    void session_derived(peer& p, crypto::session_keys& keys, uint64_t now);
    void poll_telemetry(peer& p);
    /// The endpoint to send handshakes to: what the worker last saw, else ours.
    bool endpoint_of(const peer& p, dp::wg_endpoint& e) const;
    /// A free peer slot: never used, or freed long enough ago that no worker still
    /// routes to it under an old snapshot. k_max_wireguard_peers when none.
    uint32_t alloc_slot(uint64_t now);
    /// Installs p in its slot on the worker and in the tunnel's key map.
    void attach(std::unique_ptr<peer> p);
    void detach(uint32_t slot, uint64_t now);
    /// Why `a` cannot be a new allowed IP (empty when it can).
    std::string allowed_ip_conflict(const cfg::ip_prefix& a) const;

    uint32_t workers_;
    hooks hooks_;
    std::vector<std::unique_ptr<tunnel>> tunnels_;
    std::vector<std::unique_ptr<peer>> peers_;  ///< by slot; null = free
    std::unique_ptr<dp::wg_peer_telemetry[]> telemetry_;
    std::vector<std::unique_ptr<dp::wg_command_ring>> rings_;
    std::vector<std::unique_ptr<dp::wireguard_state>> states_;
    std::unordered_map<uint32_t, uint32_t> index_to_slot_;  ///< handshakes and keypairs we named
    struct bucket {
        uint64_t tokens_ns = 0;  ///< credit in packet-nanoseconds
        uint64_t last_ns = 0;
    };
    std::unordered_map<uint64_t, bucket> rate_;  ///< by IPv4 address or IPv6 /64 (rate_key)
    uint64_t rate_swept_ns_ = 0;
    wireguard_handshake_counters counters_;
    /// Admitted initiations for one tunnel, in arrival order, and where each came from.
    std::vector<crypto::queued_initiation> queue_;
    std::vector<dp::wg_endpoint> queue_source_;
    tunnel* queue_tunnel_ = nullptr;
    bool flush_scheduled_ = false;
    uint64_t seed_ = 0;
    uint32_t never_used_ = 0;                               ///< slots from here were never used
    std::vector<std::pair<uint32_t, uint64_t>> freed_;      ///< (slot, when freed)
    std::vector<std::pair<cfg::ip_prefix, std::string>> no_overlap_, no_equal_;
    std::vector<cfg::ip_prefix> vm_networks_;
};

}  // namespace eg::ctl
