#include "node/cql/system_rows.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <map>

#include "common/md5.hpp"
#include "node/storage/storage_engine.hpp"
#include "node/storage/table.hpp"
#include "protocol/cql_type.hpp"

namespace zdm::node::sysrows {

Result<void> create_keyspaces(
    StorageEngine& engine,
    const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& keyspaces) {
  for (const auto& [name, replication] : keyspaces) {
    if (engine.catalog().find_keyspace(name)) continue;
    auto ok = engine.create_keyspace(KeyspaceSchema{name, replication, true});
    if (!ok) return ok;
  }
  return {};
}

Result<void> create_tables(StorageEngine& engine, const std::vector<TableSpec>& specs) {
  for (const auto& spec : specs) {
    if (engine.table(spec.keyspace, spec.table)) continue;
    std::vector<ColumnDefinition> defs;
    for (const auto& c : spec.columns) {
      auto type = protocol::parse_cql_type(c.type);
      if (!type) return tl::unexpected(type.error());
      defs.push_back(
          ColumnDefinition{c.name, *type, c.kind, ClusteringOrder::Asc, CellLayout::Frozen});
    }
    auto created = engine.create_table(spec.keyspace, spec.table, std::move(defs));
    if (!created) return tl::unexpected(created.error());
  }
  return {};
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes int32(int32_t v) {
  Bytes out(4);
  store_be32(out.data(), static_cast<uint32_t>(v));
  return out;
}

Bytes boolean(bool v) { return Bytes{static_cast<uint8_t>(v ? 1 : 0)}; }

Bytes float64(double v) {
  Bytes out;
  ByteWriter(out).write_double(v);
  return out;
}

Bytes uuid(const Uuid& u) { return Bytes(u.begin(), u.end()); }

Bytes inet(const std::string& address) {
  std::array<uint8_t, 16> buf{};
  if (inet_pton(AF_INET, address.c_str(), buf.data()) == 1)
    return Bytes(buf.begin(), buf.begin() + 4);
  if (inet_pton(AF_INET6, address.c_str(), buf.data()) == 1) return Bytes(buf.begin(), buf.end());
  return Bytes{127, 0, 0, 1};
}

Bytes text_list(const std::vector<std::string>& items) {
  Bytes out;
  ByteWriter w(out);
  w.write_i32(static_cast<int32_t>(items.size()));
  for (const auto& s : items) w.write_bytes(as_bytes(s));
  return out;
}

Bytes text_map(const std::vector<std::pair<std::string, std::string>>& entries) {
  Bytes out;
  ByteWriter w(out);
  w.write_i32(static_cast<int32_t>(entries.size()));
  for (const auto& [k, v] : entries) {
    w.write_bytes(as_bytes(k));
    w.write_bytes(as_bytes(v));
  }
  return out;
}

void add_row(const TableSchema& schema, Mutation& m, const RowValues& values, int64_t timestamp) {
  RowWrite row;
  row.marker = RowMarker{timestamp, 0};
  const auto pk = schema.partition_key();
  const auto ck = schema.clustering();
  std::vector<ByteView> pk_parts(pk.size());
  row.clustering.resize(ck.size());
  for (const auto& [name, value] : values) {
    const ColumnSchema* c = schema.find_column(name);
    if (c == nullptr) continue;
    if (c->kind == ColumnKind::PartitionKey) {
      pk_parts[c->position] = value;
    } else if (c->kind == ColumnKind::Clustering) {
      row.clustering[c->position] = value;
    } else {
      row.ops.push_back(ColumnOp::set(c->id, value, timestamp));
    }
  }
  if (m.partition_key.empty()) {
    auto key = partition_key_bytes(pk_parts);
    if (key) m.partition_key = std::move(*key);
  }
  m.rows.push_back(std::move(row));
}

Uuid name_uuid(std::string_view a, std::string_view b) {
  Md5Hasher h;
  h.update(a);
  h.update(".");
  h.update(b);
  auto d = h.finish();
  Uuid u{};
  if (d) std::copy(d->begin(), d->end(), u.begin());
  u[6] = static_cast<uint8_t>((u[6] & 0x0F) | 0x30);  // version 3 (name based, MD5)
  u[8] = static_cast<uint8_t>((u[8] & 0x3F) | 0x80);
  return u;
}

const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& shared_keyspaces() {
  static const std::vector<std::pair<std::string, std::map<std::string, std::string>>> keyspaces = {
      {"system_auth",
       {{"class", "org.apache.cassandra.locator.SimpleStrategy"}, {"replication_factor", "1"}}},
      {"system_distributed",
       {{"class", "org.apache.cassandra.locator.SimpleStrategy"}, {"replication_factor", "3"}}},
      {"system_traces",
       {{"class", "org.apache.cassandra.locator.SimpleStrategy"}, {"replication_factor", "2"}}},
  };
  return keyspaces;
}

const std::vector<TableSpec>& shared_table_specs() {
  static const std::vector<TableSpec> specs = {
      {"system_auth",
       "roles",
       {{"role", "text", PK},
        {"can_login", "boolean"},
        {"is_superuser", "boolean"},
        {"member_of", "set<text>"},
        {"salted_hash", "text"}}},
      {"system_traces",
       "sessions",
       {{"session_id", "uuid", PK},
        {"client", "inet"},
        {"command", "text"},
        {"coordinator", "inet"},
        {"duration", "int"},
        {"parameters", "map<text, text>"},
        {"request", "text"},
        {"started_at", "timestamp"}}},
      {"system_traces",
       "events",
       {{"session_id", "uuid", PK},
        {"event_id", "timeuuid", CK},
        {"activity", "text"},
        {"source", "inet"},
        {"source_elapsed", "int"},
        {"thread", "text"}}},
  };
  return specs;
}

}  // namespace zdm::node::sysrows
