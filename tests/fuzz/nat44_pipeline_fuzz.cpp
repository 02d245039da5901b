// libFuzzer target for the NAT44 stage inside the packet path: sequences of frames
// through eg::dp::process_burst with NAT on (masquerade, dedicated, port_block, proxy
// with proxy_force, a quota, a port forward, the mapping log), one worker's
// nat44_state, bursts of several packets, the clock moved and
// nat44_expire run as the worker does. The snapshot comes from real TOML once.
//
// Each input starts from an empty NAT state (see world::reset).
//
// Contract checked (pipeline.hpp, nat44.hpp): nothing read or written out of bounds,
// no UB, no leak; every packet leaves with a verdict; a transmitted frame lies inside
// its buffer; a dropped one names a real reason; a transmitted IPv4 frame has a valid
// header checksum (every one that entered had one); with `fix_l4` every transmitted
// unfragmented TCP/UDP/ICMP message has a valid L4 checksum (NAT keeps them right
// incrementally; the ones the gateway builds are computed whole).
//
// Input: a sequence of records
//   ctl(1) len(2, big-endian) body(len)
//   ctl bits 0-1  receiving port (modulo the port count)
//   ctl bit  2    end the burst after this packet (also at k_max_burst and at the end)
//   ctl bit  3    before this packet: advance the clock by body-independent ctl>>4
//                 seconds (0 -> 61) and run nat44_expire
//   ctl bit  4    synthesise: body[0] picks the source (bits 0-3) and destination
//                 (bits 4-7) from a table of the topology's addresses, body[1] the
//                 source MAC (bit 7: the bound MAC of the source VM); the IPv4 packet is
//                 body[2..], with version 4, total length, addresses and header
//                 checksum set; Ethernet header built for the receiving port
//   ctl bit  5    with bit 4: also set the L4 checksum right (TCP/UDP/ICMP, whole
//                 unfragmented messages) and check it on the way out
// Without bit 4 the body is the whole frame, as is.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/nat44.hpp"
#include "dataplane/nat44_state.hpp"
#include "dataplane/pipeline.hpp"

