#pragma once
// NAT session flow table: one per worker, found from both directions, expired by a
// timer wheel. The NAT44 stage's state (issue "NAT44 and per-VM egress policies on a
// lock-free flow table", first part).
//
// Layout (all of it one mapping made in the constructor, MADV_HUGEPAGE, never grown):
//   index:    n_buckets 64-byte buckets, each 10 slots of {16-bit signature, 32-bit
//             entry = session_id << 1 | is_outside} plus a 10-bit occupancy mask and a
//             16-bit overflow count. Every session has two entries (inside key, outside
//             key) pointing at the same record. n_buckets = 2 * max_sessions / (10 * 0.64):
//             a full table is 64% loaded, 20 bytes of index per session.
//   sessions: max_sessions 64-byte records (one cache line each): both tuples, owner VM,
//             last-seen, state, timeout class, wheel links and a seqlock counter.
//   wheel:    4096 list heads of 4 bytes (16 KiB), one per second.
//   => 64 + 20 + ~0 = 84 bytes per session at 10M sessions (budget 96), measured as RSS
//      growth by tests/unit/dataplane/flow_table_test.cpp and bench/flow_table_microbench.cpp.
//
// Why bucketised linear probing ("probe to the next bucket") rather than cuckoo as in
// rte_hash (DPDK prog guide, hash_lib.rst): entries never move once placed, so
//   - a lookup reads one bucket line and one record line: the record *is* the key store
//     (rte_hash reads two buckets and a separate key slot, and the caller then still
//     has to fetch its data). Only a key that overflowed its home bucket (home overflow
//     count > 0) costs a look at the next bucket;
//   - insert is a walk to the first bucket with a free slot (no cuckoo displacement
//     search), erase clears one slot and decrements the overflow counts it passed: no
//     tombstones, no rehash;
//   - concurrent readers never lose a present key to a move (rte_hash needs a change
//     counter and retries for that: RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF).
// Load and bucket width by measurement: overflow is what costs (a third dependent DRAM
// round for the whole burst; this machine's random-load latency is ~150-190 ns for both
// 32 MiB and 400 MiB working sets). At the same 20 bytes of index per session, 8-slot
// buckets at 80% load put 0.15 extra buckets per key on the probe path and ran at 32 M
// lookups/s (1M keys); 10-slot buckets at 64% put 0.023 and ran at 49 M/s.
// Bucket count need not be a power of two (bucket = (hash * n_buckets) >> 32, Lemire's
// "fastrange"), so memory follows max_sessions instead of doubling.
// Signatures as in rte_hash and VPP bihash: SIMD compare of the 10 signatures, then the
// full 16-byte key in the record the entry points at.
// Hash: two independent CRC32C chains over the two 8-byte key words (_mm_crc32_u64,
// 1/cycle throughput, as VPP bihash and rte_hash_crc); one picks the bucket, the other
// gives the signature, so signatures are not correlated with the bucket. CRC is linear:
// crafted keys can collide on purpose; the overflow chains then get long but stay
// correct (the count sticks at 0xffff rather than wrap).
//
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
/// ICMP query messages (echo, RFC 5508 section 3): the query identifier goes in src_port
/// and dst_port is 0, in both directions (the outside key carries the translated id).
struct flow_key {
    uint32_t src_addr;
    uint32_t dst_addr;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t proto;
    uint8_t kind;    ///< what the key names: 0 a flow; other values are the user's (NAT: mapping)
    uint8_t pad[2];
};
static_assert(sizeof(flow_key) == 16);

inline constexpr flow_key make_flow_key(uint32_t src_addr, uint16_t src_port, uint32_t dst_addr,
                                        uint16_t dst_port, uint8_t proto, uint8_t kind = 0) {
    return flow_key{src_addr, dst_addr, src_port, dst_port, proto, kind, {0, 0}};
}

inline bool operator==(const flow_key& a, const flow_key& b) {
    return std::memcmp(&a, &b, sizeof(flow_key)) == 0;
}

