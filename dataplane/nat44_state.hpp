#pragma once
// One worker's NAT44 state: its flow table (sessions and endpoint-independent
// mappings), its slices of the public ports, per-VM session counts, the fragment
// table and the event ring to the control thread (mapping log, quota messages).
// Owner: that worker. The control thread reads the table (find_shared, for_each,
// size) and drains the event ring; nothing else crosses.
//
// Records in the flow table:
//   session  inside key  (vm addr, remote addr, vm port, remote port, proto)     kind 0
//            outside key (remote addr, public addr, remote port, public port, proto)
//            i.e. exactly the tuple an outbound / inbound packet of the flow has
//            (nat44_tuple; for ICMP echo the identifier is the port, see there).
//            For the proxy policy the inside key's remote is the proxy service and
//            the outside key's remote the upstream proxy (twice NAT).
//            user = the id of its mapping.
//   mapping  inside key  (vm addr, 0, vm port, 0, proto)                          kind 1
//            outside key (0, public addr, 0, public port, proto)
//            RFC 4787 endpoint-independent mapping: every session of one VM socket
//            leaves from the same public address:port, and with endpoint-independent
//            filtering an inbound packet to it from anyone opens a session.
//            Timeout class `held`: erased when its last session goes (refs_).
#include <immintrin.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/flow_table.hpp"
#include "dataplane/nat44_policy.hpp"
#include "dataplane/nat_port_pool.hpp"
#include "dataplane/spsc_ring.hpp"

namespace eg::dp {

inline constexpr uint8_t k_key_flow = 0;
inline constexpr uint8_t k_key_mapping = 1;

/// What a worker tells the control thread about NAT (mapping log, warnings).
struct nat44_event {
    enum kind_t : uint8_t { session_created = 0, session_deleted = 1, quota_exceeded = 2, ports_exhausted = 3 };
    kind_t kind = session_created;
    uint8_t worker = 0;
    uint32_t vm = 0;       ///< index in the policy's vms
    uint32_t time_s = 0;   ///< the worker's monotonic seconds
    flow_key inside{};     ///< created/deleted: the session's keys; otherwise inside = the packet's
    flow_key outside{};
};
using nat44_event_ring = spsc_ring<nat44_event>;

/// Non-first fragments carry no ports: they follow the translation their datagram's
/// first fragment got, remembered here by (src, dst, proto, IP id) for a few seconds.
/// Direct-mapped and overwritten on collision: a lost entry drops that datagram
/// (counted), it never mistranslates one (the key is compared whole).
class nat44_fragment_table {
public:
    struct entry {
        uint32_t src = 0, dst = 0;   ///< the datagram as it arrived (pre-NAT)
        uint16_t ip_id = 0;
        uint8_t proto = 0;
        uint8_t used = 0;
        uint32_t new_src = 0, new_dst = 0;
        uint32_t expires_s = 0;
        uint32_t owner = k_here;  ///< k_here: translated here; else handed to that worker
    };
    static constexpr uint32_t k_here = 0xffffffff;
    static constexpr uint32_t k_slots = 1024;
    static constexpr uint32_t k_lifetime_s = 5;  ///< reassembly gives up after ~30 s; fragments of one datagram arrive together

    void remember(uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint32_t new_src, uint32_t new_dst,
                  uint32_t now_s) {
        entry& e = slots_[slot(src, dst, proto, id)];
        e = entry{src, dst, id, proto, 1, new_src, new_dst, now_s + k_lifetime_s, k_here};
    }
    /// The first fragment went to worker `owner`: the later ones must follow it there.
    void remember_handoff(uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint32_t owner, uint32_t now_s) {
        entry& e = slots_[slot(src, dst, proto, id)];
        e = entry{src, dst, id, proto, 1, 0, 0, now_s + k_lifetime_s, owner};
    }
    const entry* find(uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint32_t now_s) const {
        const entry& e = slots_[slot(src, dst, proto, id)];
        if (e.used && e.src == src && e.dst == dst && e.proto == proto && e.ip_id == id &&
            int32_t(e.expires_s - now_s) >= 0) {
            return &e;
        }
        return nullptr;
    }

private:
    static uint32_t slot(uint32_t src, uint32_t dst, uint8_t proto, uint16_t id) {
        uint64_t h = (uint64_t{src} << 32 | dst) * 0x9e3779b97f4a7c15ULL;
        h ^= (uint64_t{proto} << 16 | id) * 0xc2b2ae3d27d4eb4fULL;
        return static_cast<uint32_t>(h >> 54) & (k_slots - 1);
    }
    entry slots_[k_slots];
};

class nat44_state {
public:
    static constexpr uint32_t k_event_ring_size = 65536;

    /// Sizes everything from the policy at startup (cold; may throw std::bad_alloc):
    /// per-VM state for policy.vm_capacity VMs (at least policy.vms.size()). Later
    /// snapshots may add VMs up to that capacity and change any VM's egress policy
    /// (a port block included: every block has its ports here from the start) and the
    /// forwards; the public addresses and the port-block plan are fixed for this
    /// state's life.
    nat44_state(const nat44_policy& policy, uint32_t worker_id, uint32_t max_sessions);

