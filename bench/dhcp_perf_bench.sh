#!/usr/bin/env bash
# bench/dhcp_perf_bench.sh — DHCPv4 4-way exchanges (DORA) per second with perfdhcp against
# edgegated, Kea's kea-dhcp4 and dnsmasq, on the identical topology, in one run:
#
#   netns egdb-cli-$$                         netns egdb-srv-$$
#   [egdb-c$$ 10.77.0.2/16] ──── veth ────── [egdb-s$$] the server under test, on CPU1:
#   perfdhcp, CPU0: a relay                    (1) edgegated: the veth is its vm port (io_uring
#   (giaddr 10.77.0.2, unicast                     AF_PACKET), 10.77.0.1/16 its own address, no
#   to 10.77.0.1:67, replies                       kernel address; every lease fdatasync'ed
#   to 10.77.0.2:67)                               before its ACK (group commit)
#                                              (2) kea-dhcp4 2.2: memfile, persist true (CSV
#                                                  appended, never fsynced), raw sockets
#                                              (3) dnsmasq: --no-ping, lease limit 70000,
#                                                  lease file rewritten on every change
#                                              (2)-(3) use the kernel address 10.77.0.1/16
#   Pool: 10.77.1.0-10.77.255.254 (a /16, 65 279 addresses) in every server; lease 12 h.
#
# usage: bench/dhcp_perf_bench.sh [--seconds S] [--reps R] [--rates "R1 R2 ..."] [--clients N]
#                                 [--servers "edgegate kea dnsmasq"] [--server-cpus LIST]
#   --seconds S     perfdhcp test period per run (-p; default 10)
#   --reps R        repetitions; the servers alternate within a repetition; medians are
#                   reported (default 3)
#   --rates "..."   offered DORA/s per run (perfdhcp -r); 0 = as fast as perfdhcp can
#                   (no -r); default "0"
#   --clients N     simulated clients (perfdhcp -R: distinct MACs; default 60000, under
#                   the pool size so every client can hold a lease)
#   --servers "..." which servers, in this order (default "edgegate kea dnsmasq")
#   --server-cpus L CPUs the server runs on (taskset; default 1; perfdhcp gets CPU0)
#   --eg-worker "K = V ..."  extra [workers] keys for edgegated, e.g. "idle_poll_us = 0"
#                   (default none: the defaults, a worker that polls 200 µs before sleeping)
#   --perf DIR      also record each server with `perf record -g` during its runs
#                   (DIR/perf.SERVER.RATE.REP.data; for finding where the time goes)
# Every run starts the server afresh with an empty lease store, so each run's first
# exchange of a client is a new allocation and its later ones (perfdhcp picks clients at
# random among N) renew that lease: both are written to the lease store before the ACK.
#
# Prints one JSON object on stdout:
#   {"servers": {"edgegate": {"rate_0": {"leases_per_s": median, "runs": [...]}, ...}, ...},
#    "best": {"edgegate": x, "kea": y, "dnsmasq": z},      best median over the rates
#    "ratio": {"edgegate_kea": x/y, "edgegate_dnsmasq": x/z},
#    "goal_leases_per_s": 30000, "goal_met": ..., "machine": {...}, ...}
# leases/s = DHCPACKs perfdhcp received / test period (completed exchanges per second);
# client_rcvbuf_drops = replies the client's kernel dropped because perfdhcp (one thread,
# busy sending) did not read its socket in time: replies the server did send;
# each run also lists perfdhcp's own rate, the packets sent, received and dropped, the
# server's CPU seconds, steal time, and for edgegated its metrics (fdatasyncs, records per
# fdatasync, allocations, renewals, fsync latency).
# Progress goes to stderr. Needs root (network namespaces), perfdhcp (Debian kea-admin),
# kea-dhcp4 (kea-dhcp4-server), dnsmasq (dnsmasq-base) and a built edgegated
# ($EG_BUILD_DIR, default build-rel if it has one, else build). On a shared machine run it
# under the lab lock: flock /tmp/eg-lab.lock bench/dhcp_perf_bench.sh ...
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${EG_BUILD_DIR:-}" ]; then
  EG_BUILD_DIR="$SRC_DIR/build"
  [ -x "$SRC_DIR/build-rel/edgegated" ] && EG_BUILD_DIR="$SRC_DIR/build-rel"
