#!/usr/bin/env bash
# probe_test.sh — proxy-port assignment over the admin API and the health probes of the
# assigned ports, through real tinyproxy instances and the IP-echo service in inet.
#
#  vm4 192.168.100.14 (egress = "proxy", organization lab-org-4)
#        │ curl -x 192.168.100.1:3128
#  eg-sw (br0)
#        │ eg-vm                                     eg-up
#  ┌─────┴─────────────────────────────────────────────┴─────┐
#  │ eg-gw: edgegated   admin API 127.0.0.1:1537, metrics :9091
#  │   probes: eg-gw's kernel ── TAP eg-host ── engine ──► uplink
#  └──────────────────────────────────────────────────────┬──┘
#                                                          │ 203.0.113.1 -> 203.0.113.2
#  inet  eth0 203.0.113.2/24
#        tinyproxy :10001 (the lab's, exit 203.0.113.2)
#        tinyproxy :10002 (this test's, exit 203.0.113.2)   ── stopped and restarted
#        tinyproxy :10003 (this test's, exit 203.0.113.9)   ── the wrong exit address
#        tinyproxy :10006 (this test's, exit 203.0.113.2)   ── vm4's port after a pin
#        lo 198.51.100.80:8081  tools/ip-echo: answers with the client's address
. "$(dirname "$0")/lib.sh"

SECRET=lab-api-secret-0123456789
API=http://127.0.0.1:1537
CFG="$EG_LAB_DIR/probe-lab.toml"
mkdir -p "$EG_LAB_DIR"
rm -rf "$EG_LAB_DIR/leases"   # a fresh lease store: assignments start from the config
cp "$EG_SOURCE_DIR/config/examples/lab.toml" "$CFG"
for want in '^\[proxy_ports\]' '^\[probes\]' '^interval_ms = 1000' '^fall = 3' '^expect_address = "203.0.113.2"' \
            '^url = "http://198.51.100.80:8081/"' 'organization_id = "lab-org-4"'; do
  grep -Eq "$want" "$CFG" || { t_fail "lab.toml has $want"; t_finish; }
done

t_lab_up --vms 4 --config "$CFG"

