#!/usr/bin/env bash
# nat_2workers_test.sh — the checks of nat_test.sh with two workers (uring backend):
# the kernel's PACKET_FANOUT_HASH spreads each port's packets over both, so replies and a
# VM socket's flows often arrive at the worker that does not own their NAT state and
# must be handed over (dataplane/handoff.hpp).
EG_BUILD_DIR=${EG_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
export EG_TEST_WORKERS=2
export EG_LAB_DIR=${EG_LAB_DIR:-$EG_BUILD_DIR/lab-state/nat_2workers_test}
exec bash "$(dirname "$0")/nat_test.sh"
