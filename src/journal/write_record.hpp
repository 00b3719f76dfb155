#pragma once
// WriteRecord: one write owed to a cluster (a secondary copy that failed, timed out or could not
// be sent), as the write journal stores it. The encoding is explicit and versioned (the first
// byte is the format version) so that a journal written by one release is read by the next.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/messages.hpp"

namespace zdm::journal {

enum class RecordKind : uint8_t { Query = 1, Execute = 2, Batch = 3 };
std::string_view record_kind_name(RecordKind kind);  // "QUERY", "EXECUTE", "BATCH"

struct RecordStatement {
  std::string query;      // the CQL text (for a prepared statement: the text it was prepared from)
  bool prepared = false;  // true: prepare `query` on the destination, then execute with values
  Bytes prepared_id;      // the id the client used on the primary (informational, may be empty)
  std::vector<protocol::BoundValue> values;  // positional
  friend bool operator==(const RecordStatement&, const RecordStatement&) = default;
};

struct WriteRecord {
  RecordKind kind = RecordKind::Query;
  std::string cluster;   // "TARGET" or "ORIGIN": the cluster the write is owed to
  std::string keyspace;  // the client session's keyspace (unqualified names resolve in it)
  protocol::Consistency consistency = protocol::Consistency::LocalQuorum;
  std::optional<protocol::Consistency> serial_consistency;
  int64_t timestamp = 0;  // microseconds since epoch: the write time used on the primary
  protocol::BatchType batch_type = protocol::BatchType::Logged;  // kind == Batch
  std::vector<RecordStatement> statements;                       // exactly 1 for Query/Execute
  int64_t created_ms = 0;  // unix ms when the proxy acknowledged the write
  std::string reason;      // why it was journaled / the error when set aside
  friend bool operator==(const WriteRecord&, const WriteRecord&) = default;
};

// Format version written by encode_record (the payload's first byte).
inline constexpr uint8_t kRecordFormatVersion = 1;

// The payload only (no framing).
Bytes encode_record(const WriteRecord& r);
// Appends the payload to `out` (the journal encodes into a reused buffer).
void encode_record_into(const WriteRecord& r, Bytes& out);
// Errors name what is malformed ("statement 2: value 3: ...").
Result<WriteRecord> decode_record(ByteView payload);
// One line for logs and `zdm journal inspect`: kind, cluster, keyspace, timestamp, the query
// (truncated to ~120 characters) and the value count.
std::string describe_record(const WriteRecord& r);

}  // namespace zdm::journal
