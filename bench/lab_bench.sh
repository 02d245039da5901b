#!/usr/bin/env bash
# bench/lab_bench.sh — edgegated against the kernel's own forwarding, on the identical lab
# topology, in one run (docs/lab.md):
#
#  vm1 (192.168.100.11) ── eg-sw ── eg-vm [eg-gw] eg-up ── inet (203.0.113.2)
#   udp_flood send (CPU0)            │                     udp_flood recv (CPU1)
#   iperf3 -c                        │                     iperf3 -s
#                     (a) edgegated: tools/lab up (backend uring by default)
#                     (b) kernel:    tools/lab gw kernel — edgegated stopped, eg-vm/eg-up get
#                                    192.168.100.1/24 and 203.0.113.1/24, ip_forward=1, and
#                                    nftables masquerade behind 203.0.113.1 (as lab.toml's NAT)
#
# usage: bench/lab_bench.sh [--seconds S] [--reps R] [--size BYTES] [--backend uring|dpdk]
#                           [--recv-spin] [--worker KEY=N]...
#   --seconds S   length of each UDP flood and of each iperf3 run (default 10)
#   --reps R      repetitions; the two modes alternate within a repetition; medians are
#                 reported (default 3)
#   --size BYTES  UDP payload of the flood (default 64, as in reference/baselines.md §1)
#   --recv-spin   the receiver busy-polls (steadier pps, but its spinning counts as CPU)
#   --worker KEY=N  run edgegated with this integer [workers] setting instead of
#                 lab.toml's (repeatable), e.g. --worker idle_nap_us=100
#
# Per mode and repetition: a one-flow UDP flood (bench/udp_flood: sendmmsg batches of 64,
# bounded by --seconds and 50 M packets) received with recvmmsg in inet; pps delivered
# (receiver packets / sender seconds); packets forwarded by the gateway (eg-up tx_packets
# delta, the same kernel counter for both modes; gw_in_packets: eg-vm rx_packets, what reached
# the gateway's wire); CPU time of the whole machine per
# forwarded packet (busy jiffies usr+nice+sys+irq+softirq of /proc/stat's "cpu" line, both
# cores, over the flood, / forwarded packets, in ns); TCP connections per second (a
# connect + reset loop, each connection a new NAT session) and CPU per connection; and
# iperf3 TCP (-t S -J) Gbit/s. Both gateways NAT: edgegated with config/examples/lab.toml
# (quota off), the kernel with nftables masquerade.
# Prints one JSON object on stdout:
#   {"edgegate": {...}, "kernel": {...}, "ratio": {"pps": x, "cpu_per_packet": y, "tcp_gbps": z,
#    "tcp_conn_per_s": c, "cpu_per_conn": d}, ...}
# ratio = edgegate / kernel (pps and tcp: > 1 is better for edgegate; cpu_per_packet: < 1).
# Progress goes to stderr. Needs root; brings the lab up itself and takes it down at exit.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EG_BUILD_DIR="${EG_BUILD_DIR:-$SRC_DIR/build}"
export EG_LAB_DIR="${EG_LAB_DIR:-$EG_BUILD_DIR/lab-state/lab_bench}"
LAB="$SRC_DIR/tools/lab"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

SECONDS_RUN=10 REPS=3 SIZE=64 BACKEND=uring SPIN=0 WORKER_SETS=()
while (($#)); do
  case $1 in
    --seconds) SECONDS_RUN=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --size) SIZE=${2:?}; shift 2 ;;
    --backend) BACKEND=${2:?}; shift 2 ;;
    --recv-spin) SPIN=1; shift ;;
    --worker) WORKER_SETS+=("${2:?}"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lab_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $SECONDS_RUN =~ ^[0-9]+$ ]] && ((SECONDS_RUN >= 1 && SECONDS_RUN <= 120)) || { echo "--seconds: 1..120" >&2; exit 2; }
