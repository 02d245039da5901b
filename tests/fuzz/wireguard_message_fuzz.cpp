// libFuzzer target for the WireGuard message parsers and the paths that consume them:
// whatever arrives, nothing is read or written out of bounds, nothing aborts, and a
// parsed handshake message serialises back to the same bytes.
//
// Input layout: byte 0 picks the path (low 2 bits), byte 1 carries flags, the rest is
// the datagram.
//   path 0  every parser on the datagram; a round-trip check for types 1-3
//   path 1  responder: cookie_checker (flag bit 0 = under load) → parse →
//           open_initiation → consume_initiation → create_response → derive_keys,
//           with a fixed static key (flag bit 1: the harness writes a valid mac1 first,
//           so the fuzzer reaches the Diffie-Hellman and AEAD code, not only mac1;
//           flag bit 2: the parsed initiation also goes through respond_batch in a queue
//           [it, a valid initiation of the same peer, it again] and every outcome and
//           response byte must equal the sequential path's)
//   path 2  initiator: a created initiation (fixed ephemeral, so the same every run),
//           then the datagram as a response (bit 1: receiver index and mac1 fixed up)
//           or a cookie reply
//   path 3  transport: open() on a keypair with fixed keys (bit 1: receiver index fixed
//           up), then seal the plaintext back
//
// Seed corpus: tests/fuzz/wireguard_message_corpus/, written by running this binary
// with EG_WG_WRITE_CORPUS=<dir> (valid messages for the fixed keys, one per path).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crypto/blake2s.hpp"
#include "crypto/cookie.hpp"
#include "crypto/handshake.hpp"
#include "crypto/messages.hpp"
#include "crypto/responder_batch.hpp"
#include "crypto/transport.hpp"

namespace {

using namespace eg::crypto;

constexpr uint64_t k_now = 1000 * k_ns_per_s;
constexpr uint64_t k_wall = 1704067200ULL * k_ns_per_s;
const uint8_t k_source[6] = {192, 0, 2, 7, 0xca, 0x6c};

private_key fixed_key(uint8_t seed) {
    private_key k;
    for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed + 31 * i);
    return k;
}

const local_identity& responder_id() {
    static const local_identity id = local_identity::from_private(fixed_key(1));
    return id;
}
const local_identity& initiator_id() {
    static const local_identity id = local_identity::from_private(fixed_key(2));
    return id;
}
const key32 k_psk{};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "wireguard_message_fuzz: %s\n", what);
    __builtin_trap();
}

template <class M, size_t N>
void round_trip(std::span<const uint8_t> b) {
    M m;
    if (parse(b, m) != parse_error::ok) return;
    std::array<uint8_t, N> out{};
    serialise(m, out);
    if (std::memcmp(out.data(), b.data(), N) != 0) fail("parse/serialise round trip differs");
}

void parsers(std::span<const uint8_t> b) {
    message_type t;
    (void)peek_type(b, t);
    round_trip<message_initiation, k_initiation_size>(b);
    round_trip<message_response, k_response_size>(b);
    round_trip<message_cookie_reply, k_cookie_reply_size>(b);
    transport_header h;
    (void)parse(b, h);
    (void)verify_mac1(responder_id().macs.mac1, b);
}

void fix_mac1(std::vector<uint8_t>& msg, const public_key& receiver) {
    cookie_maker m(receiver);
    m.add_macs(msg, k_now);
}

/// The initiator's fixed initiation (fixed ephemeral and timestamp), parsed.
const message_initiation& fixed_initiation() {
    static const message_initiation m = [] {
        handshake hs(initiator_id(), responder_id().static_keys.pub, k_psk);
        hs.use_ephemeral_for_test(fixed_key(3));
        message_initiation init;
        if (hs.create_initiation(0x01020304, k_wall, init) != handshake_error::ok) fail("create_initiation");
        std::array<uint8_t, k_initiation_size> b{};
        serialise(init, b);
        cookie_maker(responder_id().static_keys.pub).add_macs(b, k_now);
        if (parse(b, init) != parse_error::ok) fail("parse of our initiation");
        return init;
    }();
    return m;
}

struct outcome {
    handshake_error e = handshake_error::ok;
    std::array<uint8_t, k_response_size> response{};
    key32 send{};
    bool operator==(const outcome&) const = default;
};

