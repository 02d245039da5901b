#include "control/leases/lease.hpp"

namespace eg::ctl::leases {

std::string_view to_string(lease_state s) {
    switch (s) {
        case lease_state::offered: return "offered";
        case lease_state::bound: return "bound";
        case lease_state::released: return "released";
        case lease_state::declined: return "declined";
        case lease_state::static_lease: return "static";
    }
    return "unknown";
}

}  // namespace eg::ctl::leases
