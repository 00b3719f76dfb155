#pragma once
// A run's state, kept on target in the zdm_migration keyspace so that a run survives its
// processes: `runs` (one row per run: command, scope, status) and `ranges` (one row per token
// range of each table: status, owner, lease, attempts, counts). Workers claim a range with a
// lightweight transaction (Cassandra's Paxos; no coordinator of ours), renew the lease while they
// work, and take over a range whose lease expired.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "client/session.hpp"
#include "migrate/token_range.hpp"

namespace zdm::migrate {

inline constexpr const char* kStateKeyspace = "zdm_migration";

enum class RangeStatus : uint8_t { Pending, Running, Done, Failed };
std::string_view range_status_name(RangeStatus s);  // "pending", ...
RangeStatus range_status_from_name(std::string_view name);

struct RangeRecord {
  std::string table_id;  // "ks.t"
  TokenRange range;
  RangeStatus status = RangeStatus::Pending;
  std::string owner;
  int64_t lease_until_ms = 0;
  int32_t attempts = 0;
  int64_t rows_read = 0;
  int64_t rows_written = 0;
  std::string error;
};

struct RunInfo {
  std::string run_id;
  std::string command;  // "migrate", "validate"
  std::string scope;    // the sorted table ids
  std::string status;   // "planning", "running", "completed", "failed"
  int64_t started_ms = 0;
  int64_t write_timestamp = 0;  // microseconds: what key-only rows are written with
};

class RunStore {
 public:
  RunStore(std::shared_ptr<client::Session> target, std::string worker_id,
           protocol::Consistency consistency);

  const std::string& worker_id() const { return worker_id_; }

  // Creates the keyspace (replication factor min(3, target's nodes)) and tables when missing.
  boost::asio::awaitable<Result<void>> ensure_tables();
  boost::asio::awaitable<Result<std::optional<RunInfo>>> find_run(std::string run_id);
  boost::asio::awaitable<Result<std::optional<RunInfo>>> newest_unfinished(std::string command,
                                                                           std::string scope);
  // INSERT ... IF NOT EXISTS: true when this process created the run.
  boost::asio::awaitable<Result<bool>> create_run(RunInfo run);
  boost::asio::awaitable<Result<void>> set_run_status(std::string run_id, std::string status);
  boost::asio::awaitable<Result<void>> add_ranges(std::string run_id,
                                                  std::vector<RangeRecord> ranges);
  boost::asio::awaitable<Result<std::vector<RangeRecord>>> ranges(std::string run_id);

  // Claims a pending range, or a running one whose lease expired before `now_ms`.
  boost::asio::awaitable<Result<bool>> claim(std::string run_id, RangeRecord range, int64_t now_ms,
                                             int64_t lease_until_ms);
  boost::asio::awaitable<Result<bool>> renew(std::string run_id, RangeRecord range,
                                             int64_t lease_until_ms);
  // Done or failed, with counts; only while this worker owns it.
  boost::asio::awaitable<Result<bool>> finish(std::string run_id, RangeRecord range);
  // Back to pending (interrupted work).
  boost::asio::awaitable<Result<bool>> release(std::string run_id, RangeRecord range);
  // Splits a failed range: its row keeps the first part, the other parts are added; all pending.
  boost::asio::awaitable<Result<void>> split(std::string run_id, RangeRecord range, size_t parts);

 private:
  boost::asio::awaitable<Result<client::QueryResult>> run(std::string cql,
                                                          std::vector<protocol::BoundValue> values,
                                                          bool serial);
  boost::asio::awaitable<Result<bool>> applied(std::string cql,
                                               std::vector<protocol::BoundValue> values);

  std::shared_ptr<client::Session> target_;
  std::string worker_id_;
  protocol::Consistency consistency_;
};

}  // namespace zdm::migrate
