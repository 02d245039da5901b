#pragma once
// The admin API's HTTP/1.1 server (Boost.Beast) on the control thread's io_context:
// everything is asynchronous, so a slow or hostile client never blocks the control
// loop. Per connection: requests are read with a body limit (413 beyond it) and a
// deadline per request (a request, or an idle keep-alive connection, that takes longer
// is cut off); every request must carry the shared secret in x-api-secret (401
// otherwise, checked before routing); keep-alive is honoured.
// Owner: the control thread (construct, use and destroy it there).
#include <utility>  // before asio: Boost 1.74 uses std::exchange without including it

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "control/api/router.hpp"

namespace eg::ctl::api {

struct server_options {
    boost::asio::ip::tcp::endpoint listen;     ///< port 0 = an ephemeral port (tests)
    std::string secret;                        ///< x-api-secret value
    uint32_t max_body_bytes = 65536;
    std::chrono::milliseconds request_timeout{5000};
    uint32_t max_connections = 256;            ///< more are closed at once (fd budget)
};

class server {
public:
    /// Binds and starts accepting; throws std::runtime_error when it cannot listen
    /// (start-up only).
    server(boost::asio::io_context& io, server_options options, router routes);
    /// Closes the listener and every open connection.
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// The bound port (the chosen one when options.listen had port 0).
    uint16_t port() const;

    class listener;  // implementation; shared with in-flight handlers so they outlive us safely

private:
    std::shared_ptr<listener> listener_;
};

}  // namespace eg::ctl::api
