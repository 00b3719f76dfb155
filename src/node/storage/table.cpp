#include "node/table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/murmur3.hpp"
#include "common/timeuuid.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node {

// ---------------------------------------------------------------------------------------------
// Storage structures

namespace {

struct ElementCell {
  Bytes path;
  Cell cell;
};

struct ColumnData {
  ColumnId id = 0;
  Cell cell;  // simple columns; timestamp kNoTimestamp when never written
  DeletionTime complex_deletion;
  std::vector<ElementCell> elements;  // multi-cell collections, ordered by path
};

struct Row {
  LivenessInfo marker;
  DeletionTime deletion;
  std::vector<ColumnData> columns;  // ordered by id

  ColumnData& column(ColumnId id) {
    auto it = std::lower_bound(columns.begin(), columns.end(), id,
                               [](const ColumnData& c, ColumnId x) { return c.id < x; });
    if (it == columns.end() || it->id != id) {
      it = columns.insert(it, ColumnData{});
      it->id = id;
    }
    return *it;
  }
  bool empty() const {
    return marker.is_empty() && deletion.is_live() && columns.empty();
  }
};

struct RowLess {
  const ClusteringComparator* cmp;
  bool operator()(const Clustering& a, const Clustering& b) const {
    return cmp->compare(a, b) < 0;
  }
};

struct RangeTombstone {
  ClusteringSlice slice;
  DeletionTime deletion;
};

bool has_value(const Cell& c) { return c.timestamp != kNoTimestamp; }

int compare_path(const ColumnSchema& column, ByteView a, ByteView b) {
  if (column.type.id == TypeId::List) {
    static const DataType kTimeuuid = DataType::simple(TypeId::Timeuuid);
    return protocol::compare_values(kTimeuuid, a, b);
  }
  if (column.type.params.empty()) return protocol::compare_unsigned_bytes(a, b);
  return protocol::compare_values(column.type.params[0], a, b);
}

void merge_element(const ColumnSchema& column, ColumnData& data, Bytes path, Cell cell) {
  auto it = std::lower_bound(data.elements.begin(), data.elements.end(), path,
                             [&](const ElementCell& e, const Bytes& p) {
                               return compare_path(column, e.path, p) < 0;
                             });
  if (it != data.elements.end() && compare_path(column, it->path, path) == 0) {
    reconcile_into(it->cell, std::move(cell));
  } else {
    data.elements.insert(it, ElementCell{std::move(path), std::move(cell)});
  }
}

void merge_cell(Cell& existing, Cell&& update) {
  if (!has_value(existing)) {
    existing = std::move(update);
  } else {
    reconcile_into(existing, std::move(update));
  }
}

Cell make_cell(Bytes value, int64_t timestamp, int32_t ttl, int64_t now) {
  return ttl > 0 ? Cell::expiring(std::move(value), timestamp, ttl, now)
                 : Cell::live(std::move(value), timestamp);
}

// Drops everything `deletion` shadows (keeps memory bounded under overwrite/delete loops).
void purge_row(Row& row, const DeletionTime& deletion) {
  if (deletion.is_live()) return;
  if (!row.marker.is_empty() && deletion.deletes(row.marker.timestamp)) row.marker = {};
  // Strictly older only: purge_row is also called with the row's own deletion.
  if (!row.deletion.is_live() && deletion.marked_for_delete_at > row.deletion.marked_for_delete_at) {
    row.deletion = {};
  }
  for (auto& col : row.columns) {
    if (has_value(col.cell) && deletion.deletes(col.cell.timestamp)) col.cell = Cell{};
    if (!col.complex_deletion.is_live() &&
        deletion.deletes(col.complex_deletion.marked_for_delete_at)) {
      col.complex_deletion = {};
    }
    std::erase_if(col.elements,
                  [&](const ElementCell& e) { return deletion.deletes(e.cell.timestamp); });
  }
  std::erase_if(row.columns, [](const ColumnData& c) {
    return !has_value(c.cell) && c.complex_deletion.is_live() && c.elements.empty();
  });
}

bool cell_is_live(const Cell& cell, const DeletionTime& deletion, int64_t now) {
  return has_value(cell) && !deletion.deletes(cell.timestamp) && cell.is_live(now);
}

std::optional<int32_t> ttl_remaining(const Cell& cell, int64_t now) {
  if (!cell.is_expiring()) return std::nullopt;
  return static_cast<int32_t>(std::clamp<int64_t>(cell.local_deletion_time - now, 0, INT32_MAX));
}

Bytes timeuuid_bytes(int64_t ticks) {
  Uuid u = make_timeuuid(ticks, 0, 0);
  return Bytes(u.begin(), u.end());
}

// 2010-01-01T00:00:00Z in Gregorian 100 ns ticks: prepended list elements count down from here,
// appended ones use the current time, so every prepend sorts before every append.
constexpr int64_t kPrependReferenceTicks = kGregorianToUnixTicks + 1262304000LL * 10000000LL;

}  // namespace

