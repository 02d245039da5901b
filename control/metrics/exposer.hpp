#pragma once
// The Prometheus endpoint: prometheus-cpp's Exposer (its own civetweb threads, by that
// library's design) serving GET /metrics from one collector.
// Owner: the control thread constructs and destroys it; scrapes run on civetweb's
// threads (see collector.hpp for why that is safe).
#include <memory>
#include <string>

#include "control/metrics/collector.hpp"

namespace prometheus {
class Exposer;
}

namespace eg::ctl::metrics {

class exposer {
public:
    /// Listens on `bind` ("127.0.0.1:9091", "[::1]:9091"; port 0 = ephemeral); throws
    /// std::runtime_error when it cannot (start-up only).
    exposer(const std::string& bind, collector::fetch_fn fetch, build_info info);
    /// Stops civetweb (joins its threads; a scrape in progress finishes first).
    ~exposer();
    exposer(const exposer&) = delete;
    exposer& operator=(const exposer&) = delete;

    uint16_t port() const;

private:
    std::shared_ptr<collector> collector_;
    std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace eg::ctl::metrics
