#include "control/leases/compactor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "control/leases/journal_format.hpp"
#include "control/leases/replay.hpp"
#include "control/leases/store_error.hpp"
#include "control/leases/store_state.hpp"

namespace eg::ctl::leases {

namespace fs = std::filesystem;

namespace {

std::error_code errno_code() { return {errno ? errno : EIO, std::system_category()}; }

class fd_guard {
public:
    explicit fd_guard(int fd) : fd_(fd) {}
    ~fd_guard() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_;
};

std::error_code write_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno_code();
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return {};
}

}  // namespace

compaction_result compact_state_directory(const fs::path& dir, uint64_t upto, const std::atomic<bool>* cancel,
                                          compaction_step stop_after) {
    compaction_result res;
    auto cancelled = [&] { return cancel && cancel->load(std::memory_order_relaxed); };
    auto stop_here = [&](compaction_step s) { return static_cast<int>(s) >= static_cast<int>(stop_after); };

    // 1. Read.
    directory_listing listing;
    if ((res.ec = list_state_directory(dir, listing))) return res;
    store_state st;
    load_report rep;
    if ((res.ec = load_state_directory(dir, listing, upto, /*allow_torn_tail=*/false, st, rep))) {
        res.detail = rep.detail;
        return res;
    }
    if (stop_here(compaction_step::read)) return res;

    // 2. Write snapshot.tmp. O_TRUNC: a leftover from an interrupted run is garbage.
    const fs::path tmp = snapshot_tmp_path(dir);
    fd_guard dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() < 0) return res.ec = errno_code(), res;
    {
        fd_guard fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (fd.get() < 0) return res.ec = errno_code(), res;
        std::vector<uint8_t> buf;
        buf.resize(k_file_header_size);
        encode_file_header({file_kind::snapshot, upto + 1, rep.last_seq}, buf.data());
        std::error_code wec;
        const uint64_t n = st.encode(buf, 1u << 20, [&](std::vector<uint8_t>& b) {
            if (cancelled()) {
                wec = store_errc::compaction_cancelled;
                return false;
            }
            wec = write_all(fd.get(), b.data(), b.size());
            res.snapshot_bytes += b.size();
            b.clear();
            return !wec;
        });
        if (wec) return res.ec = wec, res;
        encode_snapshot_end(buf, n + 1, n);
        if ((res.ec = write_all(fd.get(), buf.data(), buf.size()))) return res;
        res.snapshot_bytes += buf.size();
        res.records = n;
        if (stop_here(compaction_step::tmp_written)) return res;
        // 3. Durable content before the name can point at it.
        if (::fdatasync(fd.get()) != 0) return res.ec = errno_code(), res;
    }
    if (stop_here(compaction_step::tmp_synced)) return res;
    if (cancelled()) return res.ec = store_errc::compaction_cancelled, res;

    // 4. Atomic switch, 5. made durable.
    if (::rename(tmp.c_str(), snapshot_path(dir).c_str()) != 0) return res.ec = errno_code(), res;
    res.new_generation = upto + 1;
    if (stop_here(compaction_step::renamed)) return res;
    if (::fsync(dfd.get()) != 0) return res.ec = errno_code(), res;
    if (stop_here(compaction_step::dir_synced)) return res;

    // 6. The folded journals are now redundant.
    for (uint64_t g : listing.journals) {
        if (g > upto) continue;
        if (::unlink(journal_path(dir, g).c_str()) != 0 && errno != ENOENT) return res.ec = errno_code(), res;
        ++res.folded_journals;
    }
    if (::fsync(dfd.get()) != 0) return res.ec = errno_code(), res;
    return res;
}

}  // namespace eg::ctl::leases
