#include "migrate/schema.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client/session.hpp"
#include "migrate/cql_values.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/row_reader.hpp"

namespace zdm::migrate {

using protocol::RowReader;

using protocol::DataType;
using protocol::TypeId;

namespace {

bool is_multi_cell_capable(const DataType& type) {
  return type.is_collection() || type.id == TypeId::Udt;
}

}  // namespace

std::string quote_identifier(const std::string& name) {
  bool bare = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) bare = false;
  }
  if (bare) return name;
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Column::cql_type() const {
  std::string text = protocol::format_cql_type(type);
  if (!multi_cell && is_multi_cell_capable(type)) return "frozen<" + text + ">";
  return text;
}

std::string Table::qualified() const {
  return quote_identifier(keyspace) + "." + quote_identifier(name);
}

const Column* Table::find(const std::string& column) const {
  for (const auto& c : columns) {
    if (c.name == column) return &c;
  }
  return nullptr;
}

bool Table::is_counter_table() const {
  return std::any_of(columns.begin(), columns.end(),
                     [](const Column& c) { return c.is_counter(); });
}

bool Table::has_static() const {
  return std::any_of(columns.begin(), columns.end(),
                     [](const Column& c) { return c.kind == ColumnKind::Static; });
}

const Keyspace* Schema::keyspace(const std::string& name) const {
  for (const auto& k : keyspaces) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const Table* Schema::table(const std::string& ks, const std::string& name) const {
  for (const auto& t : tables) {
    if (t.keyspace == ks && t.name == name) return &t;
  }
  return nullptr;
}

const UserType* Schema::type(const std::string& ks, const std::string& name) const {
  for (const auto& t : types) {
    if (t.keyspace == ks && t.name == name) return &t;
  }
  return nullptr;
}

int Schema::major_version() const {
  int major = 0;
  for (char c : release_version) {
    if (c < '0' || c > '9') break;
    major = major * 10 + (c - '0');
  }
  return major;
}

bool Schema::writetime_readable(const Column& column) const {
  if (column.is_key() || column.is_counter()) return false;
  const int major = major_version();
  if (column.multi_cell) return major >= 5;
  if (column.type.is_collection()) return major == 0 || major >= 3;
  return true;
}

bool is_system_keyspace(const std::string& name) {
  static const std::set<std::string> kNames = {"system",
                                               "system_schema",
                                               "system_auth",
                                               "system_distributed",
                                               "system_traces",
                                               "system_views",
                                               "system_virtual_schema",
                                               "zdm_migration",
                                               "solr_admin",
                                               "OpsCenter",
                                               "dse_system",
                                               "dse_system_local",
                                               "dse_security",
                                               "dse_auth",
                                               "dse_leases",
                                               "dse_perf",
                                               "dse_insights",
                                               "dse_insights_local",
                                               "dse_analytics",
                                               "datastax_sla",
                                               "cfs",
                                               "cfs_archive",
                                               "HiveMetaStore",
                                               "system_backups"};
  return kNames.count(name) > 0;
}

namespace {

namespace asio = boost::asio;
using SessionPtr = std::shared_ptr<client::Session>;

asio::awaitable<Result<protocol::RowsResult>> select_rows(SessionPtr session, std::string cql) {
  auto r = co_await session->fetch_all(client::Statement::simple(cql), 1'000'000);
  if (!r) co_return fail(Errc::Io, fmt::format("{} failed: {}", cql, r.error().to_string()));
  co_return std::move(*r);
}

std::string keyspace_filter(const std::vector<std::string>& keyspaces) {
  if (keyspaces.empty()) return "";
  std::string out = " WHERE keyspace_name IN (";
  for (size_t i = 0; i < keyspaces.size(); ++i) {
    if (i) out += ", ";
    out += quote_literal(keyspaces[i]);
  }
  return out + ")";
}

bool wanted(const std::vector<std::string>& keyspaces, const std::string& name) {
  if (keyspaces.empty()) return !is_system_keyspace(name);
  return std::find(keyspaces.begin(), keyspaces.end(), name) != keyspaces.end();
}

// User types may refer to each other; resolve by name within a keyspace, parsing lazily.
struct TypeTexts {
  std::string keyspace;
  std::string name;
  std::vector<std::string> field_names;
  std::vector<std::string> field_types;  // CQL text (system_schema) or marshal classes (2.x)
};

Result<std::vector<UserType>> resolve_cql_types(const std::vector<TypeTexts>& texts) {
  std::vector<UserType> out;
  std::set<std::pair<std::string, std::string>> in_progress;
  std::function<std::optional<DataType>(std::string_view, std::string_view)> resolver;
  std::function<Result<DataType>(const TypeTexts&)> build =
      [&](const TypeTexts& t) -> Result<DataType> {
    DataType udt;
    udt.id = TypeId::Udt;
    udt.udt_keyspace = t.keyspace;
    udt.udt_name = t.name;
    udt.field_names = t.field_names;
    if (!in_progress.insert({t.keyspace, t.name}).second) {
      return fail(Errc::Malformed,
                  fmt::format("user type {}.{} refers to itself", t.keyspace, t.name));
    }
    for (const auto& ft : t.field_types) {
      auto parsed = protocol::parse_cql_type(ft, [&](std::string_view ks, std::string_view n) {
        return resolver(ks.empty() ? std::string_view(t.keyspace) : ks, n);
      });
      if (!parsed) {
        return fail(Errc::Malformed, fmt::format("user type {}.{}: field type '{}': {}", t.keyspace,
                                                 t.name, ft, parsed.error().message));
      }
      udt.params.push_back(std::move(*parsed));
    }
    in_progress.erase({t.keyspace, t.name});
    return udt;
  };
  resolver = [&](std::string_view ks, std::string_view name) -> std::optional<DataType> {
    for (const auto& t : texts) {
      if (t.keyspace == ks && t.name == name) {
        auto built = build(t);
        if (built) return *built;
        return std::nullopt;
      }
    }
    return std::nullopt;
  };
  for (const auto& t : texts) {
    auto built = build(t);
    if (!built) return tl::unexpected(built.error());
    out.push_back(UserType{t.keyspace, t.name, t.field_names, built->params});
  }
  return out;
}

std::optional<DataType> find_udt(const std::vector<UserType>& types, std::string_view ks,
                                 std::string_view name) {
  for (const auto& t : types) {
    if (t.keyspace == ks && t.name == name) {
      DataType d;
      d.id = TypeId::Udt;
      d.udt_keyspace = t.keyspace;
      d.udt_name = t.name;
      d.field_names = t.field_names;
      d.params = t.field_types;
      return d;
    }
  }
  return std::nullopt;
}

void order_columns(Table& table) {
  auto rank = [](ColumnKind k) {
    switch (k) {
      case ColumnKind::PartitionKey:
        return 0;
      case ColumnKind::Clustering:
        return 1;
      case ColumnKind::Static:
        return 2;
      case ColumnKind::Regular:
        return 2;
    }
    return 3;
  };
  std::sort(table.columns.begin(), table.columns.end(), [&](const Column& a, const Column& b) {
    if (rank(a.kind) != rank(b.kind)) return rank(a.kind) < rank(b.kind);
    if (rank(a.kind) < 2) return a.position < b.position;
    return a.name < b.name;
  });
  table.partition_key_count = static_cast<size_t>(
      std::count_if(table.columns.begin(), table.columns.end(),
                    [](const Column& c) { return c.kind == ColumnKind::PartitionKey; }));
  table.clustering_count = static_cast<size_t>(
      std::count_if(table.columns.begin(), table.columns.end(),
                    [](const Column& c) { return c.kind == ColumnKind::Clustering; }));
}

Table& table_for(std::vector<Table>& tables, const std::string& ks, const std::string& name) {
  for (auto& t : tables) {
    if (t.keyspace == ks && t.name == name) return t;
  }
  tables.push_back(Table{ks, name, {}, 0, 0});
  return tables.back();
}

asio::awaitable<Result<void>> read_modern(SessionPtr session, std::vector<std::string> keyspaces,
                                          Schema& schema) {
  const std::string filter = keyspace_filter(keyspaces);
  auto ks_rows = co_await select_rows(
      session,
      "SELECT keyspace_name, durable_writes, replication FROM system_schema.keyspaces" + filter);
  if (!ks_rows) co_return tl::unexpected(ks_rows.error());
  for (const auto& row : ks_rows->rows) {
    RowReader r(ks_rows->metadata, row);
    auto name = r.text("keyspace_name").value_or("");
    if (!wanted(keyspaces, name)) continue;
    schema.keyspaces.push_back(
        Keyspace{name, r.text_map("replication"), r.boolean("durable_writes").value_or(true)});
  }
  auto type_rows = co_await select_rows(
      session,
      "SELECT keyspace_name, type_name, field_names, field_types FROM system_schema.types" +
          filter);
  if (!type_rows) co_return tl::unexpected(type_rows.error());
  std::vector<TypeTexts> texts;
  for (const auto& row : type_rows->rows) {
    RowReader r(type_rows->metadata, row);
    TypeTexts t{r.text("keyspace_name").value_or(""), r.text("type_name").value_or(""),
                r.text_list("field_names"), r.text_list("field_types")};
    if (wanted(keyspaces, t.keyspace)) texts.push_back(std::move(t));
  }
  auto types = resolve_cql_types(texts);
  if (!types) co_return tl::unexpected(types.error());
  schema.types = std::move(*types);

  auto col_rows = co_await select_rows(
      session,
      "SELECT keyspace_name, table_name, column_name, clustering_order, kind, position, type "
      "FROM system_schema.columns" +
          filter);
  if (!col_rows) co_return tl::unexpected(col_rows.error());
  for (const auto& row : col_rows->rows) {
    RowReader r(col_rows->metadata, row);
    auto ks = r.text("keyspace_name").value_or("");
    if (!wanted(keyspaces, ks)) continue;
    auto type_text = r.text("type").value_or("");
    auto type = protocol::parse_cql_type(type_text, [&](std::string_view k, std::string_view n) {
      return find_udt(schema.types, k.empty() ? std::string_view(ks) : k, n);
    });
    auto table_name = r.text("table_name").value_or("");
    auto column_name = r.text("column_name").value_or("");
    if (!type) {
      co_return fail(Errc::Malformed, fmt::format("{}.{} column {}: type '{}': {}", ks, table_name,
                                                  column_name, type_text, type.error().message));
    }
    Column c;
    c.name = column_name;
    c.type = std::move(*type);
    auto kind = r.text("kind").value_or("regular");
    c.kind = kind == "partition_key" ? ColumnKind::PartitionKey
             : kind == "clustering"  ? ColumnKind::Clustering
             : kind == "static"      ? ColumnKind::Static
                                     : ColumnKind::Regular;
    c.position = r.int32("position").value_or(0);
    c.descending = r.text("clustering_order").value_or("") == "desc";
    c.multi_cell = is_multi_cell_capable(c.type) && type_text.rfind("frozen<", 0) != 0;
    table_for(schema.tables, ks, table_name).columns.push_back(std::move(c));
  }
  co_return Result<void>{};
}

// Cassandra 2.x: strategy options as JSON text, validators as marshal class names.
asio::awaitable<Result<void>> read_legacy(SessionPtr session, std::vector<std::string> keyspaces,
                                          Schema& schema) {
  const std::string filter = keyspace_filter(keyspaces);
  auto ks_rows = co_await select_rows(
      session,
      "SELECT keyspace_name, durable_writes, strategy_class, strategy_options FROM "
      "system.schema_keyspaces" +
          filter);
  if (!ks_rows) co_return tl::unexpected(ks_rows.error());
  for (const auto& row : ks_rows->rows) {
    RowReader r(ks_rows->metadata, row);
    auto name = r.text("keyspace_name").value_or("");
    if (!wanted(keyspaces, name)) continue;
    Keyspace k{name, {}, r.boolean("durable_writes").value_or(true)};
    k.replication["class"] = r.text("strategy_class").value_or("SimpleStrategy");
    auto options = nlohmann::json::parse(r.text("strategy_options").value_or("{}"), nullptr, false);
    if (options.is_object()) {
      for (const auto& [key, value] : options.items()) {
        k.replication[key] = value.is_string() ? value.get<std::string>() : value.dump();
      }
    }
    schema.keyspaces.push_back(std::move(k));
  }
  auto type_rows = co_await select_rows(
      session,
      "SELECT keyspace_name, type_name, field_names, field_types FROM system.schema_usertypes" +
          filter);
  if (!type_rows) co_return tl::unexpected(type_rows.error());
  for (const auto& row : type_rows->rows) {
    RowReader r(type_rows->metadata, row);
    UserType t{r.text("keyspace_name").value_or(""),
               r.text("type_name").value_or(""),
               r.text_list("field_names"),
               {}};
    if (!wanted(keyspaces, t.keyspace)) continue;
    for (const auto& cls : r.text_list("field_types")) {
      auto parsed = protocol::parse_marshal_class(cls);
      if (!parsed) {
        co_return fail(Errc::Malformed, fmt::format("user type {}.{}: '{}': {}", t.keyspace, t.name,
                                                    cls, parsed.error().message));
      }
      t.field_types.push_back(std::move(*parsed));
    }
    schema.types.push_back(std::move(t));
  }
  auto col_rows = co_await select_rows(
      session,
      "SELECT keyspace_name, columnfamily_name, column_name, component_index, type, validator "
      "FROM system.schema_columns" +
          filter);
  if (!col_rows) co_return tl::unexpected(col_rows.error());
  for (const auto& row : col_rows->rows) {
    RowReader r(col_rows->metadata, row);
    auto ks = r.text("keyspace_name").value_or("");
    if (!wanted(keyspaces, ks)) continue;
    auto validator = r.text("validator").value_or("");
    auto table_name = r.text("columnfamily_name").value_or("");
    auto column_name = r.text("column_name").value_or("");
    auto type = protocol::parse_marshal_class(validator);
    if (!type) {
      co_return fail(Errc::Malformed,
                     fmt::format("{}.{} column {}: validator '{}': {}", ks, table_name, column_name,
                                 validator, type.error().message));
    }
    std::string_view bare = validator;
    if (bare.rfind(protocol::kMarshalPrefix, 0) == 0)
      bare.remove_prefix(protocol::kMarshalPrefix.size());
    Column c;
    c.name = column_name;
    c.type = std::move(*type);
    auto kind = r.text("type").value_or("regular");
    c.kind = kind == "partition_key"    ? ColumnKind::PartitionKey
             : kind == "clustering_key" ? ColumnKind::Clustering
             : kind == "static"         ? ColumnKind::Static
                                        : ColumnKind::Regular;
    c.position = r.int32("component_index").value_or(0);
    c.descending = bare.rfind("ReversedType(", 0) == 0;
    c.multi_cell = c.type.is_collection() && bare.rfind("FrozenType(", 0) != 0 &&
                   bare.rfind("ReversedType(", 0) != 0;
    table_for(schema.tables, ks, table_name).columns.push_back(std::move(c));
  }
  co_return Result<void>{};
}

}  // namespace

asio::awaitable<Result<Schema>> read_schema(SessionPtr session,
                                            std::vector<std::string> keyspaces) {
  Schema schema;
  auto local = co_await session->query("SELECT release_version, partitioner FROM system.local");
  if (!local) {
    co_return fail(Errc::Io, "reading system.local failed: " + local.error().to_string());
  }
  if (auto* rows = local->rows(); rows && !rows->rows.empty()) {
    RowReader r(rows->metadata, rows->rows.front());
    schema.release_version = r.text("release_version").value_or("");
    schema.partitioner = r.text("partitioner").value_or("");
  }
  auto probe = co_await session->query("SELECT keyspace_name FROM system_schema.keyspaces LIMIT 1");
  if (!probe && probe.error().kind == client::ClientErrc::Server &&
      probe.error().server_code == protocol::ErrorCode::Invalid) {
    schema.source = SchemaSource::Legacy;
  } else if (!probe) {
    co_return fail(Errc::Io,
                   "reading system_schema.keyspaces failed: " + probe.error().to_string());
  }
  Result<void> read;
  if (schema.source == SchemaSource::Legacy) {
    read = co_await read_legacy(session, keyspaces, schema);
  } else {
    read = co_await read_modern(session, keyspaces, schema);
  }
  if (!read) co_return tl::unexpected(read.error());
  for (auto& t : schema.tables) order_columns(t);
  std::sort(schema.tables.begin(), schema.tables.end(), [](const Table& a, const Table& b) {
    return std::tie(a.keyspace, a.name) < std::tie(b.keyspace, b.name);
  });
  co_return schema;
}

std::vector<SchemaProblem> compare_schemas(const std::vector<const Table*>& origin_tables,
                                           const Schema& target) {
  std::vector<SchemaProblem> problems;
  for (const Table* o : origin_tables) {
    auto add = [&](std::string message) {
      problems.push_back(SchemaProblem{o->keyspace, o->name, std::move(message)});
    };
    if (!target.keyspace(o->keyspace)) {
      add(fmt::format("keyspace '{}' does not exist on target (--create-schema creates it)",
                      o->keyspace));
      continue;
    }
    const Table* t = target.table(o->keyspace, o->name);
    if (!t) {
      add(fmt::format("table {} does not exist on target (--create-schema creates it)", o->id()));
      continue;
    }
    for (const auto& oc : o->columns) {
      const Column* tc = t->find(oc.name);
      if (!tc) {
        add(fmt::format("column '{}' ({}) does not exist on target", oc.name, oc.cql_type()));
        continue;
      }
      if (oc.cql_type() != tc->cql_type()) {
        add(fmt::format("column '{}' is {} on origin but {} on target", oc.name, oc.cql_type(),
                        tc->cql_type()));
      }
    }
    auto key_text = [](const Table& table) {
      std::string pk, ck;
      for (const auto& c : table.columns) {
        if (c.kind == ColumnKind::PartitionKey) pk += (pk.empty() ? "" : ", ") + c.name;
        if (c.kind == ColumnKind::Clustering) {
          ck += ", " + c.name + (c.descending ? " DESC" : "");
        }
      }
      return "((" + pk + ")" + ck + ")";
    };
    auto kinds = [](const Table& table) {
      std::string s;
      for (const auto& c : table.columns) {
        if (c.kind == ColumnKind::Static) s += c.name + " static;";
      }
      return s;
    };
    if (key_text(*o) != key_text(*t)) {
      add(fmt::format("primary key is {} on origin but {} on target", key_text(*o), key_text(*t)));
    } else if (kinds(*o) != kinds(*t)) {
      add("static columns differ between origin and target");
    }
  }
  return problems;
}

namespace {

void collect_udts(const DataType& type, std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& p : type.params) collect_udts(p, out);
  if (type.id == TypeId::Udt) {
    std::pair<std::string, std::string> key{type.udt_keyspace, type.udt_name};
    if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(key);
  }
}

std::string create_keyspace(const Keyspace& k) {
  std::string rep;
  for (const auto& [key, value] : k.replication) {
    rep += (rep.empty() ? "" : ", ") + quote_literal(key) + ": " + quote_literal(value);
  }
  return fmt::format(
      "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{{}}} AND durable_writes = {}",
      quote_identifier(k.name), rep, k.durable_writes ? "true" : "false");
}

std::string field_type_text(const DataType& type) {
  std::string text = protocol::format_cql_type(type);
  if (is_multi_cell_capable(type)) return "frozen<" + text + ">";
  return text;
}

std::string create_type(const UserType& t) {
  std::string fields;
  for (size_t i = 0; i < t.field_names.size() && i < t.field_types.size(); ++i) {
    fields += (i ? ", " : "") + quote_identifier(t.field_names[i]) + " " +
              field_type_text(t.field_types[i]);
  }
  return fmt::format("CREATE TYPE IF NOT EXISTS {}.{} ({})", quote_identifier(t.keyspace),
                     quote_identifier(t.name), fields);
}

std::string create_table(const Table& t) {
  std::string cols, pk, ck, order;
  for (const auto& c : t.columns) {
    cols += quote_identifier(c.name) + " " + c.cql_type() +
            (c.kind == ColumnKind::Static ? " static" : "") + ", ";
    if (c.kind == ColumnKind::PartitionKey)
      pk += (pk.empty() ? "" : ", ") + quote_identifier(c.name);
    if (c.kind == ColumnKind::Clustering) {
      ck += ", " + quote_identifier(c.name);
      order += (order.empty() ? "" : ", ") + quote_identifier(c.name) +
               (c.descending ? " DESC" : " ASC");
    }
  }
  std::string text = fmt::format("CREATE TABLE IF NOT EXISTS {} ({}PRIMARY KEY (({}){}))",
                                 t.qualified(), cols, pk, ck);
  if (!order.empty()) text += " WITH CLUSTERING ORDER BY (" + order + ")";
  return text;
}

}  // namespace

std::vector<std::string> schema_creation_statements(const Schema& origin,
                                                    const std::vector<const Table*>& tables,
                                                    const Schema& target) {
  std::vector<std::string> out;
  std::set<std::string> keyspaces_done;
  for (const Table* t : tables) {
    if (target.keyspace(t->keyspace) || keyspaces_done.count(t->keyspace)) continue;
    if (const Keyspace* k = origin.keyspace(t->keyspace)) out.push_back(create_keyspace(*k));
    keyspaces_done.insert(t->keyspace);
  }
  // Types used by the tables, dependencies first (collect_udts lists inner types first).
  std::vector<std::pair<std::string, std::string>> needed;
  for (const Table* t : tables) {
    if (target.table(t->keyspace, t->name)) continue;
    for (const auto& c : t->columns) collect_udts(c.type, needed);
  }
  for (const auto& [ks, name] : needed) {
    if (target.type(ks, name)) continue;
    if (const UserType* u = origin.type(ks, name)) out.push_back(create_type(*u));
  }
  for (const Table* t : tables) {
    if (!target.table(t->keyspace, t->name)) out.push_back(create_table(*t));
  }
  return out;
}

}  // namespace zdm::migrate
