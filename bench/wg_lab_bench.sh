#!/usr/bin/env bash
# bench/wg_lab_bench.sh — edgegated's WireGuard against wireguard-go as the gateway, on the
# identical lab topology, in one run. The far end is wireguard-go in both modes:
#
#  vm1 192.168.100.11 ── eg-sw ── [eg-gw: the tunnel end under test] ══ wg ══ [inet: wireguard-go wgi0]
#   iperf3 -c 10.99.0.2                                                         10.99.0.2, iperf3 -s
#
#  (a) edgegate:     edgegated with config/examples/lab.toml (tunnel wg0 on 203.0.113.1:51820)
#  (b) wireguard-go: tools/lab gw kernel (edgegated stopped, kernel forwarding), and
#                    wireguard-go wg0 in eg-gw with the same keys, port and peer
#
# usage: bench/wg_lab_bench.sh [--seconds S] [--reps R]
#   --seconds S   length of each iperf3 run (default 10)
#   --reps R      repetitions, the modes alternating; medians are reported (default 3)
#
# Per mode and run: iperf3 TCP vm1 -> site with 1 and with 4 streams (-P), Gbit/s received;
# CPU seconds of the gateway's tunnel process (edgegated, or eg-gw's wireguard-go:
# utime+stime from /proc/PID/stat) and of the whole machine (busy jiffies of /proc/stat,
# both cores), per gigabit moved. Prints one JSON object on stdout:
#   {"edgegate": {...}, "wireguard_go": {...}, "ratio": {...}}
# ratio = edgegate / wireguard-go (gbps: > 1 is better for edgegate; cpu_per_gbit: < 1).
# Progress goes to stderr. Needs root; brings the lab up itself and takes it down at exit.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EG_BUILD_DIR="${EG_BUILD_DIR:-$SRC_DIR/build}"
export EG_LAB_DIR="${EG_LAB_DIR:-$EG_BUILD_DIR/lab-state/wg_lab_bench}"
LAB="$SRC_DIR/tools/lab"
KEYS="$SRC_DIR/config/examples/lab-wg"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

