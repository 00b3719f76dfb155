#include "node/cql/system_tables.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/timeuuid.hpp"
#include "node/cql/system_rows.hpp"
#include "node/storage/storage_engine.hpp"
#include "protocol/cql_type.hpp"

namespace zdm::node {

namespace {

constexpr std::string_view kSystem = "system";
constexpr std::string_view kSchema = "system_schema";

using namespace sysrows;  // value encoders, add_row, name_uuid

// Cassandra 4.0's definitions (SystemKeyspace, SchemaKeyspace, AuthKeyspace, ...). Value columns
// are listed alphabetically, the order Cassandra returns them for SELECT *.
const std::vector<TableSpec>& table_specs() {
  static const std::vector<TableSpec> specs = {
      {"system", "local", {{"key", "text", PK},           {"bootstrapped", "text"},
                           {"broadcast_address", "inet"}, {"broadcast_port", "int"},
                           {"cluster_name", "text"},      {"cql_version", "text"},
                           {"data_center", "text"},       {"gossip_generation", "int"},
                           {"host_id", "uuid"},           {"listen_address", "inet"},
                           {"listen_port", "int"},        {"native_protocol_version", "text"},
                           {"partitioner", "text"},       {"rack", "text"},
                           {"release_version", "text"},   {"rpc_address", "inet"},
                           {"rpc_port", "int"},           {"schema_version", "uuid"},
                           {"tokens", "set<text>"},       {"truncated_at", "map<uuid, blob>"}}},
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
       "peers_v2",
       {{"peer", "inet", PK},
        {"peer_port", "int", CK},
        {"data_center", "text"},
        {"host_id", "uuid"},
        {"native_address", "inet"},
        {"native_port", "int"},
        {"preferred_ip", "inet"},
        {"preferred_port", "int"},
        {"rack", "text"},
        {"release_version", "text"},
        {"schema_version", "uuid"},
        {"tokens", "set<text>"}}},
      {"system_schema",
       "keyspaces",
       {{"keyspace_name", "text", PK},
        {"durable_writes", "boolean"},
        {"replication", "frozen<map<text, text>>"}}},
      {"system_schema",
       "tables",
       {{"keyspace_name", "text", PK},
        {"table_name", "text", CK},
        {"additional_write_policy", "text"},
        {"bloom_filter_fp_chance", "double"},
        {"caching", "frozen<map<text, text>>"},
        {"cdc", "boolean"},
        {"comment", "text"},
        {"compaction", "frozen<map<text, text>>"},
        {"compression", "frozen<map<text, text>>"},
        {"crc_check_chance", "double"},
        {"default_time_to_live", "int"},
        {"extensions", "frozen<map<text, blob>>"},
        {"flags", "frozen<set<text>>"},
        {"gc_grace_seconds", "int"},
        {"id", "uuid"},
        {"max_index_interval", "int"},
        {"memtable_flush_period_in_ms", "int"},
        {"min_index_interval", "int"},
        {"read_repair", "text"},
        {"speculative_retry", "text"}}},
      {"system_schema",
       "columns",
       {{"keyspace_name", "text", PK},
        {"table_name", "text", CK},
        {"column_name", "text", CK},
        {"clustering_order", "text"},
        {"column_name_bytes", "blob"},
        {"kind", "text"},
        {"position", "int"},
        {"type", "text"}}},
      {"system_schema",
       "dropped_columns",
       {{"keyspace_name", "text", PK},
        {"table_name", "text", CK},
        {"column_name", "text", CK},
        {"dropped_time", "timestamp"},
        {"kind", "text"},
        {"type", "text"}}},
      {"system_schema",
       "types",
       {{"keyspace_name", "text", PK},
        {"type_name", "text", CK},
        {"field_names", "frozen<list<text>>"},
        {"field_types", "frozen<list<text>>"}}},
      {"system_schema",
       "functions",
       {{"keyspace_name", "text", PK},
        {"function_name", "text", CK},
        {"argument_types", "frozen<list<text>>", CK},
        {"argument_names", "frozen<list<text>>"},
        {"body", "text"},
        {"called_on_null_input", "boolean"},
        {"language", "text"},
        {"return_type", "text"}}},
      {"system_schema",
       "aggregates",
       {{"keyspace_name", "text", PK},
        {"aggregate_name", "text", CK},
        {"argument_types", "frozen<list<text>>", CK},
        {"final_func", "text"},
        {"initcond", "text"},
        {"return_type", "text"},
        {"state_func", "text"},
        {"state_type", "text"}}},
      {"system_schema",
       "views",
       {{"keyspace_name", "text", PK},
        {"view_name", "text", CK},
        {"additional_write_policy", "text"},
        {"base_table_id", "uuid"},
        {"base_table_name", "text"},
        {"bloom_filter_fp_chance", "double"},
        {"caching", "frozen<map<text, text>>"},
        {"cdc", "boolean"},
        {"comment", "text"},
        {"compaction", "frozen<map<text, text>>"},
        {"compression", "frozen<map<text, text>>"},
        {"crc_check_chance", "double"},
        {"default_time_to_live", "int"},
        {"extensions", "frozen<map<text, blob>>"},
        {"gc_grace_seconds", "int"},
        {"id", "uuid"},
        {"include_all_columns", "boolean"},
        {"max_index_interval", "int"},
        {"memtable_flush_period_in_ms", "int"},
        {"min_index_interval", "int"},
        {"read_repair", "text"},
        {"speculative_retry", "text"},
        {"where_clause", "text"}}},
      {"system_schema",
       "indexes",
       {{"keyspace_name", "text", PK},
        {"table_name", "text", CK},
        {"index_name", "text", CK},
        {"kind", "text"},
        {"options", "frozen<map<text, text>>"}}},
      {"system_schema",
       "triggers",
       {{"keyspace_name", "text", PK},
        {"table_name", "text", CK},
        {"trigger_name", "text", CK},
        {"options", "frozen<map<text, text>>"}}},
      {"system_distributed",
       "repair_history",
       {{"keyspace_name", "text", PK},
        {"columnfamily_name", "text", PK},
        {"id", "timeuuid", CK},
        {"coordinator", "inet"},
        {"exception_message", "text"},
        {"finished_at", "timestamp"},
        {"range_begin", "text"},
        {"range_end", "text"},
        {"started_at", "timestamp"},
        {"status", "text"}}},
  };
  return specs;
}

std::string kind_name(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::PartitionKey:
      return "partition_key";
    case ColumnKind::Clustering:
      return "clustering";
    case ColumnKind::Static:
      return "static";
    case ColumnKind::Regular:
      break;
  }
  return "regular";
}

}  // namespace

