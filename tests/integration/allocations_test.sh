#!/usr/bin/env bash
# allocations_test.sh — address allocations through the admin API, handed out by DHCP
# and admitted by NAT44's anti-spoofing at once (config/examples/lab.toml: anti-spoofing
# on, [dhcp] on the vm port, [api] on eg-gw's loopback).
#
#  vm7 02:00:00:00:01:07  busybox udhcpc: gets the address allocated for its MAC
#  vm8 02:00:00:00:01:08  busybox udhcpc: not in [[vms]], no allocation: a pool address
#        │ (neither is a [[vms]] entry)
#  eg-sw (br0)
#        │ eg-vm                             eg-up
#  ┌─────┴─────────────────────────────────────┴────┐
#  │ eg-gw: edgegated  NAT44 203.0.113.1           │
#  │   admin API 127.0.0.1:1537 ◄── curl, edgegatectl │
#  └─────┬─────────────────────────────────────┬────┘
#        └──── vm7/vm8 ──NAT──► inet 203.0.113.2 (HTTP :80)
#
# Allocate for vm7 (curl, 201; again: 200 with the same answer; another MAC: 409), vm7's
# udhcpc gets exactly that address and reaches inet; vm8's plain lease reaches inet too;
# /v1/leases and edgegatectl show them; DELETE the allocation: vm7's traffic is dropped
# (nat/spoofed_source); allocate again, restart edgegated: the allocation is still
# listed with the same addresses, and vm7 gets it again over DHCP and reaches inet.
# IPv6: vm7's allocated /128 is routed to it and is the only global source it may use
# (ipv6/spoofed_source otherwise); vm8 (no allocation) has no IPv6 binding.
. "$(dirname "$0")/lib.sh"

SECRET=lab-api-secret-0123456789
API=http://127.0.0.1:1537
mkdir -p "$EG_LAB_DIR"
CFG="$EG_LAB_DIR/allocations.toml"
cp "$EG_SOURCE_DIR/config/examples/lab.toml" "$CFG"
grep -q '^\[dhcp\]' "$CFG" && grep -q "^secret = \"$SECRET\"" "$CFG" ||
  { t_fail "lab.toml has [dhcp] and the API secret $SECRET"; t_finish; }
rm -rf "$EG_LAB_DIR/leases"
GWLOG="$EG_LAB_DIR/edgegated.log"
VM7_MAC=02:00:00:00:01:07
VM8_MAC=02:00:00:00:01:08

t_lab_up --vms 8 --config "$CFG"

# api METHOD PATH [JSON] : the response body, then the HTTP status on its own last line
api() {
  local method=$1 path=$2 body=${3:-}
  in_ns eg-gw curl -sS --max-time 10 -X "$method" -H "x-api-secret: $SECRET" \
    ${body:+-H 'content-type: application/json' --data-binary "$body"} -w '\n%{http_code}' "$API$path"
}
# json_get EXPR : reads a JSON body (+ status line) on stdin, prints the Python expression on it (j = the body)
json_get() { "$PY" -c 'import json,sys; t=sys.stdin.read().rstrip("\n").rsplit("\n",1)[0]; j=json.loads(t); print(eval(sys.argv[1]))' "$1"; }
status_of() { tail -n 1; }
export -f api json_get status_of
export SECRET API

