#pragma once
// The lease store's contents in memory: what replaying the snapshot and journals
// yields, and what the store updates as records are appended. Last record wins per
// key (as in Kea's memfile: "the latest lease entry for the client is the valid
// one"). Owner: one thread (the control thread, or a compaction thread on its own
// private copy).
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/leases/journal_format.hpp"
#include "control/leases/lease.hpp"

namespace eg::ctl::leases {

class store_state {
public:
    struct string_hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using lease_map = std::unordered_map<std::string, lease, string_hash, std::equal_to<>>;
    using bytes = std::vector<uint8_t>;
    using record_map = std::map<std::string, std::map<std::string, bytes, std::less<>>, std::less<>>;

    /// Applies one decoded record; false if its payload is malformed (state unchanged).
    bool apply(const record_view& r);

    void put_lease(const lease& l) { put_lease(view_of(l)); }
    /// One hash lookup: the node is found or made, then its fields are assigned in
    /// place (an update reuses the strings' buffers).
    void put_lease(const lease_view& l);
    /// Sizes the hash tables for about n leases (replay does it from file sizes, so
    /// loading 1M leases does not rehash twenty times).
    void reserve(size_t n);
    bool erase_lease(std::string_view vps_id);
    void put_record(std::string_view ns, std::string_view key, std::span<const uint8_t> value);
    bool erase_record(std::string_view ns, std::string_view key);

    const lease* find_lease(std::string_view vps_id) const;
    /// The lease holding `ipv4` (state offered, bound or static), if any.
    const lease* find_by_ipv4(uint32_t ipv4) const;
    const lease_map& leases() const { return leases_; }
    const record_map& records() const { return records_; }
    const bytes* find_record(std::string_view ns, std::string_view key) const;
    size_t record_count() const;
    /// Times a put took an IPv4 address that another vps_id's lease still held (the
    /// older holder loses it). Zero unless the writer broke the uniqueness rule.
    uint64_t address_conflicts() const { return conflicts_; }

    /// Appends every lease and record to `buf` as framed records with seq 1..n (the
    /// body of a snapshot). Whenever `buf` passes `chunk` bytes it calls flush(buf),
    /// which writes and clears it, or returns false to stop early. What is left in
    /// `buf` at the end is the caller's to write. Returns n.
    uint64_t encode(std::vector<uint8_t>& buf, size_t chunk,
                    const std::function<bool(std::vector<uint8_t>&)>& flush) const;

    bool operator==(const store_state& o) const { return leases_ == o.leases_ && records_ == o.records_; }

private:
    void unindex(const lease& l);

    lease_map leases_;
    std::unordered_map<uint32_t, const lease*> by_ipv4_;  ///< holders only
    record_map records_;
    uint64_t conflicts_ = 0;
};

}  // namespace eg::ctl::leases
