#pragma once
// Every CQL message of protocol v3, v4, v5, DSE_V1 and DSE_V2, both directions, as owned structs,
// with a strict decoder (frame body -> Message) and an encoder (Message -> frame body or frame).
//
// This is the complete, allocating codec for tools, tests, the embedded node and the cold paths of
// the proxy. The proxy's hot path uses peek.hpp instead and never decodes whole messages.
//
// Decoding is strict: flag bits the version does not define, trailing bytes after a body, counts
// larger than the bytes left, unknown enum values: all give an error (Truncated, Malformed or
// Unsupported) whose message names the message kind, the version and the byte offset. Nothing
// driven by input lengths is allocated before the input is known to be long enough.
//
// Encoding never fails: optional fields that are present set their flag. Fields a version does
// not have are not written (e.g. a keyspace in a v4 QUERY); `validate_for_version` reports them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/data_type.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/version.hpp"

namespace zdm::protocol {

// ---------------------------------------------------------------------------------------------
// Enumerations with their wire names

enum class Consistency : uint16_t {
  Any = 0x0000,
  One = 0x0001,
  Two = 0x0002,
  Three = 0x0003,
  Quorum = 0x0004,
  All = 0x0005,
  LocalQuorum = 0x0006,
  EachQuorum = 0x0007,
  Serial = 0x0008,
  LocalSerial = 0x0009,
  LocalOne = 0x000A,
};
std::string_view consistency_name(Consistency c);  // "LOCAL_QUORUM"
std::optional<Consistency> consistency_from_name(std::string_view name);
std::optional<Consistency> consistency_from_code(uint16_t code);

enum class ErrorCode : int32_t {
  ServerError = 0x0000,
  ProtocolError = 0x000A,
  BadCredentials = 0x0100,
  Unavailable = 0x1000,
  Overloaded = 0x1001,
  IsBootstrapping = 0x1002,
  TruncateError = 0x1003,
  WriteTimeout = 0x1100,
  ReadTimeout = 0x1200,
  ReadFailure = 0x1300,
  FunctionFailure = 0x1400,
  WriteFailure = 0x1500,
  CdcWriteFailure = 0x1600,
  CasWriteUnknown = 0x1700,
  SyntaxError = 0x2000,
  Unauthorized = 0x2100,
  Invalid = 0x2200,
  ConfigError = 0x2300,
  AlreadyExists = 0x2400,
  Unprepared = 0x2500,
  ClientWriteFailure = 0x8000,  // DSE only; no extra body
};
std::string_view error_code_name(ErrorCode code);  // "WRITE_TIMEOUT"
std::optional<ErrorCode> error_code_from_int(int32_t code);

enum class WriteType : uint8_t { Simple, Batch, UnloggedBatch, Counter, BatchLog, Cas, View, Cdc };
std::string_view write_type_name(WriteType t);  // "UNLOGGED_BATCH", as on the wire
std::optional<WriteType> write_type_from_name(std::string_view name);

enum class SchemaChangeType : uint8_t { Created, Updated, Dropped };
std::string_view schema_change_type_name(SchemaChangeType t);  // "CREATED"
std::optional<SchemaChangeType> schema_change_type_from_name(std::string_view name);

enum class SchemaChangeTarget : uint8_t { Keyspace, Table, Type, Function, Aggregate };
std::string_view schema_change_target_name(SchemaChangeTarget t);  // "AGGREGATE"
std::optional<SchemaChangeTarget> schema_change_target_from_name(std::string_view name);

enum class TopologyChangeType : uint8_t { NewNode, RemovedNode, MovedNode /* v3 only */ };
std::string_view topology_change_type_name(TopologyChangeType t);
enum class StatusChangeType : uint8_t { Up, Down };
std::string_view status_change_type_name(StatusChangeType t);

enum class BatchType : uint8_t { Logged = 0, Unlogged = 1, Counter = 2 };
std::string_view batch_type_name(BatchType t);  // "LOGGED"

enum class ResultKind : int32_t {
  Void = 0x0001,
  Rows = 0x0002,
  SetKeyspace = 0x0003,
  Prepared = 0x0004,
  SchemaChange = 0x0005,
};

// DSE REVISE_REQUEST revision types.
enum class RevisionType : int32_t { CancelContinuousPaging = 1, MoreContinuousPages = 2 };

// ---------------------------------------------------------------------------------------------
// Shared pieces

using StringMap = std::vector<std::pair<std::string, std::string>>;  // wire order kept
using StringMultimap = std::vector<std::pair<std::string, std::vector<std::string>>>;
using CustomPayload = std::vector<std::pair<std::string, std::optional<Bytes>>>;

// A bound [value]: bytes, null, or (v4+) not set.
struct BoundValue {
  ValueView::Kind kind = ValueView::Kind::Null;
  Bytes bytes;  // Set only

