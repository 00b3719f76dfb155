// The system tables of Cassandra 2.2.18 (`zdm node --cassandra-version 2.2`): system.local and
// system.peers with 2.2's columns, system.size_estimates, and the schema in system.schema_* with
// the values LegacySchemaTables writes (marshal class names, JSON options, component indexes).
// There is no system_schema keyspace and no system.peers_v2: selecting from them fails as on 2.2.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "node/cql/json_value.hpp"
#include "node/cql/system_rows.hpp"
#include "node/cql/system_tables.hpp"
#include "node/storage/storage_engine.hpp"

namespace zdm::node {

namespace {

using namespace sysrows;  // NOLINT: value encoders, add_row, TableSpec, PK, CK

constexpr std::string_view kMarshal = "org.apache.cassandra.db.marshal.";

// Cassandra 2.2's definitions (SystemKeyspace, LegacySchemaTables, AuthKeyspace,
// SystemDistributedKeyspace, TraceKeyspace). Value columns alphabetically, the SELECT * order.
const std::vector<TableSpec>& table_specs_v22() {
  static const std::vector<TableSpec> specs = {
      {"system",
       "local",
       {{"key", "text", PK},
        {"bootstrapped", "text"},
        {"broadcast_address", "inet"},
        {"cluster_name", "text"},
        {"cql_version", "text"},
        {"data_center", "text"},
        {"gossip_generation", "int"},
        {"host_id", "uuid"},
        {"listen_address", "inet"},
        {"native_protocol_version", "text"},
        {"partitioner", "text"},
        {"rack", "text"},
        {"release_version", "text"},
        {"rpc_address", "inet"},
        {"schema_version", "uuid"},
        {"thrift_version", "text"},
        {"tokens", "set<text>"},
        {"truncated_at", "map<uuid, blob>"}}},
      {"system",
       "peers",
       {{"peer", "inet", PK},
        {"data_center", "text"},
        {"host_id", "uuid"},
        {"preferred_ip", "inet"},
        {"rack", "text"},
        {"release_version", "text"},
        {"rpc_address", "inet"},
        {"schema_version", "uuid"},
        {"tokens", "set<text>"}}},
      {"system",
       "size_estimates",
       {{"keyspace_name", "text", PK},
        {"table_name", "text", CK},
        {"range_start", "text", CK},
        {"range_end", "text", CK},
        {"mean_partition_size", "bigint"},
        {"partitions_count", "bigint"}}},
      {"system",
       "schema_keyspaces",
       {{"keyspace_name", "text", PK},
        {"durable_writes", "boolean"},
        {"strategy_class", "text"},
        {"strategy_options", "text"}}},
      {"system",
       "schema_columnfamilies",
       {{"keyspace_name", "text", PK},
        {"columnfamily_name", "text", CK},
        {"bloom_filter_fp_chance", "double"},
        {"caching", "text"},
        {"cf_id", "uuid"},
        {"comment", "text"},
        {"compaction_strategy_class", "text"},
        {"compaction_strategy_options", "text"},
        {"comparator", "text"},
        {"compression_parameters", "text"},
        {"default_time_to_live", "int"},
        {"default_validator", "text"},
        {"dropped_columns", "map<text, bigint>"},
        {"gc_grace_seconds", "int"},
        {"is_dense", "boolean"},
        {"key_validator", "text"},
        {"local_read_repair_chance", "double"},
        {"max_compaction_threshold", "int"},
        {"max_index_interval", "int"},
        {"memtable_flush_period_in_ms", "int"},
        {"min_compaction_threshold", "int"},
        {"min_index_interval", "int"},
        {"read_repair_chance", "double"},
        {"speculative_retry", "text"},
        {"subcomparator", "text"},
        {"type", "text"}}},
      {"system",
       "schema_columns",
       {{"keyspace_name", "text", PK},
        {"columnfamily_name", "text", CK},
        {"column_name", "text", CK},
        {"component_index", "int"},
        {"index_name", "text"},
        {"index_options", "text"},
        {"index_type", "text"},
        {"type", "text"},
        {"validator", "text"}}},
      {"system",
       "schema_triggers",
       {{"keyspace_name", "text", PK},
        {"columnfamily_name", "text", CK},
        {"trigger_name", "text", CK},
        {"trigger_options", "map<text, text>"}}},
      {"system",
       "schema_usertypes",
       {{"keyspace_name", "text", PK},
        {"type_name", "text", CK},
        {"field_names", "list<text>"},
        {"field_types", "list<text>"}}},
      {"system",
       "schema_functions",
       {{"keyspace_name", "text", PK},
        {"function_name", "text", CK},
        {"signature", "frozen<list<text>>", CK},
        {"argument_names", "list<text>"},
        {"argument_types", "list<text>"},
        {"body", "text"},
        {"called_on_null_input", "boolean"},
        {"language", "text"},
        {"return_type", "text"}}},
      {"system",
       "schema_aggregates",
       {{"keyspace_name", "text", PK},
        {"aggregate_name", "text", CK},
        {"signature", "frozen<list<text>>", CK},
        {"argument_types", "list<text>"},
        {"final_func", "text"},
        {"initcond", "blob"},
        {"return_type", "text"},
        {"state_func", "text"},
        {"state_type", "text"}}},
      {"system_auth", "role_members", {{"role", "text", PK}, {"member", "text", CK}}},
      {"system_auth",
       "role_permissions",
       {{"role", "text", PK}, {"resource", "text", CK}, {"permissions", "set<text>"}}},
      {"system_auth",
       "resource_role_permissons_index",  // sic, as Cassandra names it
       {{"resource", "text", PK}, {"role", "text", CK}}},
      {"system_distributed",
       "repair_history",
       {{"keyspace_name", "text", PK},
        {"columnfamily_name", "text", PK},
        {"id", "timeuuid", CK},
        {"coordinator", "inet"},
        {"exception_message", "text"},
        {"exception_stacktrace", "text"},
        {"finished_at", "timestamp"},
        {"parent_id", "timeuuid"},
        {"participants", "set<inet>"},
        {"range_begin", "text"},
        {"range_end", "text"},
        {"started_at", "timestamp"},
        {"status", "text"}}},
      {"system_distributed",
       "parent_repair_history",
       {{"parent_id", "timeuuid", PK},
        {"columnfamily_names", "set<text>"},
        {"exception_message", "text"},
        {"exception_stacktrace", "text"},
        {"finished_at", "timestamp"},
        {"keyspace_name", "text"},
        {"requested_ranges", "set<text>"},
        {"started_at", "timestamp"},
        {"successful_ranges", "set<text>"}}},
  };
  return specs;
}

constexpr const char* kSchemaTables[] = {
    "schema_keyspaces", "schema_columnfamilies", "schema_columns",   "schema_triggers",
    "schema_usertypes", "schema_functions",      "schema_aggregates"};

std::string marshal(std::string_view name) { return fmt::format("{}{}", kMarshal, name); }

std::string_view simple_marshal_name(TypeId id) {
  switch (id) {
    case TypeId::Ascii:
      return "AsciiType";
    case TypeId::Bigint:
      return "LongType";
    case TypeId::Blob:
      return "BytesType";
    case TypeId::Boolean:
      return "BooleanType";
    case TypeId::Counter:
      return "CounterColumnType";
    case TypeId::Decimal:
      return "DecimalType";
    case TypeId::Double:
      return "DoubleType";
    case TypeId::Float:
      return "FloatType";
    case TypeId::Int:
      return "Int32Type";
    case TypeId::Timestamp:
      return "TimestampType";
    case TypeId::Uuid:
      return "UUIDType";
    case TypeId::Varchar:
      return "UTF8Type";
    case TypeId::Varint:
      return "IntegerType";
    case TypeId::Timeuuid:
      return "TimeUUIDType";
    case TypeId::Inet:
      return "InetAddressType";
    case TypeId::Date:
      return "SimpleDateType";
    case TypeId::Time:
      return "TimeType";
    case TypeId::Smallint:
      return "ShortType";
    case TypeId::Tinyint:
      return "ByteType";
    case TypeId::Duration:
      return "DurationType";  // not in 2.2 (3.10+); named as later releases do
    default:
      break;
  }
  return "BytesType";
}

std::string hex(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char ch : s) out += fmt::format("{:02x}", static_cast<unsigned char>(ch));
  return out;
}

// AbstractType.toString(ignoreFreezing) of Cassandra 2.2. Only a top-level non-frozen collection
// is multi-cell; collections wrap their frozen parameters in FrozenType unless the enclosing type
// is itself frozen (ignoreFreezing), tuples and UDTs never do.
std::string type_string(const DataType& t, bool multi_cell, bool ignore_freezing) {
  switch (t.id) {
    case TypeId::List:
    case TypeId::Set:
    case TypeId::Map: {
      const bool include_frozen = !ignore_freezing && !multi_cell;
      const bool inner_ignore = ignore_freezing || !multi_cell;
      std::string s = marshal(t.id == TypeId::List  ? "ListType"
                              : t.id == TypeId::Set ? "SetType"
                                                    : "MapType");
      s += "(";
      for (size_t i = 0; i < t.params.size(); ++i) {
        if (i > 0) s += ",";
        s += type_string(t.params[i], false, inner_ignore);
      }
      s += ")";
      return include_frozen ? fmt::format("{}({})", marshal("FrozenType"), s) : s;
    }
    case TypeId::Tuple: {
      std::string s = marshal("TupleType") + "(";
      for (size_t i = 0; i < t.params.size(); ++i) {
        if (i > 0) s += ",";
        s += type_string(t.params[i], false, true);
      }
      return s + ")";
    }
    case TypeId::Udt: {
      std::string s = fmt::format("{}({},{}", marshal("UserType"), t.udt_keyspace, hex(t.udt_name));
      for (size_t i = 0; i < t.params.size() && i < t.field_names.size(); ++i) {
        s += fmt::format(",{}:{}", hex(t.field_names[i]), type_string(t.params[i], false, true));
      }
      return s + ")";
    }
    case TypeId::Custom:
      return t.custom_class;
    default:
      return marshal(simple_marshal_name(t.id));
  }
}

// Java's HashMap iteration order for byte-buffer keys inserted in `keys` order: by bucket
// ((h ^ h >>> 16) & (capacity - 1), h = ByteBuffer.hashCode()), then insertion order; the
// capacity starts at 16 and doubles once the map holds more than 3/4 of it.
std::vector<size_t> java_hashmap_order(const std::vector<std::string>& keys) {
  size_t capacity = 16;
  while (keys.size() > capacity * 3 / 4) capacity *= 2;
  std::vector<std::pair<uint32_t, size_t>> order;
  for (size_t i = 0; i < keys.size(); ++i) {
    int32_t h = 1;  // ByteBuffer.hashCode(): from the last byte to the first, bytes signed
    for (size_t j = keys[i].size(); j-- > 0;) {
      h = static_cast<int32_t>(31u * static_cast<uint32_t>(h) +
                               static_cast<uint32_t>(static_cast<int8_t>(keys[i][j])));
    }
    const auto u = static_cast<uint32_t>(h);
    order.emplace_back((u ^ (u >> 16)) & static_cast<uint32_t>(capacity - 1), i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<size_t> out;
  for (const auto& [bucket, index] : order) out.push_back(index);
  return out;
}

// FBUtilities.json(map): {"k":"v",...} without spaces.
std::string json_object(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out = "{";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += ",";
    out += json_quote(entries[i].first) + ":" + json_quote(entries[i].second);
  }
  return out + "}";
}

std::string legacy_kind(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::PartitionKey:
      return "partition_key";
    case ColumnKind::Clustering:
      return "clustering_key";
    case ColumnKind::Static:
      return "static";
    case ColumnKind::Regular:
      break;
  }
  return "regular";
}

// schema_columns.component_index: the position in the (composite) key, or for value columns the
// number of clustering columns (CQL tables have a compound comparator); null for the only
// partition key column.
std::optional<int32_t> component_index(const TableSchema& t, const ColumnSchema& c) {
  if (c.kind == ColumnKind::PartitionKey) {
    if (t.partition_key().size() == 1) return std::nullopt;
    return static_cast<int32_t>(c.position);
  }
  if (c.kind == ColumnKind::Clustering) return static_cast<int32_t>(c.position);
  return static_cast<int32_t>(t.clustering().size());
}

}  // namespace

