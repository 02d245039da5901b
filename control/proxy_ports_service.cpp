#include "control/proxy_ports_service.hpp"

#include "control/runtime_policy_service.hpp"

#include <boost/asio/post.hpp>
#include <cstdio>
#include <stdexcept>

namespace eg::ctl {

proxy_ports_service::proxy_ports_service(const cfg::config& config, leases::lease_store* shared_store, log_fn log_to,
                                         durability d)
    : log_(std::move(log_to)), durability_(std::move(d)), table_(config.proxy_ports.first, config.proxy_ports.last) {
    if (shared_store != nullptr) {
        store_ = shared_store;
    } else {
        leases::store_options o;
        if (boost::asio::io_context* io = durability_.io) {
            std::weak_ptr<int> alive = alive_;
            o.on_durable = [this, alive, io](leases::ticket t, std::error_code ec) {  // the sync thread
                boost::asio::post(*io, [this, alive, t, ec] {
                    if (alive.lock()) on_durable(t, ec);
                });
            };
        }
        o.log = [](std::string_view m) {
            std::fprintf(stderr, "proxy_ports: store: %.*s\n", static_cast<int>(m.size()), m.data());
        };
        std::error_code ec;
        leases::open_report rep;
        own_store_ = leases::lease_store::open(config.proxy_ports.state_dir, o, ec, &rep);
        if (!own_store_) {
            std::string why = ec.message();
            if (!rep.load.detail.empty()) why += " (" + rep.load.detail + ")";
            throw std::runtime_error("proxy_ports: cannot open the store in " + config.proxy_ports.state_dir + ": " +
                                     why);
        }
        store_ = own_store_.get();
    }
    // Unmanaged VMs' ports are nobody else's; then what was stored; then the config's
    // organizations that have nothing stored yet.
    for (const cfg::vm_config& v : config.vms) {
        if (v.egress != cfg::egress_policy::proxy) continue;
        if (v.organization_id.empty()) {
            table_.reserve(v.proxy_port, v.name);
        } else {
            vm_org_.emplace(v.name, v.organization_id);
        }
    }
    for (const std::string& p : restore_proxy_ports(table_, store_->records())) {
        log(p);
    }
    // The runtime egress policies' ports, before any organization is given a new one
    // (the policies themselves are restored later, by runtime_policy_service; one whose
    // port an organization already holds is dropped there, with a log line).
    table_.set_runtime_ports(stored_runtime_proxy_ports(store_->records()));
    bool wrote = false;
    for (const cfg::vm_config& v : config.vms) {
        if (v.egress != cfg::egress_policy::proxy || v.organization_id.empty() ||
            table_.port_of(v.organization_id))
            continue;
        proxy_port_table::result r{proxy_port_errc::not_found};
        if (v.proxy_port != 0) {
            r = table_.pin(v.organization_id, v.proxy_port);
            if (r.error == proxy_port_errc::taken) {
                log("proxy_ports: organization " + v.organization_id + " (vm " + v.name + "): its proxy_port " +
                    std::to_string(v.proxy_port) + " is " + r.holder + "'s; assigning another");
            }
        }
        if (!r) r = table_.assign(v.organization_id);
        if (!r) {
            throw std::runtime_error("proxy_ports: no free port in " + std::to_string(table_.first()) + "-" +
                                     std::to_string(table_.last()) + " for organization " + v.organization_id +
                                     " (vm " + v.name + ")");
        }
        std::string err;
        if (!persist(v.organization_id, r.port, err)) throw std::runtime_error("proxy_ports: " + err);
        wrote = true;
    }
    if (wrote) store_->request_commit();
    log("proxy_ports: " + std::to_string(table_.assignments().size()) + " assignment(s), " +
        std::to_string(table_.free_ports()) + " free port(s) in " + std::to_string(table_.first()) + "-" +
        std::to_string(table_.last()));
}

proxy_ports_service::~proxy_ports_service() {
    if (own_store_) own_store_->commit();
}

void proxy_ports_service::when_durable(leases::ticket t, done_fn done) {
    if (store_failure_) {
        done(store_failure_);
    } else if (t == 0 || store_->is_durable(t)) {
        done({});
    } else if (durability_.shared_when_durable) {
        durability_.shared_when_durable(t, std::move(done));
    } else if (own_store_ && durability_.io) {
        durable_waiters_.emplace(t, std::move(done));
        store_->request_commit();
    } else {
        done(store_->commit().ec);  // no io_context to hear the report on: wait here
    }
}

void proxy_ports_service::on_durable(leases::ticket d, std::error_code ec) {
    if (ec) store_failure_ = ec;
    while (!durable_waiters_.empty()) {
        const auto it = durable_waiters_.begin();
        const bool ok = it->first <= d;
        if (!ok && !ec) break;
        auto done = std::move(it->second);
        durable_waiters_.erase(it);
        done(ok ? std::error_code{} : ec);
    }
}

void proxy_ports_service::log(std::string_view line) const {
    if (log_) {
        log_(line);
    } else {
        std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
}

bool proxy_ports_service::persist(std::string_view org, std::optional<uint16_t> port, std::string& error) {
    const auto r = port ? store_->put_record(k_proxy_port_namespace, org, encode_proxy_port(*port))
                        : store_->erase_record(k_proxy_port_namespace, org);
    if (!r) {
        error = "the lease store refused the record for " + std::string(org) + ": " + r.ec.message();
        return false;
    }
    return true;
}

proxy_ports_service::change proxy_ports_service::assign(std::string_view org) {
    change c{table_.assign(org)};
    c.t = store_->last_ticket();
    if (!c.r || !c.r.changed) return c;
    if (!persist(org, c.r.port, c.store_error)) {
        table_.erase(org);
        c.stored = false;
        return c;
    }
    c.t = store_->last_ticket();
    store_->request_commit();
    log("proxy_ports: organization " + std::string(org) + " assigned port " + std::to_string(c.r.port));
    if (on_change_) on_change_();
    return c;
}

proxy_ports_service::change proxy_ports_service::pin(std::string_view org, uint16_t port) {
    const auto before = table_.port_of(org);
    change c{table_.pin(org, port)};
    c.t = store_->last_ticket();
    if (!c.r || !c.r.changed) return c;
    if (!persist(org, port, c.store_error)) {
        table_.erase(org);
        if (before) table_.restore_(org, *before);
        c.stored = false;
        return c;
    }
    c.t = store_->last_ticket();
    store_->request_commit();
    log("proxy_ports: organization " + std::string(org) + " pinned to port " + std::to_string(port) +
        (before ? " (was " + std::to_string(*before) + ")" : std::string()));
    if (on_change_) on_change_();
    return c;
}

proxy_ports_service::change proxy_ports_service::erase(std::string_view org) {
    const auto before = table_.port_of(org);
    change c{table_.erase(org)};
    c.t = store_->last_ticket();
    if (!c.r) return c;
    if (!persist(org, std::nullopt, c.store_error)) {
        table_.restore_(org, *before);
        c.stored = false;
        return c;
    }
    c.t = store_->last_ticket();
    store_->request_commit();
    log("proxy_ports: organization " + std::string(org) + " released port " + std::to_string(c.r.port));
    if (on_change_) on_change_();
    return c;
}

void proxy_ports_service::apply(dp::nat44_policy& nat) const {
    for (dp::nat_vm& vm : nat.vms) {
        auto it = vm_org_.find(vm.name);
        if (it == vm_org_.end()) continue;
        if (const auto p = table_.port_of(it->second)) vm.proxy_port = *p;
    }
}

std::map<uint16_t, std::string> proxy_ports_service::targets() const {
    std::map<uint16_t, std::string> t;
    for (const auto& [port, vm] : table_.reserved()) t.emplace(port, "vm:" + vm);
    for (const auto& [org, port] : table_.assignments()) t[port] = "org:" + org;
    return t;
}

std::vector<std::string> proxy_ports_service::vms_of(std::string_view org) const {
    std::vector<std::string> out;
    for (const auto& [vm, o] : vm_org_) {
        if (o == org) out.push_back(vm);
    }
    return out;
}

}  // namespace eg::ctl
