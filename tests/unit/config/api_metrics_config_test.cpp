// The [api] and [metrics] tables (config/config.cpp): real TOML through the real parser;
// bad cases are a table naming `key (line N): message fragment`.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "config/config.hpp"

namespace eg::cfg {
namespace {

// Lines 1-5: one valid port.
#define PORT_VM                 \
    "[[ports]]\n"               \
    "name = \"vm\"\n"           \
    "role = \"vm\"\n"           \
    "backend = \"memory\"\n"    \
    "ipv4 = [\"192.168.100.1/24\"]\n"

std::string all_errors(const load_result& r) {
    std::string s;
    for (const auto& e : r.errors) s += "  " + e.to_string() + "\n";
    return s;
}

TEST(ApiMetricsConfig, AbsentTablesMeanOff) {
    const auto r = load_string(PORT_VM, "t.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_FALSE(r.value->api.enabled);
    EXPECT_FALSE(r.value->metrics.enabled);
    EXPECT_EQ(to_string(r.value->api.listen), "127.0.0.1:1537");
    EXPECT_EQ(to_string(r.value->metrics.listen), "127.0.0.1:9091");
}

TEST(ApiMetricsConfig, DefaultsAndEveryKey) {
    auto r = load_string(PORT_VM "[api]\nsecret = \"0123456789abcdef\"\n[metrics]\n", "t.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_TRUE(r.value->api.enabled);
    EXPECT_EQ(r.value->api.secret, "0123456789abcdef");
    EXPECT_EQ(r.value->api.max_body_bytes, 65536u);
    EXPECT_EQ(r.value->api.request_timeout_ms, 5000u);
    EXPECT_EQ(to_string(r.value->api.listen), "127.0.0.1:1537");
    EXPECT_TRUE(r.value->metrics.enabled);

    r = load_string(PORT_VM
                    "[api]\nlisten = \"[::1]:8443\"\nsecret = \"0123456789abcdef!\"\nmax_body_bytes = 4096\n"
                    "request_timeout_ms = 250\n[metrics]\nlisten = \"0.0.0.0:9100\"\nenabled = false\n",
                    "t.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_EQ(to_string(r.value->api.listen), "[::1]:8443");
    EXPECT_EQ(r.value->api.max_body_bytes, 4096u);
    EXPECT_EQ(r.value->api.request_timeout_ms, 250u);
    EXPECT_EQ(to_string(r.value->metrics.listen), "0.0.0.0:9100");
    EXPECT_FALSE(r.value->metrics.enabled);
}

TEST(ApiMetricsConfig, SecretFileIsReadBesideTheConfig) {
    char dir[] = "/tmp/eg-api-config-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string secret_path = std::string(dir) + "/api.secret";
    std::FILE* f = std::fopen(secret_path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("s3cret-from-a-file-0123\n", f);
    std::fclose(f);
    const auto r = load_string(PORT_VM "[api]\nsecret_file = \"api.secret\"\n", std::string(dir) + "/edgegate.toml");
    ASSERT_TRUE(r.errors.empty()) << all_errors(r);
    EXPECT_EQ(r.value->api.secret, "s3cret-from-a-file-0123");  // trailing newline dropped
    std::remove(secret_path.c_str());
    const auto missing = load_string(PORT_VM "[api]\nsecret_file = \"api.secret\"\n", std::string(dir) + "/x.toml");
    ASSERT_EQ(missing.errors.size(), 1u) << all_errors(missing);
    EXPECT_NE(missing.errors[0].to_string().find("api.secret_file (line 7): cannot read"), std::string::npos)
        << all_errors(missing);
    rmdir(dir);
}

struct bad_case {
    const char* name;
    const char* toml;
    const char* expected;
};

const bad_case k_bad_cases[] = {
    {"secret missing", PORT_VM "[api]\nlisten = \"127.0.0.1:1537\"\n", "api.secret (line 6): required key is missing"},
    {"secret short", PORT_VM "[api]\nsecret = \"short\"\n", "api.secret (line 7): must be at least 16 characters"},
    {"secret with space", PORT_VM "[api]\nsecret = \"0123456789 abcdefg\"\n", "api.secret (line 7): must be printable ASCII"},
    {"secret and file", PORT_VM "[api]\nsecret = \"0123456789abcdef\"\nsecret_file = \"x\"\n",
     "api.secret_file (line 8): give either secret or secret_file"},
    {"unknown api key", PORT_VM "[api]\nsecret = \"0123456789abcdef\"\nsecrets = 1\n",
     "api.secrets (line 8): unknown key (did you mean \"secret\"?)"},
    {"listen no port", PORT_VM "[api]\nsecret = \"0123456789abcdef\"\nlisten = \"127.0.0.1\"\n",
     "api.listen (line 8): expected ADDRESS:PORT"},
    {"listen hostname", PORT_VM "[api]\nsecret = \"0123456789abcdef\"\nlisten = \"localhost:1537\"\n",
     "must be an IP literal"},
    {"listen v6 unbracketed", PORT_VM "[metrics]\nlisten = \"::1:9091\"\n", "metrics.listen (line 7): expected ADDRESS:PORT"},
    {"listen port 0", PORT_VM "[metrics]\nlisten = \"127.0.0.1:0\"\n", "between 1 and 65535"},
    {"body too small", PORT_VM "[api]\nsecret = \"0123456789abcdef\"\nmax_body_bytes = 10\n",
     "api.max_body_bytes (line 8): must be between 1024 and 16777216, got 10"},
    {"timeout too small", PORT_VM "[api]\nsecret = \"0123456789abcdef\"\nrequest_timeout_ms = 5\n",
     "api.request_timeout_ms (line 8): must be between 100 and 600000"},
    {"secret file not regular", PORT_VM "[api]\nsecret_file = \"/dev/null\"\n",
     "api.secret_file (line 7): /dev/null is not a regular file"},
    {"metrics enabled type", PORT_VM "[metrics]\nenabled = \"yes\"\n", "metrics.enabled (line 7): expected boolean"},
    {"same port", PORT_VM "[api]\nsecret = \"0123456789abcdef\"\nlisten = \"0.0.0.0:9091\"\n[metrics]\n",
     "metrics.listen (line 9): 127.0.0.1:9091 is also api.listen"},
};

class ApiMetricsBadCase : public testing::TestWithParam<bad_case> {};

TEST_P(ApiMetricsBadCase, ReportsKeyLineAndMessage) {
    const bad_case& c = GetParam();
    const auto r = load_string(c.toml, "bad.toml");
    EXPECT_FALSE(r.value);
    bool found = false;
    for (const auto& e : r.errors) found = found || e.to_string().find(c.expected) != std::string::npos;
    EXPECT_TRUE(found) << "expected an error containing\n  " << c.expected << "\ngot\n" << all_errors(r);
}

std::string case_name(const testing::TestParamInfo<bad_case>& info) {
    std::string s;
    for (const char* p = info.param.name; *p != '\0'; ++p)
        s.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
    return s;
}

INSTANTIATE_TEST_SUITE_P(Table, ApiMetricsBadCase, testing::ValuesIn(k_bad_cases), case_name);

}  // namespace
}  // namespace eg::cfg
