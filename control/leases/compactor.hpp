#pragma once
// Compaction: folds the snapshot and the complete journals up to a generation into
// a new snapshot, so the journal does not grow without bound and a restart replays
// one record per live key.
//
// Steps, and why a kill -9 between any two of them loses nothing:
//   1. read snapshot + journals [S, upto] into memory (read-only)       -> nothing changed yet
//   2. write snapshot.tmp (header generation = upto+1)                   -> *.tmp is ignored and
//   3. fdatasync snapshot.tmp                                               removed by open()
//   4. rename(snapshot.tmp, snapshot)  (atomic: the old or the new one)  -> either snapshot is
//   5. fsync(directory)                (makes the rename durable)           consistent with the
//                                                                           journals on disk: the
//      new one says "journals < upto+1 are in me", so open() skips them
//   6. unlink journals <= upto, fsync(directory)                        -> leftovers are skipped
//                                                                           and removed by open()
// Journals > upto (the one being appended to) are never touched. The journal
// being folded was rotated away after its last fdatasync, so it is immutable here.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

namespace eg::ctl::leases {

enum class compaction_step : int {
    read = 1,
    tmp_written,
    tmp_synced,
    renamed,
    dir_synced,
    journals_removed,
};

struct compaction_result {
    std::error_code ec;
    std::string detail;
    uint64_t records = 0;          ///< records in the new snapshot
    uint64_t snapshot_bytes = 0;
    uint64_t folded_journals = 0;
    uint64_t new_generation = 0;   ///< the new snapshot's generation
};

/// Runs the steps above for journals up to `upto_generation`. Stops early (leaving
/// the directory as a crash would) when `cancel` becomes true, or after step
/// `stop_after` (tests: simulate a kill -9 between two steps). Safe to run while
/// the store appends to journals > upto_generation; never two at once.
compaction_result compact_state_directory(const std::filesystem::path& dir, uint64_t upto_generation,
                                          const std::atomic<bool>* cancel = nullptr,
                                          compaction_step stop_after = compaction_step::journals_removed);

}  // namespace eg::ctl::leases
