// libFuzzer target for the DHCP server core: random bytes into the codec
// (parse_message, parse_frame) and, as a sequence of messages, into a fresh server
// with an in-memory lease book. The contract (message.hpp, server.hpp): whatever
// arrives, nothing is read or written out of bounds, nothing throws, and every reply
// the server makes is a well-formed BOOTREPLY of a reply type, within the size the
// client can take, answering the request's xid.
//
// Input layout: a sequence of records, each
//   [control] [len_hi] [len_lo] [len bytes]
// control bit 0: receiving port (0 = directly attached network, 1 = uplink, relays);
// bit 1: the bytes are a whole frame (on_frame) rather than a UDP payload;
// bit 2: make the journal durable after this message; bits 3..7: seconds to advance
// the clock by, times 8. Each record's bytes also go through the parsers on their own.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "control/dhcp/frame.hpp"
#include "control/dhcp/message.hpp"
#include "control/dhcp/server.hpp"
#include "tests/unit/control/dhcp/memory_lease_book.hpp"

namespace {

using namespace eg::ctl::dhcp;

server_config make_config() {
    server_config c;
    network_config lan;
    lan.id = 1;
    lan.port = 0;
    lan.subnet = 0xc0a86400;  // 192.168.100.0/24
    lan.prefix_len = 24;
    lan.server_address = 0xc0a86401;
    lan.lease_time_s = 3600;
    lan.routers = {0xc0a86401};
    lan.dns_servers = {0x09090909, 0x01010101};
    lan.domain_name = "vm.example";
    lan.mtu = 1500;
    lan.classless_routes = {{0x0a000000, 8, 0xc0a864fe}};
    network_config remote;
    remote.id = 2;
    remote.subnet = 0x0a140000;  // 10.20.0.0/16, relayed
    remote.prefix_len = 16;
    remote.server_address = 0xcb007101;
    remote.lease_time_s = 0xffffffff;
    c.networks = {lan, remote};
    c.max_held_replies = 4;
    return c;
}

void check_reply(const send_action& s, const message& req, message& scratch) {
    if (s.payload.size() < k_min_message || s.payload.size() > 1500 - 28) __builtin_trap();
    if (parse_message(s.payload, scratch) != parse_error::none) __builtin_trap();
    if (scratch.h.op != 2 || scratch.h.xid != req.h.xid) __builtin_trap();
    const message_type t = scratch.type();
    if (t != message_type::offer && t != message_type::ack && t != message_type::nak) __builtin_trap();
    if (t != s.type) __builtin_trap();
    if (!scratch.options.has(opt::server_id)) __builtin_trap();
    // Without option 57 a client only takes 576-byte datagrams (RFC 2131 §2).
    if (!req.options.has(opt::max_message_size) && s.payload.size() > k_default_max_payload) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static auto* scratch = new message();
    static auto* request = new message();
    static auto* reply = new message();

    eg::test::memory_lease_book book;
    book.add_pool(1, 0xc0a86464, 0xc0a8646b);  // 8 addresses: exhaustion is reachable
    book.add_pool(2, 0x0a140100, 0x0a140103);
    book.reserve(1, {0x52, 0x54, 0, 0, 0, 0x50}, 0xc0a86432);
    server srv(make_config(), book);
    uint64_t now = 1'700'000'000;
    std::vector<action> out;

    size_t i = 0;
    while (i + 3 <= size) {
        const uint8_t control = data[i];
        size_t len = static_cast<size_t>(data[i + 1]) << 8 | data[i + 2];
        i += 3;
        if (len > size - i) len = size - i;
        const std::span<const uint8_t> bytes(data + i, len);
        i += len;
        now += (control >> 3) * 8u;
        const uint16_t port = control & 1;

        // The parsers on their own.
        frame_view fv;
        (void)parse_frame(bytes, fv);
        const parse_error pe = parse_message(bytes, *scratch);
        if (pe == parse_error::none) {
            for (int code = 0; code < 256; ++code) {
                if (scratch->options.get(static_cast<uint8_t>(code)).size() > bytes.size()) __builtin_trap();
            }
        }

        out.clear();
        if (control & 2) {
            srv.on_frame(port, bytes, now, out);
            if (parse_frame(bytes, fv) != frame_error::none || parse_message(fv.payload, *request) != parse_error::none) {
                if (!out.empty()) __builtin_trap();  // a bad frame never gets an answer
                continue;
            }
        } else {
            if (pe != parse_error::none) continue;
            *request = *scratch;
            arrival a;
            a.port = port;
            a.from.src_mac = {0x52, 0x54, 0, 0, 0, 0x0a};
            a.from.dst_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
            a.from.dst_ip = (control & 0x08) ? 0xc0a86401 : 0xffffffff;
            a.from.src_ip = request->h.ciaddr;
            a.from.src_port = port ? 67 : 68;
            a.from.dst_port = 67;
            srv.on_message(*request, a, now, out);
        }
        // Replies made for this request answer it; ACKs released by on_durable may
        // answer earlier ones, so only their shape is checked.
        const size_t own = out.size();
        if (control & 4) srv.on_durable(book.last_ticket, out);
        if (srv.held_replies() > 4) __builtin_trap();
        for (size_t k = 0; k < out.size(); ++k) {
            if (const auto* s = std::get_if<send_action>(&out[k])) {
                if (k < own) {
                    check_reply(*s, *request, *reply);
                } else if (parse_message(s->payload, *reply) != parse_error::none || reply->h.op != 2) {
                    __builtin_trap();
                }
                if (s->to.dst_port != 67 && s->to.dst_port != 68) __builtin_trap();
            }
        }
    }
    // Whatever is still held comes out well-formed when the journal catches up.
    out.clear();
    srv.on_durable(book.last_ticket, out);
    for (const action& x : out) {
        if (const auto* s = std::get_if<send_action>(&x)) {
            if (parse_message(s->payload, *reply) != parse_error::none || reply->h.op != 2) __builtin_trap();
        }
    }
    if (srv.held_replies() != 0) __builtin_trap();
    return 0;
}
