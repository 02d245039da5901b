// The v1 read endpoints (control/api/v1_endpoints.hpp) over the lab's real config.
#include "control/api/v1_endpoints.hpp"

#include <gtest/gtest.h>

#include "dataplane/drop_reasons.hpp"

namespace eg::ctl::api {
namespace {

using json = nlohmann::json;

cfg::config lab_config() {
    auto r = cfg::load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
    EXPECT_TRUE(r.errors.empty());
    return std::move(*r.value);
}

metrics::gateway_stats some_stats() {
    metrics::gateway_stats s;
    s.ports = {{"vm", 10, 1000, 20, 2000}, {"uplink", 30, 3000, 40, 4000}};
    s.drops_by_reason.assign(dp::k_drop_reason_count, 0);
    s.drops_by_reason[dp::reason_index(dp::drop_reason::ipv4_no_route)] = 5;
    s.drops_by_reason[dp::reason_index(dp::drop_reason::nat_no_free_port)] = 2;
    s.forwarded_ipv4 = 7;
    s.forwarded_ipv6 = 8;
    s.nat_sessions_active = 3;
    s.nat_sessions_created = 9;
    s.nat_sessions_expired = 6;
    s.nat_translated = 11;
    s.neighbours = 4;
    s.uptime_ms = 12345;
    return s;
}

TEST(V1Endpoints, Info) {
    const cfg::config c = lab_config();
    const json j = info_json(c, "0.1.0", 61000);
    EXPECT_EQ(j["name"], "lab-edge");
    EXPECT_EQ(j["version"], "0.1.0");
    EXPECT_EQ(j["workers"], 1);
    EXPECT_EQ(j["uptime_s"], 61);
    ASSERT_EQ(j["ports"].size(), 2u);
    EXPECT_EQ(j["ports"][0]["name"], "vm");
    EXPECT_EQ(j["ports"][0]["role"], "vm");
    EXPECT_EQ(j["ports"][0]["ipv4"], json({"192.168.100.1/24"}));
    EXPECT_EQ(j["ports"][1]["role"], "uplink");
    EXPECT_EQ(j["ports"][1]["ipv6"], json({"2001:db8:1::1/64"}));
    EXPECT_EQ(j["nat"]["public_addresses"], json({"203.0.113.1"}));
    EXPECT_EQ(j["host_tap"], "eg-host");
    EXPECT_EQ(j.dump().find("secret"), std::string::npos);
}

TEST(V1Endpoints, Stats) {
    const json j = stats_json(some_stats());
    EXPECT_EQ(j["rx_packets"], 40);
    EXPECT_EQ(j["tx_bytes"], 6000);
    EXPECT_EQ(j["forwarded"], json({{"ipv4", 7}, {"ipv6", 8}}));
    EXPECT_EQ(j["drops"]["total"], 7);
    ASSERT_EQ(j["drops"]["by_reason"].size(), 2u);
    EXPECT_EQ(j["drops"]["by_reason"][0], json({{"stage", "ipv4"}, {"reason", "no_route"}, {"packets", 5}}));
    EXPECT_EQ(j["nat"]["sessions_active"], 3);
    EXPECT_EQ(j["nat"]["sessions_created"], 9);
    EXPECT_EQ(j["nat"]["sessions_expired"], 6);
    EXPECT_EQ(j["neighbours"], 4);
    EXPECT_EQ(j["ports"][1]["name"], "uplink");
}

TEST(V1Endpoints, RoutedThroughTheRouter) {
    const cfg::config c = lab_config();
    router r;
    int stats_calls = 0;
    uint64_t generation = 1;
    cfg::config shown = c;
    add_v1_read_endpoints(r, v1_sources{&shown, [&] { ++stats_calls; return some_stats(); }, [] { return uint64_t{5000}; },
                                        "0.1.0", [&] { return generation; }});
    for (const char* path : {"/v1/info", "/v1/stats"}) {
        request q{"GET", path, "", {}, ""};
        EXPECT_EQ(r.dispatch(q).status, 200u) << path;
        q.method = "POST";
        EXPECT_EQ(r.dispatch(q).status, 405u) << path;
    }
    EXPECT_EQ(stats_calls, 1);  // /v1/info does not sum counters
    request info{"GET", "/v1/info", "", {}, ""};
    const response cached = r.dispatch(info);
    EXPECT_EQ(json::parse(cached.serialized)["name"], "lab-edge");
    EXPECT_EQ(json::parse(cached.serialized)["uptime_s"], 5);
    // A reload moves the config's generation: the cached document is rebuilt at once,
    // within the same uptime second.
    shown.gateway.name = "renamed";
    EXPECT_EQ(json::parse(r.dispatch(info).serialized)["name"], "lab-edge");
    ++generation;
    EXPECT_EQ(json::parse(r.dispatch(info).serialized)["name"], "renamed");
    request q{"GET", "/v1/allocations", "", {}, ""};
    EXPECT_EQ(r.dispatch(q).status, 404u);
}

}  // namespace
}  // namespace eg::ctl::api
