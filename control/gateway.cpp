#include "control/gateway.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <random>
#include <stdexcept>

#include "control/api/v1_endpoints.hpp"
#include "control/api/v1_wireguard.hpp"
#include "control/api/v1_proxy_ports.hpp"
#include "control/api/v1_allocations.hpp"
#include "control/api/v1_runtime_policies.hpp"
#include "control/config_reload.hpp"
#include "control/snapshot_builder.hpp"
#include "crypto/x25519_batch.hpp"
#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/memory/memory_port.hpp"
#include "dataplane/io/pcap/pcap_port.hpp"
#include "dataplane/io/uring/af_packet_port.hpp"
#include "dataplane/io/uring/tap_port.hpp"
#include "dataplane/nd.hpp"
#ifdef EG_WITH_DPDK
#include "dataplane/io/dpdk/dpdk_eal.hpp"
#include "dataplane/io/dpdk/dpdk_port.hpp"
#endif

namespace eg::ctl {

namespace {

constexpr uint32_t k_ring_slots = 1024;
constexpr uint32_t k_tick_ms = 100;
// The engine's MAC on the host TAP link when the config names none (locally administered).
constexpr dp::mac_bytes k_default_host_mac = {0x02, 0x65, 0x67, 0x00, 0x00, 0x01};

int make_eventfd() {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        throw std::runtime_error("eventfd failed");
    }
    return fd;
}

std::optional<dp::mac_bytes> read_sysfs_mac(const std::string& ifname) {
    std::ifstream f("/sys/class/net/" + ifname + "/address");
    std::string text;
    if (!(f >> text)) {
        return std::nullopt;
    }
    return cfg::parse_mac(text);
}

/// Runs an iproute2 command for the host side of the TAP (startup only).
void run_ip(const std::string& args) {
    const std::string cmd = "ip " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        throw std::runtime_error("cannot run: " + cmd);
    }
    std::string out;
    char buf[256];
    while (fgets(buf, sizeof buf, p)) {
        out += buf;
    }
    if (pclose(p) != 0) {
        throw std::runtime_error("host TAP setup failed: `" + cmd + "`: " + out);
    }
}

}  // namespace

uint64_t now_ms() { return dp::monotonic_ns() / 1'000'000; }

