#pragma once
// Small conversions between the [bytes] of result rows / bound values and C++ values, for the
// control-plane tables the migrator reads and writes (schema tables, its run tables). Rows of the
// user's tables are never decoded: they move as bytes.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "protocol/messages.hpp"

namespace zdm::migrate {

// Index of a column in a Rows result, or nullopt.
std::optional<size_t> column_index(const protocol::RowsMetadata& metadata, std::string_view name);

// One row of a Rows result read by column name; a missing column or null cell reads as nullopt.
class RowReader {
 public:
  RowReader(const protocol::RowsMetadata& metadata, const protocol::Row& row)
      : metadata_(metadata), row_(row) {}

  std::optional<std::string> text(std::string_view column) const;
  std::optional<int64_t> bigint(std::string_view column) const;  // bigint, timestamp, counter
  std::optional<int32_t> int32(std::string_view column) const;
  std::optional<bool> boolean(std::string_view column) const;
  std::vector<std::string> text_list(std::string_view column) const;  // list/set<text>
  std::map<std::string, std::string> text_map(std::string_view column) const;

 private:
  const std::optional<Bytes>* cell(std::string_view column) const;
  const protocol::RowsMetadata& metadata_;
  const protocol::Row& row_;
};

protocol::BoundValue bind_text(std::string_view text);
protocol::BoundValue bind_bigint(int64_t v);
protocol::BoundValue bind_int(int32_t v);
Bytes encode_bigint(int64_t v);
int64_t decode_bigint(ByteView bytes);  // 8 bytes big-endian; 0 when shorter
int32_t decode_int(ByteView bytes);     // 4 bytes big-endian; 0 when shorter

// A CQL string literal: 'it''s'.
std::string quote_literal(std::string_view text);

}  // namespace zdm::migrate
