#include "control/runtime_policies.hpp"

#include <algorithm>
#include <initializer_list>

#include "control/snapshot_builder.hpp"
#include "dataplane/nat_port_pool.hpp"

namespace eg::ctl {

namespace {

using json = nlohmann::json;

uint32_t v4(const cfg::ip_address& a) {
    return uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 | uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

const char* proto_text(uint8_t p) { return p == 6 ? "tcp" : "udp"; }

const char* egress_text(cfg::egress_policy e) {
    switch (e) {
    case cfg::egress_policy::masquerade: return "masquerade";
    case cfg::egress_policy::dedicated: return "dedicated";
    case cfg::egress_policy::port_block: return "port_block";
    case cfg::egress_policy::proxy: return "proxy";
    }
    return "?";
}

std::string ports_text(uint32_t first, uint32_t last) {
    return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

policy_result fail(policy_errc e, std::string message) { return {e, std::move(message)}; }

/// Unknown keys are refused, so a typo never silently does nothing.
policy_result only_keys(const json& body, std::initializer_list<std::string_view> allowed) {
    if (!body.is_object()) return fail(policy_errc::invalid, "the body must be a JSON object");
    for (const auto& [k, v] : body.items()) {
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
            std::string list;
            for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            return fail(policy_errc::invalid, "unknown field \"" + k.substr(0, 64) + "\" (known: " + list + ")");
        }
    }
    return {};
}

std::optional<cfg::ip_address> ipv4_field(const json& body, const char* name, policy_result& r) {
    const auto it = body.find(name);
    if (it == body.end()) return std::nullopt;
    const auto a = it->is_string() ? cfg::parse_ip(it->get<std::string>()) : std::nullopt;
    if (!a || a->v6) r = fail(policy_errc::invalid, std::string("field \"") + name + "\" must be an IPv4 address string");
    return a && !a->v6 ? a : std::nullopt;
}

std::optional<uint16_t> port_field(const json& body, const char* name, policy_result& r) {
    const auto it = body.find(name);
    if (it == body.end()) return std::nullopt;
    // Any JSON integer (a parsed "80" is unsigned, a built one may be signed).
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 65535) {
        r = fail(policy_errc::invalid, std::string("field \"") + name + "\" must be an integer 1..65535");
        return std::nullopt;
    }
    return static_cast<uint16_t>(it->get<int64_t>());
}

/// The prefix of a port with `role` that holds `a`, as config validation's
/// check_on_link judges it: inside a connected prefix of such a port, not its network
/// or broadcast address, not one of the gateway's own addresses.
policy_result on_link(const cfg::config& c, const cfg::ip_address& a, cfg::port_role role, std::string_view what) {
    const char* role_name = role == cfg::port_role::uplink ? "an uplink" : "a vm";
    for (const auto& p : c.ports) {
        for (const auto& own : p.ipv4) {
            if (own.addr == a) return fail(policy_errc::invalid, cfg::to_string(a) + " is the gateway's own address (port " + p.name + ")");
        }
    }
    for (const auto& p : c.ports) {
        for (const auto& pfx : p.ipv4) {
            if (!cfg::contains(pfx, a)) continue;
            if (p.role != role) {
                return fail(policy_errc::invalid, cfg::to_string(a) + " is in " + cfg::to_string(cfg::network_of(pfx)) +
                                                      " of port " + p.name + ", not on " + role_name + " port; " +
                                                      std::string(what));
            }
            const cfg::ip_prefix net = cfg::network_of(pfx);
            if (pfx.length < 31 && a == net.addr)
                return fail(policy_errc::invalid, cfg::to_string(a) + " is the network address of " + cfg::to_string(net));
            if (pfx.length < 31 && (v4(a) | (0xffffffffu >> pfx.length)) == v4(a))
                return fail(policy_errc::invalid, cfg::to_string(a) + " is the broadcast address of " + cfg::to_string(net));
            return {};
        }
    }
    return fail(policy_errc::invalid, cfg::to_string(a) + " is not inside a connected IPv4 prefix of " + role_name +
                                          " port; " + std::string(what));
}

/// Parses an id "tcp/203.0.113.1/8081".
std::optional<cfg::nat_forward_config> parse_id(std::string_view id) {
    const size_t a = id.find('/'), b = a == std::string_view::npos ? a : id.find('/', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    cfg::nat_forward_config f;
    const std::string_view proto = id.substr(0, a);
    if (proto != "tcp" && proto != "udp") return std::nullopt;
    f.protocol = proto == "tcp" ? 6 : 17;
    const auto addr = cfg::parse_ip(id.substr(a + 1, b - a - 1));
    if (!addr || addr->v6) return std::nullopt;
    f.public_address = *addr;
    const std::string_view port = id.substr(b + 1);
    uint32_t p = 0;
    if (port.empty() || port.size() > 5) return std::nullopt;
    for (char ch : port) {
        if (ch < '0' || ch > '9') return std::nullopt;
        p = p * 10 + static_cast<uint32_t>(ch - '0');
    }
    if (p < 1 || p > 65535) return std::nullopt;
    f.port_first = f.port_last = static_cast<uint16_t>(p);
    return f;
}

bool overlap(const cfg::nat_forward_config& a, const cfg::nat_forward_config& b) {
    return a.protocol == b.protocol && a.public_address == b.public_address && a.port_first <= b.port_last &&
           b.port_first <= a.port_last;
}

bool same_forward(const cfg::nat_forward_config& a, const cfg::nat_forward_config& b) {
    return a.protocol == b.protocol && a.public_address == b.public_address && a.port_first == b.port_first &&
           a.port_last == b.port_last && a.to == b.to && a.to_port == b.to_port;
}

}  // namespace

std::string forward_id(const cfg::nat_forward_config& f) {
    return std::string(proto_text(f.protocol)) + "/" + cfg::to_string(f.public_address) + "/" +
           std::to_string(f.port_first);
}

json forward_json(const cfg::nat_forward_config& f) {
    return {{"protocol", proto_text(f.protocol)},
            {"public_address", cfg::to_string(f.public_address)},
            {"port", f.port_first},
            {"to", cfg::to_string(f.to)},
            {"to_port", f.to_port}};
}

json egress_setting_json(const egress_setting& e) {
    json j = {{"egress", egress_text(e.egress)}};
    if (e.egress == cfg::egress_policy::dedicated && e.public_address) j["public_address"] = cfg::to_string(*e.public_address);
    if (e.egress == cfg::egress_policy::port_block) j["port_block"] = e.port_block;
    if (e.egress == cfg::egress_policy::proxy) {
        j["proxy_port"] = e.proxy_port;
        j["proxy_force"] = e.proxy_force;
    }
    return j;
}

policy_result parse_forward(const json& body, cfg::nat_forward_config& out) {
    if (auto r = only_keys(body, {"protocol", "public_address", "port", "to", "to_port"}); !r) return r;
    for (const char* k : {"protocol", "public_address", "port", "to"}) {
        if (!body.contains(k)) return fail(policy_errc::invalid, std::string("missing field \"") + k + "\"");
    }
    const json& proto = body["protocol"];
    if (!proto.is_string() || (proto != "tcp" && proto != "udp"))
        return fail(policy_errc::invalid, "field \"protocol\" must be \"tcp\" or \"udp\"");
    policy_result r;
    cfg::nat_forward_config f;
    f.protocol = proto == "tcp" ? 6 : 17;
    const auto pub = ipv4_field(body, "public_address", r);
    const auto port = port_field(body, "port", r);
    const auto to = ipv4_field(body, "to", r);
    const auto to_port = port_field(body, "to_port", r);
    if (!r) return r;
    f.public_address = *pub;
    f.port_first = f.port_last = *port;
    f.to = *to;
    f.to_port = to_port.value_or(*port);
    out = f;
    return {};
}

policy_result parse_egress(const json& body, egress_setting& out) {
    if (auto r = only_keys(body, {"vm", "egress", "public_address", "port_block", "proxy_port", "proxy_force"}); !r) return r;
    const auto it = body.find("egress");
    if (it == body.end()) return fail(policy_errc::invalid, "missing field \"egress\"");
    egress_setting e;
    if (*it == "masquerade") {
        e.egress = cfg::egress_policy::masquerade;
    } else if (*it == "dedicated") {
        e.egress = cfg::egress_policy::dedicated;
    } else if (*it == "proxy") {
        e.egress = cfg::egress_policy::proxy;
    } else if (*it == "port_block") {
        e.egress = cfg::egress_policy::port_block;
    } else {
        return fail(policy_errc::invalid,
                    "field \"egress\" must be \"masquerade\", \"dedicated\", \"port_block\" or \"proxy\"");
    }
    // Keys of another policy, as config validation refuses them.
    for (const auto& [k, owner] : {std::pair{"public_address", cfg::egress_policy::dedicated},
                                   std::pair{"port_block", cfg::egress_policy::port_block},
                                   std::pair{"proxy_port", cfg::egress_policy::proxy},
                                   std::pair{"proxy_force", cfg::egress_policy::proxy}}) {
        if (body.contains(k) && e.egress != owner)
            return fail(policy_errc::invalid, std::string("field \"") + k + "\" is only for egress \"" +
                                                  egress_text(owner) + "\"");
    }
    policy_result r;
    if (e.egress == cfg::egress_policy::dedicated) {
        e.public_address = ipv4_field(body, "public_address", r);
        if (r && !e.public_address) return fail(policy_errc::invalid, "egress \"dedicated\" needs \"public_address\"");
    }
    if (e.egress == cfg::egress_policy::port_block) {
        const auto k = body.find("port_block");
        if (k == body.end())
            return fail(policy_errc::invalid, "egress \"port_block\" needs \"port_block\" (the block index k of nat.port_blocks)");
        if (!k->is_number_integer() || k->get<int64_t>() < 0 || k->get<int64_t>() > 65535)
            return fail(policy_errc::invalid, "field \"port_block\" must be an integer 0..65535 (a block index)");
        e.port_block = static_cast<uint32_t>(k->get<int64_t>());
    }
    if (e.egress == cfg::egress_policy::proxy) {
        const auto p = port_field(body, "proxy_port", r);
        if (r && !p) return fail(policy_errc::invalid, "egress \"proxy\" needs \"proxy_port\" (the VM's port on nat.proxy.upstream)");
        e.proxy_port = p.value_or(0);
        if (const auto f = body.find("proxy_force"); f != body.end()) {
            if (!f->is_boolean()) return fail(policy_errc::invalid, "field \"proxy_force\" must be true or false");
            e.proxy_force = f->get<bool>();
        }
    }
    if (!r) return r;
    out = e;
    return {};
}

// ---- forwards ---------------------------------------------------------------------

policy_result runtime_policies::check_forward(const cfg::nat_forward_config& f, const allocation_lookup& a) const {
    const cfg::config& c = *config_;
    const cfg::nat_config& n = c.nat;
    if (!n.enabled) return fail(policy_errc::not_configured, "NAT is not configured: port forwards need a [nat] table");
    const std::string what = std::string(proto_text(f.protocol)) + " " + cfg::to_string(f.public_address) + ":" +
                             ports_text(f.port_first, f.port_last);
    if (std::find(n.public_addresses.begin(), n.public_addresses.end(), f.public_address) == n.public_addresses.end()) {
        std::string list;
        for (const auto& p : n.public_addresses) list += (list.empty() ? "" : ", ") + cfg::to_string(p);
        return fail(policy_errc::invalid, cfg::to_string(f.public_address) + " is not one of nat.public_addresses (" +
                                              list + "); a forward's public address must be one of them");
    }
    if (uint32_t{f.to_port} + (f.port_last - f.port_first) > 65535)
        return fail(policy_errc::invalid, "to_port " + std::to_string(f.to_port) + " plus the range passes 65535");
    if (auto r = on_link(c, f.to, cfg::port_role::vm, "a forward's target is a VM behind a vm port"); !r) return r;
    // With anti-spoofing, replies from an address that is no VM's are dropped.
    if (n.anti_spoofing && (!c.vms.empty() || c.dhcp.enabled) &&
        std::none_of(c.vms.begin(), c.vms.end(), [&](const cfg::vm_config& v) { return v.ipv4 == f.to; }) &&
        !(a.holds && a.holds(v4(f.to)))) {
        return fail(policy_errc::invalid, cfg::to_string(f.to) +
                                              " is not the ipv4 of a [[vms]] entry or of an allocation; with "
                                              "nat.anti_spoofing on, the replies from it would be dropped as spoofed");
    }
    for (const auto& g : n.forwards) {
        if (overlap(f, g))
            return fail(policy_errc::conflict, what + " overlaps the config's forward " + forward_id(g) + " (line " +
                                                   std::to_string(g.line) + ", ports " +
                                                   ports_text(g.port_first, g.port_last) + ")");
    }
    for (const auto& [id, g] : forwards_) {
        if (overlap(f, g) && !same_forward(f, g))
            return fail(policy_errc::conflict, what + " is already forwarded to " + cfg::to_string(g.to) + ":" +
                                                   std::to_string(g.to_port) + " (" + id + "); delete that first");
    }
    const std::string target = cfg::to_string(f.to) + ":" + std::to_string(f.to_port);
    for (const auto& g : n.forwards) {
        if (same_target(f, g))
            return fail(policy_errc::conflict, target + " is already the target of the config's forward " + forward_id(g) +
                                                   "; a VM port takes one forward (its replies are matched by it)");
    }
    for (const auto& [id, g] : forwards_) {
        if (same_target(f, g) && !same_forward(f, g))
            return fail(policy_errc::conflict, target + " is already the target of forward " + id +
                                                   "; a VM port takes one forward (its replies are matched by it)");
    }
    if (f.port_first <= n.port_last && n.port_first <= f.port_last)
        return fail(policy_errc::conflict, what + " falls inside the dynamic port_range " + ports_text(n.port_first, n.port_last) +
                                               ", which the NAT hands out to outgoing sessions");
    const auto& pb = n.port_blocks;
    if (pb.address && *pb.address == f.public_address && f.port_last >= pb.first_port)
        return fail(policy_errc::conflict, what + " falls inside the port-block area " + ports_text(pb.first_port, 65535) +
                                               " (nat.port_blocks)");
    for (const auto& w : c.wireguard) {
        if (f.protocol == 17 && w.address == f.public_address && w.listen_port >= f.port_first &&
            w.listen_port <= f.port_last)
            return fail(policy_errc::conflict, what + " is WireGuard tunnel " + w.name + "'s listen port");
    }
    return {};
}

bool runtime_policies::put_forward(const cfg::nat_forward_config& f) {
    const std::string id = forward_id(f);
    const auto it = forwards_.find(id);
    if (it != forwards_.end() && same_forward(it->second, f)) return false;
    forwards_.insert_or_assign(id, f);
    return true;
}

bool runtime_policies::erase_forward(std::string_view id) {
    const auto it = forwards_.find(id);
    if (it == forwards_.end()) return false;
    forwards_.erase(it);
    return true;
}

const cfg::nat_forward_config* runtime_policies::find_forward(std::string_view id) const {
    const auto it = forwards_.find(id);
    return it == forwards_.end() ? nullptr : &it->second;
}

const cfg::nat_forward_config* runtime_policies::find_config_forward(std::string_view id) const {
    const auto f = parse_id(id);
    if (!f) return nullptr;
    for (const auto& g : config_->nat.forwards) {
        if (overlap(*f, g)) return &g;
    }
    return nullptr;
}

// ---- egress -------------------------------------------------------------------------

const cfg::vm_config* runtime_policies::config_vm(std::string_view vm) const {
    for (const auto& v : config_->vms) {
        if (v.name == vm) return &v;
    }
    return nullptr;
}

egress_setting runtime_policies::effective(const cfg::vm_config& v) const {
    if (const egress_setting* e = find_egress(v.name)) return *e;
    return egress_setting{v.egress, v.public_address, v.port_block, v.proxy_port, v.proxy_force};
}

std::string runtime_policies::other_holder(std::string_view vm,
                                           const std::function<bool(const egress_setting&)>& holds) const {
    for (const auto& v : config_->vms) {
        if (v.name != vm && holds(effective(v))) return v.name;
    }
    for (const auto& [name, e] : egress_) {
        if (name != vm && !config_vm(name) && holds(e)) return name;
    }
    return {};
}

policy_result runtime_policies::check_egress(std::string_view vm, const egress_setting& e,
                                             const allocation_lookup& a) const {
    const cfg::config& c = *config_;
    const cfg::nat_config& n = c.nat;
    if (!n.enabled) return fail(policy_errc::not_configured, "NAT is not configured: egress policies need a [nat] table");
    const cfg::vm_config* cv = config_vm(vm);
    if (!cv && !(a.address_of && a.address_of(vm)))
        return fail(policy_errc::not_found, "no [[vms]] entry or allocation (vps_id) is named " + std::string(vm.substr(0, 128)));
    switch (e.egress) {
    case cfg::egress_policy::masquerade: break;
    case cfg::egress_policy::port_block: {
        const dp::port_block_plan plan{n.port_blocks.first_port, n.port_blocks.block_size};
        const uint32_t blocks = plan.blocks();
        if (e.port_block >= blocks)
            return fail(policy_errc::invalid, "port_block " + std::to_string(e.port_block) + " is past the last block: " +
                                                  "nat.port_blocks has " + std::to_string(blocks) + " blocks of " +
                                                  std::to_string(plan.block_size) + " ports from " +
                                                  std::to_string(plan.first_port) + " (0.." +
                                                  std::to_string(blocks ? blocks - 1 : 0) + ")");
        const auto block_here = [&](const egress_setting& o) {
            return o.egress == cfg::egress_policy::port_block && o.port_block == e.port_block;
        };
        if (const std::string u = other_holder(vm, block_here); !u.empty()) {
            const auto [first, last] = plan.block(e.port_block);
            return fail(policy_errc::conflict, "port block " + std::to_string(e.port_block) + " (ports " +
                                                   ports_text(first, last) + ") is already " + u +
                                                   "'s; a port block belongs to one VM");
        }
        break;
    }
    case cfg::egress_policy::dedicated: {
        const cfg::ip_address& p = *e.public_address;
        const std::string ps = cfg::to_string(p);
        if (std::find(n.public_addresses.begin(), n.public_addresses.end(), p) != n.public_addresses.end())
            return fail(policy_errc::invalid, ps + " is one of nat.public_addresses (the shared masquerade pool); a "
                                                   "dedicated address belongs to one VM alone");
        if (n.port_blocks.address && *n.port_blocks.address == p)
            return fail(policy_errc::invalid, ps + " is the nat.port_blocks address; a dedicated address belongs to one VM alone");
        if (auto r = on_link(c, p, cfg::port_role::uplink, "the uplink must answer ARP for a dedicated address"); !r) return r;
        const auto dedicated_here = [&](const egress_setting& o) {
            return o.egress == cfg::egress_policy::dedicated && o.public_address == p;
        };
        if (const std::string u = other_holder(vm, dedicated_here); !u.empty())
            return fail(policy_errc::conflict, ps + " is already the dedicated address of " + u);
        break;
    }
    case cfg::egress_policy::proxy: {
        if (!n.proxy.service || !n.proxy.upstream)
            return fail(policy_errc::not_configured, "egress \"proxy\" needs a [nat.proxy] table with service and upstream");
        const std::string holder = a.proxy_port_holder ? a.proxy_port_holder(e.proxy_port) : std::string();
        const bool own = holder.empty() || holder == "vm:" + std::string(vm) ||
                         (cv && !cv->organization_id.empty() && holder == "org:" + cv->organization_id);
        if (!own)
            return fail(policy_errc::conflict, "proxy port " + std::to_string(e.proxy_port) + " is " + holder +
                                                   "'s on the upstream proxy ([proxy_ports])");
        break;
    }
    }
    return {};
}

std::map<uint16_t, std::string> runtime_policies::proxy_ports_in_use() const {
    std::map<uint16_t, std::string> ports;
    for (const auto& [vm, e] : egress_) {
        if (e.egress == cfg::egress_policy::proxy) ports.emplace(e.proxy_port, vm);
    }
    return ports;
}

void runtime_policies::put_egress(std::string_view vm, const egress_setting& e) { egress_.insert_or_assign(std::string(vm), e); }

bool runtime_policies::erase_egress(std::string_view vm) {
    const auto it = egress_.find(vm);
    if (it == egress_.end()) return false;
    egress_.erase(it);
    return true;
}

const egress_setting* runtime_policies::find_egress(std::string_view vm) const {
    const auto it = egress_.find(vm);
    return it == egress_.end() ? nullptr : &it->second;
}

std::vector<std::string> runtime_policies::recheck(const allocation_lookup& a) const {
    std::vector<std::string> problems;
    for (const auto& [id, f] : forwards_) {
        if (const auto r = check_forward(f, a); !r) problems.push_back("forward " + id + ": " + r.message);
    }
    for (const auto& [vm, e] : egress_) {
        if (const auto r = check_egress(vm, e, a); !r) problems.push_back("egress of " + vm + ": " + r.message);
    }
    return problems;
}

void runtime_policies::apply(dp::nat44_policy& nat, size_t config_vms) const {
    if (!nat.enabled || (forwards_.empty() && egress_.empty())) return;
    for (size_t i = 0; i < nat.vms.size(); ++i) {
        dp::nat_vm& vm = nat.vms[i];
        const egress_setting* e = find_egress(vm.name);
        // (A vps_id that is also a [[vms]] name: the policy is the config VM's.)
        if (!e || (i >= config_vms && config_vm(vm.name))) continue;
        vm.block_first = vm.block_last = 0;
        vm.proxy_port = 0;
        vm.proxy_force = false;
        if (e->egress == cfg::egress_policy::dedicated) {
            vm.egress = dp::nat_egress::dedicated;
            vm.public_addr = v4(*e->public_address);
        } else if (e->egress == cfg::egress_policy::port_block) {
            nat.give_block(vm, e->port_block);
        } else {
            vm.egress = e->egress == cfg::egress_policy::proxy ? dp::nat_egress::proxy : dp::nat_egress::masquerade;
            if (vm.egress == dp::nat_egress::proxy) {
                vm.proxy_port = e->proxy_port;
                vm.proxy_force = e->proxy_force;
            }
            // The paired pool address the builder chose for it (RFC 4787 REQ-2).
            vm.public_addr = nat.public_addrs.empty() ? 0 : nat.public_addrs[vm.pool_index];
        }
    }
    for (const auto& [id, f] : forwards_) {
        nat.forwards.push_back(to_nat_forward(f));
    }
    nat.index();
}

}  // namespace eg::ctl
