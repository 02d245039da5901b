#pragma once
// The packet path over one burst: parse Ethernet, then ARP / IPv4 / IPv6 stages.
// Route lookups for the whole burst are done together (bulk LPM with prefetch), so
// the memory latency of one packet's lookup overlaps with the others'.
//
// On return every packet has a verdict: a port index to transmit on, k_verdict_drop
// (already counted), or k_verdict_consumed (copied to the control thread).
#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

void process_burst(burst& b, const snapshot& s, worker_context& w);

}  // namespace eg::dp
