#!/usr/bin/env bash
# wireguard_test.sh — edgegated's WireGuard tunnel ([[wireguard]] in config/examples/lab.toml)
# against the real wireguard-go + wg in the lab's inet namespace: a site-to-site tunnel
# between the gateway (203.0.113.1:51820) and inet (203.0.113.2:51820).
#
#   vm1 192.168.100.11 ── [edgegated wg0] ══ UDP 51820 ══ [wireguard-go wgi0 in inet]
#                                                             10.99.0.2/24, fd00:99::2/64
#   inet routes 192.168.100.0/24 and 2001:db8:1::100/122 (the VMs) into wgi0;
#   edgegated routes the peer's allowed IPs 10.99.0.0/24 and fd00:99::/64 into wg0.
#
# We initiate to it, it initiates to us; ping, curl and iperf3 both ways; path MTU and
# MSS clamping; the tunnel over IPv6 (wg0's address6 [2001:db8:1::1]:51820) and back; rekeying under traffic with a shortened REKEY_AFTER_TIME (the test-only
# rekey_after_time_s = 4); the peer moves to another port and traffic follows; a
# replayed data packet, a replayed initiation, bad mac1s and a flood of initiations
# (cookies under load) are dropped and counted (tests/integration/wg_tool.py makes them).
# Runtime peers (POST /v1/wireguard/peers) are added, used, deleted, expire, and survive
# a reload and a restart of edgegated (kept in the lease store of dhcp.state_dir).
. "$(dirname "$0")/lib.sh"

GW_PUB=203.0.113.1
INET4=203.0.113.2
SITE4=10.99.0.2
SITE6=fd00:99::2
VM1=192.168.100.11
HELLO=edgegate-lab-ok
KEYS="$EG_SOURCE_DIR/config/examples/lab-wg"
GW_KEY=$(cat "$KEYS/gateway.pub")
WGTOOL="$EG_SOURCE_DIR/tests/integration/wg_tool.py"
SECRET=lab-api-secret-0123456789
export GW_PUB INET4 SITE4 SITE6 VM1  # for the functions t_check runs in a child shell

mkdir -p "$EG_LAB_DIR"
rm -rf "$EG_LAB_DIR/leases"   # a fresh lease store: no runtime peers of an earlier run
CFG="$EG_LAB_DIR/wireguard.toml"
# Rekey every 4 s as initiator, and "under load" from 500 handshakes/s (the flood below).
# $EG_TEST_WORKERS workers (default 1; wireguard_2workers_test.sh: 2, so that messages and
# packets for the peer often arrive at the worker that does not own it and are handed over).
WORKERS=${EG_TEST_WORKERS:-1}
t_config_variant "$EG_SOURCE_DIR/config/examples/lab.toml" "$CFG.in" \
  wireguard.wg0.rekey_after_time_s=4 wireguard.wg0.under_load_handshakes_per_s=500 &&
  sed -E "s/^count = 1\$/count = $WORKERS/" "$CFG.in" > "$CFG" && grep -q "^count = $WORKERS\$" "$CFG" ||
  { t_fail "write the config variant"; t_finish; }
t_lab_up --vms 2 --config "$CFG"
GWLOG="$EG_LAB_DIR/edgegated.log"

api() { in_ns eg-gw curl -sS --fail-with-body --max-time 5 -H "x-api-secret: $SECRET" "http://127.0.0.1:1537$1"; }
# apiq PATH PYEXPR : evaluates PYEXPR on the JSON document `j` of GET PATH and prints it
apiq() { api "$1" | "$PY" -c "import json,sys; j=json.load(sys.stdin); print($2)"; }
peer() { apiq /v1/wireguard/peers "j['peers'][0]$1"; }
hs() { apiq /v1/wireguard "j['handshakes']['$1']"; }
export -f api apiq peer hs
export SECRET PY

