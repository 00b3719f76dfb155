// Response bodies: ERROR (every code and its extra body), READY, AUTHENTICATE, SUPPORTED, RESULT
// (Void, Rows, Set_keyspace, Prepared, Schema_change), EVENT, AUTH_CHALLENGE, AUTH_SUCCESS.
#include "protocol/message_codec.hpp"

namespace zdm::protocol::codec {

namespace {

namespace rows_flag {
constexpr uint32_t kGlobalTablesSpec = 0x0001;
constexpr uint32_t kHasMorePages = 0x0002;
constexpr uint32_t kNoMetadata = 0x0004;
constexpr uint32_t kMetadataChanged = 0x0008;
constexpr uint32_t kDseContinuousPaging = 0x40000000;
constexpr uint32_t kDseLastContinuousPage = 0x80000000;
}  // namespace rows_flag

uint32_t allowed_rows_flags(ProtocolVersion v) {
  uint32_t allowed =
      rows_flag::kGlobalTablesSpec | rows_flag::kHasMorePages | rows_flag::kNoMetadata;
  if (uses_prepared_metadata(v)) allowed |= rows_flag::kMetadataChanged;
  if (uses_continuous_paging(v)) {
    allowed |= rows_flag::kDseContinuousPaging | rows_flag::kDseLastContinuousPage;
  }
  return allowed;
}

Result<int32_t> read_count(ByteReader& r, std::string_view what) {
  ZDM_TRY(int32_t n, r.read_i32());
  if (n < 0) return fail(Errc::Malformed, fmt::format("{} is negative ({})", what, n));
  return n;
}

// Column specs after the flags of rows or prepared metadata.
Result<std::vector<ColumnSpec>> read_column_specs(ByteReader& r, int32_t count, bool global,
                                                  std::string* global_keyspace,
                                                  std::string* global_table) {
  if (global) {
    ZDM_TRY(*global_keyspace, read_owned_string(r));
    ZDM_TRY(*global_table, read_owned_string(r));
  }
  // Smallest spec: empty name and a 2-byte type id, plus two empty strings when not global.
  ZDM_CHECK(check_count_fits(r, static_cast<uint64_t>(count), global ? 4 : 8, "column"));
  std::vector<ColumnSpec> columns;
  columns.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    ColumnSpec c;
    if (global) {
      c.keyspace = *global_keyspace;
      c.table = *global_table;
    } else {
      ZDM_TRY(c.keyspace, read_owned_string(r));
      ZDM_TRY(c.table, read_owned_string(r));
    }
    ZDM_TRY(c.name, read_owned_string(r));
    ZDM_TRY(c.type, read_data_type(r));
    columns.push_back(std::move(c));
  }
  return columns;
}

void write_column_specs(ByteWriter& w, const std::vector<ColumnSpec>& columns, bool global,
                        const std::string& global_keyspace, const std::string& global_table) {
  if (global) {
    w.write_string(global_keyspace);
    w.write_string(global_table);
  }
  for (const auto& c : columns) {
    if (!global) {
      w.write_string(c.keyspace);
      w.write_string(c.table);
    }
    w.write_string(c.name);
    write_data_type(w, c.type);
  }
}

Result<PreparedMetadata> decode_prepared_metadata(ByteReader& r, ProtocolVersion v) {
  PreparedMetadata m;
  ZDM_TRY(uint32_t flags, r.read_u32());
  ZDM_CHECK(check_flags(flags, rows_flag::kGlobalTablesSpec, "prepared metadata", v));
  m.global_table_spec = (flags & rows_flag::kGlobalTablesSpec) != 0;
  ZDM_TRY(int32_t count, read_count(r, "prepared metadata column count"));
  if (version_byte(v) >= 4) {
    ZDM_TRY(int32_t pk_count, read_count(r, "prepared metadata pk count"));
    ZDM_CHECK(check_count_fits(r, static_cast<uint64_t>(pk_count), 2, "pk index"));
    m.pk_indexes.reserve(static_cast<size_t>(pk_count));
    for (int32_t i = 0; i < pk_count; ++i) {
      ZDM_TRY(uint16_t index, r.read_u16());
      m.pk_indexes.push_back(index);
    }
  }
  ZDM_TRY(m.columns,
          read_column_specs(r, count, m.global_table_spec, &m.global_keyspace, &m.global_table));
  return m;
}

void encode_prepared_metadata(const PreparedMetadata& m, ProtocolVersion v, ByteWriter& w) {
  w.write_u32(m.global_table_spec ? rows_flag::kGlobalTablesSpec : 0);
  w.write_i32(static_cast<int32_t>(m.columns.size()));
  if (version_byte(v) >= 4) {
    w.write_i32(static_cast<int32_t>(m.pk_indexes.size()));
    for (uint16_t index : m.pk_indexes) w.write_u16(index);
  }
  write_column_specs(w, m.columns, m.global_table_spec, m.global_keyspace, m.global_table);
}

Result<SchemaChange> decode_schema_change(ByteReader& r, ProtocolVersion v) {
  SchemaChange c;
  ZDM_TRY(std::string_view change, r.read_string());
  auto change_type = schema_change_type_from_name(change);
  if (!change_type) {
    return fail(Errc::Malformed, fmt::format("unknown schema change type \"{}\"", change));
  }
  c.change = *change_type;
  ZDM_TRY(std::string_view target_name, r.read_string());
  auto target = schema_change_target_from_name(target_name);
  const bool function_like = target && (*target == SchemaChangeTarget::Function ||
                                        *target == SchemaChangeTarget::Aggregate);
  if (!target || (function_like && v == ProtocolVersion::V3)) {
    return fail(Errc::Malformed, fmt::format("unknown schema change target \"{}\" in {}",
                                             target_name, protocol_version_name(v)));
  }
  c.target = *target;
  ZDM_TRY(c.keyspace, read_owned_string(r));
  if (c.target != SchemaChangeTarget::Keyspace) {
    ZDM_TRY(c.name, read_owned_string(r));
  }
  if (function_like) {
    ZDM_TRY(c.argument_types, read_owned_string_list(r));
  }
  return c;
}

void encode_schema_change(const SchemaChange& c, ByteWriter& w) {
  w.write_string(schema_change_type_name(c.change));
  w.write_string(schema_change_target_name(c.target));
  w.write_string(c.keyspace);
  if (c.target != SchemaChangeTarget::Keyspace) w.write_string(c.name);
  if (c.target == SchemaChangeTarget::Function || c.target == SchemaChangeTarget::Aggregate) {
    write_string_list(w, c.argument_types);
  }
}

Result<WriteType> read_write_type(ByteReader& r) {
  ZDM_TRY(std::string_view name, r.read_string());
  auto t = write_type_from_name(name);
  if (!t) return fail(Errc::Malformed, fmt::format("unknown write type \"{}\"", name));
  return *t;
}

Result<bool> read_data_present(ByteReader& r) {
  ZDM_TRY(uint8_t b, r.read_u8());
  return b != 0;
}

// v5 <reasonmap>: [int] n, then n pairs of [inetaddr] and [short].
Result<std::vector<FailureReason>> read_reason_map(ByteReader& r) {
  ZDM_TRY(int32_t n, read_count(r, "failure reason count"));
  ZDM_CHECK(check_count_fits(r, static_cast<uint64_t>(n), 7, "failure reason"));
  std::vector<FailureReason> reasons;
  reasons.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    ZDM_TRY(ByteView endpoint, r.read_inetaddr());
    ZDM_TRY(uint16_t code, r.read_u16());
    reasons.push_back(FailureReason{Bytes(endpoint.begin(), endpoint.end()), code});
  }
  return reasons;
}

