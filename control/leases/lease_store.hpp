#pragma once
// The crash-safe lease store: leases and small keyed runtime records in memory,
// persisted as an append-only, checksummed journal plus a snapshot in one state
// directory (docs/lease-store.md: formats, guarantees, measured figures).
//
// Writes apply to memory at once and return a ticket (the record's sequence
// number); a ticket is durable - survives kill -9 and power loss - once the batch
// holding it has been written and fdatasync'ed by the sync thread (journal_writer).
// The DHCP server sends its ACK only when its lease's ticket is durable (RFC 2131
// §3.1 step 4: commit to persistent storage, then ACK):
//
//   auto t = store.put_lease(l);                 // control thread, no I/O
//   pending_acks.push({t.t, reply});
//   ... once per io_context turn: store.request_commit();
//   options.on_durable = [&](uint64_t d, std::error_code ec) {   // sync thread
//       asio::post(ioc, [&, d, ec] { send_acks_up_to(d, ec); });
//   };
//
// Several writes between two request_commit() calls share one fdatasync (group
// commit); commit() is the blocking form for tools, tests and shutdown.
// Compaction runs on its own thread when the journal passes compact_after_bytes.
// Owner: one thread (the control thread) for everything but durable_ticket(),
// which any thread may read.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "control/leases/compactor.hpp"
#include "control/leases/journal_writer.hpp"
#include "control/leases/lease.hpp"
#include "control/leases/replay.hpp"
#include "control/leases/store_error.hpp"
#include "control/leases/store_state.hpp"

namespace eg::ctl::leases {

using ticket = uint64_t;

struct store_options {
    /// Rotate the journal and compact in the background once it holds this many bytes.
    /// It bounds what a restart replays beyond the snapshot, so it sets the worst
    /// restart: 1M leases (a 79 MB snapshot) plus a journal just short of it took
    /// 1.3 s of control-thread CPU at 64 MiB (840k renewals) and 1.15 s at 16 MiB
    /// (200k), against 1.13 s from the snapshot alone (development VM, load 3.5-4;
    /// before snapshots were written in bucket order the gap was 3.2-3.4 s against
    /// 2.5-3.1 s). 16 MiB keeps that margin on a loaded box; the price: a big store
    /// rewrites its whole snapshot every 16 MiB of journal (1M leases: 79 MB and about
    /// 2 s of CPU on the compaction thread, every ~200k lease writes).
    /// docs/lease-store.md "Compaction".
    uint64_t compact_after_bytes = 16u << 20;
    bool auto_compact = true;
    /// Called on the sync thread after each batch: tickets <= durable are durable.
    /// With ec set the store has failed: no ticket above `durable` will ever be
    /// (dhcp::server::on_persist_failed for everything held above it).
    std::function<void(ticket durable, std::error_code ec)> on_durable;
    /// Human-readable events (torn tail cut, leftovers removed, compaction done or
    /// failed). Called on the opening thread, or later on the compaction thread.
    std::function<void(std::string_view)> log;
};

struct open_report {
    load_report load;              ///< what replay found
    uint64_t truncated_bytes = 0;  ///< torn tail cut off the newest journal
    bool removed_tmp_snapshot = false;
    uint64_t removed_journals = 0; ///< already folded into the snapshot (compaction interrupted)
};

class lease_store {
public:
    struct append_result {
        ticket t = 0;
        std::error_code ec;
        explicit operator bool() const { return !ec; }
    };
    struct commit_result {
        ticket durable = 0;  ///< every ticket <= this is durable
        std::error_code ec;
    };
    /// For the metrics; read on the owner thread (the sync thread's part is copied under its lock).
    struct stats {
        uint64_t appended = 0;        ///< records appended since open
        uint64_t batches = 0, fdatasyncs = 0, rotations = 0;
        uint64_t written_bytes = 0;   ///< journal bytes written since open
        uint64_t journal_bytes = 0;   ///< size of the journal now appended to
        uint64_t compactions = 0, compaction_failures = 0;
        /// fdatasync latency: journal_writer::k_fsync_buckets_s, per bucket (not cumulative).
        std::array<uint64_t, journal_writer::k_fsync_buckets_s.size() + 1> fsync_buckets{};
        double fsync_seconds = 0;
    };

    /// Opens (creating if needed) the state directory, replays it and cuts a torn
    /// tail. Errors: store_errc::locked, corrupt_*, journal_gap, or I/O (errno).
    static std::unique_ptr<lease_store> open(const std::filesystem::path& dir, store_options opts,
                                             std::error_code& ec, open_report* report = nullptr);
    /// Commits what is pending, stops compaction (a half-done one is harmless).
    ~lease_store();
    lease_store(const lease_store&) = delete;
    lease_store& operator=(const lease_store&) = delete;

    // --- writes: in memory now, durable after a commit ------------------------------
    /// store_errc::address_conflict if l.ipv4 is held by another vps_id's lease (in
    /// state offered/bound/static); invalid_record if ids are empty or too long.
    append_result put_lease(const lease& l);
    /// Returns the ticket after which the lease is gone (no record if there was none).
    append_result erase_lease(std::string_view vps_id);
    append_result put_record(std::string_view ns, std::string_view key, std::span<const uint8_t> value);
    append_result put_record(std::string_view ns, std::string_view key, std::string_view text);
    append_result erase_record(std::string_view ns, std::string_view key);

    /// Hands everything appended so far to the sync thread; returns at once.
    void request_commit();
    /// Blocks until everything appended so far is durable (or the store failed).
    commit_result commit();
    ticket last_ticket() const { return next_seq_; }
    ticket durable_ticket() const { return writer_->durable_seq(); }
    bool is_durable(ticket t) const { return t <= durable_ticket(); }

    /// Rotates the journal at the next commit and compacts in the background.
    void compact_now();
    /// Blocks until no compaction is running; returns the last one's result.
    compaction_result wait_for_compaction();

    // --- reads -------------------------------------------------------------------
    const lease* find_lease(std::string_view vps_id) const { return state_.find_lease(vps_id); }
    const lease* find_by_ipv4(uint32_t ipv4) const { return state_.find_by_ipv4(ipv4); }
    const store_state::lease_map& leases() const { return state_.leases(); }
    const std::vector<uint8_t>* find_record(std::string_view ns, std::string_view key) const {
        return state_.find_record(ns, key);
    }
    const store_state::record_map& records() const { return state_.records(); }
    const store_state& state() const { return state_; }
    stats counters() const;

private:
    lease_store(std::filesystem::path dir, store_options opts, store_state st, int lock_fd);
    void stage_done();
    void start_compaction(uint64_t upto_generation);  // sync thread
    void log(std::string_view msg) const;

    std::filesystem::path dir_;
    store_options opts_;
    store_state state_;
    int lock_fd_;
    std::unique_ptr<journal_writer> writer_;
    std::vector<uint8_t> staged_;   ///< encoded, not yet handed to the writer
    ticket next_seq_ = 0;           ///< last seq assigned
    uint64_t bytes_since_rotation_ = 0;
    bool rotate_pending_ = false;
    uint64_t appended_ = 0;

    // Compaction: at most one at a time; started by the sync thread after a rotation.
    std::atomic<bool> compacting_{false};
    std::atomic<bool> cancel_{false};
    mutable std::mutex compaction_mu_;
    std::condition_variable compaction_cv_;
    std::thread compaction_thread_;
    compaction_result last_compaction_;
    uint64_t compactions_ = 0, compaction_failures_ = 0;
};

}  // namespace eg::ctl::leases
