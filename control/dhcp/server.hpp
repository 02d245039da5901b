#pragma once
// The DHCPv4 server (RFC 2131), sans-I/O. Inputs: a parsed message with where it
// arrived and `now`, and `on_durable(ticket)` from the lease journal. Outputs:
// actions appended to a caller's list — frames to send (ready-made UDP payloads plus
// the addressing of RFC 2131 §4.1), lease changes, log lines. Addresses come from and
// bindings go to a `lease_book` (lease_book.hpp); an ACK is emitted only once the
// binding it announces is durable.
//
// Owner: the control thread. Never throws for anything a packet contains.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "control/dhcp/frame.hpp"
#include "control/dhcp/lease_book.hpp"
#include "control/dhcp/message.hpp"
#include "control/dhcp/options.hpp"

namespace eg::ctl::dhcp {

/// One network (subnet) the server hands out addresses in.
struct network_config {
    uint32_t id = 0;  ///< the lease_book's name for it
    /// Port index its clients are attached to directly; nullopt when reached only
    /// through relays (selected by giaddr).
    std::optional<uint16_t> port;
    uint32_t subnet = 0;  ///< host order
    uint8_t prefix_len = 24;
    uint32_t server_address = 0;  ///< ours in this network: option 54 and IP source
    uint32_t lease_time_s = 3600; ///< 0xffffffff: infinite
    uint32_t renewal_time_s = 0;  ///< T1; 0: half the lease (RFC 2131 §4.4.5)
    uint32_t rebinding_time_s = 0;  ///< T2; 0: 7/8 of the lease
    std::vector<uint32_t> routers;
    std::vector<uint32_t> dns_servers;
    std::string domain_name;
    uint16_t mtu = 0;  ///< option 26 when the client asks; 0: not sent
    /// Option 121 when the client asks. A default route through routers[0] is added
    /// when none is listed: a client that gets 121 ignores option 3 (RFC 3442 §DHCP
    /// Client Behavior).
    std::vector<classless_route> classless_routes;
};

struct server_config {
    std::vector<network_config> networks;
    uint32_t offer_hold_s = 30;              ///< how long an offered address waits for its REQUEST
    uint32_t decline_quarantine_s = 86400;   ///< Kea's decline-probation-period default
    /// NAK REQUESTs from clients we have no record of (INIT-REBOOT, RENEWING,
    /// REBINDING) instead of staying silent (RFC 2131 §4.3.2; Kea/dnsmasq option).
    bool authoritative = false;
    size_t max_held_replies = 65536;  ///< ACKs waiting for durability; beyond: dropped, counted
    uint32_t log_interval_s = 10;     ///< repeated log lines of one kind at most this often
};

/// Where the packet came from (the punted frame's addressing) and on which port.
struct arrival {
    uint16_t port = 0;
    frame_addresses from;
};

/// RFC 2131 §4.1 reply destinations.
enum class reply_route : uint8_t {
    relay,           ///< giaddr, UDP 67
    unicast_ciaddr,  ///< the client's configured address, UDP 68
    broadcast,       ///< 255.255.255.255 / ff:ff:ff:ff:ff:ff, UDP 68
    unicast_chaddr,  ///< yiaddr at chaddr without ARP, UDP 68
};
std::string_view to_string(reply_route r);

/// Send `payload` on `port`. `to` is the complete addressing for build_frame(), except
/// `to.src_mac`, which the adapter sets to the port's MAC.
struct send_action {
    uint16_t port = 0;
    frame_addresses to;
    reply_route route = reply_route::broadcast;
    message_type type = message_type::none;
    std::vector<uint8_t> payload;
};

/// A binding changed (for anti-spoof bindings, metrics, the admin API). The lease
/// book has already recorded it; `durable_at` is its ticket.
struct lease_action {
    enum kind_t : uint8_t { bound, released, declined };
    kind_t kind = bound;
    lease l;
    ticket durable_at = k_no_ticket;
};

struct log_action {
    enum level_t : uint8_t { info, warning };
    level_t level = info;
    std::string text;
};

using action = std::variant<send_action, lease_action, log_action>;

// X(name): every event the server counts, exported as edgegate_dhcp_<name>_total.
#define EG_DHCP_COUNTERS(X)                                                                  \
    X(rx_discover) X(rx_request) X(rx_decline) X(rx_release) X(rx_inform)                    \
    X(request_selecting) X(request_init_reboot) X(request_renewing) X(request_rebinding)      \
    X(tx_offer) X(tx_ack) X(tx_nak)                                                          \
    X(leases_bound) X(leases_released) X(addresses_declined) X(pool_exhausted)              \
    X(other_server_selected) X(replies_held) X(options_omitted) X(persist_failed)

// X(name, text): every reason a message is dropped without a reply, exported as
// edgegate_dhcp_drops_total{reason="text"}.
#define EG_DHCP_DROP_REASONS(X)                                          \
    X(bad_frame, "bad_frame")                                            \
    X(malformed, "malformed")                                            \
    X(not_request, "not_bootrequest")                                    \
    X(not_ethernet, "not_ethernet")                                      \
    X(bootp, "bootp_not_served")                                         \
    X(bad_message_type, "bad_message_type")                              \
    X(no_network, "no_network")                                          \
    X(not_for_us, "other_server")                                        \
    X(missing_address, "missing_address")                                \
    X(unknown_client, "unknown_client")                                  \
    X(release_mismatch, "release_not_client_lease")                      \
    X(decline_mismatch, "decline_not_client_lease")                      \
    X(no_room, "reply_too_large")                                        \
    X(held_queue_full, "held_queue_full")                                \
    X(persist_failed, "persist_failed")

enum class counter : uint8_t {
#define EG_X(name) name,
    EG_DHCP_COUNTERS(EG_X)
#undef EG_X
        count
};
enum class drop_reason : uint8_t {
#define EG_X(name, text) name,
    EG_DHCP_DROP_REASONS(EG_X)
#undef EG_X
        count
};
std::string_view to_string(counter c);
std::string_view to_string(drop_reason r);

class server {
public:
    server(server_config cfg, lease_book& book);

