// libFuzzer target for the packet path: arbitrary frames through eg::dp::process_burst
// with the lab-like snapshot (vm + uplink with MTU 1400 + host TAP) built once from
// real TOML. The contract (pipeline.hpp): whatever arrives, nothing is read or written
// out of bounds and every packet leaves with a verdict; a transmitted frame lies inside
// its buffer and a dropped one names a real reason.
//
// Input layout: byte 0 picks the receiving port (low 2 bits, modulo the port count)
// and, with bit 7 set, says that the next 8 bytes are offload state (as a uring
// backend reads it from virtio_net_hdr); the rest is the frame.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/pipeline.hpp"

namespace {

using namespace eg;

constexpr const char* k_config = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
ipv6 = ["2001:db8:100::1/64"]
[ports.router_advertisements]
enabled = true
prefixes = ["2001:db8:100::/64"]

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
mtu = 1400
ipv4 = ["203.0.113.1/24"]
ipv6 = ["2001:db8:1::1/64"]
nd_proxy = true

[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"

[[routes]]
prefix = "::/0"
via = "2001:db8:1::2"

[[routes]]
prefix = "2001:db8:1::100/122"
port = "vm"

[host]
enabled = true
)";

struct world {
    std::unique_ptr<dp::snapshot> snap;
    dp::buffer_pool pool{dp::buffer_pool_options{.count = 8, .buffer_size = 16384}};
    dp::worker_counters counters;
    dp::frame_ring ring{64};
    dp::neighbour_table neighbours{64};
    dp::worker_context w{counters, ring, neighbours};
    uint64_t iteration = 0;

    world() {
        const cfg::load_result r = cfg::load_string(k_config, "frame_parser_fuzz.toml");
        if (!r.value) __builtin_trap();
        std::vector<ctl::port_runtime_info> ports{{{0x02, 0, 0, 0, 0, 0x01}}, {{0x02, 0, 0, 0, 0, 0x02}},
                                                  {{0x02, 0, 0, 0, 0, 0xfe}}};
        snap = ctl::build_snapshot(*r.value, ports, {0x02, 0, 0, 0, 0, 0xff}, 1);
        // Some neighbours resolved (the default gateways, vm1), others not.
        neighbours.set(dp::neighbour_key::ipv4(1, 0xcb007102), {0x52, 0x54, 0, 0, 0, 0x22});
        neighbours.set(dp::neighbour_key::ipv4(0, 0xc0a8640b), {0x52, 0x54, 0, 0, 0, 0x11});
        const uint8_t gw6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        neighbours.set(dp::neighbour_key::ipv6(1, gw6), {0x52, 0x54, 0, 0, 0, 0x22});
        w.icmp_limiter.set_rate(r.value->icmp.errors_per_second);
    }
};

world& get_world() {
    static world* w = new world();  // never destroyed: libFuzzer may exit at any time
    return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    world& wd = get_world();
    const uint8_t control = data[0];
    ++data, --size;
    dp::offload_info off{};
    if (control & 0x80) {
        if (size < 8) return 0;
        off.needs_csum = data[0] & 1;
        off.gso_type = static_cast<uint8_t>(data[1] % 6);
        off.gso_size = static_cast<uint16_t>(data[2] << 8 | data[3]);
        off.csum_start = static_cast<uint16_t>(data[4] << 8 | data[5]);
        off.csum_offset = data[6];
        off.hdr_len = data[7];
        data += 8, size -= 8;
    }
    dp::packet* p = wd.pool.alloc();
    if (!p) __builtin_trap();
    const size_t len = std::min<size_t>(size, wd.pool.data_room());
    std::memcpy(p->data, data, len);
    p->len = static_cast<uint32_t>(len);
    p->in_port = static_cast<uint16_t>((control & 3) % wd.snap->ports.size());
    p->offload = off;
    // Stages may legitimately write past len (replies built in place, into tailroom),
    // so the rest of the buffer is not ASan-poisoned; a fixed pattern keeps runs
    // reproducible. Reads past the whole buffer are caught by ASan (pool buffers are
    // 16 KB, far beyond any frame a stage builds).
    std::memset(p->data + len, 0xa5, p->tailroom());

    wd.w.now_ns = ++wd.iteration * 1'000'000ULL;
    dp::burst b;
    b.pkts[0] = p;
    b.count = 1;
    dp::process_burst(b, *wd.snap, wd.w);

    if (p->verdict == dp::k_verdict_none) __builtin_trap();
    // k_verdict_fragment | port: an IPv4 packet without DF over the port's MTU, which
    // the worker fragments; the frame must be as sound as any other to transmit.
    const bool fragment = p->verdict < dp::k_verdict_special && (p->verdict & dp::k_verdict_fragment);
    const uint16_t tx_port = fragment ? p->verdict & ~dp::k_verdict_fragment : p->verdict;
    if (tx_port < wd.snap->ports.size()) {
        // A frame to transmit: inside its buffer, at least an Ethernet header.
        if (p->data < p->buf || p->len < 14 || p->data + p->len > p->buf + p->buf_size) __builtin_trap();
    } else if (p->verdict == dp::k_verdict_drop) {
        if (p->drop_reason == 0 || p->drop_reason >= dp::k_drop_reason_count) __builtin_trap();
    } else if (p->verdict != dp::k_verdict_consumed) {
        __builtin_trap();
    }
    while (dp::frame_message* m = wd.ring.front()) {
        if (m->len > dp::k_frame_message_max || m->len < 14) __builtin_trap();
        wd.ring.pop();
    }
    wd.pool.free(p);
    return 0;
}
