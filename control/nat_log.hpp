#pragma once
// Drains the workers' NAT44 event rings on the control thread: the optional mapping
// log (one line per session created or deleted, for abuse reports: time, VM, protocol,
// inside and outside address:port) and warnings on stderr when a VM hits its session
// quota or runs out of ports (already rate-limited per VM by the workers).
// Line format (space-separated key=value, one event per line):
//   2026-11-22T05:31:07Z create vm=vm1 proto=tcp inside=192.168.100.11:40312
//     remote=203.0.113.2:80 public=203.0.113.1:40312 worker=0
// Owner: the control thread.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "dataplane/nat44_policy.hpp"
#include "dataplane/nat44_state.hpp"

namespace eg::ctl {

class nat_log {
public:
    /// Opens `path` for appending (throws std::runtime_error naming it when it cannot);
    /// an empty path logs no sessions, only the warnings.
    explicit nat_log(const std::string& path);
    ~nat_log();
    nat_log(const nat_log&) = delete;
    nat_log& operator=(const nat_log&) = delete;

    /// Takes every queued event of `ring` (bounded by what is queued now).
    /// `mono_to_wall_s` converts the workers' monotonic seconds to Unix time.
    void drain(dp::nat44_event_ring& ring, const dp::nat44_policy& policy, int64_t mono_to_wall_s);

    /// One formatted line (no newline), for tests and the log.
    static std::string format(const dp::nat44_event& e, const dp::nat44_policy& policy, int64_t wall_s);

    uint64_t lines_written() const { return lines_; }

private:
    std::FILE* file_ = nullptr;
    uint64_t lines_ = 0;
};

}  // namespace eg::ctl