struct Table::Partition {
  explicit Partition(const ClusteringComparator* cmp) : rows(RowLess{cmp}) {}

  Bytes key;
  int64_t token = 0;
  std::mutex mu;
  DeletionTime deletion;
  Row static_row;
  std::map<Clustering, Row, RowLess> rows;
  std::vector<RangeTombstone> range_tombstones;
};

// "keyspace.table" in error messages, formatted only when an error is built.
struct QualifiedName {
  const TableSchema* schema;
};

}  // namespace zdm::node

template <>
struct fmt::formatter<zdm::node::QualifiedName> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const zdm::node::QualifiedName& q, Context& ctx) const {
    return fmt::format_to(ctx.out(), "{}.{}", q.schema->keyspace, q.schema->table);
  }
};

namespace zdm::node {

// ---------------------------------------------------------------------------------------------
// Free helpers

Clock system_clock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

int64_t partition_token(ByteView key) { return murmur3_token(key).value; }

Result<Bytes> partition_key_bytes(std::span<const ByteView> components) {
  if (components.size() == 1) return Bytes(components[0].begin(), components[0].end());
  return composite_partition_key_checked(components);
}

Bytes collection_bytes(const ColumnSchema& column, const ColumnValue& value) {
  Bytes out;
  ByteWriter w(out);
  w.write_i32(static_cast<int32_t>(value.elements.size()));
  for (const auto& e : value.elements) {
    switch (column.type.id) {
      case TypeId::Set:
        w.write_bytes(ByteView(e.key));
        break;
      case TypeId::Map:
        w.write_bytes(ByteView(e.key));
        w.write_bytes(ByteView(e.value));
        break;
      default:
        w.write_bytes(ByteView(e.value));
        break;
    }
  }
  return out;
}

int Table::KeyLess::compare_bytes(ByteView a, ByteView b) { return protocol::compare_unsigned_bytes(a, b); }

// ---------------------------------------------------------------------------------------------
// Table basics

Table::Table(std::shared_ptr<const TableSchema> schema, Clock clock)
    : clock_(clock ? std::move(clock) : system_clock()),
      schema_(std::move(schema)),
      comparator_(std::make_shared<ClusteringComparator>(*schema_)),
      prepend_ticks_(kPrependReferenceTicks) {
  cache_schema();
}

void Table::cache_schema() {
  value_columns_ = schema_->value_columns();
  value_column_ids_.clear();
  for (const auto* c : value_columns_) value_column_ids_.push_back(c->id);
  std::sort(value_column_ids_.begin(), value_column_ids_.end());
  counter_table_ = schema_->is_counter_table();
}

Table::~Table() = default;

std::shared_ptr<const TableSchema> Table::schema() const {
  std::shared_lock lock(mu_);
  return schema_;
}

void Table::set_schema(std::shared_ptr<const TableSchema> schema) {
  std::unique_lock lock(mu_);
  schema_ = std::move(schema);
  cache_schema();
}

void Table::truncate() {
  std::unique_lock lock(mu_);
  partitions_.clear();
}

size_t Table::partition_count() const {
  std::shared_lock lock(mu_);
  return partitions_.size();
}

int64_t Table::now_seconds() const {
  const int64_t micros = clock_();
  return micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
}

Bytes Table::next_append_path() {
  const int64_t now_ticks = clock_() * 10 + kGregorianToUnixTicks;
  int64_t last = append_ticks_.load(std::memory_order_relaxed);
  int64_t next;
  do {
    next = std::max(now_ticks, last + 1);
  } while (!append_ticks_.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return timeuuid_bytes(next);
}

Bytes Table::next_prepend_path() {
  return timeuuid_bytes(prepend_ticks_.fetch_sub(1, std::memory_order_relaxed));
}

// ---------------------------------------------------------------------------------------------
// Writes

namespace {

bool is_list(const ColumnSchema& c) { return c.type.id == TypeId::List; }

Result<void> validate_op(const TableSchema& schema, const ColumnSchema& col, const ColumnOp& op) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::InvalidArgument, fmt::format("{}.{}: column {}: {}", schema.keyspace,
                                                   schema.table, col.name, why));
  };
  if (op.ttl < 0) return bad("negative TTL");
  switch (op.kind) {
    case ColumnOpKind::Set:
      if (col.is_multi_cell()) return bad("a non-frozen collection is written by elements");
      if (col.is_counter()) return bad("counters can only be incremented or decremented");
      break;
    case ColumnOpKind::Delete:
      break;
    case ColumnOpKind::Overwrite:
      if (!col.is_multi_cell()) return bad("not a non-frozen collection");
      break;
    case ColumnOpKind::AddElements:
    case ColumnOpKind::RemoveElements:
      if (!col.is_multi_cell() || is_list(col)) return bad("not a non-frozen set or map");
      break;
    case ColumnOpKind::Append:
    case ColumnOpKind::Prepend:
    case ColumnOpKind::SetIndex:
    case ColumnOpKind::RemoveIndex:
    case ColumnOpKind::RemoveValues:
      if (!col.is_multi_cell() || !is_list(col)) return bad("not a non-frozen list");
      break;
    case ColumnOpKind::CounterAdd:
      if (!col.is_counter()) return bad("not a counter column");
      break;
  }
  return {};
}

