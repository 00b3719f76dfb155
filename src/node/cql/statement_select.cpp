// SELECT: compiled into a plan of reads (partitions by key, token ranges or a full scan, with
// clustering slices), per-row filters and selectors; results paged with a resumable state.

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "node/cql/executor.hpp"
#include "node/cql/json_value.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node::exec {

using protocol::TypeId;

namespace {

int64_t load_i64(ByteView b) {
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return static_cast<int64_t>(v);
}
Bytes be64(int64_t v) {
  Bytes out(8);
  for (size_t i = 0; i < 8; ++i)
    out[7 - i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
  return out;
}

struct Sel {
  enum class Kind : uint8_t {
    Column,
    Writetime,
    Ttl,
    Token,
    Call,
    Const,
    Count,
    Min,
    Max,
    Sum,
    Avg,
    Field
  };
  Kind kind = Kind::Column;
  const ColumnSchema* column = nullptr;
  int value_index = -1;  // index in the read's columns for value columns
  Function function = Function::Now;
  std::vector<Sel> args;
  Expr constant;
  size_t field = 0;  // Field: index in the UDT
  DataType type;
  std::string name;
  bool count_star = false;
};

bool is_aggregate(const Sel& s) {
  return s.kind == Sel::Kind::Count || s.kind == Sel::Kind::Min || s.kind == Sel::Kind::Max ||
         s.kind == Sel::Kind::Sum || s.kind == Sel::Kind::Avg;
}

// Paging state of a SELECT: which read (partition of an IN list, or token range) it stopped
// in, rows left under LIMIT, and the storage's own state for that read.
struct SelectPagingState {
  uint32_t read_index = 0;
  int32_t remaining = -1;
  std::optional<Bytes> storage;
};

Bytes encode_state(const SelectPagingState& s) {
  Bytes out;
  ByteWriter w(out);
  w.write_u8(1);
  w.write_u32(s.read_index);
  w.write_i32(s.remaining);
  if (s.storage) {
    w.write_bytes(ByteView(*s.storage));
  } else {
    w.write_bytes(std::nullopt);
  }
  return out;
}

CqlResult<SelectPagingState> decode_state(ByteView bytes) {
  ByteReader r(bytes);
  SelectPagingState s;
  auto v = r.read_u8();
  auto idx = r.read_u32();
  auto rem = r.read_i32();
  auto st = r.read_bytes();
  if (!v || *v != 1 || !idx || !rem || !st || !r.empty()) {
    return cql_error(ErrorCode::ProtocolError, "Invalid value for the paging state");
  }
  s.read_index = *idx;
  s.remaining = *rem;
  if (st->has_value()) s.storage = Bytes((*st)->begin(), (*st)->end());
  return s;
}

struct Aggregate {
  int64_t count = 0;
  std::optional<Bytes> best;  // min/max
  int64_t isum = 0;
  double dsum = 0;
  bool any = false;
};

class SelectPlan : public Plan {
 public:
  TableRef ref;
  WhereClause where;
  std::vector<Sel> selectors;
  std::vector<ColumnId> read_columns;
  bool json = false;
  bool distinct = false;
  bool aggregate = false;
  bool reversed = false;
  bool needs_pk_parts = false;
  std::optional<Expr> limit;
  std::optional<Expr> per_partition_limit;

  CqlResult<uint32_t> eval_limit(const std::optional<Expr>& e, const ExecContext& ctx,
                                 const char* what) const {
    if (!e) return 0u;
    auto v = eval(*e, ctx);
    if (!v) return tl::unexpected(v.error());
    if (v->kind == EvalValue::Kind::Unset) return 0u;
    if (!v->is_set() || v->bytes.size() != 4)
      return invalid(fmt::format("Invalid null value of {}", what));
    const auto n = static_cast<int32_t>(load_be32(v->bytes.data()));
    if (n <= 0) return invalid(fmt::format("{} must be strictly positive", what));
    return static_cast<uint32_t>(n);
  }

  // Evaluates one selector on one row.
  CqlResult<std::optional<Bytes>> value_of(const Sel& s, const ResultRow& row,
                                           const std::vector<Bytes>& pk_parts, const ReadResult& rr,
                                           const ExecContext& ctx) const {
    switch (s.kind) {
      case Sel::Kind::Column:
        if (s.value_index >= 0) {
          const ColumnValue& v = row.values[static_cast<size_t>(s.value_index)];
          if (v.is_null()) return std::optional<Bytes>{};
          if (s.column->is_multi_cell())
            return std::optional<Bytes>(collection_bytes(*s.column, v));
          return std::optional<Bytes>(v.cell->value);
        }
        return column_bytes(*s.column, row, pk_parts, rr);
      case Sel::Kind::Writetime:
      case Sel::Kind::Ttl: {
        const ColumnValue& v = row.values[static_cast<size_t>(s.value_index)];
        if (!v.cell) return std::optional<Bytes>{};
        if (s.kind == Sel::Kind::Writetime) return std::optional<Bytes>(be64(v.cell->timestamp));
        if (!v.cell->ttl_remaining) return std::optional<Bytes>{};
        Bytes out(4);
        store_be32(out.data(), static_cast<uint32_t>(*v.cell->ttl_remaining));
        return std::optional<Bytes>(std::move(out));
      }
      case Sel::Kind::Token:
        return std::optional<Bytes>(be64(row.token));
      case Sel::Kind::Const: {
        auto v = eval(s.constant, ctx);
        if (!v) return tl::unexpected(v.error());
        if (!v->is_set()) return std::optional<Bytes>{};
        return std::optional<Bytes>(std::move(v->bytes));
      }
      case Sel::Kind::Field: {
        auto base = value_of(s.args[0], row, pk_parts, rr, ctx);
        if (!base) return base;
        if (!*base) return std::optional<Bytes>{};
        ByteReader r(**base);
        for (size_t i = 0; !r.empty(); ++i) {
          auto e = r.read_bytes();
          if (!e) break;
          if (i == s.field) {
            if (!e->has_value()) return std::optional<Bytes>{};
            return std::optional<Bytes>(Bytes((*e)->begin(), (*e)->end()));
          }
        }
        return std::optional<Bytes>{};
      }
      case Sel::Kind::Call: {
        std::vector<EvalValue> args;
        std::vector<DataType> types;
        for (const auto& a : s.args) {
          auto v = value_of(a, row, pk_parts, rr, ctx);
          if (!v) return v;
          args.push_back(*v ? EvalValue::set(std::move(**v)) : EvalValue::null());
          types.push_back(a.type);
        }
        auto r = call_function(s.function, s.type, types, args, ctx);
        if (!r) return tl::unexpected(r.error());
        if (!r->is_set()) return std::optional<Bytes>{};
        return std::optional<Bytes>(std::move(r->bytes));
      }
      default:
        return std::optional<Bytes>{};
    }
  }

  void accumulate(const Sel& s, Aggregate& a, const std::optional<Bytes>& v) const {
    if (s.kind == Sel::Kind::Count) {
      if (s.count_star || v) ++a.count;
      return;
    }
    if (!v || v->empty()) return;
    const DataType& t = s.args[0].type;
    if (s.kind == Sel::Kind::Min || s.kind == Sel::Kind::Max) {
      if (!a.best) {
        a.best = v;
      } else {
        const int c = protocol::compare_values(t, *v, *a.best);
        if ((s.kind == Sel::Kind::Min && c < 0) || (s.kind == Sel::Kind::Max && c > 0)) a.best = v;
      }
      return;
    }
    a.any = true;
    ++a.count;
    if (t.id == TypeId::Float) {
      float f;
      uint32_t bits = load_be32(v->data());
      std::memcpy(&f, &bits, 4);
      a.dsum += f;
    } else if (t.id == TypeId::Double) {
      double d;
      uint64_t bits = static_cast<uint64_t>(load_i64(*v));
      std::memcpy(&d, &bits, 8);
      a.dsum += d;
    } else {
      int64_t x = load_i64(*v);
      const size_t n = v->size();
      if (n < 8 && ((*v)[0] & 0x80)) x -= int64_t{1} << (8 * n);  // sign-extend
      a.isum += x;
    }
  }

  std::optional<Bytes> finish(const Sel& s, const Aggregate& a) const {
    if (s.kind == Sel::Kind::Count) return be64(a.count);
    if (s.kind == Sel::Kind::Min || s.kind == Sel::Kind::Max) return a.best;
    const DataType& t = s.args[0].type;
    if (t.id == TypeId::Float || t.id == TypeId::Double) {
      double r =
          s.kind == Sel::Kind::Avg ? (a.count ? a.dsum / static_cast<double>(a.count) : 0) : a.dsum;
      Bytes out;
      ByteWriter w(out);
      if (t.id == TypeId::Float)
        w.write_float(static_cast<float>(r));
      else
        w.write_double(r);
      return out;
    }
    int64_t r = s.kind == Sel::Kind::Avg ? (a.count ? a.isum / a.count : 0) : a.isum;
    const size_t n = t.id == TypeId::Int        ? 4
                     : t.id == TypeId::Smallint ? 2
                     : t.id == TypeId::Tinyint  ? 1
                                                : 8;
    Bytes out(n);
    for (size_t i = 0; i < n; ++i)
      out[n - 1 - i] = static_cast<uint8_t>(static_cast<uint64_t>(r) >> (8 * i));
    return out;
  }

  struct ReadSpec {
    ReadCommand command;
  };

  CqlResult<std::vector<ReadCommand>> plan_reads(const ExecContext& ctx) const {
    std::vector<ReadCommand> reads;
    auto slices = clustering_slices(where, *ref.schema, ctx);
    if (!slices) return tl::unexpected(slices.error());
    if (where.has_clustering_restriction() && slices->empty()) return reads;  // IN ()
    if (where.has_partition) {
      auto keys = partition_keys(where, *ref.schema, ctx);
      if (!keys) return tl::unexpected(keys.error());
      for (auto& k : *keys) {
        reads.push_back(ReadCommand::partition(std::move(k)));
      }
    } else if (where.token_start || where.token_end) {
      int64_t start = INT64_MIN;  // exclusive
      int64_t end = INT64_MAX;    // inclusive
      if (where.token_start) {
        auto v = eval(where.token_start->value, ctx);
        if (!v) return tl::unexpected(v.error());
        if (!v->is_set() || v->bytes.size() != 8)
          return invalid("Invalid null value for partition key token");
        start = load_i64(v->bytes);
        if (where.token_start->inclusive) {
          if (start == INT64_MIN) {
            start = INT64_MIN;
          } else {
            start -= 1;
          }
        }
      }
      bool end_is_min = false;
      if (where.token_end) {
        auto v = eval(where.token_end->value, ctx);
        if (!v) return tl::unexpected(v.error());
        if (!v->is_set() || v->bytes.size() != 8)
          return invalid("Invalid null value for partition key token");
        end = load_i64(v->bytes);
        // The minimum token as an end bound means "to the end of the ring", as in Cassandra.
        end_is_min = end == INT64_MIN;
        if (end_is_min) {
          end = INT64_MAX;
        } else if (!where.token_end->inclusive) {
          end -= 1;
        }
      }
      if (where.token_start && where.token_end && start >= end && !end_is_min) {
        if (where.token_start->value.kind == Expr::Kind::Const && false) {
        }
        // A wrapping range (start, end] with end < start: the ring's tail then its head.
        if (start > end) {
          reads.push_back(ReadCommand::token_range(start, INT64_MAX));
          reads.push_back(ReadCommand::token_range(INT64_MIN, end));
        }
      } else {
        reads.push_back(ReadCommand::token_range(start, end));
      }
    } else {
      reads.push_back(ReadCommand::full_scan());
    }
    for (auto& r : reads) {
      r.slices = *slices;
      r.columns = read_columns;
      r.order = reversed ? ReadOrder::Reversed : ReadOrder::Forward;
    }
    return reads;
  }

  protocol::RowsMetadata metadata_for(const ExecContext& ctx) const {
    protocol::RowsMetadata md;
    if (ctx.skip_metadata) {
      md.no_metadata = true;
      md.column_count = result_metadata.column_count;
    } else {
      md = result_metadata;
    }
    if (ctx.result_metadata_id != nullptr && !ctx.result_metadata_id->empty()) {
      if (result_metadata_id != *ctx.result_metadata_id) {
        md = result_metadata;
        md.new_metadata_id = result_metadata_id;
      }
    }
    return md;
  }

  CqlResult<protocol::ResultBody> execute(const ExecContext& ctx) const override {
    auto lim = eval_limit(limit, ctx, "LIMIT");
    if (!lim) return tl::unexpected(lim.error());
    auto pplim = eval_limit(per_partition_limit, ctx, "PER PARTITION LIMIT");
    if (!pplim) return tl::unexpected(pplim.error());
    auto filters = bind_filters(where.filters, ctx);
    if (!filters) return tl::unexpected(filters.error());
    auto reads = plan_reads(ctx);
    if (!reads) return tl::unexpected(reads.error());

    SelectPagingState state;
    if (ctx.paging_state != nullptr && *ctx.paging_state && !aggregate) {
      auto s = decode_state(**ctx.paging_state);
      if (!s) return tl::unexpected(s.error());
      state = std::move(*s);
    }
    int64_t remaining = state.remaining >= 0
                            ? int64_t{state.remaining}
                            : (*lim > 0 ? static_cast<int64_t>(*lim) : int64_t{-1});
    const bool paging = ctx.page_size > 0 && !aggregate;
    int64_t page_room = paging ? ctx.page_size : -1;

    protocol::RowsResult out;
    std::vector<Aggregate> aggs(aggregate ? selectors.size() : 0);
    std::optional<std::vector<std::optional<Bytes>>>
        first_row_values;  // non-aggregate selectors in an aggregate query
    const size_t pk_count = ref.schema->partition_key().size();
    std::optional<SelectPagingState> next_state;

    for (size_t ri = state.read_index; ri < reads->size(); ++ri) {
      if (remaining == 0 || page_room == 0) {
        if (page_room == 0 && remaining != 0)
          next_state = SelectPagingState{static_cast<uint32_t>(ri), static_cast<int32_t>(remaining),
                                         std::nullopt};
        break;
      }
      ReadCommand cmd = (*reads)[ri];
      if (ri == state.read_index && state.storage) cmd.paging_state = state.storage;
      cmd.per_partition_limit = distinct ? 1 : *pplim;
      const bool filtering = !filters->empty();
      // Without filters the storage applies LIMIT and the page size itself.
      if (!filtering) {
        if (remaining > 0) cmd.limit = static_cast<uint32_t>(remaining);
        if (page_room > 0) cmd.page_size = static_cast<uint32_t>(page_room);
      } else if (paging) {
        cmd.page_size = static_cast<uint32_t>(ctx.page_size);
      }
      while (true) {
        auto rr = ref.table->read(cmd);
        if (!rr) return server_error(rr.error());
        Bytes last_pk;
        std::vector<Bytes> pk_parts;
        for (const auto& row : rr->rows) {
          if (remaining == 0 || page_room == 0) break;
          if (needs_pk_parts && (pk_parts.empty() || row.partition_key != last_pk)) {
            pk_parts = split_partition_key(row.partition_key, pk_count);
            last_pk = row.partition_key;
          }
          bool keep = true;
          for (const auto& f : *filters) {
            if (!filter_matches(f, column_bytes(*f.filter->column, row, pk_parts, *rr))) {
              keep = false;
              break;
            }
          }
          if (!keep) continue;
          if (aggregate) {
            for (size_t i = 0; i < selectors.size(); ++i) {
              const Sel& s = selectors[i];
              if (is_aggregate(s)) {
                std::optional<Bytes> v;
                if (!(s.kind == Sel::Kind::Count && s.count_star)) {
                  auto x = value_of(s.args[0], row, pk_parts, *rr, ctx);
                  if (!x) return tl::unexpected(x.error());
                  v = std::move(*x);
                }
                accumulate(s, aggs[i], v);
              }
            }
            if (!first_row_values) {
              first_row_values.emplace();
              for (const auto& s : selectors) {
                if (is_aggregate(s)) {
                  first_row_values->emplace_back();
                  continue;
                }
                auto x = value_of(s, row, pk_parts, *rr, ctx);
                if (!x) return tl::unexpected(x.error());
                first_row_values->push_back(std::move(*x));
              }
            }
            continue;
          }
          protocol::Row r;
          if (json) {
            std::string doc = "{";
            for (size_t i = 0; i < selectors.size(); ++i) {
              auto x = value_of(selectors[i], row, pk_parts, *rr, ctx);
              if (!x) return tl::unexpected(x.error());
              if (i) doc += ", ";
              const std::string& n = selectors[i].name;
              const bool plain = !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
                return std::islower(static_cast<unsigned char>(c)) ||
                       std::isdigit(static_cast<unsigned char>(c)) || c == '_';
              });
              doc += json_quote(plain ? n : "\"" + n + "\"") + ": " +
                     value_to_json(selectors[i].type, *x);
            }
            doc += "}";
            r.push_back(Bytes(doc.begin(), doc.end()));
          } else {
            r.reserve(selectors.size());
            for (const auto& s : selectors) {
              auto x = value_of(s, row, pk_parts, *rr, ctx);
              if (!x) return tl::unexpected(x.error());
              r.push_back(std::move(*x));
            }
          }
          out.rows.push_back(std::move(r));
          if (remaining > 0) --remaining;
          if (page_room > 0) --page_room;
        }
        if (rr->paging_state && (aggregate || (!paging && filtering))) {
          cmd.paging_state = rr->paging_state;  // read on (aggregates and unpaged filtering)
          continue;
        }
        if (rr->paging_state && remaining != 0) {
          next_state = SelectPagingState{static_cast<uint32_t>(ri), static_cast<int32_t>(remaining),
                                         rr->paging_state};
          page_room = 0;
        }
        break;
      }
      if (next_state) break;
      if (page_room == 0 && remaining != 0 && ri + 1 < reads->size()) {
        next_state = SelectPagingState{static_cast<uint32_t>(ri + 1),
                                       static_cast<int32_t>(remaining), std::nullopt};
        break;
      }
    }

    if (aggregate) {
      protocol::Row r;
      for (size_t i = 0; i < selectors.size(); ++i) {
        if (is_aggregate(selectors[i])) {
          r.push_back(finish(selectors[i], aggs[i]));
        } else {
          r.push_back(first_row_values ? (*first_row_values)[i] : std::nullopt);
        }
      }
      out.rows.push_back(std::move(r));
    }
    out.metadata = metadata_for(ctx);
    if (next_state) out.metadata.paging_state = encode_state(*next_state);
    return out;
  }
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

CqlResult<Sel> compile_selector(const cql::Selector& sel, SelectPlan& plan, CompileContext& cc);

int value_index(SelectPlan& plan, const ColumnSchema& c) {
  if (c.is_primary_key()) return -1;
  for (size_t i = 0; i < plan.read_columns.size(); ++i) {
    if (plan.read_columns[i] == c.id) return static_cast<int>(i);
  }
  plan.read_columns.push_back(c.id);
  return static_cast<int>(plan.read_columns.size() - 1);
}

CqlResult<Sel> compile_selector(const cql::Selector& sel, SelectPlan& plan, CompileContext& cc) {
  const TableSchema& schema = *plan.ref.schema;
  Sel out;
  auto column = [&](const std::string& name) -> CqlResult<const ColumnSchema*> {
    const ColumnSchema* c = schema.find_column(name);
    if (c == nullptr) return invalid(fmt::format("Undefined column name {}", name));
    return c;
  };
  auto r = std::visit(
      [&](const auto& v) -> CqlResult<void> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, cql::ColumnSelector>) {
          auto c = column(v.name);
          if (!c) return tl::unexpected(c.error());
          out.kind = Sel::Kind::Column;
          out.column = *c;
          out.value_index = value_index(plan, **c);
          if ((*c)->is_primary_key()) plan.needs_pk_parts = true;
          out.type = (*c)->type;
          out.name = (*c)->name;
        } else if constexpr (std::is_same_v<T, cql::WritetimeSelector>) {
          auto c = column(v.column);
          if (!c) return tl::unexpected(c.error());
          const bool wt = v.kind != cql::WritetimeSelector::Kind::Ttl;
          if ((*c)->is_primary_key()) {
            return invalid(fmt::format("Cannot use selection function {} on PRIMARY KEY part {}",
                                       wt ? "writeTime" : "ttl", (*c)->name));
          }
          // Cassandra 2.2 refuses every collection, frozen ones too; 3.0+ only multi-cell ones.
          if (cc.services->cassandra_version == CassandraVersion::V2_2 &&
              (*c)->type.is_collection()) {
            return invalid(fmt::format("Cannot use selection function {} on collections",
                                       wt ? "writeTime" : "ttl"));
          }
          if ((*c)->is_multi_cell()) {
            return invalid(
                fmt::format("Cannot use selection function {} on non-frozen collection {}",
                            wt ? "writeTime" : "ttl", (*c)->name));
          }
          out.kind = wt ? Sel::Kind::Writetime : Sel::Kind::Ttl;
          out.column = *c;
          out.value_index = value_index(plan, **c);
          out.type = DataType::simple(wt ? TypeId::Bigint : TypeId::Int);
          out.name = fmt::format("{}({})", wt ? "writetime" : "ttl", (*c)->name);
        } else if constexpr (std::is_same_v<T, cql::FunctionSelector>) {
          const std::string name = lower(v.name);
          std::vector<Sel> args;
          for (const auto& a : v.args) {
            auto s = compile_selector(a, plan, cc);
            if (!s) return tl::unexpected(s.error());
            args.push_back(std::move(*s));
          }
          std::string arg_names;
          for (size_t i = 0; i < args.size(); ++i) arg_names += (i ? ", " : "") + args[i].name;
          if (name == "count") {
            out.kind = Sel::Kind::Count;
            out.count_star = v.star || (args.size() == 1 && args[0].kind == Sel::Kind::Const);
            out.args = std::move(args);
            out.type = DataType::simple(TypeId::Bigint);
            out.name = "count";
            plan.aggregate = true;
            return {};
          }
          if (name == "min" || name == "max" || name == "sum" || name == "avg") {
            if (args.size() != 1)
              return invalid(
                  fmt::format("Invalid number of arguments in call to function {}", name));
            out.kind = name == "min"   ? Sel::Kind::Min
                       : name == "max" ? Sel::Kind::Max
                       : name == "sum" ? Sel::Kind::Sum
                                       : Sel::Kind::Avg;
            out.type = args[0].type;
            if ((out.kind == Sel::Kind::Sum || out.kind == Sel::Kind::Avg) &&
                !(out.type.id == TypeId::Int || out.type.id == TypeId::Bigint ||
                  out.type.id == TypeId::Smallint || out.type.id == TypeId::Tinyint ||
                  out.type.id == TypeId::Float || out.type.id == TypeId::Double ||
                  out.type.id == TypeId::Counter)) {
              return invalid(
                  fmt::format("Invalid call to function {}: unsupported argument type {}", name,
                              protocol::format_cql_type(out.type)));
            }
            out.name = fmt::format("system.{}({})", name, arg_names);
            out.args = std::move(args);
            plan.aggregate = true;
            return {};
          }
          auto info = find_function(name);
          if (!info) return invalid(fmt::format("Unknown function '{}'", v.name));
          if (info->function == Function::Token) {
            const auto pk = schema.partition_key();
            if (args.size() != pk.size())
              return invalid("Invalid number of arguments in call to function token");
            for (size_t i = 0; i < pk.size(); ++i) {
              if (args[i].column != pk[i])
                return invalid(
                    "The token function arguments must be the partition key columns in order");
            }
            out.kind = Sel::Kind::Token;
            out.type = DataType::simple(TypeId::Bigint);
            out.name = fmt::format("system.token({})", arg_names);
            return {};
          }
          if (args.size() != info->params.size()) {
            return invalid(fmt::format(
                "Invalid number of arguments in call to function {}: {} required but {} provided",
                name, info->params.size(), args.size()));
          }
          out.kind = Sel::Kind::Call;
          out.function = info->function;
          out.type = info->return_type;
          out.args = std::move(args);
          out.name = fmt::format("system.{}({})", name, arg_names);
        } else if constexpr (std::is_same_v<T, cql::FieldSelector>) {
          auto base = compile_selector(*v.base, plan, cc);
          if (!base) return tl::unexpected(base.error());
          if (base->type.id != TypeId::Udt)
            return invalid(fmt::format("Invalid field selection: {} of type {} is not a user type",
                                       base->name, protocol::format_cql_type(base->type)));
          auto it =
              std::find(base->type.field_names.begin(), base->type.field_names.end(), v.field);
          if (it == base->type.field_names.end())
            return invalid(fmt::format("{} of type {} has no field {}", base->name,
                                       base->type.udt_name, v.field));
          out.kind = Sel::Kind::Field;
          out.field = static_cast<size_t>(it - base->type.field_names.begin());
          out.type = base->type.params[out.field];
          out.name = fmt::format("{}.{}", base->name, v.field);
          out.args.push_back(std::move(*base));
        } else if constexpr (std::is_same_v<T, cql::TermSelector>) {
          const auto* lit = std::get_if<cql::Literal>(&v.term.value);
          DataType t = DataType::simple(TypeId::Varchar);
          if (lit != nullptr) {
            if (lit->kind == cql::LiteralKind::Integer)
              t = DataType::simple(TypeId::Int);
            else if (lit->kind == cql::LiteralKind::Float)
              t = DataType::simple(TypeId::Double);
            else if (lit->kind == cql::LiteralKind::Boolean)
              t = DataType::simple(TypeId::Boolean);
            else if (lit->kind == cql::LiteralKind::Uuid)
              t = DataType::simple(TypeId::Uuid);
            else if (lit->kind == cql::LiteralKind::Blob)
              t = DataType::simple(TypeId::Blob);
            out.name = lit->text;
          } else if (const auto* fc = std::get_if<cql::FunctionCall>(&v.term.value)) {
            auto info = find_function(fc->name);
            if (info) t = info->return_type;
            out.name = fmt::format("system.{}()", lower(fc->name));
          }
          auto e = compile_term(v.term, t, out.name, cc);
          if (!e) return tl::unexpected(e.error());
          out.kind = Sel::Kind::Const;
          out.type = e->type;
          out.constant = std::move(*e);
        } else if constexpr (std::is_same_v<T, cql::CastSelector>) {
          return invalid("CAST is not supported by zdm node");
        } else {
          return invalid("Element selection is not supported by zdm node");
        }
        return {};
      },
      sel.value);
  if (!r) return tl::unexpected(r.error());
  if (!sel.alias.empty()) out.name = sel.alias;
  return out;
}

}  // namespace

