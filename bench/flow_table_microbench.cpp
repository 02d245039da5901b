// Flow-table lookup rates: ours (dataplane/flow_table.hpp) against DPDK's rte_hash, same
// keys, in one run.
//
// Workload (fixed seed): N random 16-byte flow keys (N = 1M and 10M), held by
//   ours:     N/2 sessions (each an inside and an outside key) in flow_table(N/2), i.e.
//             the table full, its index at 64% load;
//   rte_hash: rte_hash_create(entries = N, key_len 16, rte_hash_crc, no extra flags: no
//             extendable buckets), the same N keys. rte_hash rounds its slots up to a
//             power of two: 95% load at N = 1M, 60% at N = 10M (load_factor counter).
// Queries: 4M keys drawn at random (with repetition) from the N, copied in query order
// so reading them is sequential; both tables look up the same stream. Each iteration is
// one burst of 32 through the bulk call (ours lookup_bulk, rte_hash_lookup_bulk);
// items/s is lookups per second on one core. The ratio ours/rte_hash is for the reader
// (tools: compare the items_per_second of BM_flow_lookup_ours/N and BM_flow_lookup_rte_hash/N).
//
// BM_flow_memory_10M fills flow_table(10M) and reports bytes per session (mapped, and
// RSS growth).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "dataplane/flow_table.hpp"

#ifdef EG_WITH_DPDK
#include <rte_hash.h>
#include <rte_hash_crc.h>

// bench/lpm_microbench.cpp (same binary) brings up EAL once for every microbench.
bool eg_bench_eal_init();
#endif

namespace {

using namespace eg::dp;

constexpr uint32_t k_batch = 32;
constexpr uint32_t k_queries = 1u << 22;

struct workload {
    std::vector<flow_key> keys;     // keys[2i] inside, keys[2i+1] outside of session i
    std::vector<flow_key> queries;  // k_queries keys, random order
};

const workload& load(uint32_t n) {
    static std::map<uint32_t, std::unique_ptr<workload>> cache;
    auto& w = cache[n];
    if (w) return *w;
    w = std::make_unique<workload>();
    std::mt19937_64 rng(0xf10f10 + n);
    w->keys.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t a = rng(), b = rng();
        w->keys[i] = make_flow_key(uint32_t(a), uint16_t(a >> 32), uint32_t(b), uint16_t(b >> 32),
                                   (a >> 63) ? 6 : 17);
    }
    w->queries.resize(k_queries);
    for (uint32_t i = 0; i < k_queries; ++i) w->queries[i] = w->keys[rng() % n];
    return *w;
}

const flow_table& ours(uint32_t n) {
    static std::map<uint32_t, std::unique_ptr<flow_table>> cache;
    auto& t = cache[n];
    if (t) return *t;
    const workload& w = load(n);
    t = std::make_unique<flow_table>(n / 2);
    for (uint32_t i = 0; i + 1 < n; i += 2) t->insert(w.keys[i], w.keys[i + 1], {}, 0);
    return *t;
}

void BM_flow_lookup_ours(benchmark::State& state) {
    const uint32_t n = uint32_t(state.range(0));
    const workload& w = load(n);
    const flow_table& t = ours(n);
    uint32_t ids[k_batch];
    bool outside[k_batch];
    // every query must hit
    uint64_t misses = 0;
    for (uint32_t i = 0; i < k_queries; i += k_batch) {
        t.lookup_bulk(&w.queries[i], k_batch, ids, outside);
        for (uint32_t j = 0; j < k_batch; ++j) misses += ids[j] == k_no_session;
    }
    uint32_t pos = 0;
    for (auto _ : state) {
        t.lookup_bulk(&w.queries[pos], k_batch, ids, outside);
        benchmark::DoNotOptimize(ids);
        benchmark::ClobberMemory();
        pos = (pos + k_batch) & (k_queries - 1);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * k_batch);
    state.counters["misses"] = double(misses);
    state.counters["load_factor"] = double(t.size()) * 2 / (double(t.bucket_count()) * flow_table::k_bucket_slots);
    state.counters["table_MiB"] = double(t.memory_bytes()) / (1 << 20);
    state.counters["extra_probes_per_key"] = double(t.stats().extra_probes) / (2.0 * t.size());
}

#ifdef EG_WITH_DPDK
rte_hash* rte(uint32_t n, uint64_t* add_failures) {
    static std::map<uint32_t, std::pair<rte_hash*, uint64_t>> cache;
    auto it = cache.find(n);
    if (it == cache.end()) {
        rte_hash* h = nullptr;
        uint64_t failed = 0;
        if (eg_bench_eal_init()) {
            char name[32];
            std::snprintf(name, sizeof name, "flowbench%u", n);
            rte_hash_parameters p{};
            p.name = name;
            p.entries = n;
            p.key_len = sizeof(flow_key);
            p.hash_func = rte_hash_crc;
            p.hash_func_init_val = 0;
            p.socket_id = 0;
            p.extra_flag = 0;
            h = rte_hash_create(&p);
            if (h != nullptr)
                for (const flow_key& k : load(n).keys) failed += rte_hash_add_key(h, &k) < 0;
        }
        it = cache.emplace(n, std::make_pair(h, failed)).first;
    }
    *add_failures = it->second.second;
    return it->second.first;
}

