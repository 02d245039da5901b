#include "dataplane/io/dpdk/dpdk_port.hpp"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <stdexcept>

#include "dataplane/io/dpdk/dpdk_checksum.hpp"
#include "dataplane/io/dpdk/dpdk_eal.hpp"

namespace eg::dp {
namespace {

constexpr uint16_t k_prefetch_ahead = 3;
constexpr uint32_t k_l2_overhead = 14 + 8 + 4;  // Ethernet + two VLAN tags + FCS room

[[noreturn]] void fail(const std::string& what, int rc) {
    throw std::runtime_error("dpdk: " + what + ": " + rte_strerror(rc < 0 ? -rc : rc));
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

packet* descriptor_of(rte_mbuf* m) { return static_cast<packet*>(rte_mbuf_to_priv(m)); }

}  // namespace

// --- dpdk_port ------------------------------------------------------------------------

dpdk_port::dpdk_port(dpdk_environment& env, const dpdk_port_options& options) : env_(env) {
    queues_ = options.queues ? options.queues : static_cast<uint16_t>(env.workers());
    if (queues_ == 0 || queues_ > env.workers())
        throw std::runtime_error("dpdk: port " + options.devargs + ": queues must be 1.." +
                                 std::to_string(env.workers()) + " (one mbuf pool per worker)");
    std::string devargs = options.devargs;
    name_ = devargs.substr(0, devargs.find(','));
    if (name_.empty()) throw std::runtime_error("dpdk: empty port devargs");
    // Kernel-backed vdevs open as many queues as their devargs say, one by default.
    if (queues_ > 1 && starts_with(name_, "net_af_packet") && devargs.find("qpairs=") == std::string::npos)
        devargs += ",qpairs=" + std::to_string(queues_);
    if (queues_ > 1 && starts_with(name_, "net_af_xdp") && devargs.find("queue_count=") == std::string::npos)
        devargs += ",queue_count=" + std::to_string(queues_);

    try {
        uint16_t pid = 0;
        if (rte_eth_dev_get_port_by_name(name_.c_str(), &pid) != 0) {
            int rc = rte_dev_probe(devargs.c_str());
            if (rc < 0) fail("probing \"" + devargs + "\"", rc);
            probed_ = true;
            if (rte_eth_dev_get_port_by_name(name_.c_str(), &pid) != 0)
                throw std::runtime_error("dpdk: \"" + devargs + "\" probed but no ethdev is named " + name_);
        }
        port_id_ = pid;

        rte_eth_dev_info info{};
        int rc = rte_eth_dev_info_get(pid, &info);
        if (rc != 0) fail("port " + name_ + ": rte_eth_dev_info_get", rc);
        driver_ = info.driver_name ? info.driver_name : "";
        device_ = info.device;
        if (queues_ > info.max_rx_queues || queues_ > info.max_tx_queues)
            throw std::runtime_error("dpdk: port " + name_ + " (" + driver_ + ") supports " +
                                     std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) +
                                     " queues, " + std::to_string(queues_) + " needed");

        rte_eth_conf conf{};
        if (options.mtu) {
            if (options.mtu + k_l2_overhead > static_cast<uint32_t>(env.data_room() - RTE_PKTMBUF_HEADROOM))
                throw std::runtime_error("dpdk: port " + name_ + ": mtu " + std::to_string(options.mtu) +
                                         " does not fit one mbuf (data_room " + std::to_string(env.data_room()) +
                                         "); multi-segment frames are not supported");
            conf.rxmode.mtu = options.mtu;
        }
        rc = rte_eth_dev_configure(pid, queues_, queues_, &conf);
        if (rc != 0) fail("port " + name_ + ": rte_eth_dev_configure(" + std::to_string(queues_) + " queues)", rc);
        uint16_t nb_rxd = options.rx_descriptors, nb_txd = options.tx_descriptors;
        rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nb_rxd, &nb_txd);
        if (rc != 0) fail("port " + name_ + ": rte_eth_dev_adjust_nb_rx_tx_desc", rc);
        int socket = rte_eth_dev_socket_id(pid);
        unsigned sock = socket < 0 ? static_cast<unsigned>(SOCKET_ID_ANY) : static_cast<unsigned>(socket);
        for (uint16_t q = 0; q < queues_; ++q) {
            rc = rte_eth_rx_queue_setup(pid, q, nb_rxd, sock, nullptr, env.pool(q));
            if (rc != 0) fail("port " + name_ + ": rx queue " + std::to_string(q) + " setup", rc);
            rc = rte_eth_tx_queue_setup(pid, q, nb_txd, sock, nullptr);
            if (rc != 0) fail("port " + name_ + ": tx queue " + std::to_string(q) + " setup", rc);
        }
        if (options.mtu) {
            rc = rte_eth_dev_set_mtu(pid, options.mtu);  // af_packet/tap: sets the kernel iface MTU
            if (rc != 0 && rc != -ENOTSUP) fail("port " + name_ + ": set mtu " + std::to_string(options.mtu), rc);
        }
        rc = rte_eth_dev_start(pid);
        if (rc != 0) fail("port " + name_ + ": rte_eth_dev_start", rc);
        started_ = true;
        if (options.promiscuous) {
            rc = rte_eth_promiscuous_enable(pid);
            if (rc != 0 && rc != -ENOTSUP) fail("port " + name_ + ": promiscuous mode", rc);
        }
        rte_ether_addr a{};
        rc = rte_eth_macaddr_get(pid, &a);
        if (rc != 0) fail("port " + name_ + ": rte_eth_macaddr_get", rc);
        std::copy(std::begin(a.addr_bytes), std::end(a.addr_bytes), mac_.begin());
    } catch (...) {
        teardown();
        throw;
    }

