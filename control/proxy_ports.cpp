#include "control/proxy_ports.hpp"

#include "config/config.hpp"

namespace eg::ctl {

std::string_view to_string(proxy_port_errc e) {
    switch (e) {
    case proxy_port_errc::ok: return "ok";
    case proxy_port_errc::bad_organization: return "bad_organization";
    case proxy_port_errc::out_of_range: return "out_of_range";
    case proxy_port_errc::taken: return "taken";
    case proxy_port_errc::exhausted: return "exhausted";
    case proxy_port_errc::not_found: return "not_found";
    }
    return "unknown";
}

proxy_port_table::proxy_port_table(uint16_t first, uint16_t last) : first_(first), last_(last), cursor_(first) {}

void proxy_port_table::reserve(uint16_t port, std::string vm_name) { reserved_.emplace(port, std::move(vm_name)); }

std::string proxy_port_table::holder_of(uint16_t port, bool with_runtime) const {
    if (auto it = by_port_.find(port); it != by_port_.end()) return "org:" + it->second;
    if (auto it = reserved_.find(port); it != reserved_.end()) return "vm:" + it->second;
    if (auto it = runtime_.find(port); with_runtime && it != runtime_.end()) return "vm:" + it->second;
    return {};
}

std::optional<uint16_t> proxy_port_table::port_of(std::string_view org) const {
    if (auto it = by_org_.find(org); it != by_org_.end()) return it->second;
    return std::nullopt;
}

size_t proxy_port_table::free_ports() const {
    size_t used = 0;
    for (const auto& [p, o] : by_port_) used += p >= first_ && p <= last_;
    for (const auto& [p, v] : reserved_) used += p >= first_ && p <= last_ && !by_port_.contains(p);
    for (const auto& [p, v] : runtime_) {
        used += p >= first_ && p <= last_ && !by_port_.contains(p) && !reserved_.contains(p);
    }
    return size_t{last_} - first_ + 1 - used;
}

proxy_port_table::result proxy_port_table::assign(std::string_view org) {
    if (!cfg::valid_organization_id(org)) return {proxy_port_errc::bad_organization};
    if (auto p = port_of(org)) return {proxy_port_errc::ok, *p, false, {}};
    const uint32_t span = uint32_t{last_} - first_ + 1;
    for (uint32_t i = 0; i < span; ++i) {
        uint32_t p = cursor_ + i;
        if (p > last_) p -= span;
        const auto port = static_cast<uint16_t>(p);
        if (held(port)) continue;
        by_port_.emplace(port, std::string(org));
        by_org_.emplace(std::string(org), port);
        cursor_ = p == last_ ? first_ : p + 1;
        return {proxy_port_errc::ok, port, true, {}};
    }
    return {proxy_port_errc::exhausted};
}

proxy_port_table::result proxy_port_table::pin(std::string_view org, uint16_t port) {
    if (!cfg::valid_organization_id(org)) return {proxy_port_errc::bad_organization};
    if (port < first_ || port > last_) return {proxy_port_errc::out_of_range, port};
    const auto current = port_of(org);
    if (current == port) return {proxy_port_errc::ok, port, false, {}};
    if (std::string h = holder_of(port); !h.empty()) return {proxy_port_errc::taken, port, false, std::move(h)};
    if (current) by_port_.erase(*current);
    by_port_[port] = std::string(org);
    by_org_.insert_or_assign(std::string(org), port);
    return {proxy_port_errc::ok, port, true, {}};
}

proxy_port_table::result proxy_port_table::erase(std::string_view org) {
    auto it = by_org_.find(org);
    if (it == by_org_.end()) return {proxy_port_errc::not_found};
    const uint16_t port = it->second;
    by_port_.erase(port);
    by_org_.erase(it);
    return {proxy_port_errc::ok, port, true, {}};
}

std::string encode_proxy_port(uint16_t port) { return std::to_string(port); }

std::optional<uint16_t> decode_proxy_port(const std::vector<uint8_t>& value) {
    if (value.empty() || value.size() > 5) return std::nullopt;
    uint32_t v = 0;
    for (uint8_t c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (v < 1 || v > 65535 || (value.size() > 1 && value[0] == '0')) return std::nullopt;
    return static_cast<uint16_t>(v);
}

std::vector<std::string> restore_proxy_ports(proxy_port_table& table, const leases::store_state::record_map& records) {
    std::vector<std::string> problems;
    auto ns = records.find(k_proxy_port_namespace);
    if (ns == records.end()) return problems;
    for (const auto& [org, value] : ns->second) {
        const auto port = decode_proxy_port(value);
        if (!cfg::valid_organization_id(org) || !port) {
            problems.push_back("proxy_port record " + std::string(org.substr(0, 64)) + ": not a valid organization id "
                               "and port; ignored");
            continue;
        }
        if (std::string h = table.holder_of(*port); !h.empty()) {
            problems.push_back("proxy_port record " + org + ": port " + std::to_string(*port) + " is already " + h +
                               "'s; ignored");
            continue;
        }
        // A direct insert: a port outside the current range stays with its user.
        table.restore_(org, *port);
    }
    return problems;
}

}  // namespace eg::ctl