std::string legacy_type_name(const DataType& type, bool frozen, bool reversed) {
  std::string s = type_string(type, type.is_collection() && !frozen, false);
  if (reversed) return fmt::format("{}({})", marshal("ReversedType"), s);
  return s;
}

std::string legacy_validator(const ColumnSchema& column) {
  return legacy_type_name(
      column.type, !column.is_multi_cell(),
      column.kind == ColumnKind::Clustering && column.order == ClusteringOrder::Desc);
}

std::string legacy_key_validator(const TableSchema& table) {
  const auto pk = table.partition_key();
  if (pk.size() == 1) return legacy_validator(*pk.front());
  std::string s = marshal("CompositeType") + "(";
  for (size_t i = 0; i < pk.size(); ++i) {
    if (i > 0) s += ",";
    s += legacy_validator(*pk[i]);
  }
  return s + ")";
}

std::string legacy_comparator(const TableSchema& table) {
  std::string s = marshal("CompositeType") + "(";
  for (const auto* c : table.clustering()) s += legacy_validator(*c) + ",";
  s += marshal("UTF8Type");
  // CreateTableStatement iterates its column definitions (a HashMap keyed by name) and puts the
  // multi-cell collections into another HashMap: both orders are Java's.
  std::vector<std::string> names;
  std::vector<const ColumnSchema*> columns;
  for (const auto& c : table.columns) {
    names.push_back(c.name);
    columns.push_back(&c);
  }
  std::vector<std::string> collection_names;
  std::vector<const ColumnSchema*> collections;
  for (size_t i : java_hashmap_order(names)) {
    if (columns[i]->is_multi_cell()) {
      collection_names.push_back(columns[i]->name);
      collections.push_back(columns[i]);
    }
  }
  if (!collections.empty()) {
    s += "," + marshal("ColumnToCollectionType") + "(";
    bool first = true;
    for (size_t i : java_hashmap_order(collection_names)) {
      if (!first) s += ",";
      first = false;
      s += fmt::format("{}:{}", hex(collections[i]->name), legacy_validator(*collections[i]));
    }
    s += ")";
  }
  return s + ")";
}

