// Terms: bind markers, function calls and collection, tuple and UDT literals compiled into Exprs
// against their receiver's type and evaluated per request (literals themselves:
// executor_literals.cpp); the executor's shared helpers (errors, timestamps, collections, keys).

#include <algorithm>

#include <fmt/format.h>

#include "common/md5.hpp"
#include "node/cql/executor.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node::exec {

using protocol::TypeId;

tl::unexpected<CqlError> invalid(std::string message) {
  return tl::unexpected(CqlError{ErrorCode::Invalid, std::move(message), {}});
}
tl::unexpected<CqlError> cql_error(ErrorCode code, std::string message) {
  return tl::unexpected(CqlError{code, std::move(message), {}});
}
tl::unexpected<CqlError> server_error(const Error& error) {
  // Storage validation failures are the client's fault (bad values); report them as Invalid.
  const ErrorCode code = error.code == Errc::InvalidArgument || error.code == Errc::TooLarge ||
                                 error.code == Errc::Malformed
                             ? ErrorCode::Invalid
                             : ErrorCode::ServerError;
  return tl::unexpected(CqlError{code, error.message, {}});
}

int64_t Services::next_timestamp() {
  const int64_t now = now_micros();
  int64_t last = last_timestamp.load(std::memory_order_relaxed);
  int64_t next = 0;
  do {
    next = std::max(now, last + 1);
  } while (!last_timestamp.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return next;
}

void CompileContext::bind(uint32_t index, std::string name, DataType type) {
  if (index >= bind_specs.size()) bind_specs.resize(index + 1);
  if (index >= receivers.size()) receivers.resize(index + 1);
  receivers[index] = name;
  if (statement != nullptr && index < statement->bind_markers.size() &&
      statement->bind_markers[index].named()) {
    name = statement->bind_markers[index].name;
  }
  bind_specs[index] = ColumnSpec{keyspace, table, std::move(name), std::move(type)};
}

std::vector<Bytes> split_partition_key(ByteView key, size_t components) {
  std::vector<Bytes> out;
  if (components <= 1) {
    out.emplace_back(key.begin(), key.end());
    return out;
  }
  size_t pos = 0;
  while (pos + 2 <= key.size() && out.size() < components) {
    const size_t len = load_be16(key.data() + pos);
    pos += 2;
    if (pos + len > key.size()) break;
    out.emplace_back(key.begin() + static_cast<std::ptrdiff_t>(pos),
                     key.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len + 1;  // end-of-component byte
  }
  out.resize(components);
  return out;
}

Bytes metadata_id(const protocol::RowsMetadata& metadata) {
  Md5Hasher h;
  for (const auto& c : metadata.columns) {
    h.update(c.keyspace);
    h.update(".");
    h.update(c.table);
    h.update(".");
    h.update(c.name);
    h.update(":");
    h.update(protocol::format_cql_type(c.type));
    h.update(";");
  }
  auto d = h.finish();
  if (!d) return Bytes(16, 0);
  return Bytes(d->begin(), d->end());
}

// ---------------------------------------------------------------------------------------------
// Collections

CqlResult<std::vector<Bytes>> split_collection(ByteView bytes, bool is_map) {
  ByteReader r(bytes);
  auto n = r.read_i32();
  if (!n || *n < 0) return invalid("Invalid collection value: bad element count");
  const size_t count = static_cast<size_t>(*n) * (is_map ? 2 : 1);
  if (count > r.remaining()) return invalid("Invalid collection value: truncated");
  std::vector<Bytes> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto e = r.read_bytes();
    if (!e) return invalid("Invalid collection value: truncated element");
    if (!e->has_value()) return invalid("null is not supported inside collections");
    out.emplace_back((*e)->begin(), (*e)->end());
  }
  if (!r.empty()) return invalid("Invalid collection value: trailing bytes");
  return out;
}

Bytes join_collection(const std::vector<Bytes>& elements, size_t count) {
  Bytes out;
  ByteWriter w(out);
  w.write_i32(static_cast<int32_t>(count));
  for (const auto& e : elements) w.write_bytes(ByteView(e));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Compilation

namespace {

std::string type_name(const DataType& t) { return protocol::format_cql_type(t); }

DataType element_type(const DataType& t) { return t.params.empty() ? DataType{} : t.params[0]; }

CqlResult<Expr> compile_literal_collection(const std::vector<const cql::Term*>& elements,
                                           Expr::Kind kind, const DataType& receiver,
                                           std::vector<DataType> element_types,
                                           const std::string& name, CompileContext& cc) {
  Expr e;
  e.kind = kind;
  e.type = receiver;
  bool all_const = true;
  for (size_t i = 0; i < elements.size(); ++i) {
    const DataType& et = element_types[element_types.size() == 1 ? 0 : i % element_types.size()];
    auto sub = compile_term(*elements[i], et, name, cc);
    if (!sub) return sub;
    if (!sub->is_constant()) all_const = false;
    if (sub->is_constant() && kind != Expr::Kind::Tuple && kind != Expr::Kind::Udt &&
        !sub->constant.is_set()) {
      return invalid("null is not supported inside collections");
    }
    e.args.push_back(std::move(*sub));
  }
  if (all_const) {
    ExecContext none;
    auto v = eval(e, none);
    if (!v) return tl::unexpected(v.error());
    return Expr::constant_of(receiver, std::move(*v));
  }
  return e;
}

}  // namespace

CqlResult<Expr> compile_term(const cql::Term& term, const DataType& receiver,
                             const std::string& name, CompileContext& cc) {
  return std::visit(
      [&](const auto& v) -> CqlResult<Expr> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, cql::Literal>) {
          if (v.kind == cql::LiteralKind::Null)
            return Expr::constant_of(receiver, EvalValue::null());
          // A vector<float, n> given as a list literal is handled with the collections.
          auto b = literal_bytes(v, receiver);
          if (!b) {
            if (b.error().message.find("for \"value\"") != std::string::npos) {
              std::string msg = b.error().message;
              msg.replace(msg.find("\"value\""), 7, name);
              return invalid(msg);
            }
            return tl::unexpected(b.error());
          }
          return Expr::constant_of(receiver, EvalValue::set(std::move(*b)));
        } else if constexpr (std::is_same_v<T, cql::BindMarker>) {
          cc.bind(v.index, name, receiver);
          Expr e;
          e.kind = Expr::Kind::Bind;
          e.type = receiver;
          e.bind = v.index;
          return e;
        } else if constexpr (std::is_same_v<T, cql::FunctionCall>) {
          auto info = find_function(v.name);
          if (!info || info->function == Function::Token) {
            return invalid(fmt::format("Unknown function '{}'", v.name));
          }
          if (v.args.size() != info->params.size()) {
            return invalid(
                fmt::format("Invalid number of arguments in call to function {}: {} "
                            "required but {} provided",
                            v.name, info->params.size(), v.args.size()));
          }
          Expr e;
          e.kind = Expr::Kind::Call;
          e.function = info->function;
          e.type = info->return_type;
          for (size_t i = 0; i < v.args.size(); ++i) {
            auto a =
                compile_term(v.args[i], info->params[i], fmt::format("{}(arg{})", v.name, i), cc);
            if (!a) return a;
            e.args.push_back(std::move(*a));
          }
          if (receiver.id != e.type.id &&
              !(receiver.id == TypeId::Uuid && e.type.id == TypeId::Timeuuid) &&
              !(receiver.id == TypeId::Blob && receiver.custom_class.empty() && false)) {
            return invalid(
                fmt::format("Type error: cannot assign result of function {} (type {}) "
                            "to {} (type {})",
                            v.name, type_name(e.type), name, type_name(receiver)));
          }
          return e;
        } else if constexpr (std::is_same_v<T, cql::ListLiteral>) {
          std::vector<const cql::Term*> elems;
          for (const auto& t : v.elements) elems.push_back(&t);
          if (receiver.id == TypeId::List || receiver.id == TypeId::Set) {
            return compile_literal_collection(
                elems, receiver.id == TypeId::List ? Expr::Kind::List : Expr::Kind::Set, receiver,
                {element_type(receiver)}, name, cc);
          }
          auto vec = protocol::vector_info(receiver);
          if (vec && *vec) {
            if (elems.size() != (*vec)->dimension) {
              return invalid(
                  fmt::format("Invalid vector literal for {} of type {}; expected {} "
                              "elements, but given {}",
                              name, type_name(receiver), (*vec)->dimension, elems.size()));
            }
            return compile_literal_collection(elems, Expr::Kind::Vector, receiver,
                                              {(*vec)->element}, name, cc);
          }
          return invalid(
              fmt::format("Invalid list literal for {} of type {}", name, type_name(receiver)));
        } else if constexpr (std::is_same_v<T, cql::SetLiteral>) {
          std::vector<const cql::Term*> elems;
          for (const auto& t : v.elements) elems.push_back(&t);
          if (receiver.id != TypeId::Set) {
            return invalid(
                fmt::format("Invalid set literal for {} of type {}", name, type_name(receiver)));
          }
          return compile_literal_collection(elems, Expr::Kind::Set, receiver,
                                            {element_type(receiver)}, name, cc);
        } else if constexpr (std::is_same_v<T, cql::MapLiteral>) {
          if (v.entries.empty() && (receiver.id == TypeId::Set || receiver.id == TypeId::List)) {
            return compile_literal_collection(
                {}, receiver.id == TypeId::Set ? Expr::Kind::Set : Expr::Kind::List, receiver,
                {element_type(receiver)}, name, cc);
          }
          if (receiver.id != TypeId::Map) {
            return invalid(
                fmt::format("Invalid map literal for {} of type {}", name, type_name(receiver)));
          }
          std::vector<const cql::Term*> elems;
          for (const auto& en : v.entries) {
            elems.push_back(&en.key);
            elems.push_back(&en.value);
          }
          return compile_literal_collection(elems, Expr::Kind::Map, receiver,
                                            {receiver.params[0], receiver.params[1]}, name, cc);
        } else if constexpr (std::is_same_v<T, cql::TupleLiteral>) {
          if (receiver.id != TypeId::Tuple) {
            return invalid(
                fmt::format("Invalid tuple literal for {} of type {}", name, type_name(receiver)));
          }
          if (v.elements.size() > receiver.params.size()) {
            return invalid(
                fmt::format("Invalid tuple literal for {}: too many elements. Type {} "
                            "expects {} but got {}",
                            name, type_name(receiver), receiver.params.size(), v.elements.size()));
          }
          std::vector<const cql::Term*> elems;
          for (const auto& t : v.elements) elems.push_back(&t);
          std::vector<DataType> types(
              receiver.params.begin(),
              receiver.params.begin() + static_cast<std::ptrdiff_t>(elems.size()));
          if (types.empty()) types.push_back(DataType{});
          return compile_literal_collection(elems, Expr::Kind::Tuple, receiver, types, name, cc);
        } else if constexpr (std::is_same_v<T, cql::UdtLiteral>) {
          if (receiver.id != TypeId::Udt) {
            return invalid(fmt::format("Invalid user type literal for {} of type {}", name,
                                       type_name(receiver)));
          }
          // One element per field of the type, null where the literal leaves it out.
          static const cql::Term kNull{cql::Literal{cql::LiteralKind::Null, "null"}};
          std::vector<const cql::Term*> elems(receiver.field_names.size(), &kNull);
          for (const auto& f : v.fields) {
            auto it = std::find(receiver.field_names.begin(), receiver.field_names.end(), f.name);
            if (it == receiver.field_names.end()) {
              return invalid(fmt::format("Unknown field '{}' in value of user defined type {}",
                                         f.name, receiver.udt_name));
            }
            elems[static_cast<size_t>(it - receiver.field_names.begin())] = &f.value;
          }
          std::vector<DataType> types = receiver.params;
          if (types.empty()) types.push_back(DataType{});
          return compile_literal_collection(elems, Expr::Kind::Udt, receiver, types, name, cc);
        } else {  // TypeHint
          return compile_term(*v.term, receiver, name, cc);
        }
      },
      term.value);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

CqlResult<EvalValue> eval(const Expr& e, const ExecContext& ctx) {
  switch (e.kind) {
    case Expr::Kind::Const:
      return e.constant;
    case Expr::Kind::Bind: {
      if (e.bind >= ctx.values.size()) {
        return invalid(fmt::format("There were {} markers(?) in CQL but {} bound variables",
                                   e.bind + 1, ctx.values.size()));
      }
      const BoundValue& b = ctx.values[e.bind];
      if (b.kind == ValueView::Kind::Null) return EvalValue::null();
      if (b.kind == ValueView::Kind::Unset) return EvalValue::unset();
      return EvalValue::set(b.bytes);
    }
    case Expr::Kind::Call: {
      std::vector<EvalValue> args;
      std::vector<DataType> types;
      for (const auto& a : e.args) {
        auto v = eval(a, ctx);
        if (!v) return v;
        args.push_back(std::move(*v));
        types.push_back(a.type);
      }
      return call_function(e.function, e.type, types, args, ctx);
    }
    case Expr::Kind::List:
    case Expr::Kind::Set:
    case Expr::Kind::Map: {
      std::vector<Bytes> parts;
      parts.reserve(e.args.size());
      for (const auto& a : e.args) {
        auto v = eval(a, ctx);
        if (!v) return v;
        if (!v->is_set()) return invalid("null is not supported inside collections");
        parts.push_back(std::move(v->bytes));
      }
      size_t count = parts.size();
      if (e.kind == Expr::Kind::Set) {
        const DataType et = element_type(e.type);
        std::sort(parts.begin(), parts.end(), [&](const Bytes& a, const Bytes& b) {
          return protocol::compare_values(et, a, b) < 0;
        });
        parts.erase(std::unique(parts.begin(), parts.end(),
                                [&](const Bytes& a, const Bytes& b) {
                                  return protocol::compare_values(et, a, b) == 0;
                                }),
                    parts.end());
        count = parts.size();
      } else if (e.kind == Expr::Kind::Map) {
        const DataType kt = e.type.params.at(0);
        std::vector<std::pair<Bytes, Bytes>> entries;
        for (size_t i = 0; i + 1 < parts.size(); i += 2) {
          entries.emplace_back(std::move(parts[i]), std::move(parts[i + 1]));
        }
        std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
          return protocol::compare_values(kt, a.first, b.first) < 0;
        });
        // Later duplicates win, as in Cassandra's map literal.
        std::vector<std::pair<Bytes, Bytes>> unique;
        for (auto& en : entries) {
          if (!unique.empty() && protocol::compare_values(kt, unique.back().first, en.first) == 0) {
            unique.back() = std::move(en);
          } else {
            unique.push_back(std::move(en));
          }
        }
        parts.clear();
        for (auto& en : unique) {
          parts.push_back(std::move(en.first));
          parts.push_back(std::move(en.second));
        }
        count = unique.size();
      }
      return EvalValue::set(join_collection(parts, count));
    }
    case Expr::Kind::Tuple:
    case Expr::Kind::Udt: {
      Bytes out;
      ByteWriter w(out);
      for (const auto& a : e.args) {
        auto v = eval(a, ctx);
        if (!v) return v;
        if (v->is_set()) {
          w.write_bytes(ByteView(v->bytes));
        } else {
          w.write_bytes(std::nullopt);
        }
      }
      return EvalValue::set(std::move(out));
    }
    case Expr::Kind::Vector: {
      Bytes out;
      for (const auto& a : e.args) {
        auto v = eval(a, ctx);
        if (!v) return v;
        if (!v->is_set()) return invalid("null is not supported inside vectors");
        if (!fixed_value_size(a.type)) {
          ByteWriter(out).write_unsigned_vint(v->bytes.size());
        }
        out.insert(out.end(), v->bytes.begin(), v->bytes.end());
      }
      return EvalValue::set(std::move(out));
    }
  }
  return EvalValue::null();
}

}  // namespace zdm::node::exec
