// NAT session flow table (see flow_table.hpp for the design and its sources).
#include "dataplane/flow_table.hpp"

#include <sys/mman.h>

#include <bit>
#include <cstddef>
#include <new>
#include <stdexcept>

namespace eg::dp {

namespace {

constexpr size_t k_huge_page = size_t(2) << 20;
constexpr uint32_t k_live = 1;

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// Reader-visible part of a session: the first 48 bytes, as 6 words.
constexpr size_t k_public_words = 6;
static_assert(offsetof(session, timer_tick) == k_public_words * 8);

uint64_t* words(session& s) { return reinterpret_cast<uint64_t*>(&s); }

}  // namespace

flow_table::flow_table(uint32_t max_sessions, const flow_timeouts& timeouts) : timeouts_(timeouts) {
    if (max_sessions == 0 || max_sessions > k_max_capacity)
        throw std::invalid_argument("flow_table: max_sessions out of range");
    capacity_ = max_sessions;
    // Two entries per session, k_slots per bucket, a full table at k_full_load_pct.
    const uint64_t slots_x100 = uint64_t(max_sessions) * 2 * 100;
    const uint64_t buckets = (slots_x100 + k_slots * k_full_load_pct - 1) / (k_slots * k_full_load_pct);
    n_buckets_ = uint32_t(buckets < 2 ? 2 : buckets);

    const size_t index_bytes = round_up(size_t(n_buckets_) * sizeof(bucket), 64);
    const size_t session_bytes = size_t(capacity_) * sizeof(session);
    const size_t wheel_bytes = round_up(k_wheel_slots * sizeof(uint32_t), 64);
    map_bytes_ = round_up(index_bytes + session_bytes + wheel_bytes, k_huge_page);

    // Anonymous memory is zero: an all-zero bucket is empty and an all-zero record is
    // a dead one, so nothing is touched here; pages become resident as sessions use
    // them. Over-map by one huge page to align the start for THP.
    const size_t want = map_bytes_ + k_huge_page;
    void* raw = ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t start = (reinterpret_cast<uintptr_t>(raw) + k_huge_page - 1) & ~(k_huge_page - 1);
    const size_t head = start - reinterpret_cast<uintptr_t>(raw);
    if (head != 0) ::munmap(raw, head);
    if (want - head > map_bytes_) ::munmap(reinterpret_cast<void*>(start + map_bytes_), want - head - map_bytes_);
    map_ = reinterpret_cast<void*>(start);
    ::madvise(map_, map_bytes_, MADV_HUGEPAGE);  // a hint: without THP we keep 4 KiB pages

    char* p = static_cast<char*>(map_);
    buckets_ = reinterpret_cast<bucket*>(p);
    sessions_ = reinterpret_cast<session*>(p + index_bytes);
    wheel_ = reinterpret_cast<uint32_t*>(p + index_bytes + session_bytes);
    for (uint32_t i = 0; i < k_wheel_slots; ++i) wheel_[i] = k_no_session;
}

flow_table::~flow_table() { ::munmap(map_, map_bytes_); }

// ---- seqlock (writer side) --------------------------------------------------------
// Boehm, "Can Seqlocks Get Along With Programming Language Memory Models?" (MSPC'12):
// counter odd, release fence, relaxed atomic stores of the data, counter even (release).

void flow_table::write_begin(session& s) noexcept {
    std::atomic_ref<uint32_t> seq(s.seq);
    seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
}

void flow_table::write_end(session& s) noexcept {
    std::atomic_ref<uint32_t> seq(s.seq);
    seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

bool flow_table::read_session(uint32_t id, session& out) const noexcept {
    if (id >= high_water_.load(std::memory_order_acquire)) return false;
    session& s = sessions_[id];
    std::atomic_ref<uint32_t> seq(s.seq);
    uint64_t* o = words(out);
    for (;;) {
        const uint32_t s0 = seq.load(std::memory_order_acquire);
        if (s0 & 1) {
            _mm_pause();
            continue;
        }
        for (size_t i = 0; i < k_public_words; ++i)
            o[i] = std::atomic_ref<uint64_t>(words(s)[i]).load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (seq.load(std::memory_order_relaxed) == s0) break;
    }
    out.timer_tick = out.timer_next = out.timer_prev = 0;
    out.seq = 0;
    return (out.flags & k_live) != 0;
}

// ---- index ----------------------------------------------------------------------

uint32_t flow_table::find_from(const flow_key& key, hashed h, bool* is_outside) const noexcept {
    uint32_t b = h.bucket;
    for (uint32_t probes = 0; probes < n_buckets_; ++probes) {
        const bucket& bk = buckets_[b];
        for (uint32_t m = match(bk, h.sig); m != 0; m &= m - 1) {
            const uint32_t e = bk.entry[std::countr_zero(m)];
            if (key_eq(key_of(e), key)) {
                if (is_outside) *is_outside = (e & 1) != 0;
                return e >> 1;
            }
        }
        if (bk.overflow == 0) break;
        b = next_bucket(b);
    }
    return k_no_session;
}

uint32_t flow_table::lookup(const flow_key& key, bool* is_outside) const noexcept {
    const hashed h = hash(key);
    return find_from(key, h, is_outside);
}

void flow_table::lookup_bulk(const flow_key* keys, uint32_t n, uint32_t* session_ids,
                             bool* is_outside) const noexcept {
    hashed h[k_burst];
    uint32_t cand[k_burst];
    uint8_t pending[k_burst];
    for (uint32_t base = 0; base < n; base += k_burst) {
        const uint32_t m = n - base < k_burst ? n - base : k_burst;
        const flow_key* k = keys + base;
        uint32_t* ids = session_ids + base;
        // 1. hash everything, prefetch the home buckets
        for (uint32_t i = 0; i < m; ++i) {
            h[i] = hash(k[i]);
            _mm_prefetch(reinterpret_cast<const char*>(&buckets_[h[i].bucket]), _MM_HINT_T0);
        }
        // 2. compare signatures, prefetch the first candidate's record, and the next
        //    bucket when the home one has overflowed (a key may live there)
        for (uint32_t i = 0; i < m; ++i) {
            const bucket& bk = buckets_[h[i].bucket];
            cand[i] = match(bk, h[i].sig);
            if (cand[i] != 0)
                _mm_prefetch(reinterpret_cast<const char*>(&sessions_[bk.entry[std::countr_zero(cand[i])] >> 1]),
                             _MM_HINT_T0);
            if (bk.overflow != 0)
                _mm_prefetch(reinterpret_cast<const char*>(&buckets_[next_bucket(h[i].bucket)]), _MM_HINT_T0);
        }
        // 3. compare keys; a miss in an overflowed home bucket goes on to the next one
        uint32_t np = 0;
        for (uint32_t i = 0; i < m; ++i) {
            const bucket& bk = buckets_[h[i].bucket];
            uint32_t id = k_no_session;
            bool outside = false;
            for (uint32_t c = cand[i]; c != 0; c &= c - 1) {
                const uint32_t e = bk.entry[std::countr_zero(c)];
                if (key_eq(key_of(e), k[i])) {
                    id = e >> 1;
                    outside = (e & 1) != 0;
                    break;
                }
            }
            if (id == k_no_session && bk.overflow != 0) pending[np++] = uint8_t(i);
            ids[i] = id;
            if (is_outside) is_outside[base + i] = outside;
        }
        if (np == 0) continue;
        // 4. the same two steps on the next bucket for those, then the scalar walk
        for (uint32_t p = 0; p < np; ++p) {
            const uint32_t i = pending[p];
            h[i].bucket = next_bucket(h[i].bucket);
            const bucket& bk = buckets_[h[i].bucket];
            cand[i] = match(bk, h[i].sig);
            if (cand[i] != 0)
                _mm_prefetch(reinterpret_cast<const char*>(&sessions_[bk.entry[std::countr_zero(cand[i])] >> 1]),
                             _MM_HINT_T0);
        }
        for (uint32_t p = 0; p < np; ++p) {
            const uint32_t i = pending[p];
            const bucket& bk = buckets_[h[i].bucket];
            bool outside = false;
            uint32_t id = k_no_session;
            for (uint32_t c = cand[i]; c != 0; c &= c - 1) {
                const uint32_t e = bk.entry[std::countr_zero(c)];
                if (key_eq(key_of(e), k[i])) {
                    id = e >> 1;
                    outside = (e & 1) != 0;
                    break;
                }
            }
            if (id == k_no_session && bk.overflow != 0)
                id = find_from(k[i], hashed{next_bucket(h[i].bucket), h[i].sig}, &outside);
            ids[i] = id;
            if (is_outside) is_outside[base + i] = outside;
        }
    }
}

// Bucket fields are written with atomic stores (plain moves on x86) because
// find_shared() reads them from other threads; `used` last, with release, so a reader
// that sees a slot's bit also sees its signature and entry. The owner's own reads stay
// plain (and SIMD): no other thread writes.
namespace {
template <class T>
void store_relaxed(T& field, T v) {
    std::atomic_ref<T>(field).store(v, std::memory_order_relaxed);
}
}  // namespace

void flow_table::index_insert(const flow_key& key, uint32_t entry) noexcept {
    const hashed h = hash(key);
    uint32_t b = h.bucket;
    // The table never holds more than 2 * capacity entries in more slots than that
    // (k_full_load_pct < 100), so a free slot exists.
    while (buckets_[b].used == k_full) {
        if (buckets_[b].overflow != k_overflow_sticky)
            store_relaxed(buckets_[b].overflow, uint16_t(buckets_[b].overflow + 1));
        b = next_bucket(b);
    }
    bucket& bk = buckets_[b];
    const uint32_t slot = uint32_t(std::countr_one(bk.used));
    store_relaxed(bk.sig[slot], h.sig);
    store_relaxed(bk.entry[slot], entry);
    std::atomic_ref<uint16_t>(bk.used).store(uint16_t(bk.used | (1u << slot)), std::memory_order_release);
}

void flow_table::index_erase(const flow_key& key, uint32_t entry) noexcept {
    const hashed h = hash(key);
    uint32_t b = h.bucket;
    for (uint32_t probes = 0; probes < n_buckets_; ++probes) {
        bucket& bk = buckets_[b];
        for (uint32_t m = match(bk, h.sig); m != 0; m &= m - 1) {
            const uint32_t slot = uint32_t(std::countr_zero(m));
            if (bk.entry[slot] == entry) {
                std::atomic_ref<uint16_t>(bk.used).store(uint16_t(bk.used & ~(1u << slot)),
                                                         std::memory_order_release);
                // undo the overflow marks this entry left on the way
                for (uint32_t x = h.bucket; x != b; x = next_bucket(x))
                    if (buckets_[x].overflow != k_overflow_sticky)
                        store_relaxed(buckets_[x].overflow, uint16_t(buckets_[x].overflow - 1));
                return;
            }
        }
        b = next_bucket(b);
    }
}

uint32_t flow_table::find_shared(const flow_key& key, session& out, bool* is_outside) const noexcept {
    const hashed h = hash(key);
    uint32_t b = h.bucket;
    for (uint32_t probes = 0; probes < n_buckets_; ++probes) {
        bucket& bk = buckets_[b];
        const uint32_t used = std::atomic_ref<uint16_t>(bk.used).load(std::memory_order_acquire);
        for (uint32_t slot = 0; slot < k_slots; ++slot) {
            if (!((used >> slot) & 1)) continue;
            if (std::atomic_ref<uint16_t>(bk.sig[slot]).load(std::memory_order_relaxed) != h.sig) continue;
            const uint32_t e = std::atomic_ref<uint32_t>(bk.entry[slot]).load(std::memory_order_relaxed);
            // The slot may be being reused under us: only a consistent live record
            // that holds this very key counts.
            if ((e >> 1) >= capacity_ || !read_session(e >> 1, out)) continue;
            if (key_eq((e & 1) ? out.outside : out.inside, key)) {
                if (is_outside) *is_outside = (e & 1) != 0;
                return e >> 1;
            }
        }
        if (std::atomic_ref<uint16_t>(bk.overflow).load(std::memory_order_relaxed) == 0) break;
        b = next_bucket(b);
    }
    return k_no_session;
}

flow_table::index_stats flow_table::stats() const noexcept {
    index_stats st{0, 0};
    for (uint32_t b = 0; b < n_buckets_; ++b) {
        st.overflowed_buckets += buckets_[b].overflow != 0;
        st.extra_probes += buckets_[b].overflow;
    }
    return st;
}

// ---- sessions -------------------------------------------------------------------

uint32_t flow_table::insert(const flow_key& inside, const flow_key& outside, const session_init& init,
                            uint32_t now) noexcept {
    if (key_eq(inside, outside)) return k_no_session;
    if (lookup(inside) != k_no_session || lookup(outside) != k_no_session) return k_no_session;
    return insert_absent(inside, outside, init, now);
}

uint32_t flow_table::insert_absent(const flow_key& inside, const flow_key& outside, const session_init& init,
                                   uint32_t now) noexcept {
    uint32_t id = free_head_;
    const uint32_t hw = high_water_.load(std::memory_order_relaxed);
    if (id != k_no_session) {
        free_head_ = sessions_[id].timer_next;
    } else if (hw < capacity_) {
        id = hw;
    } else {
        return k_no_session;
    }

    session& s = sessions_[id];
    session v{};
    v.inside = inside;
    v.outside = outside;
    v.owner_vm = init.owner_vm;
    v.last_seen = now;
    v.user = init.user;
    v.state = init.state;
    v.tclass = uint8_t(init.tclass);
    v.flags = k_live;
    write_begin(s);
    for (size_t i = 0; i < k_public_words; ++i)
        std::atomic_ref<uint64_t>(words(s)[i]).store(words(v)[i], std::memory_order_relaxed);
    write_end(s);
    if (id == hw) high_water_.store(hw + 1, std::memory_order_release);

    index_insert(inside, id << 1);
    index_insert(outside, (id << 1) | 1);
    if (!cursor_set_) {
        cursor_ = now;
        cursor_set_ = true;
    }
    arm(id, init.tclass == timeout_class::held ? now + k_wheel_slots - 1
                                                   : now + timeouts_.seconds[uint8_t(init.tclass) & 3]);
    live_.store(live_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return id;
}

void flow_table::set_state(uint32_t id, uint8_t state, timeout_class tclass) noexcept {
    session& s = sessions_[id];
    write_begin(s);
    std::atomic_ref<uint8_t>(s.state).store(state, std::memory_order_relaxed);
    std::atomic_ref<uint8_t>(s.tclass).store(uint8_t(tclass), std::memory_order_relaxed);
    write_end(s);
    const uint32_t deadline = s.last_seen + timeouts_.seconds[uint8_t(tclass) & 3];
    if (int32_t(deadline - s.timer_tick) < 0) {
        unlink(id);
        arm(id, deadline);
    }
}

void flow_table::release(uint32_t id) noexcept {
    session& s = sessions_[id];
    index_erase(s.inside, id << 1);
    index_erase(s.outside, (id << 1) | 1);
    write_begin(s);
    std::atomic_ref<uint8_t>(s.flags).store(0, std::memory_order_relaxed);
    write_end(s);
    s.timer_next = free_head_;
    free_head_ = id;
    live_.store(live_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void flow_table::erase(uint32_t id) noexcept {
    unlink(id);
    release(id);
}

// ---- timer wheel ----------------------------------------------------------------

void flow_table::arm(uint32_t id, uint32_t deadline) noexcept {
    uint32_t tick = deadline;
    if (int32_t(tick - cursor_) < 0) tick = cursor_;  // already due: next expire() sees it
    if (tick - cursor_ >= k_wheel_slots) tick = cursor_ + k_wheel_slots - 1;  // re-armed then
    session& s = sessions_[id];
    uint32_t& head = wheel_[tick & (k_wheel_slots - 1)];
    s.timer_tick = tick;
    s.timer_prev = k_no_session;
    s.timer_next = head;
    if (head != k_no_session) sessions_[head].timer_prev = id;
    head = id;
}

void flow_table::unlink(uint32_t id) noexcept {
    session& s = sessions_[id];
    if (s.timer_prev == k_no_session)
        wheel_[s.timer_tick & (k_wheel_slots - 1)] = s.timer_next;
    else
        sessions_[s.timer_prev].timer_next = s.timer_next;
    if (s.timer_next != k_no_session) sessions_[s.timer_next].timer_prev = s.timer_prev;
}

}  // namespace eg::dp
