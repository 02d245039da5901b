// The Prometheus collector (control/metrics/collector.hpp): names, labels and values
// in the text format, checked by promtool (the real linter) when it is installed, and
// a scrape over HTTP from the real exposer.
#include "control/metrics/collector.hpp"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "control/metrics/exposer.hpp"
#include "dataplane/drop_reasons.hpp"

namespace eg::ctl::metrics {
namespace {

gateway_stats some_stats() {
    gateway_stats s;
    s.ports = {{"vm", 10, 1000, 20, 2000}, {"uplink", 30, 3000, 40, 4000}, {"host", 1, 64, 2, 128}};
    s.drops_by_reason.assign(dp::k_drop_reason_count, 0);
    s.drops_by_reason[dp::reason_index(dp::drop_reason::nat_no_free_port)] = 2;
    s.forwarded_ipv4 = 7;
    s.forwarded_ipv6 = 8;
    s.punted = 12;
    s.backend_drops = 13;
    s.nat_sessions_active = 3;
    s.nat_sessions_created = 9;
    s.nat_sessions_expired = 6;
    s.nat_translated = 11;
    s.neighbours = 4;
    probes::port_status p;
    p.port = 10002;
    p.owner = "org:acme";
    p.state = probes::health::healthy;
    p.latency_buckets[3] = 2;  // 5..10 ms
    p.latency_buckets[12] = 1; // over 5 s
    p.latency_sum_s = 6.0;
    p.latency_count = 3;
    p.probes = 4;
    p.failures = 1;
    s.probes.push_back(p);
    s.dhcp = true;
    dhcp_stats& d = s.dhcp_counters;
    d.rx_discover = 21;
    d.tx_offer = 20;
    d.rx_request = 19;
    d.tx_ack = 18;
    d.tx_nak = 1;
    d.request_renewing = 5;
    d.allocations = 13;
    d.bindings = 18;
    d.declines = 2;
    d.leases_active = 12;
    d.drops = {{"no_network", 3}, {"malformed", 0}};
    s.pools.push_back({"192.168.100.0/24", "vm", {"192.168.100.100-192.168.100.199"}, 100, 14, 84, 2});
    lease_store_stats& l = s.lease_store;
    l.journal_bytes = 4096;
    l.records = 40;
    l.fsync_bounds_s = {0.001, 0.01};
    l.fsync_buckets = {3, 2, 1};
    l.fsync_seconds = 0.5;
    return s;
}

std::string text(const std::vector<prometheus::MetricFamily>& f) { return prometheus::TextSerializer().Serialize(f); }

TEST(MetricsCollector, TextFormat) {
    const std::string t = text(families(some_stats(), {"lab-edge", "0.1.0"}));
    for (const char* line : {
             "edgegate_info{name=\"lab-edge\",version=\"0.1.0\"} 1\n",
             "edgegate_port_packets_total{port=\"vm\",direction=\"rx\"} 10\n",
             "edgegate_port_packets_total{port=\"uplink\",direction=\"tx\"} 40\n",
             "edgegate_port_bytes_total{port=\"host\",direction=\"tx\"} 128\n",
             "edgegate_drops_total{stage=\"nat\",reason=\"no_free_port\"} 2\n",
             "edgegate_drops_total{stage=\"ipv4\",reason=\"ttl_exceeded\"} 0\n",
             "edgegate_forwarded_packets_total{family=\"ipv6\"} 8\n",
             "edgegate_nat_sessions_active 3\n",
             "edgegate_nat_sessions_created_total 9\n",
             "edgegate_nat_sessions_expired_total 6\n",
             "edgegate_nat_translated_packets_total 11\n",
             "edgegate_neighbours 4\n",
             "edgegate_punted_frames_total 12\n",
             "edgegate_backend_drops_total 13\n",
             "# TYPE edgegate_drops_total counter\n",
             "# TYPE edgegate_nat_sessions_active gauge\n",
             "edgegate_probe_healthy{port=\"10002\",owner=\"org:acme\"} 1\n",
             "edgegate_probe_state{port=\"10002\",owner=\"org:acme\",state=\"unhealthy\"} 0\n",
             "edgegate_probe_state{port=\"10002\",owner=\"org:acme\",state=\"healthy\"} 1\n",
             "edgegate_probe_latency_seconds_bucket{port=\"10002\",owner=\"org:acme\",le=\"0.005\"} 0\n",
             "edgegate_probe_latency_seconds_bucket{port=\"10002\",owner=\"org:acme\",le=\"0.01\"} 2\n",
             "edgegate_probe_latency_seconds_bucket{port=\"10002\",owner=\"org:acme\",le=\"5\"} 2\n",
             "edgegate_probe_latency_seconds_bucket{port=\"10002\",owner=\"org:acme\",le=\"+Inf\"} 3\n",
             "edgegate_probe_latency_seconds_count{port=\"10002\",owner=\"org:acme\"} 3\n",
             "edgegate_probes_total{port=\"10002\",owner=\"org:acme\"} 4\n",
             "edgegate_probe_failures_total{port=\"10002\",owner=\"org:acme\"} 1\n",
             "# TYPE edgegate_probe_latency_seconds histogram\n",
             "edgegate_dhcp_messages_total{direction=\"rx\",type=\"discover\"} 21\n",
             "edgegate_dhcp_messages_total{direction=\"tx\",type=\"offer\"} 20\n",
             "edgegate_dhcp_messages_total{direction=\"rx\",type=\"request\"} 19\n",
             "edgegate_dhcp_messages_total{direction=\"tx\",type=\"ack\"} 18\n",
             "edgegate_dhcp_messages_total{direction=\"tx\",type=\"nak\"} 1\n",
             "edgegate_dhcp_messages_total{direction=\"rx\",type=\"inform\"} 0\n",
             "edgegate_dhcp_requests_total{state=\"renewing\"} 5\n",
             "edgegate_dhcp_allocations_total 13\n",
             "edgegate_dhcp_bindings_total 18\n",
             "edgegate_dhcp_naks_total 1\n",
             "edgegate_dhcp_declines_total 2\n",
             "edgegate_dhcp_leases_active 12\n",
             "edgegate_dhcp_drops_total{reason=\"no_network\"} 3\n",
             "edgegate_dhcp_pool_size{network=\"192.168.100.0/24\",port=\"vm\"} 100\n",
             "edgegate_dhcp_pool_available{network=\"192.168.100.0/24\",port=\"vm\"} 84\n",
             "edgegate_dhcp_pool_used{network=\"192.168.100.0/24\",port=\"vm\"} 14\n",
             "edgegate_dhcp_pool_quarantined{network=\"192.168.100.0/24\",port=\"vm\"} 2\n",
             "edgegate_lease_store_journal_bytes 4096\n",
             "edgegate_lease_store_records_total 40\n",
             "edgegate_lease_store_fsync_seconds_bucket{le=\"0.001\"} 3\n",
             "edgegate_lease_store_fsync_seconds_bucket{le=\"0.01\"} 5\n",
             "edgegate_lease_store_fsync_seconds_bucket{le=\"+Inf\"} 6\n",
             "edgegate_lease_store_fsync_seconds_count 6\n",
             "edgegate_lease_store_fsync_seconds_sum 0.5\n",
             "# TYPE edgegate_lease_store_fsync_seconds histogram\n",
             "# TYPE edgegate_dhcp_leases_active gauge\n",
         }) {
        EXPECT_NE(t.find(line), std::string::npos) << "missing: " << line << "in\n" << t;
    }
    EXPECT_EQ(t.find("reason=\"none\""), std::string::npos);
}

TEST(MetricsCollector, WithoutStatsOnlyInfo) {
    collector c([] { return std::optional<gateway_stats>(); }, {"x", "0.1.0"});
    const auto f = c.Collect();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].name, "edgegate_info");
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1; echo \"rc=$?\"").c_str(), "r");
    char b[512];
    while (p && fgets(b, sizeof b, p)) out += b;
    if (p) pclose(p);
    return out;
}

