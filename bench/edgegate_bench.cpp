// edgegate-bench: drives the real pipeline (worker loop, stages, memory backend) with
// generated traffic and prints one JSON object per scenario.
//
//   edgegate-bench --scenario ipv4-forward|ipv6-forward|all [--seconds S] [--routes N]
//                  [--burst B]
//
// The vm port replays 1024 pre-built 64-byte UDP frames to random destinations covered
// by N random routes (plus a default route); the uplink port counts and frees what is
// sent. Timing: wall clock for ns/packet, the TSC for cycles/packet (this VM has no
// performance counters; the TSC ticks at its nominal rate, reported as tsc_ghz).
#include <x86intrin.h>

#include <cinttypes>
#include <cstdio>
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

    dp::buffer_pool_options bo;
    bo.count = 4096;
    bo.buffer_size = 2048;
    dp::buffer_pool pool(bo);
    dp::memory_port_options vo;
    vo.port_index = 0;
    vo.mac = {0x02, 0, 0, 0, 0, 0x01};
    dp::memory_port vm(vo, pool);
    dp::memory_port_options uo;
    uo.port_index = 1;
    uo.mac = {0x02, 0, 0, 0, 0, 0x02};
    uo.tx_sink = true;
    dp::memory_port up(uo, pool);
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

    // Warm up, then measure.
    for (int i = 0; i < 20000; ++i) {
        w.poll_once();
    }
    const auto jiffies0 = cpu_jiffies();
    const uint64_t tx0 = up.tx_count();
    const uint64_t t0 = dp::monotonic_ns();
    const uint64_t c0 = __rdtsc();
    const uint64_t deadline = t0 + static_cast<uint64_t>(opt.seconds * 1e9);
    uint64_t now = t0;
    while (now < deadline) {
        for (int i = 0; i < 1024; ++i) {
            w.poll_once();
        }
        now = dp::monotonic_ns();
    }
    const uint64_t c1 = __rdtsc();
    const auto jiffies1 = cpu_jiffies();
    const double steal_pct = jiffies1.first > jiffies0.first
                                 ? 100.0 * (jiffies1.second - jiffies0.second) / (jiffies1.first - jiffies0.first)
                                 : 0.0;
    const uint64_t packets = up.tx_count() - tx0;
    const double ns = static_cast<double>(now - t0);
    uint64_t drops = 0;
    for (uint32_t r = 1; r < dp::k_drop_reason_count; ++r) {
        drops += counters.drops[r].get();
    }
    std::printf(
        "{\"scenario\":\"%s\",\"mpps\":%.3f,\"ns_per_packet\":%.2f,\"cycles_per_packet\":%.1f,\"tsc_ghz\":%.3f,"
        "\"packets\":%" PRIu64 ",\"seconds\":%.3f,\"routes\":%u,\"burst\":%u,\"frame_bytes\":64,"
        "\"drops\":%" PRIu64 ",\"punted\":%" PRIu64 ",\"steal_pct\":%.1f,\"backend\":\"memory\",\"workers\":1}\n",
        name.c_str(), packets / ns * 1e3, ns / packets, static_cast<double>(c1 - c0) / packets,
        static_cast<double>(c1 - c0) / ns, packets, ns / 1e9, opt.routes, opt.burst, drops,
        counters.punted.get(), steal_pct);
    std::fflush(stdout);
    return packets > 0 && drops == 0 ? 0 : 1;
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
        } else if (a == "--burst") {
            opt.burst = static_cast<uint32_t>(std::stoul(next()));
        } else {
            std::fprintf(stderr,
                         "usage: edgegate-bench --scenario ipv4-forward|ipv6-forward|all [--seconds S] "
                         "[--routes N] [--burst B]\n");
            return 2;
        }
    }
    const std::vector<std::string> all = {"ipv4-forward", "ipv6-forward"};
    int rc = 0;
    for (const auto& s : all) {
        if (opt.scenario == "all" || opt.scenario == s) {
            rc |= run_scenario(s, opt);
        }
    }
    if (opt.scenario != "all" && std::find(all.begin(), all.end(), opt.scenario) == all.end()) {
        std::fprintf(stderr, "edgegate-bench: unknown scenario '%s'\n", opt.scenario.c_str());
        return 2;
    }
    return rc;
}
