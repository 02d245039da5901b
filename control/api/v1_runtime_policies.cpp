#include "control/api/v1_runtime_policies.hpp"

#include <arpa/inet.h>

#include <memory>

namespace eg::ctl::api {

namespace {

using json = nlohmann::json;

const char* egress_name(cfg::egress_policy e) {
    switch (e) {
    case cfg::egress_policy::masquerade: return "masquerade";
    case cfg::egress_policy::dedicated: return "dedicated";
    case cfg::egress_policy::port_block: return "port_block";
    case cfg::egress_policy::proxy: return "proxy";
    }
    return "unknown";
}

std::string ip_text(uint32_t a) {
    char buf[INET_ADDRSTRLEN];
    const uint32_t n = htonl(a);
    return inet_ntop(AF_INET, &n, buf, sizeof buf) ? buf : "?";
}

json listed_forward(const cfg::nat_forward_config& f, const char* source) {
    return {{"id", forward_id(f)},
            {"source", source},
            {"protocol", f.protocol == 6 ? "tcp" : "udp"},
            {"public_address", cfg::to_string(f.public_address)},
            {"ports", {f.port_first, f.port_last}},
            {"to", cfg::to_string(f.to)},
            {"to_ports", {f.to_port, f.to_port_last()}}};
}

/// The policy's keys as GET /v1/egress shows them (port_block and proxy as objects).
void add_policy(json& j, const cfg::config& c, cfg::egress_policy egress, const std::optional<cfg::ip_address>& pub,
                uint32_t port_block, uint16_t proxy_port, bool proxy_force) {
    j["egress"] = egress_name(egress);
    const auto& pb = c.nat.port_blocks;
    switch (egress) {
    case cfg::egress_policy::masquerade: break;
    case cfg::egress_policy::dedicated:
        if (pub) j["public_address"] = cfg::to_string(*pub);
        break;
    case cfg::egress_policy::port_block: {
        const uint32_t first = pb.first_port + port_block * uint32_t{pb.block_size};
        j["port_block"] = {{"index", port_block},
                           {"address", pb.address ? json(cfg::to_string(*pb.address)) : json(nullptr)},
                           {"ports", {first, first + pb.block_size - 1}}};
        break;
    }
    case cfg::egress_policy::proxy:
        j["proxy"] = {{"port", proxy_port},
                      {"upstream", c.nat.proxy.upstream ? json(cfg::to_string(*c.nat.proxy.upstream)) : json(nullptr)},
                      {"force", proxy_force}};
        break;
    }
}

[[noreturn]] void throw_result(const policy_result& r) {
    switch (r.error) {
    case policy_errc::invalid: throw api_error(400, "bad_request", r.message);
    case policy_errc::not_found: throw api_error(404, "not_found", r.message);
    case policy_errc::conflict: throw api_error(409, "conflict", r.message);
    case policy_errc::not_configured: throw api_error(409, "not_configured", r.message);
    case policy_errc::ok: break;
    }
    throw api_error(500, "internal", "internal error");
}

/// Applies a change to the data plane now and answers `ok` once its record is durable.
response finish(const runtime_policy_sources& s, const runtime_policy_service::change& c, response ok) {
    if (!c.r) throw_result(c.r);
    if (c.changed && s.publish) s.publish();
    if (c.t == 0 || !s.when_durable) return ok;
    return answer_when_durable(s.when_durable, c.t, std::move(ok), "the change is applied but not durable");
}

}  // namespace

json forwards_json(const cfg::config& c, const runtime_policies& rt) {
    json list = json::array();
    for (const auto& f : c.nat.forwards) list.push_back(listed_forward(f, "config"));
    for (const auto& [id, f] : rt.forwards()) list.push_back(listed_forward(f, "api"));
    return {{"forwards", std::move(list)}};
}

json egress_json(const cfg::config& c, const runtime_policies& rt, const allocation_lookup& a) {
    json list = json::array();
    for (const auto& v : c.vms) {
        json j = {{"name", v.name},
                  {"kind", "config"},
                  {"mac", cfg::to_string(v.mac)},
                  {"ipv4", cfg::to_string(v.ipv4)},
                  {"max_sessions", v.max_sessions ? v.max_sessions : c.nat.sessions_per_vm}};
        if (const egress_setting* e = rt.find_egress(v.name)) {
            add_policy(j, c, e->egress, e->public_address, e->port_block, e->proxy_port, e->proxy_force);
            j["source"] = "api";
            json cfg_policy;
            add_policy(cfg_policy, c, v.egress, v.public_address, v.port_block, v.proxy_port, v.proxy_force);
            j["config"] = std::move(cfg_policy);  // what DELETE /v1/egress/{vm} returns to
        } else {
            add_policy(j, c, v.egress, v.public_address, v.port_block, v.proxy_port, v.proxy_force);
            j["source"] = "config";
        }
        list.push_back(std::move(j));
    }
    for (const auto& [vm, e] : rt.egress()) {
        if (rt.config_vm(vm)) continue;
        const auto ip = a.address_of ? a.address_of(vm) : std::nullopt;
        json j = {{"name", vm}, {"kind", "allocation"}, {"ipv4", ip ? json(ip_text(*ip)) : json(nullptr)},
                  {"max_sessions", c.nat.sessions_per_vm}};
        add_policy(j, c, e.egress, e.public_address, e.port_block, e.proxy_port, e.proxy_force);
        j["source"] = "api";
        list.push_back(std::move(j));
    }
    return {{"nat_enabled", c.nat.enabled}, {"vms", std::move(list)}};
}

void add_v1_runtime_policy_endpoints(router& r, runtime_policy_sources sources) {
    auto s = std::make_shared<const runtime_policy_sources>(std::move(sources));
    const auto lookup = [s] { return s->lookup ? s->lookup() : allocation_lookup{}; };

    r.add("GET", "/v1/forwards", [s](const request&) {
        return response{200, forwards_json(*s->config, s->service->table()), {}};
    });
    r.add("POST", "/v1/forwards", [s, lookup](const request& req) {
        const json body = json_body(req, {"protocol", "public_address", "port", "to", "to_port"});
        cfg::nat_forward_config f;
        if (const auto p = parse_forward(body, f); !p) throw_result(p);
        const auto c = s->service->add_forward(f, lookup());
        const std::string id = forward_id(f);
        response ok{c.created ? 201u : 200u, listed_forward(f, "api"), {}};
        if (c.created) ok.headers.emplace_back("Location", "/v1/forwards/" + id);
        return finish(*s, c, std::move(ok));
    });
    r.add("DELETE", "/v1/forwards/{protocol}/{public_address}/{port}", [s](const request& req) {
        const std::string id =
            req.params.at("protocol") + "/" + req.params.at("public_address") + "/" + req.params.at("port");
        if (const cfg::nat_forward_config* f = s->service->table().find_config_forward(id);
            f && !s->service->table().find_forward(id)) {
            throw api_error(409, "conflict",
                            "forward " + forward_id(*f) + " is in the config file (line " + std::to_string(f->line) +
                                "); remove it there and POST /v1/reload");
        }
        const cfg::nat_forward_config* f = s->service->table().find_forward(id);
        const json was = f ? listed_forward(*f, "api") : json();
        const auto c = s->service->remove_forward(id);
        return finish(*s, c, response{200, {{"deleted", true}, {"forward", was}}, {}});
    });

    r.add("GET", "/v1/egress", [s, lookup](const request&) {
        return response{200, egress_json(*s->config, s->service->table(), lookup()), {}};
    });
    r.add("POST", "/v1/egress", [s, lookup](const request& req) {
        const json body = json_body(req, {"vm", "egress", "public_address", "port_block", "proxy_port", "proxy_force"});
        const auto vm = body.find("vm");
        if (vm == body.end() || !vm->is_string() || vm->get<std::string>().empty())
            throw api_error(400, "bad_request", "field \"vm\" (a [[vms]] name or an allocation's vps_id) is required");
        egress_setting e;
        if (const auto p = parse_egress(body, e); !p) throw_result(p);
        const std::string name = vm->get<std::string>();
        const auto c = s->service->set_egress(name, e, lookup());
        json j = egress_setting_json(e);
        j["vm"] = name;
        return finish(*s, c, response{c.created ? 201u : 200u, std::move(j), {}});
    });
    r.add("DELETE", "/v1/egress/{vm}", [s](const request& req) {
        const std::string& vm = req.params.at("vm");
        const auto c = s->service->remove_egress(vm);
        json j = {{"vm", vm}, {"deleted", true}};
        if (c.r) {
            // What the VM has from now on.
            if (const cfg::vm_config* v = s->service->table().config_vm(vm)) {
                json now;
                add_policy(now, *s->config, v->egress, v->public_address, v->port_block, v->proxy_port, v->proxy_force);
                j["now"] = std::move(now);
            } else {
                j["now"] = {{"egress", "masquerade"}};
            }
        }
        return finish(*s, c, response{200, std::move(j), {}});
    });
}

}  // namespace eg::ctl::api
