// The [nat] and [[vms]] tables of the config loader (config/config.cpp): real TOML
// through the real parser. Bad cases are a table: each names the error it must produce
// as `key.path (line N): message fragment`.
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

load_result load(std::string_view text) {
    if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
    return load_string(text, "test.toml");
}

ip_address v4(const char* text) {
    const auto a = parse_ip(text);
    EXPECT_TRUE(a && !a->v6) << text;
    return a.value_or(ip_address{});
}

// A vm port (192.168.100.1/24) and an uplink (203.0.113.1/24): lines 1-10.
#define PORTS                              \
    "[[ports]]\n"                          \
    "name = \"vm\"\n"                      \
    "role = \"vm\"\n"                      \
    "interface = \"eg-vm\"\n"              \
    "ipv4 = [\"192.168.100.1/24\"]\n"      \
    "[[ports]]\n"                          \
    "name = \"up\"\n"                      \
    "role = \"uplink\"\n"                  \
    "interface = \"eg-up\"\n"              \
    "ipv4 = [\"203.0.113.1/24\"]\n"

// [nat] with one public address: lines 11-12 after PORTS.
#define NAT "[nat]\npublic_addresses = [\"203.0.113.1\"]\n"

// A masquerade VM: 4 lines.
#define VM1 "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.11\"\n"

// ---- good files ---------------------------------------------------------------------------

TEST(NatConfig, VmIpv6IsOptionalAndKept) {
    const auto r = load_string(PORTS NAT VM1 "ipv6 = \"2001:db8:1::101\"\n"
                               "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\n",
                               "test.toml");
    ASSERT_TRUE(r.value);
    ASSERT_TRUE(r.value->vms[0].ipv6.has_value());
    EXPECT_EQ(cfg::to_string(*r.value->vms[0].ipv6), "2001:db8:1::101");
    EXPECT_FALSE(r.value->vms[1].ipv6.has_value());
}

TEST(NatConfig, MaxVms) {
    const auto r = load_string(PORTS NAT "max_vms = 1000\n" VM1, "test.toml");
    ASSERT_TRUE(r.value);
    EXPECT_EQ(r.value->nat.max_vms, 1000u);
}

TEST(NatConfig, EveryKeyRoundTrips) {
    const auto r = load(R"(
[workers]
count = 2

[[ports]]
name = "vm"
role = "vm"
interface = "eg-vm"
ipv4 = ["192.168.100.1/24"]

[[ports]]
name = "up"
role = "uplink"
interface = "eg-up"
ipv4 = ["203.0.113.1/24"]

[nat]
public_addresses = ["203.0.113.1", "203.0.113.5"]
port_range = [10000, 59999]
filtering = "address-and-port-dependent"
max_sessions = 100000
sessions_per_vm = 0
anti_spoofing = true
log_file = "/var/log/edgegate/nat.log"

[nat.timeouts]
tcp_established_s = 7500
tcp_transitory_s = 300
udp_s = 180
icmp_s = 30

[nat.port_blocks]
address = "203.0.113.9"
first_port = 60000
block_size = 1000

[nat.proxy]
service = "192.168.100.1"
service_port = 8080
upstream = "198.51.100.7"

[[nat.forwards]]
protocol = "tcp"
public_address = "203.0.113.1"
port = 8080
to = "192.168.100.11"
to_port = 80

[[nat.forwards]]
protocol = "udp"
public_address = "203.0.113.5"
ports = [5000, 5099]
to = "192.168.100.12"

[[nat.forwards]]
protocol = "udp"
public_address = "203.0.113.1"
ports = [5000, 5099]
to = "192.168.100.12"
to_port = 65436

[[vms]]
name = "vm1"
mac = "02:00:00:00:01:01"
ipv4 = "192.168.100.11"
max_sessions = 500

[[vms]]
name = "vm2"
mac = "02:00:00:00:01:02"
ipv4 = "192.168.100.12"
egress = "dedicated"
public_address = "203.0.113.20"

[[vms]]
name = "vm3"
mac = "02:00:00:00:01:03"
ipv4 = "192.168.100.13"
egress = "port_block"
port_block = 4

[[vms]]
name = "vm4"
mac = "02:00:00:00:01:04"
ipv4 = "192.168.100.14"
egress = "proxy"
proxy_port = 10001
proxy_force = true
)");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const config& c = *r.value;
    const nat_config& n = c.nat;
    EXPECT_TRUE(n.enabled);
    EXPECT_EQ(n.public_addresses, (std::vector<ip_address>{v4("203.0.113.1"), v4("203.0.113.5")}));
    EXPECT_EQ(n.port_first, 10000);
    EXPECT_EQ(n.port_last, 59999);
    EXPECT_EQ(n.filtering, nat_filtering::address_and_port_dependent);
    EXPECT_EQ(n.max_sessions, 100000u);
    EXPECT_EQ(n.sessions_per_vm, 0u);
    EXPECT_TRUE(n.anti_spoofing);
    EXPECT_EQ(n.log_file, "/var/log/edgegate/nat.log");
    EXPECT_EQ(n.timeouts.tcp_established_s, 7500u);
    EXPECT_EQ(n.timeouts.tcp_transitory_s, 300u);
    EXPECT_EQ(n.timeouts.udp_s, 180u);
    EXPECT_EQ(n.timeouts.icmp_s, 30u);
    EXPECT_EQ(n.port_blocks.address, v4("203.0.113.9"));
    EXPECT_EQ(n.port_blocks.first_port, 60000);
    EXPECT_EQ(n.port_blocks.block_size, 1000);
    EXPECT_EQ(n.proxy.service, v4("192.168.100.1"));
    EXPECT_EQ(n.proxy.service_port, 8080);
    EXPECT_EQ(n.proxy.upstream, v4("198.51.100.7"));

    ASSERT_EQ(n.forwards.size(), 3u);
    const nat_forward_config& f0 = n.forwards[0];
    EXPECT_EQ(f0.protocol, 6);
    EXPECT_EQ(f0.public_address, v4("203.0.113.1"));
    EXPECT_EQ(f0.port_first, 8080);
    EXPECT_EQ(f0.port_last, 8080);
    EXPECT_EQ(f0.to, v4("192.168.100.11"));
    EXPECT_EQ(f0.to_port, 80);
    EXPECT_EQ(f0.line, 41);
    const nat_forward_config& f1 = n.forwards[1];
    EXPECT_EQ(f1.protocol, 17);
    EXPECT_EQ(f1.public_address, v4("203.0.113.5"));
    EXPECT_EQ(f1.port_first, 5000);
    EXPECT_EQ(f1.port_last, 5099);
    EXPECT_EQ(f1.to, v4("192.168.100.12"));
    EXPECT_EQ(f1.to_port, 5000);  // defaulted: the first public port
    EXPECT_EQ(f1.line, 48);
    EXPECT_EQ(n.forwards[2].public_address, v4("203.0.113.1"));
    EXPECT_EQ(n.forwards[2].to_port, 65436);  // 65436 + 99 = 65535

    ASSERT_EQ(c.vms.size(), 4u);
    const vm_config& vm1 = c.vms[0];
    EXPECT_EQ(vm1.name, "vm1");
    EXPECT_EQ(to_string(vm1.mac), "02:00:00:00:01:01");
    EXPECT_EQ(vm1.ipv4, v4("192.168.100.11"));
    EXPECT_EQ(vm1.egress, egress_policy::masquerade);
    EXPECT_FALSE(vm1.public_address);
    EXPECT_EQ(vm1.max_sessions, 500u);
    EXPECT_EQ(vm1.line, 61);
    const vm_config& vm2 = c.vms[1];
    EXPECT_EQ(vm2.egress, egress_policy::dedicated);
    EXPECT_EQ(vm2.public_address, v4("203.0.113.20"));
    EXPECT_EQ(vm2.max_sessions, 0u);
    const vm_config& vm3 = c.vms[2];
    EXPECT_EQ(vm3.egress, egress_policy::port_block);
    EXPECT_EQ(vm3.port_block, 4u);  // (65536 - 60000) / 1000 = 5 blocks: 0..4
    const vm_config& vm4 = c.vms[3];
    EXPECT_EQ(vm4.name, "vm4");
    EXPECT_EQ(vm4.egress, egress_policy::proxy);
    EXPECT_EQ(vm4.proxy_port, 10001);
    EXPECT_TRUE(vm4.proxy_force);
    EXPECT_EQ(vm4.line, 81);
}

