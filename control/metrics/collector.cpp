#include "control/metrics/collector.hpp"

#include <limits>

#include "control/metrics/probe_metrics.hpp"
#include "dataplane/drop_reasons.hpp"

namespace eg::ctl::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric counter(double v, std::vector<prometheus::ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = v;
    return m;
}

ClientMetric gauge(double v, std::vector<prometheus::ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = v;
    return m;
}

MetricFamily family(std::string name, std::string help, MetricType type, std::vector<ClientMetric> ms) {
    return MetricFamily{std::move(name), std::move(help), type, std::move(ms)};
}

double d(uint64_t v) { return static_cast<double>(v); }

void add_wireguard(std::vector<MetricFamily>& out, const gateway_stats& s) {
    std::vector<ClientMetric> bytes, handshakes, age, healthy, drops;
    for (const auto& p : s.wireguard_peers) {
        const ClientMetric::Label t{"tunnel", p.tunnel}, n{"peer", p.peer};
        bytes.push_back(counter(d(p.rx_bytes), {t, n, {"direction", "rx"}}));
        bytes.push_back(counter(d(p.tx_bytes), {t, n, {"direction", "tx"}}));
        handshakes.push_back(counter(d(p.handshakes), {t, n}));
        age.push_back(gauge(p.last_handshake_age_s < 0 ? std::numeric_limits<double>::infinity() : p.last_handshake_age_s,
                            {t, n}));
        healthy.push_back(gauge(p.healthy ? 1 : 0, {t, n}));
        drops.push_back(counter(d(p.drop_not_allowed), {t, n, {"reason", "source_not_in_allowed_ips"}}));
        drops.push_back(counter(d(p.drop_replayed), {t, n, {"reason", "replayed"}}));
        drops.push_back(counter(d(p.drop_auth), {t, n, {"reason", "authentication_failed"}}));
        drops.push_back(counter(d(p.drop_no_keypair), {t, n, {"reason", "no_keypair"}}));
    }
    out.push_back(family("edgegate_wireguard_peer_bytes_total", "Transport message bytes per WireGuard peer.",
                         MetricType::Counter, std::move(bytes)));
    out.push_back(family("edgegate_wireguard_peer_handshakes_total", "Handshakes completed with each peer.",
                         MetricType::Counter, std::move(handshakes)));
    out.push_back(family("edgegate_wireguard_peer_last_handshake_age_seconds",
                         "Seconds since the last handshake with each peer; +Inf when there was none.",
                         MetricType::Gauge, std::move(age)));
    out.push_back(family("edgegate_wireguard_peer_healthy",
                         "1 when the peer has a session and answered within the 12 s keepalive heartbeat.",
                         MetricType::Gauge, std::move(healthy)));
    out.push_back(family("edgegate_wireguard_peer_drops_total", "Packets of each peer dropped, by reason.",
                         MetricType::Counter, std::move(drops)));
    const wireguard_handshake_stats& h = s.wireguard_handshakes;
    out.push_back(family("edgegate_wireguard_handshake_messages_total",
                         "Handshake messages received (rx) and sent (tx), by type.", MetricType::Counter,
                         {counter(d(h.initiations_received), {{"type", "initiation"}, {"direction", "rx"}}),
                          counter(d(h.responses_received), {{"type", "response"}, {"direction", "rx"}}),
                          counter(d(h.cookie_replies_received), {{"type", "cookie_reply"}, {"direction", "rx"}}),
                          counter(d(h.initiations_sent), {{"type", "initiation"}, {"direction", "tx"}}),
                          counter(d(h.responses_sent), {{"type", "response"}, {"direction", "tx"}}),
                          counter(d(h.cookie_replies_sent), {{"type", "cookie_reply"}, {"direction", "tx"}})}));
    out.push_back(family("edgegate_wireguard_handshakes_completed_total", "Handshakes completed, either role.",
                         MetricType::Counter, {counter(d(h.completed))}));
    out.push_back(family("edgegate_wireguard_handshake_refused_total",
                         "Handshake messages refused before or during the handshake, by reason.", MetricType::Counter,
                         {counter(d(h.invalid_mac1), {{"reason", "invalid_mac1"}}),
                          counter(d(h.rate_limited), {{"reason", "rate_limited"}}),
                          counter(d(h.unknown_peer), {{"reason", "unknown_peer"}}),
                          counter(d(h.rejected), {{"reason", "rejected"}}),
                          counter(d(h.malformed), {{"reason", "malformed"}})}));
}

