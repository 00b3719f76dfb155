#include "node/cql/query_processor.hpp"

#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "common/md5.hpp"
#include "common/timeuuid.hpp"
#include "node/cql/cql_parser.hpp"
#include "node/cql/executor.hpp"
#include "node/cql/prepared_cache.hpp"
#include "node/cql/system_tables.hpp"
#include "node/storage/storage_engine.hpp"

namespace zdm::node {

using exec::CqlError;
using exec::CqlResult;
using protocol::ErrorCode;
using protocol::ErrorMessage;
using protocol::ResponseBody;

namespace {

NodeIdentity complete_identity(NodeIdentity id) {
  const Uuid zero{};
  if (id.host_id == zero && !id.peers.empty()) id.host_id = peer_host_id(id.listen_address);
  if (id.tokens.empty() && !id.peers.empty()) id.tokens.push_back(peer_token(id.listen_address));
  if (id.host_id == zero) id.host_id = random_uuid();
  if (id.tokens.empty()) {
    const Uuid r = random_uuid();
    uint64_t t = 0;
    for (size_t i = 0; i < 8; ++i) t = (t << 8) | r[i];
    int64_t token = static_cast<int64_t>(t);
    if (token == INT64_MIN) token = 0;
    id.tokens.push_back(token);
  }
  return id;
}

ErrorMessage to_error(CqlError e) {
  return ErrorMessage{e.code, std::move(e.message), std::move(e.detail)};
}

Bytes metadata_id_of(const exec::Plan& plan) {
  return plan.result_metadata_id.empty() ? exec::metadata_id(plan.result_metadata)
                                         : plan.result_metadata_id;
}

bool is_schema_statement(const cql::Statement& s) {
  return !(
      std::holds_alternative<cql::Select>(s.body) || std::holds_alternative<cql::Insert>(s.body) ||
      std::holds_alternative<cql::Update>(s.body) || std::holds_alternative<cql::Delete>(s.body) ||
      std::holds_alternative<cql::Batch>(s.body));
}

}  // namespace

struct QueryProcessor::Impl {
  Impl(StorageEngine& e, NodeIdentity id, QueryProcessorOptions opts)
      : engine(e),
        identity(complete_identity(std::move(id))),
        options(std::move(opts)),
        system(e, identity) {
    services.engine = &engine;
    services.system = &system;
    services.cassandra_version = identity.cassandra_version;
    services.notify = [this](const protocol::SchemaChange& change) {
      std::function<void(const protocol::SchemaChange&)> l;
      {
        std::lock_guard lock(listener_mu);
        l = listener;
      }
      if (l) l(change);
    };
  }

  StorageEngine& engine;
  NodeIdentity identity;
  QueryProcessorOptions options;
  SystemTables system;
  exec::Services services;
  PreparedCache prepared;
  std::mutex listener_mu;
  std::function<void(const protocol::SchemaChange&)> listener;

  // Parses and compiles a statement in `keyspace`.
  CqlResult<std::shared_ptr<const exec::Plan>> compile(std::string_view query,
                                                       const std::string& keyspace) {
    auto parsed = parse_cql(query);
    if (!parsed) return exec::cql_error(ErrorCode::SyntaxError, parsed.error().message);
    return compile_statement(*parsed, keyspace);
  }

