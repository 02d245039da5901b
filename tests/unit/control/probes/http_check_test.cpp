// The probe's HTTP exchange without sockets (control/probes/http_check.hpp): URLs,
// the absolute-form proxy request, and the judgement of answers.
#include "control/probes/http_check.hpp"

#include <gtest/gtest.h>

namespace eg::ctl::probes {
namespace {

TEST(ProbeUrl, Table) {
    struct c {
        const char* url;
        bool ok;
        const char* host;
        uint16_t port;
        const char* path;
    };
    for (const c& t : std::initializer_list<c>{
             {"http://203.0.113.2:8081/", true, "203.0.113.2", 8081, "/"},
             {"http://203.0.113.2", true, "203.0.113.2", 80, "/"},
             {"http://echo.example:9000/ip?fmt=text", true, "echo.example", 9000, "/ip?fmt=text"},
             {"https://echo.example/", false, "", 0, ""},
             {"http://", false, "", 0, ""},
             {"http://:80/", false, "", 0, ""},
             {"http://a:0/", false, "", 0, ""},
             {"http://a:65536/", false, "", 0, ""},
             {"http://a:8x/", false, "", 0, ""},
             {"http://user@a/", false, "", 0, ""},
             {"http://a/b c", false, "", 0, ""},
             {"http://a/#frag", false, "", 0, ""},
             {"http://a_b/", false, "", 0, ""},
             {"ftp://a/", false, "", 0, ""},
         }) {
        const auto u = parse_probe_url(t.url);
        ASSERT_EQ(u.has_value(), t.ok) << t.url;
        if (!u) continue;
        EXPECT_EQ(u->host, t.host) << t.url;
        EXPECT_EQ(u->port, t.port) << t.url;
        EXPECT_EQ(u->path, t.path) << t.url;
    }
}

TEST(ProbeRequest, AbsoluteFormThroughTheProxy) {
    EXPECT_EQ(build_proxy_request(*parse_probe_url("http://203.0.113.2:8081/ip")),
              "GET http://203.0.113.2:8081/ip HTTP/1.1\r\nHost: 203.0.113.2:8081\r\nUser-Agent: edgegate-probe\r\n"
              "Accept: text/plain\r\nConnection: close\r\n\r\n");
    EXPECT_NE(build_proxy_request(*parse_probe_url("http://echo.example/")).find("GET http://echo.example/ HTTP/1.1\r\nHost: echo.example\r\n"),
              std::string::npos);
}

TEST(ProbeAnswer, Table) {
    const std::optional<std::string> expect = std::string("198.51.100.7");
    struct c {
        unsigned status;
        const char* body;
        bool with_expect;
        bool ok;
        const char* error;
        const char* exit;
        int matches;  ///< -1 none, 0 false, 1 true
    };
    for (const c& t : std::initializer_list<c>{
             {200, "198.51.100.7\n", true, true, "", "198.51.100.7", 1},
             {200, "  198.51.100.7  ", true, true, "", "198.51.100.7", 1},
             {200, "198.51.100.8\n", true, false, "wrong_exit_address", "198.51.100.8", 0},
             {200, "198.51.100.8\n", false, true, "", "198.51.100.8", -1},
             {200, "::ffff:198.51.100.7\n", true, true, "", "198.51.100.7", 1},
             {200, "2001:db8::1", false, true, "", "2001:db8::1", -1},
             {200, "<html>hello</html>", true, false, "no_address_in_body", "", -1},
             {200, "", true, false, "no_address_in_body", "", -1},
             {200, "198.51.100.777", true, false, "no_address_in_body", "", -1},
             {502, "198.51.100.7", true, false, "status 502", "", -1},
             {403, "", false, false, "status 403", "", -1},
         }) {
        const auto o = evaluate_response(t.status, t.body, t.with_expect ? expect : std::nullopt);
        EXPECT_EQ(o.ok, t.ok) << t.body;
        EXPECT_EQ(o.error, t.error) << t.body;
        EXPECT_EQ(o.exit_address, t.exit) << t.body;
        EXPECT_EQ(o.matches.has_value(), t.matches >= 0) << t.body;
        if (o.matches) {
            EXPECT_EQ(*o.matches, t.matches == 1) << t.body;
        }
    }
}

}  // namespace
}  // namespace eg::ctl::probes
