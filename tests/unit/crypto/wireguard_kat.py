#!/usr/bin/env python3
"""Independent WireGuard handshake, for the known-answer test in handshake_test.cpp
(WireguardHandshake.MatchesAnIndependentImplementationByteForByte).

Written from the whitepaper (§5.4) with Python's hashlib (BLAKE2s), hmac and the
`cryptography` package (X25519, ChaCha20-Poly1305): no code shared with crypto/.
Fixed keys, ephemerals, PSK, indices and wall time; prints the initiation (with mac1),
the response (with mac1), the transport keys and the first transport message each way.
Run: python3 tests/unit/crypto/wireguard_kat.py
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305


def HASH(x):
    return hashlib.blake2s(x).digest()


def MAC(k, x):
    return hashlib.blake2s(x, digest_size=16, key=k).digest()


def HMAC(k, x):
    return hmac.new(k, x, hashlib.blake2s).digest()


def KDF(n, c, x):
    t0 = HMAC(c, x)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = HMAC(t0, prev + bytes([i]))
        out.append(prev)
    return out


def AEAD(k, ctr, pt, ad):
    return ChaCha20Poly1305(k).encrypt(b"\0" * 4 + struct.pack("<Q", ctr), pt, ad)


def PUB(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def DH(priv, pub):
    return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(pub))


def TAI64N(unix_ns):
    secs, nanos = divmod(unix_ns, 10**9)
    return struct.pack(">QI", (1 << 62) + 10 + secs, nanos & ~((1 << 24) - 1))


def key(seed):
    return bytes((seed + 7 * i) & 0xFF for i in range(32))


S_i, S_r, E_i, E_r, PSK = key(1), key(2), key(3), key(4), key(5)
I_INDEX, R_INDEX = 0x11223344, 0x55667788
WALL_NS = 1704067200 * 10**9 + 123456789

Ci = HASH(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")
Hi = HASH(Ci + b"WireGuard v1 zx2c4 Jason@zx2c4.com")
S_i_pub, S_r_pub, E_i_pub, E_r_pub = PUB(S_i), PUB(S_r), PUB(E_i), PUB(E_r)

# Initiation.
C, H = Ci, HASH(Hi + S_r_pub)
C = KDF(1, C, E_i_pub)[0]
H = HASH(H + E_i_pub)
C, k = KDF(2, C, DH(E_i, S_r_pub))
enc_static = AEAD(k, 0, S_i_pub, H)
H = HASH(H + enc_static)
C, k = KDF(2, C, DH(S_i, S_r_pub))
enc_ts = AEAD(k, 0, TAI64N(WALL_NS), H)
H = HASH(H + enc_ts)
init = struct.pack("<II", 1, I_INDEX) + E_i_pub + enc_static + enc_ts
init += MAC(HASH(b"mac1----" + S_r_pub), init) + b"\0" * 16

# Response.
C = KDF(1, C, E_r_pub)[0]
H = HASH(H + E_r_pub)
C = KDF(1, C, DH(E_r, E_i_pub))[0]
C = KDF(1, C, DH(E_r, S_i_pub))[0]
C, tau, k = KDF(3, C, PSK)
H = HASH(H + tau)
enc_nothing = AEAD(k, 0, b"", H)
H = HASH(H + enc_nothing)
resp = struct.pack("<III", 2, R_INDEX, I_INDEX) + E_r_pub + enc_nothing
resp += MAC(HASH(b"mac1----" + S_i_pub), resp) + b"\0" * 16

# Transport: T1 initiator -> responder, T2 back; plaintext padded to 16.
T1, T2 = KDF(2, C, b"")
payload = b"hello, wireguard"  # 16 bytes: no padding
data_i = struct.pack("<IIQ", 4, R_INDEX, 0) + AEAD(T1, 0, payload, b"")
keepalive_r = struct.pack("<IIQ", 4, I_INDEX, 0) + AEAD(T2, 0, b"", b"")

for name, v in [("initiation", init), ("response", resp), ("T1", T1), ("T2", T2),
                ("data_i", data_i), ("keepalive_r", keepalive_r)]:
    print(name, v.hex())
