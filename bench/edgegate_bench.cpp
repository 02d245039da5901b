// edgegate-bench: drives the real pipeline (worker loop, stages, memory backend) with
// generated traffic and prints one JSON object per scenario.
//
//   edgegate-bench --scenario ipv4-forward|ipv6-forward|nat44-established|nat44-new|all
//                  [--seconds S | --polls N] [--routes N] [--burst B] [--sessions N]
//
// ipv4-forward / ipv6-forward: the vm port replays 1024 pre-built 64-byte UDP frames to
// random destinations covered by N random routes (plus a default route); the uplink
// port counts and frees what is sent.
// nat44-established: N (default 1M) live NAT sessions (64 VMs x 1024 source ports x 16
// destinations, 65536 endpoint-independent mappings on 4 public addresses); the vm port
// replays one 64-byte packet of every session in random order while the uplink replays
// the replies in another random order: every packet is a flow-table lookup, half of
// them outbound (SNAT), half inbound (DNAT).
// nat44-new: every packet opens a new session (same 1024 VM sockets, each packet to a new
// destination address:port), with a 1 s UDP timeout so the timer wheel expires sessions
// at the rate they are created: the steady state of creation plus expiry, timed after a
// 2 s warm-up that reaches it. Timing: wall clock for ns/packet, the TSC for cycles/packet (this VM has no
// performance counters; the TSC ticks at its nominal rate, reported as tsc_ghz).
//
// --polls N measures exactly N worker polls instead of --seconds, and the measured part is
// the only part valgrind's callgrind instruments when run with --instr-atstart=no: on this
// shared, noisy box, instructions per packet (callgrind's Ir / "packets") are the figure
// that repeats, e.g.
//   valgrind --tool=callgrind --instr-atstart=no build/edgegate-bench --scenario nat44-established --polls 2000
#include <x86intrin.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#include <cinttypes>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/memory/memory_port.hpp"
#include "dataplane/nat44_state.hpp"
#include "dataplane/worker.hpp"

namespace {

using namespace eg;

constexpr const char* k_base_config = R"(
[gateway]
name = "bench"
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
mac = "02:00:00:00:00:01"
ipv4 = ["192.168.100.1/24"]
ipv6 = ["2001:db8:100::1/64"]
[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
mac = "02:00:00:00:00:02"
ipv4 = ["203.0.113.1/24"]
ipv6 = ["2001:db8:1::1/64"]
[[routes]]
prefix = "0.0.0.0/0"
via = "203.0.113.2"
[[routes]]
prefix = "::/0"
via = "2001:db8:1::2"
)";

/// Jiffies of the machine-wide "cpu" line of /proc/stat: {total, steal}. Steal time
/// (the hypervisor running someone else) is the main source of run-to-run spread in a
/// VM, so every result carries it.
std::pair<uint64_t, uint64_t> cpu_jiffies() {
    FILE* f = std::fopen("/proc/stat", "r");
    if (!f) {
        return {0, 0};
    }
    unsigned long long v[10] = {};
    const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                              &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    std::fclose(f);
    uint64_t total = 0;
    for (int i = 0; i < n && i < 8; ++i) {
        total += v[i];
    }
    return {total, n >= 8 ? v[7] : 0};
}

struct options {
    std::string scenario = "all";
    double seconds = 3;
    uint32_t routes = 10000;
    uint32_t burst = 32;
    uint32_t sessions = 1u << 20;  ///< nat44-established
    uint32_t polls = 0;            ///< > 0: measure this many worker polls, not `seconds`
};

void put_mac(uint8_t* p, const uint8_t* mac) { std::memcpy(p, mac, 6); }

std::vector<uint8_t> udp4_frame(uint32_t src, uint32_t dst) {
    std::vector<uint8_t> f(64, 0);  // 64-byte frame (60 + FCS on a wire; we count 64)
    const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    const uint8_t vm_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
    put_mac(f.data(), gw_mac);
    put_mac(f.data() + 6, vm_mac);
    dp::store16(f.data() + 12, dp::eth::type_ipv4);
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    dp::store16(ip + 2, 64 - 14);
    ip[8] = 64;
    ip[9] = dp::proto::udp;
    dp::store32(ip + 12, src);
    dp::store32(ip + 16, dst);
    dp::put_raw16(ip + 10, dp::checksum(ip, 20));
    uint8_t* udp = ip + 20;
    dp::store16(udp, 40000);
    dp::store16(udp + 2, 9);
    dp::store16(udp + 4, 64 - 14 - 20);
    return f;
}

std::vector<uint8_t> udp6_frame(const uint8_t* src, const uint8_t* dst) {
    std::vector<uint8_t> f(64, 0);
    const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    const uint8_t vm_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
    put_mac(f.data(), gw_mac);
    put_mac(f.data() + 6, vm_mac);
    dp::store16(f.data() + 12, dp::eth::type_ipv6);
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x60;
    dp::store16(ip + 4, 64 - 14 - 40);
    ip[6] = dp::proto::udp;
    ip[7] = 64;
    std::memcpy(ip + 8, src, 16);
    std::memcpy(ip + 24, dst, 16);
    uint8_t* udp = ip + 40;
    dp::store16(udp, 40000);
    dp::store16(udp + 2, 9);
    dp::store16(udp + 4, 64 - 14 - 40);
    return f;
}

/// The two memory ports of the bench topology over one pool: "vm" (port 0) and
/// "uplink" (port 1, counts and frees what is sent; so does vm when vm_sink).
struct bench_ports {
    static dp::buffer_pool_options pool_options() {
        dp::buffer_pool_options bo;
        bo.count = 4096;
        bo.buffer_size = 2048;
        return bo;
    }
    static dp::memory_port_options port_options(uint16_t index, bool sink) {
        dp::memory_port_options o;
        o.port_index = index;
        o.mac = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(index + 1)};
        o.tx_sink = sink;
        return o;
    }
    explicit bench_ports(bool vm_sink)
        : vo(port_options(0, vm_sink)), uo(port_options(1, true)), pool(pool_options()), vm(vo, pool), up(uo, pool) {}