# inet's wireguard-go on LISTEN_PORT (a fresh instance each time: no session), sending to
# our ENDPOINT (default: the IPv4 listen socket)
WGGO_PID=
inet_wg_up() {
  local port=$1 endpoint=${2:-$GW_PUB:51820}
  [ -n "$WGGO_PID" ] && t_kill "$WGGO_PID"
  rm -f /var/run/wireguard/wgi0.sock
  t_bg inet "$EG_LAB_DIR/wireguard-go.log" env LOG_LEVEL=error wireguard-go -f wgi0
  WGGO_PID=$T_LAST_PID
  t_wait_for "wireguard-go's wgi0" 10 test -S /var/run/wireguard/wgi0.sock || return 1
  in_ns inet wg set wgi0 listen-port "$port" private-key "$KEYS/inet.key" \
    peer "$GW_KEY" endpoint "$endpoint" allowed-ips 192.168.100.0/24,2001:db8:1::100/122 &&
    ip -n inet addr add $SITE4/24 dev wgi0 && ip -n inet -6 addr add $SITE6/64 dev wgi0 &&
    ip -n inet link set wgi0 up &&
    ip -n inet route add 192.168.100.0/24 dev wgi0 && ip -n inet -6 route add 2001:db8:1::100/122 dev wgi0
}

# (run in this shell, not through t_check: it records the PID it starts)
t_step() { local name=$1; shift; if "$@" >"$EG_LAB_DIR/step.log" 2>&1; then t_pass "$name"; else t_fail "$name" "$(cat "$EG_LAB_DIR/step.log")"; fi; }
t_step "wireguard-go in inet, listening on 51820" inet_wg_up 51820
t_check_output "GET /v1/wireguard: wg0 listens on $GW_PUB:51820 with the lab key" '^True$' \
  apiq /v1/wireguard "j['tunnels'][0]['listen'] == '$GW_PUB:51820' and j['tunnels'][0]['public_key'] == '$GW_KEY'"

# ---- we initiate: vm1's packets to the site start the handshake. The first one waits in
# the staging queue while the handshake runs and is sent after it: one echo, one reply.
t_check "vm1's one ping to the site $SITE4 is answered (we initiate; it waited for the handshake)" \
  in_ns vm1 ping -c 1 -W 8 $SITE4
t_check_soon "the status line counts the staged packet" 5 grep -q 'staged=[1-9]' "$GWLOG"
t_check_output "we sent the initiation, wireguard-go responded" '^True$' \
  apiq /v1/wireguard "j['handshakes']['initiations_sent'] >= 1 and j['handshakes']['responses_received'] >= 1"
t_check_output "peer status: endpoint $INET4:51820, a handshake, traffic both ways, healthy" '^True$' \
  apiq /v1/wireguard/peers "(lambda p: p['endpoint']=='$INET4:51820' and p['latest_handshake_unix_s'] is not None and p['transfer']['rx_bytes']>0 and p['transfer']['tx_bytes']>0 and p['healthy'])(j['peers'][0])"
t_check_output "wg show in inet: a handshake with the gateway" '[1-9][0-9]*$' \
  in_ns inet wg show wgi0 latest-handshakes
t_check_output "curl vm1 -> site (inet's HTTP server on $SITE4)" "^$HELLO\$" \
  in_ns vm1 curl -sS --max-time 10 "http://$SITE4/hello.txt"
t_check "vm1 pings the site over IPv6 ($SITE6)" in_ns vm1 ping -6 -c 3 -w 10 $SITE6
mkdir -p "$EG_LAB_DIR/www-vm1" && echo "vm1-over-wireguard" > "$EG_LAB_DIR/www-vm1/hello.txt"
t_http_server vm1 0.0.0.0 80 "$EG_LAB_DIR/www-vm1"
t_check_output "curl site -> vm1 through the tunnel" '^vm1-over-wireguard$' \
  in_ns inet curl -sS --max-time 10 "http://$VM1/hello.txt"
t_check "iperf3 TCP vm1 -> site (16 MiB)" iperf_bytes vm1 -c $SITE4 -n 16M
t_check "iperf3 TCP site -> vm1 (-R, 16 MiB)" iperf_bytes vm1 -c $SITE4 -n 16M -R
t_bg vm1 "$EG_LAB_DIR/iperf3-vm1.log" iperf3 -s -p 5202
t_wait_for "iperf3 server in vm1" 5 bash -c "ip netns exec vm1 ss -ltnH 'sport = :5202' | grep -q ."
t_check "iperf3 TCP from the site to vm1's server (8 MiB)" iperf_bytes inet -c $VM1 -p 5202 -n 8M
t_check "iperf3 UDP vm1 -> site (100 Mbit/s for 2 s)" iperf_bytes vm1 -c $SITE4 -u -b 100M -t 2