gateway::gateway(cfg::config config)
    : config_(std::move(config)),
      workers_count_(config_.workers.count),
      counters_(workers_count_),
      neighbours_(config_.neighbours.capacity),
      snapshots_(workers_count_) {
    punt_event_fd_ = make_eventfd();
    for (uint32_t w = 0; w < workers_count_; ++w) {
        punt_rings_.push_back(std::make_unique<dp::frame_ring>(k_ring_slots));
        inject_rings_.push_back(std::make_unique<dp::frame_ring>(k_ring_slots));
        inject_event_fds_.push_back(make_eventfd());
    }
    open_ports();
    if (config_.host.enabled) {
        configure_host_kernel();
    }
    if (!config_.wireguard.empty()) {
        wireguard_service::hooks h;
        h.originate = [this](std::span<const uint8_t> frame) { originate(frame); };
        h.wake = [this](uint32_t w) {
            uint64_t one = 1;
            [[maybe_unused]] auto r = write(inject_event_fds_[w], &one, sizeof one);
        };
        h.log = [](const std::string& line) { std::fprintf(stderr, "edgegated: %s\n", line.c_str()); };
        h.republish = [this] { publish_snapshot(); };
        h.idle_removed = [this](const cfg::wg_key& key) {
            if (wg_records_) wg_records_->forget(key);
        };
        // Initiations punted in one drain are answered together once it is done
        // (batched Diffie-Hellmans); a lone one costs the same as answering it at once.
        // Only where the batch is faster (AVX-512 IFMA): elsewhere it runs the same
        // libsodium calls one by one and wipes ~30 KB of scratch per flush, so without
        // the hook each initiation is answered on arrival.
        if (crypto::x25519_batch_default_path() == crypto::x25519_batch_path::ifma) {
            h.schedule_flush = [this] {
                boost::asio::post(io_, [this] {
                    if (wg_) wg_->flush_initiations();
                });
            };
        }
        wg_ = std::make_unique<wireguard_service>(config_.wireguard, workers_count_, std::move(h));
        share_networks_with_wireguard();
    }
    resolver_ = std::make_unique<neighbour_resolver>(
        neighbours_, config_.neighbours,
        [this](uint16_t port, std::span<const uint8_t> frame, const dp::offload_info& o) { inject(port, frame, o); });
    publish_snapshot();
    if (config_.dhcp.enabled) {
        // Opens and replays the lease store; throws naming the directory when it cannot.
        dhcp_ = std::make_unique<dhcp_service>(
            config_, io_, [this](uint16_t port) { return snapshots_.acquire()->port(port).mac; },
            [this](uint16_t port, std::span<const uint8_t> frame) { inject(port, frame, dp::offload_info{}); });
    }
    if (config_.proxy_ports.enabled) {
        // Restores (and stores) the assignments; the organizations' VMs get their ports.
        // Its API answers wait for the disk: through the DHCP service when they share
        // its store (which hears the store's reports), else through io_.
        proxy_ports_service::durability d{nullptr, &io_};
        if (dhcp_) {
            d.shared_when_durable = [this](leases::ticket t, proxy_ports_service::done_fn done) {
                dhcp_->when_durable(t, std::move(done));
            };
        }
        proxy_ports_ = std::make_unique<proxy_ports_service>(config_, dhcp_ ? &dhcp_->store() : nullptr,
                                                             proxy_ports_service::log_fn{}, std::move(d));
        publish_snapshot();
    }
    {
        // Forwards and egress policies set through the API live in the lease store of
        // [dhcp] or [proxy_ports]; without either there is no state directory and the
        // API refuses them. Restored ones are checked against this run's config.
        leases::lease_store* store = dhcp_ ? &dhcp_->store() : proxy_ports_ ? &proxy_ports_->store() : nullptr;
        runtime_ = std::make_unique<runtime_policy_service>(
            &config_, store, [](std::string_view line) { std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data()); });
        runtime_->restore(lookups());
        publish_snapshot();
        if (wg_) {
            // Runtime WireGuard peers in the same store, re-added after the config's peers
            // (which win a clash); without a store they are kept in memory only.
            wg_records_ = std::make_unique<wireguard_peer_records>(*wg_, store, [](std::string_view line) {
                std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
            });
            if (wg_records_->restore(config_.wireguard, dp::monotonic_ns()) != 0) publish_snapshot();
        }
    }
    if (config_.nat.enabled) {
        nat_log_ = std::make_unique<nat_log>(config_.nat.log_file);
        const dp::nat44_policy& policy = snapshots_.acquire()->nat;
        for (uint32_t w = 0; w < workers_count_; ++w) {
            nat_states_.push_back(std::make_unique<dp::nat44_state>(policy, w, config_.nat.max_sessions));
        }
    }
    if (dhcp_) {
        // Leases and allocations admit VMs to the data plane at runtime: a new snapshot
        // each time; a slot is reused only once no worker has sessions of it left.
        const size_t static_vms = config_.vms.size();
        dhcp_->set_data_plane([this] { publish_snapshot(); },
                              [this, static_vms](uint32_t slot) {
                                  return std::any_of(nat_states_.begin(), nat_states_.end(), [&](const auto& st) {
                                      return st->vm_sessions_live(static_cast<uint32_t>(static_vms + slot)) != 0;
                                  });
                              });
        publish_snapshot();  // with the bindings the lease store replayed
    }
    for (uint32_t w = 0; w < workers_count_; ++w) {
        dp::worker_options o;
        o.id = w;
        o.core = config_.workers.cores.empty() ? -1 : static_cast<int>(config_.workers.cores[w]);
        o.burst_size = config_.workers.burst_size;
        o.idle = {config_.workers.idle_poll_us, config_.workers.idle_nap_us, config_.workers.idle_nap_min_pps,
                  config_.workers.idle_nap_min_mbps};
        o.icmp_errors_per_second = config_.icmp.errors_per_second;
        std::vector<dp::port_io*> ports;
        for (auto& p : worker_ports_[w]) {
            ports.push_back(p.get());
        }
        workers_.push_back(std::make_unique<dp::worker>(o, std::move(ports), snapshots_, neighbours_, *punt_rings_[w],
                                                        *inject_rings_[w], punt_event_fd_, inject_event_fds_[w],
                                                        counters_[w]));
        if (!nat_states_.empty()) {
            workers_.back()->set_nat(nat_states_[w].get());
        }
        if (wg_) {
            workers_.back()->set_wireguard(wg_->worker_state(w));
        }
    }
    if ((!nat_states_.empty() || wg_) && workers_count_ > 1) {
        // Return traffic and a VM socket's flows belong to one worker each; the rare
        // packet that arrives elsewhere is handed over (dataplane/handoff.hpp).
        std::vector<const std::atomic<bool>*> asleep;
        for (auto& wk : workers_) {
            asleep.push_back(&wk->asleep());
        }
        handoff_ = std::make_unique<dp::handoff_mesh>(workers_count_, inject_event_fds_, asleep);
        for (uint32_t w = 0; w < workers_count_; ++w) {
            workers_[w]->set_handoff(&handoff_->links(w));
        }
    }
}

gateway::~gateway() {
    stop_workers_ = true;
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    workers_.clear();
    worker_ports_.clear();
#ifdef EG_WITH_DPDK
    dpdk_ports_.clear();
    dpdk_env_.reset();
#endif
    pools_.clear();
    close(punt_event_fd_);
    for (int fd : inject_event_fds_) {
        close(fd);
    }
}

void gateway::share_networks_with_wireguard() {
    // Runtime peers may not claim the gateway's networks or static routes; a client
    // config the gateway writes routes the VM networks to it.
    std::vector<std::pair<cfg::ip_prefix, std::string>> reserved, routes;
    std::vector<cfg::ip_prefix> vm_networks;
    for (const auto& p : config_.ports) {
        for (const auto* family : {&p.ipv4, &p.ipv6}) {
            for (const cfg::ip_prefix& a : *family) {
                const cfg::ip_prefix net = cfg::network_of(a);
                reserved.emplace_back(net, cfg::to_string(net) + " of port " + p.name);
                if (p.role == cfg::port_role::vm) {
                    vm_networks.push_back(net);
                }
            }
        }
    }
    for (const auto& r : config_.routes) {
        routes.emplace_back(r.prefix, "a [[routes]] prefix");
    }
    wg_->set_networks(std::move(reserved), std::move(routes), std::move(vm_networks));
}

