// libFuzzer target for the WireGuard data path inside the packet path
// (dataplane/wireguard.cpp through eg::dp::process_burst, the worker's GSO
// segmentation into the tunnel, dataplane/gso_segment.cpp): a snapshot from real TOML
// once plus the tunnel and peer contributed by the real control/wireguard_service, the
// worker's wireguard_state with a keypair installed through wg_command (as
// tests/unit/dataplane/wireguard_datapath_test.cpp does), and the far end played by an
// independent crypto::keypair that seals what the fuzzer wants the gateway to receive
// and opens everything the gateway sends.
//
//   vm1 192.168.100.11 ── [vm | edgegate wg0 203.0.113.1:51820     | uplink] ── 203.0.113.2:51820 site
//     2001:db8:1::101              [2001:db8:1::1]:51820                   [2001:db8:1::2]:51820
//                                  peer allowed_ips 10.99.0.0/24, fd00:99::/64
//
// Each input starts from a fresh peer (set_peer: endpoint 203.0.113.2:51820, no keys)
// and a fresh keypair installed as initiator (current at once), the clock moved on.
// The site may send from IPv4 or IPv6 (the tunnel listens on both uplink addresses);
// the endpoint roams to the last authenticated source, of either family, and the
// gateway's messages go out over that family.
//
// Contract checked (pipeline.hpp, wireguard.hpp, gso_segment.hpp): nothing read or
// written out of bounds, no UB, no leak; every packet leaves with a verdict; a
// transmitted frame lies inside its buffer; a dropped one names a real reason; a
// transmitted IPv4 frame has a valid header checksum; every transport message the
// gateway sends from its listen socket opens at the far end, in counter order, padded
// to 16 with zeros, in a frame that holds exactly the outer packet, to a source the
// site sent from (or the config's endpoint); over IPv6, from our address6 with
// version 6, traffic class and flow 0, hop limit 64, payload length the UDP length,
// next header UDP and a non-zero, valid UDP checksum (IPv4: a valid header checksum);
// and its inner packet is the one routed in with TTL/hop limit
// decremented (the MSS of a SYN clamped to the tunnel, an offloaded L4 checksum
// completed), or an ICMP error of the gateway's with valid checksums, and never longer
// than what went in. Segments of a GSO super-packet (cut with segment_gso and sent with
// wireguard_send, as worker::segment_into_tunnel does) each open, carry valid IP and L4
// checksums, and together carry the super-packet's payload in order. A decrypted
// packet delivered to vm1 is the sealed inner packet with TTL/hop limit decremented.
// WG_PIPELINE_FUZZ_STATS=1 prints at exit how often each of these oracles held.
//
// Input: a sequence of records
//   ctl(1) len(2, big-endian) body(len)
//   ctl bits 0-2  kind:
//     0  raw frame, as is, on port ctl bit 3 (0: vm, 1: uplink)
//     1  UDP to the listen socket from the uplink: the payload is the body as is;
//        ctl bits 3-4 pick the outer source (site, roamed, unresolved, site port 4000),
//        ctl bit 5 its family: 0 IPv4 to 203.0.113.1 (203.0.113.2, .9, .77), 1 IPv6
//        to [2001:db8:1::1] (2001:db8:1::2, ::9, ::4d) with a valid UDP checksum
//     2,6 transport message sealed by the far end: body[0] flags
//          bits 0-1 outer source (as kind 1)
//          bit 2    xor body[2] into the sealed message at body[1] (mod its size)
//          bit 3    send it twice (a replay)
//          bit 4    synthesise the inner IP header (version, lengths, checksum,
//                   addresses from body[3]: src bits 0-3, dst bits 4-7, of the table)
//          bit 5    inner IPv6 (with bit 4)
//          bit 6    with bit 4: set the inner L4 checksum right
//          bit 7    the outer source's IPv6 address (as kind 1's ctl bit 5)
//        inner = body[4..]
//     3,7 packet on the vm port from vm1's MAC: body[0] addresses (src bits 0-3, dst
//        bits 4-7, of the table; 0x10 is vm1 to 10.99.0.2), body[1] flags
//          bit 0    IPv6
//          bit 1    set the L4 checksum right (TCP/UDP/ICMP, whole messages)
//          bit 2    offload: needs_csum (checksum field = pseudo-header sum)
//          bit 3    offload: GSO super-packet (gso_size = body[2..3], type by protocol)
//          bit 4    4 bytes of Ethernet padding after the IP packet
//          bit 5    needs_csum with csum_start body[2..3], csum_offset body[4] (any;
//                   the inner packet is then compared for length only)
//          bit 6    IPv4: don't touch the fragment field (else DF and no fragment)
//        the IP packet is body[4..] with version, lengths, addresses, checksum set
//     4  clock: advance by a step from ctl bits 3-5 (1 ms .. 600 s)
//     5  command, ctl bits 3-4: clear_keys, install a fresh keypair (ctl bit 5: ours
//        as responder, next until the site's first message under it), send_keepalive,
//        set_peer (endpoint back to the config's, keys dropped; ctl bit 5: to
//        [2001:db8:1::2]:51820 instead)
//   ctl bit 7   end the burst after this packet (also at k_max_burst and at the end)
// Kinds 4 and 5 end the burst before they run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "control/snapshot_builder.hpp"
#include "control/wireguard_service.hpp"
#include "crypto/messages.hpp"
#include "crypto/transport.hpp"
#include "dataplane/gso_segment.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/memory/memory_port.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/wireguard.hpp"
#include "dataplane/wireguard_state.hpp"

namespace {

using namespace eg;

constexpr const char* k_config = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
ipv6 = ["2001:db8:100::1/64"]

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]
ipv6 = ["2001:db8:1::1/64"]

[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"

[[routes]]
prefix = "2001:db8:1::100/122"
port = "vm"
)";

constexpr uint16_t k_vm = 0, k_up = 1;
constexpr uint32_t k_tunnel_mtu = 1420;
constexpr uint8_t k_vm_port_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
constexpr uint8_t k_up_port_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
constexpr uint8_t k_vm1_mac[6] = {0x52, 0x54, 0, 0, 0, 0x11};
constexpr uint8_t k_site_mac[6] = {0x52, 0x54, 0, 0, 0, 0x22};
constexpr uint32_t k_gw = 0xcb007101, k_site = 0xcb007102, k_roamed = 0xcb007109, k_unresolved = 0xcb00714d;
constexpr uint32_t k_vm1 = 0xc0a8640b;
constexpr uint16_t k_listen = 51820;

// Our IPv6 listen address (the tunnel's address6) and the site's IPv6 addresses.
constexpr uint8_t k_gw6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
constexpr uint8_t k_site6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
constexpr uint8_t k_roamed6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09};
constexpr uint8_t k_unresolved6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x4d};