SECONDS_RUN=10 REPS=3
while (($#)); do
  case $1 in
    --seconds) SECONDS_RUN=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "wg_lab_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $SECONDS_RUN =~ ^[0-9]+$ ]] && ((SECONDS_RUN >= 1 && SECONDS_RUN <= 120)) || { echo "--seconds: 1..120" >&2; exit 2; }
[[ $REPS =~ ^[0-9]+$ ]] && ((REPS >= 1 && REPS <= 20)) || { echo "--reps: 1..20" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "wg_lab_bench: needs root (network namespaces)" >&2; exit 1; }

say() { echo "wg_lab_bench: $*" >&2; }
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$LAB" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

# wireguard-go interface NAME in namespace NS, from KEY, to PEER_KEY at ENDPOINT (may be
# empty) with ALLOWED; ADDR on it and ROUTE through it. Records the PID.
wg_go_up() {
  local ns=$1 name=$2 port=$3 key=$4 peer=$5 endpoint=$6 allowed=$7 addr=$8 route=$9 i
  rm -f "/var/run/wireguard/$name.sock"
  ip netns exec "$ns" env LOG_LEVEL=error wireguard-go -f "$name" >>"$EG_LAB_DIR/wireguard-go-$name.log" 2>&1 &
  PIDS+=($!)
  for ((i = 0; i < 100; i++)); do [ -S "/var/run/wireguard/$name.sock" ] && break; sleep 0.1; done
  ip netns exec "$ns" wg set "$name" listen-port "$port" private-key "$key" \
    peer "$peer" ${endpoint:+endpoint "$endpoint"} allowed-ips "$allowed"
  [ -z "$addr" ] || ip -n "$ns" addr add "$addr" dev "$name"
  ip -n "$ns" link set "$name" up
  ip -n "$ns" route add "$route" dev "$name"
}

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, clock ticks
busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# one_run PID STREAMS : iperf3 vm1 -> site; prints "gbps proc_cpu_s machine_cpu_s"
one_run() {
  local pid=$1 streams=$2 c0 c1 m0 m1 bytes
  c0=$(cpu_of "$pid"); m0=$(busy_jiffies)
  bytes=$(ip netns exec vm1 timeout $((SECONDS_RUN + 20)) iperf3 -J -c 10.99.0.2 -t "$SECONDS_RUN" -P "$streams" |
    "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(int(j["end"]["sum_received"]["bytes"]))')
  c1=$(cpu_of "$pid"); m1=$(busy_jiffies)
  "$PY" -c "import sys; b,c,m,hz,s=map(float,sys.argv[1:]); print(b*8/s/1e9, c/hz, m/hz)" \
    "$bytes" "$((c1 - c0))" "$((m1 - m0))" "$HZ" "$SECONDS_RUN"
}

mkdir -p "$EG_LAB_DIR"
say "lab up (edgegated with lab.toml)"
"$LAB" up --vms 1 >&2
GW_PUB=$(cat "$KEYS/gateway.pub") INET_PUB=$(cat "$KEYS/inet.pub")
wg_go_up inet wgi0 51820 "$KEYS/inet.key" "$GW_PUB" 203.0.113.1:51820 192.168.100.0/24 10.99.0.2/24 192.168.100.0/24

RESULTS="$EG_LAB_DIR/results.txt"
: > "$RESULTS"
for ((rep = 1; rep <= REPS; rep++)); do
  for mode in edgegate wireguard_go; do
    if [ "$mode" = edgegate ]; then
      "$LAB" gw edgegated >&2
      pid=$(cat "$EG_LAB_DIR/edgegated.pid")
    else
      "$LAB" gw kernel >&2
      wg_go_up eg-gw wg0 51820 "$KEYS/gateway.key" "$INET_PUB" 203.0.113.2:51820 10.99.0.0/24 "" 10.99.0.0/24
      pid=${PIDS[-1]}
    fi
    # a session first (the first packets start the handshake), then the runs
    ip netns exec vm1 ping -c 3 -w 15 10.99.0.2 >/dev/null
    for streams in 1 4; do
      say "rep $rep $mode -P $streams"
      echo "$mode $streams $(one_run "$pid" "$streams")" >> "$RESULTS"
    done
    if [ "$mode" = wireguard_go ]; then
      kill "$pid"; wait "$pid" 2>/dev/null || true
      unset 'PIDS[-1]'
    fi
  done
done

"$PY" - "$RESULTS" "$SECONDS_RUN" "$REPS" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
out = {}
for mode in ("edgegate", "wireguard_go"):
    m = {}
    for streams in ("1", "4"):
        r = [(float(g), float(c), float(w)) for md, s, g, c, w in rows if md == mode and s == streams]
        gbps = statistics.median(x[0] for x in r)
        moved = [x[0] * float(sys.argv[2]) for x in r]  # gigabits
        m["P%s" % streams] = {
            "gbps": round(gbps, 3),
            "tunnel_process_cpu_s_per_gbit": round(statistics.median(x[1] / g for x, g in zip(r, moved)), 4),
            "machine_cpu_s_per_gbit": round(statistics.median(x[2] / g for x, g in zip(r, moved)), 4),
            "runs_gbps": [round(x[0], 3) for x in r],
        }
    out[mode] = m
ratio = {}
for p in ("P1", "P4"):
    e, w = out["edgegate"][p], out["wireguard_go"][p]
    ratio[p] = {"gbps": round(e["gbps"] / w["gbps"], 2),
                "tunnel_process_cpu_per_gbit": round(e["tunnel_process_cpu_s_per_gbit"] / w["tunnel_process_cpu_s_per_gbit"], 3),
                "machine_cpu_per_gbit": round(e["machine_cpu_s_per_gbit"] / w["machine_cpu_s_per_gbit"], 3)}
out["ratio"] = ratio
out["seconds"] = int(sys.argv[2]); out["reps"] = int(sys.argv[3])
out["far_end"] = "wireguard-go in inet (both modes)"
print(json.dumps(out))
PY