void write_reason_map(ByteWriter& w, const std::vector<FailureReason>& reasons) {
  w.write_i32(static_cast<int32_t>(reasons.size()));
  for (const auto& reason : reasons) {
    w.write_inetaddr(reason.endpoint);
    w.write_u16(reason.code);
  }
}

// The failure count (v3/v4) or reason map (v5) of READ_FAILURE and WRITE_FAILURE.
template <class Info>
Result<void> read_failures(ByteReader& r, ProtocolVersion v, Info& info) {
  if (uses_error_code_map(v)) {
    ZDM_TRY(info.reasons, read_reason_map(r));
    info.num_failures = static_cast<int32_t>(info.reasons.size());
  } else {
    ZDM_TRY(info.num_failures, r.read_i32());
  }
  return {};
}

template <class Info>
void write_failures(ByteWriter& w, ProtocolVersion v, const Info& info) {
  if (uses_error_code_map(v)) {
    write_reason_map(w, info.reasons);
  } else {
    w.write_i32(info.num_failures);
  }
}

// <cl><received><blockfor>, the common start of timeout and failure bodies.
template <class Info>
Result<void> read_replica_counts(ByteReader& r, Info& info) {
  ZDM_TRY(info.consistency, read_consistency(r, "ERROR"));
  ZDM_TRY(info.received, r.read_i32());
  ZDM_TRY(info.block_for, r.read_i32());
  return {};
}

