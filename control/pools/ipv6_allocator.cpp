#include "control/pools/ipv6_allocator.hpp"

#include <sodium.h>

#include <cstring>

namespace eg::ctl::pools {

static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);

namespace {
constexpr uint32_t k_max_probes = 64;
}

ipv6_allocator::ipv6_allocator(const ipv6_address& prefix, const key_type& key, std::vector<uint64_t> excluded_iids)
    : key_(key), excluded_(excluded_iids.begin(), excluded_iids.end()) {
    std::memcpy(prefix_.data(), prefix.data(), 8);
}

uint64_t ipv6_allocator::iid_from(const ipv6_address& a) {
    uint64_t v = 0;
    for (int i = 8; i < 16; ++i) v = (v << 8) | a[i];
    return v;
}

ipv6_address ipv6_allocator::make(uint64_t iid) const {
    ipv6_address a = prefix_;
    for (int i = 15; i >= 8; --i) {
        a[i] = static_cast<uint8_t>(iid);
        iid >>= 8;
    }
    return a;
}

bool ipv6_allocator::contains(const ipv6_address& addr) const { return std::memcmp(addr.data(), prefix_.data(), 8) == 0; }

bool ipv6_allocator::reserved_iid(uint64_t iid) const {
    if (iid == 0) return true;                                                   // RFC 4291 §2.6.1
    if (iid >= 0xfdffffffffffff80ULL && iid <= 0xfdffffffffffffffULL) return true;  // RFC 5453
    return excluded_.contains(iid);
}

uint64_t ipv6_allocator::iid_of(std::string_view vps_id, uint32_t probe) const {
    // SipHash over probe (4 bytes, little-endian) then the vps_id: fixed-length
    // prefix, so (id, probe) pairs can never alias each other.
    std::string msg(4 + vps_id.size(), '\0');
    for (int i = 0; i < 4; ++i) msg[static_cast<size_t>(i)] = static_cast<char>(probe >> (8 * i));
    std::memcpy(msg.data() + 4, vps_id.data(), vps_id.size());
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), key_.data());
    uint64_t v = 0;
    for (unsigned char b : out) v = (v << 8) | b;
    return v;
}

ipv6_address ipv6_allocator::candidate(std::string_view vps_id, uint32_t probe) const {
    return make(iid_of(vps_id, probe));
}

std::optional<ipv6_address> ipv6_allocator::allocate(std::string_view vps_id) {
    if (auto it = by_vps_.find(vps_id); it != by_vps_.end()) return make(it->second);
    for (uint32_t probe = 0; probe < k_max_probes; ++probe) {
        const uint64_t iid = iid_of(vps_id, probe);
        if (reserved_iid(iid) || by_iid_.contains(iid)) continue;
        by_iid_.emplace(iid, std::string(vps_id));
        by_vps_.emplace(std::string(vps_id), iid);
        return make(iid);
    }
    return std::nullopt;
}

std::error_code ipv6_allocator::reserve(std::string_view vps_id, const ipv6_address& addr) {
    if (!contains(addr)) return pool_errc::out_of_range;
    const uint64_t iid = iid_from(addr);
    if (reserved_iid(iid)) return pool_errc::excluded;
    if (auto it = by_iid_.find(iid); it != by_iid_.end()) {
        return it->second == vps_id ? std::error_code{} : make_error_code(pool_errc::in_use);
    }
    if (auto it = by_vps_.find(vps_id); it != by_vps_.end()) {
        by_iid_.erase(it->second);  // the VM moves to the recorded address
        it->second = iid;
    } else {
        by_vps_.emplace(std::string(vps_id), iid);
    }
    by_iid_.emplace(iid, std::string(vps_id));
    return {};
}

std::error_code ipv6_allocator::release(std::string_view vps_id) {
    auto it = by_vps_.find(vps_id);
    if (it == by_vps_.end()) return pool_errc::not_in_use;
    by_iid_.erase(it->second);
    by_vps_.erase(it);
    return {};
}

std::optional<ipv6_address> ipv6_allocator::find(std::string_view vps_id) const {
    auto it = by_vps_.find(vps_id);
    if (it == by_vps_.end()) return std::nullopt;
    return make(it->second);
}

std::string_view ipv6_allocator::holder(const ipv6_address& addr) const {
    if (!contains(addr)) return {};
    auto it = by_iid_.find(iid_from(addr));
    return it == by_iid_.end() ? std::string_view{} : std::string_view(it->second);
}

}  // namespace eg::ctl::pools