// The deletion covering a clustering row: partition deletion, covering range tombstones, then
// the row's own deletion.
DeletionTime row_deletion(const Table::Partition& p, const Clustering& key, const Row* row,
                          const ClusteringComparator& cmp);

}  // namespace

Result<void> Table::validate(const TableSchema& schema, const Mutation& m) const {
  const QualifiedName where{&schema};
  if (m.partition_key.empty()) {
    return fail(Errc::InvalidArgument, fmt::format("{}: partition key may not be empty", where));
  }
  if (m.partition_key.size() > 65535) {
    return fail(Errc::InvalidArgument,
                fmt::format("{}: partition key of {} bytes exceeds 65535", where,
                            m.partition_key.size()));
  }
  const size_t clustering_size = comparator_->size();
  for (const auto& rd : m.range_deletions) {
    if (rd.slice.start.prefix.size() > clustering_size ||
        rd.slice.end.prefix.size() > clustering_size) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{}: range deletion bound longer than the clustering key", where));
    }
  }
  const bool counter_table = counter_table_;
  for (const auto& row : m.rows) {
    bool needs_clustering = row.marker.has_value() || row.deletion.has_value();
    if (counter_table && row.marker) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{}: INSERT is not allowed on counter tables", where));
    }
    for (const auto& op : row.ops) {
      const ColumnSchema* col = schema.find_column(op.column);
      if (col == nullptr || col->is_primary_key()) {
        return fail(Errc::InvalidArgument,
                    fmt::format("{}: no value column with id {}", where, op.column));
      }
      auto ok = validate_op(schema, *col, op);
      if (!ok) return ok;
      if (col->kind != ColumnKind::Static) needs_clustering = true;
    }
    if (needs_clustering && row.clustering.size() != clustering_size) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{}: row write has {} clustering values, the table has {}", where,
                              row.clustering.size(), clustering_size));
    }
  }
  return {};
}

