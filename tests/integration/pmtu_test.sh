#!/usr/bin/env bash
# pmtu_test.sh — path MTU: the uplink port has mtu = 1400 (a variant of
# config/examples/lab.toml); edgegated must answer too-big packets from the VM side
# with ICMP "fragmentation needed" (IPv4, RFC 1191) and "packet too big" (IPv6, RFC 8201).
#
#  vm1 eth0 192.168.100.11/24, 2001:db8:1::101/128   (link MTU 1500)
#        │
#  eg-sw (br0)
#        │ eg-vm                      eg-up
#  ┌─────┴──────────────────────────────┴─────┐
#  │ eg-gw: edgegated  port vm mtu 1500       │
#  │                   port uplink mtu 1400 ◄─┼── 1450-byte pings with DF stop here:
#  └──────────────────────────────────────────┘   ICMP frag-needed / packet-too-big, mtu 1400
#        │
#        │ (this veth: mtu 1400 at both ends)
#  inet eth0 203.0.113.2/24, 2001:db8:1::2/64   HTTP :80, iperf3 -s
. "$(dirname "$0")/lib.sh"

INET4=203.0.113.2
INET6=2001:db8:1::2
mkdir -p "$EG_LAB_DIR"
CFG="$EG_LAB_DIR/pmtu.toml"
if ! t_config_variant "$EG_SOURCE_DIR/config/examples/lab.toml" "$CFG" ports.uplink.mtu=1400 wireguard.wg0.mtu=1320; then
  t_fail "write the mtu = 1400 config variant"; t_finish
fi
t_log "config variant: $(grep -n 'mtu' "$CFG" | tr '\n' ' ')"

# the uplink link itself is a 1400 link: inet's end has mtu 1400 too (inet fragments its replies)
t_lab_up --vms 1 --config "$CFG" --uplink-mtu 1400

t_check "small ping vm1 -> inet works" in_ns vm1 ping -n -c 2 -i 0.2 -W 2 $INET4
t_check "small ping -6 vm1 -> inet works" in_ns vm1 ping -6 -n -c 2 -i 0.2 -W 2 $INET6

# 1450 B of ICMP payload = 1478 B IPv4 / 1498 B IPv6 packets: fit vm1's 1500 link, not the uplink
t_check_output "ping -M do -s 1450 vm1 -> inet gets 'Frag needed ... mtu = 1400'" \
  'Frag needed.*mtu = 1400' in_ns vm1 ping -n -M "do" -s 1450 -c 3 -i 0.3 -W 2 $INET4
t_check_output "ping -6 -M do -s 1450 vm1 -> inet gets 'Packet too big: mtu=1400'" \
  'Packet too big: mtu=1400' in_ns vm1 ping -6 -n -M "do" -s 1450 -c 3 -i 0.3 -W 2 $INET6
t_check_output "vm1's kernel learned PMTU 1400 towards $INET4" 'mtu 1400' in_ns vm1 ip route get $INET4
t_check_output "vm1's kernel learned PMTU 1400 towards $INET6" 'mtu 1400' in_ns vm1 ip -6 route get $INET6

t_check "small ping still works after the PMTU errors" in_ns vm1 ping -n -M "do" -s 1300 -c 2 -i 0.2 -W 2 $INET4
t_check "small ping -6 still works after the PMTU errors" in_ns vm1 ping -6 -n -M "do" -s 1300 -c 2 -i 0.2 -W 2 $INET6
# with the PMTU learned, vm1 fragments 1450-byte pings itself; the fragments fit the uplink
t_check "ping -s 1450 vm1 -> inet (fragmented by vm1 to the learned PMTU)" in_ns vm1 ping -n -s 1450 -c 2 -i 0.2 -W 2 $INET4
t_check "ping -6 -s 1450 vm1 -> inet (fragmented by vm1 to the learned PMTU)" in_ns vm1 ping -6 -n -s 1450 -c 2 -i 0.2 -W 2 $INET6

# TCP from vm1 with 1500-byte segments: PMTU discovery through the gateway must let it finish
# fresh PMTU state for TCP: flush vm1's learned route exceptions first
in_ns vm1 ip route flush cache >/dev/null 2>&1
in_ns vm1 ip -6 route flush cache >/dev/null 2>&1
EG_CHECK_TIMEOUT_S=60 t_check_output "iperf3 TCP vm1 -> inet (4 MiB) completes over the 1400 uplink (PMTUD)" '^[0-9]{6,}$' \
  iperf_bytes vm1 -c $INET4 -n 4M
EG_CHECK_TIMEOUT_S=60 t_check_output "iperf3 TCP -6 vm1 -> inet (4 MiB) completes over the 1400 uplink (PMTUD)" '^[0-9]{6,}$' \
  iperf_bytes vm1 -6 -c $INET6 -n 4M

t_check_clean_exit
t_finish
