// WHERE clauses: which restrictions locate partitions and rows (partition key, token range,
// clustering prefix and slice) and which are filters evaluated per row; IF conditions.

#include <algorithm>

#include <fmt/format.h>

#include "node/cql/executor.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node::exec {

using cql::Operator;
using protocol::TypeId;

namespace {

constexpr const char* kFilteringMessage =
    "Cannot execute this query as it might involve data filtering and thus may have "
    "unpredictable performance. If you want to execute this query despite the performance "
    "unpredictability, use ALLOW FILTERING";

bool is_range(Operator op) {
  return op == Operator::Lt || op == Operator::Le || op == Operator::Gt || op == Operator::Ge;
}
bool is_lower(Operator op) { return op == Operator::Gt || op == Operator::Ge; }
bool is_inclusive(Operator op) { return op == Operator::Ge || op == Operator::Le; }

CqlResult<ValueList> compile_value_list(const cql::Relation& r, const DataType& type,
                                        const std::string& name, CompileContext& cc) {
  ValueList out;
  if (r.op == Operator::In) {
    if (r.in_marker) {
      auto e = compile_term(r.value, DataType::list_of(type), fmt::format("in({})", name), cc);
      if (!e) return tl::unexpected(e.error());
      out.list = std::move(*e);
    } else {
      for (const auto& t : r.in_values) {
        auto e = compile_term(t, type, name, cc);
        if (!e) return tl::unexpected(e.error());
        out.values.push_back(std::move(*e));
      }
    }
  } else {
    auto e = compile_term(r.value, type, name, cc);
    if (!e) return tl::unexpected(e.error());
    out.values.push_back(std::move(*e));
  }
  return out;
}

DataType tuple_type(const std::vector<const ColumnSchema*>& columns) {
  std::vector<DataType> types;
  for (const auto* c : columns) types.push_back(c->type);
  return DataType::tuple_of(std::move(types));
}

std::vector<Bytes> split_tuple(ByteView bytes) {
  std::vector<Bytes> out;
  ByteReader r(bytes);
  while (!r.empty()) {
    auto e = r.read_bytes();
    if (!e) break;
    out.push_back(e->has_value() ? Bytes((*e)->begin(), (*e)->end()) : Bytes{});
  }
  return out;
}

}  // namespace

CqlResult<std::vector<Bytes>> eval_values(const ValueList& list, const ExecContext& ctx,
                                          const std::string& what, const DataType& type) {
  std::vector<Bytes> out;
  auto add = [&](EvalValue v) -> CqlResult<void> {
    if (v.kind == EvalValue::Kind::Unset) {
      return invalid(fmt::format("Invalid unset value for column {}", what));
    }
    if (!v.is_set()) return invalid(fmt::format("Invalid null value for column {}", what));
    auto ok = validate_value(type, v.bytes, what);
    if (!ok) return ok;
    for (const auto& e : out) {
      if (e == v.bytes) return {};
    }
    out.push_back(std::move(v.bytes));
    return {};
  };
  if (list.list) {
    auto v = eval(*list.list, ctx);
    if (!v) return tl::unexpected(v.error());
    if (v->kind == EvalValue::Kind::Unset)
      return invalid(fmt::format("Invalid unset value for column {}", what));
    if (!v->is_set()) return invalid(fmt::format("Invalid null value for column {}", what));
    auto parts = split_collection(v->bytes, false);
    if (!parts) return tl::unexpected(parts.error());
    for (auto& p : *parts) {
      auto ok = add(EvalValue::set(std::move(p)));
      if (!ok) return tl::unexpected(ok.error());
    }
    return out;
  }
  if (list.values.size() == 1) {  // the common single-value case, without the dedup loop
    auto v = eval(list.values[0], ctx);
    if (!v) return tl::unexpected(v.error());
    auto ok = add(std::move(*v));
    if (!ok) return tl::unexpected(ok.error());
    return out;
  }
  for (const auto& e : list.values) {
    auto v = eval(e, ctx);
    if (!v) return tl::unexpected(v.error());
    auto ok = add(std::move(*v));
    if (!ok) return tl::unexpected(ok.error());
  }
  return out;
}