template <class Info>
void write_replica_counts(ByteWriter& w, const Info& info) {
  write_consistency(w, info.consistency);
  w.write_i32(info.received);
  w.write_i32(info.block_for);
}

bool has_contentions(ProtocolVersion v, WriteType t) {
  return v == ProtocolVersion::V5 && t == WriteType::Cas;
}

Result<ErrorDetail> decode_error_detail(ErrorCode code, ByteReader& r, ProtocolVersion v) {
  switch (code) {
    case ErrorCode::Unavailable: {
      UnavailableInfo info;
      ZDM_TRY(info.consistency, read_consistency(r, "UNAVAILABLE"));
      ZDM_TRY(info.required, r.read_i32());
      ZDM_TRY(info.alive, r.read_i32());
      return info;
    }
    case ErrorCode::WriteTimeout: {
      WriteTimeoutInfo info;
      ZDM_CHECK(read_replica_counts(r, info));
      ZDM_TRY(info.write_type, read_write_type(r));
      if (has_contentions(v, info.write_type)) {
        ZDM_TRY(info.contentions, r.read_u16());
      }
      return info;
    }
    case ErrorCode::ReadTimeout: {
      ReadTimeoutInfo info;
      ZDM_CHECK(read_replica_counts(r, info));
      ZDM_TRY(info.data_present, read_data_present(r));
      return info;
    }
    case ErrorCode::ReadFailure: {
      ReadFailureInfo info;
      ZDM_CHECK(read_replica_counts(r, info));
      ZDM_CHECK(read_failures(r, v, info));
      ZDM_TRY(info.data_present, read_data_present(r));
      return info;
    }
    case ErrorCode::FunctionFailure: {
      FunctionFailureInfo info;
      ZDM_TRY(info.keyspace, read_owned_string(r));
      ZDM_TRY(info.function, read_owned_string(r));
      ZDM_TRY(info.arg_types, read_owned_string_list(r));
      return info;
    }
    case ErrorCode::WriteFailure: {
      WriteFailureInfo info;
      ZDM_CHECK(read_replica_counts(r, info));
      ZDM_CHECK(read_failures(r, v, info));
      ZDM_TRY(info.write_type, read_write_type(r));
      return info;
    }
    case ErrorCode::AlreadyExists: {
      AlreadyExistsInfo info;
      ZDM_TRY(info.keyspace, read_owned_string(r));
      ZDM_TRY(info.table, read_owned_string(r));
      return info;
    }
    case ErrorCode::Unprepared: {
      UnpreparedInfo info;
      ZDM_TRY(info.id, read_owned_short_bytes(r));
      return info;
    }
    case ErrorCode::CasWriteUnknown: {
      CasWriteUnknownInfo info;
      ZDM_CHECK(read_replica_counts(r, info));
      return info;
    }
    default:
      return ErrorDetail{};
  }
}

// The detail alternative the code calls for, or a default one when the caller left it unset.
template <class Info>
const Info& detail_as(const ErrorDetail& detail) {
  static const Info kDefault{};
  const Info* info = std::get_if<Info>(&detail);
  return info != nullptr ? *info : kDefault;
}

void encode_error(const ErrorMessage& m, ProtocolVersion v, ByteWriter& w) {
  w.write_i32(static_cast<int32_t>(m.code));
  w.write_string(m.message);
  switch (m.code) {
    case ErrorCode::Unavailable: {
      const auto& info = detail_as<UnavailableInfo>(m.detail);
      write_consistency(w, info.consistency);
      w.write_i32(info.required);
      w.write_i32(info.alive);
      return;
    }
    case ErrorCode::WriteTimeout: {
      const auto& info = detail_as<WriteTimeoutInfo>(m.detail);
      write_replica_counts(w, info);
      w.write_string(write_type_name(info.write_type));
      if (has_contentions(v, info.write_type)) w.write_u16(info.contentions.value_or(0));
      return;
    }
    case ErrorCode::ReadTimeout: {
      const auto& info = detail_as<ReadTimeoutInfo>(m.detail);
      write_replica_counts(w, info);
      w.write_u8(info.data_present ? 1 : 0);
      return;
    }
    case ErrorCode::ReadFailure: {
      const auto& info = detail_as<ReadFailureInfo>(m.detail);
      write_replica_counts(w, info);
      write_failures(w, v, info);
      w.write_u8(info.data_present ? 1 : 0);
      return;
    }
    case ErrorCode::FunctionFailure: {
      const auto& info = detail_as<FunctionFailureInfo>(m.detail);
      w.write_string(info.keyspace);
      w.write_string(info.function);
      write_string_list(w, info.arg_types);
      return;
    }
    case ErrorCode::WriteFailure: {
      const auto& info = detail_as<WriteFailureInfo>(m.detail);
      write_replica_counts(w, info);
      write_failures(w, v, info);
      w.write_string(write_type_name(info.write_type));
      return;
    }
    case ErrorCode::AlreadyExists: {
      const auto& info = detail_as<AlreadyExistsInfo>(m.detail);
      w.write_string(info.keyspace);
      w.write_string(info.table);
      return;
    }
    case ErrorCode::Unprepared:
      w.write_short_bytes(detail_as<UnpreparedInfo>(m.detail).id);
      return;
    case ErrorCode::CasWriteUnknown:
      write_replica_counts(w, detail_as<CasWriteUnknownInfo>(m.detail));
      return;
    default:
      return;
  }
}

