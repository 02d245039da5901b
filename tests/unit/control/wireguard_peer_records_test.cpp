// Runtime WireGuard peers kept in the lease store (control/wireguard_peer_records.hpp),
// over the lab's real config (tunnel wg0, site peer inet-site) and a real lease store in
// a temporary directory: adding writes a record (never a generated private key),
// deleting and idle expiry erase it, a restart re-creates the peers, and a stored peer
// that no longer fits the config (tunnel gone, key now a config peer's, allowed IPs
// taken) is dropped with a log line.
#include "control/wireguard_peer_records.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "crypto/x25519.hpp"
#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl {
namespace {

using json = nlohmann::json;

constexpr uint64_t k_s = 1'000'000'000ULL;
constexpr uint64_t k_now = 1000 * k_s;

cfg::wg_key key_of(uint8_t seed) {
    crypto::private_key k;
    for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed * 31 + i * 7 + 1);
    return crypto::x25519_from_private(k).pub;
}

cfg::ip_prefix prefix(const char* text) { return *cfg::parse_prefix(text); }

json record_of(const leases::lease_store& store, const cfg::wg_key& key) {
    const auto* v = store.find_record(k_wireguard_peer_namespace, cfg::encode_wg_key(key));
    return v ? json::parse(v->begin(), v->end()) : json();
}

/// One run of edgegated's WireGuard side: the service, its records and what they logged.
struct run {
    std::unique_ptr<leases::lease_store> store;
    std::unique_ptr<wireguard_service> service;
    std::unique_ptr<wireguard_peer_records> records;
    std::vector<std::string> log;
    int published = 0;

    run(const std::vector<cfg::wireguard_config>& tunnels, const std::filesystem::path* dir) {
        if (dir) {
            std::error_code ec;
            store = leases::lease_store::open(*dir, {}, ec);
            EXPECT_TRUE(store) << ec.message();
        }
        wireguard_service::hooks h;
        h.originate = [](std::span<const uint8_t>) {};
        h.wake = [](uint32_t) {};
        h.republish = [this] { ++published; };
        h.idle_removed = [this](const cfg::wg_key& k) { records->forget(k); };
        service = std::make_unique<wireguard_service>(tunnels, 1, h);
        records = std::make_unique<wireguard_peer_records>(*service, store.get(),
                                                           [this](std::string_view l) { log.emplace_back(l); });
    }
    bool listed(const std::string& name) const {
        for (const auto& p : service->status(k_now)) {
            if (p.name == name) return true;
        }
        return false;
    }
    const wireguard_peer_status* status_of(std::vector<wireguard_peer_status>& all, const std::string& name) const {
        all = service->status(k_now);
        for (const auto& p : all) {
            if (p.name == name) return &p;
        }
        return nullptr;
    }
};

class WireguardPeerRecords : public ::testing::Test {
protected:
    void SetUp() override {
        auto r = cfg::load_file(EG_SOURCE_DIR "/config/examples/lab.toml");
        ASSERT_TRUE(r.value);
        ASSERT_FALSE(r.value->wireguard.empty());
        tunnels_ = r.value->wireguard;  // wg0 with the site peer inet-site, 10.99.0.0/24
    }

    wireguard_new_peer laptop() const {
        wireguard_new_peer np;
        np.public_key = key_of(1);
        np.name = "laptop";
        np.allowed_ips = {prefix("10.99.1.2/32"), prefix("fd00:99:1::2/128")};
        np.routes = {prefix("192.168.100.12/32")};
        np.persistent_keepalive_s = 25;
        return np;
    }

    /// A peer removed after idle_s without a handshake.
    static wireguard_new_peer ephemeral(uint32_t idle_s) {
        wireguard_new_peer np;
        np.public_key = key_of(3);
        np.name = "ephemeral";
        np.allowed_ips = {prefix("10.99.2.0/24")};
        np.idle_timeout_s = idle_s;
        return np;
    }

    test::temp_dir dir_;
    std::vector<cfg::wireguard_config> tunnels_;
};

