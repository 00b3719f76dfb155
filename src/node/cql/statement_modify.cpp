// INSERT, UPDATE, DELETE and BATCH: compiled into plans that build Mutations, applied directly or
// through Table::compare_and_set for lightweight transactions.

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "node/cql/executor.hpp"
#include "node/cql/json_value.hpp"
#include "protocol/cql_type.hpp"

namespace zdm::node::exec {

using protocol::TypeId;

CqlResult<void> check_writable(const std::string& keyspace) {
  if (is_system_keyspace(keyspace)) {
    return cql_error(ErrorCode::Unauthorized,
                     fmt::format("{} keyspace is not user-modifiable.", keyspace));
  }
  return {};
}

CqlResult<TableRef> resolve_table(Services& services, const cql::QualifiedName& name,
                                  const std::string& session_keyspace) {
  const std::string& ks = name.keyspace.empty() ? session_keyspace : name.keyspace;
  if (ks.empty()) {
    return invalid(
        "No keyspace has been specified. USE a keyspace, or explicitly specify "
        "keyspace.tablename");
  }
  auto table = services.engine->table(ks, name.name);
  if (!table) {
    if (!services.engine->catalog().find_keyspace(ks)) {
      return invalid(fmt::format("Keyspace {} does not exist", ks));
    }
    return invalid(fmt::format("unconfigured table {}", name.name));
  }
  return TableRef{table, table->schema()};
}

CqlResult<void> apply_writes(std::vector<PendingWrite>& writes) {
  for (auto& w : writes) {
    auto ok = w.table->apply(w.mutation);
    if (!ok) return server_error(ok.error());
  }
  return {};
}

namespace {

enum class OpKind : uint8_t {
  Set,
  Add,
  Prepend,
  Subtract,
  SetElement,
  DeleteColumn,
  DeleteElement,
};

struct OpPlan {
  const ColumnSchema* column = nullptr;
  OpKind kind = OpKind::Set;
  Expr value;
  std::optional<Expr> key;
};

int64_t load_i64(ByteView b) {
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return static_cast<int64_t>(v);
}

std::string op_text(const ColumnSchema& c, OpKind k) {
  switch (k) {
    case OpKind::Add:
      return fmt::format("{0} = {0} + ?", c.name);
    case OpKind::Subtract:
      return fmt::format("{0} = {0} - ?", c.name);
    case OpKind::Prepend:
      return fmt::format("{0} = ? + {0}", c.name);
    case OpKind::SetElement:
      return fmt::format("{}[?] = ?", c.name);
    default:
      return fmt::format("{} = ?", c.name);
  }
}

// Compiles one assignment / delete target, checking it against the column's type.
CqlResult<OpPlan> compile_op(const ColumnSchema& c, OpKind kind, const cql::Term* value,
                             const cql::Term* key, CompileContext& cc) {
  OpPlan op;
  op.column = &c;
  op.kind = kind;
  const DataType& t = c.type;
  const bool collection = t.is_collection();
  DataType receiver = t;
  if (kind == OpKind::Add || kind == OpKind::Subtract || kind == OpKind::Prepend) {
    if (c.is_counter()) {
      if (kind == OpKind::Prepend)
        return invalid(
            fmt::format("Invalid operation ({}) for counter column {}", op_text(c, kind), c.name));
    } else if (!collection) {
      return invalid(fmt::format("Invalid operation ({}) for non counter column {}",
                                 op_text(c, kind), c.name));
    } else if (!c.is_multi_cell()) {
      return invalid(fmt::format("Invalid operation ({}) for frozen collection column {}",
                                 op_text(c, kind), c.name));
    } else if (kind == OpKind::Prepend && t.id != TypeId::List) {
      return invalid(
          fmt::format("Invalid operation ({}) for non list column {}", op_text(c, kind), c.name));
    } else if (kind == OpKind::Subtract && t.id == TypeId::Map) {
      receiver = DataType::set_of(t.params[0]);
    }
  } else if (kind == OpKind::Set && c.is_counter()) {
    return invalid(
        fmt::format("Cannot set the value of counter column {} (counters can only be "
                    "incremented/decremented, not set)",
                    c.name));
  }
  if (kind == OpKind::SetElement || kind == OpKind::DeleteElement) {
    if (t.id != TypeId::Map && t.id != TypeId::List) {
      return invalid(fmt::format("Invalid operation ({}) for non collection column {}",
                                 op_text(c, OpKind::SetElement), c.name));
    }
    if (!c.is_multi_cell()) {
      return invalid(fmt::format("Invalid operation ({}) for frozen collection column {}",
                                 op_text(c, OpKind::SetElement), c.name));
    }
    const bool is_map = t.id == TypeId::Map;
    auto k = compile_term(*key, is_map ? t.params[0] : DataType::simple(TypeId::Int),
                          (is_map ? "key(" : "idx(") + c.name + ")", cc);
    if (!k) return tl::unexpected(k.error());
    op.key = std::move(*k);
    receiver = is_map ? t.params[1] : t.params[0];
    if (kind == OpKind::SetElement) {
      auto v = compile_term(*value, receiver, fmt::format("value({})", c.name), cc);
      if (!v) return tl::unexpected(v.error());
      op.value = std::move(*v);
    }
    return op;
  }
  if (value != nullptr) {
    auto v = compile_term(*value, receiver, c.name, cc);
    if (!v) return tl::unexpected(v.error());
    op.value = std::move(*v);
  }
  return op;
}

std::vector<std::pair<Bytes, Bytes>> to_elements(const DataType& t, std::vector<Bytes> parts) {
  std::vector<std::pair<Bytes, Bytes>> out;
  if (t.id == TypeId::Map) {
    for (size_t i = 0; i + 1 < parts.size(); i += 2) {
      out.emplace_back(std::move(parts[i]), std::move(parts[i + 1]));
    }
  } else if (t.id == TypeId::Set) {
    for (auto& p : parts) out.emplace_back(std::move(p), Bytes{});
  } else {
    for (auto& p : parts) out.emplace_back(Bytes{}, std::move(p));
  }
  return out;
}

// Appends the ColumnOps of one operation with its evaluated operands.
CqlResult<void> add_op(RowWrite& row, const OpPlan& op, const ExecContext& ctx, int64_t ts,
                       int32_t ttl) {
  const ColumnSchema& c = *op.column;
  const DataType& t = c.type;
  if (op.kind == OpKind::DeleteColumn) {
    row.ops.push_back(ColumnOp::remove(c.id, ts));
    return {};
  }
  std::optional<EvalValue> key;
  if (op.key) {
    auto k = eval(*op.key, ctx);
    if (!k) return tl::unexpected(k.error());
    if (!k->is_set()) {
      return invalid(fmt::format("Invalid {} value for {} element",
                                 k->kind == EvalValue::Kind::Unset ? "unset" : "null", c.name));
    }
    key = std::move(*k);
  }
  if (op.kind == OpKind::DeleteElement) {
    if (t.id == TypeId::Map) {
      row.ops.push_back(ColumnOp::collection(c.id, ColumnOpKind::RemoveElements,
                                             {{std::move(key->bytes), Bytes{}}}, ts));
    } else {
      if (key->bytes.size() != 4) return invalid("Invalid list index");
      ColumnOp o;
      o.column = c.id;
      o.kind = ColumnOpKind::RemoveIndex;
      o.index = static_cast<int32_t>(load_be32(key->bytes.data()));
      o.timestamp = ts;
      row.ops.push_back(std::move(o));
    }
    return {};
  }
  auto v = eval(op.value, ctx);
  if (!v) return tl::unexpected(v.error());
  if (v->kind == EvalValue::Kind::Unset) return {};
  const bool is_null = !v->is_set();
  if (!is_null && op.kind != OpKind::SetElement) {
    const DataType& vt = op.value.type;
    auto ok = validate_value(vt, v->bytes, c.name);
    if (!ok) return ok;
  }
  switch (op.kind) {
    case OpKind::Set:
      if (is_null) {
        row.ops.push_back(ColumnOp::remove(c.id, ts));
      } else if (c.is_multi_cell()) {
        auto parts = split_collection(v->bytes, t.id == TypeId::Map);
        if (!parts) return tl::unexpected(parts.error());
        row.ops.push_back(ColumnOp::collection(c.id, ColumnOpKind::Overwrite,
                                               to_elements(t, std::move(*parts)), ts, ttl));
      } else {
        row.ops.push_back(ColumnOp::set(c.id, std::move(v->bytes), ts, ttl));
      }
      return {};
    case OpKind::Add:
    case OpKind::Subtract:
    case OpKind::Prepend: {
      if (is_null) {
        if (c.is_counter()) return invalid(fmt::format("Invalid null value for counter increment"));
        return {};  // adding/removing null does nothing
      }
      if (c.is_counter()) {
        if (v->bytes.size() != 8) return invalid("Invalid counter increment");
        const int64_t d = load_i64(v->bytes);
        row.ops.push_back(ColumnOp::counter_add(c.id, op.kind == OpKind::Add ? d : -d, ts));
        return {};
      }
      const bool value_is_map = op.value.type.id == TypeId::Map;
      auto parts = split_collection(v->bytes, value_is_map);
      if (!parts) return tl::unexpected(parts.error());
      ColumnOpKind k = ColumnOpKind::AddElements;
      if (t.id == TypeId::List) {
        k = op.kind == OpKind::Add       ? ColumnOpKind::Append
            : op.kind == OpKind::Prepend ? ColumnOpKind::Prepend
                                         : ColumnOpKind::RemoveValues;
      } else if (op.kind == OpKind::Subtract) {
        k = ColumnOpKind::RemoveElements;
      }
      auto elements = to_elements(op.value.type, std::move(*parts));
      if (t.id == TypeId::Map && op.kind == OpKind::Subtract) {
        elements = to_elements(DataType::set_of(t.params[0]), {});
        auto keys = split_collection(v->bytes, false);
        for (auto& kk : *keys) elements.emplace_back(std::move(kk), Bytes{});
      }
      row.ops.push_back(ColumnOp::collection(
          c.id, k, std::move(elements), ts,
          k == ColumnOpKind::RemoveElements || k == ColumnOpKind::RemoveValues ? 0 : ttl));
      return {};
    }
    case OpKind::SetElement: {
      if (t.id == TypeId::Map) {
        if (is_null) {
          row.ops.push_back(ColumnOp::collection(c.id, ColumnOpKind::RemoveElements,
                                                 {{std::move(key->bytes), Bytes{}}}, ts));
        } else {
          auto ok = validate_value(t.params[1], v->bytes, c.name);
          if (!ok) return ok;
          row.ops.push_back(ColumnOp::collection(c.id, ColumnOpKind::AddElements,
                                                 {{std::move(key->bytes), std::move(v->bytes)}}, ts,
                                                 ttl));
        }
      } else {
        if (key->bytes.size() != 4) return invalid("Invalid list index");
        ColumnOp o;
        o.column = c.id;
        o.index = static_cast<int32_t>(load_be32(key->bytes.data()));
        o.timestamp = ts;
        if (is_null) {
          o.kind = ColumnOpKind::RemoveIndex;
        } else {
          o.kind = ColumnOpKind::SetIndex;
          o.value = std::move(v->bytes);
          o.ttl = ttl;
        }
        row.ops.push_back(std::move(o));
      }
      return {};
    }
    default:
      return {};
  }
}

constexpr int32_t kMaxTtl = 630720000;  // 20 years, Cassandra's MAX_TTL

class WritePlan : public ModifyPlan {
 public:
  enum class Kind : uint8_t { Insert, Update, Delete };
  Kind kind = Kind::Insert;
  WhereClause where;  // UPDATE/DELETE
  // INSERT: key columns' values (by partition/clustering position) and value-column ops.
  std::vector<Expr> pk_values;
  std::vector<Expr> ck_values;
  bool json = false;
  std::optional<Expr> json_value;
  bool json_default_unset = false;
  std::vector<OpPlan> ops;
  std::optional<Expr> ttl;
  std::optional<Expr> timestamp;
  bool if_exists = false;
  std::vector<Filter> conditions;