void add_dhcp(std::vector<MetricFamily>& out, const gateway_stats& s) {
    const dhcp_stats& c = s.dhcp_counters;
    auto msg = [](uint64_t v, const char* dir, const char* type) {
        return counter(d(v), {{"direction", dir}, {"type", type}});
    };
    out.push_back(family("edgegate_dhcp_messages_total",
                         "DHCP messages received (rx) by type, and replies made (tx) by type.", MetricType::Counter,
                         {msg(c.rx_discover, "rx", "discover"), msg(c.rx_request, "rx", "request"),
                          msg(c.rx_decline, "rx", "decline"), msg(c.rx_release, "rx", "release"),
                          msg(c.rx_inform, "rx", "inform"), msg(c.tx_offer, "tx", "offer"),
                          msg(c.tx_ack, "tx", "ack"), msg(c.tx_nak, "tx", "nak")}));
    out.push_back(family("edgegate_dhcp_requests_total", "DHCPREQUESTs by client state (RFC 2131 section 4.3.2).",
                         MetricType::Counter,
                         {counter(d(c.request_selecting), {{"state", "selecting"}}),
                          counter(d(c.request_init_reboot), {{"state", "init_reboot"}}),
                          counter(d(c.request_renewing), {{"state", "renewing"}}),
                          counter(d(c.request_rebinding), {{"state", "rebinding"}})}));
    out.push_back(family("edgegate_dhcp_allocations_total",
                         "Bindings that handed a client an address it did not hold (renewals not counted).",
                         MetricType::Counter, {counter(d(c.allocations))}));
    out.push_back(family("edgegate_dhcp_bindings_total", "Bindings committed for an ACK, new and extended.",
                         MetricType::Counter, {counter(d(c.bindings))}));
    out.push_back(family("edgegate_dhcp_releases_total", "DHCPRELEASEs that ended the sender's binding.",
                         MetricType::Counter, {counter(d(c.releases))}));
    out.push_back(family("edgegate_dhcp_naks_total", "DHCPNAKs sent.", MetricType::Counter, {counter(d(c.tx_nak))}));
    out.push_back(family("edgegate_dhcp_declines_total", "DHCPDECLINEs that quarantined an address.",
                         MetricType::Counter, {counter(d(c.declines))}));
    out.push_back(family("edgegate_dhcp_pool_exhausted_total", "DHCPDISCOVERs not offered an address: pool full.",
                         MetricType::Counter, {counter(d(c.pool_exhausted))}));
    out.push_back(family("edgegate_dhcp_leases_active",
                         "Bindings bound and not expired (recounted at most once a second).", MetricType::Gauge,
                         {gauge(d(c.leases_active))}));
    out.push_back(family("edgegate_dhcp_acks_held", "ACKs waiting for their lease to reach the disk.",
                         MetricType::Gauge, {gauge(d(c.replies_held))}));
    std::vector<ClientMetric> drops;
    for (const auto& [reason, v] : c.drops) drops.push_back(counter(d(v), {{"reason", reason}}));
    out.push_back(family("edgegate_dhcp_drops_total", "DHCP messages dropped without a reply, by reason.",
                         MetricType::Counter, std::move(drops)));

    std::vector<ClientMetric> size, available, used, quarantined;
    for (const auto& p : s.pools) {
        const std::vector<ClientMetric::Label> l = {{"network", p.network}, {"port", p.port}};
        size.push_back(gauge(d(p.total), l));
        available.push_back(gauge(d(p.available), l));
        used.push_back(gauge(d(p.used), l));
        quarantined.push_back(gauge(d(p.quarantined), l));
    }
    out.push_back(family("edgegate_dhcp_pool_size",
                         "Addresses of each DHCP network's pool ranges (the gateway's own excluded, "
                         "reservations included).",
                         MetricType::Gauge, std::move(size)));
    out.push_back(family("edgegate_dhcp_pool_available", "Pool addresses free to offer now.", MetricType::Gauge,
                         std::move(available)));
    out.push_back(family("edgegate_dhcp_pool_used",
                         "Pool addresses taken: bound, held for an offer, or reserved.", MetricType::Gauge,
                         std::move(used)));
    out.push_back(family("edgegate_dhcp_pool_quarantined", "Pool addresses quarantined after a DHCPDECLINE.",
                         MetricType::Gauge, std::move(quarantined)));

    const lease_store_stats& st = s.lease_store;
    out.push_back(family("edgegate_lease_store_journal_bytes", "Size of the lease journal being appended to.",
                         MetricType::Gauge, {gauge(d(st.journal_bytes))}));
    out.push_back(family("edgegate_lease_store_written_bytes_total", "Bytes written to the lease journal.",
                         MetricType::Counter, {counter(d(st.written_bytes))}));
    out.push_back(family("edgegate_lease_store_records_total", "Records appended to the lease journal.",
                         MetricType::Counter, {counter(d(st.records))}));
    out.push_back(family("edgegate_lease_store_compactions_total", "Journal compactions into a snapshot, by result.",
                         MetricType::Counter,
                         {counter(d(st.compactions), {{"result", "ok"}}),
                          counter(d(st.compaction_failures), {{"result", "failed"}})}));
    ClientMetric h;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < st.fsync_buckets.size(); ++b) {
        cumulative += st.fsync_buckets[b];
        ClientMetric::Bucket bk;
        bk.cumulative_count = cumulative;
        bk.upper_bound = b < st.fsync_bounds_s.size() ? st.fsync_bounds_s[b] : std::numeric_limits<double>::infinity();
        h.histogram.bucket.push_back(bk);
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = st.fsync_seconds;
    out.push_back(family("edgegate_lease_store_fsync_seconds",
                         "fdatasync latency of each lease-journal batch (one per group commit).",
                         MetricType::Histogram, {std::move(h)}));
}

}  // namespace

