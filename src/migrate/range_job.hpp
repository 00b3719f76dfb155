#pragma once
// The work on one token range of one table: copying it (migrate) or comparing it on both
// clusters and repairing what differs (validate). Everything runs on the executor of the two
// sessions; memory is bounded by one page per side plus the writes in flight.

#include <atomic>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "client/session.hpp"
#include "migrate/flow_control.hpp"
#include "migrate/range_reader.hpp"
#include "migrate/row_writer.hpp"
#include "migrate/run_report.hpp"
#include "migrate/table_layout.hpp"

namespace zdm::migrate {

struct FixKinds {
  bool missing = false;
  bool mismatch = false;
  bool extra = false;
  bool any() const { return missing || mismatch || extra; }
};

struct JobSettings {
  protocol::Consistency read_consistency = protocol::Consistency::LocalQuorum;
  protocol::Consistency write_consistency = protocol::Consistency::LocalQuorum;
  int32_t page_size = 1000;
  size_t writes_in_flight = 128;                   // per range
  size_t write_bytes_in_flight = 8 * 1024 * 1024;  // per range: bounds memory with large cells
  size_t memory_budget = 64 * 1024 * 1024;         // pages and writes over all ranges
  size_t batch_size = 32;  // rows per UNLOGGED batch, under kMaxBatchBytes (1: no batches)
  // Partitions per batch: Cassandra warns in its log for each batch over
  // unlogged_batch_across_partitions_warn_threshold (default 10).
  size_t batch_partitions = 10;
  int64_t writetime_tolerance_us = 1'000'000;
  int32_t ttl_tolerance_s = 5;
  FixKinds fix;
  int64_t fallback_timestamp = 0;  // microseconds, for key-only rows and unknown writetimes
};

// What the jobs of a run share: sessions, limits, the diff file, the stop flag.
struct JobShared {
  std::shared_ptr<client::Session> origin;
  std::shared_ptr<client::Session> target;
  JobSettings settings;
  std::unique_ptr<RateLimiter> origin_rate;
  std::unique_ptr<RateLimiter> target_rate;
  std::unique_ptr<ByteBudget> memory;  // pages held and writes in flight, over all ranges
  std::ofstream* diff_file = nullptr;
  const std::atomic<bool>* stop = nullptr;
};

// One table's prepared reads and its writer, shared by the ranges of that table.
class TableJob {
 public:
  // Batches stay under Cassandra's default batch_size_warn_threshold (5 KiB), so they log no
  // warning; JobSettings::batch_partitions does the same for partitions.
  static constexpr size_t kMaxBatchBytes = 4 * 1024;

  TableJob(JobShared& shared, const Table& table, const Schema& origin_schema, Partitioner p);

  // Prepares the range and row reads on both clusters.
  boost::asio::awaitable<Result<void>> prepare();

  const Table& table() const { return table_; }
  const TableLayout& layout() const { return layout_; }
  TableCounts& counts() { return counts_; }

  enum class Outcome : uint8_t { Done, Interrupted };
  // `progress` is called after each page (to renew a lease); its counts go into `counts_`.
  boost::asio::awaitable<Result<Outcome>> copy(
      TokenRange range, RangeCounts& out, std::function<boost::asio::awaitable<void>()> progress);
  boost::asio::awaitable<Result<Outcome>> validate(
      TokenRange range, RangeCounts& out, std::function<boost::asio::awaitable<void>()> progress);
  // Validates just these rows (primary key cells as in a diff file's key_hex; null clustering
  // for a partition's static row).
  boost::asio::awaitable<Result<void>> validate_keys(
      std::vector<std::vector<std::optional<Bytes>>> keys, RangeCounts& out);

 private:
  struct Candidate;
  static constexpr size_t kSettleInFlight = 32;
  boost::asio::awaitable<Result<void>> settle(std::vector<Candidate>& candidates,
                                              int64_t started_us, RangeCounts& out);
  boost::asio::awaitable<Result<void>> settle_one(Candidate& c, int64_t started_us,
                                                  RangeCounts& out);
  boost::asio::awaitable<Result<std::optional<protocol::Row>>> read_row(
      bool origin, const protocol::Row& key_row);
  boost::asio::awaitable<Result<void>> write_all(StatementList statements);
  // Sends one write (or batch) once in-flight room allows; failures are counted in `in_flight`.
  boost::asio::awaitable<void> send(InFlight& in_flight, client::Statement statement, size_t bytes,
                                    std::optional<Token> routing);
  client::Statement make_batch(StatementList statements) const;
  boost::asio::awaitable<Result<void>> plan_copy(protocol::Row& row, std::vector<bool>& write,
                                                 StatementList& out, WriteCounts& wc);
  std::optional<Token> routing_token(const TokenRange& range) const;
  // Reads `range` from origin (side 0) or target (side 1).
  std::unique_ptr<RangeReader> range_reader(int side, const TokenRange& range) const;
  boost::asio::awaitable<Result<void>> plan_repair(protocol::Row& origin,
                                                   const protocol::Row& target,
                                                   const std::vector<size_t>& mismatched,
                                                   int64_t started_us, StatementList& out,
                                                   WriteCounts& wc);
  bool repaired(const std::optional<protocol::Row>& origin,
                const std::optional<protocol::Row>& target) const;
  void write_diff(std::string_view kind, const protocol::Row* origin, const protocol::Row* target,
                  const std::vector<size_t>& slots);

  ReadSettings read_settings() const {
    return ReadSettings{shared_.settings.read_consistency, shared_.settings.page_size};
  }

  JobShared& shared_;
  const Table& table_;
  TableLayout layout_;
  RowWriter writer_;
  TableCounts counts_;
  size_t row_bytes_hint_ = 0;  // average row size seen in this table's ranges
  bool has_lists_ = false;
  bool counters_ = false;
  // [0] origin, [1] target
  std::shared_ptr<const client::PreparedStatement> range_bounded_[2], range_open_[2];
  std::shared_ptr<const client::PreparedStatement> row_full_[2], row_partition_[2];
};

}  // namespace zdm::migrate
