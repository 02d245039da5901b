#!/usr/bin/env bash
# dhcp_test.sh — edgegated's DHCPv4 server ([dhcp] in config/examples/lab.toml) with real
# clients in the lab's VMs: each VM's static IPv4 is flushed first, so the address it
# ends up with comes from edgegated.
#
#  vm1 busybox udhcpc   [[vms]] reservation 192.168.100.11; renew (SIGUSR1) in RENEWING state
#  vm2 dhcpcd           [[vms]] reservation 192.168.100.12 (ARP-probes the offer: 5-10 s)
#  vm3 ISC dhclient     [[vms]] reservation 192.168.100.13; INIT-REBOOT from its lease file; release
#  vm7 busybox udhcpc   not in [[vms]]: a pool address (192.168.100.100-199), admitted by
#                       NAT's anti-spoofing at once: it reaches inet; the metrics (curl
#                       in eg-gw) count its ACK, allocation and fsync; promtool checks them
#
# Then edgegated is restarted (tools/lab gw kernel; tools/lab gw edgegated): the lease
# store in $EG_LAB_DIR/leases is replayed and vm7 gets the same pool address again.
# Client state (pid and lease files, dhcpcd's database) stays in $EG_LAB_DIR; client
# scripts are /bin/true, so nothing outside the lab's namespaces is touched (the test
# configures the leased address itself where a client's script would).
. "$(dirname "$0")/lib.sh"

mkdir -p "$EG_LAB_DIR"
CFG="$EG_LAB_DIR/dhcp.toml"
cp "$EG_SOURCE_DIR/config/examples/lab.toml" "$CFG"
grep -q '^\[dhcp\]' "$CFG" || { t_fail "lab.toml has a [dhcp] table"; t_finish; }
LEASES="$EG_LAB_DIR/leases"   # dhcp.state_dir = "leases", relative to the lab state dir
rm -rf "$LEASES" "$EG_LAB_DIR"/dhclient-* "$EG_LAB_DIR"/dhcpcd-db "$EG_LAB_DIR"/udhcpc-*.log
mkdir -p "$EG_LAB_DIR/dhcpcd-db"
GWLOG="$EG_LAB_DIR/edgegated.log"

t_lab_up --vms 7 --config "$CFG"

flush4() { ip -4 -n "$1" addr flush dev eth0; }
# configure NS ADDR : what a client script does with a lease (address + default route)
configure() {
  ip -n "$1" addr replace "$2/24" dev eth0
  ip -n "$1" route replace default via 192.168.100.1
}
has_addr() { ip -4 -n "$1" -br addr show dev eth0 | grep -qw "$2/24"; }
export -f has_addr

# busybox udhcpc, one shot: DISCOVER, OFFER, REQUEST, ACK and exit
udhcpc_once() { ip netns exec "$1" timeout 25 busybox udhcpc -i eth0 -f -n -q -t 5 -T 1 -s /bin/true; }
# dhcpcd in a private mount namespace: its database and run dir are the lab's
dhcpcd_once() {
  ip netns exec "$1" timeout 40 unshare -m --propagation private sh -c '
    mount -t tmpfs tmpfs /run && mount --bind "$0" /var/lib/dhcpcd &&
    exec dhcpcd --noipv4ll --ipv4only --oneshot --nobackground --timeout 20 --waitip=4 \
      --config /dev/null --script /bin/true eth0' "$EG_LAB_DIR/dhcpcd-db"
}
# ISC dhclient with the lab's pid and lease files
dhclient_vm3() {
  ip netns exec vm3 timeout 25 dhclient -4 -v -sf /bin/true -pf "$EG_LAB_DIR/dhclient-vm3.pid" \
    -lf "$EG_LAB_DIR/dhclient-vm3.leases" "$@" eth0
}
export -f udhcpc_once dhcpcd_once dhclient_vm3
# a dhclient daemon would outlive the lab's namespaces: stop it (by its pid file) at exit
stop_dhclient() { [ -s "$EG_LAB_DIR/dhclient-vm3.pid" ] && ip netns exec vm3 dhclient -x -pf "$EG_LAB_DIR/dhclient-vm3.pid" >/dev/null 2>&1; return 0; }
trap '_rc=$?; stop_dhclient; (exit $_rc); t_cleanup' EXIT