  CqlResult<int64_t> statement_timestamp(const ExecContext& ctx, int64_t fallback) const {
    if (!timestamp) return fallback;
    auto v = eval(*timestamp, ctx);
    if (!v) return tl::unexpected(v.error());
    if (v->kind == EvalValue::Kind::Unset) return fallback;
    if (!v->is_set() || v->bytes.size() != 8) return invalid("Invalid null value of timestamp");
    return load_i64(v->bytes);
  }

  CqlResult<int32_t> statement_ttl(const ExecContext& ctx) const {
    if (!ttl) return ref.schema->default_ttl;
    auto v = eval(*ttl, ctx);
    if (!v) return tl::unexpected(v.error());
    if (v->kind == EvalValue::Kind::Unset) return ref.schema->default_ttl;
    if (!v->is_set()) return 0;
    if (v->bytes.size() != 4) return invalid("Invalid TTL value");
    const auto t = static_cast<int32_t>(load_be32(v->bytes.data()));
    if (t < 0) return invalid(fmt::format("A TTL must be greater or equal to 0, but was {}", t));
    if (t > kMaxTtl) {
      return invalid(fmt::format("ttl is too large. requested ({}) maximum ({})", t, kMaxTtl));
    }
    return t;
  }

  // INSERT: the keys and per-column values, from the VALUES terms or the JSON document.
  struct InsertValues {
    std::vector<Bytes> pk;
    Clustering ck;
    std::vector<std::pair<const OpPlan*, EvalValue>> json_ops;  // JSON only
  };

