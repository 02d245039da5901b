#pragma once
// The `pcap` backend: an input capture file read as rx and an output capture file
// written on tx, for regression tests and for tracing what the engine did. Either side
// is optional (no input: rx_burst returns 0; no output: tx frames are counted and
// released).
//
// Owner: one worker thread. libpcap buffers both files, so a burst costs no system
// call per packet. The output is Ethernet (DLT_EN10MB) with microsecond timestamps
// taken once per tx burst. A frame sent with needs_csum has its L4 checksum completed
// before it is written, so the file shows what the wire would carry; GSO super-packets
// are written as they are (one record, not segmented).
#include <cstdint>
#include <string>

#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/port_io.hpp"

struct pcap;
struct pcap_dumper;

namespace eg::dp {

struct pcap_port_options {
    std::string input_path;   ///< read as rx; empty = none
    std::string output_path;  ///< written on tx (truncated at open); empty = none
    uint16_t port_index = 0;
    std::array<uint8_t, 6> mac{0x02, 0, 0, 0, 0, 0x01};
};

class pcap_port final : public port_io {
public:
    /// Throws std::runtime_error naming the file when a capture cannot be opened or the
    /// input is not Ethernet. Startup only.
    pcap_port(const pcap_port_options& opts, buffer_pool& pool);
    ~pcap_port() override;

    /// True once the whole input has been read (or there is no input).
    bool input_exhausted() const { return exhausted_; }
    const io_stats& stats() const { return stats_; }

    // port_io
    uint16_t rx_burst(packet** out, uint16_t max) override;
    uint16_t tx_burst(packet** pkts, uint16_t n) override;
    void flush() override;
    void release(packet** pkts, uint16_t n) override { pool_.free(pkts, n); }
    packet* alloc(uint32_t len) override;
    std::array<uint8_t, 6> mac() const override { return mac_; }
    const char* backend_name() const override { return "pcap"; }

private:
    buffer_pool& pool_;
    uint16_t port_index_;
    std::array<uint8_t, 6> mac_;
    ::pcap* in_ = nullptr;
    ::pcap* out_dead_ = nullptr;
    ::pcap_dumper* out_ = nullptr;
    bool exhausted_ = true;
    io_stats stats_;
};

std::unique_ptr<pcap_port> open_pcap_port(const pcap_port_options& opts, buffer_pool& pool);

/// Completes a CHECKSUM_PARTIAL frame in software: the 16-bit field at
/// csum_start + csum_offset holds the pseudo-header sum; afterwards it holds the full
/// Internet checksum (RFC 1071) over [csum_start, len) and needs_csum is cleared.
/// Returns false (frame untouched) when the offsets do not fit inside the frame.
bool complete_checksum(packet& p);

}  // namespace eg::dp
