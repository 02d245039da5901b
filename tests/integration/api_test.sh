#!/usr/bin/env bash
# api_test.sh — the admin API and the Prometheus endpoint of a running lab gateway,
# driven with curl from eg-gw's own kernel stack (both listen on eg-gw's loopback),
# and the exposition checked by promtool.
#
#  vm1 eth0 192.168.100.11/24
#        │
#  eg-sw (br0)
#        │ eg-vm                      eg-up
#  ┌─────┴──────────────────────────────┴─────┐
#  │ eg-gw:  edgegated                         │
#  │   admin API   127.0.0.1:1537  (x-api-secret)
#  │   metrics     127.0.0.1:9091  /metrics    │
#  │   ◄── curl / promtool in eg-gw            │
#  └─────┬──────────────────────────────┬─────┘
#        └── vm1 pings inet ────────────┘ inet eth0 203.0.113.2/24
. "$(dirname "$0")/lib.sh"

SECRET=lab-api-secret-0123456789
API=http://127.0.0.1:1537
METRICS=http://127.0.0.1:9091/metrics
CFG="$EG_LAB_DIR/api-lab.toml"
mkdir -p "$EG_LAB_DIR"
# config/examples/lab.toml itself: it has [api] (this secret, 4096-byte bodies, 2 s
# request timeout) and [metrics]
cp "$EG_SOURCE_DIR/config/examples/lab.toml" "$CFG"
grep -q "^secret = \"$SECRET\"" "$CFG" || { t_fail "lab.toml's [api] secret is $SECRET"; t_finish; }

t_lab_up --vms 1 --config "$CFG"

# some traffic first, so counters are not all zero
t_check "ping vm1 -> inet (traffic for the counters)" in_ns vm1 ping -n -c 3 -i 0.2 -W 2 203.0.113.2

# status CODE URL CURL_ARGS... : prints the HTTP status curl saw
status() { in_ns eg-gw curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
export -f status
api() { in_ns eg-gw curl -sS --fail-with-body --max-time 5 -H "x-api-secret: $SECRET" "$@"; }
export -f api
export SECRET API METRICS

t_check_output "no secret: 401" '^401$' status "$API/v1/info"
t_check_output "wrong secret: 401" '^401$' status -H "x-api-secret: not-the-secret-000000" "$API/v1/info"
t_check_output "401 is a JSON error" '"code":"unauthorized"' in_ns eg-gw curl -sS --max-time 5 "$API/v1/info"
t_check_output "unknown path: 404" '^404$' status -H "x-api-secret: $SECRET" "$API/v1/nothing"
t_check_output "POST on a GET resource: 405" '^405$' status -X POST -H "x-api-secret: $SECRET" "$API/v1/info"
t_check_output "oversized body: 413" '^413$' status -H "x-api-secret: $SECRET" \
  --data-binary "@$EG_SOURCE_DIR/config/examples/lab.toml" "$API/v1/info"

check_info() {
  api "$API/v1/info" | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
assert j["name"] == "lab-edge", j
assert j["workers"] == 1, j
assert [p["name"] for p in j["ports"]] == ["vm", "uplink"], j
assert j["ports"][1]["role"] == "uplink" and "203.0.113.1/24" in j["ports"][1]["ipv4"], j
assert j["nat"]["public_addresses"] == ["203.0.113.1"], j
assert j["uptime_s"] >= 0 and j["version"], j
print("ok")'
}
check_stats() {
  api "$API/v1/stats" | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
assert j["rx_packets"] > 0 and j["tx_packets"] > 0, j
assert j["forwarded"]["ipv4"] >= 3, j
assert j["nat"]["sessions_created"] >= 1, j
assert "by_reason" in j["drops"] and j["neighbours"] >= 1, j
print("ok")'
}
check_forwards() {
  api "$API/v1/forwards" | "$PY" -c '
import json, sys
f = json.load(sys.stdin)["forwards"]
assert f == [{"id": "tcp/203.0.113.1/8080", "source": "config", "protocol": "tcp",
              "public_address": "203.0.113.1", "ports": [8080, 8080],
              "to": "192.168.100.11", "to_ports": [80, 80]}], f
print("ok")'
}
check_egress() {
  api "$API/v1/egress" | "$PY" -c '
import json, sys
v = {x["name"]: x for x in json.load(sys.stdin)["vms"]}
assert v["vm1"]["egress"] == "masquerade" and v["vm2"]["public_address"] == "203.0.113.20", v
assert v["vm3"]["port_block"]["ports"] == [60512, 61023] and v["vm4"]["proxy"]["port"] == 10001, v
print("ok")'
}
check_keepalive() {  # two requests, one connection
  in_ns eg-gw curl -sS -v --max-time 5 -H "x-api-secret: $SECRET" "$API/v1/info" "$API/v1/egress" -o /dev/null -o /dev/null 2>&1 |
    grep -Eq 'Re-using existing connection|Reusing existing connection'
}
export -f check_info check_stats check_forwards check_egress check_keepalive
t_check_output "GET /v1/info: 200 JSON" '^ok$' check_info
t_check_output "GET /v1/stats: counters moved" '^ok$' check_stats
t_check_output "GET /v1/forwards: the configured forward" '^ok$' check_forwards
t_check_output "GET /v1/egress: the VMs' policies" '^ok$' check_egress
t_check "keep-alive: curl reuses the connection" check_keepalive
t_check_output "tools/edgegatectl stats" '"sessions_created": [1-9]' \
  in_ns eg-gw env EDGEGATE_API_SECRET="$SECRET" "$EG_SOURCE_DIR/tools/edgegatectl" stats

scrape() { in_ns eg-gw curl -sS --fail --max-time 5 "$METRICS"; }
export -f scrape
t_check_output "metrics: forwarded IPv4 packets counted" '^edgegate_forwarded_packets_total\{family="ipv4"\} [1-9]' scrape
t_check_output "metrics: edgegate_info" '^edgegate_info\{name="lab-edge",version="[^"]+"\} 1' scrape
t_check_output "metrics: per-port counters" '^edgegate_port_packets_total\{port="uplink",direction="tx"\} [1-9]' scrape
t_check_output "metrics: drop reasons" '^edgegate_drops_total\{stage="nat",reason="no_free_port"\} [0-9]' scrape
if command -v promtool >/dev/null 2>&1; then
  promtool_check() { scrape > "$EG_LAB_DIR/metrics.txt" && promtool check metrics < "$EG_LAB_DIR/metrics.txt"; }
  export -f promtool_check
  t_check "promtool check metrics accepts the exposition" promtool_check
else
  t_log "SKIP promtool check: promtool is not installed (Debian package prometheus; tools/setup installs it)"
fi

t_check "forwarding still works beside the API" in_ns vm1 ping -n -c 2 -i 0.2 -W 2 203.0.113.2
t_check_clean_exit
t_finish
