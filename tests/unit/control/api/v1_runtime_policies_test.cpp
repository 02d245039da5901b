// The forward, egress and reload endpoints (control/api/v1_runtime_policies,
// v1_reload) through the real router, over the lab's real config and a real lease
// store in a temporary directory: statuses, error codes, what is listed, when the data
// plane is republished, and that answers wait for the store.
#include "control/api/v1_runtime_policies.hpp"

#include <gtest/gtest.h>

#include "control/api/v1_reload.hpp"
#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl::api {
namespace {

using json = nlohmann::json;

class V1RuntimePolicies : public ::testing::Test {
protected:
    void SetUp() override {
        auto r = cfg::load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
        ASSERT_TRUE(r.value);
        config_ = *r.value;
        std::error_code ec;
        store_ = leases::lease_store::open(dir_.path(), {}, ec);
        ASSERT_TRUE(store_) << ec.message();
        svc_ = std::make_unique<runtime_policy_service>(&config_, store_.get(), [](std::string_view) {});
        runtime_policy_sources s;
        s.service = svc_.get();
        s.config = &config_;
        s.lookup = [] {
            allocation_lookup a;
            a.address_of = [](std::string_view id) -> std::optional<uint32_t> {
                return id == "vps-a" ? std::optional<uint32_t>(0xc0a86496) : std::nullopt;
            };
            a.holds = [](uint32_t ip) { return ip == 0xc0a86496; };
            return a;
        };
        s.publish = [this] { ++published_; };
        s.when_durable = [this](leases::ticket t, std::function<void(std::error_code)> done) {
            waited_for_ = t;
            const auto c = store_->commit();
            EXPECT_TRUE(store_->is_durable(t));
            done(c.ec);
        };
        add_v1_runtime_policy_endpoints(routes_, std::move(s));
    }

    response call(const std::string& method, const std::string& path, const std::string& body = "") {
        request r{method, path, "", {}, body};
        response res = routes_.dispatch(r);
        if (!res.deferred) return res;
        std::optional<response> out;
        res.deferred([&](response final) { out = std::move(final); });
        EXPECT_TRUE(out);
        return out ? *out : response{};
    }

    test::temp_dir dir_;
    cfg::config config_;
    std::unique_ptr<leases::lease_store> store_;
    std::unique_ptr<runtime_policy_service> svc_;
    router routes_;
    int published_ = 0;
    leases::ticket waited_for_ = 0;
};

TEST_F(V1RuntimePolicies, Forwards) {
    const std::string body =
        R"({"protocol":"tcp","public_address":"203.0.113.1","port":8081,"to":"192.168.100.11","to_port":81})";
    response r = call("POST", "/v1/forwards", body);
    EXPECT_EQ(r.status, 201u) << r.body.dump();
    EXPECT_EQ(r.body["id"], "tcp/203.0.113.1/8081");
    EXPECT_EQ(published_, 1);
    EXPECT_NE(waited_for_, 0u);  // answered once durable
    EXPECT_EQ(call("POST", "/v1/forwards", body).status, 200u);  // idempotent
    EXPECT_EQ(published_, 1);

    const json list = call("GET", "/v1/forwards").body["forwards"];
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["source"], "config");
    EXPECT_EQ(list[0]["ports"], json({8080, 8080}));
    EXPECT_EQ(list[1], json({{"id", "tcp/203.0.113.1/8081"}, {"source", "api"}, {"protocol", "tcp"},
                             {"public_address", "203.0.113.1"}, {"ports", {8081, 8081}}, {"to", "192.168.100.11"},
                             {"to_ports", {81, 81}}}));

    r = call("POST", "/v1/forwards", R"({"protocol":"tcp","public_address":"203.0.113.1","port":8081,"to":"192.168.100.12"})");
    EXPECT_EQ(r.status, 409u);
    EXPECT_EQ(r.body["error"]["code"], "conflict");
    EXPECT_EQ(call("POST", "/v1/forwards", R"({"protocol":"tcp","public_address":"203.0.113.1","port":20000,"to":"192.168.100.11"})").status, 409u);
    EXPECT_EQ(call("POST", "/v1/forwards", R"({"protocol":"tcp","public_address":"203.0.113.9","port":8082,"to":"192.168.100.11"})").status, 400u);
    EXPECT_EQ(call("POST", "/v1/forwards", R"({"protocol":"tcp","port":8082,"to":"192.168.100.11"})").status, 400u);
    EXPECT_EQ(call("POST", "/v1/forwards", R"({"protocol":"tcp","public_address":"203.0.113.1","port":8082,"to":"192.168.100.11","to_port":82,"colour":1})").body["error"]["code"],
              "unknown_field");
    EXPECT_EQ(call("POST", "/v1/forwards", "{not json").body["error"]["code"], "malformed_json");

