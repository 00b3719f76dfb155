#include "client/session.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/timeuuid.hpp"
#include "protocol/row_reader.hpp"
#include "protocol/value.hpp"

namespace zdm::client {

namespace asio = boost::asio;
using protocol::Message;

namespace {

const protocol::ResponseBody* response_body(const Message& m) {
  return std::get_if<protocol::ResponseBody>(&m.body);
}

bool is_unspecified_address(const std::string& a) { return a == "0.0.0.0" || a == "::"; }

asio::awaitable<ClientResult<protocol::RowsResult>> control_query(std::shared_ptr<Connection> conn,
                                                                  std::string cql) {
  protocol::QueryMessage q;
  q.query = std::move(cql);
  q.parameters.consistency = protocol::Consistency::One;
  auto answer = co_await conn->async_request(std::move(q), asio::use_awaitable);
  if (!answer) co_return tl::unexpected(std::move(answer.error()));
  auto* body = response_body(*answer);
  if (body == nullptr) co_return client_fail(ClientErrc::Protocol, "request frame from server");
  if (auto* error = std::get_if<protocol::ErrorMessage>(body)) {
    co_return tl::unexpected(server_error(*error));
  }
  auto* result = std::get_if<protocol::ResultMessage>(body);
  auto* rows = result ? std::get_if<protocol::RowsResult>(&result->result) : nullptr;
  if (rows == nullptr) co_return client_fail(ClientErrc::Protocol, "expected ROWS");
  co_return std::move(*rows);
}

void log_detached(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::warn("client: {} failed: {}", what, ex.what());
  }
}

}  // namespace

Statement Statement::simple(std::string query, std::vector<protocol::BoundValue> values) {
  Statement s;
  s.query = std::move(query);
  s.values = std::move(values);
  return s;
}

Statement Statement::bound(std::shared_ptr<const PreparedStatement> prepared,
                           std::vector<protocol::BoundValue> values) {
  Statement s;
  s.prepared = std::move(prepared);
  s.values = std::move(values);
  return s;
}

Statement Statement::batch_of(std::vector<Statement> statements, protocol::BatchType type) {
  Statement s;
  s.batch = std::move(statements);
  s.batch_type = type;
  return s;
}

namespace {

// The prepared statement an UNPREPARED answer is about: the statement's own, or in a batch the
// child whose id the error names (the first prepared child when it names none we know).
std::shared_ptr<const PreparedStatement>* unprepared_statement(Statement& s,
                                                               const protocol::ErrorMessage& e) {
  if (s.prepared) return &s.prepared;
  const auto* info = std::get_if<protocol::UnpreparedInfo>(&e.detail);
  std::shared_ptr<const PreparedStatement>* first = nullptr;
  for (auto& child : s.batch) {
    if (!child.prepared) continue;
    if (info && child.prepared->id == info->id) return &child.prepared;
    if (!first) first = &child.prepared;
  }
  return first;
}

}  // namespace

struct Session::RequestState {
  Statement statement;
  QueryCallback done;
  std::optional<Bytes> routing_key;
  int attempts = 0;
  bool reprepared = false;
  std::optional<HostIndex> last_host;
  std::optional<HostIndex> force_host;
};

Session::Session(Executor executor, SessionOptions options)
    : executor_(executor), options_(std::move(options)) {}

Session::~Session() = default;

asio::awaitable<ClientResult<std::shared_ptr<Session>>> Session::connect(SessionOptions options) {
  auto executor = co_await asio::this_coro::executor;
  auto session = std::make_shared<Session>(executor, std::move(options));
  auto started = co_await session->start();
  if (!started) {
    session->close();
    co_return tl::unexpected(std::move(started.error()));
  }
  co_return session;
}

