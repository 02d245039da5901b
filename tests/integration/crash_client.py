#!/usr/bin/env python3
"""crash_client.py — the admin-API side of tests/integration/crash_test.sh.

  storm   several threads create, repeat and delete allocations (POST/DELETE
          /v1/allocations) and one thread assigns, repeats and gives up proxy ports
          (POST/DELETE /v1/proxy-ports) until edgegated dies; this process kill -9s
          it (by the PID it is given) at a random moment, or right after an
          acknowledgement, so the kill lands where the issue asks. It writes what the
          API acknowledged, and what was in flight, to --out (JSON).
  verify  after the restart: compares GET /v1/allocations, /v1/allocations/{id},
          /v1/leases and /v1/proxy-ports with the model of what was acknowledged
          (--model, JSON, updated in place) and the rounds' --storm / --dhcp files.
          Prints one "ok: ..." or "FAIL: ..." line per check; exit status 1 when a
          check failed.

Model (what the server must hold): {"alloc": {vps_id: {ipv4, ipv6, mac, org}},
"alloc_gone": [ids whose DELETE was acknowledged], "proxy": {org: port},
"proxy_gone": [...], "dhcp": {mac: ipv4}}. "Uncertain" ids (a request in flight at
the kill) may be present or absent; present, they must be consistent.
Standard library only (the lab has plain python3).
"""
import argparse
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import zlib