/// One responder whose only peer is initiator_id(), with fixed response ephemerals.
struct batch_world : responder_sink {
    handshake hs{responder_id(), initiator_id().static_keys.pub, k_psk};
    std::vector<outcome> out;
    batch_world() {
        for (uint8_t k = 0; k < 3; ++k) hs.use_ephemeral_for_test(fixed_key(uint8_t(10 + k)));
    }
    handshake* find_peer(const public_key& s) override { return s == hs.remote_static() ? &hs : nullptr; }
    uint32_t new_index(handshake&) override { return 7; }
    void done(size_t, handshake_error e, handshake* h, const message_response* r) override {
        outcome o;
        o.e = e;
        if (r) {
            serialise(*r, o.response);
            session_keys k;
            if (h->derive_keys(k) != handshake_error::ok) fail("derive_keys after a batched response");
            o.send = k.send;
        }
        out.push_back(o);
    }
};

void batch_differential(const message_initiation& fuzzed) {
    const queued_initiation q[3] = {
        {fuzzed, k_now}, {fixed_initiation(), k_now + 30 * k_ns_per_ms}, {fuzzed, k_now + 60 * k_ns_per_ms}};
    batch_world seq;
    for (const queued_initiation& qi : q) respond_batch(responder_id(), std::span(&qi, 1), seq);
    for (x25519_batch_path path : {x25519_batch_path::sodium, x25519_batch_default_path()}) {
        batch_world bat;
        respond_batch(responder_id(), q, bat, path);
        if (bat.out != seq.out) fail("respond_batch differs from the sequential path");
    }
}

void responder(std::vector<uint8_t>& msg, uint8_t flags) {
    if (flags & 2) fix_mac1(msg, responder_id().static_keys.pub);
    cookie_checker checker(responder_id().static_keys.pub);
    const auto v = checker.validate(msg, k_source, k_now, flags & 1);
    if (v == cookie_checker::verdict::invalid_mac1) return;
    if (v == cookie_checker::verdict::need_cookie) {
        message_cookie_reply reply;
        checker.create_reply(msg, k_source, k_now, reply);
        return;
    }
    message_initiation init;
    if (parse(msg, init) != parse_error::ok) return;
    if (flags & 4) batch_differential(init);
    initiation_prelude pre;
    if (open_initiation(responder_id(), init, pre) != handshake_error::ok) return;
    handshake hs(responder_id(), initiator_id().static_keys.pub, k_psk);
    if (hs.consume_initiation(pre, init, k_now) != handshake_error::ok) return;
    message_response resp;
    if (hs.create_response(7, resp) != handshake_error::ok) fail("create_response after a consumed initiation");
    session_keys keys;
    if (hs.derive_keys(keys) != handshake_error::ok) fail("derive_keys after create_response");
}

void initiator(std::vector<uint8_t>& msg, uint8_t flags) {
    handshake hs(initiator_id(), responder_id().static_keys.pub, k_psk);
    cookie_maker maker(responder_id().static_keys.pub);
    message_initiation init;
    // A fixed ephemeral makes the initiation the same every run, so a response in the
    // corpus made for it decrypts and the fuzzer mutates from a state that reaches
    // derive_keys.
    hs.use_ephemeral_for_test(fixed_key(3));
    if (hs.create_initiation(0x01020304, k_wall, init) != handshake_error::ok) fail("create_initiation");
    std::array<uint8_t, k_initiation_size> ib{};
    serialise(init, ib);
    maker.add_macs(ib, k_now);

    message_type t;
    if (peek_type(msg, t) != parse_error::ok) return;
    if (t == message_type::cookie_reply) {
        message_cookie_reply reply;
        if (parse(msg, reply) == parse_error::ok) (void)maker.consume_reply(reply, k_now);
        return;
    }
    if ((flags & 2) && msg.size() == k_response_size) {
        store_le32(msg.data() + 8, 0x01020304);
        fix_mac1(msg, initiator_id().static_keys.pub);
    }
    if (!verify_mac1(initiator_id().macs.mac1, msg)) return;
    message_response resp;
    if (parse(msg, resp) != parse_error::ok) return;
    if (hs.consume_response(resp) != handshake_error::ok) return;
    session_keys keys;
    if (hs.derive_keys(keys) != handshake_error::ok) fail("derive_keys after consume_response");
}

