#include "ops/preflight.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "client/connection.hpp"
#include "migrate/cql_values.hpp"
#include "migrate/schema.hpp"
#include "ops/preflight_checks.hpp"
#include "ops/preflight_proxies.hpp"
#include "protocol/row_reader.hpp"

namespace zdm::ops {

namespace asio = boost::asio;
using SessionPtr = std::shared_ptr<client::Session>;

namespace {

// Beyond the connection timeout, before a contact point counts as not answering.
constexpr std::chrono::milliseconds kProbeGrace{250};

// Runs every task at once on the caller's executor and returns their results in order, so that
// unreachable hosts cost one timeout, not one each. With a deadline, tasks still running then
// are left behind (their results nullopt; they finish, or die with the event loop). An exception
// in a task is rethrown.
template <class T>
asio::awaitable<std::vector<std::optional<T>>> gather(
    std::vector<asio::awaitable<T>> tasks,
    std::optional<std::chrono::milliseconds> deadline = std::nullopt) {
  auto executor = co_await asio::this_coro::executor;
  struct State {
    explicit State(asio::any_io_executor ex, size_t n) : results(n), remaining(n), done(ex) {}
    std::vector<std::optional<T>> results;
    size_t remaining;
    std::exception_ptr error;
    asio::steady_timer done;
  };
  auto st = std::make_shared<State>(executor, tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    asio::co_spawn(executor, std::move(tasks[i]), [st, i](std::exception_ptr e, T value) {
      if (e && !st->error) st->error = e;
      if (!e) st->results[i] = std::move(value);
      if (--st->remaining == 0) st->done.cancel();
    });
  }
  const auto until = deadline ? asio::steady_timer::clock_type::now() + *deadline
                              : asio::steady_timer::time_point::max();
  boost::system::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  while (st->remaining > 0 && asio::steady_timer::clock_type::now() < until) {
    st->done.expires_at(until);
    co_await st->done.async_wait(token);
  }
  if (st->error) std::rethrow_exception(st->error);
  co_return st->results;
}

int64_t unix_micros_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

asio::awaitable<ContactAnswer> probe(client::Endpoint endpoint, client::ConnectionOptions options,
                                     std::shared_ptr<asio::ssl::context> tls) {
  ContactAnswer answer{endpoint.to_string(), std::nullopt};
  client::EventCallback no_events;
  auto conn = co_await client::Connection::connect(endpoint, options, tls, no_events);
  if (conn) {
    (*conn)->close("preflight: contact point answered");
  } else {
    answer.error = std::move(conn.error());
  }
  co_return answer;
}

// Every contact point at once, each given one connection timeout: a node that accepts TCP but
// never answers would otherwise cost one timeout per protocol version tried.
asio::awaitable<std::vector<ContactAnswer>> probe_all(client::SessionOptions session,
                                                      std::shared_ptr<asio::ssl::context> tls) {
  std::vector<asio::awaitable<ContactAnswer>> probes;
  for (const auto& endpoint : session.contact_points) {
    probes.push_back(probe(endpoint, session.connection, tls));
  }
  const auto timeout = session.connection.connect_timeout;
  auto answers = co_await gather(std::move(probes), timeout + kProbeGrace);
  std::vector<ContactAnswer> out;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i]) {
      out.push_back(std::move(*answers[i]));
      continue;
    }
    client::ClientError late;
    late.kind = client::ClientErrc::Timeout;
    late.message = fmt::format("no answer to the CQL handshake within {} ms", timeout.count());
    out.push_back(ContactAnswer{session.contact_points[i].to_string(), std::move(late)});
  }
  co_return out;
}

// The session tries contact points in order: those that answered first.
void answered_first(const std::vector<ContactAnswer>& answers,
                    std::vector<client::Endpoint>& contact_points) {
  std::stable_partition(contact_points.begin(), contact_points.end(),
                        [&](const client::Endpoint& e) {
                          for (const auto& a : answers) {
                            if (a.endpoint == e.to_string()) return !a.error.has_value();
                          }
                          return false;
                        });
}

bool any_answered(const std::vector<ContactAnswer>& contacts) {
  return std::any_of(contacts.begin(), contacts.end(), [](const ContactAnswer& c) {
    return !c.error || c.error->kind == client::ClientErrc::Auth;
  });
}

bool any_auth_error(const std::vector<ContactAnswer>& contacts) {
  return std::any_of(contacts.begin(), contacts.end(), [](const ContactAnswer& c) {
    return c.error && c.error->kind == client::ClientErrc::Auth;
  });
}

struct Reached {
  ClusterReach reach;
  SessionPtr session;
};

void describe_session(Reached& r) {
  const auto& s = *r.session;
  r.reach.connected = true;
  r.reach.version = s.version();
  r.reach.datacenter = s.local_dc();
  for (const auto& h : s.hosts()) {
    if (!h.local) continue;
    const std::string name =
        h.sni.empty() ? h.endpoint.to_string() : fmt::format("host id {}", h.sni);
    if (h.up && !h.pool.empty()) {
      r.reach.nodes_up.push_back(name);
    } else {
      r.reach.nodes_down.push_back(name);
    }
  }
}

