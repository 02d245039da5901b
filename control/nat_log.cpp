#include "control/nat_log.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace eg::ctl {

namespace {

std::string addr_port(uint32_t a, uint16_t port) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff, port);
    return buf;
}

const char* proto_name(uint8_t p) { return p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 ? "icmp" : "other"; }

}  // namespace

nat_log::nat_log(const std::string& path) {
    if (!path.empty()) {
        file_ = std::fopen(path.c_str(), "a");
        if (!file_) {
            throw std::runtime_error("nat.log_file: cannot open " + path + ": " + std::strerror(errno));
        }
    }
}

nat_log::~nat_log() {
    if (file_) {
        std::fclose(file_);
    }
}

std::string nat_log::format(const dp::nat44_event& e, const dp::nat44_policy& policy, int64_t wall_s) {
    char when[32];
    const std::time_t t = static_cast<std::time_t>(wall_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const std::string vm = e.vm < policy.vms.size() ? policy.vms[e.vm].name : "#" + std::to_string(e.vm);
    static const char* kinds[] = {"create", "delete", "quota_exceeded", "ports_exhausted"};
    std::string line = std::string(when) + " " + kinds[e.kind & 3] + " vm=" + vm + " proto=" + proto_name(e.inside.proto);
    // inside key: VM addr:port -> remote addr:port; outside: remote -> public addr:port
    line += " inside=" + addr_port(e.inside.src_addr, e.inside.src_port);
    line += " remote=" + addr_port(e.inside.dst_addr, e.inside.dst_port);
    if (e.kind == dp::nat44_event::session_created || e.kind == dp::nat44_event::session_deleted) {
        line += " public=" + addr_port(e.outside.dst_addr, e.outside.dst_port);
        if (e.outside.src_addr != e.inside.dst_addr || e.outside.src_port != e.inside.dst_port) {
            line += " upstream=" + addr_port(e.outside.src_addr, e.outside.src_port);  // proxy
        }
    }
    line += " worker=" + std::to_string(e.worker);
    return line;
}

void nat_log::drain(dp::nat44_event_ring& ring, const dp::nat44_policy& policy, int64_t mono_to_wall_s) {
    bool wrote = false;
    for (dp::nat44_event* e = ring.front(); e; e = ring.front()) {
        const std::string line = format(*e, policy, int64_t{e->time_s} + mono_to_wall_s);
        if (e->kind == dp::nat44_event::quota_exceeded || e->kind == dp::nat44_event::ports_exhausted) {
            std::fprintf(stderr, "nat: %s\n", line.c_str());
        }
        if (file_) {
            std::fprintf(file_, "%s\n", line.c_str());
            ++lines_;
            wrote = true;
        }
        ring.pop();
    }
    if (wrote) {
        std::fflush(file_);
    }
}

}  // namespace eg::ctl