// Outer sources of messages to the listen socket (IPv4, and the same over IPv6).
constexpr uint32_t k_outer_src[4] = {k_site, k_roamed, k_unresolved, k_site};
constexpr const uint8_t* k_outer_src6[4] = {k_site6, k_roamed6, k_unresolved6, k_site6};
constexpr uint16_t k_outer_sport[4] = {51820, 51820, 51820, 4000};

// Inner IPv4 addresses (host order).
constexpr uint32_t k_addrs4[16] = {
    0xc0a8640b,  // vm1
    0x0a630002,  // 10.99.0.2 (peer)
    0x0a630003,  // 10.99.0.3 (peer)
    0x0a6300ff,  // 10.99.0.255 (peer)
    0x0a620005,  // 10.98.0.5 (outsider)
    0xc0a86401,  // gateway, vm side
    0xcb007101,  // gateway, uplink (listen address)
    0xcb007102,  // site endpoint
    0x08080808,  // far away
    0xc0a86463,  // unbound on the vm link
    0x0a630001,  // 10.99.0.1 (peer)
    0x7f000001,  // loopback (martian)
    0xe0000001,  // multicast (martian)
    0x0a630080,  // 10.99.0.128 (peer)
    0xc0a8640c,  // another vm address
    0x00000000,  // zero
};
// Inner IPv6 addresses.
constexpr uint8_t k_addrs6[16][16] = {
    {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01},       // vm1 2001:db8:1::101
    {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},                   // fd00:99::2 (peer)
    {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3},                   // fd00:99::3 (peer)
    {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},  // peer, last
    {0xfd, 0, 0, 0x98, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5},                   // outsider
    {0x20, 0x01, 0x0d, 0xb8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},          // gateway, vm side
    {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},                   // link-local
    {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},                   // multicast
    {0x20, 0x01, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88},       // far away
    {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x3f},       // vm route, unresolved
    {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},                   // fd00:99::1 (peer)
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},                         // ::1
    {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34},             // peer
    {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01},       // vm1 again
    {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},                   // peer again
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},                         // ::
};
constexpr uint64_t k_steps_ns[8] = {1'000'000ULL,         1'000'000'000ULL,   10'000'000'000ULL,
                                    61'000'000'000ULL,    121'000'000'000ULL, 181'000'000'000ULL,
                                    600'000'000'000ULL,   100'000'000ULL};

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t rd32(const uint8_t* p) { return uint32_t{rd16(p)} << 16 | rd16(p + 2); }
void wr16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void wr32(uint8_t* p, uint32_t v) {
    wr16(p, static_cast<uint16_t>(v >> 16));
    wr16(p + 2, static_cast<uint16_t>(v));
}
uint64_t rd64le(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
/// RFC 1071 ones' complement sum, byte by byte (independent of dataplane/checksum.hpp).
uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i < n; ++i) {
        s += (i & 1) ? p[i] : uint32_t{p[i]} << 8;
        s = (s & 0xffff) + (s >> 16);
    }
    return s;
}
uint32_t pseudo_sum(const uint8_t* ip, bool v6, uint8_t proto, uint32_t len) {
    uint32_t s = v6 ? sum16(ip + 8, 32) : sum16(ip + 12, 8);
    s += proto;
    s = (s & 0xffff) + (s >> 16);
    const uint8_t l[4] = {static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16),
                          static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
    return sum16(l, 4, s);
}

/// Where a whole unfragmented TCP/UDP/ICMP(v6) message's checksum lies in an IP packet
/// (offset from ip), with its L4 offset and initial sum; false when there is none.
struct l4_info {
    uint32_t l4 = 0, at = 0, init = 0;
    uint8_t proto = 0;
};
bool l4_of(const uint8_t* ip, uint32_t total, bool v6, l4_info& r) {
    uint32_t l4 = 0;
    uint8_t proto = 0;
    if (v6) {
        if (total < 40) return false;
        l4 = 40;
        proto = ip[6];
    } else {
        l4 = (ip[0] & 0xf) * 4u;
        if (l4 < 20 || l4 > total || (rd16(ip + 6) & 0x3fff) != 0) return false;
        proto = ip[9];
    }
    const uint32_t len = total - l4;
    r.l4 = l4;
    r.proto = proto;
    switch (proto) {
    case 6:
        if (len < 20) return false;
        r.at = l4 + 16;
        r.init = pseudo_sum(ip, v6, 6, len);
        return true;
    case 17:
        if (len < 8) return false;
        r.at = l4 + 6;
        r.init = pseudo_sum(ip, v6, 17, len);
        return true;
    case 1:
        if (v6 || len < 8) return false;
        r.at = l4 + 2;
        r.init = 0;
        return true;
    case 58:
        if (!v6 || len < 8) return false;
        r.at = l4 + 2;
        r.init = pseudo_sum(ip, v6, 58, len);
        return true;
    default:
        return false;
    }
}
void fix_l4_checksum(uint8_t* ip, uint32_t total, bool v6) {
    l4_info li;
    if (!l4_of(ip, total, v6, li)) return;
    wr16(ip + li.at, 0);
    uint16_t c = static_cast<uint16_t>(~sum16(ip + li.l4, total - li.l4, li.init));
    if (li.proto == 17 && c == 0) c = 0xffff;
    wr16(ip + li.at, c);
}
bool l4_checksum_ok(const uint8_t* ip, uint32_t total, bool v6) {
    l4_info li;
    if (!l4_of(ip, total, v6, li)) return true;
    if (li.proto == 17 && !v6 && rd16(ip + li.at) == 0) return true;  // IPv4 UDP: none
    return sum16(ip + li.l4, total - li.l4, li.init) == 0xffff;
}
void fix_ip4_header(uint8_t* ip) {
    const uint32_t ihl = (ip[0] & 0xf) * 4u;
    wr16(ip + 10, 0);
    wr16(ip + 10, static_cast<uint16_t>(~sum16(ip, ihl)));
}

/// Reference MSS clamp (RFC 879, RFC 9293 §3.7.1): lowers the MSS option of a TCP SYN
/// to max_mss; true if it changed.
bool clamp_mss_reference(uint8_t* ip, uint32_t total, bool v6, uint16_t max_mss) {
    uint32_t l4 = 0;
    if (v6) {
        if (ip[6] != 6) return false;
        l4 = 40;
    } else {
        if (ip[9] != 6 || (rd16(ip + 6) & 0x1fff) != 0) return false;
        l4 = (ip[0] & 0xf) * 4u;
    }
    if (total < l4 + 20) return false;
    uint8_t* tcp = ip + l4;
    if (!(tcp[13] & 0x02)) return false;
    const uint32_t header = (tcp[12] >> 4) * 4u;
    if (header < 20 || l4 + header > total) return false;
    uint32_t i = 20;
    while (i < header) {
        if (tcp[i] == 0) return false;
        if (tcp[i] == 1) {
            ++i;
            continue;
        }
        if (i + 1 >= header || tcp[i + 1] < 2 || i + tcp[i + 1] > header) return false;
        if (tcp[i] == 2 && tcp[i + 1] == 4) {
            if (rd16(tcp + i + 2) > max_mss) {
                wr16(tcp + i + 2, max_mss);
                return true;
            }
            return false;
        }
        i += tcp[i + 1];
    }
    return false;
}

