#include "node/storage/cell.hpp"

#include "protocol/value_compare.hpp"

namespace zdm::node {

bool cell_supersedes(const Cell& update, const Cell& existing) {
  if (update.timestamp != existing.timestamp) return update.timestamp > existing.timestamp;
  const bool u_special = update.local_deletion_time != kNoDeletionTime;
  const bool e_special = existing.local_deletion_time != kNoDeletionTime;
  if (u_special || e_special) {
    if (u_special != e_special) return u_special;
    if (update.is_tombstone() != existing.is_tombstone()) return update.is_tombstone();
    if (update.local_deletion_time != existing.local_deletion_time) {
      return update.local_deletion_time > existing.local_deletion_time;
    }
  }
  return protocol::compare_unsigned_bytes(update.value, existing.value) > 0;
}

Bytes encode_counter(int64_t sum) {
  Bytes out(8);
  auto u = static_cast<uint64_t>(sum);
  for (size_t i = 8; i-- > 0;) {
    out[i] = static_cast<uint8_t>(u & 0xFF);
    u >>= 8;
  }
  return out;
}

int64_t decode_counter(ByteView value) {
  if (value.size() != 8) return 0;
  uint64_t u = 0;
  for (uint8_t b : value) u = (u << 8) | b;
  return static_cast<int64_t>(u);
}

}  // namespace zdm::node
