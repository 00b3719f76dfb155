// Request bodies: STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE, BATCH, REGISTER, AUTH_RESPONSE and
// DSE's REVISE_REQUEST, plus the <query_parameters> QUERY and EXECUTE share.
#include "protocol/message_codec.hpp"

namespace zdm::protocol::codec {

namespace {

namespace query_flag {
constexpr uint32_t kValues = 0x01;
constexpr uint32_t kSkipMetadata = 0x02;
constexpr uint32_t kPageSize = 0x04;
constexpr uint32_t kPagingState = 0x08;
constexpr uint32_t kSerialConsistency = 0x10;
constexpr uint32_t kDefaultTimestamp = 0x20;
constexpr uint32_t kNamesForValues = 0x40;
constexpr uint32_t kKeyspace = 0x80;
constexpr uint32_t kNowInSeconds = 0x100;
constexpr uint32_t kDsePageSizeBytes = 0x40000000;
constexpr uint32_t kDseContinuousPaging = 0x80000000;
}  // namespace query_flag

constexpr uint32_t kPrepareWithKeyspace = 0x01;

// Flags <query_parameters> may carry in version v.
uint32_t allowed_query_flags(ProtocolVersion v) {
  uint32_t allowed = 0x7F;
  if (uses_keyspace_flag(v)) allowed |= query_flag::kKeyspace;
  if (uses_now_in_seconds(v)) allowed |= query_flag::kNowInSeconds;
  if (uses_continuous_paging(v)) {
    allowed |= query_flag::kDsePageSizeBytes | query_flag::kDseContinuousPaging;
  }
  return allowed;
}

uint32_t allowed_batch_flags(ProtocolVersion v) {
  uint32_t allowed =
      query_flag::kSerialConsistency | query_flag::kDefaultTimestamp | query_flag::kNamesForValues;
  if (uses_keyspace_flag(v)) allowed |= query_flag::kKeyspace;
  if (uses_now_in_seconds(v)) allowed |= query_flag::kNowInSeconds;
  return allowed;
}

Result<uint32_t> read_query_flags(ByteReader& r, ProtocolVersion v) {
  if (uses_int_query_flags(v)) return r.read_u32();
  ZDM_TRY(uint8_t flags, r.read_u8());
  return uint32_t{flags};
}

void write_query_flags(ByteWriter& w, ProtocolVersion v, uint32_t flags) {
  if (uses_int_query_flags(v)) {
    w.write_u32(flags);
  } else {
    w.write_u8(static_cast<uint8_t>(flags));
  }
}

Result<Bytes> read_paging_state(ByteReader& r) {
  ZDM_TRY(auto state, read_owned_bytes(r));
  if (!state) return fail(Errc::Malformed, "paging state flag is set but the paging state is null");
  return std::move(*state);
}

Result<QueryParameters> decode_query_parameters(ByteReader& r, ProtocolVersion v) {
  QueryParameters p;
  ZDM_TRY(p.consistency, read_consistency(r, "query parameters"));
  ZDM_TRY(uint32_t flags, read_query_flags(r, v));
  ZDM_CHECK(check_flags(flags, allowed_query_flags(v), "query", v));
  p.named_values = (flags & query_flag::kNamesForValues) != 0;
  p.skip_metadata = (flags & query_flag::kSkipMetadata) != 0;
  p.page_size_in_bytes = (flags & query_flag::kDsePageSizeBytes) != 0;
  if (flags & query_flag::kValues) {
    ZDM_TRY(uint16_t n, r.read_u16());
    ZDM_CHECK(check_count_fits(r, n, p.named_values ? 6 : 4, "query values"));
    std::vector<BoundValue> values;
    values.reserve(n);
    if (p.named_values) p.value_names.reserve(n);
    for (uint16_t i = 0; i < n; ++i) {
      if (p.named_values) {
        ZDM_TRY(std::string name, read_owned_string(r));
        p.value_names.push_back(std::move(name));
      }
      ZDM_TRY(BoundValue value, read_bound_value(r, v));
      values.push_back(std::move(value));
    }
    p.values = std::move(values);
  }
  if (flags & query_flag::kPageSize) {
    ZDM_TRY(p.page_size, r.read_i32());
  }
  if (flags & query_flag::kPagingState) {
    ZDM_TRY(p.paging_state, read_paging_state(r));
  }
  if (flags & query_flag::kSerialConsistency) {
    ZDM_TRY(p.serial_consistency, read_consistency(r, "serial consistency"));
  }
  if (flags & query_flag::kDefaultTimestamp) {
    ZDM_TRY(p.default_timestamp, r.read_i64());
  }
  if (flags & query_flag::kKeyspace) {
    ZDM_TRY(p.keyspace, read_owned_string(r));
  }
  if (flags & query_flag::kNowInSeconds) {
    ZDM_TRY(p.now_in_seconds, r.read_i32());
  }
  if (flags & query_flag::kDseContinuousPaging) {
    ContinuousPagingOptions options;
    ZDM_TRY(options.max_pages, r.read_i32());
    ZDM_TRY(options.max_pages_per_second, r.read_i32());
    if (v == ProtocolVersion::DseV2) {
      ZDM_TRY(options.next_pages, r.read_i32());
    }
    p.continuous_paging = options;
  }
  return p;
}

void encode_query_parameters(const QueryParameters& p, ProtocolVersion v, ByteWriter& w) {
  const bool with_keyspace = p.keyspace && uses_keyspace_flag(v);
  const bool with_now = p.now_in_seconds && uses_now_in_seconds(v);
  const bool dse = uses_continuous_paging(v);
  uint32_t flags = 0;
  if (p.values) flags |= query_flag::kValues;
  if (p.skip_metadata) flags |= query_flag::kSkipMetadata;
  if (p.page_size) flags |= query_flag::kPageSize;
  if (p.paging_state) flags |= query_flag::kPagingState;
  if (p.serial_consistency) flags |= query_flag::kSerialConsistency;
  if (p.default_timestamp) flags |= query_flag::kDefaultTimestamp;
  if (p.named_values) flags |= query_flag::kNamesForValues;
  if (with_keyspace) flags |= query_flag::kKeyspace;
  if (with_now) flags |= query_flag::kNowInSeconds;
  if (dse && p.page_size_in_bytes) flags |= query_flag::kDsePageSizeBytes;
  if (dse && p.continuous_paging) flags |= query_flag::kDseContinuousPaging;

  write_consistency(w, p.consistency);
  write_query_flags(w, v, flags);
  if (p.values) {
    w.write_u16(static_cast<uint16_t>(p.values->size()));
    for (size_t i = 0; i < p.values->size(); ++i) {
      if (p.named_values) {
        w.write_string(i < p.value_names.size() ? std::string_view(p.value_names[i]) : "");
      }
      write_bound_value(w, (*p.values)[i]);
    }
  }
  if (p.page_size) w.write_i32(*p.page_size);
  if (p.paging_state) w.write_bytes(ByteView(*p.paging_state));
  if (p.serial_consistency) write_consistency(w, *p.serial_consistency);
  if (p.default_timestamp) w.write_i64(*p.default_timestamp);
  if (with_keyspace) w.write_string(*p.keyspace);
  if (with_now) w.write_i32(*p.now_in_seconds);
  if (dse && p.continuous_paging) {
    w.write_i32(p.continuous_paging->max_pages);
    w.write_i32(p.continuous_paging->max_pages_per_second);
    if (v == ProtocolVersion::DseV2) w.write_i32(p.continuous_paging->next_pages.value_or(0));
  }
}

Result<RequestBody> decode_startup(ByteReader& r) {
  ZDM_TRY(auto map, r.read_string_map());
  StartupMessage m;
  m.options.reserve(map.size());
  for (const auto& [k, val] : map) m.options.emplace_back(std::string(k), std::string(val));
  return m;
}

Result<RequestBody> decode_query(ByteReader& r, ProtocolVersion v) {
  QueryMessage m;
  ZDM_TRY(m.query, read_owned_long_string(r));
  ZDM_TRY(m.parameters, decode_query_parameters(r, v));
  return m;
}

Result<RequestBody> decode_prepare(ByteReader& r, ProtocolVersion v) {
  PrepareMessage m;
  ZDM_TRY(m.query, read_owned_long_string(r));
  if (uses_prepare_flags(v)) {
    ZDM_TRY(uint32_t flags, r.read_u32());
    ZDM_CHECK(check_flags(flags, kPrepareWithKeyspace, "PREPARE", v));
    if (flags & kPrepareWithKeyspace) {
      ZDM_TRY(m.keyspace, read_owned_string(r));
    }
  }
  return m;
}

Result<RequestBody> decode_execute(ByteReader& r, ProtocolVersion v) {
  ExecuteMessage m;
  ZDM_TRY(m.id, read_owned_short_bytes(r));
  if (uses_prepared_metadata(v)) {
    ZDM_TRY(m.result_metadata_id, read_owned_short_bytes(r));
  }
  ZDM_TRY(m.parameters, decode_query_parameters(r, v));
  return m;
}

Result<RequestBody> decode_batch(ByteReader& r, ProtocolVersion v) {
  BatchMessage m;
  ZDM_TRY(uint8_t type, r.read_u8());
  if (type > 2) return fail(Errc::Malformed, fmt::format("unknown batch type {}", type));
  m.type = static_cast<BatchType>(type);
  ZDM_TRY(uint16_t n, r.read_u16());
  // Smallest statement: kind byte, empty [short bytes] id, zero value count.
  ZDM_CHECK(check_count_fits(r, n, 5, "batch statement"));
  m.statements.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    BatchStatement s;
    ZDM_TRY(uint8_t kind, r.read_u8());
    if (kind == 0) {
      s.kind = BatchStatement::Kind::Query;
      ZDM_TRY(s.query, read_owned_long_string(r));
    } else if (kind == 1) {
      s.kind = BatchStatement::Kind::Prepared;
      ZDM_TRY(s.id, read_owned_short_bytes(r));
    } else {
      return fail(Errc::Malformed, fmt::format("batch statement {} has unknown kind {}", i, kind));
    }
    ZDM_TRY(uint16_t count, r.read_u16());
    ZDM_CHECK(check_count_fits(r, count, 4, "batch statement values"));
    s.values.reserve(count);
    for (uint16_t j = 0; j < count; ++j) {
      ZDM_TRY(BoundValue value, read_bound_value(r, v));
      s.values.push_back(std::move(value));
    }
    m.statements.push_back(std::move(s));
  }
  ZDM_TRY(m.consistency, read_consistency(r, "BATCH"));
  ZDM_TRY(uint32_t flags, read_query_flags(r, v));
  ZDM_CHECK(check_flags(flags, allowed_batch_flags(v), "BATCH", v));
  if (flags & query_flag::kNamesForValues) {
    // The names would precede values that were already read: the spec calls this unusable.
    return fail(Errc::Unsupported, "BATCH flag 0x40 (names for values) is not supported");
  }
  if (flags & query_flag::kSerialConsistency) {
    ZDM_TRY(m.serial_consistency, read_consistency(r, "BATCH serial consistency"));
  }
  if (flags & query_flag::kDefaultTimestamp) {
    ZDM_TRY(m.default_timestamp, r.read_i64());
  }
  if (flags & query_flag::kKeyspace) {
    ZDM_TRY(m.keyspace, read_owned_string(r));
  }
  if (flags & query_flag::kNowInSeconds) {
    ZDM_TRY(m.now_in_seconds, r.read_i32());
  }
  return m;
}

Result<RequestBody> decode_revise(ByteReader& r, ProtocolVersion v) {
  if (!uses_continuous_paging(v)) {
    return fail(Errc::Unsupported,
                fmt::format("REVISE_REQUEST exists only in DSE_V1/DSE_V2, not {}",
                            protocol_version_name(v)));
  }
  ReviseRequestMessage m;
  ZDM_TRY(int32_t type, r.read_i32());
  if (type != static_cast<int32_t>(RevisionType::CancelContinuousPaging) &&
      type != static_cast<int32_t>(RevisionType::MoreContinuousPages)) {
    return fail(Errc::Malformed, fmt::format("REVISE_REQUEST has unknown revision type {}", type));
  }
  m.revision = static_cast<RevisionType>(type);
  ZDM_TRY(m.target_stream, r.read_i32());
  if (m.revision == RevisionType::MoreContinuousPages) {
    if (v != ProtocolVersion::DseV2) {
      return fail(Errc::Unsupported, "REVISE_REQUEST for more continuous pages needs DSE_V2");
    }
    ZDM_TRY(m.next_pages, r.read_i32());
  }
  return m;
}

Result<RequestBody> decode_auth_response(ByteReader& r) {
  AuthResponseMessage m;
  ZDM_TRY(m.token, read_owned_bytes(r));
  return m;
}

Result<RequestBody> decode_register(ByteReader& r) {
  RegisterMessage m;
  ZDM_TRY(m.event_types, read_owned_string_list(r));
  return m;
}

struct RequestEncoder {
  ProtocolVersion v;
  ByteWriter& w;

