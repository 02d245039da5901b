#!/usr/bin/env bash
# runtime_policy_test.sh — port forwards and egress policies changed at runtime through
# the admin API (POST/GET/DELETE /v1/forwards, /v1/egress), kept across a restart in the
# lease store, and POST /v1/reload of the config file; checked with curl through the
# data plane and the IP-echo service in inet, which shows each VM's exit address.
#
#  vm1 192.168.100.11 masquerade (HTTP :80-83; forwards 203.0.113.1:808N -> vm1:8N)
#  vm2 192.168.100.12 dedicated 203.0.113.20 (config)
#           │ eg-sw │── eg-vm [edgegated, NAT 203.0.113.1] eg-up ── inet 203.0.113.2
#                        admin API 127.0.0.1:1537 ◄── curl,        lo 198.51.100.80:8081 ip-echo
#                        edgegatectl in eg-gw                       :7000 a line-echo server
. "$(dirname "$0")/lib.sh"

SECRET=lab-api-secret-0123456789
API=http://127.0.0.1:1537
PUB=203.0.113.1
INET4=203.0.113.2
ECHO_URL=http://198.51.100.80:8081/
export SECRET API PUB INET4 ECHO_URL

mkdir -p "$EG_LAB_DIR"
rm -rf "$EG_LAB_DIR/leases"   # a fresh lease store: no runtime entries of an earlier run
t_lab_up --vms 2
CFG="$EG_LAB_DIR/edgegate.toml"   # the file edgegated runs with (POST /v1/reload re-reads it)
cp "$CFG" "$EG_LAB_DIR/edgegate.toml.orig"

# api METHOD PATH [BODY] : the body, then the status on a line of its own
api() {
  local method=$1 path=$2 body=${3:-}
  in_ns eg-gw curl -sS --max-time 10 -X "$method" -H "x-api-secret: $SECRET" \
    ${body:+-H 'content-type: application/json' --data-binary "$body"} -w '\n%{http_code}' "$API$path"
}
code() { api "$@" | tail -n 1; }
ctl() { in_ns eg-gw env EDGEGATE_API_SECRET="$SECRET" "$EG_SOURCE_DIR/tools/edgegatectl" "$@"; }
exit_address() { in_ns "$1" curl -sS --max-time 5 "$ECHO_URL"; }
export -f api code ctl exit_address

mkdir -p "$EG_LAB_DIR/www-vm1"
echo vm1-web > "$EG_LAB_DIR/www-vm1/index.txt"
# One server per forward: a VM port takes one forward (replies are matched by it).
for port in 80 81 82 83; do t_http_server vm1 0.0.0.0 $port "$EG_LAB_DIR/www-vm1"; done
fetch() { in_ns inet curl -sS --max-time 5 "http://$PUB:$1/index.txt"; }
export -f fetch

# ---- forwards ---------------------------------------------------------------------------
FWD='{"protocol":"tcp","public_address":"203.0.113.1","port":8081,"to":"192.168.100.11","to_port":81}'
t_check_fails "before: $PUB:8081 is not forwarded" fetch 8081
t_check_output "POST /v1/forwards tcp 8081 -> vm1:81: 201" '^201$' code POST /v1/forwards "$FWD"
t_check_output "curl inet -> $PUB:8081 reaches vm1:81 at once" '^vm1-web$' fetch 8081
t_check_output "the same POST again: 200 (idempotent)" '^200$' code POST /v1/forwards "$FWD"
t_check_output "GET /v1/forwards lists it with source api, the config's with source config" \
  '"id":"tcp/203.0.113.1/8080"[^}]*"source":"config".*"id":"tcp/203.0.113.1/8081"[^}]*"source":"api"' api GET /v1/forwards
t_check_output "another target on 8081: 409 conflict" '"code":"conflict"' \
  api POST /v1/forwards '{"protocol":"tcp","public_address":"203.0.113.1","port":8081,"to":"192.168.100.12"}'
t_check_output "a port in the dynamic range: 409 naming it" '^.*dynamic port_range 10000-50999.*$' \
  api POST /v1/forwards '{"protocol":"tcp","public_address":"203.0.113.1","port":20000,"to":"192.168.100.11"}'
t_check_output "UDP on WireGuard's listen port: 409" '^409$' \
  code POST /v1/forwards '{"protocol":"udp","public_address":"203.0.113.1","port":51820,"to":"192.168.100.11"}'
