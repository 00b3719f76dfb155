#include "proxy/session/read_comparison.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/murmur3.hpp"

namespace zdm::proxy {

namespace {

constexpr uint32_t kGlobalTablesSpec = 0x0001;
constexpr uint32_t kHasMorePages = 0x0002;
constexpr uint32_t kNoMetadata = 0x0004;
constexpr uint32_t kMetadataChanged = 0x0008;
constexpr uint32_t kDseContinuousPaging = 0x40000000;
constexpr int kMaxTypeDepth = 64;
constexpr size_t kMaxStatement = 200;

// splitmix64's finalizer: the second multiset sum is over a bijective remix of each row hash,
// so two different row multisets must collide on two independent sums to compare equal.
uint64_t remix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

[[gnu::cold]] Error malformed(std::string_view what) {
  return Error{Errc::Malformed, fmt::format("ROWS result: {}", what)};
}

// Skips an [option] type without building it (allocation-free).
Result<void> skip_type(ByteReader& r, int depth) {
  if (depth > kMaxTypeDepth) return tl::unexpected(malformed("type nesting too deep"));
  auto id = r.read_u16();
  if (!id) return tl::unexpected(id.error());
  switch (*id) {
    case 0x0000: {  // custom: class name
      auto name = r.read_string();
      if (!name) return tl::unexpected(name.error());
      return {};
    }
    case 0x0020:  // list
    case 0x0022:  // set
      return skip_type(r, depth + 1);
    case 0x0021: {  // map
      if (auto k = skip_type(r, depth + 1); !k) return k;
      return skip_type(r, depth + 1);
    }
    case 0x0030: {  // UDT: ks, name, n x (field name, type)
      if (auto ks = r.read_string(); !ks) return tl::unexpected(ks.error());
      if (auto name = r.read_string(); !name) return tl::unexpected(name.error());
      auto n = r.read_u16();
      if (!n) return tl::unexpected(n.error());
      for (uint16_t i = 0; i < *n; ++i) {
        if (auto field = r.read_string(); !field) return tl::unexpected(field.error());
        if (auto t = skip_type(r, depth + 1); !t) return t;
      }
      return {};
    }
    case 0x0031: {  // tuple: n x type
      auto n = r.read_u16();
      if (!n) return tl::unexpected(n.error());
      for (uint16_t i = 0; i < *n; ++i) {
        if (auto t = skip_type(r, depth + 1); !t) return t;
      }
      return {};
    }
    default:
      if (*id >= 0x0001 && *id <= 0x0015 && *id != 0x000A) return {};
      return tl::unexpected(malformed(fmt::format("unknown type id 0x{:04x}", *id)));
  }
}

Result<void> skip_string(ByteReader& r) {
  auto s = r.read_string();
  if (!s) return tl::unexpected(s.error());
  return {};
}

std::string render_lead(const RowSample& s) {
  if (s.lead_size < 0) return "null";
  const auto kept = ByteView(s.lead.data(), s.lead_kept);
  const bool printable = s.lead_kept > 0 && std::all_of(kept.begin(), kept.end(), [](uint8_t c) {
                           return c >= 0x20 && c < 0x7f && c != '\'';
                         });
  std::string out =
      printable ? fmt::format("'{}'", std::string_view(reinterpret_cast<const char*>(kept.data()),
                                                       kept.size()))
                : "0x" + to_hex(kept);
  if (static_cast<int32_t>(s.lead_kept) < s.lead_size)
    out += fmt::format("... ({} bytes)", s.lead_size);
  return out;
}

}  // namespace

std::string_view comparison_result_name(ComparisonResult result) {
  switch (result) {
    case ComparisonResult::Match:
      return "match";
    case ComparisonResult::Mismatch:
      return "mismatch";
    case ComparisonResult::Error:
      return "error";
    case ComparisonResult::Skipped:
      return "skipped";
    case ComparisonResult::Timeout:
      return "timeout";
  }
  return "skipped";
}

// ---------------------------------------------------------------------------------------------
// ComparisonCounters

ComparisonCounters::ComparisonCounters(metrics::CounterFamily* family, std::string keyspace,
                                       std::string table)
    : family_(family), keyspace_(std::move(keyspace)), table_(std::move(table)) {}

void ComparisonCounters::count(ComparisonResult result) {
  if (!family_) return;
  auto& series = series_[static_cast<size_t>(result)];
  if (!series) series = &family_->labels({keyspace_, table_, comparison_result_name(result)});
  series->inc();
}

// ---------------------------------------------------------------------------------------------
// RowsDigest

void RowsDigest::clear() {
  kind_ = Kind::None;
  more_pages_ = false;
  row_count_ = 0;
  sum_ = mix_ = 0;
  error_ = protocol::ErrorCode::ServerError;
  samples_.clear();
}

void RowsDigest::add_response(protocol::ProtocolVersion version, const ResponsePeek& peek) {
  clear();
  if (peek.error) {
    kind_ = Kind::Error;
    error_ = *peek.error;
    return;
  }
  if (peek.opcode != protocol::Opcode::Result || !peek.is(protocol::ResultKind::Rows)) {
    kind_ = Kind::OtherResult;
    return;
  }
  if (auto ok = add_rows(version, peek.message); !ok) {
    clear();
    kind_ = Kind::Malformed;
  }
}

Result<void> RowsDigest::add_rows(protocol::ProtocolVersion version, ByteView message) {
  clear();
  ByteReader r(message);
  auto kind = r.read_i32();
  if (!kind) return tl::unexpected(kind.error());
  if (*kind != static_cast<int32_t>(protocol::ResultKind::Rows))
    return tl::unexpected(malformed("not a ROWS result"));
  auto flags = r.read_u32();
  if (!flags) return tl::unexpected(flags.error());
  auto columns = r.read_i32();
  if (!columns) return tl::unexpected(columns.error());
  if (*columns < 0) return tl::unexpected(malformed("negative column count"));
  if (*flags & kHasMorePages) {
    more_pages_ = true;
    if (auto state = r.read_bytes(); !state) return tl::unexpected(state.error());
  }
  if ((*flags & kMetadataChanged) && protocol::uses_prepared_metadata(version)) {
    if (auto id = r.read_short_bytes(); !id) return tl::unexpected(id.error());
  }
  if ((*flags & kDseContinuousPaging) && protocol::uses_continuous_paging(version)) {
    if (auto page = r.read_i32(); !page) return tl::unexpected(page.error());
  }
  if (!(*flags & kNoMetadata)) {
    const bool global = (*flags & kGlobalTablesSpec) != 0;
    if (global) {
      if (auto ok = skip_string(r); !ok) return ok;
      if (auto ok = skip_string(r); !ok) return ok;
    }
    for (int32_t c = 0; c < *columns; ++c) {
      if (!global) {
        if (auto ok = skip_string(r); !ok) return ok;
        if (auto ok = skip_string(r); !ok) return ok;
      }
      if (auto ok = skip_string(r); !ok) return ok;
      if (auto ok = skip_type(r, 0); !ok) return ok;
    }
  }
  auto rows = r.read_i32();
  if (!rows) return tl::unexpected(rows.error());
  if (*rows < 0) return tl::unexpected(malformed("negative row count"));
  const auto cells_per_row = static_cast<size_t>(*columns);
  // Every cell takes at least its 4-byte length: reject impossible counts before looping.
  if (cells_per_row > 0 && static_cast<size_t>(*rows) > r.remaining() / (4 * cells_per_row)) {
    return tl::unexpected(malformed("row count exceeds the body"));
  }
  row_count_ = *rows;
  if (cells_per_row == 0) {
    // Rows without cells are all alike: the count is the whole content.
    kind_ = Kind::Rows;
    return {};
  }
  for (int32_t i = 0; i < *rows; ++i) {
    const size_t start = r.position();
    RowSample sample;
    for (size_t c = 0; c < cells_per_row; ++c) {
      auto n = r.read_i32();
      if (!n) return tl::unexpected(n.error());
      if (*n > 0) {
        auto cell = r.read_raw(static_cast<size_t>(*n));
        if (!cell) return tl::unexpected(cell.error());
        if (c == 0) {
          sample.lead_kept = static_cast<uint8_t>(std::min(cell->size(), sample.lead.size()));
          std::copy_n(cell->begin(), sample.lead_kept, sample.lead.begin());
        }
      }
      if (c == 0) sample.lead_size = *n;
    }
    const auto row = message.subspan(start, r.position() - start);
    const auto h = static_cast<uint64_t>(murmur3_hash64(row));
    sum_ += h;
    mix_ += remix(h);
    if (samples_.size() < kMaxSamples) {
      sample.hash = h;
      samples_.push_back(sample);
    }
  }
  kind_ = Kind::Rows;
  return {};
}

ComparisonResult compare_digests(const RowsDigest& primary, const RowsDigest& secondary) {
  using Kind = RowsDigest::Kind;
  if (primary.kind() == Kind::Error || secondary.kind() == Kind::Error) {
    return ComparisonResult::Error;
  }
  if (primary.kind() != Kind::Rows || secondary.kind() != Kind::Rows) {
    return ComparisonResult::Skipped;
  }
  const bool same = primary.row_count() == secondary.row_count() &&
                    primary.sum() == secondary.sum() && primary.mix() == secondary.mix();
  return same ? ComparisonResult::Match : ComparisonResult::Mismatch;
}

std::string describe_difference(const RowsDigest& primary, const RowsDigest& secondary) {
  auto by_hash = [](const RowSample& a, const RowSample& b) { return a.hash < b.hash; };
  std::vector<RowSample> p = primary.samples();
  std::vector<RowSample> s = secondary.samples();
  std::sort(p.begin(), p.end(), by_hash);
  std::sort(s.begin(), s.end(), by_hash);
  const RowSample* only_p = nullptr;
  const RowSample* only_s = nullptr;
  size_t i = 0, j = 0;
  while ((i < p.size() || j < s.size()) && !(only_p && only_s)) {
    if (j == s.size() || (i < p.size() && p[i].hash < s[j].hash)) {
      if (!only_p) only_p = &p[i];
      ++i;
    } else if (i == p.size() || s[j].hash < p[i].hash) {
      if (!only_s) only_s = &s[j];
      ++j;
    } else {
      ++i;
      ++j;
    }
  }
  std::string out =
      fmt::format("rows primary={} secondary={}", primary.row_count(), secondary.row_count());
  if (only_p)
    out += fmt::format("; a row only on the primary has leading column {}", render_lead(*only_p));
  if (only_s) {
    out += fmt::format("; a row only on the secondary has leading column {}", render_lead(*only_s));
  }
  if (!only_p && !only_s) {
    out += fmt::format("; the first {} rows of each side agree", RowsDigest::kMaxSamples);
  }
  return out;
}

bool mismatch_log_allowed(int per_minute) {
  static std::atomic<int64_t> window{-1};
  static std::atomic<int> used{0};
  const int64_t minute = std::chrono::duration_cast<std::chrono::minutes>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  int64_t seen = window.load(std::memory_order_relaxed);
  if (seen != minute && window.compare_exchange_strong(seen, minute)) {
    used.store(0, std::memory_order_relaxed);
  }
  return used.fetch_add(1, std::memory_order_relaxed) < per_minute;
}

// ---------------------------------------------------------------------------------------------
// ReadComparisons

ReadComparisons::ReadComparisons(size_t capacity, protocol::ProtocolVersion version)
    : version_(version) {
  entries_.reserve(std::min<size_t>(capacity, 64));
  free_.reserve(std::min<size_t>(capacity, 64));
  capacity_ = capacity;
}

ReadComparisons::Ticket ReadComparisons::open(ComparisonCounters* counters,
                                              std::string_view statement) {
  int32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (entries_.size() >= capacity_) return {};
    index = static_cast<int32_t>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = entries_[static_cast<size_t>(index)];
  e.in_use = true;
  e.seq = next_seq_++;
  if (next_seq_ == 0) next_seq_ = 1;
  e.have_primary = e.have_secondary = false;
  e.counters = counters;
  e.statement.assign(statement.substr(0, kMaxStatement));
  ++open_;
  return Ticket{index, e.seq};
}

ReadComparisons::Entry* ReadComparisons::find(Ticket ticket) {
  if (ticket.index < 0 || static_cast<size_t>(ticket.index) >= entries_.size()) return nullptr;
  Entry& e = entries_[static_cast<size_t>(ticket.index)];
  return e.in_use && e.seq == ticket.seq ? &e : nullptr;
}

void ReadComparisons::primary(Ticket ticket, const ResponsePeek& peek) {
  Entry* e = find(ticket);
  if (!e || e->have_primary) return;
  e->primary.add_response(version_, peek);
  e->have_primary = true;
  if (e->have_secondary) finish(*e, compare_digests(e->primary, e->secondary));
}

void ReadComparisons::secondary(Ticket ticket, const ResponsePeek& peek) {
  Entry* e = find(ticket);
  if (!e || e->have_secondary) return;
  e->secondary.add_response(version_, peek);
  e->have_secondary = true;
  if (e->have_primary) finish(*e, compare_digests(e->primary, e->secondary));
}

void ReadComparisons::abandon(Ticket ticket, ComparisonResult why) {
  if (Entry* e = find(ticket)) finish(*e, why);
}

void ReadComparisons::finish(Entry& e, ComparisonResult result) {
  ++totals_[static_cast<size_t>(result)];
  if (e.counters) e.counters->count(result);
  if (result == ComparisonResult::Mismatch && mismatch_log_allowed()) {
    spdlog::warn("read comparison mismatch on {}.{}: {}; statement: {}",
                 e.counters ? e.counters->keyspace() : std::string("?"),
                 e.counters ? e.counters->table() : std::string("?"),
                 describe_difference(e.primary, e.secondary), e.statement);
  }
  release(e);
}

void ReadComparisons::release(Entry& e) {
  e.in_use = false;
  e.counters = nullptr;
  // Large results do not pin memory in idle entries.
  if (e.primary.samples().capacity() > RowsDigest::kMaxSamples) e.primary = RowsDigest();
  if (e.secondary.samples().capacity() > RowsDigest::kMaxSamples) e.secondary = RowsDigest();
  --open_;
  free_.push_back(static_cast<int32_t>(&e - entries_.data()));
}

void ReadComparisons::clear() {
  for (auto& e : entries_) {
    if (e.in_use) release(e);
  }
}

}  // namespace zdm::proxy