Uuid peer_host_id(std::string_view address) { return name_uuid("zdm-node-peer", address); }

int64_t peer_token(std::string_view address) {
  const Uuid u = name_uuid("zdm-node-token", address);
  uint64_t t = 0;
  for (size_t i = 0; i < 8; ++i) t = (t << 8) | u[i];
  const auto token = static_cast<int64_t>(t);
  return token == INT64_MIN ? 0 : token;
}

bool is_system_keyspace(std::string_view ks) {
  return ks == "system" || ks == "system_schema" || ks == "system_auth" ||
         ks == "system_distributed" || ks == "system_traces" || ks == "system_virtual_schema" ||
         ks == "system_views";
}

std::string schema_type_text(const DataType& type, bool frozen) {
  std::string inner;
  switch (type.id) {
    case TypeId::List:
      inner = fmt::format("list<{}>", schema_type_text(type.params.at(0), true));
      break;
    case TypeId::Set:
      inner = fmt::format("set<{}>", schema_type_text(type.params.at(0), true));
      break;
    case TypeId::Map:
      inner = fmt::format("map<{}, {}>", schema_type_text(type.params.at(0), true),
                          schema_type_text(type.params.at(1), true));
      break;
    case TypeId::Tuple: {
      inner = "tuple<";
      for (size_t i = 0; i < type.params.size(); ++i) {
        if (i > 0) inner += ", ";
        inner += schema_type_text(type.params[i], true);
      }
      inner += ">";
      return fmt::format("frozen<{}>", inner);  // tuples are always frozen
    }
    case TypeId::Udt:
      inner = type.udt_name;
      break;
    default:
      return protocol::format_cql_type(type);
  }
  return frozen ? fmt::format("frozen<{}>", inner) : inner;
}

std::string schema_type_text(const ColumnSchema& column) {
  return schema_type_text(column.type, !column.is_multi_cell());
}

SystemTables::SystemTables(StorageEngine& engine, const NodeIdentity& identity)
    : engine_(engine), identity_(identity) {}