t_check_output "vm1:80 is the config forward's target already: 409" '^409$' \
  code POST /v1/forwards '{"protocol":"tcp","public_address":"203.0.113.1","port":8085,"to":"192.168.100.11","to_port":80}'
t_check_output "not a NAT address: 400" '^400$' \
  code POST /v1/forwards '{"protocol":"tcp","public_address":"203.0.113.77","port":8085,"to":"192.168.100.11"}'
t_check_output "an unknown field: 400 unknown_field" '"code":"unknown_field"' \
  api POST /v1/forwards '{"protocol":"tcp","public_address":"203.0.113.1","port":8085,"to":"192.168.100.11","ttl":5}'
t_check_output "DELETE the config's forward: 409" '^409$' code DELETE /v1/forwards/tcp/203.0.113.1/8080
t_check_output "DELETE an unknown forward: 404" '^404$' code DELETE /v1/forwards/tcp/203.0.113.1/8099
t_check_output "DELETE the runtime forward: 200" '^200$' code DELETE /v1/forwards/tcp/203.0.113.1/8081
t_check_fails "after DELETE $PUB:8081 is not forwarded any more" fetch 8081
t_check_output "the config's forward 8080 still works" '^vm1-web$' fetch 8080

# A forward made now survives a restart of edgegated (the lease store keeps it).
t_check_output "edgegatectl forwards add tcp $PUB 8082 vm1 82" 'tcp/203\.0\.113\.1/8082 +api' \
  ctl forwards add tcp "$PUB" 8082 192.168.100.11 82
t_check_output "curl inet -> $PUB:8082 reaches vm1" '^vm1-web$' fetch 8082
t_check "tools/lab restart" "$LAB" restart
t_check_soon "after the restart the API answers" 20 code GET /v1/info
t_check_output "after the restart the runtime forward is listed" '"id":"tcp/203.0.113.1/8082"[^}]*"source":"api"' api GET /v1/forwards
t_check_output "after the restart curl inet -> $PUB:8082 still reaches vm1" '^vm1-web$' fetch 8082
t_check_output "edgegated logged what it restored" 'restored 1 runtime forward' grep 'restored' "$EG_LAB_DIR/edgegated.log"

# ---- egress ----------------------------------------------------------------------------
t_check_output "vm1 (masquerade) leaves from $PUB" "^$PUB\$" exit_address vm1
t_check_output "POST /v1/egress vm1 dedicated 203.0.113.30: 201" '^201$' \
  code POST /v1/egress '{"vm":"vm1","egress":"dedicated","public_address":"203.0.113.30"}'
t_check_output "vm1 now leaves from 203.0.113.30" '^203\.0\.113\.30$' exit_address vm1
t_check_output "vm2 cannot take vm1's dedicated address: 409" '^409$' \
  code POST /v1/egress '{"vm":"vm2","egress":"dedicated","public_address":"203.0.113.30"}'
t_check_output "an unknown VM: 404" '^404$' code POST /v1/egress '{"vm":"vm99","egress":"masquerade"}'
t_check_output "port block 1 is vm3's in the config: 409 conflict" '"code":"conflict"' \
  api POST /v1/egress '{"vm":"vm1","egress":"port_block","port_block":1}'
t_check_output "a block past the last one: 400" '^400$' \
  code POST /v1/egress '{"vm":"vm1","egress":"port_block","port_block":10}'
t_check_output "vm2 (dedicated 203.0.113.20 in the config) leaves from it" '^203\.0\.113\.20$' exit_address vm2
t_check_output "edgegatectl egress set vm2 masquerade" 'egress=masquerade' ctl egress set vm2 masquerade
t_check_output "vm2 now leaves from the pool address $PUB" "^$PUB\$" exit_address vm2
t_check_output "edgegatectl egress: vm2 from the api, its config policy beside it" \
  'vm2 +config +02:00:00:00:01:02 +192\.168\.100\.12 +masquerade +api +dedicated 203\.0\.113\.20' ctl egress
t_check_output "DELETE /v1/egress/vm2: back to the config's policy" '"now":\{"egress":"dedicated","public_address":"203.0.113.20"\}' \
  api DELETE /v1/egress/vm2
t_check_output "vm2 leaves from 203.0.113.20 again" '^203\.0\.113\.20$' exit_address vm2
t_check_output "DELETE /v1/egress/vm2 again: 404" '^404$' code DELETE /v1/egress/vm2

