#!/usr/bin/env bash
# crash_test.sh — the lease store's crash safety through the real daemon: kill -9
# edgegated again and again during an allocation storm and check, after each restart,
# that nothing it acknowledged is lost and no address has two holders.
#
#  ec-vm (netns)                           ec-gw (netns)
#  ┌────────────────────┐  veth  ┌─────────────────────────────────────────────┐
#  │ eth0  busybox      ├────────┤ ec-vm  edgegated (uring port "vm",          │
#  │ udhcpc, a new MAC  │        │        10.77.0.1/14, DHCP pool of 262k)    │
#  │ every round        │        │ uplink: memory backend (no packets)         │
#  └────────────────────┘        │ admin API 127.0.0.1:1537 ◄── crash_client.py│
#                                │ state: $EG_LAB_DIR/leases (the lease store) │
#                                └─────────────────────────────────────────────┘
#
# A small topology of its own (not tools/lab): the checks are about the store, and a
# restart here is only the daemon's own start-up. Each round:
#   1. vm: a new MAC, busybox udhcpc asks for a lease (in the background);
#   2. crash_client.py storm: 6 threads POST new allocations, repeat earlier ones (200 and
#      the same addresses, after restarts too) and DELETE some; one thread assigns,
#      repeats and gives up proxy ports; then it kill -9s edgegated — at a random moment,
#      or right after a 201 for an allocation, or right after a 201 for a proxy port
#      (the case of a change answered before it was durable);
#   3. some rounds append a torn record to the newest journal (what a kill in the middle
#      of a write() leaves): the restart must cut exactly that tail, and say so;
#   4. edgegated starts again on the same state directory; crash_client.py verify: every
#      acknowledged allocation is listed and GET /v1/allocations/{id} returns it with the
#      same IPv4, IPv6 and MAC; acknowledged deletes stay deleted; requests in flight at
#      the kill are either applied or not, never half; no allocation appears that was
#      never requested; every DHCP lease udhcpc was given is still bound to its MAC; no
#      IPv4 or IPv6 address is held twice; every acknowledged proxy-port assignment
#      is there with its port, and no port is assigned twice.
# EG_CRASH_ROUNDS (default 15) rounds; the whole script takes about a minute.
. "$(dirname "$0")/lib.sh"

ROUNDS=${EG_CRASH_ROUNDS:-15}
SECRET=crash-test-secret-0123456789
PORT=1537
NS_GW=ec-gw
NS_VM=ec-vm
CLIENT="$EG_SOURCE_DIR/tests/integration/crash_client.py"
BIN="$EG_BUILD_DIR/edgegated"
mkdir -p "$EG_LAB_DIR"
STATE="$EG_LAB_DIR"
CFG="$STATE/crash.toml"
GWLOG="$STATE/edgegated.log"
MODEL="$STATE/model.json"
rm -rf "$STATE/leases" "$STATE"/storm-*.json "$STATE"/udhcpc-*.log
: > "$GWLOG"
echo '{"alloc": {}, "alloc_gone": [], "proxy": {}, "proxy_gone": [], "dhcp": {}}' > "$MODEL"

[ -x "$BIN" ] || { t_fail "edgegated is built" "not found: $BIN"; t_finish; }
for ns in "$NS_GW" "$NS_VM"; do
  if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
    t_fail "namespace $ns is free" "it exists (a crash_test still running, or left over: ip netns del $ns)"
    t_finish
  fi
done

EG_PID=""
crash_cleanup() {
  if [ -n "$EG_PID" ]; then kill -KILL "$EG_PID" 2>/dev/null; wait "$EG_PID" 2>/dev/null; fi
  EG_PID=""
  ip netns del "$NS_VM" 2>/dev/null
  ip netns del "$NS_GW" 2>/dev/null
  return 0
}
trap 'rc=$?; crash_cleanup; (exit $rc); t_cleanup' EXIT

cat > "$CFG" <<EOF
[gateway]
name = "crash-test"
status_interval_s = 0

[workers]
count = 1
idle_poll_us = 200

[[ports]]
name = "vm"
role = "vm"
backend = "uring"
interface = "ec-vm"
ipv4 = ["10.77.0.1/14"]

[[ports]]
name = "uplink"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]

[nat]
public_addresses = ["203.0.113.1"]

[nat.proxy]
service = "10.77.0.1"
upstream = "203.0.113.2"

[dhcp]
state_dir = "$STATE/leases"

