// wireguard_service's initiation queue (control/wireguard_service.hpp): with
// hooks.schedule_flush set, admitted initiations wait for flush_initiations and are
// answered in one batch; the counters, the replies and their destinations are those of
// a service that answers each initiation on arrival, for a mix of valid, replayed,
// tampered, unknown, bad-mac1 and rate-limited initiations. The checks in front of any
// DH work (mac1, rate limit) still run on arrival, and any other handshake message
// flushes the queue first.
#include "control/wireguard_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
#include "tests/unit/test_frames.hpp"

namespace eg::ctl {
namespace {

using namespace eg::test;

constexpr uint64_t k_wall = 1704067200ULL * 1'000'000'000ULL;
constexpr uint64_t k_ms = 1'000'000ULL;
const ip4_t k_gw = ip4("203.0.113.1");

crypto::private_key key_of(uint8_t seed) {
    crypto::private_key k;
    for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed * 29 + i * 5 + 3);
    return k;
}

/// One tunnel with `n` peers whose private keys are key_of(1..n).
cfg::wireguard_config tunnel_config(size_t n) {
    cfg::wireguard_config t;
    t.name = "wg0";
    t.private_key = key_of(200);
    t.address = *cfg::parse_ip("203.0.113.1");
    t.listen_port = 51820;
    for (size_t i = 0; i < n; ++i) {
        cfg::wireguard_peer_config p;
        p.name = "peer" + std::to_string(i);
        p.public_key = crypto::x25519_from_private(key_of(uint8_t(i + 1))).pub;
        p.allowed_ips = {*cfg::parse_prefix("10.99." + std::to_string(i) + ".0/24")};
        t.peers.push_back(p);
    }
    return t;
}

/// A frame to the listen socket, as a worker punts it.
void punt(wireguard_service& svc, const bytes& f, uint64_t now) {
    dp::frame_message m;
    m.kind = dp::frame_message::wireguard;
    m.len = uint16_t(f.size());
    std::copy(f.begin(), f.end(), m.data);
    svc.on_frame(m, now);
}

struct sent {
    ip4_t dst;
    uint16_t dport;
    bytes payload;
};

/// A service and what it sent.
struct gateway_side {
    std::vector<sent> out;
    size_t schedule_calls = 0;
    std::unique_ptr<wireguard_service> svc;

