#pragma once
// Turns rows read from origin into the prepared statements that make target hold the same cells:
// the cells of a row that share (writetime, TTL) go in one INSERT ... USING TIMESTAMP ? AND TTL ?,
// so every cell keeps its own writetime and TTL. Cells whose writetime origin cannot tell take the
// newest writetime of their row (counted as estimated). Nulls are never written. Counter rows
// become `c = c + delta` updates; deletes carry an explicit timestamp.
//
// Statements are prepared once per shape (which columns, with or without clustering) and cached.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "client/session.hpp"
#include "migrate/table_layout.hpp"

namespace zdm::migrate {

struct WriteCounts {
  uint64_t statements = 0;
  uint64_t cells = 0;
  uint64_t writetime_estimated = 0;
};

using StatementList = std::vector<client::Statement>;

// Whether planning may move the row's cell bytes into the statements (the row is not used after).
enum class CellUse : uint8_t { Copy, Move };

class RowWriter {
 public:
  RowWriter(std::shared_ptr<client::Session> target, const TableLayout& layout,
            protocol::Consistency consistency, int64_t fallback_timestamp);

  // Statements for the cells of `row` whose slot is set in `write` (one flag per
  // layout.cells()); with `key_only` a row without any such cell is still created (INSERT of its
  // primary key), as a row that holds only its key must be.
  boost::asio::awaitable<Result<void>> plan_row(protocol::Row& row, const std::vector<bool>& write,
                                                bool key_only, StatementList& out,
                                                WriteCounts& counts, CellUse use = CellUse::Copy);

  // `c = c + delta` for every counter slot with a delta.
  boost::asio::awaitable<Result<void>> plan_counters(
      const protocol::Row& row, const std::vector<std::optional<int64_t>>& deltas,
      StatementList& out, WriteCounts& counts);

  // Deletes the row (or the static cells of a static-only row) at `timestamp`: writes newer than
  // it survive.
  boost::asio::awaitable<Result<void>> plan_delete_row(const protocol::Row& row, int64_t timestamp,
                                                       StatementList& out);
  // Deletes single cells (slots set in `cells`) at `timestamp`.
  boost::asio::awaitable<Result<void>> plan_delete_cells(const protocol::Row& row,
                                                         const std::vector<bool>& cells,
                                                         int64_t timestamp, StatementList& out);

 private:
  boost::asio::awaitable<Result<std::shared_ptr<const client::PreparedStatement>>> prepared(
      const std::string& shape, const std::string& cql);
  client::Statement bound(std::shared_ptr<const client::PreparedStatement> p,
                          std::vector<protocol::BoundValue> values) const;
  std::string key_columns(bool with_clustering) const;
  std::string where_clause(bool with_clustering) const;

  std::shared_ptr<client::Session> target_;
  const TableLayout& layout_;
  protocol::Consistency consistency_;
  int64_t fallback_timestamp_;
  std::unordered_map<std::string, std::shared_ptr<const client::PreparedStatement>> cache_;
};

}  // namespace zdm::migrate
