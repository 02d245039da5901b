#pragma once
// The DPDK process environment for the `dpdk` backend: EAL initialisation and one mbuf
// pool per worker.
//
// One allocator family: when backend = dpdk every port is a DPDK port (the host
// exception TAP becomes a net_tap vdev), so packets only ever move between DPDK ports
// and every packet descriptor lives in its mbuf's private area (rte_mbuf_to_priv), never
// in a side table.
//
// Lifetime: at most one dpdk_environment per process, and the EAL can be initialised
// only once per process (rte_eal_init refuses a second call even after
// rte_eal_cleanup), so a second construction throws. Create it on the control thread
// while starting up, before any dpdk_port; destroy it after every port (the destructor
// frees the pools and calls rte_eal_cleanup). Construction failures throw
// std::runtime_error carrying DPDK's message (startup only, DESIGN.md convention 5).
//
// Without hugepages (`--no-huge`) all DPDK memory comes from `-m` MB of ordinary pages,
// so pools must stay small: testpmd's default pool (155 456 mbufs, ~338 MB) does not fit
// `-m 512` (baselines.md §6 item 3); 8191 mbufs per worker take ~20 MB.
#include <cstdint>
#include <string>
#include <vector>

struct rte_mempool;

namespace eg::dp {

struct dpdk_eal_options {
    /// EAL arguments (without argv[0]). `--file-prefix=edgegate-<pid>` and
    /// `--log-level=<log_level>` are appended unless present, and `--vdev=<devargs>`
    /// for each entry of `vdevs`.
    std::vector<std::string> eal_args{"--no-huge", "-m", "512", "--no-pci"};
    /// Ports given as vdev devargs ("net_tap0,iface=eg-host") to create at EAL init.
    /// Ports may also be probed later by dpdk_port (rte_dev_probe).
    std::vector<std::string> vdevs;
    std::string log_level = "notice";
    unsigned workers = 1;            ///< one mbuf pool (and one queue per port) per worker
    unsigned mbufs_per_pool = 8191;  ///< 2^n - 1 is what rte_mempool sizes best
    unsigned mbuf_cache = 256;       ///< per-lcore cache; clamped to what the pool allows
    uint16_t data_room = 2048 + 128; ///< RTE_MBUF_DEFAULT_BUF_SIZE: 2048 B + headroom
};

class dpdk_environment {
public:
    explicit dpdk_environment(const dpdk_eal_options& options);
    ~dpdk_environment();
    dpdk_environment(const dpdk_environment&) = delete;
    dpdk_environment& operator=(const dpdk_environment&) = delete;

    unsigned workers() const { return static_cast<unsigned>(pools_.size()); }
    /// The mbuf pool of worker `w` (< workers()): its rx queues fill from it and its
    /// alloc() takes from it.
    rte_mempool* pool(unsigned w) const { return pools_.at(w); }
    uint16_t data_room() const { return data_room_; }
    /// The EAL arguments actually passed (after the defaults were added).
    const std::vector<std::string>& eal_args() const { return args_; }

    /// Registers the calling (non-EAL) thread with DPDK so it gets an lcore id and with
    /// it per-lcore mempool caches; without it every mbuf alloc/free goes to the pool's
    /// shared ring. Call once from each worker thread before its first burst; returns
    /// false if DPDK has no lcore id left. Idempotent.
    static bool register_worker_thread();

    /// True once rte_eal_init has succeeded in this process (even after cleanup).
    static bool eal_was_initialized();

private:
    std::vector<std::string> args_;
    std::vector<rte_mempool*> pools_;
    uint16_t data_room_ = 0;
};

/// priv_size of every mbuf of our pools: room for one eg::dp::packet.
uint16_t dpdk_mbuf_priv_size();

}  // namespace eg::dp