  static BoundValue set(Bytes b) { return {ValueView::Kind::Set, std::move(b)}; }
  static BoundValue null() { return {ValueView::Kind::Null, {}}; }
  static BoundValue unset() { return {ValueView::Kind::Unset, {}}; }
  friend bool operator==(const BoundValue&, const BoundValue&) = default;
};

// An [inet]: 4 or 16 address bytes and a port.
struct Inet {
  Bytes address;
  int32_t port = 0;
  friend bool operator==(const Inet&, const Inet&) = default;
};

// DSE continuous paging options (query flag 0x80000000).
struct ContinuousPagingOptions {
  int32_t max_pages = 0;
  int32_t max_pages_per_second = 0;
  std::optional<int32_t> next_pages;  // DSE_V2 only (present iff version is DSE_V2)
  friend bool operator==(const ContinuousPagingOptions&, const ContinuousPagingOptions&) = default;
};

// <query_parameters> of QUERY and EXECUTE. Each optional field, when present, sets its flag.
struct QueryParameters {
  Consistency consistency = Consistency::One;
  std::optional<std::vector<BoundValue>> values;  // flag 0x01 (may be present and empty)
  bool named_values = false;                      // flag 0x40; names parallel to values
  std::vector<std::string> value_names;
  bool skip_metadata = false;                                // flag 0x02
  std::optional<int32_t> page_size;                          // flag 0x04
  std::optional<Bytes> paging_state;                         // flag 0x08
  std::optional<Consistency> serial_consistency;             // flag 0x10
  std::optional<int64_t> default_timestamp;                  // flag 0x20
  std::optional<std::string> keyspace;                       // flag 0x80: v5, DSE_V2
  std::optional<int32_t> now_in_seconds;                     // flag 0x100: v5
  bool page_size_in_bytes = false;                           // flag 0x40000000: DSE_V1/V2
  std::optional<ContinuousPagingOptions> continuous_paging;  // flag 0x80000000: DSE_V1/V2
  friend bool operator==(const QueryParameters&, const QueryParameters&) = default;
};

// A column of result or bind metadata.
struct ColumnSpec {
  std::string keyspace;
  std::string table;
  std::string name;
  DataType type;
  friend bool operator==(const ColumnSpec&, const ColumnSpec&) = default;
};

// <metadata> of a Rows result (and <result_metadata> of a Prepared result).
struct RowsMetadata {
  // Global_tables_spec (0x0001): one keyspace/table pair for all columns; the columns' own
  // keyspace/table are filled from it on decode and ignored on encode.
  bool global_table_spec = false;
  std::string global_keyspace;
  std::string global_table;
  int32_t column_count = 0;                       // equals columns.size() unless no_metadata
  std::optional<Bytes> paging_state;              // Has_more_pages (0x0002)
  bool no_metadata = false;                       // No_metadata (0x0004): no column specs
  std::optional<Bytes> new_metadata_id;           // Metadata_changed (0x0008): v5, DSE_V2
  std::optional<int32_t> continuous_page_number;  // 0x40000000: DSE_V1/V2
  bool last_continuous_page = false;              // 0x80000000: DSE_V1/V2
  std::vector<ColumnSpec> columns;
  friend bool operator==(const RowsMetadata&, const RowsMetadata&) = default;
};

// Bind-marker metadata of a Prepared result.
struct PreparedMetadata {
  bool global_table_spec = false;
  std::string global_keyspace;
  std::string global_table;
  std::vector<uint16_t> pk_indexes;  // v4+
  std::vector<ColumnSpec> columns;
  friend bool operator==(const PreparedMetadata&, const PreparedMetadata&) = default;
};

// The body of a SCHEMA_CHANGE event and of a Schema_change result.
struct SchemaChange {
  SchemaChangeType change = SchemaChangeType::Created;
  SchemaChangeTarget target = SchemaChangeTarget::Keyspace;
  std::string keyspace;
  std::string name;                         // all targets but KEYSPACE
  std::vector<std::string> argument_types;  // FUNCTION and AGGREGATE (v4+)
  friend bool operator==(const SchemaChange&, const SchemaChange&) = default;
};

// ---------------------------------------------------------------------------------------------
// Requests

struct StartupMessage {
  StringMap options;  // CQL_VERSION, COMPRESSION, DRIVER_NAME, ...
  friend bool operator==(const StartupMessage&, const StartupMessage&) = default;
};

struct OptionsMessage {
  friend bool operator==(const OptionsMessage&, const OptionsMessage&) = default;
};

struct QueryMessage {
  std::string query;
  QueryParameters parameters;
  friend bool operator==(const QueryMessage&, const QueryMessage&) = default;
};

struct PrepareMessage {
  std::string query;
  std::optional<std::string> keyspace;  // v5, DSE_V2 (PREPARE flag 0x01)
  friend bool operator==(const PrepareMessage&, const PrepareMessage&) = default;
};

struct ExecuteMessage {
  Bytes id;
  Bytes result_metadata_id;  // v5, DSE_V2 only
  QueryParameters parameters;
  friend bool operator==(const ExecuteMessage&, const ExecuteMessage&) = default;
};

struct BatchStatement {
  enum class Kind : uint8_t { Query = 0, Prepared = 1 };
  Kind kind = Kind::Query;
  std::string query;  // Kind::Query
  Bytes id;           // Kind::Prepared
  std::vector<BoundValue> values;
  friend bool operator==(const BatchStatement&, const BatchStatement&) = default;
};

struct BatchMessage {
  BatchType type = BatchType::Logged;
  std::vector<BatchStatement> statements;
  Consistency consistency = Consistency::One;
  // Flag 0x40 (names for values) is rejected as Unsupported: the spec itself says it cannot be
  // implemented (CASSANDRA-10246), since the flags come after the values they would describe.
  std::optional<Consistency> serial_consistency;
  std::optional<int64_t> default_timestamp;
  std::optional<std::string> keyspace;    // v5, DSE_V2
  std::optional<int32_t> now_in_seconds;  // v5
  friend bool operator==(const BatchMessage&, const BatchMessage&) = default;
};

struct RegisterMessage {
  std::vector<std::string> event_types;  // "TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"
  friend bool operator==(const RegisterMessage&, const RegisterMessage&) = default;
};

struct AuthResponseMessage {
  std::optional<Bytes> token;
  friend bool operator==(const AuthResponseMessage&, const AuthResponseMessage&) = default;
};

// DSE_V1/V2 REVISE_REQUEST (opcode 0xFF): cancel a continuous paging session or, in DSE_V2, ask
// for more pages.
struct ReviseRequestMessage {
  RevisionType revision = RevisionType::CancelContinuousPaging;
  int32_t target_stream = 0;          // stream id of the continuous paging request
  std::optional<int32_t> next_pages;  // MoreContinuousPages only (DSE_V2)
  friend bool operator==(const ReviseRequestMessage&, const ReviseRequestMessage&) = default;
};

// ---------------------------------------------------------------------------------------------
// Responses

struct UnavailableInfo {
  Consistency consistency = Consistency::One;
  int32_t required = 0;
  int32_t alive = 0;
  friend bool operator==(const UnavailableInfo&, const UnavailableInfo&) = default;
};

struct WriteTimeoutInfo {
  Consistency consistency = Consistency::One;
  int32_t received = 0;
  int32_t block_for = 0;
  WriteType write_type = WriteType::Simple;
  std::optional<uint16_t> contentions;  // v5 and write_type CAS only (present iff so)
  friend bool operator==(const WriteTimeoutInfo&, const WriteTimeoutInfo&) = default;
};

struct ReadTimeoutInfo {
  Consistency consistency = Consistency::One;
  int32_t received = 0;
  int32_t block_for = 0;
  bool data_present = false;
  friend bool operator==(const ReadTimeoutInfo&, const ReadTimeoutInfo&) = default;
};

// One entry of the v5 <reasonmap>: replica address and failure code.
struct FailureReason {
  Bytes endpoint;  // [inetaddr]: 4 or 16 bytes
  uint16_t code = 0;
  friend bool operator==(const FailureReason&, const FailureReason&) = default;
};

struct ReadFailureInfo {
  Consistency consistency = Consistency::One;
  int32_t received = 0;
  int32_t block_for = 0;
  int32_t num_failures = 0;            // v3/v4 on the wire; v5: reasons.size() after decode
  std::vector<FailureReason> reasons;  // v5 (uses_error_code_map)
  bool data_present = false;
  friend bool operator==(const ReadFailureInfo&, const ReadFailureInfo&) = default;
};

struct WriteFailureInfo {
  Consistency consistency = Consistency::One;
  int32_t received = 0;
  int32_t block_for = 0;
  int32_t num_failures = 0;            // as in ReadFailureInfo
  std::vector<FailureReason> reasons;  // v5
  WriteType write_type = WriteType::Simple;
  friend bool operator==(const WriteFailureInfo&, const WriteFailureInfo&) = default;
};

struct FunctionFailureInfo {
  std::string keyspace;
  std::string function;
  std::vector<std::string> arg_types;
  friend bool operator==(const FunctionFailureInfo&, const FunctionFailureInfo&) = default;
};

struct AlreadyExistsInfo {
  std::string keyspace;
  std::string table;  // empty for a keyspace
  friend bool operator==(const AlreadyExistsInfo&, const AlreadyExistsInfo&) = default;
};

struct UnpreparedInfo {
  Bytes id;
  friend bool operator==(const UnpreparedInfo&, const UnpreparedInfo&) = default;
};

struct CasWriteUnknownInfo {
  Consistency consistency = Consistency::One;
  int32_t received = 0;
  int32_t block_for = 0;
  friend bool operator==(const CasWriteUnknownInfo&, const CasWriteUnknownInfo&) = default;
};

// The extra body of an ERROR; monostate for codes without one. The encoder writes the extra body
// the code calls for, from the matching alternative (or from default values if it does not match).
using ErrorDetail = std::variant<std::monostate, UnavailableInfo, WriteTimeoutInfo, ReadTimeoutInfo,
                                 ReadFailureInfo, FunctionFailureInfo, WriteFailureInfo,
                                 AlreadyExistsInfo, UnpreparedInfo, CasWriteUnknownInfo>;

struct ErrorMessage {
  ErrorCode code = ErrorCode::ServerError;
  std::string message;
  ErrorDetail detail;
  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

struct ReadyMessage {
  friend bool operator==(const ReadyMessage&, const ReadyMessage&) = default;
};

struct AuthenticateMessage {
  std::string authenticator;  // IAuthenticator class name
  friend bool operator==(const AuthenticateMessage&, const AuthenticateMessage&) = default;
};

struct SupportedMessage {
  StringMultimap options;
  friend bool operator==(const SupportedMessage&, const SupportedMessage&) = default;
};

struct VoidResult {
  friend bool operator==(const VoidResult&, const VoidResult&) = default;
};

// Rows as raw cells; nullopt is a null cell. Value decoding lives in value.hpp.
using Row = std::vector<std::optional<Bytes>>;

struct RowsResult {
  RowsMetadata metadata;
  std::vector<Row> rows;  // each row has metadata.column_count cells
  friend bool operator==(const RowsResult&, const RowsResult&) = default;
};

struct SetKeyspaceResult {
  std::string keyspace;
  friend bool operator==(const SetKeyspaceResult&, const SetKeyspaceResult&) = default;
};

struct PreparedResult {
  Bytes id;
  Bytes result_metadata_id;  // v5, DSE_V2 only
  PreparedMetadata metadata;
  RowsMetadata result_metadata;
  friend bool operator==(const PreparedResult&, const PreparedResult&) = default;
};

struct SchemaChangeResult {
  SchemaChange change;
  friend bool operator==(const SchemaChangeResult&, const SchemaChangeResult&) = default;
};

using ResultBody =
    std::variant<VoidResult, RowsResult, SetKeyspaceResult, PreparedResult, SchemaChangeResult>;

struct ResultMessage {
  ResultBody result;
  ResultKind kind() const { return static_cast<ResultKind>(result.index() + 1); }
  friend bool operator==(const ResultMessage&, const ResultMessage&) = default;
};

struct TopologyChangeEvent {
  TopologyChangeType change = TopologyChangeType::NewNode;
  Inet address;
  friend bool operator==(const TopologyChangeEvent&, const TopologyChangeEvent&) = default;
};

struct StatusChangeEvent {
  StatusChangeType change = StatusChangeType::Up;
  Inet address;
  friend bool operator==(const StatusChangeEvent&, const StatusChangeEvent&) = default;
};

struct SchemaChangeEvent {
  SchemaChange change;
  friend bool operator==(const SchemaChangeEvent&, const SchemaChangeEvent&) = default;
};

struct EventMessage {
  std::variant<TopologyChangeEvent, StatusChangeEvent, SchemaChangeEvent> event;
  friend bool operator==(const EventMessage&, const EventMessage&) = default;
};

struct AuthChallengeMessage {
  std::optional<Bytes> token;
  friend bool operator==(const AuthChallengeMessage&, const AuthChallengeMessage&) = default;
};

struct AuthSuccessMessage {
  std::optional<Bytes> token;
  friend bool operator==(const AuthSuccessMessage&, const AuthSuccessMessage&) = default;
};

// ---------------------------------------------------------------------------------------------
// The message sum type and its envelope

using RequestBody =
    std::variant<StartupMessage, OptionsMessage, QueryMessage, PrepareMessage, ExecuteMessage,
                 BatchMessage, RegisterMessage, AuthResponseMessage, ReviseRequestMessage>;
using ResponseBody =
    std::variant<ErrorMessage, ReadyMessage, AuthenticateMessage, SupportedMessage, ResultMessage,
                 EventMessage, AuthChallengeMessage, AuthSuccessMessage>;

// What precedes the message proper in a body: [<tracing_id>][<warnings>][<custom_payload>].
// Each part's presence is a header flag; the encoder derives the flags from these fields.
struct Envelope {
  // Tracing flag (0x02). In a request it asks for tracing and adds nothing to the body; in a
  // response the body starts with the 16-byte tracing session id.
  bool tracing = false;
  Uuid tracing_id{};                                 // responses only
  std::optional<std::vector<std::string>> warnings;  // flag 0x08, responses, v4+
  std::optional<CustomPayload> custom_payload;       // flag 0x04, v4+
  bool use_beta = false;                             // flag 0x10
  friend bool operator==(const Envelope&, const Envelope&) = default;
};

struct Message {
  ProtocolVersion version = ProtocolVersion::V4;
  StreamId stream;
  Envelope envelope;
  std::variant<RequestBody, ResponseBody> body;