Result<ResponseBody> decode_error(ByteReader& r, ProtocolVersion v) {
  ErrorMessage m;
  ZDM_TRY(int32_t raw_code, r.read_i32());
  auto code = error_code_from_int(raw_code);
  if (!code) return fail(Errc::Unsupported, fmt::format("unknown error code 0x{:04x}", raw_code));
  m.code = *code;
  ZDM_TRY(m.message, read_owned_string(r));
  ZDM_TRY(m.detail, decode_error_detail(m.code, r, v));
  return m;
}

Result<RowsResult> decode_rows(ByteReader& r, ProtocolVersion v) {
  RowsResult rows;
  ZDM_TRY(rows.metadata, decode_rows_metadata(r, v));
  ZDM_TRY(int32_t row_count, read_count(r, "row count"));
  const auto columns = static_cast<uint64_t>(rows.metadata.column_count);
  if (columns == 0 && row_count > 0) {
    return fail(Errc::Malformed, fmt::format("{} rows of zero columns", row_count));
  }
  // Every cell is at least its 4-byte length.
  ZDM_CHECK(check_count_fits(r, static_cast<uint64_t>(row_count) * columns, 4, "cell"));
  rows.rows.reserve(static_cast<size_t>(row_count));
  for (int32_t i = 0; i < row_count; ++i) {
    Row row;
    row.reserve(columns);
    for (uint64_t j = 0; j < columns; ++j) {
      ZDM_TRY(auto cell, read_owned_bytes(r));
      row.push_back(std::move(cell));
    }
    rows.rows.push_back(std::move(row));
  }
  return rows;
}

Result<ResponseBody> decode_result(ByteReader& r, ProtocolVersion v) {
  ZDM_TRY(int32_t kind, r.read_i32());
  switch (static_cast<ResultKind>(kind)) {
    case ResultKind::Void:
      return ResultMessage{VoidResult{}};
    case ResultKind::Rows: {
      ZDM_TRY(RowsResult rows, decode_rows(r, v));
      return ResultMessage{std::move(rows)};
    }
    case ResultKind::SetKeyspace: {
      ZDM_TRY(std::string keyspace, read_owned_string(r));
      return ResultMessage{SetKeyspaceResult{std::move(keyspace)}};
    }
    case ResultKind::Prepared: {
      PreparedResult p;
      ZDM_TRY(p.id, read_owned_short_bytes(r));
      if (uses_prepared_metadata(v)) {
        ZDM_TRY(p.result_metadata_id, read_owned_short_bytes(r));
      }
      ZDM_TRY(p.metadata, decode_prepared_metadata(r, v));
      ZDM_TRY(p.result_metadata, decode_rows_metadata(r, v));
      return ResultMessage{std::move(p)};
    }
    case ResultKind::SchemaChange: {
      ZDM_TRY(SchemaChange change, decode_schema_change(r, v));
      return ResultMessage{SchemaChangeResult{std::move(change)}};
    }
  }
  return fail(Errc::Malformed, fmt::format("unknown RESULT kind {}", kind));
}

