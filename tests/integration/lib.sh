# shellcheck shell=bash
# tests/integration/lib.sh — helpers for the namespace integration tests. Source it:
#   . "$(dirname "$0")/lib.sh"
#   t_lab_up --vms 2                     # tools/lab up; torn down by the EXIT trap
#   t_check "vm1 pings inet" in_ns vm1 ping -c 3 203.0.113.2
#   t_check_output "curl body" '^edgegate-lab-ok$' in_ns vm1 curl -sS http://203.0.113.2/hello.txt
#   t_finish                             # prints "N passed, M failed", exits 0 only if M == 0
#
# Environment (CMake's add_test gives the first two): EG_BUILD_DIR (edgegated is taken from
# there), EG_SOURCE_DIR, EG_LAB_DIR (lab state; default $EG_BUILD_DIR/lab-state/<test>),
# EG_TEST_VERBOSE=1 prints the output of passing checks too.
# Exit status: 0 all checks passed, 1 a check failed, 77 skipped (not root; ctest: skipped).

set -uo pipefail

T_NAME=$(basename "$0" .sh)
if [ "$(id -u)" != 0 ]; then
  echo "$T_NAME: skipped (needs root for network namespaces)"
  exit 77
fi

EG_SOURCE_DIR=${EG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
EG_BUILD_DIR=${EG_BUILD_DIR:-$EG_SOURCE_DIR/build}
export EG_SOURCE_DIR EG_BUILD_DIR
export EG_LAB_DIR=${EG_LAB_DIR:-$EG_BUILD_DIR/lab-state/$T_NAME}
LAB="$EG_SOURCE_DIR/tools/lab"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
export PY

T_PASSED=0
T_FAILED=0
T_FAILED_NAMES=()
T_PIDS=()        # background processes this test started (ended by PID at exit)
T_LAB_UP=0
T_FINISHED=0

t_log() { echo "[$T_NAME] $*"; }

# in_ns NS CMD... : run CMD in network namespace NS (vm1.., inet, eg-gw, eg-sw)
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

t_pass() { T_PASSED=$((T_PASSED + 1)); echo "PASS: $1"; }
t_fail() {
  T_FAILED=$((T_FAILED + 1)); T_FAILED_NAMES+=("$1")
  echo "FAIL: $1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/      | /' | head -n 40
  return 0
}

# t_run_capture CMD... : run CMD (bounded by EG_CHECK_TIMEOUT_S, default 30 s), output in
# T_OUT, status in T_RC. CMD may be a shell function (it is exported to the bounded child).
t_run_capture() {
  # shellcheck disable=SC2163  # exports the function named by $1
  [ "$(type -t "$1")" = function ] && export -f "$1"
  # shellcheck disable=SC2016
  T_OUT=$(timeout --kill-after=5 "${EG_CHECK_TIMEOUT_S:-30}" bash -c '"$@"' t_cmd "$@" 2>&1)
  T_RC=$?
}

_t_verbose() { [ "${EG_TEST_VERBOSE:-0}" = 1 ] && printf '%s\n' "$T_OUT" | sed 's/^/      . /' | head -n 20; return 0; }

# t_check NAME CMD... : passes when CMD exits 0
t_check() {
  local name=$1; shift
  t_run_capture "$@"
  if [ "$T_RC" = 0 ]; then t_pass "$name"; _t_verbose
  else t_fail "$name" "\$ $*"$'\n'"exit status $T_RC"$'\n'"$T_OUT"; fi
}

# t_check_fails NAME CMD... : passes when CMD exits non-zero
t_check_fails() {
  local name=$1; shift
  t_run_capture "$@"
  if [ "$T_RC" != 0 ]; then t_pass "$name"; _t_verbose
  else t_fail "$name" "\$ $*"$'\n'"expected a failure, got exit status 0"$'\n'"$T_OUT"; fi
}

# t_check_output NAME REGEX CMD... : passes when CMD's output (stdout+stderr) matches the
# extended regex REGEX (exit status ignored: e.g. ping reporting "Frag needed" exits 1)
t_check_output() {
  local name=$1 re=$2; shift 2
  t_run_capture "$@"
  # A here-string, not a pipe: grep -q exits at the first match, and under pipefail the
  # writer's SIGPIPE would turn a match into a failure (seen as a flaky pmtu check).
  if grep -Eq -- "$re" <<<"$T_OUT"; then t_pass "$name"; _t_verbose
  else t_fail "$name" "\$ $*"$'\n'"exit status $T_RC; output does not match /$re/:"$'\n'"$T_OUT"; fi
}

# t_check_eq NAME EXPECTED ACTUAL [DETAIL]
t_check_eq() {
  if [ "$2" = "$3" ]; then t_pass "$1"
  else t_fail "$1" "expected: '$2'"$'\n'"observed: '$3'${4:+$'\n'$4}"; fi
}

# t_wait_for DESC SECONDS CMD... : retry CMD (quietly) until it succeeds, at most SECONDS; 0 if it did
t_wait_for() {
  local desc=$1 secs=$2 deadline; shift 2
  deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.3
  done
  t_log "gave up waiting ${secs}s for: $desc"
  return 1
}

# t_check_soon NAME SECONDS CMD... : passes when CMD succeeds within SECONDS (a failure
# shows the end of edgegated's log)
t_check_soon() {
  local name=$1 secs=$2; shift 2
  if t_wait_for "$name" "$secs" "$@"; then
    t_pass "$name"
  else
    t_fail "$name" "\$ $* (not true within ${secs}s)"$'\n'"$(tail -n 20 "$EG_LAB_DIR/edgegated.log" 2>/dev/null)"
  fi
}

# t_bg NS LOGFILE CMD... : start CMD in NS in the background; ended by PID at exit.
# `ip netns exec` execs CMD in place, so the PID is CMD's own. Sets T_LAST_PID.
t_bg() {
  local ns=$1 logf=$2; shift 2
  ip netns exec "$ns" "$@" </dev/null >>"$logf" 2>&1 &
  T_LAST_PID=$!
  T_PIDS+=("$T_LAST_PID")
}

# t_http_server HOST BIND PORT DIR : the lab's static HTTP server in HOST (vm1.., inet, gw),
# in the background (ended at exit); waits (bounded) until it listens. Sets T_LAST_PID.
t_http_server() {
  local host=$1 bind=$2 port=$3 dir=$4 ns=$1
  [ "$ns" = gw ] && ns=eg-gw
  "$LAB" http "$host" "$bind" "$port" "$dir" </dev/null >>"$EG_LAB_DIR/http-$host-$port.log" 2>&1 &
  T_LAST_PID=$!
  T_PIDS+=("$T_LAST_PID")
  t_wait_for "HTTP server in $host on port $port" 10 \
    bash -c "ip netns exec $ns ss -ltnH 'sport = :$port' | grep -q LISTEN"
}

t_kill() {  # t_kill PID : end one process this test started
  local p=$1 i
  kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < 30; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# mac_of NS DEV ; neigh_mac NS ADDR : link-layer addresses (empty when unknown/unresolved)
mac_of() { ip -n "$1" -j link show dev "$2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0].get("address",""))'; }
neigh_mac() {
  ip -n "$1" -j neigh show to "$2" | "$PY" -c '
import json,sys
for n in json.load(sys.stdin):
    if n.get("lladdr") and "FAILED" not in n.get("state", []) and "INCOMPLETE" not in n.get("state", []):
        print(n["lladdr"]); break'
}

# iperf_bytes NS IPERF3_ARGS... : run an iperf3 client in NS (bounded 25 s; retried while the
# single-test server is still busy with the previous run); prints the bytes the far
# end received, or the error
iperf_bytes() {
  local ns=$1 try out; shift
  for try in 1 2 3 4 5 6; do
    out=$(ip netns exec "$ns" timeout 25 iperf3 -J --connect-timeout 3000 "$@" 2>&1 | "$PY" -c '
import json,sys
t=sys.stdin.read()
try: j=json.loads(t[t.index("{"):])
except Exception: print("iperf3 output is not JSON:", t.strip()[-300:]); sys.exit(1)
if "error" in j: print("iperf3 error:", j["error"]); sys.exit(1)
print(int(j["end"]["sum_received"]["bytes"]))')
    # iperf3 3.12's one-test server refuses ("busy") or resets a client that comes while it
    # is still finishing the previous test; retry, and say so in the output
    case $out in *"server is busy"* | *"unable to connect to server: Connection reset"*)
      echo "(try $try: $out; retrying)" >&2; sleep 1; continue ;; esac
    break
  done
  echo "$out"
  [[ $out =~ ^[0-9]+$ ]]
}

export -f in_ns mac_of neigh_mac iperf_bytes

# The lab's edgegated
edgegated_pid() { cat "$EG_LAB_DIR/edgegated.pid" 2>/dev/null; }
edgegated_alive() { local p; p=$(edgegated_pid) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# t_config_variant SRC OUT TABLE.NAME.KEY=VALUE... : write SRC to OUT with keys of named
# array-of-tables entries set, e.g.
#   ports.uplink.mtu=1400   sets key mtu in the [[ports]] entry whose name = "uplink"
#   (replaced when present, appended to that entry otherwise). VALUE is written verbatim (TOML).
t_config_variant() {
  local src=$1 out=$2; shift 2
  "$PY" - "$src" "$out" "$@" <<'PY'
import re, sys
src, out, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = open(src).read().split("\n")
# split into blocks at table headers
blocks, cur = [], []
for l in lines:
    if re.match(r"^\s*\[", l) and cur:
        blocks.append(cur); cur = []
    cur.append(l)
blocks.append(cur)
for e in edits:
    path, value = e.split("=", 1)
    table, name, key = path.split(".")
    done = False
    for b in blocks:
        if not re.match(r"^\s*\[\[%s\]\]\s*$" % re.escape(table), b[0]):
            continue
        if not any(re.match(r'^\s*name\s*=\s*"%s"' % re.escape(name), l) for l in b):
            continue
        for i, l in enumerate(b):
            if re.match(r"^\s*%s\s*=" % re.escape(key), l):
                b[i] = "%s = %s" % (key, value); done = True
        if not done:
            last = max(i for i, l in enumerate(b) if l.strip() and not l.strip().startswith("#"))
            b.insert(last + 1, "%s = %s" % (key, value)); done = True
    if not done:
        sys.exit("t_config_variant: no [[%s]] with name = \"%s\" in %s" % (table, name, src))
open(out, "w").write("\n".join(l for b in blocks for l in b))
PY
}

# Diagnostics printed once when something failed: what the lab looked like.
t_diagnostics() {
  echo "---- diagnostics ($T_NAME)"
  echo "-- edgegated.log (last 40 lines): $EG_LAB_DIR/edgegated.log"
  tail -n 40 "$EG_LAB_DIR/edgegated.log" 2>/dev/null | sed 's/^/   /'
  local ns
  for ns in vm1 inet; do
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns" || continue
    echo "-- $ns: addresses, routes, neighbours"
    { ip -n "$ns" -br addr; ip -n "$ns" route; ip -n "$ns" -6 route; ip -n "$ns" neigh; } 2>&1 | sed 's/^/   /'
  done
  if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx eg-gw; then
    echo "-- eg-gw: links"
    ip -n eg-gw -s -br link 2>&1 | sed 's/^/   /'
    ip -n eg-gw -br addr 2>&1 | sed 's/^/   /'
  fi
}

# t_lab_up ARGS... : tools/lab up ARGS (fails the test, and finishes it, when that fails)
t_lab_up() {
  if [ ! -x "$EG_BUILD_DIR/edgegated" ]; then
    t_fail "edgegated is built" "not found: $EG_BUILD_DIR/edgegated"
    t_finish
  fi
  if ip netns list 2>/dev/null | awk '{print $1}' | grep -Eqx '(vm[0-9]+|inet|eg-gw|eg-sw)'; then
    t_fail "lab namespaces are free" "a lab is already up ($(ip netns list | awk '{print $1}' | tr '\n' ' ')); tools/lab down removes it"
    t_finish
  fi
  mkdir -p "$EG_LAB_DIR"
  rm -f "$EG_LAB_DIR/lab.env"
  T_LAB_UP=1
  t_log "tools/lab up $* (state: $EG_LAB_DIR)"
  if "$LAB" up "$@"; then
    t_pass "lab up $*"
  else
    t_fail "lab up $*" "tools/lab up failed; see the messages above and $EG_LAB_DIR/edgegated.log"
    t_finish
  fi
}

# t_check_clean_exit : SIGTERM edgegated and check that it exits within 10 s without a
# sanitizer report or a crash message in its log.
t_check_clean_exit() {
  local pid i
  pid=$(edgegated_pid)
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    t_fail "edgegated still running at the end of the test" "$(tail -n 20 "$EG_LAB_DIR/edgegated.log" 2>/dev/null)"
    return
  fi
  kill -TERM "$pid"
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    t_fail "edgegated exits within 10 s of SIGTERM" "pid $pid still running"
  elif grep -Eq 'Sanitizer|runtime error:|terminate called|Segmentation fault|core dumped|Aborted' "$EG_LAB_DIR/edgegated.log"; then
    t_fail "edgegated exits cleanly on SIGTERM" "$(grep -E -m5 -B2 -A8 'Sanitizer|runtime error:|terminate called|Segmentation fault|core dumped|Aborted' "$EG_LAB_DIR/edgegated.log")"
  else
    t_pass "edgegated exits cleanly within 10 s of SIGTERM"
  fi
}

t_cleanup() {
  local rc=$? p
  for p in "${T_PIDS[@]}"; do t_kill "$p"; done
  if [ "$T_LAB_UP" = 1 ]; then
    ((T_FAILED > 0)) && t_diagnostics
    "$LAB" down >/dev/null 2>&1 || "$LAB" down
    T_LAB_UP=0
  fi
  if [ "$T_FINISHED" = 0 ]; then
    # ended early (an error or a signal): count it and print the summary line
    t_fail "test script ran to the end" "exited early with status $rc"
    echo "$T_PASSED passed, $T_FAILED failed"
    exit 1
  fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# t_finish : print the summary line and exit (0 only when nothing failed and something passed)
t_finish() {
  T_FINISHED=1
  local p
  for p in "${T_PIDS[@]}"; do t_kill "$p"; done
  T_PIDS=()
  if [ "$T_LAB_UP" = 1 ]; then
    ((T_FAILED > 0)) && t_diagnostics
    "$LAB" down >/dev/null 2>&1 || "$LAB" down
    T_LAB_UP=0
  fi
  if ((T_FAILED > 0)); then
    echo "failed checks:"; printf '  - %s\n' "${T_FAILED_NAMES[@]}"
  fi
  echo "$T_PASSED passed, $T_FAILED failed"
  ((T_FAILED == 0 && T_PASSED > 0)) && exit 0
  exit 1
}
