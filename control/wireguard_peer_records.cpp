// Runtime WireGuard peers in the lease store (see wireguard_peer_records.hpp).
#include "control/wireguard_peer_records.hpp"

#include <cstdio>
#include <utility>

namespace eg::ctl {

namespace {

/// The bounds POST /v1/wireguard/peers enforces (control/api/v1_wireguard.cpp).
constexpr uint64_t k_max_idle_timeout_s = 30 * 86400;
constexpr uint64_t k_max_keepalive_s = 65535;
constexpr size_t k_max_name_bytes = 64;

nlohmann::json prefix_list(const std::vector<cfg::ip_prefix>& v) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : v) out.push_back(cfg::to_string(p));
    return out;
}

bool read_prefixes(const nlohmann::json& j, std::string_view field, std::vector<cfg::ip_prefix>& out,
                   std::string& why) {
    if (!j.is_array()) {
        why = std::string(field) + " is not a list";
        return false;
    }
    for (const auto& e : j) {
        const auto p = e.is_string() ? cfg::parse_prefix(e.get<std::string>()) : std::nullopt;
        if (!p) {
            why = std::string(field) + ": " + e.dump() + " is not a prefix";
            return false;
        }
        out.push_back(*p);
    }
    return true;
}

bool read_count(const nlohmann::json& j, std::string_view field, uint64_t max, uint32_t& out, std::string& why) {
    if (!j.is_number_unsigned() || j.get<uint64_t>() > max) {
        why = std::string(field) + " is not an integer from 0 to " + std::to_string(max);
        return false;
    }
    out = static_cast<uint32_t>(j.get<uint64_t>());
    return true;
}

/// The config peer that holds `key`, as "NAME (tunnel T)"; empty when none does.
std::string config_holder(const std::vector<cfg::wireguard_config>& tunnels, const cfg::wg_key& key) {
    for (const auto& t : tunnels) {
        for (const auto& p : t.peers) {
            if (p.public_key == key) return p.name + " (tunnel " + t.name + ")";
        }
    }
    return {};
}

}  // namespace

nlohmann::json wireguard_peer_record(const wireguard_new_peer& np) {
    nlohmann::json j = {{"tunnel", np.tunnel},
                        {"allowed_ips", prefix_list(np.allowed_ips)},
                        {"idle_timeout_s", np.idle_timeout_s},
                        {"persistent_keepalive_s", np.persistent_keepalive_s}};
    if (!np.name.empty()) j["name"] = np.name;
    if (!np.routes.empty()) j["routes"] = prefix_list(np.routes);
    if (np.preshared_key) j["preshared_key"] = cfg::encode_wg_key(*np.preshared_key);
    return j;
}

std::optional<wireguard_new_peer> parse_wireguard_peer_record(std::string_view key, const nlohmann::json& j,
                                                              std::string& why) {
    wireguard_new_peer np;
    np.public_key = cfg::decode_wg_key(key);
    if (!np.public_key) {
        why = "its key is not a WireGuard public key";
        return std::nullopt;
    }
    if (!j.is_object()) {
        why = "the record is not a JSON object";
        return std::nullopt;
    }
    // Fields this version does not know are left alone: a record written by a newer
    // edgegated still restores what it can describe here.
    if (!j.contains("tunnel") || !j["tunnel"].is_string() || j["tunnel"].get<std::string>().empty()) {
        why = "it names no tunnel";
        return std::nullopt;
    }
    np.tunnel = j["tunnel"].get<std::string>();
    if (!j.contains("allowed_ips") || !read_prefixes(j["allowed_ips"], "allowed_ips", np.allowed_ips, why)) {
        if (why.empty()) why = "it has no allowed_ips";
        return std::nullopt;
    }
    if (j.contains("routes") && !read_prefixes(j["routes"], "routes", np.routes, why)) return std::nullopt;
    if (j.contains("name")) {
        if (!j["name"].is_string() || j["name"].get<std::string>().size() > k_max_name_bytes) {
            why = "name is not a string of at most 64 bytes";
            return std::nullopt;
        }
        np.name = j["name"].get<std::string>();
    }
    if (j.contains("preshared_key")) {
        const auto k = j["preshared_key"].is_string() ? cfg::decode_wg_key(j["preshared_key"].get<std::string>())
                                                      : std::nullopt;
        if (!k) {
            why = "preshared_key is not a WireGuard key";
            return std::nullopt;
        }
        np.preshared_key = *k;
    }
    if (j.contains("idle_timeout_s") &&
        !read_count(j["idle_timeout_s"], "idle_timeout_s", k_max_idle_timeout_s, np.idle_timeout_s, why))
        return std::nullopt;
    if (j.contains("persistent_keepalive_s") &&
        !read_count(j["persistent_keepalive_s"], "persistent_keepalive_s", k_max_keepalive_s,
                    np.persistent_keepalive_s, why))
        return std::nullopt;
    return np;
}

