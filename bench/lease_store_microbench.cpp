// Lease store and address pool figures (control/leases/, control/pools/).
//
//   BM_lease_append_commit/B   B leases appended, then commit(): one write + one
//                              fdatasync per batch, on the local disk (a temp dir under
//                              /tmp). items/s = durable leases per second; the
//                              iteration rate is fdatasyncs per second. Real time:
//                              the work happens on the store's sync thread.
//   BM_lease_replay/1000000/S  open() of a directory holding 1M leases, as a journal
//                              (S=0) or a compacted snapshot (S=1): read, checksum,
//                              decode, index. Files are in the page cache (warm).
//   BM_pool_create/L           constructing an IPv4 pool /L (and one allocation).
//   BM_pool_alloc_release_slash8  steady churn on a half-full /8: allocate one address,
//                              release a random held one; items/s = operations.
//   BM_pool_fill_slash8        allocating every address of a /8 once.
//   BM_ipv6_allocate           deriving and binding a /128 for a new vps_id.
// No DPDK EAL needed.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "control/leases/lease_store.hpp"
#include "control/pools/ipv4_pool.hpp"
#include "control/pools/ipv6_allocator.hpp"

namespace {

using namespace eg::ctl;
namespace fs = std::filesystem;

struct bench_dir {
    fs::path path;
    bench_dir() {
        std::string t = "/tmp/eg-lease-bench-XXXXXX";
        if (!::mkdtemp(t.data())) std::abort();
        path = t;
    }
    ~bench_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

leases::lease make_lease(uint64_t i) {
    leases::lease l;
    l.vps_id = "vps-" + std::to_string(i);
    l.organization_id = "org-" + std::to_string(i % 97);
    l.mac = {0x52, 0x54, static_cast<uint8_t>(i >> 24), static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
             static_cast<uint8_t>(i)};
    l.ipv4 = 0x0a000000u + static_cast<uint32_t>(i & 0xffffff);
    l.ipv6 = {0x20, 0x01, 0x0d, 0xb8};
    for (int k = 0; k < 8; ++k) l.ipv6[8 + k] = static_cast<uint8_t>(i >> (8 * k));
    l.expires_s = 1'900'000'000;
    l.state = leases::lease_state::bound;
    return l;
}

std::unique_ptr<leases::lease_store> open_store(const fs::path& dir, bool auto_compact) {
    leases::store_options o;
    o.auto_compact = auto_compact;
    std::error_code ec;
    auto s = leases::lease_store::open(dir, o, ec);
    if (!s) std::abort();
    return s;
}

void BM_lease_append_commit(benchmark::State& state) {
    const auto batch = static_cast<uint64_t>(state.range(0));
    bench_dir d;
    auto s = open_store(d.path, false);
    uint64_t i = 0;
    for (auto _ : state) {
        for (uint64_t k = 0; k < batch; ++k) s->put_lease(make_lease(i++ % (1u << 24)));
        if (s->commit().ec) state.SkipWithError("commit failed");
    }
    state.SetItemsProcessed(static_cast<int64_t>(i));
    state.counters["fdatasync_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_lease_append_commit)->Arg(1)->Arg(16)->Arg(256)->UseRealTime()->MinTime(2.0);

void BM_lease_replay(benchmark::State& state) {
    const auto n = static_cast<uint64_t>(state.range(0));
    const bool snapshot = state.range(1) != 0;
    bench_dir d;
    {
        auto s = open_store(d.path, false);
        for (uint64_t i = 0; i < n; ++i) {
            s->put_lease(make_lease(i));
            if ((i & 8191) == 8191) s->request_commit();
        }
        s->commit();
        if (snapshot) {
            s->compact_now();
            if (s->wait_for_compaction().ec) state.SkipWithError("compaction failed");
        }
    }
    uint64_t bytes = 0;
    for (const auto& e : fs::directory_iterator(d.path)) bytes += e.is_regular_file() ? e.file_size() : 0;
    for (auto _ : state) {
        std::error_code ec;
        leases::open_report rep;
        auto s = leases::lease_store::open(d.path, {}, ec, &rep);
        if (!s || s->leases().size() != n) state.SkipWithError("replay lost leases");
        state.PauseTiming();
        s.reset();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
    state.counters["file_MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_lease_replay)->Args({1000000, 0})->Args({1000000, 1})->Iterations(3)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_pool_create(benchmark::State& state) {
    const auto len = static_cast<uint8_t>(state.range(0));
    size_t mem = 0;
    for (auto _ : state) {
        pools::ipv4_pool p(0x0a000000, len);
        benchmark::DoNotOptimize(p.allocate());
        mem = p.memory_bytes();
    }
    state.counters["bitmap_bytes"] = static_cast<double>(mem);
}
BENCHMARK(BM_pool_create)->Arg(24)->Arg(16)->Arg(8)->Unit(benchmark::kMicrosecond);

void BM_pool_alloc_release_slash8(benchmark::State& state) {
    pools::ipv4_pool p(0x0a000000, 8);
    std::vector<uint32_t> held;
    held.reserve(1u << 24);
    for (uint32_t i = 0; i < (1u << 23); ++i) held.push_back(*p.allocate());
    std::mt19937_64 rng(1);
    for (auto _ : state) {
        const auto a = p.allocate();
        benchmark::DoNotOptimize(a);
        const size_t k = rng() % held.size();
        const uint32_t victim = held[k];
        held[k] = *a;
        if (p.release(victim)) state.SkipWithError("release failed");
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 2));
}
BENCHMARK(BM_pool_alloc_release_slash8);

void BM_pool_fill_slash8(benchmark::State& state) {
    uint64_t n = 0;
    for (auto _ : state) {
        pools::ipv4_pool p(0x0a000000, 8);
        while (p.allocate()) ++n;
    }
    state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_pool_fill_slash8)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_ipv6_allocate(benchmark::State& state) {
    pools::ipv6_allocator a({0x20, 0x01, 0x0d, 0xb8}, {1, 2, 3});
    uint64_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(a.allocate("vps-" + std::to_string(i++)));
    state.SetItemsProcessed(static_cast<int64_t>(i));
}
BENCHMARK(BM_ipv6_allocate);

}  // namespace
