#include "control/api/response.hpp"

#include <memory>

namespace eg::ctl::api {

response error_response(unsigned status, std::string_view code, std::string_view message) {
    response r;
    r.status = status;
    r.body = {{"error", {{"code", code}, {"message", message}}}};
    return r;
}

response answer_when_durable(durability_wait wait, uint64_t t, response ok, std::string unsaved) {
    response r;
    auto shared = std::make_shared<response>(std::move(ok));
    r.deferred = [wait = std::move(wait), t, shared, unsaved = std::move(unsaved)](std::function<void(response)> send) {
        wait(t, [shared, unsaved, send = std::move(send)](std::error_code ec) {
            if (ec) {
                send(error_response(500, "store_failed", "the lease store failed (" + ec.message() + "); " + unsaved));
            } else {
                send(std::move(*shared));
            }
        });
    };
    return r;
}

}  // namespace eg::ctl::api
