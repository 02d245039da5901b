#include "control/probes/prober.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>


namespace eg::ctl::probes {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

uint64_t probe_clock_ms() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

/// One probe: connect, send, read the answer, all under one deadline.
class prober::attempt : public std::enable_shared_from_this<prober::attempt> {
public:
    using done_fn = std::function<void(probe_outcome, std::optional<double>)>;
    attempt(boost::asio::io_context& io, const prober_options& o, const std::string& request, done_fn done)
        : stream_(io), o_(o), request_(request), done_(std::move(done)) {}

    void run(tcp::endpoint to) {
        started_ = std::chrono::steady_clock::now();
        stream_.expires_after(std::chrono::milliseconds(o_.timeout_ms));
        stream_.async_connect(to, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
    }

private:
    void on_connect(beast::error_code ec) {
        if (ec) return fail("connect", ec);
        boost::asio::async_write(stream_, boost::asio::buffer(request_),
                                 [self = shared_from_this()](beast::error_code e, size_t) { self->on_write(e); });
    }
    void on_write(beast::error_code ec) {
        if (ec) return fail("write", ec);
        parser_.header_limit(o_.max_answer_bytes);
        parser_.body_limit(o_.max_answer_bytes);
        http::async_read(stream_, buffer_, parser_,
                         [self = shared_from_this()](beast::error_code e, size_t) { self->on_read(e); });
    }
    void on_read(beast::error_code ec) {
        if (ec) return fail("read", ec);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
        const auto& res = parser_.get();
        probe_outcome o = evaluate_response(res.result_int(), res.body(), o_.expect_address);
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        done_(std::move(o), ms);
    }
    void fail(const char* step, beast::error_code ec) {
        probe_outcome o;
        o.error = ec == beast::error::timeout ? std::string("timeout") : std::string(step) + ": " + ec.message();
        done_(std::move(o), std::nullopt);
    }

    beast::tcp_stream stream_;
    prober_options o_;     // copies: an attempt may outlive the prober at shutdown
    std::string request_;
    done_fn done_;
    beast::flat_buffer buffer_;
    http::response_parser<http::string_body> parser_;
    std::chrono::steady_clock::time_point started_;
};

prober::prober(boost::asio::io_context& io, prober_options o, log_fn log)
    : io_(io),
      o_(std::move(o)),
      log_(std::move(log)),
      request_(build_proxy_request(o_.url)),
      sched_(o_.schedule, static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())),
      timer_(io) {}

prober::~prober() {
    alive_.reset();
    timer_.cancel();
}

void prober::log(std::string_view line) const {
    if (log_) {
        log_(line);
    } else {
        std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
}

void prober::set_targets(const std::map<uint16_t, std::string>& targets) {
    const uint64_t now = probe_clock_ms();
    for (auto it = ports_.begin(); it != ports_.end();) {
        if (!targets.contains(it->first)) {
            sched_.remove(it->first);
            it = ports_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [port, owner] : targets) {
        auto it = ports_.find(port);
        if (it == ports_.end()) {
            port_state st{port_status{}, health_tracker(o_.rise, o_.fall)};
            st.s.port = port;
            st.s.owner = owner;
            ports_.emplace(port, std::move(st));
            sched_.add(port, now);
        } else if (it->second.s.owner != owner) {
            // Another user on the same port: its history is not theirs.
            it->second = port_state{port_status{}, health_tracker(o_.rise, o_.fall)};
            it->second.s.port = port;
            it->second.s.owner = owner;
            sched_.remove(port);
            sched_.add(port, now);
        }
    }
    armed_for_ms_ = 0;
    arm();
}

std::vector<port_status> prober::status() const {
    std::vector<port_status> out;
    out.reserve(ports_.size());
    for (const auto& [port, st] : ports_) {
        port_status s = st.s;
        s.state = st.tracker.state();
        s.consecutive_ok = st.tracker.consecutive_ok();
        s.consecutive_fail = st.tracker.consecutive_fail();
        out.push_back(std::move(s));
    }
    return out;
}

void prober::arm() {
    const uint64_t now = probe_clock_ms();
    const uint64_t next = sched_.next_wakeup(now);
    if (next == std::numeric_limits<uint64_t>::max()) {
        timer_.cancel();
        armed_for_ms_ = 0;
        return;
    }
    if (armed_for_ms_ != 0 && armed_for_ms_ <= next) return;  // an earlier wake-up is already set
    armed_for_ms_ = next;
    timer_.expires_after(std::chrono::milliseconds(next - now));
    timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
        if (ec || !alive.lock()) return;
        armed_for_ms_ = 0;
        on_timer();
    });
}

void prober::on_timer() {
    for (uint16_t port : sched_.take_due(probe_clock_ms())) {
        start(port);
    }
    arm();
}

void prober::start(uint16_t port) {
    auto it = ports_.find(port);
    if (it == ports_.end()) return;
    const uint64_t id = ++next_attempt_;
    it->second.attempt = id;
    std::weak_ptr<int> alive = alive_;
    auto a = std::make_shared<attempt>(io_, o_, request_,
                                       [this, alive, port, id](probe_outcome o, std::optional<double> ms) {
                                           if (alive.lock()) finish(port, id, std::move(o), ms);
                                       });
    a->run(tcp::endpoint(o_.upstream, port));
}

void prober::finish(uint16_t port, uint64_t id, probe_outcome o, std::optional<double> latency_ms) {
    auto it = ports_.find(port);
    if (it == ports_.end() || it->second.attempt != id) return;  // removed or replaced meanwhile
    it->second.attempt = 0;
    sched_.on_done(port, probe_clock_ms());
    port_status& s = it->second.s;
    s.last_probe_unix_s = static_cast<int64_t>(std::time(nullptr));
    ++s.probes;
    if (!o.ok) ++s.failures;
    s.last_error = o.error;
    if (latency_ms) {
        s.last_latency_ms = *latency_ms;
        const double sec = *latency_ms / 1000.0;
        size_t b = 0;
        while (b < k_latency_buckets_s.size() && sec > k_latency_buckets_s[b]) ++b;
        ++s.latency_buckets[b];
        s.latency_sum_s += sec;
        ++s.latency_count;
    }
    if (!o.exit_address.empty()) {
        s.exit_address = o.exit_address;
        s.matches = o.matches;
    }
    if (auto t = it->second.tracker.on_result(o.ok)) {
        s.last_change_unix_s = s.last_probe_unix_s;
        std::string line = "probes: port " + std::to_string(port) + " (" + s.owner + ") " +
                           std::string(to_string(t->from)) + " -> " + std::string(to_string(t->to));
        if (o.ok) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.1f", latency_ms.value_or(0));
            line += " latency_ms=" + std::string(buf) + " exit=" + o.exit_address;
        } else {
            line += " after " + std::to_string(it->second.tracker.consecutive_fail()) + " failure(s), last: " + o.error;
            if (!o.exit_address.empty()) line += " (exit " + o.exit_address + ")";
        }
        log(line);
    }
    arm();
}

}  // namespace eg::ctl::probes
