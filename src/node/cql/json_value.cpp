#include "node/cql/json_value.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "node/cql/executor.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node {

using protocol::TypeId;

namespace {

// A parsed JSON value; numbers keep their text so integers of any size survive.
struct Json {
  enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  std::string text;         // Number, String; Bool: "true"/"false"
  std::vector<Json> items;  // Array
  // Object members as two parallel vectors: a pair<string, Json> of the still-incomplete Json
  // is rejected by clang's libstdc++ checks, a vector<Json> is fine.
  std::vector<std::string> member_keys;
  std::vector<Json> member_values;
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  Result<Json> parse_document() {
    auto v = parse(0);
    if (!v) return v;
    skip_ws();
    if (pos_ != s_.size()) return error("trailing characters");
    return v;
  }

 private:
  tl::unexpected<Error> error(std::string_view what) const {
    return fail(
        Errc::Malformed,
        fmt::format("Could not decode JSON string '{}': {} at character {}", s_, what, pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  Result<std::string> parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return error("bad \\u escape");
          unsigned cp = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9')
              cp |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f')
              cp |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              cp |= static_cast<unsigned>(h - 'A' + 10);
            else
              return error("bad \\u escape");
          }
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:
          out += e;
      }
    }
    return error("unterminated string");
  }
  Result<Json> parse(int depth) {
    if (depth > 64) return error("nesting too deep");
    skip_ws();
    if (pos_ >= s_.size()) return error("unexpected end");
    Json v;
    const char c = s_[pos_];
    if (c == '"') {
      auto str = parse_string();
      if (!str) return tl::unexpected(str.error());
      v.kind = Json::Kind::String;
      v.text = std::move(*str);
    } else if (c == '[') {
      ++pos_;
      v.kind = Json::Kind::Array;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return v;
      }
      while (true) {
        auto item = parse(depth + 1);
        if (!item) return item;
        v.items.push_back(std::move(*item));
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          break;
        }
        return error("expected , or ]");
      }
    } else if (c == '{') {
      ++pos_;
      v.kind = Json::Kind::Object;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return v;
      }
      while (true) {
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != '"') return error("expected a key");
        auto key = parse_string();
        if (!key) return tl::unexpected(key.error());
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != ':') return error("expected :");
        ++pos_;
        auto item = parse(depth + 1);
        if (!item) return item;
        v.member_keys.push_back(std::move(*key));
        v.member_values.push_back(std::move(*item));
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          break;
        }
        return error("expected , or }");
      }
    } else if (s_.substr(pos_, 4) == "null") {
      pos_ += 4;
    } else if (s_.substr(pos_, 4) == "true") {
      pos_ += 4;
      v.kind = Json::Kind::Bool;
      v.text = "true";
    } else if (s_.substr(pos_, 5) == "false") {
      pos_ += 5;
      v.kind = Json::Kind::Bool;
      v.text = "false";
    } else {
      const size_t start = pos_;
      while (pos_ < s_.size() &&
             (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
              s_[pos_] == '+' || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
        ++pos_;
      }
      if (start == pos_) return error("unexpected character");
      v.kind = Json::Kind::Number;
      v.text = std::string(s_.substr(start, pos_ - start));
    }
    return v;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

Result<Bytes> json_to_bytes(const DataType& type, const Json& j);

Result<Bytes> from_literal(const DataType& type, cql::LiteralKind kind, const std::string& text) {
  auto b = exec::literal_bytes(cql::Literal{kind, text}, type);
  if (!b) return fail(Errc::InvalidArgument, b.error().message);
  return std::move(*b);
}

Result<Bytes> json_to_bytes(const DataType& type, const Json& j) {
  if (j.kind == Json::Kind::Null) return fail(Errc::InvalidArgument, "null inside a JSON value");
  switch (type.id) {
    case TypeId::List:
    case TypeId::Set:
    case TypeId::Tuple: {
      if (j.kind != Json::Kind::Array) {
        return fail(Errc::InvalidArgument,
                    fmt::format("Expected a list for {}", protocol::format_cql_type(type)));
      }
      std::vector<Bytes> parts;
      for (size_t i = 0; i < j.items.size(); ++i) {
        const DataType& et = type.id == TypeId::Tuple
                                 ? type.params.at(std::min(i, type.params.size() - 1))
                                 : type.params.at(0);
        auto b = json_to_bytes(et, j.items[i]);
        if (!b) return b;
        parts.push_back(std::move(*b));
      }
      if (type.id == TypeId::Tuple) {
        Bytes out;
        ByteWriter w(out);
        for (auto& p : parts) w.write_bytes(ByteView(p));
        return out;
      }
      if (type.id == TypeId::Set) {
        std::sort(parts.begin(), parts.end(), [&](const Bytes& a, const Bytes& b) {
          return protocol::compare_values(type.params[0], a, b) < 0;
        });
      }
      return exec::join_collection(parts, parts.size());
    }
    case TypeId::Map:
    case TypeId::Udt: {
      if (j.kind != Json::Kind::Object) {
        return fail(Errc::InvalidArgument,
                    fmt::format("Expected a map for {}", protocol::format_cql_type(type)));
      }
      if (type.id == TypeId::Udt) {
        std::vector<std::optional<Bytes>> fields(type.field_names.size());
        for (size_t member = 0; member < j.member_keys.size(); ++member) {
          const auto& k = j.member_keys[member];
          const auto& v = j.member_values[member];
          auto it = std::find(type.field_names.begin(), type.field_names.end(), k);
          if (it == type.field_names.end()) {
            return fail(Errc::InvalidArgument,
                        fmt::format("Unknown field '{}' in value of user defined type {}", k,
                                    type.udt_name));
          }
          const size_t idx = static_cast<size_t>(it - type.field_names.begin());
          if (v.kind == Json::Kind::Null) continue;
          auto b = json_to_bytes(type.params[idx], v);
          if (!b) return b;
          fields[idx] = std::move(*b);
        }
        Bytes out;
        ByteWriter w(out);
        for (auto& f : fields) {
          if (f)
            w.write_bytes(ByteView(*f));
          else
            w.write_bytes(std::nullopt);
        }
        return out;
      }
      std::vector<std::pair<Bytes, Bytes>> entries;
      for (size_t member = 0; member < j.member_keys.size(); ++member) {
        const auto& k = j.member_keys[member];
        const auto& v = j.member_values[member];
        // Keys are always JSON strings; non-text keys hold their value's text.
        JsonParser inner(k);
        Json key_json;
        const TypeId kt = type.params[0].id;
        if (kt == TypeId::Varchar || kt == TypeId::Ascii) {
          key_json.kind = Json::Kind::String;
          key_json.text = k;
        } else {
          auto parsed = inner.parse_document();
          if (parsed && parsed->kind != Json::Kind::String) {
            key_json = std::move(*parsed);
          } else {
            key_json.kind = Json::Kind::String;
            key_json.text = k;
          }
        }
        auto kb = json_to_bytes(type.params[0], key_json);
        if (!kb) return kb;
        auto vb = json_to_bytes(type.params[1], v);
        if (!vb) return vb;
        entries.emplace_back(std::move(*kb), std::move(*vb));
      }
      std::sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
        return protocol::compare_values(type.params[0], a.first, b.first) < 0;
      });
      std::vector<Bytes> parts;
      for (auto& [k, v] : entries) {
        parts.push_back(std::move(k));
        parts.push_back(std::move(v));
      }
      return exec::join_collection(parts, entries.size());
    }
    default:
      break;
  }
  if (j.kind == Json::Kind::Array || j.kind == Json::Kind::Object) {
    return fail(Errc::InvalidArgument, fmt::format("Unable to make {} from a JSON collection",
                                                   protocol::format_cql_type(type)));
  }
  switch (type.id) {
    case TypeId::Varchar:
    case TypeId::Ascii:
      if (j.kind != Json::Kind::String) {
        return fail(Errc::InvalidArgument,
                    fmt::format("Expected a string for {}", protocol::format_cql_type(type)));
      }
      return from_literal(type, cql::LiteralKind::String, j.text);
    case TypeId::Boolean:
      return from_literal(type, cql::LiteralKind::Boolean, j.text);
    case TypeId::Blob:
      return from_literal(type, cql::LiteralKind::Blob, j.text);
    case TypeId::Uuid:
    case TypeId::Timeuuid:
      return from_literal(type, cql::LiteralKind::Uuid, j.text);
    case TypeId::Duration:
      return from_literal(type, cql::LiteralKind::Duration, j.text);
    default:
      break;
  }
  if (j.kind == Json::Kind::Number) {
    const bool is_float = j.text.find_first_of(".eE") != std::string::npos;
    return from_literal(type, is_float ? cql::LiteralKind::Float : cql::LiteralKind::Integer,
                        j.text);
  }
  return from_literal(type, cql::LiteralKind::String, j.text);
}

