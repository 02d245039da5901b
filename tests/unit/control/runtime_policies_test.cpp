// Runtime forwards and egress policies (control/runtime_policies.hpp) checked against
// the lab's real config, laid over its snapshot, and kept in the real lease store
// across a restart (control/runtime_policy_service.hpp).
#include "control/runtime_policies.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "control/leases/lease_store.hpp"
#include "control/runtime_policy_service.hpp"
#include "control/snapshot_builder.hpp"
#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl {
namespace {

using json = nlohmann::json;

cfg::config lab_config() {
    auto r = cfg::load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
    EXPECT_TRUE(r.errors.empty());
    return std::move(*r.value);
}

/// vps-a is an allocation at 192.168.100.150; org acme holds proxy port 10002.
allocation_lookup lab_lookup() {
    allocation_lookup a;
    a.address_of = [](std::string_view id) -> std::optional<uint32_t> {
        if (id == "vps-a") return 0xc0a86496;  // 192.168.100.150
        return std::nullopt;
    };
    a.holds = [](uint32_t ip) { return ip == 0xc0a86496; };
    a.proxy_port_holder = [](uint16_t port) -> std::string {
        if (port == 10002) return "org:acme";
        if (port == 10001) return "org:lab-org-4";
        return {};
    };
    return a;
}

cfg::nat_forward_config forward(const json& body) {
    cfg::nat_forward_config f;
    const auto r = parse_forward(body, f);
    EXPECT_TRUE(r) << r.message;
    return f;
}

egress_setting egress(const json& body) {
    egress_setting e;
    const auto r = parse_egress(body, e);
    EXPECT_TRUE(r) << r.message;
    return e;
}

TEST(RuntimePolicies, ParseRefusesBadFields) {
    cfg::nat_forward_config f;
    EXPECT_EQ(parse_forward(json{{"protocol", "tcp"}}, f).error, policy_errc::invalid);  // missing fields
    EXPECT_EQ(parse_forward(json{{"protocol", "sctp"}, {"public_address", "203.0.113.1"}, {"port", 1}, {"to", "192.168.100.11"}}, f).error,
              policy_errc::invalid);
    EXPECT_EQ(parse_forward(json{{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 0}, {"to", "192.168.100.11"}}, f).error,
              policy_errc::invalid);
    EXPECT_EQ(parse_forward(json{{"protocol", "tcp"}, {"public_address", "2001:db8::1"}, {"port", 81}, {"to", "192.168.100.11"}}, f).error,
              policy_errc::invalid);
    EXPECT_EQ(parse_forward(json{{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 81}, {"to", "192.168.100.11"}, {"x", 1}}, f).error,
              policy_errc::invalid);
    const auto ok = forward({{"protocol", "udp"}, {"public_address", "203.0.113.1"}, {"port", 5353}, {"to", "192.168.100.11"}});
    EXPECT_EQ(ok.to_port, 5353);  // defaults to port
    EXPECT_EQ(forward_id(ok), "udp/203.0.113.1/5353");
    EXPECT_EQ(forward(forward_json(ok)).to_port, 5353);  // the stored form parses back

    egress_setting e;
    EXPECT_EQ(parse_egress(json{{"egress", "port_block"}}, e).error, policy_errc::invalid);  // no block
    EXPECT_EQ(parse_egress(json{{"egress", "port_block"}, {"port_block", -1}}, e).error, policy_errc::invalid);
    EXPECT_EQ(parse_egress(json{{"egress", "port_block"}, {"port_block", "2"}}, e).error, policy_errc::invalid);
    EXPECT_EQ(parse_egress(json{{"egress", "masquerade"}, {"port_block", 2}}, e).error, policy_errc::invalid);
    const auto b = egress({{"egress", "port_block"}, {"port_block", 2}});
    EXPECT_EQ(b.egress, cfg::egress_policy::port_block);
    EXPECT_EQ(b.port_block, 2u);
    EXPECT_EQ(egress(egress_setting_json(b)), b);  // the stored form parses back
    EXPECT_EQ(parse_egress(json{{"egress", "dedicated"}}, e).error, policy_errc::invalid);           // no address
    EXPECT_EQ(parse_egress(json{{"egress", "masquerade"}, {"proxy_port", 1}}, e).error, policy_errc::invalid);
    EXPECT_EQ(parse_egress(json{{"egress", "proxy"}}, e).error, policy_errc::invalid);               // no port
    EXPECT_EQ(parse_egress(json{{"egress", "nat"}}, e).error, policy_errc::invalid);
    const auto p = egress({{"egress", "proxy"}, {"proxy_port", 10050}, {"proxy_force", true}});
    EXPECT_EQ(egress(egress_setting_json(p)), p);
}

TEST(RuntimePolicies, ForwardChecksFollowTheConfigRules) {
    const cfg::config c = lab_config();
    runtime_policies t(&c);
    const auto a = lab_lookup();
    const auto check = [&](const json& body) { return t.check_forward(forward(body), a); };
    json ok = {{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 8081}, {"to", "192.168.100.11"}, {"to_port", 81}};
    EXPECT_TRUE(check(ok));
    // An allocation's address is a target too.
    EXPECT_TRUE(check({{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 8082}, {"to", "192.168.100.150"}}));
    const auto with = [&](const char* k, json v) {
        json b = ok;
        b[k] = v;
        return check(b).error;
    };
    EXPECT_EQ(with("public_address", "203.0.113.20"), policy_errc::invalid);  // not a NAT address
    EXPECT_EQ(with("to", "203.0.113.2"), policy_errc::invalid);               // not behind a vm port
    EXPECT_EQ(with("to", "192.168.100.1"), policy_errc::invalid);             // the gateway itself
    EXPECT_EQ(with("to", "192.168.100.255"), policy_errc::invalid);           // broadcast
    EXPECT_EQ(with("to", "192.168.100.99"), policy_errc::invalid);            // no VM (anti-spoofing)
    EXPECT_EQ(with("port", 8080), policy_errc::conflict);                     // the config's forward
    EXPECT_EQ(with("port", 10000), policy_errc::conflict);                    // dynamic range 10000-50999
    EXPECT_EQ(with("port", 60000), policy_errc::conflict);                    // port-block area
    json wg = ok;
    wg["protocol"] = "udp";
    wg["port"] = 51820;
    EXPECT_EQ(check(wg).error, policy_errc::conflict);                        // WireGuard's listen port
    wg["protocol"] = "tcp";
    EXPECT_TRUE(check(wg));                                                   // TCP 51820 is free

    // Duplicates: the same forward again is fine, another target on the port is not.
    EXPECT_TRUE(t.put_forward(forward(ok)));
    EXPECT_FALSE(t.put_forward(forward(ok)));
    EXPECT_TRUE(check(ok));
    EXPECT_EQ(with("to_port", 82), policy_errc::conflict);  // another target for 8081
    // One forward per VM port: replies are matched to their forward by it.
    EXPECT_EQ(check({{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 8090}, {"to", "192.168.100.11"}, {"to_port", 80}}).error,
              policy_errc::conflict);  // the config's 8080 -> vm1:80
    EXPECT_EQ(check({{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 8090}, {"to", "192.168.100.11"}, {"to_port", 81}}).error,
              policy_errc::conflict);  // the runtime 8081 -> vm1:81
    EXPECT_TRUE(check({{"protocol", "udp"}, {"public_address", "203.0.113.1"}, {"port", 8090}, {"to", "192.168.100.11"}, {"to_port", 81}}));
    EXPECT_NE(t.find_config_forward("tcp/203.0.113.1/8080"), nullptr);
    EXPECT_EQ(t.find_config_forward("tcp/203.0.113.1/8081"), nullptr);
    EXPECT_TRUE(t.erase_forward("tcp/203.0.113.1/8081"));
    EXPECT_FALSE(t.erase_forward("tcp/203.0.113.1/8081"));
}

TEST(RuntimePolicies, EgressChecks) {
    const cfg::config c = lab_config();
    runtime_policies t(&c);
    const auto a = lab_lookup();
    const auto check = [&](std::string_view vm, const json& body) { return t.check_egress(vm, egress(body), a).error; };
    EXPECT_EQ(check("vm1", {{"egress", "dedicated"}, {"public_address", "203.0.113.30"}}), policy_errc::ok);
    EXPECT_EQ(check("vps-a", {{"egress", "dedicated"}, {"public_address", "203.0.113.30"}}), policy_errc::ok);
    EXPECT_EQ(check("nobody", {{"egress", "masquerade"}}), policy_errc::not_found);
    EXPECT_EQ(check("vm3", {{"egress", "masquerade"}}), policy_errc::ok);  // leaving its config port block
    // Port blocks: nat.port_blocks has 10 blocks of 512 from 60000; vm3 holds block 1.
    EXPECT_EQ(check("vm1", {{"egress", "port_block"}, {"port_block", 2}}), policy_errc::ok);
    EXPECT_EQ(check("vps-a", {{"egress", "port_block"}, {"port_block", 9}}), policy_errc::ok);
    EXPECT_EQ(check("vm1", {{"egress", "port_block"}, {"port_block", 10}}), policy_errc::invalid);  // past the last
    EXPECT_EQ(check("vm1", {{"egress", "port_block"}, {"port_block", 1}}), policy_errc::conflict);  // vm3's
    EXPECT_EQ(check("vm3", {{"egress", "port_block"}, {"port_block", 1}}), policy_errc::ok);        // its own
    EXPECT_EQ(check("vm3", {{"egress", "port_block"}, {"port_block", 4}}), policy_errc::ok);        // another one
    EXPECT_EQ(check("vm1", {{"egress", "dedicated"}, {"public_address", "203.0.113.20"}}), policy_errc::conflict);  // vm2's
    EXPECT_EQ(check("vm2", {{"egress", "dedicated"}, {"public_address", "203.0.113.20"}}), policy_errc::ok);  // its own
    EXPECT_EQ(check("vm1", {{"egress", "dedicated"}, {"public_address", "203.0.113.1"}}), policy_errc::invalid);  // the pool
    EXPECT_EQ(check("vm1", {{"egress", "dedicated"}, {"public_address", "192.168.100.40"}}), policy_errc::invalid);  // vm side
    EXPECT_EQ(check("vm1", {{"egress", "proxy"}, {"proxy_port", 10002}}), policy_errc::conflict);  // acme's port
    EXPECT_EQ(check("vm4", {{"egress", "proxy"}, {"proxy_port", 10001}}), policy_errc::ok);  // its organization's
    EXPECT_EQ(check("vm1", {{"egress", "proxy"}, {"proxy_port", 10050}}), policy_errc::ok);

    // Once vm1 has 203.0.113.30, nobody else may take it; vm2's old address is free
    // when vm2 moves away from it.
    t.put_egress("vm1", egress({{"egress", "dedicated"}, {"public_address", "203.0.113.30"}}));
    EXPECT_EQ(check("vps-a", {{"egress", "dedicated"}, {"public_address", "203.0.113.30"}}), policy_errc::conflict);
    t.put_egress("vm2", egress({{"egress", "masquerade"}}));
    EXPECT_EQ(check("vps-a", {{"egress", "dedicated"}, {"public_address", "203.0.113.20"}}), policy_errc::ok);
    // The same for port blocks: a runtime holder keeps others out, and a config VM that
    // moves away frees its block.
    t.put_egress("vps-a", egress({{"egress", "port_block"}, {"port_block", 2}}));
    EXPECT_EQ(check("vm1", {{"egress", "port_block"}, {"port_block", 2}}), policy_errc::conflict);
    EXPECT_EQ(check("vm3", {{"egress", "port_block"}, {"port_block", 2}}), policy_errc::conflict);
    t.put_egress("vm3", egress({{"egress", "masquerade"}}));
    EXPECT_EQ(check("vm1", {{"egress", "port_block"}, {"port_block", 1}}), policy_errc::ok);
    EXPECT_TRUE(t.recheck(a).empty());
}

TEST(RuntimePolicies, AppliedOverTheSnapshot) {
    const cfg::config c = lab_config();
    runtime_policies t(&c);
    t.put_egress("vm1", egress({{"egress", "dedicated"}, {"public_address", "203.0.113.30"}}));
    t.put_egress("vm2", egress({{"egress", "proxy"}, {"proxy_port", 10050}, {"proxy_force", true}}));
    t.put_egress("vps-a", egress({{"egress", "dedicated"}, {"public_address", "203.0.113.31"}}));
    t.put_egress("vm6", egress({{"egress", "dedicated"}, {"public_address", "203.0.113.32"}}));
    t.put_egress("vm3", egress({{"egress", "masquerade"}}));  // leaves its config block 1
    t.put_egress("vm5", egress({{"egress", "port_block"}, {"port_block", 4}}));
    t.put_forward(forward({{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 8081}, {"to", "192.168.100.11"}, {"to_port", 81}}));
    const std::vector<runtime_vm> runtime = {{"vps-a", {2, 0, 0, 0, 0, 0x50}, 0xc0a86496, true},
                                             {"vm6", {2, 0, 0, 0, 0, 0x51}, 0xc0a86497, true}};  // a vps_id that is a [[vms]] name
    auto snap = build_snapshot(c, {{}, {}, {}}, {}, 1, runtime);
    t.apply(snap->nat, c.vms.size());
    const auto& vms = snap->nat.vms;
    ASSERT_EQ(vms.size(), c.vms.size() + 2);
    EXPECT_EQ(vms[0].egress, dp::nat_egress::dedicated);
    EXPECT_EQ(vms[0].public_addr, 0xcb00711eu);  // 203.0.113.30
    EXPECT_EQ(vms[1].egress, dp::nat_egress::proxy);
    EXPECT_EQ(vms[1].public_addr, 0xcb007101u);  // back on the pool address
    EXPECT_EQ(vms[1].proxy_port, 10050);
    EXPECT_TRUE(vms[1].proxy_force);
    EXPECT_EQ(vms[2].egress, dp::nat_egress::masquerade);  // vm3
    EXPECT_EQ(vms[2].block_first, 0);
    EXPECT_EQ(vms[2].public_addr, 0xcb007101u);
    EXPECT_EQ(vms[4].egress, dp::nat_egress::port_block);  // vm5: block 4 of 512 from 60000
    EXPECT_EQ(vms[4].block_first, 62048);
    EXPECT_EQ(vms[4].block_last, 62559);
    EXPECT_EQ(vms[4].public_addr, 0xcb007101u);  // the nat.port_blocks address
    EXPECT_EQ(vms[5].egress, dp::nat_egress::dedicated);  // vm6, the config VM
    EXPECT_EQ(vms[6].egress, dp::nat_egress::dedicated);  // vps-a
    EXPECT_EQ(vms[6].public_addr, 0xcb00711fu);
    EXPECT_EQ(vms[7].egress, dp::nat_egress::masquerade);  // the runtime "vm6" is not the config's
    // The index follows: the dedicated addresses are public, the forward is found.
    const uint32_t bits = snap->nat.public_lookup.find(0xcb00711e);
    ASSERT_NE(bits, dp::flat_map::k_missing);
    EXPECT_EQ(bits, dp::nat_public::dedicated | (0u << 8));
    EXPECT_EQ(snap->nat.public_lookup.find(0xcb007114), dp::flat_map::k_missing);  // 203.0.113.20: vm2 left it
    EXPECT_NE(snap->nat.forward_in.find(dp::nat44_policy::forward_key(6, 0xcb007101, 8081)), dp::flat_map::k_missing);
    EXPECT_NE(snap->nat.forward_in.find(dp::nat44_policy::forward_key(6, 0xcb007101, 8080)), dp::flat_map::k_missing);
}

TEST(RuntimePolicyService, PersistedAndRestoredAcrossARestart) {
    test::temp_dir d;
    cfg::config c = lab_config();
    const auto a = lab_lookup();
    std::vector<std::string> log;
    const auto to_log = [&](std::string_view l) { log.emplace_back(l); };
    const auto open = [&] {
        std::error_code ec;
        auto s = leases::lease_store::open(d.path(), {}, ec);
        EXPECT_TRUE(s) << ec.message();
        return s;
    };
    {
        auto store = open();
        runtime_policy_service s(&c, store.get(), to_log);
        const auto f = forward({{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 8081}, {"to", "192.168.100.11"}, {"to_port", 81}});
        auto ch = s.add_forward(f, a);
        ASSERT_TRUE(ch.r) << ch.r.message;
        EXPECT_TRUE(ch.changed && ch.created && ch.t != 0);
        ch = s.add_forward(f, a);  // again: no change
        EXPECT_TRUE(ch.r && !ch.changed);
        EXPECT_TRUE(s.add_forward(forward({{"protocol", "udp"}, {"public_address", "203.0.113.1"}, {"port", 5353}, {"to", "192.168.100.12"}}), a).r);
        EXPECT_TRUE(s.remove_forward("udp/203.0.113.1/5353").r);
        EXPECT_EQ(s.remove_forward("udp/203.0.113.1/5353").r.error, policy_errc::not_found);
        EXPECT_EQ(s.add_forward(forward({{"protocol", "tcp"}, {"public_address", "203.0.113.1"}, {"port", 20000}, {"to", "192.168.100.11"}}), a).r.error,
                  policy_errc::conflict);
        ch = s.set_egress("vm1", egress({{"egress", "dedicated"}, {"public_address", "203.0.113.30"}}), a);
        EXPECT_TRUE(ch.r && ch.created);
        EXPECT_TRUE(s.set_egress("vps-a", egress({{"egress", "proxy"}, {"proxy_port", 10050}}), a).r);
        EXPECT_TRUE(s.set_egress("vm5", egress({{"egress", "dedicated"}, {"public_address", "203.0.113.33"}}), a).r);
        EXPECT_TRUE(s.remove_egress("vm5").r);
        EXPECT_EQ(s.remove_egress("vm5").r.error, policy_errc::not_found);
        store->commit();
    }
    {
        auto store = open();
        runtime_policy_service s(&c, store.get(), to_log);
        s.restore(a);
        ASSERT_EQ(s.table().forwards().size(), 1u);
        EXPECT_EQ(s.table().forwards().begin()->first, "tcp/203.0.113.1/8081");
        ASSERT_EQ(s.table().egress().size(), 2u);
        EXPECT_EQ(s.table().find_egress("vm1")->public_address, cfg::parse_ip("203.0.113.30"));
        EXPECT_EQ(s.table().find_egress("vps-a")->proxy_port, 10050);
        // The allocation is gone: its policy goes too, from the store as well.
        allocation_lookup none = a;
        none.address_of = [](std::string_view) { return std::optional<uint32_t>(); };
        EXPECT_TRUE(s.prune(none));
        EXPECT_EQ(s.table().find_egress("vps-a"), nullptr);
        store->commit();
    }
    // A restart with a config in which the runtime forward's port became a config
    // forward: the stored one no longer holds and is dropped, with a log line.
    cfg::nat_forward_config clash = c.nat.forwards.front();
    clash.port_first = clash.port_last = 8081;
    c.nat.forwards.push_back(clash);
    {
        auto store = open();
        runtime_policy_service s(&c, store.get(), to_log);
        log.clear();
        s.restore(a);
        EXPECT_TRUE(s.table().forwards().empty());
        EXPECT_EQ(s.table().egress().size(), 1u);
        ASSERT_FALSE(log.empty());
        EXPECT_NE(log.front().find("tcp/203.0.113.1/8081 dropped"), std::string::npos) << log.front();
        EXPECT_EQ(store->find_record(k_forward_namespace, "tcp/203.0.113.1/8081"), nullptr);
    }
}

TEST(RuntimePolicyService, WithoutAStoreChangesAreRefused) {
    const cfg::config c = lab_config();
    runtime_policy_service s(&c, nullptr, [](std::string_view) {});
    const auto ch = s.set_egress("vm1", egress({{"egress", "masquerade"}}), lab_lookup());
    EXPECT_EQ(ch.r.error, policy_errc::not_configured);
    EXPECT_TRUE(s.table().egress().empty());
}

}  // namespace
}  // namespace eg::ctl
