#pragma once
// Hex helpers for the crypto tests' known-answer vectors.
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace eg::crypto::test {

inline std::vector<uint8_t> unhex(std::string_view s) {
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::invalid_argument("bad hex");
    };
    std::vector<uint8_t> out;
    if (s.size() % 2) throw std::invalid_argument("odd hex");
    for (size_t i = 0; i < s.size(); i += 2) out.push_back(uint8_t(nib(s[i]) << 4 | nib(s[i + 1])));
    return out;
}

template <size_t N>
std::array<uint8_t, N> unhex_array(std::string_view s) {
    const std::vector<uint8_t> v = unhex(s);
    if (v.size() != N) throw std::invalid_argument("hex length");
    std::array<uint8_t, N> a;
    std::memcpy(a.data(), v.data(), N);
    return a;
}

inline std::string hex(std::span<const uint8_t> b) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (uint8_t x : b) {
        s += d[x >> 4];
        s += d[x & 15];
    }
    return s;
}

inline std::span<const uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace eg::crypto::test
