// WireGuard crypto costs (crypto/): our transport path against the raw OpenSSL EVP
// ChaCha20-Poly1305 ceiling on the same sizes, responder handshakes per second, and the
// cost of rejecting an initiation with a bad mac1 — all in one run.
//
//   BM_WireGuard_seal/N, BM_WireGuard_open/N     keypair::seal / keypair::open of an
//       N-byte plaintext (64, 512, 1420): header, counter, padding, AEAD, replay window.
//   BM_WireGuard_evp_seal/N, BM_WireGuard_evp_open/N   the same AEAD through bare EVP
//       calls on a pre-keyed context (set IV, update, final, tag): the ceiling.
//     bytes/s counts plaintext bytes. Open benchmarks decrypt in place, so each
//     iteration first copies a sealed packet from a ring of 4096 into the work buffer
//     (both ours and the ceiling pay that copy).
//   BM_WireGuard_handshake_responder    mac1 check + parse + open_initiation +
//       consume_initiation + create_response + derive_keys + keypair init: what the
//       handshake thread pays per accepted initiation (items/s = handshakes/s).
//   BM_WireGuard_handshake_responder_batch/N   the same work for a queue of N
//       initiations from N distinct peers answered by respond_batch (batched X25519:
//       AVX-512 IFMA where the CPU has it, else libsodium one by one); /1 is the
//       sequential path a lone initiation takes. items/s = handshakes/s.
//   BM_WireGuard_hmac, BM_WireGuard_evp_hmac   HMAC-BLAKE2s of 33 bytes under a 32-byte
//       key (a KDF step): ours, and OpenSSL's EVP_MAC "HMAC" with the digest set once
//       (what crypto/ used before), for the comparison in one run.
//   BM_WireGuard_kdf3                   KDF3 (the psk step of message 2).
//   BM_WireGuard_reject_bad_mac1        cookie_checker::validate on an initiation whose
//       mac1 is wrong: the cost of dropping junk before any Diffie-Hellman.
//   BM_WireGuard_mac1                   keyed BLAKE2s-128 over 116 bytes (an initiation's
//       mac1 input) alone, the bulk of the rejection cost.
// The ratio handshake/reject is for the reader (items_per_second of the two).
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "crypto/blake2s.hpp"
#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
#include "crypto/responder_batch.hpp"
#include "crypto/transport.hpp"

