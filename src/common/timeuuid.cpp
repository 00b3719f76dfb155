#include "common/timeuuid.hpp"

#include <chrono>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <openssl/rand.h>

namespace zdm {
namespace {

constexpr int64_t kTicksPerMilli = 10000;
constexpr int64_t kMaxTicks = (int64_t{1} << 60) - 1;
constexpr uint64_t kNodeMask = (uint64_t{1} << 48) - 1;
constexpr uint64_t kMulticastBit = uint64_t{1} << 40;  // LSB of the node's first octet

// OpenSSL's CSPRNG, falling back to std::random_device if it is unavailable.
void fill_random(uint8_t* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) == 1) return;
  std::random_device rd;
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rd());
}

uint64_t random_u64() {
  uint8_t b[8];
  fill_random(b, sizeof b);
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return v;
}

int64_t clamp_ticks(int64_t t) { return t < 0 ? 0 : (t > kMaxTicks ? kMaxTicks : t); }

// Saturates outside the 60-bit range instead of overflowing.
int64_t gregorian_ticks_of_millis(int64_t unix_millis) {
  constexpr int64_t kMinMillis = -kGregorianToUnixTicks / kTicksPerMilli;
  constexpr int64_t kMaxMillis = (kMaxTicks - kGregorianToUnixTicks) / kTicksPerMilli;
  if (unix_millis <= kMinMillis) return 0;
  if (unix_millis > kMaxMillis) return kMaxTicks;
  return unix_millis * kTicksPerMilli + kGregorianToUnixTicks;
}

int64_t gregorian_ticks_of_unix_ticks(int64_t unix_ticks) {
  if (unix_ticks <= -kGregorianToUnixTicks) return 0;
  if (unix_ticks > kMaxTicks - kGregorianToUnixTicks) return kMaxTicks;
  return unix_ticks + kGregorianToUnixTicks;
}

// Floor division (timestamps before 1970 are negative).
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

