#pragma once
// Every reason the data plane drops a packet, defined once. The X-macro gives the
// enum, the stage and reason texts, and so the metric
// edgegate_drops_total{stage="...",reason="..."}.
#include <cstdint>
#include <string_view>

namespace eg::dp {

// X(enum_name, stage, reason text)
#define EG_DROP_REASONS(X)                                                   \
    X(none, "none", "none")                                                  \
    X(eth_runt, "parse", "runt_frame")                                       \
    X(eth_bad_vlan, "parse", "bad_vlan_header")                              \
    X(eth_unknown_ethertype, "parse", "unknown_ethertype")                   \
    X(eth_not_for_us, "parse", "not_for_us")                                 \
    X(arp_malformed, "arp", "malformed")                                     \
    X(arp_not_for_us, "arp", "not_for_us")                                   \
    X(ipv4_truncated, "ipv4", "truncated")                                   \
    X(ipv4_bad_version, "ipv4", "bad_version")                               \
    X(ipv4_bad_ihl, "ipv4", "bad_header_length")                             \
    X(ipv4_bad_total_length, "ipv4", "bad_total_length")                     \
    X(ipv4_bad_checksum, "ipv4", "bad_checksum")                             \
    X(ipv4_bad_source, "ipv4", "bad_source_address")                         \
    X(ipv4_ttl_exceeded, "ipv4", "ttl_exceeded")                             \
    X(ipv4_no_route, "ipv4", "no_route")                                     \
    X(ipv4_frag_needed, "ipv4", "fragmentation_needed")                      \
    X(ipv4_fragmentation_failed, "ipv4", "fragmentation_failed")             \
    X(ipv4_oversized_fragment, "ipv4", "oversized_fragment")                 \
    X(ipv4_local_unhandled, "ipv4", "local_unhandled")                       \
    X(ipv6_truncated, "ipv6", "truncated")                                   \
    X(ipv6_bad_version, "ipv6", "bad_version")                               \
    X(ipv6_bad_payload_length, "ipv6", "bad_payload_length")                 \
    X(ipv6_bad_source, "ipv6", "bad_source_address")                         \
    X(ipv6_spoofed_source, "ipv6", "spoofed_source")                         \
    X(ipv6_hop_limit_exceeded, "ipv6", "hop_limit_exceeded")                 \
    X(ipv6_no_route, "ipv6", "no_route")                                     \
    X(ipv6_too_big, "ipv6", "packet_too_big")                                \
    X(ipv6_local_unhandled, "ipv6", "local_unhandled")                       \
    X(icmp_malformed, "icmp", "malformed")                                   \
    X(icmp_error_rate_limited, "icmp", "error_rate_limited")                 \
    X(icmp_no_error_for_error, "icmp", "no_error_about_error")               \
    X(icmp_no_headroom, "icmp", "no_headroom")                               \
    X(nd_malformed, "nd", "malformed")                                       \
    X(nd_not_for_us, "nd", "not_for_us")                                     \
    X(neighbour_unresolved, "neighbour", "unresolved")                       \
    X(neighbour_queue_full, "neighbour", "queue_full")                       \
    X(punt_ring_full, "punt", "ring_full")                                   \
    X(punt_too_large, "punt", "frame_too_large")                             \
    X(inject_ring_full, "inject", "ring_full")                               \
    X(inject_invalid, "inject", "no_buffer_or_bad_frame")                    \
    X(tx_ring_full, "tx", "ring_full")                                       \
    X(tx_port_down, "tx", "port_down")                                       \
    X(nat_spoofed_source, "nat", "spoofed_source")                           \
    X(nat_no_session, "nat", "no_session")                                   \
    X(nat_quota_exceeded, "nat", "vm_session_quota")                         \
    X(nat_no_free_port, "nat", "no_free_port")                               \
    X(nat_table_full, "nat", "session_table_full")                           \
    X(nat_unsupported, "nat", "unsupported_packet")                          \
    X(nat_fragment_no_state, "nat", "fragment_without_first")                \
    X(nat_egress_refused, "nat", "egress_refused")                           \
    X(nat_handoff_no_uplink, "nat", "handoff_without_uplink")                \
    X(handoff_ring_full, "handoff", "ring_full")                             \
    X(handoff_no_buffer, "handoff", "no_buffer")                             \
    X(wg_malformed, "wireguard", "malformed")                                \
    X(wg_fragmented, "wireguard", "fragmented_outer_packet")                 \
    X(wg_unroutable_source, "wireguard", "unroutable_outer_source")          \
    X(wg_bad_udp_checksum, "wireguard", "bad_udp_checksum")                  \
    X(wg_unknown_index, "wireguard", "unknown_receiver_index")               \
    X(wg_authentication_failed, "wireguard", "authentication_failed")        \
    X(wg_replayed, "wireguard", "replayed")                                  \
    X(wg_key_expired, "wireguard", "key_expired")                            \
    X(wg_source_not_allowed, "wireguard", "source_not_in_allowed_ips")       \
    X(wg_bad_inner_packet, "wireguard", "bad_inner_packet")                  \
    X(wg_no_keypair, "wireguard", "no_keypair")                              \
    X(wg_staging_full, "wireguard", "staging_queue_full")                    \
    X(wg_staged_too_long, "wireguard", "staged_without_handshake")           \
    X(wg_no_endpoint, "wireguard", "no_endpoint")                            \
    X(wg_no_room, "wireguard", "no_buffer_room")                             \
    X(wg_too_big, "wireguard", "too_big_for_tunnel")                         \
    X(wg_segmentation_failed, "wireguard", "segmentation_failed")            \
    X(wg_routing_loop, "wireguard", "endpoint_routed_into_tunnel")

enum class drop_reason : uint16_t {
#define EG_X(name, stage, text) name,
    EG_DROP_REASONS(EG_X)
#undef EG_X
        count
};

inline constexpr uint16_t k_drop_reason_count = static_cast<uint16_t>(drop_reason::count);

inline constexpr uint16_t reason_index(drop_reason r) { return static_cast<uint16_t>(r); }

/// The stage label of a reason in metrics ("ipv4").
std::string_view drop_stage(drop_reason r);
/// The reason label of a reason in metrics ("ttl_exceeded").
std::string_view drop_text(drop_reason r);

}  // namespace eg::dp
