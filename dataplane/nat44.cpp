#include "dataplane/nat44.hpp"

#include <cstring>

#include "dataplane/headers.hpp"
#include "dataplane/nat44_translate.hpp"

namespace eg::dp {

namespace {

// TCP state bits kept in session::state (RFC 5382 §5, RFC 7857 §2.2): a session is
// "established" (long timeout) once both directions were seen and neither a FIN nor a
// RST; anything else is transitory (4 min by default).
constexpr uint8_t k_seen_out = 1, k_seen_in = 2, k_fin_out = 4, k_fin_in = 8, k_rst = 16;

timeout_class tcp_class(uint8_t st) {
    return (st & (k_seen_out | k_seen_in)) == (k_seen_out | k_seen_in) && !(st & (k_fin_out | k_fin_in | k_rst))
               ? timeout_class::tcp_established
               : timeout_class::tcp_transitory;
}

timeout_class initial_class(uint8_t proto) {
    return proto == proto::tcp ? timeout_class::tcp_transitory
           : proto == proto::udp ? timeout_class::udp
                                 : timeout_class::icmp;
}

flow_key tuple_key(const nat_tuple& t) {
    return make_flow_key(t.src_addr, t.src_port, t.dst_addr, t.dst_port, t.proto);
}

/// The keys of a VM socket's endpoint-independent mapping (a `held` record): found from
/// the inside by the socket, from the outside by the public address:port it holds.
flow_key mapping_inside_key(uint32_t vm_addr, uint16_t vm_port, uint8_t proto) {
    return make_flow_key(vm_addr, vm_port, 0, 0, proto, k_key_mapping);
}
flow_key mapping_outside_key(uint32_t public_addr, uint16_t public_port, uint8_t proto) {
    return make_flow_key(0, 0, public_addr, public_port, proto, k_key_mapping);
}

/// The outside key of a session to remote:remote_port under mapping m (its replies
/// come from there to the mapping's public address:port).
flow_key session_outside_key(uint32_t remote, uint16_t remote_port, const session& m, uint8_t proto) {
    return make_flow_key(remote, remote_port, m.outside.dst_addr, m.outside.dst_port, proto);
}

/// track()'s TCP part: follows the flags of a packet of TCP session r.
void track_tcp(flow_table& t, uint32_t id, const session& r, const packet& p, bool outbound) {
    const uint8_t flags = tcp_flags(p);
    uint8_t ns = r.state;
    if ((flags & tcp_flag::syn) && !(flags & tcp_flag::ack) && (ns & (k_fin_out | k_fin_in | k_rst))) {
        ns = 0;  // a new connection on a closed one's 5-tuple
    }
    ns |= outbound ? k_seen_out : k_seen_in;
    if (flags & tcp_flag::fin) {
        ns |= outbound ? k_fin_out : k_fin_in;
    }
    if (flags & tcp_flag::rst) {
        ns |= k_rst;
    }
    if (ns != r.state) [[unlikely]] {
        t.set_state(id, ns, tcp_class(ns));
    }
}

/// Per packet: refreshes the session and follows TCP's flags. Writes the record only
/// when the state changes (the first packet each way, FIN, RST, a new SYN). Inline: the
/// touch is one store, and only TCP needs more.
inline void track(nat44_state& st, uint32_t id, const packet& p, bool outbound, uint32_t now_s) {
    flow_table& t = st.table();
    t.touch(id, now_s);
    const session& r = t.at(id);
    if (r.inside.proto == proto::tcp) {
        track_tcp(t, id, r, p, outbound);
    }
}

void emit(nat44_state& st, worker_counters& c, nat44_event::kind_t kind, uint32_t vm, uint32_t now_s,
          const flow_key& inside, const flow_key& outside) {
    nat44_event e;
    e.kind = kind;
    e.vm = vm;
    e.time_s = now_s;
    e.inside = inside;
    e.outside = outside;
    if (!st.emit(e)) {
        c.nat_events_lost.add();
    }
}

/// A warning about VM `vm` (quota, ports), at most once a second per VM and worker.
void warn(nat44_state& st, worker_counters& c, nat44_event::kind_t kind, uint32_t vm, uint32_t now_s,
          const nat_tuple& t) {
    if (st.warn_allowed(vm, now_s)) {
        emit(st, c, kind, vm, now_s, tuple_key(t), flow_key{});
    }
}

bool over_quota(nat44_state& st, const nat_vm& vm, uint32_t vm_index) {
    return vm.max_sessions != 0 && st.vm_session_count(vm_index) >= vm.max_sessions;
}

/// Inserts a session under mapping `mapping` (counted, logged). k_no_session when the
/// table is full (the caller drops).
uint32_t add_session(nat44_state& st, const nat44_policy& pol, worker_context& w, uint32_t vm_index,
                     uint32_t mapping, const flow_key& inside, const flow_key& outside, uint8_t state) {
    session_init init;
    init.owner_vm = vm_index;
    init.user = mapping;
    init.state = state;
    init.tclass = initial_class(inside.proto);
    // Absent: the caller just missed `inside`, and `outside` carries its mapping's own
    // public port (only this socket's sessions have it; they have this inside key).
    const uint32_t id = st.table().insert_absent(inside, outside, init, w.now_s);
    if (id == k_no_session) {
        return id;
    }
    st.note_opened(inside);
    st.note_opened(outside);
    ++st.refs(mapping);
    st.vm_session_opened(vm_index);
    w.counters.nat_sessions_created.add();
    if (pol.log_sessions) {
        emit(st, w.counters, nat44_event::session_created, vm_index, w.now_s, inside, outside);
    }
    return id;
}

/// Erases a mapping nobody uses any more and gives its port back.
void drop_mapping(nat44_state& st, uint32_t mapping) {
    const session& m = st.table().at(mapping);
    st.release_port(m.outside.dst_addr, m.outside.dst_port, m.outside.proto);
    st.table().erase(mapping);
}

/// A new outbound session for VM `vm_index` with tuple t (proxy: toward the upstream
/// proxy at the VM's port). Endpoint-independent mapping: the VM's socket keeps the
/// public port it already has; otherwise its source port when free, else a random
/// free one of this worker's slice. k_no_session: dropped and counted.
uint32_t create_outbound(packet& p, const nat44_policy& pol, worker_context& w, uint32_t vm_index,
                         const nat_tuple& t, bool proxy) {
    nat44_state& st = *w.nat;
    const nat_vm& vm = pol.vms[vm_index];
    if (over_quota(st, vm, vm_index)) [[unlikely]] {
        w.drop(p, drop_reason::nat_quota_exceeded);
        warn(st, w.counters, nat44_event::quota_exceeded, vm_index, w.now_s, t);
        return k_no_session;
    }
    flow_table& table = st.table();
    const flow_key map_in = mapping_inside_key(t.src_addr, t.src_port, t.proto);
    uint32_t mapping = table.lookup(map_in);
    if (mapping == k_no_session) {
        const uint16_t port = st.allocate_port(vm, t.proto, t.src_port);
        if (port == 0) [[unlikely]] {
            w.drop(p, drop_reason::nat_no_free_port);
            warn(st, w.counters, nat44_event::ports_exhausted, vm_index, w.now_s, t);
            return k_no_session;
        }
        session_init init;
        init.owner_vm = vm_index;
        init.tclass = timeout_class::held;
        // Absent: map_in just missed, and the port was free in this worker's pool.
        mapping = table.insert_absent(map_in, mapping_outside_key(vm.public_addr, port, t.proto), init, w.now_s);
        if (mapping == k_no_session) [[unlikely]] {
            st.release_port(vm.public_addr, port, t.proto);
            w.drop(p, drop_reason::nat_table_full);
            return k_no_session;
        }
        st.refs(mapping) = 0;
    }
    const session& m = table.at(mapping);
    const uint32_t remote = proxy ? pol.proxy_upstream : t.dst_addr;
    const uint16_t remote_port = proxy ? vm.proxy_port : t.dst_port;
    const flow_key inside = tuple_key(t);
    const flow_key outside = session_outside_key(remote, remote_port, m, t.proto);
    const uint32_t id = add_session(st, pol, w, vm_index, mapping, inside, outside,
                                    t.proto == proto::tcp ? k_seen_out : 0);
    if (id == k_no_session) [[unlikely]] {
        if (st.refs(mapping) == 0) {
            drop_mapping(st, mapping);
        }
        w.drop(p, drop_reason::nat_table_full);
    }
    return id;
}

/// Endpoint-independent filtering (RFC 4787 REQ-8): an inbound packet to a mapped
/// public address:port opens a session to the VM behind it, whoever sent it.
uint32_t create_inbound(packet& p, const nat44_policy& pol, worker_context& w, const nat_tuple& t) {
    nat44_state& st = *w.nat;
    flow_table& table = st.table();
    const uint32_t mapping = table.lookup(mapping_outside_key(t.dst_addr, t.dst_port, t.proto));
    if (mapping == k_no_session) {
        return k_no_session;
    }
    const session& m = table.at(mapping);
    const uint32_t vm_index = m.owner_vm;
    if (vm_index >= pol.vms.size()) {
        return k_no_session;
    }
    if (over_quota(st, pol.vms[vm_index], vm_index)) [[unlikely]] {
        w.drop(p, drop_reason::nat_quota_exceeded);
        warn(st, w.counters, nat44_event::quota_exceeded, vm_index, w.now_s, t);
        return k_no_session;
    }
    const flow_key inside = make_flow_key(m.inside.src_addr, m.inside.src_port, t.src_addr, t.src_port, t.proto);
    const uint32_t id =
        add_session(st, pol, w, vm_index, mapping, inside, tuple_key(t), t.proto == proto::tcp ? k_seen_in : 0);
    if (id == k_no_session) [[unlikely]] {
        w.drop(p, drop_reason::nat_table_full);
    }
    return id;
}

bool is_proxy_flow(const nat44_policy& pol, const nat_vm& vm, const nat_tuple& t) {
    return vm.egress == nat_egress::proxy && t.proto == proto::tcp && t.dst_addr == pol.proxy_service_addr &&
           t.dst_port == pol.proxy_service_port && !(t.flags & nat_tuple::icmp_error);
}

/// A forward's target answering from a forwarded port (t: the packet, or an ICMP error's
/// quoted packet reversed; both start at the VM's address and port): the forward whose
/// public address and port the reply leaves from, with that port in `public_port`. Null
/// when t is not such a reply. Forwards are stateless, so this is how their replies are
/// told apart from the VM's own egress, whatever the VM's egress policy.
const nat_forward* forward_of_reply(const nat44_policy& pol, const nat_tuple& t, uint16_t& public_port) {
    if (t.proto != proto::tcp && t.proto != proto::udp) {
        return nullptr;
    }
    const uint32_t f = pol.forward_out.find(nat44_policy::forward_key(t.proto, t.src_addr, t.src_port));
    if (f == flat_map::k_missing) {
        return nullptr;
    }
    const nat_forward& fw = pol.forwards[f];
    public_port = static_cast<uint16_t>(fw.port_first + (t.src_port - fw.to_port));
    return &fw;
}

/// Rewrites an outbound packet of session r: source := public side; destination := the
/// outside key's remote where it differs (proxy: twice NAT). The first rewrite calls
/// the always-inline body: GCC keeps the nat44_rewrite_src/dst wrappers out of line,
/// a call on every NATed packet (~4 instructions); a proxied flow's second one is rare.
void rewrite_out(packet& p, const session& r) {
    detail::nat44_rewrite(p, 0, r.outside.dst_addr, r.outside.dst_port);
    if (r.outside.src_addr != r.inside.dst_addr || r.outside.src_port != r.inside.dst_port) {
        nat44_rewrite_dst(p, r.outside.src_addr, r.outside.src_port);
    }
}

void rewrite_in(packet& p, const session& r) {
    detail::nat44_rewrite(p, 1, r.inside.src_addr, r.inside.src_port);
    if (r.outside.src_addr != r.inside.dst_addr || r.outside.src_port != r.inside.dst_port) {
        nat44_rewrite_src(p, r.inside.dst_addr, r.inside.dst_port);
    }
}

/// remember_fragment()'s note, for a first fragment (MF set).
[[gnu::cold]] void note_first_fragment(nat44_state& st, uint32_t before_src, uint32_t before_dst, const packet& p,
                                           uint32_t now_s) {
    const uint8_t* ip = p.l3();
    const uint32_t new_src = load32(ip + ipv4::src), new_dst = load32(ip + ipv4::dst);
    st.fragments().remember(before_src, before_dst, ip[ipv4::proto], load16(ip + ipv4::id),
                            new_src != before_src ? new_src : 0, new_dst != before_dst ? new_dst : 0, now_s);
}

/// A first fragment leaves its translation for the datagram's later fragments.
/// `before_src` / `before_dst`: its addresses before the rewrite. Inline: nearly every
/// packet is whole, and only needs the MF bit looked at.
inline void remember_fragment(nat44_state& st, uint32_t before_src, uint32_t before_dst, const packet& p,
                              uint32_t now_s) {
    if (load16(p.l3() + ipv4::frag) & ipv4::flag_mf) [[unlikely]] {
        note_first_fragment(st, before_src, before_dst, p, now_s);
    }
}

/// Inbound first fragments record their translation when it is decided (step 2), so
/// that later fragments of the same burst, decided after them, find it.
void remember_inbound_fragment(worker_context& w, const packet& p, uint32_t new_src, uint32_t new_dst) {
    const uint8_t* ip = p.l3();
    if (!(load16(ip + ipv4::frag) & ipv4::flag_mf) || !w.nat) [[likely]] {
        return;  // (non-first fragments never get here: they have no ports)
    }
    w.nat->fragments().remember(load32(ip + ipv4::src), load32(ip + ipv4::dst), ip[ipv4::proto],
                                load16(ip + ipv4::id), new_src, new_dst, w.now_s);
}

/// A non-first fragment takes its datagram's translation: sets the op, false when the
/// first fragment has not been seen.
bool follow_fragment(packet& p, worker_context& w) {
    const uint8_t* ip = p.l3();
    const nat44_fragment_table::entry* e =
        w.nat ? w.nat->fragments().find(load32(ip + ipv4::src), load32(ip + ipv4::dst), ip[ipv4::proto],
                                        load16(ip + ipv4::id), w.now_s)
              : nullptr;
    if (!e || e->owner != nat44_fragment_table::k_here) {
        return false;
    }
    p.nat_op = nat_op_fragment;
    p.nat_addr = e->new_src;
    p.nat_ref = e->new_dst;
    return true;
}

/// The port a static translation keeps (the packet's own), for nat44_rewrite_*.
uint16_t own_port(const nat_tuple& t, nat_side side) { return side == nat_side::src ? t.src_port : t.dst_port; }

/// Inbound to a public address with no session: forwards, dedicated addresses,
/// endpoint-independent filtering. Sets the op and route_dst; false = dropped.
bool decide_inbound_miss(packet& p, const snapshot& s, worker_context& w, const nat_tuple& t, bool error,
                         uint32_t& route_dst) {
    const nat44_policy& pol = s.nat;
    // For an error the tuple is the quoted packet's reversed: its dst is the public side.
    const uint32_t f = (t.proto == proto::tcp || t.proto == proto::udp)
                           ? pol.forward_in.find(nat44_policy::forward_key(t.proto, t.dst_addr, t.dst_port))
                           : flat_map::k_missing;
    if (f != flat_map::k_missing) {
        const nat_forward& fw = pol.forwards[f];
        p.nat_op = error ? nat_op_error_in_static : nat_op_in_static;
        p.nat_addr = fw.to_addr;
        p.nat_port = static_cast<uint16_t>(fw.to_port + (t.dst_port - fw.port_first));
        route_dst = fw.to_addr;
        return true;
    }
    const uint32_t bits = pol.public_lookup.find(t.dst_addr);
    if (bits != flat_map::k_missing && (bits & nat_public::dedicated)) {
        const nat_vm& vm = pol.vms[bits >> 8];
        p.nat_op = error ? nat_op_error_in_static : nat_op_in_static;
        p.nat_addr = vm.addr;
        p.nat_port = own_port(t, nat_side::dst);
        route_dst = vm.addr;
        return true;
    }
    if (!error && !(t.flags & nat_tuple::no_ports)) {
        if (!pol.endpoint_independent_filtering) {
            // RFC 4787 REQ-8 address-and-port-dependent filtering: a mapped port takes
            // only what answers its sessions (those were found by the lookup).
            if (w.nat->table().lookup(mapping_outside_key(t.dst_addr, t.dst_port, t.proto)) != k_no_session) {
                w.drop(p, drop_reason::nat_no_session);
                return false;
            }
        } else {
            const uint32_t id = create_inbound(p, pol, w, t);
            if (id != k_no_session) {
                p.nat_op = nat_op_in;
                p.nat_ref = id;
                route_dst = w.nat->table().at(id).inside.src_addr;
                return true;
            }
            if (p.verdict == k_verdict_drop) {
                return false;
            }
        }
    }
    // Nothing maps it: the gateway's own traffic (an address of ours: local delivery,
    // host TAP), else filtered.
    const uint32_t dst = load32(p.l3() + ipv4::dst);
    bool ours = false;
    for (const port_info& port : s.ports) {
        ours = ours || s.is_our_address4(port.index, dst);
    }
    if (ours) {
        p.nat_op = nat_op_none;
        route_dst = dst;
        return true;
    }
    w.drop(p, drop_reason::nat_no_session);
    return false;
}

/// A VM sending to a public address (RFC 4787 REQ-9 hairpinning): translate the source
/// as on the way out, then the result as if it had come in from outside.
bool decide_hairpin(packet& p, const snapshot& s, worker_context& w, uint32_t& route_dst) {
    const nat44_policy& pol = s.nat;
    nat44_state& st = *w.nat;
    nat_tuple t;
    if (!nat44_tuple(p, t) || (t.flags & (nat_tuple::no_ports | nat_tuple::icmp_error))) {
        w.drop(p, drop_reason::nat_unsupported);
        return false;
    }
    const uint32_t vm_index = p.nat_addr;
    const nat_vm& vm = pol.vms[vm_index];
    // Only a destination that maps to a VM is hairpinned; anything else at a public
    // address (ping, the host's own services) is the gateway's: delivered untranslated.
    const uint32_t bits = pol.public_lookup.find(t.dst_addr);
    const bool maps = ((t.proto == proto::tcp || t.proto == proto::udp) &&
                       pol.forward_in.find(nat44_policy::forward_key(t.proto, t.dst_addr, t.dst_port)) !=
                           flat_map::k_missing) ||
                      (bits != flat_map::k_missing && (bits & nat_public::dedicated)) ||
                      pol.owner_of(t.dst_addr, t.dst_port, w.self()) != w.self() ||
                      st.table().lookup(mapping_outside_key(t.dst_addr, t.dst_port, t.proto)) != k_no_session;
    if (!maps) {
        p.nat_op = nat_op_none;
        route_dst = t.dst_addr;
        return true;
    }
    // A forward's reply first: a dedicated VM answering through a forward leaves from the
    // forward's public port too, as its client expects.
    uint16_t forward_port = 0;
    if (const nat_forward* fw = forward_of_reply(pol, t, forward_port)) {
        nat44_rewrite_src(p, fw->public_addr, forward_port);
    } else if (vm.egress == nat_egress::dedicated) {
        nat44_rewrite_src(p, vm.public_addr, t.src_port);
    } else {
        uint32_t id = st.table().lookup(tuple_key(t));
        if (id == k_no_session) {
            id = create_outbound(p, pol, w, vm_index, t, false);
            if (id == k_no_session) {
                return false;
            }
        }
        track(st, id, p, true, w.now_s);
        rewrite_out(p, st.table().at(id));
    }
    nat_tuple in;
    if (!nat44_tuple(p, in)) {
        w.drop(p, drop_reason::nat_unsupported);
        return false;
    }
    if (w.workers() > 1) {
        // The inbound half belongs to the worker owning the public address:port it goes
        // to: pass it there as if it had come in on the uplink.
        const uint32_t owner = pol.owner_of(in.dst_addr, in.dst_port, w.self());
        if (owner != w.self()) {
            for (const port_info& port : s.ports) {
                if (port.role == port_role::uplink) {
                    std::memcpy(p.data, port.mac.data(), 6);
                    p.in_port = port.index;
                    w.hand_off(p, owner);
                    return false;
                }
            }
            w.drop(p, drop_reason::nat_handoff_no_uplink);
            return false;
        }
    }
    const uint32_t id = st.table().lookup(tuple_key(in));
    if (id != k_no_session) {
        p.nat_op = nat_op_in;
        p.nat_ref = id;
        route_dst = st.table().at(id).inside.src_addr;
        return true;
    }
    return decide_inbound_miss(p, s, w, in, false, route_dst);
}

/// Sessions of a VM socket live on one worker: the one its (address + port) names, so
/// every flow of the socket finds its endpoint-independent mapping there, and the
/// mapping's port (from that worker's slice) brings the replies back to it.
uint32_t socket_owner(uint32_t vm_addr, uint16_t port, uint32_t workers) { return (vm_addr + port) % workers; }

/// Multi-worker: hands p to `owner` when that is another worker (true: p is gone).
/// A first fragment leaves a note so the datagram's later fragments follow it.
bool handed_to_owner(packet& p, worker_context& w, uint32_t owner) {
    if (owner == w.self() || p.handed_off) [[likely]] {
        return false;
    }
    const uint8_t* ip = p.l3();
    if ((load16(ip + ipv4::frag) & ipv4::flag_mf) && w.nat) {
        w.nat->fragments().remember_handoff(load32(ip + ipv4::src), load32(ip + ipv4::dst), ip[ipv4::proto],
                                            load16(ip + ipv4::id), owner, w.now_s);
    }
    w.hand_off(p, owner);
    return true;
}

/// A non-first fragment whose first fragment was handed to another worker follows it.
bool fragment_handed(packet& p, worker_context& w) {
    if (w.workers() == 1 || p.handed_off || !w.nat) [[likely]] {
        return false;
    }
    const uint8_t* ip = p.l3();
    const nat44_fragment_table::entry* e = w.nat->fragments().find(
        load32(ip + ipv4::src), load32(ip + ipv4::dst), ip[ipv4::proto], load16(ip + ipv4::id), w.now_s);
    if (!e || e->owner == nat44_fragment_table::k_here) {
        return false;
    }
    w.hand_off(p, e->owner);
    return true;
}

/// Step 3 for an outbound packet the burst's lookup did not find a session for: one an
/// earlier packet of the burst opened, a forwarded service's reply (stateless: rewritten
/// here), a proxy_force VM's refused egress, or a new session. Returns the session, or
/// k_no_session with `r` saying what became of the packet.
uint32_t outbound_miss(packet& p, const nat44_policy& pol, worker_context& w, uint32_t src, uint32_t dst,
                       nat_apply_result& r) {
    nat44_state& st = *w.nat;
    const uint32_t vm_index = p.nat_addr;
    const nat_vm& vm = pol.vms[vm_index];
    nat_tuple t;
    nat44_tuple(p, t);
    const flow_key key = tuple_key(t);
    if (st.maybe_opened(key)) {
        // An earlier packet of this burst may have opened the session meanwhile.
        const uint32_t id = st.table().lookup(key);
        if (id != k_no_session) {
            return id;
        }
    }
    const bool proxy = is_proxy_flow(pol, vm, t);
    if (vm.proxy_force && !proxy) {
        r = nat_apply_result::refuse_admin;
        return k_no_session;
    }
    uint16_t forward_port = 0;
    if (const nat_forward* fw = forward_of_reply(pol, t, forward_port)) {
        nat44_rewrite_src(p, fw->public_addr, forward_port);
        remember_fragment(st, src, dst, p, w.now_s);
        w.counters.nat_translated.add();
        r = nat_apply_result::ok;
        return k_no_session;
    }
    r = nat_apply_result::dropped;  // unless it opens
    return create_outbound(p, pol, w, vm_index, t, proxy);
}

}  // namespace

bool nat44_classify(packet& p, const snapshot& s, worker_context& w, flow_key& key, bool& needs_lookup) {
    needs_lookup = false;
    p.nat_op = nat_op_none;
    const nat44_policy& pol = s.nat;
    const uint8_t* ip = p.l3();
    const uint32_t src = load32(ip + ipv4::src);
    const uint32_t dst = load32(ip + ipv4::dst);
    nat_tuple t;
    if (s.port(p.in_port).role == port_role::vm) {
        const uint32_t vm_index = pol.vm_by_addr.find(src);
        if (pol.anti_spoofing &&
            (vm_index == flat_map::k_missing || std::memcmp(pol.vms[vm_index].mac, p.data + 6, 6) != 0)) [[unlikely]] {
            w.drop(p, drop_reason::nat_spoofed_source);
            return false;
        }
        if (vm_index == flat_map::k_missing) {
            return true;  // not a VM of ours (anti-spoofing off): routed untranslated
        }
        const nat_vm& vm = pol.vms[vm_index];
        if (pol.maybe_public(dst) && pol.public_lookup.find(dst) != flat_map::k_missing) [[unlikely]] {
            if (w.workers() > 1 && vm.stateful() && nat44_tuple(p, t) && !(t.flags & nat_tuple::no_ports) &&
                handed_to_owner(p, w, socket_owner(src, t.src_port, w.workers()))) {
                return false;
            }
            p.nat_op = nat_op_hairpin;
            p.nat_addr = vm_index;
            return true;
        }
        if (!nat44_tuple(p, t)) [[unlikely]] {
            p.nat_op = vm.stateful() ? nat_op_out_unsupported : nat_op_out_static;
            p.nat_addr = vm.stateful() ? 0 : vm.public_addr;
            p.nat_port = 0;
            return true;
        }
        if (t.flags & nat_tuple::icmp_error) [[unlikely]] {
            // Our reply to something that came in: the quoted packet reversed is the
            // session's inside key.
            if (!vm.stateful()) {
                p.nat_op = nat_op_error_out_static;
                p.nat_addr = vm.public_addr;
                p.nat_port = t.src_port;
                if (vm.forwarded) {
                    if (const nat_forward* fw = forward_of_reply(pol, t, p.nat_port)) {
                        p.nat_addr = fw->public_addr;
                    }
                }
                return true;
            }
            if (w.workers() > 1 && handed_to_owner(p, w, socket_owner(t.src_addr, t.src_port, w.workers()))) {
                return false;
            }
            p.nat_op = nat_op_error_out;
            key = tuple_key(t);
            needs_lookup = true;
            return true;
        }
        if (!vm.stateful()) {
            if (vm.forwarded && (t.flags & nat_tuple::fragment) && (t.flags & nat_tuple::no_ports)) [[unlikely]] {
                // A later fragment has no ports to tell a reply through a forward (its
                // first fragment left from the forward's address) from the VM's own
                // egress: it follows its first fragment (step 3, which may be in this
                // very burst), else the dedicated address.
                p.nat_op = nat_op_fragment_out_static;
                p.nat_addr = vm.public_addr;
                p.nat_ref = 0;
                return true;
            }
            p.nat_op = nat_op_out_static;
            p.nat_addr = vm.public_addr;
            p.nat_port = 0;  // keep the source port
            if (vm.forwarded) [[unlikely]] {
                if (const nat_forward* fw = forward_of_reply(pol, t, p.nat_port)) {
                    p.nat_addr = fw->public_addr;
                }
            }
            return true;
        }
        if (t.flags & nat_tuple::no_ports) [[unlikely]] {
            // A non-first fragment follows its first fragment, which may be in this very
            // burst and is translated (step 3) before it: look it up then.
            if (fragment_handed(p, w)) {
                return false;
            }
            p.nat_op = (t.flags & nat_tuple::fragment) ? nat_op_fragment_out : nat_op_out_unsupported;
            return true;
        }
        if (w.workers() > 1 && handed_to_owner(p, w, socket_owner(src, t.src_port, w.workers()))) {
            return false;
        }
        p.nat_op = nat_op_out;
        p.nat_addr = vm_index;
        key = tuple_key(t);
        needs_lookup = true;
        return true;
    }
    // From outside (uplink, host TAP): only packets to a public address are NAT's.
    if (!pol.maybe_public(dst) || pol.public_lookup.find(dst) == flat_map::k_missing) {
        return true;
    }
    if (!nat44_tuple(p, t)) [[unlikely]] {
        return true;  // not translatable: local delivery answers or drops it
    }
    if (t.flags & nat_tuple::no_ports) [[unlikely]] {
        if (t.flags & nat_tuple::fragment) {
            if (fragment_handed(p, w)) {
                return false;
            }
            p.nat_op = nat_op_fragment_in;  // decided after its first fragment (step 2)
            return true;
        }
        const uint32_t bits = pol.public_lookup.find(dst);
        if (bits & nat_public::dedicated) {
            p.nat_op = nat_op_in_static;
            p.nat_addr = pol.vms[bits >> 8].addr;
            p.nat_port = 0;
        }
        return true;
    }
    if (w.workers() > 1 && handed_to_owner(p, w, pol.owner_of(t.dst_addr, t.dst_port, w.self()))) {
        return false;
    }
    p.nat_op = (t.flags & nat_tuple::icmp_error) ? nat_op_error_in : nat_op_in;
    key = tuple_key(t);
    needs_lookup = true;
    return true;
}

void nat44_prepare_new_sessions(packet* const* pkts, const uint8_t* at, const flow_key* keys, const uint32_t* sessions,
                                uint32_t n, worker_context& w) {
    flow_key map_keys[k_max_burst];
    uint32_t of[k_max_burst];
    uint32_t m = 0;
    for (uint32_t k = 0; k < n && m < k_max_burst; ++k) {
        if (sessions[k] == k_no_session && pkts[at[k]]->nat_op == nat_op_out) {
            map_keys[m] = mapping_inside_key(keys[k].src_addr, keys[k].src_port, keys[k].proto);
            of[m++] = k;
        }
    }
    if (m == 0) {
        return;
    }
    flow_table& table = w.nat->table();
    uint32_t mappings[k_max_burst];
    table.lookup_bulk(map_keys, m, mappings, nullptr);
    for (uint32_t i = 0; i < m; ++i) {
        if (mappings[i] != k_no_session) {
            // As create_outbound will build it (a proxied flow's differs: a wasted hint).
            const flow_key& in = keys[of[i]];
            table.prefetch_index(session_outside_key(in.dst_addr, in.dst_port, table.at(mappings[i]), in.proto));
        }
    }
}

bool nat44_decide_slow(packet& p, const snapshot& s, worker_context& w, uint32_t found, uint32_t& route_dst) {
    const uint8_t* ip = p.l3();
    route_dst = load32(ip + ipv4::dst);
    switch (p.nat_op) {
    case nat_op_out: {
        // No session: nat44_decide decided the found ones inline. Step 3 opens it.
        p.nat_ref = k_no_session;
        const nat44_policy& pol = s.nat;
        const nat_vm& vm = pol.vms[p.nat_addr];
        if (vm.egress == nat_egress::proxy) {
            nat_tuple t;
            if (nat44_tuple(p, t) && is_proxy_flow(pol, vm, t)) {
                route_dst = pol.proxy_upstream;
            }
        }
        return true;
    }
    case nat_op_in:
    case nat_op_error_in: {
        if (found != k_no_session) {
            p.nat_ref = found;
            const session& r = w.nat->table().at(found);
            route_dst = r.inside.src_addr;
        } else {
            nat_tuple t;
            nat44_tuple(p, t);  // succeeded in classify
            // An earlier packet of this burst may have opened the session meanwhile.
            const flow_key key = tuple_key(t);
            const uint32_t again = w.nat->maybe_opened(key) ? w.nat->table().lookup(key) : k_no_session;
            if (again != k_no_session) {
                p.nat_ref = again;
                route_dst = w.nat->table().at(again).inside.src_addr;
            } else if (!decide_inbound_miss(p, s, w, t, p.nat_op == nat_op_error_in, route_dst)) {
                return false;
            }
        }
        if (p.nat_op == nat_op_in) {
            const session& r = w.nat->table().at(p.nat_ref);
            const bool twice = r.outside.src_addr != r.inside.dst_addr;
            remember_inbound_fragment(w, p, twice ? r.inside.dst_addr : 0, r.inside.src_addr);
        } else if (p.nat_op == nat_op_in_static) {
            remember_inbound_fragment(w, p, 0, p.nat_addr);
        }
        return true;
    }
    case nat_op_fragment_in:
        if (follow_fragment(p, w)) {
            if (p.nat_ref != 0) {
                route_dst = p.nat_ref;
            }
            return true;
        }
        {
            // No first fragment seen: a dedicated address still maps it; else it is
            // the gateway's own (local delivery) or dropped there.
            const uint32_t bits = s.nat.public_lookup.find(route_dst);
            if (bits != flat_map::k_missing && (bits & nat_public::dedicated)) {
                p.nat_op = nat_op_in_static;
                p.nat_addr = s.nat.vms[bits >> 8].addr;
                p.nat_port = 0;
                route_dst = p.nat_addr;
            } else {
                p.nat_op = nat_op_none;
            }
        }
        return true;
    case nat_op_error_out:
        if (found != k_no_session) {
            p.nat_ref = found;
            return true;
        }
        {
            // About a forwarded flow? The quoted packet reversed starts at the VM's port.
            nat_tuple t;
            nat44_tuple(p, t);
            uint16_t forward_port = 0;
            if (const nat_forward* fw = forward_of_reply(s.nat, t, forward_port)) {
                p.nat_op = nat_op_error_out_static;
                p.nat_addr = fw->public_addr;
                p.nat_port = forward_port;
                return true;
            }
        }
        p.nat_op = nat_op_out_unsupported;  // about nothing we translated: it must not leave
        return true;
    case nat_op_in_static:
        route_dst = p.nat_addr;
        return true;
    case nat_op_fragment:
        if (p.nat_ref != 0) {
            route_dst = p.nat_ref;
        }
        return true;
    case nat_op_hairpin:
        return decide_hairpin(p, s, w, route_dst);
    default:
        return true;
    }
}

nat_apply_result nat44_apply(packet& p, const snapshot& s, worker_context& w, uint16_t out_port) {
    const nat44_policy& pol = s.nat;
    const bool leaves = s.port(out_port).role == port_role::uplink;
    switch (p.nat_op) {
    case nat_op_out: {
        if (!leaves) {
            return nat_apply_result::ok;  // VM to VM, or to the host: no NAT
        }
        nat44_state& st = *w.nat;
        const uint8_t* ip = p.l3();
        const uint32_t src = load32(ip + ipv4::src), dst = load32(ip + ipv4::dst);
        uint32_t id = p.nat_ref;
        if (id == k_no_session) [[unlikely]] {
            nat_apply_result r = nat_apply_result::ok;
            id = outbound_miss(p, pol, w, src, dst, r);
            if (id == k_no_session) {
                return r;
            }
        }
        track(st, id, p, true, w.now_s);
        rewrite_out(p, st.table().at(id));
        remember_fragment(st, src, dst, p, w.now_s);
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    }
    case nat_op_in: {
        nat44_state& st = *w.nat;
        track(st, p.nat_ref, p, false, w.now_s);
        rewrite_in(p, st.table().at(p.nat_ref));
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    }
    case nat_op_out_static:
    case nat_op_in_static: {
        const bool out = p.nat_op == nat_op_out_static;
        if (out && !leaves) {
            return nat_apply_result::ok;
        }
        nat_tuple t;
        const bool ok = nat44_tuple(p, t);
        if (out) {
            nat44_rewrite_src(p, p.nat_addr, p.nat_port != 0 ? p.nat_port : (ok ? t.src_port : 0));
        } else {
            nat44_rewrite_dst(p, p.nat_addr, p.nat_port != 0 ? p.nat_port : (ok ? t.dst_port : 0));
        }
        if (ok && out && w.nat) {
            remember_fragment(*w.nat, t.src_addr, t.dst_addr, p, w.now_s);
        }
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    }
    case nat_op_error_in: {
        const session& r = w.nat->table().at(p.nat_ref);
        nat44_rewrite_icmp_error(p, nat_side::dst, r.inside.src_addr, r.inside.src_addr, r.inside.src_port);
        if (r.outside.src_addr != r.inside.dst_addr || r.outside.src_port != r.inside.dst_port) {
            // Proxy (twice NAT): the VM knows its peer as the proxy service. The quoted
            // packet's destination goes back to it, and so does the error's source when
            // the upstream itself sent the error.
            const uint32_t outer_src = load32(p.l3() + ipv4::src);
            nat44_rewrite_icmp_error(p, nat_side::src, outer_src == r.outside.src_addr ? r.inside.dst_addr : outer_src,
                                     r.inside.dst_addr, r.inside.dst_port);
        }
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    }
    case nat_op_error_in_static:
        nat44_rewrite_icmp_error(p, nat_side::dst, p.nat_addr, p.nat_addr, p.nat_port);
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    case nat_op_error_out: {
        if (!leaves) {
            return nat_apply_result::ok;
        }
        const session& r = w.nat->table().at(p.nat_ref);
        nat44_rewrite_icmp_error(p, nat_side::src, r.outside.dst_addr, r.outside.dst_addr, r.outside.dst_port);
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    }
    case nat_op_error_out_static:
        if (!leaves) {
            return nat_apply_result::ok;
        }
        nat44_rewrite_icmp_error(p, nat_side::src, p.nat_addr, p.nat_addr, p.nat_port);
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    case nat_op_fragment_out:
    case nat_op_fragment_out_static:
        if (!leaves) {
            return nat_apply_result::ok;
        }
        if (!follow_fragment(p, w)) {
            if (p.nat_op == nat_op_fragment_out) {
                w.drop(p, drop_reason::nat_fragment_no_state);
                return nat_apply_result::dropped;
            }
            // Its first fragment was not seen: a dedicated VM's own address (nat_addr).
        }
        [[fallthrough]];
    case nat_op_fragment:
        if (p.nat_addr != 0) {
            nat44_rewrite_src(p, p.nat_addr, 0);
        }
        if (p.nat_ref != 0) {
            nat44_rewrite_dst(p, p.nat_ref, 0);
        }
        w.counters.nat_translated.add();
        return nat_apply_result::ok;
    case nat_op_out_unsupported:
        if (!leaves) {
            return nat_apply_result::ok;
        }
        {
            // A fragment whose first fragment we have not seen, or a protocol without
            // ports on a shared address: it cannot leave with the VM's own address.
            const bool frag = (load16(p.l3() + ipv4::frag) & ipv4::frag_offset_mask) != 0;
            w.drop(p, frag ? drop_reason::nat_fragment_no_state : drop_reason::nat_unsupported);
        }
        return nat_apply_result::dropped;
    default:
        return nat_apply_result::ok;
    }
}

void nat44_expire(nat44_state& st, const nat44_policy& policy, worker_counters& c, uint32_t now_s) {
    constexpr uint32_t k_max_work = 256;
    uint32_t dead[k_max_work];
    uint32_t n_dead = 0;
    st.table().expire(now_s, k_max_work, [&](uint32_t, const session& r) {
        // Mappings are `held`: only sessions come due.
        if (r.owner_vm < policy.vms.size()) {
            st.vm_session_closed(r.owner_vm);
        }
        if (--st.refs(r.user) == 0) {
            dead[n_dead++] = r.user;
        }
        c.nat_sessions_expired.add();
        if (policy.log_sessions) {
            emit(st, c, nat44_event::session_deleted, r.owner_vm, now_s, r.inside, r.outside);
        }
    });
    for (uint32_t i = 0; i < n_dead; ++i) {
        if (st.refs(dead[i]) == 0) {
            drop_mapping(st, dead[i]);
        }
    }
}

}  // namespace eg::dp
