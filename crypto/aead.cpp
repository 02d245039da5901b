// ChaCha20-Poly1305 (OpenSSL EVP, prepared contexts; libsodium one-shots) and
// XChaCha20-Poly1305 (libsodium). See aead.hpp.
#include "crypto/aead.hpp"

#include <openssl/evp.h>
#include <sodium/crypto_aead_chacha20poly1305.h>
#include <sodium/crypto_aead_xchacha20poly1305.h>

#include <climits>

namespace eg::crypto {
namespace {

const EVP_CIPHER* chacha20_poly1305() {
    // Fetched once (openssl#21005: implicit fetches per init cost a provider lookup).
    static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    return c;
}

}  // namespace

nonce12 wg_nonce(uint64_t counter) {
    nonce12 n{};
    for (int i = 0; i < 8; ++i) n[4 + i] = uint8_t(counter >> (8 * i));
    return n;
}

aead_context::~aead_context() { EVP_CIPHER_CTX_free(ctx_); }

aead_context& aead_context::operator=(aead_context&& o) noexcept {
    if (this != &o) {
        EVP_CIPHER_CTX_free(ctx_);
        ctx_ = o.ctx_;
        mode_ = o.mode_;
        o.ctx_ = nullptr;
    }
    return *this;
}

bool aead_context::init(mode m, const key32& key) {
    EVP_CIPHER_CTX_free(ctx_);
    ctx_ = nullptr;
    const EVP_CIPHER* cipher = chacha20_poly1305();
    if (cipher == nullptr) return false;
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    if (c == nullptr) return false;
    const int enc = m == mode::seal ? 1 : 0;
    // Key now, nonce per packet: CipherInit with only an IV later keeps the key schedule
    // and resets the Poly1305 state (providers/implementations/ciphers/cipher_chacha20_poly1305.c).
    if (EVP_CipherInit_ex2(c, cipher, key.data(), nullptr, enc, nullptr) != 1) {
        EVP_CIPHER_CTX_free(c);
        return false;
    }
    ctx_ = c;
    mode_ = m;
    return true;
}

bool aead_context::seal(const nonce12& nonce, const uint8_t* in, size_t len, uint8_t* out, uint8_t* tag,
                        std::span<const uint8_t> ad) {
    if (ctx_ == nullptr || mode_ != mode::seal || len > size_t(INT_MAX)) return false;
    int n = 0;
    if (EVP_EncryptInit_ex2(ctx_, nullptr, nullptr, nonce.data(), nullptr) != 1) return false;
    if (!ad.empty() && EVP_EncryptUpdate(ctx_, nullptr, &n, ad.data(), int(ad.size())) != 1) return false;
    if (len > 0 && EVP_EncryptUpdate(ctx_, out, &n, in, int(len)) != 1) return false;
    if (EVP_EncryptFinal_ex(ctx_, out + len, &n) != 1) return false;
    return EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, int(k_aead_tag_size), tag) == 1;
}

bool aead_context::open(const nonce12& nonce, const uint8_t* in, size_t len, const uint8_t* tag, uint8_t* out,
                        std::span<const uint8_t> ad) {
    if (ctx_ == nullptr || mode_ != mode::open || len > size_t(INT_MAX)) return false;
    // The ctrl takes a non-const pointer; copy rather than cast (and the tag may sit
    // right after an in-place buffer being written).
    uint8_t expected[k_aead_tag_size];
    for (size_t i = 0; i < k_aead_tag_size; ++i) expected[i] = tag[i];
    int n = 0;
    if (EVP_DecryptInit_ex2(ctx_, nullptr, nullptr, nonce.data(), nullptr) != 1) return false;
    if (!ad.empty() && EVP_DecryptUpdate(ctx_, nullptr, &n, ad.data(), int(ad.size())) != 1) return false;
    if (len > 0 && EVP_DecryptUpdate(ctx_, out, &n, in, int(len)) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, int(k_aead_tag_size), expected) != 1) return false;
    return EVP_DecryptFinal_ex(ctx_, out + len, &n) == 1;  // constant-time tag check inside
}

void aead_seal(uint8_t* out, const key32& key, uint64_t counter, std::span<const uint8_t> in,
               std::span<const uint8_t> ad) {
    const nonce12 n = wg_nonce(counter);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, in.data(), in.size(), ad.data(), ad.size(), nullptr,
                                              n.data(), key.data());
}

bool aead_open(uint8_t* out, const key32& key, uint64_t counter, std::span<const uint8_t> in,
               std::span<const uint8_t> ad) {
    if (in.size() < k_aead_tag_size) return false;
    const nonce12 n = wg_nonce(counter);
    unsigned long long mlen = 0;
    return crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, nullptr, in.data(), in.size(), ad.data(),
                                                     ad.size(), n.data(), key.data()) == 0;
}

void xaead_seal(uint8_t* out, const key32& key, const nonce24& nonce, std::span<const uint8_t> in,
                std::span<const uint8_t> ad) {
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, in.data(), in.size(), ad.data(), ad.size(), nullptr,
                                               nonce.data(), key.data());
}

bool xaead_open(uint8_t* out, const key32& key, const nonce24& nonce, std::span<const uint8_t> in,
                std::span<const uint8_t> ad) {
    if (in.size() < k_aead_tag_size) return false;
    unsigned long long mlen = 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, nullptr, in.data(), in.size(), ad.data(),
                                                      ad.size(), nonce.data(), key.data()) == 0;
}

}  // namespace eg::crypto