Result<void> SystemTables::install_v22() {
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> keyspaces = {
      {"system", {{"class", "org.apache.cassandra.locator.LocalStrategy"}}},
  };
  if (auto ok = create_keyspaces(engine_, keyspaces); !ok) return ok;
  if (auto ok = create_keyspaces(engine_, shared_keyspaces()); !ok) return ok;
  if (auto ok = create_tables(engine_, table_specs_v22()); !ok) return ok;
  if (auto ok = create_tables(engine_, shared_table_specs()); !ok) return ok;
  if (auto ok = write_local_v22(); !ok) return ok;
  if (auto ok = write_peers_v22(); !ok) return ok;
  for (const auto& ks : engine_.catalog().keyspaces()) {
    if (auto ok = refresh_keyspace_v22(ks.name); !ok) return ok;
  }
  return {};
}

Result<void> SystemTables::write_local_v22() {
  auto table = engine_.table("system", "local");
  if (!table) return fail(Errc::InvalidArgument, "system.local is missing");
  std::vector<std::string> tokens;
  for (int64_t t : identity_.tokens) tokens.push_back(std::to_string(t));
  const auto now_seconds = engine_.clock()() / 1'000'000;
  Mutation m;
  add_row(*table->schema(), m,
          {{"key", text("local")},
           {"bootstrapped", text("COMPLETED")},
           {"broadcast_address", inet(identity_.listen_address)},
           {"cluster_name", text(identity_.cluster_name)},
           {"cql_version", text(identity_.cql_version)},
           {"data_center", text(identity_.datacenter)},
           {"gossip_generation", int32(static_cast<int32_t>(now_seconds))},
           {"host_id", uuid(identity_.host_id)},
           {"listen_address", inet(identity_.listen_address)},
           {"native_protocol_version", text("4")},
           {"partitioner", text(identity_.partitioner)},
           {"rack", text(identity_.rack)},
           {"release_version", text(identity_.release_version)},
           {"rpc_address", inet(identity_.listen_address)},
           {"schema_version", uuid(engine_.catalog().schema_version())},
           {"thrift_version", text("20.1.0")},
           {"tokens", text_list(tokens)}},
          next_timestamp());
  return table->apply(m);
}

