#pragma once
// The admin API's shared secret and its comparison. Both sides are hashed (SHA-256)
// and the digests compared with CRYPTO_memcmp, so the time taken depends neither on
// where the first differing byte is nor on the length of the secret.
#include <array>
#include <cstdint>
#include <string_view>

namespace eg::ctl::api {

class secret {
public:
    explicit secret(std::string_view value);
    /// Constant-time in the content of both `given` and the secret.
    bool matches(std::string_view given) const;

private:
    std::array<uint8_t, 32> digest_{};
};

}  // namespace eg::ctl::api
