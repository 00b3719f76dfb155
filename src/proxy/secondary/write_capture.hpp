#pragma once
// Which writes may be answered after the primary alone (ZDM_SECONDARY_WRITE_MODE=async), and the
// record the secondary's copy is sent (or journaled) as. Pure functions: no sockets, no clock.
//
// A write goes to the secondary in the background only when replaying it later produces exactly
// the cells the primary wrote: INSERT, UPDATE, DELETE and BATCH (logged or unlogged) whose
// statements have no condition (IF ...: LWT needs the secondary's own answer) and do not compute
// from the current value (`c = c + 1` counters, `l = l + [...]` list appends, which would apply
// twice on a replay). Everything else keeps the synchronous path. The write's timestamp is the
// client's, or one the proxy sets before the primary sees the request, so both clusters hold the
// same write time whenever the secondary's copy arrives.

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.hpp"
#include "journal/write_record.hpp"
#include "protocol/frame_header.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/routing/prepared_cache.hpp"

namespace zdm::proxy {

enum class AsyncWriteCheck : uint8_t {
  Eligible,
  NotAWrite,          // not INSERT/UPDATE/DELETE/BATCH
  Conditional,        // IF ...: a lightweight transaction
  ReadsCurrentValue,  // counter or collection arithmetic (c = c + 1, l = l + [...])
  CounterBatch,       // BEGIN COUNTER BATCH / BATCH type COUNTER
  NamedValues,        // values bound by name (the record keeps positions only)
  UnknownStatement,   // an EXECUTE/BATCH id the prepared cache does not know
  CustomPayload,      // no timestamp, and the body carries a custom payload the proxy would drop
  Malformed,          // the body did not decode
};
std::string_view async_write_check_name(AsyncWriteCheck check);

// Whether a statement text may be written in the background (the text rules above).
AsyncWriteCheck check_async_statement(std::string_view cql);

struct CapturedWrite {
  journal::WriteRecord record;
  // The request body to send to the primary instead of the client's, when the proxy set the
  // timestamp (the client's had none).
  std::optional<Bytes> body_with_timestamp;
};

struct CaptureInput {
  const protocol::FrameHeader* header = nullptr;
  ByteView body;              // as it would be sent (after function replacement)
  std::string_view keyspace;  // the session's
  const PreparedCache* prepared = nullptr;
  ClusterType secondary = ClusterType::Target;
  int64_t now_us = 0;  // the timestamp given to a write that has none
  int64_t now_ms = 0;  // created_ms of the record
};

// The record for a QUERY/EXECUTE/BATCH write, or why it must stay synchronous.
struct CaptureResult {
  std::optional<CapturedWrite> write;
  AsyncWriteCheck check = AsyncWriteCheck::Eligible;
};
CaptureResult capture_write(const CaptureInput& input);

}  // namespace zdm::proxy
