#include "dataplane/vm6_bindings.hpp"

namespace eg::dp {

void vm6_bindings::add(const vm6_binding& b) {
    if (slots_.empty()) {
        slots_.assign(16, 0);
    }
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash(b.addr.data()) & mask;; i = (i + 1) & mask) {
        const uint32_t e = slots_[i];
        if (e == 0) {
            entries_.push_back(b);
            slots_[i] = static_cast<uint32_t>(entries_.size());
            break;
        }
        if (entries_[e - 1].addr == b.addr) {
            entries_[e - 1] = b;
            return;
        }
    }
    if (entries_.size() * 2 > slots_.size()) {
        rehash(slots_.size() * 2);
    }
}

void vm6_bindings::rehash(size_t slots) {
    slots_.assign(slots, 0);
    const size_t mask = slots - 1;
    for (uint32_t e = 0; e < entries_.size(); ++e) {
        size_t i = hash(entries_[e].addr.data()) & mask;
        while (slots_[i] != 0) {
            i = (i + 1) & mask;
        }
        slots_[i] = e + 1;
    }
}

}  // namespace eg::dp