# ---- vm1: busybox udhcpc gets its reservation
flush4 vm1
t_check_output "vm1 udhcpc: lease of its reservation 192.168.100.11" 'lease of 192\.168\.100\.11 obtained' udhcpc_once vm1
configure vm1 192.168.100.11
t_check_output "vm1 on its leased address reaches inet through NAT" '^edgegate-lab-ok$' \
  in_ns vm1 curl -sS --max-time 10 http://203.0.113.2/hello.txt

# renewal: udhcpc stays running; SIGUSR1 makes it renew (unicast REQUEST with ciaddr)
UD1="$EG_LAB_DIR/udhcpc-vm1.log"
t_bg vm1 "$UD1" busybox udhcpc -i eth0 -f -t 5 -T 1 -s /bin/true
UD1_PID=$T_LAST_PID
t_check_soon "vm1 udhcpc (background) bound" 10 grep -q 'lease of 192.168.100.11 obtained' "$UD1"
kill -USR1 "$UD1_PID" 2>/dev/null
# unicast from 192.168.100.11 through vm1's kernel (UDP checksum left to offload): answered
# directly, without udhcpc falling back to "broadcasting renew"
t_check_soon "vm1 udhcpc renews (SIGUSR1, unicast) and gets 192.168.100.11 again" 10 \
  bash -c "grep -A1 'sending renew' '$UD1' | grep -q 'lease of 192.168.100.11 obtained'"
t_kill "$UD1_PID"
((T_FAILED > 0)) && { echo "---- udhcpc vm1 output:"; cat "$UD1"; }

# ---- vm2: dhcpcd (ARP-probes the offered address first)
flush4 vm2
t_check_output "vm2 dhcpcd: leased its reservation 192.168.100.12" 'leased 192\.168\.100\.12 for' dhcpcd_once vm2

# ---- vm3: ISC dhclient; INIT-REBOOT from its lease file; release
flush4 vm3
t_check_output "vm3 dhclient: bound to its reservation 192.168.100.13" 'bound to 192\.168\.100\.13' dhclient_vm3 -1
configure vm3 192.168.100.13
ip netns exec vm3 dhclient -x -pf "$EG_LAB_DIR/dhclient-vm3.pid" >/dev/null 2>&1   # stop it, no release
t_check_output "vm3 dhclient again: its lease is ACKed" 'DHCPACK of 192\.168\.100\.13' dhclient_vm3 -1
DH_OUT=$T_OUT
t_check_output "vm3 dhclient again: it asked for its lease without a DISCOVER (INIT-REBOOT)" \
  'DHCPREQUEST for 192\.168\.100\.13' printf '%s\n' "$DH_OUT"
t_check_fails "vm3 dhclient again: no DHCPDISCOVER" grep -q DHCPDISCOVER <<<"$DH_OUT"
t_check_output "vm3 dhclient -r: DHCPRELEASE sent" 'DHCPRELEASE of 192\.168\.100\.13' dhclient_vm3 -r
t_check_soon "edgegated recorded vm3's release" 10 grep -q '192.168.100.13 released' "$GWLOG"
configure vm3 192.168.100.13

# ---- metrics ([metrics] of lab.toml, in eg-gw): the value of one series, 0 when absent
metric() {
  ip netns exec eg-gw curl -sS --fail --max-time 5 http://127.0.0.1:9091/metrics |
    awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'
}
# metric_above SERIES MIN : the series' value is above MIN
metric_above() { awk -v v="$(metric "$1")" -v min="$2" 'BEGIN { exit !(v > min) }'; }
export -f metric metric_above
ACKS_BEFORE=$(metric 'edgegate_dhcp_messages_total{direction="tx",type="ack"}')
ALLOCS_BEFORE=$(metric 'edgegate_dhcp_allocations_total')
FSYNCS_BEFORE=$(metric 'edgegate_lease_store_fsync_seconds_count')

