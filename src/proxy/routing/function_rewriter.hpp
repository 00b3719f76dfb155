#pragma once
// ZDM_REPLACE_CQL_FUNCTIONS: the proxy replaces the non-deterministic functions
// `now()` and `uuid()` in writes by values it generates itself, identical for
// ORIGIN and TARGET, so both clusters store byte-identical values (reference
// notes 1.11; the reference only replaces now()).
//
// Scope: INSERT, UPDATE, DELETE and BATCH statements (SELECTs and everything
// else are left alone). A call site is a zero-argument call, name
// case-insensitive, unqualified or qualified with `system.`, whitespace and
// comments allowed inside the parentheses; string literals, quoted identifiers
// and comments are never touched (protocol::find_function_calls).
//
// How each request is handled:
// - QUERY: each call site becomes a literal in the text (a fresh timeuuid per
// now(), a fresh
//   random v4 uuid per uuid()): rewrite_query / rewrite_query_body. Rewrite
//   ONCE and send the same text to both clusters.
// - PREPARE: each call site becomes a bind marker (plan_prepare /
// rewrite_prepare_body); the
//   PrepareRewrite plan says where they are among all markers. Both clusters
//   prepare the rewritten text. The PREPARED response the client sees must hide
//   the inserted markers (rewrite_prepared_result /
//   rewrite_prepared_response_body), so the client binds only its own.
// - EXECUTE: generate_values(plan) once, rewrite_execute_body once, and send
// that body to both
//   clusters (for TARGET, patch its prepared id with
//   protocol::replace_prepared_id afterwards).
// - BATCH: rewrite_batch_body once (text children get literals, prepared
// children whose plan the
//   lookup knows get values inserted), then protocol::replace_prepared_ids for
//   TARGET.
//
// Marker syntax used for the inserted markers: positional `?`, or
// `:zdm__now<i>` /
// `:zdm__uuid<i>` (i = call-site index) when the statement already uses named
// markers. When the call is a function argument (e.g. toTimestamp(now())), the
// marker carries a type hint
// `(timeuuid)?` / `(uuid)?` so overloaded functions still resolve as they did
// with the call.
//
// Errors: malformed request bodies give Errc::Truncated/Malformed (answer
// PROTOCOL_ERROR); an EXECUTE whose value count does not fit the plan gives
// Errc::InvalidArgument (answer Invalid).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "common/timeuuid.hpp"
#include "protocol/cql_lexer.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"

namespace zdm::proxy {

enum class ReplacedFunction : uint8_t { Now, Uuid };
std::string_view replaced_function_name(ReplacedFunction f);  // "now", "uuid"

// A random version-4 uuid from a per-thread xoshiro256** generator seeded from
// the CSPRNG (zdm::random_uuid is a syscall-backed CSPRNG call per uuid: too
// slow per request).
Uuid fast_random_uuid();

// The value for one call site: TimeuuidGenerator::next() for now(),
// fast_random_uuid() for uuid().
Uuid generate_value(ReplacedFunction f, TimeuuidGenerator& timeuuids);

// Whether statements of this kind get their calls replaced (INSERT, UPDATE,
// DELETE, BATCH).
bool is_rewritable_kind(protocol::StatementKind kind);

// Cheap pre-filter: false when the text cannot contain a call site (no
// "now"/"uuid" in any case). A true answer still needs the lexer.
bool may_contain_replaced_call(std::string_view cql);

// QUERY text with each call site replaced by a literal; nullopt when nothing
// changes (not a write or no call site).
std::optional<std::string> rewrite_query(std::string_view cql, TimeuuidGenerator& timeuuids);

// Appended to every rewritten PREPARE text. Prepared ids are a hash of the text, so without it
// the rewrite of "... VALUES (?, now())" would share its id (and cache entry) with a client's own
// "... VALUES (?, ?)", and one of the two would be executed with the other's markers.
inline constexpr std::string_view kRewrittenTextTag = " /* zdm: functions replaced */";

// One bind marker the proxy inserted into a prepared statement.
struct InsertedMarker {
  uint16_t position = 0;  // index among ALL bind markers of the rewritten statement
  ReplacedFunction function = ReplacedFunction::Now;
  std::string name;  // the marker's name when the statement uses named markers,
                     // else empty
  friend bool operator==(const InsertedMarker&, const InsertedMarker&) = default;
};

// The result of rewriting a PREPARE: keep it with the prepared id (origin and
// target).
struct PrepareRewrite {
  std::string query;                     // rewritten text, sent to both clusters
  std::vector<InsertedMarker> inserted;  // in text order, so positions increase
  uint16_t total_markers = 0;            // bind markers in `query`, inserted ones included
  bool named = false;                    // the statement uses named (:name) markers