    flow_table& table() { return table_; }
    const flow_table& table() const { return table_; }
    nat44_event_ring& events() { return events_; }
    uint32_t worker_id() const { return worker_id_; }

    /// A public port for a new mapping of VM `vm`: `preferred` when free, else a free
    /// one of this worker's slice of the VM's port block (port_block) or of its pool
    /// address's dynamic range; 0 when none is free.
    uint16_t allocate_port(const nat_vm& vm, uint8_t proto, uint16_t preferred);
    /// Gives back a mapping's public port, found by the address and port themselves
    /// (the block area of the block address, else the dynamic range of a pool address),
    /// not by the VM's policy: a policy may have changed since the port was taken.
    void release_port(uint32_t public_addr, uint16_t port, uint8_t proto);

    /// Per-VM session counts. Written by the owning worker only (a relaxed load and
    /// store: a plain add on x86, no locked instruction); the control thread reads
    /// them (vm_sessions_live) to learn when a runtime VM slot is idle and reusable.
    void vm_session_opened(uint32_t vm) {
        vm_sessions_[vm].store(vm_sessions_[vm].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void vm_session_closed(uint32_t vm) {
        vm_sessions_[vm].store(vm_sessions_[vm].load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    }
    uint32_t vm_session_count(uint32_t vm) const { return vm_sessions_[vm].load(std::memory_order_relaxed); }
    /// Any thread: the sessions VM `vm` has on this worker (0 beyond the capacity).
    uint32_t vm_sessions_live(uint32_t vm) const {
        return vm < vm_capacity_ ? vm_sessions_[vm].load(std::memory_order_relaxed) : 0;
    }
    uint32_t vm_capacity() const { return vm_capacity_; }
    uint32_t& refs(uint32_t id) { return refs_[id]; }
    nat44_fragment_table& fragments() { return fragments_; }

    /// Inside keys of the sessions opened since the burst's bulk lookup, as a 256-bit
    /// Bloom filter: a later packet of the burst that missed in the bulk lookup looks
    /// its key up again only when it may be one of them (its flow's first packet opened
    /// the session a moment ago).
    void burst_begin() { opened_[0] = opened_[1] = opened_[2] = opened_[3] = 0; }
    void note_opened(const flow_key& k) {
        const uint32_t b = bloom_bit(k);
        opened_[b >> 6] |= uint64_t{1} << (b & 63);
    }
    bool maybe_opened(const flow_key& k) const {
        const uint32_t b = bloom_bit(k);
        return (opened_[b >> 6] >> (b & 63)) & 1;
    }

    /// Rate limit for per-VM warnings (quota, ports): true at most once a second per VM.
    bool warn_allowed(uint32_t vm, uint32_t now_s) {
        if (warned_s_[vm] == now_s + 1) {
            return false;
        }
        warned_s_[vm] = now_s + 1;
        return true;
    }
    /// Queues an event for the control thread; false (the caller counts it) when full.
    bool emit(const nat44_event& e) {
        nat44_event* slot = events_.reserve();
        if (!slot) {
            return false;
        }
        *slot = e;
        slot->worker = static_cast<uint8_t>(worker_id_);
        events_.commit();
        return true;
    }

private:
    static uint32_t proto_index(uint8_t proto) { return proto == 6 ? 0 : proto == 17 ? 1 : 2; }
    static uint32_t bloom_bit(const flow_key& k) {
        uint64_t w0, w1;
        std::memcpy(&w0, &k, 8);
        std::memcpy(&w1, reinterpret_cast<const char*>(&k) + 8, 8);
        return static_cast<uint32_t>(_mm_crc32_u64(_mm_crc32_u64(0x1234567, w0), w1)) & 255;
    }
    uint64_t opened_[4] = {};

    uint32_t worker_id_;
    flow_table table_;
    std::vector<uint32_t> refs_;          ///< per record id: sessions using a mapping
    uint32_t vm_capacity_ = 0;
    std::unique_ptr<std::atomic<uint32_t>[]> vm_sessions_;  ///< per VM: live sessions on this worker
    std::vector<uint32_t> warned_s_;      ///< per VM: last warning second + 1
    std::vector<uint32_t> public_addrs_;                 ///< the masquerade pool, as at start
    std::vector<std::unique_ptr<nat_port_pool>> pools_;  ///< [pool addr][proto]: this worker's dynamic slice
    /// [proto]: every whole port block of the block address, one bitmap (8 KiB at most);
    /// a VM takes ports only in this worker's slice of its own block. Empty without blocks.
    std::unique_ptr<nat_port_pool> block_pools_[3];
    uint32_t block_addr_ = 0;
    port_block_plan blocks_;
    uint32_t workers_ = 1;
    nat44_fragment_table fragments_;
    nat44_event_ring events_;
};

}  // namespace eg::dp
