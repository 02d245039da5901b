// NAT44 rewrite core (dataplane/nat44_translate.hpp). Every case builds the packet
// from a spec with checksums computed here byte by byte (RFC 1071, independent of the
// engine's checksum.hpp), rewrites it with the engine, then builds the expected packet
// from scratch with the new addresses/ports and compares every byte: that checks all
// checksums (IPv4, embedded IPv4, TCP/UDP/ICMP, outer ICMP) and that nothing else moved.
#include "dataplane/nat44_translate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace eg::dp;
using bytes = std::vector<uint8_t>;

// ---- independent reference arithmetic ---------------------------------------------

/// RFC 1071, one byte pair at a time: the folded (non-complemented) sum.
uint16_t ref_sum(const uint8_t* p, size_t n, uint32_t init = 0) {
    uint32_t s = init;
    for (size_t i = 0; i < n; i += 2) {
        s += static_cast<uint32_t>(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0u);
        s = (s & 0xffff) + (s >> 16);
    }
    return static_cast<uint16_t>(s);
}
uint16_t ref_csum(const uint8_t* p, size_t n, uint32_t init = 0) {
    return static_cast<uint16_t>(~ref_sum(p, n, init));
}
void w16(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void w32(uint8_t* p, uint32_t v) {
    w16(p, v >> 16);
    w16(p + 2, v);
}
uint16_t r16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) {
    uint8_t b[12];
    w32(b, src);
    w32(b + 4, dst);
    b[8] = 0;
    b[9] = proto;
    w16(b + 10, len);
    return ref_sum(b, 12);
}

// ---- packet specs and builder -------------------------------------------------------

constexpr uint8_t k_gre = 47;

struct l4spec {
    uint8_t proto = proto::tcp;
    uint32_t src = 0, dst = 0;
    uint16_t sport = 0, dport = 0;  // ICMP echo: request id = sport, reply id = dport
    uint8_t icmp_type = icmp4::echo_request;
    uint32_t opt_len = 0;  // IPv4 options bytes (multiple of 4)
    uint32_t payload = 0;
    bool udp_zero = false;
    uint8_t flags = tcp_flag::ack;
    uint32_t payload_seed = 1;
};

struct tcase {
    std::string name;
    l4spec pkt;           // the packet, or the embedded one of an ICMP error
    int frag = 0;         // of pkt: 0 whole, 1 first fragment, 2 non-first fragment
    uint32_t frag_cut = 8;  // L4 bytes in the first fragment (multiple of 8)
    bool partial = false;   // needs_csum: L4 field holds the pseudo-header seed
    uint8_t gso = offload_info::gso_none;
    bool icmp_error = false;
    uint8_t err_type = icmp4::dest_unreachable, err_code = 3;
    uint32_t quote_l4 = 0xffff;  // bytes of embedded transport quoted (clamped)
    uint32_t outer_opt = 0;
    uint32_t router = 0xc6336401, host = 0xcb007101;  // outer src, outer dst of the error
};

uint32_t ip_header_len(const l4spec& s) { return 20 + s.opt_len; }
uint32_t l4_header_len(const l4spec& s) {
    return s.proto == proto::tcp ? 20 : (s.proto == k_gre ? 4 : 8);
}

void finish_ipv4_header(bytes& d) {
    const uint32_t ihl = (d[0] & 0xf) * 4u;
    w16(&d[2], static_cast<uint32_t>(d.size()));
    w16(&d[10], 0);
    w16(&d[10], ref_csum(d.data(), ihl));
}

bytes ipv4_header(uint8_t proto, uint32_t src, uint32_t dst, uint32_t opt_len, uint16_t id) {
    bytes h(20 + opt_len, 0);
    h[0] = static_cast<uint8_t>(0x40 | (20 + opt_len) / 4);
    w16(&h[4], id);
    h[8] = 64;
    h[9] = proto;
    w32(&h[12], src);
    w32(&h[16], dst);
    for (uint32_t i = 0; i < opt_len; ++i) {
        h[20 + i] = i + 1 == opt_len ? 0 /*EOL*/ : (i < 4 ? uint8_t{0x94} : uint8_t{1});  // RA + NOPs
    }
    if (opt_len >= 4) {
        h[21] = 4;  // router alert length
        h[22] = h[23] = 0;
    }
    return h;
}