# ---- vm7: not in [[vms]]: an address from the pool
flush4 vm7
t_check_output "vm7 udhcpc: a pool address" 'lease of 192\.168\.100\.1[0-9][0-9] obtained' udhcpc_once vm7
VM7_ADDR=$(grep -oE 'lease of 192\.168\.100\.[0-9]+ obtained' <<<"$T_OUT" | awk '{print $3}')
t_log "vm7 leased ${VM7_ADDR:-nothing}"
t_check_output "edgegated admitted vm7's lease to the data plane" "${VM7_ADDR:-none} \\(02:00:00:00:01:07, .*\\) admitted" cat "$GWLOG"
configure vm7 "${VM7_ADDR:-192.168.100.250}"
t_check_output "vm7 (not in [[vms]]) on its leased address reaches inet through NAT" '^edgegate-lab-ok$' \
  in_ns vm7 curl -sS --max-time 10 http://203.0.113.2/hello.txt

# ---- metrics moved with vm7's lease, and promtool accepts the exposition
t_check "metrics: the DHCPACK counter rose with vm7's lease (was $ACKS_BEFORE)" \
  metric_above 'edgegate_dhcp_messages_total{direction="tx",type="ack"}' "$ACKS_BEFORE"
t_check "metrics: a new allocation counted (was $ALLOCS_BEFORE)" metric_above 'edgegate_dhcp_allocations_total' "$ALLOCS_BEFORE"
t_check "metrics: DISCOVERs received counted" metric_above 'edgegate_dhcp_messages_total{direction="rx",type="discover"}' 0
t_check "metrics: the lease's fdatasync is in the histogram (was $FSYNCS_BEFORE)" \
  metric_above 'edgegate_lease_store_fsync_seconds_count' "$FSYNCS_BEFORE"
t_check "metrics: the journal has bytes" metric_above 'edgegate_lease_store_journal_bytes' 32
t_check_soon "metrics: active leases counted" 5 metric_above 'edgegate_dhcp_leases_active' 0
t_check_eq "metrics: pool size of 192.168.100.0/24 (192.168.100.100-199)" 100 \
  "$(metric 'edgegate_dhcp_pool_size{network="192.168.100.0/24",port="vm"}')"
t_check "metrics: fewer than 100 pool addresses available" bash -c \
  "! metric_above 'edgegate_dhcp_pool_available{network=\"192.168.100.0/24\",port=\"vm\"}' 99"
if command -v promtool >/dev/null 2>&1; then
  t_check "promtool check metrics accepts the DHCP and lease-store series" bash -c \
    "ip netns exec eg-gw curl -sS --fail --max-time 5 http://127.0.0.1:9091/metrics | promtool check metrics"
else
  t_log "SKIP promtool check: promtool is not installed (Debian package prometheus; tools/setup installs it)"
fi

# ---- the lease store: fsynced journal in state_dir
t_check "lease journal exists in $LEASES" bash -c "ls '$LEASES'/journal-* && test -s \"\$(ls '$LEASES'/journal-* | tail -n 1)\""

# ---- restart edgegated: leases are replayed, vm7 gets the same address again
t_check "restart: tools/lab gw kernel" "$LAB" gw kernel
t_check "restart: tools/lab gw edgegated" "$LAB" gw edgegated
t_check_output "edgegated replayed the lease store on restart" 'bindings\) replayed' \
  bash -c "awk '/^---- /{n++} n>=2' '$GWLOG'"
flush4 vm7
t_check_output "vm7 after the restart: the same pool address ${VM7_ADDR:-?}" \
  "lease of ${VM7_ADDR:-none}[[:space:]]+obtained" udhcpc_once vm7
flush4 vm1
t_check_output "vm1 after the restart: 192.168.100.11" 'lease of 192\.168\.100\.11 obtained' udhcpc_once vm1
configure vm1 192.168.100.11

stop_dhclient
t_check_clean_exit
t_finish
