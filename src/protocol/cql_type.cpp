#include "protocol/cql_type.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace zdm::protocol {

namespace {

constexpr int kMaxTypeDepth = 64;

struct NativeName {
  TypeId id;
  std::string_view cql;
  std::string_view marshal;
};

// CQL names and marshal classes of the native types; the first match wins when formatting.
constexpr std::array<NativeName, 20> kNatives{{
    {TypeId::Ascii, "ascii", "AsciiType"},
    {TypeId::Bigint, "bigint", "LongType"},
    {TypeId::Blob, "blob", "BytesType"},
    {TypeId::Boolean, "boolean", "BooleanType"},
    {TypeId::Counter, "counter", "CounterColumnType"},
    {TypeId::Decimal, "decimal", "DecimalType"},
    {TypeId::Double, "double", "DoubleType"},
    {TypeId::Float, "float", "FloatType"},
    {TypeId::Int, "int", "Int32Type"},
    {TypeId::Timestamp, "timestamp", "TimestampType"},
    {TypeId::Uuid, "uuid", "UUIDType"},
    {TypeId::Varchar, "text", "UTF8Type"},
    {TypeId::Varint, "varint", "IntegerType"},
    {TypeId::Timeuuid, "timeuuid", "TimeUUIDType"},
    {TypeId::Inet, "inet", "InetAddressType"},
    {TypeId::Date, "date", "SimpleDateType"},
    {TypeId::Time, "time", "TimeType"},
    {TypeId::Smallint, "smallint", "ShortType"},
    {TypeId::Tinyint, "tinyint", "ByteType"},
    {TypeId::Duration, "duration", "DurationType"},
}};

const NativeName* native_by_id(TypeId id) {
  for (const auto& n : kNatives) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::optional<TypeId> native_by_cql(std::string_view name) {
  if (name == "varchar") return TypeId::Varchar;
  for (const auto& n : kNatives) {
    if (n.cql == name) return n.id;
  }
  return std::nullopt;
}

std::optional<TypeId> native_by_marshal(std::string_view name) {
  if (name == "DateType") return TypeId::Timestamp;  // the pre-2.0 name of timestamp
  for (const auto& n : kNatives) {
    if (n.marshal == name) return n.id;
  }
  return std::nullopt;
}

bool needs_frozen_when_nested(const DataType& t) {
  return t.is_collection() || t.id == TypeId::Udt;
}

std::string_view strip_prefix(std::string_view name) {
  if (name.substr(0, kMarshalPrefix.size()) == kMarshalPrefix)
    name.remove_prefix(kMarshalPrefix.size());
  return name;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

Result<uint32_t> parse_dimension(std::string_view digits, std::string_view where) {
  uint32_t dim = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), dim);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || dim == 0 ||
      dim > static_cast<uint32_t>(INT32_MAX)) {
    return fail(
        Errc::Malformed,
        fmt::format("vector dimension '{}' in {} is not a positive 32-bit integer", digits, where));
  }
  return dim;
}

// ---- composite types, shared by both syntaxes -----------------------------------------------

enum class Composite : uint8_t { List, Set, Transparent, Map, Tuple };

// The arguments of a composite type after its name, in either syntax: `ListType(x)` / `list<x>`,
// `MapType(k,v)` / `map<k, v>`, `TupleType(a,b,...)` / `tuple<a, b, ...>`; Transparent
// (FrozenType, ReversedType, frozen<>) returns its single argument. `Parser` provides eat(char),
// error(text) and parse_type(depth).
template <class Parser>
Result<DataType> parse_composite(Parser& p, Composite kind, std::string_view name, char open,
                                 char close, int depth) {
  if (!p.eat(open)) return p.error(fmt::format("expected '{}' after {}", open, name));
  std::vector<DataType> args;
  do {
    auto t = p.parse_type(depth + 1);
    if (!t) return t;
    args.push_back(std::move(*t));
  } while ((kind == Composite::Tuple || (kind == Composite::Map && args.size() < 2)) && p.eat(','));
  if (kind == Composite::Map && args.size() != 2) {
    return p.error("expected ',' between map key and value types");
  }
  if (!p.eat(close)) return p.error(fmt::format("expected '{}' to close {}", close, name));
  switch (kind) {
    case Composite::List:
      return DataType::list_of(std::move(args[0]));
    case Composite::Set:
      return DataType::set_of(std::move(args[0]));
    case Composite::Map:
      return DataType::map_of(std::move(args[0]), std::move(args[1]));
    case Composite::Tuple:
      return DataType::tuple_of(std::move(args));
    case Composite::Transparent:
      break;
  }
  return std::move(args[0]);
}

