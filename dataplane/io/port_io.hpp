#pragma once
// One interface over every packet-I/O backend (uring, dpdk, memory, pcap).
//
// A port_io is one queue of one port, used by exactly one worker thread: the worker
// that opened it calls rx_burst/tx_burst/release from its own thread only. A virtual
// call costs once per burst, never per packet.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/packet.hpp"

namespace eg::dp {

class port_io {
public:
    virtual ~port_io() = default;

    /// Receives up to `max` packets; returns how many were written to `out`. Never
    /// blocks. Each returned packet's in_port is set to this port's index.
    virtual uint16_t rx_burst(packet** out, uint16_t max) = 0;

    /// Takes ownership of `n` packets for transmission and returns how many it took
    /// (the first `taken`); the caller still owns and must release() the rest. The
    /// frames (with their offload_info) may be queued and sent at flush().
    virtual uint16_t tx_burst(packet** pkts, uint16_t n) = 0;

    /// Pushes out whatever tx_burst queued (one system call per flush at most).
    virtual void flush() {}

    /// Returns packets the caller owns (dropped, punted after copying) to the backend.
    virtual void release(packet** pkts, uint16_t n) = 0;

    /// A fresh packet with at least `len` bytes of room, for frames the worker creates
    /// (injected by the control thread). nullptr when the pool is empty.
    virtual packet* alloc(uint32_t len) = 0;

    /// A file descriptor that becomes readable when packets may be waiting, for
    /// adaptive polling; -1 if the backend must be polled.
    virtual int wait_fd() const { return -1; }

    /// True when wait_fd is readable exactly while frames wait (level, like a packet
    /// socket over an mmap'd ring), so that the worker may watch it only while it sleeps.
    /// Watched all the time, such a socket costs the CPU that delivers every frame a
    /// wake-up call (the wait-queue lock) even while the worker is busy polling.
    /// False for edge-style fds that are never read (eventfds): watched permanently.
    virtual bool wait_fd_is_level() const { return false; }

    /// The port's MAC address as the backend sees it (interface or NIC address).
    virtual std::array<uint8_t, 6> mac() const = 0;

    virtual const char* backend_name() const = 0;

    /// Frames the backend lost before the engine saw them (a kernel socket's receive
    /// queue overflowing, a NIC out of descriptors), since the previous call. Called by
    /// the control thread, not the owner; backends make it safe for that (one
    /// getsockopt, a device counter).
    virtual uint64_t take_backend_drops() { return 0; }
};

}  // namespace eg::dp
