#include "control/api/v1_endpoints.hpp"

#include <cstdint>
#include <memory>

#include "dataplane/drop_reasons.hpp"

namespace eg::ctl::api {

namespace {

using json = nlohmann::json;

const char* role_name(cfg::port_role r) { return r == cfg::port_role::uplink ? "uplink" : "vm"; }

const char* backend_name(cfg::backend_kind b) {
    switch (b) {
    case cfg::backend_kind::uring: return "uring";
    case cfg::backend_kind::dpdk: return "dpdk";
    case cfg::backend_kind::memory: return "memory";
    case cfg::backend_kind::pcap: return "pcap";
    }
    return "unknown";
}

const char* egress_name(cfg::egress_policy e) {
    switch (e) {
    case cfg::egress_policy::masquerade: return "masquerade";
    case cfg::egress_policy::dedicated: return "dedicated";
    case cfg::egress_policy::port_block: return "port_block";
    case cfg::egress_policy::proxy: return "proxy";
    }
    return "unknown";
}

json prefixes(const std::vector<cfg::ip_prefix>& ps) {
    json a = json::array();
    for (const auto& p : ps) a.push_back(cfg::to_string(p));
    return a;
}

}  // namespace

json info_json(const cfg::config& c, const std::string& version, uint64_t uptime_ms) {
    json ports = json::array();
    for (const auto& p : c.ports) {
        json j = {{"name", p.name},       {"role", role_name(p.role)}, {"backend", backend_name(p.backend)},
                  {"interface", p.interface}, {"mtu", p.mtu},          {"ipv4", prefixes(p.ipv4)},
                  {"ipv6", prefixes(p.ipv6)}};
        if (p.mac) j["mac"] = cfg::to_string(*p.mac);
        ports.push_back(std::move(j));
    }
    json nat_public = json::array();
    for (const auto& a : c.nat.public_addresses) nat_public.push_back(cfg::to_string(a));
    return {{"name", c.gateway.name},
            {"version", version},
            {"workers", c.workers.count},
            {"ports", std::move(ports)},
            {"host_tap", c.host.enabled ? json(c.host.interface) : json(nullptr)},
            {"nat", {{"enabled", c.nat.enabled}, {"public_addresses", std::move(nat_public)}}},
            {"uptime_s", uptime_ms / 1000}};
}

json stats_json(const metrics::gateway_stats& s) {
    json ports = json::array();
    uint64_t rxp = 0, rxb = 0, txp = 0, txb = 0;
    for (const auto& p : s.ports) {
        ports.push_back({{"name", p.name},
                         {"rx_packets", p.rx_packets},
                         {"rx_bytes", p.rx_bytes},
                         {"tx_packets", p.tx_packets},
                         {"tx_bytes", p.tx_bytes}});
        rxp += p.rx_packets, rxb += p.rx_bytes, txp += p.tx_packets, txb += p.tx_bytes;
    }
    // Only reasons that happened: the full list is the metric's job.
    json reasons = json::array();
    uint64_t drops = 0;
    for (size_t r = 1; r < s.drops_by_reason.size() && r < dp::k_drop_reason_count; ++r) {
        if (s.drops_by_reason[r] == 0) continue;
        const auto reason = static_cast<dp::drop_reason>(r);
        reasons.push_back(
            {{"stage", dp::drop_stage(reason)}, {"reason", dp::drop_text(reason)}, {"packets", s.drops_by_reason[r]}});
        drops += s.drops_by_reason[r];
    }
    json pools = json::array();
    for (const auto& p : s.pools) {
        pools.push_back({{"network", p.network},
                         {"port", p.port},
                         {"ranges", p.ranges},
                         {"total", p.total},
                         {"used", p.used},
                         {"available", p.available},
                         {"quarantined", p.quarantined}});
    }
    return {{"rx_packets", rxp},
            {"rx_bytes", rxb},
            {"tx_packets", txp},
            {"tx_bytes", txb},
            {"forwarded", {{"ipv4", s.forwarded_ipv4}, {"ipv6", s.forwarded_ipv6}}},
            {"punted", s.punted},
            {"to_host", s.to_host},
            {"backend_drops", s.backend_drops},
            {"drops", {{"total", drops}, {"by_reason", std::move(reasons)}}},
            {"nat",
             {{"sessions_active", s.nat_sessions_active},
              {"sessions_created", s.nat_sessions_created},
              {"sessions_expired", s.nat_sessions_expired},
              {"translated_packets", s.nat_translated}}},
            {"neighbours", s.neighbours},
            {"ports", std::move(ports)},
            {"uptime_s", s.uptime_ms / 1000},
            {"pools", std::move(pools)},
            // ipv4_pool takes prefixes from /8 to /30: a /8 is the largest one pool can be.
            {"largest_pool_possible", {{"prefix_len", 8}, {"addresses", uint64_t{1} << 24}}},
            {"vms",
             {{"configured", s.vms_configured},
              {"runtime", s.vms_runtime},
              {"capacity", s.vm_capacity},
              {"allocations", s.allocations}}}};
}

json forwards_json(const cfg::config& c) {
    json list = json::array();
    for (const auto& f : c.nat.forwards) {
        const uint32_t span = f.port_last - f.port_first;
        list.push_back({{"protocol", f.protocol == 6 ? "tcp" : "udp"},
                        {"public_address", cfg::to_string(f.public_address)},
                        {"ports", {f.port_first, f.port_last}},
                        {"to", cfg::to_string(f.to)},
                        {"to_ports", {f.to_port, f.to_port + span}}});
    }
    return {{"forwards", std::move(list)}};
}

json egress_json(const cfg::config& c) {
    json list = json::array();
    const auto& pb = c.nat.port_blocks;
    for (const auto& v : c.vms) {
        json j = {{"name", v.name},
                  {"mac", cfg::to_string(v.mac)},
                  {"ipv4", cfg::to_string(v.ipv4)},
                  {"egress", egress_name(v.egress)},
                  {"max_sessions", v.max_sessions ? v.max_sessions : c.nat.sessions_per_vm}};
        switch (v.egress) {
        case cfg::egress_policy::masquerade: break;
        case cfg::egress_policy::dedicated:
            if (v.public_address) j["public_address"] = cfg::to_string(*v.public_address);
            break;
        case cfg::egress_policy::port_block: {
            const uint32_t first = pb.first_port + v.port_block * uint32_t{pb.block_size};
            j["port_block"] = {{"index", v.port_block},
                               {"address", pb.address ? json(cfg::to_string(*pb.address))
                                           : c.nat.public_addresses.empty()
                                               ? json(nullptr)
                                               : json(cfg::to_string(c.nat.public_addresses.front()))},
                               {"ports", {first, first + pb.block_size - 1}}};
            break;
        }
        case cfg::egress_policy::proxy:
            j["proxy"] = {{"port", v.proxy_port},
                          {"upstream", c.nat.proxy.upstream ? json(cfg::to_string(*c.nat.proxy.upstream)) : json(nullptr)},
                          {"force", v.proxy_force}};
            break;
        }
        list.push_back(std::move(j));
    }
    return {{"nat_enabled", c.nat.enabled}, {"vms", std::move(list)}};
}

void add_v1_read_endpoints(router& r, v1_sources src) {
    auto s = std::make_shared<const v1_sources>(std::move(src));
    // /v1/info is what monitoring polls; its document changes only with the uptime
    // second (the config is immutable while it is shown), so it is serialized once a
    // second. A config reload must reset this cache (key it on the config's generation).
    struct info_cache {
        uint64_t uptime_s = UINT64_MAX;
        std::string text;
    };
    auto cache = std::make_shared<info_cache>();
    r.add("GET", "/v1/info", [s, cache](const request&) {
        const uint64_t up = s->uptime_ms();
        if (up / 1000 != cache->uptime_s) {
            cache->uptime_s = up / 1000;
            cache->text = info_json(*s->config, s->version, up).dump();
        }
        response res;
        res.serialized = cache->text;
        return res;
    });
    r.add("GET", "/v1/stats", [s](const request&) { return response{200, stats_json(s->stats()), {}}; });
    r.add("GET", "/v1/forwards", [s](const request&) { return response{200, forwards_json(*s->config), {}}; });
    r.add("GET", "/v1/egress", [s](const request&) { return response{200, egress_json(*s->config), {}}; });
}

}  // namespace eg::ctl::api
