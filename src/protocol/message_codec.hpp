#pragma once
// Internal to the message codec (messages.hpp): per-kind body decoders/encoders and the small
// helpers they share. Not a public API.

#include <string>
#include <utility>

#include <fmt/format.h>

#include "protocol/messages.hpp"

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