    dp::memory_port_options vo, uo;
    dp::buffer_pool pool;
    dp::memory_port vm, up;
};

/// JSON result line of one measured run.
struct run_result {
    uint64_t packets = 0;
    double ns = 0;
    uint64_t cycles = 0;
    double steal_pct = 0;
};

/// Polls the worker for `seconds` of wall clock, untimed.
void poll_for(dp::worker& w, double seconds) {
    const uint64_t until = dp::monotonic_ns() + static_cast<uint64_t>(seconds * 1e9);
    while (dp::monotonic_ns() < until) {
        for (int i = 0; i < 1024; ++i) {
            w.poll_once();
        }
    }
}

/// Warm up, then poll the worker for opt.seconds; `sent` reads the packets transmitted.
template <class Sent>
run_result measure(dp::worker& w, const options& opt, Sent sent, int warmup_polls = 20000) {
    for (int i = 0; i < warmup_polls; ++i) {
        w.poll_once();
    }
    run_result r;
    const auto jiffies0 = cpu_jiffies();
    const uint64_t tx0 = sent();
    const uint64_t t0 = dp::monotonic_ns();
    const uint64_t c0 = __rdtsc();
    const uint64_t deadline = t0 + static_cast<uint64_t>(opt.seconds * 1e9);
    uint64_t now = t0;
    if (opt.polls > 0) {
        CALLGRIND_START_INSTRUMENTATION;
        for (uint32_t i = 0; i < opt.polls; ++i) {
            w.poll_once();
        }
        CALLGRIND_STOP_INSTRUMENTATION;
        now = dp::monotonic_ns();
    }
    while (now < deadline && opt.polls == 0) {
        for (int i = 0; i < 1024; ++i) {
            w.poll_once();
        }
        now = dp::monotonic_ns();
    }
    r.cycles = __rdtsc() - c0;
    const auto jiffies1 = cpu_jiffies();
    r.steal_pct = jiffies1.first > jiffies0.first
                      ? 100.0 * (jiffies1.second - jiffies0.second) / (jiffies1.first - jiffies0.first)
                      : 0.0;
    r.packets = sent() - tx0;
    r.ns = static_cast<double>(now - t0);
    return r;
}

uint64_t total_drops(const dp::worker_counters& c) {
    uint64_t drops = 0;
    for (uint32_t r = 1; r < dp::k_drop_reason_count; ++r) {
        drops += c.drops[r].get();
    }
    return drops;
}

