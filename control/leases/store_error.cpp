#include "control/leases/store_error.hpp"

#include <string>

namespace eg::ctl::leases {

namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "eg.lease_store"; }
    std::string message(int ev) const override {
        switch (static_cast<store_errc>(ev)) {
            case store_errc::locked: return "state directory is locked by another process";
            case store_errc::corrupt_snapshot: return "lease snapshot is corrupt";
            case store_errc::corrupt_journal: return "lease journal is corrupt before its last record";
            case store_errc::journal_gap: return "lease journal sequence numbers do not continue";
            case store_errc::store_failed: return "lease store failed an earlier write or fdatasync";
            case store_errc::address_conflict: return "address is leased to another VM";
            case store_errc::invalid_record: return "record field empty or too long";
            case store_errc::closed: return "lease store is closed";
            case store_errc::compaction_cancelled: return "compaction cancelled";
        }
        return "unknown lease store error";
    }
};
}  // namespace

const std::error_category& store_category() noexcept {
    static const category c;
    return c;
}

}  // namespace eg::ctl::leases