void gateway::open_ports() {
    const auto& ports = config_.ports;
    const bool dpdk = !ports.empty() && ports.front().backend == cfg::backend_kind::dpdk;
    for (const auto& p : ports) {
        if ((p.backend == cfg::backend_kind::dpdk) != dpdk) {
            throw std::runtime_error("ports." + p.name +
                                     ": the dpdk backend cannot be mixed with others (one allocator family per engine)");
        }
    }
    worker_ports_.resize(workers_count_);
    const uint16_t host_index = static_cast<uint16_t>(ports.size());
    const dp::mac_bytes host_mac = config_.host.mac.value_or(k_default_host_mac);
    if (dpdk) {
#ifdef EG_WITH_DPDK
        dp::dpdk_eal_options eo;
        eo.eal_args = config_.dpdk.eal_args;
        eo.workers = workers_count_;
        eo.mbufs_per_pool = config_.dpdk.mbufs;
        dpdk_env_ = std::make_unique<dp::dpdk_environment>(eo);
        auto open = [&](const std::string& devargs, uint32_t mtu) {
            dp::dpdk_port_options po;
            po.devargs = devargs;
            po.mtu = static_cast<uint16_t>(mtu);
            po.rx_descriptors = static_cast<uint16_t>(config_.dpdk.rx_descriptors);
            po.tx_descriptors = static_cast<uint16_t>(config_.dpdk.tx_descriptors);
            dpdk_ports_.push_back(std::make_unique<dp::dpdk_port>(*dpdk_env_, po));
            port_macs_.push_back(dpdk_ports_.back()->mac());
        };
        for (const auto& p : ports) {
            open(p.interface, p.mtu);
        }
        if (config_.host.enabled) {
            open("net_tap_eg0,iface=" + config_.host.interface, 0);
        }
        for (uint32_t w = 0; w < workers_count_; ++w) {
            for (size_t i = 0; i < dpdk_ports_.size(); ++i) {
                worker_ports_[w].push_back(dpdk_ports_[i]->open_queue(static_cast<uint16_t>(w), static_cast<uint16_t>(i)));
            }
        }
        if (config_.host.enabled) {
            // net_tap reports the kernel side's MAC as its own; the engine must use a
            // different one on that link, which is fine: the TAP is point-to-point.
            host_kernel_mac_ = port_macs_.back();
            port_macs_.back() = host_mac;
        }
        return;
#else
        throw std::runtime_error("this edgegated was built without the dpdk backend (EG_WITH_DPDK=OFF)");
#endif
    }
    for (uint32_t w = 0; w < workers_count_; ++w) {
        dp::buffer_pool_options bo;
        const uint32_t ports_n = static_cast<uint32_t>(ports.size() + (config_.host.enabled ? 1 : 0));
        // Packets between receive and send completion: a few bursts per port, the host
        // TAP's reads in flight, injected frames. (Received frames wait in each port's
        // kernel-shared ring, not here; an empty pool only delays the next receive.)
        bo.count = 4 * dp::k_max_burst * ports_n + 64 + 1024;
        bo.buffer_size = config_.uring.buffer_size;
        pools_.push_back(std::make_unique<dp::buffer_pool>(bo));
        dp::buffer_pool& pool = *pools_.back();
        for (size_t i = 0; i < ports.size(); ++i) {
            const auto& pc = ports[i];
            const uint16_t idx = static_cast<uint16_t>(i);
            std::unique_ptr<dp::port_io> io;
            switch (pc.backend) {
            case cfg::backend_kind::uring: {
                dp::af_packet_options o;
                o.interface = pc.interface;
                o.port_index = idx;
                o.ring_entries = config_.uring.ring_entries;
                o.rx_buffers = config_.uring.rx_buffers;
                o.fanout_workers = static_cast<uint16_t>(workers_count_);
                io = dp::open_af_packet_port(o, pool);
                break;
            }
            case cfg::backend_kind::pcap: {
                dp::pcap_port_options o;
                o.input_path = w == 0 ? pc.pcap_input : "";
                o.output_path = pc.pcap_output.empty() ? "" : pc.pcap_output + (w ? "." + std::to_string(w) : "");
                o.port_index = idx;
                o.mac = pc.mac.value_or(dp::mac_bytes{0x02, 0, 0, 0, 0, static_cast<uint8_t>(i + 1)});
                io = dp::open_pcap_port(o, pool);
                break;
            }
            case cfg::backend_kind::memory: {
                dp::memory_port_options o;
                o.port_index = idx;
                o.mac = pc.mac.value_or(dp::mac_bytes{0x02, 0, 0, 0, 0, static_cast<uint8_t>(i + 1)});
                o.tx_sink = true;
                io = std::make_unique<dp::memory_port>(o, pool);
                break;
            }
            case cfg::backend_kind::dpdk:
                break;
            }
            if (w == 0) {
                port_macs_.push_back(pc.mac.value_or(io->mac()));
            }
            worker_ports_[w].push_back(std::move(io));
        }
        if (config_.host.enabled) {
            dp::tap_options o;
            o.name = config_.host.interface;
            o.port_index = host_index;
            o.mac = host_mac;
            o.ring_entries = 256;
            o.rx_buffers = 64;
            o.queues = static_cast<uint16_t>(workers_count_);
            worker_ports_[w].push_back(dp::open_tap_port(o, pool));
            if (w == 0) {
                port_macs_.push_back(host_mac);
            }
        }
    }
    if (config_.host.enabled) {
        host_kernel_mac_ = read_sysfs_mac(config_.host.interface).value_or(dp::mac_bytes{});
    }
}

