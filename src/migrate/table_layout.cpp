#include "migrate/table_layout.hpp"

#include <fmt/format.h>

#include "migrate/cql_values.hpp"
#include "protocol/value.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::migrate {

TableLayout::TableLayout(const Table& table, const Schema& schema, Partitioner partitioner)
    : table_(table), partitioner_(partitioner) {
  std::string pk;
  for (size_t i = 0; i < table.partition_key_count; ++i) {
    pk += (i ? ", " : "") + quote_identifier(table.columns[i].name);
  }
  select_list_ = "token(" + pk + ")";
  size_t index = 1;
  for (size_t i = 0; i < table.partition_key_count + table.clustering_count; ++i) {
    select_list_ += ", " + quote_identifier(table.columns[i].name);
    ++index;
  }
  for (size_t i = table.partition_key_count + table.clustering_count; i < table.columns.size();
       ++i) {
    const Column& c = table.columns[i];
    const std::string name = quote_identifier(c.name);
    CellSlot slot;
    slot.column = i;
    slot.value = index++;
    select_list_ += ", " + name;
    if (schema.writetime_readable(c)) {
      select_list_ += ", writetime(" + name + "), ttl(" + name + ")";
      slot.writetime = index++;
      slot.ttl = index++;
    } else if (!c.is_counter()) {
      unreadable_writetimes_ = true;
    }
    cells_.push_back(slot);
  }
  width_ = index;
}

std::string TableLayout::range_query(bool bounded_end) const {
  std::string pk;
  for (size_t i = 0; i < table_.partition_key_count; ++i) {
    pk += (i ? ", " : "") + quote_identifier(table_.columns[i].name);
  }
  std::string q =
      fmt::format("SELECT {} FROM {} WHERE token({}) > ?", select_list_, table_.qualified(), pk);
  if (bounded_end) q += fmt::format(" AND token({}) <= ?", pk);
  return q;
}

std::string TableLayout::row_query(bool with_clustering) const {
  std::string where;
  size_t n = table_.partition_key_count + (with_clustering ? table_.clustering_count : 0);
  for (size_t i = 0; i < n; ++i) {
    where += (i ? " AND " : "") + quote_identifier(table_.columns[i].name) + " = ?";
  }
  std::string q =
      fmt::format("SELECT {} FROM {} WHERE {}", select_list_, table_.qualified(), where);
  if (!with_clustering && table_.clustering_count > 0) q += " LIMIT 1";
  return q;
}

std::vector<protocol::BoundValue> TableLayout::key_values(const protocol::Row& row,
                                                          bool with_clustering) const {
  std::vector<protocol::BoundValue> out;
  size_t n = table_.partition_key_count + (with_clustering ? table_.clustering_count : 0);
  for (size_t i = 0; i < n; ++i) {
    const auto& cell = row[key_index(i)];
    out.push_back(cell ? protocol::BoundValue::set(*cell) : protocol::BoundValue::null());
  }
  return out;
}

bool TableLayout::is_static_only(const protocol::Row& row) const {
  return table_.clustering_count > 0 && !row[key_index(table_.partition_key_count)].has_value();
}

TokenValue TableLayout::token(const protocol::Row& row) const {
  const auto& cell = row[token_index()];
  if (!cell) return min_token(partitioner_);
  return decode_token(partitioner_, *cell);
}

namespace {

int compare_bytes(const std::optional<Bytes>& a, const std::optional<Bytes>& b) {
  if (!a || !b) return a ? 1 : (b ? -1 : 0);
  return protocol::compare_unsigned_bytes(*a, *b);
}

}  // namespace

bool TableLayout::same_partition(const protocol::Row& a, const protocol::Row& b) const {
  if (token(a) != token(b)) return false;
  for (size_t i = 0; i < table_.partition_key_count; ++i) {
    if (compare_bytes(a[key_index(i)], b[key_index(i)]) != 0) return false;
  }
  return true;
}

int TableLayout::compare(const protocol::Row& a, const protocol::Row& b) const {
  const TokenValue ta = token(a);
  const TokenValue tb = token(b);
  if (ta != tb) return ta < tb ? -1 : 1;
  // Same token: Cassandra orders by the partition key's bytes (a collision is rare).
  for (size_t i = 0; i < table_.partition_key_count; ++i) {
    int c = compare_bytes(a[key_index(i)], b[key_index(i)]);
    if (c != 0) return c;
  }
  for (size_t i = 0; i < table_.clustering_count; ++i) {
    const Column& column = table_.columns[table_.partition_key_count + i];
    const auto& ca = a[key_index(table_.partition_key_count + i)];
    const auto& cb = b[key_index(table_.partition_key_count + i)];
    if (!ca || !cb) {  // the static row of a partition comes first
      if (!ca && !cb) return 0;
      return !ca ? -1 : 1;
    }
    int c = protocol::compare_values(column.type, *ca, *cb);
    if (c != 0) return column.descending ? -c : c;
  }
  return 0;
}

int64_t TableLayout::writetime(const protocol::Row& row, const CellSlot& slot) const {
  if (!slot.writetime) return kNoWritetime;
  const auto& cell = row[*slot.writetime];
  if (!cell || cell->size() != 8) return kNoWritetime;
  return decode_bigint(*cell);
}

int32_t TableLayout::ttl(const protocol::Row& row, const CellSlot& slot) const {
  if (!slot.ttl) return 0;
  const auto& cell = row[*slot.ttl];
  if (!cell || cell->size() != 4) return 0;
  return decode_int(*cell);
}

std::string TableLayout::key_text(const protocol::Row& row) const {
  std::string out;
  for (size_t i = 0; i < key_count(); ++i) {
    const Column& c = table_.columns[i];
    const auto& cell = row[key_index(i)];
    std::string literal = "null";
    if (cell) {
      auto value = protocol::decode_value(c.type, *cell, protocol::ProtocolVersion::V4);
      literal = value ? protocol::to_cql_literal(*value, c.type) : "0x" + to_hex(*cell);
    }
    out += (i ? ", " : "") + c.name + "=" + literal;
  }
  return out;
}

}  // namespace zdm::migrate