CqlResult<WhereClause> analyze_where(const std::vector<cql::Relation>& relations,
                                     const TableSchema& schema, WhereMode mode,
                                     bool allow_filtering, CompileContext& cc) {
  WhereClause w;
  const auto pk = schema.partition_key();
  const auto ck = schema.clustering();
  std::vector<std::optional<ValueList>> pk_rel(pk.size());
  std::vector<std::optional<ValueList>> ck_eq(ck.size());
  struct Range {
    std::optional<BoundExpr> start, end;
  };
  std::vector<Range> ck_range(ck.size());
  std::vector<std::string> non_key_columns;
  bool multi_seen = false;

  for (const auto& r : relations) {
    if (r.kind == cql::Relation::Kind::Token) {
      if (mode != WhereMode::Select) {
        return invalid(
            "The token function cannot be used in WHERE clauses for UPDATE and DELETE statements");
      }
      if (r.columns.size() != pk.size()) {
        return invalid(
            "The token() function must be applied to all partition key components "
            "or none of them");
      }
      for (size_t i = 0; i < pk.size(); ++i) {
        if (r.columns[i] != pk[i]->name) {
          return invalid("The token() function must contains only partition key components");
        }
      }
      auto e = compile_term(r.value, DataType::simple(TypeId::Bigint), "partition key token", cc);
      if (!e) return tl::unexpected(e.error());
      if (r.op == Operator::Eq) {
        w.token_start = BoundExpr{*e, true};
        w.token_end = BoundExpr{std::move(*e), true};
      } else if (is_range(r.op)) {
        (is_lower(r.op) ? w.token_start : w.token_end) =
            BoundExpr{std::move(*e), is_inclusive(r.op)};
      } else {
        return invalid("Unsupported operator on token()");
      }
      continue;
    }
    if (r.kind == cql::Relation::Kind::MultiColumn) {
      std::vector<const ColumnSchema*> cols;
      for (size_t i = 0; i < r.columns.size(); ++i) {
        const ColumnSchema* c = schema.find_column(r.columns[i]);
        if (c == nullptr) return invalid(fmt::format("Undefined column name {}", r.columns[i]));
        if (c->kind != ColumnKind::Clustering) {
          return invalid(
              fmt::format("Multi-column relations can only be applied to clustering "
                          "columns but was applied to: {}",
                          c->name));
        }
        if (c->position != i) {
          return invalid(
              "Clustering columns must appear in the PRIMARY KEY order in "
              "multi-column relations");
        }
        cols.push_back(c);
      }
      multi_seen = true;
      const DataType tt = tuple_type(cols);
      std::string name = "(";
      for (size_t i = 0; i < cols.size(); ++i) name += (i ? "," : "") + cols[i]->name;
      name += ")";
      if (r.op == Operator::Eq || r.op == Operator::In) {
        ValueList vl;
        if (r.op == Operator::In && r.in_marker) {
          auto e = compile_term(r.value, DataType::list_of(tt), fmt::format("in({})", name), cc);
          if (!e) return tl::unexpected(e.error());
          vl.list = std::move(*e);
        } else if (r.op == Operator::In) {
          for (const auto& t : r.in_values) {
            auto e = compile_term(t, tt, name, cc);
            if (!e) return tl::unexpected(e.error());
            vl.values.push_back(std::move(*e));
          }
        } else {
          auto e = compile_term(r.value, tt, name, cc);
          if (!e) return tl::unexpected(e.error());
          vl.values.push_back(std::move(*e));
        }
        w.multi_eq = std::move(vl);
        w.multi_eq_size = cols.size();
      } else if (is_range(r.op)) {
        auto e = compile_term(r.value, tt, name, cc);
        if (!e) return tl::unexpected(e.error());
        BoundExpr b{std::move(*e), is_inclusive(r.op), true};
        (is_lower(r.op) ? ck_range[0].start : ck_range[0].end) = std::move(b);
      } else {
        return invalid("Unsupported operator in multi-column relation");
      }
      continue;
    }
    const std::string& col_name = r.columns.empty() ? std::string() : r.columns[0];
    const ColumnSchema* c = schema.find_column(col_name);
    if (c == nullptr) return invalid(fmt::format("Undefined column name {}", col_name));
    const bool key_op = r.op == Operator::Eq || r.op == Operator::In;
    if (r.kind == cql::Relation::Kind::Column && c->kind == ColumnKind::PartitionKey && key_op) {
      if (pk_rel[c->position]) {
        return invalid(
            fmt::format("{} cannot be restricted by more than one relation if it "
                        "includes an Equal",
                        c->name));
      }
      auto vl = compile_value_list(r, c->type, c->name, cc);
      if (!vl) return tl::unexpected(vl.error());
      pk_rel[c->position] = std::move(*vl);
      continue;
    }
    if (r.kind == cql::Relation::Kind::Column && c->kind == ColumnKind::Clustering &&
        (key_op || is_range(r.op))) {
      if (key_op) {
        auto vl = compile_value_list(r, c->type, c->name, cc);
        if (!vl) return tl::unexpected(vl.error());
        ck_eq[c->position] = std::move(*vl);
      } else {
        auto e = compile_term(r.value, c->type, c->name, cc);
        if (!e) return tl::unexpected(e.error());
        BoundExpr b{std::move(*e), is_inclusive(r.op), false};
        (is_lower(r.op) ? ck_range[c->position].start : ck_range[c->position].end) = std::move(b);
      }
      continue;
    }
    // A filter.
    if (mode != WhereMode::Select) {
      if (c->is_primary_key()) {
        return invalid(fmt::format("Invalid operator {} for PRIMARY KEY part {}",
                                   r.op == Operator::Ne ? "!=" : "used", c->name));
      }
      non_key_columns.push_back(c->name);
      continue;
    }
    Filter f;
    f.column = c;
    f.op = r.op;
    DataType value_type = c->type;
    if (r.kind == cql::Relation::Kind::Element) {
      if (c->type.id != TypeId::Map) {
        return invalid(fmt::format("Column {} is not a map", c->name));
      }
      auto k = compile_term(*r.element_key, c->type.params[0], fmt::format("key({})", c->name), cc);
      if (!k) return tl::unexpected(k.error());
      f.element_key = std::move(*k);
      value_type = c->type.params[1];
    } else if (r.op == Operator::Contains) {
      if (!c->type.is_collection()) {
        return invalid(fmt::format("Cannot use CONTAINS on non-collection column {}", c->name));
      }
      value_type = c->type.id == TypeId::Map ? c->type.params[1] : c->type.params[0];
    } else if (r.op == Operator::ContainsKey) {
      if (c->type.id != TypeId::Map) {
        return invalid(fmt::format("Cannot use CONTAINS KEY on non-map column {}", c->name));
      }
      value_type = c->type.params[0];
    } else if (r.op == Operator::Like || r.op == Operator::IsNotNull) {
      return invalid(fmt::format("Operator {} is not supported by zdm node",
                                 r.op == Operator::Like ? "LIKE" : "IS NOT NULL"));
    }
    if (r.op == Operator::In) {
      auto vl = compile_value_list(r, value_type, c->name, cc);
      if (!vl) return tl::unexpected(vl.error());
      f.in = std::move(*vl);
    } else {
      auto e = compile_term(r.value, value_type, c->name, cc);
      if (!e) return tl::unexpected(e.error());
      f.value = std::move(*e);
    }
    w.filters.push_back(std::move(f));
  }

  if (!non_key_columns.empty()) {
    return invalid(fmt::format("Non PRIMARY KEY columns found in where clause: {}",
                               fmt::join(non_key_columns, ", ")));
  }

  // Partition key.
  const size_t pk_restricted = static_cast<size_t>(
      std::count_if(pk_rel.begin(), pk_rel.end(), [](auto& o) { return o.has_value(); }));
  bool needs_filtering = !w.filters.empty();
  if (pk_restricted == pk.size()) {
    w.has_partition = true;
    for (auto& p : pk_rel) w.partition.push_back(std::move(*p));
    if (w.token_start || w.token_end) {
      return invalid("Token relations cannot be used with partition key restrictions");
    }
  } else if (pk_restricted > 0) {
    if (mode != WhereMode::Select) {
      for (size_t i = 0; i < pk.size(); ++i) {
        if (!pk_rel[i]) {
          return invalid(fmt::format("Some partition key parts are missing: {}", pk[i]->name));
        }
      }
    }
    if (!allow_filtering) {
      for (size_t i = 0; i < pk.size(); ++i) {
        if (!pk_rel[i]) {
          return invalid(fmt::format(
              "Partition key parts: {} must be restricted as other parts are", pk[i]->name));
        }
      }
    }
    // Partial partition key with ALLOW FILTERING: filter on the restricted components.
    for (size_t i = 0; i < pk.size(); ++i) {
      if (!pk_rel[i]) continue;
      Filter f;
      f.column = pk[i];
      f.op = pk_rel[i]->values.size() == 1 && !pk_rel[i]->list ? Operator::Eq : Operator::In;
      if (f.op == Operator::Eq) {
        f.value = std::move(pk_rel[i]->values[0]);
      } else {
        f.in = std::move(*pk_rel[i]);
      }
      w.filters.push_back(std::move(f));
    }
    needs_filtering = true;
  } else if (mode != WhereMode::Select) {
    return invalid(
        fmt::format("Some partition key parts are missing: {}", pk.empty() ? "" : pk[0]->name));
  }

  // Clustering: an = / IN prefix, then at most one range, then filters.
  size_t pos = 0;
  if (w.multi_eq) {
    pos = w.multi_eq_size;
  } else {
    while (pos < ck.size() && ck_eq[pos]) {
      w.clustering_eq.push_back(std::move(*ck_eq[pos]));
      ck_eq[pos].reset();
      ++pos;
    }
  }
  if (pos < ck.size() && (ck_range[pos].start || ck_range[pos].end) &&
      !(multi_seen && pos != 0 &&
        (ck_range[pos].start ? ck_range[pos].start->multi : ck_range[pos].end->multi))) {
    w.range_start = std::move(ck_range[pos].start);
    w.range_end = std::move(ck_range[pos].end);
    w.range_reversed = ck[pos]->order == ClusteringOrder::Desc;
    ck_range[pos] = Range{};
  } else if (multi_seen && (ck_range[0].start || ck_range[0].end) && pos == 0) {
    w.range_start = std::move(ck_range[0].start);
    w.range_end = std::move(ck_range[0].end);
    w.range_reversed = ck[0]->order == ClusteringOrder::Desc;
    ck_range[0] = Range{};
  }
  for (size_t i = 0; i < ck.size(); ++i) {
    const bool leftover = ck_eq[i].has_value() || ck_range[i].start || ck_range[i].end;
    if (!leftover) continue;
    if (mode != WhereMode::Select || !allow_filtering) {
      return invalid(
          fmt::format("PRIMARY KEY column \"{}\" cannot be restricted as preceding "
                      "column \"{}\" is not restricted",
                      ck[i]->name, i > 0 ? ck[i - 1]->name : ck[i]->name));
    }
    needs_filtering = true;
    if (ck_eq[i]) {
      Filter f;
      f.column = ck[i];
      if (ck_eq[i]->values.size() == 1 && !ck_eq[i]->list) {
        f.op = Operator::Eq;
        f.value = std::move(ck_eq[i]->values[0]);
      } else {
        f.op = Operator::In;
        f.in = std::move(*ck_eq[i]);
      }
      w.filters.push_back(std::move(f));
    }
    for (auto* b : {&ck_range[i].start, &ck_range[i].end}) {
      if (!*b || (*b)->multi) continue;
      Filter f;
      f.column = ck[i];
      const bool lower = b == &ck_range[i].start;
      f.op = lower ? ((*b)->inclusive ? Operator::Ge : Operator::Gt)
                   : ((*b)->inclusive ? Operator::Le : Operator::Lt);
      f.value = std::move((*b)->value);
      w.filters.push_back(std::move(f));
    }
  }

  if (mode == WhereMode::Update) {
    const size_t restricted = w.multi_eq ? w.multi_eq_size : w.clustering_eq.size();
    if (restricted < ck.size() || w.range_start || w.range_end) {
      return invalid(fmt::format("Some clustering keys are missing: {}",
                                 ck[std::min(restricted, ck.size() - 1)]->name));
    }
  }
  if (mode == WhereMode::Select && !w.has_partition && w.has_clustering_restriction() &&
      !allow_filtering) {
    needs_filtering = true;
  }
  if (needs_filtering && !allow_filtering && mode == WhereMode::Select) {
    return invalid(kFilteringMessage);
  }
  return w;
}

