// libFuzzer target for lease-store replay: arbitrary bytes as a journal or snapshot
// image (control/leases/replay.hpp). The contract: any bytes replay without a crash
// (the sanitizers watch), the report is consistent (an incomplete file says why and
// where), and whatever state was recovered survives a snapshot round trip exactly.
//
// Input: byte 0 picks the mode, the rest is the file image.
//   bit 0: 0 = journal, 1 = snapshot
//   bit 1: fix the checksums first (header and every frame), so mutations reach the
//          sequence checks and payload decoders instead of dying at the CRC
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "control/leases/journal_format.hpp"
#include "control/leases/replay.hpp"
#include "control/leases/store_state.hpp"

namespace {

using namespace eg::ctl::leases;

void store32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void fix_checksums(std::vector<uint8_t>& b, bool snapshot) {
    if (b.size() < k_file_header_size) return;
    std::memcpy(b.data(), snapshot ? "EGLS" : "EGLJ", 4);
    store32(b.data() + 4, k_format_version);
    store32(b.data() + 24, 0);
    store32(b.data() + 28, crc32c(b.data(), 28));
    size_t off = k_file_header_size;
    while (b.size() - off >= k_frame_header_size) {
        uint8_t* p = b.data() + off;
        const uint32_t len = load_le32(p);
        if (len < k_body_header_size || len > k_max_body || b.size() - off - k_frame_header_size < len) break;
        store32(p + 4, crc32c(p + k_frame_header_size, len, crc32c(p, 4)));
        off += k_frame_header_size + len;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const bool snapshot = data[0] & 1;
    std::vector<uint8_t> image(data + 1, data + size);
    if (data[0] & 2) fix_checksums(image, snapshot);

    store_state st;
    const file_replay r = snapshot ? replay_snapshot_image(image, st) : replay_journal_image(image, st);
    if (r.total_bytes != image.size() || r.valid_bytes > r.total_bytes) std::abort();
    if (r.complete != r.problem.empty()) std::abort();
    if (r.complete && r.valid_bytes != r.total_bytes) std::abort();
    if (!r.header_ok && (r.records != 0 || r.complete)) std::abort();
    if (r.records > 0 && r.valid_bytes <= k_file_header_size) std::abort();

    // What was recovered must survive being written as a snapshot and read back.
    std::vector<uint8_t> snap(k_file_header_size);
    encode_file_header({file_kind::snapshot, 1, r.last_seq}, snap.data());
    const uint64_t n = st.encode(snap, size_t{1} << 30, [](std::vector<uint8_t>&) { return true; });
    encode_snapshot_end(snap, n + 1, n);
    store_state back;
    const file_replay r2 = replay_snapshot_image(snap, back);
    if (!r2.complete || !(back == st) || r2.records != st.leases().size() + st.record_count()) std::abort();
    return 0;
}