std::optional<Composite> marshal_composite(std::string_view name) {
  if (name == "ListType") return Composite::List;
  if (name == "SetType") return Composite::Set;
  if (name == "MapType") return Composite::Map;
  if (name == "TupleType") return Composite::Tuple;
  if (name == "FrozenType" || name == "ReversedType") return Composite::Transparent;
  return std::nullopt;
}

std::optional<Composite> cql_composite(std::string_view name) {
  if (name == "list") return Composite::List;
  if (name == "set") return Composite::Set;
  if (name == "map") return Composite::Map;
  if (name == "tuple") return Composite::Tuple;
  if (name == "frozen") return Composite::Transparent;
  return std::nullopt;
}

// A position in a type's text, for both syntaxes: whitespace, single-character tokens, and errors
// that quote the text and the offset (`syntax` names the syntax in them).
class TypeCursor {
 protected:
  TypeCursor(std::string_view text, std::string_view syntax) : s_(text), syntax_(syntax) {}

  void skip_ws() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  [[gnu::cold]] tl::unexpected<Error> error(std::string_view what) const {
    return fail(Errc::Malformed, fmt::format("{} '{}': {} at offset {}", syntax_, s_, what, pos_));
  }

  std::string_view s_;
  std::string_view syntax_;
  size_t pos_ = 0;
};

// ---- marshal class names -------------------------------------------------------------------

class MarshalParser : private TypeCursor {
 public:
  explicit MarshalParser(std::string_view text) : TypeCursor(text, "marshal class name") {}

  Result<DataType> parse_all() {
    auto t = parse_type(0);
    if (!t) return t;
    skip_ws();
    if (pos_ != s_.size()) return error("unexpected text after the type");
    return t;
  }