fi
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

SECS=10 REPS=3 RATES="0" CLIENTS=60000 SERVERS="edgegate kea dnsmasq" SERVER_CPUS=1 PERF_DIR="" EG_WORKER=""
while (($#)); do
  case $1 in
    --seconds) SECS=${2:?}; shift 2 ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --rates) RATES=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --servers) SERVERS=${2:?}; shift 2 ;;
    --server-cpus) SERVER_CPUS=${2:?}; shift 2 ;;
    --perf) PERF_DIR=${2:?}; shift 2 ;;
    --eg-worker) EG_WORKER=${2?}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "dhcp_perf_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $SECS =~ ^[0-9]+$ ]] && ((SECS >= 1 && SECS <= 120)) || { echo "--seconds: 1..120" >&2; exit 2; }
[[ $REPS =~ ^[0-9]+$ ]] && ((REPS >= 1 && REPS <= 20)) || { echo "--reps: 1..20" >&2; exit 2; }
[[ $CLIENTS =~ ^[0-9]+$ ]] && ((CLIENTS >= 1 && CLIENTS <= 65000)) || { echo "--clients: 1..65000" >&2; exit 2; }
for r in $RATES; do [[ $r =~ ^[0-9]+$ ]] && ((r <= 1000000)) || { echo "--rates: integers 0..1000000" >&2; exit 2; }; done
for s in $SERVERS; do case $s in edgegate | kea | dnsmasq) ;; *) echo "--servers: edgegate, kea, dnsmasq" >&2; exit 2 ;; esac; done
[ "$(id -u)" = 0 ] || { echo "dhcp_perf_bench: needs root (network namespaces)" >&2; exit 1; }
need() { command -v "$1" >/dev/null || { echo "dhcp_perf_bench: $1 is not installed (tools/setup installs $2)" >&2; exit 77; }; }
need perfdhcp kea-admin
[[ " $SERVERS " == *" kea "* ]] && need kea-dhcp4 kea-dhcp4-server
[[ " $SERVERS " == *" dnsmasq "* ]] && need dnsmasq dnsmasq-base
if [[ " $SERVERS " == *" edgegate "* ]] && [ ! -x "$EG_BUILD_DIR/edgegated" ]; then
  echo "dhcp_perf_bench: $EG_BUILD_DIR/edgegated is not built" >&2; exit 1
fi

say() { echo "dhcp_perf_bench: $*" >&2; }

