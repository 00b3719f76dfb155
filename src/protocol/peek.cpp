#include "protocol/peek.hpp"

#include <fmt/format.h>

namespace zdm::protocol {

tl::unexpected<Error> in_field(Opcode op, std::string_view field, Error e) {
  e.message = fmt::format("{} {}: {}", opcode_name(op), field, e.message);
  return tl::unexpected(std::move(e));
}

tl::unexpected<Error> malformed(Opcode op, std::string_view what, size_t offset) {
  return fail(Errc::Malformed, fmt::format("{} {} at offset {}", opcode_name(op), what, offset));
}

Result<ByteReader> message_reader(const FrameHeader& header, ByteView body) {
  ByteReader reader(body);
  if (!header.has_flag(frame_flags::kCustomPayload)) return reader;
  ZDM_TRY_OR(auto count, reader.read_u16(),
             in_field(header.opcode, "custom payload size", std::move(try_error)));
  for (uint16_t i = 0; i < count; ++i) {
    ZDM_CHECK_OR(reader.read_string(),
                 in_field(header.opcode, "custom payload key", std::move(try_error)));
    ZDM_CHECK_OR(reader.read_bytes(),
                 in_field(header.opcode, "custom payload value", std::move(try_error)));
  }
  return reader;
}

namespace {

// Field errors are returned with ZDM_TRY_OR(..., in_field(op, field, std::move(try_error))):
// the message names the opcode and the field (common/result.hpp has the macros).

[[gnu::cold]] tl::unexpected<Error> wrong_message(const FrameHeader& header, Opcode expected) {
  if (header.direction != Direction::Request) {
    return fail(
        Errc::InvalidArgument,
        fmt::format("peek of {} expects a request frame, got a response", opcode_name(expected)));
  }
  return fail(Errc::InvalidArgument,
              fmt::format("peek of {} was given a {} frame", opcode_name(expected),
                          opcode_name(header.opcode)));
}

Result<void> check_request(const FrameHeader& header, Opcode expected) {
  if (header.opcode != expected || header.direction != Direction::Request) {
    return wrong_message(header, expected);
  }
  return {};
}

// Skips `count` [value]s, each preceded by a [string] name when `named`.
Result<void> skip_values(ByteReader& reader, uint16_t count, bool named, ProtocolVersion version,
                         Opcode op) {
  for (uint16_t i = 0; i < count; ++i) {
    if (named) ZDM_CHECK_OR(reader.read_string(), in_field(op, "value name", std::move(try_error)));
    const size_t at = reader.position();
    ZDM_TRY_OR(auto length, reader.read_i32(), in_field(op, "value length", std::move(try_error)));
    if (length >= 0) {
      ZDM_CHECK_OR(reader.skip(static_cast<size_t>(length)),
                   in_field(op, "value bytes", std::move(try_error)));
    } else if (length == -2 && !supports_unset_values(version)) {
      return malformed(op,
                       fmt::format("value {} is 'not set' (-2), which {} does not support", i,
                                   protocol_version_name(version)),
                       at);
    } else if (length != -1 && length != -2) {
      return malformed(op, fmt::format("value {} has invalid length {}", i, length), at);
    }
  }
  return {};
}

Result<uint32_t> read_flags(ByteReader& reader, ProtocolVersion version, Opcode op) {
  if (uses_int_query_flags(version)) {
    ZDM_TRY_OR(auto flags, reader.read_u32(), in_field(op, "flags", std::move(try_error)));
    return flags;
  }
  ZDM_TRY_OR(auto flags, reader.read_u8(), in_field(op, "flags", std::move(try_error)));
  return uint32_t{flags};
}

// <query_parameters> of QUERY and EXECUTE, in the order the specs and the DSE extensions define.
Result<QueryParamsPeek> read_query_params(ByteReader& reader, ProtocolVersion version, Opcode op) {
  QueryParamsPeek p;
  ZDM_TRY_OR(auto consistency, reader.read_u16(),
             in_field(op, "consistency", std::move(try_error)));
  p.consistency = consistency;
  ZDM_TRY(auto flags, read_flags(reader, version, op));
  p.flags = flags;
  if (p.has_flag(query_flags::kValues)) {
    ZDM_TRY_OR(auto count, reader.read_u16(), in_field(op, "value count", std::move(try_error)));
    p.value_count = count;
    ZDM_CHECK(skip_values(reader, count, p.has_flag(query_flags::kNamesForValues), version, op));
  }
  if (p.has_flag(query_flags::kPageSize)) {
    ZDM_TRY_OR(auto page_size, reader.read_i32(), in_field(op, "page size", std::move(try_error)));
    p.page_size = page_size;
  }
  if (p.has_flag(query_flags::kPagingState)) {
    ZDM_TRY_OR(auto paging_state, reader.read_bytes(),
               in_field(op, "paging state", std::move(try_error)));
    p.paging_state = paging_state;
  }
  if (p.has_flag(query_flags::kSerialConsistency)) {
    ZDM_TRY_OR(auto serial, reader.read_u16(),
               in_field(op, "serial consistency", std::move(try_error)));
    p.serial_consistency = serial;
  }
  if (p.has_flag(query_flags::kDefaultTimestamp)) {
    ZDM_TRY_OR(auto timestamp, reader.read_i64(),
               in_field(op, "default timestamp", std::move(try_error)));
    p.default_timestamp = timestamp;
  }
  if (p.has_flag(query_flags::kKeyspace) && uses_keyspace_flag(version)) {
    ZDM_TRY_OR(auto keyspace, reader.read_string(), in_field(op, "keyspace", std::move(try_error)));
    p.keyspace = keyspace;
  }
  if (p.has_flag(query_flags::kNowInSeconds) && uses_now_in_seconds(version)) {
    ZDM_TRY_OR(auto now, reader.read_i32(), in_field(op, "now_in_seconds", std::move(try_error)));
    p.now_in_seconds = now;
  }
  if (p.has_flag(query_flags::kContinuousPaging) && uses_continuous_paging(version)) {
    // max_pages, max_pages_per_second, and from DSE_V2 on next_pages.
    const size_t ints = version == ProtocolVersion::DseV1 ? 2 : 3;
    ZDM_CHECK_OR(reader.skip(4 * ints),
                 in_field(op, "continuous paging options", std::move(try_error)));
  }
  return p;
}

// One BATCH child; `child` receives its fields.
Result<void> read_batch_child(ByteReader& reader, ProtocolVersion version, BatchChildPeek& child) {
  constexpr Opcode op = Opcode::Batch;
  const size_t at = reader.position();
  ZDM_TRY_OR(auto kind, reader.read_u8(), in_field(op, "child kind", std::move(try_error)));
  if (kind == 0) {
    child.kind = BatchChildPeek::Kind::Query;
    ZDM_TRY_OR(auto query, reader.read_long_string(),
               in_field(op, "child query", std::move(try_error)));
    child.query = query;
    child.prepared_id = {};
  } else if (kind == 1) {
    child.kind = BatchChildPeek::Kind::Prepared;
    ZDM_TRY_OR(auto id, reader.read_short_bytes(),
               in_field(op, "child prepared id", std::move(try_error)));
    child.prepared_id = id;
    child.query = {};
  } else {
    return malformed(op, fmt::format("child kind {} (expected 0 or 1)", kind), at);
  }
  ZDM_TRY_OR(auto count, reader.read_u16(),
             in_field(op, "child value count", std::move(try_error)));
  child.value_count = count;
  ZDM_CHECK(skip_values(reader, count, false, version, op));
  return {};
}

struct BatchLayout {
  BatchPeek peek;
  size_t children_begin = 0;  // offsets in the body
  size_t children_end = 0;
};

Result<BatchLayout> read_batch(const FrameHeader& header, ByteView body) {
  constexpr Opcode op = Opcode::Batch;
  if (auto ok = check_request(header, op); !ok) return tl::unexpected(std::move(ok.error()));
  ZDM_TRY(auto reader, message_reader(header, body));
  BatchLayout layout;
  BatchPeek& b = layout.peek;
  const size_t type_at = reader.position();
  ZDM_TRY_OR(auto type, reader.read_u8(), in_field(op, "batch type", std::move(try_error)));
  if (type > 2)
    return malformed(op, fmt::format("batch type {} (expected 0, 1 or 2)", type), type_at);
  b.batch_type = type;
  ZDM_TRY_OR(auto count, reader.read_u16(), in_field(op, "child count", std::move(try_error)));
  layout.children_begin = reader.position();
  BatchChildPeek child;
  for (uint16_t i = 0; i < count; ++i) {
    ZDM_CHECK(read_batch_child(reader, header.version, child));
  }
  layout.children_end = reader.position();
  b.children = BatchChildren(
      body.subspan(layout.children_begin, layout.children_end - layout.children_begin), count);
  ZDM_TRY_OR(auto consistency, reader.read_u16(),
             in_field(op, "consistency", std::move(try_error)));
  b.consistency = consistency;
  ZDM_TRY(auto flags, read_flags(reader, header.version, op));
  b.flags = flags;
  if ((flags & query_flags::kSerialConsistency) != 0) {
    ZDM_TRY_OR(auto serial, reader.read_u16(),
               in_field(op, "serial consistency", std::move(try_error)));
    b.serial_consistency = serial;
  }
  if ((flags & query_flags::kDefaultTimestamp) != 0) {
    ZDM_TRY_OR(auto timestamp, reader.read_i64(),
               in_field(op, "default timestamp", std::move(try_error)));
    b.default_timestamp = timestamp;
  }
  if ((flags & query_flags::kKeyspace) != 0 && uses_keyspace_flag(header.version)) {
    ZDM_TRY_OR(auto keyspace, reader.read_string(), in_field(op, "keyspace", std::move(try_error)));
    b.keyspace = keyspace;
  }
  if ((flags & query_flags::kNowInSeconds) != 0 && uses_now_in_seconds(header.version)) {
    ZDM_TRY_OR(auto now, reader.read_i32(), in_field(op, "now_in_seconds", std::move(try_error)));
    b.now_in_seconds = now;
  }
  return layout;
}

[[gnu::cold]] tl::unexpected<Error> id_too_large(std::string_view what, size_t size) {
  return fail(
      Errc::TooLarge,
      fmt::format("{} of {} bytes does not fit a [short bytes] (65535 at most)", what, size));
}

void append_short_bytes(Bytes& out, ByteView b) {
  out.push_back(static_cast<uint8_t>(b.size() >> 8));
  out.push_back(static_cast<uint8_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}

size_t offset_in(ByteView body, ByteView inner) {
  return static_cast<size_t>(inner.data() - body.data());
}

}  // namespace

BatchChildren::Iterator::Iterator(ByteReader reader, uint16_t left) : reader_(reader), left_(left) {
  if (left_ > 0) load();
}

void BatchChildren::Iterator::load() {
  // peek_batch validated these bytes; a failure here means they were not from it, so stop.
  if (!read_batch_child(reader_, ProtocolVersion::V5, child_)) left_ = 0;
}

BatchChildren::Iterator& BatchChildren::Iterator::operator++() {
  if (left_ > 0) --left_;
  if (left_ > 0) load();
  return *this;
}

Result<QueryPeek> peek_query(const FrameHeader& header, ByteView body) {
  constexpr Opcode op = Opcode::Query;
  if (auto ok = check_request(header, op); !ok) return tl::unexpected(std::move(ok.error()));
  ZDM_TRY(auto reader, message_reader(header, body));
  QueryPeek q;
  ZDM_TRY_OR(auto query, reader.read_long_string(),
             in_field(op, "query text", std::move(try_error)));
  q.query = query;
  ZDM_TRY(auto params, read_query_params(reader, header.version, op));
  q.params = params;
  return q;
}

Result<ExecutePeek> peek_execute(const FrameHeader& header, ByteView body) {
  constexpr Opcode op = Opcode::Execute;
  if (auto ok = check_request(header, op); !ok) return tl::unexpected(std::move(ok.error()));
  ZDM_TRY(auto reader, message_reader(header, body));
  ExecutePeek e;
  ZDM_TRY_OR(auto id, reader.read_short_bytes(), in_field(op, "prepared id", std::move(try_error)));
  e.prepared_id = id;
  if (uses_prepared_metadata(header.version)) {
    ZDM_TRY_OR(auto metadata_id, reader.read_short_bytes(),
               in_field(op, "result metadata id", std::move(try_error)));
    e.result_metadata_id = metadata_id;
  }
  ZDM_TRY(auto params, read_query_params(reader, header.version, op));
  e.params = params;
  return e;
}

Result<PreparePeek> peek_prepare(const FrameHeader& header, ByteView body) {
  constexpr Opcode op = Opcode::Prepare;
  if (auto ok = check_request(header, op); !ok) return tl::unexpected(std::move(ok.error()));
  ZDM_TRY(auto reader, message_reader(header, body));
  PreparePeek p;
  ZDM_TRY_OR(auto query, reader.read_long_string(),
             in_field(op, "query text", std::move(try_error)));
  p.query = query;
  if (uses_prepare_flags(header.version)) {
    ZDM_TRY_OR(auto flags, reader.read_u32(), in_field(op, "flags", std::move(try_error)));
    p.flags = flags;
    if ((flags & kPrepareWithKeyspace) != 0 && uses_keyspace_flag(header.version)) {
      ZDM_TRY_OR(auto keyspace, reader.read_string(),
                 in_field(op, "keyspace", std::move(try_error)));
      p.keyspace = keyspace;
    }
  }
  return p;
}

Result<BatchPeek> peek_batch(const FrameHeader& header, ByteView body) {
  auto layout = read_batch(header, body);
  if (!layout) return tl::unexpected(std::move(layout.error()));
  BatchPeek peek = layout->peek;
  // The iterator re-reads children with the version-independent rules (kind, id or text, values);
  // only the 'not set' check differs by version and it already passed.
  return peek;
}

Result<RegisterPeek> peek_register(const FrameHeader& header, ByteView body) {
  constexpr Opcode op = Opcode::Register;
  if (auto ok = check_request(header, op); !ok) return tl::unexpected(std::move(ok.error()));
  ZDM_TRY(auto reader, message_reader(header, body));
  RegisterPeek r;
  ZDM_TRY_OR(auto count, reader.read_u16(), in_field(op, "event type count", std::move(try_error)));
  r.count = count;
  for (uint16_t i = 0; i < count; ++i) {
    ZDM_TRY_OR(auto name, reader.read_string(), in_field(op, "event type", std::move(try_error)));
    if (name == "TOPOLOGY_CHANGE") {
      r.events |= event_types::kTopologyChange;
    } else if (name == "STATUS_CHANGE") {
      r.events |= event_types::kStatusChange;
    } else if (name == "SCHEMA_CHANGE") {
      r.events |= event_types::kSchemaChange;
    } else {
      ++r.unknown_count;
    }
  }
  return r;
}

Result<RequestPeek> peek_request(const FrameHeader& header, ByteView body) {
  if (header.direction != Direction::Request) {
    return fail(Errc::InvalidArgument,
                fmt::format("peek_request was given a {} response", opcode_name(header.opcode)));
  }
  auto wrap = [](auto result) -> Result<RequestPeek> {
    if (!result) return tl::unexpected(std::move(result.error()));
    return RequestPeek{std::move(*result)};
  };
  switch (header.opcode) {
    case Opcode::Query:
      return wrap(peek_query(header, body));
    case Opcode::Execute:
      return wrap(peek_execute(header, body));
    case Opcode::Prepare:
      return wrap(peek_prepare(header, body));
    case Opcode::Batch:
      return wrap(peek_batch(header, body));
    case Opcode::Register:
      return wrap(peek_register(header, body));
    default:
      return RequestPeek{};
  }
}

Result<Bytes> replace_prepared_id(const FrameHeader& header, ByteView body, ByteView new_id,
                                  std::optional<ByteView> new_result_metadata_id) {
  auto peek = peek_execute(header, body);
  if (!peek) return tl::unexpected(std::move(peek.error()));
  if (new_id.size() > 0xFFFF) return id_too_large("prepared id", new_id.size());
  if (new_result_metadata_id) {
    if (!peek->result_metadata_id) {
      return fail(Errc::InvalidArgument,
                  fmt::format("EXECUTE in {} carries no result metadata id to replace",
                              protocol_version_name(header.version)));
    }
    if (new_result_metadata_id->size() > 0xFFFF) {
      return id_too_large("result metadata id", new_result_metadata_id->size());
    }
  }
  // Layout: [custom payload] <id> [<result metadata id>] <query parameters>; ids are [short bytes].
  const size_t id_field = offset_in(body, peek->prepared_id) - 2;
  size_t rest = offset_in(body, peek->prepared_id) + peek->prepared_id.size();
  ByteView metadata_id;
  if (new_result_metadata_id) {
    metadata_id = *new_result_metadata_id;
    rest = offset_in(body, *peek->result_metadata_id) + peek->result_metadata_id->size();
  }
  Bytes out;
  out.reserve(body.size() - (rest - id_field) + new_id.size() + metadata_id.size() + 4);
  out.insert(out.end(), body.begin(), body.begin() + static_cast<std::ptrdiff_t>(id_field));
  append_short_bytes(out, new_id);
  if (new_result_metadata_id) append_short_bytes(out, metadata_id);
  out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(rest), body.end());
  return out;
}

Result<Bytes> replace_prepared_ids(const FrameHeader& header, ByteView body, PreparedIdMapFn map,
                                   void* context) {
  if (header.opcode == Opcode::Execute) {
    auto peek = peek_execute(header, body);
    if (!peek) return tl::unexpected(std::move(peek.error()));
    const std::optional<ByteView> mapped = map(context, peek->prepared_id);
    if (!mapped) return Bytes(body.begin(), body.end());
    return replace_prepared_id(header, body, *mapped);
  }
  if (header.opcode != Opcode::Batch) return wrong_message(header, Opcode::Batch);

  auto layout = read_batch(header, body);
  if (!layout) return tl::unexpected(std::move(layout.error()));
  Bytes out;
  out.reserve(body.size() + 64);
  out.insert(out.end(), body.begin(),
             body.begin() + static_cast<std::ptrdiff_t>(layout->children_begin));
  ByteReader reader(
      body.subspan(layout->children_begin, layout->children_end - layout->children_begin));
  BatchChildPeek child;
  for (uint16_t i = 0; i < layout->peek.child_count(); ++i) {
    const size_t child_begin = layout->children_begin + reader.position();
    if (auto ok = read_batch_child(reader, header.version, child); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
    const size_t child_end = layout->children_begin + reader.position();
    const std::optional<ByteView> mapped = child.kind == BatchChildPeek::Kind::Prepared
                                               ? map(context, child.prepared_id)
                                               : std::nullopt;
    if (!mapped) {
      out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(child_begin),
                 body.begin() + static_cast<std::ptrdiff_t>(child_end));
      continue;
    }
    if (mapped->size() > 0xFFFF) return id_too_large("prepared id", mapped->size());
    out.push_back(1);  // kind: prepared
    append_short_bytes(out, *mapped);
    const size_t values = offset_in(body, child.prepared_id) + child.prepared_id.size();
    out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(values),
               body.begin() + static_cast<std::ptrdiff_t>(child_end));
  }
  out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(layout->children_end),
             body.end());
  return out;
}