  // After the name "VectorType": "(<element> , <dimension>)".
  Result<VectorInfo> parse_vector_args(int depth) {
    if (!eat('(')) return error("expected '(' after VectorType");
    auto element = parse_type(depth + 1);
    if (!element) return tl::unexpected(std::move(element.error()));
    if (!eat(',')) return error("expected ',' before the vector dimension");
    skip_ws();
    size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])) != 0) ++pos_;
    auto dim = parse_dimension(s_.substr(start, pos_ - start), "a VectorType class name");
    if (!dim) return tl::unexpected(std::move(dim.error()));
    if (!eat(')')) return error("expected ')' after the vector dimension");
    return VectorInfo{std::move(*element), *dim};
  }

  bool at_end() {
    skip_ws();
    return pos_ == s_.size();
  }

  // Positions the parser after a leading class name; returns it without the package prefix.
  std::string_view read_class_name() {
    skip_ws();
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '_' && c != '$') {
        break;
      }
      ++pos_;
    }
    return strip_prefix(s_.substr(start, pos_ - start));
  }

 private:
  template <class Parser>
  friend Result<DataType> parse_composite(Parser& p, Composite kind, std::string_view name,
                                          char open, char close, int depth);

  Result<DataType> parse_type(int depth) {
    if (depth > kMaxTypeDepth) {
      return fail(
          Errc::Malformed,
          fmt::format("type nesting exceeds {} levels in marshal class name", kMaxTypeDepth));
    }
    skip_ws();
    size_t start = pos_;
    std::string_view name = read_class_name();
    if (name.empty()) return error("expected a class name");
    if (auto id = native_by_marshal(name)) return DataType::simple(*id);
    if (auto kind = marshal_composite(name)) {
      return parse_composite(*this, *kind, name, '(', ')', depth);
    }
    if (name == "UserType") return parse_user_type(depth);
    if (name == "VectorType") {
      auto info = parse_vector_args(depth);
      if (!info) return tl::unexpected(std::move(info.error()));
      return vector_type(info->element, info->dimension);
    }
    // Unknown class: keep it, parameters included, as an opaque custom type.
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '(') {
      int open = 0;
      do {
        if (s_[pos_] == '(') ++open;
        if (s_[pos_] == ')') --open;
        ++pos_;
      } while (open > 0 && pos_ < s_.size());
      if (open != 0) return error("unbalanced parentheses");
    }
    std::string_view raw = s_.substr(start, pos_ - start);
    while (!raw.empty() && is_space(raw.back())) raw.remove_suffix(1);
    return DataType::custom(std::string(raw));
  }

  // UserType(<keyspace>,<hex name>,<hex field>:<type>,...)
  Result<DataType> parse_user_type(int depth) {
    if (!eat('(')) return error("expected '(' after UserType");
    DataType t = DataType::simple(TypeId::Udt);
    t.udt_keyspace = std::string(read_word());
    if (t.udt_keyspace.empty()) return error("expected a keyspace in UserType");
    if (!eat(',')) return error("expected ',' after the UserType keyspace");
    auto name = from_hex(read_word());
    if (!name || name->empty()) return error("expected a hex-encoded UserType name");
    t.udt_name.assign(name->begin(), name->end());
    while (eat(',')) {
      auto field = from_hex(read_word());
      if (!field) return error("expected a hex-encoded UserType field name");
      if (!eat(':')) return error("expected ':' after a UserType field name");
      auto ft = parse_type(depth + 1);
      if (!ft) return ft;
      t.field_names.emplace_back(field->begin(), field->end());
      t.params.push_back(std::move(*ft));
    }
    if (!eat(')')) return error("expected ')' to close UserType");
    return t;
  }

  std::string_view read_word() {
    skip_ws();
    size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) != 0 || s_[pos_] == '_')) {
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }
};

// ---- CQL type text -------------------------------------------------------------------------

class CqlTypeParser : private TypeCursor {
 public:
  CqlTypeParser(std::string_view text, const UdtResolver& resolver)
      : TypeCursor(text, "CQL type"), resolver_(resolver) {}

  Result<DataType> parse_all() {
    auto t = parse_type(0);
    if (!t) return t;
    skip_ws();
    if (pos_ != s_.size()) return error("unexpected text after the type");
    return t;
  }

 private:
  template <class Parser>
  friend Result<DataType> parse_composite(Parser& p, Composite kind, std::string_view name,
                                          char open, char close, int depth);

  enum class Tok { Ident, QuotedIdent, String, Number, Punct, End };
  struct Token {
    Tok kind = Tok::End;
    std::string text;  // identifiers lower-cased unless quoted; quotes removed and unescaped
  };

  Result<DataType> parse_type(int depth) {
    if (depth > kMaxTypeDepth) {
      return fail(Errc::Malformed,
                  fmt::format("type nesting exceeds {} levels in CQL type", kMaxTypeDepth));
    }
    auto tok = next();
    if (!tok) return tl::unexpected(std::move(tok.error()));
    if (tok->kind == Tok::String) {
      DataType custom = DataType::custom(tok->text);
      auto vec = vector_info(custom);
      if (!vec) return tl::unexpected(std::move(vec.error()));
      if (*vec) return vector_type((*vec)->element, (*vec)->dimension);
      return custom;
    }
    if (tok->kind == Tok::Ident) {
      const std::string& kw = tok->text;
      if (auto id = native_by_cql(kw)) return DataType::simple(*id);
      if (auto kind = cql_composite(kw)) return parse_composite(*this, *kind, kw, '<', '>', depth);
      if (kw == "vector") {
        if (!eat('<')) return error("expected '<' after vector");
        auto element = parse_type(depth + 1);
        if (!element) return element;
        if (!eat(',')) return error("expected ',' before the vector dimension");
        auto dim_tok = next();
        if (!dim_tok) return tl::unexpected(std::move(dim_tok.error()));
        if (dim_tok->kind != Tok::Number) return error("expected the vector dimension");
        auto dim = parse_dimension(dim_tok->text, "a vector<> type");
        if (!dim) return tl::unexpected(std::move(dim.error()));
        if (!eat('>')) return error("expected '>' to close vector<");
        return vector_type(*element, *dim);
      }
    }
    if (tok->kind == Tok::Ident || tok->kind == Tok::QuotedIdent) return resolve_udt(tok->text);
    return error(fmt::format("expected a type, found '{}'", tok->text));
  }

