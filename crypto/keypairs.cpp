// Keypair slot rotation (see keypairs.hpp).
#include "crypto/keypairs.hpp"

namespace eg::crypto {

peer_keypairs::dropped peer_keypairs::install(std::unique_ptr<keypair> kp) {
    dropped d;
    if (!kp) return d;
    if (kp->initiator()) {
        if (next_) {
            // An unconfirmed next was the last thing the peer could have sent with; it
            // outlives the current one (kernel add_new_keypair).
            d.add(previous_);
            d.add(current_);
            previous_ = std::move(next_);
            current_.reset();
        } else {
            d.add(previous_);
            previous_ = std::move(current_);
        }
        current_ = std::move(kp);
    } else {
        d.add(next_);
        d.add(previous_);
        next_ = std::move(kp);
        previous_.reset();
    }
    return d;
}

bool peer_keypairs::received_with(const keypair* kp, dropped* out) {
    if (kp == nullptr || kp != next_.get()) return false;
    dropped d;
    d.add(previous_);
    previous_ = std::move(current_);
    current_ = std::move(next_);
    if (out) *out = d;
    return true;
}

keypair* peer_keypairs::find(uint32_t local_index) {
    for (keypair* kp : {current_.get(), next_.get(), previous_.get()})
        if (kp && kp->local_index() == local_index) return kp;
    return nullptr;
}

peer_keypairs::dropped peer_keypairs::clear() {
    dropped d;
    d.add(previous_);
    d.add(current_);
    d.add(next_);
    previous_.reset();
    current_.reset();
    next_.reset();
    return d;
}

}  // namespace eg::crypto
