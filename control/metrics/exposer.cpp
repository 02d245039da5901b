#include "control/metrics/exposer.hpp"

#include <prometheus/exposer.h>

#include <exception>
#include <stdexcept>

namespace eg::ctl::metrics {

exposer::exposer(const std::string& bind, collector::fetch_fn fetch, build_info info)
    : collector_(std::make_shared<collector>(std::move(fetch), std::move(info))) {
    try {
        // One civetweb worker: scrapes are rare and each one waits for the control
        // thread anyway; more threads would only queue there.
        exposer_ = std::make_unique<prometheus::Exposer>(bind, 1);
    } catch (const std::exception& e) {
        throw std::runtime_error("metrics: cannot listen on " + bind + ": " + e.what());
    }
    exposer_->RegisterCollectable(collector_);
}

exposer::~exposer() = default;

uint16_t exposer::port() const {
    const auto ports = exposer_->GetListeningPorts();
    return ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
}

}  // namespace eg::ctl::metrics
