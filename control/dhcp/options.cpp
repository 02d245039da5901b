#include "control/dhcp/options.hpp"

#include <cstring>

#include "dataplane/headers.hpp"

namespace eg::ctl::dhcp {

std::string_view to_string(message_type t) {
    switch (t) {
        case message_type::none: return "BOOTP";
        case message_type::discover: return "DHCPDISCOVER";
        case message_type::offer: return "DHCPOFFER";
        case message_type::request: return "DHCPREQUEST";
        case message_type::decline: return "DHCPDECLINE";
        case message_type::ack: return "DHCPACK";
        case message_type::nak: return "DHCPNAK";
        case message_type::release: return "DHCPRELEASE";
        case message_type::inform: return "DHCPINFORM";
    }
    return "unknown";
}

// ---- option_set -------------------------------------------------------------------

std::optional<uint8_t> option_set::u8(uint8_t code) const {
    const auto v = get(code);
    if (!has(code) || v.size() != 1) return std::nullopt;
    return v[0];
}

std::optional<uint16_t> option_set::u16(uint8_t code) const {
    const auto v = get(code);
    if (!has(code) || v.size() != 2) return std::nullopt;
    return dp::load16(v.data());
}

std::optional<uint32_t> option_set::u32(uint8_t code) const {
    const auto v = get(code);
    if (!has(code) || v.size() != 4) return std::nullopt;
    return dp::load32(v.data());
}

void option_set::clear() {
    for (size_t i = 0; i < count_; ++i) index_[codes_[i]] = slot{};
    count_ = 0;
}

// ---- option_set_builder -------------------------------------------------------------

void option_set_builder::measure(uint8_t code, size_t len) {
    if (!out_.index_[code].present) {
        out_.index_[code].present = true;
        out_.codes_[out_.count_++] = code;
        total_[code] = 0;
        filled_[code] = 0;
    }
    total_[code] += static_cast<uint32_t>(len);
}

bool option_set_builder::layout() {
    size_t offset = 0;
    for (size_t i = 0; i < out_.count_; ++i) {
        const uint8_t code = out_.codes_[i];
        if (offset + total_[code] > option_set::k_capacity) return false;
        out_.index_[code].offset = static_cast<uint16_t>(offset);
        out_.index_[code].len = static_cast<uint16_t>(total_[code]);
        offset += total_[code];
    }
    return true;
}

void option_set_builder::copy(uint8_t code, const uint8_t* value, size_t len) {
    option_set::slot& s = out_.index_[code];
    // measure() saw exactly these bytes, so this stays inside the slot; checked anyway
    // because a mismatch would be a parser bug, not bad input.
    if (!s.present || filled_[code] + len > s.len) return;
    if (len) std::memcpy(out_.data_.data() + s.offset + filled_[code], value, len);
    filled_[code] = static_cast<uint16_t>(filled_[code] + len);
}

// ---- option_writer ------------------------------------------------------------------

bool option_writer::add(uint8_t code, std::span<const uint8_t> value) {
    if (code == opt::pad || code == opt::end) return false;
    if (encoded_size(value.size()) > room()) return false;
    size_t done = 0;
    do {  // zero-length options (e.g. rapid commit) still take one code + length pair
        const size_t chunk = std::min<size_t>(value.size() - done, 255);
        area_[used_++] = code;
        area_[used_++] = static_cast<uint8_t>(chunk);
        if (chunk) std::memcpy(area_.data() + used_, value.data() + done, chunk);
        used_ += chunk;
        done += chunk;
    } while (done < value.size());
    return true;
}

bool option_writer::add_u8(uint8_t code, uint8_t v) { return add(code, std::span<const uint8_t>(&v, 1)); }

bool option_writer::add_u16(uint8_t code, uint16_t v) {
    uint8_t b[2];
    dp::store16(b, v);
    return add(code, b);
}

bool option_writer::add_u32(uint8_t code, uint32_t v) {
    uint8_t b[4];
    dp::store32(b, v);
    return add(code, b);
}

bool option_writer::add_addrs(uint8_t code, std::span<const uint32_t> addrs) {
    // 63 addresses fill one option; more are split by add() like any long value.
    uint8_t b[4 * 128];
    if (addrs.size() > 128) addrs = addrs.first(128);
    for (size_t i = 0; i < addrs.size(); ++i) dp::store32(b + 4 * i, addrs[i]);
    return add(code, std::span<const uint8_t>(b, 4 * addrs.size()));
}

bool option_writer::add_string(uint8_t code, std::string_view s) {
    // RFC 2132 §2: NVT ASCII values carry no trailing NUL.
    return add(code, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

void option_writer::end() {
    if (used_ < area_.size()) area_[used_++] = opt::end;
}

// ---- RFC 3442 -----------------------------------------------------------------------

size_t encode_classless_routes(std::span<const classless_route> routes, std::span<uint8_t> out) {
    size_t n = 0;
    for (const classless_route& r : routes) {
        if (r.prefix_len > 32) return 0;
        const size_t significant = (r.prefix_len + 7u) / 8;
        if (n + 1 + significant + 4 > out.size()) return 0;
        // Host bits cleared: RFC 3442 §2 describes the destination by its subnet number.
        const uint32_t mask = r.prefix_len ? ~uint32_t{0} << (32 - r.prefix_len) : 0;
        uint8_t dst[4];
        dp::store32(dst, r.destination & mask);
        out[n++] = r.prefix_len;
        std::memcpy(out.data() + n, dst, significant);
        n += significant;
        dp::store32(out.data() + n, r.router);
        n += 4;
    }
    return n;
}

std::optional<std::vector<classless_route>> decode_classless_routes(std::span<const uint8_t> value) {
    std::vector<classless_route> routes;
    size_t i = 0;
    while (i < value.size()) {
        const uint8_t width = value[i++];
        if (width > 32) return std::nullopt;
        const size_t significant = (width + 7u) / 8;
        if (i + significant + 4 > value.size()) return std::nullopt;
        uint8_t dst[4] = {};
        std::memcpy(dst, value.data() + i, significant);
        i += significant;
        routes.push_back({dp::load32(dst), width, dp::load32(value.data() + i)});
        i += 4;
    }
    return routes;
}

}  // namespace eg::ctl::dhcp
