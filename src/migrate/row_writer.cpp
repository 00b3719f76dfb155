#include "migrate/row_writer.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "migrate/cql_values.hpp"

namespace zdm::migrate {

namespace asio = boost::asio;
using protocol::BoundValue;

RowWriter::RowWriter(std::shared_ptr<client::Session> target, const TableLayout& layout,
                     protocol::Consistency consistency, int64_t fallback_timestamp)
    : target_(std::move(target)),
      layout_(layout),
      consistency_(consistency),
      fallback_timestamp_(fallback_timestamp) {}

asio::awaitable<Result<std::shared_ptr<const client::PreparedStatement>>> RowWriter::prepared(
    const std::string& shape, const std::string& cql) {
  if (auto it = cache_.find(shape); it != cache_.end()) co_return it->second;
  auto p = co_await target_->prepare(cql);
  if (!p)
    co_return fail(Errc::Io,
                   fmt::format("preparing '{}' on target failed: {}", cql, p.error().to_string()));
  cache_[shape] = *p;
  co_return *p;
}

client::Statement RowWriter::bound(std::shared_ptr<const client::PreparedStatement> p,
                                   std::vector<BoundValue> values) const {
  auto s = client::Statement::bound(std::move(p), std::move(values));
  s.consistency = consistency_;
  s.idempotence = client::Idempotence::Idempotent;
  return s;
}

std::string RowWriter::key_columns(bool with_clustering) const {
  const Table& t = layout_.table();
  std::string out;
  size_t n = t.partition_key_count + (with_clustering ? t.clustering_count : 0);
  for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + quote_identifier(t.columns[i].name);
  return out;
}

std::string RowWriter::where_clause(bool with_clustering) const {
  const Table& t = layout_.table();
  std::string out;
  size_t n = t.partition_key_count + (with_clustering ? t.clustering_count : 0);
  for (size_t i = 0; i < n; ++i) {
    out += (i ? " AND " : "") + quote_identifier(t.columns[i].name) + " = ?";
  }
  return out;
}

namespace {

struct Group {
  int64_t writetime;
  int32_t ttl;
  std::vector<size_t> slots;
};

}  // namespace

asio::awaitable<Result<void>> RowWriter::plan_row(protocol::Row& row,
                                                  const std::vector<bool>& write, bool key_only,
                                                  StatementList& out, WriteCounts& counts,
                                                  CellUse use) {
  auto cell_value = [&](size_t slot) {
    auto& cell = row[layout_.cells()[slot].value];
    return use == CellUse::Move ? BoundValue::set(std::move(*cell)) : BoundValue::set(*cell);
  };
  const Table& table = layout_.table();
  const auto& slots = layout_.cells();
  // The newest writetime of the row stands in for cells whose writetime origin cannot tell.
  int64_t newest = kNoWritetime;
  int32_t newest_ttl = 0;
  for (const auto& slot : slots) {
    if (!row[slot.value]) continue;
    int64_t wt = layout_.writetime(row, slot);
    if (wt != kNoWritetime && wt > newest) {
      newest = wt;
      newest_ttl = layout_.ttl(row, slot);
    }
  }
  if (newest == kNoWritetime) newest = fallback_timestamp_;

  std::vector<Group> groups;
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& slot = slots[i];
    if (!write[i] || !row[slot.value]) continue;
    int64_t wt = layout_.writetime(row, slot);
    int32_t ttl = layout_.ttl(row, slot);
    if (wt == kNoWritetime) {
      wt = newest;
      ttl = newest_ttl;
      ++counts.writetime_estimated;
    }
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.writetime == wt && g.ttl == ttl; });
    if (it == groups.end()) {
      groups.push_back(Group{wt, ttl, {}});
      it = groups.end() - 1;
    }
    it->slots.push_back(i);
  }
  const bool static_row = layout_.is_static_only(row);
  if (groups.empty()) {
    if (!key_only || static_row) co_return Result<void>{};
    std::string marks;
    for (size_t m = 0; m < layout_.key_count(); ++m) marks += m ? ", ?" : "?";
    std::string cql = fmt::format("INSERT INTO {} ({}) VALUES ({}) USING TIMESTAMP ?",
                                  table.qualified(), key_columns(true), marks);
    auto p = co_await prepared("K", cql);
    if (!p) co_return tl::unexpected(p.error());
    auto values = layout_.key_values(row, true);
    values.push_back(bind_bigint(fallback_timestamp_));
    out.push_back(bound(*p, std::move(values)));
    ++counts.statements;
    co_return Result<void>{};
  }
  for (const auto& g : groups) {
    bool only_static = true;
    for (size_t i : g.slots) {
      if (table.columns[slots[i].column].kind != ColumnKind::Static) only_static = false;
    }
    const bool with_clustering = !static_row && !only_static;
    std::string shape = with_clustering ? "I1" : "I0";
    shape.resize(2 + slots.size(), '0');
    for (size_t i : g.slots) shape[2 + i] = '1';
    // Static cells alone: an UPDATE of the partition (an INSERT would need clustering values).
    const bool static_update = !with_clustering && table.clustering_count > 0;
    auto it = cache_.find(shape);
    std::shared_ptr<const client::PreparedStatement> p;
    if (it != cache_.end()) {
      p = it->second;
    } else if (static_update) {
      std::string sets;
      for (size_t i : g.slots) {
        sets += (sets.empty() ? "" : ", ") + quote_identifier(table.columns[slots[i].column].name) +
                " = ?";
      }
      auto prepared_statement = co_await prepared(
          shape, fmt::format("UPDATE {} USING TIMESTAMP ? AND TTL ? SET {} WHERE {}",
                             table.qualified(), sets, where_clause(false)));
      if (!prepared_statement) co_return tl::unexpected(prepared_statement.error());
      p = *prepared_statement;
    } else {
      std::string columns = key_columns(with_clustering);
      size_t markers = table.partition_key_count + (with_clustering ? table.clustering_count : 0);
      for (size_t i : g.slots)
        columns += ", " + quote_identifier(table.columns[slots[i].column].name);
      markers += g.slots.size();
      std::string marks;
      for (size_t m = 0; m < markers; ++m) marks += m ? ", ?" : "?";
      auto prepared_statement = co_await prepared(
          shape, fmt::format("INSERT INTO {} ({}) VALUES ({}) USING TIMESTAMP ? AND TTL ?",
                             table.qualified(), columns, marks));
      if (!prepared_statement) co_return tl::unexpected(prepared_statement.error());
      p = *prepared_statement;
    }
    std::vector<BoundValue> values;
    if (static_update) {
      values.push_back(bind_bigint(g.writetime));
      values.push_back(bind_int(g.ttl));
      for (size_t i : g.slots) values.push_back(cell_value(i));
      auto keys = layout_.key_values(row, false);
      values.insert(values.end(), keys.begin(), keys.end());
    } else {
      values = layout_.key_values(row, with_clustering);
      for (size_t i : g.slots) values.push_back(cell_value(i));
      values.push_back(bind_bigint(g.writetime));
      values.push_back(bind_int(g.ttl));
    }
    out.push_back(bound(p, std::move(values)));
    ++counts.statements;
    counts.cells += g.slots.size();
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> RowWriter::plan_counters(
    const protocol::Row& row, const std::vector<std::optional<int64_t>>& deltas, StatementList& out,
    WriteCounts& counts) {
  const Table& table = layout_.table();
  const auto& slots = layout_.cells();
  std::string shape = "C";
  std::string sets;
  std::vector<BoundValue> values;
  for (size_t i = 0; i < slots.size(); ++i) {
    const bool set = i < deltas.size() && deltas[i].has_value();
    shape += set ? '1' : '0';
    if (!set) continue;
    const std::string name = quote_identifier(table.columns[slots[i].column].name);
    sets += (sets.empty() ? "" : ", ") + name + " = " + name + " + ?";
    values.push_back(bind_bigint(*deltas[i]));
  }
  if (values.empty()) co_return Result<void>{};
  const bool with_clustering = !layout_.is_static_only(row);
  shape += with_clustering ? '1' : '0';
  auto p = co_await prepared(shape, fmt::format("UPDATE {} SET {} WHERE {}", table.qualified(),
                                                sets, where_clause(with_clustering)));
  if (!p) co_return tl::unexpected(p.error());
  counts.cells += values.size();
  auto keys = layout_.key_values(row, with_clustering);
  values.insert(values.end(), keys.begin(), keys.end());
  out.push_back(bound(*p, std::move(values)));
  out.back().idempotence = client::Idempotence::NotIdempotent;  // a counter update adds
  ++counts.statements;
  co_return Result<void>{};
}

asio::awaitable<Result<void>> RowWriter::plan_delete_row(const protocol::Row& row,
                                                         int64_t timestamp, StatementList& out) {
  const Table& table = layout_.table();
  if (layout_.is_static_only(row)) {
    std::vector<bool> statics(layout_.cells().size());
    for (size_t i = 0; i < statics.size(); ++i) {
      statics[i] = table.columns[layout_.cells()[i].column].kind == ColumnKind::Static;
    }
    co_return co_await plan_delete_cells(row, statics, timestamp, out);
  }
  auto p = co_await prepared("D", fmt::format("DELETE FROM {} USING TIMESTAMP ? WHERE {}",
                                              table.qualified(), where_clause(true)));
  if (!p) co_return tl::unexpected(p.error());
  std::vector<BoundValue> values{bind_bigint(timestamp)};
  auto keys = layout_.key_values(row, true);
  values.insert(values.end(), keys.begin(), keys.end());
  out.push_back(bound(*p, std::move(values)));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> RowWriter::plan_delete_cells(const protocol::Row& row,
                                                           const std::vector<bool>& cells,
                                                           int64_t timestamp, StatementList& out) {
  const Table& table = layout_.table();
  const auto& slots = layout_.cells();
  std::string shape = "X";
  std::string names;
  bool only_static = true;
  for (size_t i = 0; i < slots.size(); ++i) {
    const bool set = i < cells.size() && cells[i];
    shape += set ? '1' : '0';
    if (!set) continue;
    const Column& c = table.columns[slots[i].column];
    if (c.kind != ColumnKind::Static) only_static = false;
    names += (names.empty() ? "" : ", ") + quote_identifier(c.name);
  }
  if (names.empty()) co_return Result<void>{};
  const bool with_clustering = !layout_.is_static_only(row) && !only_static;
  shape += with_clustering ? '1' : '0';
  auto p =
      co_await prepared(shape, fmt::format("DELETE {} FROM {} USING TIMESTAMP ? WHERE {}", names,
                                           table.qualified(), where_clause(with_clustering)));
  if (!p) co_return tl::unexpected(p.error());
  std::vector<BoundValue> values{bind_bigint(timestamp)};
  auto keys = layout_.key_values(row, with_clustering);
  values.insert(values.end(), keys.begin(), keys.end());
  out.push_back(bound(*p, std::move(values)));
  co_return Result<void>{};
}

}  // namespace zdm::migrate
