#!/usr/bin/env bash
# nat_test.sh — NAT44 and the per-VM egress policies of config/examples/lab.toml, with
# real programs (curl, ping, traceroute, iperf3, tinyproxy, python's HTTP server) in
# the lab's namespaces (backend: $EG_TEST_BACKEND, default uring; nat_dpdk_test.sh
# runs this with dpdk). inet has no route back to 192.168.100.0/24: every reply must
# come through the translation.
#
#  vm1 192.168.100.11 masquerade (+ forward 203.0.113.1:8080 -> vm1:80)
#  vm2 192.168.100.12 dedicated 203.0.113.20
#  vm3 192.168.100.13 port_block 1 (ports 60512-61023 of 203.0.113.1)
#  vm4 192.168.100.14 proxy -> tinyproxy 203.0.113.2:10001, proxy_force
#  vm5 192.168.100.15 masquerade, max_sessions 8
#  vm6 192.168.100.16 masquerade
#           │ eg-sw │── eg-vm [edgegated, NAT behind 203.0.113.1] eg-up ── inet 203.0.113.2
#
# The test config is lab.toml with short UDP/ICMP timeouts (4 s) so expiry is observable,
# and $EG_TEST_WORKERS workers (default 1; nat_2workers_test.sh: 2, so that flows and
# return traffic cross between workers: the kernel's fanout spreads them by hash).
. "$(dirname "$0")/lib.sh"

BACKEND=${EG_TEST_BACKEND:-uring}
INET4=203.0.113.2
PUB=203.0.113.1
DEDICATED=203.0.113.20
HELLO=edgegate-lab-ok

mkdir -p "$EG_LAB_DIR"
CFG="$EG_LAB_DIR/nat.toml"
WORKERS=${EG_TEST_WORKERS:-1}
sed -E -e 's/^udp_s = .*/udp_s = 4/' -e 's/^icmp_s = .*/icmp_s = 4/' -e "s/^count = 1\$/count = $WORKERS/" \
  "$EG_SOURCE_DIR/config/examples/lab.toml" > "$CFG"
grep -q "^count = $WORKERS\$" "$CFG" || { t_fail "set workers.count = $WORKERS in the config variant"; t_finish; }
grep -q '^udp_s = 4$' "$CFG" || { t_fail "write the short-timeout config variant"; t_finish; }

t_lab_up --vms 6 --backend "$BACKEND" --config "$CFG"
MAPLOG="$EG_LAB_DIR/nat-mappings.log"
GWLOG="$EG_LAB_DIR/edgegated.log"

# UDP helpers (python's sockets, in the namespaces): one datagram out and what comes back.
UDP_PY='
import socket, sys
mode = sys.argv[1]
if mode == "echo":        # echo SRCPORT DST DSTPORT MSG: send, print the reply and its sender
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[2])))
    s.settimeout(3); s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
    d, a = s.recvfrom(2048); print(d.decode(), a[0], a[1])
elif mode == "server":    # server PORT: answer every datagram with "re:"+data, print the peer
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[2])))
    while True:
        d, a = s.recvfrom(2048); print("from", a[0], a[1], flush=True); s.sendto(b"re:" + d, a)
elif mode == "listen":    # listen PORT: print the first datagram and its sender
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[2])))
    s.settimeout(6); d, a = s.recvfrom(2048); print(d.decode(), a[0], a[1])
elif mode == "sendlisten":  # sendlisten SRCPORT DST DSTPORT MSG: send, then print what arrives for 6 s
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[2])))
    s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4]))); s.settimeout(6)
    try:
        while True:
            d, a = s.recvfrom(2048); print(d.decode(), a[0], a[1], flush=True)
    except socket.timeout:
        pass
elif mode == "send":      # send SRCPORT DST DSTPORT MSG
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[2])))
    s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
elif mode == "flows":     # flows N DST DSTPORT: N datagrams from N sockets
    for i in range(int(sys.argv[2])):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", (sys.argv[3], int(sys.argv[4])))
'
udp() { local ns=$1; shift; ip netns exec "$ns" "$PY" -c "$UDP_PY" "$@"; }
export UDP_PY
export -f udp

# ---- masquerade: the internet sees 203.0.113.1, never a VM address
for vm in vm1 vm5 vm6; do
  t_check_output "curl $vm -> inet through NAT" "^$HELLO\$" in_ns "$vm" curl -sS --max-time 10 "http://$INET4/hello.txt"
done
t_check_output "inet's HTTP server saw the public address" "^::ffff:$PUB - " tail -n 3 "$EG_LAB_DIR/http.log"
t_check_fails "inet's HTTP server never saw a VM address" grep -q '192\.168\.100\.' "$EG_LAB_DIR/http.log"
t_check_soon "mapping log: vm1's TCP session created" 5 \
  grep -Eq "create vm=vm1 proto=tcp inside=192\.168\.100\.11:[0-9]+ remote=$INET4:80 public=$PUB:[0-9]+" "$MAPLOG"
