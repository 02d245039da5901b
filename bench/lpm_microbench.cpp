// LPM lookup rates: ours (lpm4 DIR-16-8-8, lpm6 16-8-..-8) against the DIR-24-8 /
// 24-bit-root variants of the same code and DPDK's rte_lpm / rte_lpm6, all built from
// the same routes in this binary.
//
// Workload (fixed seeds): 10k routes plus a default route.
//   IPv4 depths roughly as in a BGP table: 55% /24, 35% /16-/23, 5% /8-/15, 5% /25-/32.
//   IPv6 depths: 20% /32-/47, 40% /48, 20% /64, 20% /128 (per-VM host routes).
// Addresses: 1M per family (larger than the L2, so the table's cache behaviour shows);
// 3 in 4 fall inside a random route (random host bits), 1 in 4 are uniformly random.
// Each iteration looks up one batch of 32 (a burst) with the bulk call; items/s is
// lookups per second on one core.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/lpm4.hpp"
#include "dataplane/lpm6.hpp"

#ifdef EG_WITH_DPDK
#include <rte_eal.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#endif

namespace {

using namespace eg::dp;

constexpr uint32_t k_routes = 10000;
constexpr uint32_t k_addrs = 1u << 20;
constexpr uint32_t k_batch = 32;

struct route4 {
    uint32_t prefix;
    uint8_t depth;
    uint32_t next_hop;
};
struct route6 {
    std::array<uint8_t, 16> prefix;
    uint8_t depth;
    uint32_t next_hop;
};

uint32_t mask4(uint8_t d) { return d == 0 ? 0 : ~uint32_t(0) << (32 - d); }

struct workload4 {
    std::vector<route4> routes;
    std::vector<uint32_t> addrs;
};

const workload4& w4() {
    static const workload4 w = [] {
        workload4 r;
        std::mt19937_64 rng(4);
        r.routes.push_back({0, 0, 1});
        for (uint32_t i = 0; i < k_routes; ++i) {
            const uint64_t p = rng() % 100;
            const uint8_t d = p < 55 ? 24 : p < 90 ? uint8_t(16 + rng() % 8) : p < 95 ? uint8_t(8 + rng() % 8) : uint8_t(25 + rng() % 8);
            r.routes.push_back({uint32_t(rng()) & mask4(d), d, uint32_t(2 + i)});
        }
        r.addrs.resize(k_addrs);
        for (auto& a : r.addrs) {
            a = uint32_t(rng());
            if (rng() % 4 != 0) {
                const route4& rt = r.routes[1 + rng() % k_routes];
                a = rt.prefix | (a & ~mask4(rt.depth));
            }
        }
        return r;
    }();
    return w;
}

struct workload6 {
    std::vector<route6> routes;
    std::vector<std::array<uint8_t, 16>> addrs;
    std::vector<const uint8_t*> ptrs;
};

const workload6& w6() {
    static const workload6 w = [] {
        workload6 r;
        std::mt19937_64 rng(6);
        r.routes.push_back({{}, 0, 1});
        for (uint32_t i = 0; i < k_routes; ++i) {
            const uint64_t p = rng() % 10;
            const uint8_t d = p < 2 ? uint8_t(32 + rng() % 16) : p < 6 ? 48 : p < 8 ? 64 : 128;
            route6 rt{{}, d, uint32_t(2 + i)};
            for (unsigned b = 0; b < 16; ++b) {
                const uint8_t keep = b * 8 + 8 <= d ? 0xff : b * 8 >= d ? 0 : uint8_t(0xff00 >> (d - b * 8));
                rt.prefix[b] = uint8_t(rng()) & keep;
            }
            r.routes.push_back(rt);
        }
        r.addrs.resize(k_addrs);
        for (auto& a : r.addrs) {
            for (auto& b : a) b = uint8_t(rng());
            if (rng() % 4 != 0) {
                const route6& rt = r.routes[1 + rng() % k_routes];
                for (unsigned b = 0; b < 16; ++b) {
                    const uint8_t keep = b * 8 + 8 <= rt.depth ? 0xff : b * 8 >= rt.depth ? 0 : uint8_t(0xff00 >> (rt.depth - b * 8));
                    a[b] = uint8_t((rt.prefix[b] & keep) | (a[b] & ~keep));
                }
            }
        }
        for (const auto& a : r.addrs) r.ptrs.push_back(a.data());
        return r;
    }();
    return w;
}

template <class Table>
const Table& ours4() {
    static const Table t = [] {
        Table x;
        for (const route4& r : w4().routes) x.add(r.prefix, r.depth, r.next_hop);
        return x;
    }();
    return t;
}

template <class Table>
const Table& ours6() {
    static const Table t = [] {
        Table x;
        for (const route6& r : w6().routes) x.add(r.prefix.data(), r.depth, r.next_hop);
        return x;
    }();
    return t;
}

template <class Table>
void bm_ours4(benchmark::State& state) {
    const Table& t = ours4<Table>();
    const uint32_t* addrs = w4().addrs.data();
    uint32_t out[k_batch];
    uint32_t pos = 0;
    for (auto _ : state) {
        t.lookup_bulk(addrs + pos, out, k_batch);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
        pos = (pos + k_batch) & (k_addrs - 1);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * k_batch);
    state.counters["table_MiB"] = double(t.memory_bytes()) / (1 << 20);
    state.counters["groups"] = double(t.groups_in_use());
}

template <class Table>
void bm_ours6(benchmark::State& state) {
    const Table& t = ours6<Table>();
    const uint8_t* const* addrs = w6().ptrs.data();
    uint32_t out[k_batch];
    uint32_t pos = 0;
    for (auto _ : state) {
        t.lookup_bulk(addrs + pos, out, k_batch);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
        pos = (pos + k_batch) & (k_addrs - 1);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * k_batch);
    state.counters["table_MiB"] = double(t.memory_bytes()) / (1 << 20);
    state.counters["groups"] = double(t.groups_in_use());
}

// One lookup at a time (what a stage without batching would pay).
void BM_lpm4_ours_scalar(benchmark::State& state) {
    const lpm4& t = ours4<lpm4>();
    const uint32_t* addrs = w4().addrs.data();
    uint32_t pos = 0;
    for (auto _ : state) {
        uint32_t acc = 0;
        for (uint32_t i = 0; i < k_batch; ++i) acc += t.lookup(addrs[pos + i]);
        benchmark::DoNotOptimize(acc);
        pos = (pos + k_batch) & (k_addrs - 1);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * k_batch);
}

void BM_lpm4_ours(benchmark::State& state) { bm_ours4<lpm4>(state); }
void BM_lpm4_dir24(benchmark::State& state) { bm_ours4<basic_lpm4<24>>(state); }
void BM_lpm6_ours(benchmark::State& state) { bm_ours6<lpm6>(state); }
void BM_lpm6_root24(benchmark::State& state) { bm_ours6<basic_lpm6<24>>(state); }
BENCHMARK(BM_lpm4_ours);
BENCHMARK(BM_lpm4_dir24);
BENCHMARK(BM_lpm4_ours_scalar);
BENCHMARK(BM_lpm6_ours);
BENCHMARK(BM_lpm6_root24);

#ifdef EG_WITH_DPDK
}  // namespace
// rte_lpm allocates from the EAL heap: bring EAL up once, before any benchmark runs,
// without hugepages or devices. Shared by every *_microbench.cpp in this binary
// (rte_eal_init runs once per process); 4096 MiB for rte_hash at 10M entries.
bool eg_bench_eal_init() {
    static const bool ok = [] {
        static char a0[] = "bench", a1[] = "--no-huge", a2[] = "-m", a3[] = "4096", a4[] = "--no-pci",
                    a5[] = "--no-telemetry", a6[] = "-l", a7[] = "0", a8[] = "--log-level=error",
                    a9[] = "--file-prefix=lpmbench";
        char* argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
        return rte_eal_init(int(std::size(argv)), argv) >= 0;
    }();
    return ok;
}
namespace {
const bool g_eal_ok = eg_bench_eal_init();

constexpr uint32_t k_rte4_tbl8s = 1u << 13;
constexpr uint32_t k_rte6_tbl8s = 1u << 16;

rte_lpm* rte4() {
    static rte_lpm* t = [] {
        const rte_lpm_config cfg{.max_rules = 2 * k_routes, .number_tbl8s = k_rte4_tbl8s, .flags = 0};
        rte_lpm* x = rte_lpm_create("bench4", 0, &cfg);
        if (x == nullptr) return x;
        for (const route4& r : w4().routes) {
            // rte_lpm takes depths 1..32: the default route becomes its two halves.
            const int rc = r.depth == 0 ? rte_lpm_add(x, 0, 1, r.next_hop) | rte_lpm_add(x, 0x80000000, 1, r.next_hop)
                                        : rte_lpm_add(x, r.prefix, r.depth, r.next_hop);
            if (rc < 0) return static_cast<rte_lpm*>(nullptr);
        }
        return x;
    }();
    return t;
}

rte_lpm6* rte6() {
    static rte_lpm6* t = [] {
        const rte_lpm6_config cfg{.max_rules = 2 * k_routes, .number_tbl8s = k_rte6_tbl8s, .flags = 0};
        rte_lpm6* x = rte_lpm6_create("bench6", 0, &cfg);
        if (x == nullptr) return x;
        for (const route6& r : w6().routes) {
            // rte_lpm6 takes depths 1..128: the default route becomes its two halves.
            int rc = 0;
            if (r.depth == 0) {
                std::array<uint8_t, 16> half{};
                rc |= rte_lpm6_add(x, half.data(), 1, r.next_hop);
                half[0] = 0x80;
                rc |= rte_lpm6_add(x, half.data(), 1, r.next_hop);
            } else {
                rc = rte_lpm6_add(x, r.prefix.data(), r.depth, r.next_hop);
            }
            if (rc < 0) return static_cast<rte_lpm6*>(nullptr);
        }
        return x;
    }();
    return t;
}

void BM_lpm4_rte(benchmark::State& state) {
    rte_lpm* t = g_eal_ok ? rte4() : nullptr;
    if (t == nullptr) {
        state.SkipWithError("rte_lpm unavailable (EAL init or table build failed)");
        return;
    }
    const uint32_t* addrs = w4().addrs.data();
    uint32_t out[k_batch];
    uint32_t pos = 0;
    for (auto _ : state) {
        rte_lpm_lookup_bulk(t, addrs + pos, out, k_batch);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
        pos = (pos + k_batch) & (k_addrs - 1);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * k_batch);
    // tbl24 plus the configured tbl8 pool (rte_lpm allocates both up front).
    state.counters["table_MiB"] = double((size_t(1) << 24) * 4 + size_t(k_rte4_tbl8s) * 256 * 4) / (1 << 20);
}

void BM_lpm6_rte(benchmark::State& state) {
    rte_lpm6* t = g_eal_ok ? rte6() : nullptr;
    if (t == nullptr) {
        state.SkipWithError("rte_lpm6 unavailable (EAL init or table build failed)");
        return;
    }
    // rte_lpm6 wants the addresses contiguous.
    auto* addrs = reinterpret_cast<uint8_t(*)[16]>(const_cast<uint8_t*>(w6().addrs.front().data()));
    int32_t out[k_batch];
    uint32_t pos = 0;
    for (auto _ : state) {
        rte_lpm6_lookup_bulk_func(t, addrs + pos, out, k_batch);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
        pos = (pos + k_batch) & (k_addrs - 1);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * k_batch);
    state.counters["table_MiB"] = double((size_t(1) << 24) * 4 + size_t(k_rte6_tbl8s) * 256 * 4) / (1 << 20);
}

// Cross-check once: same answers as ours (DPDK flags a hit in bit 24 / returns -1).
void BM_lpm_agree(benchmark::State& state) {
    if (!g_eal_ok || rte4() == nullptr || rte6() == nullptr) {
        state.SkipWithError("DPDK tables unavailable");
        return;
    }
    int64_t mismatches = 0;
    for (auto _ : state) {
        mismatches = 0;
        for (uint32_t i = 0; i < 1u << 16; ++i) {
            uint32_t hop4 = 0;
            const uint32_t want4 = rte_lpm_lookup(rte4(), w4().addrs[i], &hop4) == 0 ? hop4 : k_lpm_no_route;
            mismatches += ours4<lpm4>().lookup(w4().addrs[i]) != want4;
            uint32_t hop6 = 0;
            const uint32_t want6 = rte_lpm6_lookup(rte6(), w6().addrs[i].data(), &hop6) == 0 ? hop6 : k_lpm_no_route;
            mismatches += ours6<lpm6>().lookup(w6().addrs[i].data()) != want6;
        }
    }
    state.counters["mismatches"] = double(mismatches);
    if (mismatches != 0) state.SkipWithError("ours and DPDK disagree");
}

BENCHMARK(BM_lpm4_rte);
BENCHMARK(BM_lpm6_rte);
BENCHMARK(BM_lpm_agree)->Iterations(1);
#endif

}  // namespace
