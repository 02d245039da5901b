#include "dataplane/worker.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

#include "dataplane/gso_segment.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/ipv4_forward.hpp"
#include "dataplane/ipv6_forward.hpp"
#include "dataplane/ipv4_fragment.hpp"
#include "dataplane/nat44.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/wireguard.hpp"
#include "dataplane/wireguard_state.hpp"

namespace eg::dp {

uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

worker::worker(const worker_options& opts, std::vector<port_io*> ports, rcu_publisher<snapshot>& snapshots,
               const neighbour_table& neighbours, frame_ring& punt, frame_ring& inject, int punt_event_fd,
               int inject_event_fd, worker_counters& counters)
    : opts_(opts),
      ports_(std::move(ports)),
      snapshots_(snapshots),
      inject_(inject),
      punt_event_fd_(punt_event_fd),
      inject_event_fd_(inject_event_fd),
      ctx_{counters, punt, neighbours} {
    if (opts_.burst_size == 0 || opts_.burst_size > k_max_burst) {
        opts_.burst_size = k_max_burst;
    }
    ctx_.icmp_limiter.set_rate(opts_.icmp_errors_per_second);
    tx_lists_.resize(ports_.size());
    // Worst case every packet of every port goes to one egress port.
    for (auto& l : tx_lists_) {
        l.reserve(k_max_burst * (ports_.size() + 1));
    }
    release_list_.reserve(k_max_burst * (ports_.size() + 1));
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
        throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    }
    // Edge-triggered: an eventfd (a TAP ring's completions, inject) is never read here;
    // every new completion is a new edge, so nothing is missed while spinning. Packet
    // sockets are watched only while asleep (sleep_until_work).
    auto watch = [&](int fd) {
        if (fd < 0) {
            return;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLET;
        ev.data.fd = fd;
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    };
    for (auto* p : ports_) {
        if (p->wait_fd() >= 0 && p->wait_fd_is_level()) {
            sleep_only_fds_.push_back(p->wait_fd());
        } else {
            watch(p->wait_fd());
        }
        // A port without a wait fd (DPDK) must be polled: sleep only briefly then.
        sleep_ms_ = p->wait_fd() < 0 ? 1 : sleep_ms_;
    }
    watch(inject_event_fd_);
}

worker::~worker() {
    if (epoll_fd_ >= 0) {
        close(epoll_fd_);
    }
}

uint32_t worker::poll_once() { return poll_once(monotonic_ns()).packets; }

worker::poll_result worker::poll_once(uint64_t now_ns) {
    ctx_.now_ns = now_ns;
    ctx_.now_s = static_cast<uint32_t>(now_ns / 1'000'000'000ULL);
    const snapshot* s = snapshots_.acquire();
    uint32_t received = 0;
    uint64_t received_bytes = 0;
    const uint64_t punted_before = ctx_.counters.punted.get();
    if (ctx_.nat) {
        // Before this poll's packets: a worker that slept through the second its
        // sessions came due (idle, up to sleep_ms_) must not judge a VM's new flow
        // against its session quota, or reuse a port, while those still count.
        nat44_expire(*ctx_.nat, s->nat, ctx_.counters, ctx_.now_s);
    }
    burst b;
    for (size_t i = 0; i < ports_.size(); ++i) {
        b.count = ports_[i]->rx_burst(b.pkts, static_cast<uint16_t>(opts_.burst_size));
        if (b.count == 0) {
            continue;
        }
        received += b.count;
        port_counters& pc = ctx_.counters.ports[i];
        uint64_t bytes = 0;
        for (uint16_t j = 0; j < b.count; ++j) {
            bytes += b.pkts[j]->len;
        }
        pc.rx_packets.add(b.count);
        pc.rx_bytes.add(bytes);
        received_bytes += bytes;
        process_burst(b, *s, ctx_);
        dispatch(b, *s);
    }
    if (ctx_.handoff) [[unlikely]] {
        received += drain_handoff(*s);
    }
    drain_inject(*s);
    if (ctx_.wg) [[unlikely]] {
        drain_wireguard_commands(*s);
        send_staged(*s);
    }
    transmit_all();
    if (ctx_.handoff && ctx_.handoff->to_wake) [[unlikely]] {
        wake_handoff_targets();
    }
    if (ctx_.counters.punted.get() != punted_before && punt_event_fd_ >= 0) {
        uint64_t one = 1;
        [[maybe_unused]] auto r = write(punt_event_fd_, &one, sizeof one);
    }
    snapshots_.quiescent(opts_.id);
    if (received) {
        ctx_.counters.bursts.add();
    }
    return {received, received_bytes};
}

void worker::dispatch(burst& b, const snapshot& s) {
    for (uint16_t j = 0; j < b.count; ++j) {
        packet* p = b.pkts[j];
        if (p->verdict < ports_.size()) [[likely]] {
            tx_lists_[p->verdict].push_back(p);
        } else if (p->verdict < k_verdict_special && (p->verdict & k_verdict_fragment)) [[unlikely]] {
            // (the special verdicts have that bit set too: test the range first)
            fragment(*p, s);
        } else if (p->verdict == k_verdict_tunnel_segments) [[unlikely]] {
            segment_into_tunnel(*p, s);
        } else if (p->verdict == k_verdict_tunnel_fragments) [[unlikely]] {
            wireguard_send_fragments(*p, s, ctx_, *ports_[p->in_port], [this](packet* f) { place(f); });
            release_list_.push_back(p);
        } else {
            // Dropped (already counted) or consumed (copied to the control thread or
            // handed to another worker).
            release_list_.push_back(p);
        }
    }
}

void worker::set_handoff(handoff_links* links) {
    ctx_.handoff = links;
    if (links) {
        // One poll may also take this many bursts from the other workers.
        const size_t per_poll = k_max_burst * (ports_.size() + 1 + size_t{k_handoff_bursts_per_poll} * links->workers);
        for (auto& l : tx_lists_) {
            l.reserve(per_poll);
        }
        release_list_.reserve(per_poll);
    }
}

uint32_t worker::drain_handoff(const snapshot& s) {
    uint32_t total = 0;
    for (handoff_ring* ring : ctx_.handoff->in) {
        if (!ring) {
            continue;
        }
        // A few bursts per ring and poll: after the owner lost its core for a while the
        // ring holds many, and one burst per poll would let the producer outrun it.
        for (uint32_t round = 0; round < k_handoff_bursts_per_poll; ++round) {
            burst b;
            while (b.count < k_max_burst) {
                const std::span<uint8_t> m = ring->front();
                if (m.empty()) {
                    break;
                }
                handoff_header h;
                std::memcpy(&h, m.data(), sizeof h);
                const uint32_t len = static_cast<uint32_t>(m.size() - sizeof h);
                packet* p = h.port < ports_.size() ? ports_[h.port]->alloc(len) : nullptr;
                if (p && p->tailroom() >= len) {
                    std::memcpy(p->data, m.data() + sizeof h, len);
                    p->len = len;
                    p->offload = h.offload;
                    p->in_port = h.port;
                    p->handed_off = 1;
                    b.pkts[b.count++] = p;
                } else {
                    if (p) {
                        release_list_.push_back(p);
                    }
                    ctx_.counters.drop(drop_reason::handoff_no_buffer);
                }
                ring->pop();
            }
            if (b.count == 0) {
                break;
            }
            process_burst(b, s, ctx_);
            dispatch(b, s);
            total += b.count;
        }
    }
    return total;
}

bool worker::handoff_pending() const {
    if (!ctx_.handoff) {
        return false;
    }
    for (const handoff_ring* ring : ctx_.handoff->in) {
        if (ring && !ring->empty()) {
            return true;
        }
    }
    return false;
}

void worker::wake_handoff_targets() {
    handoff_links& l = *ctx_.handoff;
    std::atomic_thread_fence(std::memory_order_seq_cst);  // our pushes before their flag
    for (uint64_t bits = l.to_wake; bits; bits &= bits - 1) {
        const uint32_t to = static_cast<uint32_t>(std::countr_zero(bits));
        if (to < l.workers && l.asleep[to] && l.asleep[to]->load(std::memory_order_seq_cst) && l.wake_fd[to] >= 0) {
            uint64_t one = 1;
            [[maybe_unused]] auto r = write(l.wake_fd[to], &one, sizeof one);
        }
    }
    l.to_wake = 0;
}

void worker::fragment(packet& p, const snapshot& s) {
    const uint16_t port = p.verdict & ~k_verdict_fragment;
    packet* frags[k_max_burst];
    drop_reason why = drop_reason::ipv4_fragmentation_failed;
    const uint32_t n = port < ports_.size() ? fragment_ipv4(p, s.port(port).mtu, *ports_[port], frags, k_max_burst, why) : 0;
    for (uint32_t i = 0; i < n; ++i) {
        tx_lists_[port].push_back(frags[i]);
    }
    if (n) {
        ctx_.counters.fragments_sent.add(n);
    } else {
        ctx_.counters.drop(why);
    }
    release_list_.push_back(&p);
}

void worker::place(packet* p) {
    if (p->verdict < ports_.size()) {
        tx_lists_[p->verdict].push_back(p);
    } else {
        release_list_.push_back(p);  // dropped (counted) or consumed
    }
}

void worker::segment_into_tunnel(packet& p, const snapshot& s) {
    packet* segs[k_max_burst];
    const uint32_t n = segment_gso(p, *ports_[p.in_port], segs, k_max_burst);
    if (n == 0) {
        ctx_.counters.drop(drop_reason::wg_segmentation_failed);
    }
    for (uint32_t i = 0; i < n; ++i) {
        segs[i]->verdict = k_verdict_none;
        wireguard_send(*segs[i], s, ctx_, p.nat_ref);
        place(segs[i]);
    }
    release_list_.push_back(&p);
}

void worker::drain_wireguard_commands(const snapshot& s) {
    wg_command_ring& ring = ctx_.wg->commands();
    for (int budget = k_max_burst; budget > 0; --budget) {
        wg_command* c = ring.front();
        if (!c) {
            return;
        }
        if (ctx_.wg->apply(*c, ctx_.now_ns) && !ports_.empty()) {
            // A keepalive: any port's pool gives the buffer; routing picks the way out.
            packet* p = ports_[0]->alloc(256);
            if (p) {
                p->in_port = 0;
                p->verdict = k_verdict_none;
                wireguard_send_keepalive(*p, s, ctx_, c->slot);
                place(p);
            }
        }
        c->keys.wipe();  // no key material left behind in the ring
        ring.pop();
    }
}

void worker::send_staged(const snapshot& s) {
    // Packets that waited for a handshake: the keypair a command just installed (or a
    // packet of this iteration confirmed) can carry them now. Any port's pool gives
    // the buffers; routing picks the way out.
    if (const uint64_t dropped = ctx_.wg->take_staged_drops()) [[unlikely]] {
        ctx_.counters.drops[reason_index(drop_reason::wg_staged_too_long)].add(dropped);
    }
    if (ports_.empty()) [[unlikely]] {
        return;
    }
    wireguard_flush_staged(
        s, ctx_,
        [this](uint32_t len) {
            packet* p = ports_[0]->alloc(len);
            if (p) {
                p->in_port = 0;
                p->verdict = k_verdict_none;
            }
            return p;
        },
        [this](packet* p) { place(p); });
}

void worker::originate(const frame_message& m, const snapshot& s) {
    // An IPv4 or IPv6 packet of the control thread's (a WireGuard handshake message)
    // after a blank Ethernet header: routed like the engine's own replies.
    packet* p = m.port < ports_.size() ? ports_[m.port]->alloc(m.len) : nullptr;
    const bool v6 = m.len > eth::header_len && (m.data[eth::header_len] >> 4) == 6;
    const uint32_t min_len = eth::header_len + (v6 ? ipv6::header_len : ipv4::min_header_len);
    if (!p || p->tailroom() < m.len || m.len < min_len) {
        if (p) {
            release_list_.push_back(p);
        }
        ctx_.counters.drop(drop_reason::inject_invalid);
        return;
    }
    std::memcpy(p->data, m.data, m.len);
    p->len = m.len;
    p->offload = offload_info{};
    p->in_port = m.port;
    p->l3_offset = eth::header_len;
    p->ether_type = v6 ? eth::type_ipv6 : eth::type_ipv4;
    p->verdict = k_verdict_none;
    if (v6) {
        route_outer_ipv6(*p, s, ctx_);
    } else {
        route_outer_ipv4(*p, s, ctx_);
    }
    ctx_.counters.injected.add();
    place(p);
}

void worker::drain_inject(const snapshot& s) {
    for (int budget = k_max_burst; budget > 0; --budget) {
        frame_message* m = inject_.front();
        if (!m) {
            return;
        }
        if (m->kind == frame_message::originate) [[unlikely]] {
            originate(*m, s);
            inject_.pop();
            continue;
        }
        if (m->port < ports_.size() && m->len <= s.port(m->port).mtu + 64u) {
            packet* p = ports_[m->port]->alloc(m->len);
            if (p && p->tailroom() >= m->len) {
                std::memcpy(p->data, m->data, m->len);
                p->len = m->len;
                p->offload = m->offload;
                p->in_port = m->port;
                tx_lists_[m->port].push_back(p);
                ctx_.counters.injected.add();
            } else {
                if (p) {
                    release_list_.push_back(p);
                }
                ctx_.counters.drop(drop_reason::inject_invalid);
            }
        } else {
            ctx_.counters.drop(drop_reason::inject_invalid);
        }
        inject_.pop();
    }
}

void worker::transmit_all() {
    for (size_t port = 0; port < ports_.size(); ++port) {
        auto& list = tx_lists_[port];
        if (list.empty()) {
            continue;
        }
        port_counters& pc = ctx_.counters.ports[port];
        uint32_t done = 0;
        while (done < list.size()) {
            const uint16_t chunk = static_cast<uint16_t>(std::min<size_t>(k_max_burst, list.size() - done));
            uint64_t bytes = 0;
            for (uint16_t j = 0; j < chunk; ++j) {
                bytes += list[done + j]->len;
            }
            const uint16_t sent = ports_[port]->tx_burst(list.data() + done, chunk);
            pc.tx_packets.add(sent);
            pc.tx_bytes.add(bytes);  // approximate when a burst is cut short; rare
            if (sent < chunk) {
                for (uint16_t j = sent; j < chunk; ++j) {
                    ctx_.counters.drop(drop_reason::tx_ring_full);
                    release_list_.push_back(list[done + j]);
                }
            }
            done += chunk;
        }
        list.clear();
        ports_[port]->flush();
    }
    if (!release_list_.empty()) {
        // Every backend of one worker shares one allocator family (config validation),
        // so any of its ports can take back any packet.
        for (size_t i = 0; i < release_list_.size(); i += k_max_burst) {
            const uint16_t n = static_cast<uint16_t>(std::min<size_t>(k_max_burst, release_list_.size() - i));
            ports_[0]->release(release_list_.data() + i, n);
        }
        release_list_.clear();
    }
}

void worker::sleep_until_work() {
    ctx_.counters.idle_sleeps.add();
    asleep_.store(true, std::memory_order_seq_cst);
    if (handoff_pending()) {  // pushed before the flag was visible: do not sleep on it
        asleep_.store(false, std::memory_order_relaxed);
        return;
    }
    snapshots_.go_offline(opts_.id);
    // Level fds join only for the sleep. Adding one that is already readable reports it
    // at once, so a frame that arrived after the last poll is not slept through.
    for (int fd : sleep_only_fds_) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
    epoll_event events[16];
    // Bounded sleep: also wakes for stop requests and periodic work.
    int n = epoll_wait(epoll_fd_, events, 16, sleep_ms_);
    for (int fd : sleep_only_fds_) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    }
    for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == inject_event_fd_) {
            uint64_t v;  // reset our own eventfd (non-blocking)
            [[maybe_unused]] auto r = read(inject_event_fd_, &v, sizeof v);
        }
    }
    asleep_.store(false, std::memory_order_relaxed);
    snapshots_.go_online(opts_.id);
}

