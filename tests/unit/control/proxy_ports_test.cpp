// Proxy-port assignment (control/proxy_ports.hpp) and the service over the real lease
// store (control/proxy_ports_service.hpp): sticky assignment, the rotating cursor,
// pins and conflicts, reservations, exhaustion, the stored form, restart, and the
// snapshot's proxy VMs taking their organization's port.
#include "control/proxy_ports.hpp"

#include <gtest/gtest.h>

#include "control/proxy_ports_service.hpp"
#include "control/runtime_policies.hpp"
#include "control/snapshot_builder.hpp"
#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl {
namespace {

TEST(ProxyPortTable, AssignIsStickyPerOrganization) {
    proxy_port_table t(10001, 10005);
    const auto a = t.assign("acme");
    ASSERT_TRUE(a);
    EXPECT_EQ(a.port, 10001);
    EXPECT_TRUE(a.changed);
    const auto again = t.assign("acme");
    EXPECT_EQ(again.port, 10001);
    EXPECT_FALSE(again.changed);
    EXPECT_EQ(t.assign("globex").port, 10002);
    EXPECT_EQ(t.port_of("acme"), 10001);
    EXPECT_EQ(t.holder_of(10002), "org:globex");
    EXPECT_EQ(t.holder_of(10003), "");
    EXPECT_EQ(t.free_ports(), 3u);
}

TEST(ProxyPortTable, ReleasedPortIsReusedLast) {
    proxy_port_table t(10001, 10003);
    t.assign("a");  // 10001
    t.assign("b");  // 10002
    ASSERT_TRUE(t.erase("a"));
    EXPECT_EQ(t.assign("c").port, 10003);  // the cursor goes on
    EXPECT_EQ(t.assign("d").port, 10001);  // then wraps to the freed one
    const auto full = t.assign("e");
    EXPECT_EQ(full.error, proxy_port_errc::exhausted);
    EXPECT_FALSE(t.port_of("e"));
}

TEST(ProxyPortTable, ReservedPortsAreNeverAssigned) {
    proxy_port_table t(10001, 10003);
    t.reserve(10001, "vm4");
    t.reserve(20000, "vm9");  // outside the range: reserved all the same
    EXPECT_EQ(t.assign("a").port, 10002);
    const auto pin = t.pin("b", 10001);
    EXPECT_EQ(pin.error, proxy_port_errc::taken);
    EXPECT_EQ(pin.holder, "vm:vm4");
    EXPECT_EQ(t.free_ports(), 1u);
}

TEST(ProxyPortTable, PinMovesAndConflicts) {
    proxy_port_table t(10001, 10010);
    EXPECT_EQ(t.pin("a", 10005).port, 10005);
    EXPECT_TRUE(t.pin("a", 10005));
    EXPECT_FALSE(t.pin("a", 10005).changed);
    const auto taken = t.pin("b", 10005);
    EXPECT_EQ(taken.error, proxy_port_errc::taken);
    EXPECT_EQ(taken.holder, "org:a");
    const auto moved = t.pin("a", 10007);
    EXPECT_TRUE(moved.changed);
    EXPECT_EQ(t.holder_of(10005), "");  // the old port is free again
    EXPECT_EQ(t.holder_of(10007), "org:a");
    EXPECT_EQ(t.pin("a", 10000).error, proxy_port_errc::out_of_range);
    EXPECT_EQ(t.pin("a", 10011).error, proxy_port_errc::out_of_range);
    EXPECT_EQ(t.erase("nobody").error, proxy_port_errc::not_found);
}

TEST(ProxyPortTable, RuntimeVmsPortsAreKeptFromOrganizationsWhileInUse) {
    proxy_port_table t(10001, 10004);
    t.set_runtime_ports({{10001, "vps-1"}, {10003, "vps-2"}, {20000, "vps-3"}});
    EXPECT_EQ(t.assign("a").port, 10002);
    EXPECT_EQ(t.assign("b").port, 10004) << "10003 is vps-2's";
    EXPECT_EQ(t.assign("c").error, proxy_port_errc::exhausted);
    const auto pin = t.pin("a", 10003);
    EXPECT_EQ(pin.error, proxy_port_errc::taken);
    EXPECT_EQ(pin.holder, "vm:vps-2");
    EXPECT_EQ(t.holder_of(10003), "vm:vps-2");
    EXPECT_EQ(t.holder_of(10003, false), "") << "runtime VMs may share a port among themselves";
    EXPECT_EQ(t.free_ports(), 0u);
    // vps-2 leaves the proxy policy: its port can be handed out again.
    t.set_runtime_ports({{10001, "vps-1"}});
    EXPECT_EQ(t.free_ports(), 1u);
    EXPECT_EQ(t.assign("c").port, 10003);
}

TEST(ProxyPortTable, BadOrganizationIds) {
    proxy_port_table t(1, 100);
    for (const char* bad : {"", "has space", "a/b", "ü", "a?b"}) {
        EXPECT_EQ(t.assign(bad).error, proxy_port_errc::bad_organization) << bad;
        EXPECT_EQ(t.pin(bad, 5).error, proxy_port_errc::bad_organization) << bad;
    }
    EXPECT_EQ(t.assign(std::string(129, 'a')).error, proxy_port_errc::bad_organization);
    EXPECT_TRUE(t.assign(std::string(128, 'a')));
    EXPECT_TRUE(t.assign("user:42@example.org_x-y.z"));
}

TEST(ProxyPortRecords, EncodeDecode) {
    EXPECT_EQ(encode_proxy_port(10001), "10001");
    const auto bytes = [](std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); };
    EXPECT_EQ(decode_proxy_port(bytes("10001")), 10001);
    EXPECT_EQ(decode_proxy_port(bytes("65535")), 65535);
    for (const char* bad : {"", "0", "65536", "010", "12a", "-1", "123456", " 1"}) {
        EXPECT_FALSE(decode_proxy_port(bytes(bad))) << bad;
    }
}

