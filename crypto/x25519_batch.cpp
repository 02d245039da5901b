// Batched X25519: groups of eight through the IFMA ladder, the rest through libsodium
// (see x25519_batch.hpp).
#include "crypto/x25519_batch.hpp"

#include <sodium/core.h>
#include <sodium/crypto_scalarmult_curve25519.h>
#include <sodium/utils.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "crypto/detail/x25519_ifma.hpp"

namespace eg::crypto {
namespace {

using detail::x25519_lanes32;

// A remainder of at least this many multiplications is padded to a full IFMA group;
// fewer go through libsodium one by one. Measured with bench/x25519_batch_microbench.cpp
// (CPU time, Sapphire Rapids): a group of eight costs about 1.3 libsodium calls for
// shared secrets (so one is cheaper alone, two padded) and about 0.5 for public keys
// (the table method: even one is cheaper padded).
constexpr size_t k_pad_from = 2;
constexpr size_t k_pad_from_base = 1;

void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) {
        std::fprintf(stderr, "eg::crypto: sodium_init failed\n");
        std::abort();
    }
}

[[noreturn]] void size_mismatch() {
    // A caller bug (spans of different lengths), never input-dependent.
    std::fprintf(stderr, "eg::crypto: x25519_batch spans differ in size\n");
    std::abort();
}

// libsodium returns -1 for an all-zero result; the IFMA path checks the bytes the same
// way, without a branch on the secret result.
bool nonzero(const std::array<uint8_t, 32>& r) {
    uint32_t acc = 0;
    for (uint8_t b : r) acc |= b;
    return ((acc + 0xff) >> 8) != 0;
}

bool use_ifma(x25519_batch_path path) {
    return path == x25519_batch_path::ifma && detail::x25519_ifma_supported();
}

}  // namespace

x25519_batch_path x25519_batch_default_path() {
    return detail::x25519_ifma_supported() ? x25519_batch_path::ifma : x25519_batch_path::sodium;
}

void x25519_batch(std::span<const std::array<uint8_t, 32>> scalars,
                  std::span<const std::array<uint8_t, 32>> points,
                  std::span<std::array<uint8_t, 32>> out, std::span<bool> ok, x25519_batch_path path) {
    const size_t n = scalars.size();
    if (points.size() != n || out.size() != n || ok.size() != n) size_mismatch();
    size_t i = 0;
    if (use_ifma(path)) {
        x25519_lanes32 s, p, r;
        for (; i < n && n - i >= k_pad_from; i += k_x25519_lanes) {
            const size_t m = std::min(k_x25519_lanes, n - i);
            for (size_t l = 0; l < k_x25519_lanes; ++l) {
                // Padding lanes repeat the group's first multiplication: public filler
                // whose result is discarded.
                s[l] = scalars[i + (l < m ? l : 0)];
                p[l] = points[i + (l < m ? l : 0)];
            }
            detail::x25519_ifma_x8(s, p, r);
            for (size_t l = 0; l < m; ++l) {
                out[i + l] = r[l];
                ok[i + l] = nonzero(r[l]);
            }
        }
        sodium_memzero(s.data(), sizeof s);
        sodium_memzero(r.data(), sizeof r);
    }
    if (i < n) ensure_sodium();
    for (; i < n; ++i) ok[i] = crypto_scalarmult_curve25519(out[i].data(), scalars[i].data(), points[i].data()) == 0;
}

void x25519_batch_base(std::span<const std::array<uint8_t, 32>> scalars,
                       std::span<std::array<uint8_t, 32>> pubs, x25519_batch_path path) {
    const size_t n = scalars.size();
    if (pubs.size() != n) size_mismatch();
    size_t i = 0;
    if (use_ifma(path)) {
        x25519_lanes32 s, r;
        for (; i < n && n - i >= k_pad_from_base; i += k_x25519_lanes) {
            const size_t m = std::min(k_x25519_lanes, n - i);
            for (size_t l = 0; l < k_x25519_lanes; ++l) s[l] = scalars[i + (l < m ? l : 0)];
            detail::x25519_ifma_base_x8(s, r);
            for (size_t l = 0; l < m; ++l) pubs[i + l] = r[l];
        }
        sodium_memzero(s.data(), sizeof s);
    }
    if (i < n) ensure_sodium();
    for (; i < n; ++i) crypto_scalarmult_curve25519_base(pubs[i].data(), scalars[i].data());
}

}  // namespace eg::crypto