Result<ResponseBody> decode_event(ByteReader& r, ProtocolVersion v) {
  ZDM_TRY(std::string_view type, r.read_string());
  if (type == "TOPOLOGY_CHANGE") {
    TopologyChangeEvent e;
    ZDM_TRY(std::string_view change, r.read_string());
    if (change == "NEW_NODE") {
      e.change = TopologyChangeType::NewNode;
    } else if (change == "REMOVED_NODE") {
      e.change = TopologyChangeType::RemovedNode;
    } else if (change == "MOVED_NODE" && v == ProtocolVersion::V3) {
      e.change = TopologyChangeType::MovedNode;
    } else {
      return fail(Errc::Malformed, fmt::format("unknown topology change \"{}\" in {}", change,
                                               protocol_version_name(v)));
    }
    ZDM_TRY(e.address, read_owned_inet(r));
    return EventMessage{e};
  }
  if (type == "STATUS_CHANGE") {
    StatusChangeEvent e;
    ZDM_TRY(std::string_view change, r.read_string());
    if (change == "UP") {
      e.change = StatusChangeType::Up;
    } else if (change == "DOWN") {
      e.change = StatusChangeType::Down;
    } else {
      return fail(Errc::Malformed, fmt::format("unknown status change \"{}\"", change));
    }
    ZDM_TRY(e.address, read_owned_inet(r));
    return EventMessage{e};
  }
  if (type == "SCHEMA_CHANGE") {
    ZDM_TRY(SchemaChange change, decode_schema_change(r, v));
    return EventMessage{SchemaChangeEvent{std::move(change)}};
  }
  return fail(Errc::Malformed, fmt::format("unknown event type \"{}\"", type));
}

Result<ResponseBody> decode_supported(ByteReader& r) {
  ZDM_TRY(auto multimap, r.read_string_multimap());
  SupportedMessage m;
  m.options.reserve(multimap.size());
  for (const auto& [key, values] : multimap) {
    m.options.emplace_back(std::string(key),
                           std::vector<std::string>(values.begin(), values.end()));
  }
  return m;
}

void write_optional_bytes(ByteWriter& w, const std::optional<Bytes>& b) {
  w.write_bytes(b ? std::optional<ByteView>(ByteView(*b)) : std::nullopt);
}

void write_inet(ByteWriter& w, const Inet& inet) { w.write_inet(inet.address, inet.port); }

struct ResultEncoder {
  ProtocolVersion v;
  ByteWriter& w;

  void operator()(const VoidResult&) {}
  void operator()(const RowsResult& rows) {
    encode_rows_metadata(rows.metadata, v, w);
    w.write_i32(static_cast<int32_t>(rows.rows.size()));
    for (const auto& row : rows.rows) {
      for (const auto& cell : row) write_optional_bytes(w, cell);
    }
  }
  void operator()(const SetKeyspaceResult& r) { w.write_string(r.keyspace); }
  void operator()(const PreparedResult& p) {
    w.write_short_bytes(p.id);
    if (uses_prepared_metadata(v)) w.write_short_bytes(p.result_metadata_id);
    encode_prepared_metadata(p.metadata, v, w);
    encode_rows_metadata(p.result_metadata, v, w);
  }
  void operator()(const SchemaChangeResult& r) { encode_schema_change(r.change, w); }
};

struct EventEncoder {
  ByteWriter& w;

  void operator()(const TopologyChangeEvent& e) {
    w.write_string("TOPOLOGY_CHANGE");
    w.write_string(topology_change_type_name(e.change));
    write_inet(w, e.address);
  }
  void operator()(const StatusChangeEvent& e) {
    w.write_string("STATUS_CHANGE");
    w.write_string(status_change_type_name(e.change));
    write_inet(w, e.address);
  }
  void operator()(const SchemaChangeEvent& e) {
    w.write_string("SCHEMA_CHANGE");
    encode_schema_change(e.change, w);
  }
};

struct ResponseEncoder {
  ProtocolVersion v;
  ByteWriter& w;

  void operator()(const ErrorMessage& m) { encode_error(m, v, w); }
  void operator()(const ReadyMessage&) {}
  void operator()(const AuthenticateMessage& m) { w.write_string(m.authenticator); }
  void operator()(const SupportedMessage& m) { w.write_string_multimap(m.options); }
  void operator()(const ResultMessage& m) {
    w.write_i32(static_cast<int32_t>(m.kind()));
    std::visit(ResultEncoder{v, w}, m.result);
  }
  void operator()(const EventMessage& m) { std::visit(EventEncoder{w}, m.event); }
  void operator()(const AuthChallengeMessage& m) { write_optional_bytes(w, m.token); }
  void operator()(const AuthSuccessMessage& m) { write_optional_bytes(w, m.token); }
};

}  // namespace

