#include "dataplane/io/buffer_pool.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace eg::dp {

namespace {
constexpr uint32_t round_up64(uint32_t v) { return (v + 63u) & ~63u; }
}  // namespace

buffer_pool::buffer_pool(const buffer_pool_options& opts) {
    if (opts.count == 0)
        throw std::invalid_argument("buffer_pool: count must be at least 1");
    headroom_ = round_up64(opts.headroom < k_min_headroom ? k_min_headroom : opts.headroom);
    buffer_size_ = round_up64(opts.buffer_size);
    if (buffer_size_ < headroom_ + 64)
        throw std::invalid_argument("buffer_pool: buffer_size " + std::to_string(opts.buffer_size) +
                                    " leaves no room after the " + std::to_string(headroom_) +
                                    "-byte headroom");
    count_ = opts.count;
    memory_bytes_ = static_cast<size_t>(count_) * buffer_size_;
    // One mapping, touched now (MAP_POPULATE) so the hot path never page-faults;
    // page alignment gives every buffer 64-byte alignment since sizes are multiples of 64.
    memory_ = ::mmap(nullptr, memory_bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (memory_ == MAP_FAILED) {
        memory_ = nullptr;
        throw std::system_error(errno, std::generic_category(),
                                "buffer_pool: mmap of " + std::to_string(memory_bytes_) + " bytes");
    }
    packets_ = std::make_unique<packet[]>(count_);
    free_ = std::make_unique<packet*[]>(count_);
    auto* base = static_cast<uint8_t*>(memory_);
    // Stack order: the lowest buffer is handed out first (warm cache lines at startup).
    for (uint32_t i = 0; i < count_; ++i) {
        packet& p = packets_[i];
        p.buf = base + static_cast<size_t>(i) * buffer_size_;
        p.buf_size = buffer_size_;
        p.backend_ref = this;
        free_[count_ - 1 - i] = &p;
    }
    free_top_ = count_;
}

buffer_pool::~buffer_pool() {
    if (memory_)
        ::munmap(memory_, memory_bytes_);
}

}  // namespace eg::dp