t_check "iperf3 TCP vm1 -> inet through NAT (8 MiB)" iperf_bytes vm1 -c $INET4 -n 8M
t_check "iperf3 TCP inet -> vm1 through NAT (-R, 8 MiB)" iperf_bytes vm1 -c $INET4 -n 8M -R

# ---- UDP both ways; endpoint-independent mapping and filtering (RFC 4787)
t_bg inet "$EG_LAB_DIR/udp-server.log" "$PY" -c "$UDP_PY" server 6000
t_wait_for "UDP server in inet" 5 bash -c "ip netns exec inet ss -lunH 'sport = :6000' | grep -q ."
t_check_output "UDP vm1:41000 -> inet:6000 and back; source port kept (41000)" "^re:ping $INET4 6000\$" \
  udp vm1 echo 41000 $INET4 6000 ping
t_check_output "inet saw the datagram from $PUB:41000" "^from $PUB 41000\$" tail -n 1 "$EG_LAB_DIR/udp-server.log"
# the same VM socket to another port of inet keeps its public port (EIM) ...
t_bg inet "$EG_LAB_DIR/udp-server2.log" "$PY" -c "$UDP_PY" server 6001
t_wait_for "UDP server 2 in inet" 5 bash -c "ip netns exec inet ss -lunH 'sport = :6001' | grep -q ."
t_check_output "UDP vm1:41000 -> inet:6001 leaves from the same public port" "^re:again $INET4 6001\$" \
  udp vm1 echo 41000 $INET4 6001 again
t_check_output "inet:6001 saw $PUB:41000 (endpoint-independent mapping)" "^from $PUB 41000\$" tail -n 1 "$EG_LAB_DIR/udp-server2.log"
# ... and an unsolicited datagram from a port it never talked to reaches it (EIF)
t_bg vm1 "$EG_LAB_DIR/udp-vm1.log" "$PY" -c "$UDP_PY" sendlisten 41002 $INET4 6000 open-mapping
t_wait_for "vm1's reply from inet:6000" 5 grep -q '^re:open-mapping' "$EG_LAB_DIR/udp-vm1.log"
udp inet send 7777 $PUB 41002 from-elsewhere
t_check_soon "inet:7777 (never contacted) -> $PUB:41002 reaches vm1 (endpoint-independent filtering)" 5 \
  grep -q "^from-elsewhere $INET4 7777\$" "$EG_LAB_DIR/udp-vm1.log"

# ---- ICMP: equal echo identifiers from two VMs; traceroute through NAT (RFC 5508)
t_run_capture bash -c "ip netns exec vm1 ping -n -c 4 -i 0.2 -W 2 -e 4242 $INET4 & ip netns exec vm5 ping -n -c 4 -i 0.2 -W 2 -e 4242 $INET4; wait"
t_check_eq "ping vm1 and vm5 at once with identifier 4242: every reply back" 2 "$(grep -c ' 0% packet loss' <<<"$T_OUT")" "$T_OUT"
TR=$(in_ns vm1 timeout 25 traceroute -n -N 1 -q 1 -w 2 -m 4 $INET4 2>&1)
t_check_output "traceroute (UDP) vm1 -> inet: hop 1 is the gateway" '^ 1 +192\.168\.100\.1 ' printf '%s\n' "$TR"
t_check_output "traceroute (UDP) vm1 -> inet: hop 2's port-unreachable came back through NAT" "^ 2 +203\.0\.113\.2 " printf '%s\n' "$TR"
# Two probes per hop: hop 2 must answer at least one. With one probe a single lost SYN
# or SYN-ACK on a loaded box failed the check (2 of 4 runs once; 0 of 40 in a loop on
# the lab alone, so the loss was not found to be the NAT's).
TRT=$(in_ns vm1 timeout 25 traceroute -n -N 1 -q 2 -w 2 -m 4 -T -p 80 $INET4 2>&1)
t_check_output "traceroute -T vm1 -> inet:80 reaches hop 2" "^ 2 .*203\.0\.113\.2 " printf '%s\n' "$TRT"
t_check_output "ping -M do -s 1472 vm1 -> inet (full-size DF packets through NAT)" ' 0% packet loss' \
  in_ns vm1 ping -n -c 2 -i 0.2 -W 2 -M do -s 1472 $INET4

