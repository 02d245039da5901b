#include "control/leases/journal_format.hpp"

#include <cstring>

namespace eg::ctl::leases {

namespace {

constexpr char k_journal_magic[4] = {'E', 'G', 'L', 'J'};
constexpr char k_snapshot_magic[4] = {'E', 'G', 'L', 'S'};
constexpr size_t k_lease_fixed = 42;  // state, pad, vps_len, org_len, client_len, mac, ipv4, ipv6, expires

void put_le16(std::vector<uint8_t>& o, uint16_t v) {
    o.push_back(static_cast<uint8_t>(v));
    o.push_back(static_cast<uint8_t>(v >> 8));
}
void put_le32(std::vector<uint8_t>& o, uint32_t v) {
    for (int i = 0; i < 4; ++i) o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_le64(std::vector<uint8_t>& o, uint64_t v) {
    for (int i = 0; i < 8; ++i) o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_bytes(std::vector<uint8_t>& o, const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    o.insert(o.end(), b, b + n);
}
void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

/// Opens a frame: reserves the frame header and writes seq and type.
size_t begin_record(std::vector<uint8_t>& o, uint64_t seq, record_type t) {
    const size_t start = o.size();
    o.resize(start + k_frame_header_size);
    put_le64(o, seq);
    o.push_back(static_cast<uint8_t>(t));
    return start;
}
/// Closes it: fills in the body length and the checksum over length + body.
void end_record(std::vector<uint8_t>& o, size_t start) {
    const uint32_t len = static_cast<uint32_t>(o.size() - start - k_frame_header_size);
    uint8_t* p = o.data() + start;
    store_le32(p, len);
    store_le32(p + 4, crc32c(p + k_frame_header_size, len, crc32c(p, 4)));
}

bool valid_state(uint8_t s) { return s >= 1 && s <= 5; }

}  // namespace

void encode_file_header(const file_header& h, uint8_t out[k_file_header_size]) {
    std::memset(out, 0, k_file_header_size);
    std::memcpy(out, h.kind == file_kind::journal ? k_journal_magic : k_snapshot_magic, 4);
    store_le32(out + 4, k_format_version);
    store_le64(out + 8, h.generation);
    store_le64(out + 16, h.base_seq);
    store_le32(out + 28, crc32c(out, 28));
}

std::optional<file_header> decode_file_header(std::span<const uint8_t> data, file_kind kind) {
    if (data.size() < k_file_header_size) return std::nullopt;
    const uint8_t* p = data.data();
    if (std::memcmp(p, kind == file_kind::journal ? k_journal_magic : k_snapshot_magic, 4) != 0) return std::nullopt;
    if (load_le32(p + 4) != k_format_version || load_le32(p + 24) != 0) return std::nullopt;
    if (load_le32(p + 28) != crc32c(p, 28)) return std::nullopt;
    return file_header{kind, load_le64(p + 8), load_le64(p + 16)};
}

bool valid_lease(const lease& l) {
    return !l.vps_id.empty() && l.vps_id.size() <= k_max_lease_key && l.organization_id.size() <= k_max_id &&
           l.client_id.size() <= k_max_client_id &&
           valid_state(static_cast<uint8_t>(l.state));
}

bool valid_kv(std::string_view ns, std::string_view key, size_t value_size) {
    return !ns.empty() && ns.size() <= k_max_id && !key.empty() && key.size() <= k_max_key && value_size <= k_max_value;
}

void encode_lease_put(std::vector<uint8_t>& o, uint64_t seq, const lease& l) {
    const size_t start = begin_record(o, seq, record_type::lease_put);
    o.push_back(static_cast<uint8_t>(l.state));
    o.push_back(0);
    put_le16(o, static_cast<uint16_t>(l.vps_id.size()));
    put_le16(o, static_cast<uint16_t>(l.organization_id.size()));
    put_le16(o, static_cast<uint16_t>(l.client_id.size()));
    put_bytes(o, l.mac.data(), 6);
    put_le32(o, l.ipv4);
    put_bytes(o, l.ipv6.data(), 16);
    put_le64(o, static_cast<uint64_t>(l.expires_s));
    put_bytes(o, l.vps_id.data(), l.vps_id.size());
    put_bytes(o, l.organization_id.data(), l.organization_id.size());
    put_bytes(o, l.client_id.data(), l.client_id.size());
    end_record(o, start);
}

void encode_lease_erase(std::vector<uint8_t>& o, uint64_t seq, std::string_view vps_id) {
    const size_t start = begin_record(o, seq, record_type::lease_erase);
    put_le16(o, static_cast<uint16_t>(vps_id.size()));
    put_bytes(o, vps_id.data(), vps_id.size());
    end_record(o, start);
}

void encode_kv_put(std::vector<uint8_t>& o, uint64_t seq, std::string_view ns, std::string_view key,
                   std::span<const uint8_t> value) {
    const size_t start = begin_record(o, seq, record_type::kv_put);
    put_le16(o, static_cast<uint16_t>(ns.size()));
    put_le16(o, static_cast<uint16_t>(key.size()));
    put_le32(o, static_cast<uint32_t>(value.size()));
    put_bytes(o, ns.data(), ns.size());
    put_bytes(o, key.data(), key.size());
    put_bytes(o, value.data(), value.size());
    end_record(o, start);
}

void encode_kv_erase(std::vector<uint8_t>& o, uint64_t seq, std::string_view ns, std::string_view key) {
    const size_t start = begin_record(o, seq, record_type::kv_erase);
    put_le16(o, static_cast<uint16_t>(ns.size()));
    put_le16(o, static_cast<uint16_t>(key.size()));
    put_bytes(o, ns.data(), ns.size());
    put_bytes(o, key.data(), key.size());
    end_record(o, start);
}

void encode_snapshot_end(std::vector<uint8_t>& o, uint64_t seq, uint64_t count) {
    const size_t start = begin_record(o, seq, record_type::snapshot_end);
    put_le64(o, count);
    end_record(o, start);
}

bool decode_lease_view(std::span<const uint8_t> in, lease_view& out) {
    if (in.size() < k_lease_fixed) return false;
    const uint8_t* p = in.data();
    const size_t vps_len = load_le16(p + 2), org_len = load_le16(p + 4), client_len = load_le16(p + 6);
    if (!valid_state(p[0]) || p[1] != 0 || vps_len == 0 || vps_len > k_max_lease_key || org_len > k_max_id ||
        client_len > k_max_client_id || in.size() != k_lease_fixed + vps_len + org_len + client_len) {
        return false;
    }
    out.state = static_cast<lease_state>(p[0]);
    std::memcpy(out.mac.data(), p + 8, 6);
    out.ipv4 = load_le32(p + 14);
    std::memcpy(out.ipv6.data(), p + 18, 16);
    out.expires_s = static_cast<int64_t>(load_le64(p + 34));
    const auto* text = reinterpret_cast<const char*>(p + k_lease_fixed);
    out.vps_id = std::string_view(text, vps_len);
    out.organization_id = std::string_view(text + vps_len, org_len);
    out.client_id = std::string_view(text + vps_len + org_len, client_len);
    return true;
}

bool decode_lease(std::span<const uint8_t> in, lease& out) {
    lease_view v;
    if (!decode_lease_view(in, v)) return false;
    out.vps_id.assign(v.vps_id);
    assign_fields(out, v);
    return true;
}

void assign_fields(lease& out, const lease_view& v) {
    out.organization_id.assign(v.organization_id);
    out.client_id.assign(v.client_id);
    out.mac = v.mac;
    out.ipv4 = v.ipv4;
    out.ipv6 = v.ipv6;
    out.expires_s = v.expires_s;
    out.state = v.state;
}

lease_view view_of(const lease& l) {
    return {l.vps_id, l.organization_id, l.client_id, l.mac, l.ipv4, l.ipv6, l.expires_s, l.state};
}

bool decode_lease_erase(std::span<const uint8_t> in, std::string_view& vps_id) {
    if (in.size() < 2) return false;
    const size_t n = load_le16(in.data());
    if (n == 0 || n > k_max_lease_key || in.size() != 2 + n) return false;
    vps_id = std::string_view(reinterpret_cast<const char*>(in.data() + 2), n);
    return true;
}

bool decode_kv_put(std::span<const uint8_t> in, kv_view& out) {
    if (in.size() < 8) return false;
    const uint8_t* p = in.data();
    const size_t ns = load_le16(p), key = load_le16(p + 2), val = load_le32(p + 4);
    if (ns == 0 || ns > k_max_id || key == 0 || key > k_max_key || val > k_max_value ||
        in.size() != 8 + ns + key + val) {
        return false;
    }
    out.ns = std::string_view(reinterpret_cast<const char*>(p + 8), ns);
    out.key = std::string_view(reinterpret_cast<const char*>(p + 8 + ns), key);
    out.value = in.subspan(8 + ns + key, val);
    return true;
}

bool decode_kv_erase(std::span<const uint8_t> in, kv_view& out) {
    if (in.size() < 4) return false;
    const uint8_t* p = in.data();
    const size_t ns = load_le16(p), key = load_le16(p + 2);
    if (ns == 0 || ns > k_max_id || key == 0 || key > k_max_key || in.size() != 4 + ns + key) return false;
    out.ns = std::string_view(reinterpret_cast<const char*>(p + 4), ns);
    out.key = std::string_view(reinterpret_cast<const char*>(p + 4 + ns), key);
    out.value = {};
    return true;
}

bool decode_snapshot_end(std::span<const uint8_t> in, uint64_t& count) {
    if (in.size() != 8) return false;
    count = load_le64(in.data());
    return true;
}

std::string_view to_string(scan_stop s) {
    switch (s) {
        case scan_stop::end: return "end of file";
        case scan_stop::truncated: return "truncated record";
        case scan_stop::bad_length: return "bad record length";
        case scan_stop::bad_checksum: return "checksum mismatch";
        case scan_stop::rejected: return "invalid record contents or sequence";
    }
    return "unknown";
}

}  // namespace eg::ctl::leases