Result<void> SystemTables::write_peers_v22() {
  if (identity_.peers.empty()) return {};
  auto peers = engine_.table("system", "peers");
  if (!peers) return fail(Errc::InvalidArgument, "system.peers is missing");
  const int64_t ts = next_timestamp();
  for (const auto& address : identity_.peers) {
    // schema_version stays null, as in 4.0 mode: drivers skip such peers for schema agreement.
    Mutation m;
    add_row(*peers->schema(), m,
            {{"peer", inet(address)},
             {"data_center", text(identity_.datacenter)},
             {"host_id", uuid(peer_host_id(address))},
             {"rack", text(identity_.rack)},
             {"release_version", text(identity_.release_version)},
             {"rpc_address", inet(address)},
             {"tokens", text_list({std::to_string(peer_token(address))})}},
            ts);
    if (auto ok = peers->apply(m); !ok) return ok;
  }
  return {};
}

Result<void> SystemTables::refresh_keyspace_v22(const std::string& keyspace) {
  const int64_t ts = next_timestamp();
  const auto ks = engine_.catalog().find_keyspace(keyspace);
  const auto tables =
      ks ? engine_.catalog().tables(keyspace) : decltype(engine_.catalog().tables(keyspace)){};
  const auto types = ks ? engine_.catalog().types(keyspace) : std::vector<UserTypeSchema>{};

  for (const char* name : kSchemaTables) {
    auto table = engine_.table("system", name);
    if (!table) return fail(Errc::InvalidArgument, fmt::format("system.{} is missing", name));
    const auto schema = table->schema();
    Mutation m;
    m.partition_key = text(keyspace);
    m.partition_deletion = ts - 1;
    const std::string_view n = name;
    if (ks && n == "schema_keyspaces") {
      std::string strategy;
      std::vector<std::pair<std::string, std::string>> options;
      for (const auto& [k, v] : ks->replication) {
        if (k == "class") {
          strategy = v;
        } else {
          options.emplace_back(k, v);
        }
      }
      add_row(*schema, m,
              {{"keyspace_name", text(keyspace)},
               {"durable_writes", boolean(ks->durable_writes)},
               {"strategy_class", text(strategy)},
               {"strategy_options", text(json_object(options))}},
              ts);
    } else if (ks && n == "schema_columnfamilies") {
      for (const auto& t : tables) {
        add_row(
            *schema, m,
            {{"keyspace_name", text(keyspace)},
             {"columnfamily_name", text(t->table)},
             {"bloom_filter_fp_chance", float64(0.01)},
             {"caching", text(R"({"keys":"ALL", "rows_per_partition":"NONE"})")},
             {"cf_id", uuid(name_uuid(keyspace, t->table))},
             {"comment", text("")},
             {"compaction_strategy_class",
              text("org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy")},
             {"compaction_strategy_options", text("{}")},
             {"comparator", text(legacy_comparator(*t))},
             {"compression_parameters",
              text(R"({"sstable_compression":"org.apache.cassandra.io.compress.LZ4Compressor"})")},
             {"default_time_to_live", int32(t->default_ttl)},
             {"default_validator",
              text(marshal(t->is_counter_table() ? "CounterColumnType" : "BytesType"))},
             {"gc_grace_seconds", int32(864000)},
             {"is_dense", boolean(false)},
             {"key_validator", text(legacy_key_validator(*t))},
             {"local_read_repair_chance", float64(0.1)},
             {"max_compaction_threshold", int32(32)},
             {"max_index_interval", int32(2048)},
             {"memtable_flush_period_in_ms", int32(0)},
             {"min_compaction_threshold", int32(4)},
             {"min_index_interval", int32(128)},
             {"read_repair_chance", float64(0.0)},
             {"speculative_retry", text("99.0PERCENTILE")},
             {"type", text("Standard")}},
            ts);
      }
    } else if (ks && n == "schema_columns") {
      for (const auto& t : tables) {
        for (const auto& c : t->columns) {
          RowValues values = {
              {"keyspace_name", text(keyspace)},   {"columnfamily_name", text(t->table)},
              {"column_name", text(c.name)},       {"index_options", text("null")},  // json(null)
              {"type", text(legacy_kind(c.kind))}, {"validator", text(legacy_validator(c))}};
          if (auto index = component_index(*t, c))
            values.emplace_back("component_index", int32(*index));
          add_row(*schema, m, values, ts);
        }
      }
    } else if (ks && n == "schema_usertypes") {
      for (const auto& u : types) {
        std::vector<std::string> field_types;
        for (const auto& f : u.field_types) field_types.push_back(type_string(f, false, false));
        add_row(*schema, m,
                {{"keyspace_name", text(keyspace)},
                 {"type_name", text(u.name)},
                 {"field_names", text_list(u.field_names)},
                 {"field_types", text_list(field_types)}},
                ts);
      }
    }
    if (auto ok = table->apply(m); !ok) return ok;
  }
  return write_schema_version();
}

}  // namespace zdm::node