  CqlResult<InsertValues> insert_values(const ExecContext& ctx,
                                        std::vector<OpPlan>& json_ops) const {
    InsertValues out;
    const TableSchema& schema = *ref.schema;
    const auto pk = schema.partition_key();
    const auto ck = schema.clustering();
    auto key_value = [&](const ColumnSchema& c, EvalValue v) -> CqlResult<Bytes> {
      if (!v.is_set()) {
        return invalid(fmt::format("Invalid {} value in condition for column {}",
                                   v.kind == EvalValue::Kind::Unset ? "unset" : "null", c.name));
      }
      auto ok = validate_value(c.type, v.bytes, c.name);
      if (!ok) return tl::unexpected(ok.error());
      return std::move(v.bytes);
    };
    if (json) {
      auto doc = eval(*json_value, ctx);
      if (!doc) return tl::unexpected(doc.error());
      if (!doc->is_set()) return invalid("Got null for INSERT JSON values");
      auto parsed = json_to_columns(schema, as_chars(doc->bytes));
      if (!parsed) return invalid(parsed.error().message);
      std::map<std::string, Bytes> provided;
      std::map<std::string, bool> nulls;
      for (auto& [col, value] : *parsed) {
        if (value) {
          provided[col->name] = std::move(*value);
        } else {
          nulls[col->name] = true;
        }
      }
      for (const auto* c : pk) {
        auto it = provided.find(c->name);
        if (it == provided.end()) {
          return invalid(fmt::format("Invalid null value in condition for column {}", c->name));
        }
        out.pk.push_back(it->second);
      }
      for (const auto* c : ck) {
        auto it = provided.find(c->name);
        if (it == provided.end()) {
          return invalid(fmt::format("Invalid null value in condition for column {}", c->name));
        }
        out.ck.push_back(it->second);
      }
      for (const auto& c : schema.columns) {
        if (c.is_primary_key()) continue;
        OpPlan op;
        op.column = &c;
        op.kind = OpKind::Set;
        auto it = provided.find(c.name);
        if (it != provided.end()) {
          op.value = Expr::constant_of(c.type, EvalValue::set(it->second));
        } else if (json_default_unset && nulls.count(c.name) == 0) {
          continue;
        } else {
          op.value = Expr::constant_of(c.type, EvalValue::null());
        }
        json_ops.push_back(std::move(op));
      }
      return out;
    }
    for (size_t i = 0; i < pk.size(); ++i) {
      auto v = eval(pk_values[i], ctx);
      if (!v) return tl::unexpected(v.error());
      auto b = key_value(*pk[i], std::move(*v));
      if (!b) return tl::unexpected(b.error());
      out.pk.push_back(std::move(*b));
    }
    for (size_t i = 0; i < ck.size(); ++i) {
      auto v = eval(ck_values[i], ctx);
      if (!v) return tl::unexpected(v.error());
      auto b = key_value(*ck[i], std::move(*v));
      if (!b) return tl::unexpected(b.error());
      out.ck.push_back(std::move(*b));
    }
    return out;
  }

