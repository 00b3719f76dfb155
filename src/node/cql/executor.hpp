#pragma once
// Internals of the CQL executor shared by its source files (not part of the node's API; the
// server only sees query_processor.hpp).
//
// A statement is compiled once into a Plan: names resolved to ColumnSchema pointers, terms to
// Exprs typed by their receiver, bind markers to ColumnSpecs for PREPARE metadata. Executing a
// plan evaluates its Exprs against the request's bound values; nothing is parsed or looked up by
// name per request.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/timeuuid.hpp"
#include "node/cql/cql_ast.hpp"
#include "node/cql/system_tables.hpp"
#include "node/storage/storage_engine.hpp"
#include "protocol/messages.hpp"
#include "protocol/version.hpp"

namespace zdm::node::exec {

using protocol::BoundValue;
using protocol::ColumnSpec;
using protocol::ErrorCode;

// A failure with the CQL error code the client receives.
struct CqlError {
  ErrorCode code = ErrorCode::Invalid;
  std::string message;
  protocol::ErrorDetail detail;
};
template <class T>
using CqlResult = tl::expected<T, CqlError>;

[[gnu::cold]] tl::unexpected<CqlError> invalid(std::string message);
[[gnu::cold]] tl::unexpected<CqlError> cql_error(ErrorCode code, std::string message);
[[gnu::cold]] tl::unexpected<CqlError> server_error(const Error& error);

// A runtime value: bytes, null or unset.
struct EvalValue {
  enum class Kind : uint8_t { Set, Null, Unset };
  Kind kind = Kind::Null;
  Bytes bytes;

  bool is_set() const { return kind == Kind::Set; }
  static EvalValue set(Bytes b) { return {Kind::Set, std::move(b)}; }
  static EvalValue null() { return {}; }
  static EvalValue unset() { return {Kind::Unset, {}}; }
};

// Shared services of the executor (one per QueryProcessor).
struct Services {
  StorageEngine* engine = nullptr;
  SystemTables* system = nullptr;
  // The release the node answers like (a few CQL rules differ, e.g. WRITETIME on collections).
  CassandraVersion cassandra_version = CassandraVersion::V4_0;
  TimeuuidGenerator timeuuids;
  std::atomic<int64_t> last_timestamp{0};
  // Bumped by every schema change; plans compiled under an older generation are recompiled.
  std::atomic<uint64_t> generation{1};
  std::function<void(const protocol::SchemaChange&)> notify;  // set under the QP's lock

  // Cassandra's ClientState.getTimestamp: the clock in microseconds, strictly increasing.
  int64_t next_timestamp();
  int64_t now_micros() const { return engine->clock()(); }
};

// Per-request inputs.
struct ExecContext {
  Services* services = nullptr;
  std::span<const BoundValue> values;  // positional (named values already mapped)
  protocol::ProtocolVersion version = protocol::ProtocolVersion::V4;
  int64_t now_micros = 0;  // statement time for now(), currentTimestamp()
  std::optional<int64_t> default_timestamp;
  int32_t page_size = 0;  // <= 0: no paging
  const std::optional<Bytes>* paging_state = nullptr;
  bool skip_metadata = false;
  std::string session_keyspace;
  const Bytes* result_metadata_id = nullptr;  // v5 EXECUTE
};

// ---------------------------------------------------------------------------------------------
// Expressions (terms compiled against their receiver type)

enum class Function : uint8_t {
  Now,
  Uuid,
  CurrentTimestamp,
  CurrentDate,
  CurrentTime,
  CurrentTimeuuid,
  ToTimestamp,
  ToDate,
  ToUnixTimestamp,
  DateOf,
  UnixTimestampOf,
  MinTimeuuid,
  MaxTimeuuid,
  BlobAs,
  AsBlob,
  Token,
};

struct Expr {
  enum class Kind : uint8_t { Const, Bind, Call, List, Set, Map, Tuple, Udt, Vector };
  Kind kind = Kind::Const;
  DataType type;                      // the value's type
  EvalValue constant;                 // Const
  uint32_t bind = 0;                  // Bind
  Function function = Function::Now;  // Call
  std::vector<Expr> args;  // Call args; collection/tuple/UDT elements (map: k, v, k, v...)

  static Expr constant_of(DataType t, EvalValue v) {
    Expr e;
    e.type = std::move(t);
    e.constant = std::move(v);
    return e;
  }
  bool is_constant() const { return kind == Kind::Const; }
};

// Where bind markers get their metadata while compiling.
struct CompileContext {
  Services* services = nullptr;
  const cql::Statement* statement = nullptr;
  std::string keyspace;  // of the statement's table (for bind specs)
  std::string table;
  std::vector<std::optional<ColumnSpec>> bind_specs;  // by marker index
  std::vector<std::string> receivers;  // by marker index: the receiving column's own name