/// A whole IPv4 datagram; `partial` puts the pseudo-header seed in the L4 field.
bytes datagram(const l4spec& s, bool partial) {
    bytes d = ipv4_header(s.proto, s.src, s.dst, s.opt_len, 0x1234);
    bytes l4(l4_header_len(s), 0);
    std::mt19937 g(s.payload_seed);
    for (uint32_t i = 0; i < s.payload; ++i) {
        l4.push_back(static_cast<uint8_t>(g()));
    }
    const uint32_t len = static_cast<uint32_t>(l4.size());
    switch (s.proto) {
    case proto::tcp:
        w16(&l4[0], s.sport);
        w16(&l4[2], s.dport);
        w32(&l4[4], 0x11223344);
        w32(&l4[8], 0x55667788);
        l4[12] = 0x50;
        l4[13] = s.flags;
        w16(&l4[14], 0xfaf0);
        w16(&l4[16], partial ? pseudo(s.src, s.dst, s.proto, len)
                             : ref_csum(l4.data(), len, pseudo(s.src, s.dst, s.proto, len)));
        break;
    case proto::udp: {
        w16(&l4[0], s.sport);
        w16(&l4[2], s.dport);
        w16(&l4[4], len);
        uint16_t c = partial ? pseudo(s.src, s.dst, s.proto, len)
                             : ref_csum(l4.data(), len, pseudo(s.src, s.dst, s.proto, len));
        if (!partial && c == 0) {
            c = 0xffff;
        }
        w16(&l4[6], s.udp_zero && !partial ? 0 : c);  // a seed is never 0
        break;
    }
    case proto::icmp:
        l4[0] = s.icmp_type;
        w16(&l4[4], s.icmp_type == icmp4::echo_request ? s.sport : s.dport);
        w16(&l4[6], 7);
        w16(&l4[2], partial ? 0 : ref_csum(l4.data(), len));
        break;
    default:  // GRE-like: no checksum
        w16(&l4[2], 0x6558);
        break;
    }
    d.insert(d.end(), l4.begin(), l4.end());
    finish_ipv4_header(d);
    return d;
}

/// Cuts a fragment out of a whole datagram (which: 1 first, 2 rest).
bytes fragment(const bytes& whole, int which, uint32_t cut) {
    const uint32_t ihl = (whole[0] & 0xf) * 4u;
    bytes f(whole.begin(), whole.begin() + ihl);
    if (which == 1) {
        f.insert(f.end(), whole.begin() + ihl, whole.begin() + ihl + cut);
        w16(&f[6], ipv4::flag_mf);
    } else {
        f.insert(f.end(), whole.begin() + ihl + cut, whole.end());
        w16(&f[6], cut / 8);
    }
    finish_ipv4_header(f);
    return f;
}

bytes build_ip(const tcase& c, bool partial) {
    bytes inner = datagram(c.pkt, partial && !c.icmp_error);
    if (c.frag != 0) {
        inner = fragment(inner, c.frag, c.frag_cut);
    }
    if (!c.icmp_error) {
        return inner;
    }
    const uint32_t inner_ihl = (inner[0] & 0xf) * 4u;
    const uint32_t quote = std::min<uint32_t>(static_cast<uint32_t>(inner.size()), inner_ihl + c.quote_l4);
    bytes d = ipv4_header(proto::icmp, c.router, c.host, c.outer_opt, 0x4321);
    const size_t icmp_at = d.size();
    bytes icmp(8, 0);
    icmp[0] = c.err_type;
    icmp[1] = c.err_code;
    if (c.err_type == icmp4::dest_unreachable && c.err_code == 4) {
        w16(&icmp[6], 1400);
    }
    icmp.insert(icmp.end(), inner.begin(), inner.begin() + quote);
    d.insert(d.end(), icmp.begin(), icmp.end());
    w16(&d[icmp_at + 2], ref_csum(&d[icmp_at], d.size() - icmp_at));
    finish_ipv4_header(d);
    return d;
}