TEST_F(WireguardPeerRecords, AddDeleteAndIdleExpiryWriteAndEraseTheRecord) {
    run r(tunnels_, &dir_.path());
    ASSERT_TRUE(r.records->persistent());

    const auto a = r.records->add(laptop(), k_now);
    ASSERT_EQ(a.r.result, wireguard_add_result::outcome::added) << a.r.message;
    EXPECT_FALSE(a.ec);
    EXPECT_NE(a.t, 0u);  // the API answers once this is durable
    EXPECT_EQ(r.published, 1);
    const json rec = record_of(*r.store, key_of(1));
    EXPECT_EQ(rec["tunnel"], "wg0");  // the default tunnel, named
    EXPECT_EQ(rec["name"], "laptop");
    EXPECT_EQ(rec["allowed_ips"], json({"10.99.1.2/32", "fd00:99:1::2/128"}));
    EXPECT_EQ(rec["routes"], json({"192.168.100.12/32"}));
    EXPECT_EQ(rec["idle_timeout_s"], 0);
    EXPECT_EQ(rec["persistent_keepalive_s"], 25);

    // The gateway makes the keypair: the record holds the public key only; the private
    // key leaves once, in the wg-quick text.
    wireguard_new_peer gen;
    gen.allowed_ips = {prefix("10.99.3.0/24")};
    const auto g = r.records->add(gen, k_now);
    ASSERT_EQ(g.r.result, wireguard_add_result::outcome::added) << g.r.message;
    const auto at = g.r.wg_quick.find("PrivateKey = ");
    ASSERT_NE(at, std::string::npos);
    const std::string private_key = g.r.wg_quick.substr(at + 13, 44);
    const auto* stored = r.store->find_record(k_wireguard_peer_namespace, g.r.public_key);
    ASSERT_NE(stored, nullptr);
    const std::string text(stored->begin(), stored->end());
    EXPECT_EQ(text.find(private_key), std::string::npos) << text;
    EXPECT_EQ(text.find("PrivateKey"), std::string::npos) << text;
    EXPECT_FALSE(json::parse(text).contains("name"));  // defaults to the public key, not stored

    // Refused adds write nothing.
    const size_t before = r.store->records().at(std::string(k_wireguard_peer_namespace)).size();
    EXPECT_EQ(r.records->add(laptop(), k_now).r.result, wireguard_add_result::outcome::conflict);
    wireguard_new_peer taken = laptop();
    taken.public_key = key_of(2);
    taken.allowed_ips = {prefix("10.99.0.0/24")};  // the site peer's
    EXPECT_EQ(r.records->add(taken, k_now).r.result, wireguard_add_result::outcome::conflict);
    EXPECT_EQ(r.store->records().at(std::string(k_wireguard_peer_namespace)).size(), before);

    // DELETE erases it.
    const auto rm = r.records->remove(key_of(1));
    EXPECT_TRUE(rm.found);
    EXPECT_NE(rm.t, 0u);
    EXPECT_TRUE(record_of(*r.store, key_of(1)).is_null());
    EXPECT_FALSE(r.records->remove(key_of(1)).found);
    // The config's peer may be removed too; nothing of it is stored.
    const auto site = r.records->remove(tunnels_[0].peers[0].public_key);
    EXPECT_TRUE(site.found);
    EXPECT_EQ(site.t, 0u);

    // An ephemeral peer's record goes when it is removed for idleness.
    ASSERT_EQ(r.records->add(ephemeral(3), k_now).r.result, wireguard_add_result::outcome::added);
    EXPECT_EQ(record_of(*r.store, key_of(3))["idle_timeout_s"], 3);
    r.service->on_tick(k_now + 2 * k_s);
    EXPECT_FALSE(record_of(*r.store, key_of(3)).is_null());
    r.service->on_tick(k_now + 3 * k_s);
    EXPECT_FALSE(r.listed("ephemeral"));
    EXPECT_TRUE(record_of(*r.store, key_of(3)).is_null());
    EXPECT_TRUE(r.store->commit().durable >= r.store->last_ticket());

    // What is left after a restart: the generated peer only.
    r.store.reset();
    run again(tunnels_, &dir_.path());
    EXPECT_EQ(again.records->restore(tunnels_, k_now), 1u);
    EXPECT_TRUE(again.listed(g.r.public_key));
    EXPECT_FALSE(again.listed("laptop"));
    EXPECT_FALSE(again.listed("ephemeral"));
}