namespace {

DeletionTime row_deletion(const Table::Partition& p, const Clustering& key, const Row* row,
                          const ClusteringComparator& cmp) {
  DeletionTime d = p.deletion;
  for (const auto& rt : p.range_tombstones) {
    if (rt.deletion.marked_for_delete_at > d.marked_for_delete_at && cmp.contains(rt.slice, key)) {
      d.merge(rt.deletion);
    }
  }
  if (row != nullptr) d.merge(row->deletion);
  return d;
}

// Live list elements in order (indices for SetIndex/RemoveIndex).
std::vector<const ElementCell*> live_elements(const ColumnData* data, DeletionTime deletion,
                                              int64_t now) {
  std::vector<const ElementCell*> out;
  if (data == nullptr) return out;
  deletion.merge(data->complex_deletion);
  for (const auto& e : data->elements) {
    if (cell_is_live(e.cell, deletion, now)) out.push_back(&e);
  }
  return out;
}

const ColumnData* find_column_data(const Row& row, ColumnId id) {
  auto it = std::lower_bound(row.columns.begin(), row.columns.end(), id,
                             [](const ColumnData& c, ColumnId x) { return c.id < x; });
  return it != row.columns.end() && it->id == id ? &*it : nullptr;
}

}  // namespace

Result<void> Table::apply(const Mutation& mutation) {
  const int64_t token = partition_token(mutation.partition_key);
  std::shared_lock<std::shared_mutex> shared(mu_, std::defer_lock);
  std::unique_lock<std::shared_mutex> exclusive(mu_, std::defer_lock);
  shared.lock();
  auto ok = validate(*schema_, mutation);
  if (!ok) return ok;
  Partition& p = get_or_create(mutation, token, shared, exclusive);
  std::lock_guard partition_lock(p.mu);
  auto indices = check_list_indices(*schema_, p, mutation);
  if (!indices) return indices;
  apply_locked(*schema_, p, mutation);
  return {};
}

Result<void> Table::check_list_indices(const TableSchema& schema, const Partition& p,
                                       const Mutation& m) const {
  const int64_t now = now_seconds();
  for (const auto& w : m.rows) {
    for (const auto& op : w.ops) {
      if (op.kind != ColumnOpKind::SetIndex && op.kind != ColumnOpKind::RemoveIndex) continue;
      const ColumnSchema& col = *schema.find_column(op.column);
      const Row* row = nullptr;
      DeletionTime d = p.deletion;
      if (col.kind == ColumnKind::Static) {
        row = &p.static_row;
        d.merge(row->deletion);
      } else {
        auto it = p.rows.find(w.clustering);
        if (it != p.rows.end()) row = &it->second;
        d = row_deletion(p, w.clustering, row, *comparator_);
      }
      const size_t size =
          row == nullptr ? 0 : live_elements(find_column_data(*row, op.column), d, now).size();
      if (op.index < 0 || static_cast<size_t>(op.index) >= size) {
        return fail(Errc::InvalidArgument,
                    fmt::format("{}.{}: list index {} out of bound, list has size {}",
                                schema.keyspace, schema.table, op.index, size));
      }
    }
  }
  return {};
}

