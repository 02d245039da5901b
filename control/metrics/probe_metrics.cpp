#include "control/metrics/probe_metrics.hpp"

#include <limits>
#include <string>

namespace eg::ctl::metrics {

void append_probe_families(std::vector<prometheus::MetricFamily>& out, const std::vector<probes::port_status>& ports) {
    using prometheus::ClientMetric;
    using prometheus::MetricType;
    std::vector<ClientMetric> healthy, state, latency, total, failures;
    for (const auto& p : ports) {
        const std::vector<ClientMetric::Label> labels = {{"port", std::to_string(p.port)}, {"owner", p.owner}};
        ClientMetric h;
        h.label = labels;
        h.gauge.value = p.state == probes::health::healthy ? 1 : 0;
        healthy.push_back(h);
        // One series per state, the current one 1 (the usual enum-as-gauge shape).
        for (const auto s : {probes::health::unknown, probes::health::healthy, probes::health::unhealthy}) {
            ClientMetric m;
            m.label = labels;
            m.label.push_back({"state", std::string(probes::to_string(s))});
            m.gauge.value = p.state == s ? 1 : 0;
            state.push_back(std::move(m));
        }
        ClientMetric l;
        l.label = labels;
        uint64_t cumulative = 0;
        for (size_t b = 0; b < p.latency_buckets.size(); ++b) {
            cumulative += p.latency_buckets[b];
            ClientMetric::Bucket bk;
            bk.cumulative_count = cumulative;
            bk.upper_bound = b < probes::k_latency_buckets_s.size() ? probes::k_latency_buckets_s[b]
                                                                   : std::numeric_limits<double>::infinity();
            l.histogram.bucket.push_back(bk);
        }
        l.histogram.sample_count = p.latency_count;
        l.histogram.sample_sum = p.latency_sum_s;
        latency.push_back(std::move(l));
        ClientMetric t;
        t.label = labels;
        t.counter.value = static_cast<double>(p.probes);
        total.push_back(std::move(t));
        ClientMetric f;
        f.label = labels;
        f.counter.value = static_cast<double>(p.failures);
        failures.push_back(std::move(f));
    }
    out.push_back({"edgegate_probe_healthy", "1 if the proxy port's probes say healthy (rise/fall), else 0.",
                   MetricType::Gauge, std::move(healthy)});
    out.push_back({"edgegate_probe_state", "Health state of each probed proxy port: 1 for the current state.",
                   MetricType::Gauge, std::move(state)});
    out.push_back({"edgegate_probe_latency_seconds",
                   "Time from connect to the whole answer, for probes that got an HTTP answer through the proxy.",
                   MetricType::Histogram, std::move(latency)});
    out.push_back({"edgegate_probes_total", "Probes finished per proxy port.", MetricType::Counter, std::move(total)});
    out.push_back({"edgegate_probe_failures_total", "Probes that failed per proxy port (error, timeout, wrong exit).",
                   MetricType::Counter, std::move(failures)});
}

}  // namespace eg::ctl::metrics