  CqlResult<std::shared_ptr<const exec::Plan>> compile_statement(const cql::Statement& st,
                                                                 const std::string& keyspace) {
    exec::CompileContext cc;
    cc.services = &services;
    cc.statement = &st;
    const uint64_t generation = services.generation.load();
    CqlResult<std::unique_ptr<exec::Plan>> plan = std::visit(
        [&](const auto& s) -> CqlResult<std::unique_ptr<exec::Plan>> {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, cql::Select>) {
            return exec::compile_select(s, cc, keyspace);
          } else if constexpr (std::is_same_v<T, cql::Insert>) {
            auto p = exec::compile_insert(s, cc, keyspace);
            if (!p) return tl::unexpected(p.error());
            return std::unique_ptr<exec::Plan>(std::move(*p));
          } else if constexpr (std::is_same_v<T, cql::Update>) {
            auto p = exec::compile_update(s, cc, keyspace);
            if (!p) return tl::unexpected(p.error());
            return std::unique_ptr<exec::Plan>(std::move(*p));
          } else if constexpr (std::is_same_v<T, cql::Delete>) {
            auto p = exec::compile_delete(s, cc, keyspace);
            if (!p) return tl::unexpected(p.error());
            return std::unique_ptr<exec::Plan>(std::move(*p));
          } else if constexpr (std::is_same_v<T, cql::Batch>) {
            return exec::compile_batch(s, cc, keyspace);
          } else {
            return exec::compile_schema_statement(st, cc, keyspace);
          }
        },
        st.body);
    if (!plan) return tl::unexpected(plan.error());
    exec::Plan& p = **plan;
    p.generation = generation;
    // Bind metadata, one spec per marker in order.
    cc.bind_specs.resize(st.bind_markers.size());
    cc.receivers.resize(st.bind_markers.size());
    for (size_t i = 0; i < st.bind_markers.size(); ++i) {
      if (cc.bind_specs[i]) {
        p.bind_specs.push_back(*cc.bind_specs[i]);
      } else {
        p.bind_specs.push_back(protocol::ColumnSpec{cc.keyspace, cc.table,
                                                    fmt::format("[marker{}]", i),
                                                    DataType::simple(protocol::TypeId::Blob)});
      }
    }
    if (p.keyspace.empty()) {
      p.keyspace = cc.keyspace;
      p.table = cc.table;
    }
    // pk_indexes: the markers bound to partition key columns, when every one of them is.
    if (!is_schema_statement(st) && !p.keyspace.empty()) {
      if (auto schema = engine.catalog().find_table(p.keyspace, p.table)) {
        std::vector<uint16_t> idx;
        for (const auto* c : schema->partition_key()) {
          for (size_t i = 0; i < cc.receivers.size(); ++i) {
            if (cc.receivers[i] == c->name && cc.bind_specs[i] &&
                cc.bind_specs[i]->type == c->type) {
              idx.push_back(static_cast<uint16_t>(i));
              break;
            }
          }
        }
        if (idx.size() == schema->partition_key().size()) p.pk_indexes = std::move(idx);
      }
    }
    return std::shared_ptr<const exec::Plan>(std::move(*plan));
  }

  // Positional values for the plan's markers (named values mapped by name).
  CqlResult<std::vector<protocol::BoundValue>> named_values(const exec::Plan& plan,
                                                            const protocol::QueryParameters& p) {
    std::vector<protocol::BoundValue> out(plan.bind_specs.size());
    const auto& values = *p.values;
    for (size_t i = 0; i < plan.bind_specs.size(); ++i) {
      bool found = false;
      for (size_t j = 0; j < p.value_names.size() && j < values.size(); ++j) {
        if (p.value_names[j] == plan.bind_specs[i].name) {
          out[i] = values[j];
          found = true;
          break;
        }
      }
      if (!found) {
        return exec::invalid(fmt::format("Missing value for name {}", plan.bind_specs[i].name));
      }
    }
    return out;
  }

  ResponseBody run(const exec::Plan& plan, const protocol::QueryParameters& params,
                   SessionState& session, const std::string& keyspace, const Bytes* metadata_id) {
    std::vector<protocol::BoundValue> mapped;
    std::span<const protocol::BoundValue> values;
    if (params.values) {
      if (params.named_values) {
        auto m = named_values(plan, params);
        if (!m) return to_error(m.error());
        mapped = std::move(*m);
        values = mapped;
      } else {
        values = *params.values;
      }
    }
    if (values.size() != plan.bind_specs.size()) {
      return ErrorMessage{ErrorCode::Invalid,
                          fmt::format("There were {} markers(?) in CQL but {} bound variables",
                                      plan.bind_specs.size(), values.size()),
                          {}};
    }
    exec::ExecContext ctx;
    ctx.services = &services;
    ctx.values = values;
    ctx.version = session.version;
    ctx.now_micros = services.now_micros();
    ctx.default_timestamp = params.default_timestamp;
    ctx.page_size = params.page_size.value_or(0);
    ctx.paging_state = &params.paging_state;
    ctx.skip_metadata = params.skip_metadata;
    ctx.session_keyspace = keyspace;
    ctx.result_metadata_id = metadata_id;
    auto result = plan.execute(ctx);
    if (!result) return to_error(std::move(result.error()));
    if (auto* ks = std::get_if<protocol::SetKeyspaceResult>(&*result))
      session.keyspace = ks->keyspace;
    return protocol::ResultMessage{std::move(*result)};
  }