namespace {

using namespace eg;

constexpr const char* k_config = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
mtu = 1400
ipv4 = ["203.0.113.1/24"]

[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"

[host]
enabled = true

[nat]
public_addresses = ["203.0.113.1", "203.0.113.5"]
port_range = [10000, 61439]
max_sessions = 1024
log_file = "/nonexistent/nat44_pipeline_fuzz.log"

[nat.timeouts]
tcp_established_s = 40
tcp_transitory_s = 10
udp_s = 6
icmp_s = 3

[nat.port_blocks]
address = "203.0.113.1"
first_port = 61440
block_size = 512

[nat.proxy]
service = "192.168.100.1"
service_port = 3128
upstream = "203.0.113.2"

[[nat.forwards]]
protocol = "tcp"
public_address = "203.0.113.1"
port = 8080
to = "192.168.100.11"
to_port = 80

[[nat.forwards]]
protocol = "udp"
public_address = "203.0.113.5"
ports = [5000, 5009]
to = "192.168.100.15"
to_port = 6000

[[vms]]
name = "vm1"
mac = "52:54:00:00:01:01"
ipv4 = "192.168.100.11"

[[vms]]
name = "vm2"
mac = "52:54:00:00:01:02"
ipv4 = "192.168.100.12"
egress = "dedicated"
public_address = "203.0.113.20"

[[vms]]
name = "vm3"
mac = "52:54:00:00:01:03"
ipv4 = "192.168.100.13"
egress = "port_block"
port_block = 2

[[vms]]
name = "vm4"
mac = "52:54:00:00:01:04"
ipv4 = "192.168.100.14"
egress = "proxy"
proxy_port = 10001
proxy_force = true

[[vms]]
name = "vm5"
mac = "52:54:00:00:01:05"
ipv4 = "192.168.100.15"
max_sessions = 8

[[vms]]
name = "vm6"
mac = "52:54:00:00:01:06"
ipv4 = "192.168.100.16"
egress = "proxy"
proxy_port = 10002
)";

// Addresses a synthesised packet may carry (host order).
constexpr uint32_t k_addrs[16] = {
    0xc0a8640b,  // vm1
    0xc0a8640c,  // vm2 (dedicated)
    0xc0a8640d,  // vm3 (port block)
    0xc0a8640e,  // vm4 (proxy, forced)
    0xc0a8640f,  // vm5 (quota, forward target)
    0xc0a86410,  // vm6 (proxy)
    0xc0a86463,  // unbound on the vm link
    0xc0a86401,  // gateway, vm side (proxy service)
    0xcb007101,  // public 1 (uplink address, blocks, forward)
    0xcb007105,  // public 2
    0xcb007114,  // vm2's dedicated address
    0xcb007102,  // uplink gateway, upstream proxy
    0xc6336407,  // remote
    0xc6336409,  // another remote
    0x08080808,  // far away
    0xcb0071ff,  // uplink broadcast
};
constexpr uint8_t k_vm_macs[6][6] = {{0x52, 0x54, 0, 0, 1, 1}, {0x52, 0x54, 0, 0, 1, 2}, {0x52, 0x54, 0, 0, 1, 3},
                                     {0x52, 0x54, 0, 0, 1, 4}, {0x52, 0x54, 0, 0, 1, 5}, {0x52, 0x54, 0, 0, 1, 6}};
constexpr uint8_t k_gw_mac[6] = {0x52, 0x54, 0, 0, 0, 0x22};
constexpr uint8_t k_port_macs[3][6] = {{0x02, 0, 0, 0, 0, 0x01}, {0x02, 0, 0, 0, 0, 0x02}, {0x02, 0, 0, 0, 0, 0xfe}};

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void wr16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void wr32(uint8_t* p, uint32_t v) {
    wr16(p, static_cast<uint16_t>(v >> 16));
    wr16(p + 2, static_cast<uint16_t>(v));
}
/// RFC 1071 ones' complement sum, byte by byte (independent of dataplane/checksum.hpp).
uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i < n; ++i) {
        s += (i & 1) ? p[i] : uint32_t{p[i]} << 8;
        s = (s & 0xffff) + (s >> 16);
    }
    return s;
}
uint32_t pseudo(const uint8_t* ip, uint8_t proto, uint32_t len) {
    uint32_t s = sum16(ip + 12, 8) + proto;  // (0, proto) as one word
    s = (s & 0xffff) + (s >> 16);
    const uint8_t l[2] = {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
    return sum16(l, 2, s);
}

/// Where a whole unfragmented TCP/UDP/ICMP message's checksum lies (offset from ip),
/// with the initial sum; false when there is none to keep.
bool l4_checksum_at(const uint8_t* ip, uint32_t total, uint32_t& at, uint32_t& init, uint32_t& ihl) {
    ihl = (ip[0] & 0xf) * 4u;
    if (ihl < 20 || ihl > total || (rd16(ip + 6) & 0x3fff) != 0) return false;
    const uint32_t len = total - ihl;
    switch (ip[9]) {
    case 6:
        if (len < 20) return false;
        at = ihl + 16;
        init = pseudo(ip, 6, len);
        return true;
    case 17:
        if (len < 8) return false;
        at = ihl + 6;
        init = pseudo(ip, 17, len);
        return true;
    case 1:
        if (len < 8) return false;
        at = ihl + 2;
        init = 0;
        return true;
    default:
        return false;
    }
}

struct world {
    std::unique_ptr<dp::snapshot> snap;
    std::unique_ptr<dp::nat44_state> nat;
    dp::buffer_pool pool{dp::buffer_pool_options{.count = 2 * dp::k_max_burst, .buffer_size = 4096}};
    dp::worker_counters counters;
    dp::frame_ring ring{64};
    dp::neighbour_table neighbours{64};
    dp::worker_context w{counters, ring, neighbours};
    uint32_t now_s = 1000;
    uint64_t iteration = 0;
    uint32_t icmp_rate = 1000;

    world() {
        const cfg::load_result r = cfg::load_string(k_config, "nat44_pipeline_fuzz.toml");
        if (!r.value) __builtin_trap();
        std::vector<ctl::port_runtime_info> ports;
        for (const auto& m : k_port_macs) {
            ports.push_back({{m[0], m[1], m[2], m[3], m[4], m[5]}});
        }
        snap = ctl::build_snapshot(*r.value, ports, {0x02, 0, 0, 0, 0, 0xff}, 1);
        if (!snap->nat.enabled) __builtin_trap();
        // The uplink gateway and vm1..vm5 resolved; vm6 not (punted unresolved).
        neighbours.set(dp::neighbour_key::ipv4(1, 0xcb007102), {0x52, 0x54, 0, 0, 0, 0x22});
        for (uint32_t i = 0; i < 5; ++i) {
            const uint8_t* m = k_vm_macs[i];
            neighbours.set(dp::neighbour_key::ipv4(0, k_addrs[i]), {m[0], m[1], m[2], m[3], m[4], m[5]});
        }
        icmp_rate = r.value->icmp.errors_per_second;
    }
    /// Every input starts from an empty NAT state: the clock jumps past every timeout
    /// (and the fragment state's lifetime) and the expiry runs until all sessions and
    /// their mappings are gone. Making a new nat44_state per input would be cleaner
    /// but costs ~40 ms under ASan (its event ring and table), too slow to fuzz. What
    /// stays from earlier inputs: the port pools' random state and the clock's value.
    void reset() {
        if (!nat) {
            nat = std::make_unique<dp::nat44_state>(snap->nat, 0, 1024);
            w.nat = nat.get();
        }
        for (int i = 0; i < 1000 && nat->table().size() != 0; ++i) {
            now_s += 50;
            dp::nat44_expire(*nat, snap->nat, counters, now_s);
        }
        if (nat->table().size() != 0) __builtin_trap();  // expiry lost sessions
        for (uint32_t v = 0; v < snap->nat.vms.size(); ++v) {
            if (nat->vm_session_count(v) != 0) __builtin_trap();
        }
        while (nat->events().front()) nat->events().pop();
        now_s += 100;  // past the fragment state and the per-second warnings
        dp::nat44_expire(*nat, snap->nat, counters, now_s);
        w.icmp_limiter = dp::icmp_rate_limiter{};
        w.icmp_limiter.set_rate(icmp_rate);
        iteration = 0;
        set_time();
    }
    void set_time() {
        w.now_s = now_s;
        w.now_ns = uint64_t{now_s} * 1'000'000'000ULL + (++iteration % 1000) * 100'000ULL;
    }
};

world& get_world() {
    static world* w = new world();  // never destroyed: libFuzzer may exit at any time
    return *w;
}

struct pending {
    dp::packet* p;
    bool check_l4;
};

void run_burst(world& wd, pending* pk, uint32_t n) {
    if (n == 0) return;
    dp::burst b;
    for (uint32_t i = 0; i < n; ++i) b.pkts[i] = pk[i].p;
    b.count = static_cast<uint16_t>(n);
    wd.set_time();
    dp::process_burst(b, *wd.snap, wd.w);
    dp::nat44_expire(*wd.nat, wd.snap->nat, wd.counters, wd.now_s);

    for (uint32_t i = 0; i < n; ++i) {
        dp::packet* p = pk[i].p;
        if (p->verdict == dp::k_verdict_none) __builtin_trap();
        const bool fragment = p->verdict < dp::k_verdict_special && (p->verdict & dp::k_verdict_fragment);
        const uint16_t tx_port = fragment ? p->verdict & ~dp::k_verdict_fragment : p->verdict;
        if (tx_port < wd.snap->ports.size()) {
            if (p->data < p->buf || p->len < 14 || p->data + p->len > p->buf + p->buf_size) __builtin_trap();
            const uint8_t* f = p->data;
            if (p->len >= 34 && rd16(f + 12) == 0x0800) {
                const uint8_t* ip = f + 14;
                const uint32_t ihl = (ip[0] & 0xf) * 4u;
                const uint32_t total = rd16(ip + 2);
                if ((ip[0] >> 4) != 4 || ihl < 20 || 14 + ihl > p->len || 14 + total > p->len) __builtin_trap();
                if (sum16(ip, ihl) != 0xffff) __builtin_trap();  // IPv4 header checksum
                uint32_t at = 0, init = 0, l4ihl = 0;
                if (pk[i].check_l4 && l4_checksum_at(ip, total, at, init, l4ihl)) {
                    const bool udp_none = ip[9] == 17 && rd16(ip + at) == 0;
                    if (!udp_none && sum16(ip + l4ihl, total - l4ihl, init) != 0xffff) __builtin_trap();
                }
            }
        } else if (p->verdict == dp::k_verdict_drop) {
            if (p->drop_reason == 0 || p->drop_reason >= dp::k_drop_reason_count) __builtin_trap();
        } else if (p->verdict != dp::k_verdict_consumed) {
            __builtin_trap();
        }
        wd.pool.free(p);
    }
    while (dp::frame_message* m = wd.ring.front()) {
        if (m->len > dp::k_frame_message_max || m->len < 14) __builtin_trap();
        wd.ring.pop();
    }
    while (wd.nat->events().front()) wd.nat->events().pop();
    // Invariants of the state: per-VM counts never exceed the live sessions.
    uint64_t counted = 0;
    for (uint32_t v = 0; v < wd.snap->nat.vms.size(); ++v) counted += wd.nat->vm_session_count(v);
    if (counted > wd.nat->table().size()) __builtin_trap();
}

/// Builds the frame of a synthesised record into p; returns whether its L4 checksum
/// is to be checked on the way out.
bool synthesise(world& wd, dp::packet* p, uint16_t port, bool fix_l4, const uint8_t* body, size_t n) {
    uint8_t* f = p->data;
    const uint8_t sel = n > 0 ? body[0] : 0;
    const uint8_t macsel = n > 1 ? body[1] : 0;
    const uint32_t src = k_addrs[sel & 15], dst = k_addrs[sel >> 4];
    std::memcpy(f, k_port_macs[port], 6);
    if (port == 1) {
        std::memcpy(f + 6, k_gw_mac, 6);
    } else if ((macsel & 0x80) && (sel & 15) < 6) {
        std::memcpy(f + 6, k_vm_macs[sel & 15], 6);
    } else {
        std::memcpy(f + 6, k_vm_macs[macsel % 6], 6);
    }
    wr16(f + 12, 0x0800);
    const size_t ip_len = n > 2 ? std::min<size_t>(n - 2, wd.pool.data_room() - 14) : 0;
    if (ip_len) std::memcpy(f + 14, body + 2, ip_len);
    p->len = static_cast<uint32_t>(14 + ip_len);
    if (ip_len < 20) return false;
    uint8_t* ip = f + 14;
    uint32_t ihl = (ip[0] & 0xf) * 4u;
    if (ihl < 20 || ihl > ip_len) {
        ihl = 20;
    }
    ip[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
    const uint32_t total = static_cast<uint32_t>(ip_len);
    wr16(ip + 2, static_cast<uint16_t>(total));
    wr32(ip + 12, src);
    wr32(ip + 16, dst);
    uint32_t at = 0, init = 0, l4ihl = 0;
    const bool l4 = fix_l4 && l4_checksum_at(ip, total, at, init, l4ihl);
    if (l4) {
        wr16(ip + at, 0);
        uint16_t c = static_cast<uint16_t>(~sum16(ip + l4ihl, total - l4ihl, init));
        if (ip[9] == 17 && c == 0) c = 0xffff;
        wr16(ip + at, c);
    }
    wr16(ip + 10, 0);
    wr16(ip + 10, static_cast<uint16_t>(~sum16(ip, ihl)));
    return l4;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    world& wd = get_world();
    wd.reset();
    pending pk[dp::k_max_burst];
    uint32_t n = 0;
    const uint16_t n_ports = static_cast<uint16_t>(wd.snap->ports.size());
    while (size >= 3) {
        const uint8_t ctl = data[0];
        size_t len = rd16(data + 1);
        data += 3, size -= 3;
        len = std::min(len, size);
        const uint8_t* body = data;
        data += len, size -= len;

        if (ctl & 0x08) {
            run_burst(wd, pk, n);  // time moves between bursts
            n = 0;
            const uint32_t step = (ctl >> 4) ? (ctl >> 4) : 61;
            wd.now_s += step;
            wd.set_time();
            dp::nat44_expire(*wd.nat, wd.snap->nat, wd.counters, wd.now_s);
        }
        dp::packet* p = wd.pool.alloc();
        if (!p) __builtin_trap();
        const uint16_t port = static_cast<uint16_t>((ctl & 3) % n_ports);
        bool check_l4 = false;
        if (ctl & 0x10) {
            check_l4 = synthesise(wd, p, port, (ctl & 0x20) != 0, body, len);
        } else {
            const size_t l = std::min<size_t>(len, wd.pool.data_room());
            std::memcpy(p->data, body, l);
            p->len = static_cast<uint32_t>(l);
        }
        // Stages may write past len (replies built in place): a fixed pattern keeps
        // runs reproducible.
        std::memset(p->data + p->len, 0xa5, p->tailroom());
        p->in_port = port;
        p->offload = {};
        pk[n++] = {p, check_l4};
        if ((ctl & 0x04) || n == dp::k_max_burst) {
            run_burst(wd, pk, n);
            n = 0;
        }
    }
    run_burst(wd, pk, n);
    return 0;
}