    gateway_side(const cfg::wireguard_config& t, bool batching) {
        wireguard_service::hooks h;
        h.originate = [this](std::span<const uint8_t> f) {
            const uint8_t* ip = f.data() + 14;
            sent s;
            std::copy(ip + 16, ip + 20, s.dst.begin());
            s.dport = uint16_t(ip[22] << 8 | ip[23]);
            s.payload.assign(ip + 28, f.data() + f.size());
            out.push_back(s);
        };
        h.wake = [](uint32_t) {};
        if (batching) h.schedule_flush = [this] { ++schedule_calls; };
        svc = std::make_unique<wireguard_service>(std::vector<cfg::wireguard_config>{t}, 1, h);
    }
    void receive(const bytes& msg, const ip4_t& src, uint16_t sport, uint64_t now) {
        punt(*svc, eth(mac("02:00:00:00:00:02"), mac("52:54:00:00:00:22"), 0x0800,
                       ipv4(src, k_gw, 17, udp(src, k_gw, sport, 51820, msg))),
             now);
    }
};

void expect_same_counters(const wireguard_handshake_counters& a, const wireguard_handshake_counters& b) {
    EXPECT_EQ(a.initiations_received, b.initiations_received);
    EXPECT_EQ(a.responses_sent, b.responses_sent);
    EXPECT_EQ(a.cookie_replies_sent, b.cookie_replies_sent);
    EXPECT_EQ(a.completed, b.completed);
    EXPECT_EQ(a.invalid_mac1, b.invalid_mac1);
    EXPECT_EQ(a.rate_limited, b.rate_limited);
    EXPECT_EQ(a.unknown_peer, b.unknown_peer);
    EXPECT_EQ(a.rejected, b.rejected);
    EXPECT_EQ(a.malformed, b.malformed);
}

struct initiator {
    crypto::local_identity id;
    std::unique_ptr<crypto::handshake> hs;
    initiator(uint8_t seed, const crypto::public_key& gw, const crypto::key32& psk = {})
        : id(crypto::local_identity::from_private(key_of(seed))),
          hs(std::make_unique<crypto::handshake>(id, gw, psk)) {}
    template <class F>
    bytes initiation(uint64_t second, F mutate) {
        crypto::message_initiation m;
        EXPECT_EQ(hs->create_initiation(0x77, k_wall + second * 1'000'000'000ULL, m), crypto::handshake_error::ok);
        std::array<uint8_t, crypto::k_initiation_size> b;
        crypto::serialise(m, b);
        mutate(b);
        crypto::cookie_maker(hs->remote_static()).add_macs(b, 0);
        return bytes(b.begin(), b.end());
    }
    bytes initiation(uint64_t second) {
        return initiation(second, [](auto&) {});
    }
};

TEST(WireguardServiceBatch, AQueueIsAnsweredAsIfEachInitiationWereAnsweredOnArrival) {
    const cfg::wireguard_config t = tunnel_config(6);
    gateway_side batched(t, true), at_once(t, false);
    const crypto::public_key gw = crypto::x25519_from_private(key_of(200)).pub;
    std::vector<std::unique_ptr<initiator>> ini;
    for (uint8_t i = 1; i <= 7; ++i) ini.push_back(std::make_unique<initiator>(i, gw));  // #7 is no peer

    struct arrival {
        bytes msg;
        ip4_t src;
        uint16_t sport;
        uint64_t now;
        size_t who;  ///< initiator index, for checking the reply
    };
    std::vector<arrival> a;
    uint64_t now = 1000 * 1'000'000'000ULL;
    auto src_of = [](size_t i) { return ip4_t{198, 51, 100, uint8_t(10 + i)}; };
    for (size_t i = 0; i < 5; ++i) a.push_back({ini[i]->initiation(10), src_of(i), 40000, now += k_ms, i});
    a.push_back({a[0].msg, src_of(0), 40000, now += k_ms, 0});  // replayed
    a.push_back({ini[6]->initiation(10), src_of(6), 40000, now += k_ms, 6});  // unknown peer
    {
        bytes bad = ini[5]->initiation(10);
        bad[120] ^= 1;  // mac1
        a.push_back({bad, src_of(5), 40000, now += k_ms, 5});
    }
    a.push_back({ini[5]->initiation(10, [](auto& b) { b[50] ^= 1; }), src_of(5), 40000, now += k_ms, 5});
    // Peer 1 again, newer and past the flood limit: answered after its first.
    a.push_back({ini[1]->initiation(11), src_of(1), 40001, now += 25 * k_ms, 1});
    // Peer 5 from one source six times at once: the rate limit (burst 5) refuses the
    // sixth on arrival; of the five queued, the first is answered and the other four
    // fall to the per-peer flood rule (20 ms) inside the batch.
    now += k_ms;
    for (uint64_t k = 0; k < 6; ++k) a.push_back({ini[5]->initiation(20 + k), src_of(9), 40000, now + k, 5});

    for (const arrival& x : a) {
        batched.receive(x.msg, x.src, x.sport, x.now);
        at_once.receive(x.msg, x.src, x.sport, x.now);
    }
    EXPECT_EQ(batched.schedule_calls, 1u) << "one flush asked for per turn";
    EXPECT_TRUE(batched.out.empty()) << "nothing answered before the flush";
    EXPECT_EQ(batched.svc->counters().invalid_mac1, 1u) << "mac1 is checked on arrival";
    EXPECT_EQ(batched.svc->counters().rate_limited, 1u) << "the rate limit too";
    EXPECT_EQ(batched.svc->queued_initiations(), a.size() - 2);
    EXPECT_EQ(at_once.svc->queued_initiations(), 0u);

    batched.svc->flush_initiations();
    EXPECT_EQ(batched.svc->queued_initiations(), 0u);
    expect_same_counters(batched.svc->counters(), at_once.svc->counters());
    EXPECT_EQ(at_once.svc->counters().responses_sent, 5u + 1u + 1u);
    EXPECT_EQ(at_once.svc->counters().unknown_peer, 1u);
    EXPECT_EQ(at_once.svc->counters().rejected, 6u) << "the replay, the tampered static, four floods";
    ASSERT_EQ(batched.out.size(), at_once.out.size());
    for (size_t i = 0; i < batched.out.size(); ++i) {
        EXPECT_EQ(batched.out[i].dst, at_once.out[i].dst) << i;
        EXPECT_EQ(batched.out[i].dport, at_once.out[i].dport) << i;
        EXPECT_EQ(batched.out[i].payload.size(), crypto::k_response_size) << i;
    }
    // The last reply to each of initiators 0, 2, 3, 4 completes their handshake.
    for (size_t who : {0u, 2u, 3u, 4u}) {
        const ip4_t dst = src_of(who);
        const auto it = std::find_if(batched.out.begin(), batched.out.end(), [&](const sent& s) { return s.dst == dst; });
        ASSERT_NE(it, batched.out.end()) << who;
        crypto::message_response r;
        ASSERT_EQ(crypto::parse(it->payload, r), crypto::parse_error::ok);
        EXPECT_TRUE(crypto::verify_mac1(ini[who]->id.macs.mac1, it->payload));
        EXPECT_EQ(ini[who]->hs->consume_response(r), crypto::handshake_error::ok) << who;
    }
    // Status agrees: one handshake per answered initiation (peer 1 twice).
    size_t handshakes = 0;
    for (const auto& s : batched.svc->status(now)) handshakes += s.handshakes;
    EXPECT_EQ(handshakes, 7u);
}

TEST(WireguardServiceBatch, OtherHandshakeMessagesAndTicksFlushTheQueueFirst) {
    const cfg::wireguard_config t = tunnel_config(2);
    gateway_side g(t, true);
    const crypto::public_key gw = crypto::x25519_from_private(key_of(200)).pub;
    initiator i0(1, gw), i1(2, gw);
    uint64_t now = 1000 * 1'000'000'000ULL;
    g.receive(i0.initiation(1), ip4("198.51.100.1"), 1, now);
    EXPECT_EQ(g.svc->queued_initiations(), 1u);
    bytes cookie_reply(crypto::k_cookie_reply_size, 0);
    cookie_reply[0] = 3;
    g.receive(cookie_reply, ip4("198.51.100.1"), 1, now += k_ms);
    EXPECT_EQ(g.svc->queued_initiations(), 0u);
    EXPECT_EQ(g.svc->counters().responses_sent, 1u);

    g.receive(i1.initiation(1), ip4("198.51.100.2"), 1, now += k_ms);
    EXPECT_EQ(g.svc->queued_initiations(), 1u);
    g.svc->on_tick(now += k_ms);
    EXPECT_EQ(g.svc->queued_initiations(), 0u);
    EXPECT_EQ(g.svc->counters().responses_sent, 2u);
    EXPECT_EQ(g.schedule_calls, 2u);
}

TEST(WireguardServiceBatch, WithoutScheduleFlushEachInitiationIsAnsweredOnArrival) {
    const cfg::wireguard_config t = tunnel_config(1);
    gateway_side g(t, false);
    initiator i0(1, crypto::x25519_from_private(key_of(200)).pub);
    g.receive(i0.initiation(1), ip4("198.51.100.1"), 1, 1000 * 1'000'000'000ULL);
    EXPECT_EQ(g.svc->queued_initiations(), 0u);
    EXPECT_EQ(g.svc->counters().responses_sent, 1u);
    EXPECT_EQ(g.out.size(), 1u);
}

TEST(WireguardServiceRuntimePeer, AGeneratedPresharedKeyIsUsedAndHandedOut) {
    const cfg::wireguard_config t = tunnel_config(0);
    const crypto::public_key gw = crypto::x25519_from_private(key_of(200)).pub;
    for (const bool client_knows_it : {true, false}) {
        gateway_side g(t, false);
        wireguard_new_peer np;
        np.public_key = crypto::x25519_from_private(key_of(7)).pub;
        np.allowed_ips = {*cfg::parse_prefix("10.99.7.2/32")};
        np.generate_preshared_key = true;
        const wireguard_add_result r = g.svc->add_peer(np, 1000 * 1'000'000'000ULL);
        ASSERT_EQ(r.result, wireguard_add_result::outcome::added) << r.message;
        ASSERT_TRUE(r.preshared_key);
        EXPECT_TRUE(r.preshared_key_generated);
        EXPECT_NE(*r.preshared_key, cfg::wg_key{}) << "random, not zero";
        EXPECT_TRUE(g.svc->status(0).at(0).has_preshared_key);
        // The responder cannot tell a wrong pre-shared key from the initiation (IKpsk2
        // mixes it in last): it answers, and only an initiator with the key can open it.
        initiator ini(7, gw, client_knows_it ? *r.preshared_key : crypto::key32{});
        g.receive(ini.initiation(10), ip4("198.51.100.7"), 40000, 1001 * 1'000'000'000ULL);
        ASSERT_EQ(g.out.size(), 1u);
        crypto::message_response resp;
        ASSERT_EQ(crypto::parse(g.out[0].payload, resp), crypto::parse_error::ok);
        EXPECT_EQ(ini.hs->consume_response(resp) == crypto::handshake_error::ok, client_knows_it);
    }
}

TEST(WireguardServiceRuntimePeer, AGeneratedKeypairsWgQuickConfigCarriesThePresharedKey) {
    gateway_side g(tunnel_config(0), false);
    wireguard_new_peer np;
    np.allowed_ips = {*cfg::parse_prefix("10.99.8.2/32")};
    np.preshared_key = cfg::wg_key{};
    (*np.preshared_key)[0] = 0x42;
    const wireguard_add_result r = g.svc->add_peer(np, 1000 * 1'000'000'000ULL);
    ASSERT_EQ(r.result, wireguard_add_result::outcome::added) << r.message;
    EXPECT_FALSE(r.preshared_key_generated) << "given, so not handed back";
    EXPECT_NE(r.wg_quick.find("PresharedKey = " + cfg::encode_wg_key(*np.preshared_key) + "\n"), std::string::npos)
        << r.wg_quick;
    // Without one, there is no such line.
    wireguard_new_peer plain;
    plain.allowed_ips = {*cfg::parse_prefix("10.99.9.2/32")};
    const wireguard_add_result r2 = g.svc->add_peer(plain, 1000 * 1'000'000'000ULL);
    ASSERT_EQ(r2.result, wireguard_add_result::outcome::added) << r2.message;
    EXPECT_FALSE(r2.preshared_key);
    EXPECT_EQ(r2.wg_quick.find("PresharedKey"), std::string::npos);
}

// Over IPv6: a tunnel with address6 takes handshakes there, answers from that address
// with the UDP checksum IPv6 requires, and remembers the IPv6 endpoint.
struct sent6 {
    ip6_t src, dst;
    uint16_t sport = 0, dport = 0;
    bool checksum_ok = false;
    bytes payload;
};

struct gateway_side6 {
    std::vector<sent6> out;
    size_t ipv4_frames = 0;
    std::unique_ptr<wireguard_service> svc;
    ip6_t gw6 = ip6("2001:db8:1::1");

    explicit gateway_side6(const cfg::wireguard_config& t) {
        wireguard_service::hooks h;
        h.originate = [this](std::span<const uint8_t> f) {
            const uint8_t* ip = f.data() + 14;
            if ((ip[0] >> 4) != 6) {
                ++ipv4_frames;
                return;
            }
            sent6 s;
            std::copy(ip + 8, ip + 24, s.src.begin());
            std::copy(ip + 24, ip + 40, s.dst.begin());
            ASSERT_EQ(ip[6], 17);
            const uint8_t* udp = ip + 40;
            const uint32_t len = get16(ip + 4);
            ASSERT_EQ(14u + 40 + len, f.size());
            ASSERT_EQ(get16(udp + 4), len);
            s.sport = get16(udp);
            s.dport = get16(udp + 2);
            s.checksum_ok = get16(udp + 6) != 0 && checksum_ok(udp, len, pseudo_sum(s.src, s.dst, 17, len));
            s.payload.assign(udp + 8, f.data() + f.size());
            out.push_back(s);
        };
        h.wake = [](uint32_t) {};
        svc = std::make_unique<wireguard_service>(std::vector<cfg::wireguard_config>{t}, 1, h);
    }
    void receive(const bytes& msg, const ip6_t& src, uint16_t sport, uint64_t now) {
        punt(*svc, eth(mac("02:00:00:00:00:02"), mac("52:54:00:00:00:22"), 0x86dd,
                       ipv6(src, gw6, 17, udp(src, gw6, sport, 51820, msg))),
             now);
    }
};

TEST(WireguardServiceIpv6, AnInitiationOverIpv6IsAnsweredOverIpv6AndTheEndpointIsKept) {
    cfg::wireguard_config t = tunnel_config(1);
    t.address6 = *cfg::parse_ip("2001:db8:1::1");
    gateway_side6 g(t);
    initiator i0(1, crypto::x25519_from_private(key_of(200)).pub);
    const ip6_t client = ip6("2001:db8:2::7");
    g.receive(i0.initiation(1), client, 40000, 1000 * 1'000'000'000ULL);
    EXPECT_EQ(g.svc->counters().responses_sent, 1u);
    ASSERT_EQ(g.out.size(), 1u);
    EXPECT_EQ(g.ipv4_frames, 0u);
    EXPECT_EQ(g.out[0].src, g.gw6);
    EXPECT_EQ(g.out[0].dst, client);
    EXPECT_EQ(g.out[0].sport, 51820);
    EXPECT_EQ(g.out[0].dport, 40000);
    EXPECT_TRUE(g.out[0].checksum_ok) << "IPv6 needs a UDP checksum";
    crypto::message_response resp;
    ASSERT_EQ(crypto::parse(g.out[0].payload, resp), crypto::parse_error::ok);
    EXPECT_EQ(i0.hs->consume_response(resp), crypto::handshake_error::ok);
    EXPECT_EQ(g.svc->status(0).at(0).endpoint, "[2001:db8:2::7]:40000");
}

TEST(WireguardServiceIpv6, OneSlash64SharesOneRateLimitBucket) {
    // The kernel's ratelimiter.c: an IPv6 source counts by its /64, which one host owns
    // whole. Bursts of 5: the sixth initiation from that /64 is refused, another /64 is not.
    cfg::wireguard_config t = tunnel_config(1);
    t.address6 = *cfg::parse_ip("2001:db8:1::1");
    gateway_side6 g(t);
    initiator i0(1, crypto::x25519_from_private(key_of(200)).pub);
    const uint64_t now = 1000 * 1'000'000'000ULL;
    for (int i = 0; i < 6; ++i) {
        ip6_t src = ip6("2001:db8:2::");
        src[15] = uint8_t(i + 1);  // another address of the same /64 each time
        g.receive(i0.initiation(uint64_t(i + 1)), src, 40000, now);
    }
    EXPECT_EQ(g.svc->counters().rate_limited, 1u);
    g.receive(i0.initiation(7), ip6("2001:db8:3::1"), 40000, now);
    EXPECT_EQ(g.svc->counters().rate_limited, 1u) << "another /64 has its own bucket";
    EXPECT_EQ(g.svc->counters().initiations_received, 7u);
}

TEST(WireguardServiceIpv6, ATunnelWithoutAddress6TakesNothingOverIpv6) {
    gateway_side6 g(tunnel_config(1));  // IPv4 only
    initiator i0(1, crypto::x25519_from_private(key_of(200)).pub);
    g.receive(i0.initiation(1), ip6("2001:db8:2::7"), 40000, 1000 * 1'000'000'000ULL);
    EXPECT_EQ(g.svc->counters().responses_sent, 0u);
    EXPECT_EQ(g.svc->counters().malformed, 1u);
    EXPECT_TRUE(g.out.empty());
}

TEST(WireguardServiceIpv6, AGeneratedWgQuickConfigNamesTheIpv6ListenSocketWhenAsked) {
    cfg::wireguard_config t = tunnel_config(0);
    t.address6 = *cfg::parse_ip("2001:db8:1::1");
    gateway_side6 g(t);
    const uint64_t now = 1000 * 1'000'000'000ULL;
    wireguard_new_peer np;
    np.allowed_ips = {*cfg::parse_prefix("10.99.8.2/32")};
    const wireguard_add_result v4 = g.svc->add_peer(np, now);
    ASSERT_EQ(v4.result, wireguard_add_result::outcome::added) << v4.message;
    EXPECT_NE(v4.wg_quick.find("\nEndpoint = 203.0.113.1:51820\n"), std::string::npos) << v4.wg_quick;

    np.allowed_ips = {*cfg::parse_prefix("10.99.8.3/32")};
    np.ipv6_endpoint = true;
    const wireguard_add_result v6 = g.svc->add_peer(np, now);
    ASSERT_EQ(v6.result, wireguard_add_result::outcome::added) << v6.message;
    EXPECT_NE(v6.wg_quick.find("\nEndpoint = [2001:db8:1::1]:51820\n"), std::string::npos) << v6.wg_quick;

    // With the client's own key there is no config to shape: refused, as it is by a
    // tunnel that does not listen on IPv6.
    np.allowed_ips = {*cfg::parse_prefix("10.99.8.4/32")};
    np.public_key = crypto::x25519_from_private(key_of(9)).pub;
    EXPECT_EQ(g.svc->add_peer(np, now).result, wireguard_add_result::outcome::bad_request);
    gateway_side6 v4_only(tunnel_config(0));
    np.public_key.reset();
    const wireguard_add_result refused = v4_only.svc->add_peer(np, now);
    EXPECT_EQ(refused.result, wireguard_add_result::outcome::bad_request);
    EXPECT_NE(refused.message.find("does not listen on IPv6"), std::string::npos) << refused.message;
    EXPECT_EQ(v4_only.svc->peer_count(), 0u);
}

}  // namespace
}  // namespace eg::ctl
