// The config loader (config/config.cpp): real TOML through the real parser.
// Bad cases are a table: each names the error it must produce as
// `key.path (line N): message fragment`.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

namespace eg::cfg {
namespace {

std::string all_errors(const load_result& r) {
    std::string s;
    for (const auto& e : r.errors) s += "  " + e.to_string() + "\n";
    return s;
}

// TOML literals below start with a newline after R"( for readability; drop it so
// line 1 is the first line shown.
load_result load(std::string_view text) {
    if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
    return load_string(text, "test.toml");
}

// ---- good files ---------------------------------------------------------------------------

TEST(ConfigLoad, LabExampleLoadsWithoutErrors) {
    const auto r = load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    ASSERT_TRUE(r.value);
    const config& c = *r.value;
    EXPECT_EQ(c.source_path, EG_SOURCE_DIR "/config/examples/lab.toml");
    EXPECT_EQ(c.gateway.name, "lab-edge");
    EXPECT_EQ(c.gateway.status_interval_s, 2u);
    EXPECT_EQ(c.workers.count, 1u);
    EXPECT_EQ(c.workers.idle_poll_us, 200u);
    EXPECT_EQ(c.workers.idle_nap_us, 100u);
    EXPECT_EQ(c.workers.idle_nap_min_pps, 100000u);
    EXPECT_EQ(c.workers.idle_nap_min_mbps, 1000u);

    ASSERT_EQ(c.ports.size(), 2u);
    const port_config& vm = c.ports[0];
    EXPECT_EQ(vm.name, "vm");
    EXPECT_EQ(vm.role, port_role::vm);
    EXPECT_EQ(vm.backend, backend_kind::uring);
    EXPECT_EQ(vm.interface, "eg-vm");
    EXPECT_EQ(vm.mtu, 1500u);
    ASSERT_EQ(vm.ipv4.size(), 1u);
    EXPECT_EQ(to_string(vm.ipv4[0]), "192.168.100.1/24");
    ASSERT_EQ(vm.ipv6.size(), 1u);
    EXPECT_EQ(to_string(vm.ipv6[0]), "2001:db8:100::1/64");
    EXPECT_FALSE(vm.nd_proxy);
    EXPECT_TRUE(vm.router_advertisements.enabled);
    EXPECT_EQ(vm.router_advertisements.interval_s, 30u);
    EXPECT_EQ(vm.router_advertisements.router_lifetime_s, 1800u);
    EXPECT_TRUE(vm.router_advertisements.prefixes.empty());

    const port_config& up = c.ports[1];
    EXPECT_EQ(up.name, "uplink");
    EXPECT_EQ(up.role, port_role::uplink);
    EXPECT_EQ(up.interface, "eg-up");
    EXPECT_TRUE(up.nd_proxy);  // defaulted: uplink with IPv6
    EXPECT_EQ(to_string(up.ipv4[0]), "203.0.113.1/24");
    EXPECT_EQ(to_string(up.ipv6[0]), "2001:db8:1::1/64");

    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(to_string(c.routes[0].prefix), "0.0.0.0/0");
    ASSERT_TRUE(c.routes[0].via);
    EXPECT_EQ(to_string(*c.routes[0].via), "203.0.113.2");
    EXPECT_EQ(to_string(c.routes[1].prefix), "::/0");
    EXPECT_EQ(to_string(*c.routes[1].via), "2001:db8:1::2");
    EXPECT_EQ(to_string(c.routes[2].prefix), "2001:db8:1::100/122");
    EXPECT_FALSE(c.routes[2].via);
    EXPECT_EQ(c.routes[2].port, "vm");
    EXPECT_GT(c.routes[2].line, c.routes[1].line);

    EXPECT_TRUE(c.host.enabled);
    EXPECT_EQ(c.host.interface, "eg-host");
}

// The example in the reference must stay a valid config.
TEST(ConfigLoad, ReferenceExampleLoads) {
    std::FILE* f = std::fopen(EG_SOURCE_DIR "/README.md", "rb");
    ASSERT_NE(f, nullptr);
    std::string md;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) md.append(buf, n);
    std::fclose(f);
    const auto begin = md.find("```toml\n");
    ASSERT_NE(begin, std::string::npos);
    const auto end = md.find("```", begin + 8);
    ASSERT_NE(end, std::string::npos);
    const auto r = load_string(std::string_view(md).substr(begin + 8, end - begin - 8), "README.md");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_EQ(r.value->ports.size(), 2u);
    EXPECT_TRUE(r.value->ports[1].nd_proxy);
}

TEST(ConfigLoad, DefaultsAreApplied) {
    const auto r = load(R"(
[[ports]]
name = "up"
role = "uplink"
interface = "eth0"
ipv6 = ["2001:db8:1::1/64"]

[[ports]]
name = "up4"
role = "uplink"
interface = "eth1"
ipv4 = ["198.51.100.1/24"]

[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv6 = ["2001:db8:2::1/64"]

[[ports]]
name = "up-off"
role = "uplink"
interface = "eth2"
ipv6 = ["2001:db8:3::1/64"]
nd_proxy = false
)");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const config& c = *r.value;
    EXPECT_EQ(c.source_path, "test.toml");
    EXPECT_EQ(c.gateway.name, "edgegate");
    EXPECT_EQ(c.gateway.status_interval_s, 5u);
    EXPECT_EQ(c.workers.count, 1u);
    EXPECT_TRUE(c.workers.cores.empty());
    EXPECT_EQ(c.workers.burst_size, 32u);
    EXPECT_EQ(c.neighbours.capacity, 65536u);
    EXPECT_EQ(c.uring.ring_entries, 512u);
    EXPECT_EQ(c.dpdk.eal_args.size(), 4u);
    EXPECT_FALSE(c.host.enabled);

    ASSERT_EQ(c.ports.size(), 4u);
    EXPECT_EQ(c.ports[0].backend, backend_kind::uring);
    EXPECT_EQ(c.ports[0].mtu, 1500u);
    EXPECT_FALSE(c.ports[0].mac);
    EXPECT_TRUE(c.ports[0].nd_proxy);   // uplink with IPv6
    EXPECT_FALSE(c.ports[1].nd_proxy);  // uplink without IPv6
    EXPECT_FALSE(c.ports[2].nd_proxy);  // vm port
    EXPECT_FALSE(c.ports[3].nd_proxy);  // explicit false wins
    EXPECT_EQ(c.ports[0].line, 1);
    EXPECT_EQ(c.ports[1].line, 7);
}

TEST(ConfigLoad, EveryKeyRoundTrips) {
    const auto r = load(R"(
[gateway]
name = "edge-1"
status_interval_s = 0

[workers]
count = 2
cores = [2, 3]
burst_size = 64
idle_poll_us = 0

[[ports]]
name = "vm"
role = "vm"
backend = "pcap"
pcap_input = "in.pcap"
pcap_output = "out.pcap"
mtu = 9000
mac = "02:00:00:00:00:01"
ipv4 = ["192.168.100.1/24", "10.0.0.1/31"]
ipv6 = ["2001:db8:100::1/64"]
nd_proxy = true
[ports.router_advertisements]
enabled = true
interval_s = 4
router_lifetime_s = 0
prefixes = ["2001:db8:100::/64"]
autonomous = true

[[ports]]
name = "up"
role = "uplink"
backend = "dpdk"
interface = "net_af_packet0,iface=eth0"
ipv4 = ["203.0.113.1/24"]
router_advertisements = { enabled = false }

[[routes]]
prefix = "10.8.0.0/16"
via = "192.168.100.9"
port = "vm"

[host]
enabled = true
interface = "tap0"
mac = "02:00:00:00:00:fe"

[neighbours]
reachable_s = 30
retransmit_ms = 10
max_probes = 20
queue_per_neighbour = 1024
capacity = 16

[icmp]
errors_per_second = 0

[uring]
ring_entries = 32768
rx_buffers = 4096
buffer_size = 262144

[dpdk]
eal_args = ["-l", "0-1"]
mbufs = 16383
rx_descriptors = 512
tx_descriptors = 2048
)");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const config& c = *r.value;
    EXPECT_EQ(c.gateway.name, "edge-1");
    EXPECT_EQ(c.gateway.status_interval_s, 0u);
    EXPECT_EQ(c.workers.cores, (std::vector<uint32_t>{2, 3}));
    EXPECT_EQ(c.workers.burst_size, 64u);
    const port_config& vm = c.ports[0];
    EXPECT_EQ(vm.backend, backend_kind::pcap);
    EXPECT_EQ(vm.pcap_input, "in.pcap");
    EXPECT_EQ(vm.pcap_output, "out.pcap");
    EXPECT_EQ(vm.mtu, 9000u);
    ASSERT_TRUE(vm.mac);
    EXPECT_EQ(to_string(*vm.mac), "02:00:00:00:00:01");
    EXPECT_EQ(vm.ipv4.size(), 2u);
    EXPECT_TRUE(vm.nd_proxy);
    EXPECT_EQ(vm.router_advertisements.interval_s, 4u);
    EXPECT_EQ(vm.router_advertisements.router_lifetime_s, 0u);
    ASSERT_EQ(vm.router_advertisements.prefixes.size(), 1u);
    EXPECT_TRUE(vm.router_advertisements.autonomous);
    EXPECT_EQ(c.ports[1].backend, backend_kind::dpdk);
    EXPECT_FALSE(c.ports[1].router_advertisements.enabled);
    EXPECT_EQ(c.routes[0].port, "vm");
    EXPECT_EQ(c.host.interface, "tap0");
    EXPECT_TRUE(c.host.mac);
    EXPECT_EQ(c.neighbours.reachable_s, 30u);
    EXPECT_EQ(c.neighbours.max_probes, 20u);
    EXPECT_EQ(c.icmp.errors_per_second, 0u);
    EXPECT_EQ(c.uring.ring_entries, 32768u);
    EXPECT_EQ(c.dpdk.eal_args, (std::vector<std::string>{"-l", "0-1"}));
    EXPECT_EQ(c.dpdk.mbufs, 16383u);
    EXPECT_EQ(c.dpdk.tx_descriptors, 2048u);
}

// ---- bad files: one expected error each ----------------------------------------------------

struct bad_case {
    const char* name;
    const char* toml;
    const char* expected;  // must appear in one error's to_string()
};

// A valid one-port prefix for the cases below: lines 1-5.
#define PORT_VM                 \
    "[[ports]]\n"               \
    "name = \"vm\"\n"           \
    "role = \"vm\"\n"           \
    "interface = \"eg-vm\"\n"   \
    "ipv4 = [\"192.168.100.1/24\"]\n"

const bad_case k_bad_cases[] = {
    {"unknown key", PORT_VM "mtux = 1500\n", "ports[0].mtux (line 6): unknown key (did you mean \"mtu\"?)"},
    {"unknown top-level table", PORT_VM "[gatewy]\nname = \"x\"\n", "gatewy (line 6): unknown key"},
    {"unknown key in subtable", PORT_VM "[ports.router_advertisements]\ninterval = 30\n",
     "ports[0].router_advertisements.interval (line 7): unknown key"},
    {"wrong type", PORT_VM "mtu = \"1500\"\n", "ports[0].mtu (line 6): expected integer, got string"},
    {"wrong type bool", PORT_VM "nd_proxy = 1\n", "ports[0].nd_proxy (line 6): expected boolean, got integer"},
    {"wrong type float", "[workers]\ncount = 1.5\n" PORT_VM, "workers.count (line 2): expected integer, got float"},
    {"section is not a table", "gateway = 5\n" PORT_VM, "gateway (line 1): expected table, got integer"},
    {"ports is a table", "[ports]\nname = \"vm\"\n", "ports (line 1): expected an array of tables"},
    {"bad mtu", PORT_VM "mtu = 100\n", "ports[0].mtu (line 6): must be between 576 and 9000, got 100"},
    {"mtu too small for ipv6", PORT_VM "ipv6 = [\"2001:db8::1/64\"]\nmtu = 1000\n",
     "ports[0].mtu (line 7): must be at least 1280 on a port with IPv6"},
    {"negative integer", "[workers]\nidle_poll_us = -1\n" PORT_VM,
     "workers.idle_poll_us (line 2): must be between 0 and 1000000, got -1"},
    {"nap too long", "[workers]\nidle_nap_us = 5000\n" PORT_VM,
     "workers.idle_nap_us (line 2): must be between 0 and 1000, got 5000"},
    {"nap gate too high", "[workers]\nidle_nap_min_pps = 2000000000\n" PORT_VM,
     "workers.idle_nap_min_pps (line 2): must be between 0 and 1000000000, got 2000000000"},
    {"byte-rate nap gate too high", "[workers]\nidle_nap_min_mbps = 20000000\n" PORT_VM,
     "workers.idle_nap_min_mbps (line 2): must be between 0 and 10000000, got 20000000"},
    {"bad address", "[[ports]]\nname = \"vm\"\nrole = \"vm\"\ninterface = \"eg-vm\"\nipv4 = [\"192.168.1.300/24\"]\n",
     "ports[0].ipv4[0] (line 5): expected an IPv4 address with prefix length"},
    {"address without prefix", "[[ports]]\nname = \"vm\"\nrole = \"vm\"\ninterface = \"eg-vm\"\nipv4 = [\"192.168.1.1\"]\n",
     "ports[0].ipv4[0] (line 5): expected an IPv4 address with prefix length"},
    {"ipv6 under ipv4", PORT_VM "ipv6 = [\"10.0.0.1/8\"]\n", "ports[0].ipv6[0] (line 6): \"10.0.0.1/8\" is an IPv4 address"},
    {"network address", "[[ports]]\nname = \"vm\"\nrole = \"vm\"\ninterface = \"eg-vm\"\nipv4 = [\"10.0.0.0/8\"]\n",
     "ports[0].ipv4[0] (line 5): 10.0.0.0/8 is the network address of 10.0.0.0/8"},
    {"broadcast address", "[[ports]]\nname = \"vm\"\nrole = \"vm\"\ninterface = \"eg-vm\"\nipv4 = [\"192.168.100.255/24\"]\n",
     "ports[0].ipv4[0] (line 5): 192.168.100.255/24 is the broadcast address of 192.168.100.0/24"},
    {"multicast gateway address", "[[ports]]\nname = \"vm\"\nrole = \"vm\"\ninterface = \"eg-vm\"\nipv6 = [\"ff02::1/64\"]\n",
     "ports[0].ipv6[0] (line 5): ff02::1 is a multicast address"},
    {"subnet-router anycast", PORT_VM "ipv6 = [\"2001:db8::/64\"]\n", "ports[0].ipv6[0] (line 6): 2001:db8::/64 is the subnet-router anycast"},
    {"bad mac", PORT_VM "mac = \"02:00:00:00:01\"\n", "ports[0].mac (line 6): expected a MAC address like"},
    {"multicast mac", PORT_VM "mac = \"01:00:5e:00:00:01\"\n", "ports[0].mac (line 6): 01:00:5e:00:00:01 is a multicast address"},
    {"host bits set", PORT_VM "[[routes]]\nprefix = \"10.0.0.1/8\"\nvia = \"192.168.100.2\"\n",
     "routes[0].prefix (line 7): host bits set in 10.0.0.1/8; did you mean 10.0.0.0/8?"},
    {"overlapping prefixes", PORT_VM "[[ports]]\nname = \"b\"\nrole = \"uplink\"\ninterface = \"eg-b\"\nipv4 = [\"192.168.100.129/25\"]\n",
     "ports[1].ipv4[0] (line 10): 192.168.100.128/25 overlaps 192.168.100.0/24 of port \"vm\" (ports[0].ipv4[0], line 5)"},
    {"same gateway address twice", PORT_VM "[[ports]]\nname = \"b\"\nrole = \"uplink\"\ninterface = \"eg-b\"\nipv4 = [\"192.168.100.1/24\"]\n",
     "ports[1].ipv4[0] (line 10): 192.168.100.1 is already an address of port \"vm\""},
    {"same address twice on a port", PORT_VM "ipv6 = [\"2001:db8::1/64\", \"2001:db8::1/64\"]\n",
     "ports[0].ipv6[1] (line 6): 2001:db8::1 is already an address of this port"},
    {"duplicate port names", PORT_VM "[[ports]]\nname = \"vm\"\nrole = \"uplink\"\ninterface = \"eg-b\"\n",
     "ports[1].name (line 7): duplicate port name \"vm\" (also ports[0].name, line 2)"},
    {"duplicate interface", PORT_VM "[[ports]]\nname = \"b\"\nrole = \"uplink\"\ninterface = \"eg-vm\"\n",
     "ports[1].interface (line 9): interface \"eg-vm\" is already used by ports[0]"},
    {"bad port name", "[[ports]]\nname = \"Up Link\"\nrole = \"vm\"\nbackend = \"memory\"\n",
     "ports[0].name (line 2): must be 1 to 32 characters of a-z, 0-9"},
    {"bad role", "[[ports]]\nname = \"a\"\nrole = \"router\"\nbackend = \"memory\"\n",
     "ports[0].role (line 3): must be \"vm\" or \"uplink\", got \"router\""},
    {"bad backend", "[[ports]]\nname = \"a\"\nrole = \"vm\"\nbackend = \"xdp\"\n",
     "ports[0].backend (line 4): must be \"uring\", \"dpdk\", \"memory\" or \"pcap\""},
    {"interface too long", "[[ports]]\nname = \"a\"\nrole = \"vm\"\ninterface = \"a-very-long-ifname\"\n",
     "ports[0].interface (line 4): must be a Linux interface name of 1 to 15 characters"},
    {"interface missing for uring", "[[ports]]\nname = \"a\"\nrole = \"vm\"\n",
     "ports[0].interface (line 1): required key is missing"},
    {"pcap backend without files", "[[ports]]\nname = \"a\"\nrole = \"vm\"\nbackend = \"pcap\"\n",
     "ports[0] (line 1): the pcap backend needs pcap_input, pcap_output or both"},
    {"pcap file on uring", PORT_VM "pcap_input = \"x.pcap\"\n", "ports[0].pcap_input (line 6): is only used by the pcap backend"},
    {"missing required key", "[[ports]]\nname = \"a\"\nbackend = \"memory\"\n",
     "ports[0].role (line 1): required key is missing"},
    {"no ports", "[gateway]\nname = \"x\"\n", "ports: at least one [[ports]] table is required"},
    {"empty ports array", "ports = []\n[gateway]\nname = \"x\"\n", "ports (line 1): at least one [[ports]] table is required"},
    {"too many ports",
     "[[ports]]\nname='p0'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='p1'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='p2'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='p3'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='p4'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='p5'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='p6'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='p7'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='p8'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='p9'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='pa'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='pb'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='pc'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='pd'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='pe'\nrole='vm'\nbackend='memory'\n[[ports]]\nname='pf'\nrole='vm'\nbackend='memory'\n"
     "[[ports]]\nname='pg'\nrole='vm'\nbackend='memory'\n",
     "ports[16] (line 65): too many ports: at most 16"},
    {"route via outside any connected prefix", PORT_VM "[[routes]]\nprefix = \"0.0.0.0/0\"\nvia = \"10.9.9.9\"\n",
     "routes[0].via (line 8): 10.9.9.9 is not inside a connected prefix of any port"},
    {"route via outside the named port",
     PORT_VM "[[ports]]\nname = \"up\"\nrole = \"uplink\"\ninterface = \"eg-up\"\nipv4 = [\"203.0.113.1/24\"]\n"
             "[[routes]]\nprefix = \"0.0.0.0/0\"\nvia = \"203.0.113.2\"\nport = \"vm\"\n",
     "routes[0].via (line 13): 203.0.113.2 is not inside a connected prefix of port \"vm\""},
    {"route via our own address", PORT_VM "[[routes]]\nprefix = \"0.0.0.0/0\"\nvia = \"192.168.100.1\"\n",
     "routes[0].via (line 8): 192.168.100.1 is our own address (ports[0].ipv4[0], line 5)"},
    {"route via wrong family", PORT_VM "[[routes]]\nprefix = \"::/0\"\nvia = \"192.168.100.2\"\n",
     "routes[0].via (line 8): 192.168.100.2 is IPv4 but prefix ::/0 is IPv6"},
    {"route via link-local needs port", PORT_VM "[[routes]]\nprefix = \"::/0\"\nvia = \"fe80::1\"\n",
     "routes[0].via (line 8): fe80::1 is link-local; name the port"},
    {"route to unknown port", PORT_VM "[[routes]]\nprefix = \"10.0.0.0/8\"\nport = \"nope\"\n",
     "routes[0].port (line 8): no port named \"nope\" (ports: \"vm\")"},
    {"route without via or port", PORT_VM "[[routes]]\nprefix = \"10.0.0.0/8\"\n",
     "routes[0] (line 6): a route needs via (a next hop), port (on-link) or both"},
    {"route without prefix", PORT_VM "[[routes]]\nport = \"vm\"\n", "routes[0].prefix (line 6): required key is missing"},
    {"bad route prefix", PORT_VM "[[routes]]\nprefix = \"10.0.0.0/40\"\nport = \"vm\"\n",
     "routes[0].prefix (line 7): expected a prefix like"},
    {"duplicate route", PORT_VM "[[routes]]\nprefix = \"10.0.0.0/8\"\nport = \"vm\"\n[[routes]]\nprefix = \"10.0.0.0/8\"\nport = \"vm\"\n",
     "routes[1].prefix (line 10): duplicate route for 10.0.0.0/8 (also routes[0], line 6)"},
    {"syntax error", "[[ports]]\nname = \"vm\nrole = \"vm\"\n", "line 2: syntax error at column"},
    {"duplicate key is a syntax error", "[[ports]]\nname = \"a\"\nname = \"b\"\n", "line 3: syntax error"},
    {"cores length mismatch", "[workers]\ncount = 2\ncores = [0, 1, 2]\n" PORT_VM,
     "workers.cores (line 3): has 3 entries but workers.count is 2"},
    {"core listed twice", "[workers]\ncount = 2\ncores = [1, 1]\n" PORT_VM,
     "workers.cores[1] (line 3): core 1 is already used by workers.cores[0]"},
    {"absurd core", "[workers]\ncount = 1\ncores = [4096]\n" PORT_VM,
     "workers.cores[0] (line 3): must be between 0 and 1023, got 4096"},
    {"core of wrong type", "[workers]\ncores = [\"0\"]\n" PORT_VM, "workers.cores[0] (line 2): expected integer, got string"},
    {"worker count", "[workers]\ncount = 65\n" PORT_VM, "workers.count (line 2): must be between 1 and 64, got 65"},
    {"burst size", "[workers]\nburst_size = 0\n" PORT_VM, "workers.burst_size (line 2): must be between 1 and 64"},
    {"ring entries power of two", "[uring]\nring_entries = 1000\n" PORT_VM,
     "uring.ring_entries (line 2): must be a power of two between 8 and 32768, got 1000"},
    {"uring buffer smaller than a frame", "[uring]\nbuffer_size = 2048\n" PORT_VM "mtu = 9000\n",
     "uring.buffer_size (line 2): 2048 bytes cannot hold a frame of ports[0]"},
    {"neighbour capacity", "[neighbours]\ncapacity = 8\n" PORT_VM,
     "neighbours.capacity (line 2): must be between 16 and 16777216, got 8"},
    {"neighbour retransmit", "[neighbours]\nretransmit_ms = 5\n" PORT_VM,
     "neighbours.retransmit_ms (line 2): must be at least 10, got 5"},
    {"eal args of wrong type", "[dpdk]\neal_args = [\"-l\", 1]\n" PORT_VM,
     "dpdk.eal_args[1] (line 2): expected string, got integer"},
    {"host interface clash", "[host]\nenabled = true\ninterface = \"eg-vm\"\n" PORT_VM,
     "ports[0].interface (line 7): interface \"eg-vm\" is also host.interface"},
    {"ra interval", PORT_VM "ipv6 = [\"2001:db8::1/64\"]\n[ports.router_advertisements]\ninterval_s = 2\n",
     "ports[0].router_advertisements.interval_s (line 8): must be between 4 and 1800, got 2"},
    {"ra lifetime below interval", PORT_VM "ipv6 = [\"2001:db8::1/64\"]\n[ports.router_advertisements]\ninterval_s = 600\nrouter_lifetime_s = 300\n",
     "ports[0].router_advertisements.router_lifetime_s (line 9): must be 0 or at least interval_s (600)"},
    {"ra prefix host bits", PORT_VM "ipv6 = [\"2001:db8::1/64\"]\n[ports.router_advertisements]\nprefixes = [\"2001:db8::1/64\"]\n",
     "ports[0].router_advertisements.prefixes[0] (line 8): host bits set in 2001:db8::1/64; did you mean 2001:db8::/64?"},
    {"ra on uplink", "[[ports]]\nname = \"up\"\nrole = \"uplink\"\ninterface = \"eg-up\"\nipv6 = [\"2001:db8::1/64\"]\n"
                     "[ports.router_advertisements]\nenabled = true\n",
     "ports[0].router_advertisements (line 6): router advertisements are sent on vm ports only"},
    {"ra without ipv6", PORT_VM "[ports.router_advertisements]\ninterval_s = 30\n",
     "ports[0].router_advertisements (line 6): router advertisements need an IPv6 address"},
};

void PrintTo(const bad_case& c, std::ostream* os) { *os << c.name; }

class ConfigBadCase : public testing::TestWithParam<bad_case> {};

TEST_P(ConfigBadCase, ReportsKeyLineAndMessage) {
    const bad_case& c = GetParam();
    const auto r = load_string(c.toml, "bad.toml");
    EXPECT_FALSE(r.value);
    ASSERT_FALSE(r.errors.empty()) << "no error for:\n" << c.toml;
    bool found = false;
    for (const auto& e : r.errors) found = found || e.to_string().find(c.expected) != std::string::npos;
    EXPECT_TRUE(found) << "expected an error containing\n  " << c.expected << "\ngot\n" << all_errors(r);
}

std::string case_name(const testing::TestParamInfo<bad_case>& info) {
    std::string s;
    for (const char* p = info.param.name; *p != '\0'; ++p) s.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
    return s;
}

INSTANTIATE_TEST_SUITE_P(Table, ConfigBadCase, testing::ValuesIn(k_bad_cases), case_name);

// ---- error reporting as a whole --------------------------------------------------------------

TEST(ConfigLoad, AllErrorsAreReportedInLineOrder) {
    const auto r = load(R"(
[workers]
count = 0
burst_size = "x"

[[ports]]
name = "vm"
role = "vm"
interface = "eg-vm"
mtu = 20000
colour = "blue"

[[routes]]
prefix = "10.0.0.1/8"
port = "nope"
)");
    EXPECT_FALSE(r.value);
    ASSERT_EQ(r.errors.size(), 6u) << all_errors(r);
    EXPECT_EQ(r.errors[0].key, "workers.count");
    EXPECT_EQ(r.errors[0].line, 2);
    EXPECT_EQ(r.errors[1].key, "workers.burst_size");
    EXPECT_EQ(r.errors[2].to_string(), "ports[0].mtu (line 9): must be between 576 and 9000, got 20000");
    EXPECT_EQ(r.errors[3].to_string(), "ports[0].colour (line 10): unknown key");
    EXPECT_EQ(r.errors[4].key, "routes[0].prefix");
    EXPECT_EQ(r.errors[5].key, "routes[0].port");
}

TEST(ConfigLoad, SyntaxErrorIsOneErrorWithLine) {
    const auto r = load("[gateway]\nname = \"x\"\nstatus_interval_s = = 3\n");
    EXPECT_FALSE(r.value);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].key, "");
    EXPECT_EQ(r.errors[0].line, 3);
    EXPECT_EQ(r.errors[0].to_string().rfind("line 3: syntax error at column ", 0), 0u) << r.errors[0].to_string();
}

