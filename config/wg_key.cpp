// WireGuard key text: the 44-character standard base64 that `wg genkey`, `wg pubkey`
// and wg-quick files use for 32-byte keys. libsodium does the base64.
#include <sodium.h>

#include "config/config.hpp"

namespace eg::cfg {

std::optional<wg_key> decode_wg_key(std::string_view base64) {
    // Exactly 43 characters and one '=': anything else is not a 32-byte key.
    if (base64.size() != 44 || base64[43] != '=' || base64[42] == '=') return std::nullopt;
    wg_key k{};
    size_t len = 0;
    if (sodium_base642bin(k.data(), k.size(), base64.data(), base64.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != k.size())
        return std::nullopt;
    return k;
}

std::string encode_wg_key(const wg_key& key) {
    char text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(text, sizeof text, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
    return text;
}

}  // namespace eg::cfg
