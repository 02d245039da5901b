#!/usr/bin/env bash
# forwarding_test.sh — IPv4/IPv6 forwarding through edgegated (backend: $EG_TEST_BACKEND,
# default uring; forwarding_dpdk_test.sh runs this with dpdk).
#
#  vm1 eth0 192.168.100.11/24  2001:db8:1::101/128 ─┐
#  vm2 eth0 192.168.100.12/24  2001:db8:1::102/128 ─┤ eg-sw (br0)
#                                                   │
#                          eg-vm ┌──────────────────┴─┐ eg-up
#                 192.168.100.1  │  eg-gw: edgegated  │ 203.0.113.1
#               2001:db8:100::1  │  (RA on eg-vm,     │ 2001:db8:1::1
#                                │   ND proxy on eg-up)│
#                                └──────────────────┬─┘
#                                                   │
#                     inet eth0 203.0.113.2/24, 2001:db8:1::2/64
#                     HTTP :80 (hello.txt, big.bin), iperf3 -s :5201
#
# Checks: ping/ping -6 and curl/curl -6 vm1 -> inet, TCP bulk both ways, traceroute
# (-6) shows the gateway first, ARP and ND answered, echo on the gateway's own
# addresses from both sides, inet -> vm1's IPv6 (ND proxy) with ping and curl, vm2 works
# too, edgegated prints status lines and exits cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"

BACKEND=${EG_TEST_BACKEND:-uring}
INET4=203.0.113.2
INET6=2001:db8:1::2
HELLO=edgegate-lab-ok

t_lab_up --vms 2 --backend "$BACKEND"

# a bigger file, so that TCP carries full-sized (and offloaded) segments
head -c 1048576 /dev/urandom > "$EG_LAB_DIR/www/big.bin"
BIG_SHA=$(sha256sum < "$EG_LAB_DIR/www/big.bin" | cut -d' ' -f1)

# ---- vm1 -> inet
t_check "ping vm1 -> inet $INET4" in_ns vm1 ping -n -c 3 -i 0.2 -W 2 $INET4
t_check "ping -6 vm1 -> inet $INET6" in_ns vm1 ping -6 -n -c 3 -i 0.2 -W 2 $INET6
t_check_output "curl vm1 -> http://$INET4/hello.txt" "^$HELLO\$" \
  in_ns vm1 curl -sS --max-time 10 "http://$INET4/hello.txt"
t_check_output "curl -6 vm1 -> http://[$INET6]/hello.txt" "^$HELLO\$" \
  in_ns vm1 curl -6 -sS --max-time 10 "http://[$INET6]/hello.txt"
t_check_output "curl vm1 <- 1 MiB from inet over IPv4 (sha256 matches)" "^$BIG_SHA\$" \
  bash -c "ip netns exec vm1 curl -sS --max-time 20 http://$INET4/big.bin | sha256sum | cut -d' ' -f1"
t_check_output "curl -6 vm1 <- 1 MiB from inet over IPv6 (sha256 matches)" "^$BIG_SHA\$" \
  bash -c "ip netns exec vm1 curl -6 -sS --max-time 20 'http://[$INET6]/big.bin' | sha256sum | cut -d' ' -f1"

# TCP bulk, bounded by bytes and time: vm1 -> inet (VM's TSO/checksum offload) and back
EG_CHECK_TIMEOUT_S=60 t_check_output "iperf3 TCP vm1 -> inet (8 MiB)" '^[0-9]{7,}$' iperf_bytes vm1 -c $INET4 -n 8M
EG_CHECK_TIMEOUT_S=60 t_check_output "iperf3 TCP inet -> vm1 (-R, 8 MiB)" '^[0-9]{7,}$' iperf_bytes vm1 -c $INET4 -n 8M -R
EG_CHECK_TIMEOUT_S=60 t_check_output "iperf3 TCP -6 vm1 -> inet (8 MiB)" '^[0-9]{7,}$' iperf_bytes vm1 -6 -c $INET6 -n 8M

# ---- traceroute: the gateway is hop 1, inet hop 2. One run per family, one probe at a
# time (-N 1), so inet's ICMP error rate limit does not hide hops.
TR4=$(in_ns vm1 timeout 25 traceroute -n -N 1 -q 1 -w 2 -m 4 $INET4 2>&1)
TR6=$(in_ns vm1 timeout 25 traceroute -6 -n -N 1 -q 1 -w 2 -m 4 $INET6 2>&1)
t_check_output "traceroute vm1 -> inet: hop 1 is 192.168.100.1" '^ 1 +192\.168\.100\.1 ' printf '%s\n' "$TR4"
t_check_output "traceroute vm1 -> inet reaches $INET4 at hop 2" '^ 2 +203\.0\.113\.2 ' printf '%s\n' "$TR4"
t_check_output "traceroute -6 vm1 -> inet: hop 1 is a gateway address" \
  '^ 1 +(2001:db8:100::1|2001:db8:1::1|fe80:[0-9a-f:]+) ' printf '%s\n' "$TR6"
