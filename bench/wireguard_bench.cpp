// edgegate-wg-bench: the WireGuard data path on one worker core — the real worker loop,
// pipeline and memory backend, the tunnel and peer from control/wireguard_service —
// next to the raw AEAD ceiling of the same library (OpenSSL EVP ChaCha20-Poly1305, one
// context per direction, in place) measured on the same core in the same run.
//
//   edgegate-wg-bench [--sizes 64,512,1420] [--seconds S] [--rounds R] [--outer ipv4|ipv6]
//
// encrypt: the vm port replays inner IPv4/UDP packets of SIZE bytes (the IP packet) to
//   the tunnel peer; each is routed, sealed and sent to the peer's endpoint (uplink sink).
// decrypt: the uplink replays transport messages from the peer, each carrying an inner
//   packet of SIZE bytes to the VM; each is authenticated, replay-checked, decrypted,
//   checked against the allowed IPs and routed to the vm port (sink). Every message has
//   its own counter (a replay would be dropped): each round seals a fresh batch with a
//   fresh keypair outside the timed part and times one pass over it.
// --outer ipv6: the tunnel also listens on the uplink's IPv6 address and the peer's
//   endpoint is IPv6 ([2001:db8:1::2]:51820): the outer headers are IPv6/UDP with the
//   UDP checksum IPv6 requires (default ipv4: IPv4/UDP, checksum 0).
// aead_seal / aead_open: the same sizes through crypto::aead_context alone.
// One JSON object per (direction, size): medians over the rounds, Gbit/s of inner IP
// bytes, and the ratio to the ceiling.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "control/snapshot_builder.hpp"
#include "control/wireguard_service.hpp"
#include "crypto/aead.hpp"
#include "crypto/transport.hpp"
#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/memory/memory_port.hpp"
#include "dataplane/wg_outer.hpp"
#include "dataplane/worker.hpp"

namespace {

using namespace eg;

constexpr const char* k_config = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
mac = "02:00:00:00:00:01"
ipv4 = ["192.168.100.1/24"]
[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
mac = "02:00:00:00:00:02"
ipv4 = ["203.0.113.1/24"]
ipv6 = ["2001:db8:1::1/64"]
mtu = 1500
[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"
)";

constexpr uint32_t k_vm1 = 0xc0a8640b;    // 192.168.100.11
constexpr uint32_t k_inner = 0x0a630002;  // 10.99.0.2
constexpr uint32_t k_gw = 0xcb007101;     // 203.0.113.1
constexpr uint32_t k_site = 0xcb007102;   // 203.0.113.2
const uint8_t k_vm_port_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t k_up_port_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t k_neighbour_mac[6] = {0x52, 0x54, 0, 0, 0, 0x22};
const uint8_t k_gw6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};    // 2001:db8:1::1
const uint8_t k_site6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};  // 2001:db8:1::2

struct options {
    std::vector<uint32_t> sizes = {64, 512, 1420};
    double seconds = 1;
    int rounds = 5;
    bool outer6 = false;
};

/// An Ethernet frame holding an IPv4/UDP packet of ip_len bytes.
std::vector<uint8_t> inner_frame(uint32_t src, uint32_t dst, uint32_t ip_len, const uint8_t* dmac, const uint8_t* smac) {
    std::vector<uint8_t> f(14 + ip_len, 0);
    std::memcpy(f.data(), dmac, 6);
    std::memcpy(f.data() + 6, smac, 6);
    dp::store16(f.data() + 12, dp::eth::type_ipv4);
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    dp::store16(ip + 2, static_cast<uint16_t>(ip_len));
    ip[8] = 64;
    ip[9] = dp::proto::udp;
    dp::store32(ip + 12, src);
    dp::store32(ip + 16, dst);
    dp::put_raw16(ip + 10, dp::checksum(ip, 20));
    dp::store16(ip + 20, 40000);
    dp::store16(ip + 22, 5000);
    dp::store16(ip + 24, static_cast<uint16_t>(ip_len - 20));
    return f;
}

