#include "proxy/control/operations_api.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proxy/control/live_config.hpp"
#include "proxy/control/status_page.hpp"
#include "proxy/proxy_metrics.hpp"
#include "proxy/routing/prepared_cache.hpp"
#include "proxy/session/client_session.hpp"

namespace zdm::proxy {

namespace {

using Json = nlohmann::ordered_json;
using admin::HttpRequest;
using admin::HttpResponse;

constexpr size_t kMaxStatements = 1000;
constexpr size_t kMaxMigrations = 64;
constexpr auto kMigrationKept = std::chrono::minutes(10);

HttpResponse json_answer(unsigned status, const Json& body) {
  return HttpResponse::json(status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

HttpResponse error_answer(unsigned status, std::string message, const std::string& setting = {}) {
  Json body;
  body["error"] = std::move(message);
  if (!setting.empty()) body["setting"] = setting;
  return json_answer(status, body);
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// A setting's JSON value as the text the YAML loader takes (lists joined with commas).
std::optional<std::string> setting_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) return fmt::format("{}", value.get<double>());
  if (value.is_array()) {
    std::string out;
    for (const auto& element : value) {
      auto text = element.is_array() ? std::nullopt : setting_text(element);
      if (!text) return std::nullopt;
      if (!out.empty()) out += ",";
      out += *text;
    }
    return out;
  }
  return std::nullopt;
}

// Compares without stopping at the first difference (the length is not a secret worth hiding).
bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

uint64_t family_total(const metrics::FamilyBase* family, std::string_view label,
                      std::string_view value) {
  if (family == nullptr) return 0;
  metrics::FamilySnapshot snap;
  family->collect(snap);
  // collect() fills samples only; the label names are the family's.
  const auto& names = family->label_names();
  size_t index = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == label) index = i;
  }
  double total = 0;
  for (const auto& sample : snap.samples) {
    if (label.empty() ||
        (index < sample.label_values.size() && sample.label_values[index] == value)) {
      total += sample.value;
    }
  }
  return static_cast<uint64_t>(total);
}

struct HistogramView {
  std::vector<double> bounds;
  metrics::SampleSnapshot sample;
};

HistogramView read_histogram(const metrics::Histogram* h) {
  HistogramView v;
  if (h == nullptr) return v;
  v.bounds = h->bounds();
  h->snapshot(v.sample);
  return v;
}

}  // namespace

std::vector<std::string> nondeterministic_functions(std::string_view cql) {
  static constexpr std::string_view kNames[] = {"now",         "uuid",        "currenttimestamp",
                                                "currentdate", "currenttime", "currenttimeuuid"};
  std::vector<std::string> found;
  size_t i = 0;
  while (i < cql.size()) {
    const char c = cql[i];
    if (c == '\'') {  // string literal ('' escapes a quote)
      for (++i; i < cql.size(); ++i) {
        if (cql[i] == '\'' && !(i + 1 < cql.size() && cql[i + 1] == '\'')) break;
        if (cql[i] == '\'') ++i;
      }
      ++i;
    } else if (c == '"') {  // quoted identifier
      i = cql.find('"', i + 1);
      i = i == std::string_view::npos ? cql.size() : i + 1;
    } else if (c == '-' && i + 1 < cql.size() && cql[i + 1] == '-') {
      i = cql.find('\n', i);
      if (i == std::string_view::npos) i = cql.size();
    } else if (c == '/' && i + 1 < cql.size() && cql[i + 1] == '*') {
      i = cql.find("*/", i + 2);
      i = i == std::string_view::npos ? cql.size() : i + 2;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const size_t start = i;
      while (i < cql.size() && (std::isalnum(static_cast<unsigned char>(cql[i])) || cql[i] == '_'))
        ++i;
      std::string word(cql.substr(start, i - start));
      for (auto& ch : word) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      size_t j = i;
      while (j < cql.size() && std::isspace(static_cast<unsigned char>(cql[j]))) ++j;
      const bool call = j < cql.size() && cql[j] == '(';
      const bool known = std::find(std::begin(kNames), std::end(kNames), word) != std::end(kNames);
      if (call && known && std::find(found.begin(), found.end(), word) == found.end()) {
        found.push_back(std::move(word));
      }
    } else {
      ++i;
    }
  }
  return found;
}

