#include "control/api/v1_allocations.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <memory>

namespace eg::ctl::api {

namespace {

using json = nlohmann::json;

std::string ip_text(uint32_t a) {
    char buf[INET_ADDRSTRLEN];
    const uint32_t n = htonl(a);
    return inet_ntop(AF_INET, &n, buf, sizeof buf) ? buf : "?";
}

json ipv6_json(const leases::ipv6_bytes& a) {
    if (a == leases::ipv6_bytes{}) return nullptr;
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(AF_INET6, a.data(), buf, sizeof buf) ? json(buf) : json(nullptr);
}

json expires_json(int64_t expires_s) { return expires_s == 0 ? json(nullptr) : json(expires_s); }

bool live(int64_t expires_s, uint64_t now_s) { return expires_s == 0 || static_cast<uint64_t>(expires_s) > now_s; }

/// A string field of the body: required, or optional (absent: empty).
std::string field(const json& body, const char* name, bool required) {
    const auto it = body.find(name);
    if (it == body.end()) {
        if (required) throw api_error(400, "bad_request", std::string("missing field \"") + name + "\"");
        return {};
    }
    if (!it->is_string()) throw api_error(400, "bad_request", std::string("field \"") + name + "\" must be a string");
    return it->get<std::string>();
}

dp::mac_bytes mac_field(const json& body) {
    const std::string text = field(body, "mac", true);
    const auto m = cfg::parse_mac(text);
    if (!m) throw api_error(400, "bad_request", "field \"mac\" must be a MAC address like \"02:00:00:00:00:01\"");
    if (((*m)[0] & 0x01) != 0 || *m == cfg::mac_address{}) {
        throw api_error(400, "bad_request", "field \"mac\" must be a unicast, non-zero MAC address");
    }
    return *m;
}

[[noreturn]] void throw_outcome(const allocations::outcome& o) {
    switch (o.error) {
    case allocations::errc::invalid: throw api_error(400, "bad_request", o.message);
    case allocations::errc::not_found: throw api_error(404, "not_found", o.message);
    case allocations::errc::conflict: throw api_error(409, "conflict", o.message);
    case allocations::errc::exhausted: throw api_error(507, "pool_exhausted", o.message);
    case allocations::errc::not_configured: throw api_error(409, "not_configured", o.message);
    default: throw api_error(500, "store_failed", o.message);
    }
}

/// Replies `ok` once ticket t is durable, 500 if the store failed first.
response after_durable(dhcp_service& dhcp, leases::ticket t, response ok) {
    return answer_when_durable([&dhcp](uint64_t tk, std::function<void(std::error_code)> done) {
        dhcp.when_durable(tk, std::move(done));
    }, t, std::move(ok), "the change is not durable");
}

std::string vps_param(const request& r) {
    const auto it = r.params.find("vps_id");
    return it == r.params.end() ? std::string() : it->second;
}

}  // namespace

json allocation_json(const leases::lease& rec, const allocations::network* net, uint64_t now_s) {
    const char* state = rec.state == leases::lease_state::bound ? (live(rec.expires_s, now_s) ? "bound" : "expired")
                                                                 : "allocated";
    json dns = json::array();
    json gateway = nullptr;
    if (net) {
        for (uint32_t d : net->dns) dns.push_back(ip_text(d));
        if (!net->routers.empty()) gateway = ip_text(net->routers.front());
    }
    return {{"vps_id", rec.vps_id},
            {"organization_id", rec.organization_id},
            {"mac", cfg::to_string(cfg::mac_address(rec.mac))},
            {"network", net ? json(net->port) : json(nullptr)},
            {"ipv4", ip_text(rec.ipv4)},
            {"prefix_len", net ? net->prefix_len : 32},
            {"ipv6", ipv6_json(rec.ipv6)},
            {"gateway", gateway},
            {"dns", std::move(dns)},
            {"domain", net && !net->domain.empty() ? json(net->domain) : json(nullptr)},
            {"lease_time_s", net ? net->lease_time_s : 0},
            {"lease", {{"state", state}, {"expires_s", rec.state == leases::lease_state::bound ? expires_json(rec.expires_s) : json(nullptr)}}}};
}

json leases_json(const dhcp_service& dhcp, uint64_t now_s) {
    std::vector<const leases::lease*> recs;
    for (const auto& [key, rec] : dhcp.store().leases()) {
        const bool placement = leases::store_lease_book::is_placement_key(key);
        // DHCP bindings (their own records, or an allocation's once its VM bound it) and
        // quarantined (declined) addresses.
        if (placement && rec.state != leases::lease_state::bound) continue;
        recs.push_back(&rec);
    }
    std::sort(recs.begin(), recs.end(), [](const auto* a, const auto* b) {
        return a->ipv4 != b->ipv4 ? a->ipv4 < b->ipv4 : a->vps_id < b->vps_id;
    });
    json list = json::array();
    for (const leases::lease* rec : recs) {
        const bool placement = leases::store_lease_book::is_placement_key(rec->vps_id);
        const char* state = "released";
        if (rec->state == leases::lease_state::bound) state = live(rec->expires_s, now_s) ? "bound" : "expired";
        if (rec->state == leases::lease_state::declined) state = "quarantined";
        const allocations::network* net = dhcp.allocs().network_of(rec->ipv4);
        list.push_back({{"mac", rec->state == leases::lease_state::declined
                                    ? json(nullptr)
                                    : json(cfg::to_string(cfg::mac_address(rec->mac)))},
                        {"ipv4", ip_text(rec->ipv4)},
                        {"state", state},
                        {"expires_s", expires_json(rec->expires_s)},
                        {"vps_id", placement ? json(rec->vps_id) : json(nullptr)},
                        {"network", net ? json(net->port) : json(nullptr)}});
    }
    return {{"leases", std::move(list)}};
}

void add_v1_allocation_endpoints(router& r, dhcp_service* dhcp) {
    const auto need = [dhcp]() -> dhcp_service& {
        if (!dhcp) throw api_error(409, "not_configured", "no [dhcp] table is configured: allocations need a DHCP network");
        return *dhcp;
    };
    r.add("POST", "/v1/allocations", [need](const request& req) {
        const json body = json_body(req, {"vps_id", "organization_id", "mac", "network"});
        const std::string vps_id = field(body, "vps_id", true);
        const std::string org = field(body, "organization_id", true);
        const dp::mac_bytes mac = mac_field(body);
        const std::string network = field(body, "network", false);
        dhcp_service& d = need();
        const uint64_t now = dhcp_service::clock_s();
        const allocations::outcome o = d.create_allocation(vps_id, org, mac, network, now);
        if (o.error != allocations::errc::ok) throw_outcome(o);
        response ok{o.created ? 201u : 200u, allocation_json(*o.record, d.allocs().network_of(o.record->ipv4), now), {}};
        if (o.created) ok.headers.emplace_back("Location", "/v1/allocations/" + vps_id);
        return after_durable(d, o.t, std::move(ok));
    });
    r.add("GET", "/v1/allocations", [dhcp](const request&) {
        json list = json::array();
        if (dhcp) {
            const uint64_t now = dhcp_service::clock_s();
            for (const leases::lease* rec : dhcp->allocs().list()) {
                list.push_back(allocation_json(*rec, dhcp->allocs().network_of(rec->ipv4), now));
            }
        }
        return response{200, {{"allocations", std::move(list)}}, {}};
    });
    r.add("GET", "/v1/allocations/{vps_id}", [dhcp](const request& req) {
        const std::string id = vps_param(req);
        const leases::lease* rec = dhcp ? dhcp->allocs().find(id) : nullptr;
        if (!rec) throw api_error(404, "not_found", "no allocation for vps_id " + id.substr(0, 128));
        return response{200, allocation_json(*rec, dhcp->allocs().network_of(rec->ipv4), dhcp_service::clock_s()), {}};
    });
    r.add("DELETE", "/v1/allocations/{vps_id}", [dhcp](const request& req) {
        const std::string id = vps_param(req);
        if (!dhcp) throw api_error(404, "not_found", "no allocation for vps_id " + id.substr(0, 128));
        const allocations::outcome o = dhcp->remove_allocation(id);
        if (o.error != allocations::errc::ok) throw_outcome(o);
        response ok{200, allocation_json(*o.record, dhcp->allocs().network_of(o.record->ipv4), dhcp_service::clock_s()), {}};
        return after_durable(*dhcp, o.t, std::move(ok));
    });
    r.add("GET", "/v1/leases", [dhcp](const request&) {
        if (!dhcp) return response{200, {{"leases", json::array()}}, {}};
        return response{200, leases_json(*dhcp, dhcp_service::clock_s()), {}};
    });
}

}  // namespace eg::ctl::api
