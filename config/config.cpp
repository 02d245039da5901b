// The config loader: TOML text -> typed, validated eg::cfg::config (config/config.hpp).
//
// DESIGN.md convention 4: schema-first and all-or-nothing. toml++ parses; every table
// and key is then checked against the schema below (unknown keys and wrong types are
// errors), each value against its range, and finally the whole file against itself
// (unique names, overlapping prefixes, routes whose next hop is not on-link). Every
// problem is collected as `key.path (line N): message`; load_result.value is set only
// when there are none. Nothing here throws out of load_file()/load_string().
//
// Owner: whoever calls it (the control thread at start-up and on reload, tools for
// --check-config). No global state, so concurrent calls are fine.
#include "config/config.hpp"

// toml++ 3.3's parse_table_header() enters parse_key() on headers like "[[[1]]]" or
// "[=" with a precondition (TOML_ASSERT_ASSUME) that parse_key() then handles anyway
// with an ordinary parse_error (fixed upstream: marzer/tomlplusplus#301). Debian's
// libtomlplusplus is built with NDEBUG and GCC, where that check is a no-op; header-only
// debug builds (the libFuzzer target) would abort on such input instead. Make toml++'s
// internal asserts no-ops here too, so every build sees the same, graceful error.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_assert(true)
#endif
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <sys/stat.h>

namespace eg::cfg {

std::string error::to_string() const {
    std::string s = key;
    if (line > 0) s += key.empty() ? "line " + std::to_string(line) : " (line " + std::to_string(line) + ")";
    if (!s.empty()) s += ": ";
    s += message;
    return s;
}

namespace {

// ---- limits that are not a single key's range ----------------------------------------
constexpr std::size_t k_max_ports = 16;            ///< ports a Snapshot can hold
constexpr std::size_t k_max_ifname = 15;           ///< IFNAMSIZ - 1 (Linux)
constexpr std::size_t k_max_port_name = 32;
constexpr uint64_t k_max_core = 1023;              ///< sanity bound, not the machine's count
constexpr uint32_t k_ethernet_overhead = 18;       ///< Ethernet header + one 802.1Q tag
constexpr std::size_t k_max_file_bytes = 16u << 20;
constexpr std::size_t k_max_quoted = 64;           ///< quoted user text in messages

// ---- small text helpers ------------------------------------------------------------------

/// User text for a message: quoted, control bytes escaped, long text cut short.
std::string quote(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < k_max_quoted; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    if (s.size() > k_max_quoted) out += "...";
    out += "\"";
    return out;
}

/// A TOML key as it appears inside a key path: bare keys as-is, anything else quoted.
std::string key_text(std::string_view k) {
    const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-';
    });
    return bare && k.size() <= k_max_quoted ? std::string(k) : quote(k);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string_view type_name(toml::node_type t) {
    switch (t) {
        case toml::node_type::table: return "table";
        case toml::node_type::array: return "array";
        case toml::node_type::string: return "string";
        case toml::node_type::integer: return "integer";
        case toml::node_type::floating_point: return "float";
        case toml::node_type::boolean: return "boolean";
        case toml::node_type::date: return "date";
        case toml::node_type::time: return "time";
        case toml::node_type::date_time: return "date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

int line_of(const toml::source_region& r) {
    return r.begin.line > static_cast<toml::source_index>(INT_MAX) ? INT_MAX : static_cast<int>(r.begin.line);
}
int line_of(const toml::node& n) { return line_of(n.source()); }

// ---- a guard in front of toml++ 3.3 ---------------------------------------------------------
//
// toml++ 3.3's is_non_ascii_horizontal_whitespace() reaches __builtin_unreachable() for
// most code points in U+00A1..U+0499, U+2F6E..U+3367 and U+FB26..U+FEFE (its lookup
// mask misses three blocks), so asking it about "é" or "µ" is undefined behaviour. The
// parser asks only about characters outside strings and comments — where any non-ASCII
// character makes the document invalid anyway — and, inside a multi-line basic string,
// about the character after a backslash and the first one after a line-ending
// backslash. This scanner finds those places first and reports them as the syntax
// error they are (or would be to a correct parser), so toml++ never sees them. Found
// by tests/fuzz/config_fuzz.cpp.

/// Mirrors toml++ 3.3's lookup: true where that function has no answer.
bool tomlpp_whitespace_lookup_undefined(char32_t c) {
    if (c <= 0xA0 || c > 0xFEFF) return false;
    const uint64_t block = (static_cast<uint64_t>(c) - 0xA0u) / 0x3FAu;
    if (((uint64_t{1} << block) & 0x7FFFFFFFFFFFF75Eull) != 0) return false;
    if (c == 0x3000 || c == 0xFEFF) return false;
    return block != 5 && block != 7;
}

/// The first place toml++ 3.3 would ask its whitespace lookup about a character it
/// cannot answer for, as a syntax error; nullopt if there is none.
std::optional<error> tomlpp_guard(std::string_view s) {
    enum class state { normal, comment, basic, literal, ml_basic, ml_literal };
    state st = state::normal;
    bool skipping = false;  // ml_basic: after a line-ending backslash
    int line = 1;
    int column = 0;         // code points, like toml++
    std::size_t i = 0;
    const auto starts = [&](std::string_view what) { return s.substr(i, what.size()) == what; };
    const auto next_code_point = [&](char32_t& cp) -> std::size_t {  // bytes; 0 at the end
        if (i >= s.size()) return 0;
        const auto b0 = static_cast<unsigned char>(s[i]);
        std::size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 1;
        if (i + n > s.size()) n = 1;
        cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1Fu) : n == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
        for (std::size_t k = 1; k < n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return cp = b0, 1;  // not UTF-8: toml++ reports it
            cp = (cp << 6) | (b & 0x3Fu);
        }
        return n;
    };
    const auto report = [&](char32_t cp, const char* where) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
        return error{"", line,
                     "syntax error at column " + std::to_string(column) + ": unexpected character " + hex + " " +
                         where};
    };
    char32_t cp = 0;
    while (std::size_t n = next_code_point(cp)) {
        ++column;
        const bool undefined = tomlpp_whitespace_lookup_undefined(cp);
        switch (st) {
            case state::normal:
                if (undefined) return report(cp, "outside a string or comment");
                if (cp == '#') {
                    st = state::comment;
                } else if (starts("\"\"\"")) {
                    st = state::ml_basic, skipping = false, n = 3, column += 2;
                } else if (cp == '"') {
                    st = state::basic;
                } else if (starts("'''")) {
                    st = state::ml_literal, n = 3, column += 2;
                } else if (cp == '\'') {
                    st = state::literal;
                }
                break;
            case state::comment:
                if (cp == '\n') st = state::normal;
                break;
            case state::basic:
                if (cp == '\\' && i + 1 < s.size() && s[i + 1] != '\n' && static_cast<unsigned char>(s[i + 1]) < 0x80)
                    n = 2, ++column;  // skip the escaped ASCII character (\" \\ ...)
                else if (cp == '"' || cp == '\n')
                    st = state::normal;
                break;
            case state::literal:
                if (cp == '\'' || cp == '\n') st = state::normal;
                break;
            case state::ml_literal:
                if (starts("'''")) {
                    n = 3, column += 2;
                    while (i + n < s.size() && s[i + n] == '\'' && n < 5) ++n, ++column;  // up to two quotes of content
                    st = state::normal;
                }
                break;
            case state::ml_basic:
                if (undefined && skipping) return report(cp, "after a line-ending backslash in a multi-line string");
                if (starts("\"\"\"")) {
                    n = 3, column += 2;
                    while (i + n < s.size() && s[i + n] == '"' && n < 5) ++n, ++column;
                    st = state::normal;
                } else if (cp == '\\') {
                    // The escaped character is looked up; whitespace starts a line-ending backslash.
                    char32_t esc = 0;
                    ++i;
                    const std::size_t m = next_code_point(esc);
                    --i;
                    if (m != 0 && tomlpp_whitespace_lookup_undefined(esc)) {
                        ++column;
                        return report(esc, "after a backslash in a multi-line string");
                    }
                    if (esc == ' ' || esc == '\t' || esc == '\n' || esc == '\r') {
                        skipping = true;
                    } else if (m == 1) {
                        n = 2, ++column;  // skip the escaped ASCII character (\" \\ \n ...)
                    }
                } else if (cp != ' ' && cp != '\t' && cp != '\n' && cp != '\r' && cp != '"') {
                    skipping = false;
                }
                break;
        }
        for (std::size_t k = 0; k < n && i + k < s.size(); ++k) {
            if (s[i + k] == '\n') {
                ++line;
                column = 0;
            }
        }
        i += n;
    }
    return std::nullopt;
}

// ---- address helpers ---------------------------------------------------------------------

unsigned family_bits(const ip_address& a) { return a.v6 ? 128u : 32u; }

/// The prefix's address with its host bits set to `ones` (false: network, true: last).
ip_address with_host_bits(const ip_prefix& p, bool ones) {
    ip_address a = p.addr;
    const unsigned bits = family_bits(a);
    for (unsigned bit = p.length; bit < bits; ++bit) {
        const auto m = static_cast<uint8_t>(0x80u >> (bit % 8));
        if (ones)
            a.bytes[bit / 8] = static_cast<uint8_t>(a.bytes[bit / 8] | m);
        else
            a.bytes[bit / 8] = static_cast<uint8_t>(a.bytes[bit / 8] & ~m);
    }
    return a;
}

bool in(std::string_view prefix, const ip_address& a) { return contains(*parse_prefix(prefix), a); }

/// Why `a` cannot be one of our interface addresses, or empty if it can.
std::string not_unicast_reason(const ip_address& a) {
    if (!a.v6) {
        if (in("0.0.0.0/8", a)) return "is in 0.0.0.0/8 (\"this network\", RFC 1122 §3.2.1.3)";
        if (in("127.0.0.0/8", a)) return "is a loopback address";
        if (in("224.0.0.0/4", a)) return "is a multicast address";
        if (in("240.0.0.0/4", a)) return "is a reserved or broadcast address";
        return {};
    }
    if (in("::/128", a)) return "is the unspecified address";
    if (in("::1/128", a)) return "is the loopback address";
    if (in("ff00::/8", a)) return "is a multicast address";
    return {};
}

// ---- the error list and typed access to nodes --------------------------------------------

struct loader {
    std::vector<error> errors;
    void fail(std::string key, int line, std::string message) {
        errors.push_back(error{std::move(key), line, std::move(message)});
    }
    std::string wrong_type(std::string_view want, const toml::node& n) {
        return "expected " + std::string(want) + ", got " + std::string(type_name(n.type()));
    }
};

const toml::table* want_table(loader& l, const toml::node& n, const std::string& key) {
    if (const auto* t = n.as_table()) return t;
    l.fail(key, line_of(n), l.wrong_type("table", n));
    return nullptr;
}

const toml::array* want_array(loader& l, const toml::node& n, const std::string& key) {
    if (const auto* a = n.as_array()) return a;
    l.fail(key, line_of(n), l.wrong_type("array", n));
    return nullptr;
}

const std::string* want_string(loader& l, const toml::node& n, const std::string& key) {
    if (const auto* s = n.as_string()) return &s->get();
    l.fail(key, line_of(n), l.wrong_type("string", n));
    return nullptr;
}

std::optional<bool> want_bool(loader& l, const toml::node& n, const std::string& key) {
    if (const auto* b = n.as_boolean()) return b->get();
    l.fail(key, line_of(n), l.wrong_type("boolean", n));
    return std::nullopt;
}

/// An integer in [lo, hi]; with `pow2`, also a power of two.
std::optional<uint32_t> want_u32(loader& l, const toml::node& n, const std::string& key, uint64_t lo, uint64_t hi,
                                 bool pow2 = false) {
    const auto* i = n.as_integer();
    if (i == nullptr) {
        l.fail(key, line_of(n), l.wrong_type("integer", n));
        return std::nullopt;
    }
    const int64_t v = i->get();
    const bool in_range = v >= 0 && static_cast<uint64_t>(v) >= lo && static_cast<uint64_t>(v) <= hi;
    const bool is_pow2 = v > 0 && (static_cast<uint64_t>(v) & (static_cast<uint64_t>(v) - 1)) == 0;
    if (!in_range || (pow2 && !is_pow2)) {
        std::string m = pow2 ? "must be a power of two " : "must be ";
        if (hi == UINT32_MAX)
            m += "at least " + std::to_string(lo);
        else
            m += "between " + std::to_string(lo) + " and " + std::to_string(hi);
        l.fail(key, line_of(n), m + ", got " + std::to_string(v));
        return std::nullopt;
    }
    return static_cast<uint32_t>(v);
}

/// Visits each element of an array value, with its key path ("workers.cores[2]").
template <class F>
void each_element(loader& l, const toml::node& n, const std::string& key, F&& f) {
    const auto* a = want_array(l, n, key);
    if (a == nullptr) return;
    for (std::size_t i = 0; i < a->size(); ++i) f(*a->get(i), key + "[" + std::to_string(i) + "]");
}

/// One TOML table read against its schema: the keys it may hold, typed getters that
/// report under the table's path, and the unknown-key check (run on construction).
class table_reader {
public:
    table_reader(loader& l, const toml::table& t, std::string path, std::initializer_list<std::string_view> known)
        : l_(l), t_(t), path_(std::move(path)) {
        for (auto&& [k, v] : t) {
            const std::string_view name = k.str();
            if (std::find(known.begin(), known.end(), name) != known.end()) continue;
            std::string msg = "unknown key";
            std::string_view best;
            std::size_t best_d = 3;
            for (std::string_view cand : known) {
                const std::size_t d = edit_distance(name.substr(0, 64), cand);
                if (d < best_d) best_d = d, best = cand;
            }
            if (!best.empty() && name.size() > 2) msg += " (did you mean \"" + std::string(best) + "\"?)";
            const int line = line_of(k.source()) > 0 ? line_of(k.source()) : line_of(v);
            l_.fail(key(name), line, msg);
        }
    }

    std::string key(std::string_view k) const {
        return path_.empty() ? key_text(k) : path_ + "." + key_text(k);
    }
    int line() const { return line_of(t_); }
    const toml::node* get(std::string_view k) const { return t_.get(k); }

    /// The node for a key that must be present (a "missing" error otherwise).
    const toml::node* require(std::string_view k) const {
        const auto* n = t_.get(k);
        if (n == nullptr) l_.fail(key(k), line(), "required key is missing");
        return n;
    }

