#!/usr/bin/env bash
# nat_dpdk_test.sh — the checks of nat_test.sh with the dpdk backend: each
# port is a DPDK net_af_packet vdev on the same veth (tools/lab up --backend dpdk writes
# that config variant: backend = "dpdk", interface = "net_af_packet0,iface=eg-vm" / ...1,iface=eg-up).
#
#  vm1 eth0 192.168.100.11/24  2001:db8:1::101/128 ─┐
#  vm2 eth0 192.168.100.12/24  2001:db8:1::102/128 ─┤ eg-sw (br0)
#                                                   │
#                          eg-vm ┌──────────────────┴─┐ eg-up
#                 192.168.100.1  │  eg-gw: edgegated  │ 203.0.113.1
#               2001:db8:100::1  │  DPDK net_af_packet│ 2001:db8:1::1
#                                │  vdevs on the veths│
#                                └──────────────────┬─┘
#                                                   │
#                     inet eth0 203.0.113.2/24, 2001:db8:1::2/64
#                     HTTP :80 (hello.txt, big.bin), iperf3 -s :5201
#
# (dpdk only: tools/lab turns TSO/GSO and tx checksum offload off on the VMs' and inet's
# eth0, since net_af_packet has no vnet header.) Skipped (77) when the build has no DPDK.
EG_BUILD_DIR=${EG_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
if grep -q '^EG_WITH_DPDK:BOOL=OFF' "$EG_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  echo "nat_dpdk_test: skipped (built with EG_WITH_DPDK=OFF)"
  exit 77
fi
export EG_TEST_BACKEND=dpdk
export EG_LAB_DIR=${EG_LAB_DIR:-$EG_BUILD_DIR/lab-state/nat_dpdk_test}
exec bash "$(dirname "$0")/nat_test.sh"