  void operator()(const StartupMessage& m) { w.write_string_map(m.options); }
  void operator()(const OptionsMessage&) {}
  void operator()(const QueryMessage& m) {
    w.write_long_string(m.query);
    encode_query_parameters(m.parameters, v, w);
  }
  void operator()(const PrepareMessage& m) {
    w.write_long_string(m.query);
    if (!uses_prepare_flags(v)) return;
    const bool with_keyspace = m.keyspace && uses_keyspace_flag(v);
    w.write_u32(with_keyspace ? kPrepareWithKeyspace : 0);
    if (with_keyspace) w.write_string(*m.keyspace);
  }
  void operator()(const ExecuteMessage& m) {
    w.write_short_bytes(m.id);
    if (uses_prepared_metadata(v)) w.write_short_bytes(m.result_metadata_id);
    encode_query_parameters(m.parameters, v, w);
  }
  void operator()(const BatchMessage& m) {
    w.write_u8(static_cast<uint8_t>(m.type));
    w.write_u16(static_cast<uint16_t>(m.statements.size()));
    for (const auto& s : m.statements) {
      w.write_u8(static_cast<uint8_t>(s.kind));
      if (s.kind == BatchStatement::Kind::Query) {
        w.write_long_string(s.query);
      } else {
        w.write_short_bytes(s.id);
      }
      w.write_u16(static_cast<uint16_t>(s.values.size()));
      for (const auto& value : s.values) write_bound_value(w, value);
    }
    write_consistency(w, m.consistency);
    const bool with_keyspace = m.keyspace && uses_keyspace_flag(v);
    const bool with_now = m.now_in_seconds && uses_now_in_seconds(v);
    uint32_t flags = 0;
    if (m.serial_consistency) flags |= query_flag::kSerialConsistency;
    if (m.default_timestamp) flags |= query_flag::kDefaultTimestamp;
    if (with_keyspace) flags |= query_flag::kKeyspace;
    if (with_now) flags |= query_flag::kNowInSeconds;
    write_query_flags(w, v, flags);
    if (m.serial_consistency) write_consistency(w, *m.serial_consistency);
    if (m.default_timestamp) w.write_i64(*m.default_timestamp);
    if (with_keyspace) w.write_string(*m.keyspace);
    if (with_now) w.write_i32(*m.now_in_seconds);
  }
  void operator()(const RegisterMessage& m) { write_string_list(w, m.event_types); }
  void operator()(const AuthResponseMessage& m) {
    w.write_bytes(m.token ? std::optional<ByteView>(ByteView(*m.token)) : std::nullopt);
  }
  void operator()(const ReviseRequestMessage& m) {
    w.write_i32(static_cast<int32_t>(m.revision));
    w.write_i32(m.target_stream);
    if (m.revision == RevisionType::MoreContinuousPages) w.write_i32(m.next_pages.value_or(0));
  }
};

}  // namespace