TEST(ProxyPortRecords, RestoreSkipsWhatCannotBeRestored) {
    leases::store_state::record_map records;
    auto& ns = records[std::string(k_proxy_port_namespace)];
    const auto bytes = [](std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); };
    ns["acme"] = bytes("10002");
    ns["bad id"] = bytes("10003");
    ns["globex"] = bytes("zzz");
    ns["initech"] = bytes("10001");  // reserved by a VM
    ns["old"] = bytes("30000");      // outside today's range: kept
    records["other"]["x"] = bytes("1");
    proxy_port_table t(10001, 10010);
    t.reserve(10001, "vm4");
    const auto problems = restore_proxy_ports(t, records);
    EXPECT_EQ(problems.size(), 3u);
    EXPECT_EQ(t.port_of("acme"), 10002);
    EXPECT_EQ(t.port_of("old"), 30000);
    EXPECT_FALSE(t.port_of("initech"));
    EXPECT_FALSE(t.port_of("globex"));
}

cfg::config config_with(const std::string& dir, const std::string& vms) {
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
range = "10001-10010"
state_dir = ")" + dir + "\"\n" + vms;
    auto r = cfg::load_string(toml, "t.toml");
    EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0].to_string());
    return r.value ? *r.value : cfg::config{};
}

const char* k_vms = R"(
[[vms]]
name = "vm4"
mac = "02:00:00:00:01:04"
ipv4 = "192.168.100.14"
egress = "proxy"
proxy_port = 10001
[[vms]]
name = "vm5"
mac = "02:00:00:00:01:05"
ipv4 = "192.168.100.15"
egress = "proxy"
organization_id = "acme"
[[vms]]
name = "vm6"
mac = "02:00:00:00:01:06"
ipv4 = "192.168.100.16"
egress = "proxy"
organization_id = "acme"
[[vms]]
name = "vm7"
mac = "02:00:00:00:01:07"
ipv4 = "192.168.100.17"
egress = "proxy"
organization_id = "globex"
proxy_port = 10009
)";