// Each contact point on its own (to say which answered), then a session like the proxy's.
asio::awaitable<Reached> reach_cluster(PreflightCluster cluster) {
  Reached r;
  r.reach.name = cluster.name;
  r.reach.settings = cluster.settings;
  r.reach.setup_error = cluster.setup_error;
  r.reach.connect_timeout_ms = cluster.session.connection.connect_timeout.count();
  r.reach.credentials_given = !cluster.session.connection.username.empty();
  if (!cluster.setup_error.empty()) co_return r;
  if (cluster.session.sni_proxy) {
    r.reach.sni_proxy = cluster.session.sni_proxy->address.to_string();
  } else {
    std::shared_ptr<asio::ssl::context> tls = cluster.session.tls_context;
    if (!tls && cluster.session.connection.tls.enabled) {
      auto made = client::make_tls_context(cluster.session.connection.tls);
      if (!made) {
        r.reach.setup_error = made.error().message;
        co_return r;
      }
      tls = std::move(*made);
    }
    r.reach.contacts = co_await probe_all(cluster.session, tls);
    // Nothing to open a session with, or credentials the cluster refuses.
    if (!any_answered(r.reach.contacts) || any_auth_error(r.reach.contacts)) co_return r;
    answered_first(r.reach.contacts, cluster.session.contact_points);
  }
  auto session = co_await client::Session::connect(cluster.session);
  if (!session) {
    r.reach.session_error = std::move(session.error());
    co_return r;
  }
  r.session = std::move(*session);
  describe_session(r);
  const std::string cql = "SELECT release_version FROM system.local";
  auto local = co_await r.session->query(cql);
  if (local && local->rows() && !local->rows()->rows.empty()) {
    protocol::RowReader row(local->rows()->metadata, local->rows()->rows.front());
    r.reach.release_version = row.text("release_version").value_or("");
  }
  co_return r;
}

asio::awaitable<ClusterProtocols> protocols_of(std::string name, SessionPtr session) {
  ClusterProtocols out;
  out.name = std::move(name);
  out.negotiated = session->version();
  for (const auto& host : session->hosts()) {
    if (host.pool.empty()) continue;
    auto conn = host.pool.front();
    protocol::RequestBody options = protocol::OptionsMessage{};
    auto answer = co_await conn->async_request(std::move(options), asio::use_awaitable);
    if (answer) {
      if (auto* response = std::get_if<protocol::ResponseBody>(&answer->body)) {
        if (auto* supported = std::get_if<protocol::SupportedMessage>(response)) {
          out.supported = *supported;
        }
      }
    }
    break;
  }
  co_return out;
}

std::string keyspace_filter(const std::vector<std::string>& keyspaces) {
  if (keyspaces.empty()) return "";
  std::string out = " WHERE keyspace_name IN (";
  for (size_t i = 0; i < keyspaces.size(); ++i) {
    out += (i ? ", " : "") + migrate::quote_literal(keyspaces[i]);
  }
  return out + ")";
}

// default_time_to_live per table (Table::id()), from system_schema.tables or, on 2.x,
// system.schema_columnfamilies: migrate's Schema does not carry table options.
asio::awaitable<Result<std::map<std::string, int32_t>>> read_default_ttls(
    SessionPtr session, migrate::SchemaSource source, std::vector<std::string> keyspaces) {
  const bool legacy = source == migrate::SchemaSource::Legacy;
  const std::string table_column = legacy ? "columnfamily_name" : "table_name";
  const std::string cql = fmt::format(
      "SELECT keyspace_name, {}, default_time_to_live FROM {}{}", table_column,
      legacy ? "system.schema_columnfamilies" : "system_schema.tables", keyspace_filter(keyspaces));
  auto statement = client::Statement::simple(cql);
  auto rows = co_await session->fetch_all(std::move(statement), 1'000'000);
  if (!rows) co_return fail(Errc::Io, fmt::format("{} failed: {}", cql, rows.error().to_string()));
  std::map<std::string, int32_t> out;
  for (const auto& row : rows->rows) {
    protocol::RowReader r(rows->metadata, row);
    const auto id = r.text("keyspace_name").value_or("") + "." + r.text(table_column).value_or("");
    out[id] = r.int32("default_time_to_live").value_or(0);
  }
  co_return out;
}