class Api:
    """One keep-alive connection to the admin API."""

    def __init__(self, host, port, secret, timeout=10):
        self.host, self.port, self.secret, self.timeout = host, port, secret, timeout
        self.conn = None

    def call(self, method, path, body=None):
        """(status, json) or raises OSError / http.client.HTTPException."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"x-api-secret": self.secret}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        return r.status, (json.loads(raw) if raw.strip() else None)


def alloc_view(j):
    return {"ipv4": j["ipv4"], "ipv6": j["ipv6"], "mac": j["mac"], "org": j["organization_id"]}


# ---------------------------------------------------------------------------- storm
class Storm:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.killed = threading.Event()
        # acknowledged in this round, in order
        self.alloc_acked = {}      # vps_id -> view (created 201, or 200 for a repeat)
        self.alloc_deleted = []    # DELETE acknowledged (200)
        self.alloc_inflight = {}   # vps_id -> "create" | "delete" | "repeat" (sent, no answer)
        self.proxy_acked = {}      # org -> port
        self.proxy_deleted = []
        self.proxy_inflight = {}   # org -> "assign" | "delete"
        self.errors = []           # wrong answers (not connection errors)
        self.counts = {"alloc_created": 0, "alloc_repeated": 0, "alloc_deleted": 0, "alloc_507": 0,
                       "proxy_assigned": 0, "proxy_repeated": 0, "proxy_deleted": 0}
        self.kill_reason = None
        self.started = time.monotonic()
        self.acks_before_kill = None  # for kill-after-ack modes: when the mode arms
        with open(a.model) as f:
            self.model = json.load(f)

    def kill(self, reason):
        with self.lock:
            if self.killed.is_set():
                return
            try:
                os.kill(self.a.pid, signal.SIGKILL)
            except ProcessLookupError:
                self.errors.append("edgegated (pid %d) was gone before the kill (%s)" % (self.a.pid, reason))
            self.kill_reason = "%s after %.3f s" % (reason, time.monotonic() - self.started)
            self.killed.set()

    def armed(self):
        return time.monotonic() - self.started >= self.a.arm_s

    def err(self, msg):
        with self.lock:
            self.errors.append(msg)

    def alloc_worker(self, idx):
        api = Api("127.0.0.1", self.a.port, self.a.secret)
        rnd = random.Random(self.a.seed * 1000 + idx)
        mine = []  # acknowledged ids of this thread, still allocated
        # earlier rounds' allocations, split between the threads (each id has one owner)
        olds = [k for k in sorted(self.model["alloc"]) if zlib.crc32(k.encode()) % self.a.clients == idx]
        for n in range(self.a.max_ops):
            if self.stop.is_set():
                return
            r = rnd.random()
            if r < 0.15 and mine:
                op = "delete"
                vid = mine.pop(rnd.randrange(len(mine)))
            elif r < 0.25 and (mine or olds):
                # The same request again: 200 and the same allocation (after restarts too).
                op = "repeat"
                vid = rnd.choice(mine) if mine and (not olds or r < 0.2) else rnd.choice(olds)
            else:
                op = "create"
                vid = "r%d-c%d-%d" % (self.a.round, idx, n)
            if op == "create":
                mac = "02:cc:%02x:%02x:%02x:%02x" % (self.a.round, idx, n >> 8 & 0xff, n & 0xff)
                body = {"vps_id": vid, "organization_id": "org-%d" % (idx % 3), "mac": mac}
            elif op == "repeat":
                known = self.alloc_acked.get(vid) or self.model["alloc"][vid]
                body = {"vps_id": vid, "organization_id": known["org"], "mac": known["mac"]}
            with self.lock:
                self.alloc_inflight[vid] = op
            try:
                if op == "delete":
                    st, j = api.call("DELETE", "/v1/allocations/" + vid)
                else:
                    st, j = api.call("POST", "/v1/allocations", body)
            except (OSError, http.client.HTTPException):
                return  # edgegated is gone: what was in flight stays uncertain
            with self.lock:
                del self.alloc_inflight[vid]
                if op == "create" and st == 201:
                    self.alloc_acked[vid] = alloc_view(j)
                    self.counts["alloc_created"] += 1
                    mine.append(vid)
                elif op == "create" and st == 507:
                    self.counts["alloc_507"] += 1
                elif op == "repeat" and st == 200:
                    known = self.alloc_acked.get(vid) or self.model["alloc"][vid]
                    if alloc_view(j) != known:
                        self.errors.append("repeat POST of %s: %s, acknowledged before as %s" % (vid, alloc_view(j), known))
                    self.counts["alloc_repeated"] += 1
                elif op == "delete" and st == 200:
                    self.alloc_acked.pop(vid, None)
                    self.alloc_deleted.append(vid)
                    self.counts["alloc_deleted"] += 1
                else:
                    self.errors.append("%s %s: HTTP %d %s" % (op, vid, st, json.dumps(j)[:200]))
            if op == "create" and st == 201 and self.a.kill_mode == "alloc-ack" and self.armed():
                self.kill("right after the 201 for allocation " + vid)
                return

    def proxy_worker(self):
        api = Api("127.0.0.1", self.a.port, self.a.secret)
        rnd = random.Random(self.a.seed * 1000 + 999)
        mine = []
        for n in range(self.a.max_ops):
            if self.stop.is_set():
                return
            r = rnd.random()
            if r < 0.2 and mine:
                op, org = "delete", mine.pop(rnd.randrange(len(mine)))
            elif r < 0.3 and mine:
                op, org = "repeat", rnd.choice(mine)
            else:
                op, org = "assign", "org-r%d-%d" % (self.a.round, n)
            with self.lock:
                self.proxy_inflight[org] = op
            try:
                if op == "delete":
                    st, j = api.call("DELETE", "/v1/proxy-ports/" + org)
                else:
                    st, j = api.call("POST", "/v1/proxy-ports", {"organization_id": org})
            except (OSError, http.client.HTTPException):
                return
            with self.lock:
                del self.proxy_inflight[org]
                if op == "assign" and st == 201:
                    self.proxy_acked[org] = j["port"]
                    self.counts["proxy_assigned"] += 1
                    mine.append(org)
                elif op == "repeat" and st == 200:
                    if j["port"] != self.proxy_acked[org]:
                        self.errors.append("repeat POST for %s: port %s, assigned %s" % (org, j["port"], self.proxy_acked[org]))
                    self.counts["proxy_repeated"] += 1
                elif op == "delete" and st == 200:
                    del self.proxy_acked[org]
                    self.proxy_deleted.append(org)
                    self.counts["proxy_deleted"] += 1
                else:
                    self.errors.append("proxy %s %s: HTTP %d %s" % (op, org, st, json.dumps(j)[:200]))
            if op == "assign" and st == 201 and self.a.kill_mode == "proxy-ack" and self.armed():
                self.kill("right after the 201 for proxy port %d of %s" % (j["port"], org))
                return

    def run(self):
        threads = [threading.Thread(target=self.alloc_worker, args=(i,)) for i in range(self.a.clients)]
        threads.append(threading.Thread(target=self.proxy_worker))
        for t in threads:
            t.start()
        if self.a.kill_mode == "random":
            # A random moment of the storm: the threads are mid-request almost always.
            if not self.killed.wait(self.a.arm_s):
                self.kill("at a random moment")
        deadline = time.monotonic() + self.a.max_seconds
        while time.monotonic() < deadline and not self.killed.is_set() and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        if not self.killed.is_set():
            # Every thread ran out of operations (or time) first: kill now, still under load
            # from nobody; say so (the shell counts it as a failed round).
            self.errors.append("the storm ended before the kill (mode %s)" % self.a.kill_mode)
            self.kill("after the storm ended")
        for t in threads:
            t.join(15)
        self.stop.set()
        out = {
            "round": self.a.round, "kill": self.kill_reason,
            "alloc_acked": self.alloc_acked, "alloc_deleted": self.alloc_deleted,
            "alloc_inflight": self.alloc_inflight,
            "proxy_acked": self.proxy_acked, "proxy_deleted": self.proxy_deleted,
            "proxy_inflight": self.proxy_inflight,
            "counts": self.counts, "errors": self.errors,
        }
        with open(self.a.out, "w") as f:
            json.dump(out, f)
        c = self.counts
        print("storm round %d: killed %s; allocations %d created, %d repeated, %d deleted, %d in flight; "
              "proxy ports %d assigned, %d repeated, %d given up, %d in flight; %d wrong answers"
              % (self.a.round, self.kill_reason, c["alloc_created"], c["alloc_repeated"], c["alloc_deleted"],
                 len(self.alloc_inflight), c["proxy_assigned"], c["proxy_repeated"], c["proxy_deleted"],
                 len(self.proxy_inflight), len(self.errors)))
        for e in self.errors[:10]:
            print("  wrong answer:", e)
        return 1 if self.errors else 0


# ---------------------------------------------------------------------------- verify
def verify(a):
    with open(a.model) as f:
        model = json.load(f)
    storm = {}
    if a.storm and os.path.exists(a.storm):
        with open(a.storm) as f:
            storm = json.load(f)
    dhcp_new = {}
    if a.dhcp_mac and a.dhcp_ip:
        dhcp_new[a.dhcp_mac] = a.dhcp_ip
    api = Api("127.0.0.1", a.port, a.secret, timeout=30)
    failures = []

    def check(ok, what, detail=""):
        if ok:
            print("ok: " + what)
        else:
            print("FAIL: " + what + (" -- " + detail if detail else ""))
            failures.append(what)

    # What must be there: the model (earlier rounds, as the server showed it after the
    # previous restart) plus this round's acknowledgements, minus acknowledged deletes.
    want = dict(model["alloc"])
    gone = set(model["alloc_gone"])
    for vid in storm.get("alloc_deleted", []):
        want.pop(vid, None)
        gone.add(vid)
    want.update(storm.get("alloc_acked", {}))
    # A create or delete in flight at the kill may or may not have reached the disk (a
    # repeated POST changes nothing, so its allocation stays wanted).
    uncertain = {v: op for v, op in storm.get("alloc_inflight", {}).items() if op != "repeat"}
    for vid in uncertain:
        want.pop(vid, None)

    st, j = api.call("GET", "/v1/allocations")
    have = {x["vps_id"]: alloc_view(x) for x in j["allocations"]}
    missing = [v for v in want if v not in have]
    check(not missing, "every acknowledged allocation is listed (%d)" % len(want),
          "%d missing, e.g. %s" % (len(missing), missing[:5]))
    changed = [v for v in want if v in have and have[v] != want[v]]
    check(not changed, "every acknowledged allocation has its acknowledged IPv4, IPv6 and MAC",
          "; ".join("%s: %s, acknowledged %s" % (v, have[v], want[v]) for v in changed[:5]))
    back = [v for v in gone if v in have]
    check(not back, "no allocation whose DELETE was acknowledged is back (%d)" % len(gone), str(back[:5]))
    known = set(want) | set(uncertain) | set(model["alloc"])
    phantom = [v for v in have if v not in known]
    check(not phantom, "no allocation that was never requested", str(phantom[:5]))
    # An uncertain one that is there must be the one acknowledged earlier, if any was.
    earlier = dict(model["alloc"])
    earlier.update(storm.get("alloc_acked", {}))
    odd = [v for v in uncertain if v in have and v in earlier and have[v] != earlier[v]]
    check(not odd, "allocations in flight at the kill (%d) are absent or unchanged" % len(uncertain), str(odd[:5]))

    # One by one for a sample (GET /v1/allocations/{vps_id}), and the in-flight ones.
    rnd = random.Random(a.seed)
    sample = rnd.sample(sorted(want), min(len(want), a.sample)) + sorted(uncertain)
    bad = []
    for v in sample:
        st, jj = api.call("GET", "/v1/allocations/" + v)
        if v in want and (st != 200 or alloc_view(jj) != want[v]):
            bad.append("%s: HTTP %d %s" % (v, st, jj))
        elif v in uncertain and not ((st == 200 and v in have and alloc_view(jj) == have[v]) or (st == 404 and v not in have)):
            bad.append("%s (in flight): HTTP %d, listed: %s" % (v, st, v in have))
    check(not bad, "GET /v1/allocations/{vps_id} agrees for %d of them" % len(sample), "; ".join(bad[:5]))

    # DHCP leases acknowledged (udhcpc printed "lease of ... obtained") before a kill.
    dhcp = dict(model["dhcp"])
    dhcp.update(dhcp_new)
    st, lj = api.call("GET", "/v1/leases")
    bound = {}
    for l in lj["leases"]:
        if l["state"] == "bound" and l["mac"]:
            bound.setdefault(l["mac"], set()).add(l["ipv4"])
    lost = ["%s %s" % (m, ip) for m, ip in dhcp.items() if ip not in bound.get(m, set())]
    check(not lost, "every DHCP lease a client was given (%d) is still bound to its MAC" % len(dhcp), str(lost[:5]))

    # No address twice: allocations and DHCP bindings together (an allocation its VM bound
    # is one record, listed in both with its vps_id).
    owners = {}
    for v, x in have.items():
        owners.setdefault(x["ipv4"], set()).add("alloc:" + v)
    for l in lj["leases"]:
        if l["state"] in ("bound", "quarantined"):
            owners.setdefault(l["ipv4"], set()).add("alloc:" + l["vps_id"] if l["vps_id"] else "lease:" + str(l["mac"]))
    dup4 = {ip: sorted(o) for ip, o in owners.items() if len(o) > 1}
    check(not dup4, "no IPv4 address is held twice (%d held)" % len(owners), str(list(dup4.items())[:5]))
    v6 = {}
    for v, x in have.items():
        if x["ipv6"]:
            v6.setdefault(x["ipv6"], []).append(v)
    dup6 = {ip: o for ip, o in v6.items() if len(o) > 1}
    check(not dup6, "no IPv6 /128 is held twice (%d held)" % len(v6), str(list(dup6.items())[:5]))

    # Proxy-port assignments acknowledged (answered only once durable).
    pwant = dict(model["proxy"])
    pgone = set(model["proxy_gone"])
    for org in storm.get("proxy_deleted", []):
        pwant.pop(org, None)
        pgone.add(org)
    pwant.update(storm.get("proxy_acked", {}))
    for org, op in storm.get("proxy_inflight", {}).items():
        if op != "repeat":
            pwant.pop(org, None)
    st, pj = api.call("GET", "/v1/proxy-ports")
    phave = {x["organization_id"]: x["port"] for x in pj["assignments"]}
    plost = ["%s:%s (now %s)" % (o, p, phave.get(o)) for o, p in pwant.items() if phave.get(o) != p]
    check(not plost, "every acknowledged proxy-port assignment is kept with its port (%d)" % len(pwant), str(plost[:5]))
    pback = [o for o in pgone if o in phave]
    check(not pback, "no proxy port given up with an acknowledged DELETE is back", str(pback[:5]))
    ports = {}
    for o, p in phave.items():
        ports.setdefault(p, []).append(o)
    pdup = {p: o for p, o in ports.items() if len(o) > 1}
    check(not pdup, "no proxy port is assigned twice (%d assigned)" % len(phave), str(list(pdup.items())[:5]))

    # The next round starts from what the server holds now (checked above).
    model["alloc"] = have
    model["alloc_gone"] = sorted(gone - set(have))
    model["proxy"] = phave
    model["proxy_gone"] = sorted(pgone - set(phave))
    model["dhcp"] = dhcp
    with open(a.model + ".tmp", "w") as f:
        json.dump(model, f)
    os.replace(a.model + ".tmp", a.model)
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("storm", "verify"):
        s = sub.add_parser(name)
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--secret", required=True)
        s.add_argument("--model", required=True)
        s.add_argument("--seed", type=int, default=1)
    s = sub.choices["storm"]
    s.add_argument("--pid", type=int, required=True, help="edgegated's PID: killed with SIGKILL")
    s.add_argument("--round", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--clients", type=int, default=6)
    s.add_argument("--max-ops", type=int, default=3000, help="per thread")
    s.add_argument("--max-seconds", type=float, default=20)
    s.add_argument("--kill-mode", choices=["random", "alloc-ack", "proxy-ack"], default="random")
    s.add_argument("--arm-s", type=float, default=0.5,
                   help="random: kill this long after the start; *-ack: the first such answer after it")
    s = sub.choices["verify"]
    s.add_argument("--storm", help="the round's storm output")
    s.add_argument("--dhcp-mac")
    s.add_argument("--dhcp-ip")
    s.add_argument("--sample", type=int, default=100)
    a = p.parse_args()
    if a.cmd == "storm":
        sys.exit(Storm(a).run())
    sys.exit(verify(a))


if __name__ == "__main__":
    main()