/// Ethernet + IP, as a backend hands it over.
struct frame {
    bytes b;
    packet p;
    frame(const tcase& c, bool partial) : b(14, 0xee) {
        bytes ip = build_ip(c, partial);
        w16(&b[12], eth::type_ipv4);
        b.insert(b.end(), ip.begin(), ip.end());
        p.data = b.data();
        p.len = static_cast<uint32_t>(b.size());
        p.buf = b.data();
        p.buf_size = p.len;
        p.l3_offset = 14;
        if (partial) {
            p.offload.needs_csum = 1;
            p.offload.gso_type = c.gso;
            p.offload.gso_size = c.gso ? 1400 : 0;
            p.offload.csum_start = static_cast<uint16_t>(14 + ip_header_len(c.pkt));
            p.offload.csum_offset = c.pkt.proto == proto::tcp ? 16 : (c.pkt.proto == proto::udp ? 6 : 2);
        }
    }
    frame(const frame&) = delete;
};

/// The kernel's completion of a partial checksum: ~fold(sum from csum_start), for UDP
/// 0 -> 0xffff (skb_checksum_help, udp4_hwcsum).
void complete_like_kernel(bytes& b, const offload_info& o, bool udp) {
    const size_t at = o.csum_start + o.csum_offset;
    uint16_t c = ref_csum(&b[o.csum_start], b.size() - o.csum_start);
    if (udp && c == 0) {
        c = 0xffff;
    }
    w16(&b[at], c);
}

std::string hexdiff(const bytes& got, const bytes& want) {
    if (got.size() != want.size()) {
        return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    }
    std::string s;
    for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] != want[i]) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " [%zu] %02x!=%02x", i, got[i], want[i]);
            s += buf;
        }
    }
    return s;
}

enum class op { src, dst, err_dst, err_src };

std::string describe(const tcase& c) {
    char buf[200];
    std::snprintf(buf, sizeof buf, " [proto %d type %d opt %u payload %u zero %d frag %d/%u partial %d gso %d error %d/%d quote %u]",
                  c.pkt.proto, c.pkt.icmp_type, c.pkt.opt_len, c.pkt.payload, c.pkt.udp_zero, c.frag, c.frag_cut,
                  c.partial, c.gso, c.icmp_error, c.err_type, c.quote_l4);
    return buf;
}

/// The spec after the rewrite `o` with (a, port): what the engine must produce.
tcase expected_after(tcase c, op o, uint32_t a, uint16_t port) {
    if (!c.icmp_error) {
        if (o == op::src) {
            c.pkt.src = a;
            c.pkt.sport = port;
        } else {
            c.pkt.dst = a;
            c.pkt.dport = port;
        }
        return c;
    }
    switch (o) {
    case op::src: c.router = a; break;
    case op::dst: c.host = a; break;
    case op::err_dst:
        c.host = a;
        c.pkt.src = a;
        c.pkt.sport = port;
        break;
    case op::err_src:
        c.router = a;
        c.pkt.dst = a;
        c.pkt.dport = port;
        break;
    }
    return c;
}

void apply(packet& p, op o, uint32_t a, uint16_t port) {
    switch (o) {
    case op::src: nat44_rewrite_src(p, a, port); break;
    case op::dst: nat44_rewrite_dst(p, a, port); break;
    case op::err_dst: nat44_rewrite_icmp_error(p, a, a, port); break;
    case op::err_src: nat44_rewrite_icmp_error(p, nat_side::src, a, a, port); break;
    }
}

