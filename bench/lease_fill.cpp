// edgegate-lease-fill: writes a lease store state directory with many leases, for
// bench/lease_restart_bench.sh (edgegated's restart with 1M leases).
//
//   edgegate-lease-fill --config FILE [--allocations N] [--bindings M] [--compact]
//                       [--renew-bytes B|compaction]
//
// Opens config.dhcp.state_dir (relative paths: from the working directory, as
// edgegated does) and writes through the daemon's own code: N API allocations
// (control/allocations: a placement record keyed by vps_id, an IPv4 from the first
// DHCP network's pool and an IPv6 /128 where the network has an ipv6_prefix) and M
// DHCP bindings (store_lease_book: hold_any + commit, as the DHCP server does on a
// REQUEST; client key = a MAC, lease_time_s of the network). Group-commits every 4096
// writes; --compact then folds the journal into a snapshot (and, with N = M = 0, just
// compacts an existing directory). --renew-bytes then renews the DHCP bindings in the
// store round-robin (commit of the same client and address with a later end, as a
// client's RENEW does: one record each) until the journal holds about B bytes;
// "compaction" is just short of store_options' default compact_after_bytes, the most
// journal edgegated leaves uncompacted: with a snapshot of every lease beside it, the
// worst case a restart meets. Prints one JSON object:
//   {"allocations": N, "bindings": M, "leases": total in the store, "fill_s": ...,
//    "journal_bytes": ..., "snapshot_bytes": ...}
// The directory must not hold leases yet unless both counts are 0.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>
#include <chrono>

#include "config/config.hpp"
#include "control/allocations.hpp"
#include "control/dhcp_service.hpp"  // plan_dhcp
#include "control/leases/lease_store.hpp"
#include "control/leases/store_lease_book.hpp"