# ---- inner MTU 1420: without DF a bigger packet is fragmented before encryption (as a
# kernel stack does in front of a wg device); with DF it gets frag-needed, IPv6
# packet-too-big; SYNs are clamped. (vm1 must not have learnt the tunnel's MTU yet, or it
# would fragment by itself.)
ip -n vm1 route flush cache 2>/dev/null
t_check "1478-byte IPv4 echo without DF crosses the tunnel in fragments and is answered" \
  in_ns vm1 ping -M dont -s 1450 -c 2 -w 6 $SITE4
t_check_output "1428-byte IPv4 packet with DF: frag-needed, mtu 1420" 'mtu ?= ?1420' \
  bash -c "ip netns exec vm1 ping -M do -s 1400 -c 2 -w 4 $SITE4 2>&1; true"
t_check_output "1448-byte IPv6 packet: packet-too-big, mtu 1420" 'mtu ?= ?1420' \
  bash -c "ip netns exec vm1 ping -6 -s 1400 -c 2 -w 4 $SITE6 2>&1; true"
mss_seen() {  # SYNs from vm1 until tcpdump in inet has seen one (it may start slowly)
  ip netns exec inet timeout 15 tcpdump -l -c 1 -nn -v -i wgi0 "tcp[tcpflags] & tcp-syn != 0 and dst port 81" 2>/dev/null &
  local td=$! i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    kill -0 $td 2>/dev/null || break
    ip netns exec vm1 curl -s --max-time 1 "http://$SITE4:81/" >/dev/null 2>&1
  done
  wait $td
}
export -f mss_seen
t_check_output "vm1's SYN (MSS 1460) arrives at the site clamped to MSS 1380" 'mss 1380' mss_seen

# ---- rekeying under traffic (REKEY_AFTER_TIME shortened to 4 s): nothing is lost
BEFORE=$(peer "['handshakes']")
t_check_output "ping every 0.2 s for 12 s across rekeys: no loss" ' 0% packet loss' \
  in_ns vm1 ping -q -i 0.2 -c 60 -w 20 $SITE4
t_check_output "at least two new handshakes meanwhile (was ${BEFORE:-?})" '^True$' \
  peer "['handshakes'] >= ${BEFORE:-999999} + 2"

# ---- a replayed data packet is dropped and counted
t_bg inet "$EG_LAB_DIR/replay-data.log" "$PY" "$WGTOOL" replay --type 4 --dst $GW_PUB --times 3
sleep 1
t_check "site pings vm1 while the replayer listens" in_ns inet ping -c 3 -w 10 $VM1
t_check_soon "3 replayed data packets counted for the peer" 10 bash -c "peer \"['drops']['replayed'] >= 3\" | grep -q True"
t_check_output "... and in GET /v1/stats drops" '^True$' \
  apiq /v1/stats "any(d['stage']=='wireguard' and d['reason']=='replayed' and d['packets']>=3 for d in j['drops']['by_reason'])"

# ---- bad mac1: dropped before any Diffie-Hellman, counted
t_check "10 initiations with a bad mac1 sent" in_ns inet "$PY" "$WGTOOL" bad-mac1 --dst $GW_PUB --count 10
t_check_soon "10 bad mac1s counted" 5 bash -c "hs invalid_mac1 | grep -Eq '^([1-9][0-9]+)$' && [ \$(hs invalid_mac1) -ge 10 ]"

# ---- it initiates to us (a fresh wireguard-go has no session); its initiation replayed
RESP_BEFORE=$(hs responses_sent)
REJ_BEFORE=$(hs rejected)
t_step "fresh wireguard-go in inet" inet_wg_up 51820
t_bg inet "$EG_LAB_DIR/replay-init.log" "$PY" "$WGTOOL" replay --type 1 --dst $GW_PUB --times 3 --delay 1
sleep 1
t_check "the site pings vm1 (wireguard-go initiates)" in_ns inet ping -c 3 -w 15 $VM1
t_check_output "we responded to its initiation" '^True$' \
  apiq /v1/wireguard "j['handshakes']['responses_sent'] > ${RESP_BEFORE:-999999}"
t_check_soon "its replayed initiation is rejected (3 more rejected)" 10 \
  bash -c "[ \$(hs rejected) -ge $((${REJ_BEFORE:-999999} + 3)) ]"
t_check "the tunnel still works after the replays" in_ns inet ping -c 2 -w 10 $VM1

