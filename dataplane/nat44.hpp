#pragma once
// The NAT44 stage (RFC 4787, 5382, 5508, 7857) and the VMs' egress policies, in three
// steps over a burst so that the session lookups of the whole burst are done together
// (flow_table::lookup_bulk) and every rewrite happens after the forwarding checks:
//
//   1. nat44_classify  (parse loop)  anti-spoofing; what kind of NAT the packet needs;
//                                    the flow key to look up.
//   2. nat44_decide    (after the bulk lookup) inbound misses (port forwards, dedicated
//                                    addresses, endpoint-independent filtering),
//                                    hairpinning; the address to route the packet by.
//   3. nat44_apply     (forward_ipv4, after TTL and MTU checks) creates outbound sessions
//                                    and rewrites the packet. An ICMP error generated
//                                    before this point quotes the packet as its sender
//                                    sent it, so traceroute and path-MTU discovery work
//                                    through the NAT.
//
// Policies per VM (nat44_policy.hpp): masquerade (shared pool address, paired, dynamic
// ports, source port kept when free), dedicated (1:1 both ways, stateless), port_block
// (ports from the VM's own RFC 7422 block), proxy (TCP to the proxy service is DNATed to
// the upstream proxy at the VM's port and SNATed; proxy_force refuses other egress with
// ICMP 3/13). Port forwards are stateless both ways. State: nat44_state.hpp.
#include <cstdint>

#include "dataplane/flow_table.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/nat44_state.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// packet::nat_op values.
enum nat_op : uint8_t {
    nat_op_none = 0,
    nat_op_out = 1,               ///< from a stateful VM (nat_addr = VM index); nat_ref = session or none
    nat_op_out_static = 2,        ///< from a dedicated VM: source address := nat_addr
    nat_op_out_unsupported = 3,   ///< from a stateful VM, not NATable (no ports): dropped if it leaves
    nat_op_in = 4,                ///< to a public address: session nat_ref
    nat_op_in_static = 5,         ///< forward / dedicated: destination := nat_addr:nat_port (0 = keep)
    nat_op_error_in = 6,          ///< ICMP error to a public address about session nat_ref
    nat_op_error_in_static = 7,   ///< ... about a forward/dedicated flow: inside = nat_addr:nat_port
    nat_op_error_out = 8,         ///< ICMP error from a VM about session nat_ref
    nat_op_error_out_static = 9,  ///< ... about a forward/dedicated flow: public = nat_addr:nat_port
    nat_op_fragment = 10,         ///< non-first fragment: src := nat_addr, dst := nat_ref (0 = keep)
    nat_op_hairpin = 11,          ///< from a VM to a public address: decided in step 2
    nat_op_done = 12,             ///< already rewritten (the outbound half of a hairpin)
    nat_op_fragment_out = 13,     ///< non-first fragment from a stateful VM: follows its first (step 3)
    nat_op_fragment_in = 14,      ///< non-first fragment to a public address: follows its first (step 2)
    nat_op_fragment_out_static = 15,  ///< non-first fragment from a dedicated VM with forwards: follows
                                      ///< its first (step 3), else src := nat_addr (the dedicated address)
};

/// Step 1. False: p was dropped (counted) or handed to the worker that owns its state
/// (handoff.hpp; verdict consumed). True with needs_lookup: `key` is to be
/// looked up in the worker's flow table and the result passed to nat44_decide.
bool nat44_classify(packet& p, const snapshot& s, worker_context& w, flow_key& key, bool& needs_lookup);

/// Between the bulk session lookup and step 2, for the packets whose lookup missed:
/// outbound ones (nat_op_out) are new flows about to get a session. Looks their
/// sockets' mappings up in bulk and prefetches the index buckets of the outside keys
/// the new sessions will take, so that creating each does not wait for memory at every
/// dependent step (mapping bucket, mapping record, outside bucket) one packet after
/// another. A hint only: nothing changes. keys[k] is the lookup key of pkts[at[k]].
void nat44_prepare_new_sessions(packet* const* pkts, const uint8_t* at, const flow_key* keys, const uint32_t* sessions,
                                uint32_t n, worker_context& w);

/// nat44_decide for everything but its inline fast path.
bool nat44_decide_slow(packet& p, const snapshot& s, worker_context& w, uint32_t session, uint32_t& route_dst);

/// Step 2, for every packet nat44_classify kept (session = the lookup result, or
/// k_no_session when there was none). Sets route_dst (host order) to the address the
/// packet is to be routed by. False: dropped (counted) or handed off (hairpin).
/// Inline for the packets of established sessions, which are nearly all of them: the
/// session names where the packet goes (an inbound first fragment also leaves a note
/// for its datagram's later fragments: the slow path).
inline bool nat44_decide(packet& p, const snapshot& s, worker_context& w, uint32_t session, uint32_t& route_dst) {
    if (session != k_no_session && (p.nat_op == nat_op_out ||
                                    (p.nat_op == nat_op_in && !(load16(p.l3() + ipv4::frag) & ipv4::flag_mf)))) {
        p.nat_ref = session;
        const dp::session& r = w.nat->table().at(session);
        // Outbound: the remote (the upstream proxy for a proxied flow); inbound: the VM.
        route_dst = p.nat_op == nat_op_out ? r.outside.src_addr : r.inside.src_addr;
        return true;
    }
    return nat44_decide_slow(p, s, w, session, route_dst);
}

enum class nat_apply_result : uint8_t { ok, dropped, refuse_admin };

/// Step 3, in forward_ipv4 just before the packet goes to `out_port`.
nat_apply_result nat44_apply(packet& p, const snapshot& s, worker_context& w, uint16_t out_port);

/// Expires idle sessions, frees mappings and ports with their last session. Once per
/// worker iteration; cheap when nothing is due (the wheel cursor is ahead of now).
void nat44_expire(nat44_state& st, const nat44_policy& policy, worker_counters& c, uint32_t now_s);

}  // namespace eg::dp