TEST_F(WireguardPeerRecords, ARestartRecreatesThePeers) {
    {
        run r(tunnels_, &dir_.path());
        ASSERT_EQ(r.records->add(laptop(), k_now).r.result, wireguard_add_result::outcome::added);
        ASSERT_EQ(r.records->add(ephemeral(60), k_now).r.result, wireguard_add_result::outcome::added);
        r.store->commit();
    }
    run r(tunnels_, &dir_.path());
    const uint64_t start = k_now + 500 * k_s;  // the new run's clock
    EXPECT_EQ(r.records->restore(tunnels_, start), 2u);
    EXPECT_EQ(r.published, 0);  // the caller publishes once, after the restore
    std::vector<wireguard_peer_status> all;
    const wireguard_peer_status* p = r.status_of(all, "laptop");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->tunnel, "wg0");
    EXPECT_EQ(p->public_key, cfg::encode_wg_key(key_of(1)));
    EXPECT_EQ(p->allowed_ips, (std::vector<std::string>{"10.99.1.2/32", "fd00:99:1::2/128"}));
    EXPECT_EQ(p->persistent_keepalive_s, 25u);
    EXPECT_TRUE(r.listed("inet-site"));  // the config's peer is there as ever
    ASSERT_NE(r.status_of(all, "ephemeral"), nullptr);
    EXPECT_EQ(r.status_of(all, "ephemeral")->idle_timeout_s, 60u);
    // The ephemeral peer's idle time starts again at the restore.
    r.service->on_tick(start + 59 * k_s);
    EXPECT_TRUE(r.listed("ephemeral"));
    r.service->on_tick(start + 60 * k_s);
    EXPECT_FALSE(r.listed("ephemeral"));
    ASSERT_FALSE(r.log.empty());
    EXPECT_NE(r.log.back().find("restored 2 runtime WireGuard peer(s)"), std::string::npos) << r.log.back();
    // Restored peers are deleted like any other.
    const auto rm = r.records->remove(key_of(1));
    EXPECT_TRUE(rm.found && rm.t != 0);
    EXPECT_TRUE(record_of(*r.store, key_of(1)).is_null());
}

TEST_F(WireguardPeerRecords, AGeneratedPresharedKeyIsStoredAndRestored) {
    cfg::wg_key psk{};
    {
        run r(tunnels_, &dir_.path());
        wireguard_new_peer np = laptop();
        np.generate_preshared_key = true;
        const auto a = r.records->add(np, k_now);
        ASSERT_EQ(a.r.result, wireguard_add_result::outcome::added);
        ASSERT_TRUE(a.r.preshared_key);
        psk = *a.r.preshared_key;
        // The record holds the key the peer got, not the request to make one.
        EXPECT_EQ(record_of(*r.store, key_of(1))["preshared_key"], cfg::encode_wg_key(psk));
        r.store->commit();
    }
    run r(tunnels_, &dir_.path());
    EXPECT_EQ(r.records->restore(tunnels_, k_now), 1u);
    std::vector<wireguard_peer_status> all;
    const wireguard_peer_status* p = r.status_of(all, "laptop");
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->has_preshared_key);
    // Restored with the same key, not a new one: the record is unchanged.
    EXPECT_EQ(record_of(*r.store, key_of(1))["preshared_key"], cfg::encode_wg_key(psk));
}

