// The admin API server (control/api/server.hpp) and router, over real HTTP on loopback:
// the server runs on an ephemeral port in the test's own io_context thread, clients
// are Boost.Beast and curl. Auth, error mapping, body limit, deadline, keep-alive.
#include <utility>  // before asio (Boost 1.74)

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "control/api/request.hpp"
#include "control/api/router.hpp"
#include "control/api/server.hpp"

namespace eg::ctl::api {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using json = nlohmann::json;

constexpr const char* k_secret = "test-secret-0123456789";

router test_routes() {
    router r;
    r.add("GET", "/v1/things", [](const request&) { return response{200, {{"things", json::array()}}, {}}; });
    r.add("GET", "/v1/things/{id}", [](const request& q) {
        return response{200, {{"id", q.params.at("id")}, {"query", q.query}}, {}};
    });
    r.add("POST", "/v1/things", [](const request& q) {
        const json body = json_body(q, {"name", "size"});
        if (body.value("name", "") == "taken") throw api_error(409, "conflict", "thing \"taken\" exists");
        return response{201, {{"created", body.value("name", "")}}, {}};
    });
    r.add("DELETE", "/v1/things/{id}", [](const request&) { return response{204, nullptr, {}}; });
    r.add("GET", "/v1/boom", [](const request&) -> response { throw std::runtime_error("boom"); });
    return r;
}

class ApiServer : public testing::Test {
protected:
    void SetUp() override {
        server_options o;
        o.listen = tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0);
        o.secret = k_secret;
        o.max_body_bytes = 1024;
        o.request_timeout = std::chrono::milliseconds(300);
        server_ = std::make_unique<server>(io_, std::move(o), test_routes());
        port_ = server_->port();
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        boost::asio::post(io_, [this] {
            server_.reset();  // on the io thread: the server's owner thread
            io_.stop();
        });
        thread_.join();
    }

    tcp::socket connect() {
        tcp::socket s(client_io_);
        s.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port_));
        return s;
    }

    http::response<http::string_body> call(tcp::socket& s, http::verb v, const std::string& target,
                                           const std::string& body = "", const char* secret = k_secret) {
        http::request<http::string_body> req{v, target, 11};
        req.set(http::field::host, "127.0.0.1");
        if (secret) req.set("x-api-secret", secret);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
        }
        req.prepare_payload();
        http::write(s, req);
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(s, buf, res);
        return res;
    }
    http::response<http::string_body> call(http::verb v, const std::string& target, const std::string& body = "",
                                           const char* secret = k_secret) {
        tcp::socket s = connect();
        return call(s, v, target, body, secret);
    }

    static std::string error_code(const http::response<http::string_body>& r) {
        const json j = json::parse(r.body(), nullptr, false);
        return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "(not an error document)";
    }

    boost::asio::io_context io_;
    boost::asio::io_context client_io_;
    std::unique_ptr<server> server_;
    uint16_t port_ = 0;
    std::thread thread_;
};

TEST_F(ApiServer, MissingOrWrongSecretIs401) {
    auto r = call(http::verb::get, "/v1/things", "", nullptr);
    EXPECT_EQ(r.result_int(), 401u);
    EXPECT_EQ(error_code(r), "unauthorized");
    EXPECT_EQ(r[http::field::content_type], "application/json");
    r = call(http::verb::get, "/v1/things", "", "test-secret-0123456788");
    EXPECT_EQ(r.result_int(), 401u);
    r = call(http::verb::get, "/v1/things", "", "test-secret-0123456789-and-more");
    EXPECT_EQ(r.result_int(), 401u);
    // Unknown paths are not revealed to clients without the secret either.
    r = call(http::verb::get, "/nothing-here", "", nullptr);
    EXPECT_EQ(r.result_int(), 401u);
}

TEST_F(ApiServer, RoutesWithCapturesAndQuery) {
    auto r = call(http::verb::get, "/v1/things");
    ASSERT_EQ(r.result_int(), 200u) << r.body();
    EXPECT_EQ(json::parse(r.body()), json({{"things", json::array()}}));
    r = call(http::verb::get, "/v1/things/abc?verbose=1");
    ASSERT_EQ(r.result_int(), 200u) << r.body();
    EXPECT_EQ(json::parse(r.body())["id"], "abc");
    EXPECT_EQ(json::parse(r.body())["query"], "verbose=1");
}

