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

void add_v1_read_endpoints(router& r, v1_sources src) {
    auto s = std::make_shared<const v1_sources>(std::move(src));
    // /v1/info is what monitoring polls; its document changes only with the uptime
    // second and the config (a reload), so it is serialized once a second, or again
    // when the config's generation moved.
    struct info_cache {
        uint64_t uptime_s = UINT64_MAX;
        uint64_t config_generation = 0;
        std::string text;
    };
    auto cache = std::make_shared<info_cache>();
    r.add("GET", "/v1/info", [s, cache](const request&) {
        const uint64_t up = s->uptime_ms();
        const uint64_t gen = s->config_generation ? s->config_generation() : 0;
        if (up / 1000 != cache->uptime_s || gen != cache->config_generation) {
            cache->uptime_s = up / 1000;
            cache->config_generation = gen;
            cache->text = info_json(*s->config, s->version, up).dump();
        }
        response res;
        res.serialized = cache->text;
        return res;
    });
    r.add("GET", "/v1/stats", [s](const request&) { return response{200, stats_json(s->stats()), {}}; });
}

}  // namespace eg::ctl::api