# ---- roaming: the peer moves to port 51821; our replies follow the authenticated packets
t_check "wireguard-go moves to port 51821" in_ns inet wg set wgi0 listen-port 51821
t_check "the site pings vm1 from its new port" in_ns inet ping -c 3 -w 10 $VM1
t_check_output "the peer's endpoint is now $INET4:51821" "^$INET4:51821\$" peer "['endpoint']"
t_check "vm1 -> site follows the new endpoint" in_ns vm1 ping -c 3 -w 10 $SITE4

# ---- IPv6 outside the tunnel: wg0 also listens on the uplink's IPv6 address (address6)
GW6=2001:db8:1::1
INET6=2001:db8:1::2
t_check_output "GET /v1/wireguard: wg0 also listens on [$GW6]:51820" '^True$' \
  apiq /v1/wireguard "j['tunnels'][0]['listen6'] == '[$GW6]:51820'"
t_check "wireguard-go sends to [$GW6]:51820 from now on" in_ns inet wg set wgi0 peer "$GW_KEY" endpoint "[$GW6]:51820"
t_check "the site pings vm1 with the tunnel over IPv6" in_ns inet ping -c 3 -w 10 $VM1
t_check_output "the peer's endpoint followed it to [$INET6]:51821" "^\\[$INET6\\]:51821\$" peer "['endpoint']"
t_check "vm1 -> site goes to the IPv6 endpoint (ping)" in_ns vm1 ping -c 3 -w 10 $SITE4
t_check_output "curl vm1 -> site over the IPv6 outer path" "^$HELLO\$" \
  in_ns vm1 curl -sS --max-time 10 "http://$SITE4/hello.txt"
t_check "iperf3 TCP vm1 -> site over the IPv6 outer path (8 MiB)" iperf_bytes vm1 -c $SITE4 -n 8M
t_check_output "wireguard-go saw the tunnel's packets come from [$GW6]:51820" "\\[$GW6\\]:51820" \
  in_ns inet wg show wgi0 endpoints
RESP_BEFORE=$(hs responses_sent)
t_step "fresh wireguard-go in inet that knows only [$GW6]:51820" inet_wg_up 51821 "[$GW6]:51820"
t_check "the site pings vm1 (wireguard-go initiates over IPv6)" in_ns inet ping -c 3 -w 15 $VM1
t_check_output "we answered its initiation, over IPv6" '^True$' \
  apiq /v1/wireguard "j['handshakes']['responses_sent'] > ${RESP_BEFORE:-999999}"
t_check_output "the peer's endpoint is [$INET6]:51821" "^\\[$INET6\\]:51821\$" peer "['endpoint']"
t_check "and back to IPv4: wireguard-go sends to $GW_PUB:51820" in_ns inet wg set wgi0 peer "$GW_KEY" endpoint "$GW_PUB:51820"
t_check "the site pings vm1 over IPv4 again" in_ns inet ping -c 3 -w 10 $VM1
t_check_output "the peer's endpoint is $INET4:51821 again" "^$INET4:51821\$" peer "['endpoint']"
t_check "vm1 -> site follows it back" in_ns vm1 ping -c 3 -w 10 $SITE4