t_check_output "traceroute -6 vm1 -> inet reaches $INET6 at hop 2" '^ 2 +2001:db8:1::2 ' printf '%s\n' "$TR6"

# ---- the gateway itself: echo, ARP, ND
t_check "ping vm1 -> gateway 192.168.100.1" in_ns vm1 ping -n -c 2 -i 0.2 -W 2 192.168.100.1
t_check "ping -6 vm1 -> gateway 2001:db8:100::1" in_ns vm1 ping -6 -n -c 2 -i 0.2 -W 2 2001:db8:100::1
t_check "ping inet -> gateway 203.0.113.1" in_ns inet ping -n -c 2 -i 0.2 -W 2 203.0.113.1
t_check "ping -6 inet -> gateway 2001:db8:1::1" in_ns inet ping -6 -n -c 2 -i 0.2 -W 2 2001:db8:1::1
t_check_output "ARP: gateway answers arping 192.168.100.1 from vm1" 'Received [1-9][0-9]* response' \
  in_ns vm1 busybox arping -c 2 -w 3 -I eth0 192.168.100.1
GW_VM_MAC=$(neigh_mac vm1 192.168.100.1)
t_check_output "ARP: vm1 has a MAC for 192.168.100.1 (ip neigh)" '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' echo "$GW_VM_MAC"
GW_UP_MAC4=$(neigh_mac inet 203.0.113.1)
t_check_output "ARP: inet has a MAC for 203.0.113.1 (ip neigh)" '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' echo "$GW_UP_MAC4"
# ND, VM side: the router learned from RAs (a link-local address) resolves
RTR6=$(ip -n vm1 -6 route show default | awk '/proto ra/{print $3; exit}')
t_check_output "RA: vm1's IPv6 default route comes from the gateway's RAs" '^fe80:' echo "$RTR6"
[ -n "$RTR6" ] && in_ns vm1 ping -6 -n -c 1 -W 2 "$RTR6%eth0" >/dev/null 2>&1
t_check_output "ND: vm1 resolved the gateway's router address $RTR6" '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' neigh_mac vm1 "${RTR6:-fe80::}"
GW_UP_MAC6=$(neigh_mac inet 2001:db8:1::1)
t_check_output "ND: inet resolved 2001:db8:1::1" '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' echo "$GW_UP_MAC6"
t_log "gateway MACs seen: vm side $GW_VM_MAC (eg-vm is $(mac_of eg-gw eg-vm)), uplink $GW_UP_MAC4 / $GW_UP_MAC6 (eg-up is $(mac_of eg-gw eg-up))"

# ---- inet -> vm1's dedicated IPv6 (the gateway answers ND for it: ND proxy)
t_check "ping -6 inet -> vm1 2001:db8:1::101 (ND proxy)" in_ns inet ping -6 -n -c 3 -i 0.2 -W 2 2001:db8:1::101
t_check_eq "ND proxy: inet resolves 2001:db8:1::101 to the gateway's uplink MAC" \
  "${GW_UP_MAC6:-?}" "$(neigh_mac inet 2001:db8:1::101)" "$(ip -n inet -6 neigh 2>&1)"
mkdir -p "$EG_LAB_DIR/vm1-www" && echo "vm1-$HELLO" > "$EG_LAB_DIR/vm1-www/hello.txt"
t_http_server vm1 2001:db8:1::101 8080 "$EG_LAB_DIR/vm1-www"
t_check_output "curl -6 inet -> http://[2001:db8:1::101]:8080/ (server in vm1)" "^vm1-$HELLO\$" \
  in_ns inet curl -6 -sS --max-time 10 "http://[2001:db8:1::101]:8080/hello.txt"

# ---- a second VM
t_check "ping vm2 -> inet $INET4" in_ns vm2 ping -n -c 3 -i 0.2 -W 2 $INET4
t_check "ping -6 vm2 -> inet $INET6" in_ns vm2 ping -6 -n -c 3 -i 0.2 -W 2 $INET6
t_check_output "curl vm2 -> http://$INET4/hello.txt" "^$HELLO\$" in_ns vm2 curl -sS --max-time 10 "http://$INET4/hello.txt"
t_check_output "curl -6 vm2 -> http://[$INET6]/hello.txt" "^$HELLO\$" in_ns vm2 curl -6 -sS --max-time 10 "http://[$INET6]/hello.txt"
t_check "ping -6 inet -> vm2 2001:db8:1::102 (ND proxy)" in_ns inet ping -6 -n -c 3 -i 0.2 -W 2 2001:db8:1::102

# ---- the daemon's contract: status lines on stderr, clean exit on SIGTERM
t_check_output "edgegated prints status lines" '^status:' cat "$EG_LAB_DIR/edgegated.log"
t_check_clean_exit

t_finish
