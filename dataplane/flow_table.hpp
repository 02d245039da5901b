#pragma once
// NAT session flow table: one per worker, found from both directions, expired by a
// timer wheel. The NAT44 stage's state (issue "NAT44 and per-VM egress policies on a
// lock-free flow table", first part).
//
// Layout (all of it one mapping made in the constructor, MADV_HUGEPAGE, never grown):
//   index:    n_buckets 64-byte buckets, each 8 slots of {16-bit signature, 32-bit
//             entry = session_id << 1 | is_outside} plus an occupancy mask and an
//             overflow count. Every session has two entries (inside key, outside key)
//             pointing at the same record. n_buckets = ceil(2 * max_sessions / (8 * 0.8)),
//             so a full table is 80% loaded (about 20 bytes of index per session).
//   sessions: max_sessions 64-byte records (one cache line each): both tuples, owner VM,
//             last-seen, state, timeout class, wheel links and a seqlock counter.
//   wheel:    4096 list heads of 4 bytes (16 KiB), one per second.
//   => 64 + 20 + ~0 = about 84 bytes per session at 10M sessions (budget 96; measured by
//      tests/unit/dataplane/flow_table_test.cpp and bench/flow_table_microbench.cpp).
//
// Why bucketised linear probing ("probe to the next bucket") rather than cuckoo as in
// rte_hash (DPDK prog guide, hash_lib.rst): entries never move once placed, so
//   - insert is a walk to the first bucket with a free slot (no cuckoo displacement
//     search, no BFS, bounded by the 80% load), erase clears one slot, no tombstones;
//   - a lookup touches the home bucket and, only when that bucket has overflowed
//     (overflow count > 0), the next one, which is the adjacent cache line (the
//     spatial prefetcher often has it already). At 80% load with 8-slot buckets few
//     buckets overflow (Knuth, TAOCP vol. 3, 6.4, bucketed linear probing);
//   - concurrent readers never lose a present key to a move (rte_hash needs a
//     change counter and retries for that: RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF).
// The bucket count need not be a power of two (bucket = (hash * n_buckets) >> 32,
// Lemire's "fastrange"), so memory follows max_sessions instead of doubling.
// Signatures and keys are compared as in rte_hash and VPP bihash: SIMD compare of the
// 8 signatures, then the full 16-byte key in the session record the entry points at
// (the key store *is* the session table: no separate key array).
// Hash: two independent CRC32C chains over the two 8-byte key words (_mm_crc32_u64,
// 1/cycle throughput, as VPP bihash and rte_hash_crc); one picks the bucket, the other
// gives the signature, so signatures are not correlated with the bucket.
//
// Expiry: a hashed timing wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
// Wheels", SOSP'87, scheme 6) of 4096 one-second slots. A session is armed at its
// deadline (clamped to the wheel's span); expire() pops due slots and removes a session
// only if last_seen + timeout has passed, else re-arms it. So the per-packet path writes
// last_seen and nothing else (lazy refresh, as VPP NAT44-ED's per-protocol LRU lists
// avoid per-packet list moves). Nothing ever scans the table.
//
// Threads: the owning worker is the only writer (insert, erase, touch, set_state,
// expire, lookups). Any other thread (control thread: admin API, metrics) may call
// read_session / for_each / size concurrently: each record has a sequence counter
// (seqlock: odd while being written; readers retry), so a reader never sees a torn
// record and the writer never waits. touch() stores the one 32-bit last_seen field
// atomically without the seqlock (a single aligned field cannot tear).
//
// Time: `now` is in seconds on the caller's monotonic clock, as uint32_t (wraps after
// 136 years; comparisons are done modulo 2^32 so a wrap within the run is harmless as
// long as no session is idle for more than 2^31 s).
#include <immintrin.h>

#if !defined(__SSE4_2__)
#error "flow_table needs SSE4.2 (CRC32C); the build sets -march (EG_MARCH, default native)"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace eg::dp {

