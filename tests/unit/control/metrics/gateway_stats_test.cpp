// The gateway's side of the API and metrics (control/gateway.cpp): a real gateway with
// memory-backend ports runs its control loop in a thread; stats cross threads only
// through stats_from_any_thread(), and the API and exposer it starts answer curl.
#include <utility>  // before asio (Boost 1.74)

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "control/gateway.hpp"
#include "dataplane/drop_reasons.hpp"

namespace eg::ctl {
namespace {

uint16_t free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::address_v4::loopback(), 0});
    return a.local_endpoint().port();
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    char b[512];
    while (p && fgets(b, sizeof b, p)) out += b;
    if (p) pclose(p);
    return out;
}

TEST(GatewayStats, CrossThreadFetchApiAndMetrics) {
    auto r = cfg::load_string(R"([gateway]
name = "unit-edge"
status_interval_s = 0
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]
[nat]
public_addresses = ["203.0.113.1"]
[api]
secret = "unit-secret-0123456789"
[metrics]
)",
                              "unit.toml");
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    cfg::config c = std::move(*r.value);
    c.api.listen.port = free_port();
    c.metrics.listen.port = free_port();
    const std::string api = "http://127.0.0.1:" + std::to_string(c.api.listen.port);
    const std::string metrics = "http://127.0.0.1:" + std::to_string(c.metrics.listen.port) + "/metrics";

    gateway gw(std::move(c));
    EXPECT_FALSE(gw.stats_from_any_thread(std::chrono::milliseconds(50)));  // loop not running yet
    std::thread loop([&] { gw.run(); });
    std::optional<metrics::gateway_stats> s;
    for (int i = 0; i < 100 && !s; ++i) {  // nullopt at once until run() has started the loop
        s = gw.stats_from_any_thread(std::chrono::milliseconds(100));
        if (!s) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!s) {
        gw.stop();
        loop.join();
        FAIL() << "no stats from the running control loop within 15 s";
    }
    ASSERT_EQ(s->ports.size(), 2u);
    EXPECT_EQ(s->ports[0].name, "vm");
    EXPECT_EQ(s->ports[1].name, "uplink");
    EXPECT_EQ(s->drops_by_reason.size(), dp::k_drop_reason_count);

    if (std::FILE* probe = std::fopen("/usr/bin/curl", "r")) {
        std::fclose(probe);
        const std::string info = run("curl -sS --max-time 5 -H 'x-api-secret: unit-secret-0123456789' " + api + "/v1/info");
        EXPECT_NE(info.find("\"name\":\"unit-edge\""), std::string::npos) << info;
        const std::string stats = run("curl -sS --max-time 5 -H 'x-api-secret: unit-secret-0123456789' " + api + "/v1/stats");
        EXPECT_NE(stats.find("\"sessions_active\":0"), std::string::npos) << stats;
        const std::string scrape = run("curl -sS --max-time 5 " + metrics);
        EXPECT_NE(scrape.find("edgegate_port_packets_total{port=\"uplink\",direction=\"rx\"} 0"), std::string::npos)
            << scrape;
        EXPECT_NE(scrape.find("edgegate_info{name=\"unit-edge\""), std::string::npos) << scrape;
    }

    gw.stop();
    loop.join();
    EXPECT_FALSE(gw.stats_from_any_thread(std::chrono::milliseconds(50)));  // loop ended: no wait, no value
}

}  // namespace
}  // namespace eg::ctl
