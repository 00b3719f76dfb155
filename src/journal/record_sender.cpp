#include "journal/record_sender.hpp"

#include <map>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zdm::journal {

namespace asio = boost::asio;

std::string_view send_outcome_name(SendOutcome::Kind kind) {
  switch (kind) {
    case SendOutcome::Kind::Applied:
      return "applied";
    case SendOutcome::Kind::Transient:
      return "transient";
    case SendOutcome::Kind::Permanent:
      return "permanent";
  }
  return "unknown";
}

SendOutcome::Kind classify(protocol::ErrorCode code) {
  switch (code) {
    case protocol::ErrorCode::Invalid:
    case protocol::ErrorCode::SyntaxError:
    case protocol::ErrorCode::Unauthorized:
    case protocol::ErrorCode::ConfigError:
    case protocol::ErrorCode::AlreadyExists:
      return SendOutcome::Kind::Permanent;
    default:
      return SendOutcome::Kind::Transient;
  }
}

SendOutcome outcome_of(const client::ClientError& error, std::string_view what) {
  SendOutcome out;
  if (error.kind == client::ClientErrc::Server && error.server_code) {
    out.kind = classify(*error.server_code);
  } else if (error.kind == client::ClientErrc::InvalidArgument) {
    out.kind = SendOutcome::Kind::Permanent;  // the request cannot even be built
  } else {
    out.kind = SendOutcome::Kind::Transient;
  }
  out.error = fmt::format("{}: {}", what, error.to_string());
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;
using Done = std::function<void(SendOutcome)>;

struct KeyspaceSession {
  std::shared_ptr<client::Session> session;
  bool connecting = false;
  bool attempted = false;
  Clock::time_point last_attempt{};
  std::optional<client::ClientError> last_error;
  // Sends waiting for the connect.
  std::vector<std::pair<std::shared_ptr<const WriteRecord>, std::function<void(SendOutcome)>>>
      waiting;
};

bool connection_level(const client::ClientError& e) {
  return e.kind == client::ClientErrc::NoHost || e.kind == client::ClientErrc::Connect ||
         e.kind == client::ClientErrc::TlsHandshake;
}

}  // namespace

struct RecordSender::State : std::enable_shared_from_this<RecordSender::State> {
  asio::any_io_executor executor;
  client::SessionOptions base;
  std::chrono::milliseconds reconnect_interval;
  bool closed = false;
  bool healthy = false;
  std::map<std::string, KeyspaceSession> sessions;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const client::PreparedStatement>>
      prepared;

  std::string where() const {
    std::string out;
    for (const auto& e : base.contact_points) out += (out.empty() ? "" : ",") + e.to_string();
    if (base.sni_proxy) out = "SNI proxy " + base.sni_proxy->address.to_string();
    return out;
  }