# Unique names: the namespaces are global to the machine.
NS_SRV="egdb-srv-$$" NS_CLI="egdb-cli-$$" IF_SRV="egdb-s$$" IF_CLI="egdb-c$$"
WORK=$(mktemp -d /var/tmp/eg-dhcp-bench.XXXXXX)   # on disk: the lease stores must really sync
SRV_PID=""
cleanup() {
  srv_stop
  ip netns del "$NS_SRV" 2>/dev/null || true
  ip netns del "$NS_CLI" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

srv_stop() {
  [ -n "$SRV_PID" ] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=""
}

ip netns add "$NS_SRV"
ip netns add "$NS_CLI"
ip link add "$IF_SRV" netns "$NS_SRV" type veth peer name "$IF_CLI" netns "$NS_CLI"
for ns in "$NS_SRV" "$NS_CLI"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$NS_CLI" addr add 10.77.0.2/16 dev "$IF_CLI"
ip -n "$NS_CLI" link set "$IF_CLI" up
ip -n "$NS_SRV" link set "$IF_SRV" up
FS_TYPE=$(stat -f -c %T "$WORK")
[ "$FS_TYPE" = tmpfs ] && say "warning: $WORK is on tmpfs: fdatasync costs nothing there"

kernel_addr() {  # kernel_addr on|off : 10.77.0.1/16 on the server's veth (Kea, dnsmasq)
  ip -n "$NS_SRV" addr flush dev "$IF_SRV"
  [ "$1" = on ] && ip -n "$NS_SRV" addr add 10.77.0.1/16 dev "$IF_SRV"
  ip -n "$NS_CLI" neigh flush dev "$IF_CLI"   # edgegated's port MAC is not the veth's
}

wait_udp67() {  # the server listens (Kea, dnsmasq), within 5 s
  for _ in $(seq 100); do
    ip netns exec "$NS_SRV" ss -Hlun 'sport = :67' | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

start_edgegate() {
  local d="$WORK/edgegate"; rm -rf "$d"; mkdir -p "$d"
  kernel_addr off
  cat > "$d/edgegate.toml" <<TOML
[gateway]
name = "dhcp-bench"
status_interval_s = 0

[workers]
count = 1
$(printf '%s\n' "$EG_WORKER" | sed 's/ \([a-z_]* =\)/\n\1/g')

[[ports]]
name = "vm"
role = "vm"
backend = "uring"
interface = "$IF_SRV"
mtu = 1500
ipv4 = ["10.77.0.1/16"]

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]

[dhcp]
state_dir = "$d/leases"

[[dhcp.networks]]
port = "vm"
pool = ["10.77.1.0-10.77.255.254"]
lease_time_s = 43200

[metrics]
listen = "127.0.0.1:9091"
TOML
  ip netns exec "$NS_SRV" taskset -c "$SERVER_CPUS" "$EG_BUILD_DIR/edgegated" --config "$d/edgegate.toml" \
    > "$d/edgegated.log" 2>&1 &
  SRV_PID=$!
  for _ in $(seq 100); do
    ip netns exec "$NS_SRV" curl -s -o /dev/null --max-time 1 http://127.0.0.1:9091/metrics && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.05
  done
  say "edgegated did not start:"; tail -n 20 "$d/edgegated.log" >&2; exit 1
}

start_kea() {
  local d="$WORK/kea"; rm -rf "$d"; mkdir -p "$d"
  kernel_addr on
  cat > "$d/kea-dhcp4.json" <<KEA
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$IF_SRV" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "$d/kea-leases4.csv", "lfc-interval": 3600 },
    "valid-lifetime": 43200,
    "subnet4": [ { "id": 1, "subnet": "10.77.0.0/16", "pools": [ { "pool": "10.77.1.0 - 10.77.255.254" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$d/kea.log" } ], "severity": "WARN" } ]
} }
KEA
  env KEA_PIDFILE_DIR="$d" KEA_LOCKFILE_DIR="$d" ip netns exec "$NS_SRV" taskset -c "$SERVER_CPUS" \
    kea-dhcp4 -c "$d/kea-dhcp4.json" > "$d/stdout" 2>&1 &
  SRV_PID=$!
  wait_udp67 || { say "kea-dhcp4 did not start:"; cat "$d/stdout" "$d/kea.log" >&2 || true; exit 1; }
}

start_dnsmasq() {
  local d="$WORK/dnsmasq"; rm -rf "$d"; mkdir -p "$d"
  kernel_addr on
  ip netns exec "$NS_SRV" taskset -c "$SERVER_CPUS" dnsmasq --keep-in-foreground --conf-file=/dev/null \
    --no-resolv --no-hosts --port=0 --interface="$IF_SRV" --bind-interfaces --user=root --group=root \
    --dhcp-range=10.77.1.0,10.77.255.254,255.255.0.0,12h --dhcp-lease-max=70000 --dhcp-authoritative \
    --no-ping --dhcp-leasefile="$d/leases" --pid-file="$d/pid" --log-facility="$d/log" > "$d/stdout" 2>&1 &
  SRV_PID=$!
  wait_udp67 || { say "dnsmasq did not start:"; cat "$d/stdout" "$d/log" >&2 || true; exit 1; }
}

proc_cpu_s() {  # utime + stime of a process (all its threads), seconds
  awk -v tck="$(getconf CLK_TCK)" '{ print ($14 + $15) / tck }' "/proc/$1/stat" 2>/dev/null || echo 0
}
cpu_line() { awk '/^cpu /{ print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }  # steal total
# UDP datagrams the client's kernel dropped because perfdhcp's socket buffer was full
client_rcvbuf_errors() {
  ip netns exec "$NS_CLI" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp
}
scrape_edgegate() { ip netns exec "$NS_SRV" curl -sS --max-time 5 http://127.0.0.1:9091/metrics || true; }

RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

# one_run SERVER RATE REP : a fresh server, one perfdhcp run, one JSON line in $RESULTS
one_run() {
  local server=$1 rate=$2 rep=$3 rarg=() out c0 c1 cpu0 cpu1 m=""
  [ "$rate" != 0 ] && rarg=(-r "$rate")
  "start_$server"
  sleep 0.3
  read -r -a c0 < <(cpu_line)
  cpu0=$(proc_cpu_s "$SRV_PID")
  local rb0 rb1; rb0=$(client_rcvbuf_errors)
  out="$WORK/perfdhcp.$server.$rate.$rep"
  local perf_pid=""
  if [ -n "$PERF_DIR" ]; then
    mkdir -p "$PERF_DIR"
    perf record -q -g -F 499 -p "$SRV_PID" -o "$PERF_DIR/perf.$server.$rate.$rep.data" -- sleep "$SECS" \
      > /dev/null 2>&1 &
    perf_pid=$!
  fi
  ip netns exec "$NS_CLI" taskset -c 0 timeout $((SECS + 30)) perfdhcp -4 -l "$IF_CLI" "${rarg[@]}" \
    -R "$CLIENTS" -p "$SECS" -W 500000 -s "$rep" 10.77.0.1 > "$out" 2>&1 || true
  [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
  cpu1=$(proc_cpu_s "$SRV_PID")
  read -r -a c1 < <(cpu_line)
  rb1=$(client_rcvbuf_errors)
  [ "$server" = edgegate ] && { scrape_edgegate > "$WORK/metrics.$rate.$rep"; m="$WORK/metrics.$rate.$rep"; }
  srv_stop
  "$PY" - "$server" "$rate" "$rep" "$SECS" "$out" "$cpu0" "$cpu1" "${c0[0]}" "${c0[1]}" "${c1[0]}" "${c1[1]}" \
    "$m" "$((rb1 - rb0))" >> "$RESULTS" <<'PY'
import json, re, sys
server, rate, rep, secs, path, cpu0, cpu1, st0, tot0, st1, tot1, mpath, rcvbuf = sys.argv[1:14]
text = open(path).read()
sec, cur = {}, None
for line in text.splitlines():
    m = re.match(r"\*\*\*Statistics for:\s*(.*?)\*\*\*", line.strip())
    if m:
        cur = m.group(1).strip(); sec[cur] = {}; continue
    if cur and ":" in line:
        k, v = line.split(":", 1); sec[cur][k.strip()] = v.strip()
def num(s, k):
    try: return float(sec.get(s, {}).get(k, "nan").split()[0])
    except ValueError: return float("nan")
rate_m = re.search(r"Rate:\s*([\d.]+)\s*4-way exchanges/second", text)
acks = num("REQUEST-ACK", "received packets")
r = {"server": server, "rate": int(rate), "rep": int(rep),
     "leases_per_s": round(acks / float(secs), 1) if acks == acks else None,
     "perfdhcp_rate": float(rate_m.group(1)) if rate_m else None,
     "discover_sent": num("DISCOVER-OFFER", "sent packets"), "offer_received": num("DISCOVER-OFFER", "received packets"),
     "discover_drops": num("DISCOVER-OFFER", "drops"), "request_sent": num("REQUEST-ACK", "sent packets"),
     "ack_received": acks, "request_drops": num("REQUEST-ACK", "drops"),
     "offer_delay_avg_ms": num("DISCOVER-OFFER", "avg delay"), "ack_delay_avg_ms": num("REQUEST-ACK", "avg delay"),
     "ack_delay_max_ms": num("REQUEST-ACK", "max delay"),
     "server_cpu_s": round(float(cpu1) - float(cpu0), 2),
     "client_rcvbuf_drops": int(rcvbuf),
     "steal_pct": round(100.0 * (float(st1) - float(st0)) / max(1.0, float(tot1) - float(tot0)), 1)}
if not sec:
    r["error"] = " | ".join(text.strip().splitlines()[-3:])
if mpath:
    v = {}
    for line in open(mpath):
        if line.startswith("#") or " " not in line: continue
        k, val = line.rsplit(" ", 1)
        try: v[k] = float(val)
        except ValueError: pass
    g = lambda k: v.get(k, 0.0)
    fs = g("edgegate_lease_store_fsync_seconds_count")
    recs = g("edgegate_lease_store_records_total")
    r["edgegate"] = {
        "acks_sent": g('edgegate_dhcp_messages_total{direction="tx",type="ack"}'),
        "allocations": g("edgegate_dhcp_allocations_total"),
        "renewals": g("edgegate_dhcp_bindings_total") - g("edgegate_dhcp_allocations_total"),
        "fdatasyncs": fs, "records": recs, "records_per_fdatasync": round(recs / fs, 1) if fs else None,
        "fsync_avg_ms": round(1000 * g("edgegate_lease_store_fsync_seconds_sum") / fs, 3) if fs else None,
        "backend_drops": g("edgegate_backend_drops_total"),
        "punt_ring_full": g('edgegate_drops_total{stage="punt",reason="ring_full"}'),
        "held_queue_full": g('edgegate_dhcp_drops_total{reason="held_queue_full"}'),
    }
print(json.dumps(r))
PY
  say "$(tail -n 1 "$RESULTS")"
}

say "servers: $SERVERS; rates: $RATES; $REPS reps of $SECS s; $CLIENTS clients; server CPUs $SERVER_CPUS; state on $FS_TYPE"
for rep in $(seq "$REPS"); do
  for rate in $RATES; do
    for server in $SERVERS; do one_run "$server" "$rate" "$rep"; done
  done
done

"$PY" - "$RESULTS" "$SECS" "$REPS" "$CLIENTS" "$SERVER_CPUS" "$FS_TYPE" \
  "$(dnsmasq --version 2>/dev/null | head -1 | awk '{print $3}')" "$(kea-dhcp4 -V 2>/dev/null | head -1)" \
  "$(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$EG_BUILD_DIR" "$EG_WORKER" <<'PY'
import json, os, statistics, sys
path, secs, reps, clients, cpus, fs, dnsmasq_v, kea_v, commit, build, eg_worker = sys.argv[1:12]
runs = [json.loads(l) for l in open(path)]
out = {"servers": {}}
for r in runs:
    s = out["servers"].setdefault(r["server"], {})
    s.setdefault(f"rate_{r['rate']}", {"runs": []})["runs"].append(r)
best = {}
for name, rates in out["servers"].items():
    for key, v in rates.items():
        vals = [r["leases_per_s"] for r in v["runs"] if r["leases_per_s"] is not None]
        v["leases_per_s"] = round(statistics.median(vals), 1) if vals else None
        drops = [r["discover_drops"] + r["request_drops"] for r in v["runs"]]
        v["drops"] = statistics.median(drops) if drops else None
        v["steal_pct"] = [r["steal_pct"] for r in v["runs"]]
        if v["leases_per_s"] is not None and v["leases_per_s"] > best.get(name, -1):
            best[name] = v["leases_per_s"]
out["best"] = best
ratio = {}
for other in ("kea", "dnsmasq"):
    if best.get("edgegate") and best.get(other):
        ratio[f"edgegate_{other}"] = round(best["edgegate"] / best[other], 2)
out["ratio"] = ratio
out["goal_leases_per_s"] = 30000
out["goal_met"] = best.get("edgegate", 0) >= 30000
out["seconds"], out["reps"], out["clients"] = int(secs), int(reps), int(clients)
out["machine"] = {"cpus": os.cpu_count(), "server_cpus": cpus, "perfdhcp_cpu": "0", "state_fs": fs,
                  "loadavg": open("/proc/loadavg").read().split()[:3]}
out["versions"] = {"dnsmasq": dnsmasq_v, "kea": kea_v, "edgegate_commit": commit, "edgegate_build": build,
                  "edgegate_workers": eg_worker or "defaults"}
print(json.dumps(out, indent=1))
PY
