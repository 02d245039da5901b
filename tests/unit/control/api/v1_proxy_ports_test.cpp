// The proxy-port and probe endpoints (control/api/v1_proxy_ports.hpp) through the real
// router, over a proxy_ports_service on a real lease store in a temporary directory.
#include "control/api/v1_proxy_ports.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "control/leases/replay.hpp"
#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl::api {
namespace {

using json = nlohmann::json;

cfg::config config_in(const std::string& dir) {
    const std::string toml = R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
[[ports]]
name = "up"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]
[nat]
public_addresses = ["203.0.113.1"]
[nat.proxy]
service = "192.168.100.1"
upstream = "203.0.113.2"
[proxy_ports]
range = "10001-10003"
state_dir = ")" + dir + R"("
[[vms]]
name = "vm4"
mac = "02:00:00:00:01:04"
ipv4 = "192.168.100.14"
egress = "proxy"
organization_id = "lab-org-4"
proxy_port = 10001
)";
    auto r = cfg::load_string(toml, "t.toml");
    EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0].to_string());
    return *r.value;
}

/// The service on its own store, its durability reports posted to `io` as in the
/// gateway (or, with use_io false, waited for in commit() as tools do).
struct fixture {
    explicit fixture(bool use_io = true)
        : service{config, nullptr, [](std::string_view) {}, {nullptr, use_io ? &io : nullptr}} {
        service.on_change([this] { ++changes; });
        add_v1_proxy_port_endpoints(r, {&service, [this] { return probe_state; }});
    }
    /// Dispatches a request; a deferred answer (a change, sent once durable) is waited
    /// for while the io_context runs, at most 5 s. `on_answer` runs when it is sent.
    response call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::function<void()>& on_answer = {}) {
        request q{method, path, "", {}, body};
        response res = r.dispatch(q);
        if (!res.deferred) return res;
        std::optional<response> done;
        res.deferred([&](response f) {
            if (on_answer) on_answer();
            done = std::move(f);
        });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!done && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.poll();
            if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        EXPECT_TRUE(done) << method << " " << path << ": no answer within 5 s";
        return done.value_or(error_response(599, "test", "no answer"));
    }
    /// The proxy-port records a restart would find now: the state directory replayed
    /// read-only (what has reached the file; a process kill keeps the page cache).
    std::map<std::string, uint16_t> on_disk() const {
        leases::directory_listing listing;
        leases::store_state st;
        leases::load_report rep;
        EXPECT_FALSE(leases::list_state_directory(dir.path(), listing));
        EXPECT_FALSE(leases::load_state_directory(dir.path(), listing, UINT64_MAX, true, st, rep)) << rep.detail;
        std::map<std::string, uint16_t> out;
        if (const auto it = st.records().find(std::string(k_proxy_port_namespace)); it != st.records().end()) {
            for (const auto& [org, value] : it->second) out[org] = decode_proxy_port(value).value_or(0);
        }
        return out;
    }

    test::temp_dir dir;
    cfg::config config = config_in(dir.path().string());
    boost::asio::io_context io;
    proxy_ports_service service;
    std::vector<probes::port_status> probe_state;
    router r;
    int changes = 0;
};

TEST(V1ProxyPorts, AssignPinListDelete) {
    fixture f;
    auto res = f.call("GET", "/v1/proxy-ports");
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.body["range"], json({10001, 10003}));
    EXPECT_EQ(res.body["free"], 2);
    ASSERT_EQ(res.body["assignments"].size(), 1u);
    EXPECT_EQ(res.body["assignments"][0], json({{"organization_id", "lab-org-4"}, {"port", 10001}, {"vms", {"vm4"}}}));

    res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"acme"})");
    EXPECT_EQ(res.status, 201u);
    EXPECT_EQ(res.body["port"], 10002);
    res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"acme"})");
    EXPECT_EQ(res.status, 200u);  // existing: same port, nothing changed
    EXPECT_EQ(res.body["port"], 10002);
    EXPECT_EQ(f.changes, 1);

    res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"globex","port":10002})");
    EXPECT_EQ(res.status, 409u);
    EXPECT_EQ(res.body["error"]["code"], "conflict");
    EXPECT_NE(res.body["error"]["message"].get<std::string>().find("org:acme"), std::string::npos);

    res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"globex","port":10003})");
    EXPECT_EQ(res.status, 201u);
    res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"initech"})");
    EXPECT_EQ(res.status, 507u);  // the range is full
    EXPECT_EQ(res.body["error"]["code"], "exhausted");

    res = f.call("DELETE", "/v1/proxy-ports/lab-org-4");
    EXPECT_EQ(res.status, 409u);  // a [[vms]] entry uses it
    res = f.call("DELETE", "/v1/proxy-ports/acme");
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.body["port"], 10002);
    res = f.call("DELETE", "/v1/proxy-ports/acme");
    EXPECT_EQ(res.status, 404u);
    EXPECT_EQ(res.body["error"]["code"], "not_found");
    res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"initech"})");
    EXPECT_EQ(res.status, 201u);
    EXPECT_EQ(res.body["port"], 10002);
}

