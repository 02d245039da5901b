#include "control/runtime_policy_service.hpp"

#include <cstdio>
#include <vector>

namespace eg::ctl {

runtime_policy_service::runtime_policy_service(const cfg::config* config, leases::lease_store* store, log_fn log)
    : table_(config), store_(store), log_(std::move(log)) {}

void runtime_policy_service::log(const std::string& line) const {
    if (log_) {
        log_(line);
    } else {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
}

runtime_policy_service::change runtime_policy_service::write(std::string_view ns, std::string_view key,
                                                             const nlohmann::json* value) {
    change c;
    const auto r = value ? store_->put_record(ns, key, value->dump()) : store_->erase_record(ns, key);
    if (!r) {
        c.r = {policy_errc::conflict, "the lease store refused the record: " + r.ec.message()};
        return c;
    }
    store_->request_commit();
    c.t = r.t;
    return c;
}

namespace {
policy_result no_store() {
    return {policy_errc::not_configured,
            "runtime forwards and egress policies are kept in the lease store, and there is none: configure [dhcp] "
            "or [proxy_ports] (their state_dir)"};
}
}  // namespace

runtime_policy_service::change runtime_policy_service::add_forward(const cfg::nat_forward_config& f,
                                                                   const allocation_lookup& a) {
    change c;
    if (!store_) return {no_store()};
    if (c.r = table_.check_forward(f, a); !c.r) return c;
    const std::string id = forward_id(f);
    c.created = table_.find_forward(id) == nullptr;
    if (!table_.put_forward(f)) {
        c.t = store_->last_ticket();  // the same forward again: answered once what is written is durable
        return c;
    }
    const nlohmann::json j = forward_json(f);
    change w = write(k_forward_namespace, id, &j);
    if (!w.r) {
        table_.erase_forward(id);
        return w;
    }
    w.changed = true;
    w.created = c.created;
    log("edgegated: runtime forward " + id + " -> " + cfg::to_string(f.to) + ":" + std::to_string(f.to_port) + " added");
    return w;
}

runtime_policy_service::change runtime_policy_service::remove_forward(std::string_view id) {
    if (!store_) return {no_store()};
    const cfg::nat_forward_config* f = table_.find_forward(id);
    if (!f) return {{policy_errc::not_found, "no runtime forward " + std::string(id.substr(0, 64))}};
    const cfg::nat_forward_config old = *f;
    table_.erase_forward(id);
    change w = write(k_forward_namespace, id, nullptr);
    if (!w.r) {
        table_.put_forward(old);
        return w;
    }
    w.changed = true;
    log("edgegated: runtime forward " + std::string(id) + " deleted");
    return w;
}

runtime_policy_service::change runtime_policy_service::set_egress(std::string_view vm, const egress_setting& e,
                                                                  const allocation_lookup& a) {
    change c;
    if (!store_) return {no_store()};
    if (c.r = table_.check_egress(vm, e, a); !c.r) return c;
    const egress_setting* before = table_.find_egress(vm);
    if (before && *before == e) {
        c.t = store_->last_ticket();
        return c;
    }
    const std::optional<egress_setting> old = before ? std::optional(*before) : std::nullopt;
    table_.put_egress(vm, e);
    nlohmann::json j = egress_setting_json(e);
    change w = write(k_egress_namespace, vm, &j);
    if (!w.r) {
        if (old) table_.put_egress(vm, *old); else table_.erase_egress(vm);
        return w;
    }
    w.changed = true;
    w.created = !old;
    log("edgegated: runtime egress of " + std::string(vm) + ": " + j.dump());
    return w;
}

runtime_policy_service::change runtime_policy_service::remove_egress(std::string_view vm) {
    if (!store_) return {no_store()};
    const egress_setting* e = table_.find_egress(vm);
    if (!e) return {{policy_errc::not_found, "no runtime egress policy for " + std::string(vm.substr(0, 128))}};
    const egress_setting old = *e;
    table_.erase_egress(vm);
    change w = write(k_egress_namespace, vm, nullptr);
    if (!w.r) {
        table_.put_egress(vm, old);
        return w;
    }
    w.changed = true;
    log("edgegated: runtime egress of " + std::string(vm) + " deleted");
    return w;
}

std::map<uint16_t, std::string> stored_runtime_proxy_ports(const leases::store_state::record_map& records) {
    std::map<uint16_t, std::string> ports;
    const auto ns = records.find(k_egress_namespace);
    if (ns == records.end()) return ports;
    for (const auto& [vm, value] : ns->second) {
        egress_setting e;
        // Records that do not parse are dropped by restore() with a log line.
        if (parse_egress(nlohmann::json::parse(value.begin(), value.end(), nullptr, false), e) &&
            e.egress == cfg::egress_policy::proxy) {
            ports.emplace(e.proxy_port, vm);
        }
    }
    return ports;
}

void runtime_policy_service::restore(const allocation_lookup& a) {
    if (!store_) return;
    std::vector<std::pair<std::string, std::string>> drop;  // (namespace, key)
    const auto& records = store_->records();
    const auto parse = [](const std::vector<uint8_t>& v) {
        return nlohmann::json::parse(v.begin(), v.end(), nullptr, false);
    };
    if (const auto ns = records.find(k_forward_namespace); ns != records.end()) {
        for (const auto& [id, value] : ns->second) {
            cfg::nat_forward_config f;
            policy_result r = parse_forward(parse(value), f);
            if (r && forward_id(f) != id) r = {policy_errc::invalid, "its key is not its id"};
            if (r) r = table_.check_forward(f, a);
            if (r) {
                table_.put_forward(f);
            } else {
                log("edgegated: stored runtime forward " + id + " dropped: " + r.message);
                drop.emplace_back(k_forward_namespace, id);
            }
        }
    }
    if (const auto ns = records.find(k_egress_namespace); ns != records.end()) {
        for (const auto& [vm, value] : ns->second) {
            egress_setting e;
            policy_result r = parse_egress(parse(value), e);
            if (r) r = table_.check_egress(vm, e, a);
            if (r) {
                table_.put_egress(vm, e);
            } else {
                log("edgegated: stored runtime egress of " + vm + " dropped: " + r.message);
                drop.emplace_back(k_egress_namespace, vm);
            }
        }
    }
    for (const auto& [ns, key] : drop) store_->erase_record(ns, key);
    if (!drop.empty()) store_->request_commit();
    if (!table_.forwards().empty() || !table_.egress().empty())
        log("edgegated: restored " + std::to_string(table_.forwards().size()) + " runtime forward(s) and " +
            std::to_string(table_.egress().size()) + " runtime egress polic" +
            (table_.egress().size() == 1 ? "y" : "ies"));
}

bool runtime_policy_service::prune(const allocation_lookup& a) {
    std::vector<std::string> gone;
    for (const auto& [vm, e] : table_.egress()) {
        if (!table_.config_vm(vm) && !(a.address_of && a.address_of(vm))) gone.push_back(vm);
    }
    for (const auto& vm : gone) {
        table_.erase_egress(vm);
        if (store_) store_->erase_record(k_egress_namespace, vm);
        log("edgegated: runtime egress of " + vm + " removed with its allocation");
    }
    if (!gone.empty() && store_) store_->request_commit();
    return !gone.empty();
}

}  // namespace eg::ctl
