// Responder handshakes per second through the whole control-thread path
// (control/wireguard_service): what the gateway's control core pays per accepted
// initiation, not only the crypto core that BM_WireGuard_handshake_responder_batch times.
//
//   BM_WireGuard_service_handshakes/N   initiations from distinct peers arrive as punted
//       Ethernet/IPv4/UDP frames (on_frame: frame parse, mac1, the per-source rate
//       limit, the queue); every N frames the control loop's turn ends (flush_initiations:
//       batched X25519 — AVX-512 IFMA where the CPU has it — the responses, the new
//       keypairs pushed to the worker's command ring, the response routed through the
//       originate hook). The worker's side (applying the keypair) runs on another core in
//       the gateway and is not timed; the bench pops its ring. /1 is the light-load path:
//       one initiation per turn, answered by the sequential responder.
//   items/s = responses sent per second. The bench fails (SkipWithError) unless every
//   frame was answered with a response.
//   BM_WireGuard_service_reject_bad_mac1   the same frames with one bit of mac1 flipped,
//       through on_frame: what a flood of junk initiations costs the control core
//       (items/s = initiations refused; fails unless every one is counted invalid_mac1).
//       The issue asks valid handshakes to cost at least 50x more than this.
//
// The tunnel's under_load_handshakes_per_s is set to its maximum so that no initiation
// needs a cookie round first (a flood above the default 1000/s would get cookie replies
// and come back with mac2, one more keyed BLAKE2s each); each peer sends from its own
// address, and the clock handed to the service moves 250 µs per frame so that no peer
// exceeds the per-peer (20 ms) or per-source (20/s, burst 5) limits.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/wireguard_service.hpp"
#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
#include "crypto/x25519_batch.hpp"
#include "tests/unit/test_frames.hpp"

namespace {

using namespace eg;

constexpr size_t k_peers = 256;
constexpr size_t k_rounds = 16;  ///< initiations per peer in the pool (strictly newer timestamps)
constexpr uint64_t k_ns_per_s = 1'000'000'000ULL;
constexpr uint64_t k_wall = 1704067200ULL * k_ns_per_s;
constexpr uint64_t k_frame_gap_ns = 250'000;

crypto::private_key key_of(uint32_t seed) {
    crypto::private_key k;
    for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i * 5 + 3);
    k[1] = uint8_t(seed);  // distinct seeds, distinct keys (byte 0 and 31 are clamped)
    k[2] = uint8_t(seed >> 8);
    k[3] = uint8_t(seed >> 16);
    return k;
}

test::ip4_t source_of(size_t peer) { return {198, 51, uint8_t(100 + peer / 250), uint8_t(1 + peer % 250)}; }

/// The tunnel, its peers, and a pool of punted frames: round r holds one initiation of
/// every peer, timestamps growing with r.
struct service_fixture {
    cfg::wireguard_config tunnel;
    std::vector<std::vector<uint8_t>> frames;  ///< k_rounds * k_peers, round-major

    service_fixture() {
        tunnel.name = "wg0";
        tunnel.private_key = key_of(100000);
        tunnel.address = *cfg::parse_ip("203.0.113.1");
        tunnel.listen_port = 51820;
        tunnel.under_load_handshakes_per_s = 1000000;
        const crypto::public_key gw = crypto::x25519_from_private(tunnel.private_key).pub;
        std::vector<std::unique_ptr<crypto::handshake>> ini;
        std::vector<crypto::local_identity> ids;
        for (size_t i = 0; i < k_peers; ++i) {
            cfg::wireguard_peer_config p;
            p.name = "peer" + std::to_string(i);
            ids.push_back(crypto::local_identity::from_private(key_of(uint32_t(i + 1))));
            p.public_key = ids.back().static_keys.pub;
            p.allowed_ips = {*cfg::parse_prefix("10.99." + std::to_string(i) + ".0/24")};
            tunnel.peers.push_back(p);
        }
        for (size_t i = 0; i < k_peers; ++i) ini.push_back(std::make_unique<crypto::handshake>(ids[i], gw, crypto::key32{}));
        const test::ip4_t gw_ip{203, 0, 113, 1};
        for (size_t r = 0; r < k_rounds; ++r) {
            for (size_t i = 0; i < k_peers; ++i) {
                crypto::message_initiation m;
                if (ini[i]->create_initiation(uint32_t(r * k_peers + i), k_wall + r * k_ns_per_s, m) != crypto::handshake_error::ok)
                    throw std::runtime_error("create_initiation");
                std::array<uint8_t, crypto::k_initiation_size> b;
                crypto::serialise(m, b);
                crypto::cookie_maker(gw).add_macs(b, 0);
                const test::bytes msg(b.begin(), b.end());
                frames.push_back(test::eth(test::mac("02:00:00:00:00:02"), test::mac("52:54:00:00:00:22"), 0x0800,
                                           test::ipv4(source_of(i), gw_ip, 17, test::udp(source_of(i), gw_ip, 40000, 51820, msg))));
            }
        }
    }
};

