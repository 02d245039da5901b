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
//   BM_WireGuard_reject_bad_mac1        cookie_checker::validate on an initiation whose
//       mac1 is wrong: the cost of dropping junk before any Diffie-Hellman.
//   BM_WireGuard_mac1                   keyed BLAKE2s-128 over 116 bytes (an initiation's
//       mac1 input) alone, the bulk of the rejection cost.
// The ratio handshake/reject is for the reader (items_per_second of the two).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "crypto/blake2s.hpp"
#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
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
BENCHMARK(BM_WireGuard_reject_bad_mac1);