  void start(std::shared_ptr<const WriteRecord> record, Done done) {
    if (closed) {
      done({SendOutcome::Kind::Transient, "the record sender is closed"});
      return;
    }
    KeyspaceSession& ks = sessions[record->keyspace];
    if (ks.session) {
      run(ks.session, std::move(record), std::move(done));
      return;
    }
    auto self = shared_from_this();
    if (ks.connecting) {
      ks.waiting.emplace_back(std::move(record), std::move(done));
      return;
    }
    const auto now = Clock::now();
    if (ks.attempted && now - ks.last_attempt < reconnect_interval && ks.last_error) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(reconnect_interval -
                                                                        (now - ks.last_attempt));
      SendOutcome out = outcome_of(*ks.last_error, fmt::format("cannot connect to {}", where()));
      out.error += fmt::format(" (next attempt in {} ms)", left.count());
      done(std::move(out));
      return;
    }
    ks.connecting = true;
    ks.attempted = true;
    ks.last_attempt = now;
    client::SessionOptions options = base;
    options.connection.keyspace = record->keyspace;
    std::string keyspace = record->keyspace;
    ks.waiting.emplace_back(std::move(record), std::move(done));
    asio::co_spawn(executor, client::Session::connect(std::move(options)),
                   [self, keyspace](std::exception_ptr e,
                                    client::ClientResult<std::shared_ptr<client::Session>> r) {
                     self->connected(keyspace, e, std::move(r));
                   });
  }

  void connected(const std::string& keyspace, std::exception_ptr e,
                 client::ClientResult<std::shared_ptr<client::Session>> r) {
    KeyspaceSession& ks = sessions[keyspace];
    ks.connecting = false;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        r = client::client_fail(client::ClientErrc::Connect, ex.what());
      }
    }
    if (r && closed) (*r)->close();
    if (r && !closed) {
      ks.session = std::move(*r);
      ks.last_error.reset();
      healthy = true;
    } else if (!r) {
      ks.last_error = r.error();
      healthy = false;
      spdlog::warn("journal replay: cannot connect to {}{}: {}", where(),
                   keyspace.empty() ? "" : " (keyspace " + keyspace + ")", r.error().to_string());
    }
    auto waiting = std::move(ks.waiting);
    ks.waiting.clear();
    auto session = ks.session;
    for (auto& [record, done] : waiting) {
      if (r && !closed) {
        run(session, std::move(record), std::move(done));
      } else if (!r) {
        done(outcome_of(r.error(), fmt::format("cannot connect to {}", where())));
      } else {
        done({SendOutcome::Kind::Transient, "the record sender is closed"});
      }
    }
  }

  void run(std::shared_ptr<client::Session> session, std::shared_ptr<const WriteRecord> record,
           Done done) {
    auto self = shared_from_this();
    asio::co_spawn(executor, execute(self, session, record),
                   [self, session, record, done = std::move(done)](std::exception_ptr e,
                                                                   SendOutcome out) mutable {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         out = {SendOutcome::Kind::Transient, ex.what()};
                       }
                     }
                     self->healthy = out.kind != SendOutcome::Kind::Transient;
                     done(std::move(out));
                   });
  }

  void drop_session(const std::string& keyspace, const std::shared_ptr<client::Session>& session,
                    const client::ClientError& error) {
    auto it = sessions.find(keyspace);
    if (it == sessions.end() || it->second.session != session) return;
    session->close();
    it->second.session.reset();
    it->second.attempted = true;
    it->second.last_attempt = Clock::now();
    it->second.last_error = error;
    for (auto p = prepared.begin(); p != prepared.end();) {
      p = p->first.first == keyspace ? prepared.erase(p) : std::next(p);
    }
  }

  static asio::awaitable<SendOutcome> execute(std::shared_ptr<State> self,
                                              std::shared_ptr<client::Session> session,
                                              std::shared_ptr<const WriteRecord> record) {
    if (record->statements.empty()) {
      co_return SendOutcome{SendOutcome::Kind::Permanent, "the record has no statement"};
    }
    std::vector<client::Statement> children;
    children.reserve(record->statements.size());
    for (const auto& s : record->statements) {
      if (!s.prepared) {
        children.push_back(client::Statement::simple(s.query, s.values));
        continue;
      }
      auto key = std::make_pair(record->keyspace, s.query);
      auto found = self->prepared.find(key);
      std::shared_ptr<const client::PreparedStatement> prepared;
      if (found != self->prepared.end()) {
        prepared = found->second;
      } else {
        std::string text = s.query;
        auto p = co_await session->prepare(std::move(text));
        if (!p) {
          if (connection_level(p.error())) self->drop_session(record->keyspace, session, p.error());
          co_return outcome_of(p.error(), fmt::format("PREPARE \"{}\"", s.query.substr(0, 120)));
        }
        prepared = *p;
        self->prepared[key] = prepared;
      }
      children.push_back(client::Statement::bound(prepared, s.values));
    }
    client::Statement statement =
        record->kind == RecordKind::Batch
            ? client::Statement::batch_of(std::move(children), record->batch_type)
            : std::move(children.front());
    statement.consistency = record->consistency;
    statement.timestamp = record->timestamp;
    auto r = co_await session->async_execute(std::move(statement), asio::use_awaitable);
    if (!r) {
      if (connection_level(r.error())) self->drop_session(record->keyspace, session, r.error());
      co_return outcome_of(r.error(), std::string(record_kind_name(record->kind)));
    }
    co_return SendOutcome{};
  }
};

RecordSender::RecordSender(asio::any_io_executor executor, client::SessionOptions base,
                           std::chrono::milliseconds reconnect_interval)
    : state_(std::make_shared<State>()) {
  state_->executor = std::move(executor);
  state_->base = std::move(base);
  state_->base.connection.keyspace.clear();
  state_->reconnect_interval = reconnect_interval;
}

RecordSender::~RecordSender() { close(); }

void RecordSender::send(const WriteRecord& record, std::function<void(SendOutcome)> done) {
  auto record_copy = std::make_shared<const WriteRecord>(record);
  asio::post(state_->executor, [state = state_, record_copy, done = std::move(done)]() mutable {
    state->start(std::move(record_copy), std::move(done));
  });
}

bool RecordSender::healthy() const { return state_->healthy; }

void RecordSender::close() {
  if (state_->closed) return;
  state_->closed = true;
  for (auto& [keyspace, ks] : state_->sessions) {
    if (ks.session) ks.session->close();
    ks.session.reset();
  }
  state_->prepared.clear();
}

}  // namespace zdm::journal
