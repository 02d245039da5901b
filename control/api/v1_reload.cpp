#include "control/api/v1_reload.hpp"

#include <memory>

namespace eg::ctl::api {

namespace {

using json = nlohmann::json;

response failure(unsigned status, const char* code, const std::string& message, const char* list_name,
                 const std::vector<std::string>& lines) {
    json list = json::array();
    std::string text = message;
    for (const auto& l : lines) {
        list.push_back(l);
        text += "\n  " + l;
    }
    return response{status, {{"error", {{"code", code}, {"message", text}, {list_name, std::move(list)}}}}, {}};
}

}  // namespace

void add_v1_reload_endpoint(router& r, std::function<reload_outcome()> reload) {
    auto fn = std::make_shared<std::function<reload_outcome()>>(std::move(reload));
    r.add("POST", "/v1/reload", [fn](const request& req) {
        if (!req.body.empty()) (void)json_body(req, {});  // {} or nothing: there are no options
        const reload_outcome o = (*fn)();
        switch (o.result) {
        case reload_outcome::kind::applied: {
            json applied = json::array();
            for (const auto& l : o.lines) applied.push_back(l);
            return response{200, {{"reloaded", true}, {"applied", std::move(applied)}, {"generation", o.generation}}, {}};
        }
        case reload_outcome::kind::invalid:
            return failure(400, "invalid_config", "the config file is invalid; nothing changed:", "errors", o.lines);
        case reload_outcome::kind::needs_restart:
            return failure(409, "needs_restart", "these changes need a restart; nothing changed:", "changed", o.lines);
        case reload_outcome::kind::conflict:
            return failure(409, "conflict",
                           "runtime forwards or egress policies clash with the new file; nothing changed "
                           "(delete them first):",
                           "conflicts", o.lines);
        }
        throw api_error(500, "internal", "internal error");
    });
}

}  // namespace eg::ctl::api
