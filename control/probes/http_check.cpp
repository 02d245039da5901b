#include "control/probes/http_check.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace eg::ctl::probes {

std::optional<probe_url> parse_probe_url(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (url.substr(0, scheme.size()) != scheme || url.size() > 2048) return std::nullopt;
    if (!std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; })) return std::nullopt;
    if (url.find('#') != std::string_view::npos) return std::nullopt;
    std::string_view rest = url.substr(scheme.size());
    const size_t slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    if (authority.find('@') != std::string_view::npos) return std::nullopt;
    probe_url u;
    const size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (u.host.empty() || !std::all_of(u.host.begin(), u.host.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
        }))
        return std::nullopt;
    if (colon != std::string_view::npos) {
        const std::string_view p = authority.substr(colon + 1);
        if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        uint32_t v = 0;
        for (char c : p) v = v * 10 + static_cast<uint32_t>(c - '0');
        if (v < 1 || v > 65535) return std::nullopt;
        u.port = static_cast<uint16_t>(v);
    }
    if (slash != std::string_view::npos) u.path = std::string(rest.substr(slash));
    return u;
}

std::string build_proxy_request(const probe_url& u) {
    const std::string authority = u.port == 80 ? u.host : u.host + ":" + std::to_string(u.port);
    return "GET http://" + authority + u.path + " HTTP/1.1\r\nHost: " + authority +
           "\r\nUser-Agent: edgegate-probe\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
}

namespace {

/// The address text in an echo body: trimmed, and a valid IPv4 or IPv6 literal.
std::optional<std::string> address_in(std::string_view body) {
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.front()))) body.remove_prefix(1);
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.remove_suffix(1);
    if (body.empty() || body.size() > 45) return std::nullopt;
    const std::string text(body);
    unsigned char buf[16];
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) return text;
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        // "::ffff:a.b.c.d" (a dual-stack server's view of an IPv4 client) is that IPv4.
        static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::equal(mapped, mapped + 12, buf)) {
            char v4[INET_ADDRSTRLEN];
            if (inet_ntop(AF_INET, buf + 12, v4, sizeof v4)) return std::string(v4);
        }
        return text;
    }
    return std::nullopt;
}

}  // namespace

probe_outcome evaluate_response(unsigned status, std::string_view body, const std::optional<std::string>& expect) {
    probe_outcome o;
    if (status != 200) {
        o.error = "status " + std::to_string(status);
        return o;
    }
    const auto addr = address_in(body);
    if (!addr) {
        o.error = "no_address_in_body";
        return o;
    }
    o.exit_address = *addr;
    if (expect) {
        o.matches = *addr == *expect;
        if (!*o.matches) {
            o.error = "wrong_exit_address";
            return o;
        }
    }
    o.ok = true;
    return o;
}

}  // namespace eg::ctl::probes