  void bind(uint32_t index, std::string name, DataType type);
};

CqlResult<Expr> compile_term(const cql::Term& term, const DataType& receiver,
                             const std::string& receiver_name, CompileContext& cc);
CqlResult<EvalValue> eval(const Expr& expr, const ExecContext& ctx);

// Literal text of `kind` as a value of `type` (no bind markers).
CqlResult<Bytes> literal_bytes(const cql::Literal& literal, const DataType& type);
// Checks that bound bytes are a valid serialization of `type`.
CqlResult<void> validate_value(const DataType& type, ByteView bytes, const std::string& name);

// Native functions: lookup by (lowercased) name and evaluation.
struct FunctionInfo {
  Function function;
  DataType return_type;
  std::vector<DataType> params;
};
std::optional<FunctionInfo> find_function(const std::string& name);
CqlResult<EvalValue> call_function(Function f, const DataType& return_type,
                                   std::span<const DataType> arg_types,
                                   std::span<const EvalValue> args, const ExecContext& ctx);

// Splits a collection's bytes ([int] n then [int]-prefixed elements; maps key, value).
CqlResult<std::vector<Bytes>> split_collection(ByteView bytes, bool is_map);
Bytes join_collection(const std::vector<Bytes>& elements, size_t count);

// ---------------------------------------------------------------------------------------------
// WHERE clauses

// `= x`, `IN (a, b)` or `IN ?` on one column (or a tuple of columns).
struct ValueList {
  std::vector<Expr> values;
  std::optional<Expr> list;  // IN ?: one list<T> value
};
// Distinct non-null values, in the order given (IN lists are deduplicated as Cassandra does).
CqlResult<std::vector<Bytes>> eval_values(const ValueList& list, const ExecContext& ctx,
                                          const std::string& what, const DataType& type);

struct BoundExpr {
  Expr value;  // single column: the column's type; multi-column: a tuple
  bool inclusive = true;
  bool multi = false;
};

// A WHERE restriction that is not used to locate data: evaluated on each row (ALLOW FILTERING),
// and the IF conditions of LWTs.
struct Filter {
  const ColumnSchema* column = nullptr;
  cql::Operator op = cql::Operator::Eq;
  Expr value;
  ValueList in;
  std::optional<Expr> element_key;  // m[k] op v / l[i] op v
  std::string field;                // udt.field op v (conditions)
};

struct WhereClause {
  bool has_partition = false;            // every partition key column restricted by = / IN
  std::vector<ValueList> partition;      // one per partition key column when has_partition
  std::optional<BoundExpr> token_start;  // token(pk) > / >= x
  std::optional<BoundExpr> token_end;    // token(pk) < / <= x
  std::vector<ValueList> clustering_eq;  // = / IN on a prefix of the clustering columns
  std::optional<ValueList> multi_eq;     // (c1..ck) = / IN tuples, from the first column
  size_t multi_eq_size = 0;
  std::optional<BoundExpr> range_start;  // on the column after the prefix (in query order)
  std::optional<BoundExpr> range_end;
  bool range_reversed = false;  // the range column is DESC: swap bounds
  std::vector<Filter> filters;  // everything else
  bool has_clustering_restriction() const {
    return !clustering_eq.empty() || multi_eq || range_start || range_end;
  }
};

enum class WhereMode : uint8_t { Select, Update, Delete };

CqlResult<WhereClause> analyze_where(const std::vector<cql::Relation>& relations,
                                     const TableSchema& schema, WhereMode mode,
                                     bool allow_filtering, CompileContext& cc);
CqlResult<Filter> compile_condition(const cql::Condition& c, const TableSchema& schema,
                                    CompileContext& cc);

// Runtime: the serialized partition keys (cartesian product of the IN lists).
CqlResult<std::vector<Bytes>> partition_keys(const WhereClause& w, const TableSchema& schema,
                                             const ExecContext& ctx);
// Runtime: full clustering keys (UPDATE/INSERT) or prefixes (cartesian product).
CqlResult<std::vector<Clustering>> clustering_prefixes(const WhereClause& w,
                                                       const TableSchema& schema,
                                                       const ExecContext& ctx);
// Runtime: the slices selected by the clustering restrictions (empty vector: everything).
CqlResult<std::vector<ClusteringSlice>> clustering_slices(const WhereClause& w,
                                                          const TableSchema& schema,
                                                          const ExecContext& ctx);

// Evaluated filter values (once per request), then matched against column values.
struct BoundFilter {
  const Filter* filter = nullptr;
  std::optional<Bytes> value;  // null: nullopt
  std::vector<Bytes> in;
  std::optional<Bytes> element_key;
};
CqlResult<std::vector<BoundFilter>> bind_filters(const std::vector<Filter>& filters,
                                                 const ExecContext& ctx);
// `cell`: the column's current value (nullopt when null); for multi-cell collections the
// collection bytes.
bool filter_matches(const BoundFilter& f, const std::optional<Bytes>& cell);

// A column's bytes in a read row (key columns from the key, value columns from `values`).
std::optional<Bytes> column_bytes(const ColumnSchema& column, const ResultRow& row,
                                  const std::vector<Bytes>& pk_parts, const ReadResult& result);

// ---------------------------------------------------------------------------------------------
// Plans

class Plan {
 public:
  virtual ~Plan() = default;
  virtual CqlResult<protocol::ResultBody> execute(const ExecContext& ctx) const = 0;

