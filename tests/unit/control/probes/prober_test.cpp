// The probes' asio adapter (control/probes/prober.hpp) against a real TCP listener on
// loopback that answers like an HTTP proxy in front of an IP-echo service: it records
// the request and answers with an address. The lab test (tests/integration/
// probe_test.sh) does the same through tinyproxy and the host TAP.
#include "control/probes/prober.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace eg::ctl::probes {
namespace {

using tcp = boost::asio::ip::tcp;

/// A listener answering each connection once: after the request's blank line it
/// sends `answer` (unless `silent`) and closes.
class fake_proxy {
public:
    fake_proxy(boost::asio::io_context& io, uint16_t port = 0) : io_(io), acceptor_(io) { open(port); }
    void open(uint16_t port) {
        acceptor_.open(tcp::v4());
        acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
        acceptor_.bind(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port));
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept();
    }
    void close() {
        boost::system::error_code ec;
        acceptor_.close(ec);
    }
    uint16_t port() const { return port_; }
    std::vector<std::string> requests;
    std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\n198.51.100.7\n";
    bool silent = false;

private:
    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
            if (ec) return;
            auto sock = std::make_shared<tcp::socket>(std::move(s));
            auto buf = std::make_shared<std::string>();
            boost::asio::async_read_until(*sock, boost::asio::dynamic_buffer(*buf), "\r\n\r\n",
                                          [this, sock, buf](boost::system::error_code e, size_t n) {
                                              if (e) return;
                                              requests.push_back(buf->substr(0, n));
                                              if (silent) {
                                                  held_.push_back(sock);
                                                  return;
                                              }
                                              boost::asio::async_write(*sock, boost::asio::buffer(answer),
                                                                       [sock](boost::system::error_code, size_t) {
                                                                           boost::system::error_code x;
                                                                           sock->shutdown(tcp::socket::shutdown_both, x);
                                                                       });
                                          });
            accept();
        });
    }
    boost::asio::io_context& io_;
    tcp::acceptor acceptor_;
    uint16_t port_ = 0;
    std::vector<std::shared_ptr<tcp::socket>> held_;
};

/// Runs the loop until `done` or 10 s (a bound, not a timing assertion).
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        io.restart();
        io.run_for(std::chrono::milliseconds(10));
    }
    return true;
}

prober_options options(const std::string& expect) {
    prober_options o;
    o.upstream = boost::asio::ip::address_v4::loopback();
    o.url = *parse_probe_url("http://echo.test:8081/ip");
    o.expect_address = expect;
    o.schedule = {50, 10, 1000};
    o.timeout_ms = 300;
    o.rise = 2;
    o.fall = 3;
    return o;
}

health state_of(const prober& p, uint16_t port) {
    for (const auto& s : p.status())
        if (s.port == port) return s.state;
    return health::unknown;
}

TEST(Prober, HealthyThenDownThenBack) {
    boost::asio::io_context io;
    fake_proxy up(io);
    const uint16_t port = up.port();
    std::vector<std::string> logs;
    prober p(io, options("198.51.100.7"), [&](std::string_view l) { logs.emplace_back(l); });
    p.set_targets({{port, "org:acme"}});
    ASSERT_TRUE(run_until(io, [&] { return state_of(p, port) == health::healthy; }));
    ASSERT_FALSE(up.requests.empty());
    EXPECT_EQ(up.requests[0].substr(0, up.requests[0].find("\r\n")), "GET http://echo.test:8081/ip HTTP/1.1");
    auto s = p.status().at(0);
    EXPECT_EQ(s.owner, "org:acme");
    EXPECT_EQ(s.exit_address, "198.51.100.7");
    ASSERT_TRUE(s.matches.has_value());
    EXPECT_TRUE(*s.matches);
    ASSERT_TRUE(s.last_latency_ms.has_value());
    EXPECT_GE(*s.last_latency_ms, 0.0);
    EXPECT_GE(s.consecutive_ok, 2u);
    EXPECT_EQ(s.latency_count, s.probes);
    EXPECT_NE(s.last_change_unix_s, 0);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_NE(logs[0].find("(org:acme) unknown -> healthy"), std::string::npos) << logs[0];

    up.close();  // connection refused from now on
    ASSERT_TRUE(run_until(io, [&] { return state_of(p, port) == health::unhealthy; }));
    s = p.status().at(0);
    EXPECT_EQ(s.consecutive_fail, 3u);  // exactly `fall` probes
    EXPECT_NE(s.last_error.find("connect"), std::string::npos) << s.last_error;
    ASSERT_EQ(logs.size(), 2u);
    EXPECT_NE(logs[1].find("healthy -> unhealthy after 3 failure(s)"), std::string::npos) << logs[1];

    up.open(port);
    ASSERT_TRUE(run_until(io, [&] { return state_of(p, port) == health::healthy; }));
    EXPECT_EQ(p.status().at(0).consecutive_ok, 2u);
    ASSERT_EQ(logs.size(), 3u);
    EXPECT_NE(logs[2].find("unhealthy -> healthy"), std::string::npos) << logs[2];
}

TEST(Prober, WrongExitAddressAndTimeoutFail) {
    boost::asio::io_context io;
    fake_proxy wrong(io), silent(io);
    silent.silent = true;
    prober p(io, options("203.0.113.1"), [](std::string_view) {});
    p.set_targets({{wrong.port(), "org:a"}, {silent.port(), "vm:vm4"}});
    ASSERT_TRUE(run_until(io, [&] {
        return state_of(p, wrong.port()) == health::unhealthy && state_of(p, silent.port()) == health::unhealthy;
    }));
    for (const auto& s : p.status()) {
        if (s.port == wrong.port()) {
            EXPECT_EQ(s.last_error, "wrong_exit_address");
            EXPECT_EQ(s.exit_address, "198.51.100.7");
            ASSERT_TRUE(s.matches.has_value());
            EXPECT_FALSE(*s.matches);
        } else {
            EXPECT_EQ(s.last_error, "timeout");
            EXPECT_FALSE(s.last_latency_ms.has_value());
        }
    }
}

TEST(Prober, BadAnswersFailWithoutCrashing) {
    boost::asio::io_context io;
    fake_proxy up(io);
    up.answer = "this is not HTTP at all\r\n\r\n";
    prober p(io, options("198.51.100.7"), [](std::string_view) {});
    p.set_targets({{up.port(), "org:a"}});
    ASSERT_TRUE(run_until(io, [&] { return state_of(p, up.port()) == health::unhealthy; }));
    EXPECT_NE(p.status().at(0).last_error.find("read"), std::string::npos) << p.status().at(0).last_error;
}

TEST(Prober, TargetsFollowTheSet) {
    boost::asio::io_context io;
    fake_proxy a(io), b(io);
    prober p(io, options("198.51.100.7"), [](std::string_view) {});
    p.set_targets({{a.port(), "org:a"}, {b.port(), "org:b"}});
    ASSERT_EQ(p.status().size(), 2u);
    ASSERT_TRUE(run_until(io, [&] { return state_of(p, a.port()) == health::healthy; }));
    p.set_targets({{b.port(), "org:b"}});
    ASSERT_EQ(p.status().size(), 1u);
    EXPECT_EQ(p.status()[0].port, b.port());
    p.set_targets({{b.port(), "org:c"}});  // another owner: history starts over
    EXPECT_EQ(p.status()[0].owner, "org:c");
    EXPECT_EQ(p.status()[0].probes, 0u);
}

}  // namespace
}  // namespace eg::ctl::probes