Result<RequestBody> decode_request(Opcode op, ByteReader& r, ProtocolVersion v) {
  switch (op) {
    case Opcode::Startup:
      return decode_startup(r);
    case Opcode::Options:
      return RequestBody{OptionsMessage{}};
    case Opcode::Query:
      return decode_query(r, v);
    case Opcode::Prepare:
      return decode_prepare(r, v);
    case Opcode::Execute:
      return decode_execute(r, v);
    case Opcode::Batch:
      return decode_batch(r, v);
    case Opcode::Register:
      return decode_register(r);
    case Opcode::AuthResponse:
      return decode_auth_response(r);
    case Opcode::DseRevise:
      return decode_revise(r, v);
    default:
      break;
  }
  return fail(Errc::Malformed, fmt::format("opcode {} is not a request", opcode_name(op)));
}

void encode_request(const RequestBody& body, ProtocolVersion v, ByteWriter& w) {
  std::visit(RequestEncoder{v, w}, body);
}

Opcode request_opcode(const RequestBody& body) {
  static constexpr Opcode kOpcodes[] = {Opcode::Startup,  Opcode::Options,      Opcode::Query,
                                        Opcode::Prepare,  Opcode::Execute,      Opcode::Batch,
                                        Opcode::Register, Opcode::AuthResponse, Opcode::DseRevise};
  static_assert(std::size(kOpcodes) == std::variant_size_v<RequestBody>);
  return kOpcodes[body.index()];
}

}  // namespace zdm::protocol::codec
