#pragma once
// Reading one row of a Rows result by column name, for control-plane queries (system.local and
// system.peers, schema tables, the migrator's run tables): the client's discovery, the proxy's
// control connection and the migrator share it. A missing column or a null cell reads as empty.
// Data-path code reads cells by position instead.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "protocol/messages.hpp"
#include "protocol/value.hpp"
#include "protocol/version.hpp"

namespace zdm::protocol {

// Index of a column in a Rows result's metadata, or nullopt.
std::optional<size_t> column_index(const RowsMetadata& metadata, std::string_view name);

class RowReader {
 public:
  // Collections are decoded with `version` (their element encoding is the same from v3 on).
  RowReader(const RowsMetadata& metadata, const Row& row,
            ProtocolVersion version = ProtocolVersion::V4)
      : metadata_(metadata), row_(row), version_(version) {}

  // The cell's bytes, or nullptr for a missing column or a null cell.
  const Bytes* cell(std::string_view column) const;
  std::optional<std::string> text(std::string_view column) const;
  std::optional<int64_t> bigint(std::string_view column) const;  // bigint, timestamp, counter
  std::optional<int32_t> int32(std::string_view column) const;
  std::optional<bool> boolean(std::string_view column) const;
  std::optional<std::string> inet(std::string_view column) const;  // "10.0.0.1", "::1"
  std::optional<Uuid> uuid(std::string_view column) const;
  std::vector<std::string> text_list(std::string_view column) const;  // list/set<text>
  std::map<std::string, std::string> text_map(std::string_view column) const;

 private:
  std::optional<Value> decoded(std::string_view column) const;
  const RowsMetadata& metadata_;
  const Row& row_;
  ProtocolVersion version_;
};

}  // namespace zdm::protocol