void worker::run(const std::atomic<bool>& stop) {
    if (opts_.core >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(opts_.core, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    std::string name = "eg-worker-" + std::to_string(opts_.id);
    pthread_setname_np(pthread_self(), name.c_str());
    snapshots_.go_online(opts_.id);
    idle_policy idle(opts_.idle, monotonic_ns());
    if (opts_.idle.idle_nap_us) {
        prctl(PR_SET_TIMERSLACK, 1000UL);  // 1 µs: naps must not stretch to the default 50 µs
    }
    const timespec nap{0, static_cast<long>(opts_.idle.idle_nap_us) * 1000};
    while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t now = monotonic_ns();
        const poll_result got = poll_once(now);
        const bool other_work = got.packets == 0 && (!inject_.empty() || (ctx_.wg && !ctx_.wg->commands().empty()));
        switch (idle.after_poll(now, got.packets, got.bytes, other_work)) {
        case idle_action::poll:
            break;
        case idle_action::nap:
            // The rings hold what arrives meanwhile. Holding no snapshot: offline.
            snapshots_.go_offline(opts_.id);
            nanosleep(&nap, nullptr);
            snapshots_.go_online(opts_.id);
            break;
        case idle_action::sleep:
            // Sleep until a port or the control thread has something.
            sleep_until_work();
            idle.woke(monotonic_ns());
            break;
        }
    }
    snapshots_.go_offline(opts_.id);
}

}  // namespace eg::dp