asio::awaitable<ClientResult<void>> Session::start() {
  // The contact points as hosts: endpoints, or host ids behind an SNI proxy.
  std::vector<Host> contacts;
  if (options_.sni_proxy) {
    for (const auto& id : options_.sni_proxy->host_ids) {
      Host h;
      h.endpoint = options_.sni_proxy->address;
      h.sni = id;
      contacts.push_back(std::move(h));
    }
  } else {
    for (const auto& e : options_.contact_points) {
      Host h;
      h.endpoint = e;
      contacts.push_back(std::move(h));
    }
  }
  if (contacts.empty()) {
    co_return client_fail(ClientErrc::InvalidArgument, "no contact points given", false);
  }
  if (options_.tls_context) {
    tls_context_ = options_.tls_context;
    options_.connection.tls.enabled = true;
  } else if (options_.connection.tls.enabled) {
    auto ctx = make_tls_context(options_.connection.tls);
    if (!ctx) co_return client_fail(ClientErrc::InvalidArgument, ctx.error().message, false);
    tls_context_ = std::move(*ctx);
  }
  std::weak_ptr<Session> weak = shared_from_this();
  std::string errors;
  for (const auto& contact : contacts) {
    ConnectionOptions control_options = options_for(contact);
    control_options.keyspace.clear();
    if (options_.listen_events) {
      control_options.register_events = {"TOPOLOGY_CHANGE", "STATUS_CHANGE"};
    }
    // A named callback: GCC 12 destroys temporaries in a co_await argument list twice.
    EventCallback on_event = [weak](const protocol::EventMessage& event) {
      if (auto self = weak.lock()) self->handle_event(event);
    };
    auto conn =
        co_await Connection::connect(contact.endpoint, control_options, tls_context_, on_event);
    if (conn) {
      control_ = std::move(*conn);
      control_endpoint_ = contact.endpoint;
      control_sni_ = contact.sni;
      break;
    }
    if (conn.error().kind == ClientErrc::Auth || conn.error().kind == ClientErrc::InvalidArgument) {
      co_return tl::unexpected(std::move(conn.error()));
    }
    auto error = conn.error().to_string();
    if (!contact.sni.empty()) error += fmt::format(" (host id {})", contact.sni);
    errors += (errors.empty() ? "" : "; ") + error;
  }
  if (!control_) {
    co_return client_fail(ClientErrc::NoHost, fmt::format("no contact point answered: {}", errors),
                          false);
  }
  version_ = control_->version();
  options_.connection.protocol_version = version_;  // the pools speak what the control agreed
  auto discovered = co_await discover();
  if (!discovered) co_return discovered;
  for (HostIndex i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].local) co_await fill_pool(i);
  }
  if (live_.empty()) {
    co_return client_fail(
        ClientErrc::NoHost,
        fmt::format("could not open a connection to any host of datacenter '{}'", local_dc_),
        false);
  }
  co_return ClientResult<void>{};
}

asio::awaitable<ClientResult<void>> Session::discover() {
  auto local = co_await control_query(control_, "SELECT * FROM system.local WHERE key='local'");
  if (!local) co_return tl::unexpected(std::move(local.error()));
  Host control_host;
  control_host.endpoint = control_endpoint_;
  control_host.sni = control_sni_;
  if (!local->rows.empty()) {
    protocol::RowReader row(local->metadata, local->rows.front(), version_);
    control_host.datacenter = row.text("data_center").value_or("");
    control_host.rack = row.text("rack").value_or("");
    control_host.tokens = row.text_list("tokens");
  }
  local_dc_ = options_.local_dc.empty() ? control_host.datacenter : options_.local_dc;
  hosts_.push_back(std::move(control_host));

  if (options_.discover_peers) {
    bool v2 = true;
    auto peers = co_await control_query(control_, "SELECT * FROM system.peers_v2");
    if (!peers) {
      v2 = false;
      peers = co_await control_query(control_, "SELECT * FROM system.peers");
    }
    if (peers) {
      for (const auto& peer_row : peers->rows) {
        protocol::RowReader row(peers->metadata, peer_row, version_);
        Host host;
        if (options_.sni_proxy) {
          // Behind an SNI proxy a peer's addresses are private: it is reached by its host id.
          auto id = row.uuid("host_id");
          if (!id) continue;
          host.endpoint = options_.sni_proxy->address;
          host.sni = uuid_to_string(*id);
          if (host.sni == control_sni_) continue;
        } else {
          auto address = row.inet(v2 ? "native_address" : "rpc_address");
          if (!address || is_unspecified_address(*address)) address = row.inet("peer");
          if (!address) continue;
          host.endpoint.host = *address;
          host.endpoint.port = control_endpoint_.port;
          if (v2) {
            if (auto port = row.int32("native_port"); port && *port > 0 && *port < 65536) {
              host.endpoint.port = static_cast<uint16_t>(*port);
            }
          }
          if (host.endpoint == control_endpoint_) continue;
        }
        host.datacenter = row.text("data_center").value_or("");
        host.rack = row.text("rack").value_or("");
        host.tokens = row.text_list("tokens");
        hosts_.push_back(std::move(host));
      }
    } else {
      spdlog::warn("client: reading system.peers from {}: {}", describe(hosts_.front()),
                   peers.error().to_string());
    }
  }
  for (HostIndex i = 0; i < hosts_.size(); ++i) {
    Host& h = hosts_[i];
    h.local = local_dc_.empty() || h.datacenter.empty() || h.datacenter == local_dc_;
    if (!token_map_.add_host(i, h.tokens)) {
      spdlog::warn("client: host {} has non-Murmur3 tokens; token-aware routing is off for it",
                   describe(h));
    }
  }
  token_map_.build();
  co_return ClientResult<void>{};
}