int run_scenario(const std::string& name, const options& opt) {
    const bool v6 = name == "ipv6-forward";
    cfg::load_result lr = cfg::load_string(k_base_config, "bench");
    if (!lr.value) {
        for (auto& e : lr.errors) {
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        }
        return 1;
    }
    cfg::config config = *lr.value;
    std::mt19937_64 rng(42);
    // N random routes of lengths /8../28 (v4) or /16../64 (v6) through the uplink gateway.
    std::vector<cfg::ip_prefix> prefixes;
    for (uint32_t i = 0; i < opt.routes; ++i) {
        cfg::route_config r;
        r.prefix.addr.v6 = v6;
        if (v6) {
            r.prefix.length = static_cast<uint8_t>(16 + rng() % 49);
            r.prefix.addr.bytes[0] = 0x20;
            r.prefix.addr.bytes[1] = 0x01;
            for (int b = 2; b < 16; ++b) {
                r.prefix.addr.bytes[b] = static_cast<uint8_t>(rng());
            }
        } else {
            r.prefix.length = static_cast<uint8_t>(8 + rng() % 21);
            uint32_t a = static_cast<uint32_t>(rng());
            a = (a & 0x7fffffff) | 0x01000000;  // unicast, not 0/8
            for (int b = 0; b < 4; ++b) {
                r.prefix.addr.bytes[b] = static_cast<uint8_t>(a >> (24 - 8 * b));
            }
        }
        // Clear host bits.
        for (uint32_t b = 0; b < 16; ++b) {
            const uint32_t keep = r.prefix.length > b * 8 ? std::min<uint32_t>(8, r.prefix.length - b * 8) : 0;
            r.prefix.addr.bytes[b] &= static_cast<uint8_t>(keep ? 0xff << (8 - keep) : 0);
        }
        r.via = *cfg::parse_ip(v6 ? "2001:db8:1::2" : "203.0.113.2");
        prefixes.push_back(r.prefix);
        config.routes.push_back(r);
    }
    // Destinations: inside random routes (so the lookups walk deep tables).
    std::vector<std::vector<uint8_t>> frames;
    const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01};
    for (int i = 0; i < 1024; ++i) {
        cfg::ip_prefix p = prefixes[rng() % prefixes.size()];
        for (uint32_t b = 0; b < 16; ++b) {
            const uint32_t keep = p.length > b * 8 ? std::min<uint32_t>(8, p.length - b * 8) : 0;
            const uint8_t mask = static_cast<uint8_t>(keep ? 0xff << (8 - keep) : 0);
            p.addr.bytes[b] = static_cast<uint8_t>((p.addr.bytes[b] & mask) | (static_cast<uint8_t>(rng()) & ~mask));
        }
        if (v6) {
            frames.push_back(udp6_frame(src6, p.addr.bytes.data()));
        } else {
            const uint32_t dst = dp::load32(p.addr.bytes.data());
            frames.push_back(udp4_frame(0xc0a8640b /*192.168.100.11*/, dst));
        }
    }

    bench_ports io(false);
    dp::memory_port& vm = io.vm;
    dp::memory_port& up = io.up;
    const dp::memory_port_options& vo = io.vo;
    const dp::memory_port_options& uo = io.uo;
    vm.set_replay(frames);

    std::vector<ctl::port_runtime_info> macs = {{vo.mac}, {uo.mac}};
    dp::rcu_publisher<dp::snapshot> snapshots(1);
    snapshots.publish(ctl::build_snapshot(config, macs, {}, 1));
    dp::neighbour_table neighbours(1024);
    neighbours.set(dp::neighbour_key::ipv4(1, 0xcb007102), {0x02, 0, 0, 0, 0, 0x22});
    const auto gw6 = *cfg::parse_ip("2001:db8:1::2");
    neighbours.set(dp::neighbour_key::ipv6(1, gw6.bytes.data()), {0x02, 0, 0, 0, 0, 0x22});
    dp::frame_ring punt(1024), inject(1024);
    dp::worker_counters counters;
    dp::worker_options wo;
    wo.burst_size = opt.burst;
    dp::worker w(wo, {&vm, &up}, snapshots, neighbours, punt, inject, -1, -1, counters);

    const run_result r = measure(w, opt, [&] { return up.tx_count(); });
    const uint64_t packets = r.packets;
    const double ns = r.ns;
    const uint64_t drops = total_drops(counters);
    std::printf(
        "{\"scenario\":\"%s\",\"mpps\":%.3f,\"ns_per_packet\":%.2f,\"cycles_per_packet\":%.1f,\"tsc_ghz\":%.3f,"
        "\"packets\":%" PRIu64 ",\"seconds\":%.3f,\"routes\":%u,\"burst\":%u,\"frame_bytes\":64,"
        "\"drops\":%" PRIu64 ",\"punted\":%" PRIu64 ",\"steal_pct\":%.1f,\"backend\":\"memory\",\"workers\":1}\n",
        name.c_str(), packets / ns * 1e3, ns / packets, static_cast<double>(r.cycles) / packets,
        static_cast<double>(r.cycles) / ns, packets, ns / 1e9, opt.routes, opt.burst, drops,
        counters.punted.get(), r.steal_pct);
    std::fflush(stdout);
    return packets > 0 && drops == 0 ? 0 : 1;
}

