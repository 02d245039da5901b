#include "dataplane/neighbour_table.hpp"

#include <cstring>
#include <utility>
#include <vector>

namespace eg::dp {

neighbour_key neighbour_key::ipv4(uint16_t port, uint32_t addr_host_order) {
    neighbour_key k;
    k.port = port;
    k.addr[0] = static_cast<uint8_t>(addr_host_order >> 24);
    k.addr[1] = static_cast<uint8_t>(addr_host_order >> 16);
    k.addr[2] = static_cast<uint8_t>(addr_host_order >> 8);
    k.addr[3] = static_cast<uint8_t>(addr_host_order);
    return k;
}

neighbour_key neighbour_key::ipv6(uint16_t port, const uint8_t* addr) {
    neighbour_key k;
    k.port = port;
    k.v6 = true;
    std::memcpy(k.addr.data(), addr, 16);
    return k;
}

neighbour_table::neighbour_table(uint32_t capacity) {
    uint32_t c = 16;
    while (c < capacity) {
        c <<= 1;
    }
    mask_ = c - 1;
    slots_ = std::make_unique<slot[]>(c);
}

uint32_t neighbour_table::hash(const neighbour_key& key) const {
    // Two multiplicative rounds over the 16 address bytes (IPv4 keys are zero-padded):
    // a few cycles per packet, and good enough spread for linear probing.
    uint64_t a, b;
    std::memcpy(&a, key.addr.data(), 8);
    std::memcpy(&b, key.addr.data() + 8, 8);
    uint64_t h = (a ^ (uint64_t{key.port} << 48) ^ (key.v6 ? 0x9e3779b97f4a7c15ULL : 0)) * 0xff51afd7ed558ccdULL;
    h = (h ^ (h >> 29) ^ b) * 0xc4ceb9fe1a85ec53ULL;
    return static_cast<uint32_t>(h >> 32);
}

bool neighbour_table::matches(const slot& s, const neighbour_key& key) const {
    // Both sides hold 16 address bytes (IPv4 zero-padded), so compare them whole.
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, s.addr, 8);
    std::memcpy(&a1, s.addr + 8, 8);
    std::memcpy(&b0, key.addr.data(), 8);
    std::memcpy(&b1, key.addr.data() + 8, 8);
    return s.port == key.port && (s.v6 != 0) == key.v6 && ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

bool neighbour_table::lookup(const neighbour_key& key, uint8_t mac_out[6], neighbour_ref* ref) const {
    uint32_t i = hash(key) & mask_;
    for (uint32_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
        const slot& s = slots_[i];
        for (;;) {
            uint32_t seq1 = s.seq.load(std::memory_order_acquire);
            if (seq1 & 1) {
                continue;  // writer mid-update: retry this slot
            }
            uint8_t state = s.state;
            bool hit = state == k_used && matches(s, key);
            uint8_t mac[6];
            std::memcpy(mac, s.mac, 6);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (s.seq.load(std::memory_order_relaxed) != seq1) {
                continue;
            }
            if (hit) {
                std::memcpy(mac_out, mac, 6);
                if (ref) {
                    *ref = neighbour_ref{i, seq1};
                }
                return true;
            }
            if (state == k_empty) {
                return false;
            }
            break;  // used by another key or deleted: keep probing
        }
    }
    return false;
}

void neighbour_table::write_slot(slot& s, uint8_t state, const neighbour_key& key, const uint8_t* mac) {
    uint32_t seq = s.seq.load(std::memory_order_relaxed);
    s.seq.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    s.state = state;
    s.v6 = key.v6;
    s.port = key.port;
    std::memcpy(s.addr, key.addr.data(), 16);
    if (mac) {
        std::memcpy(s.mac, mac, 6);
    }
    s.seq.store(seq + 2, std::memory_order_release);
}

bool neighbour_table::set(const neighbour_key& key, const std::array<uint8_t, 6>& mac) {
    uint32_t i = hash(key) & mask_;
    slot* reuse = nullptr;
    for (uint32_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
        slot& s = slots_[i];
        if (s.state == k_used && matches(s, key)) {
            if (std::memcmp(s.mac, mac.data(), 6) != 0) {
                write_slot(s, k_used, key, mac.data());
            }
            return true;
        }
        if (s.state == k_deleted && !reuse) {
            reuse = &s;
        }
        if (s.state == k_empty) {
            if (!reuse) {
                if ((used_or_deleted_ + 1) * 4 > (mask_ + 1) * 3) {
                    // Keep probe chains short: past 3/4 in use or deleted, rebuild
                    // without tombstones if that frees enough, else the table is full.
                    if ((size_ + 1) * 2 > (mask_ + 1)) {
                        return false;
                    }
                    rebuild();
                    return set(key, mac);
                }
                reuse = &s;
                ++used_or_deleted_;
            }
            break;
        }
    }
    if (!reuse) {
        return false;
    }
    write_slot(*reuse, k_used, key, mac.data());
    ++size_;
    return true;
}

void neighbour_table::rebuild() {
    // Readers may miss an entry while it moves; a worker then hands the packet to the
    // control thread, which still knows the neighbour and sends it on. No data race:
    // every slot write goes through its sequence counter.
    std::vector<std::pair<neighbour_key, std::array<uint8_t, 6>>> live;
    live.reserve(size_);
    for (uint32_t i = 0; i <= mask_; ++i) {
        slot& s = slots_[i];
        if (s.state == k_used) {
            neighbour_key k;
            k.port = s.port;
            k.v6 = s.v6 != 0;
            std::memcpy(k.addr.data(), s.addr, 16);
            std::array<uint8_t, 6> m;
            std::memcpy(m.data(), s.mac, 6);
            live.emplace_back(k, m);
        }
        if (s.state != k_empty) {
            write_slot(s, k_empty, neighbour_key{}, nullptr);
        }
    }
    size_ = 0;
    used_or_deleted_ = 0;
    for (const auto& [k, m] : live) {
        set(k, m);
    }
}

void neighbour_table::erase(const neighbour_key& key) {
    uint32_t i = hash(key) & mask_;
    for (uint32_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
        slot& s = slots_[i];
        if (s.state == k_empty) {
            return;
        }
        if (s.state == k_used && matches(s, key)) {
            write_slot(s, k_deleted, key, nullptr);
            --size_;
            return;
        }
    }
}

}  // namespace eg::dp