TEST(NatConfig, AbsentTablesLeaveDefaults) {
    const auto r = load(PORTS);
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const nat_config& n = r.value->nat;
    EXPECT_FALSE(n.enabled);
    EXPECT_TRUE(n.public_addresses.empty());
    EXPECT_EQ(n.port_first, 1024);
    EXPECT_EQ(n.port_last, 61439);
    EXPECT_FALSE(n.port_blocks.address);
    EXPECT_TRUE(n.forwards.empty());
    EXPECT_TRUE(r.value->vms.empty());
}

TEST(NatConfig, MinimalNatTableGetsDefaults) {
    const auto r = load(PORTS NAT);
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const nat_config& n = r.value->nat;
    EXPECT_TRUE(n.enabled);
    EXPECT_EQ(n.public_addresses, std::vector<ip_address>{v4("203.0.113.1")});
    EXPECT_EQ(n.port_first, 1024);
    EXPECT_EQ(n.port_last, 61439);
    EXPECT_EQ(n.filtering, nat_filtering::endpoint_independent);
    EXPECT_EQ(n.max_sessions, 262144u);
    EXPECT_EQ(n.sessions_per_vm, 16384u);
    EXPECT_EQ(n.max_vms, 65536u);
    EXPECT_TRUE(n.anti_spoofing);
    EXPECT_EQ(n.log_file, "");
    EXPECT_EQ(n.timeouts.tcp_established_s, 7440u);
    EXPECT_EQ(n.timeouts.tcp_transitory_s, 240u);
    EXPECT_EQ(n.timeouts.udp_s, 120u);
    EXPECT_EQ(n.timeouts.icmp_s, 60u);
    // The port-block address defaults to the first public address, filled in.
    EXPECT_EQ(n.port_blocks.address, v4("203.0.113.1"));
    EXPECT_EQ(n.port_blocks.first_port, 61440);
    EXPECT_EQ(n.port_blocks.block_size, 512);
    EXPECT_FALSE(n.proxy.service);
    EXPECT_EQ(n.proxy.service_port, 3128);
    EXPECT_FALSE(n.proxy.upstream);
    EXPECT_TRUE(n.forwards.empty());
}

TEST(NatConfig, VmsWithoutNatAreBindingsOnly) {
    const auto r = load(PORTS VM1 "egress = \"masquerade\"\n"
                                  "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\n"
                                  "max_sessions = 7\n");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const config& c = *r.value;
    EXPECT_FALSE(c.nat.enabled);
    ASSERT_EQ(c.vms.size(), 2u);
    EXPECT_EQ(c.vms[0].egress, egress_policy::masquerade);
    EXPECT_EQ(c.vms[1].name, "vm2");
    EXPECT_EQ(c.vms[1].ipv4, v4("192.168.100.12"));
    EXPECT_EQ(c.vms[1].max_sessions, 7u);
    EXPECT_EQ(c.vms[1].line, 16);
}