/// Rewrites and compares with the from-scratch expectation; for partial packets also
/// completes both the kernel's way and compares with a fully checksummed build.
void check_rewrite(const tcase& c, op o, uint32_t a, uint16_t port) {
    frame f(c, c.partial);
    apply(f.p, o, a, port);
    const tcase e = expected_after(c, o, a, port);
    frame want(e, c.partial);
    ASSERT_TRUE(f.b == want.b) << c.name << describe(c) << " op " << static_cast<int>(o) << hexdiff(f.b, want.b);
    if (c.partial && !c.icmp_error) {
        tcase e_full = e;
        e_full.pkt.udp_zero = false;  // the device always fills the UDP checksum in
        frame full(e_full, false);
        const bool udp = c.pkt.proto == proto::udp;
        complete_like_kernel(f.b, f.p.offload, udp);
        ASSERT_TRUE(f.b == full.b) << c.name << " completed" << hexdiff(f.b, full.b);
        // and the completed L4 verifies from scratch
        const uint32_t ihl = ip_header_len(c.pkt);
        const uint32_t l4len = static_cast<uint32_t>(f.b.size()) - 14 - ihl;
        if (c.pkt.proto != proto::icmp) {
            ASSERT_EQ(ref_sum(&f.b[14 + ihl], l4len, pseudo(e.pkt.src, e.pkt.dst, c.pkt.proto, l4len)), 0xffff);
        }
    }
    // The outer IPv4 header verifies from scratch (redundant, but explicit).
    ASSERT_EQ(ref_sum(&f.b[14], (f.b[14] & 0xf) * 4u), 0xffff);
}

nat_tuple expected_tuple(const tcase& c) {
    nat_tuple t;
    const l4spec& s = c.pkt;
    const bool no_ports = c.frag == 2 || s.proto == k_gre;
    uint16_t sp = 0, dp = 0;
    if (!no_ports) {
        if (s.proto == proto::icmp) {
            (s.icmp_type == icmp4::echo_request ? sp : dp) = s.icmp_type == icmp4::echo_request ? s.sport : s.dport;
        } else {
            sp = s.sport;
            dp = s.dport;
        }
    }
    t.proto = s.proto;
    if (!c.icmp_error) {
        t.src_addr = s.src;
        t.dst_addr = s.dst;
        t.src_port = sp;
        t.dst_port = dp;
        t.flags = static_cast<uint8_t>((c.frag ? nat_tuple::fragment : 0) | (no_ports ? nat_tuple::no_ports : 0));
    } else {
        t.src_addr = s.dst;
        t.dst_addr = s.src;
        t.src_port = dp;
        t.dst_port = sp;
        t.flags = static_cast<uint8_t>(nat_tuple::icmp_error | (no_ports ? nat_tuple::no_ports : 0));
    }
    return t;
}

// ---- the table ------------------------------------------------------------------------

constexpr uint32_t k_in = 0xc0a86402, k_out = 0xcb007101, k_remote = 0x5db8d822;

l4spec tcp(uint32_t payload = 0, uint32_t opt = 0) {
    return l4spec{proto::tcp, k_in, k_remote, 40000, 443, 0, opt, payload, false, tcp_flag::ack, 7};
}
l4spec udp(uint32_t payload = 0, bool zero = false, uint32_t opt = 0) {
    return l4spec{proto::udp, k_in, k_remote, 5353, 53, 0, opt, payload, zero, 0, 9};
}
l4spec echo(uint8_t type, uint32_t payload = 56, uint32_t opt = 0) {
    return l4spec{proto::icmp, k_in, k_remote, 0x1d2e, 0x3f40, type, opt, payload, false, 0, 11};
}

