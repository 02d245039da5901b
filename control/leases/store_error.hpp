#pragma once
// Errors of the lease store, as std::error_code. I/O failures carry errno in
// std::system_category; these are the store's own. The store never crashes on a bad
// file: it returns one of these and says where in its open report.
#include <system_error>

namespace eg::ctl::leases {

enum class store_errc {
    locked = 1,         ///< another process has the state directory open
    corrupt_snapshot,   ///< the snapshot fails its checks (written atomically, so this is media damage)
    corrupt_journal,    ///< a journal other than the newest is damaged (only the newest may have a torn tail)
    journal_gap,        ///< sequence numbers do not continue between files (a journal is missing)
    store_failed,       ///< an earlier write or fdatasync failed; nothing more is made durable
    address_conflict,   ///< put_lease: the IPv4 address is held by another vps_id
    invalid_record,     ///< empty or over-long id, key or value
    closed,             ///< the store is shutting down
    compaction_cancelled,
};

const std::error_category& store_category() noexcept;
inline std::error_code make_error_code(store_errc e) noexcept { return {static_cast<int>(e), store_category()}; }

}  // namespace eg::ctl::leases

template <>
struct std::is_error_code_enum<eg::ctl::leases::store_errc> : std::true_type {};