    /// A message received (parsed by the caller). `now_s` on the lease clock.
    void on_message(const message& m, const arrival& a, uint64_t now_s, std::vector<action>& out);

    /// A punted frame: parse_frame + parse_message + on_message; bad frames and
    /// messages are counted and dropped.
    void on_frame(uint16_t port, std::span<const uint8_t> frame, uint64_t now_s, std::vector<action>& out);

    /// Every lease-book record up to and including `t` is durable: the replies that
    /// waited for them are emitted (in the order they were made).
    void on_durable(ticket t, std::vector<action>& out);

    /// Records up to `t` could not be made durable: the replies waiting for them are
    /// dropped (the clients retransmit), counted and logged.
    void on_persist_failed(ticket t, std::vector<action>& out);

    size_t held_replies() const { return held_.size(); }
    uint64_t count(counter c) const { return counters_[static_cast<size_t>(c)]; }
    uint64_t drops(drop_reason r) const { return drops_[static_cast<size_t>(r)]; }
    uint64_t parse_errors(parse_error e) const { return parse_errors_[static_cast<size_t>(e)]; }
    uint64_t frame_errors(frame_error e) const { return frame_errors_[static_cast<size_t>(e)]; }
    const server_config& config() const { return cfg_; }

private:
    enum class request_state : uint8_t { selecting, init_reboot, renewing, rebinding };
    struct held_reply {
        ticket t;
        send_action send;
    };
    struct context;  // one message's facts, shared by the handlers

    void on_discover(const context& c, std::vector<action>& out);
    void on_request(const context& c, std::vector<action>& out);
    void on_decline(const context& c, std::vector<action>& out);
    void on_release(const context& c, std::vector<action>& out);
    void on_inform(const context& c, std::vector<action>& out);

    const network_config* select_network(const message& m, const arrival& a) const;
    bool is_our_server_id(uint32_t addr) const;
    bool assignable(const network_config& net, uint32_t addr) const;
    /// The lease to grant: the configured one, or the client's shorter request (51).
    uint32_t granted_lease(const context& c) const;
    /// True when a reservation for the client's MAC names an address other than `addr`
    /// that it could have now: then `addr` is not the one the platform wants it on.
    bool reserved_elsewhere(const context& c, uint32_t addr) const;

    /// Builds an OFFER, ACK or NAK for `c` into `s.payload` and addresses it.
    /// `lease_s`: option 51 (nullopt: none, INFORM and NAK). False: did not fit.
    bool make_reply(const context& c, message_type type, uint32_t yiaddr, std::optional<uint32_t> lease_s,
                    std::string_view nak_text, send_action& s);
    void send_nak(const context& c, std::string_view why, std::vector<action>& out);
    void emit(send_action&& s, ticket t, std::vector<action>& out);
    void log(std::vector<action>& out, log_action::level_t level, std::string_view kind, uint64_t now_s,
             std::string text);
    void bump(counter c) { ++counters_[static_cast<size_t>(c)]; }
    void drop(drop_reason r) { ++drops_[static_cast<size_t>(r)]; }

    server_config cfg_;
    lease_book& book_;
    std::vector<held_reply> held_;
    ticket durable_ = k_no_ticket;  ///< highest ticket known durable
    struct rate_limit {
        uint64_t last_s = 0;
        uint64_t suppressed = 0;
        bool logged = false;
    };
    std::map<std::string, rate_limit, std::less<>> log_limits_;
    std::array<uint64_t, static_cast<size_t>(counter::count)> counters_{};
    std::array<uint64_t, static_cast<size_t>(drop_reason::count)> drops_{};
    std::array<uint64_t, 8> parse_errors_{};
    std::array<uint64_t, 10> frame_errors_{};
    message scratch_;  ///< on_frame's parse target (6 KB, kept off the stack)
};

}  // namespace eg::ctl::dhcp
