// Text forms of addresses, prefixes and MACs (config/config.hpp "text helpers").
//
// Shared by the config loader, the admin API and the tools, so every one of them
// accepts and prints exactly the same spellings: dotted-quad IPv4, RFC 4291 §2.2 IPv6
// text (printed in the RFC 5952 canonical form), "addr/len" prefixes and
// colon-separated MACs. Pure functions; any thread.
#include "config/config.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace eg::cfg {

namespace {

// Longest accepted address text: a full IPv6 address with an embedded IPv4 tail is
// 45 characters (INET6_ADDRSTRLEN counts the terminating NUL).
constexpr std::size_t k_max_address_text = INET6_ADDRSTRLEN - 1;

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<ip_address> parse_ip(std::string_view text) {
    if (text.empty() || text.size() > k_max_address_text) return std::nullopt;
    // inet_pton reads a C string; an embedded NUL would silently cut the text short.
    if (text.find('\0') != std::string_view::npos) return std::nullopt;
    const std::string s(text);
    ip_address a;
    a.v6 = s.find(':') != std::string::npos;
    // glibc's inet_pton(AF_INET) accepts only the four-part decimal dotted quad and
    // rejects leading zeros, so "010.1.1.1" (octal to inet_aton) is never ambiguous.
    if (inet_pton(a.v6 ? AF_INET6 : AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
}

std::optional<ip_prefix> parse_prefix(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto addr = parse_ip(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const std::string_view len_text = text.substr(slash + 1);
    if (len_text.empty() || len_text.size() > 3) return std::nullopt;
    unsigned len = 0;
    for (char c : len_text) {
        if (c < '0' || c > '9') return std::nullopt;
        len = len * 10 + static_cast<unsigned>(c - '0');
    }
    if (len > (addr->v6 ? 128u : 32u)) return std::nullopt;
    return ip_prefix{*addr, static_cast<uint8_t>(len)};
}

std::optional<mac_address> parse_mac(std::string_view text) {
    // Exactly "xx:xx:xx:xx:xx:xx", either case.
    if (text.size() != 17) return std::nullopt;
    mac_address m{};
    for (std::size_t i = 0; i < 6; ++i) {
        const int hi = hex_digit(text[i * 3]);
        const int lo = hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
        m[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return m;
}

std::string to_string(const ip_address& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf) == nullptr) return "?";
    return buf;
}

std::string to_string(const ip_prefix& p) {
    return to_string(p.addr) + "/" + std::to_string(static_cast<unsigned>(p.length));
}

std::string to_string(const mac_address& m) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(17);
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (i != 0) s.push_back(':');
        s.push_back(digits[m[i] >> 4]);
        s.push_back(digits[m[i] & 0xf]);
    }
    return s;
}

bool contains(const ip_prefix& p, const ip_address& a) {
    if (p.addr.v6 != a.v6) return false;
    const unsigned bits = p.addr.v6 ? 128u : 32u;
    const unsigned len = p.length > bits ? bits : p.length;
    const unsigned full = len / 8;
    if (std::memcmp(p.addr.bytes.data(), a.bytes.data(), full) != 0) return false;
    const unsigned rest = len % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<uint8_t>(0xffu << (8 - rest));
    return (p.addr.bytes[full] & mask) == (a.bytes[full] & mask);
}

ip_prefix network_of(const ip_prefix& p) {
    ip_prefix n = p;
    const unsigned bits = p.addr.v6 ? 128u : 32u;
    for (unsigned bit = p.length; bit < bits; ++bit) {
        n.addr.bytes[bit / 8] = static_cast<uint8_t>(n.addr.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
    }
    return n;
}

bool overlaps(const ip_prefix& a, const ip_prefix& b) {
    return a.addr.v6 == b.addr.v6 && (contains(a, b.addr) || contains(b, a.addr));
}

}  // namespace eg::cfg

namespace eg::cfg {

bool valid_organization_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-' || c == ':' || c == '@';
        if (!ok) return false;
    }
    return true;
}

}  // namespace eg::cfg