TEST_F(ApiServer, ErrorMapping) {
    struct row {
        http::verb method;
        const char* target;
        const char* body;
        unsigned status;
        const char* code;
    };
    const row rows[] = {
        {http::verb::get, "/v1/nothing", "", 404, "not_found"},
        {http::verb::get, "/v2/things", "", 404, "not_found"},
        {http::verb::get, "/v1/things/a/b", "", 404, "not_found"},
        {http::verb::put, "/v1/things", "", 405, "method_not_allowed"},
        {http::verb::post, "/v1/things", "{\"name\":", 400, "malformed_json"},
        {http::verb::post, "/v1/things", "[1,2]", 400, "not_an_object"},
        {http::verb::post, "/v1/things", "{\"name\":\"x\",\"colour\":\"red\"}", 400, "unknown_field"},
        {http::verb::post, "/v1/things", "{\"name\":\"taken\"}", 409, "conflict"},
        {http::verb::get, "/v1/boom", "", 500, "internal"},
    };
    for (const row& w : rows) {
        const auto r = call(w.method, w.target, w.body);
        EXPECT_EQ(r.result_int(), w.status) << w.target << " " << w.body << " -> " << r.body();
        EXPECT_EQ(error_code(r), w.code) << w.target << " " << w.body;
    }
    const auto created = call(http::verb::post, "/v1/things", "{\"name\":\"new\",\"size\":3}");
    EXPECT_EQ(created.result_int(), 201u) << created.body();
}

TEST_F(ApiServer, MethodNotAllowedListsAllowedMethods) {
    const auto r = call(http::verb::patch, "/v1/things/7");
    EXPECT_EQ(r.result_int(), 405u);
    EXPECT_EQ(r[http::field::allow], "GET, DELETE");
}

TEST_F(ApiServer, OversizedBodyIs413AndClosed) {
    tcp::socket s = connect();
    const auto r = call(s, http::verb::post, "/v1/things", "{\"name\":\"" + std::string(2000, 'x') + "\"}");
    EXPECT_EQ(r.result_int(), 413u);
    EXPECT_EQ(error_code(r), "payload_too_large");
    EXPECT_FALSE(r.keep_alive());
}

TEST_F(ApiServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    tcp::socket s = connect();
    for (int i = 0; i < 5; ++i) {
        const auto r = call(s, http::verb::get, "/v1/things/" + std::to_string(i));
        ASSERT_EQ(r.result_int(), 200u);
        EXPECT_TRUE(r.keep_alive());
        EXPECT_EQ(json::parse(r.body())["id"], std::to_string(i));
    }
    // An error answer keeps the connection too.
    EXPECT_EQ(call(s, http::verb::get, "/v1/nothing").result_int(), 404u);
    EXPECT_EQ(call(s, http::verb::get, "/v1/things").result_int(), 200u);
}

TEST_F(ApiServer, SlowRequestIsCutOff) {
    tcp::socket s = connect();
    const std::string partial = "GET /v1/things HTTP/1.1\r\nHost: x\r\n";  // headers never end
    boost::asio::write(s, boost::asio::buffer(partial));
    const auto start = std::chrono::steady_clock::now();
    char buf[256];
    boost::system::error_code ec;
    s.read_some(boost::asio::buffer(buf), ec);  // blocks until the server gives up
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) << ec.message();
    EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(ApiServer, MalformedRequestIs400) {
    tcp::socket s = connect();
    const std::string garbage = "GET /v1/things HTTP/1.1\r\nHost x no colon\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(garbage));
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    EXPECT_EQ(res.result_int(), 400u);
}

TEST_F(ApiServer, CurlTalksToIt) {
    if (std::FILE* probe = std::fopen("/usr/bin/curl", "r")) {
        std::fclose(probe);
    } else {
        GTEST_SKIP() << "curl is not installed";
    }
    const auto run = [&](const std::string& args) {
        const std::string cmd = "curl -sS --max-time 5 -w '\\n%{http_code}' " + args + " 2>&1";
        std::string out;
        FILE* p = popen(cmd.c_str(), "r");
        char b[512];
        while (p && fgets(b, sizeof b, p)) out += b;
        if (p) pclose(p);
        return out;
    };
    const std::string base = "http://127.0.0.1:" + std::to_string(port_);
    EXPECT_NE(run(base + "/v1/things").find("\n401"), std::string::npos);
    const std::string ok = run("-H 'x-api-secret: " + std::string(k_secret) + "' " + base + "/v1/things/42");
    EXPECT_NE(ok.find("{\"id\":\"42\""), std::string::npos) << ok;
    EXPECT_NE(ok.find("\n200"), std::string::npos) << ok;
    const std::string created = run("-H 'x-api-secret: " + std::string(k_secret) +
                                    "' -H 'content-type: application/json' -d '{\"name\":\"c\"}' " + base + "/v1/things");
    EXPECT_NE(created.find("\n201"), std::string::npos) << created;
}

}  // namespace
}  // namespace eg::ctl::api