// A forward's target need not be a [[vms]] address when there are no bindings, or when
// anti-spoofing is off.
TEST(NatConfig, ForwardTargetNeedsBindingOnlyWithAntiSpoofing) {
    const char* forward = "[[nat.forwards]]\nprotocol = \"udp\"\npublic_address = \"203.0.113.1\"\nport = 53\n"
                          "to = \"192.168.100.50\"\n";
    const auto no_vms = load(std::string(PORTS NAT) + forward);
    ASSERT_TRUE(no_vms.errors.empty()) << all_errors(no_vms);
    EXPECT_EQ(no_vms.value->nat.forwards.at(0).to, v4("192.168.100.50"));

    const auto off = load(std::string(PORTS NAT "anti_spoofing = false\n") + forward + VM1);
    ASSERT_TRUE(off.errors.empty()) << all_errors(off);
    EXPECT_FALSE(off.value->nat.anti_spoofing);

    const auto on = load(std::string(PORTS NAT) + forward + VM1);
    ASSERT_EQ(on.errors.size(), 1u) << all_errors(on);
    EXPECT_EQ(on.errors[0].key, "nat.forwards[0].to");
    EXPECT_EQ(on.errors[0].line, 17);
}

// Port blocks on an address outside the masquerade pool may share port numbers with the
// dynamic range; a forward on a pool address may use the block area's numbers.
TEST(NatConfig, PortBlocksOnTheirOwnAddress) {
    const auto r = load(PORTS "[nat]\npublic_addresses = [\"203.0.113.1\"]\nport_range = [1024, 65535]\n"
                              "[nat.port_blocks]\naddress = \"203.0.113.9\"\nfirst_port = 1024\nblock_size = 64512\n"
                              "[[vms]]\nname = \"b\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.11\"\n"
                              "egress = \"port_block\"\nport_block = 0\n");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_EQ(r.value->nat.port_blocks.address, v4("203.0.113.9"));
    EXPECT_EQ(r.value->nat.port_blocks.block_size, 64512);
    EXPECT_EQ(r.value->vms.at(0).port_block, 0u);
}

TEST(NatConfig, PublicAddressMayBeTheUplinksOwn) {
    // The lab's layout: the uplink's gateway address is the masquerade address.
    const auto r = load(PORTS NAT);
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_EQ(r.value->nat.public_addresses.at(0), r.value->ports.at(1).ipv4.at(0).addr);
}

// The NAT example in README.md's configuration reference stays a valid config.
TEST(NatConfig, ReadmeNatExampleLoads) {
    std::FILE* f = std::fopen(EG_SOURCE_DIR "/README.md", "rb");
    ASSERT_NE(f, nullptr);
    std::string md;
    char buf[4096];
    for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) md.append(buf, got);
    std::fclose(f);
    std::size_t begin = 0;
    std::string block;
    while ((begin = md.find("```toml\n", begin)) != std::string::npos) {
        const auto end = md.find("```", begin + 8);
        ASSERT_NE(end, std::string::npos);
        const std::string b = md.substr(begin + 8, end - begin - 8);
        if (b.find("\n[nat]\n") != std::string::npos) block = b;
        begin = end + 3;
    }
    ASSERT_FALSE(block.empty()) << "no ```toml block with [nat] in README.md";
    const auto r = load_string(block, "README.md");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_TRUE(r.value->nat.enabled);
    EXPECT_FALSE(r.value->nat.forwards.empty());
    ASSERT_EQ(r.value->vms.size(), 4u);
    EXPECT_EQ(r.value->vms[0].egress, egress_policy::masquerade);
    EXPECT_EQ(r.value->vms[1].egress, egress_policy::dedicated);
    EXPECT_EQ(r.value->vms[2].egress, egress_policy::port_block);
    EXPECT_EQ(r.value->vms[3].egress, egress_policy::proxy);
}

TEST(NatConfig, SeveralErrorsAreReportedTogether) {
    const auto r = load(PORTS "[nat]\npublic_addresses = [\"198.51.100.1\"]\nfiltering = \"full-cone\"\n"
                              "[nat.timeouts]\nudp_s = 0\n" VM1 "egress = \"dedicated\"\n");
    EXPECT_FALSE(r.value);
    ASSERT_EQ(r.errors.size(), 4u) << all_errors(r);
    EXPECT_EQ(r.errors[0].key, "nat.public_addresses[0]");
    EXPECT_EQ(r.errors[0].line, 12);
    EXPECT_EQ(r.errors[1].key, "nat.filtering");
    EXPECT_EQ(r.errors[2].key, "nat.timeouts.udp_s");
    EXPECT_EQ(r.errors[2].line, 15);
    EXPECT_EQ(r.errors[3].to_string(),
              "vms[0].public_address (line 16): required key is missing (egress = \"dedicated\" needs the VM's own "
              "public IPv4 address)");
}

// A forward is not also blamed for the pool that is missing.
TEST(NatConfig, MissingPoolIsOneError) {
    const auto r = load(PORTS "[nat]\n[[nat.forwards]]\nprotocol = \"tcp\"\npublic_address = \"203.0.113.1\"\nport = 80\n"
                              "to = \"192.168.100.11\"\n");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_EQ(r.errors[0].to_string(), "nat.public_addresses (line 11): required key is missing");
}

