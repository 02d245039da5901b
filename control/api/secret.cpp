#include "control/api/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace eg::ctl::api {

namespace {
std::array<uint8_t, 32> sha256(std::string_view s) {
    std::array<uint8_t, 32> d{};
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
    return d;
}
}  // namespace

secret::secret(std::string_view value) : digest_(sha256(value)) {}

bool secret::matches(std::string_view given) const {
    const auto d = sha256(given);
    return CRYPTO_memcmp(d.data(), digest_.data(), d.size()) == 0;
}

}  // namespace eg::ctl::api