CqlResult<std::unique_ptr<Plan>> compile_select(const cql::Select& s, CompileContext& cc,
                                                const std::string& session_keyspace) {
  auto ref = resolve_table(*cc.services, s.table, session_keyspace);
  if (!ref) return tl::unexpected(ref.error());
  auto plan = std::make_unique<SelectPlan>();
  plan->ref = std::move(*ref);
  const TableSchema& schema = *plan->ref.schema;
  plan->keyspace = schema.keyspace;
  plan->table = schema.table;
  plan->is_select = true;
  cc.keyspace = schema.keyspace;
  cc.table = schema.table;
  plan->json = s.json;
  plan->distinct = s.distinct;

  if (s.select_all) {
    for (const auto* c : schema.partition_key()) {
      Sel sel;
      sel.column = c;
      sel.type = c->type;
      sel.name = c->name;
      plan->selectors.push_back(std::move(sel));
    }
    if (!s.distinct) {
      for (const auto* c : schema.clustering()) {
        Sel sel;
        sel.column = c;
        sel.type = c->type;
        sel.name = c->name;
        plan->selectors.push_back(std::move(sel));
      }
    }
    std::vector<const ColumnSchema*> values = schema.value_columns();
    std::stable_sort(values.begin(), values.end(),
                     [](const ColumnSchema* a, const ColumnSchema* b) {
                       if ((a->kind == ColumnKind::Static) != (b->kind == ColumnKind::Static)) {
                         return a->kind == ColumnKind::Static;
                       }
                       return a->name < b->name;
                     });
    for (const auto* c : values) {
      if (s.distinct && c->kind != ColumnKind::Static) continue;
      Sel sel;
      sel.column = c;
      sel.type = c->type;
      sel.name = c->name;
      sel.value_index = value_index(*plan, *c);
      plan->selectors.push_back(std::move(sel));
    }
    plan->needs_pk_parts = true;
  } else {
    for (const auto& sel : s.selectors) {
      auto compiled = compile_selector(sel, *plan, cc);
      if (!compiled) return tl::unexpected(compiled.error());
      plan->selectors.push_back(std::move(*compiled));
    }
  }
  if (s.distinct) {
    for (const auto& sel : plan->selectors) {
      if (sel.column != nullptr && sel.column->kind != ColumnKind::PartitionKey &&
          sel.column->kind != ColumnKind::Static) {
        return invalid(
            fmt::format("SELECT DISTINCT queries must only request partition key "
                        "columns and/or static columns (not {})",
                        sel.column->name));
      }
    }
  }
  if (plan->read_columns.empty()) {
    // Nothing but keys selected: still read one value column set so that row liveness works; an
    // empty list means "every column" to the storage, which is what we want.
  }
  if (!s.group_by.empty()) return invalid("GROUP BY is not supported by zdm node");

  auto where = analyze_where(s.where, schema, WhereMode::Select, s.allow_filtering, cc);
  if (!where) return tl::unexpected(where.error());
  plan->where = std::move(*where);
  for (const auto& f : plan->where.filters) {
    if (f.column->is_primary_key()) plan->needs_pk_parts = true;
    if (!f.column->is_primary_key()) value_index(*plan, *f.column);
  }

  if (!s.order_by.empty()) {
    if (!plan->where.has_partition) {
      return invalid(
          "ORDER BY is only supported when the partition key is restricted by an EQ or an IN.");
    }
    const auto ck = schema.clustering();
    std::optional<bool> reversed;
    for (size_t i = 0; i < s.order_by.size(); ++i) {
      const auto& o = s.order_by[i];
      const ColumnSchema* c = schema.find_column(o.column);
      if (c == nullptr) return invalid(fmt::format("Undefined column name {}", o.column));
      if (c->kind != ColumnKind::Clustering) {
        return invalid(
            fmt::format("Order by is currently only supported on the clustered columns of the "
                        "PRIMARY KEY, got {}",
                        c->name));
      }
      if (c->position != i) {
        return invalid(
            "Order by currently only supports the ordering of columns following their declared "
            "order in the PRIMARY KEY");
      }
      const bool rev = o.descending != (c->order == ClusteringOrder::Desc);
      if (reversed && *reversed != rev) return invalid("Unsupported order by relation");
      reversed = rev;
    }
    plan->reversed = reversed.value_or(false);
  }
  if (s.limit) {
    auto e = compile_term(*s.limit, DataType::simple(TypeId::Int), "[limit]", cc);
    if (!e) return tl::unexpected(e.error());
    plan->limit = std::move(*e);
  }
  if (s.per_partition_limit) {
    auto e = compile_term(*s.per_partition_limit, DataType::simple(TypeId::Int),
                          "[per_partition_limit]", cc);
    if (!e) return tl::unexpected(e.error());
    plan->per_partition_limit = std::move(*e);
  }

  auto& md = plan->result_metadata;
  md.global_table_spec = true;
  md.global_keyspace = schema.keyspace;
  md.global_table = schema.table;
  if (plan->json) {
    md.columns.push_back(
        ColumnSpec{schema.keyspace, schema.table, "[json]", DataType::simple(TypeId::Varchar)});
  } else {
    for (const auto& sel : plan->selectors) {
      md.columns.push_back(ColumnSpec{schema.keyspace, schema.table, sel.name, sel.type});
    }
  }
  md.column_count = static_cast<int32_t>(md.columns.size());
  plan->result_metadata_id = metadata_id(md);
  return std::unique_ptr<Plan>(std::move(plan));
}

}  // namespace zdm::node::exec
