#pragma once
// Internal to the message codec (messages.hpp): per-kind body decoders/encoders and the small
// helpers they share. Not a public API.

#include <fmt/format.h>

#include <string>
#include <utility>

#include "protocol/messages.hpp"

// Evaluates a Result-returning expression; on failure returns its error from the enclosing
// function, otherwise moves the value into `lhs` (a declaration or an lvalue).
#define ZDM_MSG_CONCAT_INNER(a, b) a##b
#define ZDM_MSG_CONCAT(a, b) ZDM_MSG_CONCAT_INNER(a, b)
#define ZDM_MSG_TRY_IMPL(tmp, lhs, expr)                   \
  auto tmp = (expr);                                       \
  if (!tmp) return tl::unexpected(std::move(tmp.error())); \
  lhs = std::move(*tmp)
#define ZDM_MSG_TRY(lhs, expr) ZDM_MSG_TRY_IMPL(ZDM_MSG_CONCAT(try_result_, __LINE__), lhs, expr)
#define ZDM_MSG_CHECK(expr)                                                      \
  do {                                                                           \
    auto check_result_ = (expr);                                                 \
    if (!check_result_) return tl::unexpected(std::move(check_result_.error())); \
  } while (false)

namespace zdm::protocol::codec {

// --- shared primitives ------------------------------------------------------------------------

Result<Consistency> read_consistency(ByteReader& r, std::string_view what);
inline void write_consistency(ByteWriter& w, Consistency c) {
  w.write_u16(static_cast<uint16_t>(c));
}

Result<std::string> read_owned_string(ByteReader& r);
Result<std::string> read_owned_long_string(ByteReader& r);
Result<std::vector<std::string>> read_owned_string_list(ByteReader& r);
Result<std::optional<Bytes>> read_owned_bytes(ByteReader& r);
Result<Bytes> read_owned_short_bytes(ByteReader& r);
Result<BoundValue> read_bound_value(ByteReader& r, ProtocolVersion v);
void write_bound_value(ByteWriter& w, const BoundValue& value);
Result<Inet> read_owned_inet(ByteReader& r);
void write_string_list(ByteWriter& w, const std::vector<std::string>& list);

// Fails with Truncated unless `count` items of at least `min_item_size` bytes each fit in what is
// left; called before reserving memory for a count read from the input.
Result<void> check_count_fits(const ByteReader& r, uint64_t count, uint64_t min_item_size,
                              std::string_view what);

// Fails with Malformed when `flags` has bits outside `allowed`.
Result<void> check_flags(uint32_t flags, uint32_t allowed, std::string_view what,
                         ProtocolVersion v);

// --- per-kind bodies (the part after the envelope) --------------------------------------------

Result<RequestBody> decode_request(Opcode op, ByteReader& r, ProtocolVersion v);
void encode_request(const RequestBody& body, ProtocolVersion v, ByteWriter& w);
Opcode request_opcode(const RequestBody& body);

Result<ResponseBody> decode_response(Opcode op, ByteReader& r, ProtocolVersion v);
void encode_response(const ResponseBody& body, ProtocolVersion v, ByteWriter& w);
Opcode response_opcode(const ResponseBody& body);

// Rows metadata is shared by RESULT Rows and RESULT Prepared.
Result<RowsMetadata> decode_rows_metadata(ByteReader& r, ProtocolVersion v);
void encode_rows_metadata(const RowsMetadata& m, ProtocolVersion v, ByteWriter& w);

}  // namespace zdm::protocol::codec
