#include "control/leases/replay.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "control/leases/store_error.hpp"

namespace eg::ctl::leases {

namespace fs = std::filesystem;

namespace {

std::string at(const char* what, size_t offset) {
    char buf[96];
    std::snprintf(buf, sizeof buf, " at byte %zu", offset);
    return std::string(what) + buf;
}

/// A whole file, read-only mapped (replay touches each byte once, in order).
class mapped_file {
public:
    std::error_code open(const fs::path& p) {
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return {errno, std::system_category()};
        struct stat sb{};
        if (::fstat(fd, &sb) != 0) {
            const int e = errno;
            ::close(fd);
            return {e, std::system_category()};
        }
        size_ = static_cast<size_t>(sb.st_size);
        if (size_ > 0) {
            void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) {
                const int e = errno;
                ::close(fd);
                return {e, std::system_category()};
            }
            data_ = static_cast<const uint8_t*>(m);
            ::madvise(m, size_, MADV_SEQUENTIAL);
        }
        ::close(fd);
        return {};
    }
    ~mapped_file() {
        if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    }
    std::span<const uint8_t> bytes() const { return {data_, size_}; }

private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

/// The record count a snapshot image's end record states, if its last bytes are an
/// intact end record (a sizing hint only: replay checks everything again).
uint64_t snapshot_record_count(std::span<const uint8_t> data) {
    constexpr size_t k_end = k_frame_header_size + k_body_header_size + 8;
    if (data.size() < k_file_header_size + k_end) return 0;
    const uint8_t* p = data.data() + data.size() - k_end;
    if (load_le32(p) != k_end - k_frame_header_size) return 0;
    if (crc32c(p + k_frame_header_size, k_end - k_frame_header_size, crc32c(p, 4)) != load_le32(p + 4)) return 0;
    if (p[k_frame_header_size + 8] != static_cast<uint8_t>(record_type::snapshot_end)) return 0;
    return load_le64(p + k_frame_header_size + k_body_header_size);
}

}  // namespace

file_replay replay_journal_image(std::span<const uint8_t> data, store_state& st) {
    file_replay r;
    r.total_bytes = data.size();
    const auto h = decode_file_header(data, file_kind::journal);
    if (!h) {
        r.problem = data.size() < k_file_header_size ? "short journal header" : "bad journal header";
        return r;
    }
    r.header_ok = true;
    r.header = *h;
    r.last_seq = h->base_seq;
    uint64_t expect = h->base_seq + 1;
    const auto s = scan_records(data.subspan(k_file_header_size), [&](const record_view& v) {
        if (v.seq != expect || v.type == record_type::snapshot_end || !st.apply(v)) return false;
        ++expect;
        return true;
    });
    r.records = s.records;
    r.last_seq = expect - 1;
    r.valid_bytes = k_file_header_size + s.valid_end;
    r.complete = s.stop == scan_stop::end;
    if (!r.complete) r.problem = at(to_string(s.stop).data(), r.valid_bytes);
    return r;
}

file_replay replay_snapshot_image(std::span<const uint8_t> data, store_state& st) {
    file_replay r;
    r.total_bytes = data.size();
    const auto h = decode_file_header(data, file_kind::snapshot);
    if (!h) {
        r.problem = "bad snapshot header";
        return r;
    }
    r.header_ok = true;
    r.header = *h;
    r.last_seq = h->base_seq;
    uint64_t expect = 1;
    bool ended = false;
    const auto s = scan_records(data.subspan(k_file_header_size), [&](const record_view& v) {
        if (ended || v.seq != expect) return false;
        if (v.type == record_type::snapshot_end) {
            uint64_t count = 0;
            if (!decode_snapshot_end(v.payload, count) || count != expect - 1) return false;
            ended = true;
            return true;
        }
        if (!st.apply(v)) return false;
        ++expect;
        return true;
    });
    r.records = expect - 1;
    r.valid_bytes = k_file_header_size + s.valid_end;
    r.complete = s.stop == scan_stop::end && ended;
    if (!r.complete) {
        r.problem = s.stop == scan_stop::end ? at("snapshot ends without its end record", r.valid_bytes)
                                             : at(to_string(s.stop).data(), r.valid_bytes);
    }
    return r;
}

fs::path snapshot_path(const fs::path& dir) { return dir / "snapshot"; }
fs::path snapshot_tmp_path(const fs::path& dir) { return dir / "snapshot.tmp"; }
fs::path journal_path(const fs::path& dir, uint64_t generation) {
    char name[32];
    std::snprintf(name, sizeof name, "journal-%016" PRIx64, generation);
    return dir / name;
}

std::error_code list_state_directory(const fs::path& dir, directory_listing& out) {
    out = {};
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name == "snapshot") {
            out.snapshot = true;
        } else if (name == "snapshot.tmp") {
            out.snapshot_tmp = true;
        } else if (name.size() == 24 && name.starts_with("journal-") &&
                   name.find_first_not_of("0123456789abcdef", 8) == std::string::npos) {
            out.journals.push_back(std::strtoull(name.c_str() + 8, nullptr, 16));
        }
        // Anything else is not ours: left alone.
    }
    std::sort(out.journals.begin(), out.journals.end());
    return ec;
}