TEST_F(WireguardPeerRecords, StoredPeersThatNoLongerFitAreDroppedWithALogLine) {
    // The first run has a second tunnel, wg1.
    std::vector<cfg::wireguard_config> two = tunnels_;
    cfg::wireguard_config wg1 = tunnels_[0];
    wg1.name = "wg1";
    wg1.listen_port = 51821;
    wg1.peers.clear();
    two.push_back(wg1);
    {
        run r(two, &dir_.path());
        wireguard_new_peer on_wg1;
        on_wg1.tunnel = "wg1";
        on_wg1.public_key = key_of(4);
        on_wg1.name = "on-wg1";
        on_wg1.allowed_ips = {prefix("10.99.4.0/24")};
        wireguard_new_peer now_config;
        now_config.public_key = key_of(5);
        now_config.name = "now-config";
        now_config.allowed_ips = {prefix("10.99.5.0/24")};
        wireguard_new_peer clashing;
        clashing.public_key = key_of(6);
        clashing.name = "clashing";
        clashing.allowed_ips = {prefix("10.99.6.0/24")};
        for (const auto& np : {laptop(), on_wg1, now_config, clashing}) {
            ASSERT_EQ(r.records->add(np, k_now).r.result, wireguard_add_result::outcome::added) << np.name;
        }
        // A record this version cannot read (written by hand, or damaged).
        r.store->put_record(k_wireguard_peer_namespace, cfg::encode_wg_key(key_of(7)), R"({"allowed_ips": 5})");
        r.store->commit();
    }
    // The next run's config: wg1 is gone, key 5 is a config peer of wg0, and another
    // config peer now has 10.99.6.0/24.
    std::vector<cfg::wireguard_config> next = tunnels_;
    cfg::wireguard_peer_config k5;
    k5.name = "office";
    k5.public_key = key_of(5);
    k5.allowed_ips = {prefix("10.99.50.0/24")};
    cfg::wireguard_peer_config k8;
    k8.name = "branch";
    k8.public_key = key_of(8);
    k8.allowed_ips = {prefix("10.99.6.0/24")};
    next[0].peers.push_back(k5);
    next[0].peers.push_back(k8);

    run r(next, &dir_.path());
    EXPECT_EQ(r.records->restore(next, k_now), 1u);
    EXPECT_TRUE(r.listed("laptop"));
    EXPECT_TRUE(r.listed("office"));  // the config's, not the stored one
    EXPECT_FALSE(r.listed("now-config"));
    EXPECT_FALSE(r.listed("on-wg1"));
    EXPECT_FALSE(r.listed("clashing"));
    const auto logged = [&](const std::string& what) {
        for (const auto& l : r.log) {
            if (l.find(what) != std::string::npos) return true;
        }
        return false;
    };
    EXPECT_TRUE(logged("stored runtime WireGuard peer on-wg1 (" + cfg::encode_wg_key(key_of(4)) +
                       ") dropped: its tunnel wg1 is no longer configured"));
    EXPECT_TRUE(logged("stored runtime WireGuard peer now-config (" + cfg::encode_wg_key(key_of(5)) +
                       ") dropped: its public key now belongs to config peer office (tunnel wg0)"));
    EXPECT_TRUE(logged("stored runtime WireGuard peer clashing (" + cfg::encode_wg_key(key_of(6)) +
                       ") dropped: 10.99.6.0/24 is already an allowed IP of peer branch"));
    EXPECT_TRUE(logged("stored runtime WireGuard peer " + cfg::encode_wg_key(key_of(7)) + " dropped: "));
    // Dropped records are erased (durably), the one that fits is kept.
    r.store->commit();
    for (uint8_t k : {4, 5, 6, 7}) EXPECT_TRUE(record_of(*r.store, key_of(k)).is_null()) << int(k);
    EXPECT_FALSE(record_of(*r.store, key_of(1)).is_null());
    r.store.reset();
    run after(next, &dir_.path());
    EXPECT_EQ(after.records->restore(next, k_now), 1u);
    EXPECT_EQ(after.log.size(), 1u);  // "restored 1", nothing dropped a second time
}

TEST_F(WireguardPeerRecords, WithoutAStoreRuntimePeersLiveInMemoryOnly) {
    run r(tunnels_, nullptr);
    EXPECT_FALSE(r.records->persistent());
    const auto a = r.records->add(laptop(), k_now);
    EXPECT_EQ(a.r.result, wireguard_add_result::outcome::added);
    EXPECT_EQ(a.t, 0u);  // answered at once
    EXPECT_TRUE(r.listed("laptop"));
    const auto rm = r.records->remove(key_of(1));
    EXPECT_TRUE(rm.found);
    EXPECT_EQ(rm.t, 0u);
    EXPECT_EQ(r.records->restore(tunnels_, k_now), 0u);
}

