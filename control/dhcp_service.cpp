#include "control/dhcp_service.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "dataplane/worker_context.hpp"

namespace eg::ctl {

namespace {

uint32_t v4(const cfg::ip_address& a) {
    return uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 | uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

std::string ip_text(uint32_t a) {
    char buf[INET_ADDRSTRLEN];
    const uint32_t n = htonl(a);
    return inet_ntop(AF_INET, &n, buf, sizeof buf) ? buf : "?";
}

std::string mac_text(const dp::mac_bytes& m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

uint32_t mask_of(uint8_t len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

}  // namespace

dhcp_plan plan_dhcp(const cfg::config& config) {
    dhcp_plan plan;
    for (const cfg::dhcp_network_config& nc : config.dhcp.networks) {
        size_t port_index = config.ports.size();
        for (size_t i = 0; i < config.ports.size(); ++i) {
            if (config.ports[i].name == nc.port) port_index = i;
        }
        if (port_index == config.ports.size() || nc.pool.empty()) {
            throw std::runtime_error("dhcp: network on port \"" + nc.port + "\" has no such port or no pool");
        }
        const cfg::port_config& port = config.ports[port_index];
        // The connected prefix holding the pool, and our address in it.
        const cfg::ip_prefix* own = nullptr;
        for (const auto& a : port.ipv4) {
            const uint32_t m = mask_of(a.length);
            if ((v4(a.addr) & m) == (nc.pool.front().first & m)) own = &a;
        }
        if (own == nullptr) {
            throw std::runtime_error("dhcp: the pool of port \"" + nc.port + "\" is not inside its IPv4 prefixes");
        }
        const uint32_t mask = mask_of(own->length);
        dhcp::network_config n;
        n.subnet = v4(own->addr) & mask;
        n.id = n.subnet;
        n.port = static_cast<uint16_t>(port_index);
        n.prefix_len = own->length;
        n.server_address = v4(own->addr);
        n.lease_time_s = nc.lease_time_s;
        for (const auto& r : nc.routers) n.routers.push_back(v4(r));
        if (n.routers.empty()) n.routers.push_back(n.server_address);
        for (const auto& d : nc.dns) n.dns_servers.push_back(v4(d));
        n.domain_name = nc.domain;
        n.mtu = static_cast<uint16_t>(nc.mtu != 0 ? nc.mtu : port.mtu);
        for (const auto& r : nc.classless_routes) {
            n.classless_routes.push_back({v4(r.prefix.addr), r.prefix.length, v4(r.via)});
        }

        leases::book_network b;
        b.id = n.id;
        b.subnet = n.subnet;
        b.prefix_len = n.prefix_len;
        for (const auto& [first, last] : nc.pool) b.ranges.push_back({first, last});
        // Every address of ours in the prefix (the server's, and any other the port has).
        for (const auto& p : config.ports) {
            for (const auto& a : p.ipv4) {
                if ((v4(a.addr) & mask) == n.subnet) b.excluded.push_back(v4(a.addr));
            }
        }
        // Static reservations: every [[vms]] whose address is in the network.
        for (const cfg::vm_config& vm : config.vms) {
            if (!vm.ipv4.v6 && (v4(vm.ipv4) & mask) == n.subnet) b.reservations.emplace(vm.mac, v4(vm.ipv4));
        }
        plan.server.networks.push_back(std::move(n));
        plan.networks.push_back(std::move(b));
    }
    return plan;
}

uint64_t dhcp_service::clock_s() { return static_cast<uint64_t>(std::time(nullptr)); }

dhcp_service::dhcp_service(const cfg::config& config, boost::asio::io_context& io, mac_fn port_mac, send_fn send,
                           log_fn log)
    : io_(io), port_mac_(std::move(port_mac)), send_(std::move(send)), log_(std::move(log)) {
    dhcp_plan plan = plan_dhcp(config);
    for (const auto& b : plan.networks) {
        for (const auto& r : b.ranges) pool_ranges_[b.id].emplace_back(r.first, r.last);
    }

    leases::store_options o;
    std::weak_ptr<int> alive = alive_;
    o.on_durable = [this, alive, &io](leases::ticket d, std::error_code ec) {  // the sync thread
        boost::asio::post(io, [this, alive, d, ec] {
            if (alive.lock()) on_durable(d, ec);
        });
    };
    // Store events (torn tail cut, compaction) come from the opening or compaction thread.
    o.log = [](std::string_view m) { std::fprintf(stderr, "dhcp: lease store: %.*s\n", int(m.size()), m.data()); };
    std::error_code ec;
    leases::open_report rep;
    const auto replay_start = std::chrono::steady_clock::now();  // for the summary line
    store_ = leases::lease_store::open(config.dhcp.state_dir, o, ec, &rep);
    if (!store_) {
        std::string why = ec.message();
        if (!rep.load.detail.empty()) why += " (" + rep.load.detail + ")";
        throw std::runtime_error("dhcp: cannot open the lease store in " + config.dhcp.state_dir + ": " + why);
    }
    // Where a restart's time goes, for the summary line (1M leases: each phase is a
    // walk over a million records; docs/lease-store.md "Measured").
    using clock = std::chrono::steady_clock;
    const auto seconds_since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
    const double t_store = seconds_since(replay_start);
    auto phase_start = clock::now();
    std::vector<std::string> problems;
    leases::store_lease_book::restored_records restored;  // the one walk over the store
    book_ = std::make_unique<leases::store_lease_book>(*store_, plan.networks, clock_s(), &problems, &restored);
    for (const auto& p : problems) this->log("dhcp: lease store: " + p);
    problems.clear();
    const double t_pools = seconds_since(phase_start);
    phase_start = clock::now();
    allocations_ =
        std::make_unique<allocations>(*store_, *book_, config, plan.server.networks, &problems, &restored.placements);
    const double t_allocations = seconds_since(phase_start);
    phase_start = clock::now();
    server_ = std::make_unique<dhcp::server>(std::move(plan.server), *book_);

    for (const cfg::vm_config& vm : config.vms) {
        if (vm.ipv4.v6) continue;
        static_pairs_.emplace(vm.mac, v4(vm.ipv4));
        static_ips_.insert(v4(vm.ipv4));
    }
    nat_ = config.nat.enabled;
    admissions_ = vm_admissions(
        nat_ ? std::max<uint32_t>(config.nat.max_vms, static_cast<uint32_t>(config.vms.size())) -
                   static_cast<uint32_t>(config.vms.size())
             : 0);
    // What the store says is bound (and allocated) is admitted again (one summary line).
    // Over the records the book's restore sorted out, not another walk of the store
    // (1M leases: a walk over a million scattered hash nodes is 0.1-0.2 s; a pass over
    // an array of pointers lets the loads overlap).
    const uint64_t now = clock_s();
    uint64_t bound = 0, live = 0, first_end = 0;
    const uint64_t placements = restored.placements.size();
    restoring_ = true;
    const auto live_binding = [now](const leases::lease& l) {
        return l.state == leases::lease_state::bound && (l.expires_s == 0 || uint64_t(l.expires_s) > now);
    };
    // The live bindings are counted on the way (for /v1/stats, which would otherwise
    // walk the store for them, until a write or the first of them ends).
    const auto count_live = [&](const leases::lease& l) {
        if (!live_binding(l)) return;
        ++live;
        if (l.expires_s != 0 && (first_end == 0 || uint64_t(l.expires_s) < first_end)) first_end = uint64_t(l.expires_s);
    };
    for (const leases::lease* l : restored.placements) {
        bound += l->state == leases::lease_state::bound;
        count_live(*l);
        if (!nat_) continue;  // nothing to admit to
        admit(admitted_by_allocation, l->mac, l->ipv4, l->vps_id, 0, l->ipv6);
        if (live_binding(*l)) admit(admitted_by_lease, l->mac, l->ipv4, l->vps_id, uint64_t(l->expires_s));
    }
    for (const leases::lease* l : restored.bindings) {
        bound += l->state == leases::lease_state::bound;
        count_live(*l);
        if (!nat_ || !live_binding(*l)) continue;
        // No name: vm_admissions formats "dhcp-<mac>" only if the pair takes a slot.
        admit(admitted_by_lease, l->mac, l->ipv4, {}, uint64_t(l->expires_s));
    }
    restoring_ = false;
    active_ = live;
    active_at_s_ = now;
    active_until_s_ = first_end;
    active_appended_ = store_->counters().appended;
    if (not_admitted_) {
        this->log("dhcp: warning: " + std::to_string(not_admitted_) + " bindings are not admitted to the data plane: " +
                  "nat.max_vms (" + std::to_string(config.nat.max_vms) + ") is too small");
    }

    for (const auto& n : server_->config().networks) {
        this->log("dhcp: serving " + ip_text(n.subnet) + "/" + std::to_string(n.prefix_len) + " on port " +
                  std::to_string(*n.port) + " as " + ip_text(n.server_address) + ", " +
                  std::to_string(book_->available(n.id)) + " pool addresses free");
    }
    for (const auto& p : problems) this->log("dhcp: lease store: " + p);
    const double t_admission = seconds_since(phase_start);
    char took[160];
    std::snprintf(took, sizeof took, " in %.3f s (store %.3f s, pools %.3f s, allocations %.3f s, admission %.3f s)",
                  seconds_since(replay_start), t_store, t_pools, t_allocations, t_admission);
    this->log("dhcp: lease store in " + config.dhcp.state_dir + ": " + std::to_string(store_->leases().size()) +
              " records (" + std::to_string(bound) + " bindings) replayed" + took +
              (rep.truncated_bytes ? ", torn tail of " + std::to_string(rep.truncated_bytes) + " bytes cut" : "") +
              "; " + std::to_string(placements) + " allocations, " +
              std::to_string(admissions_.admitted()) + " VMs admitted to the data plane");
    schedule_commit();  // a new IPv6 allocator key, if one was made
}

dhcp_service::~dhcp_service() = default;

void dhcp_service::log(std::string_view line) const {
    if (log_) {
        log_(line);
    } else {
        std::fprintf(stderr, "%.*s\n", int(line.size()), line.data());
    }
}

void dhcp_service::on_frame(uint16_t port, std::span<const uint8_t> frame, uint64_t now_s,
                            const dp::offload_info& offload) {
    actions_.clear();
    uint8_t copy[dp::k_frame_message_max];
    const size_t field = size_t{offload.csum_start} + offload.csum_offset;
    if (offload.needs_csum && offload.gso_type == dp::offload_info::gso_none && field + 2 <= frame.size() &&
        frame.size() <= sizeof copy) {
        // The checksum field holds the pseudo-header sum: add the data from csum_start
        // and store the complement, as the NIC would have (a local sender over a veth).
        std::memcpy(copy, frame.data(), frame.size());
        uint32_t sum = 0;
        for (size_t i = offload.csum_start; i < frame.size(); i += 2) {
            sum += uint32_t{copy[i]} << 8 | (i + 1 < frame.size() ? copy[i + 1] : 0u);
        }
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        uint16_t c = static_cast<uint16_t>(~sum);
        if (c == 0) c = 0xffff;  // UDP: zero means "no checksum" (RFC 768)
        copy[field] = static_cast<uint8_t>(c >> 8);
        copy[field + 1] = static_cast<uint8_t>(c);
        frame = std::span<const uint8_t>(copy, frame.size());
    }
    server_->on_frame(port, frame, now_s, actions_);
    handle(actions_);
    schedule_commit();
}

void dhcp_service::on_tick(uint64_t now_s) {
    if (lease_lines_suppressed_ && clock_s() != lease_lines_second_) flush_lease_lines();  // the storm ended
    book_->expire(now_s);
    schedule_commit();  // expired quarantine records are erased
    if (admissions_.expire_leases(now_s) > 0) schedule_publish();
}

void dhcp_service::schedule_commit() {
    // One request_commit per io_context turn: everything this turn appended (all the
    // frames of one drain of the punt rings) shares one fdatasync.
    if (commit_posted_ || store_->last_ticket() == requested_) return;
    commit_posted_ = true;
    std::weak_ptr<int> alive = alive_;
    boost::asio::post(io_, [this, alive] {
        if (!alive.lock()) return;
        commit_posted_ = false;
        requested_ = store_->last_ticket();
        store_->request_commit();
    });
}

void dhcp_service::when_durable(leases::ticket t, std::function<void(std::error_code)> done) {
    if (store_failure_) {
        done(store_failure_);
    } else if (t == 0 || store_->is_durable(t)) {
        done({});
    } else {
        durable_waiters_.emplace(t, std::move(done));
        schedule_commit();
    }
}

void dhcp_service::on_durable(leases::ticket d, std::error_code ec) {
    if (ec) store_failure_ = ec;
    // API replies waiting for the disk (allocations).
    while (!durable_waiters_.empty()) {
        const auto it = durable_waiters_.begin();
        const bool ok = it->first <= d;
        if (!ok && !ec) break;
        auto done = std::move(it->second);
        durable_waiters_.erase(it);
        done(ok ? std::error_code{} : ec);
    }
    actions_.clear();
    if (ec) {
        log("dhcp: lease store failed (" + ec.message() + "): nothing after ticket " + std::to_string(d) +
            " will be durable; held ACKs are dropped and no further ACK is sent");
        server_->on_persist_failed(store_->last_ticket(), actions_);
    } else {
        server_->on_durable(d, actions_);
    }
    handle(actions_);
}

void dhcp_service::handle(std::vector<dhcp::action>& actions) {
    for (auto& a : actions) {
        if (auto* s = std::get_if<dhcp::send_action>(&a)) {
            s->to.src_mac = port_mac_(s->port);
            uint8_t buf[dp::k_frame_message_max];
            const size_t len = dhcp::build_frame(buf, s->to, s->payload);
            if (len == 0) {
                ++frames_failed_;
                log("dhcp: a " + std::to_string(s->payload.size()) + "-byte reply does not fit a frame; dropped");
                continue;
            }
            send_(s->port, std::span<const uint8_t>(buf, len));
            ++frames_sent_;
        } else if (const auto* l = std::get_if<dhcp::lease_action>(&a)) {
            note_binding(*l);
        } else if (const auto* g = std::get_if<dhcp::log_action>(&a)) {
            log(std::string(g->level == dhcp::log_action::warning ? "dhcp: warning: " : "dhcp: ") + g->text);
        }
    }
    if (book_->store_errors() != store_errors_logged_) {
        store_errors_logged_ = book_->store_errors();
        log("dhcp: warning: " + book_->last_error() + " (the reply waiting for it is not sent)");
    }
}

void dhcp_service::note_binding(const dhcp::lease_action& a) {
    const dhcp::lease& l = a.l;
    const char* what = a.kind == dhcp::lease_action::bound      ? "bound"
                       : a.kind == dhcp::lease_action::released ? "released"
                                                                : "declined";
    if (lease_line_allowed()) {
        std::string line = "dhcp: " + ip_text(l.address) + " " + what + " (" + mac_text(l.mac);
        if (a.kind == dhcp::lease_action::bound) {
            line += l.expires_s == dhcp::k_infinite ? ", infinite" : ", until " + std::to_string(l.expires_s);
        }
        line += ")";
        log(line);
    }
    if (a.kind == dhcp::lease_action::bound) {
        if (!nat_) return;  // nothing to admit
        // An allocation's address keeps its vps_id as the name; else none, and
        // vm_admissions names the pair "dhcp-<mac>" if it takes a slot.
        const leases::lease* placed = store_->find_by_ipv4(l.address);
        const std::string_view name = placed && leases::store_lease_book::is_placement_key(placed->vps_id)
                                          ? std::string_view(placed->vps_id)
                                          : std::string_view{};
        admit(admitted_by_lease, l.mac, l.address, name, l.expires_s == dhcp::k_infinite ? 0 : l.expires_s);
    } else {
        withdraw(admitted_by_lease, l.mac, l.address);
    }
}

void dhcp_service::admit(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4, std::string_view name,
                         uint64_t expires_s, const dp::ipv6_bytes& ipv6) {
    if (!nat_ || static_pairs_.contains({mac, ipv4})) return;  // [[vms]]: admitted by the config
    if (static_ips_.contains(ipv4)) {
        log("dhcp: warning: " + ip_text(ipv4) + " is a [[vms]] address; not admitted for " + mac_text(mac));
        return;
    }
    switch (admissions_.admit(reason, mac, ipv4, name, expires_s, ipv6)) {
    case vm_admissions::result::admitted:
        if (restoring_) break;
        if (lease_line_allowed()) {
            const uint32_t slot = *admissions_.slot_of(mac, ipv4);
            log("dhcp: " + ip_text(ipv4) + " (" + mac_text(mac) + ", " + admissions_.slots()[slot].name +
                ") admitted to the data plane (NAT slot " + std::to_string(slot) + ")");
        }
        schedule_publish();
        break;
    case vm_admissions::result::unchanged:
        if (!restoring_ && admissions_.dirty()) schedule_publish();  // e.g. its IPv6 binding changed
        break;
    case vm_admissions::result::full:
        ++not_admitted_;
        if (restoring_ || !lease_line_allowed()) break;
        log("dhcp: warning: " + ip_text(ipv4) + " (" + mac_text(mac) + ") is not admitted to the data plane: " +
            std::to_string(admissions_.capacity()) + " runtime VMs (nat.max_vms) are in use or still have sessions");
        break;
    }
}

void dhcp_service::withdraw(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4) {
    if (!nat_) return;
    const bool was = admissions_.slot_of(mac, ipv4).has_value();
    if (admissions_.withdraw(reason, mac, ipv4) && was && !admissions_.slot_of(mac, ipv4)) {
        if (lease_line_allowed()) {
            log("dhcp: " + ip_text(ipv4) + " (" + mac_text(mac) + ") no longer admitted to the data plane");
        }
        schedule_publish();
    }
}

bool dhcp_service::lease_line_allowed() {
    const uint64_t now = clock_s();
    if (now != lease_lines_second_) {
        flush_lease_lines();
        lease_lines_second_ = now;
    }
    if (lease_lines_ < k_lease_lines_per_s) {
        ++lease_lines_;
        return true;
    }
    ++lease_lines_suppressed_;
    return false;
}

void dhcp_service::flush_lease_lines() {
    if (lease_lines_suppressed_) {
        log("dhcp: " + std::to_string(lease_lines_suppressed_) +
            " more lines of bindings, releases, declines and admissions in one second not logged one by one "
            "(edgegate_dhcp_* metrics count them)");
    }
    lease_lines_ = 0;
    lease_lines_suppressed_ = 0;
}

void dhcp_service::schedule_publish() {
    // One snapshot for everything changed meanwhile, however many bindings that is: at
    // the next turn, or k_publish_gap after the previous snapshot (a rebuild costs time
    // in proportion to the VMs and routes).
    if (publish_posted_ || !publish_) return;
    publish_posted_ = true;
    publish_timer_.expires_at(std::max(std::chrono::steady_clock::now(), last_publish_ + k_publish_gap));
    std::weak_ptr<int> alive = alive_;
    publish_timer_.async_wait([this, alive](boost::system::error_code ec) {
        if (ec || !alive.lock()) return;  // cancelled: the service is gone
        publish_posted_ = false;
        last_publish_ = std::chrono::steady_clock::now();
        if (admissions_.dirty() && publish_) publish_();
    });
}

void dhcp_service::set_data_plane(std::function<void()> publish, vm_admissions::busy_fn busy) {
    publish_ = std::move(publish);
    admissions_.set_busy(std::move(busy));
}

std::vector<runtime_vm> dhcp_service::runtime_vms() const {
    std::vector<runtime_vm> out;
    out.reserve(admissions_.slots().size());
    for (const auto& s : admissions_.slots()) out.push_back({s.name, s.mac, s.ipv4, s.reasons != 0, s.ipv6});
    return out;
}

void dhcp_service::published(const std::shared_ptr<const void>& token) { admissions_.published(token); }

std::vector<metrics::pool_stats> dhcp_service::pool_stats() const {
    std::vector<metrics::pool_stats> out;
    for (const auto& n : allocations_->networks()) {
        metrics::pool_stats p;
        p.network = ip_text(n.subnet) + "/" + std::to_string(n.prefix_len);
        p.port = n.port;
        for (const auto& [first, last] : pool_ranges_.at(n.id)) p.ranges.push_back(ip_text(first) + "-" + ip_text(last));
        if (const pools::ipv4_pool_set* set = book_->pool(n.id)) {
            p.total = set->total();
            p.used = set->used();
            p.quarantined = set->quarantined();
            p.available = set->available();
        }
        out.push_back(std::move(p));
    }
    return out;
}

metrics::dhcp_stats dhcp_service::dhcp_counters(uint64_t now_s) {
    using dhcp::counter;
    const dhcp::server& sv = *server_;
    metrics::dhcp_stats d;
    d.rx_discover = sv.count(counter::rx_discover);
    d.rx_request = sv.count(counter::rx_request);
    d.rx_decline = sv.count(counter::rx_decline);
    d.rx_release = sv.count(counter::rx_release);
    d.rx_inform = sv.count(counter::rx_inform);
    d.tx_offer = sv.count(counter::tx_offer);
    d.tx_ack = sv.count(counter::tx_ack);
    d.tx_nak = sv.count(counter::tx_nak);
    d.request_selecting = sv.count(counter::request_selecting);
    d.request_init_reboot = sv.count(counter::request_init_reboot);
    d.request_renewing = sv.count(counter::request_renewing);
    d.request_rebinding = sv.count(counter::request_rebinding);
    d.allocations = book_->new_bindings();
    d.bindings = sv.count(counter::leases_bound);
    d.releases = sv.count(counter::leases_released);
    d.declines = sv.count(counter::addresses_declined);
    d.pool_exhausted = sv.count(counter::pool_exhausted);
    // A scan of every record: at most once a second, however often /v1/stats or a
    // scraper asks (1M leases take tens of milliseconds of the control thread).
    const bool unchanged = store_->counters().appended == active_appended_ && now_s >= active_at_s_ &&
                           (active_until_s_ == 0 || now_s < active_until_s_);
    if (now_s != active_at_s_ && !unchanged) {
        active_ = book_->live_bindings(now_s);
        active_at_s_ = now_s;
        active_appended_ = ~uint64_t{0};  // good for this second only
    }
    d.leases_active = active_;
    d.replies_held = sv.held_replies();
    for (size_t r = 0; r < static_cast<size_t>(dhcp::drop_reason::count); ++r) {
        const auto reason = static_cast<dhcp::drop_reason>(r);
        d.drops.emplace_back(std::string(dhcp::to_string(reason)), sv.drops(reason));
    }
    return d;
}

metrics::lease_store_stats dhcp_service::lease_store_counters() const {
    const leases::lease_store::stats c = store_->counters();
    metrics::lease_store_stats l;
    l.journal_bytes = c.journal_bytes;
    l.written_bytes = c.written_bytes;
    l.records = c.appended;
    l.compactions = c.compactions;
    l.compaction_failures = c.compaction_failures;
    const auto& bounds = leases::journal_writer::k_fsync_buckets_s;
    l.fsync_bounds_s.assign(bounds.begin(), bounds.end());
    l.fsync_buckets.assign(c.fsync_buckets.begin(), c.fsync_buckets.end());
    l.fsync_seconds = c.fsync_seconds;
    return l;
}

allocations::outcome dhcp_service::create_allocation(std::string_view vps_id, std::string_view organization_id,
                                                     const dp::mac_bytes& mac, std::string_view network,
                                                     uint64_t now_s) {
    allocations::outcome o = allocations_->create(vps_id, organization_id, mac, network, now_s);
    if (o.error == allocations::errc::ok && o.created) {
        log("dhcp: allocation " + std::string(vps_id) + ": " + ip_text(o.record->ipv4) + " for " + mac_text(mac));
        admit(admitted_by_allocation, mac, o.record->ipv4, vps_id, 0, o.record->ipv6);
    }
    schedule_commit();
    return o;
}

allocations::outcome dhcp_service::remove_allocation(std::string_view vps_id) {
    allocations::outcome o = allocations_->remove(vps_id);
    if (o.error == allocations::errc::ok) {
        log("dhcp: allocation " + std::string(vps_id) + " deleted: " + ip_text(o.record->ipv4) + " is free");
        withdraw(admitted_by_allocation | admitted_by_lease, o.record->mac, o.record->ipv4);
    }
    schedule_commit();
    return o;
}

}  // namespace eg::ctl
