#pragma once
// CRC32C (Castagnoli), the checksum of journal and snapshot records: the same
// polynomial as ext4/btrfs metadata and LevelDB/RocksDB logs, with a hardware
// instruction on x86 (SSE4.2, which the build's -march already requires for the
// flow table) and a table fallback elsewhere.
#include <cstddef>
#include <cstdint>

namespace eg::ctl::leases {

/// CRC32C of data[0..len) continuing from `crc` (0 to start).
uint32_t crc32c(const void* data, size_t len, uint32_t crc = 0);

}  // namespace eg::ctl::leases