# ---- metrics: per-peer series, promtool-clean
metrics() { in_ns eg-gw curl -sS --max-time 5 http://127.0.0.1:9091/metrics; }
export -f metrics
t_check "GET /metrics passes promtool check metrics" bash -c "metrics | promtool check metrics"
t_check_output "the site peer is healthy in the metrics" '^edgegate_wireguard_peer_healthy\{.*peer="inet-site".*\} 1' metrics
t_check_output "handshakes completed are counted" '^edgegate_wireguard_handshakes_completed_total [1-9]' metrics

# ---- runtime peers: a remote-access client whose keypair the gateway makes
status_of() { in_ns eg-gw curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "x-api-secret: $SECRET" "$@"; }
export -f status_of
post_peer() { status_of -X POST -H 'content-type: application/json' -d "$1" http://127.0.0.1:1537/v1/wireguard/peers; }
export -f post_peer
t_check_output "POST a peer with a bad prefix: 400" '^400$' post_peer '{"allowed_ips": ["10.99.1.2/33"]}'
t_check_output "POST a peer claiming the VM network: 409" '^409$' post_peer '{"allowed_ips": ["192.168.100.0/25"]}'
t_check_output "POST a peer with the site's key again: 409" '^409$' \
  post_peer "{\"allowed_ips\": [\"10.99.9.0/24\"], \"public_key\": \"$(cat "$KEYS/inet.pub")\"}"
t_check_output "POST with an unknown field: 400" '^400$' post_peer '{"allowed_ips": ["10.99.1.2/32"], "colour": "red"}'
# add_client NAME ADDRESS IFACE [EXTRA_JSON] : POST a peer without a key for a client NAME
# at ADDRESS/32 that routes vm2 to us (EXTRA_JSON: more fields, e.g. '"preshared_key":
# "generate"'); the answer in $EG_LAB_DIR/NAME.json, its wg-quick in IFACE.conf
add_client() {
  local name=$1 address=$2 iface=$3 extra=${4:+, $4}
  in_ns eg-gw curl -sS --fail-with-body --max-time 5 -H "x-api-secret: $SECRET" -H 'content-type: application/json' \
    -d "{\"allowed_ips\": [\"$address/32\"], \"name\": \"$name\", \"routes\": [\"192.168.100.12/32\"]$extra}" \
    http://127.0.0.1:1537/v1/wireguard/peers > "$EG_LAB_DIR/$name.json" &&
    "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); open(sys.argv[2],"w").write(j["wg_quick"]); print(j["public_key"])' \
      "$EG_LAB_DIR/$name.json" "$EG_LAB_DIR/$iface.conf"
}
key_of_client() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["public_key"])' "$EG_LAB_DIR/$1.json" 2>/dev/null; }
t_step "POST /v1/wireguard/peers without a key: the gateway makes the keypair and a wg-quick config" \
  add_client laptop 10.99.1.2 wgc0
LAPTOP_KEY=$(key_of_client laptop)
t_check "the wg-quick config names the gateway as its peer" grep -qxF "PublicKey = $GW_KEY" "$EG_LAB_DIR/wgc0.conf"
T_LAST_CLIENT_PID=
# client_up IFACE ADDRESS : another wireguard-go in inet, configured from IFACE.conf (wg-quick strip)
client_up() {
  local iface=$1 address=$2
  chmod 600 "$EG_LAB_DIR/$iface.conf"
  rm -f "/var/run/wireguard/$iface.sock"
  t_bg inet "$EG_LAB_DIR/wireguard-go-$iface.log" env LOG_LEVEL=error wireguard-go -f "$iface"
  T_LAST_CLIENT_PID=$T_LAST_PID
  t_wait_for "wireguard-go's $iface" 10 test -S "/var/run/wireguard/$iface.sock" || return 1
  in_ns inet wg setconf "$iface" <(wg-quick strip "$EG_LAB_DIR/$iface.conf") &&
    ip -n inet addr add "$address/32" dev "$iface" && ip -n inet link set "$iface" up &&
    ip -n inet route add 192.168.100.12/32 dev "$iface"
}
t_step "the remote-access client comes up from that config" client_up wgc0 10.99.1.2
WGC_PID=$T_LAST_CLIENT_PID
t_check "the client reaches vm2 through the tunnel (it initiates)" in_ns inet ping -I 10.99.1.2 -c 3 -w 15 192.168.100.12
t_check_output "GET /v1/wireguard/peers: laptop has a handshake and traffic" '^True$' \
  apiq /v1/wireguard/peers "any(p['name']=='laptop' and p['handshakes']>=1 and p['transfer']['rx_packets']>0 and p['allowed_ips']==['10.99.1.2/32'] for p in j['peers'])"
t_check "the site still reaches vm1 (its own peer)" in_ns inet ping -c 2 -w 10 $VM1
LAPTOP_PATH=$("$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$LAPTOP_KEY")
t_check_output "DELETE /v1/wireguard/peers/{key}: 200" '^200$' \
  status_of -X DELETE "http://127.0.0.1:1537/v1/wireguard/peers/$LAPTOP_PATH"
t_check_output "DELETE it again: 404" '^404$' status_of -X DELETE "http://127.0.0.1:1537/v1/wireguard/peers/$LAPTOP_PATH"
t_check_output "the removed peer is gone from the list" '^False$' \
  apiq /v1/wireguard/peers "any(p['name']=='laptop' for p in j['peers'])"
t_check_fails "the removed client no longer reaches vm2" in_ns inet ping -I 10.99.1.2 -c 2 -w 4 192.168.100.12
[ -n "$WGC_PID" ] && t_kill "$WGC_PID"
# a client whose generated config names the tunnel's IPv6 listen socket
t_step "POST a peer with endpoint_family ipv6: its wg-quick Endpoint is [$GW6]:51820" \
  add_client v6client 10.99.1.4 wgc2 '"endpoint_family": "ipv6"'
t_check "the wg-quick config says so" grep -qxF "Endpoint = [$GW6]:51820" "$EG_LAB_DIR/wgc2.conf"
t_step "that client comes up from its config" client_up wgc2 10.99.1.4
WGC2_PID=$T_LAST_CLIENT_PID
t_check "it reaches vm2 through the tunnel over IPv6" in_ns inet ping -I 10.99.1.4 -c 3 -w 15 192.168.100.12
t_check_output "its endpoint is an IPv6 one" '^True$' \
  apiq /v1/wireguard/peers "any(p['name']=='v6client' and p['endpoint'].startswith('[$INET6]:') for p in j['peers'])"
V6C_PATH=$("$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$(key_of_client v6client)")
t_check_output "DELETE it: 200" '^200$' status_of -X DELETE "http://127.0.0.1:1537/v1/wireguard/peers/$V6C_PATH"
[ -n "$WGC2_PID" ] && t_kill "$WGC2_PID"
ip -n inet route del 192.168.100.12/32 2>/dev/null
# an ephemeral peer that never shakes hands is removed with all its state
t_check_output "POST an ephemeral peer (idle_timeout_s 3): 201" '^201$' \
  post_peer '{"allowed_ips": ["10.99.2.0/24"], "name": "ephemeral", "idle_timeout_s": 3}'
t_check_output "it is listed" '^True$' apiq /v1/wireguard/peers "any(p['name']=='ephemeral' and p['idle_timeout_s']==3 for p in j['peers'])"
t_check_soon "and removed after 3 s without a handshake" 10 \
  bash -c "apiq /v1/wireguard/peers \"any(p['name']=='ephemeral' for p in j['peers'])\" | grep -q False"
t_check_output "edgegated logged the clean-up" 'ephemeral peer ephemeral removed' cat "$GWLOG"

# edgegatectl wraps the same calls
ctl() { in_ns eg-gw env EDGEGATE_API_SECRET="$SECRET" "$EG_SOURCE_DIR/tools/edgegatectl" "$@"; }
export -f ctl
export EG_SOURCE_DIR
t_check_output "edgegatectl wg peers: a table with the site peer" 'inet-site .*203\.0\.113\.2:51821 .*10\.99\.0\.0/24' ctl wg peers
t_check_output "edgegatectl wg tunnels" '^wg0 +203\.0\.113\.1:51820 +\[2001:db8:1::1\]:51820 ' ctl wg tunnels
t_check_output "edgegatectl wg add: a generated wg-quick config" '^PrivateKey = ' ctl wg add --allowed-ips 10.99.3.0/24 --name ctl-peer
CTL_KEY=$(apiq /v1/wireguard/peers "[p['public_key'] for p in j['peers'] if p['name']=='ctl-peer'][0]" 2>/dev/null)
t_check_output "edgegatectl wg remove" '^removed peer ' ctl wg remove "$CTL_KEY"
t_check_output "edgegatectl wg add with a taken allowed IP: the API's 409" 'HTTP 409' \
  bash -c 'ctl wg add --allowed-ips 10.99.0.0/24 --public-key OTs9c7zLiNK2qvqHqDUvT+84rBxHTROLr4B880/oph8= 2>&1; true'

# ---- a flood of initiations (valid mac1, random content): cookies under load
t_check "3000 initiations with a valid mac1" in_ns inet "$PY" "$WGTOOL" flood --dst $GW_PUB --pubkey "$GW_KEY" --count 3000
t_check_soon "cookie replies sent under load, and the source rate-limited" 5 \
  bash -c "apiq /v1/wireguard \"j['handshakes']['cookie_replies_sent'] > 0 and j['handshakes']['rate_limited'] > 0\" | grep -q True"
t_check "the tunnel still carries traffic after the flood" in_ns vm1 ping -c 3 -w 10 $SITE4

# ---- runtime peers survive a reload and a restart (a kv record in the lease store)
# (last: a restart loses the site peer's session and roamed endpoint, which the checks
# above rely on)
t_step "POST a runtime peer roamer (10.99.1.3/32), the gateway makes its keypair and a pre-shared key" \
  add_client roamer 10.99.1.3 wgc1 '"preshared_key": "generate"'
ROAMER_KEY=$(key_of_client roamer)
ROAMER_PSK=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("preshared_key", ""))' "$EG_LAB_DIR/roamer.json")
t_check "roamer's wg-quick config carries the pre-shared key of the answer" \
  grep -qxF "PresharedKey = ${ROAMER_PSK:-missing}" "$EG_LAB_DIR/wgc1.conf"
