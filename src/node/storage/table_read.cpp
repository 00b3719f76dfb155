// Table reads: single partition (slices, reversed order, limits), token ranges and full scans,
// paging state in and out; and compare_and_set, which reads under the partition's lock before it
// applies.

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "node/storage/table.hpp"
#include "node/storage/table_partition.hpp"

namespace zdm::node {

using namespace table_detail;

namespace {

std::optional<int32_t> ttl_remaining(const Cell& cell, int64_t now) {
  if (!cell.is_expiring()) return std::nullopt;
  return static_cast<int32_t>(std::clamp<int64_t>(cell.local_deletion_time - now, 0, INT32_MAX));
}

// ---------------------------------------------------------------------------------------------
// Paging state: [bytes] partition key, [byte] flags (1: resume inside the partition after the
// clustering that follows), [int] n + n [bytes] clustering values, [int] rows remaining under
// LIMIT (-1: none), [int] rows remaining under PER PARTITION LIMIT (-1: none).

struct PagingState {
  Bytes partition_key;
  bool inside_partition = false;
  Clustering clustering;
  int32_t remaining = -1;
  int32_t remaining_in_partition = -1;
};

Bytes encode_paging_state(const PagingState& s) {
  Bytes out;
  ByteWriter w(out);
  w.write_bytes(ByteView(s.partition_key));
  w.write_u8(s.inside_partition ? 1 : 0);
  w.write_i32(static_cast<int32_t>(s.clustering.size()));
  for (const auto& c : s.clustering) w.write_bytes(ByteView(c));
  w.write_i32(s.remaining);
  w.write_i32(s.remaining_in_partition);
  return out;
}

Result<PagingState> decode_paging_state(ByteView bytes, size_t clustering_size) {
  auto bad = [](std::string_view what) {
    return fail(Errc::Malformed, fmt::format("paging state: {}", what));
  };
  ByteReader r(bytes);
  PagingState s;
  auto key = r.read_bytes();
  if (!key) return tl::unexpected(key.error());
  if (!key->has_value()) return bad("null partition key");
  s.partition_key.assign((*key)->begin(), (*key)->end());
  auto flags = r.read_u8();
  if (!flags) return tl::unexpected(flags.error());
  if (*flags > 1) return bad(fmt::format("unknown flags {:#x}", *flags));
  s.inside_partition = *flags == 1;
  auto n = r.read_i32();
  if (!n) return tl::unexpected(n.error());
  if (*n < 0 || static_cast<size_t>(*n) != (s.inside_partition ? clustering_size : 0)) {
    return bad(fmt::format("{} clustering values for a table with {}", *n, clustering_size));
  }
  for (int32_t i = 0; i < *n; ++i) {
    auto c = r.read_bytes();
    if (!c) return tl::unexpected(c.error());
    if (!c->has_value()) return bad("null clustering value");
    s.clustering.emplace_back((*c)->begin(), (*c)->end());
  }
  auto remaining = r.read_i32();
  if (!remaining) return tl::unexpected(remaining.error());
  auto in_partition = r.read_i32();
  if (!in_partition) return tl::unexpected(in_partition.error());
  if (*remaining < -1 || *in_partition < -1) return bad("negative row count");
  if (!r.empty()) return bad(fmt::format("{} trailing bytes", r.remaining()));
  s.remaining = *remaining;
  s.remaining_in_partition = *in_partition;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Reads

constexpr uint64_t kUnlimited = UINT64_MAX;

struct ReadContext {
  const TableSchema* schema = nullptr;
  const ClusteringComparator* cmp = nullptr;
  const ReadCommand* command = nullptr;
  std::vector<const ColumnSchema*> columns;
  const std::vector<ColumnId>* live_ids = nullptr;       // sorted ids of the schema's value columns
  const std::vector<ClusteringSlice>* slices = nullptr;  // sorted by start
  bool has_static = false;
  int64_t now = 0;

  uint64_t page_room = kUnlimited;   // rows this page may still take
  uint64_t limit_room = kUnlimited;  // rows LIMIT may still take (across pages)
  ReadResult* result = nullptr;
  bool stopped = false;  // a page or limit filled up
  bool stopped_by_page = false;
  uint64_t last_partition_room = kUnlimited;  // PER PARTITION LIMIT room left in the last one

  bool in_schema(ColumnId id) const {
    return std::binary_search(live_ids->begin(), live_ids->end(), id);
  }
};

ColumnValue column_value(const ReadContext& ctx, const ColumnSchema& col, const Row& row,
                         const DeletionTime& deletion) {
  ColumnValue v;
  const ColumnData* data = find_column_data(row, col.id);
  if (data == nullptr) return v;
  if (col.is_multi_cell()) {
    DeletionTime d = deletion;
    d.merge(data->complex_deletion);
    for (const auto& e : data->elements) {
      if (cell_is_live(e.cell, d, ctx.now)) {
        v.elements.push_back(
            ElementValue{e.path, e.cell.value, e.cell.timestamp, ttl_remaining(e.cell, ctx.now)});
      }
    }
  } else if (cell_is_live(data->cell, deletion, ctx.now)) {
    v.cell = CellValue{data->cell.value, data->cell.timestamp, ttl_remaining(data->cell, ctx.now)};
  }
  return v;
}

// Whether the row has live data in any current column (not only the selected ones).
bool row_is_live(const ReadContext& ctx, const Row& row, const DeletionTime& deletion) {
  if (!row.marker.is_empty() && !deletion.deletes(row.marker.timestamp) &&
      row.marker.is_live(ctx.now)) {
    return true;
  }
  for (const auto& data : row.columns) {
    if (!ctx.in_schema(data.id)) continue;
    if (cell_is_live(data.cell, deletion, ctx.now)) return true;
    DeletionTime d = deletion;
    d.merge(data.complex_deletion);
    for (const auto& e : data.elements) {
      if (cell_is_live(e.cell, d, ctx.now)) return true;
    }
  }
  return false;
}

// Visits rows selected by the slices, in clustering order, strictly after `resume` when given.
// visit returns false to stop.
template <class Visit>
void for_each_selected_row(const ReadContext& ctx, const std::map<Clustering, Row, RowLess>& rows,
                           const Clustering* resume, Visit&& visit) {
  const ClusteringComparator& cmp = *ctx.cmp;
  const Clustering* last = resume;
  if (ctx.slices->empty()) {
    auto it = resume != nullptr ? rows.upper_bound(*resume) : rows.begin();
    for (; it != rows.end(); ++it) {
      if (!visit(it->first, it->second)) return;
    }
    return;
  }
  for (const auto& slice : *ctx.slices) {
    auto it = slice.start.prefix.empty() ? rows.begin() : rows.lower_bound(slice.start.prefix);
    if (last != nullptr && it != rows.end() && cmp.compare(it->first, *last) <= 0) {
      it = rows.upper_bound(*last);
    }
    for (; it != rows.end(); ++it) {
      if (!cmp.before_end(it->first, slice.end)) break;
      if (!cmp.after_start(it->first, slice.start)) continue;
      last = &it->first;
      if (!visit(it->first, it->second)) return;
    }
  }
}

// Reads one partition into ctx.result.
void read_partition(ReadContext& ctx, const Table::Partition& p, const PagingState* resume) {
  const ReadCommand& cmd = *ctx.command;
  const bool resumed_inside = resume != nullptr && resume->inside_partition;
  uint64_t partition_room = cmd.per_partition_limit == 0 ? kUnlimited : cmd.per_partition_limit;
  if (resume != nullptr && resume->remaining_in_partition >= 0) {
    partition_room = static_cast<uint64_t>(resume->remaining_in_partition);
  }

  // Static values, computed once and copied into every row.
  DeletionTime static_deletion = p.deletion;
  static_deletion.merge(p.static_row.deletion);
  std::vector<std::optional<ColumnValue>> statics(ctx.columns.size());
  bool static_live = false;
  if (ctx.has_static) {
    static_live = row_is_live(ctx, p.static_row, static_deletion);
    for (size_t i = 0; i < ctx.columns.size(); ++i) {
      if (ctx.columns[i]->kind == ColumnKind::Static) {
        statics[i] = column_value(ctx, *ctx.columns[i], p.static_row, static_deletion);
      }
    }
  }

  uint64_t emitted = 0;
  bool any_live = false;
  auto emit = [&](const Clustering& key, const Row& row) -> bool {
    if (ctx.page_room == 0 || ctx.limit_room == 0 || partition_room == 0) return false;
    const DeletionTime d = row_deletion(p, key, &row, *ctx.cmp);
    if (!row_is_live(ctx, row, d)) return true;
    any_live = true;
    ResultRow out;
    out.partition_key = p.key;
    out.token = p.token;
    out.clustering = key;
    out.values.reserve(ctx.columns.size());
    for (size_t i = 0; i < ctx.columns.size(); ++i) {
      out.values.push_back(statics[i] ? *statics[i] : column_value(ctx, *ctx.columns[i], row, d));
    }
    ctx.result->rows.push_back(std::move(out));
    ++emitted;
    --ctx.page_room;
    if (ctx.limit_room != kUnlimited) --ctx.limit_room;
    if (partition_room != kUnlimited) --partition_room;
    return true;
  };

  const Clustering* after = resumed_inside ? &resume->clustering : nullptr;
  if (cmd.order == ReadOrder::Reversed) {
    std::vector<std::pair<const Clustering*, const Row*>> selected;
    for_each_selected_row(ctx, p.rows, nullptr, [&](const Clustering& key, const Row& row) {
      if (after != nullptr && ctx.cmp->compare(key, *after) >= 0) return false;
      selected.emplace_back(&key, &row);
      return true;
    });
    for (auto it = selected.rbegin(); it != selected.rend(); ++it) {
      if (!emit(*it->first, *it->second)) break;
    }
  } else {
    for_each_selected_row(ctx, p.rows, after, emit);
  }

  if (!any_live && !resumed_inside && static_live && cmd.slices.empty() && ctx.page_room > 0 &&
      ctx.limit_room > 0 && partition_room > 0) {
    ResultRow out;
    out.partition_key = p.key;
    out.token = p.token;
    out.static_only = true;
    for (auto& s : statics) out.values.push_back(s ? std::move(*s) : ColumnValue{});
    ctx.result->rows.push_back(std::move(out));
    ++emitted;
    --ctx.page_room;
    if (ctx.limit_room != kUnlimited) --ctx.limit_room;
  }
  (void)emitted;
  ctx.last_partition_room = partition_room;
  if (ctx.limit_room == 0) {
    ctx.stopped = true;
  } else if (ctx.page_room == 0) {
    ctx.stopped = true;
    ctx.stopped_by_page = true;
  }
}

}  // namespace

Result<ReadResult> Table::read(const ReadCommand& command) const {
  std::shared_lock lock(mu_);
  const QualifiedName where{schema_.get()};
  ReadResult result;
  ReadContext ctx;
  ctx.command = &command;
  ctx.cmp = comparator_.get();
  ctx.schema = schema_.get();
  ctx.now = now_seconds();
  ctx.result = &result;
  const TableSchema& schema = *schema_;

  ctx.live_ids = &value_column_ids_;
  if (command.columns.empty()) {
    ctx.columns = value_columns_;
  } else {
    for (ColumnId id : command.columns) {
      const ColumnSchema* c = schema.find_column(id);
      if (c == nullptr || c->is_primary_key()) {
        return fail(Errc::InvalidArgument,
                    fmt::format("{}: read of unknown value column id {}", where, id));
      }
      ctx.columns.push_back(c);
    }
  }
  for (const auto* c : ctx.columns) ctx.has_static |= c->kind == ColumnKind::Static;
  for (const auto& s : command.slices) {
    if (s.start.prefix.size() > ctx.cmp->size() || s.end.prefix.size() > ctx.cmp->size()) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{}: clustering bound longer than the clustering key", where));
    }
  }
  std::vector<ClusteringSlice> sorted_slices;
  ctx.slices = &command.slices;
  if (command.slices.size() > 1) {
    sorted_slices = command.slices;
    ctx.slices = &sorted_slices;
  }
  std::stable_sort(sorted_slices.begin(), sorted_slices.end(),
                   [&](const ClusteringSlice& a, const ClusteringSlice& b) {
                     if (a.start.prefix.empty() || b.start.prefix.empty()) {
                       return a.start.prefix.empty() && !b.start.prefix.empty();
                     }
                     return ctx.cmp->compare(a.start.prefix, b.start.prefix) < 0;
                   });

