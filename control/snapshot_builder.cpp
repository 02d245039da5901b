#include "control/snapshot_builder.hpp"

#include <algorithm>
#include <stdexcept>

namespace eg::ctl {

namespace {

uint32_t v4_host_order(const cfg::ip_address& a) {
    return uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 | uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

dp::ipv6_bytes mask_v6(const std::array<uint8_t, 16>& a, uint8_t len) {
    dp::ipv6_bytes out{};
    for (uint32_t i = 0; i < 16; ++i) {
        const uint32_t bits = len > i * 8 ? std::min<uint32_t>(8, len - i * 8) : 0;
        out[i] = static_cast<uint8_t>(a[i] & (bits ? 0xff << (8 - bits) : 0));
    }
    return out;
}

dp::nat44_policy build_nat_policy(const cfg::config& config, std::span<const runtime_vm> runtime) {
    dp::nat44_policy n;
    const cfg::nat_config& nc = config.nat;
    n.enabled = nc.enabled;
    // With DHCP, leases admit VMs at runtime: anti-spoofing applies even before any is.
    n.anti_spoofing = nc.anti_spoofing && (!config.vms.empty() || config.dhcp.enabled);
    n.vm_capacity = std::max<uint32_t>(nc.max_vms, static_cast<uint32_t>(config.vms.size()));
    n.endpoint_independent_filtering = nc.filtering == cfg::nat_filtering::endpoint_independent;
    n.log_sessions = !nc.log_file.empty();
    n.workers = std::max<uint32_t>(config.workers.count, 1);
    n.port_first = nc.port_first;
    n.port_last = nc.port_last;
    for (const auto& a : nc.public_addresses) {
        n.public_addrs.push_back(v4_host_order(a));
    }
    if (nc.enabled) {
        const auto& blocks = nc.port_blocks;
        n.block_addr = blocks.address ? v4_host_order(*blocks.address)
                                      : (n.public_addrs.empty() ? 0 : n.public_addrs.front());
        n.block_first_port = blocks.first_port;
        n.block_size = blocks.block_size;
    }
    if (nc.proxy.service) {
        n.proxy_service_addr = v4_host_order(*nc.proxy.service);
    }
    n.proxy_service_port = nc.proxy.service_port;
    if (nc.proxy.upstream) {
        n.proxy_upstream = v4_host_order(*nc.proxy.upstream);
    }
    n.timeouts.seconds[uint8_t(dp::timeout_class::tcp_established)] = nc.timeouts.tcp_established_s;
    n.timeouts.seconds[uint8_t(dp::timeout_class::tcp_transitory)] = nc.timeouts.tcp_transitory_s;
    n.timeouts.seconds[uint8_t(dp::timeout_class::udp)] = nc.timeouts.udp_s;
    n.timeouts.seconds[uint8_t(dp::timeout_class::icmp)] = nc.timeouts.icmp_s;
    const auto paired_pool = [&](dp::nat_vm& vm) {
        if (!n.public_addrs.empty()) {
            // Paired pooling (RFC 4787 REQ-2): a VM always leaves from the same address.
            vm.pool_index = static_cast<uint32_t>((uint64_t{vm.addr} * 0x9e3779b1u >> 16) % n.public_addrs.size());
            vm.public_addr = n.public_addrs[vm.pool_index];
        }
    };
    const auto quota = [&](uint32_t limit) {
        // The quota is per VM; each worker enforces its share.
        return limit == 0 ? 0 : (limit + n.workers - 1) / n.workers;
    };
    for (const cfg::vm_config& vc : config.vms) {
        dp::nat_vm vm;
        vm.name = vc.name;
        vm.addr = v4_host_order(vc.ipv4);
        std::copy(vc.mac.begin(), vc.mac.end(), vm.mac);
        switch (vc.egress) {
        case cfg::egress_policy::masquerade: vm.egress = dp::nat_egress::masquerade; break;
        case cfg::egress_policy::dedicated: vm.egress = dp::nat_egress::dedicated; break;
        case cfg::egress_policy::port_block: vm.egress = dp::nat_egress::port_block; break;
        case cfg::egress_policy::proxy: vm.egress = dp::nat_egress::proxy; break;
        }
        paired_pool(vm);
        if (vm.egress == dp::nat_egress::dedicated && vc.public_address) {
            vm.public_addr = v4_host_order(*vc.public_address);
        }
        if (vm.egress == dp::nat_egress::port_block && n.block_size != 0) {
            n.give_block(vm, vc.port_block);
        }
        vm.proxy_port = vc.proxy_port;
        vm.proxy_force = vc.proxy_force;
        vm.max_sessions = quota(vc.max_sessions != 0 ? vc.max_sessions : nc.sessions_per_vm);
        n.vms.push_back(std::move(vm));
    }
    // Runtime VMs by slot, after the [[vms]]; a slot keeps its index for its VM's life.
    for (const runtime_vm& rv : runtime) {
        if (!nc.enabled || n.vms.size() >= n.vm_capacity) break;
        dp::nat_vm vm;
        vm.name = rv.name;
        vm.addr = rv.ipv4;
        std::copy(rv.mac.begin(), rv.mac.end(), vm.mac);
        vm.egress = dp::nat_egress::masquerade;
        paired_pool(vm);
        vm.max_sessions = quota(nc.sessions_per_vm);
        vm.admitted = rv.admitted;
        n.vms.push_back(std::move(vm));
    }
    n.retire_token = std::make_shared<int>(0);
    for (const cfg::nat_forward_config& fc : nc.forwards) {
        n.forwards.push_back(to_nat_forward(fc));
    }
    n.index();
    return n;
}

/// The VMs' dedicated IPv6 bindings: each on the vm port whose connected IPv4 prefix
/// holds the VM's IPv4 (the port its (MAC, IPv4) binding lives on).
void build_vm6_bindings(dp::snapshot& s, const cfg::config& config, std::span<const runtime_vm> runtime) {
    const auto port_of = [&](uint32_t ipv4) -> uint16_t {
        for (const auto& p : s.ports) {
            if (p.role != dp::port_role::vm) continue;
            for (const auto& a : p.ipv4) {
                const uint32_t mask = a.prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - a.prefix_len);
                if (((a.addr ^ ipv4) & mask) == 0) return p.index;
            }
        }
        return dp::k_no_port;
    };
    const auto bind = [&](const dp::ipv6_bytes& addr, const dp::mac_bytes& mac, uint32_t ipv4) {
        const uint16_t port = port_of(ipv4);
        if (port != dp::k_no_port) s.vm6.add({addr, mac, port});
    };
    for (const cfg::vm_config& vc : config.vms) {
        if (vc.ipv6 && !vc.ipv4.v6) bind(vc.ipv6->bytes, vc.mac, v4_host_order(vc.ipv4));
    }
    for (const runtime_vm& rv : runtime) {
        if (rv.admitted && rv.ipv6 != dp::ipv6_bytes{}) bind(rv.ipv6, rv.mac, rv.ipv4);
    }
    // IPv6 anti-spoofing goes with IPv4's ([nat] anti_spoofing, on NAT's vm ports).
    s.anti_spoofing6 = s.nat.enabled && s.nat.anti_spoofing;
}

}  // namespace

dp::nat_forward to_nat_forward(const cfg::nat_forward_config& f) {
    dp::nat_forward d;
    d.proto = f.protocol;
    d.public_addr = v4_host_order(f.public_address);
    d.port_first = f.port_first;
    d.port_last = f.port_last;
    d.to_addr = v4_host_order(f.to);
    d.to_port = f.to_port;
    return d;
}

std::unique_ptr<dp::snapshot> build_snapshot(const cfg::config& config, const std::vector<port_runtime_info>& ports,
                                             const dp::mac_bytes& host_kernel_mac, uint64_t generation,
                                             std::span<const runtime_vm> runtime) {
    auto s = std::make_unique<dp::snapshot>();
    s->generation = generation;
    s->icmp_errors_per_second = config.icmp.errors_per_second;
    s->nat = build_nat_policy(config, runtime);
    s->next_hops.push_back(dp::next_hop{});  // index 0 = local delivery (k_nh_local)

    auto add_next_hop = [&](const dp::next_hop& nh) {
        for (uint32_t i = 1; i < s->next_hops.size(); ++i) {
            const auto& e = s->next_hops[i];
            if (e.port == nh.port && e.via_gateway == nh.via_gateway && e.gateway4 == nh.gateway4 &&
                e.gateway6 == nh.gateway6) {
                return i;
            }
        }
        s->next_hops.push_back(nh);
        return static_cast<uint32_t>(s->next_hops.size() - 1);
    };

    for (size_t i = 0; i < config.ports.size(); ++i) {
        const cfg::port_config& pc = config.ports[i];
        dp::port_info pi;
        pi.index = static_cast<uint16_t>(i);
        pi.name = pc.name;
        pi.role = pc.role == cfg::port_role::vm ? dp::port_role::vm : dp::port_role::uplink;
        pi.mac = ports.at(i).mac;
        pi.mtu = pc.mtu;
        pi.link_local = dp::link_local_from_mac(pi.mac);
        pi.nd_proxy = pc.nd_proxy;
        // DHCP requests on this port go to the control thread's server (control/dhcp_service).
        pi.dhcp_server = config.dhcp.enabled &&
                         std::any_of(config.dhcp.networks.begin(), config.dhcp.networks.end(),
                                     [&](const cfg::dhcp_network_config& n) { return n.port == pc.name; });
        for (const auto& a : pc.ipv4) {
            pi.ipv4.push_back({v4_host_order(a.addr), a.length});
        }
        for (const auto& a : pc.ipv6) {
            pi.ipv6.push_back({a.addr.bytes, a.length});
        }
        pi.ra.enabled = pc.role == cfg::port_role::vm && pc.router_advertisements.enabled && !pc.ipv6.empty();
        pi.ra.interval_s = pc.router_advertisements.interval_s;
        pi.ra.router_lifetime_s = static_cast<uint16_t>(std::min<uint32_t>(pc.router_advertisements.router_lifetime_s, 9000));
        pi.ra.autonomous = pc.router_advertisements.autonomous;
        for (const auto& p : pc.router_advertisements.prefixes) {
            pi.ra.prefixes.push_back({mask_v6(p.addr.bytes, p.length), p.length});
        }
        s->ports.push_back(std::move(pi));
    }
    if (config.host.enabled) {
        dp::port_info hp;
        hp.index = static_cast<uint16_t>(config.ports.size());
        hp.name = "host";
        hp.role = dp::port_role::host;
        hp.mac = ports.at(hp.index).mac;
        hp.mtu = 1500;
        hp.link_local = dp::link_local_from_mac(hp.mac);
        s->host_port = hp.index;
        s->host_kernel_mac = host_kernel_mac;
        s->ports.push_back(std::move(hp));
    }

    build_vm6_bindings(*s, config, runtime);

    // Connected prefixes first, then our own addresses as host routes to "local".
    // (The LPM tables ignore host bits, so interface addresses go in as they are.)
    for (const auto& p : s->ports) {
        for (const auto& a : p.ipv4) {
            s->routes4.add(a.addr, a.prefix_len, add_next_hop(dp::next_hop{p.index}));
        }
        for (const auto& a : p.ipv6) {
            s->routes6.add(a.addr.data(), a.prefix_len, add_next_hop(dp::next_hop{p.index}));
        }
    }
    for (const auto& r : config.routes) {
        dp::next_hop nh;
        if (r.via) {
            nh.via_gateway = true;
            // The egress port: the named one, else the port whose connected prefix holds via.
            for (const auto& p : s->ports) {
                bool holds = false;
                if (r.via->v6) {
                    const uint32_t n = s->routes6.lookup(r.via->bytes.data());
                    holds = n != dp::k_lpm_no_route && s->next_hops[n].port == p.index && !s->next_hops[n].via_gateway;
                } else {
                    const uint32_t n = s->routes4.lookup(v4_host_order(*r.via));
                    holds = n != dp::k_lpm_no_route && s->next_hops[n].port == p.index && !s->next_hops[n].via_gateway;
                }
                if ((r.port.empty() && holds) || (!r.port.empty() && p.name == r.port)) {
                    nh.port = p.index;
                    break;
                }
            }
            if (r.via->v6) {
                nh.gateway6 = r.via->bytes;
            } else {
                nh.gateway4 = v4_host_order(*r.via);
            }
        } else {
            for (const auto& p : s->ports) {
                if (p.name == r.port) {
                    nh.port = p.index;
                }
            }
        }
        if (nh.port == dp::k_no_port) {
            throw std::runtime_error("route " + cfg::to_string(r.prefix) + ": no egress port");  // validated before
        }
        const uint32_t idx = add_next_hop(nh);
        if (r.prefix.addr.v6) {
            s->routes6.add(r.prefix.addr.bytes.data(), r.prefix.length, idx);
        } else {
            s->routes4.add(v4_host_order(r.prefix.addr), r.prefix.length, idx);
        }
    }
    for (const auto& p : s->ports) {
        for (const auto& a : p.ipv4) {
            s->routes4.add(a.addr, 32, dp::k_nh_local);
        }
        for (const auto& a : p.ipv6) {
            s->routes6.add(a.addr.data(), 128, dp::k_nh_local);
        }
    }
    return s;
}

}  // namespace eg::ctl