asio::awaitable<void> Session::fill_pool(HostIndex index) {
  std::weak_ptr<Session> weak = shared_from_this();
  while (!closed_ &&
         hosts_[index].pool.size() < static_cast<size_t>(options_.connections_per_host)) {
    // Every argument named: GCC 12 destroys temporaries (defaulted arguments too) in a
    // co_await argument list twice.
    EventCallback no_events;
    ConnectionOptions options = options_for(hosts_[index]);
    auto conn =
        co_await Connection::connect(hosts_[index].endpoint, options, tls_context_, no_events);
    if (closed_) {
      if (conn) (*conn)->close("session closed");
      co_return;
    }
    if (!conn) {
      spdlog::warn("client: connecting to {}: {}", describe(hosts_[index]),
                   conn.error().to_string());
      hosts_[index].up = hosts_[index].pool.empty() ? false : hosts_[index].up;
      co_return;
    }
    add_connection(index, std::move(*conn));
  }
}

void Session::add_connection(HostIndex index, std::shared_ptr<Connection> conn) {
  Host& host = hosts_[index];
  std::weak_ptr<Session> weak = shared_from_this();
  Connection* raw = conn.get();
  conn->set_close_callback([weak, index, raw](const ClientError& error) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    auto& pool = self->hosts_[index].pool;
    pool.erase(
        std::remove_if(pool.begin(), pool.end(), [raw](const auto& c) { return c.get() == raw; }),
        pool.end());
    spdlog::info("client: connection to {} closed: {}", describe(self->hosts_[index]),
                 error.to_string());
    if (pool.empty()) {
      self->hosts_[index].up = false;
      self->live_.erase(std::remove(self->live_.begin(), self->live_.end(), index),
                        self->live_.end());
    }
    self->reconnect_later(index);
  });
  host.pool.push_back(std::move(conn));
  host.up = true;
  if (std::find(live_.begin(), live_.end(), index) == live_.end()) live_.push_back(index);
}

ConnectionOptions Session::options_for(const Host& host) const {
  ConnectionOptions options = options_.connection;
  if (!host.sni.empty()) {
    options.tls.server_name = host.sni;  // the SNI proxy routes on it
    options.tls.verify_name = options_.sni_proxy ? options_.sni_proxy->address.host : "";
  }
  return options;
}

std::string Session::describe(const Host& host) {
  return host.sni.empty() ? host.endpoint.to_string()
                          : fmt::format("{} (host id {})", host.endpoint.to_string(), host.sni);
}

