#include "control/leases/store_state.hpp"

#include <algorithm>

namespace eg::ctl::leases {

bool store_state::apply(const record_view& r) {
    switch (r.type) {
        case record_type::lease_put: {
            lease_view l;
            if (!decode_lease_view(r.payload, l)) return false;
            put_lease(l);
            return true;
        }
        case record_type::lease_erase: {
            std::string_view id;
            if (!decode_lease_erase(r.payload, id)) return false;
            erase_lease(id);
            return true;
        }
        case record_type::kv_put: {
            kv_view kv;
            if (!decode_kv_put(r.payload, kv)) return false;
            put_record(kv.ns, kv.key, kv.value);
            return true;
        }
        case record_type::kv_erase: {
            kv_view kv;
            if (!decode_kv_erase(r.payload, kv)) return false;
            erase_record(kv.ns, kv.key);
            return true;
        }
        case record_type::snapshot_end:
            break;
    }
    return false;  // unknown type, or snapshot_end where a data record belongs
}

void store_state::reserve(size_t n) {
    leases_.reserve(n);
    by_ipv4_.reserve(n);
}

void store_state::unindex(const lease& l) {
    if (holds_address(l.state) && l.ipv4 != 0) {
        auto it = by_ipv4_.find(l.ipv4);
        if (it != by_ipv4_.end() && it->second == &l) by_ipv4_.erase(it);
    }
}

void store_state::put_lease(const lease_view& l) {
    // try_emplace: a miss is one walk of the bucket, not a find() and then an
    // emplace() that walks it again (replaying a journal, nearly every put is new).
    auto [it, inserted] = leases_.try_emplace(std::string(l.vps_id));
    lease& rec = it->second;
    const bool holds = holds_address(l.state) && l.ipv4 != 0;
    if (inserted) {
        rec.vps_id = it->first;
    } else if (!holds || rec.ipv4 != l.ipv4) {
        unindex(rec);  // its address is no longer this lease's (a renewal keeps its entry)
    }
    assign_fields(rec, l);
    if (holds) {
        auto [pos, fresh] = by_ipv4_.try_emplace(l.ipv4, &rec);
        if (!fresh && pos->second != &rec) {
            ++conflicts_;
            pos->second = &rec;
        }
    }
}

bool store_state::erase_lease(std::string_view vps_id) {
    auto it = leases_.find(vps_id);
    if (it == leases_.end()) return false;
    unindex(it->second);
    leases_.erase(it);
    return true;
}

void store_state::put_record(std::string_view ns, std::string_view key, std::span<const uint8_t> value) {
    auto n = records_.find(ns);
    if (n == records_.end()) n = records_.emplace(std::string(ns), std::map<std::string, bytes, std::less<>>{}).first;
    auto k = n->second.find(key);
    if (k == n->second.end()) {
        n->second.emplace(std::string(key), bytes(value.begin(), value.end()));
    } else {
        k->second.assign(value.begin(), value.end());
    }
}

bool store_state::erase_record(std::string_view ns, std::string_view key) {
    auto n = records_.find(ns);
    if (n == records_.end()) return false;
    auto k = n->second.find(key);
    if (k == n->second.end()) return false;
    n->second.erase(k);
    if (n->second.empty()) records_.erase(n);
    return true;
}

const lease* store_state::find_lease(std::string_view vps_id) const {
    auto it = leases_.find(vps_id);
    return it == leases_.end() ? nullptr : &it->second;
}

const lease* store_state::find_by_ipv4(uint32_t ipv4) const {
    auto it = by_ipv4_.find(ipv4);
    return it == by_ipv4_.end() ? nullptr : it->second;
}

const store_state::bytes* store_state::find_record(std::string_view ns, std::string_view key) const {
    auto n = records_.find(ns);
    if (n == records_.end()) return nullptr;
    auto k = n->second.find(key);
    return k == n->second.end() ? nullptr : &k->second;
}

size_t store_state::record_count() const {
    size_t n = 0;
    for (const auto& [ns, m] : records_) n += m.size();
    return n;
}

uint64_t store_state::encode(std::vector<uint8_t>& buf, size_t chunk,
                             const std::function<bool(std::vector<uint8_t>&)>& flush) const {
    // Leases in the bucket order of a table sized for exactly the records written
    // (replay sizes its table from the snapshot's end record to the same bucket count):
    // the restart's inserts then walk the bucket array and its own fresh memory in
    // order instead of jumping across both for every record. Any order is a valid
    // snapshot; this one is only faster to read back.
    const uint64_t total = leases_.size() + record_count();
    size_t buckets = 1;
    {
        lease_map sized;
        sized.reserve(static_cast<size_t>(std::min<uint64_t>(total, uint64_t{1} << 26)));
        buckets = sized.bucket_count();
    }
    std::vector<std::pair<size_t, const lease*>> order;
    order.reserve(leases_.size());
    const string_hash hash;
    for (const auto& [id, l] : leases_) order.emplace_back(hash(id) % buckets, &l);
    std::sort(order.begin(), order.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    uint64_t seq = 0;
    auto maybe_flush = [&] { return buf.size() < chunk || flush(buf); };
    for (const auto& [bucket, l] : order) {
        encode_lease_put(buf, ++seq, *l);
        if (!maybe_flush()) return seq;
    }
    for (const auto& [ns, m] : records_) {
        for (const auto& [key, value] : m) {
            encode_kv_put(buf, ++seq, ns, key, value);
            if (!maybe_flush()) return seq;
        }
    }
    return seq;
}

}  // namespace eg::ctl::leases