Result<RowsMetadata> decode_rows_metadata(ByteReader& r, ProtocolVersion v) {
  RowsMetadata m;
  ZDM_TRY(uint32_t flags, r.read_u32());
  ZDM_CHECK(check_flags(flags, allowed_rows_flags(v), "rows metadata", v));
  m.global_table_spec = (flags & rows_flag::kGlobalTablesSpec) != 0;
  m.no_metadata = (flags & rows_flag::kNoMetadata) != 0;
  m.last_continuous_page = (flags & rows_flag::kDseLastContinuousPage) != 0;
  if (m.no_metadata && (flags & rows_flag::kMetadataChanged)) {
    return fail(Errc::Malformed, "rows metadata has both No_metadata and Metadata_changed");
  }
  ZDM_TRY(m.column_count, read_count(r, "rows metadata column count"));
  if (flags & rows_flag::kHasMorePages) {
    ZDM_TRY(auto state, read_owned_bytes(r));
    if (!state) return fail(Errc::Malformed, "Has_more_pages is set but the paging state is null");
    m.paging_state = std::move(*state);
  }
  if (flags & rows_flag::kMetadataChanged) {
    ZDM_TRY(m.new_metadata_id, read_owned_short_bytes(r));
  }
  if (flags & rows_flag::kDseContinuousPaging) {
    ZDM_TRY(m.continuous_page_number, r.read_i32());
  }
  if (!m.no_metadata) {
    ZDM_TRY(m.columns, read_column_specs(r, m.column_count, m.global_table_spec, &m.global_keyspace,
                                         &m.global_table));
  }
  return m;
}

void encode_rows_metadata(const RowsMetadata& m, ProtocolVersion v, ByteWriter& w) {
  const bool changed = m.new_metadata_id && uses_prepared_metadata(v) && !m.no_metadata;
  const bool dse = uses_continuous_paging(v);
  uint32_t flags = 0;
  if (m.global_table_spec) flags |= rows_flag::kGlobalTablesSpec;
  if (m.paging_state) flags |= rows_flag::kHasMorePages;
  if (m.no_metadata) flags |= rows_flag::kNoMetadata;
  if (changed) flags |= rows_flag::kMetadataChanged;
  if (dse && m.continuous_page_number) flags |= rows_flag::kDseContinuousPaging;
  if (dse && m.last_continuous_page) flags |= rows_flag::kDseLastContinuousPage;
  w.write_u32(flags);
  w.write_i32(m.no_metadata ? m.column_count : static_cast<int32_t>(m.columns.size()));
  if (m.paging_state) w.write_bytes(ByteView(*m.paging_state));
  if (changed) w.write_short_bytes(*m.new_metadata_id);
  if (dse && m.continuous_page_number) w.write_i32(*m.continuous_page_number);
  if (!m.no_metadata) {
    write_column_specs(w, m.columns, m.global_table_spec, m.global_keyspace, m.global_table);
  }
}

Result<ResponseBody> decode_response(Opcode op, ByteReader& r, ProtocolVersion v) {
  switch (op) {
    case Opcode::Error:
      return decode_error(r, v);
    case Opcode::Ready:
      return ResponseBody{ReadyMessage{}};
    case Opcode::Authenticate: {
      ZDM_TRY(std::string name, read_owned_string(r));
      return AuthenticateMessage{std::move(name)};
    }
    case Opcode::Supported:
      return decode_supported(r);
    case Opcode::Result:
      return decode_result(r, v);
    case Opcode::Event:
      return decode_event(r, v);
    case Opcode::AuthChallenge: {
      ZDM_TRY(auto token, read_owned_bytes(r));
      return AuthChallengeMessage{std::move(token)};
    }
    case Opcode::AuthSuccess: {
      ZDM_TRY(auto token, read_owned_bytes(r));
      return AuthSuccessMessage{std::move(token)};
    }
    default:
      break;
  }
  return fail(Errc::Malformed, fmt::format("opcode {} is not a response", opcode_name(op)));
}

void encode_response(const ResponseBody& body, ProtocolVersion v, ByteWriter& w) {
  std::visit(ResponseEncoder{v, w}, body);
}

Opcode response_opcode(const ResponseBody& body) {
  static constexpr Opcode kOpcodes[] = {
      Opcode::Error,  Opcode::Ready, Opcode::Authenticate,  Opcode::Supported,
      Opcode::Result, Opcode::Event, Opcode::AuthChallenge, Opcode::AuthSuccess};
  static_assert(std::size(kOpcodes) == std::variant_size_v<ResponseBody>);
  return kOpcodes[body.index()];
}

}  // namespace zdm::protocol::codec