void Session::reconnect_later(HostIndex index) {
  if (closed_ || hosts_[index].reconnecting) return;
  hosts_[index].reconnecting = true;
  auto self = shared_from_this();
  asio::co_spawn(
      executor_,
      [self, index]() -> asio::awaitable<void> {
        auto timer = std::make_shared<asio::steady_timer>(self->executor_);
        self->hosts_[index].reconnect_timer = timer;
        auto delay = self->options_.reconnect_min;
        while (!self->closed_) {
          timer->expires_after(delay);
          auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
          if (ec || self->closed_) break;
          co_await self->fill_pool(index);
          if (self->hosts_[index].pool.size() >=
              static_cast<size_t>(self->options_.connections_per_host)) {
            break;
          }
          delay = std::min(delay * 2, self->options_.reconnect_max);
        }
        self->hosts_[index].reconnecting = false;
        self->hosts_[index].reconnect_timer.reset();
      },
      [](std::exception_ptr e) { log_detached(e, "reconnect"); });
}

void Session::handle_event(const protocol::EventMessage& event) {
  if (on_event_) on_event_(event);
  // A host coming back up: reconnect now rather than at the end of the backoff.
  auto* status = std::get_if<protocol::StatusChangeEvent>(&event.event);
  if (status == nullptr || status->change != protocol::StatusChangeType::Up) return;
  for (HostIndex i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].local && hosts_[i].pool.empty()) reconnect_later(i);
  }
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  if (control_) control_->close("session closed");
  for (auto& host : hosts_) {
    if (host.reconnect_timer) host.reconnect_timer->cancel();
    auto pool = std::move(host.pool);
    host.pool.clear();
    for (auto& conn : pool) conn->close("session closed");
  }
  live_.clear();
}

ConnectionStats Session::connection_stats() const {
  ConnectionStats total;
  for (const auto& host : hosts_) {
    for (const auto& c : host.pool) {
      const auto& s = c->stats();
      total.requests += s.requests;
      total.responses += s.responses;
      total.timeouts += s.timeouts;
      total.late_responses += s.late_responses;
      total.unknown_responses += s.unknown_responses;
      total.writes += s.writes;
      total.heartbeats += s.heartbeats;
    }
  }
  return total;
}

// --- requests ---------------------------------------------------------------------------------

void Session::execute(Statement statement, QueryCallback done) {
  auto state = std::make_shared<RequestState>();
  if (statement.prepared) {
    state->routing_key = routing_key(statement.prepared->metadata.pk_indexes, statement.values);
  } else if (statement.routing_key) {
    state->routing_key = statement.routing_key;
  }
  state->statement = std::move(statement);
  state->done = std::move(done);
  run(std::move(state));
}

std::optional<HostIndex> Session::choose_host(const RequestState& state) {
  if (state.force_host) return state.force_host;
  if (live_.empty()) return std::nullopt;
  const auto& token = state.statement.routing_token;
  if (state.attempts == 0 && options_.token_aware && (token || state.routing_key) &&
      !token_map_.empty()) {
    auto owner = token ? token_map_.owner(*token) : token_map_.owner_of_key(*state.routing_key);
    if (owner && hosts_[*owner].local && !hosts_[*owner].pool.empty()) {
      ++stats_.token_routed;
      return owner;
    }
  }
  ++stats_.round_robin;
  for (size_t i = 0; i < live_.size(); ++i) {
    HostIndex candidate = live_[round_robin_++ % live_.size()];
    if (live_.size() > 1 && state.last_host && candidate == *state.last_host) continue;
    return candidate;
  }
  return live_.front();
}

std::shared_ptr<Connection> Session::pick_connection(HostIndex index) {
  Host& host = hosts_[index];
  const size_t n = host.pool.size();
  if (n == 0) return nullptr;
  if (n == 1) return host.pool.front();
  // Round robin, but of two neighbours take the less loaded (cheap power-of-two-choices).
  size_t a = host.next_connection++ % n;
  size_t b = (a + 1) % n;
  return host.pool[a]->in_flight() <= host.pool[b]->in_flight() ? host.pool[a] : host.pool[b];
}