t_step "roamer's client comes up from its wg-quick config" client_up wgc1 10.99.1.3
psk_held() { local out; out=$(in_ns inet wg show "$1" preshared-keys) && grep -qF -- "	$2" <<<"$out"; }
t_check "wireguard-go holds roamer's pre-shared key" psk_held wgc1 "${ROAMER_PSK:-missing}"
t_check "roamer reaches vm2 through the tunnel" in_ns inet ping -I 10.99.1.3 -c 3 -w 15 192.168.100.12
t_check "the lease store holds roamer's public key" grep -rqaF "$ROAMER_KEY" "$EG_LAB_DIR/leases"
t_check "and its pre-shared key (a restart must not lose it)" grep -rqaF "${ROAMER_PSK:-missing}" "$EG_LAB_DIR/leases"
ROAMER_PRIVATE=$(sed -n 's/^PrivateKey = //p' "$EG_LAB_DIR/wgc1.conf")
t_check "... and not the private key the gateway made for it" \
  bash -c "[ -n '$ROAMER_PRIVATE' ] && ! grep -rqaF '$ROAMER_PRIVATE' '$EG_LAB_DIR/leases'"
roamer_listed() {
  apiq /v1/wireguard/peers "any(p['public_key']=='$ROAMER_KEY' and p['name']=='roamer' and p['allowed_ips']==['10.99.1.3/32'] and p['preshared_key'] for p in j['peers'])"
}
export -f roamer_listed
export ROAMER_KEY
t_check_output "POST /v1/reload (the file unchanged): 200" '^200$' status_of -X POST http://127.0.0.1:1537/v1/reload
t_check_output "after the reload roamer is still listed" '^True$' roamer_listed
# A reload whose new [[routes]] prefix is roamer's allowed IP would drop roamer at the next
# restart: refused, nothing changes.
cp "$EG_LAB_DIR/edgegate.toml" "$EG_LAB_DIR/edgegate.toml.before-route"
printf '\n[[routes]]\nprefix = "10.99.1.3/32"\nport = "vm"\n' >> "$EG_LAB_DIR/edgegate.toml"
t_check_output "a reload that routes roamer's allowed IP elsewhere: 409 conflict naming roamer" \
  '"code":"conflict".*roamer.*10\.99\.1\.3/32' \
  in_ns eg-gw curl -sS --max-time 5 -X POST -H "x-api-secret: $SECRET" http://127.0.0.1:1537/v1/reload
