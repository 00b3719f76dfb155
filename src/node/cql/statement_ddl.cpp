// Schema statements (keyspaces, tables, types), TRUNCATE and USE.

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "node/cql/executor.hpp"
#include "protocol/cql_type.hpp"

namespace zdm::node::exec {

using protocol::SchemaChange;
using protocol::SchemaChangeTarget;
using protocol::SchemaChangeType;
using protocol::TypeId;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

tl::unexpected<CqlError> already_exists(std::string keyspace, std::string table,
                                        std::string message) {
  CqlError e{ErrorCode::AlreadyExists, std::move(message), {}};
  e.detail = protocol::AlreadyExistsInfo{std::move(keyspace), std::move(table)};
  return tl::unexpected(std::move(e));
}

protocol::UdtResolver resolver_for(StorageEngine& engine, const std::string& keyspace) {
  return [&engine, keyspace](std::string_view ks,
                             std::string_view name) -> std::optional<DataType> {
    auto t = engine.catalog().find_type(ks.empty() ? keyspace : std::string(ks), std::string(name));
    if (!t) return std::nullopt;
    DataType d;
    d.id = TypeId::Udt;
    d.udt_keyspace = t->keyspace;
    d.udt_name = t->name;
    d.field_names = t->field_names;
    d.params = t->field_types;
    return d;
  };
}

CqlResult<ColumnDefinition> column_definition(StorageEngine& engine, const std::string& keyspace,
                                              const cql::ColumnDecl& decl) {
  DataType type;
  if (decl.type) {
    type = *decl.type;
  } else {
    auto t = protocol::parse_cql_type(decl.type_text, resolver_for(engine, keyspace));
    if (!t) return invalid(fmt::format("Unknown type {}", decl.type_text));
    type = std::move(*t);
  }
  ColumnDefinition def;
  def.name = decl.name;
  def.type = std::move(type);
  const bool frozen = lower(decl.type_text).rfind("frozen", 0) == 0;
  def.layout = def.type.is_collection() && !frozen ? CellLayout::MultiCell : CellLayout::Frozen;
  def.kind = decl.is_static ? ColumnKind::Static : ColumnKind::Regular;
  return def;
}

CqlResult<std::map<std::string, std::string>> replication_of(
    const std::vector<cql::Property>& props, bool required) {
  std::map<std::string, std::string> out;
  bool found = false;
  for (const auto& p : props) {
    if (p.name != "replication") continue;
    found = true;
    for (const auto& e : p.map) out[e.key.text] = e.value.text;
  }
  if (!found) {
    if (required) return invalid("Missing mandatory option 'replication'");
    return out;
  }
  auto it = out.find("class");
  if (it == out.end()) return invalid("Missing replication strategy class");
  std::string cls = it->second;
  if (cls.find('.') == std::string::npos) cls = "org.apache.cassandra.locator." + cls;
  if (cls != "org.apache.cassandra.locator.SimpleStrategy" &&
      cls != "org.apache.cassandra.locator.NetworkTopologyStrategy" &&
      cls != "org.apache.cassandra.locator.LocalStrategy" &&
      cls != "org.apache.cassandra.locator.EverywhereStrategy") {
    return cql_error(ErrorCode::ConfigError,
                     fmt::format("Unable to find replication strategy class '{}'", it->second));
  }
  it->second = cls;
  if (cls == "org.apache.cassandra.locator.SimpleStrategy" &&
      out.count("replication_factor") == 0) {
    return cql_error(ErrorCode::ConfigError,
                     "SimpleStrategy requires a replication_factor strategy option.");
  }
  return out;
}

class SchemaPlan : public Plan {
 public:
  cql::Statement statement;  // DDL statements are small; executed from the AST
  Services* services = nullptr;

  CqlResult<protocol::ResultBody> changed(SchemaChange change) const {
    services->generation.fetch_add(1);
    if (services->system != nullptr) {
      auto ok = services->system->refresh_keyspace(change.keyspace);
      if (!ok) return server_error(ok.error());
    }
    if (services->notify) services->notify(change);
    return protocol::SchemaChangeResult{std::move(change)};
  }

