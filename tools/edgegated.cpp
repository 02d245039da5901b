// edgegated: the gateway daemon. `edgegated --config FILE` starts it;
// `edgegated --check-config FILE` validates the file and exits (0 = valid).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "config/config.hpp"
#include "control/gateway.hpp"

namespace {

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: edgegated --config FILE      run the gateway\n"
                 "       edgegated --check-config FILE  validate FILE and exit\n"
                 "       edgegated --version\n");
}

int load_or_report(const std::string& path, std::optional<eg::cfg::config>& out) {
    eg::cfg::load_result r = eg::cfg::load_file(path);
    if (!r.errors.empty()) {
        for (const auto& e : r.errors) {
            std::fprintf(stderr, "%s: %s\n", path.c_str(), e.to_string().c_str());
        }
        std::fprintf(stderr, "%s: %zu error(s); nothing applied\n", path.c_str(), r.errors.size());
        return 1;
    }
    out = std::move(r.value);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--config" || a == "--check-config") && i + 1 < argc) {
            config_path = argv[++i];
            check_only = a == "--check-config";
        } else if (a == "--version") {
            std::printf("edgegated %s\n", eg::ctl::k_version);
            return 0;
        } else if (a == "--help" || a == "-h") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "edgegated: unknown argument '%s'\n", a.c_str());
            usage(stderr);
            return 2;
        }
    }
    if (config_path.empty()) {
        usage(stderr);
        return 2;
    }
    std::optional<eg::cfg::config> config;
    if (int rc = load_or_report(config_path, config); rc != 0) {
        return rc;
    }
    if (check_only) {
        std::printf("%s: ok\n", config_path.c_str());
        return 0;
    }
    try {
        eg::ctl::gateway gw(std::move(*config));
        gw.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "edgegated: %s\n", e.what());
        return 1;
    }
    return 0;
}
