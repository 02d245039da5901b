#pragma once
// Group commit for the journal: the control thread hands over encoded batches, a
// dedicated sync thread writes each batch and makes it durable with one fdatasync.
//
// Why a thread and not io_uring: the control thread runs boost.asio and must not
// sit in fdatasync (milliseconds on SSDs, tens of ms on busy disks). A plain thread
// doing write()+fdatasync() is simple, portable to any filesystem, and gives group
// commit for free: whatever the control thread submits while one fdatasync is in
// flight goes into the next batch, so at low load a lease waits for one fsync and
// at high load one fsync covers hundreds of leases (ISC dhcpd's delayed-ack idea,
// reference §1.1). io_uring's IORING_OP_FSYNC would save the thread but not the
// wait, and would tie the store to the engine's ring.
//
// Durability is reported as a sequence number: every record with seq <= durable_seq()
// is on disk. on_durable is called on the sync thread after each batch; adapters
// post it to the io_context (asio::post) to send the DHCPACKs waiting on those seqs.
// A failed write or fdatasync is final (after a failed fsync Linux may have dropped
// the dirty pages, so retrying could report data durable that is not): the writer
// stops making anything durable and reports store_errc::store_failed.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace eg::ctl::leases {

class journal_writer {
public:
    struct hooks {
        /// Sync thread, after each batch: everything <= durable_seq is on disk. With
        /// ec set, the store has failed and nothing after durable_seq ever will be
        /// (repeated for every later batch, which is dropped).
        std::function<void(uint64_t durable_seq, std::error_code ec)> on_durable;
        /// Sync thread, after a rotation made journal `old_generation` complete and
        /// immutable: the store starts compaction of everything up to it.
        std::function<void(uint64_t old_generation)> on_rotated;
    };
    /// Upper bounds (seconds) of the fdatasync latency histogram; one more bucket
    /// counts everything above the last. Spans a RAM-backed disk (µs) to a busy
    /// spinning one (hundreds of ms).
    static constexpr std::array<double, 14> k_fsync_buckets_s = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
    struct stats {
        uint64_t batches = 0, fdatasyncs = 0, bytes = 0, rotations = 0;
        uint64_t journal_bytes = 0;  ///< size of the journal being appended to (header included)
        /// fdatasync latency of the batches (rotations' syncs not included): per bucket
        /// of k_fsync_buckets_s (not cumulative), the last one above 2.5 s.
        std::array<uint64_t, k_fsync_buckets_s.size() + 1> fsync_buckets{};
        double fsync_seconds = 0;  ///< sum of those latencies
    };

    /// Takes ownership of `fd` (journal `generation`, open for append, whose valid
    /// content ends at durable_seq) and of `dir_fd`.
    journal_writer(std::filesystem::path dir, int dir_fd, int fd, uint64_t generation, uint64_t durable_seq,
                   hooks h);
    /// Makes everything submitted durable, then stops the thread.
    ~journal_writer();
    journal_writer(const journal_writer&) = delete;
    journal_writer& operator=(const journal_writer&) = delete;

    /// Control thread: hands over `bytes` (encoded records ending at `last_seq`),
    /// leaving it empty; cheap (a swap or a copy under a mutex, no I/O). With
    /// `rotate`, the sync thread starts a new journal after writing this batch.
    void submit(std::vector<uint8_t>& bytes, uint64_t last_seq, bool rotate);
    /// Blocks until durable_seq() >= seq, or the writer fails.
    std::error_code wait_durable(uint64_t seq);

    uint64_t durable_seq() const { return durable_.load(std::memory_order_acquire); }
    std::error_code failure() const;
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    stats counters() const;

private:
    void run();
    std::error_code write_all(const std::vector<uint8_t>& b);
    std::error_code rotate(uint64_t base_seq);

    const std::filesystem::path dir_;
    const int dir_fd_;
    int fd_;
    std::atomic<uint64_t> generation_;
    std::atomic<uint64_t> durable_;
    hooks hooks_;

    mutable std::mutex mu_;
    std::condition_variable work_cv_, done_cv_;
    std::vector<uint8_t> queued_;  ///< handed over, not yet taken by the sync thread
    uint64_t queued_seq_ = 0;      ///< last seq in queued_
    uint64_t reported_ = 0;        ///< durable and passed to on_durable (what commit() waits for)
    bool rotate_ = false;
    bool stop_ = false;
    std::error_code failed_;
    stats stats_;
    std::thread thread_;
};

}  // namespace eg::ctl::leases
