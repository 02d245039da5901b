#include "control/leases/journal_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "control/leases/journal_format.hpp"
#include "control/leases/replay.hpp"
#include "control/leases/store_error.hpp"

namespace eg::ctl::leases {

journal_writer::journal_writer(std::filesystem::path dir, int dir_fd, int fd, uint64_t generation,
                               uint64_t durable_seq, hooks h)
    : dir_(std::move(dir)), dir_fd_(dir_fd), fd_(fd), generation_(generation), durable_(durable_seq),
      hooks_(std::move(h)), queued_seq_(durable_seq), reported_(durable_seq) {
    const off_t end = ::lseek(fd_, 0, SEEK_END);  // O_APPEND: where the next batch goes
    stats_.journal_bytes = end > 0 ? static_cast<uint64_t>(end) : 0;
    thread_ = std::thread([this] { run(); });
}

journal_writer::~journal_writer() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    work_cv_.notify_one();
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

void journal_writer::submit(std::vector<uint8_t>& bytes, uint64_t last_seq, bool rotate) {
    {
        std::lock_guard lk(mu_);
        if (queued_.empty()) {
            queued_.swap(bytes);
        } else {
            queued_.insert(queued_.end(), bytes.begin(), bytes.end());
        }
        if (last_seq > queued_seq_) queued_seq_ = last_seq;
        rotate_ = rotate_ || rotate;
    }
    bytes.clear();
    work_cv_.notify_one();
}

std::error_code journal_writer::wait_durable(uint64_t seq) {
    std::unique_lock lk(mu_);
    done_cv_.wait(lk, [&] { return reported_ >= seq || failed_ || stop_; });
    if (reported_ >= seq) return {};
    return failed_ ? failed_ : make_error_code(store_errc::closed);
}

std::error_code journal_writer::failure() const {
    std::lock_guard lk(mu_);
    return failed_;
}

journal_writer::stats journal_writer::counters() const {
    std::lock_guard lk(mu_);
    return stats_;
}

std::error_code journal_writer::write_all(const std::vector<uint8_t>& b) {
    size_t off = 0;
    while (off < b.size()) {
        const ssize_t n = ::write(fd_, b.data() + off, b.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {errno, std::system_category()};
        }
        off += static_cast<size_t>(n);
    }
    return {};
}

std::error_code journal_writer::rotate(uint64_t base_seq) {
    // The new journal is complete (header durable, name durable in the directory)
    // before the first record goes into it, so a crash leaves either no new file,
    // or an empty/torn one that open() repairs, or a valid empty journal.
    const uint64_t next = generation_.load() + 1;
    const auto path = journal_path(dir_, next);
    const int nfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (nfd < 0) return {errno, std::system_category()};
    uint8_t hdr[k_file_header_size];
    encode_file_header({file_kind::journal, next, base_seq}, hdr);
    std::error_code ec;
    if (::write(nfd, hdr, sizeof hdr) != static_cast<ssize_t>(sizeof hdr)) {
        ec = {errno ? errno : EIO, std::system_category()};
    } else if (::fdatasync(nfd) != 0 || ::fsync(dir_fd_) != 0) {
        ec = {errno, std::system_category()};
    }
    if (ec) {
        ::close(nfd);
        return ec;
    }
    ::close(fd_);
    fd_ = nfd;
    generation_.store(next, std::memory_order_release);
    return {};
}

void journal_writer::run() {
    std::vector<uint8_t> batch;
    for (;;) {
        uint64_t last_seq = 0;
        bool rotate_now = false;
        std::error_code failed;
        {
            std::unique_lock lk(mu_);
            work_cv_.wait(lk, [&] { return !queued_.empty() || rotate_ || stop_; });
            if (queued_.empty() && !rotate_ && stop_) break;
            batch.swap(queued_);
            last_seq = queued_seq_;
            rotate_now = rotate_;
            rotate_ = false;
            failed = failed_;
        }
        if (failed) {
            // Nothing more becomes durable: drop the bytes and say so again, so a
            // caller holding replies for these tickets lets them go.
            batch.clear();
            if (hooks_.on_durable) hooks_.on_durable(durable_seq(), failed);
            done_cv_.notify_all();
            continue;
        }
        std::error_code ec;
        bool synced = true;  // an empty batch (rotation only) has nothing to sync
        double fsync_s = -1;  // the fdatasync's latency, for the metrics; -1: none ran
        if (!batch.empty()) {
            ec = write_all(batch);
            if (!ec) {
                const auto t0 = std::chrono::steady_clock::now();
                if (::fdatasync(fd_) != 0) ec = {errno, std::system_category()};
                fsync_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            }
            synced = !ec;
        }
        const uint64_t old_gen = generation_.load();
        bool rotated = false;
        if (!ec && rotate_now) {
            ec = rotate(last_seq);
            rotated = !ec;
        }
        // Publish, report, then release waiters: durable_ticket() never lags what
        // on_durable says, and when commit() returns on_durable has seen the batch.
        const uint64_t now_durable = synced ? last_seq : durable_seq();
        durable_.store(now_durable, std::memory_order_release);
        if (hooks_.on_durable && (!batch.empty() || ec)) hooks_.on_durable(now_durable, ec);
        {
            std::lock_guard lk(mu_);
            if (!batch.empty()) {
                ++stats_.batches;
                ++stats_.fdatasyncs;
                stats_.bytes += batch.size();
                stats_.journal_bytes += batch.size();
            }
            if (fsync_s >= 0) {
                const auto& b = k_fsync_buckets_s;
                ++stats_.fsync_buckets[static_cast<size_t>(std::lower_bound(b.begin(), b.end(), fsync_s) - b.begin())];
                stats_.fsync_seconds += fsync_s;
            }
            if (rotated) {
                ++stats_.rotations;
                stats_.journal_bytes = k_file_header_size;
            }
            reported_ = now_durable;
            if (ec) failed_ = ec;
        }
        done_cv_.notify_all();
        batch.clear();
        if (rotated && hooks_.on_rotated) hooks_.on_rotated(old_gen);
    }
    done_cv_.notify_all();
}

}  // namespace eg::ctl::leases
