#include "migrate/run_state.hpp"

#include <algorithm>

#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "migrate/cql_values.hpp"
#include "protocol/row_reader.hpp"

namespace zdm::migrate {

using protocol::RowReader;

namespace asio = boost::asio;
using protocol::BoundValue;

std::string_view range_status_name(RangeStatus s) {
  switch (s) {
    case RangeStatus::Pending:
      return "pending";
    case RangeStatus::Running:
      return "running";
    case RangeStatus::Done:
      return "done";
    case RangeStatus::Failed:
      return "failed";
  }
  return "pending";
}

RangeStatus range_status_from_name(std::string_view name) {
  if (name == "running") return RangeStatus::Running;
  if (name == "done") return RangeStatus::Done;
  if (name == "failed") return RangeStatus::Failed;
  return RangeStatus::Pending;
}

RunStore::RunStore(std::shared_ptr<client::Session> target, std::string worker_id,
                   protocol::Consistency consistency)
    : target_(std::move(target)), worker_id_(std::move(worker_id)), consistency_(consistency) {}

asio::awaitable<Result<client::QueryResult>> RunStore::run(std::string cql,
                                                           std::vector<BoundValue> values,
                                                           bool serial) {
  auto statement = client::Statement::simple(cql, std::move(values));
  statement.consistency = consistency_;
  statement.idempotence =
      serial ? client::Idempotence::NotIdempotent : client::Idempotence::Idempotent;
  auto r = co_await target_->async_execute(std::move(statement), asio::use_awaitable);
  if (!r) {
    co_return fail(Errc::Io, fmt::format("run state on target: {}: {}", cql.substr(0, 60),
                                         r.error().to_string()));
  }
  co_return std::move(*r);
}

asio::awaitable<Result<bool>> RunStore::applied(std::string cql, std::vector<BoundValue> values) {
  auto r = co_await run(std::move(cql), std::move(values), true);
  if (!r) co_return tl::unexpected(r.error());
  auto* rows = r->rows();
  if (!rows || rows->rows.empty()) co_return true;
  co_return RowReader(rows->metadata, rows->rows.front()).boolean("[applied]").value_or(false);
}

asio::awaitable<Result<void>> RunStore::ensure_tables() {
  size_t nodes = 0;
  for (const auto& h : target_->hosts()) {
    if (h.local) ++nodes;
  }
  const size_t rf = std::clamp<size_t>(nodes, 1, 3);
  const std::string dc = target_->local_dc().empty() ? "datacenter1" : target_->local_dc();
  const std::string statements[] = {
      fmt::format("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': "
                  "'NetworkTopologyStrategy', {}: {}}}",
                  kStateKeyspace, quote_literal(dc), rf),
      fmt::format("CREATE TABLE IF NOT EXISTS {}.runs (run_id text PRIMARY KEY, command text, "
                  "scope text, status text, started_ms bigint, write_timestamp bigint)",
                  kStateKeyspace),
      fmt::format("CREATE TABLE IF NOT EXISTS {}.ranges (run_id text, table_id text, range_start "
                  "text, range_end text, status text, owner text, lease_until_ms bigint, attempts "
                  "int, rows_read bigint, rows_written bigint, error text, PRIMARY KEY ((run_id), "
                  "table_id, range_start))",
                  kStateKeyspace)};
  // Some services (Astra) refuse CREATE KEYSPACE in CQL even with IF NOT EXISTS: create it only
  // when it is missing, and say how to get past a refusal.
  std::vector<BoundValue> name{bind_text(kStateKeyspace)};
  auto exists =
      co_await run("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?",
                   std::move(name), false);
  const bool have_keyspace = exists && exists->rows() && !exists->rows()->rows.empty();
  for (size_t i = have_keyspace ? 1 : 0; i < std::size(statements); ++i) {
    std::vector<BoundValue> none;
    auto r = co_await run(statements[i], std::move(none), false);
    if (!r && i == 0) {
      co_return fail(r.error().code,
                     fmt::format("{} (create keyspace {} on target yourself, e.g. in the Astra "
                                 "console, and run again)",
                                 r.error().message, kStateKeyspace));
    }
    if (!r) co_return tl::unexpected(r.error());
  }
  co_return Result<void>{};
}

namespace {

RunInfo read_run(const RowReader& r) {
  RunInfo run;
  run.run_id = r.text("run_id").value_or("");
  run.command = r.text("command").value_or("");
  run.scope = r.text("scope").value_or("");
  run.status = r.text("status").value_or("");
  run.started_ms = r.bigint("started_ms").value_or(0);
  run.write_timestamp = r.bigint("write_timestamp").value_or(0);
  return run;
}

}  // namespace

asio::awaitable<Result<std::optional<RunInfo>>> RunStore::find_run(std::string run_id) {
  std::vector<BoundValue> values{bind_text(run_id)};
  auto r = co_await run(fmt::format("SELECT * FROM {}.runs WHERE run_id = ?", kStateKeyspace),
                        std::move(values), false);
  if (!r) co_return tl::unexpected(r.error());
  auto* rows = r->rows();
  if (!rows || rows->rows.empty()) co_return std::optional<RunInfo>{};
  co_return read_run(RowReader(rows->metadata, rows->rows.front()));
}

asio::awaitable<Result<std::optional<RunInfo>>> RunStore::newest_unfinished(std::string command,
                                                                            std::string scope) {
  auto rows = co_await target_->fetch_all(
      client::Statement::simple(fmt::format("SELECT * FROM {}.runs", kStateKeyspace)), 1'000'000);
  if (!rows) co_return fail(Errc::Io, "reading zdm_migration.runs: " + rows.error().to_string());
  std::optional<RunInfo> best;
  for (const auto& row : rows->rows) {
    RunInfo info = read_run(RowReader(rows->metadata, row));
    if (info.command != command || info.scope != scope || info.status == "completed") continue;
    if (!best || info.started_ms > best->started_ms) best = info;
  }
  co_return best;
}

asio::awaitable<Result<bool>> RunStore::create_run(RunInfo info) {
  std::vector<BoundValue> values{bind_text(info.run_id),       bind_text(info.command),
                                 bind_text(info.scope),        bind_text(info.status),
                                 bind_bigint(info.started_ms), bind_bigint(info.write_timestamp)};
  co_return co_await applied(
      fmt::format("INSERT INTO {}.runs (run_id, command, scope, status, started_ms, "
                  "write_timestamp) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS",
                  kStateKeyspace),
      std::move(values));
}

asio::awaitable<Result<void>> RunStore::set_run_status(std::string run_id, std::string status) {
  std::vector<BoundValue> values{bind_text(status), bind_text(run_id)};
  auto r =
      co_await run(fmt::format("UPDATE {}.runs SET status = ? WHERE run_id = ?", kStateKeyspace),
                   std::move(values), false);
  if (!r) co_return tl::unexpected(r.error());
  co_return Result<void>{};
}

asio::awaitable<Result<void>> RunStore::add_ranges(std::string run_id,
                                                   std::vector<RangeRecord> ranges) {
  const std::string cql = fmt::format(
      "INSERT INTO {}.ranges (run_id, table_id, range_start, range_end, status, attempts, "
      "rows_read, rows_written) VALUES (?, ?, ?, ?, 'pending', 0, 0, 0)",
      kStateKeyspace);
  // Batches of one partition (the run): few round trips for thousands of ranges.
  for (size_t i = 0; i < ranges.size();) {
    std::string batch = "BEGIN UNLOGGED BATCH ";
    std::vector<BoundValue> values;
    size_t n = 0;
    for (; i < ranges.size() && n < 100; ++i, ++n) {
      batch += cql + "; ";
      values.push_back(bind_text(run_id));
      values.push_back(bind_text(ranges[i].table_id));
      values.push_back(bind_text(token_to_string(ranges[i].range.start)));
      values.push_back(bind_text(token_to_string(ranges[i].range.end)));
    }
    batch += "APPLY BATCH";
    auto r = co_await run(batch, std::move(values), false);
    if (!r) co_return tl::unexpected(r.error());
  }
  co_return Result<void>{};
}

asio::awaitable<Result<std::vector<RangeRecord>>> RunStore::ranges(std::string run_id) {
  std::vector<BoundValue> key{bind_text(run_id)};
  auto statement = client::Statement::simple(
      fmt::format("SELECT * FROM {}.ranges WHERE run_id = ?", kStateKeyspace), std::move(key));
  statement.consistency = consistency_;
  auto rows = co_await target_->fetch_all(std::move(statement), 10'000'000);
  if (!rows) co_return fail(Errc::Io, "reading zdm_migration.ranges: " + rows.error().to_string());
  std::vector<RangeRecord> out;
  for (const auto& row : rows->rows) {
    RowReader r(rows->metadata, row);
    RangeRecord rec;
    rec.table_id = r.text("table_id").value_or("");
    auto start = token_from_string(r.text("range_start").value_or(""));
    auto end = token_from_string(r.text("range_end").value_or(""));
    if (!start || !end) continue;
    rec.range = TokenRange{*start, *end};
    rec.status = range_status_from_name(r.text("status").value_or("pending"));
    rec.owner = r.text("owner").value_or("");
    rec.lease_until_ms = r.bigint("lease_until_ms").value_or(0);
    rec.attempts = r.int32("attempts").value_or(0);
    rec.rows_read = r.bigint("rows_read").value_or(0);
    rec.rows_written = r.bigint("rows_written").value_or(0);
    rec.error = r.text("error").value_or("");
    out.push_back(std::move(rec));
  }
  co_return out;
}

namespace {

std::vector<BoundValue> range_key(const std::string& run_id, const RangeRecord& range) {
  return {bind_text(run_id), bind_text(range.table_id),
          bind_text(token_to_string(range.range.start))};
}

}  // namespace

asio::awaitable<Result<bool>> RunStore::claim(std::string run_id, RangeRecord range, int64_t now_ms,
                                              int64_t lease_until_ms) {
  std::vector<BoundValue> values{bind_text(worker_id_), bind_bigint(lease_until_ms),
                                 bind_int(range.attempts + 1)};
  auto key = range_key(run_id, range);
  values.insert(values.end(), key.begin(), key.end());
  const std::string update = fmt::format(
      "UPDATE {}.ranges SET status = 'running', owner = ?, lease_until_ms = ?, attempts = ? "
      "WHERE run_id = ? AND table_id = ? AND range_start = ? ",
      kStateKeyspace);
  if (range.status == RangeStatus::Running) {
    values.push_back(bind_bigint(now_ms));
    co_return co_await applied(update + "IF status = 'running' AND lease_until_ms < ?",
                               std::move(values));
  }
  co_return co_await applied(update + "IF status = 'pending'", std::move(values));
}

asio::awaitable<Result<bool>> RunStore::renew(std::string run_id, RangeRecord range,
                                              int64_t lease_until_ms) {
  std::vector<BoundValue> values{bind_bigint(lease_until_ms)};
  auto key = range_key(run_id, range);
  values.insert(values.end(), key.begin(), key.end());
  values.push_back(bind_text(worker_id_));
  co_return co_await applied(
      fmt::format("UPDATE {}.ranges SET lease_until_ms = ? WHERE run_id = ? AND table_id = ? AND "
                  "range_start = ? IF owner = ?",
                  kStateKeyspace),
      std::move(values));
}

asio::awaitable<Result<bool>> RunStore::finish(std::string run_id, RangeRecord range) {
  std::vector<BoundValue> values{bind_text(range_status_name(range.status)),
                                 bind_bigint(range.rows_read), bind_bigint(range.rows_written),
                                 bind_text(range.error)};
  auto key = range_key(run_id, range);
  values.insert(values.end(), key.begin(), key.end());
  values.push_back(bind_text(worker_id_));
  co_return co_await applied(
      fmt::format("UPDATE {}.ranges SET status = ?, rows_read = ?, rows_written = ?, error = ? "
                  "WHERE run_id = ? AND table_id = ? AND range_start = ? IF owner = ?",
                  kStateKeyspace),
      std::move(values));
}

asio::awaitable<Result<bool>> RunStore::release(std::string run_id, RangeRecord range) {
  auto values = range_key(run_id, range);
  values.push_back(bind_text(worker_id_));
  co_return co_await applied(
      fmt::format("UPDATE {}.ranges SET status = 'pending', owner = null, lease_until_ms = 0 "
                  "WHERE run_id = ? AND table_id = ? AND range_start = ? IF owner = ?",
                  kStateKeyspace),
      std::move(values));
}

asio::awaitable<Result<void>> RunStore::split(std::string run_id, RangeRecord range, size_t parts) {
  auto pieces = split_range(range.range, parts);
  std::vector<RangeRecord> records;
  for (const auto& p : pieces) {
    if (p.start == range.range.start) continue;  // the first piece keeps the record's key
    records.push_back(RangeRecord{range.table_id, p, RangeStatus::Pending, "", 0, 0, 0, 0, ""});
  }
  auto add = co_await add_ranges(run_id, records);
  if (!add) co_return tl::unexpected(add.error());
  // The first piece reuses the failed range's row: its start is the row's key.
  auto values = std::vector<BoundValue>{bind_text(token_to_string(pieces.front().end))};
  auto key = range_key(run_id, range);
  values.insert(values.end(), key.begin(), key.end());
  auto r =
      co_await run(fmt::format("UPDATE {}.ranges SET range_end = ?, status = 'pending', owner = "
                               "null, attempts = 0, error = null WHERE run_id = ? AND "
                               "table_id = ? AND range_start = ?",
                               kStateKeyspace),
                   std::move(values), false);
  if (!r) co_return tl::unexpected(r.error());
  co_return Result<void>{};
}

}  // namespace zdm::migrate
