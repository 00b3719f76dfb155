// Fuzz target for the CQL lexer, statement classification and function-call search over
// arbitrary text. Properties: lexing terminates (at most one token per byte plus End), tokens are
// in order, inside the text and non-empty; classification and the call search stay in bounds.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/cql_lexer.hpp"

using namespace zdm::protocol;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view outer, std::string_view inner) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string owned(reinterpret_cast<const char*>(data), size);
  const std::string_view text(owned);

  CqlLexer lexer(text);
  size_t last_end = 0;
  size_t tokens = 0;
  for (;;) {
    const CqlToken t = lexer.next();
    check(t.offset <= text.size() && t.end() <= text.size());
    if (t.kind == CqlTokenKind::End) break;
    check(!t.text.empty());
    check(t.offset >= last_end);
    check(t.text.data() == text.data() + t.offset);
    check((t.kind == CqlTokenKind::Error) == (t.error != nullptr));
    last_end = t.end();
    check(++tokens <= size);
  }
  check(lexer.next().kind == CqlTokenKind::End);

  const StatementInfo info = classify_statement(text);
  check(inside(text, info.keyspace.text) && inside(text, info.table.text));

  for (const FunctionCallRange& call : find_function_calls(text, {"now", "uuid"})) {
    check(call.begin < call.end && call.end <= text.size());
  }
  return 0;
}