  std::optional<PagingState> state;
  if (command.paging_state) {
    auto decoded = decode_paging_state(*command.paging_state, ctx.cmp->size());
    if (!decoded) return tl::unexpected(decoded.error());
    state = std::move(*decoded);
  }
  if (command.limit != 0) ctx.limit_room = command.limit;
  if (state && state->remaining >= 0) ctx.limit_room = static_cast<uint64_t>(state->remaining);
  if (command.page_size != 0) ctx.page_room = command.page_size;

  result.schema = schema_;
  result.columns = ctx.columns;

  const Partition* last_partition = nullptr;
  if (command.kind == ReadKind::SinglePartition) {
    if (state && state->partition_key != command.partition_key) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{}: paging state is for another partition", where));
    }
    const int64_t token = partition_token(command.partition_key);
    auto it = partitions_.find(KeyView{token, command.partition_key});
    if (it != partitions_.end() && ctx.limit_room > 0) {
      std::lock_guard partition_lock(it->second->mu);
      read_partition(ctx, *it->second, state ? &*state : nullptr);
      last_partition = it->second.get();
    }
  } else {
    int64_t start = INT64_MIN;
    int64_t end = INT64_MAX;
    if (command.kind == ReadKind::TokenRange) {
      start = command.start_token_exclusive;
      end = command.end_token_inclusive;
    }
    PartitionMap::const_iterator it;
    const PagingState* resume = nullptr;
    if (state) {
      const int64_t token = partition_token(state->partition_key);
      it = partitions_.lower_bound(KeyView{token, state->partition_key});
      if (it != partitions_.end() && it->first.token == token &&
          KeyLess::compare_bytes(it->first.key, state->partition_key) == 0) {
        if (state->inside_partition) {
          resume = &*state;
        } else {
          ++it;
        }
      }
    } else if (start == INT64_MAX) {
      it = partitions_.end();
    } else {
      it = partitions_.lower_bound(KeyView{start + 1, ByteView{}});
    }
    if (start >= end) it = partitions_.end();
    for (; it != partitions_.end() && it->first.token <= end && ctx.limit_room > 0 &&
           ctx.page_room > 0;
         ++it) {
      if (it->first.token <= start) continue;
      std::lock_guard partition_lock(it->second->mu);
      read_partition(ctx, *it->second, resume);
      resume = nullptr;
      last_partition = it->second.get();
      if (ctx.stopped) break;
    }
  }

