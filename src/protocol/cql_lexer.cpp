#include "protocol/cql_lexer.hpp"

namespace zdm::protocol {
namespace {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_ident_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

std::string_view cql_token_kind_name(CqlTokenKind kind) {
  switch (kind) {
    case CqlTokenKind::End:
      return "end";
    case CqlTokenKind::Identifier:
      return "identifier";
    case CqlTokenKind::QuotedIdentifier:
      return "quoted identifier";
    case CqlTokenKind::String:
      return "string";
    case CqlTokenKind::DollarString:
      return "$$ string";
    case CqlTokenKind::Integer:
      return "integer";
    case CqlTokenKind::Float:
      return "float";
    case CqlTokenKind::Duration:
      return "duration";
    case CqlTokenKind::Uuid:
      return "uuid";
    case CqlTokenKind::Blob:
      return "blob";
    case CqlTokenKind::Symbol:
      return "symbol";
    case CqlTokenKind::Error:
      return "error";
  }
  return "unknown";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

std::string cql_token_value(const CqlToken& token) {
  std::string_view t = token.text;
  switch (token.kind) {
    case CqlTokenKind::Identifier: {
      std::string out(t);
      for (char& c : out) c = to_lower(c);
      return out;
    }
    case CqlTokenKind::QuotedIdentifier:
    case CqlTokenKind::String: {
      if (t.size() < 2) return std::string(t);
      const char quote = t.front();
      std::string out;
      out.reserve(t.size() - 2);
      for (size_t i = 1; i + 1 < t.size(); ++i) {
        out.push_back(t[i]);
        if (t[i] == quote && t[i + 1] == quote) ++i;
      }
      return out;
    }
    case CqlTokenKind::DollarString:
      return t.size() >= 4 ? std::string(t.substr(2, t.size() - 4)) : std::string(t);
    default:
      return std::string(t);
  }
}

CqlToken CqlLexer::make(CqlTokenKind kind, size_t begin, size_t end, const char* error) const {
  return CqlToken{kind, begin, text_.substr(begin, end - begin), error};
}

bool CqlLexer::is_word_at(size_t at, std::string_view word) const {
  if (text_.size() - at < word.size()) return false;
  if (!iequals(text_.substr(at, word.size()), word)) return false;
  const size_t after = at + word.size();
  return after == text_.size() || !is_ident_char(text_[after]);
}

bool CqlLexer::at_uuid(size_t at) const {
  if (text_.size() - at < 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const char c = text_[at + i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!is_hex(c)) {
      return false;
    }
  }
  const size_t after = at + 36;
  return after == text_.size() || !is_ident_char(text_[after]);
}

CqlToken CqlLexer::lex_quoted(size_t begin, char quote, CqlTokenKind kind,
                              const char* unterminated) {
  size_t i = begin + 1;
  while (i < text_.size()) {
    if (text_[i] == quote) {
      if (i + 1 < text_.size() && text_[i + 1] == quote) {
        i += 2;  // doubled quote: an escaped quote character
        continue;
      }
      pos_ = i + 1;
      return make(kind, begin, pos_);
    }
    ++i;
  }
  pos_ = text_.size();
  return make(CqlTokenKind::Error, begin, pos_, unterminated);
}

// [-] digits [. digits*] [(e|E) [+|-] digits], or an integer followed by duration units.
CqlToken CqlLexer::lex_number(size_t begin) {
  size_t i = begin;
  if (text_[i] == '-') ++i;
  while (i < text_.size() && is_digit(text_[i])) ++i;
  CqlTokenKind kind = CqlTokenKind::Integer;
  if (i < text_.size() && text_[i] == '.') {
    kind = CqlTokenKind::Float;
    ++i;
    while (i < text_.size() && is_digit(text_[i])) ++i;
  }
  if (i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
    size_t j = i + 1;
    if (j < text_.size() && (text_[j] == '+' || text_[j] == '-')) ++j;
    if (j < text_.size() && is_digit(text_[j])) {
      while (j < text_.size() && is_digit(text_[j])) ++j;
      kind = CqlTokenKind::Float;
      i = j;
    }
  }
  // Letters glued to a number: a duration such as 1h30m or 5us (µs is two UTF-8 bytes).
  auto is_suffix_char = [&](size_t at) {
    return is_ident_char(text_[at]) ||
           (static_cast<unsigned char>(text_[at]) == 0xC2 && at + 1 < text_.size() &&
            static_cast<unsigned char>(text_[at + 1]) == 0xB5) ||
           (static_cast<unsigned char>(text_[at]) == 0xB5 && at > 0 &&
            static_cast<unsigned char>(text_[at - 1]) == 0xC2);
  };
  if (i < text_.size() && is_suffix_char(i)) {
    while (i < text_.size() && is_suffix_char(i)) ++i;
    pos_ = i;
    if (kind == CqlTokenKind::Integer) return make(CqlTokenKind::Duration, begin, i);
    return make(CqlTokenKind::Error, begin, i, "malformed number");
  }
  pos_ = i;
  return make(kind, begin, i);
}

CqlToken CqlLexer::next() {
  // Whitespace and comments.
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (is_space(c)) {
      ++pos_;
      continue;
    }
    const char n = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    if ((c == '-' && n == '-') || (c == '/' && n == '/')) {
      const size_t eol = text_.find('\n', pos_);
      pos_ = eol == std::string_view::npos ? text_.size() : eol + 1;
      continue;
    }
    if (c == '/' && n == '*') {
      const size_t close = text_.find("*/", pos_ + 2);
      if (close == std::string_view::npos) {
        const size_t begin = pos_;
        pos_ = text_.size();
        return make(CqlTokenKind::Error, begin, pos_, "unterminated /* comment");
      }
      pos_ = close + 2;
      continue;
    }
    break;
  }
  if (pos_ >= text_.size()) return make(CqlTokenKind::End, text_.size(), text_.size());

  const size_t begin = pos_;
  const char c = text_[begin];
  const char n = begin + 1 < text_.size() ? text_[begin + 1] : '\0';

  if (is_hex(c) && at_uuid(begin)) {
    pos_ = begin + 36;
    return make(CqlTokenKind::Uuid, begin, pos_);
  }
  if (c == '0' && (n == 'x' || n == 'X')) {
    size_t i = begin + 2;
    while (i < text_.size() && is_hex(text_[i])) ++i;
    if (i < text_.size() && is_ident_char(text_[i])) {
      while (i < text_.size() && is_ident_char(text_[i])) ++i;
      pos_ = i;
      return make(CqlTokenKind::Error, begin, i, "malformed blob literal");
    }
    pos_ = i;
    return make(CqlTokenKind::Blob, begin, i);
  }
  if (is_digit(c) || (c == '-' && is_digit(n))) return lex_number(begin);
  if (c == '-' && (is_word_at(begin + 1, "nan") || is_word_at(begin + 1, "infinity"))) {
    size_t i = begin + 1;
    while (i < text_.size() && is_ident_char(text_[i])) ++i;
    pos_ = i;
    return make(CqlTokenKind::Float, begin, i);
  }
  if (is_letter(c) || c == '_') {
    size_t i = begin + 1;
    while (i < text_.size() && is_ident_char(text_[i])) ++i;
    pos_ = i;
    CqlToken t = make(CqlTokenKind::Identifier, begin, i);
    if (iequals(t.text, "nan") || iequals(t.text, "infinity")) t.kind = CqlTokenKind::Float;
    return t;
  }
  if (c == '"') {
    return lex_quoted(begin, '"', CqlTokenKind::QuotedIdentifier, "unterminated quoted identifier");
  }
  if (c == '\'')
    return lex_quoted(begin, '\'', CqlTokenKind::String, "unterminated string literal");
  if (c == '$' && n == '$') {
    const size_t close = text_.find("$$", begin + 2);
    if (close == std::string_view::npos) {
      pos_ = text_.size();
      return make(CqlTokenKind::Error, begin, pos_, "unterminated $$ string");
    }
    pos_ = close + 2;
    return make(CqlTokenKind::DollarString, begin, pos_);
  }
  if ((c == '<' || c == '>' || c == '!') && n == '=') {
    pos_ = begin + 2;
    return make(CqlTokenKind::Symbol, begin, pos_);
  }
  switch (c) {
    case '(':
    case ')':
    case ',':
    case ';':
    case '.':
    case '*':
    case '=':
    case '<':
    case '>':
    case '+':
    case '-':
    case '?':
    case ':':
    case '[':
    case ']':
    case '{':
    case '}':
    case '/':
    case '%':
      pos_ = begin + 1;
      return make(CqlTokenKind::Symbol, begin, pos_);
    default:
      break;
  }
  // Anything else is an error token; a multi-byte UTF-8 character is kept whole.
  size_t i = begin + 1;
  while (i < text_.size() && (static_cast<unsigned char>(text_[i]) & 0xC0) == 0x80) ++i;
  pos_ = i;
  return make(CqlTokenKind::Error, begin, i, "unexpected character");
}

LineColumn line_column(std::string_view text, size_t offset) {
  LineColumn lc;
  const size_t stop = offset < text.size() ? offset : text.size();
  for (size_t i = 0; i < stop; ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      lc.column = 1;
    } else {
      ++lc.column;
    }
  }
  return lc;
}

bool CqlName::matches(std::string_view internal_name) const {
  if (!quoted) {
    if (text.size() != internal_name.size()) return false;
    for (size_t i = 0; i < text.size(); ++i) {
      if (to_lower(text[i]) != internal_name[i]) return false;
    }
    return true;
  }
  size_t j = 0;
  for (size_t i = 0; i < text.size(); ++i, ++j) {
    if (j >= internal_name.size() || text[i] != internal_name[j]) return false;
    if (text[i] == '"' && i + 1 < text.size() && text[i + 1] == '"') ++i;
  }
  return j == internal_name.size();
}

std::string CqlName::value() const {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (!quoted) {
      out.push_back(to_lower(text[i]));
      continue;
    }
    out.push_back(text[i]);
    if (text[i] == '"' && i + 1 < text.size() && text[i + 1] == '"') ++i;
  }
  return out;
}

