// The allocation endpoints (control/api/v1_allocations) through the real router over a
// real dhcp_service: a real config, a real lease store in a temporary directory (its
// sync thread and fdatasync included). Writes answer through a deferred response once
// the store reports the record durable through the io_context, as on the gateway.
#include "control/api/v1_allocations.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl::api {
namespace {

using json = nlohmann::json;

std::string config_text(const std::string& state_dir, const std::string& pool) {
    return R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
ipv6 = ["2001:db8:100::1/64"]

[[ports]]
name = "up"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]

[nat]
public_addresses = ["203.0.113.1"]
max_vms = 8

[[vms]]
name = "vm1"
mac = "02:00:00:00:01:01"
ipv4 = "192.168.100.11"

[dhcp]
state_dir = ")" + state_dir + R"("

[[dhcp.networks]]
port = "vm"
pool = [)" + pool + R"(]
lease_time_s = 600
dns = ["203.0.113.2"]
ipv6_prefix = "2001:db8:100::/64"
)";
}

class V1Allocations : public ::testing::Test {
protected:
    void SetUp() override { start("\"192.168.100.100-192.168.100.102\""); }

    void start(const std::string& pool) {
        routes_ = router{};
        svc_.reset();
        const auto r = cfg::load_string(config_text((dir_.path() / "leases").string(), pool), "test.toml");
        ASSERT_TRUE(r.value) << (r.errors.empty() ? "" : r.errors.front().to_string());
        config_ = *r.value;
        svc_ = std::make_unique<dhcp_service>(
            config_, io_, [](uint16_t) { return dp::mac_bytes{2, 0, 0, 0, 0, 1}; },
            [](uint16_t, std::span<const uint8_t>) {}, [this](std::string_view line) { log_.emplace_back(line); });
        add_v1_allocation_endpoints(routes_, svc_.get());
    }

    /// Dispatches a request; a deferred answer is waited for (the io_context runs the
    /// store's durability report), at most 5 s.
    response call(const std::string& method, const std::string& path, const std::string& body = "") {
        request r;
        r.method = method;
        r.path = path;
        r.body = body;
        response res = routes_.dispatch(r);
        if (!res.deferred) return res;
        std::optional<response> done;
        res.deferred([&](response f) { done = std::move(f); });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!done && std::chrono::steady_clock::now() < deadline) {
            io_.restart();
            io_.poll();
            if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        EXPECT_TRUE(done) << method << " " << path << ": no answer within 5 s";
        return done.value_or(error_response(599, "test", "no answer"));
    }

    static std::string alloc(const std::string& vps, const std::string& mac, const std::string& org = "org-1") {
        return json{{"vps_id", vps}, {"organization_id", org}, {"mac", mac}}.dump();
    }

    test::temp_dir dir_;
    cfg::config config_;
    boost::asio::io_context io_;
    router routes_;
    std::unique_ptr<dhcp_service> svc_;
    std::vector<std::string> log_;
};

TEST_F(V1Allocations, CreateReturnsTheAddressesOnceDurableAndIsIdempotent) {
    const response r = call("POST", "/v1/allocations", alloc("vps-1", "52:54:00:00:00:0a"));
    ASSERT_EQ(r.status, 201u) << r.body.dump();
    const json& j = r.body;
    EXPECT_EQ(j["vps_id"], "vps-1");
    EXPECT_EQ(j["organization_id"], "org-1");
    EXPECT_EQ(j["mac"], "52:54:00:00:00:0a");
    EXPECT_EQ(j["network"], "vm");
    EXPECT_EQ(j["ipv4"], "192.168.100.100");
    EXPECT_EQ(j["prefix_len"], 24);
    EXPECT_EQ(j["gateway"], "192.168.100.1");
    EXPECT_EQ(j["dns"], json({"203.0.113.2"}));
    EXPECT_EQ(j["lease_time_s"], 600);
    EXPECT_EQ(j["lease"]["state"], "allocated");
    ASSERT_TRUE(j["ipv6"].is_string());
    EXPECT_NE(j["ipv6"], "2001:db8:100::1") << "the gateway's own address";
    EXPECT_EQ(j["ipv6"].get<std::string>().rfind("2001:db8:100:", 0), 0u);
    // On disk before the answer.
    const auto* rec = svc_->store().find_lease("vps-1");
    ASSERT_NE(rec, nullptr);
    EXPECT_TRUE(svc_->store().is_durable(svc_->store().last_ticket()));
    // Admitted to the data plane.
    EXPECT_TRUE(svc_->admissions().slot_of(rec->mac, rec->ipv4));

    // The same request again: the same allocation, 200.
    const response again = call("POST", "/v1/allocations", alloc("vps-1", "52:54:00:00:00:0a"));
    EXPECT_EQ(again.status, 200u);
    EXPECT_EQ(again.body, j);
    // GET one and the list.
    EXPECT_EQ(call("GET", "/v1/allocations/vps-1").body, j);
    const response list = call("GET", "/v1/allocations");
    ASSERT_EQ(list.body["allocations"].size(), 1u);
    EXPECT_EQ(list.body["allocations"][0], j);
}