tcase normal(std::string n, l4spec s) {
    tcase c;
    c.name = std::move(n);
    c.pkt = s;
    return c;
}
tcase frag(std::string n, l4spec s, int which, uint32_t cut) {
    tcase c = normal(std::move(n), s);
    c.frag = which;
    c.frag_cut = cut;
    return c;
}
tcase partial(std::string n, l4spec s, uint8_t gso = offload_info::gso_none) {
    tcase c = normal(std::move(n), s);
    c.partial = true;
    c.gso = gso;
    return c;
}
/// An error about `inner` (sent by the inside host out through the NAT already
/// translated: its src is the outside address) arriving back at the outside address.
tcase error(std::string n, l4spec inner, uint32_t quote_l4, uint8_t type = icmp4::dest_unreachable,
            uint8_t code = 3, uint32_t outer_opt = 0) {
    inner.src = k_out;
    tcase c = normal(std::move(n), inner);
    c.icmp_error = true;
    c.err_type = type;
    c.err_code = code;
    c.quote_l4 = quote_l4;
    c.outer_opt = outer_opt;
    c.host = k_out;
    return c;
}

std::vector<tcase> cases() {
    std::vector<tcase> v;
    v.push_back(normal("tcp", tcp()));
    v.push_back(normal("tcp_payload_odd", tcp(101)));
    v.push_back(normal("tcp_options", tcp(40, 8)));
    v.push_back(normal("tcp_max_options", tcp(33, 40)));
    v.push_back(normal("udp", udp(20)));
    v.push_back(normal("udp_odd", udp(33)));
    v.push_back(normal("udp_zero_csum", udp(20, true)));
    v.push_back(normal("udp_options", udp(12, false, 12)));
    v.push_back(normal("echo_request", echo(icmp4::echo_request)));
    v.push_back(normal("echo_reply", echo(icmp4::echo_reply)));
    v.push_back(normal("echo_request_odd_options", echo(icmp4::echo_request, 13, 4)));
    v.push_back(normal("gre_address_only", l4spec{k_gre, k_in, k_remote, 0, 0, 0, 0, 30, false, 0, 3}));
    v.push_back(frag("tcp_first_fragment", tcp(200), 1, 64));
    v.push_back(frag("tcp_first_fragment_options", tcp(200, 8), 1, 24));
    v.push_back(frag("tcp_non_first_fragment", tcp(200), 2, 64));
    v.push_back(frag("udp_first_fragment", udp(300), 1, 8));
    v.push_back(frag("udp_non_first_fragment", udp(300), 2, 8));
    v.push_back(frag("echo_first_fragment", echo(icmp4::echo_request, 300), 1, 16));
    v.push_back(frag("echo_non_first_fragment", echo(icmp4::echo_request, 300), 2, 16));
    v.push_back(partial("tcp_needs_csum", tcp(100)));
    v.push_back(partial("tcp_needs_csum_options_odd", tcp(77, 8)));
    v.push_back(partial("udp_needs_csum", udp(100)));
    v.push_back(partial("udp_needs_csum_odd", udp(1)));
    v.push_back(partial("echo_needs_csum", echo(icmp4::echo_request)));
    v.push_back(partial("gso_tcp", tcp(4000), offload_info::gso_tcpv4));
    v.push_back(partial("gso_udp_l4", udp(3000), offload_info::gso_udp_l4));
    v.push_back(error("unreach_tcp_full", tcp(20), 0xffff));
    v.push_back(error("unreach_tcp_8", tcp(20), 8));
    v.push_back(error("unreach_tcp_16_no_csum", tcp(20), 16));
    v.push_back(error("unreach_tcp_18_csum", tcp(20), 18));
    v.push_back(error("unreach_udp_full", udp(20), 0xffff));
    v.push_back(error("unreach_udp_8", udp(200), 8));
    v.push_back(error("unreach_udp_zero_csum", udp(20, true), 8));
    v.push_back(error("frag_needed_tcp_options", tcp(1000, 12), 8, icmp4::dest_unreachable, 4));
    v.push_back(error("unreach_echo_full", echo(icmp4::echo_request), 0xffff));
    v.push_back(error("unreach_echo_8", echo(icmp4::echo_request), 8));
    v.push_back(error("time_exceeded_udp_options", udp(40, false, 8), 8, icmp4::time_exceeded, 0, 4));
    v.push_back(error("time_exceeded_echo", echo(icmp4::echo_request, 30), 8, icmp4::time_exceeded, 0));
    v.push_back(error("param_problem_tcp", tcp(10), 0xffff, icmp4::param_problem, 0));
    v.push_back(error("source_quench_udp", udp(10), 8, 4, 0));
    {
        tcase c = error("unreach_about_non_first_fragment", udp(300), 8);
        c.frag = 2;
        c.frag_cut = 16;
        v.push_back(c);
    }
    {
        tcase c = error("unreach_about_first_fragment", tcp(300), 0xffff);
        c.frag = 1;
        c.frag_cut = 40;
        v.push_back(c);
    }
    return v;
}