// A reload whose new [[routes]] equal a runtime peer's allowed IP would doom the peer at
// the next restart (restore drops it): the gateway refuses such a reload with these lines.
TEST_F(WireguardPeerRecords, ARouteOnARuntimePeersAllowedIpIsAReloadClash) {
    run r(tunnels_, nullptr);
    ASSERT_EQ(r.records->add(laptop(), k_now).r.result, wireguard_add_result::outcome::added);
    const auto peers = r.service->status(k_now);
    cfg::route_config on_laptop;
    on_laptop.prefix = prefix("10.99.1.2/32");
    on_laptop.port = "vm";
    on_laptop.line = 42;
    cfg::route_config elsewhere;
    elsewhere.prefix = prefix("10.98.0.0/16");
    elsewhere.port = "vm";
    // The config peer's own allowed IPs are the file's business (config validation).
    cfg::route_config on_site;
    on_site.prefix = tunnels_[0].peers[0].allowed_ips[0];
    on_site.port = "vm";
    EXPECT_TRUE(runtime_peer_route_clashes(peers, tunnels_, {elsewhere, on_site}).empty());
    const auto lines = runtime_peer_route_clashes(peers, tunnels_, {elsewhere, on_laptop});
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("laptop"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("10.99.1.2/32"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("line 42"), std::string::npos) << lines[0];
    // Once the peer is deleted the same file reloads.
    ASSERT_TRUE(r.records->remove(key_of(1)).found);
    EXPECT_TRUE(runtime_peer_route_clashes(r.service->status(k_now), tunnels_, {elsewhere, on_laptop}).empty());
}

TEST(WireguardPeerRecord, RoundTripsAndRefusesWhatIsNotARecord) {
    wireguard_new_peer np;
    np.tunnel = "wg0";
    np.name = "n";
    np.allowed_ips = {prefix("10.1.0.0/16")};
    np.routes = {prefix("192.168.0.0/24")};
    np.idle_timeout_s = 7;
    np.persistent_keepalive_s = 9;
    const std::string key = cfg::encode_wg_key(key_of(9));
    std::string why;
    const auto back = parse_wireguard_peer_record(key, wireguard_peer_record(np), why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(back->tunnel, "wg0");
    EXPECT_EQ(back->name, "n");
    EXPECT_EQ(*back->public_key, key_of(9));
    EXPECT_EQ(back->allowed_ips, np.allowed_ips);
    EXPECT_EQ(back->routes, np.routes);
    EXPECT_EQ(back->idle_timeout_s, 7u);
    EXPECT_EQ(back->persistent_keepalive_s, 9u);
    EXPECT_FALSE(back->preshared_key);
    np.preshared_key = key_of(10);
    const auto with_psk = parse_wireguard_peer_record(key, wireguard_peer_record(np), why);
    ASSERT_TRUE(with_psk) << why;
    EXPECT_EQ(with_psk->preshared_key, np.preshared_key);
    const auto refused = [&](std::string_view k, const json& j) {
        std::string w;
        return !parse_wireguard_peer_record(k, j, w) && !w.empty();
    };
    EXPECT_TRUE(refused("not-a-key", wireguard_peer_record(np)));
    EXPECT_TRUE(refused(key, json::array()));
    EXPECT_TRUE(refused(key, {{"allowed_ips", {"10.1.0.0/16"}}}));  // no tunnel
    EXPECT_TRUE(refused(key, {{"tunnel", "wg0"}}));                  // no allowed_ips
    EXPECT_TRUE(refused(key, {{"tunnel", "wg0"}, {"allowed_ips", {"10.1.0.0/33"}}}));
    EXPECT_TRUE(refused(key, {{"tunnel", "wg0"}, {"allowed_ips", {"10.1.0.0/16"}}, {"idle_timeout_s", -1}}));
    EXPECT_TRUE(refused(key, {{"tunnel", "wg0"}, {"allowed_ips", {"10.1.0.0/16"}}, {"persistent_keepalive_s", 70000}}));
    EXPECT_TRUE(refused(key, {{"tunnel", "wg0"}, {"allowed_ips", {"10.1.0.0/16"}}, {"name", std::string(65, 'x')}}));
    EXPECT_TRUE(refused(key, {{"tunnel", "wg0"}, {"allowed_ips", {"10.1.0.0/16"}}, {"preshared_key", "short"}}));
    EXPECT_TRUE(refused(key, {{"tunnel", "wg0"}, {"allowed_ips", {"10.1.0.0/16"}}, {"preshared_key", 5}}));
    // A field of a newer version is left alone.
    EXPECT_FALSE(refused(key, {{"tunnel", "wg0"}, {"allowed_ips", {"10.1.0.0/16"}}, {"colour", "red"}}));
}

}  // namespace
}  // namespace eg::ctl