TEST_F(V1Allocations, Conflicts) {
    ASSERT_EQ(call("POST", "/v1/allocations", alloc("vps-1", "52:54:00:00:00:0a")).status, 201u);
    const response other_mac = call("POST", "/v1/allocations", alloc("vps-1", "52:54:00:00:00:0b"));
    EXPECT_EQ(other_mac.status, 409u);
    EXPECT_EQ(other_mac.body["error"]["code"], "conflict");
    EXPECT_EQ(call("POST", "/v1/allocations", alloc("vps-1", "52:54:00:00:00:0a", "org-2")).status, 409u);
    // The MAC is placed already (another vps_id), or is a [[vms]] reservation.
    EXPECT_EQ(call("POST", "/v1/allocations", alloc("vps-2", "52:54:00:00:00:0a")).status, 409u);
    EXPECT_EQ(call("POST", "/v1/allocations", alloc("vps-3", "02:00:00:00:01:01")).status, 409u);
    // Nothing of the refused ones was stored.
    EXPECT_EQ(svc_->allocs().count(), 1u);
}

TEST_F(V1Allocations, BadInputIs400) {
    const auto code = [&](const std::string& body) {
        const response r = call("POST", "/v1/allocations", body);
        EXPECT_EQ(r.status, 400u) << body;
        return r.body["error"]["code"].get<std::string>();
    };
    EXPECT_EQ(code("{\"vps_id\": "), "malformed_json");
    EXPECT_EQ(code("[1,2]"), "not_an_object");
    EXPECT_EQ(code(R"({"vps_id":"a","organization_id":"o","mac":"52:54:00:00:00:0a","color":"red"})"), "unknown_field");
    EXPECT_EQ(code(R"({"organization_id":"o","mac":"52:54:00:00:00:0a"})"), "bad_request");
    EXPECT_EQ(code(R"({"vps_id":7,"organization_id":"o","mac":"52:54:00:00:00:0a"})"), "bad_request");
    EXPECT_EQ(code(alloc("a", "52:54:00:00:00")), "bad_request");
    EXPECT_EQ(code(alloc("a", "01:00:5e:00:00:01")), "bad_request");  // multicast
    EXPECT_EQ(code(alloc("a", "00:00:00:00:00:00")), "bad_request");
    EXPECT_EQ(code(alloc("", "52:54:00:00:00:0a")), "bad_request");
    EXPECT_EQ(code(alloc("a/b", "52:54:00:00:00:0a")), "bad_request");
    EXPECT_EQ(code(alloc("b:x", "52:54:00:00:00:0a")), "bad_request") << "a binding key's prefix";
    EXPECT_EQ(code(alloc(std::string(129, 'v'), "52:54:00:00:00:0a")), "bad_request");
    EXPECT_EQ(code(alloc("a", "52:54:00:00:00:0a", "")), "bad_request");
    EXPECT_EQ(code(R"({"vps_id":"a","organization_id":"o","mac":"52:54:00:00:00:0a","network":"nope"})"),
              "bad_request");
    EXPECT_EQ(svc_->allocs().count(), 0u);
}

