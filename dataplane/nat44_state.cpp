#include "dataplane/nat44_state.hpp"

#include <algorithm>

namespace eg::dp {

namespace {
constexpr uint32_t k_no_pool = 0xffffffff;
constexpr uint8_t k_protos[3] = {6, 17, 1};
}  // namespace

nat44_state::nat44_state(const nat44_policy& policy, uint32_t worker_id, uint32_t max_sessions)
    : worker_id_(worker_id),
      table_(max_sessions, policy.timeouts),
      refs_(max_sessions, 0),
      vm_capacity_(std::max<uint32_t>(policy.vm_capacity, static_cast<uint32_t>(policy.vms.size()))),
      vm_sessions_(new std::atomic<uint32_t>[vm_capacity_]),
      warned_s_(vm_capacity_, 0),
      block_pool_base_(vm_capacity_, k_no_pool),
      events_(k_event_ring_size) {
    for (uint32_t v = 0; v < vm_capacity_; ++v) {
        vm_sessions_[v].store(0, std::memory_order_relaxed);
    }
    const uint32_t workers = std::max<uint32_t>(policy.workers, 1);
    const uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t{worker_id} << 32);
    for (size_t a = 0; a < policy.public_addrs.size(); ++a) {
        const auto [lo, hi] = worker_port_range(policy.port_first, policy.port_last, worker_id, workers);
        for (uint8_t proto : k_protos) {
            pools_.push_back(std::make_unique<nat_port_pool>(lo, hi, seed + a * 3 + proto));
        }
    }
    for (size_t v = 0; v < policy.vms.size(); ++v) {
        const nat_vm& vm = policy.vms[v];
        if (vm.egress != nat_egress::port_block) {
            continue;
        }
        block_pool_base_[v] = static_cast<uint32_t>(pools_.size());
        const uint32_t size = uint32_t{vm.block_last} - vm.block_first + 1;
        for (uint8_t proto : k_protos) {
            if (size >= workers) {
                const auto [lo, hi] = worker_port_range(vm.block_first, vm.block_last, worker_id, workers);
                pools_.push_back(std::make_unique<nat_port_pool>(lo, hi, seed + v * 7 + proto));
            } else {
                // Fewer ports than workers: worker 0 owns the block (nat44_policy::owner_of).
                pools_.push_back(worker_id == 0 ? std::make_unique<nat_port_pool>(vm.block_first, vm.block_last)
                                                : nullptr);
            }
        }
    }
}

nat_port_pool* nat44_state::pool_for(const nat_vm& vm, uint32_t vm_index, uint8_t proto) {
    const uint32_t base = vm.egress == nat_egress::port_block ? block_pool_base_[vm_index] : vm.pool_index * 3;
    const uint32_t i = base + proto_index(proto);
    return base == k_no_pool || i >= pools_.size() ? nullptr : pools_[i].get();
}

}  // namespace eg::dp