    bool u32(std::string_view k, uint32_t& out, uint64_t lo, uint64_t hi, bool pow2 = false) const {
        const auto* n = t_.get(k);
        if (n == nullptr) return false;
        const auto v = want_u32(l_, *n, key(k), lo, hi, pow2);
        if (v) out = *v;
        return v.has_value();
    }
    bool boolean(std::string_view k, bool& out) const {
        const auto* n = t_.get(k);
        if (n == nullptr) return false;
        const auto v = want_bool(l_, *n, key(k));
        if (v) out = *v;
        return v.has_value();
    }
    /// A string; empty strings are rejected unless `allow_empty`.
    bool string(std::string_view k, std::string& out, bool allow_empty = false) const {
        const auto* n = t_.get(k);
        if (n == nullptr) return false;
        const auto* s = want_string(l_, *n, key(k));
        if (s == nullptr) return false;
        if (s->empty() && !allow_empty) {
            l_.fail(key(k), line_of(*n), "must not be empty");
            return false;
        }
        out = *s;
        return true;
    }
    int line_of_key(std::string_view k) const {
        const auto* n = t_.get(k);
        return n != nullptr ? line_of(*n) : line();
    }

private:
    loader& l_;
    const toml::table& t_;
    std::string path_;
};

std::optional<mac_address> want_mac(loader& l, const toml::node& n, const std::string& key) {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    const auto m = parse_mac(*s);
    if (!m) {
        l.fail(key, line_of(n), "expected a MAC address like \"02:00:00:00:00:01\", got " + quote(*s));
        return std::nullopt;
    }
    if (((*m)[0] & 0x01) != 0) {
        l.fail(key, line_of(n), to_string(*m) + " is a multicast address (bit 0 of the first octet is set); "
                                              "a unicast MAC is needed");
        return std::nullopt;
    }
    if (*m == mac_address{}) {
        l.fail(key, line_of(n), "00:00:00:00:00:00 is not a usable MAC address");
        return std::nullopt;
    }
    return m;
}

/// Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
bool valid_ifname(std::string_view s) {
    if (s.empty() || s.size() > k_max_ifname || s == "." || s == "..") return false;
    return std::none_of(s.begin(), s.end(), [](char c) {
        return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
               c == '\f' || c == '\0';
    });
}

bool check_ifname(loader& l, const table_reader& r, std::string_view k, const std::string& name) {
    if (valid_ifname(name)) return true;
    l.fail(r.key(k), r.line_of_key(k),
           "must be a Linux interface name of 1 to 15 characters without '/', ':' or spaces, got " + quote(name));
    return false;
}

// ---- bookkeeping for the cross-checks (key paths and lines of parsed values) -----------

struct addr_entry {
    ip_prefix prefix;
    std::string key;  ///< "ports[1].ipv4[0]"
    int line = 0;
};

struct port_meta {
    std::string key;  ///< "ports[1]"
    bool name_ok = false;
    int name_line = 0;
    int interface_line = 0;
    int mtu_line = 0;
    bool role_ok = false;
    std::vector<addr_entry> addrs;  ///< both families, in file order
};

struct route_meta {
    std::string key;  ///< "routes[0]"
    bool prefix_ok = false;
    bool via_ok = false;
    bool port_ok = false;
    int prefix_line = 0;
    int via_line = 0;
    int port_line = 0;
};

struct meta {
    std::vector<port_meta> ports;
    std::vector<route_meta> routes;
    int uring_buffer_line = 0;
    int host_interface_line = 0;
};

/// The port address entry that is exactly `a` (one of the gateway's own addresses), if any.
const addr_entry* own_address(const meta& m, const ip_address& a) {
    for (const port_meta& pm : m.ports)
        for (const addr_entry& e : pm.addrs)
            if (e.prefix.addr == a) return &e;
    return nullptr;
}

// ---- sections ------------------------------------------------------------------------------

void parse_gateway(loader& l, const toml::table& t, gateway_config& g) {
    table_reader r(l, t, "gateway", {"name", "status_interval_s"});
    r.string("name", g.name);
    r.u32("status_interval_s", g.status_interval_s, 0, 86400);
}

void parse_workers(loader& l, const toml::table& t, workers_config& w) {
    table_reader r(l, t, "workers",
                   {"count", "cores", "burst_size", "idle_poll_us", "idle_nap_us", "idle_nap_min_pps",
                    "idle_nap_min_mbps"});
    const bool count_ok = r.u32("count", w.count, 1, 64) || r.get("count") == nullptr;
    r.u32("burst_size", w.burst_size, 1, 64);
    r.u32("idle_poll_us", w.idle_poll_us, 0, 1000000);
    r.u32("idle_nap_us", w.idle_nap_us, 0, 1000);
    r.u32("idle_nap_min_pps", w.idle_nap_min_pps, 0, 1000000000);
    r.u32("idle_nap_min_mbps", w.idle_nap_min_mbps, 0, 10000000);
    const auto* cores = r.get("cores");
    if (cores == nullptr) return;
    bool cores_ok = true;
    std::map<uint32_t, std::string> seen;
    each_element(l, *cores, r.key("cores"), [&](const toml::node& n, const std::string& key) {
        // Cores beyond this machine's count are left for start-up to report: the file
        // may be checked on another box. Only absurd numbers are rejected here.
        const auto c = want_u32(l, n, key, 0, k_max_core);
        if (!c) {
            cores_ok = false;
            return;
        }
        if (const auto it = seen.find(*c); it != seen.end()) {
            l.fail(key, line_of(n), "core " + std::to_string(*c) + " is already used by " + it->second);
            cores_ok = false;
            return;
        }
        seen.emplace(*c, key);
        w.cores.push_back(*c);
    });
    if (const auto* a = cores->as_array(); a != nullptr && cores_ok && count_ok && !a->empty() &&
                                           a->size() != w.count) {
        l.fail(r.key("cores"), line_of(*cores),
               "has " + std::to_string(a->size()) + " entries but workers.count is " + std::to_string(w.count) +
                   " (one core per worker, or none to leave workers unpinned)");
    }
}

void parse_host(loader& l, const toml::table& t, host_config& h, meta& m) {
    table_reader r(l, t, "host", {"enabled", "interface", "mac"});
    r.boolean("enabled", h.enabled);
    if (r.string("interface", h.interface)) check_ifname(l, r, "interface", h.interface);
    m.host_interface_line = r.line_of_key("interface");
    if (const auto* n = r.get("mac")) h.mac = want_mac(l, *n, r.key("mac"));
}

void parse_neighbours(loader& l, const toml::table& t, neighbour_config& nb) {
    table_reader r(l, t, "neighbours",
                   {"reachable_s", "retransmit_ms", "max_probes", "queue_per_neighbour", "capacity"});
    r.u32("reachable_s", nb.reachable_s, 1, UINT32_MAX);
    r.u32("retransmit_ms", nb.retransmit_ms, 10, UINT32_MAX);
    r.u32("max_probes", nb.max_probes, 1, 20);
    r.u32("queue_per_neighbour", nb.queue_per_neighbour, 1, 1024);
    r.u32("capacity", nb.capacity, 16, 16u << 20);
}

void parse_icmp(loader& l, const toml::table& t, icmp_config& ic) {
    table_reader r(l, t, "icmp", {"errors_per_second"});
    r.u32("errors_per_second", ic.errors_per_second, 0, 1000000);
}

void parse_uring(loader& l, const toml::table& t, uring_config& u, meta& m) {
    table_reader r(l, t, "uring", {"ring_entries", "rx_buffers", "buffer_size"});
    r.u32("ring_entries", u.ring_entries, 8, 32768, true);
    r.u32("rx_buffers", u.rx_buffers, 1, 4096);
    r.u32("buffer_size", u.buffer_size, 2048, 262144);
    m.uring_buffer_line = r.line_of_key("buffer_size");
}

void parse_dpdk(loader& l, const toml::table& t, dpdk_config& d) {
    table_reader r(l, t, "dpdk", {"eal_args", "mbufs", "rx_descriptors", "tx_descriptors"});
    if (const auto* n = r.get("eal_args")) {
        std::vector<std::string> args;
        each_element(l, *n, r.key("eal_args"), [&](const toml::node& e, const std::string& key) {
            if (const auto* s = want_string(l, e, key)) args.push_back(*s);
        });
        d.eal_args = std::move(args);
    }
    r.u32("mbufs", d.mbufs, 512, 16u << 20);
    r.u32("rx_descriptors", d.rx_descriptors, 64, 32768);
    r.u32("tx_descriptors", d.tx_descriptors, 64, 32768);
}

/// One `ipv4 = [...]` / `ipv6 = [...]` entry: a gateway address with its connected prefix.
std::optional<ip_prefix> parse_interface_address(loader& l, const toml::node& n, const std::string& key, bool v6) {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    const int line = line_of(n);
    const auto p = parse_prefix(*s);
    if (!p) {
        l.fail(key, line, std::string("expected an ") + (v6 ? "IPv6" : "IPv4") + " address with prefix length like " +
                              (v6 ? "\"2001:db8:1::1/64\"" : "\"192.168.100.1/24\"") + ", got " + quote(*s));
        return std::nullopt;
    }
    if (p->addr.v6 != v6) {
        l.fail(key, line, quote(*s) + " is an " + (v6 ? "IPv4" : "IPv6") + " address; list it under " +
                              (v6 ? "ipv4" : "ipv6"));
        return std::nullopt;
    }
    if (p->length == 0) {
        l.fail(key, line, to_string(*p) + ": prefix length 0 is not an interface address");
        return std::nullopt;
    }
    if (const auto why = not_unicast_reason(p->addr); !why.empty()) {
        l.fail(key, line, to_string(p->addr) + " " + why + "; a gateway address must be unicast");
        return std::nullopt;
    }
    const ip_prefix net = network_of(*p);
    if (!v6 && p->length < 31) {
        // RFC 3021 lets /31 (and /32) use every address; shorter prefixes reserve both ends.
        if (p->addr == net.addr) {
            l.fail(key, line, to_string(*p) + " is the network address of " + to_string(net) +
                                  "; a gateway address needs a host part");
            return std::nullopt;
        }
        if (p->addr == with_host_bits(*p, true)) {
            l.fail(key, line, to_string(*p) + " is the broadcast address of " + to_string(net));
            return std::nullopt;
        }
    }
    if (v6 && p->length < 127 && p->addr == net.addr) {
        // RFC 4291 §2.6.1: host bits all zero is the Subnet-Router anycast address.
        l.fail(key, line, to_string(*p) + " is the subnet-router anycast address of " + to_string(net) +
                              " (RFC 4291 §2.6.1); a gateway address needs a host part");
        return std::nullopt;
    }
    return p;
}

/// A prefix whose host bits must be zero (routes, advertised prefixes).
std::optional<ip_prefix> parse_network_prefix(loader& l, const toml::node& n, const std::string& key,
                                              std::optional<bool> v6_only) {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    const int line = line_of(n);
    const auto p = parse_prefix(*s);
    if (!p) {
        l.fail(key, line,
               std::string("expected a prefix like ") +
                   (v6_only ? (*v6_only ? "\"2001:db8:100::/64\"" : "\"10.0.0.0/8\"")
                            : "\"10.0.0.0/8\" or \"2001:db8::/32\"") +
                   ", got " + quote(*s));
        return std::nullopt;
    }
    if (v6_only && p->addr.v6 != *v6_only) {
        l.fail(key, line, to_string(*p) + " is not an " + (*v6_only ? "IPv6" : "IPv4") + " prefix");
        return std::nullopt;
    }
    const ip_prefix net = network_of(*p);
    if (net != *p) {
        l.fail(key, line, "host bits set in " + to_string(*p) + "; did you mean " + to_string(net) + "?");
        return std::nullopt;
    }
    return p;
}

void parse_router_advertisements(loader& l, const toml::table& t, const std::string& path,
                                 router_advertisement_config& ra) {
    table_reader r(l, t, path, {"enabled", "interval_s", "router_lifetime_s", "prefixes", "autonomous"});
    r.boolean("enabled", ra.enabled);
    // RFC 4861 §6.2.1: MaxRtrAdvInterval 4..1800 s, AdvDefaultLifetime 0 or
    // MaxRtrAdvInterval..9000 s.
    const bool interval_ok = r.u32("interval_s", ra.interval_s, 4, 1800) || r.get("interval_s") == nullptr;
    const bool lifetime_ok =
        r.u32("router_lifetime_s", ra.router_lifetime_s, 0, 9000) || r.get("router_lifetime_s") == nullptr;
    if (interval_ok && lifetime_ok && ra.router_lifetime_s != 0 && ra.router_lifetime_s < ra.interval_s) {
        l.fail(r.key("router_lifetime_s"), r.line_of_key("router_lifetime_s"),
               "must be 0 or at least interval_s (" + std::to_string(ra.interval_s) +
                   "), or hosts drop the default route between advertisements (RFC 4861 §6.2.1)");
    }
    r.boolean("autonomous", ra.autonomous);
    if (const auto* n = r.get("prefixes")) {
        each_element(l, *n, r.key("prefixes"), [&](const toml::node& e, const std::string& key) {
            const auto p = parse_network_prefix(l, e, key, true);
            if (!p) return;
            if (ra.autonomous && p->length != 64) {
                // RFC 4862 §5.5.3 d): SLAAC ignores prefixes that do not leave a 64-bit
                // interface identifier (RFC 4291 §2.5.1).
                l.fail(key, line_of(e), to_string(*p) + ": autonomous (SLAAC) prefixes must be /64 (RFC 4862 §5.5.3)");
                return;
            }
            ra.prefixes.push_back(*p);
        });
    }
}

void parse_port(loader& l, const toml::table& t, const std::string& path, port_config& p, port_meta& m) {
    table_reader r(l, t, path,
                   {"name", "role", "backend", "interface", "mtu", "mac", "ipv4", "ipv6", "nd_proxy",
                    "router_advertisements", "pcap_input", "pcap_output"});
    m.key = path;
    p.line = r.line();

    if (const auto* n = r.require("name")) {
        m.name_line = line_of(*n);
        if (const auto* s = want_string(l, *n, r.key("name"))) {
            const bool ok = !s->empty() && s->size() <= k_max_port_name &&
                            std::all_of(s->begin(), s->end(), [](char c) {
                                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                            });
            if (ok) {
                p.name = *s;
                m.name_ok = true;
            } else {
                l.fail(r.key("name"), m.name_line,
                       "must be 1 to 32 characters of a-z, 0-9, '_' and '-', got " + quote(*s));
            }
        }
    }

    if (const auto* n = r.require("role")) {
        if (const auto* s = want_string(l, *n, r.key("role"))) {
            m.role_ok = *s == "vm" || *s == "uplink";
            if (*s == "vm")
                p.role = port_role::vm;
            else if (*s == "uplink")
                p.role = port_role::uplink;
            else
                l.fail(r.key("role"), line_of(*n), "must be \"vm\" or \"uplink\", got " + quote(*s));
        }
    }

    bool backend_ok = true;
    if (const auto* n = r.get("backend")) {
        backend_ok = false;
        if (const auto* s = want_string(l, *n, r.key("backend"))) {
            static constexpr std::pair<std::string_view, backend_kind> names[] = {
                {"uring", backend_kind::uring},
                {"dpdk", backend_kind::dpdk},
                {"memory", backend_kind::memory},
                {"pcap", backend_kind::pcap}};
            for (const auto& [text, kind] : names) {
                if (*s == text) {
                    p.backend = kind;
                    backend_ok = true;
                }
            }
            if (!backend_ok)
                l.fail(r.key("backend"), line_of(*n),
                       "must be \"uring\", \"dpdk\", \"memory\" or \"pcap\", got " + quote(*s));
        }
    }

    m.interface_line = r.line_of_key("interface");
    if (r.string("interface", p.interface) && backend_ok && p.backend == backend_kind::uring)
        check_ifname(l, r, "interface", p.interface);
    if (backend_ok && r.get("interface") == nullptr &&
        (p.backend == backend_kind::uring || p.backend == backend_kind::dpdk)) {
        l.fail(r.key("interface"), r.line(),
               std::string("required key is missing (the ") +
                   (p.backend == backend_kind::uring ? "kernel interface" : "DPDK device") + " this port uses)");
    }

    const bool mtu_ok = r.u32("mtu", p.mtu, 576, 9000) || r.get("mtu") == nullptr;
    m.mtu_line = r.line_of_key("mtu");

    if (const auto* n = r.get("mac")) p.mac = want_mac(l, *n, r.key("mac"));

    for (const bool v6 : {false, true}) {
        const char* k = v6 ? "ipv6" : "ipv4";
        const auto* n = r.get(k);
        if (n == nullptr) continue;
        each_element(l, *n, r.key(k), [&](const toml::node& e, const std::string& key) {
            const auto a = parse_interface_address(l, e, key, v6);
            if (!a) return;
            (v6 ? p.ipv6 : p.ipv4).push_back(*a);
            m.addrs.push_back(addr_entry{*a, key, line_of(e)});
        });
    }
    const bool has_v6 = r.get("ipv6") != nullptr && r.get("ipv6")->is_array() && !r.get("ipv6")->as_array()->empty();
    if (has_v6 && mtu_ok && p.mtu < 1280) {
        l.fail(r.key("mtu"), m.mtu_line,
               "must be at least 1280 on a port with IPv6 (RFC 8200 §5), got " + std::to_string(p.mtu));
    }

    // Default: an uplink with IPv6 answers neighbour solicitations for the VMs' routed
    // addresses, so the upstream router can reach them without a routed prefix.
    if (!r.boolean("nd_proxy", p.nd_proxy) && r.get("nd_proxy") == nullptr)
        p.nd_proxy = p.role == port_role::uplink && !p.ipv6.empty();

    if (const auto* n = r.get("router_advertisements")) {
        const std::string ra_key = r.key("router_advertisements");
        if (const auto* rt = want_table(l, *n, ra_key)) {
            parse_router_advertisements(l, *rt, ra_key, p.router_advertisements);
            // Written out explicitly, so say when it cannot take effect.
            if (p.router_advertisements.enabled && p.role == port_role::uplink) {
                l.fail(ra_key, line_of(*n),
                       "router advertisements are sent on vm ports only; set enabled = false or remove the table");
            } else if (p.router_advertisements.enabled && !has_v6) {
                l.fail(ra_key, line_of(*n), "router advertisements need an IPv6 address on the port (ipv6 = [...])");
            }
        }
    }

    const bool in_set = r.string("pcap_input", p.pcap_input);
    const bool out_set = r.string("pcap_output", p.pcap_output);
    if (backend_ok && p.backend == backend_kind::pcap && r.get("pcap_input") == nullptr &&
        r.get("pcap_output") == nullptr) {
        l.fail(path, p.line, "the pcap backend needs pcap_input, pcap_output or both");
    }
    if (backend_ok && p.backend != backend_kind::pcap) {
        for (const auto& [k, set] : {std::pair{"pcap_input", in_set}, std::pair{"pcap_output", out_set}}) {
            if (set) l.fail(r.key(k), r.line_of_key(k), "is only used by the pcap backend (backend = \"pcap\")");
        }
    }
}

void parse_route(loader& l, const toml::table& t, const std::string& path, route_config& rc, route_meta& m) {
    table_reader r(l, t, path, {"prefix", "via", "port"});
    m.key = path;
    rc.line = r.line();
    if (const auto* n = r.require("prefix")) {
        m.prefix_line = line_of(*n);
        if (const auto p = parse_network_prefix(l, *n, r.key("prefix"), std::nullopt)) {
            rc.prefix = *p;
            m.prefix_ok = true;
        }
    }
    if (const auto* n = r.get("via")) {
        m.via_line = line_of(*n);
        if (const auto* s = want_string(l, *n, r.key("via"))) {
            if (const auto a = parse_ip(*s)) {
                rc.via = a;
                m.via_ok = true;
            } else {
                l.fail(r.key("via"), m.via_line, "expected an IPv4 or IPv6 address, got " + quote(*s));
            }
        }
    }
    if (r.string("port", rc.port)) {
        m.port_ok = true;
        m.port_line = r.line_of_key("port");
    }
    if (r.get("via") == nullptr && r.get("port") == nullptr)
        l.fail(path, rc.line, "a route needs via (a next hop), port (on-link) or both");
}

// ---- whole-file checks ---------------------------------------------------------------------

void validate_ports(loader& l, config& c, const meta& m) {
    std::map<std::string, std::size_t> names;
    std::map<std::string, std::size_t> interfaces;
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        const auto& p = c.ports[i];
        const auto& pm = m.ports[i];
        if (pm.name_ok) {
            const auto [it, fresh] = names.emplace(p.name, i);
            if (!fresh) {
                l.fail(pm.key + ".name", pm.name_line,
                       "duplicate port name " + quote(p.name) + " (also " + m.ports[it->second].key + ".name, line " +
                           std::to_string(m.ports[it->second].name_line) + ")");
            }
        }
        if (!p.interface.empty() && (p.backend == backend_kind::uring || p.backend == backend_kind::dpdk)) {
            const auto [it, fresh] = interfaces.emplace(p.interface, i);
            if (!fresh) {
                l.fail(pm.key + ".interface", pm.interface_line,
                       "interface " + quote(p.interface) + " is already used by " + m.ports[it->second].key +
                           " (line " + std::to_string(m.ports[it->second].interface_line) + ")");
            }
        }
        if (c.host.enabled && p.backend == backend_kind::uring && p.interface == c.host.interface) {
            l.fail(pm.key + ".interface", pm.interface_line,
                   "interface " + quote(p.interface) + " is also host.interface (the host TAP device)");
        }
    }

