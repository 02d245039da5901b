#pragma once
// Dedicated IPv6 /128s for VMs out of one configured /64 (DESIGN.md: each VM gets its
// own routed /128, no NAT).
//
// A /64 has 2^64 interface identifiers, so this is not a pool to scan but a set of
// bindings: the interface identifier of a VM is SipHash-2-4 (libsodium's
// crypto_shorthash) of its vps_id under a per-deployment key, with a probe counter
// mixed in on the (rare) collision. The same vps_id gets the same address on any
// box with the same key, and the chosen address is recorded in the VM's lease, so
// it stays the VM's for the life of the allocation even if the key or the set of
// other VMs changes (replay calls reserve() with the recorded address, it does not
// re-derive). A keyed hash rather than a plain one keeps addresses from being
// predictable from vps_ids (RFC 7721 §3 on address scanning).
//
// Never handed out: the all-zeros identifier (subnet-router anycast, RFC 4291
// §2.6.1), the reserved subnet anycast range (RFC 5453: fdff:ffff:ffff:ff80-ffff)
// and identifiers the operator excludes (the gateway's own, typically ::1).
// Owner: the control thread.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "control/pools/pool_error.hpp"

namespace eg::ctl::pools {

using ipv6_address = std::array<uint8_t, 16>;

class ipv6_allocator {
public:
    using key_type = std::array<uint8_t, 16>;

    /// `prefix`: the first 8 bytes are the /64 (the rest is ignored).
    ipv6_allocator(const ipv6_address& prefix, const key_type& key, std::vector<uint64_t> excluded_iids = {1});

    /// The address for `vps_id`: the one it already holds, else the first free
    /// candidate(vps_id, 0, 1, ...). nullopt only if 64 probes all collide.
    std::optional<ipv6_address> allocate(std::string_view vps_id);
    /// Binds exactly `addr` to `vps_id` (replay of a recorded lease, static config).
    /// in_use if another VM holds it, out_of_range if outside the /64, excluded for
    /// a reserved identifier. Re-binding the same pair is a no-op.
    std::error_code reserve(std::string_view vps_id, const ipv6_address& addr);
    /// Sizes the tables for about n bindings (replay of many recorded ones: no rehashing).
    void reserve_bindings(size_t n) {
        by_iid_.reserve(n);
        by_vps_.reserve(n);
    }
    /// Drops the VM's binding; not_in_use if it has none.
    std::error_code release(std::string_view vps_id);

    std::optional<ipv6_address> find(std::string_view vps_id) const;
    /// Which VM holds `addr` (empty if none).
    std::string_view holder(const ipv6_address& addr) const;
    bool contains(const ipv6_address& addr) const;
    size_t used() const { return by_iid_.size(); }

    /// The deterministic candidate for (vps_id, probe): what allocate() tries.
    ipv6_address candidate(std::string_view vps_id, uint32_t probe) const;

private:
    uint64_t iid_of(std::string_view vps_id, uint32_t probe) const;
    bool reserved_iid(uint64_t iid) const;
    ipv6_address make(uint64_t iid) const;
    static uint64_t iid_from(const ipv6_address& a);

    struct string_hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    ipv6_address prefix_{};
    key_type key_{};
    std::unordered_set<uint64_t> excluded_;
    std::unordered_map<uint64_t, std::string> by_iid_;
    std::unordered_map<std::string, uint64_t, string_hash, std::equal_to<>> by_vps_;
};

}  // namespace eg::ctl::pools
