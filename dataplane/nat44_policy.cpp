#include "dataplane/nat44_policy.hpp"

#include <algorithm>
#include <tuple>

#include "dataplane/nat_port_pool.hpp"

namespace eg::dp {

void nat44_policy::index() {
    vm_by_addr = flat_map{};
    public_lookup = flat_map{};
    forward_in = flat_map{};
    forward_out = flat_map{};
    public_bloom = 0;
    auto mark = [&](uint32_t addr, uint32_t bits) {
        public_bloom |= uint64_t{1} << public_bit(addr);
        const uint32_t old = public_lookup.find(addr);
        public_lookup.insert(addr, (old == flat_map::k_missing ? 0 : old) | bits);
    };
    for (uint32_t i = 0; i < vms.size(); ++i) {
        vms[i].forwarded = false;
        if (!vms[i].admitted) {
            continue;
        }
        vm_by_addr.insert(vms[i].addr, i);
        if (vms[i].egress == nat_egress::dedicated) {
            mark(vms[i].public_addr, nat_public::dedicated | (i << 8));
        }
    }
    for (uint32_t a : public_addrs) {
        mark(a, nat_public::pool);
    }
    if (block_size != 0) {
        mark(block_addr, nat_public::blocks);
    }
    for (uint32_t i = 0; i < forwards.size(); ++i) {
        const nat_forward& f = forwards[i];
        mark(f.public_addr, nat_public::forwards);
        if (const uint32_t vm = vm_by_addr.find(f.to_addr); vm != flat_map::k_missing) {
            vms[vm].forwarded = true;
        }
        for (uint32_t port = f.port_first; port <= f.port_last; ++port) {
            const uint16_t to = static_cast<uint16_t>(f.to_port + (port - f.port_first));
            forward_in.insert(forward_key(f.proto, f.public_addr, static_cast<uint16_t>(port)), i);
            forward_out.insert(forward_key(f.proto, f.to_addr, to), i);
        }
    }
}

void nat44_policy::give_block(nat_vm& vm, uint32_t k) const {
    vm.egress = nat_egress::port_block;
    vm.public_addr = block_addr;
    std::tie(vm.block_first, vm.block_last) = port_block_plan{block_first_port, block_size}.block(k);
}

uint32_t nat44_policy::owner_of(uint32_t addr, uint16_t port, uint32_t self) const {
    if (workers <= 1) {
        return 0;
    }
    const uint32_t bits = public_lookup.find(addr);
    if (bits == flat_map::k_missing) {
        return self;
    }
    if ((bits & nat_public::pool) && port >= port_first && port <= port_last) {
        return worker_of_port(port_first, port_last, port, workers);
    }
    if ((bits & nat_public::blocks) && block_size != 0 && port >= block_first_port) {
        const uint32_t k = (uint32_t{port} - block_first_port) / block_size;
        const uint32_t lo = block_first_port + k * block_size;
        const uint32_t hi = std::min<uint32_t>(lo + block_size - 1, 65535);
        // A block smaller than the worker count is worker 0's alone (nat44_state).
        return hi - lo + 1 >= workers
                   ? worker_of_port(static_cast<uint16_t>(lo), static_cast<uint16_t>(hi), port, workers)
                   : 0;
    }
    return self;
}

}  // namespace eg::dp
