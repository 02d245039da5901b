#pragma once
// DPDK ports behind eg::dp::port_io.
//
// A dpdk_port is one ethdev, identified by devargs: a vdev ("net_af_packet0,iface=eg-vm",
// "net_tap0,iface=eg-host", "net_af_xdp0,iface=eth1", "net_ring0") or a PCI address.
// It is configured with one rx and one tx queue per worker, every rx queue q filling
// from worker q's mbuf pool. open_queue(q) gives worker q its port_io over queue q.
// Each packet descriptor lives in its mbuf's private area (see dpdk_eal.hpp), and
// packet::backend_ref is the rte_mbuf. Jumbo/multi-segment mbufs are not supported:
// the MTU must fit one mbuf (checked at startup) and a multi-segment rx is dropped and
// counted.
//
// Threads: dpdk_port is built and destroyed by the control thread while starting up /
// shutting down (it throws std::runtime_error with DPDK's message on failure); each
// dpdk_port_io is used by its worker only and must be destroyed before its dpdk_port.
// Hot path: one rte_eth_rx_burst / rte_eth_tx_burst per burst, no allocation, no
// syscalls of our own (a kernel-backed PMD such as af_packet makes one per tx burst).
//
// Checksums (baselines.md §6 item 4): the kernel-backed vdevs have no virtio_net_hdr,
// so frames a local socket sent over a veth/TAP arrive CHECKSUM_PARTIAL with nothing
// saying so. With complete_partial_checksums (default on for net_af_packet, net_af_xdp
// and net_tap) rx finishes such TCP/UDP checksums in software (dpdk_checksum.hpp) and
// counts them; a checksum that verifies, or any other value, is never changed. On tx a
// packet whose offload.needs_csum is set is completed in software (no tx offloads are
// enabled).
//
// GSO / TSO — what the lab must do for backend = dpdk. A veth (or TAP) peer with TSO/GSO
// on hands the kernel-side AF_PACKET socket TCP super-packets (and UDP GSO ones from
// UDP_SEGMENT senders). net_af_packet has no vnet header to describe them and copies at
// most one ring frame of each (framesz 2048 by default: 1982 bytes of packet), so the
// engine receives a truncated frame whose IP total length exceeds the frame
// (tp_snaplen < tp_len) — a segment nobody can use. Measured (dpdk_port_test.cpp,
// DpdkAfPacket.TcpSuperPacketsFromVethAreTruncatedSoTheLabMustTurnOffTso: client netns
// -veth- af_packet ⇄ af_packet -veth- server netns, a bulk TCP send of 4 MiB):
//   TSO/GSO on at the sender:  ~0.12 MiB of 4 MiB arrived in a 4 s window — 73 of 277 frames
//       were truncated (frames of 1982 B with IP lengths up to 7292 B); TCP only made
//       progress when a retransmission timeout fell back to MSS-sized segments. Stalled.
//   TSO/GSO off at the sender: 4 MiB in 0.07 s, 5409 frames, none truncated, all ≤1514 B,
//       and every one of them needed (and got) its CHECKSUM_PARTIAL checksum completed.
// So for backend = dpdk the lab must turn segmentation offloads off on every
// kernel-side veth/TAP whose traffic reaches a DPDK vdev port — the VM-side peers (the
// senders) and, to be safe, the gateway-side ends too:
//     ethtool -K <veth> tso off gso off gro off   (plus "tx-udp-segmentation off")
// Tx checksum offload may stay on: the backend completes partial checksums. (The uring
// backend, with PACKET_VNET_HDR, can carry super-packets and does not need this.) The
// same holds for net_tap (the host exception TAP: the DPDK tap PMD opens it without
// IFF_VNET_HDR, so the host stack must not send GSO super-packets into it; turn off
// tso/gso on the tap, e.g. `ethtool -K eg-host tso off gso off`) and for net_af_xdp.
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/counters.hpp"
#include "dataplane/io/port_io.hpp"

struct rte_device;
struct rte_mempool;

