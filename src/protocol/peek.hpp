#pragma once
// The proxy's hot path: read the few fields routing needs (query text, prepared id, keyspace,
// consistency, batch children) straight out of a request body, without decoding the whole message
// and without allocating; the same for responses (opcode, error code, result kind); plus the
// rewrites that change lengths (prepared ids for the target).
//
// Inputs are a decoded FrameHeader and the frame's UNCOMPRESSED body (the compression flag in the
// header is ignored). When the header has the custom-payload flag, the body's leading [bytes map]
// is skipped (and copied unchanged by the rewrites). Bytes after the end of a message are
// ignored, as Cassandra ignores them.
//
// LIFETIME: every std::string_view and ByteView in a peek result points into `body` and lives no
// longer than it. Copy what must outlive the frame.
//
// Malformed bodies give Errc::Truncated or Errc::Malformed errors naming the field and offset;
// a frame of another opcode or a response gives Errc::InvalidArgument.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"
#include "protocol/version.hpp"

namespace zdm::protocol {

// Query parameter flags (QUERY and EXECUTE; BATCH uses the subset 0x10, 0x20, 0x40, 0x80, 0x100,
// and since its flags follow the children, its children's values never carry names: Cassandra
// rejects a BATCH with flag 0x40).
namespace query_flags {
inline constexpr uint32_t kValues = 0x01;
inline constexpr uint32_t kSkipMetadata = 0x02;
inline constexpr uint32_t kPageSize = 0x04;
inline constexpr uint32_t kPagingState = 0x08;
inline constexpr uint32_t kSerialConsistency = 0x10;
inline constexpr uint32_t kDefaultTimestamp = 0x20;
inline constexpr uint32_t kNamesForValues = 0x40;
inline constexpr uint32_t kKeyspace = 0x80;                // v5, DSE_V2
inline constexpr uint32_t kNowInSeconds = 0x100;           // v5
inline constexpr uint32_t kPageSizeInBytes = 0x40000000;   // DSE_V1/V2
inline constexpr uint32_t kContinuousPaging = 0x80000000;  // DSE_V1/V2
}  // namespace query_flags

// PREPARE flags (v5, DSE_V2).
inline constexpr uint32_t kPrepareWithKeyspace = 0x01;

// <query_parameters> of QUERY and EXECUTE. Consistencies are the wire [consistency] codes.
struct QueryParamsPeek {
  uint16_t consistency = 0;
  uint32_t flags = 0;  // widened from the [byte] of v3/v4
  uint16_t value_count = 0;
  std::optional<int32_t> page_size;
  std::optional<ByteView> paging_state;  // present but null paging state gives nullopt too
  std::optional<uint16_t> serial_consistency;
  std::optional<int64_t> default_timestamp;  // microseconds
  std::optional<std::string_view> keyspace;  // v5, DSE_V2
  std::optional<int32_t> now_in_seconds;     // v5

  bool has_flag(uint32_t f) const { return (flags & f) != 0; }
};

struct QueryPeek {
  std::string_view query;
  QueryParamsPeek params;
};

struct ExecutePeek {
  ByteView prepared_id;
  std::optional<ByteView> result_metadata_id;  // v5, DSE_V2
  QueryParamsPeek params;
};

struct PreparePeek {
  std::string_view query;
  uint32_t flags = 0;                        // v5, DSE_V2 (0 otherwise)
  std::optional<std::string_view> keyspace;  // v5, DSE_V2
};

// One statement of a BATCH.
struct BatchChildPeek {
  enum class Kind : uint8_t { Query = 0, Prepared = 1 };
  Kind kind = Kind::Query;
  std::string_view query;  // Kind::Query
  ByteView prepared_id;    // Kind::Prepared
  uint16_t value_count = 0;
};

// Iterates the children of a BATCH that peek_batch() has already validated.
class BatchChildren {
 public:
  class Iterator {
   public:
    using value_type = BatchChildPeek;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    const BatchChildPeek& operator*() const { return child_; }
    const BatchChildPeek* operator->() const { return &child_; }
    Iterator& operator++();
    Iterator operator++(int) {
      Iterator copy = *this;
      ++*this;
      return copy;
    }
    bool operator==(const Iterator& other) const { return left_ == other.left_; }

   private:
    friend class BatchChildren;
    Iterator(ByteReader reader, uint16_t left);
    void load();

    ByteReader reader_;
    uint16_t left_ = 0;  // children not yet passed, including the current one
    BatchChildPeek child_;
  };

  BatchChildren() = default;
  BatchChildren(ByteView bytes, uint16_t count) : bytes_(bytes), count_(count) {}
  Iterator begin() const { return Iterator(ByteReader(bytes_), count_); }
  Iterator end() const { return Iterator(); }
  uint16_t size() const { return count_; }

