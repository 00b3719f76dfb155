#include "node/storage/table.hpp"

#include <algorithm>
#include <chrono>

#include "common/murmur3.hpp"
#include "common/timeuuid.hpp"
#include "node/storage/table_partition.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node {

namespace {

Bytes timeuuid_bytes(int64_t ticks) {
  Uuid u = make_timeuuid(ticks, 0, 0);
  return Bytes(u.begin(), u.end());
}

// 2010-01-01T00:00:00Z in Gregorian 100 ns ticks: prepended list elements count down from here,
// appended ones use the current time, so every prepend sorts before every append.
constexpr int64_t kPrependReferenceTicks = kGregorianToUnixTicks + 1262304000LL * 10000000LL;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Free helpers

Clock system_clock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

int64_t partition_token(ByteView key) { return murmur3_token(key).value; }

Result<Bytes> partition_key_bytes(std::span<const ByteView> components) {
  if (components.size() == 1) return Bytes(components[0].begin(), components[0].end());
  return composite_partition_key_checked(components);
}

Bytes collection_bytes(const ColumnSchema& column, const ColumnValue& value) {
  Bytes out;
  ByteWriter w(out);
  w.write_i32(static_cast<int32_t>(value.elements.size()));
  for (const auto& e : value.elements) {
    switch (column.type.id) {
      case TypeId::Set:
        w.write_bytes(ByteView(e.key));
        break;
      case TypeId::Map:
        w.write_bytes(ByteView(e.key));
        w.write_bytes(ByteView(e.value));
        break;
      default:
        w.write_bytes(ByteView(e.value));
        break;
    }
  }
  return out;
}

int Table::KeyLess::compare_bytes(ByteView a, ByteView b) {
  return protocol::compare_unsigned_bytes(a, b);
}

// ---------------------------------------------------------------------------------------------
// Table basics

Table::Table(std::shared_ptr<const TableSchema> schema, Clock clock)
    : clock_(clock ? std::move(clock) : system_clock()),
      schema_(std::move(schema)),
      comparator_(std::make_shared<ClusteringComparator>(*schema_)),
      prepend_ticks_(kPrependReferenceTicks) {
  cache_schema();
}

void Table::cache_schema() {
  value_columns_ = schema_->value_columns();
  value_column_ids_.clear();
  for (const auto* c : value_columns_) value_column_ids_.push_back(c->id);
  std::sort(value_column_ids_.begin(), value_column_ids_.end());
  counter_table_ = schema_->is_counter_table();
}

Table::~Table() = default;

std::shared_ptr<const TableSchema> Table::schema() const {
  std::shared_lock lock(mu_);
  return schema_;
}

void Table::set_schema(std::shared_ptr<const TableSchema> schema) {
  std::unique_lock lock(mu_);
  schema_ = std::move(schema);
  cache_schema();
}

void Table::truncate() {
  std::unique_lock lock(mu_);
  partitions_.clear();
}

size_t Table::partition_count() const {
  std::shared_lock lock(mu_);
  return partitions_.size();
}

int64_t Table::now_seconds() const {
  const int64_t micros = clock_();
  return micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
}

Bytes Table::next_append_path() {
  const int64_t now_ticks = clock_() * 10 + kGregorianToUnixTicks;
  int64_t last = append_ticks_.load(std::memory_order_relaxed);
  int64_t next;
  do {
    next = std::max(now_ticks, last + 1);
  } while (!append_ticks_.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return timeuuid_bytes(next);
}

Bytes Table::next_prepend_path() {
  return timeuuid_bytes(prepend_ticks_.fetch_sub(1, std::memory_order_relaxed));
}

}  // namespace zdm::node