// ---- NAT44 ---------------------------------------------------------------------------

constexpr uint32_t k_nat_vms = 64;          // VMs 192.168.100.10 .. +63
constexpr uint32_t k_nat_ports = 1024;      // source ports per VM: 20000 ..
constexpr uint32_t k_vm_base = 0xc0a8640a;  // 192.168.100.10
constexpr uint32_t k_remote_base = 0x0b000000;  // 11.0.0.0: the "internet" the VMs talk to

std::array<uint8_t, 6> vm_mac(uint32_t i) {
    return {0x02, 0, 0, 0, static_cast<uint8_t>(0x10 + (i >> 8)), static_cast<uint8_t>(i)};
}

/// The bench topology plus NAT: 4 public addresses, 64 bound VMs (anti-spoofing on).
std::string nat_config(uint32_t max_sessions, uint32_t udp_timeout_s) {
    std::string c = k_base_config;
    c += "[nat]\npublic_addresses = [\"203.0.113.1\", \"203.0.113.3\", \"203.0.113.4\", \"203.0.113.5\"]\n"
         "port_range = [1024, 65535]\nsessions_per_vm = 0\nmax_sessions = " +
         std::to_string(max_sessions) + "\n[nat.timeouts]\nudp_s = " + std::to_string(udp_timeout_s) +
         "\n[nat.port_blocks]\naddress = \"203.0.113.9\"\n";
    for (uint32_t i = 0; i < k_nat_vms; ++i) {
        char buf[160];
        const auto m = vm_mac(i);
        std::snprintf(buf, sizeof buf,
                      "[[vms]]\nname = \"vm%u\"\nmac = \"%02x:%02x:%02x:%02x:%02x:%02x\"\nipv4 = \"192.168.100.%u\"\n", i,
                      m[0], m[1], m[2], m[3], m[4], m[5], 10 + i);
        c += buf;
    }
    return c;
}

/// A 64-byte UDP frame; src_mac is the sender's (anti-spoofing checks it on the vm port).
std::vector<uint8_t> nat_udp_frame(const std::array<uint8_t, 6>& dst_mac, const std::array<uint8_t, 6>& src_mac,
                                   uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
    std::vector<uint8_t> f = udp4_frame(src, dst);
    std::memcpy(f.data(), dst_mac.data(), 6);
    std::memcpy(f.data() + 6, src_mac.data(), 6);
    dp::store16(f.data() + 34, sport);
    dp::store16(f.data() + 36, dport);
    return f;
}

