// The [[wireguard]] tables (config/config.cpp): real TOML through the real parser, key
// files read beside the config; bad cases are a table naming `key (line N): fragment`.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "config/config.hpp"

namespace eg::cfg {
namespace {

// Lines 1-12: a vm port and an uplink (MTU 1500) with 203.0.113.1.
#define PORTS                           \
    "[[ports]]\n"                       \
    "name = \"vm\"\n"                   \
    "role = \"vm\"\n"                   \
    "backend = \"memory\"\n"            \
    "ipv4 = [\"192.168.100.1/24\"]\n"   \
    "ipv6 = [\"2001:db8:100::1/64\"]\n" \
    "[[ports]]\n"                       \
    "name = \"up\"\n"                   \
    "role = \"uplink\"\n"               \
    "backend = \"memory\"\n"            \
    "ipv4 = [\"203.0.113.1/24\"]\n"     \
    "mtu = 1500\n"

// `wg genkey` output and its public key (`wg pubkey`); test keys, nothing else uses them.
constexpr const char* k_private = "YL3xrxUdcJsyDWv2H0UMHYkj5d0lOCrpOtfEZ2Tas3Y=";
constexpr const char* k_peer_public = "3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=";
constexpr const char* k_peer2_public = "OTs9c7zLiNK2qvqHqDUvT+84rBxHTROLr4B880/oph8=";

std::string all_errors(const load_result& r) {
    std::string s;
    for (const auto& e : r.errors) s += "  " + e.to_string() + "\n";
    return s;
}

class WireguardConfig : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NE(mkdtemp(dir_), nullptr);
        write("wg.key", std::string(k_private) + "\n");
        write("psk.key", "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=\n");
        write("junk.key", "not a key\n");
    }
    void TearDown() override {
        for (const char* f : {"wg.key", "psk.key", "junk.key"}) std::remove((std::string(dir_) + "/" + f).c_str());
        rmdir(dir_);
    }
    void write(const std::string& name, const std::string& text) {
        std::FILE* f = std::fopen((std::string(dir_) + "/" + name).c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(text.c_str(), f);
        std::fclose(f);
    }
    load_result load(const std::string& tail) { return load_string(PORTS + tail, std::string(dir_) + "/edgegate.toml"); }

    char dir_[32] = "/tmp/eg-wg-config-XXXXXX";
};

TEST_F(WireguardConfig, DefaultsAndEveryKey) {
    auto r = load("[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    ASSERT_EQ(r.value->wireguard.size(), 1u);
    const wireguard_config& w = r.value->wireguard[0];
    EXPECT_EQ(w.name, "wg0");
    EXPECT_EQ(encode_wg_key(w.private_key), k_private);
    EXPECT_EQ(to_string(w.address), "203.0.113.1");  // the first uplink address
    EXPECT_EQ(w.listen_port, 51820);
    EXPECT_EQ(w.mtu, 1420u);
    EXPECT_TRUE(w.mss_clamp);
    EXPECT_EQ(w.under_load_handshakes_per_s, 1000u);
    EXPECT_EQ(w.rekey_after_time_s, 120u);
    EXPECT_TRUE(w.peers.empty());

    r = load(std::string("[[wireguard]]\nname = \"wg1\"\nprivate_key_file = \"wg.key\"\naddress = \"203.0.113.1\"\n"
                         "listen_port = 51999\nmtu = 1380\nmss_clamp = false\nunder_load_handshakes_per_s = 50\n"
                         "rekey_after_time_s = 4\n"
                         "[[wireguard.peers]]\nname = \"site\"\npublic_key = \"") +
             k_peer_public +
             "\"\npreshared_key_file = \"psk.key\"\nallowed_ips = [\"10.99.0.0/24\", \"fd00:99::/64\"]\n"
             "endpoint = \"198.51.100.7:51820\"\npersistent_keepalive_s = 25\n"
             "[[wireguard.peers]]\npublic_key = \"" +
             k_peer2_public + "\"\nallowed_ips = [\"10.98.0.1/32\"]\n");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const wireguard_config& v = r.value->wireguard[0];
    EXPECT_EQ(v.listen_port, 51999);
    EXPECT_EQ(v.mtu, 1380u);
    EXPECT_FALSE(v.mss_clamp);
    EXPECT_EQ(v.under_load_handshakes_per_s, 50u);
    EXPECT_EQ(v.rekey_after_time_s, 4u);
    ASSERT_EQ(v.peers.size(), 2u);
    const wireguard_peer_config& p = v.peers[0];
    EXPECT_EQ(p.name, "site");
    EXPECT_EQ(encode_wg_key(p.public_key), k_peer_public);
    EXPECT_TRUE(p.has_preshared_key);
    EXPECT_EQ(encode_wg_key(p.preshared_key), "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=");
    ASSERT_EQ(p.allowed_ips.size(), 2u);
    EXPECT_EQ(to_string(p.allowed_ips[0]), "10.99.0.0/24");
    EXPECT_EQ(to_string(p.allowed_ips[1]), "fd00:99::/64");
    ASSERT_TRUE(p.endpoint.has_value());
    EXPECT_EQ(to_string(*p.endpoint), "198.51.100.7");
    EXPECT_EQ(p.endpoint_port, 51820);
    EXPECT_EQ(p.persistent_keepalive_s, 25u);
    EXPECT_EQ(v.peers[1].name, k_peer2_public);  // no name: the key names it
    EXPECT_FALSE(v.peers[1].has_preshared_key);
    EXPECT_FALSE(v.peers[1].endpoint.has_value());
}

TEST(WireguardKey, TextRoundTripAndRejects) {
    const auto k = decode_wg_key(k_peer_public);
    ASSERT_TRUE(k.has_value());
    EXPECT_EQ(encode_wg_key(*k), k_peer_public);
    for (const char* bad : {"", "3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw", "3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw==",
                            "3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNT*=", "3RbzEnn8jrrGUqaXF3IkUGojHCfw_ACe5uF6oSfKNTw="}) {
        EXPECT_FALSE(decode_wg_key(bad).has_value()) << bad;
    }
}

struct bad_case {
    const char* toml;       ///< after PORTS (line 13 on)
    const char* expected;   ///< fragment of the one error's text
};

TEST_F(WireguardConfig, BadValuesNameKeyAndLine) {
    const bad_case cases[] = {
        {"[[wireguard]]\nprivate_key_file = \"wg.key\"\n", "wireguard[0].name (line 13): required key is missing"},
        {"[[wireguard]]\nname = \"wg0\"\n", "wireguard[0].private_key_file (line 13): required key is missing"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"none.key\"\n",
         "wireguard[0].private_key_file (line 15): cannot read"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"junk.key\"\n",
         "does not hold a WireGuard key (44 characters of base64"},
        {"[[wireguard]]\nname = \"a-very-long-tunnel-name\"\nprivate_key_file = \"wg.key\"\n",
         "wireguard[0].name (line 14): longer than 15 bytes"},
        {"[wireguard]\nname = \"wg0\"\n", "expected an array of tables ([[wireguard]])"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\nlisten_prot = 1\n",
         "wireguard[0].listen_prot (line 16): unknown key (did you mean \"listen_port\"?)"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\naddress = \"192.168.100.1\"\n",
         "wireguard[0].address (line 16): 192.168.100.1 is not an IPv4 address of an uplink port"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\nlisten_port = 0\n",
         "wireguard[0].listen_port (line 16): must be between 1 and 65535"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\nmtu = 1441\n",
         "wireguard[0].mtu (line 16): 1441 + 60 bytes of WireGuard over IPv4 exceeds \"up\"'s MTU 1500; at most 1440"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\nrekey_after_time_s = 121\n",
         "wireguard[0].rekey_after_time_s (line 16): must be between 1 and 120"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard]]\nname = \"wg0\"\n"
         "private_key_file = \"wg.key\"\n",
         "is also used by wireguard[0]"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\nallowed_ips = [\"10.9.0.0/24\"]\n",
         "wireguard[0].peers[0].public_key (line 16): required key is missing"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"abc\"\n"
         "allowed_ips = [\"10.9.0.0/24\"]\n",
         "wireguard[0].peers[0].public_key (line 17): expected a WireGuard key"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n",
         "wireguard[0].peers[0].allowed_ips (line 16): required key is missing"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n"
         "allowed_ips = [\"10.9.0.1/24\"]\n",
         "wireguard[0].peers[0].allowed_ips[0] (line 18): 10.9.0.1/24 has host bits set; did you mean 10.9.0.0/24?"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n"
         "allowed_ips = [\"192.168.0.0/16\"]\n",
         "192.168.0.0/16 overlaps 192.168.100.0/24 of port \"vm\": the tunnel would take that network's traffic"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n"
         "allowed_ips = [\"10.9.0.0/24\"]\nendpoint = \"198.51.100.7\"\n",
         "wireguard[0].peers[0].endpoint (line 19): expected ADDRESS:PORT like \"198.51.100.7:51820\" or "
         "\"[2001:db8::7]:51820\", got \"198.51.100.7\" (no port)"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n"
         "allowed_ips = [\"10.9.0.0/24\"]\nendpoint = \"224.0.0.1:51820\"\n",
         "224.0.0.1 is a multicast address"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n"
         "allowed_ips = [\"10.9.0.0/24\"]\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n"
         "allowed_ips = [\"10.8.0.0/24\"]\n",
         "this public key is also wireguard[0].peers[0]; a key names one peer"},
        {"[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n[[wireguard.peers]]\npublic_key = \"3RbzEnn8jrrGUqaXF3IkUGojHCfw/ACe5uF6oSfKNTw=\"\n"
         "allowed_ips = [\"10.9.0.0/24\"]\n[[wireguard.peers]]\npublic_key = \"OTs9c7zLiNK2qvqHqDUvT+84rBxHTROLr4B880/oph8=\"\n"
         "allowed_ips = [\"10.9.0.0/24\"]\n",
         "10.9.0.0/24 is also in wireguard[0].peers[0]'s allowed_ips"},
        {"[nat]\npublic_addresses = [\"203.0.113.1\"]\nport_range = [10000, 59999]\n"
         "[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n",
         "51820 is inside nat.port_range 10000..59999 on 203.0.113.1: NAT could hand it to a VM"},
    };
    for (const auto& c : cases) {
        const auto r = load(c.toml);
        ASSERT_FALSE(r.errors.empty()) << c.toml;
        const std::string all = all_errors(r);
        EXPECT_NE(all.find(c.expected), std::string::npos) << "want: " << c.expected << "\ngot:\n" << all;
    }
}

// The uplink with IPv6 too: a tunnel may also listen there, and peers may have IPv6
// endpoints. Lines 1-6 are the uplink.
constexpr const char* k_dual_stack_uplink =
    "[[ports]]\nname = \"up\"\nrole = \"uplink\"\nbackend = \"memory\"\n"
    "ipv4 = [\"203.0.113.1/24\"]\nipv6 = [\"2001:db8:1::1/64\"]\n";

TEST_F(WireguardConfig, ListensOnIPv6AndTakesIPv6Endpoints) {
    auto r = load_string(std::string(k_dual_stack_uplink) +
                             "[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\naddress6 = \"2001:db8:1::1\"\n"
                             "[[wireguard.peers]]\npublic_key = \"" + k_peer_public +
                             "\"\nallowed_ips = [\"10.99.0.0/24\"]\nendpoint = \"[2001:db8:2::7]:51821\"\n",
                         std::string(dir_) + "/edgegate.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    const wireguard_config& w = r.value->wireguard[0];
    EXPECT_EQ(to_string(w.address), "203.0.113.1");
    ASSERT_TRUE(w.address6.has_value());
    EXPECT_EQ(to_string(*w.address6), "2001:db8:1::1");
    ASSERT_TRUE(w.peers[0].endpoint.has_value());
    EXPECT_EQ(to_string(listen_address{*w.peers[0].endpoint, w.peers[0].endpoint_port}), "[2001:db8:2::7]:51821");

    // Without address6 the tunnel listens on IPv4 only (no default).
    r = load_string(std::string(k_dual_stack_uplink) + "[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n",
                    std::string(dir_) + "/edgegate.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_FALSE(r.value->wireguard[0].address6.has_value());

    const std::string peer = std::string("[[wireguard.peers]]\npublic_key = \"") + k_peer_public +
                             "\"\nallowed_ips = [\"10.99.0.0/24\"]\n";  // lines 11-13
    const bad_case cases[] = {
        {"address6 = \"2001:db8:100::1\"\n",
         "wireguard[0].address6 (line 10): 2001:db8:100::1 is not an IPv6 address of an uplink port"},
        {"address6 = \"203.0.113.1\"\n", "wireguard[0].address6 (line 10): expected an IPv6 address"},
        {"address6 = \"2001:db8:1::1\"\nmtu = 1421\n",
         "wireguard[0].mtu (line 11): 1421 + 80 bytes of WireGuard over IPv6 exceeds \"up\"'s MTU 1500; at most 1420"},
    };
    for (const auto& c : cases) {
        r = load_string(std::string(k_dual_stack_uplink) + "[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n" +
                            c.toml,
                        std::string(dir_) + "/edgegate.toml");
        const std::string all = all_errors(r);
        EXPECT_NE(all.find(c.expected), std::string::npos) << "want: " << c.expected << "\ngot:\n" << all;
    }
    const bad_case peer_cases[] = {
        {"endpoint = \"[2001:db8:2::7]:51820\"\n",
         "wireguard[0].peers[0].endpoint (line 10): an IPv6 endpoint needs the tunnel to listen on IPv6 too: set "
         "wireguard[0].address6"},
        {"endpoint = \"2001:db8:2::7:51820\"\n", "(write IPv6 addresses in brackets)"},
        {"endpoint = \"[fe80::7]:51820\"\n", "wireguard[0].peers[0].endpoint (line 13): fe80::7 is link-local"},
        {"endpoint = \"[::ffff:198.51.100.7]:51820\"\n", "is IPv4-mapped; write the IPv4 address itself"},
        {"endpoint = \"[ff02::1]:51820\"\n", "ff02::1 is a multicast address"},
    };
    for (const auto& c : peer_cases) {
        r = load_string(std::string(k_dual_stack_uplink) + "[[wireguard]]\nname = \"wg0\"\nprivate_key_file = \"wg.key\"\n" +
                            peer + c.toml,
                        std::string(dir_) + "/edgegate.toml");
        ASSERT_FALSE(r.errors.empty()) << c.toml;
        const std::string all = all_errors(r);
        EXPECT_NE(all.find(c.expected), std::string::npos) << "want: " << c.expected << "\ngot:\n" << all;
    }
}

}  // namespace
}  // namespace eg::cfg