std::string number_text(double d) {
  if (std::isnan(d)) return "\"NaN\"";
  if (std::isinf(d)) return d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string value_json(const DataType& type, const protocol::Value& v) {
  using K = protocol::Value::Kind;
  if (v.is_null()) return "null";
  switch (v.kind()) {
    case K::Boolean:
      return *v.get_if<bool>() ? "true" : "false";
    case K::Int8:
      return std::to_string(*v.get_if<int8_t>());
    case K::Int16:
      return std::to_string(*v.get_if<int16_t>());
    case K::Int32:
      return std::to_string(*v.get_if<int32_t>());
    case K::Int64:
      if (type.id == TypeId::Bigint || type.id == TypeId::Counter) {
        return std::to_string(*v.get_if<int64_t>());
      }
      break;
    case K::Float:
      return number_text(*v.get_if<float>());
    case K::Double:
      return number_text(*v.get_if<double>());
    case K::Varint:
      return v.get_if<protocol::Varint>()->to_string();
    case K::Text:
      return json_quote(*v.get_if<std::string>());
    case K::Elements: {
      const auto& els = *v.get_if<protocol::Value::Elements>();
      if (type.id == TypeId::Udt) {
        std::string out = "{";
        for (size_t i = 0; i < type.field_names.size(); ++i) {
          if (i) out += ", ";
          out += json_quote(type.field_names[i]) + ": ";
          out += i < els.size() ? value_json(type.params[i], els[i]) : "null";
        }
        return out + "}";
      }
      std::string out = "[";
      for (size_t i = 0; i < els.size(); ++i) {
        if (i) out += ", ";
        const DataType& et = type.id == TypeId::Tuple
                                 ? type.params.at(i)
                                 : (type.params.empty() ? type : type.params[0]);
        out += value_json(et, els[i]);
      }
      return out + "]";
    }
    case K::Entries: {
      std::string out = "{";
      const auto& es = *v.get_if<protocol::Value::Entries>();
      for (size_t i = 0; i < es.size(); ++i) {
        if (i) out += ", ";
        std::string key = value_json(type.params[0], es[i].first);
        if (key.empty() || key[0] != '"') key = json_quote(key);
        out += key + ": " + value_json(type.params[1], es[i].second);
      }
      return out + "}";
    }
    default:
      break;
  }
  if (type.id == TypeId::Timestamp) {
    const int64_t ms = *v.get_if<int64_t>();
    const int64_t days = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
    const int64_t rem = ms - days * 86'400'000;
    // civil_from_days (Howard Hinnant)
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
    return fmt::format("\"{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}Z\"", y, m, d, rem / 3'600'000,
                       rem / 60'000 % 60, rem / 1000 % 60, rem % 1000);
  }
  std::string lit = protocol::to_cql_literal(v, type);
  if (!lit.empty() && lit.front() == '\'' && lit.back() == '\'' && lit.size() >= 2) {
    lit = lit.substr(1, lit.size() - 2);
  }
  if (type.id == TypeId::Decimal) return lit;
  return json_quote(lit);
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string value_to_json(const DataType& type, const std::optional<Bytes>& value) {
  if (!value) return "null";
  auto v = protocol::decode_value(type, *value, protocol::ProtocolVersion::V4);
  if (!v) return "null";
  return value_json(type, *v);
}

Result<std::vector<std::pair<const ColumnSchema*, std::optional<Bytes>>>> json_to_columns(
    const TableSchema& schema, std::string_view json) {
  JsonParser parser(json);
  auto doc = parser.parse_document();
  if (!doc) return tl::unexpected(doc.error());
  if (doc->kind != Json::Kind::Object) {
    return fail(Errc::InvalidArgument, "JSON values map must be a JSON object");
  }
  std::vector<std::pair<const ColumnSchema*, std::optional<Bytes>>> out;
  for (size_t member = 0; member < doc->member_keys.size(); ++member) {
    const auto& raw_key = doc->member_keys[member];
    const auto& value = doc->member_values[member];
    std::string key;
    if (raw_key.size() >= 2 && raw_key.front() == '"' && raw_key.back() == '"') {
      key = raw_key.substr(1, raw_key.size() - 2);
    } else {
      for (char c : raw_key) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const ColumnSchema* c = schema.find_column(key);
    if (c == nullptr) {
      return fail(Errc::InvalidArgument,
                  fmt::format("JSON values map contains unrecognized column: {}", raw_key));
    }
    if (value.kind == Json::Kind::Null) {
      out.emplace_back(c, std::nullopt);
      continue;
    }
    auto b = json_to_bytes(c->type, value);
    if (!b) {
      return fail(Errc::InvalidArgument,
                  fmt::format("Error decoding JSON value for {}: {}", c->name, b.error().message));
    }
    out.emplace_back(c, std::move(*b));
  }
  return out;
}

}  // namespace zdm::node
