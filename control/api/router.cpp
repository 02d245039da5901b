#include "control/api/router.hpp"

#include <cstdio>
#include <exception>

namespace eg::ctl::api {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        const size_t end = path.find('/', i);
        const size_t stop = end == std::string_view::npos ? path.size() : end;
        parts.push_back(path.substr(i, stop - i));
        i = stop;
    }
    return parts;
}

bool is_capture(std::string_view s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

}  // namespace

void router::add(std::string method, std::string_view pattern, handler h) {
    route rt{std::move(method), {}, std::move(h)};
    for (std::string_view p : split_path(pattern)) {
        rt.segments.emplace_back(p);
    }
    routes_.push_back(std::move(rt));
}

bool router::match(const route& rt, const std::vector<std::string_view>& parts, request& r) {
    if (rt.segments.size() != parts.size()) {
        return false;
    }
    for (size_t i = 0; i < parts.size(); ++i) {
        if (!is_capture(rt.segments[i]) && rt.segments[i] != parts[i]) {
            return false;
        }
    }
    r.params.clear();
    for (size_t i = 0; i < parts.size(); ++i) {
        if (is_capture(rt.segments[i])) {
            r.params[rt.segments[i].substr(1, rt.segments[i].size() - 2)] = std::string(parts[i]);
        }
    }
    return true;
}

response router::dispatch(request& r) const {
    const auto parts = split_path(r.path);
    std::string allow;
    for (const route& rt : routes_) {
        if (!match(rt, parts, r)) {
            continue;
        }
        if (rt.method != r.method) {
            if (allow.find(rt.method) == std::string::npos) {
                allow += (allow.empty() ? "" : ", ") + rt.method;
            }
            continue;
        }
        try {
            return rt.h(r);
        } catch (const api_error& e) {
            return error_response(e);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "api: %s %s failed: %s\n", r.method.c_str(), r.path.c_str(), e.what());
            return error_response(500, "internal", "internal error");
        }
    }
    if (!allow.empty()) {
        response res = error_response(405, "method_not_allowed", r.method + " is not allowed on " + r.path.substr(0, 256) +
                                                                     " (allowed: " + allow + ")");
        res.headers.emplace_back("Allow", allow);
        return res;
    }
    return error_response(404, "not_found", "no such resource: " + r.path.substr(0, 256));
}

}  // namespace eg::ctl::api