namespace eg::dp {

class dpdk_environment;

struct dpdk_port_options {
    std::string devargs;       ///< "net_af_packet0,iface=eg-vm", "0000:01:00.0", …
    uint16_t queues = 0;       ///< rx/tx queue pairs; 0 = one per worker of the environment
    uint16_t mtu = 1500;       ///< 0 = leave the device's MTU as it is
    uint16_t rx_descriptors = 1024;
    uint16_t tx_descriptors = 1024;
    enum class toggle : uint8_t { automatic, on, off };
    /// automatic = on for net_af_packet, net_af_xdp and net_tap, off otherwise.
    toggle complete_partial_checksums = toggle::automatic;
    bool promiscuous = true;
};

/// What one queue counts. Owner: its worker; readers: anyone (relaxed).
struct dpdk_queue_stats {
    counter rx_packets, rx_bytes, tx_packets, tx_bytes;
    counter rx_partial_csum_completed;  ///< CHECKSUM_PARTIAL frames finished on rx
    counter tx_csum_completed;          ///< offload.needs_csum finished on tx
    counter tx_csum_bad_offsets;        ///< needs_csum with offsets outside the frame (sent as is)
    counter rx_multiseg_dropped;        ///< chained mbufs (not supported) freed on rx
    counter tx_foreign_refused;         ///< packets whose backend_ref is not our mbuf
};

class dpdk_port;

/// One queue of one dpdk_port, for one worker.
class dpdk_port_io final : public port_io {
public:
    dpdk_port_io(const dpdk_port& port, uint16_t queue, uint16_t port_index, rte_mempool* pool);

    uint16_t rx_burst(packet** out, uint16_t max) override;
    uint16_t tx_burst(packet** pkts, uint16_t n) override;
    void release(packet** pkts, uint16_t n) override;
    /// Sets len = `len` (the caller writes the frame and may shrink it).
    packet* alloc(uint32_t len) override;
    std::array<uint8_t, 6> mac() const override { return mac_; }
    const char* backend_name() const override { return "dpdk"; }

    const dpdk_queue_stats& stats() const { return stats_; }
    uint16_t queue() const { return queue_; }

private:
    uint16_t port_id_;
    uint16_t queue_;
    uint16_t port_index_;
    bool complete_partial_;
    rte_mempool* pool_;
    std::array<uint8_t, 6> mac_;
    dpdk_queue_stats stats_;
};

class dpdk_port {
public:
    /// Probes (or finds) the device, configures its queues and MTU, starts it and turns
    /// promiscuous mode on. Throws std::runtime_error on any failure.
    dpdk_port(dpdk_environment& env, const dpdk_port_options& options);
    ~dpdk_port();
    dpdk_port(const dpdk_port&) = delete;
    dpdk_port& operator=(const dpdk_port&) = delete;

    /// The port_io of worker `queue` (< queues()); `port_index` is the port's index in
    /// the snapshot, written to each received packet's in_port.
    std::unique_ptr<dpdk_port_io> open_queue(uint16_t queue, uint16_t port_index);

    uint16_t port_id() const { return port_id_; }
    const std::string& name() const { return name_; }
    const std::string& driver() const { return driver_; }
    uint16_t queues() const { return queues_; }
    bool completes_partial_checksums() const { return complete_partial_; }
    std::array<uint8_t, 6> mac() const { return mac_; }

    /// The device's own counters (rte_eth_stats_get); control thread.
    struct device_stats {
        uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0, imissed = 0, ierrors = 0, oerrors = 0,
                 rx_nombuf = 0;
    };
    device_stats read_device_stats() const;

private:
    void teardown() noexcept;

    dpdk_environment& env_;
    std::string name_;
    std::string driver_;
    rte_device* device_ = nullptr;
    uint16_t port_id_ = 0;
    uint16_t queues_ = 0;
    bool probed_ = false;   ///< we hot-plugged it (rte_dev_probe), so we remove it
    bool started_ = false;
    bool complete_partial_ = false;
    std::array<uint8_t, 6> mac_{};
};

}  // namespace eg::dp
