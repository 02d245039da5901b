#pragma once
// The BOOTP/DHCP message (RFC 2131 §2, RFC 951): parsing a UDP payload into a
// `message`, and writing a reply into a caller-given buffer.
//
// Parsing never throws and never reads outside the span it is given; bad input comes
// back as a parse_error the caller counts. A `message` owns copies of everything it
// needs (about 6 KB, no heap), so the packet buffer can be recycled at once.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "control/dhcp/options.hpp"

namespace eg::ctl::dhcp {

inline constexpr uint16_t k_server_port = 67;
inline constexpr uint16_t k_client_port = 68;
/// Fixed part (op … file) without the magic cookie.
inline constexpr size_t k_fixed_len = 236;
/// Fixed part plus the cookie: the smallest DHCP message with an empty option area.
inline constexpr size_t k_min_message = 240;
/// RFC 1542 §3.4 / ISC dhcpd BOOTP_MIN_LEN: replies are padded to at least this many
/// bytes, some relays and old clients drop shorter ones.
inline constexpr size_t k_bootp_min_len = 300;
/// The largest payload the parser accepts. Punted frames are at most 2048 bytes, and
/// no client sends DHCP messages larger than an Ethernet MTU.
inline constexpr size_t k_max_message = 4096;
/// RFC 2131 §2: without option 57 a client must accept 576-byte IP datagrams, i.e. a
/// DHCP payload of 576 − 20 (IPv4) − 8 (UDP).
inline constexpr size_t k_default_max_payload = 576 - 28;
inline constexpr uint32_t k_magic_cookie = 0x63825363;  // 99.130.83.99
inline constexpr uint16_t k_flag_broadcast = 0x8000;     // RFC 2131 §2, Figure 2

enum class op_code : uint8_t { boot_request = 1, boot_reply = 2 };

/// Fixed header fields, addresses in host order.
struct header {
    uint8_t op = 0;
    uint8_t htype = 0;
    uint8_t hlen = 0;
    uint8_t hops = 0;
    uint32_t xid = 0;
    uint16_t secs = 0;
    uint16_t flags = 0;
    uint32_t ciaddr = 0;
    uint32_t yiaddr = 0;
    uint32_t siaddr = 0;
    uint32_t giaddr = 0;
    std::array<uint8_t, 16> chaddr{};
    std::array<uint8_t, 64> sname{};
    std::array<uint8_t, 128> file{};

    bool broadcast() const { return (flags & k_flag_broadcast) != 0; }
    /// Ethernet client hardware address (htype 1, hlen 6).
    bool ethernet() const { return htype == 1 && hlen == 6; }
};

#define EG_DHCP_PARSE_ERRORS(X)                                                 \
    X(none, "none")                                                             \
    X(too_short, "too_short")           /* under 240 bytes: no room for cookie */ \
    X(too_long, "too_long")             /* over k_max_message */                \
    X(bad_op, "bad_op")                 /* op neither 1 nor 2 */                \
    X(bad_hlen, "bad_hlen")             /* hlen > 16 (chaddr is 16 bytes) */    \
    X(bad_cookie, "bad_cookie")                                                 \
    X(option_overrun, "option_overrun") /* a length runs past its area */       \
    X(bad_overload, "bad_overload")     /* option 52 not 1 byte of 1..3 */

enum class parse_error : uint8_t {
#define EG_X(name, text) name,
    EG_DHCP_PARSE_ERRORS(EG_X)
#undef EG_X
};
std::string_view to_string(parse_error e);

/// A parsed message.
struct message {
    header h;
    option_set options;
    /// Option 52's value (1 file, 2 sname, 3 both), 0 when absent. When set, the
    /// sname/file bytes in `h` hold options, already merged into `options`.
    uint8_t overload = 0;
    /// The options area ended with an End option (a missing one is tolerated).
    bool saw_end = false;

    message_type type() const;  ///< option 53; none when absent or malformed
};

/// Parses a UDP payload. `out` is overwritten whatever the result.
parse_error parse_message(std::span<const uint8_t> payload, message& out);

/// Writes a message: the fixed header and cookie (constructor), then options through
/// `options()`, then finish(). Stays within `max_len` bytes (the buffer size or the
/// client's maximum message size, whichever is smaller).
class message_writer {
public:
    /// Writes `h` and the cookie at once.
    message_writer(std::span<uint8_t> buf, size_t max_len, const header& h);
    /// False if the buffer cannot hold even the fixed part (nothing usable written).
    bool ok() const { return ok_; }
    option_writer& options() { return options_; }
    /// Appends End, zero-pads to k_bootp_min_len (if max_len allows) and returns the
    /// message length; 0 if !ok().
    size_t finish();

    /// Writes `h` and the cookie into the first 240 bytes of `buf`.
    static void write_header(std::span<uint8_t> buf, const header& h);

private:
    std::span<uint8_t> buf_;
    size_t max_len_ = 0;
    bool ok_ = false;
    option_writer options_;
};

}  // namespace eg::ctl::dhcp
