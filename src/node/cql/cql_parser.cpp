#include "node/cql/cql_parser.hpp"

#include <string>
#include <utility>
#include <vector>

#include "protocol/cql_lexer.hpp"
#include "protocol/cql_type.hpp"

namespace zdm::node {
namespace {

using protocol::CqlLexer;
using protocol::CqlToken;
using protocol::CqlTokenKind;

using namespace cql;  // NOLINT: the AST types are this file's vocabulary

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string uppercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

bool is_name_token(const CqlToken& t) {
  return t.kind == CqlTokenKind::Identifier || t.kind == CqlTokenKind::QuotedIdentifier;
}

// true/false/null are constants, never names, where a term is expected.
bool is_constant_word(const CqlToken& t) {
  return t.is_keyword("true") || t.is_keyword("false") || t.is_keyword("null");
}

// Recursive descent over a pre-lexed token vector (one allocation; cheap arbitrary lookahead).
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Statement> run() {
    if (!tokenize()) return tl::unexpected(std::move(error_));
    Statement statement;
    if (!parse_statement(statement)) return tl::unexpected(std::move(error_));
    accept_symbol(";");
    if (!peek().is(CqlTokenKind::End)) {
      mismatch(peek(), "EOF");
      return tl::unexpected(std::move(error_));
    }
    statement.bind_markers = std::move(markers_);
    return statement;
  }

 private:
  // ----------------------------------------------------------------------------------------
  // Tokens and errors

  bool tokenize() {
    CqlLexer lexer(text_);
    tokens_.reserve(text_.size() / 4 + 2);
    for (;;) {
      CqlToken t = lexer.next();
      if (t.is(CqlTokenKind::Error)) {
        set_error(t, std::string(t.error != nullptr ? t.error : "token recognition error") +
                         " at input '" + std::string(t.text.substr(0, 32)) + "'");
        return false;
      }
      tokens_.push_back(t);
      if (t.is(CqlTokenKind::End)) return true;
    }
  }