/// nat44-new's traffic source: every frame a new 5-tuple (the 1024 VM sockets in turn,
/// each to the next remote address:port), written straight into pool buffers.
class new_flow_port final : public dp::port_io {
public:
    new_flow_port(uint16_t index, dp::buffer_pool& pool) : index_(index), pool_(pool) {
        frame_ = nat_udp_frame({0x02, 0, 0, 0, 0, 0x01}, vm_mac(0), k_vm_base, 20000, k_remote_base, 1);
    }
    uint16_t rx_burst(dp::packet** out, uint16_t max) override {
        const uint32_t got = pool_.alloc_bulk(out, max);
        for (uint32_t i = 0; i < got; ++i) {
            dp::packet* p = out[i];
            std::memcpy(p->data, frame_.data(), 64);
            const uint32_t sock = n_ % (k_nat_vms * 16);  // 1024 sockets: 64 VMs x 16 ports
            const uint32_t vm = sock % k_nat_vms;
            const uint64_t dest = n_ / (k_nat_vms * 16);
            std::memcpy(p->data + 6, vm_mac(vm).data(), 6);
            uint8_t* ip = p->data + 14;
            dp::store32(ip + 12, k_vm_base + vm);
            dp::store32(ip + 16, k_remote_base + static_cast<uint32_t>(dest >> 14));
            dp::put_raw16(ip + 10, 0);
            dp::put_raw16(ip + 10, dp::checksum(ip, 20));
            dp::store16(ip + 20, static_cast<uint16_t>(20000 + sock / k_nat_vms));
            dp::store16(ip + 22, static_cast<uint16_t>(1024 + (dest & 0x3fff)));
            p->len = 64;
            p->in_port = index_;
            ++n_;
        }
        return static_cast<uint16_t>(got);
    }
    uint16_t tx_burst(dp::packet** pkts, uint16_t n) override {
        pool_.free(pkts, n);
        return n;
    }
    void release(dp::packet** pkts, uint16_t n) override { pool_.free(pkts, n); }
    dp::packet* alloc(uint32_t) override { return pool_.alloc(); }
    std::array<uint8_t, 6> mac() const override { return {0x02, 0, 0, 0, 0, 0x01}; }
    const char* backend_name() const override { return "bench-generator"; }

private:
    uint16_t index_;
    dp::buffer_pool& pool_;
    std::vector<uint8_t> frame_;
    uint64_t n_ = 0;
};