  CqlResult<std::pair<std::vector<Bytes>, std::vector<Clustering>>> keys(
      const ExecContext& ctx, std::vector<OpPlan>& json_ops) const {
    if (kind == Kind::Insert) {
      auto v = insert_values(ctx, json_ops);
      if (!v) return tl::unexpected(v.error());
      Bytes key;
      if (v->pk.size() == 1) {
        key = std::move(v->pk[0]);
      } else {
        std::vector<ByteView> parts(v->pk.begin(), v->pk.end());
        auto k = partition_key_bytes(parts);
        if (!k) return invalid(k.error().message);
        key = std::move(*k);
      }
      std::vector<Bytes> pks;
      pks.push_back(std::move(key));
      std::vector<Clustering> cks;
      cks.push_back(std::move(v->ck));
      return std::make_pair(std::move(pks), std::move(cks));
    }
    auto pks = partition_keys(where, *ref.schema, ctx);
    if (!pks) return tl::unexpected(pks.error());
    std::vector<Clustering> cks;
    if (kind == Kind::Update || !(where.range_start || where.range_end)) {
      auto p = clustering_prefixes(where, *ref.schema, ctx);
      if (!p) return tl::unexpected(p.error());
      cks = std::move(*p);
    }
    return std::make_pair(std::move(*pks), std::move(cks));
  }

  CqlResult<std::vector<PendingWrite>> build(const ExecContext& ctx,
                                             int64_t fallback_ts) const override {
    auto ts = statement_timestamp(ctx, fallback_ts);
    if (!ts) return tl::unexpected(ts.error());
    auto ttl_v = statement_ttl(ctx);
    if (!ttl_v) return tl::unexpected(ttl_v.error());
    std::vector<OpPlan> json_ops;
    auto k = keys(ctx, json_ops);
    if (!k) return tl::unexpected(k.error());
    auto& [pks, cks] = *k;
    const TableSchema& schema = *ref.schema;
    const size_t ck_size = schema.clustering().size();
    const std::vector<OpPlan>& all_ops = json ? json_ops : ops;

    std::vector<PendingWrite> out;
    out.reserve(pks.size());
    for (auto& pk : pks) {
      PendingWrite w{ref.table, ref.schema, {}};
      w.mutation.partition_key = std::move(pk);
      if (kind == Kind::Delete && ops.empty()) {
        // Whole rows, a clustering range, or the whole partition.
        if (where.range_start || where.range_end) {
          auto slices = clustering_slices(where, schema, ctx);
          if (!slices) return tl::unexpected(slices.error());
          for (auto& s : *slices)
            w.mutation.range_deletions.push_back(RangeDeletion{std::move(s), *ts});
        } else {
          for (const auto& c : cks) {
            if (c.empty()) {
              w.mutation.partition_deletion = *ts;
            } else if (c.size() == ck_size) {
              RowWrite row;
              row.clustering = c;
              row.deletion = *ts;
              w.mutation.rows.push_back(std::move(row));
            } else {
              w.mutation.range_deletions.push_back(RangeDeletion{ClusteringSlice::equal(c), *ts});
            }
          }
        }
      } else {
        for (const auto& c : cks) {
          RowWrite row;
          const bool static_only = std::all_of(all_ops.begin(), all_ops.end(), [](const OpPlan& o) {
            return o.column->kind == ColumnKind::Static;
          });
          if (c.size() != ck_size && !(static_only && !all_ops.empty())) {
            return invalid(fmt::format("Some clustering keys are missing: {}",
                                       schema.clustering()[c.size()]->name));
          }
          if (!(static_only && kind != Kind::Insert && c.size() != ck_size)) row.clustering = c;
          if (kind == Kind::Insert) row.marker = RowMarker{*ts, *ttl_v};
          for (const auto& op : all_ops) {
            auto ok = add_op(row, op, ctx, *ts, *ttl_v);
            if (!ok) return tl::unexpected(ok.error());
          }
          if (kind == Kind::Insert && static_only && ck_size > 0 && !all_ops.empty() && false) {
            row.marker.reset();
          }
          w.mutation.rows.push_back(std::move(row));
        }
      }
      out.push_back(std::move(w));
    }
    return out;
  }

  CqlResult<ConditionCheck> condition(const ExecContext& ctx) const override {
    std::vector<OpPlan> json_ops;
    auto k = keys(ctx, json_ops);
    if (!k) return tl::unexpected(k.error());
    auto& [pks, cks] = *k;
    if (pks.size() != 1) {
      return invalid("IN on the partition key is not supported with conditional updates");
    }
    if (cks.size() > 1) {
      return invalid("IN on the clustering key columns is not supported with conditional updates");
    }
    ConditionCheck check;
    check.partition_key = std::move(pks[0]);
    if (!cks.empty()) check.clustering = std::move(cks[0]);
    check.if_exists = if_exists;
    check.if_not_exists = if_not_exists;
    auto filters = bind_filters(conditions, ctx);
    if (!filters) return tl::unexpected(filters.error());
    check.filters = std::move(*filters);
    return check;
  }

