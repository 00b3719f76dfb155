#pragma once
// CQL statement parser of the embedded node: text -> cql::Statement (node/cql_ast.hpp).
//
// One pass of recursive descent over protocol::CqlLexer tokens; no exceptions, no regexes. Keywords
// are case-insensitive and names are lenient: any identifier not in a keyword position is a name
// (columns called key, value, ttl, count, ... work).

#include <string_view>

#include "common/result.hpp"
#include "node/cql/cql_ast.hpp"

namespace zdm::node {

// Parses one statement (an optional trailing ';' is allowed). On failure the Error (code
// Errc::Malformed) carries a message in Cassandra's SyntaxException style, with a 1-based line and
// a 0-based column as ANTLR reports them, e.g.
//   "line 1:9 mismatched input 'FORM' expecting FROM"
//   "line 1:0 no viable alternative at input 'SELEC'"
// Every failure of parse_cql is a syntax error: the executor answers it with SyntaxError.
Result<cql::Statement> parse_cql(std::string_view text);

// "SELECT", "INSERT", "CREATE TABLE", ... (for logs, tracing and error messages). For an
// Unsupported statement this is a view of its kind string (lives as long as the statement).
std::string_view statement_kind_name(const cql::Statement& statement);

// Bounds untrusted nesting (collection literals, function calls, types, selectors).
inline constexpr int kMaxCqlNestingDepth = 64;

}  // namespace zdm::node