  CqlResult<protocol::ResultBody> execute(const ExecContext& ctx) const override {
    return std::visit([&](const auto& s) { return run(s, ctx); }, statement.body);
  }

  std::string keyspace_of(const cql::QualifiedName& n, const ExecContext& ctx) const {
    return n.keyspace.empty() ? ctx.session_keyspace : n.keyspace;
  }

  CqlResult<std::string> existing_keyspace(const cql::QualifiedName& n,
                                           const ExecContext& ctx) const {
    std::string ks = keyspace_of(n, ctx);
    if (ks.empty()) {
      return invalid(
          "No keyspace has been specified. USE a keyspace, or explicitly specify "
          "keyspace.tablename");
    }
    if (!services->engine->catalog().find_keyspace(ks)) {
      return invalid(fmt::format("Keyspace {} does not exist", ks));
    }
    return ks;
  }

  template <class T>
  CqlResult<protocol::ResultBody> run(const T&, const ExecContext&) const {
    return invalid("unexpected statement");
  }

  CqlResult<protocol::ResultBody> run(const cql::UseStatement& s, const ExecContext&) const {
    if (!services->engine->catalog().find_keyspace(s.keyspace)) {
      return invalid(fmt::format("Keyspace '{}' does not exist", s.keyspace));
    }
    return protocol::SetKeyspaceResult{s.keyspace};
  }