int run_nat_scenario(const std::string& name, const options& opt) {
    const bool fresh = name == "nat44-new";
    const uint32_t sessions = fresh ? 0 : opt.sessions;
    // Every session, its mapping, headroom: nat44-new holds ~1-2 s of sessions.
    const uint32_t capacity = fresh ? 8u << 20 : sessions + sessions / 4 + k_nat_vms * k_nat_ports;
    cfg::load_result lr = cfg::load_string(nat_config(capacity, fresh ? 1 : 600), "bench-nat");
    if (!lr.value) {
        for (auto& e : lr.errors) {
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        }
        return 1;
    }
    const cfg::config config = *lr.value;
    bench_ports io(true);
    dp::memory_port& vm = io.vm;
    dp::memory_port& up = io.up;
    const dp::memory_port_options& vo = io.vo;
    const dp::memory_port_options& uo = io.uo;
    new_flow_port generator(0, io.pool);

    std::vector<ctl::port_runtime_info> macs = {{vo.mac}, {uo.mac}};
    dp::rcu_publisher<dp::snapshot> snapshots(1);
    snapshots.publish(ctl::build_snapshot(config, macs, {}, 1));
    dp::neighbour_table neighbours(4096);
    neighbours.set(dp::neighbour_key::ipv4(1, 0xcb007102), {0x02, 0, 0, 0, 0, 0x22});
    for (uint32_t i = 0; i < k_nat_vms; ++i) {
        neighbours.set(dp::neighbour_key::ipv4(0, k_vm_base + i), vm_mac(i));
    }
    dp::nat44_state nat(snapshots.acquire()->nat, 0, capacity);
    dp::frame_ring punt(1024), inject(1024);
    dp::worker_counters counters;
    dp::worker_options wo;
    wo.burst_size = opt.burst;
    std::vector<dp::port_io*> ports = {fresh ? static_cast<dp::port_io*>(&generator) : &vm, &up};
    dp::worker w(wo, ports, snapshots, neighbours, punt, inject, -1, -1, counters);
    w.set_nat(&nat);

    std::mt19937_64 rng(7);
    if (!fresh) {
        // One packet per session: 64 VMs x 1024 ports x 16 destinations (to 1M).
        std::vector<std::vector<uint8_t>> out;
        out.reserve(sessions);
        for (uint32_t i = 0; i < sessions; ++i) {
            const uint32_t vm_i = i % k_nat_vms;
            const uint32_t port = 20000 + (i / k_nat_vms) % k_nat_ports;
            const uint32_t dest = i / (k_nat_vms * k_nat_ports);
            out.push_back(nat_udp_frame(vo.mac, vm_mac(vm_i), k_vm_base + vm_i, static_cast<uint16_t>(port),
                                        k_remote_base + dest * 7919, 53));
        }
        std::shuffle(out.begin(), out.end(), rng);
        vm.set_replay(std::move(out));
        // Create them all: one pass over the replay set.
        while (nat.table().size() < sessions + k_nat_vms * k_nat_ports && vm.rx_count() < 2ull * sessions) {
            w.poll_once();
        }
        // The replies, from the sessions themselves (their public address:port).
        std::vector<std::vector<uint8_t>> replies;
        replies.reserve(sessions);
        nat.table().for_each([&](uint32_t, const dp::session& r) {
            if (r.inside.kind == dp::k_key_flow) {
                replies.push_back(nat_udp_frame(uo.mac, {0x02, 0, 0, 0, 0, 0x22}, r.outside.src_addr,
                                                r.outside.src_port, r.outside.dst_addr, r.outside.dst_port));
            }
        });
        std::shuffle(replies.begin(), replies.end(), rng);
        up.set_replay(std::move(replies));
    }
    if (fresh && opt.polls == 0) {
        // nat44-new is timed in its steady state, as in a gateway that has run a while:
        // two seconds first (one UDP timeout, then a second of expiry at the creation
        // rate), so the live set has stopped growing and the pages of the index and the
        // records it uses are resident.
        poll_for(w, 2.0);
    }
    const uint64_t created0 = counters.nat_sessions_created.get();
    const run_result r = measure(w, opt, [&] { return vm.tx_count() + up.tx_count(); },
                                 fresh ? 1000 : 20000);
    const uint64_t created = counters.nat_sessions_created.get() - created0;
    const double ns = r.ns;
    const uint64_t drops = total_drops(counters);
    std::printf(
        "{\"scenario\":\"%s\",\"mpps\":%.3f,\"ns_per_packet\":%.2f,\"cycles_per_packet\":%.1f,\"tsc_ghz\":%.3f,"
        "\"packets\":%" PRIu64 ",\"seconds\":%.3f,\"sessions_live\":%u,\"sessions_created_per_s\":%.0f,"
        "\"sessions_expired\":%" PRIu64 ",\"burst\":%u,\"frame_bytes\":64,\"drops\":%" PRIu64
        ",\"steal_pct\":%.1f,\"backend\":\"memory\",\"workers\":1,\"table_bytes\":%zu}\n",
        name.c_str(), r.packets / ns * 1e3, ns / r.packets, static_cast<double>(r.cycles) / r.packets,
        static_cast<double>(r.cycles) / ns, r.packets, ns / 1e9, nat.table().size(), created / ns * 1e9,
        counters.nat_sessions_expired.get(), opt.burst, drops, r.steal_pct, nat.table().memory_bytes());
    std::fflush(stdout);
    return r.packets > 0 && drops == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "edgegate-bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--scenario") {
            opt.scenario = next();
        } else if (a == "--seconds") {
            opt.seconds = std::stod(next());
        } else if (a == "--routes") {
            opt.routes = static_cast<uint32_t>(std::stoul(next()));
        } else if (a == "--sessions") {
            opt.sessions = static_cast<uint32_t>(std::stoul(next()));
        } else if (a == "--burst") {
            opt.burst = static_cast<uint32_t>(std::stoul(next()));
        } else if (a == "--polls") {
            opt.polls = static_cast<uint32_t>(std::stoul(next()));
        } else {
            std::fprintf(stderr,
                         "usage: edgegate-bench --scenario ipv4-forward|ipv6-forward|nat44-established|nat44-new|all "
                         "[--seconds S | --polls N] [--routes N] [--burst B] [--sessions N]\n");
            return 2;
        }
    }
    const std::vector<std::string> all = {"ipv4-forward", "ipv6-forward", "nat44-established", "nat44-new"};
    int rc = 0;
    for (const auto& s : all) {
        if (opt.scenario == "all" || opt.scenario == s) {
            rc |= s.starts_with("nat44") ? run_nat_scenario(s, opt) : run_scenario(s, opt);
        }
    }
    if (opt.scenario != "all" && std::find(all.begin(), all.end(), opt.scenario) == all.end()) {
        std::fprintf(stderr, "edgegate-bench: unknown scenario '%s'\n", opt.scenario.c_str());
        return 2;
    }
    return rc;
}
