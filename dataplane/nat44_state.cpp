#include "dataplane/nat44_state.hpp"

#include <algorithm>

namespace eg::dp {

namespace {
constexpr uint8_t k_protos[3] = {6, 17, 1};
}  // namespace

nat44_state::nat44_state(const nat44_policy& policy, uint32_t worker_id, uint32_t max_sessions)
    : worker_id_(worker_id),
      table_(max_sessions, policy.timeouts),
      refs_(max_sessions, 0),
      vm_capacity_(std::max<uint32_t>(policy.vm_capacity, static_cast<uint32_t>(policy.vms.size()))),
      vm_sessions_(new std::atomic<uint32_t>[vm_capacity_]),
      warned_s_(vm_capacity_, 0),
      public_addrs_(policy.public_addrs),
      block_addr_(policy.block_addr),
      blocks_{policy.block_first_port, policy.block_size},
      workers_(std::max<uint32_t>(policy.workers, 1)),
      events_(k_event_ring_size) {
    for (uint32_t v = 0; v < vm_capacity_; ++v) {
        vm_sessions_[v].store(0, std::memory_order_relaxed);
    }
    const uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t{worker_id} << 32);
    for (size_t a = 0; a < public_addrs_.size(); ++a) {
        const auto [lo, hi] = worker_port_range(policy.port_first, policy.port_last, worker_id, workers_);
        for (uint8_t proto : k_protos) {
            pools_.push_back(std::make_unique<nat_port_pool>(lo, hi, seed + a * 3 + proto));
        }
    }
    if (blocks_.blocks() != 0) {
        const uint16_t last = blocks_.block(blocks_.blocks() - 1).second;
        for (uint32_t i = 0; i < 3; ++i) {
            block_pools_[i] = std::make_unique<nat_port_pool>(blocks_.first_port, last, seed + 7 * k_protos[i]);
        }
    }
}

uint16_t nat44_state::allocate_port(const nat_vm& vm, uint8_t proto, uint16_t preferred) {
    if (vm.egress == nat_egress::port_block) {
        // (A VM's block lies inside the pool: give_block; allocate_in says 0 otherwise.)
        nat_port_pool* pool = block_pools_[proto_index(proto)].get();
        if (!pool) {
            return 0;
        }
        const uint16_t lo = vm.block_first, hi = vm.block_last;
        if (uint32_t{hi} - lo + 1 < workers_) {
            // Fewer ports than workers: worker 0 owns the block (nat44_policy::owner_of).
            return worker_id_ == 0 ? pool->allocate_in(lo, hi, preferred) : 0;
        }
        const auto [wlo, whi] = worker_port_range(lo, hi, worker_id_, workers_);
        return pool->allocate_in(wlo, whi, preferred);
    }
    const uint32_t i = vm.pool_index * 3 + proto_index(proto);
    return i < pools_.size() ? pools_[i]->allocate(preferred) : 0;
}

void nat44_state::release_port(uint32_t public_addr, uint16_t port, uint8_t proto) {
    if (public_addr == block_addr_ && blocks_.block_of(port) >= 0) {
        if (nat_port_pool* pool = block_pools_[proto_index(proto)].get()) {
            pool->release(port);
        }
        return;
    }
    for (size_t a = 0; a < public_addrs_.size(); ++a) {
        if (public_addrs_[a] == public_addr) {
            pools_[a * 3 + proto_index(proto)]->release(port);  // ignores a port outside its slice
            return;
        }
    }
}

}  // namespace eg::dp