api() { in_ns eg-gw curl -sS --max-time 5 -H "x-api-secret: $SECRET" "$@"; }
# code METHOD PATH [BODY] : the HTTP status only
code() {
  local m=$1 p=$2; shift 2
  in_ns eg-gw curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X "$m" -H "x-api-secret: $SECRET" \
    -H 'content-type: application/json' ${1:+--data "$1"} "$API$p"
}
# jq_py EXPR : evaluate a Python expression over the JSON on stdin (as j); prints it
jq_py() { "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# probe_field PORT FIELD : one field of /v1/probes for that port
probe_field() {
  api "$API/v1/probes" | "$PY" -c '
import json, sys
port, field = int(sys.argv[1]), sys.argv[2]
for p in json.load(sys.stdin)["ports"]:
    if p["port"] == port:
        print(json.dumps(p[field])); break
else:
    print("no-such-port")' "$1" "$2"
}
state_is() { [ "$(probe_field "$1" state)" = "\"$2\"" ]; }
export -f api code jq_py probe_field state_is t_log
export SECRET API

# ---- upstream proxy ports of this test (tinyproxy, one per port), ended by PID
in_ns inet ip addr add 203.0.113.9/32 dev lo
declare -A TP
start_tinyproxy() {  # PORT BIND
  local port=$1 bind=$2 conf="$EG_LAB_DIR/tinyproxy-$1.conf"
  printf 'Port %s\nListen 203.0.113.2\nBind %s\nTimeout 10\nMaxClients 16\nAllow 203.0.113.0/24\nLogLevel Info\n' \
    "$port" "$bind" > "$conf"
  t_bg inet "$EG_LAB_DIR/tinyproxy-$port.log" tinyproxy -d -c "$conf"
  TP[$port]=$T_LAST_PID
  t_wait_for "tinyproxy on $port" 10 bash -c "ip netns exec inet ss -ltnH 'sport = :$port' | grep -q LISTEN"
}
start_tinyproxy 10002 203.0.113.2
start_tinyproxy 10003 203.0.113.9
start_tinyproxy 10006 203.0.113.2

t_check "the IP-echo service listens in inet (198.51.100.80:8081)" \
  t_wait_for "ip-echo" 10 bash -c "ip netns exec inet ss -ltnH 'sport = :8081' | grep -q LISTEN"

# ---- assignments over the API
t_check_output "the config's organization has its configured port" '^\[\[.lab-org-4., 10001, \[.vm4.\]\]\]$' \
  bash -c "api $API/v1/proxy-ports | jq_py '[[a[\"organization_id\"], a[\"port\"], a[\"vms\"]] for a in j[\"assignments\"]]'"
t_check_output "POST pins acme to 10002: 201" '^201$' code POST /v1/proxy-ports '{"organization_id":"acme","port":10002}'
t_check_output "POST acme again returns its port: 200" '"port":10002' \
  api -H 'content-type: application/json' --data '{"organization_id":"acme"}' "$API/v1/proxy-ports"
t_check_output "POST pinning a taken port: 409" '^409$' code POST /v1/proxy-ports '{"organization_id":"globex","port":10002}'
t_check_output "the 409 names the holder" '"code":"conflict".*org:acme' \
  api --data '{"organization_id":"globex","port":10002}' "$API/v1/proxy-ports"
t_check_output "POST pins wrongexit to 10003: 201" '^201$' code POST /v1/proxy-ports '{"organization_id":"wrongexit","port":10003}'
t_check_output "POST auto gets the next free port 10004: 201" '"port":10004' \
  api --data '{"organization_id":"auto"}' "$API/v1/proxy-ports"
t_check_output "malformed JSON: 400" '^400$' code POST /v1/proxy-ports '{"organization_id":'
t_check_output "unknown field: 400" '^400$' code POST /v1/proxy-ports '{"organization_id":"x","prot":1}'
t_check_output "bad organization id: 400" '"code":"bad_request"' api --data '{"organization_id":"a b"}' "$API/v1/proxy-ports"
t_check_output "port outside the range: 400" '"code":"out_of_range"' \
  api --data '{"organization_id":"x","port":20000}' "$API/v1/proxy-ports"
t_check_output "DELETE of a config VM's organization: 409" '^409$' code DELETE /v1/proxy-ports/lab-org-4
t_check_output "DELETE auto: 200" '^200$' code DELETE /v1/proxy-ports/auto
t_check_output "DELETE auto again: 404" '^404$' code DELETE /v1/proxy-ports/auto
t_check_output "GET lists the assignments" '^\[.acme., .lab-org-4., .wrongexit.\] \[10002, 10001, 10003\]$' \
  bash -c "api $API/v1/proxy-ports | jq_py '\" \".join([str(sorted(a[\"organization_id\"] for a in j[\"assignments\"])), str([p for o, p in sorted((a[\"organization_id\"], a[\"port\"]) for a in j[\"assignments\"])])])'"

# ---- probes go healthy, with latency and the exit address
t_check "acme's port 10002 becomes healthy" t_wait_for "10002 healthy" 20 state_is 10002 healthy
t_check "lab-org-4's port 10001 becomes healthy" t_wait_for "10001 healthy" 20 state_is 10001 healthy
t_check_output "10002: the exit address seen is tinyproxy's 203.0.113.2" '^"203\.0\.113\.2"$' probe_field 10002 exit_address
t_check_output "10002: it matches expect_address" '^true$' probe_field 10002 matches
t_check_output "10002: a latency is recorded (ms)" '^[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$' probe_field 10002 last_latency_ms
t_check_output "10002: owner is org:acme" '^"org:acme"$' probe_field 10002 owner
t_check "10003 (exit 203.0.113.9) becomes unhealthy" t_wait_for "10003 unhealthy" 20 state_is 10003 unhealthy
t_check_output "10003: the wrong exit address is shown" '^"203\.0\.113\.9"$' probe_field 10003 exit_address
t_check_output "10003: does not match" '^false$' probe_field 10003 matches
t_check_output "10003: last_error says why" 'wrong_exit_address' probe_field 10003 last_error
t_check_output "the deleted port 10004 is no longer probed" '^no-such-port$' probe_field 10004 state
t_check_output "the state change is logged" 'probes: port 10002 \(org:acme\) (unknown|unhealthy) -> healthy latency_ms=[0-9.]+ exit=203\.0\.113\.2' \
  cat "$EG_LAB_DIR/edgegated.log"
t_check_output "the IP-echo service saw tinyproxy's exit address" '^ip-echo: 203\.0\.113\.2 ' cat "$EG_LAB_DIR/ip-echo.log"
LAT=$(probe_field 10002 last_latency_ms)
t_log "probe latency through tinyproxy on 10002: ${LAT} ms"

# ---- one upstream port down and back
t_kill "${TP[10002]}"
t_check "10002 goes unhealthy once its tinyproxy is stopped" t_wait_for "10002 unhealthy" 20 state_is 10002 unhealthy
t_check_output "after exactly fall = 3 failed probes (log)" \
  'probes: port 10002 \(org:acme\) healthy -> unhealthy after 3 failure\(s\), last: (connect|read|status)' cat "$EG_LAB_DIR/edgegated.log"
t_check_output "10001 stays healthy meanwhile" '^"healthy"$' probe_field 10001 state
start_tinyproxy 10002 203.0.113.2
t_check "10002 returns to healthy" t_wait_for "10002 healthy again" 20 state_is 10002 healthy
t_check_output "the recovery is logged" 'probes: port 10002 \(org:acme\) unhealthy -> healthy' cat "$EG_LAB_DIR/edgegated.log"

# ---- a pin moves vm4's proxy egress at runtime (new snapshot)
t_check_output "curl vm4 through its proxy (port 10001)" '^edgegate-lab-ok$' \
  in_ns vm4 curl -sS --max-time 10 -x http://192.168.100.1:3128 http://203.0.113.2/hello.txt
t_check_output "POST pins lab-org-4 to 10006: 201" '^201$' code POST /v1/proxy-ports '{"organization_id":"lab-org-4","port":10006}'
t_check_output "curl vm4 through its proxy after the pin" '^edgegate-lab-ok$' \
  in_ns vm4 curl -sS --max-time 10 -x http://192.168.100.1:3128 http://203.0.113.2/hello.txt
t_check_output "tinyproxy on 10006 carried vm4's request" 'Established connection to host "203\.0\.113\.2"' \
  cat "$EG_LAB_DIR/tinyproxy-10006.log"
t_check "10006 becomes healthy" t_wait_for "10006 healthy" 20 state_is 10006 healthy
t_check_output "10001 is no longer probed" '^no-such-port$' probe_field 10001 state

# ---- metrics
t_check_output "metrics: 10002 healthy" '^edgegate_probe_healthy\{port="10002",owner="org:acme"\} 1$' \
  in_ns eg-gw curl -sS --max-time 5 http://127.0.0.1:9091/metrics
t_check_output "metrics: 10003 unhealthy state" '^edgegate_probe_state\{port="10003",owner="org:wrongexit",state="unhealthy"\} 1$' \
  in_ns eg-gw curl -sS --max-time 5 http://127.0.0.1:9091/metrics
t_check_output "metrics: latency histogram has samples" '^edgegate_probe_latency_seconds_count\{port="10002",owner="org:acme"\} [1-9]' \
  in_ns eg-gw curl -sS --max-time 5 http://127.0.0.1:9091/metrics
if command -v promtool >/dev/null; then
  t_check "promtool check metrics" bash -c "ip netns exec eg-gw curl -sS --max-time 5 http://127.0.0.1:9091/metrics | promtool check metrics"
fi

# ---- restart: the assignments come back from the lease store
t_check "edgegated restarts" "$LAB" restart
t_check_output "after the restart the assignments are the same" '^\[.acme., 10002\] \[.lab-org-4., 10006\] \[.wrongexit., 10003\]$' \
  bash -c "api $API/v1/proxy-ports | jq_py '\" \".join(str([a[\"organization_id\"], a[\"port\"]]) for a in sorted(j[\"assignments\"], key=lambda a: a[\"organization_id\"]))'"
t_check "acme's port is probed healthy again" t_wait_for "10002 healthy after restart" 20 state_is 10002 healthy
t_check_output "curl vm4 through its pinned port after the restart" '^edgegate-lab-ok$' \
  in_ns vm4 curl -sS --max-time 10 -x http://192.168.100.1:3128 http://203.0.113.2/hello.txt

t_check_clean_exit
t_finish
