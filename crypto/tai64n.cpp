// TAI64N encoding (see tai64n.hpp).
#include "crypto/tai64n.hpp"

#include <cstring>

namespace eg::crypto {

namespace {
constexpr uint64_t k_tai64_base = (1ULL << 62) + 10;  // TAI64 label + TAI-UTC offset WireGuard uses
constexpr uint32_t k_whitener_mask = (1u << 24) - 1;  // wireguard-go whitenerMask
}  // namespace

tai64n tai64n_from_unix_ns(uint64_t unix_ns) {
    const uint64_t secs = k_tai64_base + unix_ns / 1'000'000'000ULL;
    const uint32_t nanos = uint32_t(unix_ns % 1'000'000'000ULL) & ~k_whitener_mask;
    tai64n t;
    for (int i = 0; i < 8; ++i) t[i] = uint8_t(secs >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) t[8 + i] = uint8_t(nanos >> (24 - 8 * i));
    return t;
}

bool tai64n_after(const tai64n& a, const tai64n& b) { return std::memcmp(a.data(), b.data(), a.size()) > 0; }

}  // namespace eg::crypto
