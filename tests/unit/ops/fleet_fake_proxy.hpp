#pragma once
// A stand-in for one proxy's operations API (docs/operations-api.md) on an in-process
// admin::HttpServer bound to 127.0.0.1:0, with knobs to make it fail the ways a real one can:
// answer a PATCH with an error, never become ready after a change, see a concurrent change,
// stop answering. It records every request it receives.

#include <algorithm>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "admin/http_server.hpp"

namespace zdm::ops::testing {

struct RecordedRequest {
  std::string method;
  std::string path;
  std::string authorization;
  std::string actor;
  std::string if_match;
  std::string body;
};

// What a fake proxy serves and how it misbehaves; changed under FakeProxy::with.
struct FakeState {
  nlohmann::json config = {
      {"primary_cluster", "ORIGIN"},
      {"read_mode", "PRIMARY_ONLY"},
      {"read_comparison_rate", 0},
      {"replace_cql_functions", false},
      {"proxy_listen_port", 14002},
      {"target_contact_points", "10.1.0.1,10.1.0.2"},
      {"target_port", 9043},
      {"target_local_datacenter", "dc2"},
      {"target_secure_connect_bundle_path", ""},
      {"target_username", ""},
      {"target_tls_server_ca_path", ""},
      {"admin_token", "<redacted>"},
  };
  std::vector<std::string> live = {"primary_cluster", "read_mode", "read_comparison_rate",
                                   "replace_cql_functions"};
  int64_t generation = 1;
  std::string token = "secret";  // empty: read-only (PATCH answers 403)
  bool ready = true;
  std::string status = "UP";
  bool ready_after_change = true;         // false: a change leaves it DOWN
  std::optional<unsigned> fail_patch;     // a PATCH that changes something answers this
  bool fail_patch_once = false;           // ...only the first time
  bool concurrent_change = false;         // a PATCH finds the generation bumped by someone else
  std::function<void()> on_change_patch;  // called when a PATCH that changes something arrives
  int64_t requests_total = 0;
  int64_t requests_per_status = 0;  // requests_total grows by this at each GET status
  nlohmann::json status_extra = nlohmann::json::object();  // merged into GET /api/v1/status
  nlohmann::json clients = nlohmann::json::array();
  std::vector<RecordedRequest> requests;
};

class FakeProxy {
 public:
  FakeProxy() {
    admin::HttpServerOptions options;
    options.error_bodies = admin::ErrorBodies::Json;
    server_.emplace(io_, options);
    server_->route("GET", "/api/v1/config", [this](const admin::HttpRequest& r) {
      return locked(r, [this](const admin::HttpRequest&) { return get_config(); });
    });
    server_->route("PATCH", "/api/v1/config", [this](const admin::HttpRequest& r) {
      return locked(r, [this](const admin::HttpRequest& req) { return patch_config(req); });
    });
    server_->route("GET", "/api/v1/status", [this](const admin::HttpRequest& r) {
      return locked(r, [this](const admin::HttpRequest&) { return get_status(); });
    });
    server_->route("GET", "/api/v1/clients", [this](const admin::HttpRequest& r) {
      return locked(r, [this](const admin::HttpRequest&) {
        return admin::HttpResponse::json(200, nlohmann::json{{"clients", state_.clients}}.dump());
      });
    });
    auto started = server_->start();
    if (!started) throw std::runtime_error(started.error().to_string());
    port_ = server_->port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeProxy() {
    stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  FakeProxy(const FakeProxy&) = delete;
  FakeProxy& operator=(const FakeProxy&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Closes the listener: once this returns, connections are refused. Not from this fake's own
  // handlers (it waits for its io thread).
  void stop() {
    server_->stop();
    std::promise<void> closed;
    boost::asio::post(io_, [&closed] { closed.set_value(); });  // after the acceptor's close
    closed.get_future().wait();
  }

  template <class F>
  auto with(F&& f) {
    std::lock_guard lock(mutex_);
    return f(state_);
  }
  std::string text(const std::string& key) {
    return with([&](FakeState& s) {
      const auto& v = s.config[key];
      return v.is_string() ? v.get<std::string>() : v.dump();
    });
  }
  int64_t generation() {
    return with([](FakeState& s) { return s.generation; });
  }
  // The PATCHes that asked for a change (not the empty one that checks the token).
  std::vector<RecordedRequest> change_patches() {
    return with([](FakeState& s) {
      std::vector<RecordedRequest> out;
      for (const auto& r : s.requests) {
        if (r.method == "PATCH" && r.body != "{}") out.push_back(r);
      }
      return out;
    });
  }

 private:
  template <class F>
  admin::HttpResponse locked(const admin::HttpRequest& r, F&& f) {
    std::function<void()> hook;
    {
      std::lock_guard lock(mutex_);
      state_.requests.push_back(RecordedRequest{
          r.method, r.path, std::string(r.header("Authorization")),
          std::string(r.header("X-Zdm-Actor")), std::string(r.header("If-Match")), r.body});
      if (r.method == "PATCH" && r.body != "{}") hook = state_.on_change_patch;
    }
    if (hook) hook();  // outside the lock: it may stop or change another fake
    std::lock_guard lock(mutex_);
    return f(r);
  }

  static admin::HttpResponse error(unsigned status, const std::string& message,
                                   nlohmann::json extra = nlohmann::json::object()) {
    extra["error"] = message;
    return admin::HttpResponse::json(status, extra.dump());
  }

  admin::HttpResponse get_config() {
    return admin::HttpResponse::json(200, nlohmann::json{{"generation", state_.generation},
                                                         {"config", state_.config},
                                                         {"live", state_.live}}
                                              .dump());
  }

  admin::HttpResponse patch_config(const admin::HttpRequest& r) {
    auto& s = state_;
    if (s.token.empty()) return error(403, "this proxy has no admin_token: the API is read-only");
    if (std::string(r.header("Authorization")) != "Bearer " + s.token) {
      return error(401, "missing or wrong bearer token");
    }
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (!body.is_object()) return error(400, "the body is not a JSON object");
    if (!body.empty() && s.concurrent_change) ++s.generation;
    const std::string if_match(r.header("If-Match"));
    if (!if_match.empty() && if_match != std::to_string(s.generation)) {
      return error(409, "generation is " + std::to_string(s.generation),
                   {{"generation", s.generation}});
    }
    if (!body.empty() && s.fail_patch) {
      const unsigned status = *s.fail_patch;
      if (s.fail_patch_once) s.fail_patch.reset();
      return error(status, "injected failure", {{"setting", body.begin().key()}});
    }
    nlohmann::json changed = nlohmann::json::object();
    for (const auto& [key, value] : body.items()) {
      if (std::find(s.live.begin(), s.live.end(), key) == s.live.end()) {
        return error(400, "'" + key + "' cannot change live", {{"setting", key}});
      }
    }
    for (const auto& [key, value] : body.items()) {
      if (s.config[key] != value) {
        changed[key] = {{"old", s.config[key]}, {"new", value}};
        s.config[key] = value;
      }
    }
    if (!changed.empty()) {
      ++s.generation;
      if (!s.ready_after_change) {
        s.ready = false;
        s.status = "DOWN";
      }
    }
    return admin::HttpResponse::json(
        200,
        nlohmann::json{{"generation", s.generation}, {"changed", changed}, {"config", s.config}}
            .dump());
  }

  admin::HttpResponse get_status() {
    auto& s = state_;
    s.requests_total += s.requests_per_status;
    const bool target = s.config["primary_cluster"] == "TARGET";
    const bool async = s.config["read_mode"] == "DUAL_ASYNC_ON_SECONDARY";
    nlohmann::json j{
        {"version", "zdm 0.1.0"},
        {"instance", "127.0.0.1:14002"},
        {"generation", s.generation},
        {"phase", target ? 4 : (async ? 3 : 1)},
        {"primary_cluster", s.config["primary_cluster"]},
        {"read_mode", s.config["read_mode"]},
        {"ready", s.ready},
        {"status", s.status},
        {"draining", false},
        {"uptime_seconds", 12.5},
        {"clients", s.clients.size()},
        {"requests_total", s.requests_total},
        {"failed_writes", {{"origin", 0}, {"target", 0}, {"both", 0}}},
        {"failed_reads", {{"origin", 0}, {"target", 0}}},
        {"async_read_errors", 0},
        {"read_comparison", {{"compared", 0}, {"mismatches", 0}}},
        {"latency_p99_ms", {{"reads", 1.5}, {"writes", 2.5}}},
    };
    j.merge_patch(s.status_extra);
    return admin::HttpResponse::json(200, j.dump());
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::optional<admin::HttpServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::mutex mutex_;
  FakeState state_;
};

// A port on 127.0.0.1 where nothing listens (bound, then closed).
inline uint16_t refused_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace zdm::ops::testing
