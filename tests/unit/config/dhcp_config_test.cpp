// The [dhcp] table of the config loader (config/config.cpp): real TOML through the real
// parser. Bad cases are a table: each names the error it must produce as
// `key.path (line N): message fragment`.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eg::cfg {
namespace {

std::string all_errors(const load_result& r) {
    std::string s;
    for (const auto& e : r.errors) s += "  " + e.to_string() + "\n";
    return s;
}

load_result load(std::string_view text) {
    if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
    return load_string(text, "test.toml");
}

ip_address v4(const char* text) {
    const auto a = parse_ip(text);
    EXPECT_TRUE(a && !a->v6) << text;
    return a.value_or(ip_address{});
}

uint32_t u(const char* text) {
    const auto a = v4(text);
    return uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 | uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

// A vm port (192.168.100.1/24, mtu 1500) and an uplink (203.0.113.1/24): lines 1-11.
#define PORTS                              \
    "[[ports]]\n"                          \
    "name = \"vm\"\n"                      \
    "role = \"vm\"\n"                      \
    "interface = \"eg-vm\"\n"              \
    "ipv4 = [\"192.168.100.1/24\"]\n"      \
    "mtu = 1500\n"                         \
    "[[ports]]\n"                          \
    "name = \"up\"\n"                      \
    "role = \"uplink\"\n"                  \
    "interface = \"eg-up\"\n"              \
    "ipv4 = [\"203.0.113.1/24\"]\n"

// [dhcp] + one network header: lines 12-14; the network's keys start at line 15.
#define DHCP_NET "[dhcp]\n[[dhcp.networks]]\nport = \"vm\"\n"

TEST(DhcpConfig, AbsentMeansDisabled) {
    const auto r = load(PORTS);
    ASSERT_TRUE(r.value) << all_errors(r);
    EXPECT_FALSE(r.value->dhcp.enabled);
    EXPECT_TRUE(r.value->dhcp.networks.empty());
}

TEST(DhcpConfig, EveryKeyRoundTrips) {
    const auto r = load(PORTS R"(
[dhcp]
state_dir = "leases"

[[dhcp.networks]]
port = "vm"
pool = ["192.168.100.100-192.168.100.199", "192.168.100.224/28"]
lease_time_s = 600
routers = ["192.168.100.254"]
dns = ["9.9.9.9", "1.1.1.1"]
domain = "vm.example"
mtu = 1400
classless_routes = [{ prefix = "10.0.0.0/8", via = "192.168.100.254" }]
ipv6_prefix = "2001:db8:100::/64"
)");
    ASSERT_TRUE(r.value) << all_errors(r);
    const dhcp_config& d = r.value->dhcp;
    EXPECT_TRUE(d.enabled);
    EXPECT_EQ(d.state_dir, "leases");
    ASSERT_EQ(d.networks.size(), 1u);
    const dhcp_network_config& n = d.networks[0];
    EXPECT_EQ(n.port, "vm");
    ASSERT_EQ(n.pool.size(), 2u);
    EXPECT_EQ(n.pool[0], std::pair(u("192.168.100.100"), u("192.168.100.199")));
    EXPECT_EQ(n.pool[1], std::pair(u("192.168.100.224"), u("192.168.100.239")));
    EXPECT_EQ(n.lease_time_s, 600u);
    EXPECT_EQ(n.routers, std::vector<ip_address>{v4("192.168.100.254")});
    EXPECT_EQ(n.dns, (std::vector<ip_address>{v4("9.9.9.9"), v4("1.1.1.1")}));
    EXPECT_EQ(n.domain, "vm.example");
    EXPECT_EQ(n.mtu, 1400u);
    ASSERT_EQ(n.classless_routes.size(), 1u);
    EXPECT_EQ(n.classless_routes[0].prefix, *parse_prefix("10.0.0.0/8"));
    EXPECT_EQ(n.classless_routes[0].via, v4("192.168.100.254"));
    EXPECT_EQ(n.ipv6_prefix, parse_prefix("2001:db8:100::/64"));
}

TEST(DhcpConfig, Defaults) {
    const auto r = load(PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.199\"]\n");
    ASSERT_TRUE(r.value) << all_errors(r);
    const dhcp_config& d = r.value->dhcp;
    EXPECT_EQ(d.state_dir, "/var/lib/edgegate");
    ASSERT_EQ(d.networks.size(), 1u);
    EXPECT_EQ(d.networks[0].lease_time_s, 3600u);
    EXPECT_TRUE(d.networks[0].routers.empty());  // the port's own address, filled in by the service
    EXPECT_EQ(d.networks[0].mtu, 0u);            // the port's MTU
    EXPECT_TRUE(d.networks[0].dns.empty());
    EXPECT_FALSE(d.networks[0].ipv6_prefix);  // allocations get no IPv6
}

TEST(DhcpConfig, ExampleLabConfigServesTheVmPort) {
    const auto r = load_file(std::string(EG_SOURCE_DIR) + "/config/examples/lab.toml");
    ASSERT_TRUE(r.value) << all_errors(r);
    ASSERT_TRUE(r.value->dhcp.enabled);
    ASSERT_EQ(r.value->dhcp.networks.size(), 1u);
    EXPECT_EQ(r.value->dhcp.networks[0].port, "vm");
    EXPECT_EQ(r.value->dhcp.state_dir, "leases");
}

struct bad_case {
    const char* name;
    std::string text;
    const char* expect;  ///< the whole error line must contain this
};

TEST(DhcpConfig, BadFilesNameKeyLineAndReason) {
    const std::vector<bad_case> cases = {
        {"no networks", PORTS "[dhcp]\nstate_dir = \"x\"\n", "dhcp.networks (line 12): required key is missing"},
        {"empty state_dir", PORTS "[dhcp]\nstate_dir = \"\"\n[[dhcp.networks]]\nport = \"vm\"\npool = [\"192.168.100.100-192.168.100.110\"]\n",
         "dhcp.state_dir (line 13): must not be empty"},
        {"single table", PORTS "[dhcp]\n[dhcp.networks]\nport = \"vm\"\n",
         "dhcp.networks (line 13): expected an array of tables ([[dhcp.networks]])"},
        {"unknown key", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\nlease_time = 5\n",
         "dhcp.networks[0].lease_time (line 16): unknown key (did you mean \"lease_time_s\"?)"},
        {"unknown port", PORTS "[dhcp]\n[[dhcp.networks]]\nport = \"vms\"\npool = [\"192.168.100.100-192.168.100.110\"]\n",
         "dhcp.networks[0].port (line 14): no port named \"vms\" (vm ports: \"vm\")"},
        {"uplink port", PORTS "[dhcp]\n[[dhcp.networks]]\nport = \"up\"\npool = [\"203.0.113.100-203.0.113.110\"]\n",
         "dhcp.networks[0].port (line 14): port \"up\" is an uplink; DHCP is served on vm ports"},
        {"missing pool", PORTS DHCP_NET, "dhcp.networks[0].pool (line 13): required key is missing"},
        {"empty pool", PORTS DHCP_NET "pool = []\n", "dhcp.networks[0].pool (line 15): at least one address range"},
        {"pool syntax", PORTS DHCP_NET "pool = [\"192.168.100.100..192.168.100.110\"]\n",
         "dhcp.networks[0].pool[0] (line 15): expected an IPv4 range like"},
        {"pool backwards", PORTS DHCP_NET "pool = [\"192.168.100.110-192.168.100.100\"]\n",
         "dhcp.networks[0].pool[0] (line 15): range \"192.168.100.110-192.168.100.100\" ends before it starts"},
        {"pool off-link", PORTS DHCP_NET "pool = [\"10.0.0.1-10.0.0.9\"]\n",
         "dhcp.networks[0].pool[0] (line 15): 10.0.0.1-10.0.0.9 is not inside a connected prefix of port \"vm\" "
         "(192.168.100.0/24)"},
        {"pool crosses the prefix", PORTS DHCP_NET "pool = [\"192.168.100.200-192.168.101.10\"]\n",
         "dhcp.networks[0].pool[0] (line 15): 192.168.100.200-192.168.101.10 is not inside a connected prefix"},
        {"pool host bits", PORTS DHCP_NET "pool = [\"192.168.100.130/25\"]\n",
         "dhcp.networks[0].pool[0] (line 15): host bits set in 192.168.100.130/25; did you mean 192.168.100.128/25?"},
        {"pool overlap", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.150\", \"192.168.100.128/26\"]\n",
         "dhcp.networks[0].pool[1] (line 15): 192.168.100.128-192.168.100.191 overlaps dhcp.networks[0].pool[0]"},
        {"lease too short", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\nlease_time_s = 30\n",
         "dhcp.networks[0].lease_time_s (line 16): must be at least 60, got 30"},
        {"router off-link", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\nrouters = [\"10.0.0.1\"]\n",
         "dhcp.networks[0].routers[0] (line 16): 10.0.0.1 is not inside 192.168.100.0/24, the network served; a "
         "router must be on-link"},
        {"dns not an address", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\ndns = [\"resolver\"]\n",
         "dhcp.networks[0].dns[0] (line 16): expected an IPv4 address like \"203.0.113.1\", got \"resolver\""},
        {"bad domain", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\ndomain = \"a b\"\n",
         "dhcp.networks[0].domain (line 16): must be a DNS name"},
        {"mtu above the port's", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\nmtu = 9000\n",
         "dhcp.networks[0].mtu (line 16): 9000 is above the MTU of port \"vm\" (1500)"},
        {"route via off-link", PORTS DHCP_NET
         "pool = [\"192.168.100.100-192.168.100.110\"]\nclassless_routes = [{ prefix = \"10.0.0.0/8\", via = \"10.0.0.1\" }]\n",
         "dhcp.networks[0].classless_routes[0].via (line 16): 10.0.0.1 is not inside 192.168.100.0/24"},
        {"route prefix host bits", PORTS DHCP_NET
         "pool = [\"192.168.100.100-192.168.100.110\"]\nclassless_routes = [{ prefix = \"10.0.0.1/8\", via = \"192.168.100.2\" }]\n",
         "dhcp.networks[0].classless_routes[0].prefix (line 16): host bits set in 10.0.0.1/8"},
        {"ipv6_prefix not a /64", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\nipv6_prefix = \"2001:db8::/48\"\n",
         "dhcp.networks[0].ipv6_prefix (line 16): must be a /64 (each VM gets one /128 of it), got 2001:db8::/48"},
        {"ipv6_prefix IPv4", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\nipv6_prefix = \"10.0.0.0/8\"\n",
         "dhcp.networks[0].ipv6_prefix (line 16): 10.0.0.0/8 is not an IPv6 prefix"},
        {"ipv6_prefix host bits", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\nipv6_prefix = \"2001:db8::1/64\"\n",
         "dhcp.networks[0].ipv6_prefix (line 16): host bits set in 2001:db8::1/64"},
        {"two networks on a port", PORTS DHCP_NET "pool = [\"192.168.100.100-192.168.100.110\"]\n"
         "[[dhcp.networks]]\nport = \"vm\"\npool = [\"192.168.100.120-192.168.100.130\"]\n",
         "dhcp.networks[1].port (line 17): port \"vm\" already has a DHCP network (dhcp.networks[0], line 13)"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto r = load(c.text);
        EXPECT_FALSE(r.value);
        const std::string errs = all_errors(r);
        EXPECT_NE(errs.find(c.expect), std::string::npos) << "expected: " << c.expect << "\ngot:\n" << errs;
    }
}

}  // namespace
}  // namespace eg::cfg
