#include "control/api/v1_proxy_ports.hpp"

#include <memory>

namespace eg::ctl::api {

namespace {

using json = nlohmann::json;

json assignment_json(const proxy_ports_service& s, const std::string& org, uint16_t port) {
    json vms = json::array();
    for (const auto& v : s.vms_of(org)) vms.push_back(v);
    return {{"organization_id", org}, {"port", port}, {"vms", std::move(vms)}};
}

[[noreturn]] void throw_for(const proxy_ports_service::change& c, std::string_view org) {
    if (!c.stored) throw api_error(503, "store_failed", c.store_error);
    switch (c.r.error) {
    case proxy_port_errc::bad_organization:
        throw api_error(400, "bad_request",
                        "organization_id must be 1..128 characters of A-Z a-z 0-9 . _ - : @");
    case proxy_port_errc::out_of_range:
        throw api_error(400, "out_of_range", "port " + std::to_string(c.r.port) + " is outside the proxy_ports range");
    case proxy_port_errc::taken:
        throw api_error(409, "conflict", "port " + std::to_string(c.r.port) + " is taken (" + c.r.holder + ")");
    case proxy_port_errc::exhausted:
        throw api_error(507, "exhausted", "no free port left in the proxy_ports range");
    case proxy_port_errc::not_found:
        throw api_error(404, "not_found", "organization " + std::string(org.substr(0, 128)) + " has no proxy port");
    case proxy_port_errc::ok: break;
    }
    throw api_error(500, "internal", "internal error");
}

/// Replies `ok` once ticket t is durable (an acknowledged assignment survives a crash),
/// 500 if the store failed first (as the allocations do).
response after_durable(proxy_ports_service& service, leases::ticket t, response ok) {
    return answer_when_durable([&service](uint64_t tk, std::function<void(std::error_code)> done) {
        service.when_durable(tk, std::move(done));
    }, t, std::move(ok), "the change is not durable");
}

}  // namespace

json proxy_ports_json(const proxy_ports_service& s) {
    json list = json::array();
    for (const auto& [org, port] : s.table().assignments()) list.push_back(assignment_json(s, org, port));
    json unmanaged = json::array();
    for (const auto& [port, vm] : s.table().reserved()) unmanaged.push_back({{"vm", vm}, {"port", port}});
    return {{"range", {s.table().first(), s.table().last()}},
            {"free", s.table().free_ports()},
            {"assignments", std::move(list)},
            {"unmanaged", std::move(unmanaged)}};
}

json probes_json(const std::vector<probes::port_status>& ports, bool enabled) {
    json list = json::array();
    for (const auto& p : ports) {
        list.push_back({{"port", p.port},
                        {"owner", p.owner},
                        {"state", probes::to_string(p.state)},
                        {"last_latency_ms", p.last_latency_ms ? json(*p.last_latency_ms) : json(nullptr)},
                        {"exit_address", p.exit_address.empty() ? json(nullptr) : json(p.exit_address)},
                        {"matches", p.matches ? json(*p.matches) : json(nullptr)},
                        {"consecutive_ok", p.consecutive_ok},
                        {"consecutive_fail", p.consecutive_fail},
                        {"last_error", p.last_error.empty() ? json(nullptr) : json(p.last_error)},
                        {"last_probe_unix_s", p.last_probe_unix_s ? json(p.last_probe_unix_s) : json(nullptr)},
                        {"last_change_unix_s", p.last_change_unix_s ? json(p.last_change_unix_s) : json(nullptr)},
                        {"probes", p.probes},
                        {"failures", p.failures}});
    }
    return {{"enabled", enabled}, {"ports", std::move(list)}};
}

void add_v1_proxy_port_endpoints(router& r, proxy_port_sources src) {
    auto s = std::make_shared<const proxy_port_sources>(std::move(src));
    r.add("GET", "/v1/proxy-ports", [s](const request&) { return response{200, proxy_ports_json(*s->service), {}}; });
    r.add("POST", "/v1/proxy-ports", [s](const request& req) {
        const json body = json_body(req, {"organization_id", "port"});
        const auto org_it = body.find("organization_id");
        if (org_it == body.end() || !org_it->is_string())
            throw api_error(400, "bad_request", "organization_id (a string) is required");
        const std::string org = org_it->get<std::string>();
        proxy_ports_service::change c;
        if (const auto p = body.find("port"); p != body.end()) {
            if (!p->is_number_unsigned() || p->get<uint64_t>() < 1 || p->get<uint64_t>() > 65535)
                throw api_error(400, "bad_request", "port must be an integer 1..65535");
            c = s->service->pin(org, static_cast<uint16_t>(p->get<uint64_t>()));
        } else {
            c = s->service->assign(org);
        }
        if (!c.r || !c.stored) throw_for(c, org);
        return after_durable(*s->service, c.t,
                             response{c.r.changed ? 201u : 200u, assignment_json(*s->service, org, c.r.port), {}});
    });
    r.add("DELETE", "/v1/proxy-ports/{organization_id}", [s](const request& req) {
        const std::string& org = req.params.at("organization_id");
        if (const auto vms = s->service->vms_of(org); !vms.empty() && s->service->table().port_of(org)) {
            std::string names;
            for (const auto& v : vms) names += (names.empty() ? "" : ", ") + v;
            throw api_error(409, "conflict",
                            "organization " + org + " is the organization_id of [[vms]] " + names +
                                " in the config; its port cannot be given up while they use it (pin another instead)");
        }
        const auto c = s->service->erase(org);
        if (!c.r || !c.stored) throw_for(c, org);
        return after_durable(*s->service, c.t,
                             response{200, {{"organization_id", org}, {"port", c.r.port}, {"deleted", true}}, {}});
    });
    r.add("GET", "/v1/probes", [s](const request&) {
        const bool on = static_cast<bool>(s->probes);
        return response{200, probes_json(on ? s->probes() : std::vector<probes::port_status>{}, on), {}};
    });
}

}  // namespace eg::ctl::api