[[ $REPS =~ ^[0-9]+$ ]] && ((REPS >= 1 && REPS <= 20)) || { echo "--reps: 1..20" >&2; exit 2; }
for set in "${WORKER_SETS[@]}"; do
  [[ $set =~ ^[a-z_]+=[0-9]+$ ]] || { echo "--worker: KEY=N (a [workers] key, an integer), got '$set'" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "lab_bench: needs root (network namespaces)" >&2; exit 1; }

say() { echo "lab_bench: $*" >&2; }

WORK=$(mktemp -d /tmp/eg-lab-bench.XXXXXX)
PIDS=()
LAB_UP=0
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ "$LAB_UP" = 1 ] && "$LAB" down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the generator/sink, built from source into the build dir
FLOOD="$EG_BUILD_DIR/udp_flood"
mkdir -p "$EG_BUILD_DIR"
if [ ! -x "$FLOOD" ] || [ "$SRC_DIR/bench/udp_flood.c" -nt "$FLOOD" ]; then
  cc -O2 -Wall -o "$FLOOD" "$SRC_DIR/bench/udp_flood.c"
fi

CLK_TCK=$(getconf CLK_TCK)
busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
steal_jiffies() { awk '/^cpu /{print $9; exit}' /proc/stat; }
total_jiffies() { awk '/^cpu /{s = 0; for (i = 2; i <= 9; i++) s += $i; print s; exit}' /proc/stat; }
uplink_tx() { ip -n eg-gw -s -j link show dev eg-up | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["packets"])'; }
vmside_rx() { ip -n eg-gw -s -j link show dev eg-vm | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
now() { date +%s.%N; }

CONN_SECONDS=$((SECONDS_RUN < 5 ? SECONDS_RUN : 5))
# A TCP server that accepts and closes, and a client that connects and resets, as fast
# as one Python thread each can (the same programs for both gateways).
CONN_SERVER_PY='
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4096); s.settimeout(1)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        c, _ = s.accept(); c.close()
    except socket.timeout:
        pass