protocol::RequestBody Session::build_request(const RequestState& state) const {
  const Statement& s = state.statement;
  protocol::QueryParameters params;
  params.consistency = s.consistency.value_or(options_.consistency);
  if (!s.values.empty()) params.values = s.values;
  params.page_size = s.page_size.value_or(options_.page_size);
  if (*params.page_size <= 0) params.page_size.reset();
  params.paging_state = s.paging_state;
  params.skip_metadata = s.skip_metadata && s.prepared != nullptr;
  params.default_timestamp = s.timestamp;
  if (!s.batch.empty()) {
    protocol::BatchMessage batch;
    batch.type = s.batch_type;
    batch.consistency = params.consistency;
    batch.default_timestamp = s.timestamp;
    batch.statements.reserve(s.batch.size());
    for (const auto& child : s.batch) {
      protocol::BatchStatement b;
      if (child.prepared) {
        b.kind = protocol::BatchStatement::Kind::Prepared;
        b.id = child.prepared->id;
      } else {
        b.query = child.query;
      }
      b.values = child.values;
      batch.statements.push_back(std::move(b));
    }
    return batch;
  }
  if (s.prepared) {
    protocol::ExecuteMessage execute;
    execute.id = s.prepared->id;
    execute.result_metadata_id = s.prepared->result_metadata_id;
    execute.parameters = std::move(params);
    return execute;
  }
  protocol::QueryMessage query;
  query.query = s.query;
  query.parameters = std::move(params);
  return query;
}

void Session::run(std::shared_ptr<RequestState> state) {
  if (closed_) {
    auto error = client_fail(ClientErrc::ConnectionClosed, "session is closed", false).value();
    asio::post(executor_, [state, error]() { state->done(tl::unexpected(error)); });
    return;
  }
  auto host = choose_host(*state);
  state->force_host.reset();
  std::shared_ptr<Connection> conn = host ? pick_connection(*host) : nullptr;
  if (!conn) {
    auto error =
        client_fail(ClientErrc::NoHost,
                    fmt::format("no open connection to any host of datacenter '{}'", local_dc_),
                    false)
            .value();
    ++state->attempts;
    // Never complete inline: the caller may still be inside execute().
    asio::post(executor_, [self = shared_from_this(), state, error]() mutable {
      auto decision =
          self->options_.retry.decide(error, state->statement.idempotence, state->attempts);
      if (decision == RetryDecision::Rethrow || self->live_.empty()) {
        state->done(tl::unexpected(std::move(error)));
        return;
      }
      ++self->stats_.retries;
      self->run(state);
    });
    return;
  }
  ++state->attempts;
  auto timeout = state->statement.timeout;
  conn->send(
      build_request(*state),
      [self = shared_from_this(), state, index = *host,
       conn](ClientResult<Message> response) mutable {
        self->on_response(std::move(state), index, std::move(conn), std::move(response));
      },
      timeout);
}

void Session::on_response(std::shared_ptr<RequestState> state, HostIndex host,
                          std::shared_ptr<Connection> conn, ClientResult<Message> response) {
  if (!response) {
    fail_or_retry(std::move(state), host, std::move(response.error()));
    return;
  }
  auto* body = std::get_if<protocol::ResponseBody>(&response->body);
  if (body == nullptr) {
    fail_or_retry(std::move(state), host,
                  client_fail(ClientErrc::Protocol, "server sent a request frame").value());
    return;
  }
  if (auto* error = std::get_if<protocol::ErrorMessage>(body)) {
    if (error->code == protocol::ErrorCode::Unprepared && !state->reprepared && conn->is_open()) {
      if (auto* target = unprepared_statement(state->statement, *error); target && *target) {
        reprepare(std::move(state), target, host, std::move(conn));
        return;
      }
    }
    fail_or_retry(std::move(state), host, server_error(*error));
    return;
  }
  auto* result = std::get_if<protocol::ResultMessage>(body);
  if (result == nullptr) {
    fail_or_retry(
        std::move(state), host,
        client_fail(ClientErrc::Protocol, fmt::format("unexpected {} response",
                                                      protocol::opcode_name(response->opcode())))
            .value());
    return;
  }
  if (auto* ks = std::get_if<protocol::SetKeyspaceResult>(&result->result)) {
    options_.connection.keyspace = ks->keyspace;
    conn->set_keyspace(ks->keyspace);
    propagate_keyspace(ks->keyspace, conn.get());
  }
  QueryResult out;
  out.result = std::move(*result);
  out.prepared = state->statement.prepared;
  out.host = hosts_[host].endpoint;
  out.attempts = state->attempts;
  state->done(std::move(out));
}

