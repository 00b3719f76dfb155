#include "proxy/routing/function_rewriter.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "protocol/peek.hpp"

namespace zdm::proxy {

using protocol::CqlLexer;
using protocol::CqlToken;
using protocol::CqlTokenKind;
using protocol::FrameHeader;
using protocol::Opcode;

namespace {

constexpr std::array<std::string_view, 2> kFunctionNames = {"now", "uuid"};
constexpr size_t kUuidTextSize = 36;
// Bounds the bracket stack on untrusted text; deeper nesting is not valid CQL
// anyway.
constexpr size_t kMaxBracketDepth = 256;

ReplacedFunction function_of(std::string_view matched) {
  return matched == "now" ? ReplacedFunction::Now : ReplacedFunction::Uuid;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// --- per-thread random v4 uuids
// -----------------------------------------------------------------

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

struct Xoshiro256 {
  std::array<uint64_t, 4> s{};

  Xoshiro256() {
    // Seeded from the CSPRNG once per thread; an all-zero state is impossible
    // in practice but would be a fixed point, so guard it.
    const Uuid a = random_uuid();
    const Uuid b = random_uuid();
    std::memcpy(&s[0], a.data(), 16);
    std::memcpy(&s[2], b.data(), 16);
    if ((s[0] | s[1] | s[2] | s[3]) == 0) s[0] = 0x9E3779B97F4A7C15ULL;
  }

  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

// --- statement scanning
// ---------------------------------------------------------------------

// A call site found in a statement, with what the PREPARE rewrite needs to know
// about it.
struct CallSite {
  size_t begin = 0;
  size_t end = 0;
  ReplacedFunction function = ReplacedFunction::Now;
  bool function_argument = false;  // directly an argument of a function call
  uint16_t markers_before = 0;     // client markers before the call site
};

// Keywords that may precede '(' without making it a function call.
bool is_paren_keyword(const CqlToken& t) {
  static constexpr std::array<std::string_view, 8> kKeywords = {
      "values", "in", "where", "and", "or", "if", "set", "contains"};
  for (std::string_view k : kKeywords) {
    if (t.is_keyword(k)) return true;
  }
  return false;
}

struct Bracket {
  char open = '(';
  bool function = false;        // '(' of a function call
  bool separator_seen = false;  // '{': the current entry's ':' was passed
};

// Scans the statement's bind markers and annotates `calls` (from
// find_function_calls, in text order). Returns false when the text does not lex
// or has too many markers.
bool scan_markers(std::string_view cql, std::vector<CallSite>& calls, uint16_t& markers,
                  bool& named) {
  std::vector<Bracket> stack;
  CqlLexer lexer(cql);
  CqlToken prev;
  size_t next_call = 0;
  uint32_t count = 0;
  named = false;
  for (CqlToken t = lexer.next(); t.kind != CqlTokenKind::End; t = lexer.next()) {
    if (t.kind == CqlTokenKind::Error) return false;
    if (next_call < calls.size() && t.offset == calls[next_call].begin) {
      CallSite& call = calls[next_call];
      call.markers_before = static_cast<uint16_t>(count);
      call.function_argument = !stack.empty() && stack.back().open == '(' &&
                               stack.back().function &&
                               (prev.is_symbol("(") || prev.is_symbol(","));
      // Skip the call's own tokens; they hold no markers.
      while (lexer.position() < call.end) {
        const CqlToken skipped = lexer.next();
        if (skipped.kind == CqlTokenKind::End) break;
        prev = skipped;
      }
      ++next_call;
      continue;
    }
    if (t.kind == CqlTokenKind::Symbol) {
      const char c = t.text[0];
      if (c == '?') {
        ++count;
      } else if (c == ':') {
        const bool map_separator = !stack.empty() && stack.back().open == '{' &&
                                   !stack.back().separator_seen && !prev.is_symbol("{") &&
                                   !prev.is_symbol(",");
        if (map_separator) {
          stack.back().separator_seen = true;
        } else {
          // A named marker: ':' then its (possibly quoted) name. A ':' before a
          // call site is no marker (a separator in a literal this scan
          // misjudged): leave the call to be found.
          CqlLexer ahead = lexer;
          const CqlToken name = ahead.next();
          if (name.kind != CqlTokenKind::Identifier &&
              name.kind != CqlTokenKind::QuotedIdentifier) {
            return false;
          }
          if (next_call >= calls.size() || name.offset != calls[next_call].begin) {
            lexer = ahead;
            ++count;
            named = true;
            prev = name;
            continue;
          }
        }
      } else if (c == '(' || c == '[' || c == '{') {
        if (stack.size() >= kMaxBracketDepth) return false;
        Bracket b;
        b.open = c;
        b.function =
            c == '(' && ((prev.kind == CqlTokenKind::Identifier && !is_paren_keyword(prev)) ||
                         prev.kind == CqlTokenKind::QuotedIdentifier);
        stack.push_back(b);
      } else if (c == ')' || c == ']' || c == '}') {
        if (!stack.empty()) stack.pop_back();
      } else if (c == ',') {
        if (!stack.empty() && stack.back().open == '{') stack.back().separator_seen = false;
      }
    }
    prev = t;
  }
  if (next_call != calls.size()) return false;  // a call site was not met: do not guess
  const uint32_t total = count + static_cast<uint32_t>(calls.size());
  if (total > 0xFFFF) return false;
  markers = static_cast<uint16_t>(count);
  return true;
}

// Call sites of a write statement; empty when there is nothing to replace.
// `kind`: the statement's kind when the caller classified it already.
std::vector<CallSite> find_call_sites(std::string_view cql,
                                      std::optional<protocol::StatementKind> kind = std::nullopt) {
  std::vector<CallSite> out;
  if (!may_contain_replaced_call(cql)) return out;
  if (!is_rewritable_kind(kind ? *kind : protocol::classify_statement(cql).kind)) return out;
  const auto ranges = protocol::find_function_calls(
      cql, std::span<const std::string_view>(kFunctionNames.data(), kFunctionNames.size()));
  out.reserve(ranges.size());
  for (const auto& r : ranges) {
    CallSite site;
    site.begin = r.begin;
    site.end = r.end;
    site.function = function_of(r.name);
    out.push_back(site);
  }
  return out;
}

// uuid_to_string without its own string: QUERY rewriting appends the literal in
// place.
void append_uuid_text(std::string& out, const Uuid& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t at = out.size();
  out.resize(at + kUuidTextSize);
  char* p = out.data() + at;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    *p++ = kHex[u[i] >> 4];
    *p++ = kHex[u[i] & 0x0F];
  }
}

std::optional<std::string> rewrite_text_with_literals(
    std::string_view cql, TimeuuidGenerator& timeuuids,
    std::optional<protocol::StatementKind> kind = std::nullopt) {
  const std::vector<CallSite> calls = find_call_sites(cql, kind);
  if (calls.empty()) return std::nullopt;
  std::string out;
  out.reserve(cql.size() + calls.size() * kUuidTextSize);
  size_t copied = 0;
  for (const CallSite& call : calls) {
    out.append(cql.substr(copied, call.begin - copied));
    append_uuid_text(out, generate_value(call.function, timeuuids));
    copied = call.end;
  }
  out.append(cql.substr(copied));
  return out;
}

// --- frame bodies
// ---------------------------------------------------------------------------

using protocol::in_field;
using protocol::malformed;

[[gnu::cold]] tl::unexpected<Error> wrong_frame(const FrameHeader& header, Opcode expected) {
  return fail(
      Errc::InvalidArgument,
      fmt::format("function rewrite of {} was given a {} {} frame", protocol::opcode_name(expected),
                  header.direction == protocol::Direction::Request ? "request" : "response",
                  protocol::opcode_name(header.opcode)));
}

Result<void> check_frame(const FrameHeader& header, Opcode expected, protocol::Direction dir) {
  if (header.opcode != expected || header.direction != dir) return wrong_frame(header, expected);
  return {};
}

// Reads one [value] (after its optional [string] name) and returns the raw
// bytes it spans.
Result<ByteView> read_value_span(ByteReader& reader, ByteView body, bool named,
                                 protocol::ProtocolVersion version, Opcode op, uint16_t index) {
  const size_t begin = reader.position();
  if (named) ZDM_CHECK_OR(reader.read_string(), in_field(op, "value name", std::move(try_error)));
  const size_t at = reader.position();
  ZDM_TRY_OR(auto length, reader.read_i32(), in_field(op, "value length", std::move(try_error)));
  if (length >= 0) {
    ZDM_CHECK_OR(reader.skip(static_cast<size_t>(length)),
                 in_field(op, "value bytes", std::move(try_error)));
  } else if (length == -2 && !protocol::supports_unset_values(version)) {
    return malformed(op,
                     fmt::format("value {} is 'not set' (-2), which {} does not support", index,
                                 protocol::protocol_version_name(version)),
                     at);
  } else if (length != -1 && length != -2) {
    return malformed(op, fmt::format("value {} has invalid length {}", index, length), at);
  }
  return body.subspan(begin, reader.position() - begin);
}

void write_uuid_value(ByteWriter& w, const Uuid& u) {
  w.write_i32(16);
  w.write_uuid(u);
}

void write_flags(ByteWriter& w, protocol::ProtocolVersion version, uint32_t flags) {
  if (protocol::uses_int_query_flags(version)) {
    w.write_u32(flags);
  } else {
    w.write_u8(static_cast<uint8_t>(flags));
  }
}

Result<uint32_t> read_flags(ByteReader& reader, protocol::ProtocolVersion version, Opcode op) {
  if (protocol::uses_int_query_flags(version)) {
    ZDM_TRY_OR(auto flags, reader.read_u32(), in_field(op, "flags", std::move(try_error)));
    return flags;
  }
  ZDM_TRY_OR(auto flags, reader.read_u8(), in_field(op, "flags", std::move(try_error)));
  return uint32_t{flags};
}

void append(Bytes& out, ByteView bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

[[gnu::cold]] tl::unexpected<Error> value_count_mismatch(Opcode op, size_t sent,
                                                         const PrepareRewrite& plan) {
  return fail(
      Errc::InvalidArgument,
      fmt::format("{} binds {} values but the prepared statement has {} bind markers "
                  "(not counting the {} the proxy inserted for now()/uuid())",
                  protocol::opcode_name(op), sent, plan.client_markers(), plan.inserted.size()));
}

// Writes `count` positional client values (read from `reader`) with the plan's
// values inserted at their positions.
Result<void> merge_positional(ByteReader& reader, ByteView body, uint16_t count,
                              protocol::ProtocolVersion version, Opcode op,
                              const PrepareRewrite& plan, std::span<const Uuid> values,
                              ByteWriter& w) {
  if (count != plan.client_markers()) return value_count_mismatch(op, count, plan);
  size_t next_inserted = 0;
  uint16_t client_index = 0;
  for (uint16_t position = 0; position < plan.total_markers; ++position) {
    if (next_inserted < plan.inserted.size() && plan.inserted[next_inserted].position == position) {
      write_uuid_value(w, values[next_inserted]);
      ++next_inserted;
      continue;
    }
    auto value = read_value_span(reader, body, false, version, op, client_index++);
    if (!value) return tl::unexpected(std::move(value.error()));
    w.write_raw(*value);
  }
  return {};
}

}  // namespace

// --- public API
// -------------------------------------------------------------------------------

std::string_view replaced_function_name(ReplacedFunction f) {
  return f == ReplacedFunction::Now ? "now" : "uuid";
}

Uuid fast_random_uuid() {
  thread_local Xoshiro256 rng;
  const uint64_t hi = rng.next();
  const uint64_t lo = rng.next();
  Uuid u;
  for (int i = 0; i < 8; ++i) {
    u[static_cast<size_t>(i)] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    u[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  u[6] = static_cast<uint8_t>((u[6] & 0x0F) | 0x40);  // version 4
  u[8] = static_cast<uint8_t>((u[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return u;
}

Uuid generate_value(ReplacedFunction f, TimeuuidGenerator& timeuuids) {
  return f == ReplacedFunction::Now ? timeuuids.next() : fast_random_uuid();
}

bool is_rewritable_kind(protocol::StatementKind kind) {
  using protocol::StatementKind;
  return kind == StatementKind::Insert || kind == StatementKind::Update ||
         kind == StatementKind::Delete || kind == StatementKind::Batch;
}

bool may_contain_replaced_call(std::string_view cql) {
  // Look for "now" / "uuid" ignoring case; 'o' and 'u' are the selective
  // anchors.
  const size_t n = cql.size();
  for (size_t i = 1; i + 1 < n; ++i) {
    const char c = lower(cql[i]);
    if (c == 'o') {
      if (lower(cql[i - 1]) == 'n' && lower(cql[i + 1]) == 'w') return true;
    } else if (c == 'u') {
      if (lower(cql[i - 1]) == 'u' && i + 2 < n && lower(cql[i + 1]) == 'i' &&
          lower(cql[i + 2]) == 'd') {
        return true;
      }
    }
  }
  return false;
}

std::optional<std::string> rewrite_query(std::string_view cql, TimeuuidGenerator& timeuuids) {
  return rewrite_text_with_literals(cql, timeuuids);
}

std::optional<PrepareRewrite> plan_prepare(std::string_view cql) {
  std::vector<CallSite> calls = find_call_sites(cql);
  if (calls.empty()) return std::nullopt;
  uint16_t client_markers = 0;
  bool named = false;
  if (!scan_markers(cql, calls, client_markers, named)) return std::nullopt;

  PrepareRewrite plan;
  plan.named = named;
  plan.total_markers = static_cast<uint16_t>(client_markers + calls.size());
  plan.query.reserve(cql.size() + calls.size() * 24 + kRewrittenTextTag.size());
  size_t copied = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    const CallSite& call = calls[i];
    plan.query.append(cql.substr(copied, call.begin - copied));
    if (call.function_argument) {
      plan.query.append(call.function == ReplacedFunction::Now ? "(timeuuid)" : "(uuid)");
    }
    InsertedMarker marker;
    marker.position = static_cast<uint16_t>(call.markers_before + i);
    marker.function = call.function;
    if (named) {
      marker.name = fmt::format("zdm__{}{}", replaced_function_name(call.function), i);
      plan.query.push_back(':');
      plan.query.append(marker.name);
    } else {
      plan.query.push_back('?');
    }
    plan.inserted.push_back(std::move(marker));
    copied = call.end;
  }
  plan.query.append(cql.substr(copied));
  plan.query.append(kRewrittenTextTag);
  return plan;
}

Result<void> rewrite_prepared_result(protocol::PreparedResult& result, const PrepareRewrite& plan) {
  auto& columns = result.metadata.columns;
  if (columns.size() != plan.total_markers) {
    return fail(Errc::InvalidArgument,
                fmt::format("PREPARED result has {} bind variables but the rewritten statement "
                            "has {} markers; cannot hide the proxy's now()/uuid() markers",
                            columns.size(), plan.total_markers));
  }
  // Erase from the back so earlier positions stay valid.
  for (auto it = plan.inserted.rbegin(); it != plan.inserted.rend(); ++it) {
    columns.erase(columns.begin() + it->position);
  }
  auto& pk = result.metadata.pk_indexes;
  const auto generated = [&](uint16_t index) {
    return std::any_of(plan.inserted.begin(), plan.inserted.end(),
                       [&](const InsertedMarker& m) { return m.position == index; });
  };
  if (std::any_of(pk.begin(), pk.end(), generated)) {
    pk.clear();
    return {};
  }
  for (uint16_t& index : pk) {
    const auto removed_before =
        std::count_if(plan.inserted.begin(), plan.inserted.end(),
                      [&](const InsertedMarker& m) { return m.position < index; });
    index = static_cast<uint16_t>(index - removed_before);
  }
  return {};
}

Result<Bytes> rewrite_prepared_response_body(const FrameHeader& header, ByteView body,
                                             const PrepareRewrite& plan) {
  if (auto ok = check_frame(header, Opcode::Result, protocol::Direction::Response); !ok) {
    return tl::unexpected(std::move(ok.error()));
  }
  auto message = protocol::decode_message(header, body);
  if (!message) return tl::unexpected(std::move(message.error()));
  auto& response = std::get<protocol::ResponseBody>(message->body);
  auto* result = std::get_if<protocol::ResultMessage>(&response);
  auto* prepared = result ? std::get_if<protocol::PreparedResult>(&result->result) : nullptr;
  if (prepared == nullptr) {
    return fail(Errc::InvalidArgument, "RESULT is not a Prepared result");
  }
  ZDM_CHECK(rewrite_prepared_result(*prepared, plan));
  return protocol::encode_message(*message);
}

std::vector<Uuid> generate_values(const PrepareRewrite& plan, TimeuuidGenerator& timeuuids) {
  std::vector<Uuid> values;
  values.reserve(plan.inserted.size());
  for (const InsertedMarker& m : plan.inserted)
    values.push_back(generate_value(m.function, timeuuids));
  return values;
}

Result<Bytes> rewrite_execute_body(const FrameHeader& header, ByteView body,
                                   const PrepareRewrite& plan, std::span<const Uuid> values,
                                   const protocol::PreparedMetadata* cluster_metadata) {
  constexpr Opcode op = Opcode::Execute;
  ZDM_CHECK(check_frame(header, op, protocol::Direction::Request));
  if (values.size() != plan.inserted.size()) {
    return fail(Errc::InvalidArgument, fmt::format("{} generated values for {} inserted markers",
                                                   values.size(), plan.inserted.size()));
  }
  ZDM_TRY(ByteReader reader, protocol::message_reader(header, body));
  ZDM_CHECK_OR(reader.read_short_bytes(), in_field(op, "prepared id", std::move(try_error)));
  if (protocol::uses_prepared_metadata(header.version)) {
    ZDM_CHECK_OR(reader.read_short_bytes(),
                 in_field(op, "result metadata id", std::move(try_error)));
  }
  ZDM_CHECK_OR(reader.read_u16(), in_field(op, "consistency", std::move(try_error)));
  const size_t flags_at = reader.position();
  auto flags_result = read_flags(reader, header.version, op);
  if (!flags_result) return tl::unexpected(std::move(flags_result.error()));
  const uint32_t flags = *flags_result;
  uint16_t count = 0;
  if ((flags & protocol::query_flags::kValues) != 0) {
    ZDM_TRY_OR(auto c, reader.read_u16(), in_field(op, "value count", std::move(try_error)));
    count = c;
  }
  const bool named = (flags & protocol::query_flags::kNamesForValues) != 0;

  Bytes out;
  out.reserve(body.size() + plan.inserted.size() * 40);
  append(out, body.first(flags_at));
  ByteWriter w(out);
  write_flags(w, header.version, flags | protocol::query_flags::kValues);
  if (!named) {
    w.write_u16(plan.total_markers);
    auto merged = merge_positional(reader, body, count, header.version, op, plan, values, w);
    if (!merged) return tl::unexpected(std::move(merged.error()));
  } else {
    if (count != plan.client_markers()) return value_count_mismatch(op, count, plan);
    if (!plan.named && cluster_metadata == nullptr) {
      return fail(Errc::InvalidArgument,
                  "EXECUTE binds values by name but the statement's "
                  "now()/uuid() markers are "
                  "positional and no prepared metadata was given to name them");
    }
    if (!plan.named && cluster_metadata->columns.size() != plan.total_markers) {
      return fail(Errc::InvalidArgument,
                  fmt::format("prepared metadata has {} bind variables, the plan {}",
                              cluster_metadata->columns.size(), plan.total_markers));
    }
    w.write_u16(plan.total_markers);
    for (uint16_t i = 0; i < count; ++i) {
      auto value = read_value_span(reader, body, true, header.version, op, i);
      if (!value) return tl::unexpected(std::move(value.error()));
      w.write_raw(*value);
    }
    for (size_t i = 0; i < plan.inserted.size(); ++i) {
      const InsertedMarker& m = plan.inserted[i];
      w.write_string(plan.named ? std::string_view(m.name)
                                : std::string_view(cluster_metadata->columns[m.position].name));
      write_uuid_value(w, values[i]);
    }
  }
  append(out, reader.rest());
  return out;
}

Result<std::optional<Bytes>> rewrite_query_body(const FrameHeader& header, ByteView body,
                                                TimeuuidGenerator& timeuuids) {
  return rewrite_query_body(header, body, timeuuids, std::nullopt);
}

Result<std::optional<Bytes>> rewrite_query_body(const FrameHeader& header, ByteView body,
                                                TimeuuidGenerator& timeuuids,
                                                std::optional<protocol::StatementKind> kind) {
  constexpr Opcode op = Opcode::Query;
  ZDM_CHECK(check_frame(header, op, protocol::Direction::Request));
  ZDM_TRY(ByteReader reader, protocol::message_reader(header, body));
  const size_t query_at = reader.position();
  ZDM_TRY_OR(auto query, reader.read_long_string(),
             in_field(op, "query text", std::move(try_error)));
  auto rewritten = rewrite_text_with_literals(query, timeuuids, kind);
  if (!rewritten) return std::optional<Bytes>();
  Bytes out;
  out.reserve(body.size() + rewritten->size() - query.size());
  append(out, body.first(query_at));
  ByteWriter w(out);
  w.write_long_string(*rewritten);
  append(out, reader.rest());
  return std::optional<Bytes>(std::move(out));
}

Result<std::optional<PrepareBodyRewrite>> rewrite_prepare_body(const FrameHeader& header,
                                                               ByteView body) {
  constexpr Opcode op = Opcode::Prepare;
  ZDM_CHECK(check_frame(header, op, protocol::Direction::Request));
  ZDM_TRY(ByteReader reader, protocol::message_reader(header, body));
  const size_t query_at = reader.position();
  ZDM_TRY_OR(auto query, reader.read_long_string(),
             in_field(op, "query text", std::move(try_error)));
  auto plan = plan_prepare(query);
  if (!plan) return std::optional<PrepareBodyRewrite>();
  PrepareBodyRewrite rewrite;
  rewrite.body.reserve(body.size() + plan->query.size() - query.size());
  append(rewrite.body, body.first(query_at));
  ByteWriter w(rewrite.body);
  w.write_long_string(plan->query);
  append(rewrite.body, reader.rest());
  rewrite.plan = std::move(*plan);
  return std::optional<PrepareBodyRewrite>(std::move(rewrite));
}

Result<std::optional<Bytes>> rewrite_batch_body(const FrameHeader& header, ByteView body,
                                                TimeuuidGenerator& timeuuids,
                                                PrepareRewriteLookupFn lookup, void* context) {
  constexpr Opcode op = Opcode::Batch;
  ZDM_CHECK(check_frame(header, op, protocol::Direction::Request));
  ZDM_TRY(ByteReader reader, protocol::message_reader(header, body));
  const size_t type_at = reader.position();
  ZDM_TRY_OR(auto type, reader.read_u8(), in_field(op, "batch type", std::move(try_error)));
  if (type > 2)
    return malformed(op, fmt::format("batch type {} (expected 0, 1 or 2)", type), type_at);
  ZDM_TRY_OR(auto child_count, reader.read_u16(),
             in_field(op, "child count", std::move(try_error)));

  Bytes out;
  out.reserve(body.size() + 128);
  append(out, body.first(reader.position()));
  ByteWriter w(out);
  bool changed = false;
  std::vector<Uuid> values;
  for (uint16_t child = 0; child < child_count; ++child) {
    const size_t kind_at = reader.position();
    ZDM_TRY_OR(auto kind, reader.read_u8(), in_field(op, "child kind", std::move(try_error)));
    w.write_u8(kind);
    const PrepareRewrite* plan = nullptr;
    if (kind == 0) {
      ZDM_TRY_OR(auto query, reader.read_long_string(),
                 in_field(op, "child query", std::move(try_error)));
      if (auto rewritten = rewrite_text_with_literals(query, timeuuids)) {
        w.write_long_string(*rewritten);
        changed = true;
      } else {
        w.write_long_string(query);
      }
    } else if (kind == 1) {
      ZDM_TRY_OR(auto id, reader.read_short_bytes(),
                 in_field(op, "child prepared id", std::move(try_error)));
      w.write_short_bytes(id);
      plan = lookup != nullptr ? lookup(context, id) : nullptr;
      if (plan != nullptr && plan->inserted.empty()) plan = nullptr;
    } else {
      return malformed(op, fmt::format("child kind {} (expected 0 or 1)", kind), kind_at);
    }
    ZDM_TRY_OR(auto count, reader.read_u16(),
               in_field(op, "child value count", std::move(try_error)));
    if (plan == nullptr) {
      w.write_u16(count);
      for (uint16_t i = 0; i < count; ++i) {
        auto value = read_value_span(reader, body, false, header.version, op, i);
        if (!value) return tl::unexpected(std::move(value.error()));
        w.write_raw(*value);
      }
      continue;
    }
    values = generate_values(*plan, timeuuids);
    w.write_u16(plan->total_markers);
    ZDM_CHECK(merge_positional(reader, body, count, header.version, op, *plan, values, w));
    changed = true;
  }
  if (!changed) return std::optional<Bytes>();
  append(out, reader.rest());
  return std::optional<Bytes>(std::move(out));
}

}  // namespace zdm::proxy