double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<uint64_t>& cumulative) {
  if (cumulative.empty() || cumulative.back() == 0) return 0;
  const double rank = q * static_cast<double>(cumulative.back());
  for (size_t i = 0; i < cumulative.size(); ++i) {
    if (static_cast<double>(cumulative[i]) < rank) continue;
    if (i >= bounds.size()) return bounds.empty() ? 0 : bounds.back();  // the +Inf bucket
    const double lower = i == 0 ? 0 : bounds[i - 1];
    const double below = i == 0 ? 0 : static_cast<double>(cumulative[i - 1]);
    const double in_bucket = static_cast<double>(cumulative[i]) - below;
    if (in_bucket <= 0) return bounds[i];
    return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
  }
  return bounds.empty() ? 0 : bounds.back();
}

OperationsApi::OperationsApi(admin::HttpServer& server, LiveConfig& live, SessionContext& context,
                             const ProxyMetrics& metrics, const PreparedCache& prepared,
                             std::string token, StatusSource status)
    : live_(live),
      context_(context),
      metrics_(metrics),
      prepared_(prepared),
      token_(std::move(token)),
      status_(std::move(status)) {
  server.route("GET", "/api/v1/config", [this](const HttpRequest&) { return get_config(); });
  server.route("PATCH", "/api/v1/config",
               [this](const HttpRequest& request) { return patch_config(request); });
  server.route("GET", "/api/v1/status", [this](const HttpRequest&) { return get_status(); });
  server.route("GET", "/api/v1/clients", [this](const HttpRequest&) { return get_clients(); });
  server.route("GET", "/api/v1/statements",
               [this](const HttpRequest&) { return get_statements(); });
  server.route("PATCH", "/api/v1/migrations",
               [this](const HttpRequest& request) { return patch_migration(request); });
  server.route("GET", "/api/v1/migrations",
               [this](const HttpRequest&) { return get_migrations(); });
  server.route("GET", "/", [](const HttpRequest&) {
    return HttpResponse{200, "text/html; charset=utf-8", std::string(status_page_html())};
  });
}

HttpResponse OperationsApi::get_config() const {
  Json body;
  body["generation"] = live_.generation();
  body["config"] = Json::parse(describe_effective(*live_.current()));
  body["live"] = live_setting_names();
  return json_answer(200, body);
}

std::optional<HttpResponse> OperationsApi::refuse_unauthorized(const HttpRequest& request) const {
  if (token_.empty()) {
    return error_answer(403,
                        "the operations API is read-only on this proxy: start it with an admin "
                        "token (ZDM_ADMIN_TOKEN or ZDM_ADMIN_TOKEN_FILE) to change settings");
  }
  const std::string_view auth = request.header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() || auth.substr(0, kBearer.size()) != kBearer) {
    return error_answer(401, "changing settings needs 'Authorization: Bearer <admin token>'");
  }
  if (!constant_time_equal(auth.substr(kBearer.size()), token_)) {
    return error_answer(401, "wrong admin token");
  }
  return std::nullopt;
}

tl::expected<Json, HttpResponse> OperationsApi::authorized_json(const HttpRequest& request) const {
  if (auto refused = refuse_unauthorized(request)) return tl::unexpected(std::move(*refused));
  try {
    return Json::parse(request.body);
  } catch (const Json::parse_error& e) {
    return tl::unexpected(error_answer(400, fmt::format("the body is not JSON: {}", e.what())));
  }
}