void Session::reprepare(std::shared_ptr<RequestState> state,
                        std::shared_ptr<const PreparedStatement>* target, HostIndex host,
                        std::shared_ptr<Connection> conn) {
  ++stats_.reprepares;
  state->reprepared = true;
  protocol::PrepareMessage prepare;
  prepare.query = (*target)->query;
  if (protocol::uses_keyspace_flag(version_) && !(*target)->keyspace.empty()) {
    prepare.keyspace = (*target)->keyspace;
  }
  // `target` points into state->statement, which the callback keeps alive.
  conn->send(std::move(prepare), [self = shared_from_this(), state, target,
                                  host](ClientResult<Message> response) mutable {
    if (!response) {
      self->fail_or_retry(std::move(state), host, std::move(response.error()));
      return;
    }
    auto* body = std::get_if<protocol::ResponseBody>(&response->body);
    const protocol::ResultMessage* result =
        body ? std::get_if<protocol::ResultMessage>(body) : nullptr;
    const protocol::PreparedResult* prepared =
        result ? std::get_if<protocol::PreparedResult>(&result->result) : nullptr;
    if (prepared == nullptr) {
      auto* error = body ? std::get_if<protocol::ErrorMessage>(body) : nullptr;
      self->fail_or_retry(
          std::move(state), host,
          error ? server_error(*error)
                : client_fail(ClientErrc::Protocol, "re-prepare did not return PREPARED").value());
      return;
    }
    auto stale = *target;
    auto updated = std::make_shared<PreparedStatement>(*stale);
    updated->id = prepared->id;
    updated->result_metadata_id = prepared->result_metadata_id;
    updated->metadata = prepared->metadata;
    updated->result_metadata = prepared->result_metadata;
    self->prepared_[updated->keyspace + '\0' + updated->query] = updated;
    *target = updated;
    for (auto& child : state->statement.batch) {  // the same statement elsewhere in the batch
      if (child.prepared == stale) child.prepared = updated;
    }
    state->force_host = host;
    self->run(std::move(state));
  });
}

void Session::fail_or_retry(std::shared_ptr<RequestState> state, HostIndex host,
                            ClientError error) {
  auto decision = options_.retry.decide(error, state->statement.idempotence, state->attempts);
  if (decision == RetryDecision::Rethrow || closed_) {
    state->done(tl::unexpected(std::move(error)));
    return;
  }
  ++stats_.retries;
  state->last_host = host;
  if (decision == RetryDecision::RetrySameHost) state->force_host = host;
  run(std::move(state));
}

void Session::propagate_keyspace(const std::string& keyspace, const Connection* except) {
  for (auto& host : hosts_) {
    for (auto& conn : host.pool) {
      if (conn.get() == except || conn->keyspace() == keyspace) continue;
      protocol::QueryMessage use;
      use.query = fmt::format("USE \"{}\"", keyspace);
      std::weak_ptr<Connection> weak = conn;
      conn->send(std::move(use), [weak, keyspace](ClientResult<Message> r) {
        auto c = weak.lock();
        if (!c) return;
        auto* body = r ? std::get_if<protocol::ResponseBody>(&r->body) : nullptr;
        if (body && std::holds_alternative<protocol::ResultMessage>(*body)) {
          c->set_keyspace(keyspace);
        } else {
          // A connection on another keyspace would run statements in the wrong place.
          c->close(fmt::format("USE {} failed on this connection", keyspace));
        }
      });
    }
  }
}

asio::awaitable<ClientResult<QueryResult>> Session::query(std::string cql) {
  co_return co_await async_execute(Statement::simple(std::move(cql)), asio::use_awaitable);
}

