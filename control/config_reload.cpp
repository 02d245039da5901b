#include "control/config_reload.hpp"

namespace eg::ctl {

namespace {

/// The config without line numbers (a file edited above a table moves them).
cfg::config without_lines(cfg::config c) {
    c.source_path.clear();
    for (auto& p : c.ports) p.line = 0;
    for (auto& r : c.routes) r.line = 0;
    for (auto& f : c.nat.forwards) f.line = 0;
    for (auto& v : c.vms) v.line = 0;
    for (auto& n : c.dhcp.networks) n.line = 0;
    for (auto& w : c.wireguard) {
        w.line = 0;
        for (auto& p : w.peers) p.line = 0;
    }
    return c;
}

/// A VM's identity: what must stay for its egress to change at runtime.
bool same_identity(const cfg::vm_config& a, const cfg::vm_config& b) {
    return a.name == b.name && a.mac == b.mac && a.ipv4 == b.ipv4 && a.ipv6 == b.ipv6 &&
           a.organization_id == b.organization_id;
}

bool same_listen(const cfg::listen_address& a, const cfg::listen_address& b) {
    return a.address == b.address && a.port == b.port;
}

}  // namespace

reload_plan plan_reload(const cfg::config& now_in, const cfg::config& next_in) {
    const cfg::config now = without_lines(now_in), next = without_lines(next_in);
    reload_plan p;
    const auto restart = [&](bool same, const char* what) {
        if (!same) p.needs_restart.emplace_back(what);
    };
    restart(now.ports == next.ports, "[[ports]]");
    restart(now.workers == next.workers, "[workers]");
    restart(now.host == next.host, "[host]");
    cfg::nat_config nat_now = now.nat, nat_next = next.nat;
    nat_now.forwards.clear();
    nat_next.forwards.clear();
    restart(nat_now == nat_next, "[nat] (other than its forwards)");
    restart(now.uring == next.uring && now.dpdk == next.dpdk, "the backend options ([uring], [dpdk])");
    restart(now.neighbours == next.neighbours, "[neighbours]");
    restart(now.icmp == next.icmp, "[icmp]");
    restart(now.dhcp == next.dhcp, "[dhcp]");
    restart(now.wireguard == next.wireguard, "[[wireguard]]");
    restart(now.gateway == next.gateway, "[gateway]");
    restart(now.api.enabled == next.api.enabled && same_listen(now.api.listen, next.api.listen) &&
                now.api.secret == next.api.secret && now.api.max_body_bytes == next.api.max_body_bytes &&
                now.api.request_timeout_ms == next.api.request_timeout_ms,
            "[api]");
    restart(now.metrics.enabled == next.metrics.enabled && same_listen(now.metrics.listen, next.metrics.listen),
            "[metrics]");
    restart(now.proxy_ports == next.proxy_ports, "[proxy_ports]");
    restart(now.probes == next.probes, "[probes]");

    if (now.vms.size() != next.vms.size()) {
        p.needs_restart.push_back("[[vms]] (entries added or removed: " + std::to_string(now.vms.size()) + " -> " +
                                  std::to_string(next.vms.size()) + ")");
    } else {
        for (size_t i = 0; i < now.vms.size(); ++i) {
            const cfg::vm_config &a = now.vms[i], &b = next.vms[i];
            if (!same_identity(a, b)) {
                p.needs_restart.push_back("[[vms]] entry " + std::to_string(i) + " (" + a.name +
                                          "): its name, mac, ipv4, ipv6 or organization_id");
            } else if (!(a == b)) {
                p.applies.push_back("[[vms]] egress of " + a.name);
            }
        }
    }
    if (!(now.routes == next.routes)) p.applies.emplace_back("[[routes]]");
    if (!(now.nat.forwards == next.nat.forwards)) p.applies.emplace_back("[[nat.forwards]]");
    return p;
}

}  // namespace eg::ctl
