#include "control/api/server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>
#include <vector>

#include "control/api/secret.hpp"

namespace eg::ctl::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr uint32_t k_header_limit = 16 * 1024;  ///< request line + headers

/// One client connection: read a request, answer it, repeat while keep-alive.
class session : public std::enable_shared_from_this<session> {
public:
    struct shared {
        server_options options;
        router routes;
        api::secret secret;
    };

    session(tcp::socket socket, std::shared_ptr<const shared> s) : stream_(std::move(socket)), s_(std::move(s)) {}

    void start() { read(); }
    void close() {
        beast::error_code ec;
        stream_.socket().close(ec);
    }

private:
    void read() {
        parser_.emplace();
        parser_->body_limit(s_->options.max_body_bytes);
        parser_->header_limit(k_header_limit);
        // The deadline covers the whole request, so a client that trickles bytes (or
        // idles on a keep-alive connection) is cut off after request_timeout.
        stream_.expires_after(s_->options.request_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec == http::error::end_of_stream) {
            stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
            return;
        }
        if (ec == http::error::body_limit) {
            send(error_response(413, "payload_too_large",
                                "the request body is larger than " + std::to_string(s_->options.max_body_bytes) +
                                    " bytes (api.max_body_bytes)"),
                 11, false);
            return;
        }
        if (ec == http::error::header_limit) {
            send(error_response(431, "headers_too_large", "the request headers are too large"), 11, false);
            return;
        }
        if (ec) {
            // A malformed request gets a 400 before the connection closes; timeouts,
            // resets and our own close just end the session.
            if (&ec.category() == &http::make_error_code(http::error::bad_target).category()) {
                send(error_response(400, "bad_request", "malformed HTTP request"), 11, false);
            }
            return;
        }
        const auto& req = parser_->get();
        const bool keep_alive = req.keep_alive();
        const unsigned version = req.version();
        const auto secret_it = req.find("x-api-secret");
        if (secret_it == req.end() ||
            !s_->secret.matches(std::string_view(secret_it->value().data(), secret_it->value().size()))) {
            send(error_response(401, "unauthorized", "missing or wrong x-api-secret header"), version, keep_alive);
            return;
        }
        request r;
        r.method = std::string(req.method_string());
        const std::string_view target(req.target().data(), req.target().size());
        const size_t q = target.find('?');
        r.path = std::string(target.substr(0, q));
        if (q != std::string_view::npos) {
            r.query = std::string(target.substr(q + 1));
        }
        r.body = std::move(parser_->get().body());
        response res = s_->routes.dispatch(r);
        if (res.deferred) {
            // Answered later (e.g. once the lease store has fsynced): the session stays
            // alive in the completion; nothing is read meanwhile.
            auto later = std::move(res.deferred);
            later([self = shared_from_this(), version, keep_alive](response final) {
                self->send(std::move(final), version, keep_alive);
            });
            return;
        }
        send(std::move(res), version, keep_alive);
    }

    void send(response r, unsigned version, bool keep_alive) {
        res_.emplace(static_cast<http::status>(r.status), version);
        res_->set(http::field::server, "edgegate");
        res_->set(http::field::content_type, "application/json");
        res_->set(http::field::cache_control, "no-store");
        for (const auto& [name, value] : r.headers) {
            res_->set(name, value);
        }
        // 204/304 carry no body (RFC 9110 §15.3.5, §15.4.5; Beast refuses one).
        if (r.status != 204 && r.status != 304 && r.status >= 200) {
            res_->body() = r.serialized.empty() ? r.body.dump() : std::move(r.serialized);
            res_->body() += '\n';
        }
        res_->keep_alive(keep_alive);
        res_->prepare_payload();
        stream_.expires_after(s_->options.request_timeout);
        http::async_write(stream_, *res_, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
            if (ec) {
                return;
            }
            if (!keep_alive) {
                self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
                return;
            }
            self->read();
        });
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::shared_ptr<const shared> s_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::response<http::string_body>> res_;
};

}  // namespace

class server::listener : public std::enable_shared_from_this<server::listener> {
public:
    listener(boost::asio::io_context& io, server_options options, router routes)
        : acceptor_(io), shared_(std::make_shared<session::shared>(session::shared{
                             options, std::move(routes), api::secret(options.secret)})) {
        beast::error_code ec;
        acceptor_.open(options.listen.protocol(), ec);
        if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(options.listen, ec);
        if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
        if (ec) {
            throw std::runtime_error("api: cannot listen on " + options.listen.address().to_string() + ":" +
                                     std::to_string(options.listen.port()) + ": " + ec.message());
        }
    }

    void accept() {
        acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
            if (ec == boost::asio::error::operation_aborted || !self->acceptor_.is_open()) {
                return;
            }
            if (!ec) {
                self->prune();
                if (self->sessions_.size() < self->shared_->options.max_connections) {
                    auto s = std::make_shared<session>(std::move(socket), self->shared_);
                    self->sessions_.push_back(s);
                    s->start();
                }  // else: dropped here, closing the socket
            }
            self->accept();
        });
    }

    void stop() {
        beast::error_code ec;
        acceptor_.close(ec);
        for (auto& w : sessions_) {
            if (auto s = w.lock()) {
                s->close();
            }
        }
        sessions_.clear();
    }

    uint16_t port() const {
        beast::error_code ec;
        return acceptor_.local_endpoint(ec).port();
    }

private:
    void prune() {
        std::erase_if(sessions_, [](const std::weak_ptr<session>& w) { return w.expired(); });
    }

    tcp::acceptor acceptor_;
    std::shared_ptr<const session::shared> shared_;
    std::vector<std::weak_ptr<session>> sessions_;
};

server::server(boost::asio::io_context& io, server_options options, router routes)
    : listener_(std::make_shared<listener>(io, std::move(options), std::move(routes))) {
    listener_->accept();
}

server::~server() { listener_->stop(); }

uint16_t server::port() const { return listener_->port(); }

}  // namespace eg::ctl::api