asio::awaitable<ClientResult<std::shared_ptr<const PreparedStatement>>> Session::prepare(
    std::string cql) {
  std::string key = options_.connection.keyspace + '\0' + cql;
  if (auto it = prepared_.find(key); it != prepared_.end()) co_return it->second;
  ClientError last = client_fail(ClientErrc::NoHost, "no host to prepare on", false).value();
  const size_t tries = std::max<size_t>(1, live_.size());
  for (size_t attempt = 0; attempt < tries && !live_.empty(); ++attempt) {
    HostIndex host = live_[round_robin_++ % live_.size()];
    auto conn = pick_connection(host);
    if (!conn) continue;
    protocol::PrepareMessage prepare;
    prepare.query = cql;
    auto answer = co_await conn->async_request(std::move(prepare), asio::use_awaitable);
    if (!answer) {
      last = std::move(answer.error());
      continue;
    }
    auto* body = response_body(*answer);
    if (body == nullptr) co_return client_fail(ClientErrc::Protocol, "request frame from server");
    if (auto* error = std::get_if<protocol::ErrorMessage>(body)) {
      auto e = server_error(*error);
      e.message = fmt::format("preparing \"{}\": {}", cql, e.message);
      co_return tl::unexpected(std::move(e));
    }
    auto* result = std::get_if<protocol::ResultMessage>(body);
    auto* prepared = result ? std::get_if<protocol::PreparedResult>(&result->result) : nullptr;
    if (prepared == nullptr) {
      co_return client_fail(ClientErrc::Protocol, "PREPARE did not return a PREPARED result");
    }
    auto statement = std::make_shared<PreparedStatement>();
    statement->query = cql;
    statement->keyspace = options_.connection.keyspace;
    statement->id = prepared->id;
    statement->result_metadata_id = prepared->result_metadata_id;
    statement->metadata = prepared->metadata;
    statement->result_metadata = prepared->result_metadata;
    prepared_[key] = statement;
    prepare_on_other_hosts(cql, host);
    co_return std::shared_ptr<const PreparedStatement>(statement);
  }
  co_return tl::unexpected(std::move(last));
}

void Session::prepare_on_other_hosts(const std::string& query, HostIndex except) {
  for (HostIndex i = 0; i < hosts_.size(); ++i) {
    if (i == except || hosts_[i].pool.empty()) continue;
    protocol::PrepareMessage prepare;
    prepare.query = query;
    // Best effort: a host that misses it answers UNPREPARED later and gets it then.
    hosts_[i].pool.front()->send(std::move(prepare), [](ClientResult<Message>) {});
  }
}

asio::awaitable<ClientResult<protocol::RowsResult>> Session::fetch_all(Statement statement,
                                                                       size_t max_rows) {
  protocol::RowsResult all;
  bool first = true;
  for (;;) {
    auto page = co_await async_execute(statement, asio::use_awaitable);
    if (!page) co_return tl::unexpected(std::move(page.error()));
    auto* rows = std::get_if<protocol::RowsResult>(&page->result.result);
    if (rows == nullptr) co_return client_fail(ClientErrc::Protocol, "expected ROWS");
    if (first) {
      all.metadata = rows->metadata;
      if (all.metadata.no_metadata && page->prepared) {
        all.metadata.columns = page->prepared->result_metadata.columns;
      }
      first = false;
    }
    if (all.rows.size() + rows->rows.size() > max_rows) {
      co_return client_fail(ClientErrc::InvalidArgument,
                            fmt::format("more than {} rows; page through them instead", max_rows));
    }
    for (auto& row : rows->rows) all.rows.push_back(std::move(row));
    if (!rows->metadata.paging_state) break;
    statement.paging_state = rows->metadata.paging_state;
  }
  all.metadata.paging_state.reset();
  co_return all;
}

asio::awaitable<ClientResult<void>> Session::use_keyspace(std::string keyspace) {
  for (auto& host : hosts_) {
    auto pool = host.pool;  // a copy: the pool may change while we wait
    for (auto& conn : pool) {
      protocol::QueryMessage use;
      use.query = fmt::format("USE \"{}\"", keyspace);
      auto answer = co_await conn->async_request(std::move(use), asio::use_awaitable);
      if (!answer) co_return tl::unexpected(std::move(answer.error()));
      auto* body = response_body(*answer);
      if (auto* error = body ? std::get_if<protocol::ErrorMessage>(body) : nullptr) {
        co_return tl::unexpected(server_error(*error));
      }
      conn->set_keyspace(keyspace);
    }
  }
  options_.connection.keyspace = std::move(keyspace);
  co_return ClientResult<void>{};
}

}  // namespace zdm::client
