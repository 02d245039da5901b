#pragma once
// Reading the state directory back: the snapshot, then every journal from the
// snapshot's generation on, in order, each record checked (frame, checksum,
// sequence number, payload). Only the newest journal may end in garbage - the tail
// of a batch that a crash cut short, never acknowledged because its fdatasync did
// not return - and that tail is reported (and cut off by the store when it opens);
// damage anywhere else is an error, because those bytes were made durable before
// anything after them was written.
//
// Directory layout:
//   LOCK                         flock()ed by the process that has the store open
//   snapshot                     all state up to its generation (may be absent)
//   snapshot.tmp                 a compaction in progress (removed on open)
//   journal-<16 hex digits>      generation N, appended to until rotated
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "control/leases/journal_format.hpp"
#include "control/leases/store_state.hpp"

namespace eg::ctl::leases {

/// What replaying one file image found.
struct file_replay {
    bool header_ok = false;
    file_header header{};
    uint64_t records = 0;      ///< data records applied (not counting snapshot_end)
    uint64_t last_seq = 0;     ///< seq of the last record applied (journal), or the header's base_seq
    size_t valid_bytes = 0;    ///< header + accepted records
    size_t total_bytes = 0;
    bool complete = false;     ///< every byte valid (snapshot: and its end record seen, nothing after)
    std::string problem;       ///< why not complete, with the byte offset

    uint64_t bad_bytes() const { return total_bytes - valid_bytes; }
};

/// Replays a journal image into `st`. Pure: never touches files; never reads
/// outside `data`; any byte string is a valid input.
file_replay replay_journal_image(std::span<const uint8_t> data, store_state& st);
/// Replays a snapshot image into `st` (records 1..n, then the end record).
file_replay replay_snapshot_image(std::span<const uint8_t> data, store_state& st);

std::filesystem::path snapshot_path(const std::filesystem::path& dir);
std::filesystem::path snapshot_tmp_path(const std::filesystem::path& dir);
std::filesystem::path journal_path(const std::filesystem::path& dir, uint64_t generation);

struct directory_listing {
    bool snapshot = false;
    bool snapshot_tmp = false;
    std::vector<uint64_t> journals;  ///< generations, ascending
};
std::error_code list_state_directory(const std::filesystem::path& dir, directory_listing& out);

/// What loading a directory found.
struct load_report {
    uint64_t snapshot_records = 0;
    uint64_t snapshot_generation = 0;  ///< journals before it are folded into the snapshot
    uint64_t journal_records = 0;
    std::vector<uint64_t> journals;    ///< generations read
    uint64_t last_seq = 0;
    uint64_t last_generation = 0;      ///< newest journal read (0: none)
    size_t last_journal_valid_bytes = 0;
    bool last_journal_header_ok = false;
    uint64_t torn_bytes = 0;           ///< invalid tail of the newest journal
    std::string detail;                ///< the problem, with file and offset
};

/// Reads the snapshot (if any) and the journals with generation in
/// [snapshot generation, upto_generation] into `st`. A bad tail of the newest of
/// those journals is reported in torn_bytes when allow_torn_tail, else an error;
/// anything else wrong is store_errc::corrupt_snapshot / corrupt_journal /
/// journal_gap with `detail` saying where. Read-only.
std::error_code load_state_directory(const std::filesystem::path& dir, const directory_listing& listing,
                                     uint64_t upto_generation, bool allow_torn_tail, store_state& st,
                                     load_report& report);

}  // namespace eg::ctl::leases
