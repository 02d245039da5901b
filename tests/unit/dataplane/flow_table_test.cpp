// The NAT session flow table (dataplane/flow_table.hpp).
#include "dataplane/flow_table.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

namespace eg::dp {
namespace {

constexpr uint8_t k_tcp = 6, k_udp = 17, k_icmp = 1;

struct key_pair {
    flow_key inside, outside;
};

// Session n: VM 10.0.x.y:port -> remote, translated to 198.51.100.z:port.
key_pair keys_for(uint32_t n, uint8_t proto = k_udp) {
    const uint32_t vm = 0x0a000000 + (n >> 4);
    const uint16_t vm_port = uint16_t(40000 + (n & 15));
    const uint32_t remote = 0x08080808 + (n % 7);
    const uint16_t remote_port = proto == k_icmp ? 0 : uint16_t(53 + (n % 3));
    const uint32_t pub = 0xc6336400 + (n >> 16);
    const uint16_t pub_port = uint16_t(n & 0xffff);
    return {make_flow_key(vm, vm_port, remote, remote_port, proto),
            make_flow_key(remote, remote_port, pub, pub_port, proto)};
}

struct hash_key {
    size_t operator()(const flow_key& k) const {
        uint64_t a, b;
        std::memcpy(&a, &k, 8);
        std::memcpy(&b, reinterpret_cast<const char*>(&k) + 8, 8);
        return std::hash<uint64_t>()(a * 0x9e3779b97f4a7c15ull ^ b);
    }
};

flow_key random_key(std::mt19937_64& rng) {
    const uint64_t a = rng(), b = rng();
    return make_flow_key(uint32_t(a), uint16_t(a >> 32), uint32_t(b), uint16_t(b >> 32),
                         uint8_t(b >> 48) % 3 == 0 ? k_tcp : k_udp);
}

TEST(FlowTable, SizesAndLayout) {
    flow_table t(1000);
    EXPECT_EQ(t.capacity(), 1000u);
    EXPECT_EQ(t.size(), 0u);
    // 2 entries per session at <= 64% of the index slots
    EXPECT_GE(uint64_t(t.bucket_count()) * flow_table::k_bucket_slots * flow_table::k_full_load_pct,
              uint64_t(2) * 1000 * 100);
    EXPECT_EQ(t.memory_bytes() % (2u << 20), 0u);
    EXPECT_THROW(flow_table(0), std::invalid_argument);
}

struct direction_case {
    const char* name;
    uint8_t proto;
    timeout_class tclass;
};

TEST(FlowTable, FoundFromBothDirections) {
    const direction_case cases[] = {
        {"tcp", k_tcp, timeout_class::tcp_established},
        {"udp", k_udp, timeout_class::udp},
        {"icmp echo (id in src_port, dst_port 0)", k_icmp, timeout_class::icmp},
    };
    flow_table t(64);
    uint32_t n = 0;
    for (const direction_case& c : cases) {
        const key_pair k = keys_for(n++, c.proto);
        const uint32_t id = t.insert(k.inside, k.outside, {.owner_vm = 7, .user = 99, .state = 3, .tclass = c.tclass}, 1000);
        ASSERT_NE(id, k_no_session) << c.name;
        bool outside = true;
        EXPECT_EQ(t.lookup(k.inside, &outside), id) << c.name;
        EXPECT_FALSE(outside) << c.name;
        EXPECT_EQ(t.lookup(k.outside, &outside), id) << c.name;
        EXPECT_TRUE(outside) << c.name;
        const session& s = t.at(id);
        EXPECT_EQ(s.inside, k.inside) << c.name;
        EXPECT_EQ(s.outside, k.outside) << c.name;
        EXPECT_EQ(s.owner_vm, 7u);
        EXPECT_EQ(s.user, 99u);
        EXPECT_EQ(s.state, 3);
        EXPECT_EQ(s.tclass, uint8_t(c.tclass));
        EXPECT_EQ(s.last_seen, 1000u);
        session copy;
        EXPECT_EQ(t.find_shared(k.outside, copy, &outside), id) << c.name;
        EXPECT_TRUE(outside);
        EXPECT_EQ(copy.inside, k.inside);
        EXPECT_EQ(t.find_shared(k.inside, copy, &outside), id) << c.name;
        EXPECT_FALSE(outside);
        // the reversed tuples are not keys
        flow_key rev = make_flow_key(k.inside.dst_addr, k.inside.dst_port, k.inside.src_addr,
                                     k.inside.src_port, c.proto);
        EXPECT_EQ(t.lookup(rev), k_no_session) << c.name;
    }
    EXPECT_EQ(t.size(), 3u);
}

TEST(FlowTable, InsertRejectsDuplicatesAndSameKeyTwice) {
    flow_table t(16);
    const key_pair a = keys_for(1), b = keys_for(2);
    ASSERT_NE(t.insert(a.inside, a.outside, {}, 0), k_no_session);
    EXPECT_EQ(t.insert(a.inside, b.outside, {}, 0), k_no_session);  // inside taken
    EXPECT_EQ(t.insert(b.inside, a.outside, {}, 0), k_no_session);  // outside taken
    EXPECT_EQ(t.insert(b.outside, a.inside, {}, 0), k_no_session);  // as the other direction
    EXPECT_EQ(t.insert(b.inside, b.inside, {}, 0), k_no_session);
    EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, EraseRemovesBothKeysAndReusesTheId) {
    flow_table t(16);
    const key_pair a = keys_for(1), b = keys_for(2);
    const uint32_t ia = t.insert(a.inside, a.outside, {}, 0);
    const uint32_t ib = t.insert(b.inside, b.outside, {}, 0);
    t.erase(ia);
    EXPECT_EQ(t.lookup(a.inside), k_no_session);
    EXPECT_EQ(t.lookup(a.outside), k_no_session);
    EXPECT_EQ(t.lookup(b.outside), ib);
    EXPECT_EQ(t.size(), 1u);
    session copy;
    EXPECT_FALSE(t.read_session(ia, copy));
    const key_pair c = keys_for(3);
    EXPECT_EQ(t.insert(c.inside, c.outside, {}, 0), ia);
    EXPECT_EQ(t.lookup(c.outside), ia);
}

TEST(FlowTable, FullTableReturnsSentinelUntilSomethingIsErased) {
    for (const uint32_t cap : {1u, 6u, 100u, 1000u}) {
        flow_table t(cap);
        for (uint32_t i = 0; i < cap; ++i) ASSERT_NE(t.insert(keys_for(i).inside, keys_for(i).outside, {}, 0), k_no_session);
        const key_pair x = keys_for(cap);
        EXPECT_EQ(t.insert(x.inside, x.outside, {}, 0), k_no_session) << cap;
        EXPECT_EQ(t.size(), cap);
        t.erase(t.lookup(keys_for(0).outside));
        EXPECT_NE(t.insert(x.inside, x.outside, {}, 0), k_no_session) << cap;
        for (uint32_t i = 1; i <= cap; ++i) EXPECT_NE(t.lookup(keys_for(i).inside), k_no_session) << cap << " " << i;
    }
}

// Tiny tables (2..20 buckets of 10 slots) at up to 64% load: buckets overflow into the
// next ones (and wrap around the end). Churn must keep every key findable, nothing else
// findable, and the overflow counts must return to zero when the table empties.
TEST(FlowTable, CollisionsOverflowChainsSurviveChurn) {
    for (const uint32_t cap : {6u, 16u, 64u}) {
        flow_table t(cap);
        std::mt19937 rng(cap);
        std::vector<uint32_t> ids(4 * cap, k_no_session);
        uint32_t max_overflowed = 0;
        for (int round = 0; round < 20000; ++round) {
            const uint32_t n = rng() % ids.size();
            const key_pair k = keys_for(n);
            if (ids[n] == k_no_session) {
                ids[n] = t.insert(k.inside, k.outside, {}, 0);
                ASSERT_EQ(ids[n] == k_no_session, t.size() == cap && t.lookup(k.inside) == k_no_session);
            } else {
                t.erase(ids[n]);
                ids[n] = k_no_session;
            }
            max_overflowed = std::max(max_overflowed, t.stats().overflowed_buckets);
            if (round % 97 == 0) {
                for (uint32_t j = 0; j < ids.size(); ++j) {
                    ASSERT_EQ(t.lookup(keys_for(j).inside), ids[j]) << cap << " " << round;
                    ASSERT_EQ(t.lookup(keys_for(j).outside), ids[j]) << cap << " " << round;
                    session c;
                    ASSERT_EQ(t.find_shared(keys_for(j).outside, c), ids[j]) << cap << " " << round;
                }
            }
        }
        EXPECT_GT(max_overflowed, 0u) << cap << ": no collision chain was exercised";
        for (uint32_t& id : ids)
            if (id != k_no_session) t.erase(id);
        EXPECT_EQ(t.size(), 0u);
        EXPECT_EQ(t.stats().extra_probes, 0u) << cap;
    }
}

// Many keys into one small table: all of them collide into few buckets and long chains.
TEST(FlowTable, CollisionsManyKeysFewBuckets) {
    flow_table t(40);  // 13 buckets, 130 slots, 80 entries when full
    std::mt19937_64 rng(7);
    std::vector<key_pair> in;
    uint32_t max_overflowed = 0;
    for (uint32_t round = 0; round < 200; ++round) {
        while (t.size() < t.capacity()) {
            key_pair k{random_key(rng), random_key(rng)};
            ASSERT_NE(t.insert(k.inside, k.outside, {}, 0), k_no_session);
            in.push_back(k);
        }
        for (const key_pair& k : in) ASSERT_EQ(t.lookup(k.inside), t.lookup(k.outside));
        max_overflowed = std::max(max_overflowed, t.stats().overflowed_buckets);
        // drop a random half
        for (size_t i = 0; i < in.size();) {
            if (rng() & 1) {
                t.erase(t.lookup(in[i].inside));
                in[i] = in.back();
                in.pop_back();
            } else {
                ++i;
            }
        }
        for (const key_pair& k : in) ASSERT_NE(t.lookup(k.inside), k_no_session);
    }
    EXPECT_GT(max_overflowed, 0u);
}

// 100k random keys: lookup_bulk == lookup == a std::unordered_map reference, after random
// inserts and erases (fixed seed).
TEST(FlowTable, BulkLookupMatchesSingleLookupsAndReference) {
    constexpr uint32_t k_cap = 40000;
    flow_table t(k_cap);
    std::mt19937_64 rng(12345);
    std::unordered_map<flow_key, std::pair<uint32_t, bool>, hash_key> ref;
    std::vector<key_pair> live;
    std::vector<flow_key> probes;
    for (int op = 0; op < 200000; ++op) {
        if (!live.empty() && rng() % 3 == 0) {
            const size_t i = rng() % live.size();
            const uint32_t id = ref.at(live[i].inside).first;
            t.erase(id);
            ref.erase(live[i].inside);
            ref.erase(live[i].outside);
            probes.push_back(live[i].inside);  // now absent
            live[i] = live.back();
            live.pop_back();
        } else {
            const key_pair k{random_key(rng), random_key(rng)};
            const uint32_t id = t.insert(k.inside, k.outside, {}, 0);
            if (live.size() == k_cap) {
                ASSERT_EQ(id, k_no_session);
                continue;
            }
            ASSERT_NE(id, k_no_session);
            ref[k.inside] = {id, false};
            ref[k.outside] = {id, true};
            live.push_back(k);
        }
    }
    std::vector<flow_key> keys;
    for (uint32_t i = 0; i < 100000; ++i) {
        const uint32_t r = uint32_t(rng() % 4);
        if (r == 0) keys.push_back(random_key(rng));
        else if (r == 1) keys.push_back(probes[rng() % probes.size()]);
        else {
            const key_pair& k = live[rng() % live.size()];
            keys.push_back(r == 2 ? k.inside : k.outside);
        }
    }
    std::vector<uint32_t> ids(keys.size());
    std::unique_ptr<bool[]> outside(new bool[keys.size()]);
    t.lookup_bulk(keys.data(), uint32_t(keys.size()), ids.data(), outside.get());
    uint32_t hits = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
        bool o1 = false;
        ASSERT_EQ(t.lookup(keys[i], &o1), ids[i]) << i;
        session c;
        if (i % 16 == 0) {
            ASSERT_EQ(t.find_shared(keys[i], c), ids[i]) << i;
        }
        const auto it = ref.find(keys[i]);
        if (it == ref.end()) {
            ASSERT_EQ(ids[i], k_no_session) << i;
        } else {
            ++hits;
            ASSERT_EQ(ids[i], it->second.first) << i;
            ASSERT_EQ(outside[i], it->second.second) << i;
            ASSERT_EQ(o1, it->second.second) << i;
        }
    }
    EXPECT_GT(hits, 40000u);
    // odd burst lengths and a null is_outside
    t.lookup_bulk(keys.data(), 37, ids.data(), nullptr);
    for (size_t i = 0; i < 37; ++i) EXPECT_EQ(ids[i], t.lookup(keys[i]));
}

// ---- expiry on a simulated clock -------------------------------------------------

struct expiry_case {
    const char* name;
    timeout_class tclass;
    uint32_t timeout;
};

TEST(FlowTableExpiry, EachClassExpiresOnTime) {
    const expiry_case cases[] = {
        {"tcp established (longer than the wheel)", timeout_class::tcp_established, 7440},
        {"tcp transitory", timeout_class::tcp_transitory, 240},
        {"udp", timeout_class::udp, 120},
        {"icmp", timeout_class::icmp, 60},
    };
    for (const expiry_case& c : cases) {
        flow_table t(8);
        const uint32_t t0 = 1'000'000;
        const key_pair k = keys_for(1);
        const uint32_t id = t.insert(k.inside, k.outside, {.tclass = c.tclass}, t0);
        std::vector<uint32_t> gone;
        auto cb = [&](uint32_t x, const session& s) {
            EXPECT_EQ(s.inside, k.inside);
            gone.push_back(x);
        };
        for (uint32_t now = t0; now < t0 + c.timeout; now += 7) t.expire(now, 1000, cb);
        t.expire(t0 + c.timeout - 1, 1000, cb);
        EXPECT_TRUE(gone.empty()) << c.name;
        EXPECT_EQ(t.expire(t0 + c.timeout, 1000, cb), 1u) << c.name;
        ASSERT_EQ(gone.size(), 1u) << c.name;
        EXPECT_EQ(gone[0], id);
        EXPECT_EQ(t.size(), 0u);
        EXPECT_EQ(t.lookup(k.outside), k_no_session);
    }
}

TEST(FlowTableExpiry, TouchedSessionsSurviveAndConfiguredTimeoutsApply) {
    flow_timeouts to;
    to.seconds[uint8_t(timeout_class::udp)] = 30;
    flow_table t(8, to);
    const key_pair a = keys_for(1), b = keys_for(2);
    const uint32_t ia = t.insert(a.inside, a.outside, {.tclass = timeout_class::udp}, 0);
    const uint32_t ib = t.insert(b.inside, b.outside, {.tclass = timeout_class::udp}, 0);
    std::vector<uint32_t> gone;
    auto cb = [&](uint32_t x, const session&) { gone.push_back(x); };
    for (uint32_t now = 0; now <= 100; ++now) {
        if (now % 20 == 0) t.touch(ia, now);  // a keeps talking until 100
        t.expire(now, 100, cb);
    }
    ASSERT_EQ(gone, std::vector<uint32_t>{ib});  // b expired at 30
    for (uint32_t now = 101; now <= 129; ++now) t.expire(now, 100, cb);
    EXPECT_EQ(gone.size(), 1u);
    t.expire(130, 100, cb);
    EXPECT_EQ(gone, (std::vector<uint32_t>{ib, ia}));
}

TEST(FlowTableExpiry, StateChangeToShorterClassRearmsEarlier) {
    flow_table t(8);
    const key_pair a = keys_for(1);
    const uint32_t id = t.insert(a.inside, a.outside, {.tclass = timeout_class::tcp_established}, 0);
    t.touch(id, 50);
    t.set_state(id, 9, timeout_class::tcp_transitory);  // FIN seen
    EXPECT_EQ(t.at(id).state, 9);
    uint32_t n = 0;
    auto cb = [&](uint32_t, const session&) { ++n; };
    for (uint32_t now = 0; now < 290; ++now) t.expire(now, 100, cb);
    EXPECT_EQ(n, 0u);
    t.expire(290, 100, cb);
    EXPECT_EQ(n, 1u);
}

TEST(FlowTableExpiry, MaxWorkBoundsEachCall) {
    flow_table t(1000);
    for (uint32_t i = 0; i < 1000; ++i) t.insert(keys_for(i).inside, keys_for(i).outside, {.tclass = timeout_class::icmp}, 10);
    uint32_t calls = 0, total = 0;
    auto cb = [](uint32_t, const session&) {};
    while (t.size() > 0) {
        const uint32_t n = t.expire(70, 16, cb);
        EXPECT_LE(n, 16u);
        total += n;
        ++calls;
        ASSERT_LT(calls, 1000u);
    }
    EXPECT_EQ(total, 1000u);
    EXPECT_GE(calls, 1000u / 16);
    // erased sessions leave the wheel too: nothing left to expire
    const key_pair k = keys_for(5000);
    const uint32_t id = t.insert(k.inside, k.outside, {.tclass = timeout_class::icmp}, 80);
    t.erase(id);
    EXPECT_EQ(t.expire(1000, 10000, cb), 0u);
}

// ---- concurrent reader ------------------------------------------------------------

// The writer keeps replacing sessions with records whose fields all derive from one
// number; a reader on another thread checks every copy it gets is whole.
TEST(FlowTableConcurrency, ReaderNeverSeesATornSession) {
    constexpr uint32_t k_cap = 64;
    flow_table t(k_cap);
    auto make = [](uint32_t x) {
        return key_pair{make_flow_key(x, uint16_t(x), ~x, uint16_t(x >> 16), k_udp),
                        make_flow_key(~x, uint16_t(x >> 16), x * 3, uint16_t(x), k_udp)};
    };
    auto consistent = [](const session& s) {
        const uint32_t x = s.inside.src_addr;
        return s.inside.src_port == uint16_t(x) && s.inside.dst_addr == ~x && s.outside.dst_addr == x * 3 &&
               s.owner_vm == (x ^ 0x5a5a5a5a) && s.user == x * 7 && s.state == uint8_t(x) &&
               s.last_seen == x;
    };
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reads{0}, torn{0}, found{0};
    std::thread reader([&] {
        session s;
        while (!stop.load(std::memory_order_relaxed)) {
            for (uint32_t id = 0; id < k_cap; ++id) {
                if (t.read_session(id, s)) {
                    reads.fetch_add(1, std::memory_order_relaxed);
                    if (!consistent(s)) torn.fetch_add(1, std::memory_order_relaxed);
                }
            }
            t.for_each([&](uint32_t, const session& c) {
                if (!consistent(c)) torn.fetch_add(1, std::memory_order_relaxed);
            });
            // by key, both directions, for sessions that are live or just replaced
            const uint32_t newest = s.inside.src_addr;
            for (uint32_t back = 0; back < 2 * k_cap; back += 3) {
                const key_pair k = make(newest - back);
                bool outside = false;
                for (const flow_key* q : {&k.inside, &k.outside}) {
                    if (t.find_shared(*q, s, &outside) == k_no_session) continue;
                    found.fetch_add(1, std::memory_order_relaxed);
                    const flow_key& got = outside ? s.outside : s.inside;
                    if (!consistent(s) || !(got == *q) || outside != (q == &k.outside))
                        torn.fetch_add(1, std::memory_order_relaxed);
                }
            }
        }
    });
    std::vector<uint32_t> ids(k_cap, k_no_session);
    for (uint32_t x = 1; x < 400000 || reads.load() < 10000 || found.load() < 1000; ++x) {
        const uint32_t slot = x % k_cap;
        if (ids[slot] != k_no_session) t.erase(ids[slot]);
        const key_pair k = make(x);
        ids[slot] = t.insert(k.inside, k.outside, {.owner_vm = x ^ 0x5a5a5a5a, .user = x * 7, .state = uint8_t(x)}, x);
        ASSERT_NE(ids[slot], k_no_session);
        if (x > 20'000'000) break;
    }
    stop.store(true);
    reader.join();
    EXPECT_EQ(torn.load(), 0u);
    EXPECT_GT(reads.load(), 0u);
    EXPECT_GT(found.load(), 0u);
}

// ---- memory budget -----------------------------------------------------------------

size_t rss_bytes() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return size_t(resident) * size_t(::sysconf(_SC_PAGESIZE));
}

