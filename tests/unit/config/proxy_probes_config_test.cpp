// The [proxy_ports] and [probes] tables and [[vms]].organization_id (config/config.cpp):
// real TOML through the real parser; bad cases name `key (line N): message`.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "config/config.hpp"

namespace eg::cfg {
namespace {

// Lines 1-19: two ports, NAT with a proxy upstream.
#define BASE                              \
    "[[ports]]\n"                         \
    "name = \"vm\"\n"                     \
    "role = \"vm\"\n"                     \
    "backend = \"memory\"\n"              \
    "ipv4 = [\"192.168.100.1/24\"]\n"     \
    "[[ports]]\n"                         \
    "name = \"up\"\n"                     \
    "role = \"uplink\"\n"                 \
    "backend = \"memory\"\n"              \
    "ipv4 = [\"203.0.113.1/24\"]\n"       \
    "[nat]\n"                             \
    "public_addresses = [\"203.0.113.1\"]\n" \
    "[nat.proxy]\n"                       \
    "service = \"192.168.100.1\"\n"       \
    "upstream = \"203.0.113.2\"\n"        \
    "#16\n"                               \
    "#17\n"                               \
    "#18\n"                               \
    "#19\n"

// Lines 20-24 (with a proxy VM of organization acme).
#define VM_ACME                           \
    "[[vms]]\n"                           \
    "name = \"vm4\"\n"                    \
    "mac = \"02:00:00:00:01:04\"\n"       \
    "ipv4 = \"192.168.100.14\"\n"         \
    "egress = \"proxy\"\n"

std::string all_errors(const load_result& r) {
    std::string s;
    for (const auto& e : r.errors) s += "  " + e.to_string() + "\n";
    return s;
}

TEST(ProxyProbesConfig, AbsentMeansOff) {
    const auto r = load_string(BASE, "t.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_FALSE(r.value->proxy_ports.enabled);
    EXPECT_FALSE(r.value->probes.enabled);
}

TEST(ProxyProbesConfig, DefaultsAndEveryKey) {
    auto r = load_string(BASE "[proxy_ports]\nrange = \"10001-19999\"\n[probes]\nurl = \"http://203.0.113.2:8081/\"\n",
                         "t.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const auto& c = *r.value;
    EXPECT_TRUE(c.proxy_ports.enabled);
    EXPECT_EQ(c.proxy_ports.first, 10001);
    EXPECT_EQ(c.proxy_ports.last, 19999);
    EXPECT_EQ(c.proxy_ports.state_dir, "/var/lib/edgegate");
    EXPECT_TRUE(c.probes.enabled);
    EXPECT_EQ(c.probes.interval_ms, 10000u);
    EXPECT_EQ(c.probes.timeout_ms, 3000u);
    EXPECT_EQ(c.probes.jitter_pct, 10u);
    EXPECT_EQ(c.probes.max_per_second, 20u);
    EXPECT_EQ(c.probes.rise, 2u);
    EXPECT_EQ(c.probes.fall, 3u);
    EXPECT_FALSE(c.probes.expect_address);

    r = load_string(BASE VM_ACME "organization_id = \"acme\"\n"
                                 "[proxy_ports]\nrange = \"20000-20009\"\nstate_dir = \"pp\"\n"
                                 "[probes]\ninterval_ms = 500\ntimeout_ms = 400\njitter_pct = 0\nmax_per_second = 5\n"
                                 "rise = 1\nfall = 7\nurl = \"http://echo.example/ip\"\nexpect_address = \"198.51.100.7\"\n",
                    "t.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const auto& d = *r.value;
    EXPECT_EQ(d.proxy_ports.first, 20000);
    EXPECT_EQ(d.proxy_ports.state_dir, "pp");
    EXPECT_EQ(d.vms.at(0).organization_id, "acme");
    EXPECT_EQ(d.vms.at(0).proxy_port, 0);
    EXPECT_EQ(d.probes.interval_ms, 500u);
    EXPECT_EQ(d.probes.fall, 7u);
    EXPECT_EQ(to_string(*d.probes.expect_address), "198.51.100.7");
}

TEST(ProxyProbesConfig, StoreIsDhcpsWhenDhcpRuns) {
    const auto r = load_string(BASE "[dhcp]\nstate_dir = \"leases\"\n[[dhcp.networks]]\nport = \"vm\"\n"
                                    "pool = [\"192.168.100.100-192.168.100.199\"]\n[proxy_ports]\nrange = \"10001-10002\"\n",
                               "t.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_EQ(r.value->proxy_ports.state_dir, "leases");
}

TEST(ProxyProbesConfig, TheLabExampleHasBoth) {
    const auto r = load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_TRUE(r.value->proxy_ports.enabled);
    EXPECT_TRUE(r.value->probes.enabled);
}

struct bad_case {
    const char* name;
    const char* toml;
    const char* expected;
};

const bad_case k_bad_cases[] = {
    {"range missing", BASE "[proxy_ports]\n", "proxy_ports.range (line 20): required key is missing"},
    {"range text", BASE "[proxy_ports]\nrange = \"a-b\"\n", "proxy_ports.range (line 21): expected a port range like"},
    {"range integer", BASE "[proxy_ports]\nrange = 10001\n", "proxy_ports.range (line 21): expected string, got integer"},
    {"range reversed", BASE "[proxy_ports]\nrange = \"20000-10000\"\n", "proxy_ports.range (line 21): ports must satisfy"},
    {"range zero", BASE "[proxy_ports]\nrange = \"0-10\"\n", "proxy_ports.range (line 21): ports must satisfy"},
    {"range too high", BASE "[proxy_ports]\nrange = \"10-65536\"\n", "proxy_ports.range (line 21): ports must satisfy"},
    {"unknown proxy_ports key", BASE "[proxy_ports]\nrange = \"1-2\"\nranges = 1\n",
     "proxy_ports.ranges (line 22): unknown key (did you mean \"range\"?)"},
    {"state_dir differs from dhcp",
     BASE "[dhcp]\nstate_dir = \"a\"\n[[dhcp.networks]]\nport = \"vm\"\npool = [\"192.168.100.100-192.168.100.199\"]\n"
          "[proxy_ports]\nrange = \"1-2\"\nstate_dir = \"b\"\n",
     "proxy_ports.state_dir (line 27): \"b\" differs from dhcp.state_dir \"a\""},
    {"url missing", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\n", "probes.url (line 22): required key is missing"},
    {"url https", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"https://x/\"\n",
     "probes.url (line 23): must start with http://"},
    {"url port", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x:99999/\"\n",
     "probes.url (line 23): the port must be between 1 and 65535"},
    {"url userinfo", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://u@x/\"\n",
     "probes.url (line 23): must not carry user information"},
    {"interval small", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\ninterval_ms = 5\n",
     "probes.interval_ms (line 24): must be between 100 and 86400000, got 5"},
    {"timeout over interval",
     BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\ninterval_ms = 1000\ntimeout_ms = 2000\n",
     "probes.timeout_ms (line 25): timeout_ms (2000) must not exceed interval_ms (1000)"},
    {"jitter too big", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\njitter_pct = 80\n",
     "probes.jitter_pct (line 24): must be between 0 and 50, got 80"},
    {"rate zero", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\nmax_per_second = 0\n",
     "probes.max_per_second (line 24): must be between 1 and 100000, got 0"},
    {"rise zero", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\nrise = 0\n",
     "probes.rise (line 24): must be between 1 and 100, got 0"},
    {"fall text", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\nfall = \"3\"\n",
     "probes.fall (line 24): expected integer, got string"},
    {"expect not ipv4", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\nexpect_address = \"nope\"\n",
     "probes.expect_address (line 24):"},
    {"unknown probes key", BASE "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\nintervall_ms = 5\n",
     "probes.intervall_ms (line 24): unknown key (did you mean \"interval_ms\"?)"},
    {"probes without proxy_ports", BASE "[probes]\nurl = \"http://x/\"\n",
     "probes (line 20): needs a [proxy_ports] table"},
    {"probes without upstream",
     "[[ports]]\nname = \"vm\"\nrole = \"vm\"\nbackend = \"memory\"\nipv4 = [\"192.168.100.1/24\"]\n"
     "[proxy_ports]\nrange = \"1-2\"\n[probes]\nurl = \"http://x/\"\n",
     "probes (line 8): needs nat.proxy.upstream"},
    {"organization without proxy_ports", BASE VM_ACME "organization_id = \"acme\"\n",
     "vms[0].organization_id (line 25): needs a [proxy_ports] table"},
    {"organization bad chars", BASE VM_ACME "organization_id = \"a b\"\n[proxy_ports]\nrange = \"1-2\"\n",
     "vms[0].organization_id (line 25): must be 1..128 characters"},
    {"organization on masquerade",
     BASE "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.11\"\norganization_id = \"a\"\n",
     "vms[0].organization_id (line 24): only for egress = \"proxy\""},
    {"proxy without port or organization", BASE VM_ACME, "vms[0].proxy_port (line 20): required key is missing"},
    {"organization port outside range",
     BASE VM_ACME "organization_id = \"acme\"\nproxy_port = 5\n[proxy_ports]\nrange = \"10001-10002\"\n",
     "vms[0].proxy_port (line 26): port 5 of organization \"acme\" is outside proxy_ports.range 10001..10002"},
    {"one organization two ports",
     BASE VM_ACME "organization_id = \"acme\"\nproxy_port = 10001\n"
                  "[[vms]]\nname = \"vm5\"\nmac = \"02:00:00:00:01:05\"\nipv4 = \"192.168.100.15\"\negress = \"proxy\"\n"
                  "organization_id = \"acme\"\nproxy_port = 10002\n[proxy_ports]\nrange = \"10001-10002\"\n",
     "vms[1].proxy_port (line 33): organization \"acme\" already has proxy_port 10001"},
};

class ProxyProbesBadCase : public testing::TestWithParam<bad_case> {};

TEST_P(ProxyProbesBadCase, ReportsKeyLineAndMessage) {
    const bad_case& c = GetParam();
    const auto r = load_string(c.toml, "bad.toml");
    EXPECT_FALSE(r.value);
    bool found = false;
    for (const auto& e : r.errors) found = found || e.to_string().find(c.expected) != std::string::npos;
    EXPECT_TRUE(found) << "expected an error containing\n  " << c.expected << "\ngot\n" << all_errors(r);
}

INSTANTIATE_TEST_SUITE_P(Table, ProxyProbesBadCase, testing::ValuesIn(k_bad_cases),
                         [](const testing::TestParamInfo<bad_case>& i) {
                             std::string s;
                             for (const char* p = i.param.name; *p != 0; ++p)
                                 s.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
                             return s;
                         });

}  // namespace
}  // namespace eg::cfg
