#pragma once
// Publishing immutable objects to workers without locks (quiescent-state-based RCU).
//
// The control thread swaps in a new object with publish(); workers load the current
// pointer once per burst and report a quiescent state between bursts (when they hold
// no pointer). An old object is freed once every worker has reported a quiescent
// state after it was replaced, or is offline (sleeping in epoll, holding nothing).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace eg::dp {

/// One worker's quiescent-state report. Owner: that worker; read by the publisher.
struct alignas(64) rcu_reader {
    static constexpr uint64_t k_offline = ~uint64_t{0};
    std::atomic<uint64_t> seen{k_offline};
};

template <class T>
class rcu_publisher {
public:
    explicit rcu_publisher(size_t readers) : readers_(readers) {}
    ~rcu_publisher() {
        for (auto& o : retired_) {
            delete o.object;
        }
        delete current_.load();
    }
    rcu_publisher(const rcu_publisher&) = delete;
    rcu_publisher& operator=(const rcu_publisher&) = delete;

    /// Worker side: the object to use for this burst. Valid until the next quiescent().
    const T* acquire() const { return current_.load(std::memory_order_acquire); }

    /// Worker side: between bursts, holding no pointer from acquire().
    void quiescent(size_t reader) {
        readers_[reader].seen.store(generation_.load(std::memory_order_acquire),
                                    std::memory_order_release);
    }
    /// Worker side: about to sleep holding nothing; the publisher need not wait for it.
    void go_offline(size_t reader) {
        readers_[reader].seen.store(rcu_reader::k_offline, std::memory_order_release);
    }
    /// Worker side: awake again; call before the next acquire().
    void go_online(size_t reader) {
        readers_[reader].seen.store(generation_.load(std::memory_order_acquire),
                                    std::memory_order_seq_cst);
    }

    /// Control thread: makes `next` current and retires the previous object.
    void publish(std::unique_ptr<T> next) {
        std::lock_guard lock(mutex_);  // publishers only; workers never take it
        T* old = current_.exchange(next.release(), std::memory_order_acq_rel);
        uint64_t g = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
        if (old) {
            retired_.push_back({old, g});
        }
        reclaim_locked();
    }

    /// Control thread: frees retired objects no worker can still hold. Call periodically.
    void reclaim() {
        std::lock_guard lock(mutex_);
        reclaim_locked();
    }
    size_t retired_count() const { return retired_.size(); }

private:
    struct retired_object {
        T* object;
        uint64_t generation;  ///< readers that saw this generation no longer hold it
    };
    void reclaim_locked() {
        uint64_t min_seen = rcu_reader::k_offline;
        for (const auto& r : readers_) {
            min_seen = std::min(min_seen, r.seen.load(std::memory_order_acquire));
        }
        std::erase_if(retired_, [&](const retired_object& o) {
            if (min_seen >= o.generation) {
                delete o.object;
                return true;
            }
            return false;
        });
    }

    std::atomic<T*> current_{nullptr};
    std::atomic<uint64_t> generation_{0};
    std::vector<rcu_reader> readers_;
    std::vector<retired_object> retired_;
    std::mutex mutex_;
};

}  // namespace eg::dp
