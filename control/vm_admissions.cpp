#include "control/vm_admissions.hpp"

#include <algorithm>
#include <cstdio>

namespace eg::ctl {

namespace {
/// How many left slots one admit() looks at for a reusable one (oldest first): keeps
/// an admission O(1) when many slots still wait for their sessions to end.
constexpr size_t k_reuse_scan = 64;
}  // namespace

uint64_t vm_admissions::mac_key(const dp::mac_bytes& mac) {
    uint64_t k = 0;
    for (const uint8_t b : mac) k = k << 8 | b;
    return k;
}

std::string vm_admissions::lease_name(const dp::mac_bytes& m) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "dhcp-%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

std::optional<uint32_t> vm_admissions::slot_of(const dp::mac_bytes& mac, uint32_t ipv4) const {
    const auto it = by_ip_.find(ipv4);
    if (it == by_ip_.end() || slots_[it->second].mac != mac) return std::nullopt;
    return it->second;
}

void vm_admissions::forget_lease_of(uint32_t slot) {
    const auto it = leased_by_mac_.find(mac_key(slots_[slot].mac));
    if (it != leased_by_mac_.end() && it->second == slot) leased_by_mac_.erase(it);
}

std::optional<uint32_t> vm_admissions::take_slot(const pair_key& k) {
    // The same VM back: its old slot (its sessions are its own).
    if (const auto p = parked_.find(k); p != parked_.end()) {
        const uint32_t s = p->second;
        parked_.erase(p);
        free_.erase(std::find(free_.begin(), free_.end(), s));
        return s;
    }
    // A slot whose VM is out of every snapshot and has no session left.
    const size_t scan = std::min(free_.size(), k_reuse_scan);
    for (size_t i = 0; i < scan; ++i) {
        const uint32_t s = free_[i];
        if (!slots_[s].last_snapshot.expired() || (busy_ && busy_(s))) continue;
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
        parked_.erase({slots_[s].mac, slots_[s].ipv4});
        return s;
    }
    if (slots_.size() < capacity_) {
        slots_.emplace_back();
        return static_cast<uint32_t>(slots_.size() - 1);
    }
    return std::nullopt;
}

vm_admissions::result vm_admissions::admit(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4,
                                           std::string_view name, uint64_t lease_expires_s,
                                           const dp::ipv6_bytes& ipv6) {
    const pair_key k{mac, ipv4};
    if (reason & admitted_by_lease) {
        // One leased address per MAC: an older lease pair of this MAC ends here.
        const auto m = leased_by_mac_.find(mac_key(mac));
        if (m != leased_by_mac_.end() && slots_[m->second].ipv4 != ipv4) {
            withdraw(admitted_by_lease, mac, slots_[m->second].ipv4);
        }
    }
    auto it = by_ip_.find(ipv4);
    if (it != by_ip_.end() && slots_[it->second].mac != mac) {
        leave(it->second);  // the address moved to another MAC: the old pair leaves
        it = by_ip_.end();
    }
    if (it != by_ip_.end()) {  // the pair itself
        slot_state& s = slots_[it->second];
        s.reasons |= reason;
        if (reason & admitted_by_allocation) {
            s.name = std::string(name);
            if (s.ipv6 != ipv6) {
                s.ipv6 = ipv6;
                dirty_ = true;
            }
        }
        if (reason & admitted_by_lease) {
            leased_by_mac_[mac_key(mac)] = it->second;
            s.lease_expires_s = lease_expires_s;
            if (lease_expires_s != 0) lease_ends_.emplace(lease_expires_s, k);
        }
        return result::unchanged;
    }
    const auto slot = take_slot(k);
    if (!slot) return result::full;
    slot_state& s = slots_[*slot];
    s.mac = mac;
    s.ipv4 = ipv4;
    s.name = name.empty() ? lease_name(mac) : std::string(name);
    s.reasons = reason;
    s.ipv6 = (reason & admitted_by_allocation) ? ipv6 : dp::ipv6_bytes{};
    s.lease_expires_s = (reason & admitted_by_lease) ? lease_expires_s : 0;
    s.last_snapshot.reset();
    if (reason & admitted_by_lease) {
        leased_by_mac_[mac_key(mac)] = *slot;
        if (lease_expires_s != 0) lease_ends_.emplace(lease_expires_s, k);
    }
    by_ip_[ipv4] = *slot;
    dirty_ = true;
    return result::admitted;
}

void vm_admissions::leave(uint32_t slot) {
    slot_state& s = slots_[slot];
    const pair_key k{s.mac, s.ipv4};
    if (const auto ip = by_ip_.find(s.ipv4); ip != by_ip_.end() && ip->second == slot) by_ip_.erase(ip);
    if (s.reasons & admitted_by_lease) forget_lease_of(slot);
    s.reasons = 0;
    s.lease_expires_s = 0;
    // Kept (mac, address, name) for the snapshot's entry until the slot is reused.
    parked_[k] = slot;
    free_.push_back(slot);
    dirty_ = true;
}

bool vm_admissions::withdraw(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4) {
    const auto slot = slot_of(mac, ipv4);
    if (!slot) return false;
    slot_state& s = slots_[*slot];
    if (!(s.reasons & reason)) return false;
    if (reason & s.reasons & admitted_by_lease) forget_lease_of(*slot);
    s.reasons &= static_cast<uint8_t>(~reason);
    if (reason & admitted_by_lease) s.lease_expires_s = 0;
    if ((reason & admitted_by_allocation) && s.ipv6 != dp::ipv6_bytes{}) {
        s.ipv6 = {};  // the /128 was the allocation's; a lease alone has no IPv6
        dirty_ = true;
    }
    if (s.reasons == 0) leave(*slot);
    return true;
}

size_t vm_admissions::expire_leases(uint64_t now_s) {
    size_t left = 0;
    while (!lease_ends_.empty() && lease_ends_.begin()->first <= now_s) {
        const auto [end, k] = *lease_ends_.begin();
        lease_ends_.erase(lease_ends_.begin());
        const auto slot = slot_of(k.first, k.second);
        if (!slot) continue;
        const slot_state& s = slots_[*slot];
        // Stale entry: the lease was renewed (a later end is queued) or is infinite now.
        if (!(s.reasons & admitted_by_lease) || s.lease_expires_s != end) continue;
        const bool gone = s.reasons == admitted_by_lease;
        withdraw(admitted_by_lease, k.first, k.second);
        left += gone;
    }
    return left;
}

void vm_admissions::published(const std::shared_ptr<const void>& token) {
    for (const auto& [ip, slot] : by_ip_) slots_[slot].last_snapshot = token;
    dirty_ = false;
}

}  // namespace eg::ctl
