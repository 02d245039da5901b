#pragma once
// The probe's HTTP exchange, without sockets: the request a client sends to an HTTP
// proxy for an absolute URL (RFC 9112 §3.2.2 absolute-form: "GET http://host/path
// HTTP/1.1"), and the judgement of the answer: status 200 and a body that is an IPv4
// or IPv6 address (an IP-echo service: what it saw as the client address, i.e. the
// proxy's exit address), compared with the expected one.
// Owner: any thread (pure functions).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eg::ctl::probes {

struct probe_url {
    std::string host;        ///< as written (a name or an address literal)
    uint16_t port = 80;
    std::string path = "/";  ///< with the query, if any
};

/// http://HOST[:PORT][/PATH]; nullopt for anything else (config validation gives the
/// reasons; this is the same rule).
std::optional<probe_url> parse_probe_url(std::string_view url);

/// The request bytes for `url` through a proxy: absolute-form target, Host header,
/// Connection: close (the probe reads to the end of the answer).
std::string build_proxy_request(const probe_url& url);

/// What one probe found. `ok` is what the rise/fall counting sees.
struct probe_outcome {
    bool ok = false;
    std::string error;          ///< empty when ok: "connect: ...", "timeout", "status 502", "wrong_exit_address", ...
    std::string exit_address;   ///< the address in the echo body, when there was one
    std::optional<bool> matches;  ///< exit == expected; nullopt when nothing is expected or seen
};

/// Judges an answer: `status` and `body` of the proxy's response. With `expect` set, a
/// different exit address is a failure ("wrong_exit_address"): the port leaks traffic
/// from an address its user does not own.
probe_outcome evaluate_response(unsigned status, std::string_view body, const std::optional<std::string>& expect);

}  // namespace eg::ctl::probes