# ---- port forward 203.0.113.1:8080 -> vm1:80, and hairpinning
mkdir -p "$EG_LAB_DIR/www-vm1" "$EG_LAB_DIR/www-vm2"
echo "vm1-web" > "$EG_LAB_DIR/www-vm1/index.txt"
echo "vm2-web" > "$EG_LAB_DIR/www-vm2/index.txt"
t_http_server vm1 0.0.0.0 80 "$EG_LAB_DIR/www-vm1"
t_check_output "curl inet -> $PUB:8080 reaches vm1:80 (port forward)" '^vm1-web$' \
  in_ns inet curl -sS --max-time 10 "http://$PUB:8080/index.txt"
t_check_output "curl vm5 -> $PUB:8080 reaches vm1 (hairpin)" '^vm1-web$' \
  in_ns vm5 curl -sS --max-time 10 "http://$PUB:8080/index.txt"
t_check_output "vm1's server saw inet and the hairpinned vm5 as $PUB" "$PUB - .*index.txt" cat "$EG_LAB_DIR/http-vm1-80.log"
t_check_fails "vm1's server never saw a private address" grep -q '192\.168\.100\.' "$EG_LAB_DIR/http-vm1-80.log"

# ---- dedicated address: vm2 leaves from 203.0.113.20 and is reached there directly
t_check_output "curl vm2 -> inet" "^$HELLO\$" in_ns vm2 curl -sS --max-time 10 "http://$INET4/hello.txt"
t_check_output "inet's HTTP server saw vm2 as $DEDICATED" "^::ffff:$DEDICATED - " tail -n 1 "$EG_LAB_DIR/http.log"
t_http_server vm2 0.0.0.0 8081 "$EG_LAB_DIR/www-vm2"
t_check_output "curl inet -> $DEDICATED:8081 reaches vm2 (1:1 NAT, no forward needed)" '^vm2-web$' \
  in_ns inet curl -sS --max-time 10 "http://$DEDICATED:8081/index.txt"
t_check "ping inet -> $DEDICATED (answered by vm2)" in_ns inet ping -n -c 2 -i 0.2 -W 2 $DEDICATED

# ---- port block: vm3's connections leave from its block 60512-61023
in_ns vm3 curl -sS --max-time 10 -o /dev/null "http://$INET4/hello.txt"
t_wait_for "vm3's session in the mapping log" 5 grep -q "create vm=vm3 proto=tcp" "$MAPLOG"
VM3_PORT=$(grep -Eo "create vm=vm3 proto=tcp .* public=$PUB:[0-9]+" "$MAPLOG" | tail -n 1 | grep -Eo '[0-9]+$')
t_check "vm3's public port ${VM3_PORT:-?} lies in its block 60512-61023" \
  test -n "$VM3_PORT" -a "${VM3_PORT:-0}" -ge 60512 -a "${VM3_PORT:-0}" -le 61023
t_check "iperf3 vm3 -> inet through its port block (1 MiB)" iperf_bytes vm3 -c $INET4 -n 1M
IPERF_PORT=$(grep -Eo "Accepted connection from $PUB, port [0-9]+" "$EG_LAB_DIR/iperf3.log" | tail -n 1 | grep -Eo '[0-9]+$')
t_check "inet's iperf3 saw vm3 from port ${IPERF_PORT:-?} of its block" \
  test -n "$IPERF_PORT" -a "${IPERF_PORT:-0}" -ge 60512 -a "${IPERF_PORT:-0}" -le 61023

# ---- proxy policy: vm4's web traffic goes through tinyproxy on its port; nothing else leaves
t_check_output "curl vm4 -x 192.168.100.1:3128 -> inet through tinyproxy :10001" "^$HELLO\$" \
  in_ns vm4 curl -sS --max-time 10 -x http://192.168.100.1:3128 "http://$INET4/hello.txt"
t_check_output "tinyproxy (port 10001) served the request" 'Established connection to host "203\.0\.113\.2"' cat "$EG_LAB_DIR/tinyproxy.log"
t_check_soon "mapping log: vm4's session goes to the upstream 203.0.113.2:10001" 5 \
  grep -Eq "create vm=vm4 proto=tcp .*remote=192\.168\.100\.1:3128 public=$PUB:[0-9]+ upstream=$INET4:10001" "$MAPLOG"
t_check_fails "curl vm4 -> inet directly is refused" in_ns vm4 curl -sS --max-time 5 "http://$INET4/hello.txt"
t_check_output "ping vm4 -> inet: administratively prohibited (ICMP 3/13)" 'Packet filtered' \
  in_ns vm4 ping -n -c 1 -W 2 $INET4

# ---- anti-spoofing: only the bound (MAC, IPv4) pairs may send
in_ns vm6 ip addr add 192.168.100.99/24 dev eth0
t_check_fails "vm6 with an unbound source address 192.168.100.99 gets nothing through" \
  in_ns vm6 curl -sS --max-time 3 --interface 192.168.100.99 "http://$INET4/hello.txt"
