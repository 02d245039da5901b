#pragma once
// Errors of the address pools, as std::error_code (DESIGN.md: the control plane
// returns expected-like results for failures it can expect, e.g. bad API input).
#include <system_error>

namespace eg::ctl::pools {

enum class pool_errc {
    out_of_range = 1,  ///< the address is not inside any pool
    excluded,          ///< network/broadcast/gateway or a configured exclusion
    in_use,            ///< already allocated or reserved
    not_in_use,        ///< release of an address that is free
    quarantined,       ///< declined earlier, unavailable until its quarantine ends
    overlap,           ///< a new pool overlaps an existing one
    bad_prefix,        ///< prefix length outside /8../30, or host bits set
};

const std::error_category& pool_category() noexcept;
inline std::error_code make_error_code(pool_errc e) noexcept { return {static_cast<int>(e), pool_category()}; }

}  // namespace eg::ctl::pools

template <>
struct std::is_error_code_enum<eg::ctl::pools::pool_errc> : std::true_type {};