cp "$EG_LAB_DIR/edgegate.toml.before-route" "$EG_LAB_DIR/edgegate.toml"
t_check "after the reload roamer still reaches vm2" in_ns inet ping -I 10.99.1.3 -c 2 -w 10 192.168.100.12
t_check "tools/lab restart" "$LAB" restart
t_check_soon "after the restart the API answers" 20 api /v1/wireguard
t_check_output "after the restart roamer is listed: same key, name and allowed IPs" '^True$' roamer_listed
t_check_output "edgegated logged the restore" 'restored 1 runtime WireGuard peer' cat "$GWLOG"
t_check_soon "roamer's client, untouched since, reaches vm2 again (it shakes hands anew)" 45 \
  in_ns inet ping -I 10.99.1.3 -c 1 -W 2 192.168.100.12
t_check_output "roamer has a handshake with the restarted gateway" '^True$' \
  apiq /v1/wireguard/peers "any(p['public_key']=='$ROAMER_KEY' and p['handshakes']>=1 for p in j['peers'])"
ROAMER_PATH=$("$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$ROAMER_KEY")
t_check_output "DELETE roamer: 200" '^200$' status_of -X DELETE "http://127.0.0.1:1537/v1/wireguard/peers/$ROAMER_PATH"
t_check "tools/lab restart (2)" "$LAB" restart
t_check_soon "after the second restart the API answers" 20 api /v1/wireguard
t_check_output "the deleted roamer stays deleted" '^False$' \
  apiq /v1/wireguard/peers "any(p['public_key']=='$ROAMER_KEY' for p in j['peers'])"
t_check_fails "roamer's client no longer reaches vm2" in_ns inet ping -I 10.99.1.3 -c 2 -w 4 192.168.100.12
t_check_clean_exit
t_finish