void gateway::configure_host_kernel() {
    // The host kernel reaches everything through the engine: our addresses sit on the
    // TAP as host addresses, and the connected prefixes and configured routes point at
    // the TAP on-link (the engine answers ARP/ND for every address there).
    const std::string dev = config_.host.interface;
    run_ip("link set dev " + dev + " up");
    for (const auto& p : config_.ports) {
        for (const auto& a : p.ipv4) {
            run_ip("addr replace " + cfg::to_string(a.addr) + "/32 dev " + dev);
        }
        for (const auto& a : p.ipv6) {
            run_ip("-6 addr replace " + cfg::to_string(a.addr) + "/128 dev " + dev + " nodad");
        }
    }
    auto masked = [](cfg::ip_prefix pfx) {
        for (uint32_t i = 0; i < 16; ++i) {
            const uint32_t bits = pfx.length > i * 8 ? std::min<uint32_t>(8, pfx.length - i * 8) : 0;
            pfx.addr.bytes[i] &= static_cast<uint8_t>(bits ? 0xff << (8 - bits) : 0);
        }
        return pfx;
    };
    // Each route carries the source address of the port it leaves through (`src`), so
    // the host's own connections to the internet leave from the uplink's address (which
    // comes back to it), not from whichever address the TAP happens to list first.
    auto source_of = [&](const cfg::port_config& p, bool v6) -> std::string {
        const auto& addrs = v6 ? p.ipv6 : p.ipv4;
        return addrs.empty() ? "" : " src " + cfg::to_string(addrs.front().addr);
    };
    for (const auto& p : config_.ports) {
        for (const auto& a : p.ipv4) {
            run_ip("route replace " + cfg::to_string(masked(a)) + " dev " + dev + source_of(p, false));
        }
        for (const auto& a : p.ipv6) {
            run_ip("-6 route replace " + cfg::to_string(masked(a)) + " dev " + dev + source_of(p, true));
        }
    }
    for (const auto& r : config_.routes) {
        const bool v6 = r.prefix.addr.v6;
        std::string src;
        for (const auto& p : config_.ports) {
            const bool egress = r.via ? std::any_of((v6 ? p.ipv6 : p.ipv4).begin(), (v6 ? p.ipv6 : p.ipv4).end(),
                                                    [&](const cfg::ip_prefix& a) { return cfg::contains(a, *r.via); })
                                      : p.name == r.port;
            if (egress && src.empty()) {
                src = source_of(p, v6);
            }
        }
        run_ip(std::string(v6 ? "-6 " : "") + "route replace " + cfg::to_string(r.prefix) + " dev " + dev + src);
    }
}

void gateway::publish_snapshot() {
    std::vector<port_runtime_info> info;
    for (const auto& m : port_macs_) {
        info.push_back({m});
    }
    // VMs admitted at runtime (DHCP leases, API allocations) ride along; the DHCP
    // service learns which snapshot has them (slot reuse waits for its retirement).
    std::vector<runtime_vm> runtime;
    if (dhcp_) runtime = dhcp_->runtime_vms();
    auto next = build_snapshot(config_, info, host_kernel_mac_, ++generation_, runtime);
    if (proxy_ports_) {
        proxy_ports_->apply(next->nat);  // runtime proxy-port assignments over the config's
    }
    if (runtime_) {
        // The API's forwards and egress policies over the config's (an allocation's
        // policy goes with the allocation).
        if (dhcp_) runtime_->prune(lookups());
        runtime_->table().apply(next->nat, config_.vms.size());
        if (proxy_ports_) {
            // Every runtime change publishes: [proxy_ports] learns at once which ports
            // runtime VMs use, and keeps them from organizations.
            proxy_ports_->set_runtime_ports(runtime_->table().proxy_ports_in_use());
        }
    }
    if (wg_) {
        wg_->contribute(*next);  // tunnels, peers and their allowed IPs as routes
    }
    const std::shared_ptr<const void> token = next->nat.retire_token;
    snapshots_.publish(std::move(next));
    if (dhcp_) dhcp_->published(token);
}

void gateway::originate(std::span<const uint8_t> frame) {
    dp::frame_ring& ring = *inject_rings_[0];
    dp::frame_message* m = ring.reserve();
    if (!m || frame.size() > dp::k_frame_message_max) {
        ++inject_drops_;
        return;
    }
    m->kind = dp::frame_message::originate;
    m->port = 0;
    m->len = static_cast<uint16_t>(frame.size());
    m->offload = dp::offload_info{};
    std::memcpy(m->data, frame.data(), frame.size());
    ring.commit();
    uint64_t one = 1;
    [[maybe_unused]] auto r = write(inject_event_fds_[0], &one, sizeof one);
}

void gateway::inject(uint16_t port, std::span<const uint8_t> frame, const dp::offload_info& offload) {
    // Control-plane frames go out through worker 0 (any worker can send on any port).
    dp::frame_ring& ring = *inject_rings_[0];
    dp::frame_message* m = ring.reserve();
    if (!m || frame.size() > dp::k_frame_message_max) {
        ++inject_drops_;  // the control thread's own counter: workers' counters have one writer each
        return;
    }
    m->kind = dp::frame_message::learn;  // on the inject ring: transmit as it is
    m->port = port;
    m->len = static_cast<uint16_t>(frame.size());
    m->offload = offload;
    std::memcpy(m->data, frame.data(), frame.size());
    ring.commit();
    // One eventfd write for all the frames of this turn (a burst of DHCP replies is
    // hundreds), not one system call and worker wake-up per frame.
    if (!inject_wake_posted_) {
        inject_wake_posted_ = true;
        boost::asio::post(io_, [this] { wake_injector(); });
    }
}

void gateway::wake_injector() {
    inject_wake_posted_ = false;
    uint64_t one = 1;
    [[maybe_unused]] auto r = write(inject_event_fds_[0], &one, sizeof one);
}

void gateway::drain_punts() {
    const dp::snapshot& s = *snapshots_.acquire();  // control thread: never reclaimed under it
    const uint64_t now = now_ms();
    for (auto& ring : punt_rings_) {
        for (int budget = 4096; budget > 0; --budget) {
            dp::frame_message* m = ring->front();
            if (!m) {
                break;
            }
            if (m->kind == dp::frame_message::dhcp) {
                on_dhcp_frame(*m, s, now);
            } else if (m->kind == dp::frame_message::wireguard) {
                if (wg_) wg_->on_frame(*m, dp::monotonic_ns());
            } else if (m->kind == dp::frame_message::wireguard_event) {
                dp::wg_event e;
                if (wg_ && m->len == sizeof e) {
                    std::memcpy(&e, m->data, sizeof e);
                    wg_->on_event(e, dp::monotonic_ns());
                }
            } else {
                resolver_->on_punted(*m, s, now);
            }
            ring->pop();
        }
    }
}

