#pragma once
// The VMs the data plane admits at runtime, beside the [[vms]] of the config: every
// (MAC, IPv4) pair a DHCP lease binds or an admin-API allocation places. NAT44's
// anti-spoofing lets such a pair's traffic through, and the pair leaves with the
// masquerade policy and the default per-VM session quota (nat.sessions_per_vm).
//
// Each pair gets a stable *slot*: its index among the runtime VMs, so its index in
// the snapshot's nat44_policy::vms is (number of [[vms]]) + slot for as long as it is
// admitted. Workers key their per-VM state (session counts for the quota, port
// releases on expiry) by that index, so a slot whose VM left is not handed to another
// VM until
//   1. no snapshot a worker may still use admits the old VM (the weak reference to
//      the retire token of the last snapshot that did has expired), and
//   2. no worker has a session of it left (slot_busy() says so; its sessions time out
//      by themselves: nothing here deletes a worker's flows).
// The same pair coming back (a lease renewed after it ran out) gets its old slot back
// at once. Slots never exceed `capacity` (nat.max_vms minus the [[vms]]): a pair
// beyond it is not admitted and the caller says so.
//
// Owner: the control thread. Sans-I/O (times are passed in), so tests drive it directly.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/snapshot.hpp"

namespace eg::ctl {

/// Why a pair is admitted (bits; a pair stays admitted while any bit is set).
enum admission_reason : uint8_t { admitted_by_lease = 1, admitted_by_allocation = 2 };

class vm_admissions {
public:
    /// True while some worker still has sessions of the VM in runtime slot `slot`.
    using busy_fn = std::function<bool(uint32_t slot)>;

    struct slot_state {
        dp::mac_bytes mac{};
        uint32_t ipv4 = 0;           ///< host order
        dp::ipv6_bytes ipv6{};       ///< an allocation's dedicated /128 (zero: none)
        std::string name;            ///< vps_id for an allocation, else lease_name(mac)
        uint8_t reasons = 0;         ///< admission_reason bits; 0 = not admitted (left, or free)
        uint64_t lease_expires_s = 0;  ///< with admitted_by_lease: the lease's end (0 = never)
        std::weak_ptr<const void> last_snapshot;  ///< retire token of the last snapshot admitting it
    };

    enum class result { admitted, unchanged, full };

    explicit vm_admissions(uint32_t capacity, busy_fn busy = {}) : capacity_(capacity), busy_(std::move(busy)) {}
    void set_busy(busy_fn busy) { busy_ = std::move(busy); }

    /// Admits (mac, ipv4) for `reason`. A lease replaces an older lease pair of the same
    /// MAC (one leased address per MAC) and any pair of another MAC on the same address
    /// (the address moved). `name` is kept from an allocation over a lease's, and so is
    /// `ipv6`: an allocation's dedicated /128, bound while the allocation admits the pair.
    /// An empty `name` (a DHCP client's own lease) names the slot lease_name(mac), and
    /// that is formatted only when the pair takes a slot: a restart offers every stored
    /// lease, and past `capacity` (1M leases, 65,536 slots) nearly all of them are full.
    result admit(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4, std::string_view name,
                 uint64_t lease_expires_s = 0, const dp::ipv6_bytes& ipv6 = {});
    /// The name of a pair a DHCP client's lease alone admits: "dhcp-<mac>".
    static std::string lease_name(const dp::mac_bytes& mac);
    /// Drops `reason` from the pair; it leaves when no reason is left. False if the
    /// pair did not have that reason.
    bool withdraw(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4);
    /// Withdraws lease admissions whose lease ended at or before now_s; how many left.
    size_t expire_leases(uint64_t now_s);

    /// Slots in use or used before, by index (the snapshot builder's list).
    const std::vector<slot_state>& slots() const { return slots_; }
    /// The slot of an admitted pair, if any.
    std::optional<uint32_t> slot_of(const dp::mac_bytes& mac, uint32_t ipv4) const;
    size_t admitted() const { return by_ip_.size(); }
    uint32_t capacity() const { return capacity_; }

    /// Something changed since the last published(): a new snapshot is due.
    bool dirty() const { return dirty_; }
    /// A snapshot built from slots() is now current; `token` is its retire token.
    void published(const std::shared_ptr<const void>& token);

private:
    using pair_key = std::pair<dp::mac_bytes, uint32_t>;
    /// A MAC as an integer key (its 6 bytes, big-endian).
    static uint64_t mac_key(const dp::mac_bytes& mac);
    void leave(uint32_t slot);
    std::optional<uint32_t> take_slot(const pair_key& k);
    /// Drops the leased_by_mac_ entry of `slot`'s MAC if it names that slot.
    void forget_lease_of(uint32_t slot);

    uint32_t capacity_;
    busy_fn busy_;
    std::vector<slot_state> slots_;
    // The admitted pairs are indexed by integers, not by (MAC, address) in an ordered
    // map: a restart offers every stored lease (1M) and most of them only need to find
    // out that they are not admitted and that nothing stands in their way; two tree
    // walks with a memcmp per level were most of the admission's time.
    /// Admitted address -> slot. An address has at most one admitted pair (admit() makes
    /// the old holder leave), so this is also the index of the pairs: (mac, ipv4) is
    /// admitted iff by_ip_ has ipv4 and that slot's MAC is mac.
    std::unordered_map<uint32_t, uint32_t> by_ip_;
    /// MAC (mac_key) -> slot of its pair that a lease admits: at most one per MAC
    /// (one leased address per MAC), so a new lease finds the one it replaces here.
    std::unordered_map<uint64_t, uint32_t> leased_by_mac_;
    std::map<pair_key, uint32_t> parked_;           ///< left pairs -> their old (free) slot
    std::deque<uint32_t> free_;                     ///< left slots, oldest first
    std::multimap<uint64_t, pair_key> lease_ends_;  ///< lease end -> pair (stale entries skipped)
    bool dirty_ = false;
};

}  // namespace eg::ctl
