#include "dataplane/io/uring/tap_port.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace eg::dp {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& step, int err) {
    std::string msg = "tap port '" + name + "': " + step + ": " + std::strerror(err);
    if (err == EPERM || err == EACCES)
        msg += " (needs CAP_NET_ADMIN: run as root)";
    throw std::runtime_error(msg);
}

// Largest frame the kernel may hand over with TSO: a 64 KiB IP packet plus Ethernet.
constexpr uint32_t k_gso_frame_max = 65535 + 14 + 4;

}  // namespace

tap_port::tap_port(const tap_options& opts, buffer_pool& pool) : pool_(pool), name_(opts.name), mac_(opts.mac) {
    if (name_.empty() || name_.size() >= IFNAMSIZ)
        throw std::runtime_error("tap port: bad device name '" + name_ + "'");
    if (pool.data_room() < (opts.mtu ? opts.mtu : 1500) + 18)
        throw std::runtime_error("tap port '" + name_ + "': pool buffers hold " + std::to_string(pool.data_room()) +
                                 " bytes, less than an MTU-sized frame");
    // O_NONBLOCK: io_uring then arms a poll for an empty queue instead of parking a
    // kernel worker thread in a blocking read.
    fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0)
        fail(name_, "open /dev/net/tun", errno);
    int ctl = -1;
    try {
        ifreq ifr{};
        std::memcpy(ifr.ifr_name, name_.c_str(), name_.size() + 1);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        if (opts.queues > 1)
            ifr.ifr_flags |= IFF_MULTI_QUEUE;
        if (::ioctl(fd_, TUNSETIFF, &ifr) < 0)
            fail(name_, "TUNSETIFF", errno);
        int hdr = static_cast<int>(k_vnet_hdr_len);
        if (::ioctl(fd_, TUNSETVNETHDRSZ, &hdr) < 0)
            fail(name_, "TUNSETVNETHDRSZ", errno);
        gso_ = pool.data_room() >= k_gso_frame_max;
        unsigned offload = TUN_F_CSUM | (gso_ ? TUN_F_TSO4 | TUN_F_TSO6 : 0u);
        if (::ioctl(fd_, TUNSETOFFLOAD, offload) < 0)
            fail(name_, "TUNSETOFFLOAD", errno);

        // Bring the device up (and set its MTU) through an ordinary socket of the
        // current network namespace.
        ctl = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (ctl < 0)
            fail(name_, "control socket", errno);
        ifreq req{};
        std::memcpy(req.ifr_name, name_.c_str(), name_.size() + 1);
        if (opts.mtu) {
            req.ifr_mtu = static_cast<int>(opts.mtu);
            if (::ioctl(ctl, SIOCSIFMTU, &req) < 0)
                fail(name_, "SIOCSIFMTU " + std::to_string(opts.mtu), errno);
        }
        if (::ioctl(ctl, SIOCGIFFLAGS, &req) < 0)
            fail(name_, "SIOCGIFFLAGS", errno);
        if (!(req.ifr_flags & IFF_UP)) {
            req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
            if (::ioctl(ctl, SIOCSIFFLAGS, &req) < 0)
                fail(name_, "SIOCSIFFLAGS up", errno);
        }
        ::close(ctl);
        ctl = -1;

        queue_ = std::make_unique<uring_queue>(fd_, uring_queue::fd_kind::file, opts.ring_entries, opts.rx_buffers,
                                               pool, opts.port_index, "tap port '" + name_ + "'");
    } catch (...) {
        if (ctl >= 0)
            ::close(ctl);
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

tap_port::~tap_port() {
    queue_.reset();
    if (fd_ >= 0)
        ::close(fd_);
}

std::unique_ptr<tap_port> open_tap_port(const tap_options& opts, buffer_pool& pool) {
    return std::make_unique<tap_port>(opts, pool);
}

}  // namespace eg::dp