HttpResponse OperationsApi::patch_config(const HttpRequest& request) {
  auto parsed = authorized_json(request);
  if (!parsed) return parsed.error();
  Json& body = *parsed;
  if (!body.is_object()) {
    return error_answer(400,
                        "the body must be a JSON object of settings, e.g. "
                        "{\"primary_cluster\": \"TARGET\"}");
  }
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& [key, value] : body.items()) {
    auto text = setting_text(value);
    if (!text) {
      return error_answer(400, fmt::format("{}: expected a string, number, boolean or list", key),
                          key);
    }
    settings.emplace_back(key, std::move(*text));
  }
  std::optional<uint64_t> expected;
  if (auto match = request.header("If-Match"); !match.empty()) {
    std::string digits(match);
    digits.erase(std::remove(digits.begin(), digits.end(), '"'), digits.end());
    try {
      size_t used = 0;
      expected = std::stoull(digits, &used);
      if (used != digits.size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return error_answer(400, "If-Match must be a configuration generation number");
    }
  }
  std::string actor(request.header("X-Zdm-Actor"));
  if (actor.empty())
    actor = request.peer.empty() ? "the operations API" : request.peer;
  else if (!request.peer.empty())
    actor += " from " + request.peer;
  auto result = live_.patch(settings, expected, actor);
  if (!result) {
    if (result.error().http_status == 409) {
      Json conflict;
      conflict["error"] = result.error().message;
      conflict["generation"] = live_.generation();
      return json_answer(409, conflict);
    }
    return error_answer(result.error().http_status, result.error().message, result.error().setting);
  }
  Json answer;
  answer["generation"] = result->generation;
  Json changed = Json::object();
  for (const auto& c : result->changes)
    changed[c.name] = {{"old", c.old_value}, {"new", c.new_value}};
  answer["changed"] = std::move(changed);
  answer["config"] = Json::parse(describe_effective(*live_.current()));
  return json_answer(200, answer);
}