[[dhcp.networks]]
port = "vm"
pool = ["10.77.0.10-10.79.255.254"]
lease_time_s = 3600
ipv6_prefix = "2001:db8:77::/64"

[api]
listen = "127.0.0.1:$PORT"
secret = "$SECRET"

[proxy_ports]
range = "10001-19999"
EOF
t_check "edgegated --check-config accepts the test's config" "$BIN" --check-config "$CFG"

# ---- the topology: ec-gw (edgegated) <-veth-> ec-vm (the DHCP client)
ip netns add "$NS_GW" && ip netns add "$NS_VM" &&
  ip -n "$NS_GW" link set lo up && ip -n "$NS_VM" link set lo up &&
  ip -n "$NS_GW" link add ec-vm type veth peer name eth0 netns "$NS_VM" &&
  ip netns exec "$NS_GW" sysctl -qw net.ipv6.conf.ec-vm.disable_ipv6=1 net.ipv4.conf.ec-vm.arp_ignore=8 &&
  ip netns exec "$NS_VM" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 &&
  ip -n "$NS_GW" link set ec-vm up && ip -n "$NS_VM" link set eth0 up
t_check_eq "namespaces $NS_GW and $NS_VM with a veth between them" 0 $?

api_ready() {
  [ "$(ip netns exec "$NS_GW" curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
    -H "x-api-secret: $SECRET" "http://127.0.0.1:$PORT/v1/info")" = 200 ]
}

# start_edgegated : start it in ec-gw (PID in EG_PID); wait (bounded) until the API
# answers; START_S = seconds it took
start_edgegated() {
  local t0 deadline
  echo "---- $(date -u +%FT%T.%3NZ) start" >> "$GWLOG"
  t0=$(date +%s.%N)
  ip netns exec "$NS_GW" "$BIN" --config "$CFG" </dev/null >>"$GWLOG" 2>&1 &
  EG_PID=$!
  deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    kill -0 "$EG_PID" 2>/dev/null || return 1
    api_ready && { START_S=$(echo "$(date +%s.%N) - $t0" | bc); return 0; }
    sleep 0.05
  done
  return 1
}

if ! start_edgegated; then
  t_fail "edgegated starts and its API answers" "$(tail -n 20 "$GWLOG")"
  t_finish
fi
t_pass "edgegated starts and its API answers (${START_S}s)"