TEST(ProxyPortsService, ConfigOrganizationsGetPortsThatSurviveARestart) {
    test::temp_dir d;
    const cfg::config c = config_with(d.path().string(), k_vms);
    std::vector<std::string> log;
    const auto quiet = [&](std::string_view l) { log.emplace_back(l); };
    {
        proxy_ports_service s(c, nullptr, quiet);
        EXPECT_EQ(s.table().port_of("acme"), 10002);   // 10001 is vm4's
        EXPECT_EQ(s.table().port_of("globex"), 10009); // its configured port
        EXPECT_EQ(s.vms_of("acme"), (std::vector<std::string>{"vm5", "vm6"}));
        const auto t = s.targets();
        EXPECT_EQ(t.at(10001), "vm:vm4");
        EXPECT_EQ(t.at(10002), "org:acme");
        int changes = 0;
        s.on_change([&] { ++changes; });
        EXPECT_EQ(s.assign("initech").r.port, 10003);
        EXPECT_EQ(s.pin("globex", 10007).r.port, 10007);  // the API overrides the config's port
        EXPECT_EQ(s.assign("umbrella").r.port, 10004);
        EXPECT_TRUE(s.erase("umbrella").r);
        EXPECT_EQ(changes, 4);
        EXPECT_EQ(s.assign("initech").r.changed, false);
        EXPECT_EQ(changes, 4);
    }
    // Restart: everything as it was, the API's pin over the config's port included.
    proxy_ports_service s(c, nullptr, quiet);
    EXPECT_EQ(s.table().port_of("acme"), 10002);
    EXPECT_EQ(s.table().port_of("initech"), 10003);
    EXPECT_EQ(s.table().port_of("globex"), 10007);
    EXPECT_FALSE(s.table().port_of("umbrella"));

    // The snapshot: the organizations' VMs use their ports, vm4 its own.
    auto snap = build_snapshot(c, {{}, {}}, {}, 1);
    s.apply(snap->nat);
    std::map<std::string, uint16_t> ports;
    for (const auto& vm : snap->nat.vms) ports[vm.name] = vm.proxy_port;
    EXPECT_EQ(ports["vm4"], 10001);
    EXPECT_EQ(ports["vm5"], 10002);
    EXPECT_EQ(ports["vm6"], 10002);
    EXPECT_EQ(ports["vm7"], 10007);
}

TEST(ProxyPortsService, StoredRuntimeProxyPortsAreKeptFromOrganizationsAtStart) {
    test::temp_dir d;
    std::vector<std::string> log;
    const auto quiet = [&](std::string_view l) { log.emplace_back(l); };
    {
        // A run without organizations, in which the API gave vps-9 port 10002.
        proxy_ports_service s(config_with(d.path().string(), ""), nullptr, quiet);
        ASSERT_TRUE(s.store().put_record(k_egress_namespace, "vps-9", R"({"egress":"proxy","proxy_port":10002})"));
        ASSERT_TRUE(s.store().put_record(k_egress_namespace, "vps-8", R"({"egress":"masquerade"})"));
        s.store().commit();
    }
    // The next run's config brings organizations: none of them gets 10002.
    proxy_ports_service s(config_with(d.path().string(), k_vms), nullptr, quiet);
    EXPECT_EQ(s.table().port_of("acme"), 10003) << "10001 is vm4's, 10002 vps-9's";
    EXPECT_EQ(s.table().holder_of(10002), "vm:vps-9");
    EXPECT_EQ(s.pin("initech", 10002).r.error, proxy_port_errc::taken);
}

TEST(ProxyPortsService, SecondOpenOfTheStoreFailsWithTheDirectory) {
    test::temp_dir d;
    const cfg::config c = config_with(d.path().string(), "");
    proxy_ports_service first(c, nullptr, [](std::string_view) {});
    try {
        proxy_ports_service second(c, nullptr, [](std::string_view) {});
        FAIL() << "a second store on the same directory opened";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(d.path().string()), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace eg::ctl