namespace {

using namespace eg;
namespace fs = std::filesystem;

int usage() {
    std::fprintf(stderr, "usage: edgegate-lease-fill --config FILE [--allocations N] [--bindings M] [--compact] "
                         "[--renew-bytes B|compaction]\n");
    return 2;
}

uint64_t dir_bytes(const fs::path& dir, const char* prefix) {
    uint64_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().filename().string().starts_with(prefix)) n += e.file_size(ec);
    }
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    uint64_t n_alloc = 0, n_bind = 0;
    bool compact = false;
    uint64_t renew_bytes = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (a == "--allocations" && i + 1 < argc) {
            n_alloc = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--bindings" && i + 1 < argc) {
            n_bind = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--compact") {
            compact = true;
        } else if (a == "--renew-bytes" && i + 1 < argc) {
            const std::string b = argv[++i];
            // One group commit (4096 renewals, ~330 KB) short of the threshold.
            renew_bytes = b == "compaction" ? ctl::leases::store_options{}.compact_after_bytes - (1u << 20)
                                            : std::strtoull(b.c_str(), nullptr, 10);
        } else {
            return usage();
        }
    }
    if (config_path.empty()) return usage();
    cfg::load_result r = cfg::load_file(config_path);
    if (!r.value) {
        for (const auto& e : r.errors) std::fprintf(stderr, "%s: %s\n", config_path.c_str(), e.to_string().c_str());
        return 1;
    }
    const cfg::config& config = *r.value;
    if (!config.dhcp.enabled || config.dhcp.networks.empty()) {
        std::fprintf(stderr, "lease-fill: the config has no [dhcp] network\n");
        return 1;
    }

    ctl::leases::store_options o;
    o.auto_compact = false;  // one journal, or one snapshot with --compact: what the bench replays
    o.log = [](std::string_view m) { std::fprintf(stderr, "lease-fill: %.*s\n", int(m.size()), m.data()); };
    std::error_code ec;
    ctl::leases::open_report rep;
    auto store = ctl::leases::lease_store::open(config.dhcp.state_dir, o, ec, &rep);
    if (!store) {
        std::fprintf(stderr, "lease-fill: cannot open %s: %s %s\n", config.dhcp.state_dir.c_str(), ec.message().c_str(),
                     rep.load.detail.c_str());
        return 1;
    }
    if ((n_alloc || n_bind) && !store->leases().empty()) {
        std::fprintf(stderr, "lease-fill: %s already holds %zu leases\n", config.dhcp.state_dir.c_str(),
                     store->leases().size());
        return 1;
    }

    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
    ctl::dhcp_plan plan = ctl::plan_dhcp(config);
    ctl::leases::store_lease_book book(*store, plan.networks, now);
    ctl::allocations allocs(*store, book, config, plan.server.networks);
    const uint32_t net = plan.server.networks.front().id;
    const uint32_t lease_time = plan.server.networks.front().lease_time_s;
    uint64_t since_commit = 0;
    const auto maybe_commit = [&] {
        if (++since_commit == 4096) {
            store->request_commit();
            since_commit = 0;
        }
    };
    char vps[32], org[32];
    for (uint64_t i = 0; i < n_alloc; ++i) {
        std::snprintf(vps, sizeof vps, "vps-%08" PRIu64, i);
        std::snprintf(org, sizeof org, "org-%" PRIu64, i % 5000);
        // 02:aa:xx:xx:xx:xx: locally administered, unicast; one MAC per VM
        const dp::mac_bytes mac{0x02, 0xaa, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
        const auto out = allocs.create(vps, org, mac, "", now);
        if (out.error != ctl::allocations::errc::ok) {
            std::fprintf(stderr, "lease-fill: allocation %" PRIu64 ": %s\n", i, out.message.c_str());
            return 1;
        }
        maybe_commit();
    }
    for (uint64_t i = 0; i < n_bind; ++i) {
        const dp::mac_bytes mac{0x02, 0xbb, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
        const auto client = ctl::dhcp::client_key::from_mac(mac);
        const auto a = book.hold_any(net, client, mac, now, now + 60);
        if (!a) {
            std::fprintf(stderr, "lease-fill: binding %" PRIu64 ": the pool is full\n", i);
            return 1;
        }
        ctl::dhcp::lease l;
        l.network = net;
        l.address = *a;
        l.client = client;
        l.mac = mac;
        l.state = ctl::dhcp::lease_state::bound;
        l.expires_s = now + lease_time;
        if (book.commit(l) == 0) {
            std::fprintf(stderr, "lease-fill: binding %" PRIu64 " was not stored\n", i);
            return 1;
        }
        maybe_commit();
    }
    if (const auto c = store->commit(); c.ec) {
        std::fprintf(stderr, "lease-fill: commit failed: %s\n", c.ec.message().c_str());
        return 1;
    }
    uint64_t renewals = 0;
    if (renew_bytes > 0) {
        std::vector<ctl::dhcp::lease> bound;
        for (const auto& [key, rec] : store->leases()) {
            if (!key.starts_with("b:") || rec.state != ctl::leases::lease_state::bound || rec.client_id.empty()) continue;
            ctl::dhcp::lease l;
            l.network = net;
            l.address = rec.ipv4;
            l.client = {rec.client_id[0] == ctl::dhcp::client_key::client_id ? ctl::dhcp::client_key::client_id
                                                                             : ctl::dhcp::client_key::hardware,
                        rec.client_id.substr(1)};
            l.mac = rec.mac;
            l.state = ctl::dhcp::lease_state::bound;
            bound.push_back(std::move(l));
        }
        if (bound.empty()) {
            std::fprintf(stderr, "lease-fill: no DHCP bindings to renew\n");
            return 1;
        }
        const uint64_t start = dir_bytes(config.dhcp.state_dir, "journal-");
        for (uint64_t written = 0; written < renew_bytes;) {
            for (int k = 0; k < 4096; ++k) {
                ctl::dhcp::lease& l = bound[renewals++ % bound.size()];
                l.expires_s = now + lease_time + renewals / bound.size() + 1;
                if (book.commit(l) == 0) {
                    std::fprintf(stderr, "lease-fill: renewal %" PRIu64 " was not stored\n", renewals);
                    return 1;
                }
            }
            if (const auto c = store->commit(); c.ec) {
                std::fprintf(stderr, "lease-fill: commit failed: %s\n", c.ec.message().c_str());
                return 1;
            }
            written = dir_bytes(config.dhcp.state_dir, "journal-") - start;
        }
    }
    if (compact) {
        store->compact_now();
        if (const auto cr = store->wait_for_compaction(); cr.ec) {
            std::fprintf(stderr, "lease-fill: compaction failed: %s %s\n", cr.ec.message().c_str(), cr.detail.c_str());
            return 1;
        }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const size_t total = store->leases().size();
    store.reset();
    std::printf("{\"allocations\": %" PRIu64 ", \"bindings\": %" PRIu64 ", \"renewals\": %" PRIu64
                ", \"leases\": %zu, \"fill_s\": %.2f, "
                "\"journal_bytes\": %" PRIu64 ", \"snapshot_bytes\": %" PRIu64 "}\n",
                n_alloc, n_bind, renewals, total, secs, dir_bytes(config.dhcp.state_dir, "journal-"),
                dir_bytes(config.dhcp.state_dir, "snapshot"));
    return 0;
}