    using toggle = dpdk_port_options::toggle;
    complete_partial_ = options.complete_partial_checksums == toggle::on ||
                        (options.complete_partial_checksums == toggle::automatic &&
                         (driver_ == "net_af_packet" || driver_ == "net_af_xdp" || driver_ == "net_tap"));
}

dpdk_port::~dpdk_port() { teardown(); }

void dpdk_port::teardown() noexcept {
    if (driver_.empty() && !probed_) return;  // never found a port
    if (started_) rte_eth_dev_stop(port_id_);
    started_ = false;
    rte_eth_dev_close(port_id_);
    if (probed_ && device_) rte_dev_remove(device_);
    probed_ = false;
    driver_.clear();
    device_ = nullptr;
}

std::unique_ptr<dpdk_port_io> dpdk_port::open_queue(uint16_t queue, uint16_t port_index) {
    if (queue >= queues_)
        throw std::runtime_error("dpdk: port " + name_ + " has no queue " + std::to_string(queue));
    return std::make_unique<dpdk_port_io>(*this, queue, port_index, env_.pool(queue));
}

dpdk_port::device_stats dpdk_port::read_device_stats() const {
    rte_eth_stats s{};
    device_stats d;
    if (rte_eth_stats_get(port_id_, &s) != 0) return d;
    d.ipackets = s.ipackets;
    d.opackets = s.opackets;
    d.ibytes = s.ibytes;
    d.obytes = s.obytes;
    d.imissed = s.imissed;
    d.ierrors = s.ierrors;
    d.oerrors = s.oerrors;
    d.rx_nombuf = s.rx_nombuf;
    return d;
}

// --- dpdk_port_io ---------------------------------------------------------------------

dpdk_port_io::dpdk_port_io(const dpdk_port& port, uint16_t queue, uint16_t port_index, rte_mempool* pool)
    : port_id_(port.port_id()),
      queue_(queue),
      port_index_(port_index),
      complete_partial_(port.completes_partial_checksums()),
      pool_(pool),
      mac_(port.mac()) {}

