// What a reload may apply at runtime (control/config_reload.hpp), on variants of the
// lab's real config.
#include "control/config_reload.hpp"

#include <gtest/gtest.h>

namespace eg::ctl {
namespace {

cfg::config lab_config() {
    auto r = cfg::load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
    EXPECT_TRUE(r.errors.empty());
    return std::move(*r.value);
}

TEST(ConfigReload, NothingChanged) {
    const cfg::config a = lab_config();
    cfg::config b = lab_config();
    for (auto& v : b.vms) v.line += 3;  // lines moved: no change
    const reload_plan p = plan_reload(a, b);
    EXPECT_TRUE(p.needs_restart.empty());
    EXPECT_TRUE(p.applies.empty());
}

TEST(ConfigReload, RuntimePartsApply) {
    const cfg::config a = lab_config();
    cfg::config b = lab_config();
    b.nat.forwards.front().port_first = b.nat.forwards.front().port_last = 8081;
    b.vms[0].egress = cfg::egress_policy::dedicated;
    b.vms[0].public_address = cfg::parse_ip("203.0.113.30");
    b.vms[4].max_sessions = 9;
    b.routes.pop_back();
    const reload_plan p = plan_reload(a, b);
    EXPECT_TRUE(p.needs_restart.empty());
    EXPECT_EQ(p.applies, (std::vector<std::string>{"[[vms]] egress of vm1", "[[vms]] egress of vm5", "[[routes]]",
                                                   "[[nat.forwards]]"}));
}

TEST(ConfigReload, RestartPartsAreNamed) {
    const cfg::config a = lab_config();
    cfg::config b = lab_config();
    b.ports[1].mtu = 1400;
    b.workers.count = 2;
    b.api.secret = "another-secret-0123456789";
    b.vms[5].mac = {2, 0, 0, 0, 1, 0x66};
    b.nat.forwards.clear();  // runtime, but the plan refuses as a whole
    const reload_plan p = plan_reload(a, b);
    EXPECT_EQ(p.needs_restart, (std::vector<std::string>{"[[ports]]", "[workers]", "[api]",
                                                         "[[vms]] entry 5 (vm6): its name, mac, ipv4, ipv6 or organization_id"}));
    cfg::config v6 = lab_config();
    ASSERT_TRUE(v6.vms[0].ipv6.has_value());
    v6.vms[0].ipv6.reset();  // its IPv6 binding is part of who the VM is
    EXPECT_EQ(plan_reload(a, v6).needs_restart,
              (std::vector<std::string>{"[[vms]] entry 0 (vm1): its name, mac, ipv4, ipv6 or organization_id"}));
    cfg::config c = lab_config();
    c.vms.pop_back();
    EXPECT_EQ(plan_reload(a, c).needs_restart.size(), 1u);
}

}  // namespace
}  // namespace eg::ctl