// 10M sessions in at most 96 bytes each, everything counted (both index entries, the
// record, the wheel), by the table's own accounting and by the process's RSS growth.
TEST(FlowTableMemory, TenMillionSessionsFitInTheBudget) {
    constexpr uint32_t k_n = 10'000'000;
    const size_t rss0 = rss_bytes();
    {
        flow_table t(k_n);
        const double mapped = double(t.memory_bytes()) / k_n;
        for (uint32_t i = 0; i < k_n; ++i) {
            const flow_key in = make_flow_key(0x0a000000 + i, 40000, 0x08080808, 443, k_tcp);
            const flow_key out = make_flow_key(0x08080808, 443, 0xc6336400 + (i >> 16), uint16_t(i), k_tcp);
            ASSERT_NE(t.insert(in, out, {.tclass = timeout_class::tcp_established}, 0), k_no_session) << i;
        }
        EXPECT_EQ(t.insert(keys_for(1).inside, keys_for(1).outside, {}, 0), k_no_session);
        const double grown = double(rss_bytes() - rss0) / k_n;
        std::printf("flow_table 10M sessions: %.1f bytes/session mapped, %.1f bytes/session RSS growth\n",
                    mapped, grown);
        EXPECT_LE(mapped, 96.0);
        EXPECT_LE(grown, 96.0);
        for (uint32_t i = 0; i < k_n; i += 9973) {
            const flow_key out = make_flow_key(0x08080808, 443, 0xc6336400 + (i >> 16), uint16_t(i), k_tcp);
            ASSERT_EQ(t.lookup(out), i);
        }
    }
}

}  // namespace
}  // namespace eg::dp
