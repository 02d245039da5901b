#include "control/allocations.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>

namespace eg::ctl {

namespace {

/// Where the IPv6 allocator's SipHash key lives in the store (kv record): the same
/// key on every start keeps derived addresses stable (recorded ones are kept anyway).
constexpr std::string_view k_key_ns = "ipv6_allocator";
constexpr std::string_view k_key_name = "key";

std::string ip_text(uint32_t a) {
    char buf[INET_ADDRSTRLEN];
    const uint32_t n = htonl(a);
    return inet_ntop(AF_INET, &n, buf, sizeof buf) ? buf : "?";
}

}  // namespace

std::optional<std::string> allocations::check_vps_id(std::string_view v) {
    if (v.empty() || v.size() > 128) return "vps_id must be 1 to 128 characters";
    for (char c : v) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) return "vps_id may hold letters, digits, '-', '_' and '.' only";
    }
    return std::nullopt;
}

std::optional<std::string> allocations::check_organization_id(std::string_view v) {
    if (v.empty() || v.size() > 255) return "organization_id must be 1 to 255 bytes";
    for (unsigned char c : v) {
        if (c < 0x20 || c == 0x7f) return "organization_id may not hold control characters";
    }
    return std::nullopt;
}

allocations::allocations(leases::lease_store& store, leases::store_lease_book& book, const cfg::config& config,
                         const std::vector<dhcp::network_config>& server_networks, std::vector<std::string>* problems,
                         const std::vector<const leases::lease*>* placements)
    : store_(store), book_(book) {
    pools::ipv6_allocator::key_type key{};
    bool need_key = false;
    for (const auto& nc : config.dhcp.networks) need_key = need_key || nc.ipv6_prefix.has_value();
    if (need_key) {
        const std::vector<uint8_t>* k = store_.find_record(k_key_ns, k_key_name);
        if (k && k->size() == key.size()) {
            std::copy(k->begin(), k->end(), key.begin());
        } else {
            randombytes_buf(key.data(), key.size());
            store_.put_record(k_key_ns, k_key_name, std::span<const uint8_t>(key.data(), key.size()));
        }
    }
    for (size_t i = 0; i < config.dhcp.networks.size() && i < server_networks.size(); ++i) {
        const auto& nc = config.dhcp.networks[i];
        const auto& sn = server_networks[i];
        network n;
        n.id = sn.id;
        n.port = nc.port;
        n.subnet = sn.subnet;
        n.prefix_len = sn.prefix_len;
        n.routers = sn.routers;
        n.dns = sn.dns_servers;
        n.domain = sn.domain_name;
        n.lease_time_s = sn.lease_time_s;
        if (nc.ipv6_prefix) {
            // The gateway's own addresses in the /64 are never handed out.
            std::vector<uint64_t> excluded{1};
            for (const auto& p : config.ports) {
                for (const auto& a : p.ipv6) {
                    if (std::equal(a.addr.bytes.begin(), a.addr.bytes.begin() + 8, nc.ipv6_prefix->addr.bytes.begin())) {
                        uint64_t iid = 0;
                        for (int b = 8; b < 16; ++b) iid = iid << 8 | a.addr.bytes[b];
                        excluded.push_back(iid);
                    }
                }
            }
            n.ipv6.emplace(nc.ipv6_prefix->addr.bytes, key, std::move(excluded));
        }
        networks_.push_back(std::move(n));
    }
    // Recorded /128s are the VMs' own: bind them again exactly (never re-derive). The
    // allocators' tables are sized first (1M allocations: rehashing them as they grow
    // cost about a quarter of the restart).
    std::vector<const leases::lease*> walked;
    if (!placements) {
        for (const auto& [k, rec] : store_.leases()) {
            if (leases::store_lease_book::is_placement_key(k)) walked.push_back(&rec);
        }
        placements = &walked;
    }
    std::vector<std::pair<network*, const leases::lease*>> recorded;
    recorded.reserve(placements->size());
    std::vector<size_t> per_network(networks_.size());
    for (const leases::lease* rec : *placements) {
        if (rec->ipv6 == leases::ipv6_bytes{}) continue;
        network* n = nullptr;
        for (auto& cand : networks_) {
            if (rec->ipv4 - cand.subnet < (uint64_t{1} << (32 - cand.prefix_len))) n = &cand;
        }
        if (!n || !n->ipv6) continue;
        recorded.emplace_back(n, rec);
        ++per_network[static_cast<size_t>(n - networks_.data())];
    }
    for (size_t i = 0; i < networks_.size(); ++i) {
        if (networks_[i].ipv6 && per_network[i] > 0) networks_[i].ipv6->reserve_bindings(per_network[i]);
    }
    for (const auto& [n, rec] : recorded) {
        if (const std::error_code ec = n->ipv6->reserve(rec->vps_id, rec->ipv6); ec && problems) {
            problems->push_back("allocation " + rec->vps_id + ": its IPv6 address: " + ec.message());
        }
    }
}