// toml++ 3.3 has undefined behaviour when asked whether some non-ASCII characters are
// whitespace; the loader screens those places (config.cpp, "a guard in front of
// toml++ 3.3") without rejecting such characters in strings and comments.
TEST(ConfigLoad, NonAsciiTextInStringsAndComments) {
    const auto ok = load("# Zürich — µs\n[gateway]\nname = \"Zürich ☃ édge\" # ñ\n"
                         "[dpdk]\neal_args = ['é', \"\"\"\nµ\\\"ü\"\"\"\", '\'\'ü\'\'\'']\n"
                         "[[ports]]\nname = \"vm\"\nrole = \"vm\"\nbackend = \"memory\"\n");
    ASSERT_TRUE(ok.errors.empty()) << all_errors(ok);
    EXPECT_EQ(ok.value->gateway.name, "Zürich ☃ édge");
    ASSERT_EQ(ok.value->dpdk.eal_args.size(), 3u);
    EXPECT_EQ(ok.value->dpdk.eal_args[1], "µ\"ü\"");  // a fourth quote is content
    EXPECT_EQ(ok.value->dpdk.eal_args[2], "ü'");

    struct bad {
        const char* toml;
        const char* expected;
    };
    const bad cases[] = {
        {"a = 1\nü = 2\n", "line 2: syntax error at column 1: unexpected character U+00FC outside a string"},
        {"a = \"x\"é\n", "line 1: syntax error at column 8: unexpected character U+00E9"},
        {"[gateway]\nname = \"\"\"x \\\n   é\"\"\"\n", "line 3: syntax error at column 4: unexpected character U+00E9 after a line-ending backslash"},
        {"name = \"\"\"\\é\"\"\"\n", "line 1: syntax error at column 12: unexpected character U+00E9 after a backslash"},
        {"\xc6\xa6[workers]\n", "line 1: syntax error at column 1: unexpected character U+01A6"},
    };
    for (const auto& c : cases) {
        const auto r = load(c.toml);
        ASSERT_EQ(r.errors.size(), 1u) << c.toml << all_errors(r);
        EXPECT_NE(r.errors[0].to_string().find(c.expected), std::string::npos) << r.errors[0].to_string();
    }
}