    r = call("DELETE", "/v1/forwards/tcp/203.0.113.1/8080");
    EXPECT_EQ(r.status, 409u);  // the config's
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find("config file"), std::string::npos);
    EXPECT_EQ(call("DELETE", "/v1/forwards/tcp/203.0.113.1/9999").status, 404u);
    EXPECT_EQ(call("DELETE", "/v1/forwards/sctp/x/y").status, 404u);
    r = call("DELETE", "/v1/forwards/tcp/203.0.113.1/8081");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body["forward"]["id"], "tcp/203.0.113.1/8081");
    EXPECT_EQ(published_, 2);
    EXPECT_EQ(call("GET", "/v1/forwards").body["forwards"].size(), 1u);
    EXPECT_EQ(store_->find_record(k_forward_namespace, "tcp/203.0.113.1/8081"), nullptr);
}

TEST_F(V1RuntimePolicies, Egress) {
    response r = call("POST", "/v1/egress", R"({"vm":"vm1","egress":"dedicated","public_address":"203.0.113.30"})");
    EXPECT_EQ(r.status, 201u) << r.body.dump();
    EXPECT_EQ(published_, 1);
    EXPECT_EQ(call("POST", "/v1/egress", R"({"vm":"vps-a","egress":"proxy","proxy_port":10050})").status, 201u);
    EXPECT_EQ(call("POST", "/v1/egress", R"({"vm":"vps-a","egress":"proxy","proxy_port":10051})").status, 200u);
    EXPECT_EQ(call("POST", "/v1/egress", R"({"vm":"ghost","egress":"masquerade"})").status, 404u);
    r = call("POST", "/v1/egress", R"({"vm":"vm6","egress":"port_block","port_block":1})");
    EXPECT_EQ(r.status, 409u) << r.body.dump();  // vm3's block in the config
    EXPECT_EQ(r.body["error"]["code"], "conflict");
    r = call("POST", "/v1/egress", R"({"vm":"vm6","egress":"port_block","port_block":3})");
    EXPECT_EQ(r.status, 201u) << r.body.dump();
    EXPECT_EQ(r.body["port_block"], 3);
    EXPECT_EQ(call("POST", "/v1/egress", R"({"egress":"masquerade"})").status, 400u);
    EXPECT_EQ(call("POST", "/v1/egress", R"({"vm":"vm6","egress":"dedicated","public_address":"203.0.113.30"})").status, 409u);

    json vms = call("GET", "/v1/egress").body["vms"];
    ASSERT_EQ(vms.size(), 7u);
    EXPECT_EQ(vms[0]["egress"], "dedicated");
    EXPECT_EQ(vms[0]["source"], "api");
    EXPECT_EQ(vms[0]["config"]["egress"], "masquerade");
    EXPECT_EQ(vms[1]["source"], "config");
    EXPECT_EQ(vms[6]["name"], "vps-a");
    EXPECT_EQ(vms[6]["kind"], "allocation");
    EXPECT_EQ(vms[6]["ipv4"], "192.168.100.150");
    EXPECT_EQ(vms[6]["proxy"]["port"], 10051);
    EXPECT_EQ(vms[5]["name"], "vm6");
    EXPECT_EQ(vms[5]["egress"], "port_block");
    EXPECT_EQ(vms[5]["port_block"]["index"], 3);
    EXPECT_EQ(vms[5]["port_block"]["ports"], json({61536, 62047}));
    EXPECT_EQ(vms[5]["source"], "api");

    r = call("DELETE", "/v1/egress/vm1");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body["now"]["egress"], "masquerade");
    EXPECT_EQ(call("DELETE", "/v1/egress/vm1").status, 404u);
    EXPECT_EQ(call("GET", "/v1/egress").body["vms"][0]["source"], "config");
}

TEST(V1Reload, OutcomesMapToStatuses) {
    router r;
    reload_outcome next;
    add_v1_reload_endpoint(r, [&] { return next; });
    const auto post = [&](const std::string& body = "") {
        request q{"POST", "/v1/reload", "", {}, body};
        return r.dispatch(q);
    };
    next = {reload_outcome::kind::applied, {"[[nat.forwards]]"}, 2};
    response res = post();
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.body["applied"], json({"[[nat.forwards]]"}));
    EXPECT_EQ(post("{}").status, 200u);
    EXPECT_EQ(post(R"({"force":true})").status, 400u);
    next = {reload_outcome::kind::invalid, {"nat.port_range (line 3): bad"}, 0};
    res = post();
    EXPECT_EQ(res.status, 400u);
    EXPECT_EQ(res.body["error"]["code"], "invalid_config");
    EXPECT_EQ(res.body["error"]["errors"], json({"nat.port_range (line 3): bad"}));
    next = {reload_outcome::kind::needs_restart, {"[[ports]] changed"}, 0};
    res = post();
    EXPECT_EQ(res.status, 409u);
    EXPECT_EQ(res.body["error"]["code"], "needs_restart");
    EXPECT_EQ(res.body["error"]["changed"], json({"[[ports]] changed"}));
    next = {reload_outcome::kind::conflict, {"forward tcp/203.0.113.1/8081: overlaps"}, 0};
    EXPECT_EQ(post().status, 409u);
}

}  // namespace
}  // namespace eg::ctl::api