/// What a packet routed into the tunnel should look like when it comes out of it.
struct expectation {
    enum kind_t : uint8_t { none, exact, segments, fragments } kind = none;
    bool v6 = false;
    bool l4_right = false;         ///< its L4 checksum must be right on the way out
    std::vector<uint8_t> inner;    ///< the IP packet as routed in (trimmed)
    uint32_t max_len = 0;          ///< its length, also with kind none (0: unknown)
    bool from_tunnel = false;      ///< sealed by the site (else sent by vm1)
};

struct pending {
    eg::dp::packet* p = nullptr;
    expectation exp;
    bool lookalike = false;  ///< came in already looking like a message from our socket
};

/// An IPv4 or IPv6 UDP frame from our listen address and port (untagged or one 802.1Q
/// tag): forwarded as it is, it would pass for a transport message of ours.
bool looks_like_ours(const uint8_t* f, uint32_t len) {
    for (uint32_t l3 : {14u, 18u}) {
        if (len >= l3 + 28 && rd16(f + l3 - 2) == 0x0800) {
            const uint8_t* ip = f + l3;
            const uint32_t ihl = (ip[0] & 0xf) * 4u;
            if (ip[9] == 17 && rd32(ip + 12) == k_gw && len >= l3 + ihl + 2 && rd16(ip + ihl) == k_listen) return true;
        }
        if (len >= l3 + 48 && rd16(f + l3 - 2) == 0x86dd) {
            const uint8_t* ip = f + l3;
            if (ip[6] == 17 && std::memcmp(ip + 8, k_gw6, 16) == 0 && rd16(ip + 40) == k_listen) return true;
        }
    }
    return false;
}

/// Whether port at addr (4 bytes: IPv4, else 16) is where the gateway may send the
/// site's messages: the config's endpoint or a source the site sent from (a raw frame
/// cannot authenticate, so it never moves the endpoint).
bool plausible_endpoint(const uint8_t* addr, bool v6, uint16_t port) {
    for (uint32_t i = 0; i < 4; ++i) {
        if (port != k_outer_sport[i]) continue;
        if (v6 ? std::memcmp(addr, k_outer_src6[i], 16) == 0 : rd32(addr) == k_outer_src[i]) return true;
    }
    return false;
}

struct world {
    std::unique_ptr<ctl::wireguard_service> service;
    std::unique_ptr<dp::snapshot> snap;
    dp::buffer_pool pool{dp::buffer_pool_options{.count = 4 * dp::k_max_burst, .buffer_size = 8192}};
    dp::memory_port seg_port{dp::memory_port_options{}, pool};
    dp::worker_counters counters;
    dp::frame_ring ring{64};
    dp::neighbour_table neighbours{256};
    dp::worker_context w{counters, ring, neighbours};
    /// The site's ends of this input's keypairs (the gateway may keep sending on an
    /// old current one while newer ones wait as next); the site seals with the newest.
    struct far_keys {
        crypto::keypair kp;
        uint32_t index = 0;          ///< the site's receiver index
        uint64_t next_counter = 0;   ///< the lowest counter the next message may carry
        bool valid = false;
    };
    std::vector<std::unique_ptr<far_keys>> fars;
    uint32_t generation = 0;
    uint64_t now_ns = 10'000'000'000ULL;