/// A direction of a flow, 16 bytes. Addresses and ports in host byte order. `pad` must
/// be zero: hashing and comparing use all 16 bytes (make keys with make_flow_key).
/// ICMP query messages (echo, RFC 5508 section 3.1): the identifier goes in src_port
/// and dst_port is 0, in both directions (the outside key carries the translated id).
struct flow_key {
    uint32_t src_addr;
    uint32_t dst_addr;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t proto;
    uint8_t pad[3];
};
static_assert(sizeof(flow_key) == 16);

inline constexpr flow_key make_flow_key(uint32_t src_addr, uint16_t src_port, uint32_t dst_addr,
                                        uint16_t dst_port, uint8_t proto) {
    return flow_key{src_addr, dst_addr, src_port, dst_port, proto, {0, 0, 0}};
}

inline bool operator==(const flow_key& a, const flow_key& b) {
    return std::memcmp(&a, &b, sizeof(flow_key)) == 0;
}

/// Timeout classes. Defaults (seconds): TCP established 7440 (RFC 5382 REQ-5: at least
/// 2 h 4 min), TCP transitory 240 (RFC 5382 REQ-5, 4 min), UDP 120 (RFC 4787 REQ-5: at
/// least 2 min), ICMP query 60 (RFC 5508 REQ-1: at least 60 s).
enum class timeout_class : uint8_t { tcp_established = 0, tcp_transitory = 1, udp = 2, icmp = 3 };
inline constexpr uint32_t k_timeout_classes = 4;

struct flow_timeouts {
    /// Idle timeout in seconds per timeout_class (indexed by its value).
    uint32_t seconds[k_timeout_classes] = {7440, 240, 120, 60};
};

/// What the NAT stage chooses when it creates a session.
struct session_init {
    uint32_t owner_vm = 0;  ///< index of the VM that opened the flow
    uint32_t user = 0;      ///< opaque to the table (e.g. port-block or policy index)
    uint8_t state = 0;      ///< protocol state (e.g. TCP state), opaque to the table
    timeout_class tclass = timeout_class::udp;
};

/// One session, one cache line. Fields up to `timer_tick` are what readers may copy
/// (read_session); the wheel links are the owner's alone.
struct alignas(64) session {
    flow_key inside;    ///< VM addr:port -> remote addr:port (as seen on the inside)
    flow_key outside;   ///< remote addr:port -> public addr:port (the translated return)
    uint32_t owner_vm;  ///< VM index
    uint32_t last_seen; ///< seconds; written by touch() per packet
    uint32_t user;      ///< opaque to the table
    uint8_t state;      ///< protocol state, opaque to the table
    uint8_t tclass;     ///< timeout_class
    uint8_t flags;      ///< bit 0: live
    uint8_t reserved;
    // --- owner-only below (readers get zeros) ---
    uint32_t timer_tick; ///< wheel tick this session is armed at (seconds)
    uint32_t timer_next; ///< wheel list link; free-list link while not live
    uint32_t timer_prev; ///< wheel list link (k_no_session: it is the slot's head)
    uint32_t seq;        ///< seqlock: odd while the owner rewrites the record
};
static_assert(sizeof(session) == 64);

/// Returned by insert/lookup when there is no session.
inline constexpr uint32_t k_no_session = 0xffffffff;

class flow_table {
public:
    /// Largest max_sessions (entries encode id << 1 in 32 bits).
    static constexpr uint32_t k_max_capacity = 0x7fffffff;
    static constexpr uint32_t k_wheel_slots = 4096;  ///< one second each: 68 min span
    static constexpr uint32_t k_burst = 32;          ///< lookup_bulk works in chunks of this

    /// Maps everything the table will ever use (see memory_bytes()). Cold: may throw
    /// std::bad_alloc / std::invalid_argument (max_sessions 0 or > k_max_capacity).
    explicit flow_table(uint32_t max_sessions, const flow_timeouts& timeouts = {});
    ~flow_table();
    flow_table(const flow_table&) = delete;
    flow_table& operator=(const flow_table&) = delete;

    // ---- owner (worker) thread ------------------------------------------------------