void store_lsb(Uuid& u, uint64_t lsb) {
  for (int i = 0; i < 8; ++i)
    u[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(lsb >> (56 - 8 * i));
}

void store_time(Uuid& u, int64_t ticks) {
  const auto t = static_cast<uint64_t>(ticks);
  const uint32_t time_low = static_cast<uint32_t>(t);
  const auto time_mid = static_cast<uint16_t>(t >> 32);
  const auto time_hi = static_cast<uint16_t>(((t >> 48) & 0x0FFF) | 0x1000);
  store_be32(u.data(), time_low);
  store_be16(u.data() + 4, time_mid);
  store_be16(u.data() + 6, time_hi);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

int64_t unix_time_ticks_now() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return static_cast<int64_t>(ns / 100);
}

TimeuuidGenerator::TimeuuidGenerator()
    : node_((random_u64() & kNodeMask) | kMulticastBit),
      clock_sequence_(static_cast<uint16_t>(random_u64() & 0x3FFF)) {}

TimeuuidGenerator::TimeuuidGenerator(uint64_t node, uint16_t clock_sequence)
    : node_(node & kNodeMask), clock_sequence_(static_cast<uint16_t>(clock_sequence & 0x3FFF)) {}

Uuid TimeuuidGenerator::next_at(int64_t unix_ticks) {
  const int64_t wanted = gregorian_ticks_of_unix_ticks(unix_ticks);
  int64_t last = last_ticks_.load(std::memory_order_relaxed);
  int64_t chosen = 0;
  do {
    // Past the 60-bit range (year 5236) there is nothing left to count up to; wrapping to 0
    // would break ordering, so the last value repeats there instead.
    chosen = wanted > last ? wanted : (last < kMaxTicks ? last + 1 : kMaxTicks);
  } while (!last_ticks_.compare_exchange_weak(last, chosen, std::memory_order_relaxed));
  return make_timeuuid(chosen, clock_sequence_, node_);
}

Uuid make_timeuuid(int64_t gregorian_ticks, uint16_t clock_sequence, uint64_t node) {
  Uuid u{};
  store_time(u, clamp_ticks(gregorian_ticks));
  u[8] = static_cast<uint8_t>(((clock_sequence >> 8) & 0x3F) | 0x80);
  u[9] = static_cast<uint8_t>(clock_sequence);
  for (int i = 0; i < 6; ++i) {
    u[static_cast<size_t>(10 + i)] = static_cast<uint8_t>((node >> (40 - 8 * i)) & 0xFF);
  }
  return u;
}

Result<int64_t> timeuuid_ticks(const Uuid& u) {
  if (uuid_version(u) != 1) {
    return fail(Errc::InvalidArgument,
                fmt::format("uuid {} is version {}, not a version-1 timeuuid", uuid_to_string(u),
                            uuid_version(u)));
  }
  const uint64_t time_low = load_be32(u.data());
  const uint64_t time_mid = load_be16(u.data() + 4);
  const uint64_t time_hi = load_be16(u.data() + 6) & 0x0FFFu;
  return static_cast<int64_t>((time_hi << 48) | (time_mid << 32) | time_low);
}

Result<int64_t> timeuuid_unix_millis(const Uuid& u) {
  auto ticks = timeuuid_ticks(u);
  if (!ticks) return tl::unexpected(std::move(ticks.error()));
  return floor_div(*ticks - kGregorianToUnixTicks, kTicksPerMilli);
}

Uuid min_timeuuid(int64_t unix_millis) {
  Uuid u{};
  store_time(u, gregorian_ticks_of_millis(unix_millis));
  store_lsb(u, 0x8080808080808080ULL);
  return u;
}

Uuid max_timeuuid(int64_t unix_millis) {
  Uuid u{};
  const int64_t next_ms = unix_millis == INT64_MAX ? unix_millis : unix_millis + 1;
  const int64_t end = gregorian_ticks_of_millis(next_ms);
  store_time(u, end == kMaxTicks ? end : clamp_ticks(end - 1));
  store_lsb(u, 0x7f7f7f7f7f7f7f7fULL);
  return u;
}

int compare_timeuuid(const Uuid& a, const Uuid& b) {
  auto ta = timeuuid_ticks(a);
  auto tb = timeuuid_ticks(b);
  const int64_t va = ta ? *ta : 0;
  const int64_t vb = tb ? *tb : 0;
  if (va != vb) return va < vb ? -1 : 1;
  for (size_t i = 8; i < 16; ++i) {
    const auto sa = static_cast<int8_t>(a[i]);
    const auto sb = static_cast<int8_t>(b[i]);
    if (sa != sb) return sa < sb ? -1 : 1;
  }
  return 0;
}

std::string uuid_to_string(const Uuid& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[u[i] >> 4]);
    out.push_back(kHex[u[i] & 0x0F]);
  }
  return out;
}

Result<Uuid> uuid_from_string(std::string_view text) {
  if (text.size() != 36) {
    return fail(Errc::Malformed,
                fmt::format("uuid text has {} characters; expected 36 (8-4-4-4-12)", text.size()));
  }
  Uuid u{};
  size_t byte = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return fail(Errc::Malformed, fmt::format("uuid text needs '-' at position {}", i));
      }
      ++i;
      continue;
    }
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return fail(Errc::Malformed, fmt::format("uuid text has a non-hex character at position {}",
                                               hi < 0 ? i : i + 1));
    }
    u[byte++] = static_cast<uint8_t>((hi << 4) | lo);
    i += 2;
  }
  return u;
}

Uuid random_uuid() {
  Uuid u{};
  fill_random(u.data(), u.size());
  u[6] = static_cast<uint8_t>((u[6] & 0x0F) | 0x40);
  u[8] = static_cast<uint8_t>((u[8] & 0x3F) | 0x80);
  return u;
}

}  // namespace zdm