uint16_t dpdk_port_io::rx_burst(packet** out, uint16_t max) {
    rte_mbuf* m[k_max_burst];
    const uint16_t n = rte_eth_rx_burst(port_id_, queue_, m, std::min(max, k_max_burst));
    if (n == 0) return 0;
    for (uint16_t i = 0; i < std::min(n, k_prefetch_ahead); ++i) rte_prefetch0(rte_pktmbuf_mtod(m[i], void*));

    uint16_t got = 0;
    uint64_t bytes = 0, completed = 0;
    for (uint16_t i = 0; i < n; ++i) {
        if (i + k_prefetch_ahead < n) rte_prefetch0(rte_pktmbuf_mtod(m[i + k_prefetch_ahead], void*));
        rte_mbuf* mb = m[i];
        if (mb->nb_segs != 1) [[unlikely]] {
            rte_pktmbuf_free(mb);
            stats_.rx_multiseg_dropped.add();
            continue;
        }
        packet* p = descriptor_of(mb);
        *p = packet{};
        p->data = rte_pktmbuf_mtod(mb, uint8_t*);
        p->len = mb->data_len;
        p->in_port = port_index_;
        p->buf = static_cast<uint8_t*>(mb->buf_addr);
        p->buf_size = mb->buf_len;
        p->backend_ref = mb;
        p->offload.csum_valid = (mb->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        bytes += p->len;
        if (complete_partial_ &&
            dpdk_csum::complete_partial_l4_checksum(p->data, p->len) == dpdk_csum::partial_result::completed)
            ++completed;
        out[got++] = p;
    }
    stats_.rx_packets.add(got);
    stats_.rx_bytes.add(bytes);
    if (completed) stats_.rx_partial_csum_completed.add(completed);
    return got;
}

uint16_t dpdk_port_io::tx_burst(packet** pkts, uint16_t n) {
    uint16_t taken = 0;
    while (taken < n) {
        rte_mbuf* m[k_max_burst];
        const uint16_t chunk = std::min<uint16_t>(static_cast<uint16_t>(n - taken), k_max_burst);
        uint16_t k = 0;
        uint64_t bytes = 0;
        bool foreign = false;
        for (; k < chunk; ++k) {
            packet* p = pkts[taken + k];
            auto* mb = static_cast<rte_mbuf*>(p->backend_ref);
            if (mb == nullptr || descriptor_of(mb) != p) [[unlikely]] {  // not one of ours
                stats_.tx_foreign_refused.add();
                foreign = true;
                break;
            }
            if (p->offload.needs_csum) [[unlikely]] {
                if (dpdk_csum::complete_offload_checksum(*p))
                    stats_.tx_csum_completed.add();
                else
                    stats_.tx_csum_bad_offsets.add();
            }
            mb->data_off = static_cast<uint16_t>(p->data - static_cast<uint8_t*>(mb->buf_addr));
            mb->data_len = static_cast<uint16_t>(p->len);
            mb->pkt_len = p->len;
            mb->ol_flags = 0;  // no tx offloads requested
            bytes += p->len;
            m[k] = mb;
        }
        const uint16_t sent = k ? rte_eth_tx_burst(port_id_, queue_, m, k) : 0;
        if (sent) {
            stats_.tx_packets.add(sent);
            if (sent == k) {
                stats_.tx_bytes.add(bytes);
            } else {
                for (uint16_t i = 0; i < sent; ++i) stats_.tx_bytes.add(m[i]->pkt_len);
            }
        }
        taken = static_cast<uint16_t>(taken + sent);
        if (sent < k || foreign) break;
    }
    return taken;
}

void dpdk_port_io::release(packet** pkts, uint16_t n) {
    rte_mbuf* m[k_max_burst];
    while (n) {
        const uint16_t chunk = std::min(n, k_max_burst);
        for (uint16_t i = 0; i < chunk; ++i) m[i] = static_cast<rte_mbuf*>(pkts[i]->backend_ref);
        rte_pktmbuf_free_bulk(m, chunk);
        pkts += chunk;
        n = static_cast<uint16_t>(n - chunk);
    }
}

packet* dpdk_port_io::alloc(uint32_t len) {
    rte_mbuf* mb = rte_pktmbuf_alloc(pool_);
    if (!mb) return nullptr;
    if (len > rte_pktmbuf_tailroom(mb)) {
        rte_pktmbuf_free(mb);
        return nullptr;
    }
    packet* p = descriptor_of(mb);
    *p = packet{};
    p->data = rte_pktmbuf_mtod(mb, uint8_t*);
    p->len = len;
    p->in_port = port_index_;
    p->buf = static_cast<uint8_t*>(mb->buf_addr);
    p->buf_size = mb->buf_len;
    p->backend_ref = mb;
    mb->data_len = static_cast<uint16_t>(len);
    mb->pkt_len = len;
    return p;
}

}  // namespace eg::dp