'
CONN_CLIENT_PY='
import json, socket, struct, sys, time
dst, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ok = failed = 0
t0 = time.time()
while time.time() - t0 < secs and ok + failed < 2000000:
    c = socket.socket(); c.settimeout(2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        c.connect((dst, port)); ok += 1
    except OSError:
        failed += 1
    c.close()
el = time.time() - t0
print(json.dumps({"connections": ok, "failed": failed, "seconds": el, "per_s": ok / el}))
'
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

# measure MODE REP : one UDP flood and one iperf3 run through the gateway as it is now
measure() {
  local mode=$1 rep=$2
  local recv_out="$WORK/recv.$mode.$rep" send_out="$WORK/send.$mode.$rep" rpid
  local b0 b1 s0 s1 tot0 tot1 rx0 rx1 tx0 tx1 wall0 wall1 spin_arg=()
  ((SPIN)) && spin_arg=(--spin)
  ip netns exec inet taskset -c 1 "$FLOOD" recv 203.0.113.2 9000 --seconds $((SECONDS_RUN + 10)) \
    --idle-ms 1000 "${spin_arg[@]}" > "$recv_out" 2>&1 &
  rpid=$!; PIDS+=("$rpid")
  sleep 0.5
  rx0=$(vmside_rx); tx0=$(uplink_tx); b0=$(busy_jiffies); s0=$(steal_jiffies); tot0=$(total_jiffies); wall0=$(now)
  ip netns exec vm1 taskset -c 0 timeout $((SECONDS_RUN + 10)) "$FLOOD" send 203.0.113.2 9000 \
    --seconds "$SECONDS_RUN" --count 50000000 --size "$SIZE" --batch 64 > "$send_out" 2>&1 || true
  rx1=$(vmside_rx); tx1=$(uplink_tx); b1=$(busy_jiffies); s1=$(steal_jiffies); tot1=$(total_jiffies); wall1=$(now)
  wait "$rpid" || true
  PIDS=("${PIDS[@]/$rpid}")

  # TCP connection rate: connect + RST-close in a loop (no TIME_WAIT), every connection
  # a new NAT session; CPU of the whole machine per connection.
  local conn_out="$WORK/conn.$mode.$rep" cb0 cb1
  ip netns exec inet "$PY" -c "$CONN_SERVER_PY" 9100 $((CONN_SECONDS + 5)) > "$WORK/conn-server.$mode.$rep" 2>&1 &
  rpid=$!; PIDS+=("$rpid")
  sleep 0.3
  cb0=$(busy_jiffies)
  ip netns exec vm1 taskset -c 0 timeout $((CONN_SECONDS + 10)) "$PY" -c "$CONN_CLIENT_PY" 203.0.113.2 9100 \
    "$CONN_SECONDS" > "$conn_out" 2>&1 || true
  cb1=$(busy_jiffies)
  kill "$rpid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
  PIDS=("${PIDS[@]/$rpid}")

  local iperf_out="$WORK/iperf.$mode.$rep"
  ip netns exec vm1 timeout $((SECONDS_RUN + 20)) iperf3 -c 203.0.113.2 -t "$SECONDS_RUN" -J \
    > "$iperf_out" 2>&1 || true

  "$PY" - "$mode" "$rep" "$send_out" "$recv_out" "$iperf_out" "$tx0" "$tx1" "$b0" "$b1" "$s0" "$s1" \
    "$tot0" "$tot1" "$wall0" "$wall1" "$CLK_TCK" "$rx0" "$rx1" "$conn_out" "$cb0" "$cb1" >> "$RESULTS" <<'PY'
import json, re, sys
(mode, rep, send_f, recv_f, iperf_f, tx0, tx1, b0, b1, s0, s1, tot0, tot1, w0, w1, hz, rx0, rx1,
 conn_f, cb0, cb1) = sys.argv[1:]
def first_json(path):
    t = open(path).read()
    m = re.search(r"^[{]", t, re.M)
    try:
        return json.loads(t[m.start():]) if m else {"error": t.strip()[-300:]}
    except Exception as e:
        return {"error": "%s: %s" % (e, t.strip()[-300:])}
send, recv, iperf = first_json(send_f), first_json(recv_f), first_json(iperf_f)
fwd = int(tx1) - int(tx0)
busy = int(b1) - int(b0)
wall = float(w1) - float(w0)
r = {"mode": mode, "rep": int(rep),
     "sent_pps": send.get("pps"), "sent_packets": send.get("packets"),
     "delivered_packets": recv.get("packets"),
     "pps": (recv.get("packets", 0) / send["seconds"]) if send.get("seconds") else None,
     "gw_in_packets": int(rx1) - int(rx0),   # arrived at eg-vm (before the engine / kernel)
     "gw_in_pps": (int(rx1) - int(rx0)) / wall if wall > 0 else None,
     "forwarded_packets": fwd,
     "forwarded_pps": fwd / wall if wall > 0 else None,
     "cpu_busy_s": busy / int(hz),
     "cpu_ns_per_packet": (busy / int(hz) * 1e9 / fwd) if fwd > 0 else None,
     "steal_pct": 100.0 * (int(s1) - int(s0)) / max(1, int(tot1) - int(tot0)),
     "tcp_gbps": None}
conn = first_json(conn_f)
r["tcp_conn_per_s"] = conn.get("per_s")
r["tcp_conn_failed"] = conn.get("failed")
if conn.get("connections"):
    r["cpu_us_per_conn"] = (int(cb1) - int(cb0)) / int(hz) * 1e6 / conn["connections"]
if "end" in iperf:
    r["tcp_gbps"] = iperf["end"]["sum_received"]["bits_per_second"] / 1e9
    r["tcp_retransmits"] = iperf["end"].get("sum_sent", {}).get("retransmits")
else:
    r["tcp_error"] = iperf.get("error")
for k in ("error",):
    if k in send: r["send_error"] = send[k]
    if k in recv: r["recv_error"] = recv[k]
print(json.dumps(r))
PY
  say "$(tail -n 1 "$RESULTS")"
}

say "lab up (backend $BACKEND), $REPS rep(s) of ${SECONDS_RUN}s per test, UDP payload ${SIZE} B"
LAB_UP=1
# The example config with NAT44 as it is, but without the per-VM session quota (the
# connection test opens thousands of sessions) and a larger table: both gateways NAT.
sed -E -e 's/^sessions_per_vm = .*/sessions_per_vm = 0/' -e 's/^max_sessions = 65536 .*/max_sessions = 1048576/' \
  "$SRC_DIR/config/examples/lab.toml" > "$WORK/lab_bench.toml"
# --worker settings: each replaces its key in [workers] or is added there; edgegated
# itself validates the result when the lab starts.
for set in "${WORKER_SETS[@]}"; do
  key=${set%%=*} val=${set#*=}
  sed -i -E -e "/^\[workers\]$/,/^\[/{/^$key *=/d}" -e "s/^(\[workers\])$/\1\n$key = $val/" "$WORK/lab_bench.toml"
  grep -q "^$key = $val\$" "$WORK/lab_bench.toml" || { echo "lab_bench: could not set $key" >&2; exit 1; }
done
"$LAB" up --vms 1 --backend "$BACKEND" --config "$WORK/lab_bench.toml" >&2
for ((rep = 1; rep <= REPS; rep++)); do
  for mode in edgegated kernel; do
    "$LAB" gw "$mode" >&2
    sleep 1
    measure "$mode" "$rep"
  done
done
"$LAB" down >&2
LAB_UP=0

"$PY" - "$RESULTS" "$SECONDS_RUN" "$REPS" "$SIZE" "$BACKEND" "$SPIN" \
  "$(sed -n '/^\[workers\]$/,/^\[/{/^[a-z_]* *= *[0-9]/p}' "$WORK/lab_bench.toml" | tr -d ' ' | paste -sd, -)" <<'PY'
import json, statistics, sys, subprocess, platform
path, secs, reps, size, backend, spin, workers = sys.argv[1:]
runs = [json.loads(l) for l in open(path) if l.strip()]
def summary(mode):
    rs = [r for r in runs if r["mode"] == mode]
    def med(k):
        v = [r[k] for r in rs if r.get(k) is not None]
        return statistics.median(v) if v else None
    out = {k: med(k) for k in ("pps", "forwarded_pps", "gw_in_pps", "sent_pps", "cpu_ns_per_packet", "tcp_gbps",
                               "steal_pct", "tcp_conn_per_s", "cpu_us_per_conn")}
    for k in ("pps", "forwarded_pps", "gw_in_pps", "sent_pps", "cpu_ns_per_packet"):
        if out[k] is not None: out[k] = round(out[k])
    for k in ("tcp_gbps", "steal_pct", "tcp_conn_per_s", "cpu_us_per_conn"):
        if out[k] is not None: out[k] = round(out[k], 2)
    out["runs"] = rs
    return out
e, k = summary("edgegated"), summary("kernel")
def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None
print(json.dumps({
    "edgegate": e, "kernel": k,
    "ratio": {"pps": ratio(e["pps"], k["pps"]),
              "cpu_per_packet": ratio(e["cpu_ns_per_packet"], k["cpu_ns_per_packet"]),
              "tcp_gbps": ratio(e["tcp_gbps"], k["tcp_gbps"]),
              "tcp_conn_per_s": ratio(e["tcp_conn_per_s"], k["tcp_conn_per_s"]),
              "cpu_per_conn": ratio(e["cpu_us_per_conn"], k["cpu_us_per_conn"])},
    "config": {"seconds": int(secs), "reps": int(reps), "udp_payload_bytes": int(size),
               "backend": backend, "receiver_busy_poll": spin == "1", "flows": 1,
               "workers": {k: int(v) for k, v in (kv.split("=") for kv in workers.split(",") if kv)},
               "sender_cpu": 0, "receiver_cpu": 1, "statistic": "median over reps",
               "kernel": platform.release(), "cpus": __import__("os").cpu_count()},
}, indent=1))
PY