TEST(ConfigLoad, ErrorToString) {
    EXPECT_EQ((error{"ports[1].mtu", 12, "must be between 576 and 9000"}).to_string(),
              "ports[1].mtu (line 12): must be between 576 and 9000");
    EXPECT_EQ((error{"ports", 0, "at least one"}).to_string(), "ports: at least one");
    EXPECT_EQ((error{"", 4, "syntax"}).to_string(), "line 4: syntax");
    EXPECT_EQ((error{"", 0, "cannot read"}).to_string(), "cannot read");
}

TEST(ConfigLoad, UnreadableFileIsOneError) {
    const auto r = load_file("/nonexistent/edgegate.toml");
    EXPECT_FALSE(r.value);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].key, "");
    EXPECT_EQ(r.errors[0].line, 0);
    EXPECT_NE(r.errors[0].message.find("/nonexistent/edgegate.toml"), std::string::npos);
    EXPECT_NE(r.errors[0].message.find("No such file or directory"), std::string::npos);

    const auto dir = load_file(EG_SOURCE_DIR "/config");
    ASSERT_EQ(dir.errors.size(), 1u);
    EXPECT_NE(dir.errors[0].message.find("Is a directory"), std::string::npos) << dir.errors[0].message;
}

TEST(ConfigLoad, HostileInputNeverThrows) {
    const std::string inputs[] = {
        std::string("\0\0\0", 3),
        "[[ports]]\nname = \"\x01\xff\"\n",
        "a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "[[ports]]\n\"\\u0000\" = 1\nname = 9223372036854775807\n",
        "ports = [1, \"x\", {name = \"a\"}]\nroutes = 3\n",
        std::string(100000, '['),
    };
    for (const auto& in : inputs) {
        load_result r;
        EXPECT_NO_THROW(r = load_string(in));
        EXPECT_FALSE(r.value);
        EXPECT_FALSE(r.errors.empty());
        for (const auto& e : r.errors) EXPECT_FALSE(e.to_string().empty());
    }
}

}  // namespace
}  // namespace eg::cfg
