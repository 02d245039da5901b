#!/usr/bin/env bash
# bench/api_bench.sh — admin API throughput: wrk against edgegated's API on the host
# loopback. No lab: edgegated runs with memory-backend ports (no packets), so only the
# control thread's HTTP path is measured.
#
#   wrk -t1 -c16 ──► 127.0.0.1:PORT  edgegated (control thread: Beast + router + JSON)
#
# usage: bench/api_bench.sh [--seconds S] [--connections C]
#   --seconds S       each wrk run (default 5)
#   --connections C   wrk connections, one wrk thread (default 16)
# Runs, in the same invocation: GET /v1/info and GET /v1/stats with the secret (the
# issue's goal: >= 20000 authenticated requests/s for a read endpoint), GET /v1/info
# without it (401: the HTTP + auth floor), and the Prometheus exposer's /metrics.
# Prints one JSON object on stdout:
#   {"info_rps": x, "stats_rps": y, "unauthorized_rps": z, "metrics_rps": m, "errors": {...},
#    "seconds": S, "connections": C, "goal_rps": 20000, "goal_met": true|false}
# Progress goes to stderr. Needs wrk (Debian package wrk). No root needed.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EG_BUILD_DIR="${EG_BUILD_DIR:-$SRC_DIR/build}"
SECONDS_EACH=5
CONNS=16
while (($#)); do
  case $1 in
    --seconds) SECONDS_EACH=${2:?}; shift 2 ;;
    --connections) CONNS=${2:?}; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--connections C]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "api_bench: wrk is not installed (apt-get install wrk; tools/setup)" >&2; exit 77; }
[ -x "$EG_BUILD_DIR/edgegated" ] || { echo "api_bench: $EG_BUILD_DIR/edgegated not built" >&2; exit 1; }

WORK=$(mktemp -d /tmp/eg-api-bench.XXXXXX)
EG_PID=""
cleanup() {
  if [ -n "$EG_PID" ]; then kill -TERM "$EG_PID" 2>/dev/null || true; wait "$EG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
METRICS_PORT=$(free_port)
SECRET=bench-secret-0123456789abcdef
cat > "$WORK/bench.toml" <<TOML
[gateway]
name = "api-bench"
status_interval_s = 0

[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]

[nat]
public_addresses = ["203.0.113.1"]

[api]
listen = "127.0.0.1:$API_PORT"
secret = "$SECRET"

[metrics]
listen = "127.0.0.1:$METRICS_PORT"
TOML

"$EG_BUILD_DIR/edgegated" --config "$WORK/bench.toml" > "$WORK/edgegated.log" 2>&1 &
EG_PID=$!
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$API_PORT/" && break
  sleep 0.1
done

# run_wrk NAME URL [wrk args...] : prints "rps non2xx socket_errors"
run_wrk() {
  local name=$1 url=$2 out; shift 2
  echo "api_bench: wrk $name ($SECONDS_EACH s, $CONNS connections)" >&2
  out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" "$@" "$url")
  echo "$out" | sed 's/^/  /' >&2
  python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", t).group(1))
non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", t) or [0, 0])[1])
errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", t))
print(rps, non2xx, errs)' <<<"$out"
}

read -r info_rps info_bad info_err < <(run_wrk info "http://127.0.0.1:$API_PORT/v1/info" -H "x-api-secret: $SECRET")
read -r stats_rps stats_bad stats_err < <(run_wrk stats "http://127.0.0.1:$API_PORT/v1/stats" -H "x-api-secret: $SECRET")
read -r unauth_rps _ unauth_err < <(run_wrk unauthorized "http://127.0.0.1:$API_PORT/v1/info")
read -r metrics_rps metrics_bad metrics_err < <(run_wrk metrics "http://127.0.0.1:$METRICS_PORT/metrics")

python3 - "$info_rps" "$stats_rps" "$unauth_rps" "$metrics_rps" "$info_bad" "$stats_bad" "$metrics_bad" \
  "$info_err" "$stats_err" "$unauth_err" "$metrics_err" "$SECONDS_EACH" "$CONNS" <<'PY'
import json, sys
a = sys.argv[1:]
info, stats, unauth, metrics = (float(x) for x in a[0:4])
bad = dict(zip(["info_non2xx", "stats_non2xx", "metrics_non2xx"], (int(x) for x in a[4:7])))
errs = dict(zip(["info_socket", "stats_socket", "unauthorized_socket", "metrics_socket"], (int(x) for x in a[7:11])))
print(json.dumps({
    "info_rps": round(info), "stats_rps": round(stats), "unauthorized_rps": round(unauth),
    "metrics_rps": round(metrics), "errors": {**bad, **errs},
    "seconds": int(a[11]), "connections": int(a[12]),
    "goal_rps": 20000, "goal_met": max(info, stats) >= 20000 and bad["info_non2xx"] == 0,
}))
PY