HttpResponse OperationsApi::get_status() const {
  const auto routing = context_.routing().current();
  const auto readiness =
      status_.readiness ? status_.readiness() : admin::ReadinessReport::startup();
  Json body;
  body["version"] = status_.version;
  body["instance"] = status_.instance ? status_.instance() : std::string();
  body["generation"] = live_.generation();
  body["phase"] = routing->phase();
  body["primary_cluster"] = std::string(cluster_type_name(routing->primary_cluster));
  body["read_mode"] = std::string(read_mode_name(routing->read_mode));
  body["ready"] = readiness.status == admin::HealthStatus::Up;
  body["status"] = std::string(admin::health_status_name(readiness.status));
  body["draining"] = status_.draining ? status_.draining() : false;
  body["uptime_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  body["clients"] = context_.sessions.load();
  const auto reads_origin = read_histogram(metrics_.reads_origin_duration);
  const auto reads_target = read_histogram(metrics_.reads_target_duration);
  const auto writes = read_histogram(metrics_.writes_duration);
  body["requests_total"] =
      reads_origin.sample.count + reads_target.sample.count + writes.sample.count;
  // Who served them: reads by the cluster that answered the client, writes by both.
  body["requests"] = {{"reads_origin", reads_origin.sample.count},
                      {"reads_target", reads_target.sample.count},
                      {"writes", writes.sample.count}};
  auto value = [](const metrics::Counter* c) { return c ? c->value() : 0; };
  auto cluster = [](const std::optional<admin::ControlConnStatus>& c) -> Json {
    if (!c) return nullptr;
    return {{"addr", c->addr},
            {"failures", c->current_failure_count},
            {"status", std::string(admin::health_status_name(c->status))}};
  };
  body["clusters"] = {{"origin", cluster(readiness.origin)}, {"target", cluster(readiness.target)}};
  body["failed_writes"] = {{"origin", value(metrics_.failed_writes_origin)},
                           {"target", value(metrics_.failed_writes_target)},
                           {"both", value(metrics_.failed_writes_both)}};
  body["failed_reads"] = {{"origin", value(metrics_.failed_reads_origin)},
                          {"target", value(metrics_.failed_reads_target)}};
  body["async_read_errors"] = family_total(metrics_.async.requests_failed, "", "");
  const uint64_t matches = family_total(metrics_.read_comparisons, "result", label::kMatch);
  const uint64_t mismatches = family_total(metrics_.read_comparisons, "result", label::kMismatch);
  body["read_comparison"] = {{"compared", matches + mismatches}, {"mismatches", mismatches}};
  body["secondary_write_mode"] =
      std::string(secondary_write_mode_name(live_.current()->secondary_write_mode));
  if (const auto* writer = context_.secondary_writer()) {
    const auto w = writer->status();
    body["secondary_writes"] = {{"in_flight", w.in_flight},
                                {"applied", w.applied},
                                {"journaled", w.journaled},
                                {"set_aside", w.set_aside},
                                {"lost", w.lost},
                                {"replayed", w.replayed},
                                {"fallbacks", w.fallbacks},
                                {"journal_pending_records", w.journal.pending_records},
                                {"journal_pending_bytes", w.journal.pending_bytes},
                                {"journal_aside_records", w.journal.aside_records},
                                {"journal_corrupt_records", w.journal.corrupt_records},
                                {"lag_seconds", w.lag_seconds}};
  }
  // Reads are served by the primary: its histogram is the one the clients feel.
  const auto& reads = routing->primary_cluster == ClusterType::Origin ? reads_origin : reads_target;
  body["latency_p99_ms"] = {
      {"reads", 1000 * histogram_quantile(0.99, reads.bounds, reads.sample.cumulative)},
      {"writes", 1000 * histogram_quantile(0.99, writes.bounds, writes.sample.cumulative)}};
  return json_answer(200, body);
}

HttpResponse OperationsApi::get_clients() const {
  Json list = Json::array();
  for (const auto& c : context_.clients()) {
    Json entry;
    entry["address"] = c.address;
    entry["driver_name"] = c.driver_name;
    entry["driver_version"] = c.driver_version;
    entry["protocol_version"] = c.protocol_version;
    entry["keyspace"] = c.keyspace;
    entry["connected_at"] = iso8601(c.connected_at);
    entry["last_request_at"] = iso8601(c.last_request_at);
    entry["requests"] = c.requests;
    list.push_back(std::move(entry));
  }
  Json body;
  body["clients"] = std::move(list);
  return json_answer(200, body);
}

HttpResponse OperationsApi::get_statements() const {
  Json list = Json::array();
  for (const auto& entry : prepared_.recent(kMaxStatements)) {
    Json s;
    s["query"] = entry->query;
    s["keyspace"] = entry->keyspace;
    s["nondeterministic_functions"] = nondeterministic_functions(entry->query);
    list.push_back(std::move(s));
  }
  Json body;
  body["statements"] = std::move(list);
  return json_answer(200, body);
}

HttpResponse OperationsApi::patch_migration(const HttpRequest& request) {
  auto parsed = authorized_json(request);
  if (!parsed) return parsed.error();
  Json& body = *parsed;
  if (!body.is_object() || !body.contains("run_id") || !body["run_id"].is_string() ||
      !body.contains("command") || !body["command"].is_string()) {
    return error_answer(400, "a progress report is a JSON object with run_id and command");
  }
  body["from"] = request.peer;
  body["reported_at"] = iso8601(std::chrono::system_clock::now());
  const std::string key =
      body["command"].get<std::string>() + "/" + body["run_id"].get<std::string>();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(migrations_mu_);
  migrations_[key] = MigrationReport{body.dump(), now};
  while (migrations_.size() > kMaxMigrations) {
    auto oldest = migrations_.begin();
    for (auto it = migrations_.begin(); it != migrations_.end(); ++it) {
      if (it->second.received < oldest->second.received) oldest = it;
    }
    migrations_.erase(oldest);
  }
  return json_answer(200, Json{{"accepted", key}});
}

HttpResponse OperationsApi::get_migrations() const {
  const auto now = std::chrono::steady_clock::now();
  Json list = Json::array();
  std::lock_guard lock(migrations_mu_);
  for (auto it = migrations_.begin(); it != migrations_.end();) {
    if (now - it->second.received > kMigrationKept) {
      it = migrations_.erase(it);
      continue;
    }
    list.push_back(Json::parse(it->second.json));
    ++it;
  }
  return json_answer(200, Json{{"migrations", std::move(list)}});
}

}  // namespace zdm::proxy