  CqlResult<protocol::ResultBody> execute(const ExecContext& ctx) const override {
    const int64_t fallback =
        ctx.default_timestamp ? *ctx.default_timestamp : ctx.services->next_timestamp();
    if (has_conditions) {
      auto check = condition(ctx);
      if (!check) return tl::unexpected(check.error());
      auto writes = build(ctx, fallback);
      if (!writes) return tl::unexpected(writes.error());
      std::vector<ConditionCheck> checks;
      checks.push_back(std::move(*check));
      return execute_conditional(ctx, {this}, std::move(checks), std::move(*writes));
    }
    auto writes = build(ctx, fallback);
    if (!writes) return tl::unexpected(writes.error());
    auto ok = apply_writes(*writes);
    if (!ok) return tl::unexpected(ok.error());
    return protocol::VoidResult{};
  }
};

CqlResult<void> compile_using(const cql::UsingClause& u, WritePlan& plan, CompileContext& cc,
                              bool allow_ttl) {
  if (u.ttl) {
    if (!allow_ttl) return invalid("TTL is not supported in this statement");
    if (plan.counter) return invalid("Cannot provide custom TTL for counter updates");
    auto e = compile_term(*u.ttl, DataType::simple(TypeId::Int), "[ttl]", cc);
    if (!e) return tl::unexpected(e.error());
    plan.ttl = std::move(*e);
  }
  if (u.timestamp) {
    if (plan.counter) return invalid("Cannot provide custom timestamp for counter updates");
    auto e = compile_term(*u.timestamp, DataType::simple(TypeId::Bigint), "[timestamp]", cc);
    if (!e) return tl::unexpected(e.error());
    plan.timestamp = std::move(*e);
  }
  return {};
}

CqlResult<void> compile_conditions(const std::vector<cql::Condition>& conditions, WritePlan& plan,
                                   CompileContext& cc) {
  const TableSchema& schema = *plan.ref.schema;
  for (const auto& c : conditions) {
    auto f = compile_condition(c, schema, cc);
    if (!f) return tl::unexpected(f.error());
    plan.conditions.push_back(std::move(*f));
  }
  // Returned on failure in the table's column order.
  for (const auto& col : schema.columns) {
    for (const auto& f : plan.conditions) {
      if (f.column == &col) {
        plan.condition_columns.push_back(&col);
        break;
      }
    }
  }
  return {};
}

CqlResult<std::unique_ptr<WritePlan>> start_plan(const cql::QualifiedName& name, CompileContext& cc,
                                                 const std::string& session_keyspace,
                                                 WritePlan::Kind kind) {
  auto ref = resolve_table(*cc.services, name, session_keyspace);
  if (!ref) return tl::unexpected(ref.error());
  auto ok = check_writable(ref->schema->keyspace);
  if (!ok) return tl::unexpected(ok.error());
  auto plan = std::make_unique<WritePlan>();
  plan->kind = kind;
  plan->ref = std::move(*ref);
  plan->keyspace = plan->ref.schema->keyspace;
  plan->table = plan->ref.schema->table;
  plan->counter = plan->ref.schema->is_counter_table();
  cc.keyspace = plan->keyspace;
  cc.table = plan->table;
  return plan;
}

}  // namespace

CqlResult<std::unique_ptr<ModifyPlan>> compile_insert(const cql::Insert& s, CompileContext& cc,
                                                      const std::string& session_keyspace) {
  auto plan = start_plan(s.table, cc, session_keyspace, WritePlan::Kind::Insert);
  if (!plan) return tl::unexpected(plan.error());
  WritePlan& p = **plan;
  const TableSchema& schema = *p.ref.schema;
  if (p.counter) {
    return invalid("INSERT statements are not allowed on counter tables, use UPDATE instead");
  }
  auto ok = compile_using(s.using_clause, p, cc, true);
  if (!ok) return tl::unexpected(ok.error());
  p.if_not_exists = s.if_not_exists;
  p.has_conditions = s.if_not_exists;
  if (s.if_not_exists) {
    for (const auto& c : schema.columns) p.condition_columns.push_back(&c);
  }
  if (s.json) {
    p.json = true;
    auto e = compile_term(*s.json_value, DataType::simple(TypeId::Varchar), "[json]", cc);
    if (!e) return tl::unexpected(e.error());
    p.json_value = std::move(*e);
    p.json_default_unset = s.json_default_unset;
    return std::unique_ptr<ModifyPlan>(std::move(*plan));
  }
  if (s.columns.size() != s.values.size()) {
    return invalid("Unmatched column names/values");
  }
  const auto pk = schema.partition_key();
  const auto ck = schema.clustering();
  std::vector<std::optional<Expr>> pkv(pk.size()), ckv(ck.size());
  for (size_t i = 0; i < s.columns.size(); ++i) {
    const ColumnSchema* c = schema.find_column(s.columns[i]);
    if (c == nullptr) return invalid(fmt::format("Undefined column name {}", s.columns[i]));
    for (size_t j = 0; j < i; ++j) {
      if (s.columns[j] == s.columns[i]) {
        return invalid(fmt::format("Multiple definitions found for column {}", c->name));
      }
    }
    if (c->is_primary_key()) {
      auto e = compile_term(s.values[i], c->type, c->name, cc);
      if (!e) return tl::unexpected(e.error());
      (c->kind == ColumnKind::PartitionKey ? pkv : ckv)[c->position] = std::move(*e);
    } else {
      auto op = compile_op(*c, OpKind::Set, &s.values[i], nullptr, cc);
      if (!op) return tl::unexpected(op.error());
      p.ops.push_back(std::move(*op));
    }
  }
  for (size_t i = 0; i < pk.size(); ++i) {
    if (!pkv[i])
      return invalid(fmt::format("Some partition key parts are missing: {}", pk[i]->name));
    p.pk_values.push_back(std::move(*pkv[i]));
  }
  for (size_t i = 0; i < ck.size(); ++i) {
    if (!ckv[i]) return invalid(fmt::format("Some clustering keys are missing: {}", ck[i]->name));
    p.ck_values.push_back(std::move(*ckv[i]));
  }
  return std::unique_ptr<ModifyPlan>(std::move(*plan));
}

CqlResult<std::unique_ptr<ModifyPlan>> compile_update(const cql::Update& s, CompileContext& cc,
                                                      const std::string& session_keyspace) {
  auto plan = start_plan(s.table, cc, session_keyspace, WritePlan::Kind::Update);
  if (!plan) return tl::unexpected(plan.error());
  WritePlan& p = **plan;
  const TableSchema& schema = *p.ref.schema;
  auto ok = compile_using(s.using_clause, p, cc, true);
  if (!ok) return tl::unexpected(ok.error());
  for (const auto& a : s.assignments) {
    const ColumnSchema* c = schema.find_column(a.column);
    if (c == nullptr) return invalid(fmt::format("Undefined column name {}", a.column));
    if (c->is_primary_key()) {
      return invalid(fmt::format("PRIMARY KEY part {} found in SET part", c->name));
    }
    if (p.counter &&
        !(a.kind == cql::Assignment::Kind::Add || a.kind == cql::Assignment::Kind::Subtract)) {
      return invalid(
          fmt::format("Cannot set the value of counter column {} (counters can only be "
                      "incremented/decremented, not set)",
                      c->name));
    }
    OpKind k = OpKind::Set;
    switch (a.kind) {
      case cql::Assignment::Kind::Set:
        k = OpKind::Set;
        break;
      case cql::Assignment::Kind::Add:
        k = OpKind::Add;
        break;
      case cql::Assignment::Kind::Prepend:
        k = OpKind::Prepend;
        break;
      case cql::Assignment::Kind::Subtract:
        k = OpKind::Subtract;
        break;
      case cql::Assignment::Kind::SetElement:
        k = OpKind::SetElement;
        break;
      case cql::Assignment::Kind::SetField:
        return invalid(fmt::format("Invalid operation ({}.{} = ?) for frozen UDT column {}",
                                   c->name, a.field, c->name));
    }
    auto op = compile_op(*c, k, &a.value, a.key ? &*a.key : nullptr, cc);
    if (!op) return tl::unexpected(op.error());
    p.ops.push_back(std::move(*op));
  }
  auto where = analyze_where(s.where, schema, WhereMode::Update, false, cc);
  if (!where) {
    // Static-only updates need no clustering.
    const bool static_only =
        !p.ops.empty() && std::all_of(p.ops.begin(), p.ops.end(), [](const OpPlan& o) {
          return o.column->kind == ColumnKind::Static;
        });
    if (!static_only) return tl::unexpected(where.error());
    where = analyze_where(s.where, schema, WhereMode::Delete, false, cc);
    if (!where) return tl::unexpected(where.error());
  }
  p.where = std::move(*where);
  p.if_exists = s.if_exists;
  p.has_conditions = s.if_exists || !s.conditions.empty();
  ok = compile_conditions(s.conditions, p, cc);
  if (!ok) return tl::unexpected(ok.error());
  return std::unique_ptr<ModifyPlan>(std::move(*plan));
}

CqlResult<std::unique_ptr<ModifyPlan>> compile_delete(const cql::Delete& s, CompileContext& cc,
                                                      const std::string& session_keyspace) {
  auto plan = start_plan(s.table, cc, session_keyspace, WritePlan::Kind::Delete);
  if (!plan) return tl::unexpected(plan.error());
  WritePlan& p = **plan;
  const TableSchema& schema = *p.ref.schema;
  if (s.using_clause.ttl) return invalid("TTL is not supported in DELETE statements");
  auto ok = compile_using(s.using_clause, p, cc, false);
  if (!ok) return tl::unexpected(ok.error());
  for (const auto& t : s.targets) {
    const ColumnSchema* c = schema.find_column(t.column);
    if (c == nullptr) return invalid(fmt::format("Undefined column name {}", t.column));
    if (c->is_primary_key()) {
      return invalid(fmt::format(
          "Invalid identifier {} for deletion (should not be a PRIMARY KEY part)", c->name));
    }
    if (!t.field.empty()) {
      return invalid(fmt::format("Invalid deletion operation for frozen UDT column {}", c->name));
    }
    auto op = compile_op(*c, t.key ? OpKind::DeleteElement : OpKind::DeleteColumn, nullptr,
                         t.key ? &*t.key : nullptr, cc);
    if (!op) return tl::unexpected(op.error());
    p.ops.push_back(std::move(*op));
  }
  auto where = analyze_where(s.where, schema, WhereMode::Delete, false, cc);
  if (!where) return tl::unexpected(where.error());
  p.where = std::move(*where);
  if (!p.ops.empty() && (p.where.range_start || p.where.range_end)) {
    return invalid("Range deletions are not supported for specific columns");
  }
  p.if_exists = s.if_exists;
  p.has_conditions = s.if_exists || !s.conditions.empty();
  if (p.has_conditions && (p.where.range_start || p.where.range_end)) {
    return invalid(
        "DELETE statements must restrict all PRIMARY KEY columns with equality "
        "relations in order to use IF conditions");
  }
  ok = compile_conditions(s.conditions, p, cc);
  if (!ok) return tl::unexpected(ok.error());
  return std::unique_ptr<ModifyPlan>(std::move(*plan));
}

// ---------------------------------------------------------------------------------------------
// Conditional execution

CqlResult<protocol::ResultBody> execute_conditional(const ExecContext& ctx,
                                                    std::vector<const ModifyPlan*> plans,
                                                    std::vector<ConditionCheck> checks,
                                                    std::vector<PendingWrite> writes) {
  if (checks.empty()) return invalid("no conditions");
  const ModifyPlan& first = *plans.front();
  const Bytes& key = checks.front().partition_key;
  for (size_t i = 0; i < checks.size(); ++i) {
    if (plans[i]->ref.table != first.ref.table || checks[i].partition_key != key) {
      return invalid("Batch with conditions cannot span multiple tables or partitions");
    }
  }
  Mutation merged;
  merged.partition_key = key;
  for (auto& w : writes) {
    if (w.table != first.ref.table || w.mutation.partition_key != key) {
      return invalid("Batch with conditions cannot span multiple tables or partitions");
    }
    if (w.mutation.partition_deletion) merged.partition_deletion = w.mutation.partition_deletion;
    for (auto& r : w.mutation.range_deletions) merged.range_deletions.push_back(std::move(r));
    for (auto& r : w.mutation.rows) merged.rows.push_back(std::move(r));
  }
  const TableSchema& schema = *first.ref.schema;
  ReadCommand read = ReadCommand::partition(key);
  const bool single_row = checks.size() == 1;
  if (single_row && !checks[0].clustering.empty()) {
    read.slices.push_back(ClusteringSlice::equal(checks[0].clustering));
  }
  const size_t pk_count = schema.partition_key().size();
  auto holds = [&](const ReadResult& current) {
    const std::vector<Bytes> pk_parts = split_partition_key(key, pk_count);
    for (const auto& check : checks) {
      const ResultRow* row = nullptr;
      for (const auto& r : current.rows) {
        if (r.static_only || r.clustering == check.clustering || check.clustering.empty()) {
          row = &r;
          break;
        }
      }
      if (check.if_not_exists && row != nullptr) return false;
      if (check.if_exists && row == nullptr) return false;
      for (const auto& f : check.filters) {
        std::optional<Bytes> cell;
        if (row != nullptr) cell = column_bytes(*f.filter->column, *row, pk_parts, current);
        if (!filter_matches(f, cell)) return false;
      }
    }
    return true;
  };
  auto cas = first.ref.table->compare_and_set(read, holds, merged);
  if (!cas) return server_error(cas.error());

  protocol::RowsResult rows;
  rows.metadata.global_table_spec = true;
  rows.metadata.global_keyspace = schema.keyspace;
  rows.metadata.global_table = schema.table;
  rows.metadata.columns.push_back(
      ColumnSpec{schema.keyspace, schema.table, "[applied]", DataType::simple(TypeId::Boolean)});
  protocol::Row out;
  out.push_back(Bytes{static_cast<uint8_t>(cas->applied ? 1 : 0)});
  if (!cas->applied && !cas->current.rows.empty()) {
    const ResultRow& r = cas->current.rows.front();
    const std::vector<Bytes> pk_parts = split_partition_key(key, pk_count);
    std::vector<const ColumnSchema*> cols;
    for (const auto* p : plans) {
      for (const auto* c : p->condition_columns) {
        if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
      }
    }
    if (!single_row || first.if_not_exists) {
      // Batches and IF NOT EXISTS return the whole current row, keys first.
      cols.clear();
      for (const auto* c : schema.partition_key()) cols.push_back(c);
      for (const auto* c : schema.clustering()) cols.push_back(c);
      std::vector<const ColumnSchema*> values = schema.value_columns();
      std::stable_sort(values.begin(), values.end(),
                       [](const ColumnSchema* a, const ColumnSchema* b) {
                         if ((a->kind == ColumnKind::Static) != (b->kind == ColumnKind::Static)) {
                           return a->kind == ColumnKind::Static;
                         }
                         return a->name < b->name;
                       });
      for (const auto* c : values) cols.push_back(c);
    }
    for (const auto* c : cols) {
      rows.metadata.columns.push_back(ColumnSpec{schema.keyspace, schema.table, c->name, c->type});
      out.push_back(column_bytes(*c, r, pk_parts, cas->current));
    }
  }
  rows.metadata.column_count = static_cast<int32_t>(rows.metadata.columns.size());
  rows.rows.push_back(std::move(out));
  (void)ctx;
  return rows;
}

// ---------------------------------------------------------------------------------------------
// BATCH

namespace {

class BatchPlan : public Plan {
 public:
  cql::Batch::Type type = cql::Batch::Type::Logged;
  std::optional<Expr> timestamp;
  std::vector<std::unique_ptr<ModifyPlan>> statements;

