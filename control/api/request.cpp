#include "control/api/request.hpp"

#include <algorithm>

#include "control/api/response.hpp"

namespace eg::ctl::api {

nlohmann::json json_body(const request& r, std::initializer_list<std::string_view> allowed) {
    // allow_exceptions = false: a parse failure is a discarded value, not an exception
    // that carries nlohmann's internal message text to the client.
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded()) {
        throw api_error(400, "malformed_json", "the request body is not valid JSON");
    }
    if (!j.is_object()) {
        throw api_error(400, "not_an_object", "the request body must be a JSON object");
    }
    for (const auto& [key, value] : j.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            // Appended piecewise: GCC 12's LTO warns (falsely) on a chain of operator+.
            std::string msg = "unknown field \"";
            msg.append(key, 0, 64);
            msg.append("\" (known:");
            for (std::string_view a : allowed) {
                msg.append(" ").append(a);
            }
            msg.append(allowed.size() == 0 ? " none)" : ")");
            throw api_error(400, "unknown_field", msg);
        }
    }
    return j;
}

}  // namespace eg::ctl::api