  ResponseBody query(const protocol::QueryMessage& m, SessionState& session) {
    const std::string keyspace = m.parameters.keyspace ? *m.parameters.keyspace : session.keyspace;
    auto plan = compile(m.query, keyspace);
    if (!plan) return to_error(std::move(plan.error()));
    return run(**plan, m.parameters, session, keyspace, nullptr);
  }

  Bytes prepared_id(const std::string& keyspace, std::string_view query) {
    Md5Hasher h;
    h.update(options.prepared_id_salt);
    h.update(keyspace);
    h.update(query);
    auto d = h.finish();
    if (!d) return Bytes(16, 0);
    return Bytes(d->begin(), d->end());
  }

  ResponseBody prepare(const protocol::PrepareMessage& m, SessionState& session) {
    const std::string keyspace = m.keyspace ? *m.keyspace : session.keyspace;
    auto plan = compile(m.query, keyspace);
    if (!plan) return to_error(std::move(plan.error()));
    auto entry = std::make_shared<PreparedStatement>();
    entry->id = prepared_id(keyspace, m.query);
    entry->query = m.query;
    entry->keyspace = keyspace;
    entry->result_metadata_id = metadata_id_of(**plan);
    entry->plan = *plan;
    protocol::PreparedResult r;
    r.id = entry->id;
    r.result_metadata_id = entry->result_metadata_id;
    const exec::Plan& p = **plan;
    r.metadata.columns = p.bind_specs;
    r.metadata.pk_indexes = p.pk_indexes;
    if (!p.keyspace.empty() && !p.bind_specs.empty()) {
      r.metadata.global_table_spec = true;
      r.metadata.global_keyspace = p.keyspace;
      r.metadata.global_table = p.table;
    }
    r.result_metadata = p.result_metadata;
    r.result_metadata.column_count = static_cast<int32_t>(r.result_metadata.columns.size());
    prepared.put(std::move(entry));
    return protocol::ResultMessage{std::move(r)};
  }

  ErrorMessage unprepared(const Bytes& id) {
    return ErrorMessage{ErrorCode::Unprepared,
                        fmt::format("Prepared query with ID {} not found (either the query was not "
                                    "prepared on this host (maybe the host has been restarted?) or "
                                    "you have prepared too many queries and it has been evicted "
                                    "from the internal cache)",
                                    to_hex(id)),
                        protocol::UnpreparedInfo{id}};
  }

  // The statement's current plan, recompiled when the schema changed since it was compiled.
  CqlResult<std::shared_ptr<const PreparedStatement>> lookup(const Bytes& id) {
    auto entry = prepared.find(id);
    if (!entry) return tl::unexpected(CqlError{ErrorCode::Unprepared, {}, {}});
    if (entry->plan->generation == services.generation.load(std::memory_order_relaxed)) {
      return entry;
    }
    auto plan = compile(entry->query, entry->keyspace);
    if (!plan) return tl::unexpected(plan.error());
    auto fresh = std::make_shared<PreparedStatement>(*entry);
    fresh->plan = *plan;
    fresh->result_metadata_id = metadata_id_of(**plan);
    prepared.put(fresh);
    return std::shared_ptr<const PreparedStatement>(std::move(fresh));
  }

  ResponseBody execute(const protocol::ExecuteMessage& m, SessionState& session) {
    auto entry = lookup(m.id);
    if (!entry) {
      if (entry.error().code == ErrorCode::Unprepared) return unprepared(m.id);
      return to_error(std::move(entry.error()));
    }
    const bool v5 = protocol::uses_prepared_metadata(session.version);
    return run(*(*entry)->plan, m.parameters, session, (*entry)->keyspace,
               v5 ? &m.result_metadata_id : nullptr);
  }