  CqlResult<protocol::ResultBody> execute(const ExecContext& ctx) const override {
    int64_t ts = ctx.default_timestamp ? *ctx.default_timestamp : ctx.services->next_timestamp();
    if (timestamp) {
      auto v = eval(*timestamp, ctx);
      if (!v) return tl::unexpected(v.error());
      if (v->is_set() && v->bytes.size() == 8) ts = load_i64(v->bytes);
    }
    return run_batch(ctx, statements_view(), {}, ts, type);
  }

  std::vector<const ModifyPlan*> statements_view() const {
    std::vector<const ModifyPlan*> out;
    for (const auto& s : statements) out.push_back(s.get());
    return out;
  }

 public:
  // Shared with protocol BATCH messages: each statement has its own values.
  static CqlResult<protocol::ResultBody> run_batch(const ExecContext& ctx,
                                                   const std::vector<const ModifyPlan*>& plans,
                                                   const std::vector<ExecContext>& per_statement,
                                                   int64_t ts, cql::Batch::Type type);
};

CqlResult<protocol::ResultBody> BatchPlan::run_batch(const ExecContext& ctx,
                                                     const std::vector<const ModifyPlan*>& plans,
                                                     const std::vector<ExecContext>& per_statement,
                                                     int64_t ts, cql::Batch::Type type) {
  std::vector<PendingWrite> writes;
  std::vector<const ModifyPlan*> conditional;
  std::vector<ConditionCheck> checks;
  for (size_t i = 0; i < plans.size(); ++i) {
    const ExecContext& sctx = per_statement.empty() ? ctx : per_statement[i];
    const ModifyPlan& p = *plans[i];
    if (type == cql::Batch::Type::Counter && !p.counter) {
      return invalid("Cannot include non-counter statement in a counter batch");
    }
    if (type != cql::Batch::Type::Counter && p.counter) {
      return invalid("Cannot include a counter statement in a logged batch");
    }
    if (p.has_conditions) {
      auto check = p.condition(sctx);
      if (!check) return tl::unexpected(check.error());
      checks.push_back(std::move(*check));
      conditional.push_back(&p);
    }
    auto w = p.build(sctx, ts);
    if (!w) return tl::unexpected(w.error());
    for (auto& x : *w) writes.push_back(std::move(x));
  }
  if (!conditional.empty()) {
    return execute_conditional(ctx, std::move(conditional), std::move(checks), std::move(writes));
  }
  // Merge writes to the same partition so each partition is updated atomically.
  std::vector<PendingWrite> merged;
  for (auto& w : writes) {
    PendingWrite* into = nullptr;
    for (auto& m : merged) {
      if (m.table == w.table && m.mutation.partition_key == w.mutation.partition_key) into = &m;
    }
    if (into == nullptr) {
      merged.push_back(std::move(w));
      continue;
    }
    Mutation& m = into->mutation;
    if (w.mutation.partition_deletion) {
      m.partition_deletion =
          std::max(m.partition_deletion.value_or(INT64_MIN), *w.mutation.partition_deletion);
    }
    for (auto& r : w.mutation.range_deletions) m.range_deletions.push_back(std::move(r));
    for (auto& r : w.mutation.rows) m.rows.push_back(std::move(r));
  }
  auto ok = apply_writes(merged);
  if (!ok) return tl::unexpected(ok.error());
  return protocol::VoidResult{};
}

}  // namespace

CqlResult<std::unique_ptr<Plan>> compile_batch(const cql::Batch& s, CompileContext& cc,
                                               const std::string& session_keyspace) {
  auto plan = std::make_unique<BatchPlan>();
  plan->type = s.type;
  if (s.using_clause.timestamp) {
    auto e = compile_term(*s.using_clause.timestamp, DataType::simple(TypeId::Bigint),
                          "[timestamp]", cc);
    if (!e) return tl::unexpected(e.error());
    plan->timestamp = std::move(*e);
  }
  for (const auto& st : s.statements) {
    CqlResult<std::unique_ptr<ModifyPlan>> p = std::visit(
        [&](const auto& x) -> CqlResult<std::unique_ptr<ModifyPlan>> {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, cql::Insert>) {
            return compile_insert(x, cc, session_keyspace);
          } else if constexpr (std::is_same_v<T, cql::Update>) {
            return compile_update(x, cc, session_keyspace);
          } else {
            return compile_delete(x, cc, session_keyspace);
          }
        },
        st);
    if (!p) return tl::unexpected(p.error());
    plan->statements.push_back(std::move(*p));
  }
  return std::unique_ptr<Plan>(std::move(plan));
}

CqlResult<protocol::ResultBody> run_protocol_batch(const ExecContext& ctx,
                                                   const std::vector<const ModifyPlan*>& plans,
                                                   const std::vector<ExecContext>& per_statement,
                                                   protocol::BatchType type) {
  const int64_t ts =
      ctx.default_timestamp ? *ctx.default_timestamp : ctx.services->next_timestamp();
  const cql::Batch::Type t = type == protocol::BatchType::Counter    ? cql::Batch::Type::Counter
                             : type == protocol::BatchType::Unlogged ? cql::Batch::Type::Unlogged
                                                                     : cql::Batch::Type::Logged;
  return BatchPlan::run_batch(ctx, plans, per_statement, ts, t);
}

}  // namespace zdm::node::exec