class Nat44Translate : public ::testing::TestWithParam<tcase> {};

TEST_P(Nat44Translate, Tuple) {
    const tcase& c = GetParam();
    frame f(c, c.partial);
    nat_tuple t;
    ASSERT_TRUE(nat44_tuple(f.p, t));
    EXPECT_EQ(t, expected_tuple(c)) << t.src_addr << " " << t.dst_addr << " " << t.src_port << " "
                                    << t.dst_port << " " << int{t.proto} << " " << int{t.flags};
}

TEST_P(Nat44Translate, RewriteSrc) {
    check_rewrite(GetParam(), op::src, 0xcb007105, 61000);
    check_rewrite(GetParam(), op::src, 0x0a000001, 1);  // different high/low words
}

TEST_P(Nat44Translate, RewriteDst) {
    check_rewrite(GetParam(), op::dst, 0xc0a80a0b, 8443);
    check_rewrite(GetParam(), op::dst, 0xffffffff, 0);
}

TEST_P(Nat44Translate, RewriteIcmpError) {
    const tcase& c = GetParam();
    if (!c.icmp_error) {
        // Not an ICMP error: the packet is left exactly as it was.
        frame f(c, c.partial);
        const bytes before = f.b;
        nat44_rewrite_icmp_error(f.p, 0x01020304, 0x05060708, 99);
        nat44_rewrite_icmp_error(f.p, nat_side::src, 0x01020304, 0x05060708, 99);
        EXPECT_TRUE(f.b == before) << hexdiff(f.b, before);
        return;
    }
    check_rewrite(c, op::err_dst, k_in, 40000);      // back to the inside host
    check_rewrite(c, op::err_src, 0x0a0b0c0d, 999);  // the inside-host-sent direction
}

TEST_P(Nat44Translate, RoundTripRestoresBytes) {
    // src then back: the packet is bit-identical (incremental updates are exact).
    const tcase& c = GetParam();
    frame f(c, c.partial);
    const bytes before = f.b;
    nat_tuple t;
    ASSERT_TRUE(nat44_tuple(f.p, t));
    if (c.icmp_error) {
        nat44_rewrite_icmp_error(f.p, 0x01020304, 0x01020304, 777);
        nat44_rewrite_icmp_error(f.p, t.dst_addr, t.dst_addr, t.dst_port);
    } else {
        nat44_rewrite_src(f.p, 0x01020304, 777);
        nat44_rewrite_src(f.p, t.src_addr, t.src_port);
    }
    EXPECT_TRUE(f.b == before) << hexdiff(f.b, before);
}

INSTANTIATE_TEST_SUITE_P(Nat44, Nat44Translate, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<tcase>& i) { return i.param.name; });

// ---- targeted cases --------------------------------------------------------------------

TEST(Nat44TranslateUdp, ComputedZeroIsSentAsAllOnes) {
    // Find a new port that makes the UDP checksum compute to 0 (RFC 768: send 0xffff).
    tcase c = normal("udp", udp(20));
    bool found = false;
    for (uint32_t port = 0; port < 65536 && !found; ++port) {
        tcase e = expected_after(c, op::src, k_out, static_cast<uint16_t>(port));
        bytes d = datagram(e.pkt, false);
        const uint32_t l4len = static_cast<uint32_t>(d.size()) - 20;
        d[26] = d[27] = 0;
        if (ref_csum(&d[20], l4len, pseudo(k_out, k_remote, proto::udp, l4len)) == 0) {
            found = true;
            frame f(c, false);
            nat44_rewrite_src(f.p, k_out, static_cast<uint16_t>(port));
            EXPECT_EQ(r16(&f.b[14 + 26]), 0xffff);
            check_rewrite(c, op::src, k_out, static_cast<uint16_t>(port));
        }
    }
    EXPECT_TRUE(found);
}