  ResponseBody batch(const protocol::BatchMessage& m, SessionState& session) {
    const std::string keyspace = m.keyspace ? *m.keyspace : session.keyspace;
    std::vector<std::shared_ptr<const exec::Plan>> plans;
    std::vector<std::shared_ptr<const PreparedStatement>> entries;
    std::vector<const exec::ModifyPlan*> modify;
    std::vector<exec::ExecContext> contexts;
    const int64_t now = services.now_micros();
    for (const auto& st : m.statements) {
      std::shared_ptr<const exec::Plan> plan;
      std::string ks = keyspace;
      if (st.kind == protocol::BatchStatement::Kind::Query) {
        auto p = compile(st.query, keyspace);
        if (!p) return to_error(std::move(p.error()));
        plan = *p;
      } else {
        auto e = lookup(st.id);
        if (!e) {
          if (e.error().code == ErrorCode::Unprepared) return unprepared(st.id);
          return to_error(std::move(e.error()));
        }
        plan = (*e)->plan;
        ks = (*e)->keyspace;
        entries.push_back(*e);
      }
      const auto* mp = dynamic_cast<const exec::ModifyPlan*>(plan.get());
      if (mp == nullptr) {
        return ErrorMessage{
            ErrorCode::Invalid,
            "Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed.",
            {}};
      }
      if (st.values.size() != plan->bind_specs.size()) {
        return ErrorMessage{ErrorCode::Invalid,
                            fmt::format("There were {} markers(?) in CQL but {} bound variables",
                                        plan->bind_specs.size(), st.values.size()),
                            {}};
      }
      exec::ExecContext ctx;
      ctx.services = &services;
      ctx.values = st.values;
      ctx.version = session.version;
      ctx.now_micros = now;
      ctx.default_timestamp = m.default_timestamp;
      ctx.session_keyspace = ks;
      contexts.push_back(std::move(ctx));
      modify.push_back(mp);
      plans.push_back(std::move(plan));
    }
    exec::ExecContext ctx;
    ctx.services = &services;
    ctx.version = session.version;
    ctx.now_micros = now;
    ctx.default_timestamp = m.default_timestamp;
    ctx.session_keyspace = keyspace;
    auto result = exec::run_protocol_batch(ctx, modify, contexts, m.type);
    if (!result) return to_error(std::move(result.error()));
    return protocol::ResultMessage{std::move(*result)};
  }
};

QueryProcessor::QueryProcessor(StorageEngine& engine, NodeIdentity identity,
                               QueryProcessorOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(identity), std::move(options))) {}

QueryProcessor::~QueryProcessor() = default;

Result<void> QueryProcessor::install_system_tables() {
  auto ok = impl_->system.install();
  impl_->services.generation.fetch_add(1);
  return ok;
}

protocol::ResponseBody QueryProcessor::process(const protocol::RequestBody& request,
                                               SessionState& session) {
  return std::visit(
      [&](const auto& m) -> ResponseBody {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::QueryMessage>) {
          return impl_->query(m, session);
        } else if constexpr (std::is_same_v<T, protocol::PrepareMessage>) {
          return impl_->prepare(m, session);
        } else if constexpr (std::is_same_v<T, protocol::ExecuteMessage>) {
          return impl_->execute(m, session);
        } else if constexpr (std::is_same_v<T, protocol::BatchMessage>) {
          return impl_->batch(m, session);
        } else {
          return ErrorMessage{ErrorCode::ProtocolError,
                              "the query processor handles only QUERY, PREPARE, EXECUTE and BATCH",
                              {}};
        }
      },
      request);
}

void QueryProcessor::set_schema_change_listener(
    std::function<void(const protocol::SchemaChange&)> listener) {
  std::lock_guard lock(impl_->listener_mu);
  impl_->listener = std::move(listener);
}

void QueryProcessor::clear_prepared() { impl_->prepared.clear(); }

const NodeIdentity& QueryProcessor::identity() const { return impl_->identity; }

}  // namespace zdm::node