TEST_F(V1Allocations, PoolExhaustedIs507AndDeleteFreesTheAddress) {
    // Pool .100-.102: three allocations, the fourth finds none.
    for (int i = 0; i < 3; ++i) {
        const std::string mac = "52:54:00:00:00:1" + std::to_string(i);
        ASSERT_EQ(call("POST", "/v1/allocations", alloc("vps-" + std::to_string(i), mac)).status, 201u);
    }
    const response full = call("POST", "/v1/allocations", alloc("vps-3", "52:54:00:00:00:13"));
    EXPECT_EQ(full.status, 507u);
    EXPECT_EQ(full.body["error"]["code"], "pool_exhausted");

    const response gone = call("DELETE", "/v1/allocations/vps-1");
    ASSERT_EQ(gone.status, 200u) << gone.body.dump();
    EXPECT_EQ(gone.body["vps_id"], "vps-1");
    EXPECT_EQ(svc_->store().find_lease("vps-1"), nullptr);
    EXPECT_EQ(call("GET", "/v1/allocations/vps-1").status, 404u);
    EXPECT_EQ(call("DELETE", "/v1/allocations/vps-1").status, 404u);
    EXPECT_FALSE(svc_->admissions().slot_of(dp::mac_bytes{0x52, 0x54, 0, 0, 0, 0x11}, 0xc0a86465))
        << "a deleted allocation still admits its VM";
    // Its address is free again.
    const response next = call("POST", "/v1/allocations", alloc("vps-3", "52:54:00:00:00:13"));
    ASSERT_EQ(next.status, 201u);
    EXPECT_EQ(next.body["ipv4"], gone.body["ipv4"]);
}

TEST_F(V1Allocations, AllocationsSurviveARestartWithTheirAddresses) {
    const response r = call("POST", "/v1/allocations", alloc("vps-1", "52:54:00:00:00:0a"));
    ASSERT_EQ(r.status, 201u);
    start("\"192.168.100.100-192.168.100.102\"");
    const response after = call("GET", "/v1/allocations/vps-1");
    ASSERT_EQ(after.status, 200u);
    EXPECT_EQ(after.body, r.body) << "IPv4 and IPv6 are the VM's for the life of the allocation";
    EXPECT_TRUE(svc_->admissions().slot_of(dp::mac_bytes{0x52, 0x54, 0, 0, 0, 0x0a}, 0xc0a86464));
    // The DHCP side knows the reservation, and the pool does not hand the address out.
    EXPECT_EQ(svc_->book().reserved_address(0xc0a86400, dp::mac_bytes{0x52, 0x54, 0, 0, 0, 0x0a}), 0xc0a86464u);
    EXPECT_EQ(svc_->book().available(0xc0a86400), 2u);
    // A second allocation gets another address (and another /128).
    const response second = call("POST", "/v1/allocations", alloc("vps-2", "52:54:00:00:00:0b"));
    ASSERT_EQ(second.status, 201u);
    EXPECT_NE(second.body["ipv4"], r.body["ipv4"]);
    EXPECT_NE(second.body["ipv6"], r.body["ipv6"]);
}

TEST_F(V1Allocations, LeasesAndStats) {
    ASSERT_EQ(call("POST", "/v1/allocations", alloc("vps-1", "52:54:00:00:00:0a")).status, 201u);
    // No DHCP client has bound anything yet.
    EXPECT_EQ(call("GET", "/v1/leases").body, json({{"leases", json::array()}}));
    const auto pools = svc_->pool_stats();
    ASSERT_EQ(pools.size(), 1u);
    EXPECT_EQ(pools[0].network, "192.168.100.0/24");
    EXPECT_EQ(pools[0].port, "vm");
    EXPECT_EQ(pools[0].ranges, std::vector<std::string>{"192.168.100.100-192.168.100.102"});
    EXPECT_EQ(pools[0].total, 3u);
    EXPECT_EQ(pools[0].used, 1u);
    EXPECT_EQ(pools[0].available, 2u);
}

TEST(V1AllocationsWithoutDhcp, ListsAreEmptyAndCreateIsAConflict) {
    router routes;
    add_v1_allocation_endpoints(routes, nullptr);
    request r;
    r.method = "GET";
    r.path = "/v1/allocations";
    EXPECT_EQ(routes.dispatch(r).body, json({{"allocations", json::array()}}));
    r.path = "/v1/allocations/x";
    EXPECT_EQ(routes.dispatch(r).status, 404u);
    r.method = "POST";
    r.path = "/v1/allocations";
    r.body = R"({"vps_id":"a","organization_id":"o","mac":"52:54:00:00:00:0a"})";
    const response res = routes.dispatch(r);
    EXPECT_EQ(res.status, 409u);
    EXPECT_EQ(res.body["error"]["code"], "not_configured");
}

}  // namespace
}  // namespace eg::ctl::api
