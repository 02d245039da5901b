#pragma once
// The probes' asio adapter on the control thread's io_context: a timer wakes when the
// scheduler has a probe due; each probe is a TCP connection from the host's own
// kernel stack (its packets leave through the host TAP, the exception path, and the
// engine routes them to the uplink) to nat.proxy.upstream:PORT, one absolute-form GET
// of probes.url, and the whole answer read (Connection: close) within timeout_ms. The
// outcome feeds the port's rise/fall tracker; state changes are logged.
//
//   timer ─► scheduler.take_due ─► connect ─► write request ─► read answer ─► evaluate
//      ▲                                                   (or timeout/error)     │
//      └──────────── scheduler.on_done ◄── health_tracker.on_result ◄─────────────┘
//
// Owner: the control thread (construct, call and destroy it there).
#include <utility>  // before asio: Boost 1.74 uses std::exchange without including it

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/probes/health.hpp"
#include "control/probes/http_check.hpp"
#include "control/probes/probe_status.hpp"
#include "control/probes/scheduler.hpp"

namespace eg::ctl::probes {

struct prober_options {
    boost::asio::ip::address upstream;       ///< nat.proxy.upstream
    probe_url url;
    std::optional<std::string> expect_address;
    schedule_policy schedule;
    uint32_t timeout_ms = 3000;
    uint32_t rise = 2, fall = 3;
    uint32_t max_answer_bytes = 4096;        ///< headers + body of the echo answer
};

class prober {
public:
    using log_fn = std::function<void(std::string_view line)>;
    /// `log` defaults to stderr.
    prober(boost::asio::io_context& io, prober_options o, log_fn log = {});
    ~prober();
    prober(const prober&) = delete;
    prober& operator=(const prober&) = delete;

    /// The ports to probe and who holds each ("org:ID", "vm:NAME"): new ones are
    /// added, missing ones dropped (with their state).
    void set_targets(const std::map<uint16_t, std::string>& targets);
    std::vector<port_status> status() const;

private:
    struct port_state {
        port_status s;
        health_tracker tracker;
        uint64_t attempt = 0;  ///< id of the probe in flight (stale completions are ignored)
    };
    class attempt;
    void arm();
    void on_timer();
    void start(uint16_t port);
    void finish(uint16_t port, uint64_t attempt, probe_outcome o, std::optional<double> latency_ms);
    void log(std::string_view line) const;

    boost::asio::io_context& io_;
    prober_options o_;
    log_fn log_;
    std::string request_;
    scheduler sched_;
    std::map<uint16_t, port_state> ports_;
    boost::asio::steady_timer timer_;
    uint64_t armed_for_ms_ = 0;
    uint64_t next_attempt_ = 0;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  ///< attempts check it
};

/// Monotonic milliseconds (the scheduler's clock).
uint64_t probe_clock_ms();

}  // namespace eg::ctl::probes