std::vector<std::string> runtime_peer_route_clashes(const std::vector<wireguard_peer_status>& peers,
                                                    const std::vector<cfg::wireguard_config>& config_tunnels,
                                                    const std::vector<cfg::route_config>& routes) {
    std::vector<std::string> lines;
    for (const wireguard_peer_status& p : peers) {
        const auto key = cfg::decode_wg_key(p.public_key);
        if (!key || !config_holder(config_tunnels, *key).empty()) continue;  // a config peer
        for (const std::string& a : p.allowed_ips) {
            for (const cfg::route_config& r : routes) {
                if (cfg::to_string(r.prefix) != a) continue;
                lines.push_back("runtime WireGuard peer " + (p.name.empty() ? p.public_key : p.name) + ": its allowed IP " +
                                a + " is a [[routes]] prefix of the new file (line " + std::to_string(r.line) +
                                "); delete the peer first, or leave the route out");
            }
        }
    }
    return lines;
}

wireguard_peer_records::wireguard_peer_records(wireguard_service& service, leases::lease_store* store, log_fn log)
    : service_(service), store_(store), log_(std::move(log)) {}

void wireguard_peer_records::log(const std::string& line) const {
    if (log_) {
        log_(line);
    } else {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
}

wireguard_peer_records::added wireguard_peer_records::add(const wireguard_new_peer& np, uint64_t now) {
    added a;
    a.r = service_.add_peer(np, now);
    if (a.r.result != wireguard_add_result::outcome::added || !store_) return a;
    // The record names the tunnel the peer went to (the request may have left it to the
    // default) and its public key, generated or given; never a private key. A
    // pre-shared key is kept (generated or given): without it the peer could not shake
    // hands after a restart, and alone it lets nobody in.
    wireguard_new_peer stored = np;
    stored.tunnel = a.r.tunnel;
    stored.preshared_key = a.r.preshared_key;
    stored.generate_preshared_key = false;
    const auto w = store_->put_record(k_wireguard_peer_namespace, a.r.public_key, wireguard_peer_record(stored).dump());
    if (!w) {
        // Not durable, so not added: an answer of 201 would promise a peer a restart loses.
        service_.remove_peer(*cfg::decode_wg_key(a.r.public_key));
        a.ec = w.ec;
        return a;
    }
    store_->request_commit();
    a.t = w.t;
    return a;
}

wireguard_peer_records::removed wireguard_peer_records::remove(const cfg::wg_key& key) {
    removed rm;
    rm.found = service_.remove_peer(key);
    if (!rm.found || !store_) return rm;
    const std::string id = cfg::encode_wg_key(key);
    if (!store_->find_record(k_wireguard_peer_namespace, id)) return rm;  // a config peer: nothing stored
    const auto w = store_->erase_record(k_wireguard_peer_namespace, id);
    if (!w) {
        rm.ec = w.ec;
        return rm;
    }
    store_->request_commit();
    rm.t = w.t;
    return rm;
}

void wireguard_peer_records::forget(const cfg::wg_key& key) {
    if (!store_) return;
    const std::string id = cfg::encode_wg_key(key);
    if (!store_->find_record(k_wireguard_peer_namespace, id)) return;
    if (const auto w = store_->erase_record(k_wireguard_peer_namespace, id); !w) {
        log("edgegated: the record of WireGuard peer " + id + " could not be erased: " + w.ec.message());
        return;
    }
    store_->request_commit();
}

size_t wireguard_peer_records::restore(const std::vector<cfg::wireguard_config>& tunnels, uint64_t now) {
    if (!store_) return 0;
    const auto& records = store_->records();
    const auto ns = records.find(k_wireguard_peer_namespace);
    if (ns == records.end()) return 0;
    std::vector<std::string> drop;
    size_t restored = 0;
    for (const auto& [key, value] : ns->second) {
        std::string why;
        const auto j = nlohmann::json::parse(value.begin(), value.end(), nullptr, false);
        std::optional<wireguard_new_peer> np = parse_wireguard_peer_record(key, j, why);
        if (np) {
            bool tunnel_exists = false;
            for (const auto& t : tunnels) tunnel_exists = tunnel_exists || t.name == np->tunnel;
            if (!tunnel_exists) {
                why = "its tunnel " + np->tunnel + " is no longer configured";
            } else if (const std::string holder = config_holder(tunnels, *np->public_key); !holder.empty()) {
                why = "its public key now belongs to config peer " + holder;
            } else {
                const wireguard_add_result r = service_.add_peer(*np, now, wireguard_service::publish::by_caller);
                if (r.result == wireguard_add_result::outcome::added) {
                    ++restored;
                    continue;
                }
                why = r.message;
            }
        }
        const std::string name = np && !np->name.empty() ? np->name + " (" + key + ")" : key;
        log("edgegated: stored runtime WireGuard peer " + name + " dropped: " + why);
        drop.push_back(key);
    }
    for (const auto& key : drop) store_->erase_record(k_wireguard_peer_namespace, key);
    if (!drop.empty()) store_->request_commit();
    if (restored) log("edgegated: restored " + std::to_string(restored) + " runtime WireGuard peer(s)");
    return restored;
}

}  // namespace eg::ctl