void gateway::on_dhcp_frame(const dp::frame_message& m, const dp::snapshot&, uint64_t) {
    if (!dhcp_) {
        ++dhcp_frames_unhandled_;  // punted by a snapshot from before the service existed
        return;
    }
    dhcp_->on_frame(m.port, std::span<const uint8_t>(m.data, m.len), dhcp_service::clock_s(), m.offload);
}

void gateway::arm_punt_wait() {
    punt_wait_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
        if (ec) {
            return;
        }
        uint64_t v;
        [[maybe_unused]] auto r = read(punt_event_fd_, &v, sizeof v);
        drain_punts();
        arm_punt_wait();
    });
}

void gateway::on_tick() {
    drain_punts();  // in case a wake-up was coalesced away
    resolver_->on_tick(*snapshots_.acquire(), now_ms());
    drain_nat_events();
    if (wg_) {
        wg_->on_tick(dp::monotonic_ns());
    }
    if (dhcp_) {
        dhcp_->on_tick(dhcp_service::clock_s());
    }
    snapshots_.reclaim();
    tick_timer_.expires_after(std::chrono::milliseconds(k_tick_ms));
    tick_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            on_tick();
        }
    });
}

void gateway::send_router_advertisements() {
    // RFC 4861 §6.2.4: unsolicited advertisements at a random interval in
    // [0.75, 1] x interval (MinRtrAdvInterval defaults to 0.75 x MaxRtrAdvInterval).
    static std::minstd_rand rng(static_cast<uint32_t>(now_ms()));
    const dp::snapshot& s = *snapshots_.acquire();
    uint32_t next_s = 600;
    uint8_t frame[1514];
    for (const auto& p : s.ports) {
        if (!p.ra.enabled) {
            continue;
        }
        const uint32_t len = dp::build_router_advertisement(frame, p, nullptr, nullptr);
        inject(p.index, std::span<const uint8_t>(frame, len), dp::offload_info{});
        next_s = std::min(next_s, p.ra.interval_s);
    }
    const uint32_t ms = next_s * 1000 * 3 / 4 + rng() % (next_s * 1000 / 4 + 1);
    ra_timer_.expires_after(std::chrono::milliseconds(ms));
    ra_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            send_router_advertisements();
        }
    });
}