std::string_view statement_kind_name(StatementKind kind) {
  switch (kind) {
    case StatementKind::Other:
      return "OTHER";
    case StatementKind::Select:
      return "SELECT";
    case StatementKind::Insert:
      return "INSERT";
    case StatementKind::Update:
      return "UPDATE";
    case StatementKind::Delete:
      return "DELETE";
    case StatementKind::Batch:
      return "BATCH";
    case StatementKind::Use:
      return "USE";
    case StatementKind::Create:
      return "CREATE";
    case StatementKind::Alter:
      return "ALTER";
    case StatementKind::Drop:
      return "DROP";
    case StatementKind::Truncate:
      return "TRUNCATE";
    case StatementKind::Grant:
      return "GRANT";
    case StatementKind::Revoke:
      return "REVOKE";
    case StatementKind::List:
      return "LIST";
  }
  return "UNKNOWN";
}

std::string_view schema_object_kind_name(SchemaObjectKind kind) {
  switch (kind) {
    case SchemaObjectKind::None:
      return "NONE";
    case SchemaObjectKind::Keyspace:
      return "KEYSPACE";
    case SchemaObjectKind::Table:
      return "TABLE";
    case SchemaObjectKind::Index:
      return "INDEX";
    case SchemaObjectKind::MaterializedView:
      return "MATERIALIZED VIEW";
    case SchemaObjectKind::Type:
      return "TYPE";
    case SchemaObjectKind::Function:
      return "FUNCTION";
    case SchemaObjectKind::Aggregate:
      return "AGGREGATE";
    case SchemaObjectKind::Trigger:
      return "TRIGGER";
    case SchemaObjectKind::Role:
      return "ROLE";
    case SchemaObjectKind::User:
      return "USER";
    case SchemaObjectKind::Unknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

namespace {

// Token stream with one token of lookahead.
class TokenStream {
 public:
  explicit TokenStream(std::string_view text) : lexer_(text) { current_ = lexer_.next(); }
  const CqlToken& peek() const { return current_; }
  CqlToken take() {
    CqlToken t = current_;
    current_ = lexer_.next();
    return t;
  }
  bool take_keyword(std::string_view kw) {
    if (!current_.is_keyword(kw)) return false;
    take();
    return true;
  }

 private:
  CqlLexer lexer_;
  CqlToken current_;
};

bool is_name_token(const CqlToken& t) {
  return t.kind == CqlTokenKind::Identifier || t.kind == CqlTokenKind::QuotedIdentifier;
}

CqlName name_of(const CqlToken& t) {
  if (t.kind == CqlTokenKind::QuotedIdentifier && t.text.size() >= 2) {
    return CqlName{t.text.substr(1, t.text.size() - 2), true};
  }
  return CqlName{t.text, false};
}

// name | name '.' name, filling keyspace (when qualified) and table.
void read_qualified_name(TokenStream& ts, StatementInfo& info) {
  if (!is_name_token(ts.peek())) return;
  const CqlName first = name_of(ts.take());
  if (ts.peek().is_symbol(".")) {
    ts.take();
    if (is_name_token(ts.peek())) {
      info.keyspace = first;
      info.table = name_of(ts.take());
    }
    return;
  }
  info.table = first;
}

// Skips to the FROM at bracket depth 0; false at the end of the statement.
bool skip_to_from(TokenStream& ts) {
  int depth = 0;
  for (;;) {
    const CqlToken& t = ts.peek();
    if (t.kind == CqlTokenKind::End || t.kind == CqlTokenKind::Error) return false;
    if (t.kind == CqlTokenKind::Symbol) {
      const char c = t.text[0];
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      if (c == ';' && depth == 0) return false;
    } else if (depth == 0 && t.is_keyword("from")) {
      ts.take();
      return true;
    }
    ts.take();
  }
}

// After SELECT: JSON and DISTINCT are keywords only when a selection follows them; otherwise they
// are column names ("SELECT json FROM t").
bool selection_follows(TokenStream ts) {
  ts.take();
  const CqlToken& t = ts.peek();
  return !(t.kind == CqlTokenKind::End || t.is_keyword("from") || t.is_keyword("as") ||
           t.is_symbol(",") || t.is_symbol("(") || t.is_symbol("["));
}

void classify_select(TokenStream& ts, StatementInfo& info) {
  if (ts.peek().is_keyword("json") && selection_follows(ts)) {
    ts.take();
    info.json = true;
  }
  if (ts.peek().is_keyword("distinct") && selection_follows(ts)) {
    ts.take();
    info.distinct = true;
  }
  if (skip_to_from(ts)) read_qualified_name(ts, info);
}

SchemaObjectKind read_schema_object(TokenStream& ts) {
  const CqlToken t = ts.take();
  if (t.is_keyword("keyspace") || t.is_keyword("schema")) return SchemaObjectKind::Keyspace;
  if (t.is_keyword("table") || t.is_keyword("columnfamily")) return SchemaObjectKind::Table;
  if (t.is_keyword("index")) return SchemaObjectKind::Index;
  if (t.is_keyword("materialized")) {
    return ts.take_keyword("view") ? SchemaObjectKind::MaterializedView : SchemaObjectKind::Unknown;
  }
  if (t.is_keyword("type")) return SchemaObjectKind::Type;
  if (t.is_keyword("function")) return SchemaObjectKind::Function;
  if (t.is_keyword("aggregate")) return SchemaObjectKind::Aggregate;
  if (t.is_keyword("trigger")) return SchemaObjectKind::Trigger;
  if (t.is_keyword("role")) return SchemaObjectKind::Role;
  if (t.is_keyword("user")) return SchemaObjectKind::User;
  return SchemaObjectKind::Unknown;
}

void classify_ddl(TokenStream& ts, StatementInfo& info) {
  if (info.kind == StatementKind::Create) {
    if (ts.peek().is_keyword("or")) {
      ts.take();
      ts.take_keyword("replace");
    }
    ts.take_keyword("custom");
  }
  info.object = read_schema_object(ts);
  if (ts.peek().is_keyword("if")) {
    ts.take();
    ts.take_keyword("not");
    ts.take_keyword("exists");
  }
  switch (info.object) {
    case SchemaObjectKind::Keyspace:
      if (is_name_token(ts.peek())) info.keyspace = name_of(ts.take());
      break;
    case SchemaObjectKind::Table:
    case SchemaObjectKind::MaterializedView:
    case SchemaObjectKind::Type:
    case SchemaObjectKind::Function:
    case SchemaObjectKind::Aggregate:
      read_qualified_name(ts, info);
      break;
    case SchemaObjectKind::Index:
      // CREATE INDEX may omit the name (CREATE INDEX ON tbl (col)).
      if (!ts.peek().is_keyword("on")) read_qualified_name(ts, info);
      break;
    default:
      break;
  }
}

}  // namespace

StatementInfo classify_statement(std::string_view cql) {
  StatementInfo info;
  TokenStream ts(cql);
  const CqlToken first = ts.take();
  if (first.kind != CqlTokenKind::Identifier) return info;

  if (first.is_keyword("select")) {
    info.kind = StatementKind::Select;
    classify_select(ts, info);
  } else if (first.is_keyword("insert")) {
    info.kind = StatementKind::Insert;
    if (ts.take_keyword("into")) {
      read_qualified_name(ts, info);
      info.json = ts.peek().is_keyword("json");
    }
  } else if (first.is_keyword("update")) {
    info.kind = StatementKind::Update;
    read_qualified_name(ts, info);
  } else if (first.is_keyword("delete")) {
    info.kind = StatementKind::Delete;
    if (skip_to_from(ts)) read_qualified_name(ts, info);
  } else if (first.is_keyword("begin")) {
    if (!ts.take_keyword("unlogged")) ts.take_keyword("counter");
    if (ts.take_keyword("batch")) info.kind = StatementKind::Batch;
  } else if (first.is_keyword("use")) {
    if (is_name_token(ts.peek())) {
      info.kind = StatementKind::Use;
      info.keyspace = name_of(ts.take());
    }
  } else if (first.is_keyword("create")) {
    info.kind = StatementKind::Create;
    classify_ddl(ts, info);
  } else if (first.is_keyword("alter")) {
    info.kind = StatementKind::Alter;
    classify_ddl(ts, info);
  } else if (first.is_keyword("drop")) {
    info.kind = StatementKind::Drop;
    classify_ddl(ts, info);
  } else if (first.is_keyword("truncate")) {
    info.kind = StatementKind::Truncate;
    if (!ts.take_keyword("table")) ts.take_keyword("columnfamily");
    read_qualified_name(ts, info);
  } else if (first.is_keyword("grant")) {
    info.kind = StatementKind::Grant;
  } else if (first.is_keyword("revoke")) {
    info.kind = StatementKind::Revoke;
  } else if (first.is_keyword("list")) {
    info.kind = StatementKind::List;
  }
  return info;
}

std::vector<FunctionCallRange> find_function_calls(std::string_view cql,
                                                   std::span<const std::string_view> names) {
  std::vector<FunctionCallRange> out;
  CqlLexer lexer(cql);
  CqlToken before_prev;  // two tokens back (a possible keyspace qualifier)
  CqlToken prev;         // one token back (a possible '.')
  for (CqlToken t = lexer.next(); t.kind != CqlTokenKind::End; t = lexer.next()) {
    if (t.kind == CqlTokenKind::Identifier || t.kind == CqlTokenKind::QuotedIdentifier) {
      std::string_view matched;
      for (std::string_view name : names) {
        if (name_of(t).matches(name)) {
          matched = name;
          break;
        }
      }
      if (!matched.empty()) {
        CqlLexer ahead = lexer;
        const CqlToken open = ahead.next();
        const CqlToken close = open.is_symbol("(") ? ahead.next() : CqlToken{};
        if (close.is_symbol(")")) {
          size_t begin = t.offset;
          bool accept = true;
          if (prev.is_symbol(".")) {
            // Only the system keyspace's function is the built-in one.
            accept = is_name_token(before_prev) && name_of(before_prev).matches("system");
            begin = before_prev.offset;
          }
          if (accept) {
            out.push_back(FunctionCallRange{begin, close.end(), matched});
            before_prev = open;
            prev = close;
            lexer = ahead;
            continue;
          }
        }
      }
    }
    before_prev = prev;
    prev = t;
  }
  return out;
}

}  // namespace zdm::protocol