const allocations::network* allocations::find_network(std::string_view name) const {
    if (name.empty()) return networks_.empty() ? nullptr : &networks_.front();
    for (const auto& n : networks_) {
        if (n.port == name || ip_text(n.subnet) + "/" + std::to_string(n.prefix_len) == name) return &n;
    }
    return nullptr;
}

const allocations::network* allocations::network_of(uint32_t address) const {
    for (const auto& n : networks_) {
        if (address - n.subnet < (uint64_t{1} << (32 - n.prefix_len))) return &n;
    }
    return nullptr;
}

const leases::lease* allocations::find(std::string_view vps_id) const {
    if (!leases::store_lease_book::is_placement_key(vps_id)) return nullptr;
    return store_.find_lease(vps_id);
}

std::vector<const leases::lease*> allocations::list() const {
    std::vector<const leases::lease*> out;
    for (const auto& [k, rec] : store_.leases()) {
        if (leases::store_lease_book::is_placement_key(k)) out.push_back(&rec);
    }
    std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->vps_id < b->vps_id; });
    return out;
}

size_t allocations::count() const { return book_.placements(); }

allocations::outcome allocations::create(std::string_view vps_id, std::string_view organization_id,
                                         const dp::mac_bytes& mac, std::string_view network_name, uint64_t now_s) {
    outcome o;
    const auto fail = [&](errc e, std::string m) {
        o.error = e;
        o.message = std::move(m);
        return o;
    };
    if (networks_.empty()) return fail(errc::not_configured, "no [[dhcp.networks]] are configured to allocate from");
    if (auto why = check_vps_id(vps_id)) return fail(errc::invalid, *why);
    if (auto why = check_organization_id(organization_id)) return fail(errc::invalid, *why);
    const network* net = find_network(network_name);
    if (!net) {
        std::string known;
        for (const auto& n : networks_) known += (known.empty() ? "" : ", ") + n.port;
        return fail(errc::invalid, "no DHCP network \"" + std::string(network_name.substr(0, 64)) +
                                       "\" (a port name or prefix; networks: " + known + ")");
    }
    if (const leases::lease* old = store_.find_lease(vps_id)) {
        // Idempotent: the same request gets the same allocation.
        if (old->mac != mac) {
            return fail(errc::conflict, "vps_id " + std::string(vps_id) + " is allocated to MAC " +
                                            cfg::to_string(cfg::mac_address(old->mac)) + "; delete it first");
        }
        if (old->organization_id != organization_id) {
            return fail(errc::conflict, "vps_id " + std::string(vps_id) + " belongs to another organization_id");
        }
        if (!network_name.empty() && network_of(old->ipv4) != net) {
            return fail(errc::conflict, "vps_id " + std::string(vps_id) + " is allocated in another network");
        }
        o.record = *old;
        o.t = store_.last_ticket();  // it may have been created a moment ago, not durable yet
        return o;
    }
    // The /128 first: nothing is stored if it cannot be had.
    leases::ipv6_bytes v6{};
    network* mnet = &networks_[static_cast<size_t>(net - networks_.data())];
    if (mnet->ipv6) {
        const auto a = mnet->ipv6->allocate(vps_id);
        if (!a) return fail(errc::exhausted, "no free IPv6 address for " + std::string(vps_id) + " (64 probes collided)");
        v6 = *a;
    }
    const auto r = book_.place(net->id, vps_id, organization_id, mac, v6, now_s);
    if (r.error != leases::store_lease_book::place_error::none) {
        if (mnet->ipv6) mnet->ipv6->release(vps_id);
        switch (r.error) {
        case leases::store_lease_book::place_error::mac_in_use:
            return fail(errc::conflict, "MAC " + cfg::to_string(cfg::mac_address(mac)) +
                                            " already has an address reserved in this network (another allocation "
                                            "or a [[vms]] entry)");
        case leases::store_lease_book::place_error::exhausted:
            return fail(errc::exhausted, "the pool of network " + net->port + " has no free address");
        case leases::store_lease_book::place_error::unknown_network:
            return fail(errc::not_configured, "network " + net->port + " is not served");
        default:
            return fail(errc::store_failed, r.detail);
        }
    }
    o.record = *r.record;
    o.created = true;
    o.t = r.t;
    return o;
}

allocations::outcome allocations::remove(std::string_view vps_id) {
    outcome o;
    const leases::lease* rec = find(vps_id);
    if (!rec) {
        o.error = errc::not_found;
        o.message = "no allocation for vps_id " + std::string(vps_id.substr(0, 128));
        return o;
    }
    o.record = *rec;
    if (const network* n = network_of(rec->ipv4); n && n->ipv6) {
        networks_[static_cast<size_t>(n - networks_.data())].ipv6->release(vps_id);
    }
    const auto t = book_.unplace(vps_id);
    o.t = t.value_or(0);
    return o;
}

}  // namespace eg::ctl
