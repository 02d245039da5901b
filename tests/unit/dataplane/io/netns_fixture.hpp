#pragma once
// A throw-away network namespace for the uring backend tests: created with
// `ip netns add eg-iotest-<tag>-<pid>`, entered by the calling thread with setns (sockets,
// AF_PACKET and TAP devices opened afterwards live in it; threads it starts inherit
// it), left and deleted in the destructor, so also when a test fails.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace eg::dp::test {

class netns_fixture {
public:
    explicit netns_fixture(const std::string& tag) : name_("eg-iotest-" + tag + "-" + std::to_string(::getpid())) {
        std::system(("ip netns del " + name_ + " 2>/dev/null").c_str());
        if (std::system(("ip netns add " + name_).c_str()) != 0)
            return;
        created_ = true;
        home_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int ns = ::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
        if (home_ >= 0 && ns >= 0 && ::setns(ns, CLONE_NEWNET) == 0)
            entered_ = true;
        if (ns >= 0)
            ::close(ns);
        // Quiet links: no IPv6 router solicitations or DAD in the captures.
        sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    }
    ~netns_fixture() {
        if (entered_)
            ::setns(home_, CLONE_NEWNET);
        if (home_ >= 0)
            ::close(home_);
        if (created_)
            std::system(("ip netns del " + name_).c_str());
    }
    netns_fixture(const netns_fixture&) = delete;
    netns_fixture& operator=(const netns_fixture&) = delete;

    bool ok() const { return entered_; }
    const std::string& name() const { return name_; }
    /// Runs a shell command inside the namespace; true on exit status 0.
    bool sh(const std::string& cmd) const {
        return std::system(("ip netns exec " + name_ + " sh -c '" + cmd + "'").c_str()) == 0;
    }

private:
    std::string name_;
    int home_ = -1;
    bool created_ = false;
    bool entered_ = false;
};

/// Threads of this process named iou-wrk-*: io_uring's blocking-work helpers. Receives
/// kept in flight must be poll-armed, not parked in one of those per request.
inline int io_uring_worker_threads() {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(e.path() / "comm");
        std::string name;
        std::getline(comm, name);
        n += name.rfind("iou-wrk", 0) == 0;
    }
    return n;
}

}  // namespace eg::dp::test