in_ns vm6 ip addr del 192.168.100.99/24 dev eth0
in_ns vm6 ip link set eth0 address 02:00:00:00:01:66
in_ns vm6 ip neigh flush dev eth0
t_check_fails "vm6 with its address but another MAC gets nothing through" \
  in_ns vm6 curl -sS --max-time 3 "http://$INET4/hello.txt"
in_ns vm6 ip link set eth0 address 02:00:00:00:01:06
t_check_output "vm6 with its own MAC again works" "^$HELLO\$" in_ns vm6 curl -sS --max-time 10 "http://$INET4/hello.txt"
t_check_soon "edgegated counted the spoofed packets (drops: nat/spoofed_source)" 8 grep -q 'nat/spoofed_source=' "$GWLOG"

# ---- per-VM quota: vm5 may hold 8 sessions; others keep working
udp vm5 flows 12 $INET4 9
t_check_soon "vm5 over its quota is logged (edgegated: nat: ... quota_exceeded vm=vm5)" 5 grep -q 'quota_exceeded vm=vm5' "$GWLOG"
t_check_output "vm1 still works while vm5 is at its quota" "^$HELLO\$" in_ns vm1 curl -sS --max-time 10 "http://$INET4/hello.txt"

# ---- expiry: UDP/ICMP sessions go after 4 s idle (this config), logged, and vm5 can open again
t_check_soon "vm5's UDP sessions expire (mapping log: delete vm=vm5 proto=udp)" 15 grep -q 'delete vm=vm5 proto=udp' "$MAPLOG"
t_check_output "after expiry vm5 opens a session again" "^re:back $INET4 6000\$" udp vm5 echo 42000 $INET4 6000 back
t_check_output "the status line counts expired sessions" 'nat: translated=[0-9]+ .* expired=[1-9]' tail -n 20 "$GWLOG"

# ---- runtime change (SIGHUP): the forward moves to port 8081; a transfer in flight and
# the other sessions are not disturbed; a change that needs a restart is refused
head -c 1048576 /dev/urandom > "$EG_LAB_DIR/www/big.bin"
BIG_SHA=$(sha256sum < "$EG_LAB_DIR/www/big.bin" | cut -d' ' -f1)
in_ns vm6 curl -sS --max-time 30 --limit-rate 256k -o "$EG_LAB_DIR/big-vm6.bin" "http://$INET4/big.bin" &
SLOW=$!
sleep 1
sed -i -E 's/^port = 8080$/port = 8081/' "$EG_LAB_DIR/edgegate.toml"
kill -HUP "$(edgegated_pid)"
t_check_soon "SIGHUP: edgegated reloaded the config" 5 grep -q 'edgegated: reloaded' "$GWLOG"
t_check_output "after the reload $PUB:8081 reaches vm1:80" '^vm1-web$' \
  in_ns inet curl -sS --max-time 10 "http://$PUB:8081/index.txt"
t_check_fails "after the reload $PUB:8080 is no longer forwarded" \
  in_ns inet curl -sS --max-time 3 "http://$PUB:8080/index.txt"
wait "$SLOW"
t_check_eq "a download running through the reload arrived whole (sha256)" "$BIG_SHA" \
  "$(sha256sum < "$EG_LAB_DIR/big-vm6.bin" | cut -d' ' -f1)"
# A VM's egress keys apply at runtime: max_sessions, and its port block (vm3: 1 -> 2).
sed -i -E 's/^max_sessions = 8 /max_sessions = 9 /' "$EG_LAB_DIR/edgegate.toml"
kill -HUP "$(edgegated_pid)"
t_check_soon "SIGHUP with vm5's max_sessions changed applies it" 5 \
  grep -q '^  \[\[vms\]\] egress of vm5$' "$GWLOG"
sed -i -E 's/^port_block = 1 /port_block = 2 /' "$EG_LAB_DIR/edgegate.toml"
kill -HUP "$(edgegated_pid)"
t_check_soon "SIGHUP with vm3's port block changed applies it" 5 \
  grep -q '^  \[\[vms\]\] egress of vm3$' "$GWLOG"
t_check "iperf3 vm3 -> inet after the reload (256 KiB)" iperf_bytes vm3 -c $INET4 -n 256K
IPERF_PORT=$(grep -Eo "Accepted connection from $PUB, port [0-9]+" "$EG_LAB_DIR/iperf3.log" | tail -n 1 | grep -Eo '[0-9]+$')
t_check "inet's iperf3 saw vm3 from port ${IPERF_PORT:-?} of its new block 61024-61535" \
  test -n "$IPERF_PORT" -a "${IPERF_PORT:-0}" -ge 61024 -a "${IPERF_PORT:-0}" -le 61535

t_check "edgegated is still running" kill -0 "$(edgegated_pid)"
t_finish