    /// Creates a session reachable from both keys, armed to expire at
    /// now + timeout(init.tclass). Returns its id (< capacity()), or k_no_session when
    /// the table is full, either key is already present, or inside == outside.
    uint32_t insert(const flow_key& inside, const flow_key& outside, const session_init& init,
                    uint32_t now) noexcept;

    /// The session either key maps to, or k_no_session; *is_outside (if not null) says
    /// which of the two keys matched.
    uint32_t lookup(const flow_key& key, bool* is_outside = nullptr) const noexcept;

    /// lookup() for n keys, pipelined (hash all -> prefetch buckets -> compare signatures
    /// -> prefetch sessions -> compare keys) over chunks of k_burst. is_outside may be null.
    void lookup_bulk(const flow_key* keys, uint32_t n, uint32_t* session_ids,
                     bool* is_outside) const noexcept;

    /// The record of a live session. Owner thread only; read-only: change it through
    /// touch/set_state so that concurrent readers stay consistent.
    const session& at(uint32_t id) const noexcept { return sessions_[id]; }

    /// Per packet: marks the session seen at `now` (one 32-bit store, nothing else).
    void touch(uint32_t id, uint32_t now) noexcept {
        std::atomic_ref<uint32_t>(sessions_[id].last_seen).store(now, std::memory_order_relaxed);
    }

    /// Changes the protocol state and timeout class (e.g. TCP FIN/RST -> transitory).
    /// Re-arms the timer only if the new deadline is earlier than the armed one.
    void set_state(uint32_t id, uint8_t state, timeout_class tclass) noexcept;

    /// Removes a live session (both keys) and frees its id.
    void erase(uint32_t id) noexcept;

    /// Pops due wheel slots up to `now`, removing sessions idle for at least their
    /// timeout (now - last_seen >= timeout) and re-arming the others. Calls
    /// on_expired(uint32_t id, const session&) before each removal; it must not change
    /// the table. Does at most max_work units (one per session examined, one per empty
    /// slot passed) and resumes where it stopped on the next call. Returns the number
    /// of sessions removed.
    template <class F>
    uint32_t expire(uint32_t now, uint32_t max_work, F&& on_expired) noexcept;

    /// Changes the timeouts (seconds per class). A shorter timeout applies to an
    /// already armed session from its armed tick on (it may expire up to the old
    /// timeout late); new and re-armed sessions use it at once.
    void set_timeouts(const flow_timeouts& t) noexcept { timeouts_ = t; }
    const flow_timeouts& timeouts() const noexcept { return timeouts_; }

    // ---- any thread -----------------------------------------------------------------

    /// Live sessions (relaxed: a snapshot for metrics when called off the owner).
    uint32_t size() const noexcept { return live_.load(std::memory_order_relaxed); }
    uint32_t capacity() const noexcept { return capacity_; }
    /// Bytes mapped for the index, the records and the wheel: all of it, fixed.
    size_t memory_bytes() const noexcept { return map_bytes_; }
    uint32_t bucket_count() const noexcept { return n_buckets_; }

    /// Consistent copy of session `id` (never torn: seqlock, retries while the owner
    /// writes it). Returns false (out untouched or partly written) if it is not live.
    /// Wheel fields of `out` are zero. Safe from any thread, concurrently with the owner.
    bool read_session(uint32_t id, session& out) const noexcept;

    /// Calls fn(uint32_t id, const session&) with a consistent copy of every live
    /// session, from any thread (a session created or removed meanwhile may or may not
    /// be seen). Walks the records ever used, not the index.
    template <class F>
    void for_each(F&& fn) const {
        const uint32_t hw = high_water_.load(std::memory_order_acquire);
        session s;
        for (uint32_t id = 0; id < hw; ++id)
            if (read_session(id, s)) fn(id, static_cast<const session&>(s));
    }

private:
    struct alignas(64) bucket {
        uint16_t sig[8];   // signatures of the 8 slots
        uint32_t entry[8]; // session_id << 1 | is_outside
        uint32_t overflow; // entries that probed past this bucket (home at or before it)
        uint8_t used;      // occupancy bit per slot
        uint8_t pad[11];
    };
    static_assert(sizeof(bucket) == 64);