  Result<DataType> resolve_udt(std::string first) {
    std::string keyspace;
    std::string name = std::move(first);
    if (eat('.')) {
      auto tok = next();
      if (!tok) return tl::unexpected(std::move(tok.error()));
      if (tok->kind != Tok::Ident && tok->kind != Tok::QuotedIdent) {
        return error("expected a type name after the keyspace");
      }
      keyspace = std::move(name);
      name = std::move(tok->text);
    }
    if (!resolver_) {
      return fail(
          Errc::Unsupported,
          fmt::format("CQL type '{}': user type '{}' cannot be resolved (no resolver)", s_, name));
    }
    auto udt = resolver_(keyspace, name);
    if (!udt) {
      return fail(Errc::Unsupported, fmt::format("CQL type '{}': unknown user type '{}{}{}'", s_,
                                                 keyspace, keyspace.empty() ? "" : ".", name));
    }
    return std::move(*udt);
  }

  Result<Token> next() {
    skip_ws();
    Token t;
    if (pos_ == s_.size()) return t;
    char c = s_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_') {
      size_t start = pos_;
      while (pos_ < s_.size() &&
             (std::isalnum(static_cast<unsigned char>(s_[pos_])) != 0 || s_[pos_] == '_')) {
        ++pos_;
      }
      t.kind = Tok::Ident;
      t.text = lower(s_.substr(start, pos_ - start));
      return t;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      size_t start = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])) != 0) ++pos_;
      t.kind = Tok::Number;
      t.text = std::string(s_.substr(start, pos_ - start));
      return t;
    }
    if (c == '\'' || c == '"') {
      t.kind = c == '\'' ? Tok::String : Tok::QuotedIdent;
      ++pos_;
      while (true) {
        if (pos_ == s_.size()) return error(fmt::format("unterminated {} quote", c));
        if (s_[pos_] == c) {
          if (pos_ + 1 < s_.size() && s_[pos_ + 1] == c) {
            t.text.push_back(c);
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        t.text.push_back(s_[pos_++]);
      }
      return t;
    }
    t.kind = Tok::Punct;
    t.text = std::string(1, c);
    ++pos_;
    return t;
  }

  const UdtResolver& resolver_;
};

bool is_plain_identifier(std::string_view s) {
  if (s.empty() || std::islower(static_cast<unsigned char>(s[0])) == 0) return false;
  for (char c : s) {
    if (std::islower(static_cast<unsigned char>(c)) == 0 &&
        std::isdigit(static_cast<unsigned char>(c)) == 0 && c != '_') {
      return false;
    }
  }
  return true;
}

std::string quote(std::string_view s, char q) {
  std::string out(1, q);
  for (char c : s) {
    out.push_back(c);
    if (c == q) out.push_back(q);
  }
  out.push_back(q);
  return out;
}

std::string cql_identifier(std::string_view s) {
  return is_plain_identifier(s) ? std::string(s) : quote(s, '"');
}

void format_cql(const DataType& t, bool nested, std::string& out);

void format_cql_params(const DataType& t, std::string& out) {
  for (size_t i = 0; i < t.params.size(); ++i) {
    if (i > 0) out += ", ";
    format_cql(t.params[i], true, out);
  }
}