/// A transport message from the site to our listen socket, over IPv4 or IPv6.
std::vector<uint8_t> outer_frame(std::span<const uint8_t> msg, bool v6) {
    const dp::wg_endpoint gw = v6 ? dp::wg_endpoint::v6(k_gw6, 51820) : dp::wg_endpoint::v4(k_gw, 51820);
    const uint32_t outer = dp::wg_outer_size(gw);
    std::vector<uint8_t> f(14 + outer + msg.size());
    std::memcpy(f.data(), k_up_port_mac, 6);
    std::memcpy(f.data() + 6, k_neighbour_mac, 6);
    dp::store16(f.data() + 12, v6 ? dp::eth::type_ipv6 : dp::eth::type_ipv4);
    std::memcpy(f.data() + 14 + outer, msg.data(), msg.size());
    dp::write_wg_outer(f.data() + 14, k_site, k_site6, 51820, gw, static_cast<uint32_t>(msg.size()), 0);
    return f;
}

struct rig {
    explicit rig(bool outer6) {
        dp::buffer_pool_options bo;
        bo.count = 8192;
        bo.buffer_size = 2048;
        pool = std::make_unique<dp::buffer_pool>(bo);
        dp::memory_port_options vo, uo;
        vo.port_index = 0;
        vo.mac = {0x02, 0, 0, 0, 0, 0x01};
        vo.tx_sink = true;
        uo.port_index = 1;
        uo.mac = {0x02, 0, 0, 0, 0, 0x02};
        uo.tx_sink = true;
        vm = std::make_unique<dp::memory_port>(vo, *pool);
        up = std::make_unique<dp::memory_port>(uo, *pool);
        cfg::wireguard_config t;
        t.name = "wg0";
        t.private_key.fill(0x41);
        t.address = *cfg::parse_ip("203.0.113.1");
        t.address6 = *cfg::parse_ip("2001:db8:1::1");
        cfg::wireguard_peer_config p;
        p.public_key = *cfg::decode_wg_key("3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=");
        p.allowed_ips = {*cfg::parse_prefix("10.99.0.0/24")};
        p.endpoint = *cfg::parse_ip(outer6 ? "2001:db8:1::2" : "203.0.113.2");
        p.endpoint_port = 51820;
        t.peers.push_back(p);
        ctl::wireguard_service::hooks h;
        h.originate = [](std::span<const uint8_t>) {};
        h.wake = [](uint32_t) {};
        service = std::make_unique<ctl::wireguard_service>(std::vector<cfg::wireguard_config>{t}, 1, h);
        const cfg::load_result lr = cfg::load_string(k_config, "wg-bench");
        auto s = ctl::build_snapshot(*lr.value, {{vo.mac}, {uo.mac}}, {}, 1);
        service->contribute(*s);
        snapshots.publish(std::move(s));
        const dp::mac_bytes nmac{0x52, 0x54, 0, 0, 0, 0x22};
        neighbours.set(dp::neighbour_key::ipv4(1, k_site), nmac);
        neighbours.set(dp::neighbour_key::ipv6(1, k_site6), nmac);
        neighbours.set(dp::neighbour_key::ipv4(0, k_vm1), nmac);
        dp::worker_options wo;
        wo.id = 0;
        wo.burst_size = 32;
        w = std::make_unique<dp::worker>(wo, std::vector<dp::port_io*>{vm.get(), up.get()}, snapshots, neighbours, punt,
                                         inject, -1, -1, counters);
        w->set_wireguard(service->worker_state(0));
    }

    /// A fresh keypair on both sides (new indices); the worker installs it on its next poll.
    void new_keypair(uint32_t round) {
        crypto::session_keys ours, theirs;
        crypto::random_bytes(ours.send);
        crypto::random_bytes(ours.receive);
        ours.local_index = 1000 + round;
        ours.remote_index = 5000 + round;
        ours.initiator = true;
        theirs.send = ours.receive;
        theirs.receive = ours.send;
        theirs.local_index = ours.remote_index;
        theirs.remote_index = ours.local_index;
        dp::wg_command* c = service->worker_state(0)->commands().reserve();
        c->op = dp::wg_command::install_keypair;
        c->slot = 0;
        c->keys = ours;
        c->birth_ns = dp::monotonic_ns();
        service->worker_state(0)->commands().commit();
        w->poll_once();
        site = std::make_unique<crypto::keypair>();
        site->init(theirs, dp::monotonic_ns());
    }