void BM_flow_lookup_rte_hash(benchmark::State& state) {
    const uint32_t n = uint32_t(state.range(0));
    uint64_t add_failures = 0;
    rte_hash* h = rte(n, &add_failures);
    if (h == nullptr) {
        state.SkipWithError("rte_hash unavailable (EAL init or rte_hash_create failed)");
        return;
    }
    const workload& w = load(n);
    const void* kp[k_batch];
    int32_t pos_out[k_batch];
    uint64_t misses = 0;
    for (uint32_t i = 0; i < k_queries; i += k_batch) {
        for (uint32_t j = 0; j < k_batch; ++j) kp[j] = &w.queries[i + j];
        rte_hash_lookup_bulk(h, kp, k_batch, pos_out);
        for (uint32_t j = 0; j < k_batch; ++j) misses += pos_out[j] < 0;
    }
    uint32_t pos = 0;
    for (auto _ : state) {
        for (uint32_t j = 0; j < k_batch; ++j) kp[j] = &w.queries[pos + j];
        rte_hash_lookup_bulk(h, kp, k_batch, pos_out);
        benchmark::DoNotOptimize(pos_out);
        benchmark::ClobberMemory();
        pos = (pos + k_batch) & (k_queries - 1);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * k_batch);
    state.counters["misses"] = double(misses);
    state.counters["add_failures"] = double(add_failures);
    uint32_t slots = 8;
    while (slots < n) slots <<= 1;  // rte_hash: align32pow2(entries) slots
    state.counters["load_factor"] = double(n - add_failures) / slots;
}
#endif

// Session churn on a full table: each iteration removes a random session and creates
// a new one with fresh random keys (insert looks both keys up first, then indexes them
// and arms the timer). items/s = sessions created per second, the NAT slow path's
// table share (VPP NAT44-ED's whole slow path: 2,310-2,390 clocks per new session,
// FDio/csit csit-nat44ed-cps-spec.md).
void BM_flow_churn(benchmark::State& state) {
    const uint32_t sessions = uint32_t(state.range(0)) / 2;
    flow_table t(sessions);
    uint64_t x = 0x5eed;
    auto next_key = [&x] {
        // splitmix64 (Steele et al., OOPSLA'14)
        auto mix = [](uint64_t z) {
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            return z ^ (z >> 31);
        };
        const uint64_t a = mix(x += 0x9e3779b97f4a7c15ull), b = mix(x += 0x9e3779b97f4a7c15ull);
        return make_flow_key(uint32_t(a), uint16_t(a >> 32), uint32_t(b), uint16_t(b >> 32), 17);
    };
    while (t.size() < sessions) t.insert(next_key(), next_key(), {}, 0);
    uint64_t failed = 0;
    uint32_t now = 0;
    for (auto _ : state) {
        const uint32_t victim = uint32_t((x * 0x2545f4914f6cdd1dull) >> 32) % sessions;
        t.erase(victim);
        failed += t.insert(next_key(), next_key(), {}, ++now >> 20) == k_no_session;
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["insert_failures"] = double(failed);
}

size_t rss_bytes() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return size_t(resident) * size_t(::sysconf(_SC_PAGESIZE));
}

void BM_flow_memory_10M(benchmark::State& state) {
    constexpr uint32_t k_n = 10'000'000;
    for (auto _ : state) {
        const size_t rss0 = rss_bytes();
        flow_table t(k_n);
        for (uint32_t i = 0; i < k_n; ++i)
            t.insert(make_flow_key(0x0a000000 + i, 40000, 0x08080808, 443, 6),
                     make_flow_key(0x08080808, 443, 0xc6336400 + (i >> 16), uint16_t(i), 6),
                     {.tclass = timeout_class::tcp_established}, 0);
        state.counters["sessions"] = double(t.size());
        state.counters["bytes_per_session_mapped"] = double(t.memory_bytes()) / k_n;
        state.counters["bytes_per_session_rss"] = double(rss_bytes() - rss0) / k_n;
    }
}

BENCHMARK(BM_flow_lookup_ours)->Arg(1'000'000)->Arg(10'000'000);
#ifdef EG_WITH_DPDK
BENCHMARK(BM_flow_lookup_rte_hash)->Arg(1'000'000)->Arg(10'000'000);
#endif
BENCHMARK(BM_flow_churn)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_flow_memory_10M)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