    // Our addresses: each at most once anywhere, and no connected prefix shared by two
    // ports (a destination must belong to exactly one link).
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        for (std::size_t ai = 0; ai < m.ports[i].addrs.size(); ++ai) {
            const addr_entry& a = m.ports[i].addrs[ai];
            bool reported = false;
            for (std::size_t j = 0; j <= i && !reported; ++j) {
                const std::size_t end = j == i ? ai : m.ports[j].addrs.size();
                for (std::size_t bi = 0; bi < end && !reported; ++bi) {
                    const addr_entry& b = m.ports[j].addrs[bi];
                    if (a.prefix.addr == b.prefix.addr) {
                        l.fail(a.key, a.line,
                               to_string(a.prefix.addr) + " is already an address of " +
                                   (j == i ? std::string("this port") : "port " + quote(c.ports[j].name)) + " (" +
                                   b.key + ", line " + std::to_string(b.line) + ")");
                        reported = true;
                    } else if (j != i && overlaps(a.prefix, b.prefix)) {
                        l.fail(a.key, a.line,
                               to_string(network_of(a.prefix)) + " overlaps " + to_string(network_of(b.prefix)) +
                                   " of port " + quote(c.ports[j].name) + " (" + b.key + ", line " +
                                   std::to_string(b.line) + "); each connected prefix belongs to one port");
                        reported = true;
                    }
                }
            }
        }
    }

    // A uring receive buffer holds one whole frame.
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        const auto& p = c.ports[i];
        if (p.backend == backend_kind::uring && c.uring.buffer_size < p.mtu + k_ethernet_overhead) {
            l.fail("uring.buffer_size", m.uring_buffer_line,
                   std::to_string(c.uring.buffer_size) + " bytes cannot hold a frame of " + m.ports[i].key +
                       " (mtu " + std::to_string(p.mtu) + " + " + std::to_string(k_ethernet_overhead) +
                       " bytes of Ethernet header)");
            break;
        }
    }
}

void validate_routes(loader& l, config& c, const meta& m) {
    std::map<std::string, std::size_t> port_by_name;
    for (std::size_t i = 0; i < c.ports.size(); ++i)
        if (m.ports[i].name_ok) port_by_name.emplace(c.ports[i].name, i);

    std::map<std::pair<bool, std::pair<std::array<uint8_t, 16>, uint8_t>>, std::size_t> prefixes;
    for (std::size_t i = 0; i < c.routes.size(); ++i) {
        const route_config& rt = c.routes[i];
        const route_meta& rm = m.routes[i];
        if (rm.prefix_ok) {
            const auto [it, fresh] = prefixes.emplace(std::pair{rt.prefix.addr.v6, std::pair{rt.prefix.addr.bytes, rt.prefix.length}}, i);
            if (!fresh) {
                l.fail(rm.key + ".prefix", rm.prefix_line,
                       "duplicate route for " + to_string(rt.prefix) + " (also " + m.routes[it->second].key +
                           ", line " + std::to_string(c.routes[it->second].line) + ")");
            }
        }
        std::optional<std::size_t> port;
        bool port_bad = false;
        if (rm.port_ok) {
            if (const auto it = port_by_name.find(rt.port); it != port_by_name.end()) {
                port = it->second;
            } else {
                port_bad = true;
                std::string known;
                for (const auto& [name, idx] : port_by_name) known += (known.empty() ? "" : ", ") + quote(name);
                l.fail(rm.key + ".port", rm.port_line,
                       "no port named " + quote(rt.port) + (known.empty() ? "" : " (ports: " + known + ")"));
            }
        }
        if (!rm.via_ok || port_bad) continue;
        const ip_address& via = *rt.via;
        const std::string via_key = rm.key + ".via";
        if (rm.prefix_ok && via.v6 != rt.prefix.addr.v6) {
            l.fail(via_key, rm.via_line,
                   to_string(via) + " is " + (via.v6 ? "IPv6" : "IPv4") + " but prefix " + to_string(rt.prefix) +
                       " is " + (rt.prefix.addr.v6 ? "IPv6" : "IPv4"));
            continue;
        }
        if (const auto why = not_unicast_reason(via); !why.empty()) {
            l.fail(via_key, rm.via_line, to_string(via) + " " + why + "; a next hop must be unicast");
            continue;
        }
        // Link-local next hops (RFC 4291 §2.5.6) are on-link on whichever port is named.
        if (via.v6 && in("fe80::/10", via)) {
            if (!port && !port_bad)
                l.fail(via_key, rm.via_line, to_string(via) + " is link-local; name the port it is reached through");
            continue;
        }
        const addr_entry* own = nullptr;
        bool on_link = false;
        for (std::size_t pi = 0; pi < c.ports.size(); ++pi) {
            for (const addr_entry& a : m.ports[pi].addrs) {
                if (a.prefix.addr == via) own = &a;
                if ((!port || *port == pi) && contains(a.prefix, via)) on_link = true;
            }
        }
        if (own != nullptr) {
            l.fail(via_key, rm.via_line,
                   to_string(via) + " is our own address (" + own->key + ", line " + std::to_string(own->line) +
                       "); via names the neighbour that forwards this prefix");
        } else if (!on_link) {
            l.fail(via_key, rm.via_line,
                   to_string(via) + " is not inside a connected prefix of " +
                       (port ? "port " + quote(c.ports[*port].name) : std::string("any port")) +
                       "; a next hop must be on-link (add it to ipv4/ipv6 of a port, or fix the address)");
        }
    }
}

// ---- NAT44 ([nat]) and VM bindings ([[vms]]) -----------------------------------------------

constexpr uint64_t k_max_timeout_s = 604800;      ///< one week
constexpr uint64_t k_max_sessions = INT32_MAX;    ///< 2^31 - 1

const char* egress_text(egress_policy e) {
    switch (e) {
        case egress_policy::masquerade: return "masquerade";
        case egress_policy::dedicated: return "dedicated";
        case egress_policy::port_block: return "port_block";
        case egress_policy::proxy: return "proxy";
    }
    return "?";
}

std::string ports_text(uint32_t first, uint32_t last) {
    return first == last ? std::to_string(first) : std::to_string(first) + ".." + std::to_string(last);
}

bool ranges_overlap(uint32_t a_first, uint32_t a_last, uint32_t b_first, uint32_t b_last) {
    return a_first <= b_last && b_first <= a_last;
}

/// A unicast address value of one family ("203.0.113.1", or "2001:db8:1::1" when v6).
std::optional<ip_address> want_unicast(loader& l, const toml::node& n, const std::string& key, bool v6) {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    const auto a = parse_ip(*s);
    if (!a || a->v6 != v6) {
        l.fail(key, line_of(n), std::string("expected an ") + (v6 ? "IPv6 address like \"2001:db8:1::1\"" : "IPv4 address like \"203.0.113.1\"") +
                                    ", got " + quote(*s));
        return std::nullopt;
    }
    if (const auto why = not_unicast_reason(*a); !why.empty()) {
        l.fail(key, line_of(n), to_string(*a) + " " + why + "; a unicast address is needed");
        return std::nullopt;
    }
    return a;
}

/// A unicast IPv4 address value ("203.0.113.1").
std::optional<ip_address> want_ipv4(loader& l, const toml::node& n, const std::string& key) {
    return want_unicast(l, n, key, false);
}

std::optional<uint16_t> want_port(loader& l, const toml::node& n, const std::string& key) {
    const auto v = want_u32(l, n, key, 1, 65535);
    if (!v) return std::nullopt;
    return static_cast<uint16_t>(*v);
}

/// `[first, last]`: two ports, first <= last.
std::optional<std::pair<uint16_t, uint16_t>> want_port_range(loader& l, const toml::node& n, const std::string& key) {
    const auto* a = want_array(l, n, key);
    if (a == nullptr) return std::nullopt;
    if (a->size() != 2) {
        l.fail(key, line_of(n),
               "expected [first, last] (two port numbers), got " + std::to_string(a->size()) + " element" +
                   (a->size() == 1 ? "" : "s"));
        return std::nullopt;
    }
    const auto first = want_port(l, *a->get(0), key + "[0]");
    const auto last = want_port(l, *a->get(1), key + "[1]");
    if (!first || !last) return std::nullopt;
    if (*first > *last) {
        l.fail(key, line_of(n),
               "first port " + std::to_string(*first) + " is above last port " + std::to_string(*last));
        return std::nullopt;
    }
    return std::pair{*first, *last};
}