void gateway::drain_nat_events() {
    if (!nat_log_) {
        return;
    }
    // Workers stamp events with monotonic seconds; the log wants wall-clock time.
    const int64_t offset = static_cast<int64_t>(std::time(nullptr)) -
                           static_cast<int64_t>(dp::monotonic_ns() / 1'000'000'000ULL);
    const dp::nat44_policy& policy = snapshots_.acquire()->nat;
    for (auto& st : nat_states_) {
        nat_log_->drain(st->events(), policy, offset);
    }
}

void gateway::arm_reload_signal() {
    reload_signal_.async_wait([this](boost::system::error_code ec, int) {
        if (ec) {
            return;
        }
        const api::reload_outcome o = reload();
        std::string lines;
        for (const auto& l : o.lines) lines += "\n  " + l;
        if (o.result == api::reload_outcome::kind::applied) {
            std::fprintf(stderr, "edgegated: reloaded %s (snapshot %" PRIu64 ")%s\n", config_.source_path.c_str(),
                         generation_, lines.c_str());
        } else {
            const char* why = o.result == api::reload_outcome::kind::invalid         ? "the file is invalid"
                              : o.result == api::reload_outcome::kind::needs_restart ? "changes that need a restart"
                                                                                      : "runtime entries would clash";
            std::fprintf(stderr, "edgegated: reload of %s refused, nothing changed: %s:%s\n", config_.source_path.c_str(),
                         why, lines.c_str());
        }
        arm_reload_signal();
    });
}

api::reload_outcome gateway::reload() {
    api::reload_outcome o;
    const cfg::load_result r = cfg::load_file(config_.source_path);
    if (!r.value) {
        o.result = api::reload_outcome::kind::invalid;
        for (const auto& e : r.errors) o.lines.push_back(e.to_string());
        return o;
    }
    const cfg::config& next = *r.value;
    const reload_plan plan = plan_reload(config_, next);
    if (!plan.needs_restart.empty()) {
        o.result = api::reload_outcome::kind::needs_restart;
        for (const auto& l : plan.needs_restart) o.lines.push_back(l + " changed");
        return o;
    }
    if (runtime_) {
        // The API's entries must still hold beside the new file (a new config forward
        // on a runtime forward's port, a dedicated address now a VM's in the file).
        runtime_policies check = runtime_->table();
        check.set_config(&next);
        if (auto problems = check.recheck(lookups()); !problems.empty()) {
            o.result = api::reload_outcome::kind::conflict;
            o.lines = std::move(problems);
            return o;
        }
    }
    if (wg_) {
        // Runtime WireGuard peers too: one whose allowed IP the new file routes elsewhere
        // would work until the next restart and then be dropped.
        if (auto problems = runtime_peer_route_clashes(wg_->status(dp::monotonic_ns()), config_.wireguard, next.routes);
            !problems.empty()) {
            o.result = api::reload_outcome::kind::conflict;
            o.lines = std::move(problems);
            return o;
        }
    }
    // Workers keep their sessions: forwards are stateless, routes and the VMs' egress
    // are read per packet from the snapshot (a session keeps the mapping it has).
    // (Routes removed from the file stay in the host kernel's table on the TAP until
    // a restart; new ones are added.)
    config_.routes = next.routes;
    config_.nat.forwards = next.nat.forwards;
    config_.vms = next.vms;
    if (config_.host.enabled) {
        configure_host_kernel();
    }
    if (wg_) {
        share_networks_with_wireguard();  // it checks runtime peers against the routes
    }
    publish_snapshot();
    ++config_generation_;
    o.lines = plan.applies;
    o.generation = config_generation_;
    return o;
}

allocation_lookup gateway::lookups() const {
    allocation_lookup a;
    if (dhcp_) {
        const dhcp_service* d = dhcp_.get();
        a.address_of = [d](std::string_view vps_id) -> std::optional<uint32_t> {
            const leases::lease* rec = d->allocs().find(vps_id);
            return rec ? std::optional<uint32_t>(rec->ipv4) : std::nullopt;
        };
        a.holds = [d](uint32_t ipv4) {
            const leases::lease* rec = d->store().find_by_ipv4(ipv4);
            return rec != nullptr && leases::store_lease_book::is_placement_key(rec->vps_id);
        };
    }
    if (proxy_ports_) {
        const proxy_ports_service* pp = proxy_ports_.get();
        // Organizations and unmanaged config VMs; runtime VMs may share a port.
        a.proxy_port_holder = [pp](uint16_t port) { return pp->table().holder_of(port, false); };
    }
    return a;
}

void gateway::when_durable(leases::ticket t, std::function<void(std::error_code)> done) {
    if (dhcp_) {
        dhcp_->when_durable(t, std::move(done));  // joins DHCP's group commit
        return;
    }
    // [proxy_ports]' own store and no DHCP on this control thread to stall: wait here.
    done(proxy_ports_ ? proxy_ports_->store().commit().ec : std::error_code{});
}

totals gateway::sum_counters() const {
    totals t;
    t.drops_by_reason.assign(dp::k_drop_reason_count, 0);
    for (const auto& c : counters_) {
        for (uint32_t p = 0; p < dp::k_max_ports; ++p) {
            t.rx_packets += c.ports[p].rx_packets.get();
            t.tx_packets += c.ports[p].tx_packets.get();
            t.rx_bytes += c.ports[p].rx_bytes.get();
            t.tx_bytes += c.ports[p].tx_bytes.get();
        }
        for (uint32_t r = 1; r < dp::k_drop_reason_count; ++r) {
            t.drops_by_reason[r] += c.drops[r].get();
            t.drops += c.drops[r].get();
        }
        t.forwarded4 += c.forwarded_ipv4.get();
        t.forwarded6 += c.forwarded_ipv6.get();
        t.punted += c.punted.get();
        t.to_host += c.to_host.get();
        t.nat_created += c.nat_sessions_created.get();
        t.nat_expired += c.nat_sessions_expired.get();
        t.nat_translated += c.nat_translated.get();
        t.nat_handed_off += c.nat_handed_off.get();
    }
    for (const auto& st : nat_states_) {
        t.nat_sessions += st->table().size();
    }
    t.drops_by_reason[dp::reason_index(dp::drop_reason::inject_ring_full)] += inject_drops_;
    t.drops += inject_drops_;
    return t;
}

void gateway::collect_backend_drops() {
    for (auto& ports : worker_ports_) {
        for (auto& p : ports) {
            backend_drops_ += p->take_backend_drops();
        }
    }
}

void gateway::print_status() {
    collect_backend_drops();
    totals t = sum_counters();
    t.backend_drops = backend_drops_;
    const uint64_t now = now_ms();
    const double secs = last_status_ms_ ? (now - last_status_ms_) / 1000.0 : 0;
    auto rate = [&](uint64_t cur, uint64_t prev) { return secs > 0 ? (cur - prev) / secs : 0.0; };
    std::fprintf(stderr,
                 "status: rx=%" PRIu64 " (%.0f pps) tx=%" PRIu64 " (%.0f pps) fwd4=%" PRIu64 " fwd6=%" PRIu64
                 " to_host=%" PRIu64 " punted=%" PRIu64 " drops=%" PRIu64 " backend_drops=%" PRIu64 " neighbours=%zu\n",
                 t.rx_packets, rate(t.rx_packets, last_totals_.rx_packets), t.tx_packets,
                 rate(t.tx_packets, last_totals_.tx_packets), t.forwarded4, t.forwarded6, t.to_host, t.punted, t.drops,
                 t.backend_drops, resolver_->entries());
    if (!nat_states_.empty()) {
        std::fprintf(stderr,
                     "nat: translated=%" PRIu64 " (%.0f pps) records=%" PRIu64 " created=%" PRIu64 " expired=%" PRIu64
                     " handed_off=%" PRIu64 "\n",
                     t.nat_translated, rate(t.nat_translated, last_totals_.nat_translated), t.nat_sessions,
                     t.nat_created, t.nat_expired, t.nat_handed_off);
    }
    if (wg_) {
        const auto& hc = wg_->counters();
        uint64_t enc = 0, dec = 0, staged = 0;
        for (const auto& c : counters_) {
            enc += c.wg_encrypted.get();
            dec += c.wg_decrypted.get();
            staged += c.wg_staged.get();
        }
        std::fprintf(stderr,
                     "wireguard: peers=%zu handshakes=%" PRIu64 " encrypted=%" PRIu64 " decrypted=%" PRIu64
                     " staged=%" PRIu64 " cookies_sent=%" PRIu64 " rejected=%" PRIu64 "\n",
                     wg_->peer_count(), hc.completed, enc, dec, staged, hc.cookie_replies_sent,
                     hc.invalid_mac1 + hc.rate_limited + hc.unknown_peer + hc.rejected + hc.malformed);
    }
    // The three largest drop reasons, so a glance at the log says why.
    std::vector<std::pair<uint64_t, uint32_t>> top;
    for (uint32_t r = 1; r < dp::k_drop_reason_count; ++r) {
        if (t.drops_by_reason[r]) {
            top.emplace_back(t.drops_by_reason[r], r);
        }
    }
    std::sort(top.rbegin(), top.rend());
    if (!top.empty()) {
        std::string line = "drops:";
        for (size_t i = 0; i < top.size() && i < 3; ++i) {
            const auto reason = static_cast<dp::drop_reason>(top[i].second);
            line += " " + std::string(dp::drop_stage(reason)) + "/" + std::string(dp::drop_text(reason)) + "=" +
                    std::to_string(top[i].first);
        }
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    last_totals_ = t;
    last_status_ms_ = now;
    status_timer_.expires_after(std::chrono::seconds(config_.gateway.status_interval_s));
    status_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            print_status();
        }
    });
}

