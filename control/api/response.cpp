#include "control/api/response.hpp"

namespace eg::ctl::api {

response error_response(unsigned status, std::string_view code, std::string_view message) {
    response r;
    r.status = status;
    r.body = {{"error", {{"code", code}, {"message", message}}}};
    return r;
}

}  // namespace eg::ctl::api
