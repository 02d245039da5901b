#!/usr/bin/env bash
# wireguard_2workers_test.sh — the checks of wireguard_test.sh with two workers (uring
# backend): the kernel's PACKET_FANOUT_HASH spreads each port's packets over both, so
# transport messages and packets routed into the tunnel often arrive at the worker that
# does not own the peer (slot % workers; the receiver index names it) and are handed over.
EG_BUILD_DIR=${EG_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
export EG_TEST_WORKERS=2
export EG_LAB_DIR=${EG_LAB_DIR:-$EG_BUILD_DIR/lab-state/wireguard_2workers_test}
exec bash "$(dirname "$0")/wireguard_test.sh"