  uint64_t generation = 0;
  std::vector<ColumnSpec> bind_specs;  // one per marker
  std::vector<uint16_t> pk_indexes;
  std::string keyspace;  // for PREPARED metadata (global table spec)
  std::string table;
  protocol::RowsMetadata result_metadata;  // SELECT (and LWT) result columns
  Bytes result_metadata_id;                // metadata_id(result_metadata), computed once
  bool is_select = false;
};

struct TableRef {
  std::shared_ptr<Table> table;
  std::shared_ptr<const TableSchema> schema;
};

// Builds the mutations of an INSERT/UPDATE/DELETE without applying them (for BATCH).
struct PendingWrite {
  std::shared_ptr<Table> table;
  std::shared_ptr<const TableSchema> schema;
  Mutation mutation;
};

// What a conditional statement checks, bound to one request's values.
struct ConditionCheck {
  Bytes partition_key;
  Clustering clustering;  // the row the conditions are on (empty: no clustering columns)
  bool if_exists = false;
  bool if_not_exists = false;
  std::vector<BoundFilter> filters;
};

class ModifyPlan : public Plan {
 public:
  // The statement's writes, at `timestamp` unless it says USING TIMESTAMP.
  virtual CqlResult<std::vector<PendingWrite>> build(const ExecContext& ctx,
                                                     int64_t timestamp) const = 0;
  virtual CqlResult<ConditionCheck> condition(const ExecContext& ctx) const = 0;

  TableRef ref;
  bool has_conditions = false;
  bool counter = false;
  bool if_not_exists = false;
  std::vector<const ColumnSchema*> condition_columns;  // returned when not applied
};

// Runs conditional writes (one statement, or a batch on one partition) through
// Table::compare_and_set and builds the [applied] result.
CqlResult<protocol::ResultBody> execute_conditional(const ExecContext& ctx,
                                                    std::vector<const ModifyPlan*> plans,
                                                    std::vector<ConditionCheck> checks,
                                                    std::vector<PendingWrite> writes);

CqlResult<std::unique_ptr<Plan>> compile_select(const cql::Select& s, CompileContext& cc,
                                                const std::string& session_keyspace);
CqlResult<std::unique_ptr<ModifyPlan>> compile_insert(const cql::Insert& s, CompileContext& cc,
                                                      const std::string& session_keyspace);
CqlResult<std::unique_ptr<ModifyPlan>> compile_update(const cql::Update& s, CompileContext& cc,
                                                      const std::string& session_keyspace);
CqlResult<std::unique_ptr<ModifyPlan>> compile_delete(const cql::Delete& s, CompileContext& cc,
                                                      const std::string& session_keyspace);
CqlResult<std::unique_ptr<Plan>> compile_batch(const cql::Batch& s, CompileContext& cc,
                                               const std::string& session_keyspace);
// A protocol BATCH message: each statement with its own values (per_statement[i]).
CqlResult<protocol::ResultBody> run_protocol_batch(const ExecContext& ctx,
                                                   const std::vector<const ModifyPlan*>& plans,
                                                   const std::vector<ExecContext>& per_statement,
                                                   protocol::BatchType type);
// DDL and USE: executed directly (never prepared into plans that survive schema changes).
CqlResult<std::unique_ptr<Plan>> compile_schema_statement(const cql::Statement& s,
                                                          CompileContext& cc,
                                                          const std::string& session_keyspace);

// Resolves [ks.]table against the session keyspace; errors as Cassandra words them.
CqlResult<TableRef> resolve_table(Services& services, const cql::QualifiedName& name,
                                  const std::string& session_keyspace);
CqlResult<void> check_writable(const std::string& keyspace);

// Applies batched writes: groups by table and partition, applies each.
CqlResult<void> apply_writes(std::vector<PendingWrite>& writes);

// The composite (multi-column) partition key split into components.
std::vector<Bytes> split_partition_key(ByteView key, size_t components);

// MD5 over the result columns (names and types), the v5 result_metadata_id.
Bytes metadata_id(const protocol::RowsMetadata& metadata);

}  // namespace zdm::node::exec
