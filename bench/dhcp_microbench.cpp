// DHCP server core rates (control/dhcp/): the codec alone, and whole
// DISCOVER → OFFER → REQUEST → ACK exchanges through the sans-I/O server, one core.
//
// Workload: every exchange is a new client (MAC from a counter, udhcpc's option list:
// client id, max size 576, an 8-option parameter request list, vendor class) on one
// directly attached /16 network whose pool holds 65,000 addresses; replies carry mask,
// router, two DNS servers, domain, broadcast address and classless routes (what udhcpc
// asks for). The lease book is the tests' in-memory one (std::map, no journal): the
// durability ticket of each ACK is declared durable at once (no fsync), so the figures
// are the protocol core's cost, not the lease store's. Every 60,000 exchanges the book
// and server are rebuilt with the clock paused, so the pool never runs dry.
//
// BM_DhcpParse: parse_message of udhcpc's DISCOVER (items/s = messages/s).
// BM_DhcpParseFrame: parse_frame + parse_message of the same DISCOVER in its frame.
// BM_DhcpExchange: per iteration one exchange on payloads (parse the two client
//   messages, server, two replies built); items/s = leases/s.
// BM_DhcpExchangeFrames: the same through on_frame (IPv4 and UDP checksums verified),
//   each reply put in a frame with build_frame, as the punt/inject adapter will do.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "control/dhcp/frame.hpp"
#include "control/dhcp/message.hpp"
#include "control/dhcp/server.hpp"
#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "tests/unit/control/dhcp/dhcp_test_messages.hpp"
#include "tests/unit/control/dhcp/memory_lease_book.hpp"

namespace {

using namespace eg::ctl::dhcp;
namespace td = eg::test::dhcp;
using eg::test::bytes;

constexpr uint32_t k_net = 1;
constexpr uint32_t k_server_ip = 0x0a4e0001;  // 10.78.0.1/16, as in the baseline lab
constexpr uint32_t k_rebuild_every = 60000;

server_config make_config() {
    server_config c;
    network_config n;
    n.id = k_net;
    n.port = 0;
    n.subnet = 0x0a4e0000;
    n.prefix_len = 16;
    n.server_address = k_server_ip;
    n.lease_time_s = 3600;
    n.routers = {k_server_ip};
    n.dns_servers = {0x09090909, 0x01010101};
    n.domain_name = "vm.example";
    n.classless_routes = {{0x0a000000, 8, 0x0a4e00fe}};
    c.networks = {n};
    return c;
}

/// udhcpc-style client messages; the MAC (and client id) patched per client.
struct client_messages {
    bytes discover, request;
    size_t mac_at = 28, cid_at = 0, cid_at_request = 0, requested_at = 0;

