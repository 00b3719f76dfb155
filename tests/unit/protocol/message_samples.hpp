#pragma once
// Sample messages of every kind, valid in a given protocol version, for the message codec's unit
// tests and for the golden emitter (tests/golden/emit_messages.cpp). Cell values in rows are valid
// encodings of their column types so that an independent decoder can parse them.

#include <string>
#include <vector>

#include <fmt/format.h>

#include "protocol/messages.hpp"

namespace zdm::protocol::samples {

struct Sample {
  std::string name;
  Message message;
};

inline Bytes b(std::initializer_list<uint8_t> bytes) { return Bytes(bytes); }
inline Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline Bytes be32(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  return {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
          static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)};
}
inline Bytes be64(int64_t v) {
  Bytes out = be32(static_cast<int32_t>(static_cast<uint64_t>(v) >> 32));
  Bytes low = be32(static_cast<int32_t>(static_cast<uint32_t>(v)));
  out.insert(out.end(), low.begin(), low.end());
  return out;
}
inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline const std::vector<ProtocolVersion>& all_versions() {
  static const std::vector<ProtocolVersion> kVersions = {
      ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5, ProtocolVersion::DseV1,
      ProtocolVersion::DseV2};
  return kVersions;
}

inline ColumnSpec column(std::string name, DataType type, std::string ks = "ks",
                         std::string table = "tbl") {
  return ColumnSpec{std::move(ks), std::move(table), std::move(name), std::move(type)};
}