/// Checks that IPv4 address `a` lies inside a connected prefix of a port with `role`,
/// is not that prefix's network or broadcast address and, unless `allow_own`, is not
/// one of the gateway's own addresses. `why` ends the message when it is not inside.
bool check_on_link(loader& l, const config& c, const meta& m, const ip_address& a, port_role role, bool allow_own,
                   const std::string& key, int line, std::string_view why) {
    // A port whose role did not parse has its error already; do not guess around it.
    if (!std::all_of(m.ports.begin(), m.ports.end(), [](const port_meta& pm) { return pm.role_ok; })) return true;
    const addr_entry* inside = nullptr;
    const addr_entry* own = nullptr;
    std::size_t inside_port = 0;
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        for (const addr_entry& e : m.ports[i].addrs) {
            if (e.prefix.addr == a) own = &e;
            if (inside == nullptr && contains(e.prefix, a)) inside = &e, inside_port = i;
        }
    }
    const char* role_name = role == port_role::uplink ? "uplink" : "vm";
    if (inside == nullptr || c.ports[inside_port].role != role) {
        std::string msg = to_string(a) + " is not inside a connected IPv4 prefix of " +
                          (role == port_role::uplink ? "an uplink" : "a vm") + " port";
        if (inside != nullptr) {
            msg += " (it is in " + to_string(network_of(inside->prefix)) + " of " +
                   (role == port_role::uplink ? "vm" : "uplink") + " port " + quote(c.ports[inside_port].name) + ")";
        } else {
            std::string have;
            for (std::size_t i = 0; i < c.ports.size(); ++i) {
                if (c.ports[i].role != role) continue;
                for (const addr_entry& e : m.ports[i].addrs)
                    if (!e.prefix.addr.v6) have += (have.empty() ? "" : ", ") + to_string(network_of(e.prefix));
            }
            msg += have.empty() ? std::string(" (no ") + role_name + " port has an IPv4 address)"
                                : std::string(" (") + role_name + " prefixes: " + have + ")";
        }
        l.fail(key, line, msg + "; " + std::string(why));
        return false;
    }
    const ip_prefix& p = inside->prefix;
    if (p.length < 31 && a == network_of(p).addr) {
        l.fail(key, line, to_string(a) + " is the network address of " + to_string(network_of(p)));
        return false;
    }
    if (p.length < 31 && a == with_host_bits(p, true)) {
        l.fail(key, line, to_string(a) + " is the broadcast address of " + to_string(network_of(p)));
        return false;
    }
    if (!allow_own && own != nullptr) {
        l.fail(key, line,
               to_string(a) + " is the gateway's own address (" + own->key + ", line " + std::to_string(own->line) + ")");
        return false;
    }
    return true;
}

struct forward_meta {
    std::string key;        ///< "nat.forwards[0]"
    bool ok = false;        ///< protocol, public_address and the public ports are valid
    bool to_ok = false;
    int to_line = 0;
    std::string ports_key;  ///< "nat.forwards[0].port" or "...ports"
    int ports_line = 0;
    bool target_ok = false;  ///< to, to_port and the ports give a valid VM port range
    std::string target_key;  ///< "nat.forwards[0].to_port" where written, else "...to"
    int target_line = 0;
};

struct nat_meta {
    int line = 0;
    int max_vms_line = 0;             ///< where max_vms is written (0: left out)
    bool public_ok = false;           ///< at least one public address, every one valid
    bool range_ok = true;
    std::string range_key = "nat.port_range";
    int range_line = 0;
    bool blocks_ok = true;            ///< first_port and block_size valid, at least one block
    bool first_port_written = false;
    std::string first_port_key = "nat.port_blocks.first_port";
    int first_port_line = 0;
    bool proxy_service_written = false;
    bool proxy_upstream_written = false;
    std::vector<forward_meta> forwards;
};

struct vm_meta {
    std::string key;  ///< "vms[0]"
    bool name_ok = false, mac_ok = false, ipv4_parsed = false, egress_ok = true;
    bool public_ok = false, block_ok = false, ipv6_ok = false;
    int name_line = 0, mac_line = 0, ipv4_line = 0, egress_line = 0, public_line = 0, block_line = 0, ipv6_line = 0;
    int org_line = 0, proxy_port_line = 0;
};

void parse_forward(loader& l, const toml::table& t, const std::string& path, const config& c, const meta& m,
                   nat_forward_config& f, forward_meta& fm) {
    table_reader r(l, t, path, {"protocol", "public_address", "port", "ports", "to", "to_port"});
    fm.key = path;
    f.line = r.line();
    bool ok = true;
    if (const auto* n = r.require("protocol")) {
        ok = false;
        if (const auto* s = want_string(l, *n, r.key("protocol"))) {
            if (*s == "tcp" || *s == "udp") {
                f.protocol = *s == "tcp" ? 6 : 17;
                ok = true;
            } else {
                l.fail(r.key("protocol"), line_of(*n), "must be \"tcp\" or \"udp\", got " + quote(*s));
            }
        }
    } else {
        ok = false;
    }
    if (const auto* n = r.require("public_address")) {
        const auto a = want_ipv4(l, *n, r.key("public_address"));
        const auto& pool = c.nat.public_addresses;
        if (a && std::find(pool.begin(), pool.end(), *a) != pool.end()) {
            f.public_address = *a;
        } else {
            if (a && !pool.empty()) {  // an empty pool has its own error
                std::string list;
                for (const auto& p : pool) list += (list.empty() ? "" : ", ") + to_string(p);
                l.fail(r.key("public_address"), line_of(*n),
                       to_string(*a) + " is not one of nat.public_addresses (" + list +
                           "); a forward's public address must be one of them");
            }
            ok = false;
        }
    } else {
        ok = false;
    }
    const auto* port = r.get("port");
    const auto* ports = r.get("ports");
    bool ports_ok = false;
    if (port != nullptr && ports != nullptr) {
        l.fail(r.key("ports"), line_of(*ports), "give either port or ports = [first, last], not both");
    } else if (port != nullptr) {
        fm.ports_key = r.key("port");
        fm.ports_line = line_of(*port);
        if (const auto p = want_port(l, *port, fm.ports_key)) {
            f.port_first = f.port_last = *p;
            ports_ok = true;
        }
    } else if (ports != nullptr) {
        fm.ports_key = r.key("ports");
        fm.ports_line = line_of(*ports);
        if (const auto p = want_port_range(l, *ports, fm.ports_key)) {
            f.port_first = p->first;
            f.port_last = p->second;
            ports_ok = true;
        }
    } else {
        l.fail(r.key("port"), r.line(), "required key is missing (port = N, or ports = [first, last] for a range)");
    }
    if (const auto* n = r.require("to")) {
        fm.to_line = line_of(*n);
        if (const auto a = want_ipv4(l, *n, r.key("to"))) {
            f.to = *a;
            fm.to_ok = check_on_link(l, c, m, *a, port_role::vm, false, r.key("to"), fm.to_line,
                                     "a forward's target is a VM behind a vm port");
        }
    }
    bool to_port_ok = true;
    fm.target_key = r.key("to");
    fm.target_line = fm.to_line;
    if (const auto* n = r.get("to_port")) {
        to_port_ok = false;
        fm.target_key = r.key("to_port");
        fm.target_line = line_of(*n);
        if (const auto p = want_port(l, *n, r.key("to_port"))) {
            f.to_port = *p;
            to_port_ok = !ports_ok || uint32_t{*p} + (f.port_last - f.port_first) <= 65535;
            if (!to_port_ok) {
                l.fail(r.key("to_port"), line_of(*n),
                       std::to_string(*p) + " + the " + std::to_string(f.port_last - f.port_first) +
                           " further ports of " + fm.ports_key + " (" + ports_text(f.port_first, f.port_last) +
                           ") passes 65535; to_port can be at most " +
                           std::to_string(65535 - (f.port_last - f.port_first)));
            }
        }
    } else if (ports_ok) {
        f.to_port = f.port_first;
    }
    fm.ok = ok && ports_ok;
    fm.target_ok = fm.ok && fm.to_ok && to_port_ok;
}

void parse_nat(loader& l, const toml::table& t, config& c, const meta& m, nat_meta& nm) {
    nat_config& n = c.nat;
    table_reader r(l, t, "nat",
                   {"public_addresses", "port_range", "filtering", "max_sessions", "sessions_per_vm", "max_vms",
                    "anti_spoofing", "log_file", "timeouts", "port_blocks", "proxy", "forwards"});
    n.enabled = true;
    nm.line = r.line();

    if (const auto* pa = r.require("public_addresses")) {
        bool all_ok = true;
        std::map<std::array<uint8_t, 16>, std::pair<std::string, int>> seen;
        each_element(l, *pa, r.key("public_addresses"), [&](const toml::node& e, const std::string& key) {
            const auto a = want_ipv4(l, e, key);
            if (!a) {
                all_ok = false;
                return;
            }
            if (const auto it = seen.find(a->bytes); it != seen.end()) {
                l.fail(key, line_of(e),
                       to_string(*a) + " is listed twice (also " + it->second.first + ", line " +
                           std::to_string(it->second.second) + ")");
                all_ok = false;
                return;
            }
            seen.emplace(a->bytes, std::pair{key, line_of(e)});
            if (!check_on_link(l, c, m, *a, port_role::uplink, true, key, line_of(e),
                               "the uplink must answer ARP for a public address"))
                all_ok = false;
            n.public_addresses.push_back(*a);
        });
        if (pa->is_array() && pa->as_array()->empty())
            l.fail(r.key("public_addresses"), line_of(*pa), "at least one public address is required");
        nm.public_ok = all_ok && !n.public_addresses.empty();
    }

    nm.range_line = nm.line;
    if (const auto* pr = r.get("port_range")) {
        nm.range_line = line_of(*pr);
        if (const auto v = want_port_range(l, *pr, r.key("port_range"))) {
            n.port_first = v->first;
            n.port_last = v->second;
        } else {
            nm.range_ok = false;
        }
    }
    // Each worker owns a slice of the dynamic range (dataplane/nat_port_pool.hpp).
    if (nm.range_ok && uint32_t{n.port_last} - n.port_first + 1 < c.workers.count) {
        l.fail(r.key("port_range"), nm.range_line,
               "holds " + std::to_string(uint32_t{n.port_last} - n.port_first + 1) + " ports but workers.count is " +
                   std::to_string(c.workers.count) + "; each worker owns a slice of at least one port");
        nm.range_ok = false;
    }

    if (const auto* f = r.get("filtering")) {
        if (const auto* s = want_string(l, *f, r.key("filtering"))) {
            if (*s == "endpoint-independent")
                n.filtering = nat_filtering::endpoint_independent;
            else if (*s == "address-and-port-dependent")
                n.filtering = nat_filtering::address_and_port_dependent;
            else
                l.fail(r.key("filtering"), line_of(*f),
                       "must be \"endpoint-independent\" or \"address-and-port-dependent\", got " + quote(*s));
        }
    }
    r.u32("max_sessions", n.max_sessions, 1024, k_max_sessions);
    r.u32("sessions_per_vm", n.sessions_per_vm, 0, k_max_sessions);
    // A dedicated VM's index shares a 32-bit lookup value with 8 flag bits (nat44_policy).
    if (r.u32("max_vms", n.max_vms, 1, 1u << 24)) nm.max_vms_line = r.line_of_key("max_vms");
    r.boolean("anti_spoofing", n.anti_spoofing);
    r.string("log_file", n.log_file, true);

    const auto sub = [&](std::string_view k) -> const toml::table* {
        const auto* x = r.get(k);
        return x != nullptr ? want_table(l, *x, r.key(k)) : nullptr;
    };
    if (const auto* tt = sub("timeouts")) {
        table_reader tr(l, *tt, "nat.timeouts", {"tcp_established_s", "tcp_transitory_s", "udp_s", "icmp_s"});
        tr.u32("tcp_established_s", n.timeouts.tcp_established_s, 1, k_max_timeout_s);
        tr.u32("tcp_transitory_s", n.timeouts.tcp_transitory_s, 1, k_max_timeout_s);
        tr.u32("udp_s", n.timeouts.udp_s, 1, k_max_timeout_s);
        tr.u32("icmp_s", n.timeouts.icmp_s, 1, k_max_timeout_s);
    }

    nm.first_port_line = nm.line;
    bool blocks_address_written = false;
    if (const auto* bt = sub("port_blocks")) {
        table_reader br(l, *bt, "nat.port_blocks", {"address", "first_port", "block_size"});
        nm.first_port_line = br.line();
        if (const auto* an = br.get("address")) {
            blocks_address_written = true;
            if (const auto a = want_ipv4(l, *an, br.key("address"))) {
                const auto& pool = n.public_addresses;
                if (std::find(pool.begin(), pool.end(), *a) != pool.end() ||
                    check_on_link(l, c, m, *a, port_role::uplink, true, br.key("address"), line_of(*an),
                                  "the port_blocks address must be one of nat.public_addresses or an address the "
                                  "uplink answers ARP for"))
                    n.port_blocks.address = *a;
            }
        }
        if (const auto* fp = br.get("first_port")) {
            nm.first_port_written = true;
            nm.first_port_line = line_of(*fp);
            if (const auto p = want_port(l, *fp, br.key("first_port")))
                n.port_blocks.first_port = *p;
            else
                nm.blocks_ok = false;
        }
        const auto* bs = br.get("block_size");
        if (bs != nullptr) {
            if (const auto p = want_port(l, *bs, br.key("block_size")))
                n.port_blocks.block_size = *p;
            else
                nm.blocks_ok = false;
        }
        if (nm.blocks_ok && (65536u - n.port_blocks.first_port) / n.port_blocks.block_size == 0) {
            const bool on_size = bs != nullptr;
            l.fail(br.key(on_size ? "block_size" : "first_port"), on_size ? line_of(*bs) : nm.first_port_line,
                   "no whole port block fits: first_port " + std::to_string(n.port_blocks.first_port) + " leaves " +
                       std::to_string(65536u - n.port_blocks.first_port) + " ports up to 65535, fewer than block_size " +
                       std::to_string(n.port_blocks.block_size));
            nm.blocks_ok = false;
        }
    }
    // The default address: the first public address (filled in, so users of the config
    // need not repeat the rule).
    if (!blocks_address_written && !n.public_addresses.empty()) n.port_blocks.address = n.public_addresses.front();

    if (const auto* pt = sub("proxy")) {
        table_reader pr(l, *pt, "nat.proxy", {"service", "service_port", "upstream"});
        if (const auto* x = pr.get("service")) {
            nm.proxy_service_written = true;
            n.proxy.service = want_ipv4(l, *x, pr.key("service"));
        }
        if (const auto* x = pr.get("service_port"))
            if (const auto p = want_port(l, *x, pr.key("service_port"))) n.proxy.service_port = *p;
        if (const auto* x = pr.get("upstream")) {
            nm.proxy_upstream_written = true;
            n.proxy.upstream = want_ipv4(l, *x, pr.key("upstream"));
        }
    }

    if (const auto* fw = r.get("forwards")) {
        if (fw->is_table()) {
            l.fail(r.key("forwards"), line_of(*fw),
                   "expected an array of tables ([[nat.forwards]]), got a single table ([nat.forwards])");
        } else {
            each_element(l, *fw, r.key("forwards"), [&](const toml::node& e, const std::string& key) {
                if (const auto* ft = want_table(l, e, key)) {
                    n.forwards.emplace_back();
                    nm.forwards.emplace_back();
                    parse_forward(l, *ft, key, c, m, n.forwards.back(), nm.forwards.back());
                }
            });
        }
    }
}

