#pragma once
// The admin API's routing table: (method, path pattern) -> handler. Patterns are
// literal segments and {name} captures ("/v1/allocations/{id}"); a request whose path
// matches no pattern is a 404, one whose path matches only under other methods a 405
// with an Allow header (RFC 9110 §15.5.6). Handlers run on the control thread (the
// server calls dispatch there), so they may read the gateway's state directly.
// New endpoints are one add() each: see control/api/v1_endpoints.cpp.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "control/api/request.hpp"
#include "control/api/response.hpp"

namespace eg::ctl::api {

using handler = std::function<response(const request&)>;

class router {
public:
    /// Adds a route. `pattern` starts with '/'; "{name}" as a whole segment captures it.
    void add(std::string method, std::string_view pattern, handler h);

    /// Runs the matching handler and maps what it throws: api_error to its status and
    /// code, anything else to a 500 "internal" (logged by the caller, not shown).
    response dispatch(request& r) const;

private:
    struct route {
        std::string method;
        std::vector<std::string> segments;  ///< "{name}" = capture
        handler h;
    };
    static bool match(const route& rt, const std::vector<std::string_view>& parts, request& r);
    std::vector<route> routes_;
};

}  // namespace eg::ctl::api