asio::awaitable<Check> clock_of(std::string name, SessionPtr session, size_t samples_per_node) {
  const size_t nodes = std::max<size_t>(
      1, static_cast<size_t>(std::count_if(session->hosts().begin(), session->hosts().end(),
                                           [](const client::Host& h) { return h.up; })));
  const size_t samples = std::min<size_t>(30, std::max<size_t>(3, samples_per_node * nodes));
  std::map<std::string, HostClock> best;  // per node, the sample with the shortest round trip
  std::string error;
  const std::string cql = "SELECT now() FROM system.local";
  for (size_t i = 0; i < samples; ++i) {
    const int64_t before = unix_micros_now();
    auto answer = co_await session->query(cql);
    const int64_t after = unix_micros_now();
    if (!answer) {
      error = answer.error().to_string();
      continue;
    }
    const auto* rows = answer->rows();
    if (!rows || rows->rows.empty() || rows->rows.front().empty() || !rows->rows.front().front() ||
        rows->rows.front().front()->size() != 16) {
      error = "'" + cql + "' returned no timeuuid";
      continue;
    }
    Uuid now{};
    std::copy_n(rows->rows.front().front()->begin(), now.size(), now.begin());
    auto clock = host_clock(answer->host.to_string(), now, before, after);
    if (!clock) {
      error = "'" + cql + "' returned something other than a timeuuid";
      continue;
    }
    auto [it, inserted] = best.emplace(clock->host, *clock);
    if (!inserted && clock->round_trip < it->second.round_trip) it->second = *clock;
  }
  std::vector<HostClock> hosts;
  for (auto& [host, clock] : best) hosts.push_back(clock);
  co_return clock_check(name, hosts, error);
}

struct SchemaSection {
  std::optional<migrate::Schema> origin;
  std::optional<migrate::Schema> target;
  std::vector<Check> checks;
};

asio::awaitable<SchemaSection> schema_section(SessionPtr origin, SessionPtr target,
                                              std::vector<std::string> keyspaces) {
  SchemaSection out;
  if (origin) {
    auto schema = co_await migrate::read_schema(origin, keyspaces);
    if (schema) {
      out.origin = std::move(*schema);
    } else {
      out.checks.push_back({"schema", CheckResult::Fail, "origin: " + schema.error().message,
                            "the origin user needs SELECT on the system schema tables"});
    }
  }
  if (target) {
    auto schema = co_await migrate::read_schema(target, keyspaces);
    if (schema) {
      out.target = std::move(*schema);
    } else {
      out.checks.push_back({"schema", CheckResult::Fail, "target: " + schema.error().message,
                            "the target user needs SELECT on the system schema tables"});
    }
  }
  if (out.origin && out.target) {
    out.checks.push_back(partitioner_check(out.origin->partitioner, out.target->partitioner));
    for (auto& c : schema_checks(*out.origin, *out.target, keyspaces)) {
      out.checks.push_back(std::move(c));
    }
  }
  co_return out;
}

asio::awaitable<std::vector<Check>> features_section(SessionPtr origin, migrate::Schema schema,
                                                     std::vector<std::string> keyspaces) {
  std::vector<Check> out;
  auto ttls = co_await read_default_ttls(origin, schema.source, keyspaces);
  if (!ttls) {
    out.push_back({"table features", CheckResult::Warn,
                   "could not read the tables' default TTLs: " + ttls.error().message,
                   "check default_time_to_live of the tables by hand (DESCRIBE TABLE)"});
    ttls = std::map<std::string, int32_t>{};
  }
  for (auto& c : feature_checks(schema, *ttls)) out.push_back(std::move(c));
  co_return out;
}

}  // namespace

asio::awaitable<PreflightReport> run_preflight(PreflightCluster origin, PreflightCluster target,
                                               proxy::ProxyConfig config,
                                               PreflightOptions options) {
  PreflightReport report;
  std::vector<asio::awaitable<Reached>> clusters;
  clusters.push_back(reach_cluster(std::move(origin)));
  clusters.push_back(reach_cluster(std::move(target)));
  std::vector<Reached> reached;
  auto gathered = co_await gather(std::move(clusters));
  for (auto& r : gathered) reached.push_back(std::move(r.value()));
  SessionPtr o = reached[0].session;
  SessionPtr t = reached[1].session;
  for (const auto& r : reached) report.add(reach_checks(r.reach));

  if (o && t) {
    auto op = co_await protocols_of(reached[0].reach.name, o);
    auto tp = co_await protocols_of(reached[1].reach.name, t);
    report.add(protocol_check(op, tp, config));
  } else {
    report.note(
        "protocol versions, partitioners and the schema comparison need both clusters: not "
        "checked");
  }
  auto schemas = co_await schema_section(o, t, options.keyspaces);
  report.add(std::move(schemas.checks));
  if (o && schemas.origin) {
    auto features = co_await features_section(o, *schemas.origin, options.keyspaces);
    report.add(std::move(features));
  }
  for (const auto& r : reached) {
    if (!r.session) continue;
    auto clock = co_await clock_of(r.reach.name, r.session, options.clock_samples_per_node);
    report.add(std::move(clock));
  }
  if (o) o->close();
  if (t) t->close();
  // Blocking calls, each bounded by http_timeout: the sessions are closed by now.
  for (const auto& proxy : options.proxies) {
    report.add(proxy_checks(fetch_proxy_findings(proxy, options.http_timeout)));
  }
  co_return report;
}

}  // namespace zdm::ops
