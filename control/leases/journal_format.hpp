#pragma once
// Byte layout of the lease store's files (docs/lease-store.md draws it). All
// integers little-endian.
//
// File header, 32 bytes:
//   magic[4] "EGLJ" (journal) / "EGLS" (snapshot) | u32 version (1) |
//   u64 generation | u64 base_seq | u32 reserved (0) | u32 crc32c(bytes 0..27)
//   journal:  generation = its number (file journal-<16 hex digits>), base_seq = the
//             sequence number just before its first record;
//   snapshot: generation = the first journal NOT folded into it, base_seq = the last
//             journal sequence number it covers.
// Record frame (both files):
//   u32 body_len | u32 crc32c(body_len field + body) | body
//   body = u64 seq | u8 type | payload        (9 <= body_len <= k_max_body)
// The CRC covers the length too, so a flipped length bit cannot walk the reader
// into the middle of another record and find "valid" bytes there by accident.
// Journals: seq runs base_seq+1, +2, ... Snapshots: 1..n, then a snapshot_end record
// (seq n+1, payload u64 n) that proves the file is complete.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "control/leases/crc32c.hpp"
#include "control/leases/lease.hpp"

namespace eg::ctl::leases {

enum class file_kind : uint8_t { journal, snapshot };
enum class record_type : uint8_t { lease_put = 1, lease_erase = 2, kv_put = 3, kv_erase = 4, snapshot_end = 0x7f };

inline constexpr uint32_t k_format_version = 1;
inline constexpr size_t k_file_header_size = 32;
inline constexpr size_t k_frame_header_size = 8;
inline constexpr size_t k_body_header_size = 9;
inline constexpr uint32_t k_max_body = 4u << 20;
// Field limits (checked on write and on read).
inline constexpr size_t k_max_id = 255;            ///< organization_id, namespace
/// The lease key (vps_id). Room for a DHCP client key too - network (4 bytes) + kind
/// (1) + option 61 value (up to 255), hex-encoded if the caller wants text - so a
/// dhcp::lease_book over this store can key leases by client as well as by VM.
inline constexpr size_t k_max_lease_key = 1024;
inline constexpr size_t k_max_client_id = 256;     ///< DHCP client key: kind byte + up to 255 bytes
inline constexpr size_t k_max_key = 1024;          ///< generic record key
inline constexpr size_t k_max_value = 1u << 20;    ///< generic record value

struct file_header {
    file_kind kind = file_kind::journal;
    uint64_t generation = 0;
    uint64_t base_seq = 0;
};
void encode_file_header(const file_header& h, uint8_t out[k_file_header_size]);
/// nullopt if short, wrong magic for `kind`, unknown version or bad checksum.
std::optional<file_header> decode_file_header(std::span<const uint8_t> data, file_kind kind);

struct record_view {
    uint64_t seq = 0;
    record_type type{};
    std::span<const uint8_t> payload;
};

// Encoders append one framed record to `out`. Preconditions: fields within limits
// (valid_lease() / valid_kv() say so; the store checks before encoding).
void encode_lease_put(std::vector<uint8_t>& out, uint64_t seq, const lease& l);
void encode_lease_erase(std::vector<uint8_t>& out, uint64_t seq, std::string_view vps_id);
void encode_kv_put(std::vector<uint8_t>& out, uint64_t seq, std::string_view ns, std::string_view key,
                   std::span<const uint8_t> value);
void encode_kv_erase(std::vector<uint8_t>& out, uint64_t seq, std::string_view ns, std::string_view key);
void encode_snapshot_end(std::vector<uint8_t>& out, uint64_t seq, uint64_t count);
bool valid_lease(const lease& l);
bool valid_kv(std::string_view ns, std::string_view key, size_t value_size);

// Payload decoders: false when the payload is malformed (wrong size, bad lengths,
// unknown state, fields over their limits).
bool decode_lease(std::span<const uint8_t> payload, lease& out);
/// A lease_put payload as it lies in the file: the text fields are views into the
/// payload (valid while its bytes are). Replay decodes into this and copies straight
/// into the map node, so a record costs no temporary lease and no string copies
/// beyond the node's own (1M records: the temporaries were a malloc/free pair each
/// for every field past the small-string buffer).
struct lease_view {
    std::string_view vps_id, organization_id, client_id;
    mac_bytes mac{};
    uint32_t ipv4 = 0;
    ipv6_bytes ipv6{};
    int64_t expires_s = 0;
    lease_state state = lease_state::offered;
};
/// The same checks as decode_lease; `out` is unchanged when it returns false.
bool decode_lease_view(std::span<const uint8_t> payload, lease_view& out);
/// A view of a lease's fields (valid while `l` is unchanged).
lease_view view_of(const lease& l);
/// Copies every field of `v` but vps_id (the key, which a map node already holds) into `out`.
void assign_fields(lease& out, const lease_view& v);
bool decode_lease_erase(std::span<const uint8_t> payload, std::string_view& vps_id);
struct kv_view {
    std::string_view ns, key;
    std::span<const uint8_t> value;
};
bool decode_kv_put(std::span<const uint8_t> payload, kv_view& out);
bool decode_kv_erase(std::span<const uint8_t> payload, kv_view& out);
bool decode_snapshot_end(std::span<const uint8_t> payload, uint64_t& count);

enum class scan_stop : uint8_t {
    end,              ///< every byte was a valid record
    truncated,        ///< fewer bytes left than the frame says (torn write)
    bad_length,       ///< body length outside 9..k_max_body
    bad_checksum,
    rejected,         ///< the callback refused the record (bad payload or sequence)
};
std::string_view to_string(scan_stop s);

struct scan_result {
    size_t valid_end = 0;   ///< bytes of `data` made of accepted records
    uint64_t records = 0;
    scan_stop stop = scan_stop::end;
};

inline uint32_t load_le32(const uint8_t* p) {
    return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline uint64_t load_le64(const uint8_t* p) { return uint64_t{load_le32(p)} | uint64_t{load_le32(p + 4)} << 32; }

/// Walks framed records in `data` (the part after the file header), calling
/// accept(const record_view&) -> bool for each whose frame is intact; stops at the
/// first bad frame or refused record. Never reads outside `data`.
template <class Accept>
scan_result scan_records(std::span<const uint8_t> data, Accept&& accept) {
    scan_result r;
    size_t off = 0;
    for (;;) {
        const size_t left = data.size() - off;
        if (left == 0) {
            r.stop = scan_stop::end;
            break;
        }
        if (left < k_frame_header_size) {
            r.stop = scan_stop::truncated;
            break;
        }
        const uint8_t* p = data.data() + off;
        const uint32_t len = load_le32(p);
        if (len < k_body_header_size || len > k_max_body) {
            r.stop = scan_stop::bad_length;
            break;
        }
        if (left - k_frame_header_size < len) {
            r.stop = scan_stop::truncated;
            break;
        }
        const uint32_t crc = crc32c(p + k_frame_header_size, len, crc32c(p, 4));
        if (crc != load_le32(p + 4)) {
            r.stop = scan_stop::bad_checksum;
            break;
        }
        const uint8_t* body = p + k_frame_header_size;
        const record_view v{load_le64(body), static_cast<record_type>(body[8]),
                            std::span<const uint8_t>(body + k_body_header_size, len - k_body_header_size)};
        if (!accept(v)) {
            r.stop = scan_stop::rejected;
            break;
        }
        off += k_frame_header_size + len;
        r.valid_end = off;
        ++r.records;
    }
    return r;
}

}  // namespace eg::ctl::leases