void gateway::stop() {
    boost::asio::post(io_, [this] { io_.stop(); });
}

metrics::gateway_stats gateway::stats() {
    collect_backend_drops();
    const totals t = sum_counters();
    metrics::gateway_stats s;
    const size_t ports = config_.ports.size() + (config_.host.enabled ? 1 : 0);
    for (size_t p = 0; p < ports && p < dp::k_max_ports; ++p) {
        metrics::port_stats ps;
        ps.name = p < config_.ports.size() ? config_.ports[p].name : "host";
        for (const auto& c : counters_) {
            ps.rx_packets += c.ports[p].rx_packets.get();
            ps.rx_bytes += c.ports[p].rx_bytes.get();
            ps.tx_packets += c.ports[p].tx_packets.get();
            ps.tx_bytes += c.ports[p].tx_bytes.get();
        }
        s.ports.push_back(std::move(ps));
    }
    s.drops_by_reason = t.drops_by_reason;
    s.forwarded_ipv4 = t.forwarded4;
    s.forwarded_ipv6 = t.forwarded6;
    s.punted = t.punted;
    s.to_host = t.to_host;
    s.backend_drops = backend_drops_;
    s.nat_sessions_active = t.nat_sessions;
    s.nat_sessions_created = t.nat_created;
    s.nat_sessions_expired = t.nat_expired;
    s.nat_translated = t.nat_translated;
    s.neighbours = resolver_->entries();
    s.uptime_ms = now_ms() - started_ms_;
    if (wg_) {
        s.wireguard = true;
        const uint64_t now_wall_s = static_cast<uint64_t>(std::time(nullptr));
        for (const auto& p : wg_->status(dp::monotonic_ns())) {
            metrics::wireguard_peer_stats w;
            w.tunnel = p.tunnel;
            w.peer = p.name;
            w.rx_bytes = p.rx_bytes;
            w.tx_bytes = p.tx_bytes;
            w.handshakes = p.handshakes;
            w.last_handshake_age_s =
                p.last_handshake_unix_s ? static_cast<double>(now_wall_s - std::min(now_wall_s, p.last_handshake_unix_s)) : -1;
            w.healthy = p.healthy;
            w.drop_not_allowed = p.drop_not_allowed;
            w.drop_replayed = p.drop_replayed;
            w.drop_auth = p.drop_auth;
            w.drop_no_keypair = p.drop_no_keypair;
            s.wireguard_peers.push_back(std::move(w));
        }
        const auto& c = wg_->counters();
        s.wireguard_handshakes = {c.initiations_received, c.responses_received, c.cookie_replies_received,
                                  c.initiations_sent,     c.responses_sent,     c.cookie_replies_sent,
                                  c.completed,            c.invalid_mac1,       c.rate_limited,
                                  c.unknown_peer,         c.rejected,           c.malformed};
    }
    if (prober_) {
        s.probes = prober_->status();
    }
    s.vms_configured = config_.vms.size();
    s.vm_capacity = config_.nat.enabled ? std::max<uint64_t>(config_.nat.max_vms, config_.vms.size()) : 0;
    if (dhcp_) {
        s.pools = dhcp_->pool_stats();
        s.vms_runtime = dhcp_->admissions().admitted();
        s.allocations = dhcp_->allocs().count();
        s.dhcp = true;
        s.dhcp_counters = dhcp_->dhcp_counters(dhcp_service::clock_s());
        s.lease_store = dhcp_->lease_store_counters();
    }
    return s;
}

std::optional<metrics::gateway_stats> gateway::stats_from_any_thread(std::chrono::milliseconds wait) {
    // The exposer's thread must not read the control thread's state (resolver, backend
    // drop tallies) itself: it posts the whole read there and takes back a copy.
    if (!control_loop_running_.load()) {
        return std::nullopt;
    }
    auto done = std::make_shared<std::promise<metrics::gateway_stats>>();
    std::future<metrics::gateway_stats> result = done->get_future();
    boost::asio::post(io_, [this, done] {
        try {
            done->set_value(stats());
        } catch (...) {
            done->set_exception(std::current_exception());
        }
    });
    const auto deadline = std::chrono::steady_clock::now() + wait;
    // Short slices: a loop that stops meanwhile never runs the handler, and the scrape
    // (and the exposer's shutdown, which waits for it) should not sit out all of `wait`.
    while (result.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
        if (!control_loop_running_.load() || std::chrono::steady_clock::now() > deadline) {
            return std::nullopt;
        }
    }
    try {
        return result.get();
    } catch (...) {
        return std::nullopt;
    }
}

