#include "control/leases/lease_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>
#include <string>

namespace eg::ctl::leases {

namespace fs = std::filesystem;

namespace {
/// How far below the opening thread the compaction thread runs (nice levels).
constexpr int k_compaction_nice = 10;

std::error_code errno_code() { return {errno ? errno : EIO, std::system_category()}; }

std::error_code sync_dir(int dir_fd) { return ::fsync(dir_fd) == 0 ? std::error_code{} : errno_code(); }
}  // namespace

lease_store::lease_store(fs::path dir, store_options opts, store_state st, int lock_fd)
    : dir_(std::move(dir)), opts_(std::move(opts)), state_(std::move(st)), lock_fd_(lock_fd) {}

void lease_store::log(std::string_view msg) const {
    if (opts_.log) opts_.log(msg);
}

std::unique_ptr<lease_store> lease_store::open(const fs::path& dir, store_options opts, std::error_code& ec,
                                               open_report* report) {
    open_report local;
    open_report& rep = report ? *report : local;
    rep = {};
    ec.clear();
    const bool created = fs::create_directories(dir, ec);
    if (ec) return nullptr;
    if (created) {
        // The new directory's name must be durable too, or a power cut could take
        // the whole state directory (and every lease synced into it) away.
        const fs::path parent = fs::absolute(dir).parent_path();
        const int pfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0) return ec = errno_code(), nullptr;
        const std::error_code sync_ec = ::fsync(pfd) == 0 ? std::error_code{} : errno_code();
        ::close(pfd);
        if (sync_ec) return ec = sync_ec, nullptr;
    }

