#pragma once
// Small conversions from C++ values to bound values and back to integers, for the control-plane
// tables the migrator writes (its run tables) and the writetimes, TTLs and counters it reads.
// Rows are read by column name with protocol::RowReader; rows of the user's tables move as bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "protocol/messages.hpp"

namespace zdm::migrate {

protocol::BoundValue bind_text(std::string_view text);
protocol::BoundValue bind_bigint(int64_t v);
protocol::BoundValue bind_int(int32_t v);
Bytes encode_bigint(int64_t v);
int64_t decode_bigint(ByteView bytes);  // 8 bytes big-endian; 0 when shorter
int32_t decode_int(ByteView bytes);     // 4 bytes big-endian; 0 when shorter

// A CQL string literal: 'it''s'.
std::string quote_literal(std::string_view text);

}  // namespace zdm::migrate