int64_t SystemTables::next_timestamp() {
  // Strictly increasing (by 2: a deletion at t and the rewrite at t + 1), so a refresh always
  // supersedes the previous one even within one microsecond.
  int64_t now = engine_.clock()();
  int64_t last = last_timestamp_.load();
  int64_t next = 0;
  do {
    next = std::max(now, last + 2);
  } while (!last_timestamp_.compare_exchange_weak(last, next));
  return next;
}

Result<void> SystemTables::install() {
  if (identity_.cassandra_version == CassandraVersion::V2_2) return install_v22();
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> keyspaces = {
      {"system", {{"class", "org.apache.cassandra.locator.LocalStrategy"}}},
      {"system_schema", {{"class", "org.apache.cassandra.locator.LocalStrategy"}}},
  };
  if (auto ok = create_keyspaces(engine_, keyspaces); !ok) return ok;
  if (auto ok = create_keyspaces(engine_, shared_keyspaces()); !ok) return ok;
  if (auto ok = create_tables(engine_, table_specs()); !ok) return ok;
  if (auto ok = create_tables(engine_, shared_table_specs()); !ok) return ok;
  if (auto ok = write_local(); !ok) return ok;
  if (auto ok = write_peers(); !ok) return ok;
  for (const auto& ks : engine_.catalog().keyspaces()) {
    if (auto ok = refresh_keyspace(ks.name); !ok) return ok;
  }
  return {};
}

Result<void> SystemTables::write_local() {
  auto table = engine_.table(std::string(kSystem), "local");
  if (!table) return fail(Errc::InvalidArgument, "system.local is missing");
  const auto schema = table->schema();
  std::vector<std::string> tokens;
  for (int64_t t : identity_.tokens) tokens.push_back(std::to_string(t));
  const auto now_seconds = engine_.clock()() / 1'000'000;
  Mutation m;
  add_row(*schema, m,
          {{"key", text("local")},
           {"bootstrapped", text("COMPLETED")},
           {"broadcast_address", inet(identity_.listen_address)},
           {"broadcast_port", int32(7000)},
           {"cluster_name", text(identity_.cluster_name)},
           {"cql_version", text(identity_.cql_version)},
           {"data_center", text(identity_.datacenter)},
           {"gossip_generation", int32(static_cast<int32_t>(now_seconds))},
           {"host_id", uuid(identity_.host_id)},
           {"listen_address", inet(identity_.listen_address)},
           {"listen_port", int32(7000)},
           {"native_protocol_version", text("5")},
           {"partitioner", text(identity_.partitioner)},
           {"rack", text(identity_.rack)},
           {"release_version", text(identity_.release_version)},
           {"rpc_address", inet(identity_.listen_address)},
           {"rpc_port", int32(identity_.native_port)},
           {"schema_version", uuid(engine_.catalog().schema_version())},
           {"tokens", text_list(tokens)}},
          next_timestamp());
  return table->apply(m);
}

Result<void> SystemTables::write_peers() {
  if (identity_.peers.empty()) return {};
  auto peers = engine_.table(std::string(kSystem), "peers");
  auto peers_v2 = engine_.table(std::string(kSystem), "peers_v2");
  if (!peers || !peers_v2) return fail(Errc::InvalidArgument, "system.peers is missing");
  const int64_t ts = next_timestamp();
  for (const auto& address : identity_.peers) {
    const std::vector<std::string> tokens = {std::to_string(peer_token(address))};
    // schema_version stays null: these nodes do not share schema, and drivers skip peers without
    // one when they wait for schema agreement.
    Mutation m;
    add_row(*peers->schema(), m,
            {{"peer", inet(address)},
             {"data_center", text(identity_.datacenter)},
             {"host_id", uuid(peer_host_id(address))},
             {"rack", text(identity_.rack)},
             {"release_version", text(identity_.release_version)},
             {"rpc_address", inet(address)},
             {"tokens", text_list(tokens)}},
            ts);
    if (auto ok = peers->apply(m); !ok) return ok;
    Mutation m2;
    add_row(*peers_v2->schema(), m2,
            {{"peer", inet(address)},
             {"peer_port", int32(7000)},
             {"data_center", text(identity_.datacenter)},
             {"host_id", uuid(peer_host_id(address))},
             {"native_address", inet(address)},
             {"native_port", int32(identity_.native_port)},
             {"rack", text(identity_.rack)},
             {"release_version", text(identity_.release_version)},
             {"tokens", text_list(tokens)}},
            ts);
    if (auto ok = peers_v2->apply(m2); !ok) return ok;
  }
  return {};
}

