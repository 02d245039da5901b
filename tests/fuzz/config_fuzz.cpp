// libFuzzer target for the config loader: arbitrary bytes through eg::cfg::load_string.
// The contract (DESIGN.md "Testing against real things"): bad config files get a clear
// error, never a crash. Beyond the sanitizers, this checks the all-or-nothing rule and
// that every error and every loaded value can be printed.
#include "config/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const eg::cfg::load_result r = eg::cfg::load_string(text, "fuzz.toml");

    // value is set exactly when there are no errors.
    if (r.value.has_value() == !r.errors.empty()) std::abort();
    for (const auto& e : r.errors) {
        if (e.to_string().empty() || e.message.empty()) std::abort();
    }
    if (r.value) {
        for (const auto& p : r.value->ports) {
            for (const auto& a : p.ipv4) (void)eg::cfg::to_string(a);
            for (const auto& a : p.ipv6) (void)eg::cfg::to_string(a);
            if (p.mac) (void)eg::cfg::to_string(*p.mac);
        }
        for (const auto& rt : r.value->routes) {
            (void)eg::cfg::to_string(rt.prefix);
            if (rt.via) (void)eg::cfg::to_string(*rt.via);
        }
    }

    // The text helpers take the same untrusted bytes (admin API, tools); a parsed
    // value must print back to text that parses to the same value.
    if (const auto a = eg::cfg::parse_ip(text)) {
        if (eg::cfg::parse_ip(eg::cfg::to_string(*a)) != a) std::abort();
    }
    if (const auto p = eg::cfg::parse_prefix(text)) {
        if (eg::cfg::parse_prefix(eg::cfg::to_string(*p)) != p) std::abort();
        (void)eg::cfg::contains(*p, p->addr);
    }
    if (const auto m = eg::cfg::parse_mac(text)) {
        if (eg::cfg::parse_mac(eg::cfg::to_string(*m)) != m) std::abort();
    }
    return 0;
}