void format_cql(const DataType& t, bool nested, std::string& out) {
  if (const NativeName* n = native_by_id(t.id)) {
    out += n->cql;
    return;
  }
  bool frozen = nested && needs_frozen_when_nested(t);
  if (frozen) out += "frozen<";
  switch (t.id) {
    case TypeId::List:
      out += "list<";
      format_cql_params(t, out);
      out += '>';
      break;
    case TypeId::Set:
      out += "set<";
      format_cql_params(t, out);
      out += '>';
      break;
    case TypeId::Map:
      out += "map<";
      format_cql_params(t, out);
      out += '>';
      break;
    case TypeId::Tuple:
      out += "tuple<";
      format_cql_params(t, out);
      out += '>';
      break;
    case TypeId::Udt:
      if (!t.udt_keyspace.empty()) out += cql_identifier(t.udt_keyspace) + ".";
      out += cql_identifier(t.udt_name);
      break;
    case TypeId::Custom: {
      auto vec = vector_info(t);
      if (vec && *vec) {
        out += "vector<";
        format_cql((*vec)->element, true, out);
        out += fmt::format(", {}>", (*vec)->dimension);
      } else {
        out += quote(t.custom_class, '\'');
      }
      break;
    }
    default:
      out += fmt::format("'unknown type 0x{:04x}'", static_cast<uint16_t>(t.id));
      break;
  }
  if (frozen) out += '>';
}

void format_marshal(const DataType& t, bool nested, std::string& out) {
  if (t.id == TypeId::Custom) {
    // Custom names are kept as written; a vector's is already fully qualified.
    out += t.custom_class;
    return;
  }
  out += kMarshalPrefix;
  if (const NativeName* n = native_by_id(t.id)) {
    out += n->marshal;
    return;
  }
  bool frozen = nested && needs_frozen_when_nested(t);
  if (frozen) {
    out += "FrozenType(";
    out += kMarshalPrefix;
  }
  auto params = [&] {
    for (size_t i = 0; i < t.params.size(); ++i) {
      if (i > 0) out += ',';
      format_marshal(t.params[i], true, out);
    }
  };
  switch (t.id) {
    case TypeId::List:
      out += "ListType(";
      params();
      out += ')';
      break;
    case TypeId::Set:
      out += "SetType(";
      params();
      out += ')';
      break;
    case TypeId::Map:
      out += "MapType(";
      params();
      out += ')';
      break;
    case TypeId::Tuple:
      out += "TupleType(";
      params();
      out += ')';
      break;
    case TypeId::Udt:
      out += "UserType(";
      out += t.udt_keyspace;
      out += ',';
      out += to_hex(as_bytes(t.udt_name));
      for (size_t i = 0; i < t.params.size(); ++i) {
        out += ',';
        out += to_hex(as_bytes(i < t.field_names.size() ? t.field_names[i] : std::string()));
        out += ':';
        format_marshal(t.params[i], true, out);
      }
      out += ')';
      break;
    default:
      out += fmt::format("UnknownType{:04x}", static_cast<uint16_t>(t.id));
      break;
  }
  if (frozen) out += ')';
}

}  // namespace

Result<DataType> parse_cql_type(std::string_view text, const UdtResolver& resolver) {
  return CqlTypeParser(text, resolver).parse_all();
}

std::string format_cql_type(const DataType& type) {
  std::string out;
  format_cql(type, false, out);
  return out;
}

Result<DataType> parse_marshal_class(std::string_view class_name) {
  return MarshalParser(class_name).parse_all();
}

std::string format_marshal_class(const DataType& type) {
  std::string out;
  format_marshal(type, false, out);
  return out;
}

DataType vector_type(const DataType& element, uint32_t dimension) {
  std::string element_class;
  format_marshal(element, true, element_class);
  return DataType::custom(
      fmt::format("{}VectorType({} , {})", kMarshalPrefix, element_class, dimension));
}

Result<std::optional<VectorInfo>> vector_info(const DataType& type) {
  if (type.id != TypeId::Custom) return std::nullopt;
  MarshalParser parser(type.custom_class);
  if (parser.read_class_name() != "VectorType") return std::nullopt;
  auto info = parser.parse_vector_args(0);
  if (!info) return tl::unexpected(std::move(info.error()));
  if (!parser.at_end()) {
    return fail(Errc::Malformed,
                fmt::format("marshal class name '{}': unexpected text after the vector type",
                            type.custom_class));
  }
  return std::optional<VectorInfo>(std::move(*info));
}

}  // namespace zdm::protocol
