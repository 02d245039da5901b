// X25519 per multiplication (crypto/x25519_batch): the eight-lane IFMA batch against
// libsodium and OpenSSL one at a time, in one run so the ratios share the machine's state.
// items/s = scalar multiplications per second (per CPU second: the default CPU-time
// clock, which a loaded machine disturbs less than wall time).
//
//   BM_X25519_sodium              crypto_scalarmult_curve25519, the project's x25519().
//   BM_X25519_openssl             EVP_PKEY_derive on a context prepared once with both
//       keys: OpenSSL's best case (a responder would also build the peer key each time).
//   BM_X25519_batch/N             x25519_batch over N random pairs (default path: IFMA
//       where present). N = 1 and 2 show the remainder policy (1 via libsodium, 2 padded
//       to a group), 8 one group, 64 eight groups.
//   BM_X25519_sodium_base, BM_X25519_batch_base/N   public keys (u = 9).
//   BM_X25519_responder_dh/P      what a responder pays in X25519 per handshake: one
//       public key (the ephemeral) and three shared secrets (es, ee, se), for eight
//       handshakes per iteration through path P (0 = batch default, 1 = libsodium);
//       items/s = handshakes/s if X25519 were the only cost.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sodium/core.h>
#include <sodium/crypto_scalarmult_curve25519.h>
#include <sodium/randombytes.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "crypto/x25519_batch.hpp"

namespace {

using namespace eg::crypto;
using b32 = std::array<uint8_t, 32>;

constexpr size_t k_ring = 512;

// Random scalars and valid public keys (no small-order points, so every call succeeds).
struct inputs {
    std::vector<b32> scalars = std::vector<b32>(k_ring);
    std::vector<b32> points = std::vector<b32>(k_ring);
    inputs() {
        if (sodium_init() < 0) std::abort();
        for (auto& s : scalars) randombytes_buf(s.data(), s.size());
        for (auto& p : points) {
            b32 k;
            randombytes_buf(k.data(), k.size());
            if (crypto_scalarmult_curve25519_base(p.data(), k.data()) != 0) std::abort();
        }
    }
};

const inputs& in() {
    static const inputs i;
    return i;
}

void BM_X25519_sodium(benchmark::State& state) {
    const inputs& x = in();
    b32 out;
    size_t i = 0;
    for (auto _ : state) {
        if (crypto_scalarmult_curve25519(out.data(), x.scalars[i].data(), x.points[i].data()) != 0)
            return state.SkipWithError("sodium");
        benchmark::DoNotOptimize(out);
        i = (i + 1) % k_ring;
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_X25519_openssl(benchmark::State& state) {
    const inputs& x = in();
    EVP_PKEY* priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, x.scalars[0].data(), 32);
    EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, x.points[0].data(), 32);
    EVP_PKEY_CTX* ctx = priv && peer ? EVP_PKEY_CTX_new(priv, nullptr) : nullptr;
    if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1) {
        state.SkipWithError("openssl setup");
    } else {
        b32 out;
        for (auto _ : state) {
            size_t len = out.size();
            if (EVP_PKEY_derive(ctx, out.data(), &len) != 1) {
                state.SkipWithError("derive");
                break;
            }
            benchmark::DoNotOptimize(out);
        }
        state.SetItemsProcessed(int64_t(state.iterations()));
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(priv);
}

void BM_X25519_batch(benchmark::State& state) {
    const inputs& x = in();
    const size_t n = size_t(state.range(0));
    std::vector<b32> out(n);
    std::unique_ptr<bool[]> ok(new bool[n]);
    size_t i = 0;
    for (auto _ : state) {
        x25519_batch({x.scalars.data() + i, n}, {x.points.data() + i, n}, out, {ok.get(), n});
        benchmark::DoNotOptimize(out.data());
        i = (i + n) % (k_ring - n);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
    state.SetLabel(x25519_batch_default_path() == x25519_batch_path::ifma ? "ifma" : "sodium");
}

void BM_X25519_sodium_base(benchmark::State& state) {
    const inputs& x = in();
    b32 out;
    size_t i = 0;
    for (auto _ : state) {
        if (crypto_scalarmult_curve25519_base(out.data(), x.scalars[i].data()) != 0)
            return state.SkipWithError("sodium");
        benchmark::DoNotOptimize(out);
        i = (i + 1) % k_ring;
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_X25519_batch_base(benchmark::State& state) {
    const inputs& x = in();
    const size_t n = size_t(state.range(0));
    std::vector<b32> out(n);
    size_t i = 0;
    for (auto _ : state) {
        x25519_batch_base({x.scalars.data() + i, n}, out);
        benchmark::DoNotOptimize(out.data());
        i = (i + n) % (k_ring - n);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
}

void BM_X25519_responder_dh(benchmark::State& state) {
    const inputs& x = in();
    const x25519_batch_path path = state.range(0) == 0 ? x25519_batch_default_path() : x25519_batch_path::sodium;
    constexpr size_t n = k_x25519_lanes;
    std::vector<b32> eph_pub(n), shared(n);
    bool ok[n];
    size_t i = 0;
    for (auto _ : state) {
        x25519_batch_base({x.scalars.data() + i, n}, eph_pub, path);  // the responder's ephemeral
        for (int dh = 0; dh < 3; ++dh) {                              // es, ee, se
            x25519_batch({x.scalars.data() + i + dh, n}, {x.points.data() + i, n}, shared, ok, path);
            benchmark::DoNotOptimize(shared.data());
        }
        i = (i + n) % (k_ring - n - 3);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
    state.SetLabel(path == x25519_batch_path::ifma ? "ifma" : "sodium");
}

}  // namespace

BENCHMARK(BM_X25519_sodium);
BENCHMARK(BM_X25519_openssl);
BENCHMARK(BM_X25519_batch)->Arg(1)->Arg(2)->Arg(8)->Arg(64);
BENCHMARK(BM_X25519_sodium_base);
BENCHMARK(BM_X25519_batch_base)->Arg(8)->Arg(64);
BENCHMARK(BM_X25519_responder_dh)->Arg(0)->Arg(1);