    client_messages() {
        td::dhcp_spec d;
        d.chaddr = {0x52, 0x54, 0, 0, 0, 0};
        const bytes prl = {1, 3, 6, 12, 15, 28, 42, 121};
        const bytes vendor = {'u', 'd', 'h', 'c', 'p', ' ', '1', '.', '3', '5', '.', '0'};
        d.options = {{53, td::u8v(1)}, {61, td::client_id_of(d.chaddr)}, {57, td::u16v(576)}, {55, prl}, {60, vendor}};
        discover = td::dhcp_payload(d);
        cid_at = 240 + 3 + 2 + 1;  // after 53 and 61's code, length and type
        td::dhcp_spec r = d;
        r.options = {{53, td::u8v(3)},          {61, td::client_id_of(d.chaddr)}, {54, td::u32v(k_server_ip)},
                     {50, td::u32v(0)},         {57, td::u16v(576)},           {55, prl},
                     {60, vendor}};
        request = td::dhcp_payload(r);
        cid_at_request = cid_at;
        requested_at = 240 + 3 + 9 + 6 + 2;
    }
    void set_client(uint32_t n) {
        for (bytes* b : {&discover, &request}) {
            uint8_t* m = b->data() + mac_at;
            m[2] = static_cast<uint8_t>(n >> 24), m[3] = static_cast<uint8_t>(n >> 16);
            m[4] = static_cast<uint8_t>(n >> 8), m[5] = static_cast<uint8_t>(n);
            (*b)[4] = static_cast<uint8_t>(n >> 8), (*b)[5] = static_cast<uint8_t>(n);  // xid
        }
        std::copy(discover.data() + mac_at, discover.data() + mac_at + 6, discover.data() + cid_at);
        std::copy(request.data() + mac_at, request.data() + mac_at + 6, request.data() + cid_at_request);
    }
    void set_requested(const uint8_t* yiaddr) { std::copy(yiaddr, yiaddr + 4, request.data() + requested_at); }
};

struct world {
    std::unique_ptr<eg::test::memory_lease_book> book;
    std::unique_ptr<server> srv;
    uint64_t now = 1'700'000'000;
    void rebuild() {
        srv.reset();
        book = std::make_unique<eg::test::memory_lease_book>();
        book->add_pool(k_net, 0x0a4e0100, 0x0a4e0100 + 65000);
        srv = std::make_unique<server>(make_config(), *book);
    }
};

const send_action* first_send(const std::vector<action>& out) {
    for (const action& a : out) {
        if (const auto* s = std::get_if<send_action>(&a)) return s;
    }
    return nullptr;
}

void BM_DhcpParse(benchmark::State& state) {
    client_messages c;
    c.set_client(1);
    auto m = std::make_unique<message>();
    for (auto _ : state) {
        const parse_error e = parse_message(c.discover, *m);
        benchmark::DoNotOptimize(e);
        benchmark::DoNotOptimize(m->h.xid);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DhcpParse);

void BM_DhcpParseFrame(benchmark::State& state) {
    client_messages c;
    c.set_client(1);
    const bytes f = td::dhcp_frame(c.discover, {0x52, 0x54, 0, 0, 0, 1}, {0, 0, 0, 0}, eg::test::k_broadcast,
                                   {255, 255, 255, 255});
    auto m = std::make_unique<message>();
    for (auto _ : state) {
        frame_view v;
        if (parse_frame(f, v) != frame_error::none || parse_message(v.payload, *m) != parse_error::none) {
            state.SkipWithError("parse failed");
            break;
        }
        benchmark::DoNotOptimize(m->h.xid);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DhcpParseFrame);

void BM_DhcpExchange(benchmark::State& state) {
    world w;
    w.rebuild();
    client_messages c;
    auto m = std::make_unique<message>();
    std::vector<action> out;
    arrival a;
    a.from.dst_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    a.from.dst_ip = 0xffffffff;
    uint32_t client = 0;
    for (auto _ : state) {
        if (++client % k_rebuild_every == 0) {
            state.PauseTiming();
            w.rebuild();
            state.ResumeTiming();
        }
        c.set_client(client);
        std::copy(c.discover.data() + 28, c.discover.data() + 34, a.from.src_mac.begin());
        out.clear();
        parse_message(c.discover, *m);
        w.srv->on_message(*m, a, w.now, out);
        const send_action* offer = first_send(out);
        if (!offer) {
            state.SkipWithError("no offer");
            break;
        }
        c.set_requested(offer->payload.data() + 16);  // yiaddr
        out.clear();
        parse_message(c.request, *m);
        w.srv->on_message(*m, a, w.now, out);
        w.srv->on_durable(w.book->last_ticket, out);
        const send_action* ack = first_send(out);
        if (!ack || ack->type != message_type::ack) {
            state.SkipWithError("no ack");
            break;
        }
        benchmark::DoNotOptimize(ack->payload.data());
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DhcpExchange);

void BM_DhcpExchangeFrames(benchmark::State& state) {
    world w;
    w.rebuild();
    client_messages c;
    std::vector<action> out;
    std::vector<uint8_t> tx(1514);
    const eg::dp::mac_bytes port_mac{0x02, 0, 0, 0, 0, 1};
    // The client's frames are built once; per exchange the client's part is patching
    // MAC, xid and requested address into them and redoing the UDP checksum (a
    // few tens of ns, counted in the figure).
    bytes discover = td::dhcp_frame(c.discover, {0x52, 0x54, 0, 0, 0, 0}, {0, 0, 0, 0}, eg::test::k_broadcast,
                                    {255, 255, 255, 255});
    bytes request = td::dhcp_frame(c.request, {0x52, 0x54, 0, 0, 0, 0}, {0, 0, 0, 0}, eg::test::k_broadcast,
                                   {255, 255, 255, 255});
    auto refresh = [](bytes& f, const bytes& payload) {
        std::copy(payload.begin(), payload.end(), f.begin() + 42);
        std::copy(payload.begin() + 28, payload.begin() + 34, f.begin() + 6);  // Ethernet source = chaddr
        f[40] = f[41] = 0;
        const uint64_t sum = eg::dp::pseudo_header_sum(f.data() + 26, f.data() + 30, 4, 17,
                                                       static_cast<uint32_t>(f.size() - 34));
        uint16_t csum = eg::dp::checksum(f.data() + 34, static_cast<uint32_t>(f.size() - 34), sum);
        eg::dp::put_raw16(f.data() + 40, csum ? csum : 0xffff);
    };
    uint32_t client = 0;
    size_t tx_bytes = 0;
    for (auto _ : state) {
        if (++client % k_rebuild_every == 0) {
            state.PauseTiming();
            w.rebuild();
            state.ResumeTiming();
        }
        c.set_client(client);
        refresh(discover, c.discover);
        out.clear();
        w.srv->on_frame(0, discover, w.now, out);
        const send_action* offer = first_send(out);
        if (!offer) {
            state.SkipWithError("no offer");
            break;
        }
        frame_addresses to = offer->to;
        to.src_mac = port_mac;
        tx_bytes += build_frame(tx, to, offer->payload);
        c.set_requested(offer->payload.data() + 16);
        refresh(request, c.request);
        out.clear();
        w.srv->on_frame(0, request, w.now, out);
        w.srv->on_durable(w.book->last_ticket, out);
        const send_action* ack = first_send(out);
        if (!ack || ack->type != message_type::ack) {
            state.SkipWithError("no ack");
            break;
        }
        to = ack->to;
        to.src_mac = port_mac;
        tx_bytes += build_frame(tx, to, ack->payload);
    }
    benchmark::DoNotOptimize(tx_bytes);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DhcpExchangeFrames);

}  // namespace
