#!/usr/bin/env bash
# host_path_test.sh — the host exception path: eg-gw's own kernel stack, behind the TAP
# eg-host that edgegated creates and configures, is reachable from both sides with
# ordinary sockets, and can reach out itself.
#
#  vm1 eth0 192.168.100.11/24, 2001:db8:1::101/128
#        │
#  eg-sw (br0)
#        │ eg-vm                                  eg-up
#  ┌─────┴──────────────────────────────────────────┴─────┐
#  │ eg-gw:  edgegated ◄──── TAP eg-host ────► eg-gw's kernel:                │
#  │                                           HTTP :8000 on all its addresses│
#  │                                           (192.168.100.1, 203.0.113.1,   │
#  │                                            2001:db8:100::1, 2001:db8:1::1)│
#  └─────┬──────────────────────────────────────────┬─────┘
#        │                                          │
#        └── vm1 -> 192.168.100.1:8000              inet eth0 203.0.113.2/24, 2001:db8:1::2/64
#                                                   inet -> 203.0.113.1:8000
. "$(dirname "$0")/lib.sh"

HELLO=edgegate-lab-ok
t_lab_up --vms 1

t_check "edgegated created the TAP eg-host in eg-gw" ip -n eg-gw link show dev eg-host
t_check_output "eg-gw's kernel holds 192.168.100.1 (on the TAP side)" '192\.168\.100\.1/' ip -n eg-gw -br addr
t_check_output "eg-gw's kernel holds 203.0.113.1 (on the TAP side)" '203\.0\.113\.1/' ip -n eg-gw -br addr
t_log "eg-gw addresses: $(ip -n eg-gw -br addr | tr -s ' ' | tr '\n' ';')"

mkdir -p "$EG_LAB_DIR/gw-www" && echo "gw-$HELLO" > "$EG_LAB_DIR/gw-www/hello.txt"
if ! t_http_server gw :: 8000 "$EG_LAB_DIR/gw-www"; then
  t_fail "HTTP server listens on :8000 in eg-gw's kernel" "$(cat "$EG_LAB_DIR"/http-gw-8000.log)"
fi

t_check_output "TCP vm1 -> 192.168.100.1:8000 (host kernel via the TAP)" "^gw-$HELLO\$" \
  in_ns vm1 curl -sS --max-time 10 http://192.168.100.1:8000/hello.txt
t_check_output "TCP inet -> 203.0.113.1:8000 (host kernel via the TAP)" "^gw-$HELLO\$" \
  in_ns inet curl -sS --max-time 10 http://203.0.113.1:8000/hello.txt
t_check_output "TCP -6 vm1 -> [2001:db8:100::1]:8000 (host kernel via the TAP)" "^gw-$HELLO\$" \
  in_ns vm1 curl -6 -sS --max-time 10 "http://[2001:db8:100::1]:8000/hello.txt"
t_check_output "TCP -6 inet -> [2001:db8:1::1]:8000 (host kernel via the TAP)" "^gw-$HELLO\$" \
  in_ns inet curl -6 -sS --max-time 10 "http://[2001:db8:1::1]:8000/hello.txt"

# the other direction: the host kernel's own sockets (probes, an operator's tools) go out
t_check "ping eg-gw's kernel -> inet 203.0.113.2" in_ns eg-gw ping -n -c 2 -i 0.2 -W 2 203.0.113.2
t_check "ping eg-gw's kernel -> vm1 192.168.100.11" in_ns eg-gw ping -n -c 2 -i 0.2 -W 2 192.168.100.11
t_check_output "TCP eg-gw's kernel -> http://203.0.113.2/hello.txt" "^$HELLO\$" \
  in_ns eg-gw curl -sS --max-time 10 http://203.0.113.2/hello.txt

# forwarding still works beside the host path
t_check "ping vm1 -> inet still works" in_ns vm1 ping -n -c 2 -i 0.2 -W 2 203.0.113.2

t_check_clean_exit
t_finish
