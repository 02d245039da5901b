#include "control/dhcp/message.hpp"

#include <cstring>

#include "dataplane/headers.hpp"

namespace eg::ctl::dhcp {

namespace {

// Field offsets in the fixed part (RFC 2131 §2, Figure 1).
constexpr size_t k_op = 0, k_htype = 1, k_hlen = 2, k_hops = 3, k_xid = 4, k_secs = 8, k_flags = 10,
                 k_ciaddr = 12, k_yiaddr = 16, k_siaddr = 20, k_giaddr = 24, k_chaddr = 28, k_sname = 44,
                 k_file = 108, k_cookie = 236;

/// Walks one option area, calling `f(code, value, len)` for every option other than
/// pad and end. Returns false when an option's length runs past the area. `saw_end`
/// reports whether the area was closed by End.
template <typename F>
bool walk_options(const uint8_t* p, size_t n, bool& saw_end, F&& f) {
    saw_end = false;
    size_t i = 0;
    while (i < n) {
        const uint8_t code = p[i];
        if (code == opt::pad) {
            ++i;
            continue;
        }
        if (code == opt::end) {
            saw_end = true;
            return true;
        }
        if (i + 2 > n) return false;
        const size_t len = p[i + 1];
        if (i + 2 + len > n) return false;
        f(code, p + i + 2, len);
        i += 2 + len;
    }
    return true;
}

}  // namespace

std::string_view to_string(parse_error e) {
    switch (e) {
#define EG_X(name, text) \
    case parse_error::name: return text;
        EG_DHCP_PARSE_ERRORS(EG_X)
#undef EG_X
    }
    return "unknown";
}

message_type message::type() const {
    const auto t = options.u8(opt::message_type);
    if (!t || *t < 1 || *t > 8) return message_type::none;
    return static_cast<message_type>(*t);
}

parse_error parse_message(std::span<const uint8_t> payload, message& out) {
    out.options.clear();
    out.overload = 0;
    out.saw_end = false;
    out.h = header{};
    if (payload.size() < k_min_message) return parse_error::too_short;
    if (payload.size() > k_max_message) return parse_error::too_long;
    const uint8_t* p = payload.data();
    if (p[k_op] != 1 && p[k_op] != 2) return parse_error::bad_op;
    if (p[k_hlen] > 16) return parse_error::bad_hlen;
    if (dp::load32(p + k_cookie) != k_magic_cookie) return parse_error::bad_cookie;

    header& h = out.h;
    h.op = p[k_op];
    h.htype = p[k_htype];
    h.hlen = p[k_hlen];
    h.hops = p[k_hops];
    h.xid = dp::load32(p + k_xid);
    h.secs = dp::load16(p + k_secs);
    h.flags = dp::load16(p + k_flags);
    h.ciaddr = dp::load32(p + k_ciaddr);
    h.yiaddr = dp::load32(p + k_yiaddr);
    h.siaddr = dp::load32(p + k_siaddr);
    h.giaddr = dp::load32(p + k_giaddr);
    std::memcpy(h.chaddr.data(), p + k_chaddr, 16);
    std::memcpy(h.sname.data(), p + k_sname, 64);
    std::memcpy(h.file.data(), p + k_file, 128);

    // The areas options may live in, in the order RFC 3396 §7 concatenates them:
    // the options field, then file, then sname (when option 52 says so).
    struct area {
        const uint8_t* p;
        size_t n;
    };
    area areas[3] = {{p + k_min_message, payload.size() - k_min_message}, {nullptr, 0}, {nullptr, 0}};
    size_t area_count = 1;

    option_set_builder b(out.options);
    auto fail = [&out](parse_error e) {
        out.options.clear();  // nothing half-parsed is left for a caller that ignores the error
        out.overload = 0;
        return e;
    };
    bool end = false;
    bool overload_seen = false;
    bool overload_ok = true;
    if (!walk_options(areas[0].p, areas[0].n, end, [&](uint8_t code, const uint8_t* v, size_t len) {
            b.measure(code, len);
            if (code == opt::overload && !overload_seen) {
                overload_seen = true;
                overload_ok = len == 1 && v[0] >= 1 && v[0] <= 3;
                if (overload_ok) out.overload = v[0];
            }
        })) {
        return fail(parse_error::option_overrun);
    }
    out.saw_end = end;
    if (!overload_ok) return fail(parse_error::bad_overload);
    if (out.overload & 1) areas[area_count++] = {p + k_file, 128};
    if (out.overload & 2) areas[area_count++] = {p + k_sname, 64};
    for (size_t a = 1; a < area_count; ++a) {
        if (!walk_options(areas[a].p, areas[a].n, end,
                          [&](uint8_t code, const uint8_t*, size_t len) { b.measure(code, len); })) {
            return fail(parse_error::option_overrun);
        }
    }
    // Total option bytes are bounded by the payload (<= k_max_message = capacity).
    if (!b.layout()) return fail(parse_error::too_long);
    for (size_t a = 0; a < area_count; ++a) {
        walk_options(areas[a].p, areas[a].n, end,
                     [&](uint8_t code, const uint8_t* v, size_t len) { b.copy(code, v, len); });
    }
    return parse_error::none;
}

// ---- message_writer -------------------------------------------------------------------

message_writer::message_writer(std::span<uint8_t> buf, size_t max_len, const header& h)
    : buf_(buf), max_len_(std::min(max_len, buf.size())) {
    ok_ = max_len_ >= k_min_message + 1;  // fixed part, cookie and at least End
    if (!ok_) return;
    write_header(buf_, h);
    options_ = option_writer(buf_.subspan(k_min_message, max_len_ - k_min_message));
}

void message_writer::write_header(std::span<uint8_t> buf, const header& h) {
    uint8_t* p = buf.data();
    std::memset(p, 0, k_min_message);
    p[k_op] = h.op;
    p[k_htype] = h.htype;
    p[k_hlen] = h.hlen;
    p[k_hops] = h.hops;
    dp::store32(p + k_xid, h.xid);
    dp::store16(p + k_secs, h.secs);
    dp::store16(p + k_flags, h.flags);
    dp::store32(p + k_ciaddr, h.ciaddr);
    dp::store32(p + k_yiaddr, h.yiaddr);
    dp::store32(p + k_siaddr, h.siaddr);
    dp::store32(p + k_giaddr, h.giaddr);
    std::memcpy(p + k_chaddr, h.chaddr.data(), 16);
    std::memcpy(p + k_sname, h.sname.data(), 64);
    std::memcpy(p + k_file, h.file.data(), 128);
    dp::store32(p + k_cookie, k_magic_cookie);
}

size_t message_writer::finish() {
    if (!ok_) return 0;
    options_.raise_limit_to_area();
    options_.end();
    size_t len = k_min_message + options_.size();
    const size_t padded = std::min(k_bootp_min_len, max_len_);
    if (len < padded) {
        std::memset(buf_.data() + len, 0, padded - len);
        len = padded;
    }
    return len;
}

}  // namespace eg::ctl::dhcp
