#pragma once
// What a config reload (POST /v1/reload, SIGHUP) may change on a running gateway, by
// comparing the running config with the file's new one (both validated).
//
// Applied at runtime, with a new snapshot and no flow dropped: [[routes]],
// [[nat.forwards]], and the egress keys of existing [[vms]] entries (egress,
// public_address, port_block, proxy_port, proxy_force, max_sessions): the NAT policy
// is read per packet from the snapshot, and each worker holds every port block's
// ports from the start. Everything else needs a restart and is refused, naming
// each part: ports, workers, host, NAT addresses and ranges (nat.port_blocks
// included), adding, removing or reordering [[vms]] (VM indexes key each worker's
// per-VM state; DHCP reservations come from them), a VM's name, MAC, IPv4 or
// organization_id, [dhcp], WireGuard, [api], [metrics], [proxy_ports], [probes],
// [gateway], backend options.
// Sans-I/O: the gateway applies the plan.
#include <string>
#include <vector>

#include "config/config.hpp"

namespace eg::ctl {

struct reload_plan {
    /// The parts that changed and need a restart ("[[ports]]", "[[vms]] vm3: ..."):
    /// non-empty means nothing may be applied.
    std::vector<std::string> needs_restart;
    /// The runtime parts that changed ("[[routes]]", "[[nat.forwards]]",
    /// "[[vms]] egress of vm1"); empty: the file changed nothing the gateway uses.
    std::vector<std::string> applies;
};

reload_plan plan_reload(const cfg::config& now, const cfg::config& next);

}  // namespace eg::ctl
