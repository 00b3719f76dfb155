#pragma once
// RecordSender: sends WriteRecords to a cluster through the CQL client, as the proxy would have
// sent the original write: same statements, values, write timestamp and consistency. Used by
// `zdm journal replay` and by the proxy's journal replay (on its own io thread).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "client/session.hpp"
#include "journal/write_record.hpp"
#include "protocol/messages.hpp"

namespace zdm::journal {

struct SendOutcome {
  enum class Kind : uint8_t {
    Applied,    // the destination accepted the write
    Transient,  // try again later (connection, timeout, Unavailable, Overloaded, ...)
    Permanent,  // retrying will not change it (Invalid, SyntaxError, ...): set it aside
  } kind = Kind::Applied;
  std::string error;  // what failed and where; empty when applied
};
std::string_view send_outcome_name(SendOutcome::Kind kind);  // "applied", "transient", ...

// Permanent: Invalid, SyntaxError, Unauthorized, ConfigError, AlreadyExists (also when PREPARE
// fails with them). Transient: everything else.
SendOutcome::Kind classify(protocol::ErrorCode code);
// The outcome of a client-side failure (a server ERROR is classified by its code).
SendOutcome outcome_of(const client::ClientError& error, std::string_view what);

class RecordSender {
 public:
  // `base`: contact points, credentials, TLS and timeouts of the destination cluster (its
  // keyspace is ignored: one session per record keyspace). Lives on `executor`; call it only
  // from there.
  RecordSender(boost::asio::any_io_executor executor, client::SessionOptions base,
               std::chrono::milliseconds reconnect_interval = std::chrono::milliseconds(1000));
  ~RecordSender();
  RecordSender(const RecordSender&) = delete;
  RecordSender& operator=(const RecordSender&) = delete;

  // `done` runs exactly once, on the executor, never inline. Prepared statements are prepared
  // by text (cached per keyspace and text). One client::Session per keyspace, created lazily
  // with that keyspace ("" = none). While a session cannot be created, sends fail fast as
  // Transient and a new connect is tried at most once per reconnect_interval. The record's
  // timestamp and consistency are used as they are (serial consistency: see README).
  void send(const WriteRecord& record, std::function<void(SendOutcome)> done);
  bool healthy() const;  // the last send or connect succeeded
  void close();          // closes the sessions; sends in flight complete as Transient

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace zdm::journal