// ---- bad files: one expected error each ----------------------------------------------------

struct bad_case {
    const char* name;
    const char* toml;
    const char* expected;  // must appear in one error's to_string()
};

// Forward on 203.0.113.1 (lines after PORTS NAT: [[nat.forwards]] at 13).
#define FWD(proto, ports_line) \
    "[[nat.forwards]]\nprotocol = \"" proto "\"\npublic_address = \"203.0.113.1\"\n" ports_line "to = \"192.168.100.11\"\n"

const bad_case k_bad_cases[] = {
    // [nat]
    {"nat is not a table", "nat = 5\n" PORTS, "nat (line 1): expected table, got integer"},
    {"public addresses missing", PORTS "[nat]\nport_range = [1024, 2047]\n",
     "nat.public_addresses (line 11): required key is missing"},
    {"public addresses empty", PORTS "[nat]\npublic_addresses = []\n",
     "nat.public_addresses (line 12): at least one public address is required"},
    {"public address not ipv4", PORTS "[nat]\npublic_addresses = [\"2001:db8::1\"]\n",
     "nat.public_addresses[0] (line 12): expected an IPv4 address like \"203.0.113.1\", got \"2001:db8::1\""},
    {"public address multicast", PORTS "[nat]\npublic_addresses = [\"224.0.0.1\"]\n",
     "nat.public_addresses[0] (line 12): 224.0.0.1 is a multicast address"},
    {"public address twice", PORTS "[nat]\npublic_addresses = [\"203.0.113.1\",\n\"203.0.113.1\"]\n",
     "nat.public_addresses[1] (line 13): 203.0.113.1 is listed twice (also nat.public_addresses[0], line 12)"},
    {"public address off the uplink", PORTS "[nat]\npublic_addresses = [\"198.51.100.1\"]\n",
     "nat.public_addresses[0] (line 12): 198.51.100.1 is not inside a connected IPv4 prefix of an uplink port "
     "(uplink prefixes: 203.0.113.0/24); the uplink must answer ARP"},
    {"public address on the vm side", PORTS "[nat]\npublic_addresses = [\"192.168.100.7\"]\n",
     "nat.public_addresses[0] (line 12): 192.168.100.7 is not inside a connected IPv4 prefix of an uplink port "
     "(it is in 192.168.100.0/24 of vm port \"vm\")"},
    {"public address is the broadcast", PORTS "[nat]\npublic_addresses = [\"203.0.113.255\"]\n",
     "nat.public_addresses[0] (line 12): 203.0.113.255 is the broadcast address of 203.0.113.0/24"},
    {"public address without uplink",
     "[[ports]]\nname = \"vm\"\nrole = \"vm\"\ninterface = \"eg-vm\"\nipv4 = [\"192.168.100.1/24\"]\n"
     "[nat]\npublic_addresses = [\"203.0.113.1\"]\n",
     "nat.public_addresses[0] (line 7): 203.0.113.1 is not inside a connected IPv4 prefix of an uplink port (no "
     "uplink port has an IPv4 address)"},
    {"port range of one element", PORTS NAT "port_range = [1024]\n",
     "nat.port_range (line 13): expected [first, last] (two port numbers), got 1 element"},
    {"port range reversed", PORTS NAT "port_range = [2000, 1000]\n",
     "nat.port_range (line 13): first port 2000 is above last port 1000"},
    {"port range zero", PORTS NAT "port_range = [0, 1000]\n",
     "nat.port_range[0] (line 13): must be between 1 and 65535, got 0"},
    {"port range not integers", PORTS NAT "port_range = [\"1024\", 2000]\n",
     "nat.port_range[0] (line 13): expected integer, got string"},
    {"port range smaller than the workers", "[workers]\ncount = 4\n" PORTS NAT "port_range = [1024, 1026]\n",
     "nat.port_range (line 15): holds 3 ports but workers.count is 4"},
    {"bad filtering", PORTS NAT "filtering = \"full-cone\"\n",
     "nat.filtering (line 13): must be \"endpoint-independent\" or \"address-and-port-dependent\", got \"full-cone\""},
    {"max sessions too small", PORTS NAT "max_sessions = 100\n",
     "nat.max_sessions (line 13): must be between 1024 and 2147483647, got 100"},
    {"max sessions too large", PORTS NAT "max_sessions = 2147483648\n",
     "nat.max_sessions (line 13): must be between 1024 and 2147483647, got 2147483648"},
    {"sessions per vm negative", PORTS NAT "sessions_per_vm = -1\n",
     "nat.sessions_per_vm (line 13): must be between 0 and 2147483647, got -1"},
    {"max vms zero", PORTS NAT "max_vms = 0\n", "nat.max_vms (line 13): must be between 1 and 16777216, got 0"},
    {"max vms too large", PORTS NAT "max_vms = 16777217\n",
     "nat.max_vms (line 13): must be between 1 and 16777216, got 16777217"},
    {"max vms below the [[vms]]", PORTS NAT "max_vms = 1\n" VM1
     "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\n",
     "nat.max_vms (line 13): 1 is below the 2 [[vms]] entries"},
    {"anti spoofing not bool", PORTS NAT "anti_spoofing = \"yes\"\n",
     "nat.anti_spoofing (line 13): expected boolean, got string"},
    {"log file not string", PORTS NAT "log_file = 5\n", "nat.log_file (line 13): expected string, got integer"},
    {"unknown nat key", PORTS NAT "max_session = 2048\n",
     "nat.max_session (line 13): unknown key (did you mean \"max_sessions\"?)"},
    // [nat.timeouts]
    {"timeout zero", PORTS NAT "[nat.timeouts]\nudp_s = 0\n",
     "nat.timeouts.udp_s (line 14): must be between 1 and 604800, got 0"},
    {"timeout above a week", PORTS NAT "[nat.timeouts]\ntcp_established_s = 604801\n",
     "nat.timeouts.tcp_established_s (line 14): must be between 1 and 604800, got 604801"},
    {"timeouts not a table", PORTS NAT "timeouts = 60\n", "nat.timeouts (line 13): expected table, got integer"},
    {"unknown timeout key", PORTS NAT "[nat.timeouts]\ntcp_s = 60\n", "nat.timeouts.tcp_s (line 14): unknown key"},
    // [nat.port_blocks]
    {"port blocks address off the uplink", PORTS NAT "[nat.port_blocks]\naddress = \"198.51.100.1\"\n",
     "nat.port_blocks.address (line 14): 198.51.100.1 is not inside a connected IPv4 prefix of an uplink port"},
    {"port blocks address not ipv4", PORTS NAT "[nat.port_blocks]\naddress = \"203.0.113\"\n",
     "nat.port_blocks.address (line 14): expected an IPv4 address"},
    {"no whole port block", PORTS NAT "[nat.port_blocks]\nfirst_port = 65500\nblock_size = 512\n",
     "nat.port_blocks.block_size (line 15): no whole port block fits: first_port 65500 leaves 36 ports up to 65535, "
     "fewer than block_size 512"},
    {"no whole port block with default size", PORTS NAT "[nat.port_blocks]\nfirst_port = 65500\n",
     "nat.port_blocks.first_port (line 14): no whole port block fits"},
    {"block size zero", PORTS NAT "[nat.port_blocks]\nblock_size = 0\n",
     "nat.port_blocks.block_size (line 14): must be between 1 and 65535, got 0"},
    {"first port too large", PORTS NAT "[nat.port_blocks]\nfirst_port = 65536\n",
     "nat.port_blocks.first_port (line 14): must be between 1 and 65535, got 65536"},
    {"unknown port blocks key", PORTS NAT "[nat.port_blocks]\nsize = 512\n",
     "nat.port_blocks.size (line 14): unknown key"},
    {"port blocks overlap the dynamic range", PORTS NAT "port_range = [1024, 65535]\n",
     "nat.port_range (line 13): the port-block area 61440..65535 on 203.0.113.1 overlaps the dynamic port_range "
     "1024..65535"},
    {"moved port blocks overlap the dynamic range", PORTS NAT "[nat.port_blocks]\nfirst_port = 50000\n",
     "nat.port_blocks.first_port (line 14): the port-block area 50000..65535 on 203.0.113.1 overlaps the dynamic "
     "port_range 1024..61439"},
    // [nat.proxy]
    {"proxy service not an address", PORTS NAT "[nat.proxy]\nservice = \"proxy.local\"\nupstream = \"198.51.100.7\"\n",
     "nat.proxy.service (line 14): expected an IPv4 address like \"203.0.113.1\", got \"proxy.local\""},
    {"proxy service port zero", PORTS NAT "[nat.proxy]\nservice_port = 0\n",
     "nat.proxy.service_port (line 14): must be between 1 and 65535, got 0"},
    {"proxy upstream loopback", PORTS NAT "[nat.proxy]\nupstream = \"127.0.0.1\"\n",
     "nat.proxy.upstream (line 14): 127.0.0.1 is a loopback address"},
    {"unknown proxy key", PORTS NAT "[nat.proxy]\nport = 3128\n",
     "nat.proxy.port (line 14): unknown key"},
    // [[nat.forwards]]
    {"forwards as a single table", PORTS NAT "[nat.forwards]\nprotocol = \"tcp\"\n",
     "nat.forwards (line 13): expected an array of tables ([[nat.forwards]]), got a single table ([nat.forwards])"},
    {"forward protocol", PORTS NAT FWD("icmp", "port = 80\n"),
     "nat.forwards[0].protocol (line 14): must be \"tcp\" or \"udp\", got \"icmp\""},
    {"forward protocol missing", PORTS NAT "[[nat.forwards]]\npublic_address = \"203.0.113.1\"\nport = 80\nto = \"192.168.100.11\"\n",
     "nat.forwards[0].protocol (line 13): required key is missing"},
    {"forward address not public", PORTS NAT "[[nat.forwards]]\nprotocol = \"tcp\"\npublic_address = \"203.0.113.7\"\nport = 80\nto = \"192.168.100.11\"\n",
     "nat.forwards[0].public_address (line 15): 203.0.113.7 is not one of nat.public_addresses (203.0.113.1)"},
    {"forward address missing", PORTS NAT "[[nat.forwards]]\nprotocol = \"tcp\"\nport = 80\nto = \"192.168.100.11\"\n",
     "nat.forwards[0].public_address (line 13): required key is missing"},
    {"forward with port and ports", PORTS NAT FWD("tcp", "port = 80\nports = [80, 81]\n"),
     "nat.forwards[0].ports (line 17): give either port or ports = [first, last], not both"},
    {"forward without ports", PORTS NAT FWD("tcp", ""),
     "nat.forwards[0].port (line 13): required key is missing (port = N, or ports = [first, last] for a range)"},
    {"forward port zero", PORTS NAT FWD("tcp", "port = 0\n"),
     "nat.forwards[0].port (line 16): must be between 1 and 65535, got 0"},
    {"forward port range reversed", PORTS NAT FWD("udp", "ports = [900, 800]\n"),
     "nat.forwards[0].ports (line 16): first port 900 is above last port 800"},
    {"forward port range of three", PORTS NAT FWD("udp", "ports = [800, 850, 900]\n"),
     "nat.forwards[0].ports (line 16): expected [first, last] (two port numbers), got 3 elements"},
    {"forward to off the vm side", PORTS NAT "[[nat.forwards]]\nprotocol = \"tcp\"\npublic_address = \"203.0.113.1\"\nport = 80\nto = \"203.0.113.50\"\n",
     "nat.forwards[0].to (line 17): 203.0.113.50 is not inside a connected IPv4 prefix of a vm port (it is in "
     "203.0.113.0/24 of uplink port \"up\")"},
    {"forward to the gateway", PORTS NAT "[[nat.forwards]]\nprotocol = \"tcp\"\npublic_address = \"203.0.113.1\"\nport = 80\nto = \"192.168.100.1\"\n",
     "nat.forwards[0].to (line 17): 192.168.100.1 is the gateway's own address (ports[0].ipv4[0], line 5)"},
    {"forward to missing", PORTS NAT "[[nat.forwards]]\nprotocol = \"tcp\"\npublic_address = \"203.0.113.1\"\nport = 80\n",
     "nat.forwards[0].to (line 13): required key is missing"},
    {"forward to port past 65535", PORTS NAT FWD("udp", "ports = [900, 999]\n") "to_port = 65500\n",
     "nat.forwards[0].to_port (line 18): 65500 + the 99 further ports of nat.forwards[0].ports (900..999) passes "
     "65535; to_port can be at most 65436"},
    {"forward to port zero", PORTS NAT FWD("udp", "port = 900\n") "to_port = 0\n",
     "nat.forwards[0].to_port (line 18): must be between 1 and 65535, got 0"},
    {"forwards overlap", PORTS NAT FWD("tcp", "ports = [100, 200]\n") FWD("tcp", "port = 150\n"),
     "nat.forwards[1].port (line 21): tcp 203.0.113.1:150 overlaps nat.forwards[0] (line 13, ports 100..200)"},
    {"forwards onto one VM port", PORTS NAT FWD("tcp", "port = 100\n") FWD("tcp", "port = 101\n") "to_port = 100\n",
     "nat.forwards[1].to_port (line 23): tcp 192.168.100.11:100 is already the target of nat.forwards[0] (line 13, "
     "192.168.100.11:100); a VM port takes one forward"},
    {"forward range onto another forward's VM ports", PORTS NAT FWD("udp", "ports = [100, 200]\n")
         FWD("udp", "ports = [300, 309]\n") "to_port = 195\n",
     "nat.forwards[1].to_port (line 23): udp 192.168.100.11:195..204 is already the target of nat.forwards[0] "
     "(line 13, 192.168.100.11:100..200)"},
    {"forward onto another forward's VM port by default", PORTS NAT FWD("tcp", "ports = [300, 310]\n") "to_port = 100\n"
         FWD("tcp", "port = 105\n"),
     "nat.forwards[1].to (line 23): tcp 192.168.100.11:105 is already the target of nat.forwards[0] (line 13, "
     "192.168.100.11:100..110)"},
    {"forward inside the dynamic range", PORTS NAT FWD("tcp", "port = 8080\n"),
     "nat.forwards[0].port (line 16): tcp 203.0.113.1:8080 falls inside the dynamic port_range 1024..61439"},
    {"forward range reaching into the dynamic range", PORTS NAT FWD("udp", "ports = [1000, 1100]\n"),
     "nat.forwards[0].ports (line 16): udp 203.0.113.1:1000..1100 falls inside the dynamic port_range"},
    {"forward inside the port-block area", PORTS NAT "port_range = [1024, 20000]\n" FWD("tcp", "port = 62000\n"),
     "nat.forwards[0].port (line 17): tcp 203.0.113.1:62000 falls inside the port-block area 61440..65535 "
     "(nat.port_blocks); use ports below first_port 61440"},
    {"forward to an unbound address",
     PORTS NAT FWD("tcp", "port = 80\n") "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\n",
     "nat.forwards[0].to (line 17): 192.168.100.11 is not the ipv4 of any [[vms]] entry; with nat.anti_spoofing on"},
    {"unknown forward key", PORTS NAT FWD("tcp", "port = 80\n") "target = \"x\"\n",
     "nat.forwards[0].target (line 18): unknown key"},
    // [[vms]]
    {"vms as a single table", PORTS "[vms]\nname = \"vm1\"\n",
     "vms (line 11): expected an array of tables ([[vms]]), got a single table ([vms])"},
    {"vm name missing", PORTS "[[vms]]\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.11\"\n",
     "vms[0].name (line 11): required key is missing"},
    {"vm name empty", PORTS "[[vms]]\nname = \"\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.11\"\n",
     "vms[0].name (line 12): must not be empty"},
    {"vm name twice", PORTS VM1 "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\n",
     "vms[1].name (line 16): duplicate VM name \"vm1\" (also vms[0].name, line 12)"},
    {"vm mac missing", PORTS "[[vms]]\nname = \"vm1\"\nipv4 = \"192.168.100.11\"\n",
     "vms[0].mac (line 11): required key is missing"},
    {"vm mac multicast", PORTS "[[vms]]\nname = \"vm1\"\nmac = \"01:00:00:00:01:01\"\nipv4 = \"192.168.100.11\"\n",
     "vms[0].mac (line 13): 01:00:00:00:01:01 is a multicast address"},
    {"vm mac twice", PORTS VM1 "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.12\"\n",
     "vms[1].mac (line 17): 02:00:00:00:01:01 is already the MAC of vms[0] (\"vm1\", line 13)"},
    {"vm ipv4 missing", PORTS "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:01\"\n",
     "vms[0].ipv4 (line 11): required key is missing"},
    {"vm ipv4 with prefix length", PORTS "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.11/24\"\n",
     "vms[0].ipv4 (line 14): expected an IPv4 address like \"203.0.113.1\", got \"192.168.100.11/24\""},
    {"vm ipv4 off the vm side", PORTS "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"10.1.1.1\"\n",
     "vms[0].ipv4 (line 14): 10.1.1.1 is not inside a connected IPv4 prefix of a vm port (vm prefixes: "
     "192.168.100.0/24); a VM is reached through a vm port"},
    {"vm ipv4 is the gateway", PORTS "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.1\"\n",
     "vms[0].ipv4 (line 14): 192.168.100.1 is the gateway's own address (ports[0].ipv4[0], line 5)"},
    {"vm ipv4 is the network address", PORTS "[[vms]]\nname = \"vm1\"\nmac = \"02:00:00:00:01:01\"\nipv4 = \"192.168.100.0\"\n",
     "vms[0].ipv4 (line 14): 192.168.100.0 is the network address of 192.168.100.0/24"},
    {"vm ipv4 twice", PORTS VM1 "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.11\"\n",
     "vms[1].ipv4 (line 18): 192.168.100.11 is already the address of vms[0] (\"vm1\", line 14)"},
    {"vm ipv6 link-local", PORTS VM1 "ipv6 = \"fe80::1\"\n",
     "vms[0].ipv6 (line 15): fe80::1 is link-local; the VM's dedicated address is a global one"},
    {"vm ipv6 multicast", PORTS VM1 "ipv6 = \"ff02::1\"\n",
     "vms[0].ipv6 (line 15): ff02::1 is a multicast address; the VM's own global address is needed"},
    {"vm ipv6 given an IPv4", PORTS VM1 "ipv6 = \"192.168.100.11\"\n",
     "vms[0].ipv6 (line 15): expected an IPv6 address like \"2001:db8:1::101\", got \"192.168.100.11\""},
    {"vm ipv6 with a prefix length", PORTS VM1 "ipv6 = \"2001:db8:1::101/128\"\n",
     "vms[0].ipv6 (line 15): expected an IPv6 address like \"2001:db8:1::101\", got \"2001:db8:1::101/128\""},
    {"vm ipv6 twice", PORTS VM1 "ipv6 = \"2001:db8:1::101\"\n"
                            "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\n"
                            "ipv6 = \"2001:db8:1::101\"\n",
     "vms[1].ipv6 (line 20): 2001:db8:1::101 is already the address of vms[0] (\"vm1\", line 15)"},
    {"vm egress unknown", PORTS VM1 "egress = \"snat\"\n",
     "vms[0].egress (line 15): must be \"masquerade\", \"dedicated\", \"port_block\" or \"proxy\", got \"snat\""},
    {"vm dedicated without nat", PORTS VM1 "egress = \"dedicated\"\npublic_address = \"203.0.113.20\"\n",
     "vms[0].egress (line 15): egress = \"dedicated\" needs NAT: add a [nat] table"},
    {"vm port block without nat", PORTS VM1 "egress = \"port_block\"\nport_block = 0\n",
     "vms[0].egress (line 15): egress = \"port_block\" needs NAT"},
    {"public address on masquerade", PORTS NAT VM1 "public_address = \"203.0.113.20\"\n",
     "vms[0].public_address (line 17): only for egress = \"dedicated\" (this VM has egress = \"masquerade\")"},
    {"port block on dedicated", PORTS NAT VM1 "egress = \"dedicated\"\npublic_address = \"203.0.113.20\"\nport_block = 1\n",
     "vms[0].port_block (line 19): only for egress = \"port_block\" (this VM has egress = \"dedicated\")"},
    {"proxy port on port block", PORTS NAT VM1 "egress = \"port_block\"\nport_block = 1\nproxy_port = 3000\n",
     "vms[0].proxy_port (line 19): only for egress = \"proxy\" (this VM has egress = \"port_block\")"},
    {"proxy force on masquerade", PORTS VM1 "proxy_force = true\n",
     "vms[0].proxy_force (line 15): only for egress = \"proxy\" (this VM has egress = \"masquerade\")"},
    {"dedicated without public address", PORTS NAT VM1 "egress = \"dedicated\"\n",
     "vms[0].public_address (line 13): required key is missing (egress = \"dedicated\" needs the VM's own public "
     "IPv4 address)"},
    {"dedicated address in the pool", PORTS NAT VM1 "egress = \"dedicated\"\npublic_address = \"203.0.113.1\"\n",
     "vms[0].public_address (line 18): 203.0.113.1 is one of nat.public_addresses (the shared masquerade pool)"},
    {"dedicated address of the port blocks",
     PORTS NAT "[nat.port_blocks]\naddress = \"203.0.113.9\"\n" VM1 "egress = \"dedicated\"\npublic_address = \"203.0.113.9\"\n",
     "vms[0].public_address (line 20): 203.0.113.9 is the nat.port_blocks address"},
    {"dedicated address off the uplink", PORTS NAT VM1 "egress = \"dedicated\"\npublic_address = \"198.51.100.20\"\n",
     "vms[0].public_address (line 18): 198.51.100.20 is not inside a connected IPv4 prefix of an uplink port"},
    {"dedicated address is the gateway's",
     PORTS "[nat]\npublic_addresses = [\"203.0.113.5\"]\n" VM1 "egress = \"dedicated\"\npublic_address = \"203.0.113.1\"\n",
     "vms[0].public_address (line 18): 203.0.113.1 is the gateway's own address (ports[1].ipv4[0], line 10)"},
    {"dedicated address twice",
     PORTS NAT VM1 "egress = \"dedicated\"\npublic_address = \"203.0.113.20\"\n"
     "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\negress = \"dedicated\"\n"
     "public_address = \"203.0.113.20\"\n",
     "vms[1].public_address (line 24): 203.0.113.20 is already the public address of vms[0] (\"vm1\", line 18)"},
    {"port block without index", PORTS NAT VM1 "egress = \"port_block\"\n",
     "vms[0].port_block (line 13): required key is missing (egress = \"port_block\" needs the index of the VM's port "
     "block)"},
    {"port block index past the blocks", PORTS NAT VM1 "egress = \"port_block\"\nport_block = 8\n",
     "vms[0].port_block (line 18): block 8 does not exist: nat.port_blocks has 8 blocks (first_port 61440, "
     "block_size 512), numbered 0..7"},
    {"port block index negative", PORTS NAT VM1 "egress = \"port_block\"\nport_block = -1\n",
     "vms[0].port_block (line 18): must be between 0 and 65535, got -1"},
    {"port block twice",
     PORTS NAT VM1 "egress = \"port_block\"\nport_block = 3\n"
     "[[vms]]\nname = \"vm2\"\nmac = \"02:00:00:00:01:02\"\nipv4 = \"192.168.100.12\"\negress = \"port_block\"\n"
     "port_block = 3\n",
     "vms[1].port_block (line 24): block 3 is already the block of vms[0] (\"vm1\", line 18)"},
    {"proxy without port", PORTS NAT "[nat.proxy]\nservice = \"192.168.100.1\"\nupstream = \"198.51.100.7\"\n" VM1
                           "egress = \"proxy\"\n",
     "vms[0].proxy_port (line 16): required key is missing (egress = \"proxy\" needs the VM's port on "
     "nat.proxy.upstream)"},
    {"proxy port zero", PORTS NAT "[nat.proxy]\nservice = \"192.168.100.1\"\nupstream = \"198.51.100.7\"\n" VM1
                        "egress = \"proxy\"\nproxy_port = 0\n",
     "vms[0].proxy_port (line 21): must be between 1 and 65535, got 0"},
    {"proxy without nat.proxy", PORTS NAT VM1 "egress = \"proxy\"\nproxy_port = 10001\n",
     "vms[0].egress (line 17): egress = \"proxy\" needs a [nat.proxy] table with service and upstream (missing: "
     "nat.proxy.service and nat.proxy.upstream)"},
    {"proxy without upstream", PORTS NAT "[nat.proxy]\nservice = \"192.168.100.1\"\n" VM1
                               "egress = \"proxy\"\nproxy_port = 10001\n",
     "vms[0].egress (line 19): egress = \"proxy\" needs a [nat.proxy] table with service and upstream (missing: "
     "nat.proxy.upstream)"},
    {"proxy force not bool", PORTS NAT "[nat.proxy]\nservice = \"192.168.100.1\"\nupstream = \"198.51.100.7\"\n" VM1
                             "egress = \"proxy\"\nproxy_port = 10001\nproxy_force = 1\n",
     "vms[0].proxy_force (line 22): expected boolean, got integer"},
    {"vm max sessions negative", PORTS VM1 "max_sessions = -5\n",
     "vms[0].max_sessions (line 15): must be between 0 and 2147483647, got -5"},
    {"unknown vm key", PORTS VM1 "ip = \"192.168.100.11\"\n", "vms[0].ip (line 15): unknown key"},
};