Result<ResponsePeek> peek_response(const FrameHeader& header, ByteView body) {
  if (header.direction != Direction::Response) {
    return fail(Errc::InvalidArgument, "peek_response: not a response frame");
  }
  ByteReader r(body);
  if (header.has_flag(frame_flags::kTracing)) {
    if (auto ok = r.skip(16); !ok) return tl::unexpected(ok.error());
  }
  if (header.has_flag(frame_flags::kWarning)) {
    auto warnings = r.read_string_list();
    if (!warnings) return tl::unexpected(warnings.error());
  }
  if (header.has_flag(frame_flags::kCustomPayload)) {
    auto payload = r.read_bytes_map();
    if (!payload) return tl::unexpected(payload.error());
  }
  ResponsePeek peek;
  peek.opcode = header.opcode;
  peek.message = r.rest();
  if (header.opcode == Opcode::Error) {
    auto code = r.read_i32();
    if (!code) return tl::unexpected(code.error());
    peek.error = error_code_from_int(*code).value_or(ErrorCode::ServerError);
  } else if (header.opcode == Opcode::Result) {
    auto kind = r.read_i32();
    if (!kind) return tl::unexpected(kind.error());
    if (*kind >= static_cast<int32_t>(ResultKind::Void) &&
        *kind <= static_cast<int32_t>(ResultKind::SchemaChange)) {
      peek.result_kind = static_cast<ResultKind>(*kind);
    }
  }
  return peek;
}

}  // namespace zdm::protocol