  const CqlToken& peek(size_t ahead = 0) const {
    const size_t i = pos_ + ahead;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  const CqlToken& advance() {
    const CqlToken& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }

  bool accept_keyword(std::string_view kw) {
    if (!peek().is_keyword(kw)) return false;
    advance();
    return true;
  }
  bool accept_symbol(std::string_view sym) {
    if (!peek().is_symbol(sym)) return false;
    advance();
    return true;
  }
  bool expect_keyword(std::string_view kw) {
    if (accept_keyword(kw)) return true;
    return mismatch(peek(), uppercase(kw));
  }
  bool expect_symbol(std::string_view sym) {
    if (accept_symbol(sym)) return true;
    return mismatch(peek(), "'" + std::string(sym) + "'");
  }

  [[gnu::cold]] void set_error(const CqlToken& at, std::string what) {
    if (failed_) return;
    failed_ = true;
    const protocol::LineColumn lc = protocol::line_column(text_, at.offset);
    error_ = Error{Errc::Malformed, "line " + std::to_string(lc.line) + ":" +
                                        std::to_string(lc.column - 1) + " " + std::move(what)};
  }
  static std::string token_text(const CqlToken& t) {
    return t.is(CqlTokenKind::End) ? std::string("<EOF>") : std::string(t.text.substr(0, 64));
  }
  [[gnu::cold]] bool mismatch(const CqlToken& at, std::string_view expecting) {
    set_error(at, "mismatched input '" + token_text(at) + "' expecting " + std::string(expecting));
    return false;
  }
  [[gnu::cold]] bool no_viable(const CqlToken& at) {
    set_error(at, "no viable alternative at input '" + token_text(at) + "'");
    return false;
  }
  [[gnu::cold]] bool too_deep(const CqlToken& at) {
    set_error(at, "nesting deeper than " + std::to_string(kMaxCqlNestingDepth) +
                      " levels at input '" + token_text(at) + "'");
    return false;
  }

  // ----------------------------------------------------------------------------------------
  // Names

  bool parse_name(std::string& out) {
    if (!is_name_token(peek())) return no_viable(peek());
    out = protocol::cql_token_value(advance());
    return true;
  }

  bool parse_qualified(QualifiedName& out) {
    std::string first;
    if (!parse_name(first)) return false;
    if (accept_symbol(".")) {
      out.keyspace = std::move(first);
      return parse_name(out.name);
    }
    out.name = std::move(first);
    return true;
  }

  bool parse_name_list(std::vector<std::string>& out) {  // '(' a, b ')'
    if (!expect_symbol("(")) return false;
    do {
      if (!parse_name(out.emplace_back())) return false;
    } while (accept_symbol(","));
    return expect_symbol(")");
  }

  bool parse_if_not_exists(bool& out) {
    if (peek().is_keyword("if") && peek(1).is_keyword("not")) {
      advance();
      advance();
      if (!expect_keyword("exists")) return false;
      out = true;
    }
    return true;
  }
  bool parse_if_exists(bool& out) {
    if (peek().is_keyword("if") && peek(1).is_keyword("exists")) {
      advance();
      advance();
      out = true;
    }
    return true;
  }

  // ----------------------------------------------------------------------------------------
  // Types: consumes one CQL type and returns its raw text (a slice of the statement).

  bool parse_type_text(std::string& out, int depth = 0) {
    size_t begin = 0;
    size_t end = 0;
    if (!skip_type(begin, end, depth)) return false;
    out.assign(text_.substr(begin, end - begin));
    return true;
  }

  bool skip_type(size_t& begin, size_t& end, int depth) {
    if (depth > kMaxCqlNestingDepth) return too_deep(peek());
    const CqlToken& first = peek();
    begin = first.offset;
    if (first.is(CqlTokenKind::String)) {  // 'custom.Class'
      end = advance().end();
      return true;
    }
    if (!is_name_token(first)) return no_viable(first);
    end = advance().end();
    if (peek().is_symbol(".") && is_name_token(peek(1))) {  // ks.udt
      advance();
      end = advance().end();
    }
    if (accept_symbol("<")) {
      do {
        if (peek().is(CqlTokenKind::Integer)) {  // vector<float, 3>
          advance();
          continue;
        }
        size_t b = 0;
        size_t e = 0;
        if (!skip_type(b, e, depth + 1)) return false;
      } while (accept_symbol(","));
      if (!peek().is_symbol(">")) return mismatch(peek(), "'>'");
      end = advance().end();
    }
    return true;
  }

  bool parse_column_decl(ColumnDecl& out) {
    if (!parse_name(out.name)) return false;
    if (!parse_type_text(out.type_text)) return false;
    fill_type(out);
    return true;
  }

  static void fill_type(ColumnDecl& decl) {
    // Without a resolver a UDT name fails: the executor resolves those against the catalog.
    auto parsed = protocol::parse_cql_type(decl.type_text);
    if (parsed) decl.type = std::move(*parsed);
  }

  // ----------------------------------------------------------------------------------------
  // Terms

  bool add_marker(Term& out, std::string name) {
    BindMarker marker{static_cast<uint32_t>(markers_.size()), std::move(name)};
    markers_.push_back(marker);
    out.value = std::move(marker);
    return true;
  }

  static bool starts_bind_marker(const CqlToken& t, const CqlToken& next) {
    return t.is_symbol("?") || (t.is_symbol(":") && is_name_token(next));
  }

  bool parse_bind_marker(Term& out) {
    if (accept_symbol("?")) return add_marker(out, {});
    if (!expect_symbol(":")) return false;
    std::string name;
    if (!parse_name(name)) return false;
    return add_marker(out, std::move(name));
  }

  static Literal literal(LiteralKind kind, std::string text) {
    return Literal{kind, std::move(text)};
  }

  bool parse_term(Term& out, int depth = 0) {
    if (depth > kMaxCqlNestingDepth) return too_deep(peek());
    const CqlToken& t = peek();
    switch (t.kind) {
      case CqlTokenKind::String:
      case CqlTokenKind::DollarString:
        out.value = literal(LiteralKind::String, protocol::cql_token_value(advance()));
        return true;
      case CqlTokenKind::Integer:
        out.value = literal(LiteralKind::Integer, std::string(advance().text));
        return true;
      case CqlTokenKind::Float:
        out.value = literal(LiteralKind::Float, std::string(advance().text));
        return true;
      case CqlTokenKind::Duration:
        out.value = literal(LiteralKind::Duration, std::string(advance().text));
        return true;
      case CqlTokenKind::Uuid:
        out.value = literal(LiteralKind::Uuid, std::string(advance().text));
        return true;
      case CqlTokenKind::Blob:
        out.value = literal(LiteralKind::Blob, std::string(advance().text));
        return true;
      case CqlTokenKind::Identifier:
        if (t.is_keyword("true") || t.is_keyword("false")) {
          out.value = literal(LiteralKind::Boolean, lowercase(advance().text));
          return true;
        }
        if (t.is_keyword("null")) {
          advance();
          out.value = literal(LiteralKind::Null, "null");
          return true;
        }
        [[fallthrough]];
      case CqlTokenKind::QuotedIdentifier:
        if (is_function_start()) return parse_function_call(out, depth);
        return no_viable(t);
      case CqlTokenKind::Symbol:
        return parse_symbol_term(out, depth);
      default:
        return no_viable(t);
    }
  }

  // name '(' or ks '.' name '('
  bool is_function_start() const {
    if (!is_name_token(peek())) return false;
    if (peek(1).is_symbol("(")) return true;
    return peek(1).is_symbol(".") && is_name_token(peek(2)) && peek(3).is_symbol("(");
  }

  bool parse_function_name(std::string& keyspace, std::string& name) {
    if (!parse_name(name)) return false;
    if (accept_symbol(".")) {
      keyspace = std::move(name);
      name.clear();
      return parse_name(name);
    }
    return true;
  }

  bool parse_function_call(Term& out, int depth) {
    FunctionCall call;
    if (!parse_function_name(call.keyspace, call.name)) return false;
    if (!expect_symbol("(")) return false;
    if (!accept_symbol(")")) {
      do {
        if (!parse_term(call.args.emplace_back(), depth + 1)) return false;
      } while (accept_symbol(","));
      if (!expect_symbol(")")) return false;
    }
    out.value = std::move(call);
    return true;
  }

  bool parse_symbol_term(Term& out, int depth) {
    const CqlToken& t = peek();
    if (starts_bind_marker(t, peek(1))) return parse_bind_marker(out);
    if (t.is_symbol("-")) {  // "- 1": the lexer glues the sign only when no space follows it
      const CqlToken& n = peek(1);
      LiteralKind kind;
      if (n.is(CqlTokenKind::Integer)) {
        kind = LiteralKind::Integer;
      } else if (n.is(CqlTokenKind::Float)) {
        kind = LiteralKind::Float;
      } else if (n.is(CqlTokenKind::Duration)) {
        kind = LiteralKind::Duration;
      } else {
        return no_viable(t);
      }
      if (!n.text.empty() && n.text.front() == '-') return no_viable(n);
      advance();
      out.value = literal(kind, "-" + std::string(advance().text));
      return true;
    }
    if (t.is_symbol("[")) {
      advance();
      ListLiteral list;
      if (!accept_symbol("]")) {
        do {
          if (!parse_term(list.elements.emplace_back(), depth + 1)) return false;
        } while (accept_symbol(","));
        if (!expect_symbol("]")) return false;
      }
      out.value = std::move(list);
      return true;
    }
    if (t.is_symbol("{")) return parse_brace_term(out, depth);
    if (t.is_symbol("(")) {
      advance();
      if (is_type_hint_start()) {
        TypeHint hint;
        if (!parse_type_text(hint.type_text, depth + 1)) return false;
        if (!expect_symbol(")")) return false;
        if (!parse_term(*hint.term, depth + 1)) return false;
        out.value = std::move(hint);
        return true;
      }
      TupleLiteral tuple;
      do {
        if (!parse_term(tuple.elements.emplace_back(), depth + 1)) return false;
      } while (accept_symbol(","));
      if (!expect_symbol(")")) return false;
      out.value = std::move(tuple);
      return true;
    }
    return no_viable(t);
  }

  // After '(': a name that is not a constant word and not a function call starts a type.
  bool is_type_hint_start() const {
    const CqlToken& t = peek();
    if (!is_name_token(t) || is_constant_word(t)) return false;
    return !is_function_start();
  }

  bool parse_brace_term(Term& out, int depth) {
    advance();  // '{'
    if (accept_symbol("}")) {
      out.value = MapLiteral{};
      return true;
    }
    // An identifier key followed by ':' is a UDT field; true/false/null are map keys.
    if (is_name_token(peek()) && !is_constant_word(peek()) && peek(1).is_symbol(":")) {
      UdtLiteral udt;
      do {
        UdtField& field = udt.fields.emplace_back();
        if (!parse_name(field.name)) return false;
        if (!expect_symbol(":")) return false;
        if (!parse_term(field.value, depth + 1)) return false;
      } while (accept_symbol(","));
      if (!expect_symbol("}")) return false;
      out.value = std::move(udt);
      return true;
    }
    Term first;
    if (!parse_term(first, depth + 1)) return false;
    if (accept_symbol(":")) {
      MapLiteral map;
      MapEntry& entry = map.entries.emplace_back();
      entry.key = std::move(first);
      if (!parse_term(entry.value, depth + 1)) return false;
      while (accept_symbol(",")) {
        MapEntry& e = map.entries.emplace_back();
        if (!parse_term(e.key, depth + 1)) return false;
        if (!expect_symbol(":")) return false;
        if (!parse_term(e.value, depth + 1)) return false;
      }
      if (!expect_symbol("}")) return false;
      out.value = std::move(map);
      return true;
    }
    SetLiteral set;
    set.elements.push_back(std::move(first));
    while (accept_symbol(",")) {
      if (!parse_term(set.elements.emplace_back(), depth + 1)) return false;
    }
    if (!expect_symbol("}")) return false;
    out.value = std::move(set);
    return true;
  }

  bool parse_term_list(std::vector<Term>& out) {  // '(' [t1, t2 ...] ')'
    if (!expect_symbol("(")) return false;
    if (accept_symbol(")")) return true;
    do {
      if (!parse_term(out.emplace_back())) return false;
    } while (accept_symbol(","));
    return expect_symbol(")");
  }

  // ----------------------------------------------------------------------------------------
  // Shared clauses

  bool parse_using(UsingClause& out) {  // after USING
    do {
      if (accept_keyword("ttl")) {
        if (!parse_term(out.ttl.emplace())) return false;
      } else if (accept_keyword("timestamp")) {
        if (!parse_term(out.timestamp.emplace())) return false;
      } else {
        return mismatch(peek(), "TTL or TIMESTAMP");
      }
    } while (accept_keyword("and"));
    return true;
  }

  bool parse_operator(Operator& op) {
    const CqlToken& t = peek();
    if (t.kind != CqlTokenKind::Symbol) return no_viable(t);
    if (t.text == "=") {
      op = Operator::Eq;
    } else if (t.text == "<") {
      op = Operator::Lt;
    } else if (t.text == "<=") {
      op = Operator::Le;
    } else if (t.text == ">") {
      op = Operator::Gt;
    } else if (t.text == ">=") {
      op = Operator::Ge;
    } else if (t.text == "!=") {
      op = Operator::Ne;
    } else {
      return no_viable(t);
    }
    advance();
    return true;
  }

  // IN ( ... ) | IN ? : fills in_values / value+in_marker.
  bool parse_in_rhs(Term& value, std::vector<Term>& in_values, bool& in_marker) {
    if (starts_bind_marker(peek(), peek(1))) {
      in_marker = true;
      return parse_bind_marker(value);
    }
    return parse_term_list(in_values);
  }

  // Operator and right-hand side shared by WHERE relations and IF conditions.
  bool parse_predicate(Operator& op, Term& value, std::vector<Term>& in_values, bool& in_marker) {
    if (accept_keyword("in")) {
      op = Operator::In;
      return parse_in_rhs(value, in_values, in_marker);
    }
    if (accept_keyword("contains")) {
      op = accept_keyword("key") ? Operator::ContainsKey : Operator::Contains;
      return parse_term(value);
    }
    if (accept_keyword("like")) {
      op = Operator::Like;
      return parse_term(value);
    }
    if (peek().is_keyword("is")) {
      advance();
      if (!expect_keyword("not")) return false;
      if (!expect_keyword("null")) return false;
      op = Operator::IsNotNull;
      return true;
    }
    if (!parse_operator(op)) return false;
    return parse_term(value);
  }

  bool parse_relation(Relation& out) {
    if (peek().is_keyword("token") && peek(1).is_symbol("(")) {
      advance();
      out.kind = Relation::Kind::Token;
      if (!parse_name_list(out.columns)) return false;
      if (!parse_operator(out.op)) return false;
      return parse_term(out.value);
    }
    if (peek().is_symbol("(")) {
      out.kind = Relation::Kind::MultiColumn;
      if (!parse_name_list(out.columns)) return false;
      if (accept_keyword("in")) {
        out.op = Operator::In;
        return parse_in_rhs(out.value, out.in_values, out.in_marker);
      }
      if (!parse_operator(out.op)) return false;
      return parse_term(out.value);
    }
    if (!parse_name(out.columns.emplace_back())) return false;
    if (accept_symbol("[")) {
      out.kind = Relation::Kind::Element;
      if (!parse_term(out.element_key.emplace())) return false;
      if (!expect_symbol("]")) return false;
      if (!parse_operator(out.op)) return false;
      return parse_term(out.value);
    }
    return parse_predicate(out.op, out.value, out.in_values, out.in_marker);
  }

  bool parse_where(std::vector<Relation>& out) {  // after WHERE
    do {
      if (!parse_relation(out.emplace_back())) return false;
    } while (accept_keyword("and"));
    return true;
  }

  bool parse_condition(Condition& out) {
    if (!parse_name(out.column)) return false;
    if (accept_symbol("[")) {
      if (!parse_term(out.element_key.emplace())) return false;
      if (!expect_symbol("]")) return false;
    } else if (accept_symbol(".")) {
      if (!parse_name(out.field)) return false;
    }
    return parse_predicate(out.op, out.value, out.in_values, out.in_marker);
  }

  // [IF EXISTS | IF cond AND ...]
  bool parse_conditions(bool& if_exists, std::vector<Condition>& conditions) {
    if (!accept_keyword("if")) return true;
    if (peek().is_keyword("exists") && !peek(1).is_symbol("[") && !peek(1).is_symbol(".") &&
        !is_operator_start(peek(1))) {
      advance();
      if_exists = true;
      return true;
    }
    do {
      if (!parse_condition(conditions.emplace_back())) return false;
    } while (accept_keyword("and"));
    return true;
  }

  static bool is_operator_start(const CqlToken& t) {
    return t.kind == CqlTokenKind::Symbol && (t.text == "=" || t.text == "<" || t.text == "<=" ||
                                              t.text == ">" || t.text == ">=" || t.text == "!=");
  }

  // Properties: name = constant | {map}, joined by AND (WITH already consumed).
  bool parse_property_value(Literal& out) {
    const CqlToken& t = peek();
    if (t.is(CqlTokenKind::Identifier) && !is_constant_word(t)) {
      out = literal(LiteralKind::String,
                    std::string(advance().text));  // e.g. ALL, NONE
      return true;
    }
    Term term;
    const CqlToken& at = peek();
    if (!parse_term(term)) return false;
    auto* lit = std::get_if<Literal>(&term.value);
    if (lit == nullptr) return no_viable(at);
    out = std::move(*lit);
    return true;
  }

  bool parse_property(Property& out) {
    if (!parse_name(out.name)) return false;
    if (!expect_symbol("=")) return false;
    if (accept_symbol("{")) {
      out.is_map = true;
      if (accept_symbol("}")) return true;
      do {
        PropertyMapEntry& e = out.map.emplace_back();
        if (!parse_property_value(e.key)) return false;
        if (!expect_symbol(":")) return false;
        if (!parse_property_value(e.value)) return false;
      } while (accept_symbol(","));
      return expect_symbol("}");
    }
    return parse_property_value(out.value);
  }

  bool parse_properties(std::vector<Property>& out) {
    do {
      if (!parse_property(out.emplace_back())) return false;
    } while (accept_keyword("and"));
    return true;
  }

  // ----------------------------------------------------------------------------------------
  // Statements

  bool parse_statement(Statement& out) {
    const CqlToken& t = peek();
    if (t.is_keyword("select")) return parse_select(out.body.emplace<Select>());
    if (t.is_keyword("insert")) return parse_insert(out.body.emplace<Insert>());
    if (t.is_keyword("update")) return parse_update(out.body.emplace<Update>());
    if (t.is_keyword("delete")) return parse_delete(out.body.emplace<Delete>());
    if (t.is_keyword("begin")) return parse_batch(out.body.emplace<Batch>());
    if (t.is_keyword("use")) {
      advance();
      return parse_name(out.body.emplace<UseStatement>().keyspace);
    }
    if (t.is_keyword("create")) return parse_create(out);
    if (t.is_keyword("alter")) return parse_alter(out);
    if (t.is_keyword("drop")) return parse_drop(out);
    if (t.is_keyword("truncate")) {
      advance();
      if (!accept_keyword("table")) accept_keyword("columnfamily");
      return parse_qualified(out.body.emplace<Truncate>().table);
    }
    if (t.is_keyword("grant") || t.is_keyword("revoke") || t.is_keyword("list")) {
      return unsupported(out, uppercase(t.text));
    }
    if (t.is_keyword("describe") || t.is_keyword("desc")) return unsupported(out, "DESCRIBE");
    return no_viable(t);
  }

  // Recognised but not implemented: the rest of the statement is not checked.
  bool unsupported(Statement& out, std::string kind) {
    out.body.emplace<Unsupported>().kind = std::move(kind);
    while (!peek().is(CqlTokenKind::End)) advance();
    return true;
  }

  // SELECT
  // ---------------------------------------------------------------------------------

  bool parse_select(Select& out) {
    advance();  // SELECT
    // JSON / DISTINCT are modifiers unless they are the selected column itself.
    auto modifier = [&](std::string_view kw) {
      if (!peek().is_keyword(kw)) return false;
      const CqlToken& n = peek(1);
      if (n.is_keyword("from") || n.is_symbol(",") || n.is_keyword("as") || n.is_symbol("(") ||
          n.is_symbol(".") || n.is_symbol("[")) {
        return false;
      }
      advance();
      return true;
    };
    out.json = modifier("json");
    out.distinct = modifier("distinct");
    if (accept_symbol("*")) {
      out.select_all = true;
    } else {
      do {
        Selector& sel = out.selectors.emplace_back();
        if (!parse_selector(sel, 0)) return false;
        if (accept_keyword("as")) {
          if (!parse_name(sel.alias)) return false;
        }
      } while (accept_symbol(","));
    }
    if (!expect_keyword("from")) return false;
    if (!parse_qualified(out.table)) return false;
    if (accept_keyword("where")) {
      if (!parse_where(out.where)) return false;
    }
    if (peek().is_keyword("group") && peek(1).is_keyword("by")) {
      advance();
      advance();
      do {
        if (!parse_name(out.group_by.emplace_back())) return false;
      } while (accept_symbol(","));
    }
    if (peek().is_keyword("order") && peek(1).is_keyword("by")) {
      advance();
      advance();
      do {
        Ordering& o = out.order_by.emplace_back();
        if (!parse_name(o.column)) return false;
        if (accept_keyword("desc")) {
          o.descending = true;
        } else {
          accept_keyword("asc");
        }
      } while (accept_symbol(","));
    }
    if (peek().is_keyword("per")) {
      advance();
      if (!expect_keyword("partition")) return false;
      if (!expect_keyword("limit")) return false;
      if (!parse_term(out.per_partition_limit.emplace())) return false;
    }
    if (accept_keyword("limit")) {
      if (!parse_term(out.limit.emplace())) return false;
    }
    if (accept_keyword("allow")) {
      if (!expect_keyword("filtering")) return false;
      out.allow_filtering = true;
    }
    return true;
  }

  bool parse_selector(Selector& out, int depth) {
    if (depth > kMaxCqlNestingDepth) return too_deep(peek());
    if (!parse_selector_base(out, depth)) return false;
    for (;;) {
      if (peek().is_symbol(".") && is_name_token(peek(1))) {
        advance();
        FieldSelector field;
        field.base = Selector{std::move(out.value), {}};
        if (!parse_name(field.field)) return false;
        out.value = std::move(field);
      } else if (accept_symbol("[")) {
        ElementSelector element;
        element.base = Selector{std::move(out.value), {}};
        if (!parse_term(element.key)) return false;
        if (!expect_symbol("]")) return false;
        out.value = std::move(element);
      } else {
        return true;
      }
    }
  }

  bool parse_selector_base(Selector& out, int depth) {
    const CqlToken& t = peek();
    if (is_name_token(t) && !is_constant_word(t)) {
      if (t.is(CqlTokenKind::Identifier) && peek(1).is_symbol("(")) {
        if (t.is_keyword("cast")) return parse_cast(out, depth);
        WritetimeSelector::Kind kind{};
        if (t.is_keyword("writetime")) {
          kind = WritetimeSelector::Kind::Writetime;
        } else if (t.is_keyword("ttl")) {
          kind = WritetimeSelector::Kind::Ttl;
        } else if (t.is_keyword("maxwritetime")) {
          kind = WritetimeSelector::Kind::MaxWritetime;
        } else {
          return parse_function_selector(out, depth);
        }
        advance();
        advance();  // '('
        WritetimeSelector wt{kind, {}};
        if (!parse_name(wt.column)) return false;
        if (!expect_symbol(")")) return false;
        out.value = std::move(wt);
        return true;
      }
      if (is_function_start()) return parse_function_selector(out, depth);
      ColumnSelector column;
      if (!parse_name(column.name)) return false;
      out.value = std::move(column);
      return true;
    }
    TermSelector term;
    if (!parse_term(term.term, depth + 1)) return false;
    out.value = std::move(term);
    return true;
  }

  bool parse_cast(Selector& out, int depth) {
    advance();  // CAST
    advance();  // '('
    CastSelector cast;
    if (!parse_selector(*cast.arg, depth + 1)) return false;
    if (!expect_keyword("as")) return false;
    std::string type;
    if (!parse_type_text(type, depth + 1)) return false;
    cast.type_text = lowercase(type);
    if (!expect_symbol(")")) return false;
    out.value = std::move(cast);
    return true;
  }

  bool parse_function_selector(Selector& out, int depth) {
    FunctionSelector fn;
    if (!parse_function_name(fn.keyspace, fn.name)) return false;
    if (!expect_symbol("(")) return false;
    if (accept_symbol("*")) {
      fn.star = true;
    } else if (!peek().is_symbol(")")) {
      do {
        if (!parse_selector(fn.args.emplace_back(), depth + 1)) return false;
      } while (accept_symbol(","));
    }
    if (!expect_symbol(")")) return false;
    out.value = std::move(fn);
    return true;
  }

  // INSERT
  // ---------------------------------------------------------------------------------

  bool parse_insert(Insert& out) {
    advance();  // INSERT
    if (!expect_keyword("into")) return false;
    if (!parse_qualified(out.table)) return false;
    if (accept_keyword("json")) {
      out.json = true;
      const CqlToken& t = peek();
      if (!t.is(CqlTokenKind::String) && !t.is(CqlTokenKind::DollarString) &&
          !starts_bind_marker(t, peek(1))) {
        return mismatch(t, "a JSON string or bind marker");
      }
      if (!parse_term(out.json_value.emplace())) return false;
      if (accept_keyword("default")) {
        if (accept_keyword("unset")) {
          out.json_default_unset = true;
        } else if (!accept_keyword("null")) {
          return mismatch(peek(), "NULL or UNSET");
        }
      }
    } else {
      if (!parse_name_list(out.columns)) return false;
      if (!expect_keyword("values")) return false;
      const CqlToken& at = peek();
      if (!parse_term_list(out.values)) return false;
      if (out.values.size() != out.columns.size()) {
        set_error(at, "unmatched column names/values: " + std::to_string(out.columns.size()) +
                          " columns, " + std::to_string(out.values.size()) + " values");
        return false;
      }
    }
    if (!parse_if_not_exists(out.if_not_exists)) return false;
    if (accept_keyword("using")) return parse_using(out.using_clause);
    return true;
  }

  // UPDATE
  // ---------------------------------------------------------------------------------

  bool parse_update(Update& out) {
    advance();  // UPDATE
    if (!parse_qualified(out.table)) return false;
    if (accept_keyword("using")) {
      if (!parse_using(out.using_clause)) return false;
    }
    if (!expect_keyword("set")) return false;
    do {
      if (!parse_assignment(out.assignments.emplace_back())) return false;
    } while (accept_symbol(","));
    if (!expect_keyword("where")) return false;
    if (!parse_where(out.where)) return false;
    return parse_conditions(out.if_exists, out.conditions);
  }

  bool parse_assignment(Assignment& out) {
    if (!parse_name(out.column)) return false;
    if (accept_symbol("[")) {
      out.kind = Assignment::Kind::SetElement;
      if (!parse_term(out.key.emplace())) return false;
      if (!expect_symbol("]")) return false;
      if (!expect_symbol("=")) return false;
      return parse_term(out.value);
    }
    if (accept_symbol(".")) {
      out.kind = Assignment::Kind::SetField;
      if (!parse_name(out.field)) return false;
      if (!expect_symbol("=")) return false;
      return parse_term(out.value);
    }
    // c += t / c -= t
    if ((peek().is_symbol("+") || peek().is_symbol("-")) && peek(1).is_symbol("=")) {
      out.kind = advance().text == "+" ? Assignment::Kind::Add : Assignment::Kind::Subtract;
      advance();
      return parse_term(out.value);
    }
    if (!expect_symbol("=")) return false;
    // c = c + t / c = c - t: a bare name (not a constant word, not a call) on the right.
    const CqlToken& rhs = peek();
    if (is_name_token(rhs) && !is_constant_word(rhs) && !is_function_start()) {
      std::string other;
      parse_name(other);
      if (other != out.column) return no_viable(rhs);
      const CqlToken& op = peek();
      if (op.is_symbol("+") || op.is_symbol("-")) {
        out.kind = op.text == "+" ? Assignment::Kind::Add : Assignment::Kind::Subtract;
        advance();
        return parse_term(out.value);
      }
      // "c = c -1": the lexer glued the minus to the number.
      if ((op.is(CqlTokenKind::Integer) || op.is(CqlTokenKind::Float)) && !op.text.empty() &&
          op.text.front() == '-') {
        out.kind = Assignment::Kind::Subtract;
        const LiteralKind kind =
            op.is(CqlTokenKind::Integer) ? LiteralKind::Integer : LiteralKind::Float;
        out.value.value = literal(kind, std::string(advance().text.substr(1)));
        return true;
      }
      return mismatch(op, "'+' or '-'");
    }
    if (!parse_term(out.value)) return false;
    if (accept_symbol("+")) {  // c = t + c (list prepend)
      const CqlToken& at = peek();
      std::string other;
      if (!parse_name(other)) return false;
      if (other != out.column) return no_viable(at);
      out.kind = Assignment::Kind::Prepend;
      return true;
    }
    out.kind = Assignment::Kind::Set;
    return true;
  }

  // DELETE
  // ---------------------------------------------------------------------------------

  bool parse_delete(Delete& out) {
    advance();  // DELETE
    if (!peek().is_keyword("from") || peek(1).is_symbol(",") || peek(1).is_symbol("[") ||
        peek(1).is_keyword("from")) {
      do {
        DeleteTarget& target = out.targets.emplace_back();
        if (!parse_name(target.column)) return false;
        if (accept_symbol("[")) {
          if (!parse_term(target.key.emplace())) return false;
          if (!expect_symbol("]")) return false;
        } else if (peek().is_symbol(".") && is_name_token(peek(1))) {
          advance();
          if (!parse_name(target.field)) return false;
        }
      } while (accept_symbol(","));
    }
    if (!expect_keyword("from")) return false;
    if (!parse_qualified(out.table)) return false;
    if (accept_keyword("using")) {
      if (!parse_using(out.using_clause)) return false;
    }
    if (!expect_keyword("where")) return false;
    if (!parse_where(out.where)) return false;
    return parse_conditions(out.if_exists, out.conditions);
  }

  // BATCH
  // ----------------------------------------------------------------------------------

  bool parse_batch(Batch& out) {
    advance();  // BEGIN
    if (accept_keyword("unlogged")) {
      out.type = Batch::Type::Unlogged;
    } else if (accept_keyword("counter")) {
      out.type = Batch::Type::Counter;
    }
    if (!expect_keyword("batch")) return false;
    if (accept_keyword("using")) {
      if (!parse_using(out.using_clause)) return false;
    }
    for (;;) {
      const CqlToken& t = peek();
      if (t.is_keyword("apply")) break;
      if (t.is_keyword("insert")) {
        if (!parse_insert(out.statements.emplace_back().emplace<Insert>())) return false;
      } else if (t.is_keyword("update")) {
        if (!parse_update(out.statements.emplace_back().emplace<Update>())) return false;
      } else if (t.is_keyword("delete")) {
        if (!parse_delete(out.statements.emplace_back().emplace<Delete>())) return false;
      } else {
        return mismatch(t, "INSERT, UPDATE, DELETE or APPLY");
      }
      while (accept_symbol(";")) {
      }
    }
    advance();  // APPLY
    return expect_keyword("batch");
  }

  // CREATE / ALTER / DROP
  // ------------------------------------------------------------------

  bool parse_create(Statement& out) {
    advance();  // CREATE
    if (peek().is_keyword("or") && peek(1).is_keyword("replace")) {
      advance();
      advance();
      if (peek().is_keyword("function")) return unsupported(out, "CREATE FUNCTION");
      if (peek().is_keyword("aggregate")) return unsupported(out, "CREATE AGGREGATE");
      return mismatch(peek(), "FUNCTION or AGGREGATE");
    }
    const CqlToken& t = peek();
    if (t.is_keyword("keyspace") || t.is_keyword("schema")) {
      advance();
      auto& ks = out.body.emplace<CreateKeyspace>();
      if (!parse_if_not_exists(ks.if_not_exists)) return false;
      if (!parse_name(ks.keyspace)) return false;
      if (!expect_keyword("with")) return false;
      return parse_properties(ks.properties);
    }
    if (t.is_keyword("table") || t.is_keyword("columnfamily")) {
      advance();
      return parse_create_table(out.body.emplace<CreateTable>());
    }
    if (t.is_keyword("type")) {
      advance();
      auto& type = out.body.emplace<CreateType>();
      if (!parse_if_not_exists(type.if_not_exists)) return false;
      if (!parse_qualified(type.type)) return false;
      if (!expect_symbol("(")) return false;
      do {
        if (!parse_column_decl(type.fields.emplace_back())) return false;
      } while (accept_symbol(","));
      return expect_symbol(")");
    }
    if (t.is_keyword("index") || t.is_keyword("custom")) return unsupported(out, "CREATE INDEX");
    if (t.is_keyword("materialized")) return unsupported(out, "CREATE MATERIALIZED VIEW");
    if (t.is_keyword("function")) return unsupported(out, "CREATE FUNCTION");
    if (t.is_keyword("aggregate")) return unsupported(out, "CREATE AGGREGATE");
    if (t.is_keyword("trigger")) return unsupported(out, "CREATE TRIGGER");
    if (t.is_keyword("role")) return unsupported(out, "CREATE ROLE");
    if (t.is_keyword("user")) return unsupported(out, "CREATE USER");
    return no_viable(t);
  }

  bool parse_create_table(CreateTable& out) {
    if (!parse_if_not_exists(out.if_not_exists)) return false;
    if (!parse_qualified(out.table)) return false;
    if (!expect_symbol("(")) return false;
    bool have_key = false;
    do {
      if (peek().is_keyword("primary") && peek(1).is_keyword("key")) {
        const CqlToken& at = peek();
        advance();
        advance();
        if (have_key) {
          set_error(at, "multiple PRIMARY KEYs specified at input 'PRIMARY'");
          return false;
        }
        have_key = true;
        if (!parse_primary_key_clause(out)) return false;
        continue;
      }
      ColumnDecl& col = out.columns.emplace_back();
      if (!parse_column_decl(col)) return false;
      if (accept_keyword("static")) col.is_static = true;
      if (peek().is_keyword("primary")) {
        const CqlToken& at = advance();
        if (!expect_keyword("key")) return false;
        if (have_key) {
          set_error(at, "multiple PRIMARY KEYs specified at input 'PRIMARY'");
          return false;
        }
        have_key = true;
        col.primary_key = true;
        out.partition_key.push_back(col.name);
      }
    } while (accept_symbol(","));
    if (!expect_symbol(")")) return false;
    if (!accept_keyword("with")) return true;
    do {
      if (peek().is_keyword("compact") && peek(1).is_keyword("storage")) {
        advance();
        advance();
        out.compact_storage = true;
      } else if (peek().is_keyword("clustering") && peek(1).is_keyword("order")) {
        advance();
        advance();
        if (!expect_keyword("by")) return false;
        if (!expect_symbol("(")) return false;
        do {
          ClusteringOrder& order = out.clustering_order.emplace_back();
          if (!parse_name(order.column)) return false;
          if (accept_keyword("desc")) {
            order.descending = true;
          } else if (!accept_keyword("asc")) {
            return mismatch(peek(), "ASC or DESC");
          }
        } while (accept_symbol(","));
        if (!expect_symbol(")")) return false;
      } else {
        if (!parse_property(out.properties.emplace_back())) return false;
      }
    } while (accept_keyword("and"));
    return true;
  }

  // After PRIMARY KEY: '(' (pk | '(' pk, ... ')') [, ck ...] ')'
  bool parse_primary_key_clause(CreateTable& out) {
    if (!expect_symbol("(")) return false;
    if (peek().is_symbol("(")) {
      if (!parse_name_list(out.partition_key)) return false;
    } else if (!parse_name(out.partition_key.emplace_back())) {
      return false;
    }
    while (accept_symbol(",")) {
      if (!parse_name(out.clustering_key.emplace_back())) return false;
    }
    return expect_symbol(")");
  }

  bool parse_alter(Statement& out) {
    advance();  // ALTER
    const CqlToken& t = peek();
    if (t.is_keyword("keyspace") || t.is_keyword("schema")) {
      advance();
      auto& ks = out.body.emplace<AlterKeyspace>();
      if (!parse_if_exists(ks.if_exists)) return false;
      if (!parse_name(ks.keyspace)) return false;
      if (!expect_keyword("with")) return false;
      return parse_properties(ks.properties);
    }
    if (t.is_keyword("table") || t.is_keyword("columnfamily")) {
      advance();
      return parse_alter_table(out.body.emplace<AlterTable>());
    }
    if (t.is_keyword("type")) {
      advance();
      return parse_alter_type(out.body.emplace<AlterType>());
    }
    if (t.is_keyword("materialized")) return unsupported(out, "ALTER MATERIALIZED VIEW");
    if (t.is_keyword("role")) return unsupported(out, "ALTER ROLE");
    if (t.is_keyword("user")) return unsupported(out, "ALTER USER");
    return no_viable(t);
  }

  bool parse_renames(std::vector<std::pair<std::string, std::string>>& out) {
    do {
      auto& r = out.emplace_back();
      if (!parse_name(r.first)) return false;
      if (!expect_keyword("to")) return false;
      if (!parse_name(r.second)) return false;
    } while (accept_keyword("and"));
    return true;
  }

  bool parse_alter_table(AlterTable& out) {
    if (!parse_if_exists(out.if_exists)) return false;
    if (!parse_qualified(out.table)) return false;
    if (accept_keyword("add")) {
      out.kind = AlterTable::Kind::Add;
      if (!parse_if_not_exists(out.if_column_exists)) return false;
      const bool parens = accept_symbol("(");
      do {
        ColumnDecl& col = out.added.emplace_back();
        if (!parse_column_decl(col)) return false;
        if (accept_keyword("static")) col.is_static = true;
      } while (accept_symbol(","));
      return !parens || expect_symbol(")");
    }
    if (accept_keyword("drop")) {
      out.kind = AlterTable::Kind::Drop;
      if (!parse_if_exists(out.if_column_exists)) return false;
      if (peek().is_symbol("(")) {
        if (!parse_name_list(out.dropped)) return false;
      } else {
        do {
          if (!parse_name(out.dropped.emplace_back())) return false;
        } while (accept_symbol(","));
      }
      if (accept_keyword("using")) {
        if (!expect_keyword("timestamp")) return false;
        if (!parse_term(out.drop_timestamp.emplace())) return false;
      }
      return true;
    }
    if (accept_keyword("alter")) {
      out.kind = AlterTable::Kind::AlterType;
      ColumnDecl& col = out.added.emplace_back();
      if (!parse_name(col.name)) return false;
      if (!expect_keyword("type")) return false;
      if (!parse_type_text(col.type_text)) return false;
      fill_type(col);
      return true;
    }
    if (accept_keyword("rename")) {
      out.kind = AlterTable::Kind::Rename;
      if (!parse_if_exists(out.if_column_exists)) return false;
      return parse_renames(out.renames);
    }
    if (accept_keyword("with")) {
      out.kind = AlterTable::Kind::Properties;
      return parse_properties(out.properties);
    }
    return mismatch(peek(), "ADD, DROP, ALTER, RENAME or WITH");
  }

  bool parse_alter_type(AlterType& out) {
    if (!parse_qualified(out.type)) return false;
    if (accept_keyword("add")) {
      out.kind = AlterType::Kind::Add;
      return parse_column_decl(out.added.emplace_back());
    }
    if (accept_keyword("rename")) {
      out.kind = AlterType::Kind::Rename;
      return parse_renames(out.renames);
    }
    return mismatch(peek(), "ADD or RENAME");
  }

  bool parse_drop(Statement& out) {
    advance();  // DROP
    const CqlToken& t = peek();
    if (t.is_keyword("keyspace") || t.is_keyword("schema")) {
      advance();
      auto& ks = out.body.emplace<DropKeyspace>();
      if (!parse_if_exists(ks.if_exists)) return false;
      return parse_name(ks.keyspace);
    }
    if (t.is_keyword("table") || t.is_keyword("columnfamily")) {
      advance();
      auto& table = out.body.emplace<DropTable>();
      if (!parse_if_exists(table.if_exists)) return false;
      return parse_qualified(table.table);
    }
    if (t.is_keyword("type")) {
      advance();
      auto& type = out.body.emplace<DropType>();
      if (!parse_if_exists(type.if_exists)) return false;
      return parse_qualified(type.type);
    }
    if (t.is_keyword("index")) return unsupported(out, "DROP INDEX");
    if (t.is_keyword("materialized")) return unsupported(out, "DROP MATERIALIZED VIEW");
    if (t.is_keyword("function")) return unsupported(out, "DROP FUNCTION");
    if (t.is_keyword("aggregate")) return unsupported(out, "DROP AGGREGATE");
    if (t.is_keyword("trigger")) return unsupported(out, "DROP TRIGGER");
    if (t.is_keyword("role")) return unsupported(out, "DROP ROLE");
    if (t.is_keyword("user")) return unsupported(out, "DROP USER");
    return no_viable(t);
  }

  std::string_view text_;
  std::vector<CqlToken> tokens_;
  size_t pos_ = 0;
  std::vector<BindMarker> markers_;
  bool failed_ = false;
  Error error_{Errc::Malformed, {}};
};

}  // namespace

Result<cql::Statement> parse_cql(std::string_view text) { return Parser(text).run(); }

std::string_view statement_kind_name(const cql::Statement& statement) {
  struct Namer {
    std::string_view operator()(const cql::Select&) const { return "SELECT"; }
    std::string_view operator()(const cql::Insert&) const { return "INSERT"; }
    std::string_view operator()(const cql::Update&) const { return "UPDATE"; }
    std::string_view operator()(const cql::Delete&) const { return "DELETE"; }
    std::string_view operator()(const cql::Batch&) const { return "BATCH"; }
    std::string_view operator()(const cql::UseStatement&) const { return "USE"; }
    std::string_view operator()(const cql::CreateKeyspace&) const { return "CREATE KEYSPACE"; }
    std::string_view operator()(const cql::AlterKeyspace&) const { return "ALTER KEYSPACE"; }
    std::string_view operator()(const cql::DropKeyspace&) const { return "DROP KEYSPACE"; }
    std::string_view operator()(const cql::CreateTable&) const { return "CREATE TABLE"; }
    std::string_view operator()(const cql::AlterTable&) const { return "ALTER TABLE"; }
    std::string_view operator()(const cql::DropTable&) const { return "DROP TABLE"; }
    std::string_view operator()(const cql::Truncate&) const { return "TRUNCATE"; }
    std::string_view operator()(const cql::CreateType&) const { return "CREATE TYPE"; }
    std::string_view operator()(const cql::AlterType&) const { return "ALTER TYPE"; }
    std::string_view operator()(const cql::DropType&) const { return "DROP TYPE"; }
    std::string_view operator()(const cql::Unsupported& u) const { return u.kind; }
  };
  return std::visit(Namer{}, statement.body);
}

}  // namespace zdm::node