TEST(MetricsCollector, PromtoolAcceptsTheExposition) {
    if (std::FILE* probe = std::fopen("/usr/bin/promtool", "r")) {
        std::fclose(probe);
    } else {
        GTEST_SKIP() << "promtool is not installed (Debian package prometheus; tools/setup installs it)";
    }
    char path[] = "/tmp/eg-metrics-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const std::string t = text(families(some_stats(), {"lab-edge", "0.1.0"}));
    ASSERT_EQ(write(fd, t.data(), t.size()), static_cast<ssize_t>(t.size()));
    close(fd);
    const std::string out = run(std::string("promtool check metrics < ") + path);
    std::remove(path);
    EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
}

TEST(MetricsCollector, ExposerServesScrapes) {
    if (std::FILE* probe = std::fopen("/usr/bin/curl", "r")) {
        std::fclose(probe);
    } else {
        GTEST_SKIP() << "curl is not installed";
    }
    int fetches = 0;
    exposer e("127.0.0.1:0", [&] { ++fetches; return std::optional<gateway_stats>(some_stats()); }, {"lab-edge", "0.1.0"});
    ASSERT_NE(e.port(), 0);
    const std::string out = run("curl -sS --max-time 5 http://127.0.0.1:" + std::to_string(e.port()) + "/metrics");
    EXPECT_NE(out.find("edgegate_nat_sessions_created_total 9"), std::string::npos) << out;
    EXPECT_EQ(fetches, 1);
}

}  // namespace
}  // namespace eg::ctl::metrics