void gateway::start_proxy_ports() {
    if (!proxy_ports_ || !config_.probes.enabled) {
        return;
    }
    const cfg::probes_config& pc = config_.probes;
    probes::prober_options o;
    const auto& up = config_.nat.proxy.upstream->bytes;
    o.upstream = boost::asio::ip::address_v4({up[0], up[1], up[2], up[3]});
    o.url = *probes::parse_probe_url(pc.url);  // validated with the config
    if (pc.expect_address) {
        o.expect_address = cfg::to_string(*pc.expect_address);
    }
    o.schedule = {pc.interval_ms, pc.jitter_pct, pc.max_per_second};
    o.timeout_ms = pc.timeout_ms;
    o.rise = pc.rise;
    o.fall = pc.fall;
    prober_ = std::make_unique<probes::prober>(io_, std::move(o));
    prober_->set_targets(proxy_ports_->targets());
    std::fprintf(stderr, "edgegated: probing %zu proxy port(s) on %s every %u ms\n", proxy_ports_->targets().size(),
                 cfg::to_string(*config_.nat.proxy.upstream).c_str(), pc.interval_ms);
}

void gateway::start_control_services() {
    started_ms_ = now_ms();
    if (proxy_ports_) {
        // An API change publishes a snapshot (the organization's VMs use the new port)
        // and updates the probe targets.
        proxy_ports_->on_change([this] {
            publish_snapshot();
            if (prober_) {
                prober_->set_targets(proxy_ports_->targets());
            }
        });
        start_proxy_ports();
    }
    const auto endpoint = [](const cfg::listen_address& l) {
        boost::asio::ip::address a;
        if (l.address.v6) {
            boost::asio::ip::address_v6::bytes_type b;
            std::copy(l.address.bytes.begin(), l.address.bytes.end(), b.begin());
            a = boost::asio::ip::address_v6(b);
        } else {
            a = boost::asio::ip::address_v4({l.address.bytes[0], l.address.bytes[1], l.address.bytes[2],
                                             l.address.bytes[3]});
        }
        return boost::asio::ip::tcp::endpoint(a, l.port);
    };
    if (config_.api.enabled) {
        api::router routes;
        api::add_v1_read_endpoints(routes, api::v1_sources{&config_, [this] { return stats(); },
                                                           [this] { return now_ms() - started_ms_; }, k_version,
                                                           [this] { return config_generation_; }});
        api::add_v1_runtime_policy_endpoints(
            routes, api::runtime_policy_sources{runtime_.get(), &config_, [this] { return lookups(); },
                                                [this] { publish_snapshot(); },
                                                [this](leases::ticket t, std::function<void(std::error_code)> done) {
                                                    when_durable(t, std::move(done));
                                                }});
        api::add_v1_reload_endpoint(routes, [this] { return reload(); });
        if (wg_) {
            api::add_v1_wireguard_endpoints(
                routes, api::wireguard_sources{wg_.get(), wg_records_.get(), &config_.wireguard,
                                               [this](leases::ticket t, std::function<void(std::error_code)> done) {
                                                   when_durable(t, std::move(done));
                                               }});
        }
        if (proxy_ports_) {
            api::proxy_port_sources pp{proxy_ports_.get(), {}};
            if (config_.probes.enabled) {
                pp.probes = [this] { return prober_ ? prober_->status() : std::vector<probes::port_status>{}; };
            }
            api::add_v1_proxy_port_endpoints(routes, std::move(pp));
        }
        api::add_v1_allocation_endpoints(routes, dhcp_.get());
        api::server_options o;
        o.listen = endpoint(config_.api.listen);
        o.secret = config_.api.secret;
        o.max_body_bytes = config_.api.max_body_bytes;
        o.request_timeout = std::chrono::milliseconds(config_.api.request_timeout_ms);
        api_server_ = std::make_unique<api::server>(io_, std::move(o), std::move(routes));
        std::fprintf(stderr, "edgegated: admin API on %s\n", cfg::to_string(config_.api.listen).c_str());
    }
    if (config_.metrics.enabled) {
        metrics_exposer_ = std::make_unique<metrics::exposer>(
            cfg::to_string(config_.metrics.listen),
            [this] { return stats_from_any_thread(std::chrono::seconds(2)); },
            metrics::build_info{config_.gateway.name, k_version});
        std::fprintf(stderr, "edgegated: metrics on http://%s/metrics\n", cfg::to_string(config_.metrics.listen).c_str());
    }
}

void gateway::stop_control_services() {
    control_loop_running_ = false;
    metrics_exposer_.reset();  // joins civetweb; a scrape in flight gives up within 20 ms
    api_server_.reset();
    prober_.reset();
}

void gateway::run() {
    // Listeners first: a port already in use fails start-up before any worker runs.
    start_control_services();
    control_loop_running_ = true;
    for (auto& w : workers_) {
        threads_.emplace_back([this, wp = w.get()] {
#ifdef EG_WITH_DPDK
            if (dpdk_env_) {
                dp::dpdk_environment::register_worker_thread();  // per-lcore mbuf caches
            }
#endif
            wp->run(stop_workers_);
        });
    }
    std::fprintf(stderr, "edgegated: %s running with %u worker(s), %zu port(s)%s\n", config_.gateway.name.c_str(),
                 workers_count_, config_.ports.size(), config_.host.enabled ? " + host TAP" : "");
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (!ec) {
            std::fprintf(stderr, "edgegated: signal %d, stopping\n", sig);
            io_.stop();
        }
    });
    arm_reload_signal();
    punt_wait_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, dup(punt_event_fd_));
    arm_punt_wait();
    on_tick();
    send_router_advertisements();
    if (config_.gateway.status_interval_s) {
        print_status();
    }
    io_.run();
    stop_control_services();
    stop_workers_ = true;
    for (auto& t : threads_) {
        t.join();
    }
    threads_.clear();
    print_status();
}

}  // namespace eg::ctl
