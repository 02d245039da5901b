#include "control/vm_admissions.hpp"

#include <algorithm>

namespace eg::ctl {

namespace {
/// How many left slots one admit() looks at for a reusable one (oldest first): keeps
/// an admission O(1) when many slots still wait for their sessions to end.
constexpr size_t k_reuse_scan = 64;
}  // namespace

std::optional<uint32_t> vm_admissions::slot_of(const dp::mac_bytes& mac, uint32_t ipv4) const {
    const auto it = by_pair_.find({mac, ipv4});
    if (it == by_pair_.end()) return std::nullopt;
    return it->second;
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
        for (auto it = by_pair_.lower_bound({mac, 0}); it != by_pair_.end() && it->first.first == mac;) {
            const auto next = std::next(it);
            if (it->first.second != ipv4 && (slots_[it->second].reasons & admitted_by_lease)) {
                withdraw(admitted_by_lease, mac, it->first.second);
            }
            it = next;
        }
    }
    // The address moved to another MAC: the old pair leaves.
    if (const auto ip = by_ip_.find(ipv4); ip != by_ip_.end() && slots_[ip->second].mac != mac) {
        leave(ip->second);
    }
    if (const auto it = by_pair_.find(k); it != by_pair_.end()) {
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
    s.name = std::string(name);
    s.reasons = reason;
    s.ipv6 = (reason & admitted_by_allocation) ? ipv6 : dp::ipv6_bytes{};
    s.lease_expires_s = (reason & admitted_by_lease) ? lease_expires_s : 0;
    s.last_snapshot.reset();
    if ((reason & admitted_by_lease) && lease_expires_s != 0) lease_ends_.emplace(lease_expires_s, k);
    by_pair_[k] = *slot;
    by_ip_[ipv4] = *slot;
    dirty_ = true;
    return result::admitted;
}

void vm_admissions::leave(uint32_t slot) {
    slot_state& s = slots_[slot];
    const pair_key k{s.mac, s.ipv4};
    by_pair_.erase(k);
    if (const auto ip = by_ip_.find(s.ipv4); ip != by_ip_.end() && ip->second == slot) by_ip_.erase(ip);
    s.reasons = 0;
    s.lease_expires_s = 0;
    // Kept (mac, address, name) for the snapshot's entry until the slot is reused.
    parked_[k] = slot;
    free_.push_back(slot);
    dirty_ = true;
}

bool vm_admissions::withdraw(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4) {
    const auto it = by_pair_.find({mac, ipv4});
    if (it == by_pair_.end()) return false;
    slot_state& s = slots_[it->second];
    if (!(s.reasons & reason)) return false;
    s.reasons &= static_cast<uint8_t>(~reason);
    if (reason & admitted_by_lease) s.lease_expires_s = 0;
    if ((reason & admitted_by_allocation) && s.ipv6 != dp::ipv6_bytes{}) {
        s.ipv6 = {};  // the /128 was the allocation's; a lease alone has no IPv6
        dirty_ = true;
    }
    if (s.reasons == 0) leave(it->second);
    return true;
}

size_t vm_admissions::expire_leases(uint64_t now_s) {
    size_t left = 0;
    while (!lease_ends_.empty() && lease_ends_.begin()->first <= now_s) {
        const auto [end, k] = *lease_ends_.begin();
        lease_ends_.erase(lease_ends_.begin());
        const auto it = by_pair_.find(k);
        if (it == by_pair_.end()) continue;
        const slot_state& s = slots_[it->second];
        // Stale entry: the lease was renewed (a later end is queued) or is infinite now.
        if (!(s.reasons & admitted_by_lease) || s.lease_expires_s != end) continue;
        const bool gone = s.reasons == admitted_by_lease;
        withdraw(admitted_by_lease, k.first, k.second);
        left += gone;
    }
    return left;
}

void vm_admissions::published(const std::shared_ptr<const void>& token) {
    for (const auto& [k, slot] : by_pair_) slots_[slot].last_snapshot = token;
    dirty_ = false;
}

}  // namespace eg::ctl