std::vector<MetricFamily> info_family(const build_info& info) {
    return {family("edgegate_info", "Build and identity of this gateway; always 1.", MetricType::Gauge,
                   {gauge(1, {{"name", info.name}, {"version", info.version}})})};
}

std::vector<MetricFamily> families(const gateway_stats& s, const build_info& info) {
    std::vector<MetricFamily> out = info_family(info);

    std::vector<ClientMetric> packets, bytes;
    for (const auto& p : s.ports) {
        packets.push_back(counter(d(p.rx_packets), {{"port", p.name}, {"direction", "rx"}}));
        packets.push_back(counter(d(p.tx_packets), {{"port", p.name}, {"direction", "tx"}}));
        bytes.push_back(counter(d(p.rx_bytes), {{"port", p.name}, {"direction", "rx"}}));
        bytes.push_back(counter(d(p.tx_bytes), {{"port", p.name}, {"direction", "tx"}}));
    }
    out.push_back(family("edgegate_port_packets_total", "Packets received (rx) and sent (tx) per port.",
                         MetricType::Counter, std::move(packets)));
    out.push_back(family("edgegate_port_bytes_total", "Bytes received (rx) and sent (tx) per port, Ethernet frames.",
                         MetricType::Counter, std::move(bytes)));

    // Every reason, zeros included: a series that appears only on its first drop
    // breaks rate() and alerts on absent().
    std::vector<ClientMetric> drops;
    for (uint16_t r = 1; r < dp::k_drop_reason_count; ++r) {
        const auto reason = static_cast<dp::drop_reason>(r);
        const uint64_t v = r < s.drops_by_reason.size() ? s.drops_by_reason[r] : 0;
        drops.push_back(counter(d(v), {{"stage", std::string(dp::drop_stage(reason))},
                                       {"reason", std::string(dp::drop_text(reason))}}));
    }
    out.push_back(family("edgegate_drops_total", "Packets the data plane dropped, by stage and reason.",
                         MetricType::Counter, std::move(drops)));

    out.push_back(family("edgegate_forwarded_packets_total", "Packets routed through the gateway, by IP family.",
                         MetricType::Counter,
                         {counter(d(s.forwarded_ipv4), {{"family", "ipv4"}}),
                          counter(d(s.forwarded_ipv6), {{"family", "ipv6"}})}));
    out.push_back(family("edgegate_nat_sessions_active", "NAT44 sessions and mappings live now, all workers.",
                         MetricType::Gauge, {gauge(d(s.nat_sessions_active))}));
    out.push_back(family("edgegate_nat_sessions_created_total", "NAT44 sessions created.", MetricType::Counter,
                         {counter(d(s.nat_sessions_created))}));
    out.push_back(family("edgegate_nat_sessions_expired_total", "NAT44 sessions removed after their idle timeout.",
                         MetricType::Counter, {counter(d(s.nat_sessions_expired))}));
    out.push_back(family("edgegate_nat_translated_packets_total", "Packets NAT44 translated (both directions).",
                         MetricType::Counter, {counter(d(s.nat_translated))}));
    out.push_back(family("edgegate_neighbours", "Entries in the ARP/ND neighbour table.", MetricType::Gauge,
                         {gauge(d(s.neighbours))}));
    out.push_back(family("edgegate_punted_frames_total",
                         "Frames the workers handed to the control thread (ARP/ND, DHCP, ...).", MetricType::Counter,
                         {counter(d(s.punted))}));
    out.push_back(family("edgegate_backend_drops_total",
                         "Frames the packet I/O backends lost before the engine saw them (all ports).",
                         MetricType::Counter, {counter(d(s.backend_drops))}));
    if (s.wireguard) {
        add_wireguard(out, s);
    }
    if (!s.probes.empty()) append_probe_families(out, s.probes);
    if (s.dhcp) add_dhcp(out, s);
    return out;
}

std::vector<MetricFamily> collector::Collect() const {
    if (auto s = fetch_()) {
        return families(*s, info_);
    }
    // The control thread did not answer in time (stopping, or wedged): say who we are
    // rather than report stale or partial numbers.
    return info_family(info_);
}

}  // namespace eg::ctl::metrics
