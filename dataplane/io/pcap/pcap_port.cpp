#include "dataplane/io/pcap/pcap_port.hpp"

#include <pcap/pcap.h>
#include <sys/time.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace eg::dp {

pcap_port::pcap_port(const pcap_port_options& opts, buffer_pool& pool)
    : pool_(pool), port_index_(opts.port_index), mac_(opts.mac) {
    char err[PCAP_ERRBUF_SIZE] = {};
    if (!opts.input_path.empty()) {
        in_ = pcap_open_offline(opts.input_path.c_str(), err);
        if (!in_)
            throw std::runtime_error("pcap port: cannot open input '" + opts.input_path + "': " + err);
        if (int link = pcap_datalink(in_); link != DLT_EN10MB) {
            pcap_close(in_);
            in_ = nullptr;
            throw std::runtime_error("pcap port: input '" + opts.input_path + "' is not Ethernet (link type " +
                                     std::to_string(link) + ")");
        }
        exhausted_ = false;
    }
    if (!opts.output_path.empty()) {
        out_dead_ = pcap_open_dead(DLT_EN10MB, 262144);
        if (!out_dead_ || !(out_ = pcap_dump_open(out_dead_, opts.output_path.c_str()))) {
            std::string why = out_dead_ ? pcap_geterr(out_dead_) : "pcap_open_dead failed";
            if (out_dead_)
                pcap_close(out_dead_);
            out_dead_ = nullptr;
            if (in_)
                pcap_close(in_);
            in_ = nullptr;
            throw std::runtime_error("pcap port: cannot open output '" + opts.output_path + "': " + why);
        }
    }
}

pcap_port::~pcap_port() {
    if (out_) {
        pcap_dump_flush(out_);
        pcap_dump_close(out_);
    }
    if (out_dead_)
        pcap_close(out_dead_);
    if (in_)
        pcap_close(in_);
}

uint16_t pcap_port::rx_burst(packet** out, uint16_t max) {
    if (exhausted_)
        return 0;
    uint16_t n = 0;
    uint64_t bytes = 0;
    while (n < max) {
        pcap_pkthdr* hdr = nullptr;
        const u_char* data = nullptr;
        int rc = pcap_next_ex(in_, &hdr, &data);
        if (rc != 1) {  // PCAP_ERROR_BREAK at end of file, or a read error: either way done
            if (rc != PCAP_ERROR_BREAK)
                stats_.rx_errors.add();
            exhausted_ = true;
            break;
        }
        if (hdr->caplen > pool_.data_room()) {
            stats_.rx_truncated.add();
            continue;
        }
        packet* p = pool_.alloc();
        if (!p) {
            // libpcap cannot push a record back: it is lost for want of a buffer, counted.
            stats_.rx_no_buffer.add();
            break;
        }
        std::memcpy(p->data, data, hdr->caplen);
        p->len = hdr->caplen;
        p->in_port = port_index_;
        bytes += hdr->caplen;
        out[n++] = p;
    }
    stats_.rx_packets.add(n);
    stats_.rx_bytes.add(bytes);
    return n;
}

uint16_t pcap_port::tx_burst(packet** pkts, uint16_t n) {
    // Only this pool's descriptors can be taken (and freed); the caller keeps the rest.
    for (uint16_t i = 0; i < n; ++i)
        if (!pool_.owns(pkts[i])) {
            n = i;
            break;
        }
    uint64_t bytes = 0;
    if (out_) {
        timeval now{};
        ::gettimeofday(&now, nullptr);  // vDSO, once per burst
        for (uint16_t i = 0; i < n; ++i) {
            packet& p = *pkts[i];
            if (p.offload.needs_csum)
                complete_checksum(p);
            pcap_pkthdr hdr{};
            hdr.ts = now;
            hdr.caplen = hdr.len = p.len;
            pcap_dump(reinterpret_cast<u_char*>(out_), &hdr, p.data);
            bytes += p.len;
        }
    } else {
        for (uint16_t i = 0; i < n; ++i)
            bytes += pkts[i]->len;
    }
    pool_.free(pkts, n);
    stats_.tx_packets.add(n);
    stats_.tx_bytes.add(bytes);
    return n;
}

void pcap_port::flush() {
    if (out_)
        pcap_dump_flush(out_);
}

packet* pcap_port::alloc(uint32_t len) {
    if (len > pool_.data_room())
        return nullptr;
    return pool_.alloc();
}

std::unique_ptr<pcap_port> open_pcap_port(const pcap_port_options& opts, buffer_pool& pool) {
    return std::make_unique<pcap_port>(opts, pool);
}

bool complete_checksum(packet& p) {
    uint32_t start = p.offload.csum_start;
    uint32_t field = start + p.offload.csum_offset;
    if (field + 2 > p.len || start >= p.len)
        return false;
    // Ones'-complement sum over [start, len), the field (holding the pseudo-header
    // sum) included, RFC 1071.
    uint64_t sum = 0;
    const uint8_t* d = p.data + start;
    uint32_t n = p.len - start;
    uint32_t i = 0;
    for (; i + 1 < n; i += 2)
        sum += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
    if (i < n)
        sum += static_cast<uint32_t>(d[i] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t csum = static_cast<uint16_t>(~sum & 0xffff);
    // UDP sends a zero result as 0xffff (RFC 768); for TCP both encode the same value.
    if (csum == 0)
        csum = 0xffff;
    p.data[field] = static_cast<uint8_t>(csum >> 8);
    p.data[field + 1] = static_cast<uint8_t>(csum);
    p.offload.needs_csum = 0;
    return true;
}

}  // namespace eg::dp
