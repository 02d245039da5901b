#pragma once
// What a worker does after each poll: poll again at once, nap, or sleep on its fds.
//
// - Work found (packets, injected frames, WireGuard commands): poll again at once.
// - Nothing for idle_poll_us: sleep in epoll until a port or the control thread wakes
//   the worker.
// - Otherwise spin (poll again), or, with idle_nap_us, nap that long first: userspace
//   interrupt moderation. The receive rings hold what arrives meanwhile and the next
//   poll takes it as one larger burst, instead of a core spinning through the gaps
//   between packets and every gap counting as busy CPU.
// - idle_nap_min_pps and idle_nap_min_mbps gate the naps on the receive rate
//   (NIC-style adaptive moderation, as Linux's net_dim looks at packets and bytes): a
//   nap adds up to idle_nap_us of latency to the packet that waits, which costs a
//   request/response exchange (a TCP handshake, a DNS query) its rate, while at a high
//   packet rate, or a high byte rate of large frames (a bulk TCP stream's 64 KB
//   super-packets), it saves most of a core, and on a small machine that core is the
//   one the endpoints need. The naps run while either rate is reached (a gate set to 0
//   is not used; both 0: always); otherwise the worker spins. The rates are measured
//   over windows of at least one millisecond, so the worker follows a change of load
//   within about two milliseconds.
//
// Sans-I/O: fed the clock and the poll's result, it only decides. Owner: one worker.
#include <cstdint>

namespace eg::dp {

enum class idle_action : uint8_t { poll, nap, sleep };

struct idle_policy_options {
    uint32_t idle_poll_us = 200;     ///< sleep after this long without work
    uint32_t idle_nap_us = 0;        ///< nap this long after an empty poll (0 = spin)
    uint32_t idle_nap_min_pps = 0;   ///< nap while receiving at least this many packets/s
    uint32_t idle_nap_min_mbps = 0;  ///< ... or at least this many megabits/s (both 0: always nap)
};

class idle_policy {
public:
    static constexpr uint64_t k_window_ns = 1'000'000;

    idle_policy(const idle_policy_options& opts, uint64_t now_ns)
        : idle_ns_(uint64_t{opts.idle_poll_us} * 1000),
          nap_(opts.idle_nap_us != 0),
          min_pps_(opts.idle_nap_min_pps),
          min_bytes_per_s_(uint64_t{opts.idle_nap_min_mbps} * 125'000),
          ungated_(opts.idle_nap_min_pps == 0 && opts.idle_nap_min_mbps == 0),
          fast_(ungated_),
          last_work_(now_ns),
          window_start_(now_ns) {}

    /// After a poll that began at `now_ns` and received `packets` frames of `bytes` in
    /// all (other_work: frames to inject or commands waiting).
    idle_action after_poll(uint64_t now_ns, uint32_t packets, uint64_t bytes, bool other_work) {
        window_packets_ += packets;
        window_bytes_ += bytes;
        const uint64_t elapsed = now_ns - window_start_;
        if (elapsed >= k_window_ns) {
            const bool pps = min_pps_ != 0 && window_packets_ * 1'000'000'000ULL >= uint64_t{min_pps_} * elapsed;
            const bool bps = min_bytes_per_s_ != 0 && window_bytes_ * 1'000'000'000ULL >= min_bytes_per_s_ * elapsed;
            fast_ = ungated_ || pps || bps;
            window_start_ = now_ns;
            window_packets_ = 0;
            window_bytes_ = 0;
        }
        if (packets != 0 || other_work) {
            last_work_ = now_ns;
            return idle_action::poll;
        }
        if (now_ns - last_work_ >= idle_ns_) {
            return idle_action::sleep;
        }
        return nap_ && fast_ ? idle_action::nap : idle_action::poll;
    }

    /// After a sleep: the idle clock starts again (whatever woke the worker is work).
    void woke(uint64_t now_ns) { last_work_ = now_ns; }

    /// True while the last window's receive rate reached a gate (or there is none).
    bool fast() const { return fast_; }

private:
    uint64_t idle_ns_;
    bool nap_;
    uint32_t min_pps_;
    uint64_t min_bytes_per_s_;
    bool ungated_;
    bool fast_;
    uint64_t last_work_;
    uint64_t window_start_;
    uint64_t window_packets_ = 0;
    uint64_t window_bytes_ = 0;
};

}  // namespace eg::dp