CqlResult<Filter> compile_condition(const cql::Condition& c, const TableSchema& schema,
                                    CompileContext& cc) {
  const ColumnSchema* col = schema.find_column(c.column);
  if (col == nullptr) return invalid(fmt::format("Undefined column name {}", c.column));
  if (col->is_primary_key()) {
    return invalid(fmt::format("PRIMARY KEY column '{}' cannot have IF conditions", col->name));
  }
  Filter f;
  f.column = col;
  f.op = c.op;
  f.field = c.field;
  DataType value_type = col->type;
  if (c.element_key) {
    if (col->type.id == TypeId::Map) {
      auto k =
          compile_term(*c.element_key, col->type.params[0], fmt::format("key({})", col->name), cc);
      if (!k) return tl::unexpected(k.error());
      f.element_key = std::move(*k);
      value_type = col->type.params[1];
    } else if (col->type.id == TypeId::List) {
      auto k = compile_term(*c.element_key, DataType::simple(TypeId::Int),
                            fmt::format("idx({})", col->name), cc);
      if (!k) return tl::unexpected(k.error());
      f.element_key = std::move(*k);
      value_type = col->type.params[0];
    } else {
      return invalid(fmt::format("Invalid element access on non-collection column {}", col->name));
    }
  } else if (!c.field.empty()) {
    if (col->type.id != TypeId::Udt)
      return invalid(fmt::format("Column {} is not a user type", col->name));
    auto it = std::find(col->type.field_names.begin(), col->type.field_names.end(), c.field);
    if (it == col->type.field_names.end()) {
      return invalid(fmt::format("Unknown field {} of user type {}", c.field, col->type.udt_name));
    }
    value_type = col->type.params[static_cast<size_t>(it - col->type.field_names.begin())];
  } else if (c.op == Operator::Contains) {
    value_type = col->type.id == TypeId::Map ? col->type.params[1] : col->type.params.at(0);
  } else if (c.op == Operator::ContainsKey) {
    value_type = col->type.params.at(0);
  }
  if (c.op == Operator::In) {
    if (c.in_marker) {
      auto e = compile_term(c.value, DataType::list_of(value_type),
                            fmt::format("in({})", col->name), cc);
      if (!e) return tl::unexpected(e.error());
      f.in.list = std::move(*e);
    } else {
      for (const auto& t : c.in_values) {
        auto e = compile_term(t, value_type, col->name, cc);
        if (!e) return tl::unexpected(e.error());
        f.in.values.push_back(std::move(*e));
      }
    }
  } else {
    auto e = compile_term(c.value, value_type, col->name, cc);
    if (!e) return tl::unexpected(e.error());
    f.value = std::move(*e);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Runtime

CqlResult<std::vector<Bytes>> partition_keys(const WhereClause& w, const TableSchema& schema,
                                             const ExecContext& ctx) {
  const auto pk = schema.partition_key();
  if (pk.size() == 1) {
    return eval_values(w.partition[0], ctx, pk[0]->name, pk[0]->type);
  }
  std::vector<std::vector<Bytes>> parts;
  for (size_t i = 0; i < pk.size(); ++i) {
    auto v = eval_values(w.partition[i], ctx, pk[i]->name, pk[i]->type);
    if (!v) return v;
    parts.push_back(std::move(*v));
  }
  std::vector<Bytes> out;
  std::vector<size_t> idx(pk.size(), 0);
  for (const auto& p : parts) {
    if (p.empty()) return out;
  }
  while (true) {
    std::vector<ByteView> comps;
    for (size_t i = 0; i < pk.size(); ++i) comps.push_back(parts[i][idx[i]]);
    auto key = partition_key_bytes(comps);
    if (!key) return invalid(key.error().message);
    out.push_back(std::move(*key));
    size_t i = pk.size();
    while (i > 0) {
      --i;
      if (++idx[i] < parts[i].size()) break;
      idx[i] = 0;
      if (i == 0) return out;
    }
  }
}

CqlResult<std::vector<Clustering>> clustering_prefixes(const WhereClause& w,
                                                       const TableSchema& schema,
                                                       const ExecContext& ctx) {
  const auto ck = schema.clustering();
  std::vector<Clustering> out{Clustering{}};
  if (w.multi_eq) {
    std::vector<const ColumnSchema*> cols(
        ck.begin(), ck.begin() + static_cast<std::ptrdiff_t>(w.multi_eq_size));
    auto tuples = eval_values(*w.multi_eq, ctx, "clustering tuple", tuple_type(cols));
    if (!tuples) return tl::unexpected(tuples.error());
    out.clear();
    for (const auto& t : *tuples) {
      auto comps = split_tuple(t);
      if (comps.size() != w.multi_eq_size)
        return invalid("Invalid tuple value for clustering columns");
      out.push_back(std::move(comps));
    }
    return out;
  }
  for (size_t i = 0; i < w.clustering_eq.size(); ++i) {
    auto v = eval_values(w.clustering_eq[i], ctx, ck[i]->name, ck[i]->type);
    if (!v) return tl::unexpected(v.error());
    if (v->size() == 1) {
      for (auto& p : out) p.push_back((*v)[0]);
      continue;
    }
    std::vector<Clustering> next;
    for (const auto& p : out) {
      for (const auto& x : *v) {
        next.push_back(p);
        next.back().push_back(x);
      }
    }
    out = std::move(next);
  }
  // IN lists select rows in clustering order, not in the order listed.
  if (out.size() > 1) {
    ClusteringComparator cmp(schema);
    std::sort(out.begin(), out.end(),
              [&](const Clustering& a, const Clustering& b) { return cmp.compare(a, b) < 0; });
  }
  return out;
}

CqlResult<std::vector<ClusteringSlice>> clustering_slices(const WhereClause& w,
                                                          const TableSchema& schema,
                                                          const ExecContext& ctx) {
  std::vector<ClusteringSlice> slices;
  if (!w.has_clustering_restriction()) return slices;
  auto prefixes = clustering_prefixes(w, schema, ctx);
  if (!prefixes) return tl::unexpected(prefixes.error());
  auto bound_values =
      [&](const std::optional<BoundExpr>& b) -> CqlResult<std::optional<std::vector<Bytes>>> {
    if (!b) return std::optional<std::vector<Bytes>>{};
    auto v = eval(b->value, ctx);
    if (!v) return tl::unexpected(v.error());
    if (!v->is_set()) return invalid("Invalid null value in condition for a clustering column");
    if (b->multi) return std::optional<std::vector<Bytes>>(split_tuple(v->bytes));
    return std::optional<std::vector<Bytes>>(std::vector<Bytes>{std::move(v->bytes)});
  };
  auto lo = bound_values(w.range_start);
  if (!lo) return tl::unexpected(lo.error());
  auto hi = bound_values(w.range_end);
  if (!hi) return tl::unexpected(hi.error());
  bool lo_incl = w.range_start ? w.range_start->inclusive : true;
  bool hi_incl = w.range_end ? w.range_end->inclusive : true;
  if (w.range_reversed) {  // DESC: the greater values come first in clustering order
    std::swap(*lo, *hi);
    std::swap(lo_incl, hi_incl);
  }
  for (const auto& p : *prefixes) {
    ClusteringSlice s;
    s.start.prefix = p;
    s.start.inclusive = true;
    s.end.prefix = p;
    s.end.inclusive = true;
    if (*lo) {
      for (const auto& x : **lo) s.start.prefix.push_back(x);
      s.start.inclusive = lo_incl;
    }
    if (*hi) {
      for (const auto& x : **hi) s.end.prefix.push_back(x);
      s.end.inclusive = hi_incl;
    }
    slices.push_back(std::move(s));
  }
  return slices;
}

CqlResult<std::vector<BoundFilter>> bind_filters(const std::vector<Filter>& filters,
                                                 const ExecContext& ctx) {
  std::vector<BoundFilter> out;
  out.reserve(filters.size());
  for (const auto& f : filters) {
    BoundFilter b;
    b.filter = &f;
    if (f.op == Operator::In) {
      auto v = eval_values(f.in, ctx, f.column->name, f.column->type);
      if (!v) return tl::unexpected(v.error());
      b.in = std::move(*v);
    } else {
      auto v = eval(f.value, ctx);
      if (!v) return tl::unexpected(v.error());
      if (v->kind == EvalValue::Kind::Unset) {
        return invalid(fmt::format("Invalid unset value for column {}", f.column->name));
      }
      if (v->is_set()) b.value = std::move(v->bytes);
    }
    if (f.element_key) {
      auto k = eval(*f.element_key, ctx);
      if (!k) return tl::unexpected(k.error());
      if (!k->is_set())
        return invalid(fmt::format("Invalid null value for {} element", f.column->name));
      b.element_key = std::move(k->bytes);
    }
    out.push_back(std::move(b));
  }
  return out;
}

namespace {

bool compare_op(Operator op, int c) {
  switch (op) {
    case Operator::Eq:
      return c == 0;
    case Operator::Ne:
      return c != 0;
    case Operator::Lt:
      return c < 0;
    case Operator::Le:
      return c <= 0;
    case Operator::Gt:
      return c > 0;
    case Operator::Ge:
      return c >= 0;
    default:
      return false;
  }
}

}  // namespace

bool filter_matches(const BoundFilter& b, const std::optional<Bytes>& cell) {
  const Filter& f = *b.filter;
  const DataType& type = f.column->type;
  std::optional<Bytes> actual = cell;
  DataType actual_type = type;
  if (b.element_key) {  // m[k] or l[i]
    actual.reset();
    if (cell) {
      auto parts = split_collection(*cell, type.id == TypeId::Map);
      if (parts) {
        if (type.id == TypeId::Map) {
          for (size_t i = 0; i + 1 < parts->size(); i += 2) {
            if (protocol::compare_values(type.params[0], (*parts)[i], *b.element_key) == 0) {
              actual = (*parts)[i + 1];
            }
          }
        } else if (b.element_key->size() == 4) {
          const auto idx = static_cast<int32_t>(load_be32(b.element_key->data()));
          if (idx >= 0 && static_cast<size_t>(idx) < parts->size())
            actual = (*parts)[static_cast<size_t>(idx)];
        }
      }
    }
    actual_type = type.id == TypeId::Map ? type.params[1] : type.params[0];
  } else if (!f.field.empty()) {
    actual.reset();
    if (cell) {
      auto it = std::find(type.field_names.begin(), type.field_names.end(), f.field);
      const size_t idx = static_cast<size_t>(it - type.field_names.begin());
      auto parts = split_tuple(*cell);
      if (idx < parts.size()) actual = parts[idx];
      actual_type = type.params[idx];
    }
  }
  switch (f.op) {
    case Operator::Contains:
    case Operator::ContainsKey: {
      if (!actual || !b.value) return false;
      const bool is_map = type.id == TypeId::Map;
      auto parts = split_collection(*actual, is_map);
      if (!parts) return false;
      const DataType& et = is_map
                               ? (f.op == Operator::ContainsKey ? type.params[0] : type.params[1])
                               : type.params[0];
      for (size_t i = 0; i < parts->size(); ++i) {
        if (is_map && (i % 2 == 0) != (f.op == Operator::ContainsKey)) continue;
        if (protocol::compare_values(et, (*parts)[i], *b.value) == 0) return true;
      }
      return false;
    }
    case Operator::In:
      for (const auto& v : b.in) {
        if (actual && protocol::compare_values(actual_type, *actual, v) == 0) return true;
      }
      return false;
    default:
      break;
  }
  if (!b.value || !actual) {
    // IF c = null holds when c is null; != null when it is not.
    if (f.op == Operator::Eq) return !b.value && !actual;
    if (f.op == Operator::Ne) return b.value.has_value() != actual.has_value();
    return false;
  }
  return compare_op(f.op, protocol::compare_values(actual_type, *actual, *b.value));
}

std::optional<Bytes> column_bytes(const ColumnSchema& column, const ResultRow& row,
                                  const std::vector<Bytes>& pk_parts, const ReadResult& result) {
  switch (column.kind) {
    case ColumnKind::PartitionKey:
      if (column.position < pk_parts.size()) return pk_parts[column.position];
      return std::nullopt;
    case ColumnKind::Clustering:
      if (column.position < row.clustering.size()) return row.clustering[column.position];
      return std::nullopt;
    default:
      break;
  }
  for (size_t i = 0; i < result.columns.size(); ++i) {
    if (result.columns[i]->id != column.id) continue;
    const ColumnValue& v = row.values[i];
    if (v.is_null()) return std::nullopt;
    if (column.is_multi_cell()) return collection_bytes(column, v);
    return v.cell->value;
  }
  return std::nullopt;
}

}  // namespace zdm::node::exec