void parse_vm(loader& l, const toml::table& t, const std::string& path, const config& c, const meta& m,
              const nat_meta& nm, vm_config& v, vm_meta& vmm) {
    table_reader r(l, t, path,
                   {"name", "mac", "ipv4", "ipv6", "egress", "public_address", "port_block", "proxy_port",
                    "proxy_force", "organization_id", "max_sessions"});
    vmm.key = path;
    v.line = r.line();
    if (const auto* n = r.require("name")) {
        vmm.name_line = line_of(*n);
        vmm.name_ok = r.string("name", v.name);
    }
    if (const auto* n = r.require("mac")) {
        vmm.mac_line = line_of(*n);
        if (const auto mac = want_mac(l, *n, r.key("mac"))) {
            v.mac = *mac;
            vmm.mac_ok = true;
        }
    }
    if (const auto* n = r.require("ipv4")) {
        vmm.ipv4_line = line_of(*n);
        if (const auto a = want_ipv4(l, *n, r.key("ipv4"))) {
            v.ipv4 = *a;
            vmm.ipv4_parsed = true;
            check_on_link(l, c, m, *a, port_role::vm, false, r.key("ipv4"), vmm.ipv4_line,
                          "a VM is reached through a vm port");
        }
    }
    if (const auto* n = r.get("ipv6")) {
        vmm.ipv6_line = line_of(*n);
        if (const auto* text = want_string(l, *n, r.key("ipv6"))) {
            const auto a = parse_ip(*text);
            std::string why;
            if (!a || !a->v6) {
                why = "expected an IPv6 address like \"2001:db8:1::101\", got " + quote(*text);
            } else if (why = not_unicast_reason(*a); !why.empty()) {
                why = to_string(*a) + " " + why + "; the VM's own global address is needed";
            } else if (in("fe80::/10", *a)) {
                why = to_string(*a) + " is link-local; the VM's dedicated address is a global one (its link-local "
                                      "address needs no binding)";
            } else if (const addr_entry* own = own_address(m, *a)) {
                why = to_string(*a) + " is the gateway's own address (" + own->key + ", line " +
                      std::to_string(own->line) + ")";
            }
            if (why.empty()) {
                v.ipv6 = *a;
                vmm.ipv6_ok = true;
            } else {
                l.fail(r.key("ipv6"), vmm.ipv6_line, why);
            }
        }
    }
    vmm.egress_line = r.line_of_key("egress");
    if (const auto* n = r.get("egress")) {
        vmm.egress_ok = false;
        if (const auto* s = want_string(l, *n, r.key("egress"))) {
            for (const auto e : {egress_policy::masquerade, egress_policy::dedicated, egress_policy::port_block,
                                 egress_policy::proxy}) {
                if (*s == egress_text(e)) {
                    v.egress = e;
                    vmm.egress_ok = true;
                }
            }
            if (!vmm.egress_ok)
                l.fail(r.key("egress"), vmm.egress_line,
                       "must be \"masquerade\", \"dedicated\", \"port_block\" or \"proxy\", got " + quote(*s));
        }
    }
    r.u32("max_sessions", v.max_sessions, 0, k_max_sessions);
    if (!vmm.egress_ok) return;  // the policy's own keys cannot be judged

    const std::string egress_is = std::string("egress = \"") + egress_text(v.egress) + "\"";
    if (v.egress != egress_policy::masquerade && !c.nat.enabled) {
        l.fail(r.key("egress"), vmm.egress_line,
               egress_is + " needs NAT: add a [nat] table (without one, [[vms]] are anti-spoofing bindings only and "
                           "egress must be \"masquerade\")");
    }
    // Keys of another policy.
    for (const auto& [k, owner] : {std::pair{"public_address", egress_policy::dedicated},
                                   std::pair{"port_block", egress_policy::port_block},
                                   std::pair{"proxy_port", egress_policy::proxy},
                                   std::pair{"proxy_force", egress_policy::proxy},
                                   std::pair{"organization_id", egress_policy::proxy}}) {
        if (r.get(k) != nullptr && v.egress != owner)
            l.fail(r.key(k), r.line_of_key(k),
                   std::string("only for egress = \"") + egress_text(owner) + "\" (this VM has " + egress_is + ")");
    }
    const auto missing = [&](std::string_view k, const std::string& what) {
        l.fail(r.key(k), r.line(), "required key is missing (" + egress_is + " needs " + what + ")");
    };
    switch (v.egress) {
        case egress_policy::masquerade: break;
        case egress_policy::dedicated:
            if (const auto* n = r.get("public_address")) {
                vmm.public_line = line_of(*n);
                v.public_address = want_ipv4(l, *n, r.key("public_address"));
                vmm.public_ok = v.public_address.has_value();
            } else {
                missing("public_address", "the VM's own public IPv4 address");
            }
            break;
        case egress_policy::port_block:
            if (const auto* n = r.get("port_block")) {
                vmm.block_line = line_of(*n);
                if (const auto k = want_u32(l, *n, r.key("port_block"), 0, 65535)) {
                    v.port_block = *k;
                    vmm.block_ok = true;
                }
            } else {
                missing("port_block", "the index of the VM's port block");
            }
            break;
        case egress_policy::proxy:
            if (const auto* n = r.get("organization_id")) {
                // The port comes from the organization's assignment ([proxy_ports]);
                // a proxy_port beside it is the assignment it starts with.
                vmm.org_line = line_of(*n);
                if (r.string("organization_id", v.organization_id) && !valid_organization_id(v.organization_id)) {
                    l.fail(r.key("organization_id"), vmm.org_line,
                           "must be 1..128 characters of A-Z a-z 0-9 . _ - : @, got " + quote(v.organization_id));
                    v.organization_id.clear();
                }
            }
            if (const auto* n = r.get("proxy_port")) {
                vmm.proxy_port_line = line_of(*n);
                if (const auto p = want_port(l, *n, r.key("proxy_port"))) v.proxy_port = *p;
            } else if (r.get("organization_id") == nullptr) {
                missing("proxy_port", "the VM's port on nat.proxy.upstream");  // or an organization_id
            }
            r.boolean("proxy_force", v.proxy_force);
            if (c.nat.enabled) {
                std::string lacks;
                if (!nm.proxy_service_written) lacks = "nat.proxy.service";
                if (!nm.proxy_upstream_written) lacks += (lacks.empty() ? "" : " and ") + std::string("nat.proxy.upstream");
                if (!lacks.empty())
                    l.fail(r.key("egress"), vmm.egress_line,
                           egress_is + " needs a [nat.proxy] table with service and upstream (missing: " + lacks + ")");
            }
            break;
    }
}

void validate_vms(loader& l, const config& c, const meta& m, const nat_meta& nm, const std::vector<vm_meta>& vms) {
    const nat_config& n = c.nat;
    std::map<std::string, std::size_t> names;
    std::map<mac_address, std::size_t> macs;
    std::map<std::array<uint8_t, 16>, std::size_t> addrs, addrs6, publics;
    std::map<uint32_t, std::size_t> blocks;
    const auto also = [&](std::size_t j, int line) {
        return vms[j].key + " (" + (c.vms[j].name.empty() ? "" : quote(c.vms[j].name) + ", ") + "line " +
               std::to_string(line) + ")";
    };
    const uint32_t block_count =
        nm.blocks_ok ? (65536u - n.port_blocks.first_port) / n.port_blocks.block_size : 0;
    for (std::size_t i = 0; i < c.vms.size(); ++i) {
        const vm_config& v = c.vms[i];
        const vm_meta& vm = vms[i];
        if (vm.name_ok) {
            if (const auto [it, fresh] = names.emplace(v.name, i); !fresh)
                l.fail(vm.key + ".name", vm.name_line,
                       "duplicate VM name " + quote(v.name) + " (also " + vms[it->second].key + ".name, line " +
                           std::to_string(vms[it->second].name_line) + ")");
        }
        if (vm.mac_ok) {
            if (const auto [it, fresh] = macs.emplace(v.mac, i); !fresh)
                l.fail(vm.key + ".mac", vm.mac_line,
                       to_string(v.mac) + " is already the MAC of " + also(it->second, vms[it->second].mac_line));
        }
        if (vm.ipv4_parsed) {
            if (const auto [it, fresh] = addrs.emplace(v.ipv4.bytes, i); !fresh)
                l.fail(vm.key + ".ipv4", vm.ipv4_line,
                       to_string(v.ipv4) + " is already the address of " + also(it->second, vms[it->second].ipv4_line));
        }
        if (vm.ipv6_ok) {
            if (const auto [it, fresh] = addrs6.emplace(v.ipv6->bytes, i); !fresh)
                l.fail(vm.key + ".ipv6", vm.ipv6_line,
                       to_string(*v.ipv6) + " is already the address of " + also(it->second, vms[it->second].ipv6_line));
        }
        if (!n.enabled) continue;
        if (vm.public_ok) {
            const ip_address& a = *v.public_address;
            const std::string key = vm.key + ".public_address";
            if (std::find(n.public_addresses.begin(), n.public_addresses.end(), a) != n.public_addresses.end()) {
                l.fail(key, vm.public_line,
                       to_string(a) + " is one of nat.public_addresses (the shared masquerade pool); a dedicated "
                                      "address belongs to one VM alone");
            } else if (n.port_blocks.address && *n.port_blocks.address == a) {
                l.fail(key, vm.public_line,
                       to_string(a) + " is the nat.port_blocks address (shared by the port_block VMs); a dedicated "
                                      "address belongs to one VM alone");
            } else if (const auto [it, fresh] = publics.emplace(a.bytes, i); !fresh) {
                l.fail(key, vm.public_line,
                       to_string(a) + " is already the public address of " +
                           also(it->second, vms[it->second].public_line));
            } else {
                check_on_link(l, c, m, a, port_role::uplink, false, key, vm.public_line,
                              "the uplink must answer ARP for a dedicated address");
            }
        }
        if (vm.block_ok && nm.blocks_ok) {
            const std::string key = vm.key + ".port_block";
            if (v.port_block >= block_count) {
                l.fail(key, vm.block_line,
                       "block " + std::to_string(v.port_block) + " does not exist: nat.port_blocks has " +
                           std::to_string(block_count) + " block" + (block_count == 1 ? "" : "s") + " (first_port " +
                           std::to_string(n.port_blocks.first_port) + ", block_size " +
                           std::to_string(n.port_blocks.block_size) + "), numbered 0.." +
                           std::to_string(block_count - 1));
            } else if (const auto [it, fresh] = blocks.emplace(v.port_block, i); !fresh) {
                l.fail(key, vm.block_line,
                       "block " + std::to_string(v.port_block) + " is already the block of " +
                           also(it->second, vms[it->second].block_line));
            }
        }
    }
}

void validate_nat(loader& l, const config& c, const nat_meta& nm, const std::vector<vm_meta>& vms) {
    const nat_config& n = c.nat;
    if (!n.enabled) return;
    const auto in_pool = [&](const ip_address& a) {
        return std::find(n.public_addresses.begin(), n.public_addresses.end(), a) != n.public_addresses.end();
    };
    const auto& pb = n.port_blocks;
    const bool blocks_known = nm.blocks_ok && pb.address.has_value();
    const std::string area = blocks_known ? ports_text(pb.first_port, 65535) : std::string();
    const std::string range = ports_text(n.port_first, n.port_last);

    // The port-block area and the dynamic range share an address.
    if (blocks_known && nm.range_ok && in_pool(*pb.address) && pb.first_port <= n.port_last) {
        const bool on_blocks = nm.first_port_written;
        l.fail(on_blocks ? nm.first_port_key : nm.range_key, on_blocks ? nm.first_port_line : nm.range_line,
               "the port-block area " + area + " on " + to_string(*pb.address) + " overlaps the dynamic port_range " +
                   range + "; end port_range below nat.port_blocks.first_port, or move first_port above " +
                   std::to_string(n.port_last));
    }

    const bool vm_addrs_known =
        std::all_of(vms.begin(), vms.end(), [](const vm_meta& v) { return v.ipv4_parsed; });
    for (std::size_t i = 0; i < n.forwards.size(); ++i) {
        const nat_forward_config& f = n.forwards[i];
        const forward_meta& fm = nm.forwards[i];
        if (fm.ok) {
            const char* proto = f.protocol == 6 ? "tcp" : "udp";
            const std::string what = std::string(proto) + " " + to_string(f.public_address) + ":" +
                                     ports_text(f.port_first, f.port_last);
            bool reported = false;
            for (std::size_t j = 0; j < i && !reported; ++j) {
                const nat_forward_config& g = n.forwards[j];
                if (!nm.forwards[j].ok || g.protocol != f.protocol || g.public_address != f.public_address ||
                    !ranges_overlap(f.port_first, f.port_last, g.port_first, g.port_last))
                    continue;
                l.fail(fm.ports_key, fm.ports_line,
                       what + " overlaps " + nm.forwards[j].key + " (line " + std::to_string(g.line) + ", ports " +
                           ports_text(g.port_first, g.port_last) + ")");
                reported = true;
            }
            if (!reported && nm.range_ok && in_pool(f.public_address) &&
                ranges_overlap(f.port_first, f.port_last, n.port_first, n.port_last)) {
                l.fail(fm.ports_key, fm.ports_line,
                       what + " falls inside the dynamic port_range " + range +
                           ", which the NAT hands out to outgoing sessions; use ports outside it or narrow "
                           "nat.port_range");
                reported = true;
            }
            if (!reported && blocks_known && *pb.address == f.public_address && f.port_last >= pb.first_port) {
                l.fail(fm.ports_key, fm.ports_line,
                       what + " falls inside the port-block area " + area +
                           " (nat.port_blocks); use ports below first_port " + std::to_string(pb.first_port));
            }
        }
        if (fm.target_ok) {
            // Forwards are stateless: the data plane finds a reply's forward by the VM's
            // address and source port, so one VM port can be the target of one forward.
            for (std::size_t j = 0; j < i; ++j) {
                const nat_forward_config& g = n.forwards[j];
                if (!nm.forwards[j].target_ok || !same_target(f, g)) continue;
                l.fail(fm.target_key, fm.target_line,
                       std::string(f.protocol == 6 ? "tcp" : "udp") + " " + to_string(f.to) + ":" +
                           ports_text(f.to_port, f.to_port_last()) + " is already the target of " +
                           nm.forwards[j].key + " (line " + std::to_string(g.line) + ", " + to_string(g.to) + ":" +
                           ports_text(g.to_port, g.to_port_last()) +
                           "); a VM port takes one forward, since its replies are matched to the forward by it");
                break;
            }
        }
        if (fm.to_ok && n.anti_spoofing && !c.vms.empty() && vm_addrs_known &&
            std::none_of(c.vms.begin(), c.vms.end(), [&](const vm_config& v) { return v.ipv4 == f.to; })) {
            l.fail(fm.key + ".to", fm.to_line,
                   to_string(f.to) + " is not the ipv4 of any [[vms]] entry; with nat.anti_spoofing on, the "
                                     "replies from it would be dropped as spoofed (add a [[vms]] binding for " +
                       to_string(f.to) + ", fix the address, or set nat.anti_spoofing = false)");
        }
    }
}