    world() {
        cfg::wireguard_config t;
        t.name = "wg0";
        t.private_key.fill(0x41);
        t.address = *cfg::parse_ip("203.0.113.1");
        t.address6 = *cfg::parse_ip("2001:db8:1::1");
        if (!t.address6->v6 || std::memcmp(t.address6->bytes.data(), k_gw6, 16) != 0) __builtin_trap();
        t.listen_port = k_listen;
        t.mtu = k_tunnel_mtu;
        cfg::wireguard_peer_config pc;
        pc.name = "site";
        pc.public_key = *cfg::decode_wg_key("3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=");
        pc.allowed_ips = {*cfg::parse_prefix("10.99.0.0/24"), *cfg::parse_prefix("fd00:99::/64")};
        pc.endpoint = *cfg::parse_ip("203.0.113.2");
        pc.endpoint_port = k_listen;
        t.peers.push_back(pc);
        ctl::wireguard_service::hooks h;
        h.originate = [](std::span<const uint8_t>) {};
        h.wake = [](uint32_t) {};
        service = std::make_unique<ctl::wireguard_service>(std::vector<cfg::wireguard_config>{t}, 1, h);

        const cfg::load_result r = cfg::load_string(k_config, "wireguard_pipeline_fuzz.toml");
        if (!r.value) __builtin_trap();
        std::vector<ctl::port_runtime_info> ports;
        ports.push_back({{0x02, 0, 0, 0, 0, 0x01}});
        ports.push_back({{0x02, 0, 0, 0, 0, 0x02}});
        snap = ctl::build_snapshot(*r.value, ports, {0x02, 0, 0, 0, 0, 0xff}, 1);
        service->contribute(*snap);
        if (!snap->wg.enabled) __builtin_trap();
        w.wg = service->worker_state(0);
        w.now_ns = now_ns;
        w.now_s = static_cast<uint32_t>(now_ns / 1'000'000'000ULL);
        while (dp::wg_command* c = w.wg->commands().front()) {
            w.wg->apply(*c, w.now_ns);
            w.wg->commands().pop();
        }
        const dp::mac_bytes site{0x52, 0x54, 0, 0, 0, 0x22};
        neighbours.set(dp::neighbour_key::ipv4(k_up, k_site), site);
        neighbours.set(dp::neighbour_key::ipv4(k_up, k_roamed), site);
        neighbours.set(dp::neighbour_key::ipv6(k_up, k_site6), site);  // k_unresolved(6): never
        neighbours.set(dp::neighbour_key::ipv6(k_up, k_roamed6), site);
        neighbours.set(dp::neighbour_key::ipv4(k_vm, k_vm1), {0x52, 0x54, 0, 0, 0, 0x11});
        neighbours.set(dp::neighbour_key::ipv6(k_vm, k_addrs6[0]), {0x52, 0x54, 0, 0, 0, 0x11});
    }

    void set_time() {
        w.now_ns = now_ns;
        w.now_s = static_cast<uint32_t>(now_ns / 1'000'000'000ULL);
    }
    /// set_peer: to the config's endpoint, or (endpoint6) to the site's IPv6 one.
    void command(dp::wg_command::op_t op, bool endpoint6 = false) {
        dp::wg_command c;
        c.op = op;
        c.slot = 0;
        c.tunnel = 0;
        if (op == dp::wg_command::set_peer) {
            c.endpoint = endpoint6 ? dp::wg_endpoint::v6(k_site6, k_listen) : dp::wg_endpoint::v4(k_site, k_listen);
        }
        w.wg->apply(c, now_ns);
    }
    /// A fresh keypair: ours as initiator (current at once), the site's as responder.
    crypto::keypair& far() { return fars.back()->kp; }
    far_keys* far_for(uint32_t index) {
        for (auto it = fars.rbegin(); it != fars.rend(); ++it) {
            if ((*it)->valid && (*it)->index == index) return it->get();
        }
        return nullptr;
    }
    /// A fresh keypair. ours_initiator: ours is current at once (the site responded);
    /// else ours is next until the site's first message under it confirms it (the
    /// site initiated), and the gateway goes on sending on the current one meanwhile.
    void install(bool ours_initiator = true) {
        ++generation;
        crypto::session_keys ours, theirs;
        ours.send.fill(static_cast<uint8_t>(0x11 + generation));
        ours.receive.fill(static_cast<uint8_t>(0x22 + 3 * generation));
        ours.local_index = 0x01000000 | (generation & 0xffffff);
        ours.remote_index = 0x0a000000 | (generation & 0xffffff);
        ours.initiator = ours_initiator;
        theirs.initiator = !ours_initiator;
        theirs.send = ours.receive;
        theirs.receive = ours.send;
        theirs.local_index = ours.remote_index;
        theirs.remote_index = ours.local_index;
        dp::wg_command c;
        c.op = dp::wg_command::install_keypair;
        c.slot = 0;
        c.keys = ours;
        c.birth_ns = now_ns;
        w.wg->apply(c, now_ns);
        fars.push_back(std::make_unique<far_keys>());
        far_keys& f = *fars.back();
        f.valid = f.kp.init(theirs, now_ns);
        if (!f.valid) __builtin_trap();
        f.index = theirs.local_index;
        f.next_counter = 0;
    }
    void reset() {
        now_ns += 1000'000'000'000ULL;
        set_time();
        command(dp::wg_command::set_peer);
        fars.clear();
        install();
        w.icmp_limiter = dp::icmp_rate_limiter{};
        w.icmp_limiter.set_rate(1000);
        drain_punts();
    }
    void drain_punts() {
        while (dp::frame_message* m = ring.front()) {
            if (m->len > dp::k_frame_message_max) __builtin_trap();
            ring.pop();
        }
    }
};

/// How often each oracle held (printed at exit with WG_PIPELINE_FUZZ_STATS=1, to see
/// that a corpus reaches them).
struct oracle_stats {
    uint64_t opened = 0, keepalives = 0, opened6 = 0, exact = 0, errors = 0, segments = 0, segmented = 0,
             delivered = 0, fragments = 0, fragmented = 0;
};
oracle_stats g_stats;

world& get_world() {
    static world* w = [] {
        if (std::getenv("WG_PIPELINE_FUZZ_STATS")) {
            std::atexit([] {
                std::fprintf(stderr, "delivered %lu; opened %lu (keepalives %lu, outer IPv6 %lu), exact %lu, icmp errors %lu, "
                             "segments %lu of %lu super-packets, fragments %lu of %lu packets\n",
                             static_cast<unsigned long>(g_stats.delivered),
                             static_cast<unsigned long>(g_stats.opened), static_cast<unsigned long>(g_stats.keepalives),
                             static_cast<unsigned long>(g_stats.opened6),
                             static_cast<unsigned long>(g_stats.exact), static_cast<unsigned long>(g_stats.errors),
                             static_cast<unsigned long>(g_stats.segments), static_cast<unsigned long>(g_stats.segmented),
                             static_cast<unsigned long>(g_stats.fragments), static_cast<unsigned long>(g_stats.fragmented));
            });
        }
        return new world();  // never destroyed: libFuzzer may exit at any time
    }();
    return *w;
}

/// A transport message the gateway sent, to be opened at the far end.
struct sent_msg {
    uint64_t counter;
    uint8_t* msg;
    uint32_t len;
    const expectation* exp;
    uint32_t segment;  ///< index among a super-packet's segments
    bool outer6;       ///< sent over IPv6
};

/// Whether the IP packet at `in` is exp's packet routed once: TTL/hop limit one
/// lower, and, into the tunnel, the MSS of a SYN clamped and an offloaded checksum
/// completed. Checksums are checked for validity, their values not compared (an
/// incremental update and a whole computation may differ in the sign of 0).
bool is_expected(const uint8_t* in, uint32_t total, bool v6, const expectation& exp, bool into_tunnel) {
    std::vector<uint8_t> want = exp.inner;
    uint8_t* wip = want.data();
    const uint32_t wtotal = static_cast<uint32_t>(want.size());
    if (total != wtotal || v6 != exp.v6) return false;
    if (v6) {
        wip[7] -= 1;
    } else {
        wip[8] -= 1;
        fix_ip4_header(wip);
    }
    const bool clamped = into_tunnel && clamp_mss_reference(wip, wtotal, v6, static_cast<uint16_t>(k_tunnel_mtu - (v6 ? 60 : 40)));
    l4_info li;
    const bool has_l4 = l4_of(wip, wtotal, v6, li);
    if (!v6) std::memcpy(wip + 10, in + 10, 2);
    if (has_l4 && (exp.l4_right || clamped)) std::memcpy(wip + li.at, in + li.at, 2);
    if (std::memcmp(in, wip, wtotal) != 0) return false;
    if (exp.l4_right && !l4_checksum_ok(in, total, v6)) __builtin_trap();
    if (exp.l4_right && has_l4 && li.proto == 17 && rd16(in + li.at) == 0) __builtin_trap();
    return true;
}

/// An ICMP(v6) error the gateway built (the inner of a message that is not the packet
/// routed in): valid checksums.
bool is_gateway_icmp_error(const uint8_t* ip, uint32_t total, bool v6) {
    if (v6) {
        if (total < 48 || ip[6] != 58 || ip[40] > 4) return false;
    } else {
        const uint32_t ihl = (ip[0] & 0xf) * 4u;
        if (total < ihl + 8 || ip[9] != 1 || (ip[ihl] != 3 && ip[ihl] != 11 && ip[ihl] != 12)) return false;
        if (sum16(ip, ihl) != 0xffff) __builtin_trap();
    }
    if (!l4_checksum_ok(ip, total, v6)) __builtin_trap();
    return true;
}

/// The gateway's echo reply to `sent`, an echo request the site sent to one of the
/// gateway's own addresses (its TTL or hop limit does not matter: it is delivered, not
/// forwarded): the same family, addresses swapped, type 0 (ICMPv6: 129), the same
/// identifier, sequence and data, and valid checksums.
bool is_gateway_echo_reply(const uint8_t* ip, uint32_t total, bool v6, const std::vector<uint8_t>& sent) {
    if (sent.empty() || ((sent[0] >> 4) == 6) != v6) return false;
    if (v6) {
        if (sent.size() < 48 || total < 48 || sent[6] != 58 || sent[40] != 128 || ip[6] != 58 || ip[40] != 129)
            return false;
        if (std::memcmp(ip + 8, sent.data() + 24, 16) != 0 || std::memcmp(ip + 24, sent.data() + 8, 16) != 0)
            return false;
        if (total != sent.size() || std::memcmp(ip + 44, sent.data() + 44, total - 44) != 0) return false;
        if (!l4_checksum_ok(ip, total, true)) __builtin_trap();
        return true;
    }
    if (sent.size() < 28 || (sent[0] >> 4) != 4 || sent[9] != 1) return false;
    const uint32_t ihl = (ip[0] & 0xf) * 4u, sent_ihl = (sent[0] & 0xf) * 4u;
    if (total < ihl + 8 || ip[9] != 1 || ip[ihl] != 0 || sent.size() < sent_ihl + 8 || sent[sent_ihl] != 8) return false;
    if (std::memcmp(ip + 12, sent.data() + 16, 4) != 0 || std::memcmp(ip + 16, sent.data() + 12, 4) != 0) return false;
    if (total - ihl != sent.size() - sent_ihl || std::memcmp(ip + ihl + 4, sent.data() + sent_ihl + 4, total - ihl - 4) != 0)
        return false;
    if (sum16(ip, ihl) != 0xffff || sum16(ip + ihl, total - ihl) != 0xffff) __builtin_trap();
    return true;
}

/// Checks a frame with a verdict; collects the transport messages it carries.
void check_frame(world& wd, dp::packet* p, const expectation* exp, uint32_t segment, bool lookalike,
                 std::vector<sent_msg>& msgs) {
    using namespace eg::dp;
    if (p->verdict == k_verdict_none) __builtin_trap();
    const bool fragment = p->verdict < k_verdict_special && (p->verdict & k_verdict_fragment);
    const uint16_t tx_port = fragment ? p->verdict & ~k_verdict_fragment : p->verdict;
    if (tx_port < wd.snap->ports.size()) {
        if (p->data < p->buf || p->len < 14 || p->data + p->len > p->buf + p->buf_size) __builtin_trap();
        const uint8_t* f = p->data;
        if (p->len >= 54 && rd16(f + 12) == 0x86dd && exp != nullptr && exp->kind == expectation::exact &&
            exp->from_tunnel && tx_port == k_vm) {
            const uint8_t* ip = f + 14;
            const uint32_t total = 40u + rd16(ip + 4);
            if (std::memcmp(f, k_vm1_mac, 6) != 0 || p->len != 14 + total) __builtin_trap();
            if (is_expected(ip, total, true, *exp, false)) {
                ++g_stats.delivered;
            } else if (!is_gateway_icmp_error(ip, total, true)) {
                __builtin_trap();
            }
        }
        if (p->len >= 34 && rd16(f + 12) == 0x0800) {
            const uint8_t* ip = f + 14;
            const uint32_t ihl = (ip[0] & 0xf) * 4u;
            const uint32_t total = rd16(ip + 2);
            if ((ip[0] >> 4) != 4 || ihl < 20 || 14 + ihl > p->len || 14 + total > p->len) __builtin_trap();
            if (sum16(ip, ihl) != 0xffff) __builtin_trap();  // IPv4 header checksum
            // Decrypted and delivered to vm1: the inner packet, TTL one lower.
            if (exp != nullptr && exp->kind == expectation::exact && exp->from_tunnel && tx_port == k_vm &&
                !fragment) {
                if (std::memcmp(f, k_vm1_mac, 6) != 0 || p->len != 14 + total) __builtin_trap();
                if (is_expected(ip, total, false, *exp, false)) {
                    ++g_stats.delivered;
                } else if (!is_gateway_icmp_error(ip, total, false)) {
                    __builtin_trap();
                }
            }
            // From our listen socket: a transport message (the only kind workers send).
            if (!lookalike && ip[9] == 17 && rd32(ip + 12) == k_gw && total >= ihl + 8 && rd16(ip + ihl) == k_listen) {
                if (tx_port != k_up || fragment || p->len != 14 + total) __builtin_trap();
                const uint8_t* udp = ip + ihl;
                const uint32_t udp_len = rd16(udp + 4);
                if (udp_len != total - ihl || udp_len < 8 + crypto::k_transport_min_size) __builtin_trap();
                if (!plausible_endpoint(ip + 16, false, rd16(udp + 2))) __builtin_trap();
                uint8_t* msg = p->data + 14 + ihl + 8;
                msgs.push_back({rd64le(msg + 8), msg, udp_len - 8, exp, segment, false});
            }
        }
        // From our IPv6 listen socket: a transport message over IPv6, its outer header as
        // seal_and_route writes it and UDP's checksum mandatory (RFC 8200 §8.1).
        if (!lookalike && p->len >= 14 + 48 && rd16(f + 12) == 0x86dd && f[14 + 6] == 17 &&
            std::memcmp(f + 14 + 8, k_gw6, 16) == 0 && rd16(f + 14 + 40) == k_listen) {
            const uint8_t* ip = f + 14;
            const uint8_t* udp = ip + 40;
            const uint32_t udp_len = rd16(ip + 4);
            if (tx_port != k_up || fragment) __builtin_trap();
            if (rd32(ip) != 0x60000000u || ip[7] != 64) __builtin_trap();  // version 6, no class or flow
            if (p->len != 14 + 40 + udp_len || rd16(udp + 4) != udp_len) __builtin_trap();
            if (udp_len < 8 + crypto::k_transport_min_size) __builtin_trap();
            if (rd16(udp + 6) == 0 || sum16(udp, udp_len, pseudo_sum(ip, true, 17, udp_len)) != 0xffff) __builtin_trap();
            if (!plausible_endpoint(ip + 24, true, rd16(udp + 2))) __builtin_trap();
            uint8_t* msg = p->data + 14 + 40 + 8;
            msgs.push_back({rd64le(msg + 8), msg, udp_len - 8, exp, segment, true});
        }
    } else if (p->verdict == k_verdict_drop) {
        if (p->drop_reason == 0 || p->drop_reason >= k_drop_reason_count) __builtin_trap();
    } else if (p->verdict != k_verdict_consumed) {
        __builtin_trap();
    }
}

/// The far end opens what the gateway sent, in counter order, and compares.
void open_at_far_end(world& wd, std::vector<sent_msg>& msgs) {
    // By keypair (receiver index), then counter: counters count per keypair.
    std::sort(msgs.begin(), msgs.end(), [](const sent_msg& a, const sent_msg& b) {
        const uint32_t ia = rd32(a.msg + 4), ib = rd32(b.msg + 4);
        return ia != ib ? ia < ib : a.counter < b.counter;
    });
    // Segments of each super-packet, by expectation, in order.
    const expectation* seg_exp = nullptr;
    uint32_t seg_payload_at = 0;
    uint32_t seg_next = 0;
    for (sent_msg& m : msgs) {
        const uint32_t index = static_cast<uint32_t>(m.msg[4] | m.msg[5] << 8 | m.msg[6] << 16) | uint32_t{m.msg[7]} << 24;
        world::far_keys* fk = wd.far_for(index);
        if (fk == nullptr) __builtin_trap();  // the gateway sent on keys the site does not have
        if (m.counter < fk->next_counter) __builtin_trap();  // out of order or repeated
        fk->next_counter = m.counter + 1;
        std::span<uint8_t> plain;
        const crypto::transport_error e = fk->kp.open(std::span<uint8_t>(m.msg, m.len), wd.now_ns, plain);
        if (e != crypto::transport_error::ok) __builtin_trap();
        ++g_stats.opened;
        if (m.outer6) ++g_stats.opened6;
        if (plain.empty()) {
            ++g_stats.keepalives;
            continue;
        }
        const uint8_t* in = plain.data();
        const bool v6 = (in[0] >> 4) == 6;
        if (!v6 && (in[0] >> 4) != 4) __builtin_trap();
        if (plain.size() < (v6 ? 40u : 20u)) __builtin_trap();
        const uint32_t total = v6 ? 40u + rd16(in + 4) : rd16(in + 2);
        if (total > plain.size() || crypto::padded_size(total, k_tunnel_mtu) != plain.size()) __builtin_trap();
        for (size_t i = total; i < plain.size(); ++i) {
            if (in[i] != 0) __builtin_trap();  // zero padding
        }
        if (!v6 && sum16(in, (in[0] & 0xf) * 4u) != 0xffff) __builtin_trap();
        const expectation* exp = m.exp;
        // Never more than went in (nothing of the buffer beyond the packet).
        if (exp != nullptr && exp->max_len != 0 && total > exp->max_len && !is_gateway_icmp_error(in, total, v6)) {
            __builtin_trap();
        }
        if (exp == nullptr || exp->kind == expectation::none) continue;
        if (exp->kind == expectation::exact) {
            if (is_expected(in, total, v6, *exp, true)) {
                ++g_stats.exact;
                continue;
            }
            if (is_gateway_echo_reply(in, total, v6, exp->inner)) {  // the site pinged the gateway
                ++g_stats.errors;
                continue;
            }
            if (!is_gateway_icmp_error(in, total, v6)) __builtin_trap();  // neither what went in nor an error
            ++g_stats.errors;
            continue;
        }
        if (exp->kind == expectation::fragments) {
            // A fragment of an IPv4 packet too big for the tunnel: the original's
            // addresses and protocol, and its bytes at the fragment's offset (past the
            // first 60 of L4 in the first fragment, whose checksum may have been
            // completed and MSS clamped).
            const uint8_t* oip = exp->inner.data();
            const uint32_t ototal = static_cast<uint32_t>(exp->inner.size());
            if (v6 || exp->v6 || ototal < 20) __builtin_trap();
            // (The original may itself be a fragment: offsets count from the datagram's
            // start, the original's bytes from its own offset.)
            const uint32_t oihl = (oip[0] & 0xf) * 4u;
            const uint32_t ooff = (rd16(oip + 6) & 0x1fffu) * 8u;
            const uint32_t ihl = (in[0] & 0xf) * 4u;
            const uint32_t off = (rd16(in + 6) & 0x1fffu) * 8u;
            if (ihl < 20 || total < ihl || in[9] != oip[9] || rd32(in + 12) != rd32(oip + 12) ||
                rd32(in + 16) != rd32(oip + 16) || off < ooff || (off == ooff && ihl != oihl)) {
                __builtin_trap();
            }
            const uint32_t at = off - ooff;
            const uint32_t chunk = total - ihl;
            if (oihl + at + chunk > ototal) __builtin_trap();
            const uint32_t skip = off == 0 ? std::min<uint32_t>(chunk, 60) : 0;
            if (std::memcmp(in + ihl + skip, oip + oihl + at + skip, chunk - skip) != 0) __builtin_trap();
            ++g_stats.fragments;
            continue;
        }
        // A segment of a super-packet: valid checksums, and the payload continues the
        // super-packet's.
        if (exp != seg_exp) {
            seg_exp = exp;
            seg_payload_at = 0;
            seg_next = 0;
        }
        if (m.segment != seg_next++) __builtin_trap();  // segments in order
        if (v6 != exp->v6) __builtin_trap();
        if (!l4_checksum_ok(in, total, v6)) __builtin_trap();
        l4_info li;
        const uint8_t* oip = exp->inner.data();
        const uint32_t ototal = static_cast<uint32_t>(exp->inner.size());
        if (!l4_of(in, total, v6, li) || li.proto != oip[v6 ? 6 : 9]) __builtin_trap();
        // Header lengths from the original (segment_gso copies the headers).
        const uint32_t l3h = v6 ? 40u : (oip[0] & 0xf) * 4u;
        const uint32_t l4h = li.proto == 6 ? (oip[l3h + 12] >> 4) * 4u : 8u;
        if (total < l3h + l4h || ototal < l3h + l4h) __builtin_trap();
        const uint32_t chunk = total - l3h - l4h;
        const uint32_t opay = ototal - l3h - l4h;
        if (seg_payload_at + chunk > opay) __builtin_trap();
        if (std::memcmp(in + l3h + l4h, oip + l3h + l4h + seg_payload_at, chunk) != 0) __builtin_trap();
        if (li.proto == 6 && rd32(in + l3h + 4) != rd32(oip + l3h + 4) + seg_payload_at) __builtin_trap();
        seg_payload_at += chunk;
        ++g_stats.segments;
    }
}

/// As worker::send_staged does after every iteration: packets that waited for a
/// keypair leave once one can carry them, and the site must open each.
void send_staged(world& wd) {
    using namespace eg::dp;
    std::vector<sent_msg> msgs;
    std::vector<packet*> sent;
    wireguard_flush_staged(
        *wd.snap, wd.w, [&](uint32_t) { return wd.pool.alloc(); },
        [&](packet* p) {
            check_frame(wd, p, nullptr, 0, false, msgs);
            sent.push_back(p);
        });
    open_at_far_end(wd, msgs);
    for (packet* p : sent) wd.pool.free(p);
    (void)wd.w.wg->take_staged_drops();
}

void run_burst(world& wd, pending* pk, uint32_t n) {
    using namespace eg::dp;
    if (n == 0) return;
    burst b;
    for (uint32_t i = 0; i < n; ++i) {
        b.pkts[i] = pk[i].p;
        pk[i].lookalike = looks_like_ours(pk[i].p->data, pk[i].p->len);
    }
    b.count = static_cast<uint16_t>(n);
    wd.set_time();
    process_burst(b, *wd.snap, wd.w);

    std::vector<sent_msg> msgs;
    std::vector<packet*> extra;
    for (uint32_t i = 0; i < n; ++i) {
        packet* p = pk[i].p;
        if (p->verdict == k_verdict_tunnel_segments) {
            // As worker::segment_into_tunnel does.
            if (pk[i].exp.kind == expectation::exact) pk[i].exp.kind = expectation::segments;
            packet* segs[k_max_burst];
            const uint32_t ns = segment_gso(*p, wd.seg_port, segs, k_max_burst);
            if (ns) ++g_stats.segmented;
            for (uint32_t j = 0; j < ns; ++j) {
                segs[j]->verdict = k_verdict_none;
                wireguard_send(*segs[j], *wd.snap, wd.w, p->nat_ref);
                check_frame(wd, segs[j], &pk[i].exp, j, pk[i].lookalike, msgs);
                extra.push_back(segs[j]);
            }
            continue;
        }
        if (p->verdict == k_verdict_tunnel_fragments) {
            // As worker::dispatch does.
            if (pk[i].exp.kind == expectation::exact) pk[i].exp.kind = expectation::fragments;
            uint32_t nf = 0;
            wireguard_send_fragments(*p, *wd.snap, wd.w, wd.seg_port, [&](packet* f) {
                check_frame(wd, f, &pk[i].exp, nf++, pk[i].lookalike, msgs);
                extra.push_back(f);
            });
            if (nf) ++g_stats.fragmented;
            continue;
        }
        check_frame(wd, p, &pk[i].exp, 0, pk[i].lookalike, msgs);
    }
    open_at_far_end(wd, msgs);
    for (uint32_t i = 0; i < n; ++i) wd.pool.free(pk[i].p);
    for (packet* p : extra) wd.pool.free(p);
    send_staged(wd);  // a packet of this burst may have confirmed a responder's keypair
    wd.drain_punts();
}

/// An IPv4 or IPv6 packet from body into ip (at most room bytes) with version, lengths,
/// addresses and checksums set; returns its length (0: none).
uint32_t build_ip(uint8_t* ip, size_t room, const uint8_t* body, size_t n, bool v6, uint8_t addrs, bool l4_right,
                  bool keep_frag) {
    const size_t len = std::min(n, room);
    if (len) std::memcpy(ip, body, len);
    if (v6) {
        if (len < 40) return 0;
        ip[0] = static_cast<uint8_t>(0x60 | (ip[0] & 0x0f));
        wr16(ip + 4, static_cast<uint16_t>(len - 40));
        std::memcpy(ip + 8, k_addrs6[addrs & 15], 16);
        std::memcpy(ip + 24, k_addrs6[addrs >> 4], 16);
        if (l4_right) fix_l4_checksum(ip, static_cast<uint32_t>(len), true);
        return static_cast<uint32_t>(len);
    }
    if (len < 20) return 0;
    uint32_t ihl = (ip[0] & 0xf) * 4u;
    if (ihl < 20 || ihl > len) ihl = 20;
    ip[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
    wr16(ip + 2, static_cast<uint16_t>(len));
    if (!keep_frag) wr16(ip + 6, 0x4000);  // DF
    wr32(ip + 12, k_addrs4[addrs & 15]);
    wr32(ip + 16, k_addrs4[addrs >> 4]);
    if (l4_right) fix_l4_checksum(ip, static_cast<uint32_t>(len), false);
    fix_ip4_header(ip);
    return static_cast<uint32_t>(len);
}

/// Ethernet + IPv4 + UDP (checksum 0) or, v6, Ethernet + IPv6 + UDP (checksum right)
/// to our listen socket from the uplink around payload, from source sel (0-3).
uint32_t to_listen_socket(uint8_t* f, size_t room, const uint8_t* payload, size_t n, uint32_t sel, bool v6) {
    const uint32_t outer = v6 ? 48 : 28;
    const size_t len = std::min(n, room - 14 - outer);
    std::memcpy(f, k_up_port_mac, 6);
    std::memcpy(f + 6, k_site_mac, 6);
    wr16(f + 12, v6 ? 0x86dd : 0x0800);
    uint8_t* ip = f + 14;
    std::memset(ip, 0, outer);
    uint8_t* udp = ip + outer - 8;
    if (v6) {
        ip[0] = 0x60;
        wr16(ip + 4, static_cast<uint16_t>(8 + len));
        ip[6] = 17;
        ip[7] = 64;
        std::memcpy(ip + 8, k_outer_src6[sel & 3], 16);
        std::memcpy(ip + 24, k_gw6, 16);
    } else {
        ip[0] = 0x45;
        wr16(ip + 2, static_cast<uint16_t>(28 + len));
        ip[8] = 64;
        ip[9] = 17;
        wr32(ip + 12, k_outer_src[sel & 3]);
        wr32(ip + 16, k_gw);
        fix_ip4_header(ip);
    }
    wr16(udp, k_outer_sport[sel & 3]);
    wr16(udp + 2, k_listen);
    wr16(udp + 4, static_cast<uint16_t>(8 + len));
    if (len) std::memmove(udp + 8, payload, len);
    if (v6) fix_l4_checksum(ip, static_cast<uint32_t>(outer + len), true);
    return static_cast<uint32_t>(14 + outer + len);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eg::dp;
    world& wd = get_world();
    wd.reset();
    pending pk[k_max_burst];
    uint32_t n = 0;
    std::vector<uint8_t> scratch(8192);
    auto flush = [&] {
        run_burst(wd, pk, n);
        for (uint32_t i = 0; i < n; ++i) pk[i] = pending{};
        n = 0;
    };
    while (size >= 3) {
        const uint8_t ctl = data[0];
        size_t len = rd16(data + 1);
        data += 3, size -= 3;
        len = std::min(len, size);
        const uint8_t* body = data;
        data += len, size -= len;
        const uint8_t kind = ctl & 7;

        if (kind == 4) {
            flush();
            wd.now_ns += k_steps_ns[(ctl >> 3) & 7];
            wd.set_time();
            continue;
        }
        if (kind == 5) {
            flush();
            switch ((ctl >> 3) & 3) {
            case 0:
                wd.command(wg_command::clear_keys);
                break;
            case 1:
                wd.install((ctl & 0x20) == 0);
                break;
            case 2: {
                wg_command c;
                c.op = wg_command::send_keepalive;
                c.slot = 0;
                if (wd.w.wg->apply(c, wd.now_ns)) {
                    packet* p = wd.pool.alloc();
                    if (!p) __builtin_trap();
                    p->in_port = 0;
                    p->verdict = k_verdict_none;
                    wireguard_send_keepalive(*p, *wd.snap, wd.w, 0);
                    if (p->verdict == k_verdict_none) __builtin_trap();
                    std::vector<sent_msg> msgs;
                    check_frame(wd, p, nullptr, 0, false, msgs);
                    open_at_far_end(wd, msgs);
                    wd.pool.free(p);
                    wd.drain_punts();
                }
                break;
            }
            default:
                wd.command(wg_command::set_peer, (ctl & 0x20) != 0);
                break;
            }
            send_staged(wd);
            continue;
        }

        packet* p = wd.pool.alloc();
        if (!p) __builtin_trap();
        pending& pe = pk[n];
        pe.p = p;
        pe.exp = expectation{};
        const size_t room = wd.pool.data_room();
        uint16_t port = k_up;
        p->offload = {};
        if (kind == 0) {
            port = (ctl >> 3) & 1;
            const size_t l = std::min(len, room);
            std::memcpy(p->data, body, l);
            p->len = static_cast<uint32_t>(l);
        } else if (kind == 1) {
            p->len = to_listen_socket(p->data, room, body, len, (ctl >> 3) & 3, ctl & 0x20);
        } else if (kind == 2 || kind == 6) {
            const uint8_t fl = len > 0 ? body[0] : 0;
            const uint8_t mpos = len > 1 ? body[1] : 0;
            const uint8_t mxor = len > 2 ? body[2] : 0;
            const uint8_t addrs = len > 3 ? body[3] : 0;
            const uint8_t* in = len > 4 ? body + 4 : body;
            size_t in_len = len > 4 ? len - 4 : 0;
            in_len = std::min<size_t>(in_len, 2000);
            std::memcpy(scratch.data(), in, in_len);
            uint32_t inner_len = static_cast<uint32_t>(in_len);
            const bool v6 = fl & 0x20;
            if (fl & 0x10) {
                inner_len = build_ip(scratch.data(), in_len, in, in_len, v6, addrs, fl & 0x40, true);
                if (inner_len) {
                    pe.exp.kind = expectation::exact;
                    pe.exp.v6 = v6;
                    pe.exp.l4_right = fl & 0x40;
                    pe.exp.inner.assign(scratch.data(), scratch.data() + inner_len);
                    pe.exp.max_len = inner_len;
                    pe.exp.from_tunnel = true;
                } else {
                    inner_len = static_cast<uint32_t>(in_len);
                }
            }
            std::vector<uint8_t> msg(crypto::sealed_size(inner_len));
            size_t written = 0;
            if (wd.far().seal(std::span<const uint8_t>(scratch.data(), inner_len), msg, wd.now_ns, written) !=
                crypto::transport_error::ok) {
                written = 0;
                pe.exp = expectation{};
            }
            msg.resize(written);
            if ((fl & 0x04) && !msg.empty()) {
                msg[mpos % msg.size()] ^= mxor;
                if (mxor) pe.exp = expectation{};
            }
            p->len = to_listen_socket(p->data, room, msg.data(), msg.size(), fl & 3, fl & 0x80);
            if ((fl & 0x08) && n + 1 < k_max_burst) {
                packet* q = wd.pool.alloc();
                if (!q) __builtin_trap();
                std::memcpy(q->data, p->data, p->len);
                q->len = p->len;
                q->in_port = k_up;
                q->offload = {};
                std::memset(q->data + q->len, 0xa5, q->tailroom());
                ++n;
                pk[n].p = q;
                pk[n].exp = pe.exp;  // the replay is dropped; if not, the same must come out
            }
        } else {  // 3, 7: from vm1
            port = k_vm;
            const uint8_t addrs = len > 0 ? body[0] : 0;
            const uint8_t fl = len > 1 ? body[1] : 0;
            const uint16_t arg = len > 3 ? rd16(body + 2) : 0;
            const bool v6 = fl & 0x01;
            std::memcpy(p->data, k_vm_port_mac, 6);
            std::memcpy(p->data + 6, k_vm1_mac, 6);
            wr16(p->data + 12, v6 ? 0x86dd : 0x0800);
            const uint32_t ip_len = build_ip(p->data + 14, room - 14 - 4, len > 4 ? body + 4 : body, len > 4 ? len - 4 : 0,
                                             v6, addrs, fl & 0x02, fl & 0x40);
            p->len = 14 + (ip_len ? ip_len : static_cast<uint32_t>(std::min<size_t>(len > 4 ? len - 4 : 0, room - 18)));
            uint8_t* ip = p->data + 14;
            bool l4_right = (fl & 0x02) != 0;
            l4_info li;
            const bool has_l4 = ip_len && l4_of(ip, ip_len, v6, li) && (li.proto == 6 || li.proto == 17);
            if ((fl & 0x04) && has_l4) {
                // As virtio_net_hdr NEEDS_CSUM: the field holds the pseudo-header sum.
                p->offload.needs_csum = 1;
                p->offload.csum_start = static_cast<uint16_t>(14 + li.l4);
                p->offload.csum_offset = static_cast<uint16_t>(li.at - li.l4);
                wr16(ip + li.at, static_cast<uint16_t>(li.init));
                if (!v6) fix_ip4_header(ip);  // unchanged, but keeps it obvious
                l4_right = true;
            }
            if ((fl & 0x08) && ip_len && (li.proto == 6 || li.proto == 17)) {
                p->offload.gso_type = li.proto == 17 ? offload_info::gso_udp_l4
                                      : v6           ? offload_info::gso_tcpv6
                                                     : offload_info::gso_tcpv4;
                p->offload.gso_size = arg;
            }
            pe.exp.max_len = ip_len;
            if (fl & 0x20) {
                p->offload.needs_csum = 1;
                p->offload.csum_start = arg;
                p->offload.csum_offset = len > 4 ? body[4] : 0;
                l4_right = false;
                pe.exp.kind = expectation::none;
            } else if (ip_len) {
                pe.exp.kind = expectation::exact;
                pe.exp.v6 = v6;
                pe.exp.l4_right = l4_right;
                pe.exp.inner.assign(ip, ip + ip_len);
            }
            if ((fl & 0x10) && ip_len) {
                std::memset(p->data + p->len, 0x5a, 4);  // not zero: it would not change a sum
                p->len += 4;
            }
        }
        // Stages may write past len (replies built in place): a fixed pattern keeps
        // runs reproducible.
        std::memset(p->data + p->len, 0xa5, p->tailroom());
        p->in_port = port;
        ++n;
        if ((ctl & 0x80) || n >= k_max_burst - 1) flush();
    }
    flush();
    return 0;
}
