// GET /v1/wireguard and /v1/wireguard/peers (see v1_wireguard.hpp).
#include "control/api/v1_wireguard.hpp"

#include <memory>

#include "control/api/response.hpp"
#include "dataplane/worker.hpp"

namespace eg::ctl::api {

using nlohmann::json;

json wireguard_peers_json(const std::vector<wireguard_peer_status>& peers) {
    json list = json::array();
    for (const auto& p : peers) {
        list.push_back({{"tunnel", p.tunnel},
                        {"name", p.name},
                        {"public_key", p.public_key},
                        {"allowed_ips", p.allowed_ips},
                        {"endpoint", p.endpoint.empty() ? json(nullptr) : json(p.endpoint)},
                        {"latest_handshake_unix_s", p.last_handshake_unix_s ? json(p.last_handshake_unix_s) : json(nullptr)},
                        {"handshakes", p.handshakes},
                        {"persistent_keepalive_s", p.persistent_keepalive_s},
                        {"idle_timeout_s", p.idle_timeout_s},
                        {"preshared_key", p.has_preshared_key},
                        {"transfer", {{"rx_bytes", p.rx_bytes}, {"tx_bytes", p.tx_bytes}, {"rx_packets", p.rx_packets},
                                      {"tx_packets", p.tx_packets}}},
                        {"drops", {{"source_not_allowed", p.drop_not_allowed}, {"replayed", p.drop_replayed},
                                   {"authentication_failed", p.drop_auth}, {"no_keypair", p.drop_no_keypair}}},
                        {"healthy", p.healthy}});
    }
    return {{"peers", std::move(list)}};
}

namespace {

std::vector<cfg::ip_prefix> prefixes(const nlohmann::json& j, const char* field) {
    if (!j.is_array()) throw api_error(400, "bad_field", std::string(field) + " must be an array of prefixes");
    std::vector<cfg::ip_prefix> out;
    for (const auto& e : j) {
        const auto p = e.is_string() ? cfg::parse_prefix(e.get<std::string>()) : std::nullopt;
        if (!p) throw api_error(400, "bad_field", std::string(field) + ": " + e.dump() + " is not a prefix like \"10.99.1.2/32\"");
        out.push_back(*p);
    }
    return out;
}

uint32_t small_count(const nlohmann::json& j, const char* field, uint32_t max) {
    if (!j.is_number_unsigned() || j.get<uint64_t>() > max)
        throw api_error(400, "bad_field", std::string(field) + " must be an integer from 0 to " + std::to_string(max));
    return static_cast<uint32_t>(j.get<uint64_t>());
}

}  // namespace

wireguard_new_peer parse_new_peer(const request& r) {
    const json b = json_body(r, {"allowed_ips", "public_key", "name", "routes", "idle_timeout_s", "tunnel",
                                 "persistent_keepalive_s", "preshared_key", "endpoint_family"});
    wireguard_new_peer np;
    if (!b.contains("allowed_ips")) throw api_error(400, "missing_field", "allowed_ips is required");
    np.allowed_ips = prefixes(b["allowed_ips"], "allowed_ips");
    if (b.contains("routes")) np.routes = prefixes(b["routes"], "routes");
    if (b.contains("public_key")) {
        const auto k = b["public_key"].is_string() ? cfg::decode_wg_key(b["public_key"].get<std::string>()) : std::nullopt;
        if (!k) throw api_error(400, "bad_field", "public_key must be a WireGuard key (44 characters of base64)");
        np.public_key = *k;
    }
    if (b.contains("preshared_key")) {
        // A key (base64, as `wg genpsk` prints it), or "generate": the gateway makes one
        // and the answer carries it.
        const json& v = b["preshared_key"];
        if (v.is_string() && v.get<std::string>() == "generate") {
            np.generate_preshared_key = true;
        } else {
            const auto k = v.is_string() ? cfg::decode_wg_key(v.get<std::string>()) : std::nullopt;
            if (!k) throw api_error(400, "bad_field", "preshared_key must be a WireGuard key (44 characters of base64) or \"generate\"");
            np.preshared_key = *k;
        }
    }
    if (b.contains("name")) {
        if (!b["name"].is_string() || b["name"].get<std::string>().size() > 64)
            throw api_error(400, "bad_field", "name must be a string of at most 64 bytes");
        np.name = b["name"].get<std::string>();
    }
    if (b.contains("tunnel")) {
        if (!b["tunnel"].is_string()) throw api_error(400, "bad_field", "tunnel must be a tunnel's name");
        np.tunnel = b["tunnel"].get<std::string>();
    }
    if (b.contains("endpoint_family")) {
        // Which of the tunnel's listen sockets the generated wg_quick config names.
        const json& v = b["endpoint_family"];
        if (!v.is_string() || (v.get<std::string>() != "ipv4" && v.get<std::string>() != "ipv6"))
            throw api_error(400, "bad_field", "endpoint_family must be \"ipv4\" or \"ipv6\"");
        np.ipv6_endpoint = v.get<std::string>() == "ipv6";
    }
    if (b.contains("idle_timeout_s")) np.idle_timeout_s = small_count(b["idle_timeout_s"], "idle_timeout_s", 30 * 86400);
    if (b.contains("persistent_keepalive_s"))
        np.persistent_keepalive_s = small_count(b["persistent_keepalive_s"], "persistent_keepalive_s", 65535);
    return np;
}

cfg::wg_key key_from_path(const std::string& segment) {
    std::string text;
    for (size_t i = 0; i < segment.size(); ++i) {
        char c = segment[i];
        if (c == '%' && i + 2 < segment.size()) {
            const auto hex = [](char h) -> int {
                if (h >= '0' && h <= '9') return h - '0';
                if (h >= 'a' && h <= 'f') return h - 'a' + 10;
                if (h >= 'A' && h <= 'F') return h - 'A' + 10;
                return -1;
            };
            const int hi = hex(segment[i + 1]), lo = hex(segment[i + 2]);
            if (hi < 0 || lo < 0) throw api_error(400, "bad_key", "malformed percent-encoding in the key");
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '-') {
            c = '+';
        } else if (c == '_') {
            c = '/';
        }
        text += c;
    }
    const auto k = cfg::decode_wg_key(text);
    if (!k) throw api_error(400, "bad_key", "the path does not end in a WireGuard public key (base64)");
    return *k;
}

void add_v1_wireguard_endpoints(router& r, wireguard_sources sources) {
    auto s = std::make_shared<const wireguard_sources>(std::move(sources));
    r.add("GET", "/v1/wireguard", [s](const request&) {
        json list = json::array();
        for (size_t i = 0; i < s->tunnels->size(); ++i) {
            const auto& t = (*s->tunnels)[i];
            list.push_back({{"name", t.name},
                            {"public_key", s->service->public_key(i)},
                            {"listen", cfg::to_string(t.address) + ":" + std::to_string(t.listen_port)},
                            {"listen6", t.address6 ? json(cfg::to_string(cfg::listen_address{*t.address6, t.listen_port}))
                                                   : json(nullptr)},
                            {"mtu", t.mtu},
                            {"mss_clamp", t.mss_clamp}});
        }
        const auto& c = s->service->counters();
        json counters = {{"initiations_received", c.initiations_received},
                         {"responses_received", c.responses_received},
                         {"cookie_replies_received", c.cookie_replies_received},
                         {"initiations_sent", c.initiations_sent},
                         {"responses_sent", c.responses_sent},
                         {"cookie_replies_sent", c.cookie_replies_sent},
                         {"completed", c.completed},
                         {"invalid_mac1", c.invalid_mac1},
                         {"rate_limited", c.rate_limited},
                         {"unknown_peer", c.unknown_peer},
                         {"rejected", c.rejected},
                         {"malformed", c.malformed}};
        return response{200, {{"tunnels", std::move(list)}, {"handshakes", std::move(counters)}}, {}};
    });
    r.add("GET", "/v1/wireguard/peers", [s](const request&) {
        return response{200, wireguard_peers_json(s->service->status(dp::monotonic_ns())), {}};
    });
    r.add("POST", "/v1/wireguard/peers", [s](const request& req) {
        const wireguard_peer_records::added a = s->records->add(parse_new_peer(req), dp::monotonic_ns());
        const wireguard_add_result& res = a.r;
        using outcome = wireguard_add_result::outcome;
        switch (res.result) {
        case outcome::added: break;
        case outcome::bad_request: throw api_error(400, "bad_peer", res.message);
        case outcome::not_found: throw api_error(404, "unknown_tunnel", res.message);
        case outcome::conflict: throw api_error(409, "conflict", res.message);
        case outcome::full: throw api_error(507, "no_peer_slot", res.message);
        }
        if (a.ec) {
            throw api_error(500, "store_failed",
                            "the lease store refused the peer's record (" + a.ec.message() + "); the peer was not added");
        }
        json body = {{"public_key", res.public_key}};
        if (!res.wg_quick.empty()) body["wg_quick"] = res.wg_quick;
        if (res.preshared_key && res.preshared_key_generated) body["preshared_key"] = cfg::encode_wg_key(*res.preshared_key);
        response ok{201, std::move(body), {}};
        if (a.t == 0 || !s->when_durable) return ok;
        return answer_when_durable(s->when_durable, a.t, std::move(ok),
                                   "the peer is added but not durable: a restart may lose it");
    });
    r.add("DELETE", "/v1/wireguard/peers/{key}", [s](const request& req) {
        const wireguard_peer_records::removed rm = s->records->remove(key_from_path(req.params.at("key")));
        if (!rm.found) throw api_error(404, "unknown_peer", "no peer with this public key");
        if (rm.ec) {
            throw api_error(500, "store_failed",
                            "the peer is removed, but the lease store refused to erase its record (" +
                                rm.ec.message() + "); it may come back after a restart");
        }
        response ok{200, {{"removed", true}}, {}};
        if (rm.t == 0 || !s->when_durable) return ok;
        return answer_when_durable(s->when_durable, rm.t, std::move(ok),
                                   "the peer is removed but that is not durable: a restart may bring it back");
    });
}

}  // namespace eg::ctl::api