// ---- the DHCP server ([dhcp], [[dhcp.networks]]) ------------------------------------------

uint32_t v4_value(const ip_address& a) {
    return uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 | uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

ip_address v4_address(uint32_t v) {
    ip_address a;
    a.bytes[0] = static_cast<uint8_t>(v >> 24);
    a.bytes[1] = static_cast<uint8_t>(v >> 16);
    a.bytes[2] = static_cast<uint8_t>(v >> 8);
    a.bytes[3] = static_cast<uint8_t>(v);
    return a;
}

std::string v4_range_text(uint32_t first, uint32_t last) {
    return first == last ? to_string(v4_address(first))
                         : to_string(v4_address(first)) + "-" + to_string(v4_address(last));
}

/// One pool entry: "192.168.100.100-192.168.100.199" or a prefix "192.168.100.128/25".
std::optional<std::pair<uint32_t, uint32_t>> want_pool_range(loader& l, const toml::node& n, const std::string& key) {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    const std::string_view text = *s;
    const auto bad = [&] {
        l.fail(key, line_of(n),
               "expected an IPv4 range like \"192.168.100.100-192.168.100.199\" or a prefix like "
               "\"192.168.100.128/25\", got " + quote(text));
        return std::nullopt;
    };
    if (const auto dash = text.find('-'); dash != std::string_view::npos) {
        const auto first = parse_ip(text.substr(0, dash));
        const auto last = parse_ip(text.substr(dash + 1));
        if (!first || !last || first->v6 || last->v6) return bad();
        if (v4_value(*first) > v4_value(*last)) {
            l.fail(key, line_of(n), "range " + quote(text) + " ends before it starts");
            return std::nullopt;
        }
        return std::pair{v4_value(*first), v4_value(*last)};
    }
    const auto p = parse_prefix(text);
    if (!p || p->addr.v6) return bad();
    const ip_prefix net = network_of(*p);
    if (net != *p) {
        l.fail(key, line_of(n), "host bits set in " + to_string(*p) + "; did you mean " + to_string(net) + "?");
        return std::nullopt;
    }
    return std::pair{v4_value(net.addr), v4_value(with_host_bits(*p, true))};
}

void parse_dhcp_network(loader& l, const toml::table& t, const std::string& path, const config& c, const meta& m,
                        dhcp_network_config& d) {
    table_reader r(l, t, path,
                   {"port", "pool", "lease_time_s", "routers", "dns", "domain", "mtu", "classless_routes", "ipv6_prefix"});
    d.line = r.line();

    // The port: a vm port with an IPv4 address.
    const port_config* port = nullptr;
    const port_meta* pm = nullptr;
    if (r.require("port") != nullptr && r.string("port", d.port)) {
        for (std::size_t i = 0; i < c.ports.size(); ++i) {
            if (m.ports[i].name_ok && c.ports[i].name == d.port) port = &c.ports[i], pm = &m.ports[i];
        }
        if (port == nullptr) {
            std::string known;
            for (std::size_t i = 0; i < c.ports.size(); ++i)
                if (m.ports[i].name_ok && c.ports[i].role == port_role::vm)
                    known += (known.empty() ? "" : ", ") + quote(c.ports[i].name);
            l.fail(r.key("port"), r.line_of_key("port"),
                   "no port named " + quote(d.port) + (known.empty() ? "" : " (vm ports: " + known + ")"));
        } else if (!pm->role_ok) {
            port = nullptr;  // its role has its own error
        } else if (port->role != port_role::vm) {
            l.fail(r.key("port"), r.line_of_key("port"),
                   "port " + quote(d.port) + " is an uplink; DHCP is served on vm ports");
            port = nullptr;
        } else if (port->ipv4.empty()) {
            l.fail(r.key("port"), r.line_of_key("port"),
                   "port " + quote(d.port) + " has no IPv4 address; the server needs one in the network it serves");
            port = nullptr;
        }
    }

    // The pool: ranges inside one connected prefix of the port, not overlapping.
    const ip_prefix* prefix = nullptr;  // the port's address whose prefix holds the pool
    if (const auto* pn = r.require("pool")) {
        std::vector<std::pair<std::pair<uint32_t, uint32_t>, std::string>> seen;
        each_element(l, *pn, r.key("pool"), [&](const toml::node& e, const std::string& key) {
            const auto range = want_pool_range(l, e, key);
            if (!range) return;
            const std::string text = v4_range_text(range->first, range->second);
            if (port != nullptr) {
                const ip_prefix* in = nullptr;
                for (const auto& a : port->ipv4) {
                    if (contains(a, v4_address(range->first)) && contains(a, v4_address(range->second))) in = &a;
                }
                if (in == nullptr) {
                    std::string have;
                    for (const auto& a : port->ipv4) have += (have.empty() ? "" : ", ") + to_string(network_of(a));
                    l.fail(key, line_of(e),
                           text + " is not inside a connected prefix of port " + quote(d.port) + " (" + have + ")");
                    return;
                }
                if (prefix != nullptr && !(network_of(*prefix) == network_of(*in))) {
                    l.fail(key, line_of(e),
                           text + " is in " + to_string(network_of(*in)) + " but the pool's first entry is in " +
                               to_string(network_of(*prefix)) + "; one network's pool lies in one prefix");
                    return;
                }
                if (in->length < 8 || in->length > 30) {
                    l.fail(key, line_of(e),
                           to_string(network_of(*in)) + ": DHCP pools need a connected prefix from /8 to /30");
                    return;
                }
                prefix = in;
            }
            for (const auto& [other, other_key] : seen) {
                if (ranges_overlap(range->first, range->second, other.first, other.second)) {
                    l.fail(key, line_of(e), text + " overlaps " + other_key);
                    return;
                }
            }
            seen.emplace_back(*range, key);
            d.pool.push_back(*range);
        });
        if (pn->is_array() && pn->as_array()->empty())
            l.fail(r.key("pool"), line_of(*pn), "at least one address range is required");
    }

    r.u32("lease_time_s", d.lease_time_s, 60, UINT32_MAX);

    // Addresses the clients are told about: routers and route next hops are on-link.
    const auto on_link = [&](const ip_address& a, const std::string& key, int line, std::string_view what) {
        if (prefix == nullptr || contains(*prefix, a)) return true;
        l.fail(key, line,
               to_string(a) + " is not inside " + to_string(network_of(*prefix)) + ", the network served; " +
                   std::string(what) + " must be on-link for the clients");
        return false;
    };
    if (const auto* n = r.get("routers")) {
        each_element(l, *n, r.key("routers"), [&](const toml::node& e, const std::string& key) {
            if (const auto a = want_ipv4(l, e, key); a && on_link(*a, key, line_of(e), "a router"))
                d.routers.push_back(*a);
        });
    }
    if (const auto* n = r.get("dns")) {
        each_element(l, *n, r.key("dns"), [&](const toml::node& e, const std::string& key) {
            if (const auto a = want_ipv4(l, e, key)) d.dns.push_back(*a);
        });
    }
    if (r.string("domain", d.domain)) {
        const bool ok = d.domain.size() <= 253 && std::all_of(d.domain.begin(), d.domain.end(), [](char ch) {
                            return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                                   ch == '-' || ch == '.';
                        });
        if (!ok) {
            l.fail(r.key("domain"), r.line_of_key("domain"),
                   "must be a DNS name of at most 253 characters (letters, digits, '-' and '.'), got " +
                       quote(d.domain));
            d.domain.clear();
        }
    }
    if (r.u32("mtu", d.mtu, 576, 9000) && port != nullptr && d.mtu > port->mtu) {
        l.fail(r.key("mtu"), r.line_of_key("mtu"),
               std::to_string(d.mtu) + " is above the MTU of port " + quote(d.port) + " (" + std::to_string(port->mtu) +
                   ")");
    }
    if (const auto* n = r.get("classless_routes")) {
        each_element(l, *n, r.key("classless_routes"), [&](const toml::node& e, const std::string& key) {
            const auto* rt = want_table(l, e, key);
            if (rt == nullptr) return;
            table_reader rr(l, *rt, key, {"prefix", "via"});
            dhcp_route_config route;
            bool ok = true;
            if (const auto* pfx = rr.require("prefix")) {
                const auto p = parse_network_prefix(l, *pfx, rr.key("prefix"), false);
                ok = p.has_value();
                if (p) route.prefix = *p;
            } else {
                ok = false;
            }
            if (const auto* via = rr.require("via")) {
                const auto a = want_ipv4(l, *via, rr.key("via"));
                ok = ok && a && on_link(*a, rr.key("via"), line_of(*via), "a route's next hop");
                if (a) route.via = *a;
            } else {
                ok = false;
            }
            if (ok) d.classless_routes.push_back(route);
        });
    }
    if (const auto* n = r.get("ipv6_prefix")) {
        if (const auto p = parse_network_prefix(l, *n, r.key("ipv6_prefix"), true)) {
            if (p->length != 64) {
                l.fail(r.key("ipv6_prefix"), line_of(*n),
                       "must be a /64 (each VM gets one /128 of it), got " + to_string(*p));
            } else {
                d.ipv6_prefix = *p;
            }
        }
    }
}

void parse_dhcp(loader& l, const toml::table& t, config& c, const meta& m) {
    dhcp_config& d = c.dhcp;
    table_reader r(l, t, "dhcp", {"state_dir", "networks"});
    d.enabled = true;
    r.string("state_dir", d.state_dir);
    const auto* n = r.require("networks");
    if (n == nullptr) return;
    if (n->is_table()) {
        l.fail(r.key("networks"), line_of(*n),
               "expected an array of tables ([[dhcp.networks]]), got a single table ([dhcp.networks])");
        return;
    }
    std::map<std::string, std::pair<std::string, int>> ports;
    each_element(l, *n, r.key("networks"), [&](const toml::node& e, const std::string& key) {
        const auto* nt = want_table(l, e, key);
        if (nt == nullptr) return;
        d.networks.emplace_back();
        parse_dhcp_network(l, *nt, key, c, m, d.networks.back());
        const dhcp_network_config& net = d.networks.back();
        if (net.port.empty()) return;
        if (const auto [it, fresh] = ports.emplace(net.port, std::pair{key, net.line}); !fresh) {
            l.fail(key + ".port", line_of(*nt->get("port")),
                   "port " + quote(net.port) + " already has a DHCP network (" + it->second.first + ", line " +
                       std::to_string(it->second.second) + "); one network per port");
        }
    });
    if (n->is_array() && n->as_array()->empty())
        l.fail(r.key("networks"), line_of(*n), "at least one [[dhcp.networks]] table is required");
}

// ---- [api] and [metrics] -------------------------------------------------------------------

constexpr std::size_t k_min_secret = 16;           ///< bytes; shorter secrets are guessable
constexpr std::size_t k_max_secret = 1024;
constexpr std::size_t k_max_secret_file = 4096;

/// "127.0.0.1:1537" or "[::1]:1537": an IP literal (no names: a listener must not
/// depend on DNS at start-up) and a port 1..65535.
/// `examples` goes into the error message.
std::optional<listen_address> want_listen(loader& l, const toml::node& n, const std::string& key,
                                          std::string_view examples = "\"127.0.0.1:1537\" or \"[::1]:1537\"") {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    const auto bad = [&](const std::string& why) {
        l.fail(key, line_of(n), "expected ADDRESS:PORT like " + std::string(examples) + ", got " + quote(*s) + why);
        return std::nullopt;
    };
    const std::string_view text = *s;
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad(" (no port)");
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    const auto addr = parse_ip(host);
    if (!addr) return bad(" (the address must be an IP literal)");
    if (addr->v6 != bracketed) return bad(addr->v6 ? " (write IPv6 addresses in brackets)" : " (brackets are for IPv6)");
    uint32_t port = 0;
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return bad(" (the port must be a number)");
    for (char c : port_text) port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port == 0 || port > 65535) return bad(" (the port must be between 1 and 65535)");
    return listen_address{*addr, static_cast<uint16_t>(port)};
}

