#pragma once
// The packet descriptor every stage works on, and the burst that carries up to
// k_max_burst of them through the pipeline.
//
// Owner: one worker at a time. A descriptor points into a buffer owned by the
// backend that received it (a pool slot for memory/uring/pcap, an rte_mbuf for dpdk);
// stages edit the frame in place and set `verdict`, the worker then hands each packet
// to the port it names, to the punt ring, or back to its backend for freeing.
#include <cstdint>
#include <cstring>

namespace eg::dp {

inline constexpr uint16_t k_max_burst = 64;

/// What the pipeline decided for a packet. Values below k_verdict_fragment are the
/// index of the port to transmit on; k_verdict_fragment | port asks the worker to
/// fragment the IPv4 packet to that port's MTU first (RFC 791, RFC 1812 §5.2.7).
enum verdict : uint16_t {
    k_verdict_fragment = 0x4000,
    k_verdict_special = 0xfff0,
    k_verdict_drop = 0xfff0,  ///< counted by the stage that set it
    k_verdict_consumed = 0xfff1,  ///< already copied where it had to go (punt); release
    k_verdict_tunnel_segments = 0xfff2,  ///< a GSO super-packet for WireGuard peer nat_ref: the
                                         ///< worker segments it, then each segment is encrypted
    k_verdict_tunnel_fragments = 0xfff3,  ///< IPv4 without DF, larger than the tunnel MTU of
                                          ///< peer nat_ref: fragmented, then each encrypted
    k_verdict_none = 0xffff,  ///< not decided yet
};

/// Checksum/segmentation offload state, with virtio_net_hdr's meaning (the Linux
/// PACKET_VNET_HDR / TAP IFF_VNET_HDR header). A frame sent by a local socket over veth
/// or virtio arrives with its L4 checksum not filled in (needs_csum) and may be a
/// TCP/UDP super-packet of up to 64 KB (gso_type != none) that the kernel segments
/// on transmit. Stages must keep this consistent when they rewrite headers.
struct offload_info {
    enum gso : uint8_t { gso_none = 0, gso_tcpv4 = 1, gso_udp = 3, gso_tcpv6 = 4, gso_udp_l4 = 5 };
    uint8_t needs_csum = 0;  ///< L4 checksum field holds only the pseudo-header sum
    uint8_t gso_type = gso_none;
    uint16_t gso_size = 0;     ///< payload bytes per segment (MSS)
    uint16_t csum_start = 0;   ///< from the start of the frame
    uint16_t csum_offset = 0;  ///< from csum_start to the checksum field
    uint16_t hdr_len = 0;      ///< bytes of headers in each segment (hint)
    /// Receive only: whoever delivered the frame verified its L4 checksum
    /// (VIRTIO_NET_HDR_F_DATA_VALID; a NIC's good-L4-checksum flag). Sending ignores it.
    uint8_t csum_valid = 0;
};

struct packet {
    uint8_t* data = nullptr;  ///< first byte of the Ethernet header
    uint32_t len = 0;         ///< frame length in bytes, from data
    uint16_t in_port = 0;     ///< index of the receiving port in the snapshot
    uint16_t verdict = k_verdict_none;
    uint16_t l3_offset = 0;   ///< set by the parser: start of the IP/ARP header
    uint16_t ether_type = 0;  ///< host order, after any 802.1Q tags
    uint16_t vlan_tci = 0;    ///< host order; 0 when untagged
    uint16_t drop_reason = 0; ///< set with k_verdict_drop
    // NAT44 (dataplane/nat44.hpp): decided before the route lookup, applied after the
    // forwarding checks so ICMP errors quote the packet as its sender sent it.
    uint8_t nat_op = 0;       ///< nat_op_* ; 0 = no NAT
    uint16_t nat_port = 0;    ///< static translations: the new port
    uint32_t nat_ref = 0;     ///< session id, or a second address (fragments)
    uint32_t nat_addr = 0;    ///< static translations: the new address (host order)
    uint8_t handed_off = 0;   ///< came from another worker (handoff.hpp): never hand on
    offload_info offload{};
    uint8_t* buf = nullptr;   ///< start of the buffer (data - buf = headroom)
    uint32_t buf_size = 0;    ///< bytes from buf
    void* backend_ref = nullptr;  ///< the backend's own handle (mbuf, pool slot)

    uint8_t* l3() { return data + l3_offset; }
    const uint8_t* l3() const { return data + l3_offset; }
    uint32_t l3_len() const { return len - l3_offset; }
    uint32_t headroom() const { return static_cast<uint32_t>(data - buf); }
    uint32_t tailroom() const { return buf_size - headroom() - len; }
    void drop(uint16_t reason) {
        verdict = k_verdict_drop;
        drop_reason = reason;
    }
};

/// Up to k_max_burst packets moving through the pipeline together.
struct burst {
    packet* pkts[k_max_burst];
    uint16_t count = 0;
};

}  // namespace eg::dp
