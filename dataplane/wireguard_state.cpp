// A worker's WireGuard transport state (see wireguard_state.hpp).
#include "dataplane/wireguard_state.hpp"

namespace eg::dp {

wireguard_state::wireguard_state(uint32_t max_peers, wg_peer_telemetry* telemetry, wg_command_ring& commands,
                                 uint32_t staging_bytes)
    : peers_(max_peers),
      telemetry_(telemetry),
      commands_(commands),
      staging_(max_peers, k_staging_capacity, staging_bytes) {}

void wireguard_state::drop_staged(uint32_t slot) {
    const uint32_t n = staging_.discard(slot);
    if (n) {
        wg_peer_telemetry::bump(telemetry_[slot].drop_no_keypair, n);
        staged_drops_ += n;
    }
}

void wireguard_state::forget(const crypto::peer_keypairs::dropped& d) {
    for (uint32_t i = 0; i < d.count; ++i) {
        index_.erase(d.index[i]);
    }
}

bool wireguard_state::apply(const wg_command& c, uint64_t now_ns) {
    if (c.slot >= peers_.size()) {
        return false;
    }
    peer& p = peers_[c.slot];
    switch (c.op) {
    case wg_command::set_peer:
        forget(p.keys.clear());
        drop_staged(c.slot);
        p.active = true;
        p.tunnel = c.tunnel;
        p.endpoint = c.endpoint;
        p.handshake_asked_ns = 0;
        telemetry_[c.slot].endpoint.store(c.endpoint);
        return false;
    case wg_command::install_keypair: {
        if (!p.active) {
            return false;
        }
        auto kp = std::make_unique<crypto::keypair>();
        if (!kp->init(c.keys, c.birth_ns)) {
            return false;
        }
        index_[c.keys.local_index] = c.slot;
        forget(p.keys.install(std::move(kp)));
        if (p.keys.current() != nullptr && !p.keys.current()->expired(now_ns)) {
            staging_.mark_ready(c.slot);  // an initiator's keypair sends at once
        }
        return false;
    }
    case wg_command::set_endpoint:
        if (p.active) {
            p.endpoint = c.endpoint;
            telemetry_[c.slot].endpoint.store(c.endpoint);
        }
        return false;
    case wg_command::remove_peer:
        forget(p.keys.clear());
        drop_staged(c.slot);
        p.active = false;
        p.endpoint = wg_endpoint{};
        return false;
    case wg_command::clear_keys:
        forget(p.keys.clear());
        drop_staged(c.slot);
        return false;
    case wg_command::drop_staged:
        drop_staged(c.slot);
        return false;
    case wg_command::send_keepalive:
        return p.active;
    }
    return false;
}

}  // namespace eg::dp