std::error_code load_state_directory(const fs::path& dir, const directory_listing& listing, uint64_t upto_generation,
                                     bool allow_torn_tail, store_state& st, load_report& rep) {
    rep = {};
    uint64_t last_seq = 0;
    size_t estimate = 0;
    {
        // ~80 bytes per lease record on disk: size the tables once, up front. An
        // overestimate (many updates of the same lease) costs only empty buckets.
        std::error_code ec;
        uint64_t bytes = listing.snapshot ? fs::file_size(snapshot_path(dir), ec) : 0;
        for (uint64_t g : listing.journals) {
            if (g <= upto_generation) bytes += fs::file_size(journal_path(dir, g), ec);
        }
        if (!ec) estimate = static_cast<size_t>(std::min<uint64_t>(bytes / 80, uint64_t{1} << 26));
        if (!listing.snapshot) st.reserve(estimate);
    }
    if (listing.snapshot) {
        mapped_file f;
        if (auto ec = f.open(snapshot_path(dir))) return ec;
        // Sized for exactly the snapshot's records when its end record says how many:
        // the compactor wrote them in the bucket order of a table of that size
        // (store_state::encode), so inserting them walks the buckets and the memory in
        // order. A table sized from the file sizes instead (journals included) has
        // another bucket count, and the same inserts land all over it: 1M leases plus
        // a 16 MiB journal took twice the CPU of the snapshot alone. New keys from the
        // journals may grow the table once.
        const uint64_t n = snapshot_record_count(f.bytes());
        st.reserve(n ? static_cast<size_t>(std::min<uint64_t>(n, uint64_t{1} << 26)) : estimate);
        const file_replay r = replay_snapshot_image(f.bytes(), st);
        if (!r.complete) {
            rep.detail = "snapshot: " + r.problem;
            return store_errc::corrupt_snapshot;
        }
        rep.snapshot_records = r.records;
        rep.snapshot_generation = r.header.generation;
        last_seq = r.header.base_seq;
    }
    std::vector<uint64_t> gens;
    for (uint64_t g : listing.journals) {
        if (g >= rep.snapshot_generation && g <= upto_generation) gens.push_back(g);
    }
    for (size_t i = 0; i < gens.size(); ++i) {
        const uint64_t g = gens[i];
        const bool newest = i + 1 == gens.size();
        const std::string name = journal_path(dir, g).filename().string();
        mapped_file f;
        if (auto ec = f.open(journal_path(dir, g))) return ec;
        const file_replay r = replay_journal_image(f.bytes(), st);
        if (r.header_ok && r.header.generation != g) {
            rep.detail = name + ": header names generation " + std::to_string(r.header.generation);
            return store_errc::corrupt_journal;
        }
        if (r.header_ok && r.header.base_seq != last_seq) {
            rep.detail = name + ": starts after seq " + std::to_string(r.header.base_seq) + ", expected " +
                         std::to_string(last_seq);
            return store_errc::journal_gap;
        }
        if (!r.complete && !(newest && allow_torn_tail)) {
            rep.detail = name + ": " + r.problem;
            return store_errc::corrupt_journal;
        }
        rep.journals.push_back(g);
        rep.journal_records += r.records;
        if (r.header_ok) last_seq = r.last_seq;
        if (newest) {
            rep.last_generation = g;
            rep.last_journal_header_ok = r.header_ok;
            rep.last_journal_valid_bytes = r.header_ok ? r.valid_bytes : 0;
            rep.torn_bytes = r.total_bytes - rep.last_journal_valid_bytes;
            if (!r.complete) rep.detail = name + ": " + r.problem;
        }
    }
    rep.last_seq = last_seq;
    return {};
}

}  // namespace eg::ctl::leases
