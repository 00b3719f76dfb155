#pragma once
// Version-1 (time-based) uuids as Cassandra's timeuuid type uses them, and uuid helpers.
//
// A timeuuid carries a 60-bit count of 100 ns intervals since 1582-10-15 00:00:00 UTC (the
// Gregorian epoch), a 14-bit clock sequence and a 48-bit node id.

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm {

// 100 ns intervals between 1582-10-15 and 1970-01-01.
inline constexpr int64_t kGregorianToUnixTicks = 122192928000000000LL;

// Unix time in 100 ns units from the system clock.
int64_t unix_time_ticks_now();

// Generates strictly increasing version-1 uuids. Thread-safe and lock-free: the last timestamp
// is an atomic, so concurrent callers never receive the same value. When the clock stalls or
// steps back, timestamps keep counting up from the last one issued (so they may run ahead of the
// clock by one tick per uuid until the clock catches up), as Cassandra's UUIDGen does.
class TimeuuidGenerator {
 public:
  // Random clock sequence and random node id with the multicast bit set (RFC 4122 section 4.5),
  // so it cannot collide with a real MAC address.
  TimeuuidGenerator();
  // A given node id (low 48 bits used) and clock sequence (low 14 bits used).
  TimeuuidGenerator(uint64_t node, uint16_t clock_sequence);

  // Next uuid at the current system time.
  Uuid next() { return next_at(unix_time_ticks_now()); }
  // Next uuid for a given Unix time in 100 ns units; strictly after every uuid issued before.
  Uuid next_at(int64_t unix_ticks);

  uint64_t node() const { return node_; }
  uint16_t clock_sequence() const { return clock_sequence_; }

 private:
  std::atomic<int64_t> last_ticks_{0};  // Gregorian ticks of the last uuid issued
  uint64_t node_;
  uint16_t clock_sequence_;
};

// A version-1 uuid from its parts (Gregorian 100 ns ticks, 14-bit clock sequence, 48-bit node).
Uuid make_timeuuid(int64_t gregorian_ticks, uint16_t clock_sequence, uint64_t node);

// Version nibble (1 for timeuuid, 4 for random) and whether the variant is RFC 4122 (10xx).
inline int uuid_version(const Uuid& u) { return u[6] >> 4; }
inline bool uuid_is_rfc4122(const Uuid& u) { return (u[8] & 0xC0) == 0x80; }

// The 60-bit timestamp of a version-1 uuid in Gregorian 100 ns ticks; fails (Errc::InvalidArgument)
// for other versions.
Result<int64_t> timeuuid_ticks(const Uuid& u);
// Milliseconds since the Unix epoch of a version-1 uuid (rounded down), as Cassandra's
// toTimestamp/unixTimestampOf.
Result<int64_t> timeuuid_unix_millis(const Uuid& u);

// Cassandra's minTimeuuid(ms)/maxTimeuuid(ms): the smallest and largest timeuuids (in timeuuid
// order, see compare_timeuuid) whose timestamp falls in that millisecond. Not unique ids; for
// range queries only.
Uuid min_timeuuid(int64_t unix_millis);
Uuid max_timeuuid(int64_t unix_millis);

// Cassandra's timeuuid ordering: by timestamp, then the clock sequence and node bytes compared as
// signed bytes. Returns <0, 0, >0. Both must be version 1 for the result to be meaningful.
int compare_timeuuid(const Uuid& a, const Uuid& b);

// Canonical lowercase 8-4-4-4-12 form.
std::string uuid_to_string(const Uuid& u);
// Parses the 8-4-4-4-12 form (either case); fails with Errc::Malformed saying where.
Result<Uuid> uuid_from_string(std::string_view text);

// A random (version 4) uuid from OpenSSL's CSPRNG. Thread-safe.
Uuid random_uuid();

}  // namespace zdm
