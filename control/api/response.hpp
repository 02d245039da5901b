#pragma once
// What an admin API handler answers: a status, a JSON body and extra headers; and the
// one error shape every failure uses, {"error":{"code":"...","message":"..."}}.
// Handlers return errors they expect (bad input, not found, conflict) by throwing
// api_error, which the router turns into that shape (DESIGN.md convention 5: the
// control plane reports expected failures; nothing escapes to the connection).
#include <functional>
#include <nlohmann/json.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace eg::ctl::api {

struct response {
    unsigned status = 200;
    nlohmann::json body = nlohmann::json::object();
    /// When set, sent instead of body.dump(): a handler's cached, already serialized
    /// document (GET /v1/info under load).
    std::string serialized;
    std::vector<std::pair<std::string, std::string>> headers;  ///< besides Content-Type etc.
    /// Set by a handler whose answer must wait (a write that is acknowledged only once
    /// the lease store has it on disk): the server sends nothing now and calls it with
    /// a function that sends the final response, on the control thread, later.
    std::function<void(std::function<void(struct response)>)> deferred;
};

/// An expected failure of a request: status 400/401/404/405/409/413/..., a stable
/// machine-readable code ("unknown_field") and a message for people.
class api_error : public std::runtime_error {
public:
    api_error(unsigned status, std::string code, const std::string& message)
        : std::runtime_error(message), status_(status), code_(std::move(code)) {}
    unsigned status() const { return status_; }
    const std::string& code() const { return code_; }

private:
    unsigned status_;
    std::string code_;
};

/// {"error":{"code":code,"message":message}} with `status`.
response error_response(unsigned status, std::string_view code, std::string_view message);
inline response error_response(const api_error& e) { return error_response(e.status(), e.code(), e.what()); }

/// Calls `done` once lease-store ticket `t` is durable, with an error if the store failed
/// first (dhcp_service::when_durable, proxy_ports_service::when_durable, …).
using durability_wait = std::function<void(uint64_t t, std::function<void(std::error_code)> done)>;

/// The answer to a write: `ok`, deferred until the write's record (ticket `t`) is
/// durable, so an acknowledged change survives a crash; 500 store_failed if the store
/// failed first, its message ending with `unsaved` ("the change is not durable").
response answer_when_durable(durability_wait wait, uint64_t t, response ok, std::string unsaved);

}  // namespace eg::ctl::api
