#pragma once
// A peer's keypair slots (whitepaper §6.3; kernel noise.c add_new_keypair and
// wg_noise_received_with_keypair): previous, current, next, so a rekey drops nothing.
//  - The initiator starts sending on a new keypair as soon as it has it: new → current,
//    old current → previous (still opens packets in flight).
//  - The responder cannot send on a new keypair before the initiator proves it has it,
//    so the new one waits in next; the first packet that opens with next confirms it
//    (next → current, current → previous).
// Owner: the peer's home worker. Allocation only when a keypair is installed.
#include <cstdint>
#include <memory>

#include "crypto/transport.hpp"

namespace eg::crypto {

class peer_keypairs {
public:
    /// Local indices of keypairs dropped by install()/received_with(), for the caller
    /// to remove from its index table.
    struct dropped {
        uint32_t index[3]{};
        uint32_t count = 0;
        void add(const std::unique_ptr<keypair>& kp) {
            if (kp) index[count++] = kp->local_index();
        }
    };

    /// Places a freshly derived keypair by its role (see above).
    dropped install(std::unique_ptr<keypair> kp);
    /// Call after a packet opened with kp. True when kp was next and is now current:
    /// the responder's key confirmation (the caller may then flush staged packets).
    bool received_with(const keypair* kp, dropped* out = nullptr);

    /// The keypair whose local index is idx, among the three; nullptr if none.
    keypair* find(uint32_t local_index);
    keypair* current() { return current_.get(); }
    keypair* previous() { return previous_.get(); }
    keypair* next() { return next_.get(); }
    /// All keys wiped (the 540 s zero-key timer, or a peer removal).
    dropped clear();

private:
    std::unique_ptr<keypair> previous_, current_, next_;
};

}  // namespace eg::crypto