flush4() { ip -4 -n "$1" addr flush dev eth0; }
configure() {
  ip -n "$1" addr replace "$2/24" dev eth0
  ip -n "$1" route replace default via 192.168.100.1
}
udhcpc_once() { ip netns exec "$1" timeout 25 busybox udhcpc -i eth0 -f -n -q -t 5 -T 1 -s /bin/true; }
reach_inet() { in_ns "$1" curl -sS --max-time "${2:-10}" http://203.0.113.2/hello.txt; }
spoof_drops() {
  api GET /v1/stats | json_get 'sum(r["packets"] for r in j["drops"]["by_reason"] if r["reason"] == "spoofed_source")'
}
spoof6_drops() {
  api GET /v1/stats | json_get 'sum(r["packets"] for r in j["drops"]["by_reason"] if r["stage"] == "ipv6" and r["reason"] == "spoofed_source")'
}
# use_ip6 NS ADDR : ADDR/128 becomes the VM's only global IPv6 address
use_ip6() {
  ip -n "$1" -6 addr flush dev eth0 scope global
  ip -n "$1" -6 addr add "$2/128" dev eth0 nodad
}
reach_inet6() { in_ns "$1" curl -6 -sS --max-time "${2:-10}" "http://[2001:db8:1::2]/hello.txt"; }
export -f udhcpc_once reach_inet spoof_drops spoof6_drops reach_inet6

# ---- allocate for vm7's MAC
OUT=$(api POST /v1/allocations "{\"vps_id\":\"vps-7\",\"organization_id\":\"org-a\",\"mac\":\"$VM7_MAC\"}")
t_check_eq "POST /v1/allocations: 201" 201 "$(status_of <<<"$OUT")" "$OUT"
ALLOC_IP=$(json_get 'j["ipv4"]' <<<"$OUT" 2>/dev/null)
ALLOC_IP6=$(json_get 'j["ipv6"]' <<<"$OUT" 2>/dev/null)
t_log "vps-7 allocated ${ALLOC_IP:-nothing} / ${ALLOC_IP6:-nothing}"
t_check_output "the allocation is a pool address with gateway and DNS" \
  '^192\.168\.100\.1[0-9][0-9] 192\.168\.100\.1 \[.203\.0\.113\.2.\] 2001:db8:100:' \
  json_get '" ".join([j["ipv4"], j["gateway"], str(j["dns"]), j["ipv6"]])' <<<"$OUT"
AGAIN=$(api POST /v1/allocations "{\"vps_id\":\"vps-7\",\"organization_id\":\"org-a\",\"mac\":\"$VM7_MAC\"}")
t_check_eq "the same POST again: 200" 200 "$(status_of <<<"$AGAIN")" "$AGAIN"
t_check_eq "the same POST again: the same allocation" "$(head -n -1 <<<"$OUT")" "$(head -n -1 <<<"$AGAIN")"
t_check_output "the same vps_id with another MAC: 409" '^409$' \
  bash -c "api POST /v1/allocations '{\"vps_id\":\"vps-7\",\"organization_id\":\"org-a\",\"mac\":\"02:00:00:00:01:09\"}' | status_of"
t_check_output "malformed JSON: 400" '^400$' bash -c "api POST /v1/allocations '{\"vps_id\":' | status_of"
t_check_output "an unknown field: 400 unknown_field" '"code":"unknown_field"' \
  api POST /v1/allocations "{\"vps_id\":\"x\",\"organization_id\":\"o\",\"mac\":\"$VM8_MAC\",\"size\":1}"
t_check_output "GET /v1/allocations/nope: 404" '^404$' bash -c "api GET /v1/allocations/nope | status_of"

# ---- vm7's DHCP client gets exactly the allocated address and reaches inet through NAT
flush4 vm7
t_check_output "vm7 udhcpc: lease of the allocated ${ALLOC_IP:-?}" "lease of ${ALLOC_IP:-none} obtained" udhcpc_once vm7
configure vm7 "${ALLOC_IP:-192.168.100.250}"
t_check_output "vm7 on its allocated address reaches inet through NAT (anti-spoofing on)" '^edgegate-lab-ok$' \
  reach_inet vm7
t_check_output "GET /v1/leases: vm7's lease, bound, with its vps_id" "\"ipv4\": \"${ALLOC_IP:-none}\".*\"state\": \"bound\".*\"vps_id\": \"vps-7\"" \
  bash -c "api GET /v1/leases | json_get 'json.dumps([l for l in j[\"leases\"] if l[\"vps_id\"]])'"
export EDGEGATE_API_SECRET=$SECRET
t_check_output "edgegatectl allocations list: a table with vps-7" "^vps-7 +org-a +$VM7_MAC +vm +${ALLOC_IP:-none} " \
  in_ns eg-gw "$EG_SOURCE_DIR/tools/edgegatectl" allocations list
t_check_output "edgegatectl leases: vm7's lease" "^${ALLOC_IP:-none} +$VM7_MAC +bound " \
  in_ns eg-gw "$EG_SOURCE_DIR/tools/edgegatectl" leases
t_check_output "edgegatectl allocations get --json" "\"ipv4\": \"${ALLOC_IP:-none}\"" \
  in_ns eg-gw "$EG_SOURCE_DIR/tools/edgegatectl" allocations get vps-7 --json
t_check_output "edgegatectl on an unknown allocation: exit 1, HTTP 404" 'HTTP 404' \
  bash -c "ip netns exec eg-gw '$EG_SOURCE_DIR/tools/edgegatectl' allocations get nope; test \$? = 1 && echo exit1"
t_check_output "GET /v1/stats: the pool's figures and the runtime VM" '^100 [0-9]+ [0-9]+ 16777216 1$' \
  bash -c "api GET /v1/stats | json_get '\" \".join(str(x) for x in [j[\"pools\"][0][\"total\"], j[\"pools\"][0][\"used\"], j[\"pools\"][0][\"available\"], j[\"largest_pool_possible\"][\"addresses\"], j[\"vms\"][\"allocations\"]])'"

# ---- a dynamic DHCP client (no [[vms]] entry, no allocation) reaches inet too
flush4 vm8
t_check_output "vm8 udhcpc: a pool address" 'lease of 192\.168\.100\.1[0-9][0-9] obtained' udhcpc_once vm8
VM8_ADDR=$(grep -oE 'lease of 192\.168\.100\.[0-9]+ obtained' <<<"$T_OUT" | awk '{print $3}')
t_log "vm8 leased ${VM8_ADDR:-nothing}"
configure vm8 "${VM8_ADDR:-192.168.100.251}"
t_check_output "vm8 (dynamic lease) reaches inet through NAT (anti-spoofing on)" '^edgegate-lab-ok$' reach_inet vm8
t_check_output "edgegated logged vm8's admission" "${VM8_ADDR:-none} \($VM8_MAC, dhcp-$VM8_MAC\) admitted to the data plane" cat "$GWLOG"

# ---- vm7's dedicated IPv6 /128: bound to its MAC, routed to it, the only source it may use
# inet routes the allocations' /64 to the gateway (a routed prefix, as upstream would).
ip -n inet -6 route replace 2001:db8:100::/64 via 2001:db8:1::1
BEFORE6=$(spoof6_drops)
t_check_fails "vm7 from its unbound lab address 2001:db8:1::107 does not reach inet over IPv6" reach_inet6 vm7 4
AFTER6=$(spoof6_drops)
t_check "...counted as ipv6/spoofed_source (${BEFORE6:-?} -> ${AFTER6:-?})" test "${AFTER6:-0}" -gt "${BEFORE6:-0}"
use_ip6 vm7 "${ALLOC_IP6:-2001:db8:100::dead}"
t_check_output "vm7 from its allocated ${ALLOC_IP6:-?} reaches inet over IPv6 (curl -6)" '^edgegate-lab-ok$' reach_inet6 vm7
t_check "inet pings vm7's allocated /128 (routed by its binding)" \
  in_ns inet ping -6 -n -c 2 -i 0.2 -W 2 "${ALLOC_IP6:-2001:db8:100::dead}"
t_check_fails "vm8 (a lease, no allocation: no IPv6 binding) does not reach inet over IPv6" reach_inet6 vm8 4

# ---- delete the allocation: vm7's traffic is dropped from then on
BEFORE=$(spoof_drops)
t_check_output "DELETE /v1/allocations/vps-7: 200" '^200$' bash -c "api DELETE /v1/allocations/vps-7 | status_of"
t_check_output "GET /v1/allocations/vps-7 after the delete: 404" '^404$' bash -c "api GET /v1/allocations/vps-7 | status_of"
t_check_fails "vm7 no longer reaches inet" reach_inet vm7 4
t_check_fails "vm7 no longer pings inet" in_ns vm7 ping -n -c 2 -W 1 203.0.113.2
AFTER=$(spoof_drops)
t_check "vm7's packets were counted as nat/spoofed_source (${BEFORE:-?} -> ${AFTER:-?})" test "${AFTER:-0}" -gt "${BEFORE:-0}"
BEFORE6=$(spoof6_drops)
t_check_fails "vm7 no longer reaches inet over IPv6 from ${ALLOC_IP6:-?}" reach_inet6 vm7 4
AFTER6=$(spoof6_drops)
t_check "...counted as ipv6/spoofed_source (${BEFORE6:-?} -> ${AFTER6:-?})" test "${AFTER6:-0}" -gt "${BEFORE6:-0}"
t_check_output "vm8 still reaches inet" '^edgegate-lab-ok$' reach_inet vm8

# ---- allocate again; it survives a restart of edgegated
OUT=$(api POST /v1/allocations "{\"vps_id\":\"vps-7b\",\"organization_id\":\"org-a\",\"mac\":\"$VM7_MAC\"}")
t_check_eq "POST a new allocation for vm7: 201" 201 "$(status_of <<<"$OUT")" "$OUT"
KEEP=$(head -n -1 <<<"$OUT")
KEEP_IP=$(json_get 'j["ipv4"]' <<<"$OUT" 2>/dev/null)
KEEP_IP6=$(json_get 'j["ipv6"]' <<<"$OUT" 2>/dev/null)
t_check "restart: tools/lab gw kernel" "$LAB" gw kernel
t_check "restart: tools/lab gw edgegated" "$LAB" gw edgegated
t_check_output "after the restart: the allocation is listed" '"vps-7b"' api GET /v1/allocations
t_check_eq "after the restart: the same allocation (IPv4, IPv6, MAC)" "$KEEP" "$(api GET /v1/allocations/vps-7b | head -n -1)"
flush4 vm7
t_check_output "after the restart: vm7 udhcpc gets ${KEEP_IP:-?} again" "lease of ${KEEP_IP:-none} obtained" udhcpc_once vm7
configure vm7 "${KEEP_IP:-192.168.100.250}"
t_check_output "after the restart: vm7 reaches inet through NAT" '^edgegate-lab-ok$' reach_inet vm7
use_ip6 vm7 "${KEEP_IP6:-2001:db8:100::dead}"
t_check_output "after the restart: vm7 reaches inet over IPv6 from its restored binding ${KEEP_IP6:-?}" \
  '^edgegate-lab-ok$' reach_inet6 vm7
t_check_output "after the restart: vm8's lease still admits it" '^edgegate-lab-ok$' reach_inet vm8

t_check_clean_exit
t_finish