TORN_INJECTED=0 TORN_SEEN=0 KILLS=0 DHCP_ACKED=0
STARTS=()
for ((r = 1; r <= ROUNDS; r++)); do
  # 1. a new DHCP client (a new MAC) asks for a lease while the storm runs
  mac=$(printf '02:dd:00:00:%02x:%02x' $((r >> 8)) $((r & 255)))
  ip -n "$NS_VM" link set eth0 down && ip -n "$NS_VM" link set eth0 address "$mac" && ip -n "$NS_VM" link set eth0 up
  ip netns exec "$NS_VM" timeout 20 busybox udhcpc -i eth0 -f -n -q -t 20 -T 1 -s /bin/true \
    </dev/null >"$STATE/udhcpc-$r.log" 2>&1 &
  udhcpc_pid=$!

  # 2. the storm, and the kill
  case $((r % 4)) in
    1 | 2) mode=random ;;
    3) mode=alloc-ack ;;
    0) mode=proxy-ack ;;
  esac
  arm=$("$PY" -c "import random; random.seed($r); print(round(random.uniform(0.2, 1.5), 3))")
  ip netns exec "$NS_GW" timeout 60 "$PY" "$CLIENT" storm --port "$PORT" --secret "$SECRET" \
    --model "$MODEL" --seed "$r" --round "$r" --pid "$EG_PID" --out "$STATE/storm-$r.json" \
    --kill-mode "$mode" --arm-s "$arm" >"$STATE/storm-$r.log" 2>&1
  storm_rc=$?
  t_log "$(head -n 1 "$STATE/storm-$r.log")"
  wait "$EG_PID" 2>/dev/null
  eg_rc=$?
  EG_PID=""
  if [ "$storm_rc" = 0 ] && [ "$eg_rc" = 137 ]; then
    t_pass "round $r: the API answered the storm correctly, and edgegated died of the kill -9 ($mode)"
    KILLS=$((KILLS + 1))
  else
    t_fail "round $r: the API answered the storm correctly, and edgegated died of the kill -9 ($mode)" \
      "storm exit status $storm_rc, edgegated exit status $eg_rc (137 = SIGKILL)"$'\n'"$(cat "$STATE/storm-$r.log")"$'\n'"$(tail -n 15 "$GWLOG")"
  fi
  kill "$udhcpc_pid" 2>/dev/null; wait "$udhcpc_pid" 2>/dev/null
  dhcp_ip=$(grep -oE 'lease of [0-9.]+ obtained' "$STATE/udhcpc-$r.log" | awk '{print $3}' | tail -n 1)
  [ -n "$dhcp_ip" ] && DHCP_ACKED=$((DHCP_ACKED + 1))

  # 3. every third round: a torn record at the end of the newest journal
  torn=0
  if ((r % 3 == 2)); then
    journal=$(ls "$STATE"/leases/journal-* 2>/dev/null | sort | tail -n 1)
    # a frame that claims a 200-byte body and stops after 40 (8-byte frame header + 40)
    "$PY" -c 'import os, struct, sys; open(sys.argv[1], "ab").write(struct.pack("<II", 200, 0x12345678) + os.urandom(40))' "$journal"
    torn=48
    TORN_INJECTED=$((TORN_INJECTED + 1))
  fi

  # 4. restart on the same state directory and check
  lines_before=$(wc -l < "$GWLOG")
  if start_edgegated; then
    t_pass "round $r: edgegated restarts on the same state directory (API answers after ${START_S}s)"
    STARTS+=("$START_S")
  else
    t_fail "round $r: edgegated restarts on the same state directory" "$(tail -n 20 "$GWLOG")"
    break
  fi
  replay=$(tail -n +"$((lines_before + 1))" "$GWLOG" | grep -m1 'lease store in .* replayed' || true)
  cut=$(grep -oE 'torn tail of [0-9]+ bytes cut' <<<"$replay" | awk '{print $4}')
  if ((torn > 0)); then
    # A kill in the middle of a write() can leave a torn tail of its own before ours.
    t_check "round $r: the replay cut the torn tail (>= $torn bytes) and said so: ${cut:-nothing}" \
      test "${cut:-0}" -ge "$torn"
  elif [ -n "$cut" ]; then
    TORN_SEEN=$((TORN_SEEN + 1))
    t_log "round $r: the kill itself left a torn tail of $cut bytes (cut)"
  fi
  [ -n "$replay" ] || t_fail "round $r: edgegated logged its replay" "$(tail -n 20 "$GWLOG")"

  t_run_capture ip netns exec "$NS_GW" "$PY" "$CLIENT" verify --port "$PORT" --secret "$SECRET" \
    --model "$MODEL" --seed "$r" --storm "$STATE/storm-$r.json" ${dhcp_ip:+--dhcp-mac "$mac" --dhcp-ip "$dhcp_ip"}
  if [ "$T_RC" = 0 ]; then
    t_pass "round $r: after the restart, $(grep -c '^ok:' <<<"$T_OUT") checks: $(grep -m1 'acknowledged allocation is listed' <<<"$T_OUT" | sed 's/^ok: //'), DHCP lease ${dhcp_ip:-none this round}"
  else
    t_fail "round $r: after the restart, what was acknowledged is there and nothing is held twice" "$T_OUT"
  fi
  kill -0 "$EG_PID" 2>/dev/null || t_fail "round $r: edgegated still runs after the checks" "$(tail -n 20 "$GWLOG")"
done

t_log "$KILLS kills; torn tails: $TORN_INJECTED injected, $TORN_SEEN left by the kill itself; $DHCP_ACKED DHCP leases given before a kill; restarts (s): ${STARTS[*]}"
t_check "no sanitizer report or crash message in edgegated's log" \
  bash -c "! grep -Eq 'Sanitizer|runtime error:|terminate called|Segmentation fault' '$GWLOG'"
# edgegated is this shell's child (a zombie until waited for), so not t_check_clean_exit
if [ -n "$EG_PID" ]; then
  kill -TERM "$EG_PID"
  for ((i = 0; i < 100; i++)); do
    grep -q '^[0-9]* ([^)]*) Z' "/proc/$EG_PID/stat" 2>/dev/null || ! kill -0 "$EG_PID" 2>/dev/null && break
    sleep 0.1
  done
  if kill -0 "$EG_PID" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$EG_PID/stat" 2>/dev/null; then
    t_fail "edgegated exits within 10 s of SIGTERM" "pid $EG_PID still running"
  else
    wait "$EG_PID"
    t_check_eq "edgegated exits with status 0 on SIGTERM" 0 $?
  fi
  EG_PID=""
fi
t_finish
