#include "protocol/peek.hpp"

#include <fmt/format.h>

namespace zdm::protocol {
namespace {

// Prefixes a reader error with the message and field it came from. Cold: error path only.
[[gnu::cold]] tl::unexpected<Error> in_field(Opcode op, std::string_view field, Error e) {
  e.message = fmt::format("{} {}: {}", opcode_name(op), field, e.message);
  return tl::unexpected(std::move(e));
}

[[gnu::cold]] tl::unexpected<Error> malformed(Opcode op, std::string_view what, size_t offset) {
  return fail(Errc::Malformed, fmt::format("{} {} at offset {}", opcode_name(op), what, offset));
}

// Evaluates `expr` (a Result); on failure returns the error annotated with the field name.
#define PEEK_TRY(var, expr, op, field)                                            \
  auto var##_result = (expr);                                                     \
  if (!var##_result) return in_field(op, field, std::move(var##_result.error())); \
  auto var = std::move(*var##_result)

// Same for helpers whose errors already name the field.
#define PEEK_FORWARD(var, expr)                                              \
  auto var##_result = (expr);                                                \
  if (!var##_result) return tl::unexpected(std::move(var##_result.error())); \
  auto var = std::move(*var##_result)

#define PEEK_FORWARD_VOID(expr)                                                        \
  do {                                                                                 \
    auto peek_void_result = (expr);                                                    \
    if (!peek_void_result) return tl::unexpected(std::move(peek_void_result.error())); \
  } while (0)

#define PEEK_TRY_VOID(expr, op, field)                                                      \
  do {                                                                                      \
    auto peek_void_result = (expr);                                                         \
    if (!peek_void_result) return in_field(op, field, std::move(peek_void_result.error())); \
  } while (0)

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

// A reader positioned at the message, past the custom payload ([bytes map]) when flagged.
Result<ByteReader> message_reader(const FrameHeader& header, ByteView body) {
  ByteReader reader(body);
  if (!header.has_flag(frame_flags::kCustomPayload)) return reader;
  PEEK_TRY(count, reader.read_u16(), header.opcode, "custom payload size");
  for (uint16_t i = 0; i < count; ++i) {
    PEEK_TRY_VOID(reader.read_string(), header.opcode, "custom payload key");
    PEEK_TRY_VOID(reader.read_bytes(), header.opcode, "custom payload value");
  }
  return reader;
}

// Skips `count` [value]s, each preceded by a [string] name when `named`.
Result<void> skip_values(ByteReader& reader, uint16_t count, bool named, ProtocolVersion version,
                         Opcode op) {
  for (uint16_t i = 0; i < count; ++i) {
    if (named) PEEK_TRY_VOID(reader.read_string(), op, "value name");
    const size_t at = reader.position();
    PEEK_TRY(length, reader.read_i32(), op, "value length");
    if (length >= 0) {
      PEEK_TRY_VOID(reader.skip(static_cast<size_t>(length)), op, "value bytes");
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
    PEEK_TRY(flags, reader.read_u32(), op, "flags");
    return flags;
  }
  PEEK_TRY(flags, reader.read_u8(), op, "flags");
  return uint32_t{flags};
}

// <query_parameters> of QUERY and EXECUTE, in the order the specs and the DSE extensions define.
Result<QueryParamsPeek> read_query_params(ByteReader& reader, ProtocolVersion version, Opcode op) {
  QueryParamsPeek p;
  PEEK_TRY(consistency, reader.read_u16(), op, "consistency");
  p.consistency = consistency;
  PEEK_FORWARD(flags, read_flags(reader, version, op));
  p.flags = flags;
  if (p.has_flag(query_flags::kValues)) {
    PEEK_TRY(count, reader.read_u16(), op, "value count");
    p.value_count = count;
    PEEK_FORWARD_VOID(
        skip_values(reader, count, p.has_flag(query_flags::kNamesForValues), version, op));
  }
  if (p.has_flag(query_flags::kPageSize)) {
    PEEK_TRY(page_size, reader.read_i32(), op, "page size");
    p.page_size = page_size;
  }
  if (p.has_flag(query_flags::kPagingState)) {
    PEEK_TRY(paging_state, reader.read_bytes(), op, "paging state");
    p.paging_state = paging_state;
  }
  if (p.has_flag(query_flags::kSerialConsistency)) {
    PEEK_TRY(serial, reader.read_u16(), op, "serial consistency");
    p.serial_consistency = serial;
  }
  if (p.has_flag(query_flags::kDefaultTimestamp)) {
    PEEK_TRY(timestamp, reader.read_i64(), op, "default timestamp");
    p.default_timestamp = timestamp;
  }
  if (p.has_flag(query_flags::kKeyspace) && uses_keyspace_flag(version)) {
    PEEK_TRY(keyspace, reader.read_string(), op, "keyspace");
    p.keyspace = keyspace;
  }
  if (p.has_flag(query_flags::kNowInSeconds) && uses_now_in_seconds(version)) {
    PEEK_TRY(now, reader.read_i32(), op, "now_in_seconds");
    p.now_in_seconds = now;
  }
  if (p.has_flag(query_flags::kContinuousPaging) && uses_continuous_paging(version)) {
    // max_pages, max_pages_per_second, and from DSE_V2 on next_pages.
    const size_t ints = version == ProtocolVersion::DseV1 ? 2 : 3;
    PEEK_TRY_VOID(reader.skip(4 * ints), op, "continuous paging options");
  }
  return p;
}

// One BATCH child; `child` receives its fields.
Result<void> read_batch_child(ByteReader& reader, ProtocolVersion version, BatchChildPeek& child) {
  constexpr Opcode op = Opcode::Batch;
  const size_t at = reader.position();
  PEEK_TRY(kind, reader.read_u8(), op, "child kind");
  if (kind == 0) {
    child.kind = BatchChildPeek::Kind::Query;
    PEEK_TRY(query, reader.read_long_string(), op, "child query");
    child.query = query;
    child.prepared_id = {};
  } else if (kind == 1) {
    child.kind = BatchChildPeek::Kind::Prepared;
    PEEK_TRY(id, reader.read_short_bytes(), op, "child prepared id");
    child.prepared_id = id;
    child.query = {};
  } else {
    return malformed(op, fmt::format("child kind {} (expected 0 or 1)", kind), at);
  }
  PEEK_TRY(count, reader.read_u16(), op, "child value count");
  child.value_count = count;
  PEEK_FORWARD_VOID(skip_values(reader, count, false, version, op));
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
  PEEK_FORWARD(reader, message_reader(header, body));
  BatchLayout layout;
  BatchPeek& b = layout.peek;
  const size_t type_at = reader.position();
  PEEK_TRY(type, reader.read_u8(), op, "batch type");
  if (type > 2)
    return malformed(op, fmt::format("batch type {} (expected 0, 1 or 2)", type), type_at);
  b.batch_type = type;
  PEEK_TRY(count, reader.read_u16(), op, "child count");
  layout.children_begin = reader.position();
  BatchChildPeek child;
  for (uint16_t i = 0; i < count; ++i) {
    PEEK_FORWARD_VOID(read_batch_child(reader, header.version, child));
  }
  layout.children_end = reader.position();
  b.children = BatchChildren(
      body.subspan(layout.children_begin, layout.children_end - layout.children_begin), count);
  PEEK_TRY(consistency, reader.read_u16(), op, "consistency");
  b.consistency = consistency;
  PEEK_FORWARD(flags, read_flags(reader, header.version, op));
  b.flags = flags;
  if ((flags & query_flags::kSerialConsistency) != 0) {
    PEEK_TRY(serial, reader.read_u16(), op, "serial consistency");
    b.serial_consistency = serial;
  }
  if ((flags & query_flags::kDefaultTimestamp) != 0) {
    PEEK_TRY(timestamp, reader.read_i64(), op, "default timestamp");
    b.default_timestamp = timestamp;
  }
  if ((flags & query_flags::kKeyspace) != 0 && uses_keyspace_flag(header.version)) {
    PEEK_TRY(keyspace, reader.read_string(), op, "keyspace");
    b.keyspace = keyspace;
  }
  if ((flags & query_flags::kNowInSeconds) != 0 && uses_now_in_seconds(header.version)) {
    PEEK_TRY(now, reader.read_i32(), op, "now_in_seconds");
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
  PEEK_FORWARD(reader, message_reader(header, body));
  QueryPeek q;
  PEEK_TRY(query, reader.read_long_string(), op, "query text");
  q.query = query;
  PEEK_FORWARD(params, read_query_params(reader, header.version, op));
  q.params = params;
  return q;
}

Result<ExecutePeek> peek_execute(const FrameHeader& header, ByteView body) {
  constexpr Opcode op = Opcode::Execute;
  if (auto ok = check_request(header, op); !ok) return tl::unexpected(std::move(ok.error()));
  PEEK_FORWARD(reader, message_reader(header, body));
  ExecutePeek e;
  PEEK_TRY(id, reader.read_short_bytes(), op, "prepared id");
  e.prepared_id = id;
  if (uses_prepared_metadata(header.version)) {
    PEEK_TRY(metadata_id, reader.read_short_bytes(), op, "result metadata id");
    e.result_metadata_id = metadata_id;
  }
  PEEK_FORWARD(params, read_query_params(reader, header.version, op));
  e.params = params;
  return e;
}

Result<PreparePeek> peek_prepare(const FrameHeader& header, ByteView body) {
  constexpr Opcode op = Opcode::Prepare;
  if (auto ok = check_request(header, op); !ok) return tl::unexpected(std::move(ok.error()));
  PEEK_FORWARD(reader, message_reader(header, body));
  PreparePeek p;
  PEEK_TRY(query, reader.read_long_string(), op, "query text");
  p.query = query;
  if (uses_prepare_flags(header.version)) {
    PEEK_TRY(flags, reader.read_u32(), op, "flags");
    p.flags = flags;
    if ((flags & kPrepareWithKeyspace) != 0 && uses_keyspace_flag(header.version)) {
      PEEK_TRY(keyspace, reader.read_string(), op, "keyspace");
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
  PEEK_FORWARD(reader, message_reader(header, body));
  RegisterPeek r;
  PEEK_TRY(count, reader.read_u16(), op, "event type count");
  r.count = count;
  for (uint16_t i = 0; i < count; ++i) {
    PEEK_TRY(name, reader.read_string(), op, "event type");
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

#undef PEEK_TRY
#undef PEEK_TRY_VOID
#undef PEEK_FORWARD
#undef PEEK_FORWARD_VOID

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