  // Markers the client binds itself.
  uint16_t client_markers() const { return static_cast<uint16_t>(total_markers - inserted.size()); }
};

// The rewrite of a PREPARE's text, kRewrittenTextTag appended; nullopt when
// nothing changes (not a write, no call site, the text does not lex, or more
// than 65535 markers).
std::optional<PrepareRewrite> plan_prepare(std::string_view cql);

// Hides the inserted markers from a PREPARED result: removes their column specs
// from the variables metadata and renumbers pk_indexes (cleared when a
// partition key component is an inserted marker: the client cannot compute the
// token, so it must not route by it). Fails (Errc::InvalidArgument, result
// untouched) when the metadata has a different number of columns than the plan
// has markers.
Result<void> rewrite_prepared_result(protocol::PreparedResult& result, const PrepareRewrite& plan);

// The same on a RESULT frame body (decoded and re-encoded; a PREPARE response
// is not hot). A body that is not a RESULT Prepared fails with
// Errc::InvalidArgument.
Result<Bytes> rewrite_prepared_response_body(const protocol::FrameHeader& header, ByteView body,
                                             const PrepareRewrite& plan);

// One fresh value per inserted marker, in plan order.
std::vector<Uuid> generate_values(const PrepareRewrite& plan, TimeuuidGenerator& timeuuids);

// An EXECUTE body with `values` (one per plan.inserted, from generate_values)
// inserted: positional values at the plan positions, named values (flag 0x40)
// appended by name. The names are the plan's; when the plan is positional but
// the client sends names, they come from `cluster_metadata` (the cluster's
// unrewritten variables metadata) and the call fails without it. The values
// flag is set when the client sent none. Everything else is copied unchanged.
Result<Bytes> rewrite_execute_body(const protocol::FrameHeader& header, ByteView body,
                                   const PrepareRewrite& plan, std::span<const Uuid> values,
                                   const protocol::PreparedMetadata* cluster_metadata = nullptr);

// A QUERY body with its text rewritten (rewrite_query); nullopt when nothing
// changes.
Result<std::optional<Bytes>> rewrite_query_body(const protocol::FrameHeader& header, ByteView body,
                                                TimeuuidGenerator& timeuuids);
// The same for a statement the caller has classified already (its kind from
// protocol::classify_statement; nullopt: classify here).
Result<std::optional<Bytes>> rewrite_query_body(const protocol::FrameHeader& header, ByteView body,
                                                TimeuuidGenerator& timeuuids,
                                                std::optional<protocol::StatementKind> kind);

// A PREPARE body with its text rewritten (plan_prepare) and the plan; nullopt
// when nothing changes.
struct PrepareBodyRewrite {
  Bytes body;
  PrepareRewrite plan;
};
Result<std::optional<PrepareBodyRewrite>> rewrite_prepare_body(const protocol::FrameHeader& header,
                                                               ByteView body);

// The plan of a prepared statement by its id (as the client sent it), or
// nullptr when the statement has none. The pointer must stay valid until the
// rewrite returns.
using PrepareRewriteLookupFn = const PrepareRewrite* (*)(void* context, ByteView prepared_id);

// A BATCH body with text children rewritten with literals and values inserted
// into prepared children that have a plan; nullopt when nothing changes.
Result<std::optional<Bytes>> rewrite_batch_body(const protocol::FrameHeader& header, ByteView body,
                                                TimeuuidGenerator& timeuuids,
                                                PrepareRewriteLookupFn lookup, void* context);

// Convenience over a callable `const PrepareRewrite*(ByteView prepared_id)`.
template <class F>
Result<std::optional<Bytes>> rewrite_batch_body(const protocol::FrameHeader& header, ByteView body,
                                                TimeuuidGenerator& timeuuids, F&& lookup) {
  using Fn = std::remove_reference_t<F>;
  auto thunk = [](void* ctx, ByteView id) -> const PrepareRewrite* {
    return (*static_cast<Fn*>(ctx))(id);
  };
  return rewrite_batch_body(header, body, timeuuids, +thunk,
                            const_cast<void*>(static_cast<const void*>(std::addressof(lookup))));
}

}  // namespace zdm::proxy