/// Why `secret` cannot be an x-api-secret header value, or empty if it can. Printable
/// ASCII without spaces: it travels in an HTTP header (RFC 9110 §5.5) and shells.
std::string secret_problem(std::string_view secret) {
    if (secret.size() < k_min_secret)
        return "must be at least " + std::to_string(k_min_secret) + " characters (got " +
               std::to_string(secret.size()) + ")";
    if (secret.size() > k_max_secret) return "must be at most " + std::to_string(k_max_secret) + " characters";
    if (!std::all_of(secret.begin(), secret.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
        return "must be printable ASCII without spaces (it is sent as the x-api-secret header)";
    return {};
}

/// A relative secret_file is taken from the config file's directory, so the same file
/// works whatever edgegated's working directory is.
std::string resolve_beside(const std::string& source_path, const std::string& path) {
    if (path.empty() || path.front() == '/') return path;
    const std::size_t slash = source_path.rfind('/');
    return slash == std::string::npos ? path : source_path.substr(0, slash + 1) + path;
}

/// The text of a small regular file, without its trailing newline(s); at most `max`
/// bytes are read. nullopt (with the error under `key`) when it cannot be read.
std::optional<std::string> read_small_file(loader& l, const std::string& key, int line, const std::string& path,
                                           std::size_t max) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    struct stat st {};
    if (f == nullptr) {
        l.fail(key, line, "cannot read " + path + ": " + std::strerror(errno));
        return std::nullopt;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        // A FIFO or device would block or never end: --check-config must not hang.
        std::fclose(f);
        l.fail(key, line, path + " is not a regular file");
        return std::nullopt;
    }
    std::string text(max + 1, '\0');
    text.resize(std::fread(text.data(), 1, text.size(), f));
    std::fclose(f);
    // One trailing newline is how `echo`/editors leave a file; not part of the content.
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

void parse_api(loader& l, const toml::table& t, const std::string& source_path, api_config& a) {
    table_reader r(l, t, "api", {"listen", "secret", "secret_file", "max_body_bytes", "request_timeout_ms"});
    a.enabled = true;
    if (const auto* n = r.get("listen")) {
        if (const auto v = want_listen(l, *n, r.key("listen"))) a.listen = *v;
    }
    const auto* secret = r.get("secret");
    const auto* file = r.get("secret_file");
    if (secret != nullptr && file != nullptr) {
        l.fail(r.key("secret_file"), line_of(*file), "give either secret or secret_file, not both");
    } else if (secret != nullptr) {
        if (const auto* s = want_string(l, *secret, r.key("secret"))) {
            if (const auto why = secret_problem(*s); !why.empty())
                l.fail(r.key("secret"), line_of(*secret), why);
            else
                a.secret = *s;
        }
    } else if (file != nullptr) {
        if (r.string("secret_file", a.secret_file)) {
            const std::string path = resolve_beside(source_path, a.secret_file);
            if (auto text = read_small_file(l, r.key("secret_file"), line_of(*file), path, k_max_secret_file)) {
                if (const auto why = secret_problem(*text); !why.empty())
                    l.fail(r.key("secret_file"), line_of(*file), "the secret in " + path + " " + why);
                else
                    a.secret = std::move(*text);
            }
        }
    } else {
        l.fail(r.key("secret"), r.line(),
               "required key is missing (secret = \"...\" or secret_file = \"PATH\"); every API request must "
               "carry it in the x-api-secret header");
    }
    r.u32("max_body_bytes", a.max_body_bytes, 1024, 16u << 20);
    r.u32("request_timeout_ms", a.request_timeout_ms, 100, 600000);
}

void parse_metrics(loader& l, const toml::table& t, metrics_config& m) {
    table_reader r(l, t, "metrics", {"listen", "enabled"});
    m.enabled = true;
    r.boolean("enabled", m.enabled);
    if (const auto* n = r.get("listen")) {
        if (const auto v = want_listen(l, *n, r.key("listen"))) m.listen = *v;
    }
}

void validate_listeners(loader& l, const config& c, int api_line, int metrics_line) {
    if (c.api.enabled && c.metrics.enabled && c.api.listen.port == c.metrics.listen.port &&
        (c.api.listen.address == c.metrics.listen.address || c.api.listen.address == ip_address{} ||
         c.metrics.listen.address == ip_address{} || c.api.listen.address == ip_address{true, {}} ||
         c.metrics.listen.address == ip_address{true, {}}))
        l.fail("metrics.listen", metrics_line,
               to_string(c.metrics.listen) + " is also api.listen (line " + std::to_string(api_line) +
                   "); the API and the metrics exposer need different ports");
}

// ---- [[wireguard]] ------------------------------------------------------------------------------

constexpr std::size_t k_max_tunnel_name = 15;
constexpr std::size_t k_max_peer_name = 64;
/// Outer IPv4 + UDP + WireGuard transport header + tag around the inner packet.
constexpr uint32_t k_wireguard_overhead4 = 20 + 8 + 16 + 16;
/// The same over IPv6 (80: why wg-quick's default MTU is 1420).
constexpr uint32_t k_wireguard_overhead6 = 40 + 8 + 16 + 16;

/// A key file (`wg genkey` output): 44 characters of base64.
std::optional<wg_key> read_key_file(loader& l, const std::string& key, int line, const std::string& path) {
    const auto text = read_small_file(l, key, line, path, 256);
    if (!text) return std::nullopt;
    auto k = decode_wg_key(*text);
    if (!k) l.fail(key, line, path + " does not hold a WireGuard key (44 characters of base64, as `wg genkey` writes)");
    return k;
}

std::optional<wg_key> want_wg_key(loader& l, const toml::node& n, const std::string& key) {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    auto k = decode_wg_key(*s);
    if (!k) l.fail(key, line_of(n), "expected a WireGuard key (44 characters of base64), got " + quote(*s));
    return k;
}

void parse_wireguard_peer(loader& l, const toml::table& t, const std::string& path, const config& c,
                          wireguard_peer_config& p) {
    table_reader r(l, t, path,
                   {"name", "public_key", "preshared_key_file", "allowed_ips", "endpoint", "persistent_keepalive_s"});
    p.line = r.line();
    if (const auto* n = r.require("public_key")) {
        if (const auto k = want_wg_key(l, *n, r.key("public_key"))) p.public_key = *k;
    }
    if (r.string("name", p.name) && p.name.size() > k_max_peer_name)
        l.fail(r.key("name"), r.line_of_key("name"), "longer than " + std::to_string(k_max_peer_name) + " bytes");
    if (p.name.empty()) p.name = encode_wg_key(p.public_key);
    if (r.string("preshared_key_file", p.preshared_key_file)) {
        if (const auto k = read_key_file(l, r.key("preshared_key_file"), r.line_of_key("preshared_key_file"),
                                         resolve_beside(c.source_path, p.preshared_key_file))) {
            p.preshared_key = *k;
            p.has_preshared_key = true;
        }
    }
    if (const auto* n = r.require("allowed_ips")) {
        each_element(l, *n, r.key("allowed_ips"), [&](const toml::node& e, const std::string& key) {
            const auto* s = want_string(l, e, key);
            if (s == nullptr) return;
            const auto pfx = parse_prefix(*s);
            if (!pfx) {
                l.fail(key, line_of(e), "expected a prefix like \"10.99.0.0/24\" or \"fd00:99::/64\", got " + quote(*s));
                return;
            }
            if (!(network_of(*pfx) == *pfx)) {
                l.fail(key, line_of(e), to_string(*pfx) + " has host bits set; did you mean " +
                                            to_string(network_of(*pfx)) + "?");
                return;
            }
            p.allowed_ips.push_back(*pfx);
        });
        if (p.allowed_ips.empty() && n->is_array())
            l.fail(r.key("allowed_ips"), line_of(*n), "at least one prefix is needed: it is what the peer may send from "
                                                      "and what is routed to it");
    }
    if (const auto* n = r.get("endpoint")) {
        if (const auto ep = want_listen(l, *n, r.key("endpoint"), "\"198.51.100.7:51820\" or \"[2001:db8::7]:51820\"")) {
            if (const auto why = not_unicast_reason(ep->address); !why.empty()) {
                l.fail(r.key("endpoint"), line_of(*n), to_string(ep->address) + " " + why + "; a unicast address is needed");
            } else if (ep->address.v6 && in("fe80::/10", ep->address)) {
                l.fail(r.key("endpoint"), line_of(*n), to_string(ep->address) + " is link-local; the endpoint must be routable");
            } else if (ep->address.v6 && in("::ffff:0:0/96", ep->address)) {
                l.fail(r.key("endpoint"), line_of(*n), to_string(ep->address) + " is IPv4-mapped; write the IPv4 address itself");
            } else {
                p.endpoint = ep->address;
                p.endpoint_port = ep->port;
            }
        }
    }
    r.u32("persistent_keepalive_s", p.persistent_keepalive_s, 0, 65535);
}

void parse_wireguard(loader& l, const toml::table& t, const std::string& path, const config& c, wireguard_config& w) {
    table_reader r(l, t, path, {"name", "private_key_file", "address", "address6", "listen_port", "mtu", "mss_clamp",
                                     "under_load_handshakes_per_s", "rekey_after_time_s", "peers"});
    w.line = r.line();
    if (r.require("name") && r.string("name", w.name) && w.name.size() > k_max_tunnel_name)
        l.fail(r.key("name"), r.line_of_key("name"), "longer than " + std::to_string(k_max_tunnel_name) + " bytes");
    if (r.require("private_key_file") && r.string("private_key_file", w.private_key_file)) {
        if (const auto k = read_key_file(l, r.key("private_key_file"), r.line_of_key("private_key_file"),
                                         resolve_beside(c.source_path, w.private_key_file)))
            w.private_key = *k;
    }
    // The tunnel listens on the gateway's own addresses: `address`/`address6` must be
    // one of an uplink port's. Returns that port (nullptr after a reported error).
    const auto uplink_address = [&](const char* key, bool v6, const toml::node& n, ip_address& out) -> const port_config* {
        const auto a = want_unicast(l, n, r.key(key), v6);
        if (!a) return nullptr;
        for (const auto& p : c.ports)
            for (const auto& pa : v6 ? p.ipv6 : p.ipv4)
                if (p.role == port_role::uplink && pa.addr == *a) {
                    out = *a;
                    return &p;
                }
        l.fail(r.key(key), line_of(n), to_string(*a) + " is not an IPv" + (v6 ? "6" : "4") +
                                           " address of an uplink port; the tunnel listens on one of the gateway's own uplink addresses");
        return nullptr;
    };
    // Our own IPv4 address on an uplink port (default: the first one there).
    const port_config* uplink = nullptr;
    if (const auto* n = r.get("address")) {
        uplink = uplink_address("address", false, *n, w.address);
    } else {
        for (const auto& p : c.ports) {
            if (p.role == port_role::uplink && !p.ipv4.empty() && uplink == nullptr) {
                uplink = &p;
                w.address = p.ipv4.front().addr;
            }
        }
        if (uplink == nullptr)
            l.fail(r.key("address"), r.line(), "no uplink port has an IPv4 address to listen on; add one or set address");
    }
    // Optionally our own IPv6 address on an uplink port too (no default: listening on
    // IPv6 is the operator's choice).
    const port_config* uplink6 = nullptr;
    if (const auto* n = r.get("address6")) {
        ip_address a6;
        if ((uplink6 = uplink_address("address6", true, *n, a6)) != nullptr) w.address6 = a6;
    }
    if (const auto* n = r.get("listen_port")) {
        if (const auto v = want_port(l, *n, r.key("listen_port"))) w.listen_port = *v;
    }
    if (r.u32("mtu", w.mtu, 576, 9000)) {
        const auto fits = [&](const port_config* up, uint32_t overhead, const char* family) {
            if (up != nullptr && w.mtu + overhead > up->mtu)
                l.fail(r.key("mtu"), r.line_of_key("mtu"),
                       std::to_string(w.mtu) + " + " + std::to_string(overhead) + " bytes of WireGuard over " + family +
                           " exceeds " + quote(up->name) + "'s MTU " + std::to_string(up->mtu) + "; at most " +
                           std::to_string(up->mtu - overhead));
        };
        fits(uplink, k_wireguard_overhead4, "IPv4");
        fits(uplink6, k_wireguard_overhead6, "IPv6");
    }
    r.boolean("mss_clamp", w.mss_clamp);
    r.u32("under_load_handshakes_per_s", w.under_load_handshakes_per_s, 1, 1000000);
    r.u32("rekey_after_time_s", w.rekey_after_time_s, 1, 120);
    if (const auto* n = r.get("peers")) {
        each_element(l, *n, r.key("peers"), [&](const toml::node& e, const std::string& key) {
            if (const auto* pt = want_table(l, e, key)) {
                w.peers.emplace_back();
                parse_wireguard_peer(l, *pt, key, c, w.peers.back());
            }
        });
    }
}

/// Across tunnels: unique names, listen sockets and peer keys; allowed IPs that take
/// no connected prefix and no other peer's exact prefix; listen ports NAT cannot hand out.
void validate_wireguard(loader& l, const config& c) {
    std::vector<std::pair<ip_prefix, std::string>> allowed_seen;
    std::vector<std::pair<wg_key, std::string>> keys_seen;
    for (std::size_t ti = 0; ti < c.wireguard.size(); ++ti) {
        const wireguard_config& w = c.wireguard[ti];
        const std::string tkey = "wireguard[" + std::to_string(ti) + "]";
        for (std::size_t tj = 0; tj < ti; ++tj) {
            const wireguard_config& o = c.wireguard[tj];
            if (!w.name.empty() && o.name == w.name)
                l.fail(tkey + ".name", w.line, "tunnel name " + quote(w.name) + " is also used by wireguard[" + std::to_string(tj) + "]");
            if (o.address == w.address && o.listen_port == w.listen_port)
                l.fail(tkey + ".listen_port", w.line, to_string(w.address) + ":" + std::to_string(w.listen_port) +
                                                          " is also wireguard[" + std::to_string(tj) + "]'s listen socket");
            if (w.address6 && o.address6 == w.address6 && o.listen_port == w.listen_port)
                l.fail(tkey + ".listen_port", w.line, "[" + to_string(*w.address6) + "]:" + std::to_string(w.listen_port) +
                                                          " is also wireguard[" + std::to_string(tj) + "]'s listen socket");
        }
        if (c.nat.enabled) {
            const bool public_addr = std::find(c.nat.public_addresses.begin(), c.nat.public_addresses.end(), w.address) !=
                                     c.nat.public_addresses.end();
            if (public_addr && w.listen_port >= c.nat.port_first && w.listen_port <= c.nat.port_last)
                l.fail(tkey + ".listen_port", w.line,
                       std::to_string(w.listen_port) + " is inside nat.port_range " + ports_text(c.nat.port_first, c.nat.port_last) +
                           " on " + to_string(w.address) + ": NAT could hand it to a VM; move one of them");
            const auto& pb = c.nat.port_blocks;
            const bool uses_blocks = std::any_of(c.vms.begin(), c.vms.end(),
                                                 [](const vm_config& v) { return v.egress == egress_policy::port_block; });
            const ip_address blocks_addr = pb.address ? *pb.address
                                                      : (c.nat.public_addresses.empty() ? ip_address{} : c.nat.public_addresses.front());
            if (uses_blocks && blocks_addr == w.address && w.listen_port >= pb.first_port)
                l.fail(tkey + ".listen_port", w.line,
                       std::to_string(w.listen_port) + " is inside nat.port_blocks (from " + std::to_string(pb.first_port) +
                           ") on " + to_string(w.address) + "; move one of them");
            for (const auto& f : c.nat.forwards)
                if (f.protocol == 17 && f.public_address == w.address && w.listen_port >= f.port_first && w.listen_port <= f.port_last)
                    l.fail(tkey + ".listen_port", w.line, "UDP " + std::to_string(w.listen_port) + " on " + to_string(w.address) +
                                                              " is also a port forward (line " + std::to_string(f.line) + ")");
        }
        for (std::size_t pi = 0; pi < w.peers.size(); ++pi) {
            const wireguard_peer_config& p = w.peers[pi];
            const std::string pkey = tkey + ".peers[" + std::to_string(pi) + "]";
            for (const auto& [k, where] : keys_seen)
                if (k == p.public_key)
                    l.fail(pkey + ".public_key", p.line, "this public key is also " + where + "; a key names one peer");
            keys_seen.emplace_back(p.public_key, pkey);
            if (p.endpoint && p.endpoint->v6 && !w.address6)
                l.fail(pkey + ".endpoint", p.line, "an IPv6 endpoint needs the tunnel to listen on IPv6 too: set " + tkey +
                                                       ".address6 to one of the uplink's IPv6 addresses");
            for (const auto& a : p.allowed_ips) {
                for (const auto& port : c.ports)
                    for (const auto& own : (a.addr.v6 ? port.ipv6 : port.ipv4))
                        if (overlaps(a, own))
                            l.fail(pkey + ".allowed_ips", p.line, to_string(a) + " overlaps " + to_string(network_of(own)) +
                                                                      " of port " + quote(port.name) +
                                                                      ": the tunnel would take that network's traffic");
                for (const auto& rt : c.routes)
                    if (rt.prefix == a)
                        l.fail(pkey + ".allowed_ips", p.line, to_string(a) + " is also a [[routes]] prefix");
                for (const auto& [b, where] : allowed_seen)
                    if (b == a) l.fail(pkey + ".allowed_ips", p.line, to_string(a) + " is also in " + where + "'s allowed_ips");
                allowed_seen.emplace_back(a, pkey);
            }
        }
    }
}

// ---- [proxy_ports] and [probes] ------------------------------------------------------------

/// "10001-19999" (or one port "10001"): an inclusive port range.
std::optional<std::pair<uint16_t, uint16_t>> want_port_span(loader& l, const toml::node& n, const std::string& key) {
    const auto* s = want_string(l, n, key);
    if (s == nullptr) return std::nullopt;
    const auto number = [](std::string_view t) -> std::optional<uint32_t> {
        if (t.empty() || t.size() > 5 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        uint32_t v = 0;
        for (char c : t) v = v * 10 + static_cast<uint32_t>(c - '0');
        return v;
    };
    const std::string_view text = *s;
    const std::size_t dash = text.find('-');
    const auto first = number(text.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : number(text.substr(dash + 1));
    if (!first || !last) {
        l.fail(key, line_of(n), "expected a port range like \"10001-19999\", got " + quote(*s));
        return std::nullopt;
    }
    if (*first < 1 || *last > 65535 || *first > *last) {
        l.fail(key, line_of(n), "ports must satisfy 1 <= first <= last <= 65535, got " + quote(*s));
        return std::nullopt;
    }
    return std::pair{static_cast<uint16_t>(*first), static_cast<uint16_t>(*last)};
}

void parse_proxy_ports(loader& l, const toml::table& t, proxy_ports_config& p) {
    table_reader r(l, t, "proxy_ports", {"range", "state_dir"});
    p.enabled = true;
    if (const auto* n = r.require("range")) {
        if (const auto v = want_port_span(l, *n, r.key("range"))) std::tie(p.first, p.last) = *v;
    }
    r.string("state_dir", p.state_dir);
}

/// Why `url` cannot be probed, or empty: http://HOST[:PORT][/PATH], HOST a name or an
/// IPv4 literal (the upstream proxy resolves it), no userinfo, fragment or spaces.
std::string probe_url_problem(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (url.substr(0, scheme.size()) != scheme) return "must start with http:// (the proxy fetches it as plain HTTP)";
    if (url.size() > 2048) return "must be at most 2048 characters";
    if (!std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
        return "must be printable ASCII without spaces";
    std::string_view rest = url.substr(scheme.size());
    const std::size_t slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    if (authority.find('@') != std::string_view::npos) return "must not carry user information (user@host)";
    if (url.find('#') != std::string_view::npos) return "must not have a fragment (#...)";
    const std::size_t colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (host.empty()) return "has no host";
    if (!std::all_of(host.begin(), host.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'; }))
        return "the host must be a DNS name or an IPv4 address";
    if (colon != std::string_view::npos) {
        const std::string_view port = authority.substr(colon + 1);
        uint32_t v = 0;
        if (port.empty() || port.size() > 5 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return "the port must be a number";
        for (char c : port) v = v * 10 + static_cast<uint32_t>(c - '0');
        if (v < 1 || v > 65535) return "the port must be between 1 and 65535";
    }
    return {};
}

void parse_probes(loader& l, const toml::table& t, probes_config& p) {
    table_reader r(l, t, "probes",
                   {"interval_ms", "timeout_ms", "jitter_pct", "max_per_second", "rise", "fall", "url",
                    "expect_address"});
    p.enabled = true;
    r.u32("interval_ms", p.interval_ms, 100, 86400000);
    const bool timeout_ok = r.u32("timeout_ms", p.timeout_ms, 10, 600000);
    r.u32("jitter_pct", p.jitter_pct, 0, 50);
    r.u32("max_per_second", p.max_per_second, 1, 100000);
    r.u32("rise", p.rise, 1, 100);
    r.u32("fall", p.fall, 1, 100);
    if (const auto* n = r.require("url")) {
        if (r.string("url", p.url)) {
            if (const auto why = probe_url_problem(p.url); !why.empty()) {
                l.fail(r.key("url"), line_of(*n), why + ", got " + quote(p.url.substr(0, 200)));
                p.url.clear();
            }
        }
    }
    if (const auto* n = r.get("expect_address")) p.expect_address = want_ipv4(l, *n, r.key("expect_address"));
    if (p.timeout_ms > p.interval_ms)
        l.fail(r.key(timeout_ok ? "timeout_ms" : "interval_ms"), r.line_of_key(timeout_ok ? "timeout_ms" : "interval_ms"),
               "timeout_ms (" + std::to_string(p.timeout_ms) + ") must not exceed interval_ms (" +
                   std::to_string(p.interval_ms) + "): one probe per port is in flight at a time");
}

/// [proxy_ports] and [probes] against the rest: the VMs that use assignments, the
/// upstream the probes go to, the store directory shared with [dhcp].
void validate_proxy_ports(loader& l, const config& c, const std::vector<vm_meta>& vms, int pp_line, int dir_line,
                          int probes_line, bool upstream_written) {
    const proxy_ports_config& pp = c.proxy_ports;
    std::map<std::string, std::pair<uint16_t, std::size_t>> org_ports;  // org -> (proxy_port, vm)
    for (std::size_t i = 0; i < c.vms.size() && i < vms.size(); ++i) {
        const vm_config& v = c.vms[i];
        if (v.egress != egress_policy::proxy || v.organization_id.empty()) continue;
        if (!pp.enabled) {
            l.fail(vms[i].key + ".organization_id", vms[i].org_line,
                   "needs a [proxy_ports] table (the range organizations' ports are assigned from)");
            continue;
        }
        if (v.proxy_port == 0) continue;
        if (v.proxy_port < pp.first || v.proxy_port > pp.last) {
            l.fail(vms[i].key + ".proxy_port", vms[i].proxy_port_line,
                   "port " + std::to_string(v.proxy_port) + " of organization " + quote(v.organization_id) +
                       " is outside proxy_ports.range " + ports_text(pp.first, pp.last));
            continue;
        }
        const auto [it, fresh] = org_ports.emplace(v.organization_id, std::pair{v.proxy_port, i});
        if (!fresh && it->second.first != v.proxy_port)
            l.fail(vms[i].key + ".proxy_port", vms[i].proxy_port_line,
                   "organization " + quote(v.organization_id) + " already has proxy_port " +
                       std::to_string(it->second.first) + " (" + vms[it->second.second].key + ", line " +
                       std::to_string(vms[it->second.second].proxy_port_line) +
                       "); one organization has one port");
    }
    if (pp.enabled && c.dhcp.enabled && dir_line != 0 && pp.state_dir != c.dhcp.state_dir)
        l.fail("proxy_ports.state_dir", dir_line,
               quote(pp.state_dir) + " differs from dhcp.state_dir " + quote(c.dhcp.state_dir) +
                   ": with [dhcp] the assignments live in its lease store (one store per directory); leave "
                   "state_dir out");
    if (c.probes.enabled) {
        if (!pp.enabled) l.fail("probes", probes_line, "needs a [proxy_ports] table (the ports it probes)");
        if (!c.nat.enabled || !upstream_written)  // (an invalid one has its own error)
            l.fail("probes", probes_line, "needs nat.proxy.upstream (the proxy host the probes connect to)");
    }
    (void)pp_line;
}

// ---- the whole document ----------------------------------------------------------------------

void load_document(loader& l, const toml::table& root, config& c) {
    meta m;
    table_reader r(l, root, "",
                   {"gateway", "workers", "ports", "routes", "host", "neighbours", "icmp", "uring", "dpdk", "nat",
                    "vms", "dhcp", "api", "metrics", "proxy_ports", "probes", "wireguard"});
    const auto section = [&](std::string_view k) -> const toml::table* {
        const auto* n = r.get(k);
        return n != nullptr ? want_table(l, *n, r.key(k)) : nullptr;
    };
    if (const auto* t = section("gateway")) parse_gateway(l, *t, c.gateway);
    if (const auto* t = section("workers")) parse_workers(l, *t, c.workers);
    if (const auto* t = section("host")) parse_host(l, *t, c.host, m);
    if (const auto* t = section("neighbours")) parse_neighbours(l, *t, c.neighbours);
    if (const auto* t = section("icmp")) parse_icmp(l, *t, c.icmp);
    if (const auto* t = section("uring")) parse_uring(l, *t, c.uring, m);
    if (const auto* t = section("dpdk")) parse_dpdk(l, *t, c.dpdk);
    int api_line = 0, metrics_line = 0;
    if (const auto* t = section("api")) {
        api_line = r.line_of_key("api");
        parse_api(l, *t, c.source_path, c.api);
        if (const auto* n = t->get("listen")) api_line = line_of(*n);
    }
    if (const auto* t = section("metrics")) {
        metrics_line = r.line_of_key("metrics");
        parse_metrics(l, *t, c.metrics);
        if (const auto* n = t->get("listen")) metrics_line = line_of(*n);
    }

    // [[ports]] and [[routes]] are arrays of tables.
    const auto tables = [&](std::string_view k, auto&& parse_one) {
        const auto* n = r.get(k);
        if (n == nullptr) return;
        if (n->is_table()) {
            l.fail(std::string(k), line_of(*n),
                   "expected an array of tables ([[" + std::string(k) + "]]), got a single table ([" +
                       std::string(k) + "])");
            return;
        }
        each_element(l, *n, std::string(k), [&](const toml::node& e, const std::string& key) {
            if (const auto* t = want_table(l, e, key)) parse_one(*t, key);
        });
    };
    tables("ports", [&](const toml::table& t, const std::string& key) {
        if (c.ports.size() == k_max_ports) {
            l.fail(key, line_of(t), "too many ports: at most " + std::to_string(k_max_ports));
            return;
        }
        c.ports.emplace_back();
        m.ports.emplace_back();
        parse_port(l, t, key, c.ports.back(), m.ports.back());
    });
    tables("routes", [&](const toml::table& t, const std::string& key) {
        c.routes.emplace_back();
        m.routes.emplace_back();
        parse_route(l, t, key, c.routes.back(), m.routes.back());
    });
    if (const auto* n = r.get("ports"); n == nullptr || (n->is_array() && n->as_array()->empty()))
        l.fail("ports", n != nullptr ? line_of(*n) : 0, "at least one [[ports]] table is required");

    // [nat] and [[vms]] after the ports: their addresses are checked against the
    // ports' connected prefixes.
    nat_meta nm;
    if (const auto* t = section("nat")) parse_nat(l, *t, c, m, nm);
    std::vector<vm_meta> vms;
    tables("vms", [&](const toml::table& t, const std::string& key) {
        c.vms.emplace_back();
        vms.emplace_back();
        parse_vm(l, t, key, c, m, nm, c.vms.back(), vms.back());
    });

    if (const auto* t = section("dhcp")) parse_dhcp(l, *t, c, m);
    tables("wireguard", [&](const toml::table& t, const std::string& key) {
        c.wireguard.emplace_back();
        parse_wireguard(l, t, key, c, c.wireguard.back());
    });
    int pp_line = 0, pp_dir_line = 0, probes_line = 0;
    if (const auto* t = section("proxy_ports")) {
        pp_line = r.line_of_key("proxy_ports");
        parse_proxy_ports(l, *t, c.proxy_ports);
        if (const auto* n = t->get("state_dir")) pp_dir_line = line_of(*n);
    }
    // Without [dhcp] the store is the proxy_ports one; with it, dhcp's.
    if (c.dhcp.enabled && pp_dir_line == 0) c.proxy_ports.state_dir = c.dhcp.state_dir;
    if (const auto* t = section("probes")) {
        probes_line = r.line_of_key("probes");
        parse_probes(l, *t, c.probes);
    }
    if (c.nat.enabled && c.vms.size() > c.nat.max_vms) {
        l.fail("nat.max_vms", nm.max_vms_line != 0 ? nm.max_vms_line : nm.line,
               std::to_string(c.nat.max_vms) + " is below the " + std::to_string(c.vms.size()) +
                   " [[vms]] entries; it counts them and the VMs admitted at runtime");
    }

    validate_ports(l, c, m);
    validate_routes(l, c, m);
    validate_vms(l, c, m, nm, vms);
    validate_nat(l, c, nm, vms);
    validate_listeners(l, c, api_line, metrics_line);
    validate_wireguard(l, c);
    validate_proxy_ports(l, c, vms, pp_line, pp_dir_line, probes_line, nm.proxy_upstream_written);
}

load_result finish(loader& l, config&& c) {
    load_result res;
    // Reading order: by line, whole-file problems (line 0) last.
    std::stable_sort(l.errors.begin(), l.errors.end(), [](const error& a, const error& b) {
        const auto rank = [](int line) { return line == 0 ? INT_MAX : line; };
        return rank(a.line) < rank(b.line);
    });
    res.errors = std::move(l.errors);
    if (res.errors.empty()) res.value = std::move(c);
    return res;
}

}  // namespace

std::string to_string(const listen_address& a) {
    return a.address.v6 ? "[" + to_string(a.address) + "]:" + std::to_string(a.port)
                        : to_string(a.address) + ":" + std::to_string(a.port);
}

load_result load_string(std::string_view toml_text, const std::string& source_name) {
    try {
        loader l;
        toml::table root;
        if (auto guarded = tomlpp_guard(toml_text)) {
            l.errors.push_back(std::move(*guarded));
            return finish(l, config{});
        }
        try {
            root = toml::parse(toml_text, std::string_view(source_name));
        } catch (const toml::parse_error& e) {
            const auto& src = e.source();
            l.fail("", line_of(src),
                   "syntax error at column " + std::to_string(src.begin.column) + ": " + std::string(e.description()));
            return finish(l, config{});
        }
        config c;
        c.source_path = source_name;
        load_document(l, root, c);
        return finish(l, std::move(c));
    } catch (const std::exception& e) {
        load_result res;
        res.errors.push_back(error{"", 0, std::string("internal error while loading the config: ") + e.what()});
        return res;
    } catch (...) {
        load_result res;
        res.errors.push_back(error{"", 0, "internal error while loading the config"});
        return res;
    }
}

load_result load_file(const std::string& path) {
    const auto fail = [&](int err) {
        load_result res;
        res.errors.push_back(error{"", 0, "cannot read " + path + ": " + std::strerror(err)});
        return res;
    };
    try {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (f == nullptr) return fail(errno);
        std::string text;
        char buf[65536];
        std::size_t got = 0;
        while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) {
            text.append(buf, got);
            if (text.size() > k_max_file_bytes) {
                std::fclose(f);
                load_result res;
                res.errors.push_back(error{"", 0,
                                           "cannot read " + path + ": larger than " +
                                               std::to_string(k_max_file_bytes >> 20) + " MiB"});
                return res;
            }
        }
        const int err = std::ferror(f) ? errno : 0;
        std::fclose(f);
        if (err != 0) return fail(err);
        return load_string(text, path);
    } catch (...) {
        return fail(ENOMEM);
    }
}

}  // namespace eg::cfg
