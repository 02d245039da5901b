// POST and DELETE /v1/wireguard/peers (control/api/v1_wireguard) through the real
// router, over the lab's real config and a real lease store in a temporary directory:
// with a store the answers wait until the peer's record is durable; without one they
// come at once, as before.
#include "control/api/v1_wireguard.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl::api {
namespace {

using json = nlohmann::json;

class V1Wireguard : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        auto r = cfg::load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
        ASSERT_TRUE(r.value);
        config_ = *r.value;
        if (with_store()) {
            std::error_code ec;
            store_ = leases::lease_store::open(dir_.path(), {}, ec);
            ASSERT_TRUE(store_) << ec.message();
        }
        wireguard_service::hooks h;
        h.originate = [](std::span<const uint8_t>) {};
        h.wake = [](uint32_t) {};
        service_ = std::make_unique<wireguard_service>(config_.wireguard, 1, h);
        records_ = std::make_unique<wireguard_peer_records>(*service_, store_.get(), [](std::string_view) {});
        wireguard_sources s{service_.get(), records_.get(), &config_.wireguard, {}};
        s.when_durable = [this](leases::ticket t, std::function<void(std::error_code)> done) {
            waited_for_ = t;
            const auto c = store_->commit();
            EXPECT_TRUE(store_->is_durable(t));
            done(c.ec);
        };
        add_v1_wireguard_endpoints(routes_, std::move(s));
    }
    bool with_store() const { return GetParam(); }

    /// The final answer, and whether it was deferred.
    std::pair<response, bool> call(const std::string& method, const std::string& path, const std::string& body = "") {
        request r{method, path, "", {}, body};
        response res = routes_.dispatch(r);
        if (!res.deferred) return {res, false};
        std::optional<response> out;
        res.deferred([&](response final) { out = std::move(final); });
        EXPECT_TRUE(out);
        return {out ? *out : response{}, true};
    }

    test::temp_dir dir_;
    cfg::config config_;
    std::unique_ptr<leases::lease_store> store_;
    std::unique_ptr<wireguard_service> service_;
    std::unique_ptr<wireguard_peer_records> records_;
    router routes_;
    leases::ticket waited_for_ = 0;
};

TEST_P(V1Wireguard, AddAndDeleteAreAnsweredOnceDurable) {
    auto [added, deferred] = call("POST", "/v1/wireguard/peers", R"({"allowed_ips": ["10.99.1.2/32"], "name": "laptop"})");
    EXPECT_EQ(added.status, 201u) << added.body.dump();
    EXPECT_EQ(deferred, with_store());
    const std::string key = added.body["public_key"];
    EXPECT_TRUE(added.body.contains("wg_quick"));
    if (with_store()) {
        EXPECT_NE(waited_for_, 0u);
        EXPECT_NE(store_->find_record(k_wireguard_peer_namespace, key), nullptr);
    }
    // Refusals are answered at once and store nothing.
    waited_for_ = 0;
    auto [conflict, d2] = call("POST", "/v1/wireguard/peers", R"({"allowed_ips": ["10.99.1.2/32"]})");
    EXPECT_EQ(conflict.status, 409u);
    EXPECT_FALSE(d2);
    EXPECT_EQ(waited_for_, 0u);

    std::string path = key;
    for (auto& c : path) c = c == '+' ? '-' : c == '/' ? '_' : c;  // the URL-safe alphabet
    auto [gone, d3] = call("DELETE", "/v1/wireguard/peers/" + path);
    EXPECT_EQ(gone.status, 200u) << gone.body.dump();
    EXPECT_EQ(d3, with_store());
    if (with_store()) {
        EXPECT_EQ(store_->find_record(k_wireguard_peer_namespace, key), nullptr);
    }
    EXPECT_EQ(call("DELETE", "/v1/wireguard/peers/" + path).first.status, 404u);
}

TEST_P(V1Wireguard, APresharedKeyIsGivenOrGenerated) {
    // "generate": the answer carries it, and so does the wg-quick text.
    auto [gen, d1] = call("POST", "/v1/wireguard/peers",
                          R"({"allowed_ips": ["10.99.1.2/32"], "preshared_key": "generate"})");
    ASSERT_EQ(gen.status, 201u) << gen.body.dump();
    ASSERT_TRUE(gen.body.contains("preshared_key"));
    const std::string psk = gen.body["preshared_key"];
    EXPECT_TRUE(cfg::decode_wg_key(psk));
    EXPECT_NE(gen.body["wg_quick"].get<std::string>().find("PresharedKey = " + psk + "\n"), std::string::npos);
    // Given: not echoed.
    const std::string given = cfg::encode_wg_key(cfg::wg_key{1, 2, 3});
    auto [giv, d2] = call("POST", "/v1/wireguard/peers",
                          R"({"allowed_ips": ["10.99.1.3/32"], "preshared_key": ")" + given + R"("})");
    ASSERT_EQ(giv.status, 201u) << giv.body.dump();
    EXPECT_FALSE(giv.body.contains("preshared_key"));
    // Listed as present, never shown.
    const response list = call("GET", "/v1/wireguard/peers").first;
    size_t with_psk = 0;
    for (const auto& p : list.body["peers"]) {
        with_psk += p["preshared_key"] == true;
        EXPECT_TRUE(p["preshared_key"].is_boolean());
    }
    EXPECT_EQ(with_psk, 2u);
    // Anything else is a 400.
    for (const char* bad : {R"("nope")", "true", "42"}) {
        auto [r, d] = call("POST", "/v1/wireguard/peers",
                           std::string(R"({"allowed_ips": ["10.99.1.4/32"], "preshared_key": )") + bad + "}");
        EXPECT_EQ(r.status, 400u) << bad;
    }
}

INSTANTIATE_TEST_SUITE_P(StoreOrNot, V1Wireguard, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "WithAStore" : "WithoutAStore"; });

}  // namespace
}  // namespace eg::ctl::api
