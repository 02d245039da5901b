#pragma once
// A request as a handler sees it: method, path, the {name} segments the route
// captured, the query string and the raw body; plus the strict JSON body reader that
// future write endpoints (POST /v1/allocations, ...) share: malformed JSON, a body that
// is not an object, or a field the endpoint does not know is a 400, so a typo in a
// field name never silently does nothing.
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace eg::ctl::api {

struct request {
    std::string method;                         ///< "GET", "POST", ...
    std::string path;                           ///< without the query string
    std::string query;                          ///< after '?', undecoded; empty if none
    std::map<std::string, std::string> params;  ///< {name} captures of the matched route
    std::string body;
};

/// The body as a JSON object whose keys are all in `allowed`. Throws api_error 400
/// ("malformed_json", "not_an_object", "unknown_field").
nlohmann::json json_body(const request& r, std::initializer_list<std::string_view> allowed);

}  // namespace eg::ctl::api