    // One process per directory: two writers would interleave journals.
    const int lock_fd = ::open((dir / "LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) return ec = errno_code(), nullptr;
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        ec = errno == EWOULDBLOCK ? make_error_code(store_errc::locked) : errno_code();
        ::close(lock_fd);
        return nullptr;
    }
    auto fail = [&](std::error_code e) -> std::unique_ptr<lease_store> {
        ec = e;
        ::close(lock_fd);
        return nullptr;
    };
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return fail(errno_code());
    auto fail_dir = [&](std::error_code e) {
        ::close(dir_fd);
        return fail(e);
    };

    directory_listing listing;
    if (auto e = list_state_directory(dir, listing)) return fail_dir(e);
    if (listing.snapshot_tmp) {  // an interrupted compaction: its output never counted
        if (::unlink(snapshot_tmp_path(dir).c_str()) != 0 && errno != ENOENT) return fail_dir(errno_code());
        rep.removed_tmp_snapshot = true;
        if (opts.log) opts.log("lease store: removed snapshot.tmp left by an interrupted compaction");
    }
    store_state st;
    if (auto e = load_state_directory(dir, listing, std::numeric_limits<uint64_t>::max(), true, st, rep.load)) {
        if (opts.log) opts.log("lease store: cannot load " + dir.string() + ": " + rep.load.detail);
        return fail_dir(e);
    }
    // Journals the snapshot already holds (compaction killed before unlinking them).
    for (uint64_t g : listing.journals) {
        if (g >= rep.load.snapshot_generation) continue;
        if (::unlink(journal_path(dir, g).c_str()) != 0 && errno != ENOENT) return fail_dir(errno_code());
        ++rep.removed_journals;
    }

    // The journal to append to: the newest, with its torn tail cut; or a new one.
    uint64_t gen = rep.load.last_generation;
    int fd = -1;
    if (rep.load.journals.empty()) {
        gen = std::max<uint64_t>(rep.load.snapshot_generation, 1);
        fd = ::open(journal_path(dir, gen).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) return fail_dir(errno_code());
        uint8_t hdr[k_file_header_size];
        encode_file_header({file_kind::journal, gen, rep.load.last_seq}, hdr);
        if (::write(fd, hdr, sizeof hdr) != static_cast<ssize_t>(sizeof hdr) || ::fdatasync(fd) != 0) {
            const auto e = errno_code();
            ::close(fd);
            return fail_dir(e);
        }
    } else {
        fd = ::open(journal_path(dir, gen).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0) return fail_dir(errno_code());
        if (rep.load.torn_bytes > 0 || !rep.load.last_journal_header_ok) {
            // Cut what no fdatasync ever covered, so new records follow valid ones.
            bool ok = ::ftruncate(fd, static_cast<off_t>(rep.load.last_journal_valid_bytes)) == 0;
            if (ok && !rep.load.last_journal_header_ok) {
                uint8_t hdr[k_file_header_size];
                encode_file_header({file_kind::journal, gen, rep.load.last_seq}, hdr);
                ok = ::write(fd, hdr, sizeof hdr) == static_cast<ssize_t>(sizeof hdr);
            }
            ok = ok && ::fdatasync(fd) == 0;
            if (!ok) {
                const auto e = errno_code();
                ::close(fd);
                return fail_dir(e);
            }
            rep.truncated_bytes = rep.load.torn_bytes;
            if (opts.log) {
                opts.log("lease store: cut " + std::to_string(rep.load.torn_bytes) + " bytes of torn tail (" +
                         rep.load.detail + ")");
            }
        }
    }
    if (auto e = sync_dir(dir_fd)) {
        ::close(fd);
        return fail_dir(e);
    }

    const off_t journal_end = ::lseek(fd, 0, SEEK_END);
    const uint64_t journal_bytes = journal_end > 0 ? static_cast<uint64_t>(journal_end) : 0;
    std::unique_ptr<lease_store> s(new lease_store(dir, std::move(opts), std::move(st), lock_fd));
    s->next_seq_ = rep.load.last_seq;
    s->bytes_since_rotation_ = journal_bytes;
    lease_store* self = s.get();
    journal_writer::hooks h;
    h.on_durable = self->opts_.on_durable;
    h.on_rotated = [self](uint64_t old_gen) { self->start_compaction(old_gen); };
    s->writer_ = std::make_unique<journal_writer>(dir, dir_fd, fd, gen, rep.load.last_seq, std::move(h));
    return s;
}

lease_store::~lease_store() {
    if (!staged_.empty()) writer_->submit(staged_, next_seq_, false);
    writer_.reset();  // writes what was submitted, then stops the sync thread
    cancel_.store(true);
    if (compaction_thread_.joinable()) compaction_thread_.join();
    ::close(lock_fd_);
}

void lease_store::stage_done() {
    ++appended_;
}

lease_store::append_result lease_store::put_lease(const lease& l) {
    if (!valid_lease(l)) return {0, store_errc::invalid_record};
    if (holds_address(l.state) && l.ipv4 != 0) {
        const lease* holder = state_.find_by_ipv4(l.ipv4);
        if (holder && holder->vps_id != l.vps_id) return {0, store_errc::address_conflict};
    }
    encode_lease_put(staged_, ++next_seq_, l);
    state_.put_lease(l);
    stage_done();
    return {next_seq_, {}};
}

lease_store::append_result lease_store::erase_lease(std::string_view vps_id) {
    if (vps_id.empty() || vps_id.size() > k_max_lease_key) return {0, store_errc::invalid_record};
    if (!state_.find_lease(vps_id)) return {next_seq_, {}};
    encode_lease_erase(staged_, ++next_seq_, vps_id);
    state_.erase_lease(vps_id);
    stage_done();
    return {next_seq_, {}};
}

lease_store::append_result lease_store::put_record(std::string_view ns, std::string_view key,
                                                   std::span<const uint8_t> value) {
    if (!valid_kv(ns, key, value.size())) return {0, store_errc::invalid_record};
    encode_kv_put(staged_, ++next_seq_, ns, key, value);
    state_.put_record(ns, key, value);
    stage_done();
    return {next_seq_, {}};
}

lease_store::append_result lease_store::put_record(std::string_view ns, std::string_view key, std::string_view text) {
    return put_record(ns, key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

lease_store::append_result lease_store::erase_record(std::string_view ns, std::string_view key) {
    if (!valid_kv(ns, key, 0)) return {0, store_errc::invalid_record};
    if (!state_.find_record(ns, key)) return {next_seq_, {}};
    encode_kv_erase(staged_, ++next_seq_, ns, key);
    state_.erase_record(ns, key);
    stage_done();
    return {next_seq_, {}};
}

void lease_store::request_commit() {
    bytes_since_rotation_ += staged_.size();
    bool rotate = rotate_pending_;
    if (!rotate && opts_.auto_compact && bytes_since_rotation_ >= opts_.compact_after_bytes &&
        !compacting_.load(std::memory_order_acquire)) {
        rotate = true;
    }
    if (staged_.empty() && !rotate) return;
    if (rotate) {
        // Claimed here, released by the compaction thread when it is done; a
        // rotation while one runs waits for the next commit after it.
        bool expected = false;
        if (!compacting_.compare_exchange_strong(expected, true)) {
            rotate = false;
        } else {
            rotate_pending_ = false;
            bytes_since_rotation_ = 0;
        }
    }
    if (staged_.empty() && !rotate) return;
    writer_->submit(staged_, next_seq_, rotate);
}

lease_store::commit_result lease_store::commit() {
    request_commit();
    const auto ec = writer_->wait_durable(next_seq_);
    return {writer_->durable_seq(), ec};
}

void lease_store::compact_now() {
    rotate_pending_ = true;
    request_commit();
}

void lease_store::start_compaction(uint64_t upto) {
    // Sync thread. compacting_ is already true (claimed in request_commit), so the
    // previous compaction thread has finished its work; join it before reuse.
    if (compaction_thread_.joinable()) compaction_thread_.join();
    compaction_thread_ = std::thread([this, upto] {
        // Background work: below the control thread, which it would otherwise slow
        // most right after a restart, when a journal past compact_after_bytes is
        // compacted while the control thread is still restoring pools and admissions
        // (1M leases on 2 shared cores: 0.3-0.5 s of the restart's wall time). Nothing
        // waits on it; the journal only grows meanwhile. Linux: nice is per thread.
        // Relative to the thread's nice now, so a daemon started niced stays below.
        const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
        errno = 0;
        const int base = ::getpriority(PRIO_PROCESS, tid);
        if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(base + k_compaction_nice, 19));
        compaction_result r = compact_state_directory(dir_, upto, &cancel_);
        if (r.ec) {
            log("lease store: compaction up to journal " + std::to_string(upto) + " failed: " + r.ec.message() +
                (r.detail.empty() ? "" : " (" + r.detail + ")"));
        } else {
            log("lease store: compacted " + std::to_string(r.folded_journals) + " journal(s) into a snapshot of " +
                std::to_string(r.records) + " records (" + std::to_string(r.snapshot_bytes) + " bytes)");
        }
        {
            std::lock_guard lk(compaction_mu_);
            (r.ec ? compaction_failures_ : compactions_)++;
            last_compaction_ = std::move(r);
            compacting_.store(false, std::memory_order_release);
        }
        compaction_cv_.notify_all();
    });
}

compaction_result lease_store::wait_for_compaction() {
    std::unique_lock lk(compaction_mu_);
    // A failed writer never rotates, so a claimed compaction would never start.
    while (!compaction_cv_.wait_for(lk, std::chrono::milliseconds(50),
                                    [&] { return !compacting_.load(std::memory_order_acquire); })) {
        if (auto ec = writer_->failure()) {
            compaction_result r;
            r.ec = ec;
            return r;
        }
    }
    return last_compaction_;
}

lease_store::stats lease_store::counters() const {
    const auto w = writer_->counters();
    stats s;
    s.appended = appended_;
    s.batches = w.batches;
    s.fdatasyncs = w.fdatasyncs;
    s.written_bytes = w.bytes;
    s.journal_bytes = w.journal_bytes;
    s.rotations = w.rotations;
    s.fsync_buckets = w.fsync_buckets;
    s.fsync_seconds = w.fsync_seconds;
    {
        std::lock_guard lk(compaction_mu_);
        s.compactions = compactions_;
        s.compaction_failures = compaction_failures_;
    }
    return s;
}

}  // namespace eg::ctl::leases