namespace {

using namespace eg::crypto;

constexpr uint64_t k_now = 1000 * k_ns_per_s;
constexpr size_t k_ring = 4096;

session_keys keys(bool initiator) {
    session_keys k;
    k.send.fill(initiator ? 0x11 : 0x22);
    k.receive.fill(initiator ? 0x22 : 0x11);
    k.initiator = initiator;
    k.local_index = initiator ? 1 : 2;
    k.remote_index = initiator ? 2 : 1;
    return k;
}

void BM_WireGuard_seal(benchmark::State& state) {
    const size_t n = size_t(state.range(0));
    keypair kp;
    if (!kp.init(keys(true), k_now)) return state.SkipWithError("keypair init");
    std::vector<uint8_t> pt(n, 0x45), out(sealed_size(n));
    size_t written = 0;
    for (auto _ : state) {
        if (kp.seal(pt, out, k_now, written) != transport_error::ok) return state.SkipWithError("seal");
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_WireGuard_open(benchmark::State& state) {
    const size_t n = size_t(state.range(0));
    keypair tx;
    if (!tx.init(keys(true), k_now)) return state.SkipWithError("keypair init");
    const size_t len = sealed_size(n);
    std::vector<uint8_t> ring(k_ring * len), pt(n, 0x45), work(len);
    size_t written = 0;
    for (size_t i = 0; i < k_ring; ++i)
        if (tx.seal(pt, std::span<uint8_t>(&ring[i * len], len), k_now, written) != transport_error::ok)
            return state.SkipWithError("seal");
    auto rx = std::make_unique<keypair>();
    rx->init(keys(false), k_now);
    size_t i = 0;
    for (auto _ : state) {
        if (i == k_ring) {
            // Counters used up: a fresh receiving keypair resets the replay window.
            state.PauseTiming();
            rx = std::make_unique<keypair>();
            rx->init(keys(false), k_now);
            i = 0;
            state.ResumeTiming();
        }
        std::memcpy(work.data(), &ring[i++ * len], len);
        std::span<uint8_t> out;
        if (rx->open(work, k_now, out) != transport_error::ok) return state.SkipWithError("open");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
    state.SetItemsProcessed(int64_t(state.iterations()));
}

struct evp_ctx {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    evp_ctx(bool enc) {
        const uint8_t key[32] = {0x11};
        EVP_CipherInit_ex2(ctx, cipher, key, nullptr, enc ? 1 : 0, nullptr);
    }
    ~evp_ctx() {
        EVP_CIPHER_CTX_free(ctx);
        EVP_CIPHER_free(cipher);
    }
};

void BM_WireGuard_evp_seal(benchmark::State& state) {
    const size_t n = size_t(state.range(0));
    evp_ctx e(true);
    std::vector<uint8_t> buf(n + 16, 0x45);
    uint8_t iv[12] = {};
    uint64_t counter = 0;
    int len = 0;
    for (auto _ : state) {
        std::memcpy(iv + 4, &counter, 8);
        ++counter;
        EVP_EncryptInit_ex2(e.ctx, nullptr, nullptr, iv, nullptr);
        EVP_EncryptUpdate(e.ctx, buf.data(), &len, buf.data(), int(n));
        EVP_EncryptFinal_ex(e.ctx, buf.data() + n, &len);
        EVP_CIPHER_CTX_ctrl(e.ctx, EVP_CTRL_AEAD_GET_TAG, 16, buf.data() + n);
        benchmark::DoNotOptimize(buf.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_WireGuard_evp_open(benchmark::State& state) {
    const size_t n = size_t(state.range(0));
    evp_ctx enc(true), dec(false);
    const size_t len = n + 16;
    std::vector<uint8_t> ring(k_ring * len, 0x45), work(len);
    uint8_t iv[12] = {};
    int l = 0;
    for (uint64_t c = 0; c < k_ring; ++c) {
        uint8_t* p = &ring[c * len];
        std::memcpy(iv + 4, &c, 8);
        EVP_EncryptInit_ex2(enc.ctx, nullptr, nullptr, iv, nullptr);
        EVP_EncryptUpdate(enc.ctx, p, &l, p, int(n));
        EVP_EncryptFinal_ex(enc.ctx, p + n, &l);
        EVP_CIPHER_CTX_ctrl(enc.ctx, EVP_CTRL_AEAD_GET_TAG, 16, p + n);
    }
    uint64_t c = 0;
    for (auto _ : state) {
        const uint64_t slot = c++ % k_ring;
        std::memcpy(work.data(), &ring[slot * len], len);
        std::memcpy(iv + 4, &slot, 8);
        EVP_DecryptInit_ex2(dec.ctx, nullptr, nullptr, iv, nullptr);
        EVP_DecryptUpdate(dec.ctx, work.data(), &l, work.data(), int(n));
        EVP_CIPHER_CTX_ctrl(dec.ctx, EVP_CTRL_AEAD_SET_TAG, 16, work.data() + n);
        if (EVP_DecryptFinal_ex(dec.ctx, work.data() + n, &l) != 1) return state.SkipWithError("evp open");
        benchmark::DoNotOptimize(work.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
    state.SetItemsProcessed(int64_t(state.iterations()));
}

struct handshake_fixture {
    local_identity ini = local_identity::from_private(x25519_generate().priv);
    local_identity res = local_identity::from_private(x25519_generate().priv);
    key32 psk{};
    std::vector<std::array<uint8_t, k_initiation_size>> initiations;

    explicit handshake_fixture(size_t count) {
        handshake hs(ini, res.static_keys.pub, psk);
        cookie_maker maker(res.static_keys.pub);
        const uint64_t wall = 1704067200ULL * k_ns_per_s;
        initiations.resize(count);
        for (size_t i = 0; i < count; ++i) {
            message_initiation m;
            hs.create_initiation(uint32_t(i), wall + i * k_ns_per_s, m);  // strictly increasing
            serialise(m, initiations[i]);
            maker.add_macs(initiations[i], k_now);
        }
    }
};

const handshake_fixture& fixture() {
    static const handshake_fixture f(2048);
    return f;
}

void BM_WireGuard_handshake_responder(benchmark::State& state) {
    const handshake_fixture& f = fixture();
    cookie_checker checker(f.res.static_keys.pub);
    const uint8_t src[6] = {192, 0, 2, 7, 0xca, 0x6c};
    auto hs = std::make_unique<handshake>(f.res, f.ini.static_keys.pub, f.psk);
    size_t i = 0;
    uint64_t now = k_now;
    for (auto _ : state) {
        if (i == f.initiations.size()) {
            // Timestamps used up: a fresh peer state accepts them again.
            state.PauseTiming();
            hs = std::make_unique<handshake>(f.res, f.ini.static_keys.pub, f.psk);
            i = 0;
            state.ResumeTiming();
        }
        const auto& bytes = f.initiations[i++];
        now += 20 * k_ns_per_ms;  // past the per-peer flood limit
        if (checker.validate(bytes, src, now, false) != cookie_checker::verdict::valid)
            return state.SkipWithError("mac1");
        message_initiation m;
        initiation_prelude pre;
        message_response resp;
        session_keys keys;
        keypair kp;
        if (parse(bytes, m) != parse_error::ok || open_initiation(f.res, m, pre) != handshake_error::ok ||
            hs->consume_initiation(pre, m, now) != handshake_error::ok ||
            hs->create_response(uint32_t(i), resp) != handshake_error::ok ||
            hs->derive_keys(keys) != handshake_error::ok || !kp.init(keys, now))
            return state.SkipWithError("handshake");
        benchmark::DoNotOptimize(resp);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

/// N initiators, each with `rounds` initiations (timestamps strictly increasing).
struct batch_fixture {
    local_identity res = local_identity::from_private(x25519_generate().priv);
    std::vector<local_identity> ini;
    std::vector<std::vector<std::array<uint8_t, k_initiation_size>>> initiations;  // [round][peer]
    key32 psk{};

    batch_fixture(size_t n, size_t rounds) : initiations(rounds) {
        for (size_t p = 0; p < n; ++p) ini.push_back(local_identity::from_private(x25519_generate().priv));
        const uint64_t wall = 1704067200ULL * k_ns_per_s;
        cookie_maker maker(res.static_keys.pub);
        for (size_t p = 0; p < n; ++p) {
            handshake hs(ini[p], res.static_keys.pub, psk);
            for (size_t r = 0; r < rounds; ++r) {
                message_initiation m;
                hs.create_initiation(uint32_t(r), wall + r * k_ns_per_s, m);
                initiations[r].emplace_back();
                serialise(m, initiations[r].back());
                maker.add_macs(initiations[r].back(), k_now);
            }
        }
    }
};

/// What the service does with each outcome, minus the I/O: macs on the response, keys
/// derived, the keypair's EVP contexts built.
struct bench_sink : responder_sink {
    std::vector<std::unique_ptr<handshake>>* peers = nullptr;
    const batch_fixture* f = nullptr;
    uint64_t now = 0;
    size_t failed = 0;
    handshake* find_peer(const public_key& remote_static) override {
        for (size_t i = 0; i < f->ini.size(); ++i)
            if (f->ini[i].static_keys.pub == remote_static) return (*peers)[i].get();
        return nullptr;
    }
    uint32_t new_index(handshake&) override { return 7; }
    void done(size_t, handshake_error e, handshake* hs, const message_response* r) override {
        if (e != handshake_error::ok) {
            ++failed;
            return;
        }
        std::array<uint8_t, k_response_size> out;
        serialise(*r, out);
        session_keys keys;
        keypair kp;
        if (hs->derive_keys(keys) != handshake_error::ok || !kp.init(keys, now)) ++failed;
        benchmark::DoNotOptimize(out);
    }
};

void BM_WireGuard_handshake_responder_batch(benchmark::State& state) {
    const size_t n = size_t(state.range(0));
    constexpr size_t k_rounds = 64;
    static std::map<size_t, std::unique_ptr<batch_fixture>> fixtures;
    auto& fp = fixtures[n];
    if (!fp) fp = std::make_unique<batch_fixture>(n, k_rounds);
    const batch_fixture& f = *fp;
    cookie_checker checker(f.res.static_keys.pub);
    const uint8_t src[6] = {192, 0, 2, 7, 0xca, 0x6c};
    std::vector<std::unique_ptr<handshake>> peers;
    auto fresh_peers = [&] {
        peers.clear();
        for (const local_identity& id : f.ini) peers.push_back(std::make_unique<handshake>(f.res, id.static_keys.pub, f.psk));
    };
    fresh_peers();
    bench_sink sink;
    sink.peers = &peers;
    sink.f = &f;
    std::vector<queued_initiation> q(n);
    size_t r = 0;
    uint64_t now = k_now;
    for (auto _ : state) {
        if (r == k_rounds) {
            state.PauseTiming();
            fresh_peers();  // timestamps used up: fresh peer states accept them again
            r = 0;
            state.ResumeTiming();
        }
        now += 20 * k_ns_per_ms;  // past the per-peer flood limit
        sink.now = now;
        for (size_t i = 0; i < n; ++i) {
            const auto& bytes = f.initiations[r][i];
            if (checker.validate(bytes, src, now, false) != cookie_checker::verdict::valid ||
                parse(bytes, q[i].msg) != parse_error::ok)
                return state.SkipWithError("mac1");
            q[i].now = now;
        }
        ++r;
        respond_batch(f.res, q, sink);
        if (sink.failed) return state.SkipWithError("handshake");
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
    state.counters["x25519_path"] = x25519_batch_default_path() == x25519_batch_path::ifma ? 1 : 0;
}

/// HMAC-BLAKE2s through OpenSSL 3 as crypto/blake2s.cpp did before: one EVP_MAC_CTX
/// with the digest set once, EVP_MAC_init with the key per call.
void BM_WireGuard_evp_hmac(benchmark::State& state) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
    char digest[] = "BLAKE2S-256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    EVP_MAC_CTX_set_params(c, params);
    key32 key, out;
    key.fill(0x5a);
    std::array<uint8_t, 33> msg{};
    for (auto _ : state) {
        size_t written = 0;
        if (EVP_MAC_init(c, key.data(), key.size(), nullptr) != 1 || EVP_MAC_update(c, msg.data(), msg.size()) != 1 ||
            EVP_MAC_final(c, out.data(), &written, out.size()) != 1)
            return state.SkipWithError("evp");
        key[0] = out[0];
    }
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_WireGuard_hmac(benchmark::State& state) {
    key32 key, out;
    key.fill(0x5a);
    std::array<uint8_t, 33> msg{};
    for (auto _ : state) {
        hmac_blake2s(out, key, msg);
        key[0] = out[0];
    }
    benchmark::DoNotOptimize(out);
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_WireGuard_kdf3(benchmark::State& state) {
    key32 ck, in, a, b, c;
    ck.fill(0x5a);
    in.fill(0x11);
    for (auto _ : state) {
        kdf(ck, in, &ck, &b, &c);
        benchmark::DoNotOptimize(c);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    benchmark::DoNotOptimize(a);
}

void BM_WireGuard_reject_bad_mac1(benchmark::State& state) {
    const handshake_fixture& f = fixture();
    cookie_checker checker(f.res.static_keys.pub);
    const uint8_t src[6] = {192, 0, 2, 7, 0xca, 0x6c};
    auto bad = f.initiations[0];
    bad[120] ^= 1;  // inside mac1
    uint64_t rejected = 0;
    for (auto _ : state) {
        rejected += checker.validate(bad, src, k_now, false) == cookie_checker::verdict::invalid_mac1;
        benchmark::ClobberMemory();
    }
    if (rejected != uint64_t(state.iterations())) state.SkipWithError("a bad mac1 was accepted");
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_WireGuard_mac1(benchmark::State& state) {
    key32 key;
    key.fill(0x5a);
    std::array<uint8_t, 116> msg{};
    mac16 out;
    for (auto _ : state) {
        blake2s_keyed(out, key, msg);
        msg[0] = out[0];  // a dependency chain: no call can be skipped or hoisted
    }
    benchmark::DoNotOptimize(msg);
    state.SetItemsProcessed(int64_t(state.iterations()));
}

}  // namespace

BENCHMARK(BM_WireGuard_mac1);
BENCHMARK(BM_WireGuard_seal)->Arg(64)->Arg(512)->Arg(1420);
BENCHMARK(BM_WireGuard_evp_seal)->Arg(64)->Arg(512)->Arg(1420);
BENCHMARK(BM_WireGuard_open)->Arg(64)->Arg(512)->Arg(1420);
BENCHMARK(BM_WireGuard_evp_open)->Arg(64)->Arg(512)->Arg(1420);
BENCHMARK(BM_WireGuard_handshake_responder);
BENCHMARK(BM_WireGuard_handshake_responder_batch)->Arg(1)->Arg(8)->Arg(16)->Arg(64);
BENCHMARK(BM_WireGuard_hmac);
BENCHMARK(BM_WireGuard_evp_hmac);
BENCHMARK(BM_WireGuard_kdf3);
BENCHMARK(BM_WireGuard_reject_bad_mac1);