/// Timeout classes. Defaults (seconds): TCP established 7440 (RFC 5382 REQ-5: at least
/// 2 h 4 min), TCP transitory 240 (RFC 5382 REQ-5, 4 min), UDP 120 (RFC 4787 REQ-5: at
/// least 2 min), ICMP query 60 (RFC 5508 REQ-1: not less than 60 s).
/// `held`: never expires by time; the owner erases it (NAT mappings, kept while any
/// session refers to them). The wheel re-arms it once per wheel turn.
enum class timeout_class : uint8_t { tcp_established = 0, tcp_transitory = 1, udp = 2, icmp = 3, held = 4 };
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
    static constexpr uint32_t k_expire_batch = 16;   ///< expire() prefetches this many ahead
    static constexpr uint32_t k_bucket_slots = 10;   ///< index slots per 64-byte bucket
    /// Index load (percent) when all max_sessions sessions are live: 20 bytes of index
    /// per session. Chosen by measurement (bench/flow_table_microbench.cpp, see the
    /// header comment): keys that overflow their home bucket cost a burst a third
    /// dependent memory round.
    static constexpr uint32_t k_full_load_pct = 64;

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

    /// insert() without looking the keys up first, for a caller that knows neither is
    /// present (it just missed both): saves two lookups per new session. Precondition:
    /// inside != outside and neither key is in the table.
    uint32_t insert_absent(const flow_key& inside, const flow_key& outside, const session_init& init,
                           uint32_t now) noexcept;

    /// The session either key maps to, or k_no_session; *is_outside (if not null) says
    /// which of the two keys matched.
    uint32_t lookup(const flow_key& key, bool* is_outside = nullptr) const noexcept;

    /// lookup() for n keys, pipelined (hash all -> prefetch buckets -> compare signatures
    /// -> prefetch sessions -> compare keys) over chunks of k_burst. is_outside may be null.
    void lookup_bulk(const flow_key* keys, uint32_t n, uint32_t* session_ids,
                     bool* is_outside) const noexcept;

    /// Asks for the index bucket `key` hashes to (a key about to be inserted or looked
    /// up), without waiting for it.
    void prefetch_index(const flow_key& key) const noexcept { __builtin_prefetch(&buckets_[hash(key).bucket], 1); }

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

    /// Index health, for metrics and tests. Cold: walks every bucket. Owner thread.
    struct index_stats {
        uint32_t overflowed_buckets;  ///< buckets some entry probed past
        uint64_t extra_probes;        ///< sum over entries of buckets passed (0 = all home)
    };
    index_stats stats() const noexcept;

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

    /// Looks a key up from a thread other than the owner (admin API: "show session for
    /// this tuple"): fills `out` with a consistent copy and returns the id, or
    /// k_no_session. A key present for the whole call is found; one inserted or erased
    /// meanwhile may or may not be. Scalar and slower than lookup(); never for packets.
    uint32_t find_shared(const flow_key& key, session& out, bool* is_outside = nullptr) const noexcept;

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
    static constexpr uint32_t k_slots = k_bucket_slots;
    static constexpr uint32_t k_full = (1u << k_slots) - 1;
    static constexpr uint16_t k_overflow_sticky = 0xffff;
    struct alignas(64) bucket {
        uint16_t sig[k_slots];    // signatures of the slots
        uint32_t entry[k_slots];  // session_id << 1 | is_outside
        uint16_t overflow;        // entries that probed past this bucket; sticks at 0xffff
        uint16_t used;            // occupancy bit per slot
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
        // 16 16-bit lanes: the 10 signatures and 6 lanes of entry bits, masked off by
        // `used` (SSE2: two compares, one pack, one movemask).
        const __m128i s = _mm_set1_epi16(int16_t(sig));
        const __m128i lo = _mm_load_si128(reinterpret_cast<const __m128i*>(&b));
        const __m128i hi = _mm_load_si128(reinterpret_cast<const __m128i*>(&b) + 1);
        const __m128i eq = _mm_packs_epi16(_mm_cmpeq_epi16(lo, s), _mm_cmpeq_epi16(hi, s));
        return uint32_t(_mm_movemask_epi8(eq)) & b.used;
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
    uint32_t work = 0;
    while (work < max_work && int32_t(cursor_ - now) <= 0) {
        if (wheel_[cursor_ & (k_wheel_slots - 1)] == k_no_session) {
            ++cursor_;
            ++work;
            continue;
        }
        // A batch from the head of the slot's list. Walking it reads each record (the
        // list is linked through them); meanwhile the index buckets of both keys are
        // prefetched, so the removals below find them in cache instead of waiting for
        // memory twice per session, one after the other.
        uint32_t batch[k_expire_batch];
        uint32_t n = 0;
        for (uint32_t id = wheel_[cursor_ & (k_wheel_slots - 1)];
             id != k_no_session && n < k_expire_batch && work + n < max_work; id = sessions_[id].timer_next) {
            batch[n++] = id;
            const session& s = sessions_[id];
            if (s.tclass != uint8_t(timeout_class::held)) {
                __builtin_prefetch(&buckets_[hash(s.inside).bucket], 1);
                __builtin_prefetch(&buckets_[hash(s.outside).bucket], 1);
            }
        }
        work += n;
        // In list order each one is the slot's head when its turn comes: re-arming
        // puts a session in a later slot, and on_expired must not change the table.
        for (uint32_t i = 0; i < n; ++i) {
            const uint32_t id = batch[i];
            unlink(id);
            session& s = sessions_[id];
            if (s.tclass == uint8_t(timeout_class::held)) {
                arm(id, now + k_wheel_slots - 1);
                continue;
            }
            const uint32_t deadline = s.last_seen + timeouts_.seconds[s.tclass & 3];
            if (int32_t(now - deadline) >= 0) {
                on_expired(id, static_cast<const session&>(s));
                release(id);
                ++expired;
            } else {
                arm(id, deadline);
            }
        }
    }
    return expired;
}

}  // namespace eg::dp
