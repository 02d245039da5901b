#include "control/pools/pool_error.hpp"

#include <string>

namespace eg::ctl::pools {

namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "eg.pool"; }
    std::string message(int ev) const override {
        switch (static_cast<pool_errc>(ev)) {
            case pool_errc::out_of_range: return "address is outside the pool";
            case pool_errc::excluded: return "address is excluded from the pool";
            case pool_errc::in_use: return "address is already in use";
            case pool_errc::not_in_use: return "address is not in use";
            case pool_errc::quarantined: return "address is quarantined (declined)";
            case pool_errc::overlap: return "pool overlaps an existing pool";
            case pool_errc::bad_prefix: return "pool prefix must be /8../30 with no host bits set";
        }
        return "unknown pool error";
    }
};
}  // namespace

const std::error_category& pool_category() noexcept {
    static const category c;
    return c;
}

}  // namespace eg::ctl::pools