// Columns of several types and two rows of valid cells (one row with nulls).
inline RowsResult typed_rows(ProtocolVersion v) {
  RowsResult r;
  r.metadata.global_table_spec = true;
  r.metadata.global_keyspace = "ks";
  r.metadata.global_table = "tbl";
  r.metadata.columns = {
      column("id", DataType::simple(TypeId::Int)),
      column("name", DataType::simple(TypeId::Varchar)),
      column("big", DataType::simple(TypeId::Bigint)),
      column("flag", DataType::simple(TypeId::Boolean)),
      column("data", DataType::simple(TypeId::Blob)),
      column("score", DataType::simple(TypeId::Double)),
      column("uid", DataType::simple(TypeId::Uuid)),
      column("tags", DataType::list_of(DataType::simple(TypeId::Int))),
      column("attrs",
             DataType::map_of(DataType::simple(TypeId::Varchar), DataType::simple(TypeId::Int))),
      column("labels", DataType::set_of(DataType::simple(TypeId::Varchar))),
      column("pair", DataType::tuple_of(
                         {DataType::simple(TypeId::Int), DataType::simple(TypeId::Varchar)})),
  };
  r.metadata.column_count = static_cast<int32_t>(r.metadata.columns.size());
  r.metadata.paging_state = b({0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF});
  r.rows.push_back(Row{
      be32(42),
      text("alice"),
      be64(-7),
      b({0x01}),
      b({0xCA, 0xFE}),
      b({0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18}),  // 3.141592653589793
      b({0x55, 0x0E, 0x84, 0x00, 0xE2, 0x9B, 0x41, 0xD4, 0xA7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00,
         0x00}),
      concat({be32(2), be32(4), be32(1), be32(4), be32(2)}),
      concat({be32(1), be32(1), text("k"), be32(4), be32(9)}),
      concat({be32(2), be32(1), text("a"), be32(1), text("b")}),
      concat({be32(4), be32(5), be32(2), text("xy")}),
  });
  r.rows.push_back(Row{be32(-1), std::nullopt, std::nullopt, b({0x00}), Bytes{}, std::nullopt,
                       std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  (void)v;
  return r;
}

inline std::vector<Sample> requests(ProtocolVersion v) {
  std::vector<Sample> out;
  auto add = [&](std::string name, RequestBody body, Envelope env = {}) {
    Message m = make_request(v, StreamId{static_cast<int16_t>(out.size() + 1)}, std::move(body));
    m.envelope = std::move(env);
    out.push_back({std::move(name), std::move(m)});
  };
  add("startup", StartupMessage{{{"CQL_VERSION", "3.0.0"}, {"COMPRESSION", "lz4"}}});
  add("options", OptionsMessage{});

  QueryMessage simple_query{"SELECT * FROM ks.tbl", {}};
  add("query_minimal", simple_query);

  QueryMessage full;
  full.query = "SELECT * FROM tbl WHERE id = ? AND name = ?";
  full.parameters.consistency = Consistency::LocalQuorum;
  full.parameters.values = std::vector<BoundValue>{BoundValue::set(be32(1)), BoundValue::null()};
  if (supports_unset_values(v)) full.parameters.values->push_back(BoundValue::unset());
  full.parameters.skip_metadata = true;
  full.parameters.page_size = 5000;
  full.parameters.paging_state = b({1, 2, 3, 4});
  full.parameters.serial_consistency = Consistency::LocalSerial;
  full.parameters.default_timestamp = 1700000000000000;
  if (uses_keyspace_flag(v)) full.parameters.keyspace = "ks";
  if (uses_now_in_seconds(v)) full.parameters.now_in_seconds = 1700000000;
  if (uses_continuous_paging(v)) {
    full.parameters.page_size_in_bytes = true;
    ContinuousPagingOptions cp{10, 5, std::nullopt};
    if (v == ProtocolVersion::DseV2) cp.next_pages = 3;
    full.parameters.continuous_paging = cp;
  }
  add("query_full", full);

  QueryMessage named;
  named.query = "INSERT INTO tbl (id, name) VALUES (:id, :name)";
  named.parameters.consistency = Consistency::Quorum;
  named.parameters.values =
      std::vector<BoundValue>{BoundValue::set(be32(7)), BoundValue::set(text("bob"))};
  named.parameters.named_values = true;
  named.parameters.value_names = {"id", "name"};
  add("query_named_values", named);

  PrepareMessage prepare{"SELECT * FROM tbl WHERE id = ?", std::nullopt};
  add("prepare", prepare);
  if (uses_keyspace_flag(v)) {
    prepare.keyspace = "ks";
    add("prepare_keyspace", prepare);
  }

  ExecuteMessage execute;
  execute.id = b({0xAB, 0xCD, 0xEF, 0x01});
  if (uses_prepared_metadata(v)) execute.result_metadata_id = b({0x11, 0x22});
  execute.parameters.consistency = Consistency::One;
  execute.parameters.values = std::vector<BoundValue>{BoundValue::set(be32(3))};
  execute.parameters.page_size = 100;
  add("execute", execute);
  ExecuteMessage execute_empty = execute;
  execute_empty.parameters = {};
  execute_empty.parameters.values = std::vector<BoundValue>{};
  add("execute_empty_values", execute_empty);

  BatchMessage batch;
  batch.type = BatchType::Unlogged;
  batch.statements.push_back({BatchStatement::Kind::Query,
                              "INSERT INTO tbl (id) VALUES (?)",
                              {},
                              {BoundValue::set(be32(1))}});
  BatchStatement prepared_child{BatchStatement::Kind::Prepared,
                                "",
                                b({0x01, 0x02}),
                                {BoundValue::set(be32(2)), BoundValue::null()}};
  if (supports_unset_values(v)) prepared_child.values.push_back(BoundValue::unset());
  batch.statements.push_back(prepared_child);
  batch.statements.push_back({BatchStatement::Kind::Query, "DELETE FROM tbl WHERE id = 3", {}, {}});
  batch.consistency = Consistency::Quorum;
  batch.serial_consistency = Consistency::Serial;
  batch.default_timestamp = 1234567890;
  if (uses_keyspace_flag(v)) batch.keyspace = "ks";
  if (uses_now_in_seconds(v)) batch.now_in_seconds = 1700000001;
  add("batch", batch);
  BatchMessage counter_batch;
  counter_batch.type = BatchType::Counter;
  counter_batch.statements.push_back(
      {BatchStatement::Kind::Query, "UPDATE c SET n = n + 1 WHERE k = 1", {}, {}});
  add("batch_counter_minimal", counter_batch);

  add("register", RegisterMessage{{"TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"}});
  add("auth_response", AuthResponseMessage{text(std::string_view("\0user\0pass", 10))});
  add("auth_response_null", AuthResponseMessage{std::nullopt});

  if (uses_continuous_paging(v)) {
    add("revise_cancel",
        ReviseRequestMessage{RevisionType::CancelContinuousPaging, 12, std::nullopt});
  }
  if (v == ProtocolVersion::DseV2) {
    add("revise_more_pages", ReviseRequestMessage{RevisionType::MoreContinuousPages, 12, 4});
  }

  Envelope traced;
  traced.tracing = true;
  add("query_traced", simple_query, traced);
  if (v != ProtocolVersion::V3) {
    Envelope payload;
    payload.custom_payload = CustomPayload{{"key", b({1, 2})}, {"empty", Bytes{}}};
    add("query_custom_payload", simple_query, payload);
  }
  if (version_byte(v) >= 5) {
    Envelope beta;
    beta.use_beta = true;
    add("options_beta", OptionsMessage{}, beta);
  }
  return out;
}

inline std::vector<Sample> errors(ProtocolVersion v) {
  std::vector<Sample> out;
  auto add = [&](std::string name, ErrorCode code, ErrorDetail detail) {
    ErrorMessage e{code, "message for " + name, std::move(detail)};
    out.push_back({"error_" + name, make_response(v, StreamId{3}, e)});
  };
  add("server_error", ErrorCode::ServerError, {});
  add("protocol_error", ErrorCode::ProtocolError, {});
  add("bad_credentials", ErrorCode::BadCredentials, {});
  add("unavailable", ErrorCode::Unavailable, UnavailableInfo{Consistency::Quorum, 3, 1});
  add("overloaded", ErrorCode::Overloaded, {});
  add("is_bootstrapping", ErrorCode::IsBootstrapping, {});
  add("truncate_error", ErrorCode::TruncateError, {});
  add("write_timeout", ErrorCode::WriteTimeout,
      WriteTimeoutInfo{Consistency::LocalQuorum, 1, 2, WriteType::BatchLog, std::nullopt});
  WriteTimeoutInfo cas{Consistency::Serial, 0, 2, WriteType::Cas, std::nullopt};
  if (v == ProtocolVersion::V5) cas.contentions = 5;
  add("write_timeout_cas", ErrorCode::WriteTimeout, cas);
  add("read_timeout", ErrorCode::ReadTimeout, ReadTimeoutInfo{Consistency::One, 0, 1, false});
  add("read_timeout_data", ErrorCode::ReadTimeout, ReadTimeoutInfo{Consistency::Two, 2, 2, true});
  ReadFailureInfo read_failure{Consistency::All, 1, 3, 2, {}, true};
  WriteFailureInfo write_failure{Consistency::Quorum, 1, 2, 1, {}, WriteType::UnloggedBatch};
  if (uses_error_code_map(v)) {
    read_failure.reasons = {
        {b({10, 0, 0, 1}), 0x0001},
        {Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 0x0002}};
    read_failure.num_failures = 2;
    write_failure.reasons = {{b({10, 0, 0, 2}), 0x0000}};
    write_failure.num_failures = 1;
  }
  add("read_failure", ErrorCode::ReadFailure, read_failure);
  add("function_failure", ErrorCode::FunctionFailure,
      FunctionFailureInfo{"ks", "my_func", {"int", "text"}});
  add("write_failure", ErrorCode::WriteFailure, write_failure);
  add("cdc_write_failure", ErrorCode::CdcWriteFailure, {});
  add("cas_write_unknown", ErrorCode::CasWriteUnknown,
      CasWriteUnknownInfo{Consistency::Serial, 1, 2});
  add("syntax_error", ErrorCode::SyntaxError, {});
  add("unauthorized", ErrorCode::Unauthorized, {});
  add("invalid", ErrorCode::Invalid, {});
  add("config_error", ErrorCode::ConfigError, {});
  add("already_exists_table", ErrorCode::AlreadyExists, AlreadyExistsInfo{"ks", "tbl"});
  add("already_exists_keyspace", ErrorCode::AlreadyExists, AlreadyExistsInfo{"ks", ""});
  add("unprepared", ErrorCode::Unprepared, UnpreparedInfo{b({0xAB, 0xCD, 0xEF, 0x01})});
  if (uses_continuous_paging(v)) add("client_write_failure", ErrorCode::ClientWriteFailure, {});
  return out;
}

inline std::vector<SchemaChange> schema_changes(ProtocolVersion v) {
  std::vector<SchemaChange> out = {
      {SchemaChangeType::Created, SchemaChangeTarget::Keyspace, "ks", "", {}},
      {SchemaChangeType::Updated, SchemaChangeTarget::Table, "ks", "tbl", {}},
      {SchemaChangeType::Dropped, SchemaChangeTarget::Type, "ks", "address", {}},
  };
  if (v != ProtocolVersion::V3) {
    out.push_back(
        {SchemaChangeType::Created, SchemaChangeTarget::Function, "ks", "plus", {"int", "int"}});
    out.push_back(
        {SchemaChangeType::Dropped, SchemaChangeTarget::Aggregate, "ks", "average", {"double"}});
    out.push_back({SchemaChangeType::Created, SchemaChangeTarget::Function, "ks", "now_fn", {}});
  }
  return out;
}

inline std::vector<Sample> results(ProtocolVersion v) {
  std::vector<Sample> out;
  auto add = [&](std::string name, ResultBody body) {
    out.push_back(
        {"result_" + name, make_response(v, StreamId{4}, ResultMessage{std::move(body)})});
  };
  add("void", VoidResult{});
  add("rows_typed", typed_rows(v));

  RowsResult per_column;
  per_column.metadata.columns = {column("a", DataType::simple(TypeId::Varchar), "ks1", "t1"),
                                 column("b", DataType::simple(TypeId::Int), "ks2", "t2")};
  per_column.metadata.column_count = 2;
  per_column.rows = {Row{text("x"), be32(1)}, Row{text(""), std::nullopt}};
  add("rows_per_column_spec", per_column);

  RowsResult empty;
  empty.metadata.global_table_spec = true;
  empty.metadata.global_keyspace = "ks";
  empty.metadata.global_table = "tbl";
  empty.metadata.columns = {column("id", DataType::simple(TypeId::Int))};
  empty.metadata.column_count = 1;
  add("rows_empty", empty);

  RowsResult no_meta;
  no_meta.metadata.no_metadata = true;
  no_meta.metadata.column_count = 2;
  no_meta.metadata.paging_state = b({9, 9});
  no_meta.rows = {Row{be32(1), text("one")}};
  add("rows_no_metadata", no_meta);

  if (uses_prepared_metadata(v)) {
    RowsResult changed = per_column;
    changed.metadata.new_metadata_id = b({0x77, 0x88, 0x99});
    add("rows_metadata_changed", changed);
  }
  if (uses_continuous_paging(v)) {
    RowsResult continuous = per_column;
    continuous.metadata.continuous_page_number = 2;
    continuous.metadata.last_continuous_page = true;
    add("rows_continuous_paging", continuous);
  }

  add("set_keyspace", SetKeyspaceResult{"my_keyspace"});

  PreparedResult prepared;
  prepared.id = b({0xAB, 0xCD, 0xEF, 0x01});
  if (uses_prepared_metadata(v)) prepared.result_metadata_id = b({0x11, 0x22});
  prepared.metadata.global_table_spec = true;
  prepared.metadata.global_keyspace = "ks";
  prepared.metadata.global_table = "tbl";
  prepared.metadata.columns = {column("id", DataType::simple(TypeId::Int)),
                               column("bucket", DataType::simple(TypeId::Varchar))};
  if (version_byte(v) >= 4) prepared.metadata.pk_indexes = {1, 0};
  prepared.result_metadata.global_table_spec = true;
  prepared.result_metadata.global_keyspace = "ks";
  prepared.result_metadata.global_table = "tbl";
  prepared.result_metadata.columns = {
      column("id", DataType::simple(TypeId::Int)),
      column("name", DataType::simple(TypeId::Varchar)),
      column("m",
             DataType::map_of(DataType::simple(TypeId::Uuid), DataType::simple(TypeId::Date)))};
  prepared.result_metadata.column_count = 3;
  add("prepared_select", prepared);

  PreparedResult prepared_insert;
  prepared_insert.id = b({0x01});
  if (uses_prepared_metadata(v)) prepared_insert.result_metadata_id = b({0x02});
  prepared_insert.metadata.columns = {column("id", DataType::simple(TypeId::Int), "ks", "t"),
                                      column("v", DataType::simple(TypeId::Varchar), "ks", "t")};
  prepared_insert.result_metadata.no_metadata = true;
  add("prepared_insert", prepared_insert);

  int i = 0;
  for (const auto& change : schema_changes(v)) {
    add(fmt::format("schema_change_{}_{}", i++, schema_change_target_name(change.target)),
        SchemaChangeResult{change});
  }
  return out;
}

inline std::vector<Sample> responses(ProtocolVersion v) {
  std::vector<Sample> out = errors(v);
  auto add = [&](std::string name, ResponseBody body, Envelope env = {}, int16_t stream = 2) {
    Message m = make_response(v, StreamId{stream}, std::move(body));
    m.envelope = std::move(env);
    out.push_back({std::move(name), std::move(m)});
  };
  add("ready", ReadyMessage{});
  add("authenticate", AuthenticateMessage{"org.apache.cassandra.auth.PasswordAuthenticator"});
  add("supported", SupportedMessage{{{"CQL_VERSION", {"3.4.5"}},
                                     {"COMPRESSION", {"lz4", "snappy"}},
                                     {"PROTOCOL_VERSIONS", {"3/v3", "4/v4", "5/v5"}}}});
  for (auto& s : results(v)) out.push_back(std::move(s));

  add("event_topology_new_node",
      EventMessage{TopologyChangeEvent{TopologyChangeType::NewNode, {b({127, 0, 0, 2}), 9042}}}, {},
      -1);
  add("event_topology_removed_node",
      EventMessage{
          TopologyChangeEvent{TopologyChangeType::RemovedNode,
                              {Bytes{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 9043}}},
      {}, -1);
  if (v == ProtocolVersion::V3) {
    add("event_topology_moved_node",
        EventMessage{TopologyChangeEvent{TopologyChangeType::MovedNode, {b({10, 1, 2, 3}), 9042}}},
        {}, -1);
  }
  add("event_status_up",
      EventMessage{StatusChangeEvent{StatusChangeType::Up, {b({127, 0, 0, 3}), 9042}}}, {}, -1);
  add("event_status_down",
      EventMessage{StatusChangeEvent{StatusChangeType::Down, {b({127, 0, 0, 4}), 19042}}}, {}, -1);
  int i = 0;
  for (const auto& change : schema_changes(v)) {
    add(fmt::format("event_schema_change_{}_{}", i++, schema_change_target_name(change.target)),
        EventMessage{SchemaChangeEvent{change}}, {}, -1);
  }
  add("auth_challenge", AuthChallengeMessage{b({1, 2, 3})});
  add("auth_success", AuthSuccessMessage{std::nullopt});
  add("auth_success_token", AuthSuccessMessage{text("done")});

  Envelope traced;
  traced.tracing = true;
  traced.tracing_id = Uuid{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x11, 0xee,
                           0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
  add("result_void_traced", ResultMessage{VoidResult{}}, traced);
  if (v != ProtocolVersion::V3) {
    Envelope full = traced;
    full.warnings =
        std::vector<std::string>{"Aggregation query used without partition key", "second warning"};
    full.custom_payload = CustomPayload{{"k1", b({0xFF})}, {"k2", std::nullopt}};
    add("result_rows_full_envelope", ResultMessage{typed_rows(v)}, full);
    Envelope warnings_only;
    warnings_only.warnings = std::vector<std::string>{"only a warning"};
    add("error_with_warnings", ErrorMessage{ErrorCode::Invalid, "bad", {}}, warnings_only);
  }
  return out;
}

inline std::vector<Sample> all(ProtocolVersion v) {
  std::vector<Sample> out = requests(v);
  for (auto& s : responses(v)) out.push_back(std::move(s));
  return out;
}

}  // namespace zdm::protocol::samples