# Established flows: a session keeps the mapping it has; the new policy applies to new
# flows. vm1 back to masquerade (DELETE), then a TCP connection to inet stays open while
# vm1 gets proxy with proxy_force (every other new flow refused).
t_check_output "DELETE /v1/egress/vm1: masquerade again" '^200$' code DELETE /v1/egress/vm1

# A port block at runtime: vm1's new connections leave from block 2 (61024-61535).
block_port() {  # the source port inet's iperf3 saw last from $PUB
  grep -Eo "Accepted connection from $PUB, port [0-9]+" "$EG_LAB_DIR/iperf3.log" | tail -n 1 | grep -Eo '[0-9]+$'
}
t_check_output "edgegatectl egress set vm1 port_block 2" 'egress=port_block port_block=2' ctl egress set vm1 port_block 2
t_check_output "edgegatectl egress shows vm1's block and its ports" 'vm1 +config .* +port_block 2 \(61024-61535\) +api' ctl egress
t_check "iperf3 vm1 -> inet through its runtime port block (256 KiB)" iperf_bytes vm1 -c $INET4 -n 256K
VM1_PORT=$(block_port)
t_check "inet's iperf3 saw vm1 from port ${VM1_PORT:-?} of block 2 (61024-61535)" \
  test -n "$VM1_PORT" -a "${VM1_PORT:-0}" -ge 61024 -a "${VM1_PORT:-0}" -le 61535
t_check_output "vm2 cannot take vm1's block 2: 409" '^409$' \
  code POST /v1/egress '{"vm":"vm2","egress":"port_block","port_block":2}'
t_check_output "DELETE /v1/egress/vm1: masquerade again" '^200$' code DELETE /v1/egress/vm1
t_check "iperf3 vm1 -> inet as masquerade again (256 KiB)" iperf_bytes vm1 -c $INET4 -n 256K
VM1_PORT=$(block_port)
t_check "inet's iperf3 saw vm1 from port ${VM1_PORT:-?}, outside the port-block area" \
  test -n "$VM1_PORT" -a "${VM1_PORT:-0}" -lt 60000
LINE_PY='
import socket, sys, os, time
if sys.argv[1] == "server":   # answer each line with the address it came from
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 7000)); s.listen(4)
    while True:
        c, a = s.accept()
        for line in c.makefile():
            c.sendall(("seen %s %s\n" % (a[0], line.strip())).encode())
else:                         # client HOST GOFILE: one line now, one once GOFILE exists (at most 60 s)
    c = socket.create_connection((sys.argv[2], 7000), timeout=60); f = c.makefile()
    c.sendall(b"one\n"); print(f.readline().strip(), flush=True)
    for _ in range(600):
        if os.path.exists(sys.argv[3]): break
        time.sleep(0.1)
    c.sendall(b"two\n"); print(f.readline().strip(), flush=True)
'
t_bg inet "$EG_LAB_DIR/line-server.log" "$PY" -c "$LINE_PY" server
t_wait_for "line server" 10 bash -c "ip netns exec inet ss -ltnH 'sport = :7000' | grep -q LISTEN"
GO="$EG_LAB_DIR/go"
rm -f "$GO"
t_bg vm1 "$EG_LAB_DIR/line-client.log" "$PY" -c "$LINE_PY" client "$INET4" "$GO"
CLIENT=$T_LAST_PID
t_check_soon "a TCP connection vm1 -> inet:7000 is up (seen from $PUB)" 10 grep -q "^seen $PUB one\$" "$EG_LAB_DIR/line-client.log"
t_check_output "vm1 gets egress proxy with proxy_force: 201" '^201$' \
  code POST /v1/egress '{"vm":"vm1","egress":"proxy","proxy_port":10050,"proxy_force":true}'
t_check_fails "a new connection vm1 -> inet is refused (proxy_force)" in_ns vm1 curl -sS --max-time 5 "http://$INET4/hello.txt"
t_check_output "[proxy_ports] will not pin an organization to vm1's runtime port 10050: 409" '^409$' \
  code POST /v1/proxy-ports '{"organization_id":"org-late","port":10050}'
touch "$GO"
t_check_soon "the established connection still works, with its old mapping" 10 \
  grep -q "^seen $PUB two\$" "$EG_LAB_DIR/line-client.log"
