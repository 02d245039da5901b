#pragma once
// Shared by the tests that drive process_burst end to end (pipeline_test, nat44_test):
// a snapshot from TOML text through the real loader and builder, and a frame comparison
// that shows where two frames part.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/snapshot.hpp"
#include "tests/unit/test_frames.hpp"

namespace eg::test {

/// The snapshot of a config text; throws with every error when the config is rejected.
inline std::unique_ptr<dp::snapshot> snapshot_from(std::string_view toml, const std::string& name,
                                                   const std::vector<ctl::port_runtime_info>& ports,
                                                   const mac_t& kernel_mac) {
    const cfg::load_result r = cfg::load_string(toml, name);
    if (!r.value) {
        std::string all;
        for (const auto& e : r.errors) all += e.to_string() + "\n";
        throw std::runtime_error("config rejected:\n" + all);
    }
    return ctl::build_snapshot(*r.value, ports, kernel_mac, 1);
}

/// Equal frames, or a failure naming the first differing byte with both sides around it.
inline ::testing::AssertionResult same_bytes(const bytes& got, const bytes& want) {
    if (got == want) return ::testing::AssertionSuccess();
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    const size_t from = i < 16 ? 0 : i - 16;
    auto show = [&](const bytes& b) {
        return b.size() > from ? hex(b.data() + from, std::min<size_t>(64, b.size() - from)) : std::string("<end>");
    };
    return ::testing::AssertionFailure() << "frames differ at byte " << i << " (got " << got.size() << " bytes, want "
                                         << want.size() << ")\n got  @" << from << ":\n" << show(got)
                                         << "\n want @" << from << ":\n" << show(want);
}

}  // namespace eg::test