    std::unique_ptr<dp::buffer_pool> pool;
    std::unique_ptr<dp::memory_port> vm, up;
    std::unique_ptr<ctl::wireguard_service> service;
    dp::rcu_publisher<dp::snapshot> snapshots{1};
    dp::neighbour_table neighbours{64};
    dp::frame_ring punt{1024}, inject{16};
    dp::worker_counters counters;
    std::unique_ptr<dp::worker> w;
    std::unique_ptr<crypto::keypair> site;
};

uint64_t drops(const dp::worker_counters& c) {
    uint64_t n = 0;
    for (uint32_t r = 1; r < dp::k_drop_reason_count; ++r) n += c.drops[r].get();
    return n;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

/// Packets per second through encryption, one round of opt.seconds.
double encrypt_round(rig& r, uint32_t size, const options& opt) {
    const uint64_t t_end = dp::monotonic_ns() + static_cast<uint64_t>(opt.seconds * 1e9);
    for (int i = 0; i < 2000; ++i) r.w->poll_once();  // warm
    const uint64_t tx0 = r.up->tx_count(), t0 = dp::monotonic_ns();
    uint64_t now = t0;
    while (now < t_end) {
        for (int i = 0; i < 256; ++i) r.w->poll_once();
        now = dp::monotonic_ns();
    }
    (void)size;
    return (r.up->tx_count() - tx0) / ((now - t0) / 1e9);
}

/// Packets per second through decryption: one timed pass over `batch` fresh messages.
double decrypt_round(rig& r, uint32_t size, uint32_t batch, uint32_t round, bool outer6) {
    r.new_keypair(round);
    const std::vector<uint8_t> inner = inner_frame(k_inner, k_vm1, size, k_up_port_mac, k_neighbour_mac);
    std::vector<std::vector<uint8_t>> frames;
    frames.reserve(batch);
    for (uint32_t i = 0; i < batch; ++i) {
        std::vector<uint8_t> msg(crypto::sealed_size(size));
        size_t written = 0;
        r.site->seal(std::span<const uint8_t>(inner.data() + 14, size), msg, dp::monotonic_ns(), written);
        frames.push_back(outer_frame(std::span<const uint8_t>(msg.data(), written), outer6));
    }
    const uint64_t rx0 = r.up->rx_count(), tx0 = r.vm->tx_count();
    r.up->set_replay(std::move(frames));
    const uint64_t t0 = dp::monotonic_ns();
    while (r.up->rx_count() - rx0 < batch) r.w->poll_once();
    const uint64_t t1 = dp::monotonic_ns();
    r.up->set_replay({});
    const uint64_t done = r.vm->tx_count() - tx0;
    return done / ((t1 - t0) / 1e9);
}

/// The ceiling: seal (or open) `size`-byte messages in place through one EVP context.
double aead_round(uint32_t size, bool open, const options& opt) {
    crypto::key32 key{};
    crypto::random_bytes(key);
    crypto::aead_context seal_ctx, open_ctx;
    seal_ctx.init(crypto::aead_context::mode::seal, key);
    open_ctx.init(crypto::aead_context::mode::open, key);
    std::vector<uint8_t> buf(size + 16, 0x5a), sealed(size + 16);
    seal_ctx.seal(crypto::wg_nonce(7), buf.data(), size, sealed.data(), sealed.data() + size);
    const uint64_t t_end = dp::monotonic_ns() + static_cast<uint64_t>(opt.seconds * 1e9);
    uint64_t n = 0, counter = 0;
    const uint64_t t0 = dp::monotonic_ns();
    uint64_t now = t0;
    bool ok = true;
    while (now < t_end) {
        for (int i = 0; i < 256; ++i, ++n) {
            if (open) {
                ok &= open_ctx.open(crypto::wg_nonce(7), sealed.data(), size, sealed.data() + size, buf.data());
            } else {
                ok &= seal_ctx.seal(crypto::wg_nonce(counter++), buf.data(), size, buf.data(), buf.data() + size);
            }
        }
        now = dp::monotonic_ns();
    }
    return ok ? n / ((now - t0) / 1e9) : 0;
}

void report(const char* dir, uint32_t size, double pps, double ceiling_pps, uint64_t drop_count, bool outer6) {
    const double gbit = pps * size * 8 / 1e9, ceiling_gbit = ceiling_pps * size * 8 / 1e9;
    std::printf("{\"scenario\":\"wireguard-%s\",\"inner_ip_bytes\":%u,\"mpps\":%.3f,\"gbit_s\":%.2f,"
                "\"aead_%s_mpps\":%.3f,\"aead_%s_gbit_s\":%.2f,\"ratio_to_aead\":%.3f,\"drops\":%" PRIu64
                ",\"outer\":\"%s\",\"workers\":1,\"backend\":\"memory\",\"library\":\"OpenSSL EVP chacha20-poly1305\"}\n",
                dir, size, pps / 1e6, gbit, dir[0] == 'e' ? "seal" : "open", ceiling_pps / 1e6,
                dir[0] == 'e' ? "seal" : "open", ceiling_gbit, ceiling_pps > 0 ? pps / ceiling_pps : 0.0, drop_count,
                outer6 ? "ipv6" : "ipv4");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const std::string v = i + 1 < argc ? argv[i + 1] : "";
        if (a == "--seconds" && !v.empty()) {
            opt.seconds = std::stod(v), ++i;
        } else if (a == "--rounds" && !v.empty()) {
            opt.rounds = std::max(1, std::stoi(v)), ++i;
        } else if (a == "--sizes" && !v.empty()) {
            opt.sizes.clear();
            for (size_t at = 0; at < v.size();) {
                const size_t comma = v.find(',', at);
                opt.sizes.push_back(static_cast<uint32_t>(std::stoul(v.substr(at, comma - at))));
                at = comma == std::string::npos ? v.size() : comma + 1;
            }
            ++i;
        } else if (a == "--outer" && (v == "ipv4" || v == "ipv6")) {
            opt.outer6 = v == "ipv6", ++i;
        } else {
            std::fprintf(stderr,
                         "usage: edgegate-wg-bench [--sizes 64,512,1420] [--seconds S] [--rounds R] [--outer ipv4|ipv6]\n");
            return 2;
        }
    }
    for (uint32_t size : opt.sizes) {
        if (size < 28 || size > 1420) {
            std::fprintf(stderr, "edgegate-wg-bench: sizes are inner IP bytes, 28..1420\n");
            return 2;
        }
    }
    int rc = 0;
    for (uint32_t size : opt.sizes) {
        std::vector<double> enc, dec, seal, open;
        for (int round = 0; round < opt.rounds; ++round) {
            rig r(opt.outer6);
            r.new_keypair(static_cast<uint32_t>(round));
            r.vm->set_replay({inner_frame(k_vm1, k_inner, size, k_vm_port_mac, k_neighbour_mac)});
            enc.push_back(encrypt_round(r, size, opt));
            r.vm->set_replay({});
            const uint64_t d0 = drops(r.counters);
            // Whole bursts (the worker's 32): a last burst reaching past the batch would take
            // the replay's first messages again, and count them as replayed drops.
            uint32_t batch = static_cast<uint32_t>(std::min(200000.0, std::max(20000.0, enc.back() * opt.seconds)));
            batch = (batch + 31) / 32 * 32;
            dec.push_back(decrypt_round(r, size, batch, static_cast<uint32_t>(round + 100), opt.outer6));
            if (drops(r.counters) != d0) rc = 1;  // the pass must decrypt every message
            seal.push_back(aead_round(size, false, opt));
            open.push_back(aead_round(size, true, opt));
        }
        report("encrypt", size, median(enc), median(seal), 0, opt.outer6);
        report("decrypt", size, median(dec), median(open), static_cast<uint64_t>(rc), opt.outer6);
    }
    return rc;
}
