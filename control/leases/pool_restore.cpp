#include "control/leases/pool_restore.hpp"

#include <arpa/inet.h>

namespace eg::ctl::leases {

namespace {
std::string ip4_text(uint32_t a) {
    char buf[INET_ADDRSTRLEN];
    const uint32_t n = htonl(a);
    return inet_ntop(AF_INET, &n, buf, sizeof buf) ? buf : "?";
}
std::string ip6_text(const ipv6_bytes& a) {
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(AF_INET6, a.data(), buf, sizeof buf) ? buf : "?";
}
}  // namespace

restore_report restore_pools(const store_state& st, pools::ipv4_pool_set& v4, pools::ipv6_allocator* v6,
                             int64_t now_s) {
    restore_report r;
    for (const auto& [id, l] : st.leases()) {
        if (l.ipv4 != 0) {
            std::error_code ec;
            if (holds_address(l.state)) {
                ec = v4.reserve(l.ipv4);
                if (!ec) ++r.ipv4_reserved;
            } else if (l.state == lease_state::declined && l.expires_s > now_s) {
                ec = v4.quarantine(l.ipv4, static_cast<uint64_t>(l.expires_s));
                if (!ec) ++r.ipv4_quarantined;
            }
            if (ec) r.problems.push_back(id + ": " + ip4_text(l.ipv4) + ": " + ec.message());
        }
        const bool has_v6 = l.ipv6 != ipv6_bytes{};
        if (v6 && has_v6 && l.state != lease_state::released) {
            if (auto ec = v6->reserve(id, l.ipv6)) {
                r.problems.push_back(id + ": " + ip6_text(l.ipv6) + ": " + ec.message());
            } else {
                ++r.ipv6_bound;
            }
        }
    }
    return r;
}

}  // namespace eg::ctl::leases