TEST(Nat44TranslateTuple, RejectsWhatCannotBeTranslated) {
    struct bad {
        const char* name;
        tcase c;
        uint32_t cut_total;  // if nonzero: shrink the IPv4 total length to this
    };
    auto err = [](l4spec inner, uint32_t quote, uint8_t type) { return error("e", inner, quote, type); };
    l4spec timestamp = echo(13);
    l4spec redirect_inner = tcp();
    std::vector<bad> table = {
        {"tcp_header_truncated", normal("t", tcp()), 20 + 19},
        {"udp_header_truncated", normal("u", udp()), 20 + 7},
        {"icmp_header_truncated", normal("i", echo(icmp4::echo_request, 0)), 20 + 7},
        {"icmp_timestamp", normal("ts", timestamp), 0},
        {"redirect", err(redirect_inner, 8, 5), 0},
        {"error_quote_7", err(udp(), 7, icmp4::dest_unreachable), 0},
        {"error_about_error", err(echo(icmp4::time_exceeded), 8, icmp4::dest_unreachable), 0},
        {"error_about_timestamp", err(echo(13), 8, icmp4::dest_unreachable), 0},
        {"error_inner_header_cut", err(tcp(), 0, icmp4::dest_unreachable), 20 + 8 + 19},
    };
    for (auto& b : table) {
        frame f(b.c, false);
        if (b.cut_total) {
            w16(&f.b[14 + 2], b.cut_total);
            w16(&f.b[14 + 10], 0);
            w16(&f.b[14 + 10], ref_csum(&f.b[14], 20));
            f.b.resize(14 + b.cut_total);
            f.p.len = static_cast<uint32_t>(f.b.size());
        }
        nat_tuple t;
        EXPECT_FALSE(nat44_tuple(f.p, t)) << b.name;
        // Rewrites still stay in bounds and never touch what is not there.
        nat44_rewrite_src(f.p, 1, 2);
        nat44_rewrite_icmp_error(f.p, 3, 4, 5);
        EXPECT_EQ(ref_sum(&f.b[14], 20), 0xffff) << b.name;
    }
}

TEST(Nat44TranslateTcpFlags, Table) {
    struct row {
        uint8_t wire;
        uint8_t want;
    };
    const row rows[] = {{0x02, tcp_flag::syn},
                        {0x12, tcp_flag::syn | tcp_flag::ack},
                        {0x10, tcp_flag::ack},
                        {0x11, tcp_flag::fin | tcp_flag::ack},
                        {0x04, tcp_flag::rst},
                        {0x14, tcp_flag::rst | tcp_flag::ack},
                        {0x18, tcp_flag::ack},  // PSH dropped
                        {0xff, tcp_flag::fin | tcp_flag::syn | tcp_flag::rst | tcp_flag::ack}};
    for (const row& r : rows) {
        l4spec s = tcp(10, 8);
        s.flags = r.wire;
        frame f(normal("t", s), false);
        EXPECT_EQ(tcp_flags(f.p), r.want) << int{r.wire};
    }
    l4spec s = tcp(100);
    s.flags = tcp_flag::syn;
    frame nf(frag("nf", s, 2, 16), false);
    EXPECT_EQ(tcp_flags(nf.p), 0);
    frame u(normal("u", udp(10)), false);
    EXPECT_EQ(tcp_flags(u.p), 0);
    frame ff(frag("ff", s, 1, 24), false);
    EXPECT_EQ(tcp_flags(ff.p), tcp_flag::syn);
}

// ---- property test -----------------------------------------------------------------------

