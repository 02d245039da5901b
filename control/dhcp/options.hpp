#pragma once
// DHCP options (RFC 2132): their codes, the table a parsed message keeps them in
// (repeated options already concatenated, RFC 3396), the writer that appends them to
// a reply (splitting values over 255 bytes, RFC 3396), and the classless static route
// encoding of option 121 (RFC 3442).
//
// Owner: the control thread. Nothing here allocates except the route decoder, which
// is for tests and validation, not the reply path.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace eg::ctl::dhcp {

/// Option codes the server reads or writes (RFC 2132 unless noted).
namespace opt {
inline constexpr uint8_t pad = 0;
inline constexpr uint8_t subnet_mask = 1;
inline constexpr uint8_t router = 3;
inline constexpr uint8_t dns_servers = 6;
inline constexpr uint8_t host_name = 12;
inline constexpr uint8_t domain_name = 15;
inline constexpr uint8_t interface_mtu = 26;
inline constexpr uint8_t broadcast_address = 28;
inline constexpr uint8_t requested_address = 50;
inline constexpr uint8_t lease_time = 51;
inline constexpr uint8_t overload = 52;
inline constexpr uint8_t message_type = 53;
inline constexpr uint8_t server_id = 54;
inline constexpr uint8_t parameter_request_list = 55;
inline constexpr uint8_t message = 56;
inline constexpr uint8_t max_message_size = 57;
inline constexpr uint8_t renewal_time = 58;     ///< T1
inline constexpr uint8_t rebinding_time = 59;   ///< T2
inline constexpr uint8_t vendor_class = 60;
inline constexpr uint8_t client_id = 61;
inline constexpr uint8_t relay_agent_info = 82;  ///< RFC 3046
inline constexpr uint8_t classless_routes = 121; ///< RFC 3442
inline constexpr uint8_t end = 255;
}  // namespace opt

/// Values of option 53 (RFC 2132 §9.6).
enum class message_type : uint8_t {
    none = 0,  ///< no option 53: plain BOOTP
    discover = 1,
    offer = 2,
    request = 3,
    decline = 4,
    ack = 5,
    nak = 6,
    release = 7,
    inform = 8,
};
std::string_view to_string(message_type t);

/// The options of one message, indexed by code. A code that appears more than once
/// has its values concatenated in order of appearance (RFC 3396 §7), so a caller never
/// sees the split. Values live in this object (no pointers into the packet).
class option_set {
public:
    /// Largest total of option bytes kept; a DHCP payload's options can never exceed
    /// its length, and message.hpp bounds that by k_max_message.
    static constexpr size_t k_capacity = 4096;

    bool has(uint8_t code) const { return index_[code].present; }
    /// The value (possibly empty); an empty span also when absent (ask has()).
    std::span<const uint8_t> get(uint8_t code) const {
        const slot& s = index_[code];
        return {data_.data() + s.offset, s.len};
    }
    /// Typed reads: nullopt when absent or of the wrong length for the type.
    std::optional<uint8_t> u8(uint8_t code) const;
    std::optional<uint16_t> u16(uint8_t code) const;
    std::optional<uint32_t> u32(uint8_t code) const;  ///< also IPv4 addresses, host order
    /// Number of distinct codes present (pad and end never count).
    size_t count() const { return count_; }
    /// The codes present, in order of first appearance.
    std::span<const uint8_t> codes() const { return {codes_.data(), count_}; }

    void clear();

private:
    friend class option_set_builder;
    struct slot {
        uint16_t offset = 0;
        uint16_t len = 0;
        bool present = false;
    };
    std::array<slot, 256> index_{};
    // The present codes, so clear() and layout touch only those (a message carries a
    // handful of the 254 possible codes).
    std::array<uint8_t, 256> codes_{};
    std::array<uint8_t, k_capacity> data_{};
    size_t count_ = 0;
};

/// Fills an option_set in two passes over the option areas of one message: `measure`
/// every area first (totals per code), then `copy` every area in the same order, so
/// repeated codes end up contiguous without moving bytes. Used by the message parser.
class option_set_builder {
public:
    explicit option_set_builder(option_set& out) : out_(out) { out_.clear(); }
    void measure(uint8_t code, size_t len);
    /// Lays out the values after all measure() calls; false if they exceed capacity.
    bool layout();
    void copy(uint8_t code, const uint8_t* value, size_t len);

private:
    option_set& out_;
    // Entries are reset as codes are first measured, so the arrays need no clearing.
    std::array<uint32_t, 256> total_;
    std::array<uint16_t, 256> filled_;
};

/// Appends options to a reply's option area. Never writes past `limit` bytes; a value
/// longer than 255 bytes is split into several options of the same code (RFC 3396).
/// Every add either writes the whole option or nothing and returns false.
class option_writer {
public:
    option_writer() = default;
    explicit option_writer(std::span<uint8_t> area) : area_(area), limit_(area.size()) {}

    bool add(uint8_t code, std::span<const uint8_t> value);
    bool add_u8(uint8_t code, uint8_t v);
    bool add_u16(uint8_t code, uint16_t v);
    bool add_u32(uint8_t code, uint32_t v);
    bool add_addrs(uint8_t code, std::span<const uint32_t> addrs);  ///< host-order IPv4 list
    bool add_string(uint8_t code, std::string_view s);
    /// Writes the End option (always fits: set_limit keeps a byte for it).
    void end();

    /// Bytes an option of `len` value bytes takes, splits included.
    static size_t encoded_size(size_t len) { return len == 0 ? 2 : len + 2 * ((len + 254) / 255); }
    /// Lowers the limit (keeping room for something appended later); never raises it
    /// past the area. One byte is always kept for End.
    void set_limit(size_t limit) { limit_ = limit < area_.size() ? limit : area_.size(); }
    void raise_limit_to_area() { limit_ = area_.size(); }
    size_t size() const { return used_; }
    size_t room() const { return limit_ > used_ + 1 ? limit_ - used_ - 1 : 0; }

private:
    std::span<uint8_t> area_;
    size_t limit_ = 0;
    size_t used_ = 0;
};

/// One classless static route (RFC 3442). Addresses in host order.
struct classless_route {
    uint32_t destination = 0;
    uint8_t prefix_len = 0;  ///< 0..32
    uint32_t router = 0;
    bool operator==(const classless_route&) const = default;
};

/// Bytes route `r` takes in option 121: width octet, significant destination octets,
/// router.
inline size_t classless_route_size(const classless_route& r) { return 1 + (r.prefix_len + 7u) / 8 + 4; }
/// Encodes routes into `out` (RFC 3442 §2: width, then only the significant octets of
/// the destination, host bits cleared, then the router). Returns bytes written, or 0
/// if `out` is too small or a prefix length exceeds 32.
size_t encode_classless_routes(std::span<const classless_route> routes, std::span<uint8_t> out);
/// Decodes option 121; nullopt if malformed (width > 32, truncated descriptor).
std::optional<std::vector<classless_route>> decode_classless_routes(std::span<const uint8_t> value);

}  // namespace eg::ctl::dhcp