  Direction direction() const {
    return body.index() == 0 ? Direction::Request : Direction::Response;
  }
  Opcode opcode() const;
  friend bool operator==(const Message&, const Message&) = default;
};

Message make_request(ProtocolVersion version, StreamId stream, RequestBody body);
Message make_response(ProtocolVersion version, StreamId stream, ResponseBody body);

// Decodes a whole (already decompressed) frame body: envelope, then the message the header's
// opcode names, in the header's version and direction. The compression flag is ignored (the body
// is already decompressed). Trailing bytes after the message are an error.
Result<Message> decode_message(const FrameHeader& header, ByteView body);

// The header flags the envelope implies (tracing, warning, custom payload, beta).
uint8_t envelope_flags(const Message& message);

// The frame body: envelope parts, then the message in message.version.
Bytes encode_message(const Message& message);
void encode_message_to(const Message& message, Bytes& out);

// A whole uncompressed frame: header (flags from the envelope, body length) plus body.
Bytes encode_frame(const Message& message);

// Reports fields the message's version cannot carry (e.g. keyspace in a v4 QUERY, unset values
// in v3, next_pages outside DSE_V2), which the encoder would drop or could not express.
Result<void> validate_for_version(const Message& message);

// One to a few lines for humans: `QUERY "SELECT ..." consistency=ONE page_size=5000 values=2`.
std::string describe(const Message& message);

}  // namespace zdm::protocol