const service_fixture& fixture() {
    static const service_fixture f;
    return f;
}

/// A service as the gateway runs it: batching on, one worker.
struct gateway {
    size_t responses = 0;
    bool flush_asked = false;
    std::unique_ptr<ctl::wireguard_service> svc;

    explicit gateway(const cfg::wireguard_config& t) {
        ctl::wireguard_service::hooks h;
        h.originate = [this](std::span<const uint8_t> f) {
            // a response is 92 bytes of UDP payload after Ethernet, IPv4 and UDP
            if (f.size() == 14 + 20 + 8 + crypto::k_response_size && f[14 + 28] == 2) ++responses;
        };
        h.wake = [](uint32_t) {};
        h.schedule_flush = [this] { flush_asked = true; };
        svc = std::make_unique<ctl::wireguard_service>(std::vector<cfg::wireguard_config>{t}, 1, h);
    }
    void drain_worker_ring() {
        dp::wg_command_ring& ring = svc->worker_state(0)->commands();
        while (ring.front() != nullptr) ring.pop();
    }
};

void BM_WireGuard_service_handshakes(benchmark::State& state) {
    const size_t turn = size_t(state.range(0));
    const service_fixture& f = fixture();
    std::unique_ptr<gateway> g;
    size_t next = 0;
    size_t answered = 0;  ///< responses of the gateways already replaced
    uint64_t now = 0;
    dp::frame_message m;
    m.kind = dp::frame_message::wireguard;
    for (auto _ : state) {
        if (!g || next + turn > f.frames.size()) {
            state.PauseTiming();  // pool used up: a fresh gateway accepts the same timestamps again
            if (g) answered += g->responses;
            g = std::make_unique<gateway>(f.tunnel);
            next = 0;
            now = 1000 * k_ns_per_s;
            state.ResumeTiming();
        }
        for (size_t k = 0; k < turn; ++k) {
            const std::vector<uint8_t>& frame = f.frames[next++];
            m.len = uint16_t(frame.size());
            std::memcpy(m.data, frame.data(), frame.size());
            g->svc->on_frame(m, now += k_frame_gap_ns);
        }
        if (g->flush_asked) {
            g->flush_asked = false;
            g->svc->flush_initiations();
        }
        g->drain_worker_ring();
    }
    answered += g ? g->responses : 0;
    const uint64_t sent = uint64_t(state.iterations()) * turn;
    if (answered != sent) {
        return state.SkipWithError(("answered " + std::to_string(answered) + " of " + std::to_string(sent)).c_str());
    }
    state.SetItemsProcessed(int64_t(sent));
    state.counters["x25519_path"] = crypto::x25519_batch_default_path() == crypto::x25519_batch_path::ifma ? 1 : 0;
}

void BM_WireGuard_service_reject_bad_mac1(benchmark::State& state) {
    const service_fixture& f = fixture();
    gateway g(f.tunnel);
    constexpr size_t k_mac1 = 14 + 20 + 8 + 116;  // Ethernet, IPv4, UDP, then the message's mac1
    dp::frame_message m;
    m.kind = dp::frame_message::wireguard;
    uint64_t now = 1000 * k_ns_per_s;
    size_t next = 0;
    for (auto _ : state) {
        const std::vector<uint8_t>& frame = f.frames[next++ % f.frames.size()];
        m.len = uint16_t(frame.size());
        std::memcpy(m.data, frame.data(), frame.size());
        m.data[k_mac1] ^= 1;
        g.svc->on_frame(m, now += k_frame_gap_ns);
    }
    if (g.svc->counters().invalid_mac1 != uint64_t(state.iterations()) || g.svc->queued_initiations() != 0) {
        return state.SkipWithError("a frame with a bad mac1 was not refused as such");
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

}  // namespace

BENCHMARK(BM_WireGuard_service_handshakes)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK(BM_WireGuard_service_reject_bad_mac1);