  if (ctx.stopped_by_page && ctx.limit_room > 0 && last_partition != nullptr &&
      !result.rows.empty()) {
    const ResultRow& last = result.rows.back();
    PagingState next;
    next.partition_key = last.partition_key;
    next.inside_partition = !last.static_only;
    if (next.inside_partition) next.clustering = last.clustering;
    next.remaining = ctx.limit_room == kUnlimited
                         ? -1
                         : static_cast<int32_t>(std::min<uint64_t>(ctx.limit_room, INT32_MAX));
    next.remaining_in_partition =
        ctx.last_partition_room == kUnlimited || !next.inside_partition
            ? -1
            : static_cast<int32_t>(std::min<uint64_t>(ctx.last_partition_room, INT32_MAX));
    result.paging_state = encode_paging_state(next);
  } else {
    result.paging_state.reset();
  }
  return result;
}

Result<CasResult> Table::compare_and_set(const ReadCommand& condition_read,
                                         const std::function<bool(const ReadResult&)>& predicate,
                                         const Mutation& mutation) {
  if (condition_read.kind != ReadKind::SinglePartition ||
      condition_read.partition_key != mutation.partition_key || condition_read.paging_state) {
    return fail(Errc::InvalidArgument,
                "compare_and_set: the condition must read the mutation's partition, unpaged");
  }
  const int64_t token = partition_token(mutation.partition_key);
  std::shared_lock<std::shared_mutex> shared(mu_, std::defer_lock);
  std::unique_lock<std::shared_mutex> exclusive(mu_, std::defer_lock);
  shared.lock();
  auto ok = validate(*schema_, mutation);
  if (!ok) return tl::unexpected(std::move(ok.error()));
  Partition& p = get_or_create(mutation, token, shared, exclusive);
  std::lock_guard partition_lock(p.mu);

  CasResult cas;
  ReadContext ctx;
  ctx.command = &condition_read;
  ctx.cmp = comparator_.get();
  ctx.schema = schema_.get();
  ctx.now = now_seconds();
  ctx.result = &cas.current;
  ctx.live_ids = &value_column_ids_;
  ctx.columns = value_columns_;
  if (!condition_read.columns.empty()) {
    ctx.columns.clear();
    for (ColumnId id : condition_read.columns) {
      const ColumnSchema* c = schema_->find_column(id);
      if (c == nullptr || c->is_primary_key()) {
        return fail(Errc::InvalidArgument,
                    fmt::format("compare_and_set: unknown value column id {}", id));
      }
      ctx.columns.push_back(c);
    }
  }
  for (const auto* c : ctx.columns) ctx.has_static |= c->kind == ColumnKind::Static;
  std::vector<ClusteringSlice> sorted_slices = condition_read.slices;
  std::sort(sorted_slices.begin(), sorted_slices.end(),
            [&](const ClusteringSlice& a, const ClusteringSlice& b) {
              if (a.start.prefix.empty() || b.start.prefix.empty()) {
                return a.start.prefix.empty() && !b.start.prefix.empty();
              }
              return ctx.cmp->compare(a.start.prefix, b.start.prefix) < 0;
            });
  ctx.slices = &sorted_slices;
  if (condition_read.limit != 0) ctx.limit_room = condition_read.limit;
  cas.current.schema = schema_;
  cas.current.columns = ctx.columns;
  read_partition(ctx, p, nullptr);
  cas.current.paging_state.reset();

  if (predicate(cas.current)) {
    // List index writes need their index to exist; checked before anything is applied.
    auto indices = check_list_indices(*schema_, p, mutation);
    if (!indices) return tl::unexpected(std::move(indices.error()));
    apply_locked(*schema_, p, mutation);
    cas.applied = true;
  }
  return cas;
}

}  // namespace zdm::node