// POST and DELETE answer only once the change is durable: when the answer is sent, the
// record is in the state directory (before, the answer went out with the record still
// in memory, and a kill -9 right after a 201 could lose the assignment).
TEST(V1ProxyPorts, ChangesAreAnsweredOnlyOnceStored) {
    for (const bool use_io : {true, false}) {
        SCOPED_TRACE(use_io ? "durability report through the io_context" : "blocking commit");
        fixture f(use_io);
        std::map<std::string, uint16_t> seen;
        const auto snap = [&] { seen = f.on_disk(); };
        auto res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"acme"})", snap);
        EXPECT_EQ(res.status, 201u);
        EXPECT_EQ(seen.count("acme") ? seen.at("acme") : 0, 10002);
        res = f.call("POST", "/v1/proxy-ports", R"({"organization_id":"acme","port":10003})", snap);
        EXPECT_EQ(res.status, 201u);
        EXPECT_EQ(seen.count("acme") ? seen.at("acme") : 0, 10003);
        res = f.call("DELETE", "/v1/proxy-ports/acme", "", snap);
        EXPECT_EQ(res.status, 200u);
        EXPECT_EQ(seen.count("acme"), 0u);
        EXPECT_EQ(seen.count("lab-org-4"), 1u);  // the config's organization, stored at start
    }
}

TEST(V1ProxyPorts, BadRequests) {
    fixture f;
    for (const auto& [body, code] : std::initializer_list<std::pair<const char*, const char*>>{
             {"{", "malformed_json"},
             {"[]", "not_an_object"},
             {R"({"organization_id":"a","prot":1})", "unknown_field"},
             {R"({})", "bad_request"},
             {R"({"organization_id":5})", "bad_request"},
             {R"({"organization_id":"a b"})", "bad_request"},
             {R"({"organization_id":""})", "bad_request"},
             {R"({"organization_id":"a","port":"10002"})", "bad_request"},
             {R"({"organization_id":"a","port":-1})", "bad_request"},
             {R"({"organization_id":"a","port":70000})", "bad_request"},
             {R"({"organization_id":"a","port":1.5})", "bad_request"},
             {R"({"organization_id":"a","port":20000})", "out_of_range"},
         }) {
        const auto res = f.call("POST", "/v1/proxy-ports", body);
        EXPECT_EQ(res.status, 400u) << body;
        EXPECT_EQ(res.body["error"]["code"], code) << body;
    }
    EXPECT_EQ(f.changes, 0);
    EXPECT_EQ(f.call("PUT", "/v1/proxy-ports").status, 405u);
}

TEST(V1ProxyPorts, Probes) {
    fixture f;
    probes::port_status s;
    s.port = 10001;
    s.owner = "org:lab-org-4";
    s.state = probes::health::healthy;
    s.consecutive_ok = 4;
    s.last_latency_ms = 3.25;
    s.exit_address = "203.0.113.2";
    s.matches = true;
    s.last_change_unix_s = 1700000000;
    f.probe_state = {s};
    const auto res = f.call("GET", "/v1/probes");
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.body["enabled"], true);
    const json& p = res.body["ports"].at(0);
    EXPECT_EQ(p["port"], 10001);
    EXPECT_EQ(p["state"], "healthy");
    EXPECT_EQ(p["last_latency_ms"], 3.25);
    EXPECT_EQ(p["exit_address"], "203.0.113.2");
    EXPECT_EQ(p["matches"], true);
    EXPECT_EQ(p["consecutive_ok"], 4);
    EXPECT_EQ(p["consecutive_fail"], 0);
    EXPECT_EQ(p["last_change_unix_s"], 1700000000);
    EXPECT_TRUE(p["last_error"].is_null());
    EXPECT_TRUE(p["last_probe_unix_s"].is_null());
    EXPECT_EQ(probes_json({}, false)["enabled"], false);
}

}  // namespace
}  // namespace eg::ctl::api