void PrintTo(const bad_case& c, std::ostream* os) { *os << c.name; }

class NatConfigBadCase : public testing::TestWithParam<bad_case> {};

TEST_P(NatConfigBadCase, ReportsKeyLineAndMessage) {
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
    for (const char* p = info.param.name; *p != '\0'; ++p)
        s.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
    return s;
}

INSTANTIATE_TEST_SUITE_P(Table, NatConfigBadCase, testing::ValuesIn(k_bad_cases), case_name);

// One VM port takes one forward per protocol (a reply is matched to its forward by the
// VM's address and source port); the same port number under the other protocol, or on
// another VM, is a different target.
TEST(NatConfig, ForwardTargetsMayShareOnlyAcrossProtocolsOrVms) {
    const auto ok = load(PORTS NAT FWD("tcp", "port = 53\n") FWD("udp", "port = 53\n")
                             "[[nat.forwards]]\nprotocol = \"tcp\"\npublic_address = \"203.0.113.1\"\nport = 54\n"
                             "to = \"192.168.100.12\"\nto_port = 53\n");
    ASSERT_TRUE(ok.errors.empty()) << all_errors(ok);
    EXPECT_EQ(ok.value->nat.forwards.size(), 3u);

    const auto twice = load(PORTS NAT FWD("tcp", "port = 53\n") FWD("tcp", "port = 54\n") "to_port = 53\n");
    ASSERT_EQ(twice.errors.size(), 1u) << all_errors(twice);
    EXPECT_EQ(twice.errors[0].key, "nat.forwards[1].to_port");
    EXPECT_EQ(twice.errors[0].line, 23);
}

}  // namespace
}  // namespace eg::cfg