Table::Partition& Table::get_or_create(const Mutation& mutation, int64_t token,
                                       std::shared_lock<std::shared_mutex>& shared,
                                       std::unique_lock<std::shared_mutex>& exclusive) {
  auto it = partitions_.find(KeyView{token, mutation.partition_key});
  if (it != partitions_.end()) return *it->second;
  shared.unlock();
  exclusive.lock();
  auto [pos, inserted] = partitions_.try_emplace(Key{token, mutation.partition_key}, nullptr);
  if (inserted) {
    pos->second = std::make_unique<Partition>(comparator_.get());
    pos->second->key = mutation.partition_key;
    pos->second->token = token;
  }
  return *pos->second;
}

void Table::apply_locked(const TableSchema& schema, Partition& p, const Mutation& m) {
  const int64_t now = now_seconds();
  const ClusteringComparator& cmp = *comparator_;

  if (m.partition_deletion) {
    const DeletionTime d{*m.partition_deletion, now};
    p.deletion.merge(d);
    purge_row(p.static_row, p.deletion);
    for (auto it = p.rows.begin(); it != p.rows.end();) {
      purge_row(it->second, p.deletion);
      it = it->second.empty() ? p.rows.erase(it) : std::next(it);
    }
    std::erase_if(p.range_tombstones, [&](const RangeTombstone& rt) {
      return p.deletion.deletes(rt.deletion.marked_for_delete_at);
    });
  }
  for (const auto& rd : m.range_deletions) {
    if (p.deletion.deletes(rd.timestamp)) continue;
    const DeletionTime d{rd.timestamp, now};
    p.range_tombstones.push_back(RangeTombstone{rd.slice, d});
    for (auto it = p.rows.begin(); it != p.rows.end();) {
      if (cmp.contains(rd.slice, it->first)) purge_row(it->second, d);
      it = it->second.empty() ? p.rows.erase(it) : std::next(it);
    }
  }

  for (const auto& w : m.rows) {
    Row* row = nullptr;
    auto clustering_row = [&]() -> Row& {
      if (row == nullptr) row = &p.rows[w.clustering];
      return *row;
    };
    if (w.deletion) {
      Row& r = clustering_row();
      r.deletion.merge(DeletionTime{*w.deletion, now});
      purge_row(r, r.deletion);
    }
    if (w.marker) {
      LivenessInfo info{w.marker->timestamp, w.marker->ttl,
                        w.marker->ttl > 0 ? now + w.marker->ttl : kNoDeletionTime};
      Row& r = clustering_row();
      if (info.supersedes(r.marker)) r.marker = info;
    }
    for (const auto& op : w.ops) {
      const ColumnSchema& col = *schema.find_column(op.column);
      const bool is_static = col.kind == ColumnKind::Static;
      Row& target = is_static ? p.static_row : clustering_row();
      ColumnData& data = target.column(op.column);
      auto effective_deletion = [&] {
        if (!is_static) return row_deletion(p, w.clustering, &target, cmp);
        DeletionTime d = p.deletion;
        d.merge(target.deletion);
        return d;
      };
      switch (op.kind) {
        case ColumnOpKind::Set:
          merge_cell(data.cell, make_cell(op.value, op.timestamp, op.ttl, now));
          break;
        case ColumnOpKind::Delete:
          if (col.is_multi_cell()) {
            data.complex_deletion.merge(DeletionTime{op.timestamp, now});
            std::erase_if(data.elements, [&](const ElementCell& e) {
              return data.complex_deletion.deletes(e.cell.timestamp);
            });
          } else if (col.is_counter()) {
            data.cell = Cell::tombstone(op.timestamp, now);  // counter deletions always win
          } else {
            merge_cell(data.cell, Cell::tombstone(op.timestamp, now));
          }
          break;
        case ColumnOpKind::Overwrite:
          data.complex_deletion.merge(DeletionTime{op.timestamp - 1, now});
          std::erase_if(data.elements, [&](const ElementCell& e) {
            return data.complex_deletion.deletes(e.cell.timestamp);
          });
          for (const auto& [key, value] : op.elements) {
            if (is_list(col)) {
              merge_element(col, data, next_append_path(),
                            make_cell(value, op.timestamp, op.ttl, now));
            } else {
              merge_element(col, data, key,
                            make_cell(col.type.id == TypeId::Set ? Bytes{} : value, op.timestamp,
                                      op.ttl, now));
            }
          }
          break;
        case ColumnOpKind::AddElements:
          for (const auto& [key, value] : op.elements) {
            merge_element(col, data, key,
                          make_cell(col.type.id == TypeId::Set ? Bytes{} : value, op.timestamp,
                                    op.ttl, now));
          }
          break;
        case ColumnOpKind::RemoveElements:
          for (const auto& element : op.elements) {
            merge_element(col, data, element.first, Cell::tombstone(op.timestamp, now));
          }
          break;
        case ColumnOpKind::Append:
          for (const auto& element : op.elements) {
            merge_element(col, data, next_append_path(),
                          make_cell(element.second, op.timestamp, op.ttl, now));
          }
          break;
        case ColumnOpKind::Prepend: {
          std::vector<Bytes> paths(op.elements.size());
          for (size_t i = paths.size(); i-- > 0;) paths[i] = next_prepend_path();
          for (size_t i = 0; i < paths.size(); ++i) {
            merge_element(col, data, std::move(paths[i]),
                          make_cell(op.elements[i].second, op.timestamp, op.ttl, now));
          }
          break;
        }
        case ColumnOpKind::SetIndex:
        case ColumnOpKind::RemoveIndex: {
          auto live = live_elements(&data, effective_deletion(), now);
          if (op.index < 0 || static_cast<size_t>(op.index) >= live.size()) break;  // prechecked
          Bytes path = live[static_cast<size_t>(op.index)]->path;
          merge_element(col, data, std::move(path),
                        op.kind == ColumnOpKind::SetIndex
                            ? make_cell(op.value, op.timestamp, op.ttl, now)
                            : Cell::tombstone(op.timestamp, now));
          break;
        }
        case ColumnOpKind::RemoveValues: {
          std::vector<Bytes> doomed;
          for (const auto* e : live_elements(&data, effective_deletion(), now)) {
            for (const auto& v : op.elements) {
              if (protocol::compare_unsigned_bytes(e->cell.value, v.second) == 0) {
                doomed.push_back(e->path);
                break;
              }
            }
          }
          for (auto& path : doomed) {
            merge_element(col, data, std::move(path), Cell::tombstone(op.timestamp, now));
          }
          break;
        }
        case ColumnOpKind::CounterAdd: {
          if (data.cell.is_tombstone() && has_value(data.cell)) break;  // deletion wins forever
          const DeletionTime d = effective_deletion();
          if (cell_is_live(data.cell, d, now)) {
            data.cell.value = encode_counter(decode_counter(data.cell.value) + op.delta);
            data.cell.timestamp = std::max(data.cell.timestamp, op.timestamp);
          } else {
            data.cell = Cell::live(encode_counter(op.delta), op.timestamp);
          }
          break;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Paging state: [bytes] partition key, [byte] flags (1: resume inside the partition after the
// clustering that follows), [int] n + n [bytes] clustering values, [int] rows remaining under
// LIMIT (-1: none), [int] rows remaining under PER PARTITION LIMIT (-1: none).

namespace {

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
  const std::vector<ColumnId>* live_ids = nullptr;  // sorted ids of the schema's value columns
  const std::vector<ClusteringSlice>* slices = nullptr;  // sorted by start
  bool has_static = false;
  int64_t now = 0;

  uint64_t page_room = kUnlimited;  // rows this page may still take
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
        v.elements.push_back(ElementValue{e.path, e.cell.value, e.cell.timestamp,
                                          ttl_remaining(e.cell, ctx.now)});
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