    struct hashed {
        uint32_t bucket;
        uint16_t sig;
    };
    hashed hash(const flow_key& k) const noexcept {
        uint64_t w0, w1;
        std::memcpy(&w0, &k, 8);
        std::memcpy(&w1, reinterpret_cast<const char*>(&k) + 8, 8);
        // Two independent chains (the CPU overlaps them). Different word order makes
        // the second a different linear map of the key, not the first plus a constant.
        const uint32_t a = uint32_t(_mm_crc32_u64(_mm_crc32_u64(0, w0), w1));
        const uint32_t b = uint32_t(_mm_crc32_u64(_mm_crc32_u64(0x9e3779b9, w1), w0));
        return {uint32_t((uint64_t(a) * n_buckets_) >> 32), uint16_t(b ^ (b >> 16))};
    }
    static uint32_t match(const bucket& b, uint16_t sig) noexcept {
        const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(b.sig));
        const __m128i eq = _mm_cmpeq_epi16(v, _mm_set1_epi16(int16_t(sig)));
        return uint32_t(_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128()))) & b.used;
    }
    static bool key_eq(const flow_key& a, const flow_key& b) noexcept {
        uint64_t a0, a1, b0, b1;
        std::memcpy(&a0, &a, 8);
        std::memcpy(&a1, reinterpret_cast<const char*>(&a) + 8, 8);
        std::memcpy(&b0, &b, 8);
        std::memcpy(&b1, reinterpret_cast<const char*>(&b) + 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    const flow_key& key_of(uint32_t entry) const noexcept {
        const session& s = sessions_[entry >> 1];
        return (entry & 1) ? s.outside : s.inside;
    }
    uint32_t next_bucket(uint32_t b) const noexcept { return b + 1 == n_buckets_ ? 0 : b + 1; }
    uint32_t find_from(const flow_key& key, hashed h, bool* is_outside) const noexcept;
    void index_insert(const flow_key& key, uint32_t entry) noexcept;
    void index_erase(const flow_key& key, uint32_t entry) noexcept;
    void arm(uint32_t id, uint32_t deadline) noexcept;
    void unlink(uint32_t id) noexcept;
    void release(uint32_t id) noexcept;  // index out, record dead, id freed (not the wheel)
    void write_begin(session& s) noexcept;
    void write_end(session& s) noexcept;

    uint32_t capacity_ = 0;
    uint32_t n_buckets_ = 0;
    size_t map_bytes_ = 0;
    void* map_ = nullptr;
    bucket* buckets_ = nullptr;
    session* sessions_ = nullptr;
    uint32_t* wheel_ = nullptr;  // k_wheel_slots heads (k_no_session: empty)
    flow_timeouts timeouts_;
    uint32_t free_head_ = k_no_session;  // freed ids, linked through timer_next
    uint32_t cursor_ = 0;                // next wheel tick to process
    bool cursor_set_ = false;
    std::atomic<uint32_t> high_water_{0};  // ids below it have been used
    std::atomic<uint32_t> live_{0};
};

template <class F>
uint32_t flow_table::expire(uint32_t now, uint32_t max_work, F&& on_expired) noexcept {
    uint32_t expired = 0;
    if (!cursor_set_ || live_.load(std::memory_order_relaxed) == 0) {
        // Nothing armed: jump instead of walking empty slots.
        if (!cursor_set_ || int32_t(now + 1 - cursor_) > 0) cursor_ = now + 1;
        cursor_set_ = true;
        return 0;
    }
    for (uint32_t work = 0; work < max_work && int32_t(cursor_ - now) <= 0; ++work) {
        const uint32_t id = wheel_[cursor_ & (k_wheel_slots - 1)];
        if (id == k_no_session) {
            ++cursor_;
            continue;
        }
        unlink(id);
        session& s = sessions_[id];
        const uint32_t deadline = s.last_seen + timeouts_.seconds[s.tclass & 3];
        if (int32_t(now - deadline) >= 0) {
            on_expired(id, static_cast<const session&>(s));
            release(id);
            ++expired;
        } else {
            arm(id, deadline);
        }
    }
    return expired;
}

}  // namespace eg::dp
