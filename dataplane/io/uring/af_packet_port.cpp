#include "dataplane/io/uring/af_packet_port.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace eg::dp {

namespace {

[[noreturn]] void fail(const std::string& ifname, const std::string& step, int err) {
    std::string msg = "af_packet port on interface '" + ifname + "': " + step + ": " + std::strerror(err);
    if (err == EPERM || err == EACCES)
        msg += " (needs CAP_NET_RAW and CAP_NET_ADMIN: run as root)";
    throw std::runtime_error(msg);
}

}  // namespace

af_packet_port::af_packet_port(const af_packet_options& opts, buffer_pool& pool) : pool_(pool) {
    const std::string& name = opts.interface;
    if (name.empty() || name.size() >= IFNAMSIZ)
        throw std::runtime_error("af_packet port: bad interface name '" + name + "'");
    ifindex_ = static_cast<int>(::if_nametoindex(name.c_str()));
    if (ifindex_ == 0)
        throw std::runtime_error("af_packet port: no such interface '" + name + "'" +
                                 (errno == ENODEV || errno == ENXIO ? "" : std::string(": ") + std::strerror(errno)));

    // Protocol 0 until bind: nothing queues on the socket before it is configured.
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        fail(name, "socket(AF_PACKET)", errno);
    try {
        auto setopt = [&](int level, int opt, int val, const char* what) {
            if (::setsockopt(fd_, level, opt, &val, sizeof val) < 0)
                fail(name, what, errno);
        };
        setopt(SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
        setopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
        setopt(SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20, "SO_RCVBUFFORCE");
        setopt(SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20, "SO_SNDBUFFORCE");

        ifreq ifr{};
        std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
        if (::ioctl(fd_, SIOCGIFHWADDR, &ifr) < 0)
            fail(name, "SIOCGIFHWADDR", errno);
        if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */)
            throw std::runtime_error("af_packet port: interface '" + name + "' is not Ethernet");
        std::memcpy(mac_.data(), ifr.ifr_hwaddr.sa_data, 6);
        if (::ioctl(fd_, SIOCGIFMTU, &ifr) < 0)
            fail(name, "SIOCGIFMTU", errno);
        // One MTU-sized frame with an Ethernet header and a VLAN tag must fit.
        const uint32_t need = static_cast<uint32_t>(ifr.ifr_mtu) + ETH_HLEN + 4;
        if (pool.data_room() < need)
            throw std::runtime_error("af_packet port on interface '" + name + "': pool buffers hold " +
                                     std::to_string(pool.data_room()) + " bytes, MTU " +
                                     std::to_string(ifr.ifr_mtu) + " needs " + std::to_string(need));

        packet_mreq mr{};
        mr.mr_ifindex = ifindex_;
        mr.mr_type = PACKET_MR_PROMISC;
        if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
            fail(name, "PACKET_ADD_MEMBERSHIP promiscuous", errno);

        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_ALL);
        sll.sll_ifindex = ifindex_;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0)
            fail(name, "bind", errno);

        if (opts.fanout_workers > 1) {
            // Same group id for every worker's socket on this interface; the kernel
            // hashes each flow to one of them.
            int fanout = (ifindex_ & 0xffff) | (PACKET_FANOUT_HASH << 16);
            setopt(SOL_PACKET, PACKET_FANOUT, fanout, "PACKET_FANOUT");
        }

        // Receive: a TPACKET_V2 ring mapped from this socket (no request per packet).
        // Send: io_uring SENDs, batched per burst, on a second, send-only socket
        // (protocol 0: the kernel queues nothing on it). Sending on the receiving
        // socket woke its pollers on every transmitted packet (sock_wfree ->
        // write_space): ~46 % of the gateway's CPU in a 64-byte flood.
        tx_fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (tx_fd_ < 0)
            fail(name, "socket(AF_PACKET) for sending", errno);
        auto setopt_tx = [&](int level, int opt, int val, const char* what) {
            if (::setsockopt(tx_fd_, level, opt, &val, sizeof val) < 0)
                fail(name, what, errno);
        };
        setopt_tx(SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR (send socket)");
        setopt_tx(SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20, "SO_SNDBUFFORCE (send socket)");
        setopt_tx(SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
        sockaddr_ll tx_sll{};
        tx_sll.sll_family = AF_PACKET;
        tx_sll.sll_protocol = 0;
        tx_sll.sll_ifindex = ifindex_;
        if (::bind(tx_fd_, reinterpret_cast<sockaddr*>(&tx_sll), sizeof tx_sll) < 0)
            fail(name, "bind (send socket)", errno);

        const std::string what = "af_packet port on interface '" + name + "'";
        queue_ = std::make_unique<uring_queue>(tx_fd_, uring_queue::fd_kind::socket, opts.ring_entries, 0, pool,
                                               opts.port_index, what);
        rx_ring_ = std::make_unique<packet_rx_ring>(fd_, opts.rx_buffers, pool.data_room() - 4, pool, opts.port_index,
                                                    queue_->shared_stats(), what);
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        if (tx_fd_ >= 0)
            ::close(tx_fd_);
        tx_fd_ = -1;
        throw;
    }
}

af_packet_port::~af_packet_port() {
    queue_.reset();  // the rings go first: they reference the sockets
    rx_ring_.reset();
    if (fd_ >= 0)
        ::close(fd_);
    if (tx_fd_ >= 0)
        ::close(tx_fd_);
}

uint64_t af_packet_port::take_backend_drops() {
    tpacket_stats st{};
    socklen_t len = sizeof st;
    if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
        return 0;
    return st.tp_drops;
}

std::unique_ptr<af_packet_port> open_af_packet_port(const af_packet_options& opts, buffer_pool& pool) {
    return std::make_unique<af_packet_port>(opts, pool);
}

}  // namespace eg::dp