Result<void> SystemTables::write_schema_version() {
  auto table = engine_.table(std::string(kSystem), "local");
  if (!table) return fail(Errc::InvalidArgument, "system.local is missing");
  const auto schema = table->schema();
  Mutation m;
  m.partition_key = text("local");
  RowWrite row;
  row.ops.push_back(ColumnOp::set(schema->find_column("schema_version")->id,
                                  uuid(engine_.catalog().schema_version()), next_timestamp()));
  m.rows.push_back(std::move(row));
  return table->apply(m);
}

Result<void> SystemTables::refresh_keyspace(const std::string& keyspace) {
  if (identity_.cassandra_version == CassandraVersion::V2_2) return refresh_keyspace_v22(keyspace);
  const std::string schema_ks(kSchema);
  const int64_t ts = next_timestamp();
  const auto ks = engine_.catalog().find_keyspace(keyspace);
  const auto tables =
      ks ? engine_.catalog().tables(keyspace) : decltype(engine_.catalog().tables(keyspace)){};
  const auto types = ks ? engine_.catalog().types(keyspace) : std::vector<UserTypeSchema>{};

  for (const char* name : {"keyspaces", "tables", "columns", "dropped_columns", "types",
                           "functions", "aggregates", "views", "indexes", "triggers"}) {
    auto table = engine_.table(schema_ks, name);
    if (!table)
      return fail(Errc::InvalidArgument, fmt::format("system_schema.{} is missing", name));
    const auto schema = table->schema();
    Mutation m;
    m.partition_key = text(keyspace);
    m.partition_deletion = ts - 1;
    const std::string_view n = name;
    if (ks && n == "keyspaces") {
      std::vector<std::pair<std::string, std::string>> replication(ks->replication.begin(),
                                                                   ks->replication.end());
      add_row(*schema, m,
              {{"keyspace_name", text(keyspace)},
               {"durable_writes", boolean(ks->durable_writes)},
               {"replication", text_map(replication)}},
              ts);
    } else if (ks && n == "tables") {
      for (const auto& t : tables) {
        add_row(*schema, m,
                {{"keyspace_name", text(keyspace)},
                 {"table_name", text(t->table)},
                 {"additional_write_policy", text("99p")},
                 {"bloom_filter_fp_chance", float64(0.01)},
                 {"caching", text_map({{"keys", "ALL"}, {"rows_per_partition", "NONE"}})},
                 {"cdc", boolean(false)},
                 {"comment", text("")},
                 {"compaction",
                  text_map(
                      {{"class", "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy"},
                       {"max_threshold", "32"},
                       {"min_threshold", "4"}})},
                 {"compression",
                  text_map({{"chunk_length_in_kb", "16"},
                            {"class", "org.apache.cassandra.io.compress.LZ4Compressor"}})},
                 {"crc_check_chance", float64(1.0)},
                 {"default_time_to_live", int32(t->default_ttl)},
                 {"extensions", text_map({})},
                 {"flags", text_list({"compound"})},
                 {"gc_grace_seconds", int32(864000)},
                 {"id", uuid(name_uuid(keyspace, t->table))},
                 {"max_index_interval", int32(2048)},
                 {"memtable_flush_period_in_ms", int32(0)},
                 {"min_index_interval", int32(128)},
                 {"read_repair", text("BLOCKING")},
                 {"speculative_retry", text("99p")}},
                ts);
      }
    } else if (ks && n == "columns") {
      for (const auto& t : tables) {
        for (const auto& c : t->columns) {
          const bool key = c.is_primary_key();
          std::string order = "none";
          if (c.kind == ColumnKind::Clustering) {
            order = c.order == ClusteringOrder::Desc ? "desc" : "asc";
          }
          add_row(*schema, m,
                  {{"keyspace_name", text(keyspace)},
                   {"table_name", text(t->table)},
                   {"column_name", text(c.name)},
                   {"clustering_order", text(order)},
                   {"column_name_bytes", text(c.name)},
                   {"kind", text(kind_name(c.kind))},
                   {"position", int32(key ? static_cast<int32_t>(c.position) : -1)},
                   {"type", text(schema_type_text(c))}},
                  ts);
        }
      }
    } else if (ks && n == "types") {
      for (const auto& u : types) {
        std::vector<std::string> field_types;
        for (const auto& f : u.field_types) field_types.push_back(schema_type_text(f, true));
        // A field's own type is not frozen unless it is a collection or UDT nested in the type;
        // Cassandra writes e.g. "int", "frozen<list<int>>".
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
