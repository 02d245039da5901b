#include "control/dhcp/server.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "dataplane/headers.hpp"

namespace eg::ctl::dhcp {

namespace {

constexpr uint32_t k_limited_broadcast = 0xffffffff;
constexpr dp::mac_bytes k_broadcast_mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint32_t k_infinite_lease = 0xffffffff;

uint32_t prefix_mask(uint8_t len) { return len ? ~uint32_t{0} << (32 - std::min<uint8_t>(len, 32)) : 0; }

bool in_subnet(const network_config& n, uint32_t addr) {
    return ((addr ^ n.subnet) & prefix_mask(n.prefix_len)) == 0;
}

std::string ip_text(uint32_t a) {
    char b[16];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
    return b;
}

std::string mac_text(const dp::mac_bytes& m) {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

/// Shortest lease a client may ask for: below it, renewal traffic costs more than the
/// lease is worth, so the configured lease is granted instead.
constexpr uint32_t k_min_requested_lease_s = 60;

bool contains(std::span<const uint8_t> list, uint8_t code) {
    return std::find(list.begin(), list.end(), code) != list.end();
}

}  // namespace

std::string_view to_string(reply_route r) {
    switch (r) {
        case reply_route::relay: return "relay";
        case reply_route::unicast_ciaddr: return "unicast_ciaddr";
        case reply_route::broadcast: return "broadcast";
        case reply_route::unicast_chaddr: return "unicast_chaddr";
    }
    return "unknown";
}

std::string_view to_string(counter c) {
    switch (c) {
#define EG_X(name) \
    case counter::name: return #name;
        EG_DHCP_COUNTERS(EG_X)
#undef EG_X
        case counter::count: break;
    }
    return "unknown";
}

std::string_view to_string(drop_reason r) {
    switch (r) {
#define EG_X(name, text) \
    case drop_reason::name: return text;
        EG_DHCP_DROP_REASONS(EG_X)
#undef EG_X
        case drop_reason::count: break;
    }
    return "unknown";
}

struct server::context {
    const message& m;
    const arrival& a;
    uint64_t now_s;
    const network_config& net;
    client_key key;
    dp::mac_bytes mac;
};

server::server(server_config cfg, lease_book& book) : cfg_(std::move(cfg)), book_(book) {}

// ---- input ----------------------------------------------------------------------------

void server::on_frame(uint16_t port, std::span<const uint8_t> frame, uint64_t now_s, std::vector<action>& out) {
    frame_view v;
    const frame_error fe = parse_frame(frame, v);
    if (fe != frame_error::none) {
        ++frame_errors_[static_cast<size_t>(fe)];
        drop(drop_reason::bad_frame);
        return;
    }
    const parse_error pe = parse_message(v.payload, scratch_);
    if (pe != parse_error::none) {
        ++parse_errors_[static_cast<size_t>(pe)];
        drop(drop_reason::malformed);
        return;
    }
    on_message(scratch_, arrival{port, v.addr}, now_s, out);
}

void server::on_message(const message& m, const arrival& a, uint64_t now_s, std::vector<action>& out) {
    if (m.h.op != static_cast<uint8_t>(op_code::boot_request)) {
        drop(drop_reason::not_request);
        return;
    }
    // Bindings and unicast replies are keyed on an Ethernet chaddr; the data plane
    // only carries Ethernet.
    if (!m.h.ethernet()) {
        drop(drop_reason::not_ethernet);
        return;
    }
    const message_type type = m.type();
    if (type == message_type::none) {
        drop(m.options.has(opt::message_type) ? drop_reason::bad_message_type : drop_reason::bootp);
        return;
    }
    const network_config* net = select_network(m, a);
    if (!net) {
        drop(drop_reason::no_network);
        return;
    }
    dp::mac_bytes mac;
    std::memcpy(mac.data(), m.h.chaddr.data(), 6);
    const auto cid = m.options.get(opt::client_id);
    // RFC 2132 §9.14: the identifier is at least 2 bytes (type + value); a shorter
    // one is not a usable identity, so fall back to the hardware address.
    client_key key = m.options.has(opt::client_id) && cid.size() >= 2
                         ? client_key::from_client_id(cid.data(), cid.size())
                         : client_key::from_mac(mac);
    const context c{m, a, now_s, *net, std::move(key), mac};
    switch (type) {
        case message_type::discover: bump(counter::rx_discover); return on_discover(c, out);
        case message_type::request: bump(counter::rx_request); return on_request(c, out);
        case message_type::decline: bump(counter::rx_decline); return on_decline(c, out);
        case message_type::release: bump(counter::rx_release); return on_release(c, out);
        case message_type::inform: bump(counter::rx_inform); return on_inform(c, out);
        default: drop(drop_reason::bad_message_type); return;  // server-to-client types
    }
}

/// RFC 2131 §4.3.1: the subnet is chosen by giaddr when relayed, else by the
/// receiving port. A client renewing by unicast (ciaddr set, no relay) may arrive
/// from elsewhere, so its ciaddr picks the network when it is not the port's.
const network_config* server::select_network(const message& m, const arrival& a) const {
    if (m.h.giaddr != 0) {
        for (const network_config& n : cfg_.networks) {
            if (in_subnet(n, m.h.giaddr)) return &n;
        }
        return nullptr;
    }
    const network_config* on_port = nullptr;
    for (const network_config& n : cfg_.networks) {
        if (n.port && *n.port == a.port) {
            on_port = &n;
            break;
        }
    }
    if (m.h.ciaddr != 0 && !(on_port && in_subnet(*on_port, m.h.ciaddr))) {
        for (const network_config& n : cfg_.networks) {
            if (in_subnet(n, m.h.ciaddr)) return &n;
        }
    }
    return on_port;
}

bool server::is_our_server_id(uint32_t addr) const {
    // Any of our addresses counts (RFC 2131 §4.1 lets a client see another of them).
    return std::any_of(cfg_.networks.begin(), cfg_.networks.end(),
                       [addr](const network_config& n) { return n.server_address == addr; });
}

bool server::assignable(const network_config& net, uint32_t addr) const {
    if (!in_subnet(net, addr) || addr == net.server_address) return false;
    if (net.prefix_len >= 31) return true;  // RFC 3021: no network/broadcast address
    const uint32_t host = addr & ~prefix_mask(net.prefix_len);
    return host != 0 && host != ~prefix_mask(net.prefix_len);
}

uint32_t server::granted_lease(const context& c) const {
    // RFC 2131 §4.3.1: the client may ask for a lease time (51); a shorter one than
    // configured is granted, a longer one is not (Kea's max-valid-lifetime rule).
    const uint32_t configured = c.net.lease_time_s;
    const auto asked = c.m.options.u32(opt::lease_time);
    if (asked && *asked >= k_min_requested_lease_s && *asked < configured) return *asked;
    return configured;
}

bool server::reserved_elsewhere(const context& c, uint32_t addr) const {
    const auto reserved = book_.reserved_address(c.net.id, c.mac);
    if (!reserved || *reserved == addr) return false;
    const auto holder = book_.find_by_address(c.net.id, *reserved, c.now_s);
    return !holder || holder->client == c.key;
}

// ---- DISCOVER -------------------------------------------------------------------------

void server::on_discover(const context& c, std::vector<action>& out) {
    const network_config& net = c.net;
    const uint64_t until = c.now_s + cfg_.offer_hold_s;
    auto try_hold = [&](uint32_t addr) {
        return assignable(net, addr) && book_.hold(net.id, addr, c.key, c.mac, c.now_s, until);
    };
    // RFC 2131 §4.3.1 order, with the platform's reservation first: it is the address
    // this VM is meant to have.
    uint32_t addr = 0;
    uint32_t lease_s = granted_lease(c);
    const auto current = book_.find_by_client(net.id, c.key, c.now_s);
    if (const auto r = book_.reserved_address(net.id, c.mac); r && try_hold(*r)) {
        addr = *r;
    }
    if (!addr && current && try_hold(current->address)) addr = current->address;
    // §4.3.1: a client with a current binding is offered its existing expiry, not a
    // silent extension (the REQUEST that follows extends it).
    if (current && addr == current->address && current->state == lease_state::bound &&
        current->expires_s != k_infinite && current->expires_s > c.now_s) {
        lease_s = static_cast<uint32_t>(std::min<uint64_t>(lease_s, current->expires_s - c.now_s));
    }
    if (!addr) {
        if (const auto r = c.m.options.u32(opt::requested_address); r && try_hold(*r)) addr = *r;
    }
    // A pool drawn as the whole subnet also holds the network, broadcast and our own
    // address; those come back from the allocator, are handed back and skipped (a
    // next-free cursor has moved past them). Four tries cover them in any order.
    for (int tries = 0; !addr && tries < 4; ++tries) {
        const auto a = book_.hold_any(net.id, c.key, c.mac, c.now_s, until);
        if (!a) break;
        if (assignable(net, *a)) {
            addr = *a;
        } else {
            book_.drop_hold(net.id, *a, c.key);
        }
    }
    if (!addr) {
        bump(counter::pool_exhausted);
        log(out, log_action::warning, "exhausted:" + std::to_string(net.id), c.now_s,
            "dhcp: no free address in network " + ip_text(net.subnet) + "/" + std::to_string(net.prefix_len) +
                " for " + mac_text(c.mac) + "; no offer made");
        return;
    }
    send_action s;
    if (!make_reply(c, message_type::offer, addr, lease_s, {}, s)) return;
    bump(counter::tx_offer);
    emit(std::move(s), k_no_ticket, out);
}

// ---- REQUEST --------------------------------------------------------------------------

void server::on_request(const context& c, std::vector<action>& out) {
    const network_config& net = c.net;
    const message& m = c.m;
    const auto server_id = m.options.u32(opt::server_id);
    const auto requested = m.options.u32(opt::requested_address);

    // RFC 2131 §4.3.2 tells the client's state from options 54/50 and ciaddr.
    request_state state;
    uint32_t addr;
    if (m.options.has(opt::server_id)) {
        if (!server_id || !is_our_server_id(*server_id)) {
            // The client took another server's offer: ours is declined (§3.1 step 4).
            bump(counter::other_server_selected);
            if (requested) book_.drop_hold(net.id, *requested, c.key);
            drop(drop_reason::not_for_us);
            return;
        }
        state = request_state::selecting;
        addr = requested ? *requested : m.h.ciaddr;
    } else if (requested && m.h.ciaddr == 0) {
        state = request_state::init_reboot;
        addr = *requested;
    } else if (m.h.ciaddr != 0) {
        // Unicast to us: RENEWING; broadcast: REBINDING (§4.4.5).
        const bool broadcast = c.a.from.dst_ip == k_limited_broadcast || dp::is_broadcast_mac(c.a.from.dst_mac.data());
        state = broadcast ? request_state::rebinding : request_state::renewing;
        addr = m.h.ciaddr;
    } else {
        drop(drop_reason::missing_address);
        return;
    }
    if (addr == 0) {
        drop(drop_reason::missing_address);
        return;
    }
    switch (state) {
        case request_state::selecting: bump(counter::request_selecting); break;
        case request_state::init_reboot: bump(counter::request_init_reboot); break;
        case request_state::renewing: bump(counter::request_renewing); break;
        case request_state::rebinding: bump(counter::request_rebinding); break;
    }

    if (!assignable(net, addr)) {
        // Wrong network (moved to another subnet) or an address no one can have.
        return send_nak(c, "address not valid on this network", out);
    }
    if (state != request_state::selecting) {
        const auto known = book_.find_by_client(net.id, c.key, c.now_s);
        if (!known) {
            // §4.3.2: no record of the client → silent, unless we know the address
            // belongs to someone else or we are configured authoritative.
            const auto holder = book_.find_by_address(net.id, addr, c.now_s);
            if ((holder && holder->client != c.key) || cfg_.authoritative) {
                return send_nak(c, "address not leased to this client", out);
            }
            drop(drop_reason::unknown_client);
            return;
        }
        if (known->address != addr) return send_nak(c, "address not leased to this client", out);
    }
    if (reserved_elsewhere(c, addr)) return send_nak(c, "client has another reserved address", out);
    if (!book_.hold(net.id, addr, c.key, c.mac, c.now_s, c.now_s + cfg_.offer_hold_s)) {
        return send_nak(c, "address not available", out);
    }
    lease l;
    l.network = net.id;
    l.address = addr;
    l.client = c.key;
    l.mac = c.mac;
    l.state = lease_state::bound;
    const uint32_t lease_s = granted_lease(c);
    l.expires_s = lease_s == k_infinite_lease ? k_infinite : c.now_s + lease_s;

    send_action s;
    if (!make_reply(c, message_type::ack, addr, lease_s, {}, s)) return;
    const ticket t = book_.commit(l);
    bump(counter::leases_bound);
    out.push_back(lease_action{lease_action::bound, l, t});
    bump(counter::tx_ack);
    emit(std::move(s), t, out);
}

// ---- DECLINE / RELEASE / INFORM ---------------------------------------------------------

void server::on_decline(const context& c, std::vector<action>& out) {
    const auto server_id = c.m.options.u32(opt::server_id);
    if (c.m.options.has(opt::server_id) && (!server_id || !is_our_server_id(*server_id))) {
        drop(drop_reason::not_for_us);
        return;
    }
    const auto addr = c.m.options.u32(opt::requested_address);  // §4.3.3: MUST be there
    if (!addr) {
        drop(drop_reason::missing_address);
        return;
    }
    // Only the address's holder may take it out of service; anyone else could drain
    // the pool with forged DECLINEs (Kea's lease sanity check does the same).
    const auto holder = book_.find_by_address(c.net.id, *addr, c.now_s);
    if (!holder || holder->client != c.key ||
        (holder->state != lease_state::bound && holder->state != lease_state::offered)) {
        drop(drop_reason::decline_mismatch);
        return;
    }
    const uint64_t until = c.now_s + cfg_.decline_quarantine_s;
    const ticket t = book_.quarantine(c.net.id, *addr, until);
    bump(counter::addresses_declined);
    lease l = *holder;
    l.state = lease_state::quarantined;
    l.expires_s = until;
    out.push_back(lease_action{lease_action::declined, l, t});
    // §4.3.3: SHOULD notify the administrator.
    log(out, log_action::warning, "decline", c.now_s,
        "dhcp: " + mac_text(c.mac) + " declined " + ip_text(*addr) + " (in use by another host?); quarantined for " +
            std::to_string(cfg_.decline_quarantine_s) + " s");
}

void server::on_release(const context& c, std::vector<action>& out) {
    const auto server_id = c.m.options.u32(opt::server_id);
    if (c.m.options.has(opt::server_id) && (!server_id || !is_our_server_id(*server_id))) {
        drop(drop_reason::not_for_us);
        return;
    }
    const uint32_t addr = c.m.h.ciaddr;  // §4.4.6: the released address is in ciaddr
    const auto holder = addr ? book_.find_by_address(c.net.id, addr, c.now_s) : std::nullopt;
    if (!holder || holder->client != c.key || holder->state != lease_state::bound) {
        drop(drop_reason::release_mismatch);
        return;
    }
    const ticket t = book_.release(c.net.id, addr, c.key, c.now_s);
    bump(counter::leases_released);
    lease l = *holder;
    l.state = lease_state::released;
    out.push_back(lease_action{lease_action::released, l, t});
}

void server::on_inform(const context& c, std::vector<action>& out) {
    // §4.3.5: configuration only — no lease time, yiaddr stays zero, ACK to ciaddr.
    send_action s;
    if (!make_reply(c, message_type::ack, 0, std::nullopt, {}, s)) return;
    bump(counter::tx_ack);
    emit(std::move(s), k_no_ticket, out);
}

// ---- replies --------------------------------------------------------------------------

bool server::make_reply(const context& c, message_type type, uint32_t yiaddr, std::optional<uint32_t> lease_s,
                        std::string_view nak_text, send_action& s) {
    const message& m = c.m;
    const network_config& net = c.net;
    const bool nak = type == message_type::nak;
    const bool inform = m.type() == message_type::inform;

    // RFC 2131 §4.3.1 Table 3.
    header h;
    h.op = static_cast<uint8_t>(op_code::boot_reply);
    h.htype = m.h.htype;
    h.hlen = m.h.hlen;
    h.xid = m.h.xid;
    h.flags = m.h.flags;
    if (nak && m.h.giaddr != 0) h.flags |= k_flag_broadcast;  // §4.3.2: the relay must broadcast it
    h.ciaddr = (type == message_type::ack) ? m.h.ciaddr : 0;
    h.yiaddr = nak ? 0 : yiaddr;
    h.giaddr = m.h.giaddr;
    h.chaddr = m.h.chaddr;

    // Largest reply the client takes (RFC 2132 §9.10, counted as the IP datagram like
    // ISC dhcpd and dnsmasq), never below the 576 every host accepts, never above one
    // Ethernet frame of the network's MTU.
    const size_t mtu_payload = (net.mtu >= 576 ? net.mtu : 1500) - 28;
    size_t max_payload = k_default_max_payload;
    if (const auto mms = m.options.u16(opt::max_message_size); mms && *mms > 576) {
        max_payload = std::min<size_t>(*mms - 28u, mtu_payload);
    }
    s.payload.assign(max_payload, 0);
    message_writer w(s.payload, max_payload, h);
    option_writer& o = w.options();

    // Mandatory options first, so they always fit.
    o.add_u8(opt::message_type, static_cast<uint8_t>(type));
    o.add_u32(opt::server_id, net.server_address);
    if (lease_s) {
        o.add_u32(opt::lease_time, *lease_s);
        if (*lease_s != k_infinite_lease) {
            // Configured timers apply while they fit the granted lease (a client may
            // have asked for a shorter one); else the RFC 2131 §4.4.5 fractions.
            const uint32_t t1 = net.renewal_time_s && net.renewal_time_s < *lease_s ? net.renewal_time_s
                                                                                   : *lease_s / 2;
            const uint32_t t2 = net.rebinding_time_s && net.rebinding_time_s < *lease_s
                                    ? net.rebinding_time_s
                                    : static_cast<uint32_t>(uint64_t{*lease_s} * 7 / 8);
            // Kea's rule: T2 only if shorter than the lease, T1 only if shorter than T2.
            const bool send_t2 = t2 < *lease_s;
            if (t1 < *lease_s && (!send_t2 || t1 < t2)) o.add_u32(opt::renewal_time, t1);
            if (send_t2) o.add_u32(opt::rebinding_time, t2);
        }
    }
    if (nak && !nak_text.empty()) o.add_string(opt::message, nak_text);
    // RFC 6842 §3: the client identifier goes back whenever the client sent one.
    if (m.options.has(opt::client_id)) o.add(opt::client_id, m.options.get(opt::client_id));
    // RFC 3046 §2.2: option 82 echoed verbatim as the last option; keep room for it.
    const bool relay_info = m.options.has(opt::relay_agent_info);
    const auto rai = m.options.get(opt::relay_agent_info);
    const size_t area = max_payload - k_min_message;
    if (relay_info) o.set_limit(area - std::min(area, option_writer::encoded_size(rai.size())));

    if (!nak) {
        const auto prl = m.options.get(opt::parameter_request_list);
        auto asked = [&](uint8_t code) { return contains(prl, code); };
        bool omitted = false;
        auto note = [&](bool ok) { omitted |= !ok; };
        // RFC 2132 §3.3: subnet mask before router.
        note(o.add_u32(opt::subnet_mask, prefix_mask(net.prefix_len)));
        if (!net.routers.empty()) note(o.add_addrs(opt::router, net.routers));
        if (!net.dns_servers.empty()) note(o.add_addrs(opt::dns_servers, net.dns_servers));
        if (!net.domain_name.empty()) note(o.add_string(opt::domain_name, net.domain_name));
        if (net.mtu && asked(opt::interface_mtu)) note(o.add_u16(opt::interface_mtu, net.mtu));
        if (asked(opt::broadcast_address)) {
            note(o.add_u32(opt::broadcast_address, net.subnet | ~prefix_mask(net.prefix_len)));
        }
        // RFC 3442: only to clients that ask; include the default route, since such a
        // client ignores option 3.
        if (asked(opt::classless_routes) && (!net.classless_routes.empty() || !net.routers.empty())) {
            std::vector<classless_route> routes = net.classless_routes;
            const bool has_default =
                std::any_of(routes.begin(), routes.end(), [](const classless_route& r) { return r.prefix_len == 0; });
            if (!has_default && !net.routers.empty()) routes.push_back({0, 0, net.routers.front()});
            uint8_t buf[1024];
            const size_t n = encode_classless_routes(routes, buf);
            if (n) note(o.add(opt::classless_routes, std::span<const uint8_t>(buf, n)));
        }
        if (omitted) bump(counter::options_omitted);
    }
    if (relay_info) {
        o.raise_limit_to_area();
        if (!o.add(opt::relay_agent_info, rai)) {
            drop(drop_reason::no_room);  // cannot echo what the relay needs to route it back
            return false;
        }
    }
    const size_t len = w.finish();
    if (len == 0) {
        drop(drop_reason::no_room);
        return false;
    }
    s.payload.resize(len);
    s.type = type;

    // Addressing, RFC 2131 §4.1.
    s.port = c.a.port;
    s.to = frame_addresses{};
    s.to.src_ip = net.server_address;
    s.to.src_port = k_server_port;
    s.to.dst_port = k_client_port;
    s.to.vlan_tags = c.a.from.vlan_tags;
    s.to.vlan_tags_len = c.a.from.vlan_tags_len;
    const uint32_t ciaddr = m.h.ciaddr ? m.h.ciaddr : (inform ? c.a.from.src_ip : 0);
    if (m.h.giaddr != 0) {
        // The relay sent us this frame, so its link address is the frame's source.
        s.route = reply_route::relay;
        s.to.dst_ip = m.h.giaddr;
        s.to.dst_port = k_server_port;
        s.to.dst_mac = c.a.from.src_mac;
    } else if (nak) {
        s.route = reply_route::broadcast;  // §4.1: NAKs without a relay are broadcast
    } else if (ciaddr != 0) {
        s.route = reply_route::unicast_ciaddr;
        s.to.dst_ip = ciaddr;
        s.to.dst_mac = c.a.from.src_mac;  // the client, or the router it came through
    } else if (m.h.broadcast() || yiaddr == 0) {
        s.route = reply_route::broadcast;
    } else {
        s.route = reply_route::unicast_chaddr;
        s.to.dst_ip = yiaddr;
        s.to.dst_mac = c.mac;
    }
    if (s.route == reply_route::broadcast) {
        s.to.dst_ip = k_limited_broadcast;
        s.to.dst_mac = k_broadcast_mac;
    }
    return true;
}

void server::send_nak(const context& c, std::string_view why, std::vector<action>& out) {
    send_action s;
    if (!make_reply(c, message_type::nak, 0, std::nullopt, why, s)) return;
    bump(counter::tx_nak);
    emit(std::move(s), k_no_ticket, out);
}

void server::emit(send_action&& s, ticket t, std::vector<action>& out) {
    if (t == k_no_ticket || t <= durable_) {
        out.push_back(std::move(s));
        return;
    }
    if (held_.size() >= cfg_.max_held_replies) {
        // The binding is recorded; the client retransmits and gets its ACK then.
        drop(drop_reason::held_queue_full);
        return;
    }
    bump(counter::replies_held);
    held_.push_back({t, std::move(s)});
}

void server::on_durable(ticket t, std::vector<action>& out) {
    durable_ = std::max(durable_, t);
    // Kept in arrival order; a journal hands out increasing tickets, so this is
    // usually a prefix.
    auto keep = held_.begin();
    for (auto it = held_.begin(); it != held_.end(); ++it) {
        if (it->t <= durable_) {
            out.push_back(std::move(it->send));
        } else {
            if (keep != it) *keep = std::move(*it);
            ++keep;
        }
    }
    held_.erase(keep, held_.end());
}

void server::on_persist_failed(ticket t, std::vector<action>& out) {
    const size_t before = held_.size();
    std::erase_if(held_, [t](const held_reply& h) { return h.t <= t; });
    const size_t dropped = before - held_.size();
    if (dropped == 0) return;
    counters_[static_cast<size_t>(counter::persist_failed)] += dropped;
    drops_[static_cast<size_t>(drop_reason::persist_failed)] += dropped;
    out.push_back(log_action{log_action::warning, "dhcp: lease journal failed up to ticket " + std::to_string(t) +
                                                      "; " + std::to_string(dropped) + " ACKs not sent"});
}

void server::log(std::vector<action>& out, log_action::level_t level, std::string_view kind, uint64_t now_s,
                 std::string text) {
    // One line per kind per log_interval_s: a flood of DISCOVERs into a full pool must
    // not become a flood of log lines.
    auto it = log_limits_.find(kind);
    if (it == log_limits_.end()) it = log_limits_.emplace(std::string(kind), rate_limit{}).first;
    rate_limit& r = it->second;
    if (r.logged && now_s - r.last_s < cfg_.log_interval_s) {
        ++r.suppressed;
        return;
    }
    if (r.suppressed) text += " (" + std::to_string(r.suppressed) + " similar suppressed)";
    r.logged = true;
    r.last_s = now_s;
    r.suppressed = 0;
    out.push_back(log_action{level, std::move(text)});
}

}  // namespace eg::ctl::dhcp
