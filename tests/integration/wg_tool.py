#!/usr/bin/env python3
"""WireGuard messages the lab test needs and no honest peer sends: replays of captured
messages, initiations with a bad mac1, and floods of initiations whose mac1 is valid (so
the responder must look further, and under load answers with cookie replies).

Lab use only: every datagram goes to --dst, which the test sets to the gateway's lab
address. Counts and durations are bounded by the arguments.

  wg_tool.py replay --type 4 --iface eth0 --dst 203.0.113.1 --port 51820 [--times 3]
      waits (at most --timeout s) for the next outgoing message of that type to
      dst:port on iface, then sends the very same bytes --times more times
  wg_tool.py bad-mac1 --dst 203.0.113.1 --port 51820 --count 10
  wg_tool.py flood --dst 203.0.113.1 --port 51820 --pubkey BASE64 --count 3000
"""
import argparse
import base64
import hashlib
import os
import socket
import struct
import sys
import time

ETH_P_ALL = 3
PACKET_OUTGOING = 4
INITIATION_SIZE = 148
MAC1_AT = 116


def mac1(pub, msg):
    key = hashlib.blake2s(b"mac1----" + pub).digest()
    return hashlib.blake2s(msg[:MAC1_AT], key=key, digest_size=16).digest()


def initiation(pub=None):
    # type 1, reserved zeros, a sender index, then ephemeral/static/timestamp as noise
    body = struct.pack("<II", 1, struct.unpack("<I", os.urandom(4))[0]) + os.urandom(MAC1_AT - 8)
    m = mac1(pub, body) if pub else os.urandom(16)
    return body + m + bytes(16)


def sender(dst, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, port))
    return s


def replay(a):
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    raw.bind((a.iface, 0))
    raw.settimeout(0.5)
    dst = socket.inet_aton(a.dst)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        try:
            frame, addr = raw.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != PACKET_OUTGOING or len(frame) < 14 + 20 + 8 + 4 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0xF) * 4
        if ip[9] != 17 or ip[16:20] != dst:
            continue
        udp = ip[ihl:]
        if struct.unpack("!H", udp[2:4])[0] != a.port:
            continue
        ulen = struct.unpack("!H", udp[4:6])[0]
        msg = bytes(udp[8:ulen])
        if len(msg) < 4 or msg[0] != a.type:
            continue
        time.sleep(a.delay)  # let the original arrive and be accepted first
        s = sender(a.dst, a.port)
        for _ in range(a.times):
            s.send(msg)
        print("replayed type %d (%d bytes) %d times" % (a.type, len(msg), a.times))
        return 0
    print("no outgoing type-%d message to %s:%d within %.0f s" % (a.type, a.dst, a.port, a.timeout))
    return 1


def bad_mac1(a):
    s = sender(a.dst, a.port)
    for _ in range(a.count):
        s.send(initiation(None))
    print("sent %d initiations with a bad mac1" % a.count)
    return 0


def flood(a):
    pub = base64.b64decode(a.pubkey)
    s = sender(a.dst, a.port)
    msgs = [initiation(pub) for _ in range(min(a.count, 512))]
    start = time.monotonic()
    for i in range(a.count):
        s.send(msgs[i % len(msgs)])
        if time.monotonic() - start > a.timeout:
            break
    print("sent %d initiations with a valid mac1 in %.2f s" % (i + 1, time.monotonic() - start))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay")
    r.add_argument("--type", type=int, required=True, choices=[1, 2, 3, 4])
    r.add_argument("--iface", default="eth0")
    r.add_argument("--times", type=int, default=3)
    r.add_argument("--delay", type=float, default=0.5)
    r.add_argument("--timeout", type=float, default=15)
    b = sub.add_parser("bad-mac1")
    b.add_argument("--count", type=int, default=10)
    f = sub.add_parser("flood")
    f.add_argument("--pubkey", required=True)
    f.add_argument("--count", type=int, default=3000)
    f.add_argument("--timeout", type=float, default=10)
    for q in (r, b, f):
        q.add_argument("--dst", required=True)
        q.add_argument("--port", type=int, default=51820)
    a = p.parse_args()
    return {"replay": replay, "bad-mac1": bad_mac1, "flood": flood}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