  CqlResult<protocol::ResultBody> run(const cql::CreateKeyspace& s, const ExecContext&) const {
    auto ok = check_writable(s.keyspace);
    if (!ok) return tl::unexpected(ok.error());
    if (services->engine->catalog().find_keyspace(s.keyspace)) {
      if (s.if_not_exists) return protocol::VoidResult{};
      return already_exists(s.keyspace, "",
                            fmt::format("Cannot add existing keyspace \"{}\"", s.keyspace));
    }
    auto replication = replication_of(s.properties, true);
    if (!replication) return tl::unexpected(replication.error());
    KeyspaceSchema ks{s.keyspace, std::move(*replication), true};
    for (const auto& p : s.properties) {
      if (p.name == "durable_writes") ks.durable_writes = lower(p.value.text) != "false";
    }
    auto created = services->engine->create_keyspace(std::move(ks));
    if (!created) {
      if (s.if_not_exists) return protocol::VoidResult{};
      return already_exists(s.keyspace, "",
                            fmt::format("Cannot add existing keyspace \"{}\"", s.keyspace));
    }
    return changed(
        SchemaChange{SchemaChangeType::Created, SchemaChangeTarget::Keyspace, s.keyspace, {}, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::AlterKeyspace& s, const ExecContext&) const {
    auto ok = check_writable(s.keyspace);
    if (!ok) return tl::unexpected(ok.error());
    auto ks = services->engine->catalog().find_keyspace(s.keyspace);
    if (!ks) {
      if (s.if_exists) return protocol::VoidResult{};
      return invalid(fmt::format("Keyspace {} does not exist", s.keyspace));
    }
    auto replication = replication_of(s.properties, false);
    if (!replication) return tl::unexpected(replication.error());
    if (!replication->empty()) ks->replication = std::move(*replication);
    for (const auto& p : s.properties) {
      if (p.name == "durable_writes") ks->durable_writes = lower(p.value.text) != "false";
    }
    auto altered = services->engine->catalog().alter_keyspace(*ks);
    if (!altered) return server_error(altered.error());
    return changed(
        SchemaChange{SchemaChangeType::Updated, SchemaChangeTarget::Keyspace, s.keyspace, {}, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::DropKeyspace& s, const ExecContext&) const {
    auto ok = check_writable(s.keyspace);
    if (!ok) return tl::unexpected(ok.error());
    if (!services->engine->catalog().find_keyspace(s.keyspace)) {
      if (s.if_exists) return protocol::VoidResult{};
      return invalid(fmt::format("Keyspace {} does not exist", s.keyspace));
    }
    auto dropped = services->engine->drop_keyspace(s.keyspace);
    if (!dropped) {
      if (s.if_exists) return protocol::VoidResult{};
      return invalid(fmt::format("Keyspace {} does not exist", s.keyspace));
    }
    return changed(
        SchemaChange{SchemaChangeType::Dropped, SchemaChangeTarget::Keyspace, s.keyspace, {}, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::CreateTable& s, const ExecContext& ctx) const {
    auto ks = existing_keyspace(s.table, ctx);
    if (!ks) return tl::unexpected(ks.error());
    auto ok = check_writable(*ks);
    if (!ok) return tl::unexpected(ok.error());
    if (services->engine->catalog().find_table(*ks, s.table.name)) {
      if (s.if_not_exists) return protocol::VoidResult{};
      return already_exists(
          *ks, s.table.name,
          fmt::format("Cannot add already existing table \"{}\" to keyspace \"{}\"", s.table.name,
                      *ks));
    }
    if (s.partition_key.empty()) {
      return invalid("No PRIMARY KEY specifed for table (exactly one required)");
    }
    std::vector<ColumnDefinition> defs;
    auto find_decl = [&](const std::string& name) -> const cql::ColumnDecl* {
      for (const auto& d : s.columns) {
        if (d.name == name) return &d;
      }
      return nullptr;
    };
    for (size_t i = 0; i < s.columns.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (s.columns[i].name == s.columns[j].name) {
          return invalid(fmt::format("Multiple definition of identifier {}", s.columns[i].name));
        }
      }
    }
    auto key_def = [&](const std::string& name, ColumnKind kind) -> CqlResult<ColumnDefinition> {
      const cql::ColumnDecl* d = find_decl(name);
      if (d == nullptr)
        return invalid(fmt::format("Unknown definition {} referenced in PRIMARY KEY", name));
      auto def = column_definition(*services->engine, *ks, *d);
      if (!def) return def;
      if (def->layout == CellLayout::MultiCell) {
        return invalid(
            fmt::format("Invalid non-frozen collection type for PRIMARY KEY component {}", name));
      }
      if (def->type.id == TypeId::Counter) {
        return invalid(
            fmt::format("counter type is not supported for PRIMARY KEY column '{}'", name));
      }
      if (d->is_static)
        return invalid(fmt::format("Static column {} cannot be part of the PRIMARY KEY", name));
      def->kind = kind;
      return def;
    };
    for (const auto& name : s.partition_key) {
      auto def = key_def(name, ColumnKind::PartitionKey);
      if (!def) return tl::unexpected(def.error());
      defs.push_back(std::move(*def));
    }
    for (size_t i = 0; i < s.clustering_key.size(); ++i) {
      auto def = key_def(s.clustering_key[i], ColumnKind::Clustering);
      if (!def) return tl::unexpected(def.error());
      defs.push_back(std::move(*def));
    }
    for (size_t i = 0; i < s.clustering_order.size(); ++i) {
      const auto& o = s.clustering_order[i];
      if (i >= s.clustering_key.size() || s.clustering_key[i] != o.column) {
        const bool known = std::find(s.clustering_key.begin(), s.clustering_key.end(), o.column) !=
                           s.clustering_key.end();
        if (!known)
          return invalid(
              fmt::format("Only clustering key columns can be defined in CLUSTERING ORDER "
                          "directive: {} is not a clustering column",
                          o.column));
        return invalid(
            "The order of columns in the CLUSTERING ORDER directive must match that of the "
            "clustering columns");
      }
      defs[s.partition_key.size() + i].order =
          o.descending ? ClusteringOrder::Desc : ClusteringOrder::Asc;
    }
    for (const auto& d : s.columns) {
      const bool is_key = std::find(s.partition_key.begin(), s.partition_key.end(), d.name) !=
                              s.partition_key.end() ||
                          std::find(s.clustering_key.begin(), s.clustering_key.end(), d.name) !=
                              s.clustering_key.end();
      if (is_key) continue;
      auto def = column_definition(*services->engine, *ks, d);
      if (!def) return tl::unexpected(def.error());
      if (def->kind == ColumnKind::Static && s.clustering_key.empty()) {
        return invalid(fmt::format(
            "Static column {} cannot be defined in a table without clustering columns", d.name));
      }
      defs.push_back(std::move(*def));
    }
    int32_t default_ttl = 0;
    for (const auto& p : s.properties) {
      if (p.name == "default_time_to_live") {
        default_ttl = static_cast<int32_t>(std::strtol(p.value.text.c_str(), nullptr, 10));
        if (default_ttl < 0)
          return cql_error(ErrorCode::ConfigError,
                           "default_time_to_live must be greater than or equal to 0");
      }
    }
    auto created = services->engine->create_table(*ks, s.table.name, std::move(defs), default_ttl);
    if (!created) {
      if (services->engine->catalog().find_table(*ks, s.table.name)) {
        if (s.if_not_exists) return protocol::VoidResult{};
        return already_exists(
            *ks, s.table.name,
            fmt::format("Cannot add already existing table \"{}\" to keyspace \"{}\"", s.table.name,
                        *ks));
      }
      return invalid(created.error().message);
    }
    return changed(
        SchemaChange{SchemaChangeType::Created, SchemaChangeTarget::Table, *ks, s.table.name, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::AlterTable& s, const ExecContext& ctx) const {
    auto ks = existing_keyspace(s.table, ctx);
    if (!ks) return tl::unexpected(ks.error());
    auto ok = check_writable(*ks);
    if (!ok) return tl::unexpected(ok.error());
    auto schema = services->engine->catalog().find_table(*ks, s.table.name);
    if (!schema) {
      if (s.if_exists) return protocol::VoidResult{};
      return invalid(fmt::format("Table '{}.{}' doesn't exist", *ks, s.table.name));
    }
    switch (s.kind) {
      case cql::AlterTable::Kind::Add:
        for (const auto& d : s.added) {
          if (schema->find_column(d.name)) {
            if (s.if_column_exists) continue;
            return invalid(fmt::format("Column with name '{}' already exists", d.name));
          }
          auto def = column_definition(*services->engine, *ks, d);
          if (!def) return tl::unexpected(def.error());
          auto added = services->engine->add_column(*ks, s.table.name, std::move(*def));
          if (!added) return invalid(added.error().message);
        }
        break;
      case cql::AlterTable::Kind::Drop:
        for (const auto& name : s.dropped) {
          const ColumnSchema* c = schema->find_column(name);
          if (c == nullptr) {
            if (s.if_column_exists) continue;
            return invalid(fmt::format("Column {} was not found in table {}", name, s.table.name));
          }
          if (c->is_primary_key())
            return invalid(fmt::format("Cannot drop PRIMARY KEY column {}", name));
          auto dropped = services->engine->drop_column(*ks, s.table.name, name);
          if (!dropped) return invalid(dropped.error().message);
        }
        break;
      case cql::AlterTable::Kind::Properties:
        break;  // options are accepted; only default_time_to_live matters and is fixed at CREATE
      case cql::AlterTable::Kind::Rename:
        return invalid("ALTER TABLE RENAME is not supported by zdm node");
      case cql::AlterTable::Kind::AlterType:
        return invalid("Altering column types is no longer supported");
    }
    return changed(
        SchemaChange{SchemaChangeType::Updated, SchemaChangeTarget::Table, *ks, s.table.name, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::DropTable& s, const ExecContext& ctx) const {
    const std::string ks = keyspace_of(s.table, ctx);
    if (ks.empty())
      return invalid(
          "No keyspace has been specified. USE a keyspace, or explicitly specify "
          "keyspace.tablename");
    auto ok = check_writable(ks);
    if (!ok) return tl::unexpected(ok.error());
    if (!services->engine->catalog().find_table(ks, s.table.name)) {
      if (s.if_exists) return protocol::VoidResult{};
      if (!services->engine->catalog().find_keyspace(ks))
        return invalid(fmt::format("Keyspace {} does not exist", ks));
      return invalid(fmt::format("Table '{}.{}' doesn't exist", ks, s.table.name));
    }
    auto dropped = services->engine->drop_table(ks, s.table.name);
    if (!dropped) {
      if (s.if_exists) return protocol::VoidResult{};
      return invalid(dropped.error().message);
    }
    return changed(
        SchemaChange{SchemaChangeType::Dropped, SchemaChangeTarget::Table, ks, s.table.name, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::Truncate& s, const ExecContext& ctx) const {
    auto ref = resolve_table(*services, s.table, ctx.session_keyspace);
    if (!ref) return tl::unexpected(ref.error());
    auto ok = check_writable(ref->schema->keyspace);
    if (!ok) return tl::unexpected(ok.error());
    ref->table->truncate();
    return protocol::VoidResult{};
  }

  CqlResult<protocol::ResultBody> run(const cql::CreateType& s, const ExecContext& ctx) const {
    auto ks = existing_keyspace(s.type, ctx);
    if (!ks) return tl::unexpected(ks.error());
    auto ok = check_writable(*ks);
    if (!ok) return tl::unexpected(ok.error());
    if (services->engine->catalog().find_type(*ks, s.type.name)) {
      if (s.if_not_exists) return protocol::VoidResult{};
      return already_exists(*ks, s.type.name,
                            fmt::format("A user type with name '{}' already exists", s.type.name));
    }
    UserTypeSchema t{*ks, s.type.name, {}, {}};
    for (const auto& f : s.fields) {
      auto def = column_definition(*services->engine, *ks, f);
      if (!def) return tl::unexpected(def.error());
      if (std::find(t.field_names.begin(), t.field_names.end(), f.name) != t.field_names.end()) {
        return invalid(fmt::format("Duplicate field name {} in type {}", f.name, s.type.name));
      }
      t.field_names.push_back(f.name);
      t.field_types.push_back(def->type);
    }
    auto created = services->engine->catalog().create_type(std::move(t));
    if (!created) return invalid(created.error().message);
    return changed(
        SchemaChange{SchemaChangeType::Created, SchemaChangeTarget::Type, *ks, s.type.name, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::AlterType&, const ExecContext&) const {
    return invalid("ALTER TYPE is not supported by zdm node");
  }

  CqlResult<protocol::ResultBody> run(const cql::DropType& s, const ExecContext& ctx) const {
    const std::string ks = keyspace_of(s.type, ctx);
    if (!services->engine->catalog().find_type(ks, s.type.name)) {
      if (s.if_exists) return protocol::VoidResult{};
      return invalid(fmt::format("Type '{}.{}' doesn't exist", ks, s.type.name));
    }
    for (const auto& t : services->engine->catalog().tables(ks)) {
      for (const auto& c : t->columns) {
        if (protocol::format_cql_type(c.type).find(s.type.name) != std::string::npos &&
            c.type.id == TypeId::Udt) {
          return invalid(fmt::format("Cannot drop user type {}.{} as it is still used by table {}",
                                     ks, s.type.name, t->table));
        }
      }
    }
    auto dropped = services->engine->catalog().drop_type(ks, s.type.name);
    if (!dropped) return invalid(dropped.error().message);
    return changed(
        SchemaChange{SchemaChangeType::Dropped, SchemaChangeTarget::Type, ks, s.type.name, {}});
  }

  CqlResult<protocol::ResultBody> run(const cql::Unsupported& s, const ExecContext&) const {
    return invalid(fmt::format("{} statements are not supported by zdm node", s.kind));
  }
};

}  // namespace

CqlResult<std::unique_ptr<Plan>> compile_schema_statement(const cql::Statement& s,
                                                          CompileContext& cc, const std::string&) {
  auto plan = std::make_unique<SchemaPlan>();
  plan->statement = s;
  plan->services = cc.services;
  return std::unique_ptr<Plan>(std::move(plan));
}

}  // namespace zdm::node::exec