 private:
  ByteView bytes_;
  uint16_t count_ = 0;
};

struct BatchPeek {
  uint8_t batch_type = 0;  // 0 logged, 1 unlogged, 2 counter
  BatchChildren children;
  uint16_t consistency = 0;
  uint32_t flags = 0;
  std::optional<uint16_t> serial_consistency;
  std::optional<int64_t> default_timestamp;
  std::optional<std::string_view> keyspace;  // v5, DSE_V2
  std::optional<int32_t> now_in_seconds;     // v5

  uint16_t child_count() const { return children.size(); }
};

// Event types a REGISTER asks for, as a bit set.
namespace event_types {
inline constexpr uint8_t kTopologyChange = 0x01;
inline constexpr uint8_t kStatusChange = 0x02;
inline constexpr uint8_t kSchemaChange = 0x04;
}  // namespace event_types

struct RegisterPeek {
  uint8_t events = 0;          // event_types bits
  uint16_t count = 0;          // strings in the list
  uint16_t unknown_count = 0;  // strings that name no known event type
};

Result<QueryPeek> peek_query(const FrameHeader& header, ByteView body);
Result<ExecutePeek> peek_execute(const FrameHeader& header, ByteView body);
Result<PreparePeek> peek_prepare(const FrameHeader& header, ByteView body);
// Validates every child (so iterating `children` afterwards cannot fail) and the trailer.
Result<BatchPeek> peek_batch(const FrameHeader& header, ByteView body);
Result<RegisterPeek> peek_register(const FrameHeader& header, ByteView body);

// Any request: the peek for QUERY/EXECUTE/PREPARE/BATCH/REGISTER, monostate for other opcodes
// (whose bodies are not examined).
using RequestPeek =
    std::variant<std::monostate, QueryPeek, ExecutePeek, PreparePeek, BatchPeek, RegisterPeek>;
Result<RequestPeek> peek_request(const FrameHeader& header, ByteView body);

// Shared by readers of frame bodies (the peeks here, the proxy's function rewriter): a reader
// positioned at the message, past the custom payload ([bytes map]) when the header flags one;
// an error prefixed with the opcode and the field it came from; a malformed-body error with the
// offset. Cold: error paths only.
Result<ByteReader> message_reader(const FrameHeader& header, ByteView body);
[[gnu::cold]] tl::unexpected<Error> in_field(Opcode op, std::string_view field, Error e);
[[gnu::cold]] tl::unexpected<Error> malformed(Opcode op, std::string_view what, size_t offset);

// A response, read without decoding the message: the envelope (tracing id, warnings, custom
// payload) is skipped. Only the opcode, an ERROR's code and a RESULT's kind are read.
struct ResponsePeek {
  Opcode opcode = Opcode::Result;
  std::optional<ErrorCode> error;         // ERROR responses (an unknown code: ServerError)
  std::optional<ResultKind> result_kind;  // RESULT responses of a known kind
  ByteView message;                       // the body after the envelope (view into `body`)

  bool failed() const { return error.has_value(); }
  bool is(ResultKind kind) const { return result_kind == kind; }
};
Result<ResponsePeek> peek_response(const FrameHeader& header, ByteView body);

// An EXECUTE body with the prepared id replaced (and, on v5/DSE_V2, the result metadata id when
// `new_result_metadata_id` is given; otherwise it is kept), everything else copied unchanged.
// The body is validated first; the caller must set the header's body length to the new size.
// Fails with Errc::TooLarge for ids over 65535 bytes.
Result<Bytes> replace_prepared_id(const FrameHeader& header, ByteView body, ByteView new_id,
                                  std::optional<ByteView> new_result_metadata_id = std::nullopt);

// Maps an old prepared id to its replacement; nullopt keeps the old id. `context` is passed
// through unchanged. The returned view must stay valid until the rewrite returns.
using PreparedIdMapFn = std::optional<ByteView> (*)(void* context, ByteView old_id);

// An EXECUTE or BATCH body with every prepared id passed through `map` (BATCH: each prepared
// child's id; EXECUTE: its id, with the result metadata id kept). Validates the body first.
Result<Bytes> replace_prepared_ids(const FrameHeader& header, ByteView body, PreparedIdMapFn map,
                                   void* context);

// Convenience over a callable `std::optional<ByteView>(ByteView old_id)`.
template <class F>
Result<Bytes> replace_prepared_ids(const FrameHeader& header, ByteView body, F&& map) {
  using Fn = std::remove_reference_t<F>;
  auto thunk = [](void* ctx, ByteView old_id) -> std::optional<ByteView> {
    return (*static_cast<Fn*>(ctx))(old_id);
  };
  return replace_prepared_ids(header, body, +thunk,
                              const_cast<void*>(static_cast<const void*>(std::addressof(map))));
}

}  // namespace zdm::protocol