void transport(std::vector<uint8_t>& msg, uint8_t flags) {
    session_keys k;
    k.send.fill(0x11);
    k.receive.fill(0x22);
    k.local_index = 0x0a0b0c0d;
    k.remote_index = 0x01010101;
    keypair kp;
    if (!kp.init(k, k_now)) fail("keypair init");
    if ((flags & 2) && msg.size() >= 8) store_le32(msg.data() + 4, k.local_index);
    std::span<uint8_t> pt;
    if (kp.open(msg, k_now, pt) != transport_error::ok) return;
    std::vector<uint8_t> out(sealed_size(pt.size(), 1420));
    size_t written = 0;
    if (kp.seal(pt, out, k_now, written, 1420) != transport_error::ok) fail("seal after open");
    if (written != out.size()) fail("sealed size");
}

void write_corpus(const char* dir) {
    auto put = [&](const char* name, uint8_t path, uint8_t flags, std::span<const uint8_t> msg) {
        const std::string file = std::string(dir) + "/" + name;
        FILE* f = std::fopen(file.c_str(), "wb");
        if (!f) return;
        const uint8_t head[2] = {path, flags};
        std::fwrite(head, 1, 2, f);
        std::fwrite(msg.data(), 1, msg.size(), f);
        std::fclose(f);
    };
    handshake ini(initiator_id(), responder_id().static_keys.pub, k_psk);
    handshake res(responder_id(), initiator_id().static_keys.pub, k_psk);
    cookie_maker to_res(responder_id().static_keys.pub), to_ini(initiator_id().static_keys.pub);
    message_initiation init;
    ini.use_ephemeral_for_test(fixed_key(3));  // the same initiation path 2 builds
    ini.create_initiation(0x01020304, k_wall, init);
    std::array<uint8_t, k_initiation_size> ib{};
    serialise(init, ib);
    to_res.add_macs(ib, k_now);
    put("parse_initiation", 0, 0, ib);
    put("responder_initiation", 1, 0, ib);
    put("responder_initiation_under_load", 1, 1, ib);
    put("responder_initiation_batched", 1, 4, ib);

    initiation_prelude pre;
    message_response resp;
    if (parse(ib, init) != parse_error::ok || open_initiation(responder_id(), init, pre) != handshake_error::ok ||
        res.consume_initiation(pre, init, k_now) != handshake_error::ok ||
        res.create_response(0x05060708, resp) != handshake_error::ok)
        fail("corpus: the fixed handshake failed");
    std::array<uint8_t, k_response_size> rb{};
    serialise(resp, rb);
    to_ini.add_macs(rb, k_now);
    put("parse_response", 0, 0, rb);
    put("initiator_response", 2, 2, rb);

    cookie_checker checker(responder_id().static_keys.pub);
    message_cookie_reply reply;
    checker.create_reply(ib, k_source, k_now, reply);
    std::array<uint8_t, k_cookie_reply_size> cb{};
    serialise(reply, cb);
    put("parse_cookie_reply", 0, 0, cb);
    put("initiator_cookie_reply", 2, 0, cb);

    session_keys k;  // the peer of path 3's keypair: its receive key is our send key
    k.send.fill(0x22);
    k.receive.fill(0x11);
    k.local_index = 0x01010101;
    k.remote_index = 0x0a0b0c0d;
    keypair peer;
    peer.init(k, k_now);
    for (size_t n : {size_t(0), size_t(60)}) {
        std::vector<uint8_t> pt(n, 0x45), out(sealed_size(n));
        size_t w = 0;
        peer.seal(pt, out, k_now, w);
        put(n ? "transport_data" : "transport_keepalive", 3, 0, out);
        if (n) put("parse_transport", 0, 0, out);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("EG_WG_WRITE_CORPUS")) {
        write_corpus(dir);
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t path = data[0] & 3, flags = data[1];
    // A copy sized exactly: ASan sees any read past the datagram.
    std::vector<uint8_t> msg(data + 2, data + size);
    switch (path) {
        case 0: parsers(msg); break;
        case 1: responder(msg, flags); break;
        case 2: initiator(msg, flags); break;
        case 3: transport(msg, flags); break;
    }
    return 0;
}
