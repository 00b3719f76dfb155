#pragma once
// JSON for INSERT ... JSON (document -> column values) and SELECT JSON (values -> document), with
// Cassandra's mapping of CQL types to JSON.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {

// Each JSON key names a column (case-folded unless "quoted"); nullopt values are JSON nulls.
Result<std::vector<std::pair<const ColumnSchema*, std::optional<Bytes>>>> json_to_columns(
    const TableSchema& schema, std::string_view json);

// One value as JSON (strings quoted, numbers bare, collections as arrays/objects).
std::string value_to_json(const DataType& type, const std::optional<Bytes>& value);

// A JSON string literal with escapes.
std::string json_quote(std::string_view s);

}  // namespace zdm::node