tcase random_case(std::mt19937& g) {
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(g() % n); };
    l4spec s;
    const uint32_t kind = pick(5);
    s.proto = kind == 0 ? proto::tcp : kind == 1 ? proto::udp : kind == 2 ? proto::icmp : kind == 3 ? proto::tcp : k_gre;
    s.icmp_type = pick(2) ? icmp4::echo_request : icmp4::echo_reply;
    s.src = static_cast<uint32_t>(g());
    s.dst = static_cast<uint32_t>(g());
    s.sport = static_cast<uint16_t>(g());
    s.dport = static_cast<uint16_t>(g());
    s.opt_len = 4 * pick(11);
    s.payload = pick(4) == 0 ? pick(2000) : pick(80);
    s.udp_zero = pick(8) == 0;
    s.flags = static_cast<uint8_t>(g());
    s.payload_seed = static_cast<uint32_t>(g());
    tcase c = normal("random", s);
    const uint32_t shape = pick(10);
    if (shape < 3) {
        c.icmp_error = true;
        c.err_type = std::array<uint8_t, 4>{3, 4, 11, 12}[pick(4)];
        c.err_code = static_cast<uint8_t>(pick(16));
        c.quote_l4 = pick(3) == 0 ? 0xffff : 2 * pick(20);  // whole 16-bit fields
        if (s.proto == proto::icmp && c.quote_l4 < 8) {
            c.quote_l4 = 8;  // checksum without the identifier: the old id is unknown
        }
        c.outer_opt = 4 * pick(11);
        c.router = static_cast<uint32_t>(g());
        c.host = static_cast<uint32_t>(g());
    } else if (shape < 5) {
        c.partial = s.proto != k_gre;
        c.gso = pick(2) ? offload_info::gso_none : (s.proto == proto::udp ? offload_info::gso_udp_l4 : offload_info::gso_tcpv4);
    }
    if (!c.partial && pick(5) == 0) {
        const uint32_t l4 = l4_header_len(s) + s.payload;
        uint32_t cut = 8 * (1 + pick(std::max<uint32_t>(1, l4 / 8)));
        if (c.icmp_error) {
            cut = std::max<uint32_t>(cut, 24);  // tiny fragments (RFC 1858) are tested alone
        }
        if (cut < l4) {
            c.frag = 1 + static_cast<int>(pick(2));
            c.frag_cut = cut;
        }
    }
    return c;
}

TEST(Nat44TranslateProperty, IncrementalEqualsRecomputation10k) {
    std::mt19937 g(20261122);
    for (int i = 0; i < 10000; ++i) {
        const tcase c = random_case(g);
        const uint32_t which = g() % 4;
        op o = which == 0 ? op::src : which == 1 ? op::dst : which == 2 ? op::err_dst : op::err_src;
        if (!c.icmp_error && (o == op::err_dst || o == op::err_src)) {
            o = o == op::err_dst ? op::dst : op::src;
        }
        const uint32_t a = static_cast<uint32_t>(g());
        const uint16_t port = static_cast<uint16_t>(g());
        SCOPED_TRACE("iteration " + std::to_string(i));
        if (!c.icmp_error && c.frag != 0 && c.frag_cut < l4_header_len(c.pkt) && c.pkt.proto != k_gre) {
            // RFC 1858 tiny first fragment: the datagram is not translatable (the stage
            // drops it); rewrites must leave the L4 bytes of either piece alone.
            frame f(c, false);
            nat_tuple t;
            ASSERT_EQ(nat44_tuple(f.p, t), c.frag == 2);
            const bytes before = f.b;
            nat44_rewrite_src(f.p, a, port);
            ASSERT_TRUE(std::equal(f.b.begin() + 14 + 20 + c.pkt.opt_len, f.b.end(),
                                   before.begin() + 14 + 20 + c.pkt.opt_len));
            continue;
        }
        check_rewrite(c, o, a, port);
        if (::testing::Test::HasFatalFailure()) {
            return;
        }
    }
}

}  // namespace
