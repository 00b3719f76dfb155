// Table writes: validation of a Mutation against the schema, then apply (atomic per partition):
// partition and range tombstones, row deletions and markers, and every ColumnOp (cells,
// collection elements, list indices, counters), purging what a deletion shadows.

#include <algorithm>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "node/storage/table.hpp"
#include "node/storage/table_partition.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node {

using namespace table_detail;

namespace {

int compare_path(const ColumnSchema& column, ByteView a, ByteView b) {
  if (column.type.id == TypeId::List) {
    static const DataType kTimeuuid = DataType::simple(TypeId::Timeuuid);
    return protocol::compare_values(kTimeuuid, a, b);
  }
  if (column.type.params.empty()) return protocol::compare_unsigned_bytes(a, b);
  return protocol::compare_values(column.type.params[0], a, b);
}

void merge_element(const ColumnSchema& column, ColumnData& data, Bytes path, Cell cell) {
  auto it = std::lower_bound(
      data.elements.begin(), data.elements.end(), path,
      [&](const ElementCell& e, const Bytes& p) { return compare_path(column, e.path, p) < 0; });
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
  if (!row.deletion.is_live() &&
      deletion.marked_for_delete_at > row.deletion.marked_for_delete_at) {
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

bool is_list(const ColumnSchema& c) { return c.type.id == TypeId::List; }

Result<void> validate_op(const TableSchema& schema, const ColumnSchema& col, const ColumnOp& op) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::InvalidArgument,
                fmt::format("{}.{}: column {}: {}", schema.keyspace, schema.table, col.name, why));
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

}  // namespace

Result<void> Table::validate(const TableSchema& schema, const Mutation& m) const {
  const QualifiedName where{&schema};
  if (m.partition_key.empty()) {
    return fail(Errc::InvalidArgument, fmt::format("{}: partition key may not be empty", where));
  }
  if (m.partition_key.size() > 65535) {
    return fail(Errc::InvalidArgument, fmt::format("{}: partition key of {} bytes exceeds 65535",
                                                   where, m.partition_key.size()));
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
            merge_element(
                col, data, key,
                make_cell(col.type.id == TypeId::Set ? Bytes{} : value, op.timestamp, op.ttl, now));
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

}  // namespace zdm::node
