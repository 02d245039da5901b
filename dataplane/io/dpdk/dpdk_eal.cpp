#include "dataplane/io/dpdk/dpdk_eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <new>
#include <stdexcept>

#include "dataplane/packet.hpp"

namespace eg::dp {
namespace {

std::atomic<bool> g_instance{false};
std::atomic<bool> g_eal_initialized{false};

bool has_arg(const std::vector<std::string>& args, const std::string& prefix) {
    return std::any_of(args.begin(), args.end(),
                       [&](const std::string& a) { return a.rfind(prefix, 0) == 0; });
}

std::string dpdk_error(const std::string& what) {
    return "dpdk: " + what + ": " + rte_strerror(rte_errno);
}

// Starts every mbuf's private area as a packet descriptor (cold: once per mbuf at
// startup), so the hot path only ever assigns fields of an existing object.
void construct_descriptor(rte_mempool*, void*, void* obj, unsigned) {
    new (rte_mbuf_to_priv(static_cast<rte_mbuf*>(obj))) packet{};
}

}  // namespace

uint16_t dpdk_mbuf_priv_size() {
    return static_cast<uint16_t>(RTE_ALIGN(sizeof(packet), RTE_MBUF_PRIV_ALIGN));
}

bool dpdk_environment::eal_was_initialized() { return g_eal_initialized.load(); }

bool dpdk_environment::register_worker_thread() {
    if (rte_lcore_id() != LCORE_ID_ANY) return true;
    return rte_thread_register() == 0;
}

dpdk_environment::dpdk_environment(const dpdk_eal_options& options) : args_(options.eal_args) {
    if (g_instance.exchange(true)) throw std::runtime_error("dpdk: only one dpdk_environment per process");
    if (g_eal_initialized.load()) {
        g_instance = false;
        throw std::runtime_error("dpdk: the EAL was already initialised in this process (it cannot be re-initialised)");
    }
    if (options.workers == 0 || options.workers > RTE_MAX_LCORE) {
        g_instance = false;
        throw std::runtime_error("dpdk: workers must be between 1 and RTE_MAX_LCORE");
    }
    if (!has_arg(args_, "--file-prefix")) args_.push_back("--file-prefix=edgegate-" + std::to_string(::getpid()));
    if (!has_arg(args_, "--log-level")) args_.push_back("--log-level=" + options.log_level);
    for (const auto& v : options.vdevs) args_.push_back("--vdev=" + v);

    // rte_eal_init permutes argv (not the strings); the strings outlive the call.
    std::vector<std::string> storage;
    storage.reserve(args_.size() + 1);
    storage.emplace_back("edgegate");
    storage.insert(storage.end(), args_.begin(), args_.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(storage.size()), argv.data()) < 0) {
        g_instance = false;
        throw std::runtime_error(dpdk_error("rte_eal_init failed"));
    }
    g_eal_initialized = true;

    data_room_ = options.data_room;
    // The cache may hold at most n/1.5 and RTE_MEMPOOL_CACHE_MAX_SIZE mbufs.
    unsigned cache = std::min({options.mbuf_cache, unsigned{RTE_MEMPOOL_CACHE_MAX_SIZE},
                               static_cast<unsigned>(options.mbufs_per_pool / 1.5)});
    for (unsigned w = 0; w < options.workers; ++w) {
        std::string name = "eg_mbuf_w" + std::to_string(w);
        rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), options.mbufs_per_pool, cache,
                                                  dpdk_mbuf_priv_size(), options.data_room,
                                                  static_cast<int>(rte_socket_id()));
        if (!mp) {
            std::string msg = dpdk_error("creating mbuf pool " + name + " (" +
                                         std::to_string(options.mbufs_per_pool) + " mbufs) failed");
            for (auto* p : pools_) rte_mempool_free(p);
            pools_.clear();
            rte_eal_cleanup();
            g_instance = false;
            throw std::runtime_error(msg);
        }
        rte_mempool_obj_iter(mp, construct_descriptor, nullptr);
        pools_.push_back(mp);
    }
}

dpdk_environment::~dpdk_environment() {
    for (auto* p : pools_) rte_mempool_free(p);
    // The runtime dir (/var/run/dpdk/<file-prefix>) belongs to this primary process;
    // rte_eal_cleanup leaves it behind, and per-PID prefixes would pile up.
    std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    if (!runtime_dir.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(runtime_dir, ec);
    }
    g_instance = false;
}

}  // namespace eg::dp
