#pragma once
// A small, allocation-free CQL lexer over a string_view, and cheap statement classification from
// the first tokens (the proxy's hot path never runs a full parser per request).
//
// Tokens are views into the lexed text and live no longer than it.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zdm::protocol {

enum class CqlTokenKind : uint8_t {
  End,               // no more input
  Identifier,        // unquoted: letters, digits, '_' (keywords and true/false are identifiers)
  QuotedIdentifier,  // "..." with "" as an escaped quote
  String,            // '...' with '' as an escaped quote
  DollarString,      // $$...$$
  Integer,           // 42, -42
  Float,             // 1.5, -1.5e10, 2E-3, NaN, Infinity, -Infinity
  Duration,          // 1h30m, 12mo, 3us (an integer followed by unit letters)
  Uuid,              // 8-4-4-4-12 hex
  Blob,              // 0x0aff
  Symbol,            // ( ) , ; . * = < > <= >= != + - ? : [ ] { } / %
  Error,             // an unexpected character or an unterminated string/identifier/comment
};

std::string_view cql_token_kind_name(CqlTokenKind kind);

// ASCII case-insensitive equality (CQL keywords and unquoted identifiers are case-insensitive).
bool iequals(std::string_view a, std::string_view b);

struct CqlToken {
  CqlTokenKind kind = CqlTokenKind::End;
  size_t offset = 0;            // byte offset of the first character in the lexed text
  std::string_view text;        // raw text as written, quotes included
  const char* error = nullptr;  // kind == Error: what is wrong (static string)

  size_t end() const { return offset + text.size(); }
  bool is(CqlTokenKind k) const { return kind == k; }
  // An unquoted identifier equal to `keyword` ignoring ASCII case.
  bool is_keyword(std::string_view keyword) const {
    return kind == CqlTokenKind::Identifier && iequals(text, keyword);
  }
  bool is_symbol(std::string_view symbol) const {
    return kind == CqlTokenKind::Symbol && text == symbol;
  }
};

// The value a token stands for: an unquoted identifier lowercased, a quoted identifier or string
// without its quotes and with doubled quotes undone, a $$ string without the dollars; other
// tokens as written. Allocates: not for the hot path.
std::string cql_token_value(const CqlToken& token);

// Yields tokens one at a time, skipping whitespace and comments (-- and // to end of line,
// /* ... */). Never throws: problems come back as Error tokens. After an unterminated string,
// identifier or comment (an Error token covering the rest of the text) it returns End. Copying a
// lexer gives an independent cursor (cheap lookahead).
class CqlLexer {
 public:
  explicit CqlLexer(std::string_view text) : text_(text) {}

  CqlToken next();
  size_t position() const { return pos_; }
  std::string_view text() const { return text_; }

 private:
  CqlToken make(CqlTokenKind kind, size_t begin, size_t end, const char* error = nullptr) const;
  CqlToken lex_quoted(size_t begin, char quote, CqlTokenKind kind, const char* unterminated);
  CqlToken lex_number(size_t begin);
  bool at_uuid(size_t at) const;
  bool is_word_at(size_t at, std::string_view word) const;

  std::string_view text_;
  size_t pos_ = 0;
};

// 1-based line and column (in bytes) of a byte offset, for error messages.
struct LineColumn {
  size_t line = 1;
  size_t column = 1;
};
LineColumn line_column(std::string_view text, size_t offset);

// A (possibly quoted) CQL name as written in a statement: a view into the statement text.
struct CqlName {
  std::string_view text;  // without surrounding quotes; "" escapes still doubled when quoted
  bool quoted = false;

  bool empty() const { return text.empty(); }
  // Whether this names `internal_name` (the stored, case-sensitive name): an unquoted name is
  // folded to lowercase first, a quoted one compared exactly. Does not allocate.
  bool matches(std::string_view internal_name) const;
  // The stored name this refers to (lowercased if unquoted, unescaped if quoted). Allocates.
  std::string value() const;
};

enum class StatementKind : uint8_t {
  Other,
  Select,
  Insert,
  Update,
  Delete,
  Batch,  // BEGIN [UNLOGGED | COUNTER] BATCH ...
  Use,
  Create,
  Alter,
  Drop,
  Truncate,
  Grant,
  Revoke,
  List,
};
std::string_view statement_kind_name(StatementKind kind);

// What a CREATE/ALTER/DROP acts on.
enum class SchemaObjectKind : uint8_t {
  None,  // not DDL
  Keyspace,
  Table,
  Index,
  MaterializedView,
  Type,
  Function,
  Aggregate,
  Trigger,
  Role,
  User,
  Unknown,
};
std::string_view schema_object_kind_name(SchemaObjectKind kind);

// The result of classify_statement(). Names are views into the statement text.
struct StatementInfo {
  StatementKind kind = StatementKind::Other;
  SchemaObjectKind object = SchemaObjectKind::None;  // Create/Alter/Drop only
  // Use: the keyspace. Select/Insert/Update/Delete/Truncate and DDL: the keyspace qualifier if the
  // statement wrote one ("ks" in ks.tbl), else empty (the session keyspace applies). For
  // CREATE/ALTER/DROP KEYSPACE: the keyspace.
  CqlName keyspace;
  // Select/Insert/Update/Delete/Truncate: the table. DDL: the object's name where it is the first
  // name after the object kind (table, view, type, function, aggregate, index to drop).
  CqlName table;
  bool json = false;      // SELECT JSON / INSERT ... JSON
  bool distinct = false;  // SELECT DISTINCT

  // A SELECT from `keyspace_name`.`table_name` written with an explicit keyspace.
  bool selects_from(std::string_view keyspace_name, std::string_view table_name) const {
    return kind == StatementKind::Select && keyspace.matches(keyspace_name) &&
           table.matches(table_name);
  }
};

// Classifies a statement from its first tokens (comments and whitespace before the keyword are
// skipped); Other for anything unrecognised, empty or malformed. Does not allocate.
StatementInfo classify_statement(std::string_view cql);

// A zero-argument call of one of the requested functions, e.g. `now()` or `system.now ( )`.
struct FunctionCallRange {
  size_t begin = 0;       // offset of the function name (or its `system.` qualifier)
  size_t end = 0;         // one past the closing parenthesis
  std::string_view name;  // the entry of `names` that matched
};

// Finds zero-argument calls of the named functions (names in lowercase, e.g. "now", "uuid")
// outside strings and comments, in text order. Unquoted names match case-insensitively, quoted
// ones exactly; a call qualified with a keyspace other than `system` is a different function and
// is not reported. Allocates only when something is found.
std::vector<FunctionCallRange> find_function_calls(std::string_view cql,
                                                   std::span<const std::string_view> names);
inline std::vector<FunctionCallRange> find_function_calls(
    std::string_view cql, std::initializer_list<std::string_view> names) {
  return find_function_calls(cql, std::span<const std::string_view>(names.begin(), names.size()));
}

}  // namespace zdm::protocol