wait "$CLIENT" 2>/dev/null
t_check_output "DELETE /v1/egress/vm1: 200" '^200$' code DELETE /v1/egress/vm1
t_check_output "... after which 10050 can be pinned: 201" '^201$' \
  code POST /v1/proxy-ports '{"organization_id":"org-late","port":10050}'
t_check_output "... and given up again: 200" '^200$' code DELETE /v1/proxy-ports/org-late
t_check_output "new connections from vm1 work again" '^edgegate-lab-ok$' in_ns vm1 curl -sS --max-time 5 "http://$INET4/hello.txt"

# An egress policy survives a restart too. (vm2: vm1 stays masquerade for the forwards
# below, since a dedicated VM's replies leave from its own address, not the forward's.)
t_check_output "POST /v1/egress vm2 dedicated 203.0.113.31" '^201$' \
  code POST /v1/egress '{"vm":"vm2","egress":"dedicated","public_address":"203.0.113.31"}'
t_check "tools/lab restart (2)" "$LAB" restart
t_check_soon "after the restart the API answers (2)" 20 code GET /v1/info
t_check_output "after the restart vm2 still leaves from 203.0.113.31" '^203\.0\.113\.31$' exit_address vm2

# ---- POST /v1/reload -----------------------------------------------------------------------
# A bad file: 400 with every problem, nothing changes.
sed -i -E 's/^port_range = \[10000, 50999\]$/port_range = [10000, 70000]/' "$CFG"
t_check_output "reload of an invalid file: 400 invalid_config naming nat.port_range" \
  '"code":"invalid_config".*nat\.port_range' api POST /v1/reload
t_check_output "after the refused reload the runtime forward still works" '^vm1-web$' fetch 8082
t_check_output "... and the config's forward too" '^vm1-web$' fetch 8080
# A good change: a new config forward 8083, applied at once.
cp "$EG_LAB_DIR/edgegate.toml.orig" "$CFG"
printf '\n[[nat.forwards]]\nprotocol = "tcp"\npublic_address = "203.0.113.1"\nport = 8083\nto = "192.168.100.11"\nto_port = 83\n' >> "$CFG"
t_check_fails "before the reload $PUB:8083 is not forwarded" fetch 8083
t_check_output "reload of the changed file: 200, forwards applied" '"applied":\["\[\[nat\.forwards\]\]"\]' api POST /v1/reload
t_check_output "after the reload $PUB:8083 reaches vm1" '^vm1-web$' fetch 8083
t_check_output "GET /v1/forwards: 8083 from the config" '"id":"tcp/203.0.113.1/8083"[^}]*"source":"config"' api GET /v1/forwards
t_check_output "vm2 keeps its runtime egress through the reload" '^203\.0\.113\.31$' exit_address vm2
# A file whose forward lands on the runtime forward's port: 409 conflict, nothing changes.
printf '\n[[nat.forwards]]\nprotocol = "tcp"\npublic_address = "203.0.113.1"\nport = 8082\nto = "192.168.100.12"\nto_port = 80\n' >> "$CFG"
t_check_output "reload onto a runtime forward's port: 409 conflict naming it" '"code":"conflict".*tcp/203\.0\.113\.1/8082' \
  api POST /v1/reload
t_check_output "the runtime forward 8082 still goes to vm1" '^vm1-web$' fetch 8082
# A change that needs a restart: 409 needs_restart naming it, nothing changes.
cp "$EG_LAB_DIR/edgegate.toml.orig" "$CFG"
sed -i -E 's/^count = 1$/count = 2/' "$CFG"
t_check_output "reload with [workers] changed: 409 needs_restart naming [workers]" \
  '"code":"needs_restart".*\[workers\] changed' api POST /v1/reload
t_check_output "after the refused reload 8083 is still forwarded" '^vm1-web$' fetch 8083
cp "$EG_LAB_DIR/edgegate.toml.orig" "$CFG"
t_check_output "edgegatectl reload of the original file: 8083 goes" 'reloaded \(config generation [0-9]+\): \[\[nat\.forwards\]\]' ctl reload
t_check_fails "after that reload $PUB:8083 is not forwarded" fetch 8083
t_check_output "GET /v1/info answers after the reloads" '"name":"lab-edge"' api GET /v1/info

t_check "edgegated is still running" kill -0 "$(edgegated_pid)"
t_check_clean_exit
t_finish
