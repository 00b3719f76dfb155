#include "migrate/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "migrate/run_state.hpp"
#include "migrate/schema.hpp"

namespace zdm::migrate {

namespace asio = boost::asio;

std::string_view command_name(Command c) { return c == Command::Migrate ? "migrate" : "validate"; }

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::string new_run_id(Command c) {
  auto t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  return fmt::format("{}-{}-{:04x}", command_name(c), stamp, rd() & 0xffff);
}

// The keys of a --diff-file, by table id.
Result<std::map<std::string, std::vector<std::vector<std::optional<Bytes>>>>> read_keys_file(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::Io, fmt::format("--keys-from: cannot read '{}'", path));
  std::map<std::string, std::vector<std::vector<std::optional<Bytes>>>> out;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    auto bad = [&](std::string_view what) {
      return fail(Errc::Malformed, fmt::format("--keys-from {} line {}: {}", path, number, what));
    };
    if (!j.is_object() || !j.contains("keyspace") || !j.contains("table") ||
        !j.contains("key_hex") || !j["key_hex"].is_array() || !j["keyspace"].is_string() ||
        !j["table"].is_string()) {
      return bad("expected an object with keyspace, table and key_hex");
    }
    std::vector<std::optional<Bytes>> key;
    for (const auto& h : j["key_hex"]) {
      if (h.is_null()) {
        key.emplace_back();
        continue;
      }
      if (!h.is_string()) return bad("key_hex holds something other than hex strings");
      auto bytes = from_hex(h.get<std::string>());
      if (!bytes) return bad("key_hex: " + bytes.error().message);
      key.emplace_back(std::move(*bytes));
    }
    out[j["keyspace"].get<std::string>() + "." + j["table"].get<std::string>()].push_back(
        std::move(key));
  }
  if (out.empty())
    return fail(Errc::InvalidArgument, fmt::format("--keys-from: '{}' holds no keys", path));
  return out;
}

}  // namespace

struct Runner::State {
  std::vector<std::string> keyspaces;  // read from both clusters
  std::map<std::string, std::vector<std::vector<std::optional<Bytes>>>> keys;  // --keys-from
  Schema origin_schema;
  Schema target_schema;
  std::vector<const Table*> tables;
  Partitioner partitioner = Partitioner::Murmur3;
  JobShared shared;
  std::vector<std::unique_ptr<TableJob>> jobs;
  std::map<std::string, size_t> job_by_id;
  std::unique_ptr<RunStore> store;
  RunInfo run;
  std::deque<RangeRecord> queue;
  bool refreshing = false;
  std::ofstream diff;
  std::string fatal;  // the run state on target failed: nothing can be recorded
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  uint64_t ranges_total = 0;
  uint64_t ranges_done_before = 0;
  uint64_t ranges_done_now = 0;
  uint64_t ranges_failed_now = 0;
  size_t workers_running = 0;
  metrics::CounterFamily* rows_metric = nullptr;
  metrics::CounterFamily* errors_metric = nullptr;
  metrics::GaugeFamily* ranges_metric = nullptr;
};

Runner::Runner(std::shared_ptr<client::Session> origin, std::shared_ptr<client::Session> target,
               RunOptions options, metrics::Registry* metrics)
    : origin_(std::move(origin)),
      target_(std::move(target)),
      options_(std::move(options)),
      metrics_(metrics),
      state_(std::make_unique<State>()) {}

Runner::~Runner() = default;

asio::awaitable<RunOutcome> Runner::run() {
  RunOutcome outcome = co_await prepare_and_run();
  outcome.report.command = std::string(command_name(options_.command));
  outcome.report.run_id = state_->run.run_id;
  outcome.report.elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - state_->started).count();
  co_return outcome;
}

namespace {

RunOutcome usage_error(std::string message) {
  RunOutcome outcome;
  outcome.report.status = "failed";
  outcome.exit_code = 2;
  outcome.message = std::move(message);
  return outcome;
}

}  // namespace

asio::awaitable<RunOutcome> Runner::prepare_and_run() {
  // Every failure before the first range is bad usage, configuration or schema: exit 2.
  auto scope = co_await resolve_scope();
  if (!scope) co_return usage_error(scope.error().message);
  auto schema = co_await check_target_schema();
  if (!schema) co_return usage_error(schema.error().message);
  if (options_.schema_only) {
    // Target now has every table of the scope, as origin defines it; no run, no rows.
    RunOutcome outcome;
    outcome.report.status = "completed";
    spdlog::info(
        "schema: {} table(s) present on target as on origin; no rows copied (--schema-only)",
        state_->tables.size());
    co_return outcome;
  }
  auto executor = co_await asio::this_coro::executor;
  auto shared = set_up_shared(executor);
  if (!shared) co_return usage_error(shared.error().message);
  if (!options_.keys_from.empty()) co_return co_await check_keys();
  auto opened = co_await open_run();
  if (!opened) co_return usage_error(opened.error().message);
  auto jobs = co_await prepare_jobs();
  if (!jobs) co_return usage_error(jobs.error().message);
  start_workers(executor);
  co_await report_progress();
  co_return co_await conclude();
}

asio::awaitable<Result<void>> Runner::resolve_scope() {
  auto& st = *state_;
  // --keys-from: the tables of the file are the scope when none is given.
  if (!options_.keys_from.empty()) {
    auto read = read_keys_file(options_.keys_from);
    if (!read) co_return tl::unexpected(read.error());
    st.keys = std::move(*read);
    if (options_.keyspaces.empty() && options_.tables.empty()) {
      for (const auto& [id, k] : st.keys) options_.tables.push_back(id);
    }
  }
  // The keyspaces to read, then the tables in them.
  st.keyspaces = options_.keyspaces;
  for (const auto& t : options_.tables) {
    auto dot = t.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == t.size()) {
      co_return fail(Errc::InvalidArgument, fmt::format("--tables: '{}' is not keyspace.table", t));
    }
    st.keyspaces.push_back(t.substr(0, dot));
  }
  std::sort(st.keyspaces.begin(), st.keyspaces.end());
  st.keyspaces.erase(std::unique(st.keyspaces.begin(), st.keyspaces.end()), st.keyspaces.end());
  for (const auto& k : st.keyspaces) {
    if (is_system_keyspace(k)) {
      co_return fail(Errc::InvalidArgument,
                     fmt::format("keyspace '{}' is a system keyspace: it is never migrated", k));
    }
  }
  auto origin_schema = co_await read_schema(origin_, st.keyspaces);
  if (!origin_schema) co_return fail(Errc::Io, "origin: " + origin_schema.error().message);
  st.origin_schema = std::move(*origin_schema);
  for (const auto& k : st.keyspaces) {
    if (!st.origin_schema.keyspace(k)) {
      co_return fail(Errc::InvalidArgument,
                     fmt::format("keyspace '{}' does not exist on origin", k));
    }
  }
  std::set<std::string> wanted_tables(options_.tables.begin(), options_.tables.end());
  for (const auto& t : options_.tables) {
    auto dot = t.find('.');
    if (!st.origin_schema.table(t.substr(0, dot), t.substr(dot + 1))) {
      co_return fail(Errc::InvalidArgument, fmt::format("table {} does not exist on origin", t));
    }
  }
  for (const auto& t : st.origin_schema.tables) {
    const bool whole_keyspace = std::find(options_.keyspaces.begin(), options_.keyspaces.end(),
                                          t.keyspace) != options_.keyspaces.end();
    if (whole_keyspace || wanted_tables.count(t.id())) st.tables.push_back(&t);
  }
  if (st.tables.empty()) {
    co_return fail(Errc::InvalidArgument, "no table in scope (use --keyspaces or --tables)");
  }
  auto partitioner = partitioner_from_class(st.origin_schema.partitioner);
  if (!partitioner) {
    co_return fail(Errc::Unsupported,
                   fmt::format("origin's partitioner '{}' is not supported (Murmur3Partitioner, "
                               "RandomPartitioner)",
                               st.origin_schema.partitioner));
  }
  st.partitioner = *partitioner;
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Runner::check_target_schema() {
  auto& st = *state_;
  auto target_schema = co_await read_schema(target_, st.keyspaces);
  if (!target_schema) co_return fail(Errc::Io, "target: " + target_schema.error().message);
  st.target_schema = std::move(*target_schema);
  if (options_.create_schema) {
    for (const auto& cql :
         schema_creation_statements(st.origin_schema, st.tables, st.target_schema)) {
      spdlog::info("creating on target: {}", cql);
      auto r = co_await target_->query(cql);
      if (!r)
        co_return fail(Errc::Io,
                       fmt::format("target refused '{}': {}", cql, r.error().to_string()));
    }
    auto reread = co_await read_schema(target_, st.keyspaces);
    if (!reread) co_return fail(Errc::Io, "target: " + reread.error().message);
    st.target_schema = std::move(*reread);
  }
  auto problems = compare_schemas(st.tables, st.target_schema);
  if (!problems.empty()) {
    std::string message = "schema differences, nothing was copied:";
    for (const auto& p : problems)
      message += fmt::format("\n  {}.{}: {}", p.keyspace, p.table, p.message);
    co_return fail(Errc::InvalidArgument, message);
  }
  co_return Result<void>{};
}

Result<void> Runner::set_up_shared(asio::any_io_executor executor) {
  auto& st = *state_;
  st.shared.origin = origin_;
  st.shared.target = target_;
  st.shared.settings = options_.job;
  st.shared.stop = &stop_;
  st.shared.memory = std::make_unique<ByteBudget>(options_.job.memory_budget);
  if (options_.max_rows_per_second > 0) {
    st.shared.origin_rate = std::make_unique<RateLimiter>(executor, options_.max_rows_per_second);
    st.shared.target_rate = std::make_unique<RateLimiter>(executor, options_.max_rows_per_second);
  }
  if (!options_.diff_file.empty()) {
    st.diff.open(options_.diff_file, std::ios::out | std::ios::trunc);
    if (!st.diff) {
      return fail(Errc::Io, fmt::format("--diff-file: cannot write '{}'", options_.diff_file));
    }
    st.shared.diff_file = &st.diff;
  }
  return {};
}

// --keys-from: the rows of a diff file, table by table; no ranges, no run state.
asio::awaitable<RunOutcome> Runner::check_keys() {
  auto& st = *state_;
  RunOutcome outcome;
  for (const Table* t : st.tables) {
    st.jobs.push_back(std::make_unique<TableJob>(st.shared, *t, st.origin_schema, st.partitioner));
    auto prepared = co_await st.jobs.back()->prepare();
    if (!prepared) co_return usage_error(prepared.error().message);
    RangeCounts counts;
    auto checked = co_await st.jobs.back()->validate_keys(std::move(st.keys[t->id()]), counts);
    if (!checked) {
      outcome.report.status = "failed";
      outcome.exit_code = 1;
      outcome.message = checked.error().message;
      co_return outcome;
    }
    st.jobs.back()->counts().add(counts);
    outcome.report.tables.push_back(TableReport{t->keyspace, t->name, st.jobs.back()->counts()});
  }
  outcome.report.status = "completed";
  if (outcome.report.remaining_differences() > 0) {
    outcome.exit_code = 1;
    outcome.message = fmt::format("{} differences remain", outcome.report.remaining_differences());
  }
  co_return outcome;
}

asio::awaitable<Result<void>> Runner::prepare_jobs() {
  auto& st = *state_;
  for (const Table* t : st.tables) {
    st.job_by_id[t->id()] = st.jobs.size();
    st.jobs.push_back(std::make_unique<TableJob>(st.shared, *t, st.origin_schema, st.partitioner));
    auto prepared = co_await st.jobs.back()->prepare();
    if (!prepared) co_return tl::unexpected(prepared.error());
  }
  auto ranges = co_await st.store->ranges(st.run.run_id);
  if (!ranges) co_return tl::unexpected(ranges.error());
  for (const auto& r : *ranges) {
    auto it = st.job_by_id.find(r.table_id);
    if (it == st.job_by_id.end()) continue;
    auto& counts = st.jobs[it->second]->counts();
    ++counts.ranges_total;
    ++st.ranges_total;
    if (r.status == RangeStatus::Done) {
      ++counts.ranges_done_before;
      ++st.ranges_done_before;
    }
  }
  spdlog::info("{} run {}: {} tables, {} ranges ({} already done), {} workers",
               command_name(options_.command), st.run.run_id, st.tables.size(), st.ranges_total,
               st.ranges_done_before, options_.workers);
  if (metrics_) {
    st.rows_metric = &metrics_->counter_family("zdm_migrate_rows_total",
                                               "Rows read, written, or found different, by table",
                                               {"keyspace", "table", "op"});
    st.errors_metric = &metrics_->counter_family(
        "zdm_migrate_errors_total", "Range attempts that failed", {"keyspace", "table"});
    st.ranges_metric = &metrics_->gauge_family(
        "zdm_migrate_ranges", "Ranges of this run by status, as this process saw them", {"status"});
    st.ranges_metric->labels({"total"}).set(static_cast<int64_t>(st.ranges_total));
    st.ranges_metric->labels({"done"}).set(static_cast<int64_t>(st.ranges_done_before));
  }
  co_return Result<void>{};
}

void Runner::start_workers(asio::any_io_executor executor) {
  auto& st = *state_;
  st.workers_running = options_.workers;
  for (size_t i = 0; i < options_.workers; ++i) {
    asio::co_spawn(executor, worker(i), [this](std::exception_ptr e) {
      --state_->workers_running;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          state_->fatal = std::string("worker failed: ") + ex.what();
        }
      }
    });
  }
}

// The outcome, from the run's state on target (other processes may share the run).
asio::awaitable<RunOutcome> Runner::conclude() {
  auto& st = *state_;
  RunOutcome outcome;
  auto final_ranges = co_await st.store->ranges(st.run.run_id);
  size_t unfinished = 0, failed = 0;
  if (final_ranges) {
    for (const auto& r : *final_ranges) {
      if (!st.job_by_id.count(r.table_id)) continue;
      if (r.status == RangeStatus::Failed) ++failed;
      if (r.status == RangeStatus::Pending || r.status == RangeStatus::Running) ++unfinished;
    }
  }
  for (const auto& job : st.jobs) {
    outcome.report.tables.push_back(
        TableReport{job->table().keyspace, job->table().name, job->counts()});
  }
  outcome.exit_code = 1;
  if (!st.fatal.empty() || !final_ranges) {
    outcome.message = !st.fatal.empty() ? st.fatal : final_ranges.error().message;
    outcome.report.status = stop_ ? "interrupted" : "failed";
    co_return outcome;
  }
  if (unfinished > 0) {
    outcome.report.status = "interrupted";
    outcome.message = fmt::format(
        "interrupted with {} ranges not done; run again with --resume "
        "(or --run-id {}) to finish",
        unfinished, st.run.run_id);
    co_return outcome;
  }
  (void)co_await st.store->set_run_status(st.run.run_id, failed ? "failed" : "completed");
  if (failed > 0) {
    outcome.report.status = "failed";
    outcome.message = fmt::format(
        "{} ranges failed (errors in zdm_migration.ranges); run again "
        "with --resume to retry them, split finer",
        failed);
    co_return outcome;
  }
  outcome.report.status = "completed";
  outcome.exit_code = 0;
  if (options_.command == Command::Validate && outcome.report.remaining_differences() > 0) {
    outcome.exit_code = 1;
    outcome.message = fmt::format("{} differences remain", outcome.report.remaining_differences());
  }
  co_return outcome;
}

asio::awaitable<Result<void>> Runner::open_run() {
  auto& st = *state_;
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  st.store = std::make_unique<RunStore>(target_,
                                        fmt::format("{}:{}:{:04x}", host, getpid(), rd() & 0xffff),
                                        options_.job.write_consistency);
  auto ensured = co_await st.store->ensure_tables();
  if (!ensured)
    co_return fail(Errc::Io, "creating the run tables on target: " + ensured.error().message);
  std::vector<std::string> ids;
  for (const Table* t : st.tables) ids.push_back(t->id());
  const std::string command(command_name(options_.command));
  std::string scope;
  for (const auto& id : ids) scope += (scope.empty() ? "" : ",") + id;

  std::optional<RunInfo> existing;
  if (!options_.run_id.empty()) {
    auto found = co_await st.store->find_run(options_.run_id);
    if (!found) co_return tl::unexpected(found.error());
    existing = *found;
  } else if (options_.resume) {
    auto found = co_await st.store->newest_unfinished(command, scope);
    if (!found) co_return tl::unexpected(found.error());
    existing = *found;
    if (!existing)
      spdlog::info("--resume: no unfinished {} run of this scope; starting a new one", command);
  }
  if (existing) {
    if (existing->command != command || existing->scope != scope) {
      co_return fail(
          Errc::InvalidArgument,
          fmt::format("run {} is a {} run of {}; this command asks for a {} run of {}",
                      existing->run_id, existing->command, existing->scope, command, scope));
    }
    st.run = *existing;
  } else {
    st.run.run_id = options_.run_id.empty() ? new_run_id(options_.command) : options_.run_id;
    st.run.command = command;
    st.run.scope = scope;
    st.run.status = "planning";
    st.run.started_ms = now_ms();
    st.run.write_timestamp = now_ms() * 1000;
    auto created = co_await st.store->create_run(st.run);
    if (!created) co_return tl::unexpected(created.error());
    if (*created) co_return co_await plan_run();
    existing = RunInfo{};  // another process created it just now: join it
  }
  // Joining or resuming: wait for the creator to finish planning, then split failed ranges.
  for (int i = 0; i < 600; ++i) {
    auto found = co_await st.store->find_run(st.run.run_id);
    if (!found) co_return tl::unexpected(found.error());
    if (*found && (*found)->status != "planning") {
      st.run = **found;
      break;
    }
    co_await sleep_for(std::chrono::milliseconds(100));
  }
  if (st.run.status == "planning") {
    co_return fail(Errc::Io,
                   fmt::format("run {} is still being planned by another process", st.run.run_id));
  }
  auto ranges = co_await st.store->ranges(st.run.run_id);
  if (!ranges) co_return tl::unexpected(ranges.error());
  size_t split = 0;
  for (const auto& r : *ranges) {
    if (r.status != RangeStatus::Failed) continue;
    auto s = co_await st.store->split(st.run.run_id, r, 4);
    if (!s) co_return tl::unexpected(s.error());
    ++split;
  }
  if (split)
    spdlog::info("run {}: {} failed ranges split in four and pending again", st.run.run_id, split);
  if (st.run.status != "running") (void)co_await st.store->set_run_status(st.run.run_id, "running");
  co_return Result<void>{};
}

// The creator of a run writes its ranges: origin's ring split for every table, all pending.
asio::awaitable<Result<void>> Runner::plan_run() {
  auto& st = *state_;
  std::vector<TokenValue> ring;
  for (const auto& h : origin_->hosts()) {
    for (const auto& t : h.tokens) {
      if (auto v = token_from_string(t)) ring.push_back(*v);
    }
  }
  const size_t splits =
      options_.splits ? options_.splits : std::max<size_t>(64, 16 * options_.workers);
  auto ranges = split_ring(st.partitioner, ring, splits);
  std::vector<RangeRecord> records;
  for (const Table* t : st.tables) {
    for (const auto& r : ranges) {
      records.push_back(RangeRecord{t->id(), r, RangeStatus::Pending, "", 0, 0, 0, 0, ""});
    }
  }
  auto added = co_await st.store->add_ranges(st.run.run_id, records);
  if (!added) co_return tl::unexpected(added.error());
  auto status = co_await st.store->set_run_status(st.run.run_id, "running");
  if (!status) co_return tl::unexpected(status.error());
  co_return Result<void>{};
}

asio::awaitable<void> Runner::worker(size_t index) {
  auto& st = *state_;
  std::mt19937_64 rng(index * 7919 + static_cast<uint64_t>(now_ms()));
  while (!stop_ && st.fatal.empty()) {
    if (st.queue.empty()) {
      if (st.refreshing) {
        co_await sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      st.refreshing = true;
      auto ranges = co_await st.store->ranges(st.run.run_id);
      st.refreshing = false;
      if (!ranges) {
        st.fatal = ranges.error().message;
        break;
      }
      const int64_t now = now_ms();
      std::vector<RangeRecord> claimable;
      bool others_working = false;
      for (auto& r : *ranges) {
        if (!st.job_by_id.count(r.table_id)) continue;
        if (r.status == RangeStatus::Pending) claimable.push_back(r);
        if (r.status == RangeStatus::Running) {
          if (r.lease_until_ms < now) {
            claimable.push_back(r);
          } else {
            others_working = true;
          }
        }
      }
      // At most --parallel-tables tables at once: the first ones (in scope order) with ranges
      // still to do.
      std::set<size_t> unfinished_tables;
      for (const auto& r : *ranges) {
        if (!st.job_by_id.count(r.table_id)) continue;
        if (r.status == RangeStatus::Pending || r.status == RangeStatus::Running) {
          unfinished_tables.insert(st.job_by_id[r.table_id]);
        }
      }
      std::set<size_t> active;
      for (size_t t : unfinished_tables) {
        if (active.size() < std::max<size_t>(1, options_.parallel_tables)) active.insert(t);
      }
      std::erase_if(claimable,
                    [&](const RangeRecord& r) { return !active.count(st.job_by_id[r.table_id]); });
      if (claimable.empty()) {
        if (!others_working) break;  // everything is done or failed
        co_await sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      // Tables in order (a bounded number at once), ranges shuffled within a table so that
      // concurrent workers and processes read from different nodes.
      std::shuffle(claimable.begin(), claimable.end(), rng);
      std::stable_sort(claimable.begin(), claimable.end(),
                       [&](const RangeRecord& a, const RangeRecord& b) {
                         return st.job_by_id[a.table_id] < st.job_by_id[b.table_id];
                       });
      st.queue.assign(claimable.begin(), claimable.end());
      continue;
    }
    RangeRecord range = st.queue.front();
    st.queue.pop_front();
    const int64_t now = now_ms();
    auto claimed =
        co_await st.store->claim(st.run.run_id, range, now, now + options_.lease.count());
    if (!claimed) {
      st.fatal = claimed.error().message;
      break;
    }
    if (!*claimed) continue;  // another worker was first
    range.attempts += 1;
    range.owner = st.store->worker_id();
    co_await process(st.job_by_id[range.table_id], range);
  }
}

asio::awaitable<void> Runner::process(size_t job_index, RangeRecord range) {
  auto& st = *state_;
  TableJob& job = *st.jobs[job_index];
  auto last_renew = std::chrono::steady_clock::now();
  bool lost = false;
  std::function<asio::awaitable<void>()> progress = [&]() -> asio::awaitable<void> {
    auto now = std::chrono::steady_clock::now();
    if (now - last_renew < options_.lease / 3) co_return;
    last_renew = now;
    auto renewed =
        co_await st.store->renew(st.run.run_id, range, now_ms() + options_.lease.count());
    if (renewed && !*renewed) lost = true;
  };
  for (int attempt = 0;; ++attempt) {
    RangeCounts counts;
    // Not a conditional expression: GCC 12 destroys the result of a co_await in ?: twice.
    Result<TableJob::Outcome> result = TableJob::Outcome::Done;
    if (options_.command == Command::Migrate) {
      result = co_await job.copy(range.range, counts, progress);
    } else {
      result = co_await job.validate(range.range, counts, progress);
    }
    if (result && *result == TableJob::Outcome::Done) {
      range.status = RangeStatus::Done;
      range.rows_read = static_cast<int64_t>(counts.rows_read);
      range.rows_written = static_cast<int64_t>(counts.rows_written);
      range.error.clear();
      auto finished = co_await st.store->finish(st.run.run_id, range);
      if (!finished) {
        st.fatal = finished.error().message;
        co_return;
      }
      if (lost || !*finished) {
        spdlog::warn("{} range ({}, {}]: lease lost to another worker; its result is not counted",
                     job.table().id(), token_to_string(range.range.start),
                     token_to_string(range.range.end));
        co_return;
      }
      job.counts().add(counts);
      ++job.counts().ranges_done;
      ++st.ranges_done_now;
      if (st.rows_metric) {
        const auto& t = job.table();
        st.rows_metric->labels({t.keyspace, t.name, "read"}).inc(counts.rows_read);
        st.rows_metric->labels({t.keyspace, t.name, "written"}).inc(counts.rows_written);
        st.rows_metric->labels({t.keyspace, t.name, "missing"}).inc(counts.missing);
        st.rows_metric->labels({t.keyspace, t.name, "mismatched"}).inc(counts.mismatched);
        st.rows_metric->labels({t.keyspace, t.name, "extra"}).inc(counts.extra);
        st.rows_metric->labels({t.keyspace, t.name, "fixed"}).inc(counts.fixed);
        st.ranges_metric->labels({"done"}).inc();
      }
      co_return;
    }
    if (result) {  // interrupted: give the range back
      (void)co_await st.store->release(st.run.run_id, range);
      co_return;
    }
    if (st.errors_metric) st.errors_metric->labels({job.table().keyspace, job.table().name}).inc();
    spdlog::warn("{} range ({}, {}] attempt {} failed: {}", job.table().id(),
                 token_to_string(range.range.start), token_to_string(range.range.end), attempt + 1,
                 result.error().message);
    if (attempt + 1 >= options_.retries || stop_) {
      if (stop_) {
        (void)co_await st.store->release(st.run.run_id, range);
        co_return;
      }
      range.status = RangeStatus::Failed;
      range.error = result.error().message;
      (void)co_await st.store->finish(st.run.run_id, range);
      ++job.counts().ranges_failed;
      ++st.ranges_failed_now;
      if (st.ranges_metric) st.ranges_metric->labels({"failed"}).inc();
      co_return;
    }
    auto backoff = options_.retry_backoff * (1 << std::min(attempt, 5));
    co_await sleep_for(
        std::min<std::chrono::milliseconds>(backoff, std::chrono::milliseconds(30000)));
    co_await progress();
  }
}

ProgressSnapshot Runner::progress() const {
  const auto& st = *state_;
  ProgressSnapshot p;
  p.command = std::string(command_name(options_.command));
  p.run_id = st.run.run_id;
  for (const auto& job : st.jobs) {
    p.rows += job->counts().rows_read;
    p.differences += job->counts().missing + job->counts().mismatched + job->counts().extra;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
  p.rows_per_second = elapsed > 0 ? static_cast<double>(p.rows) / elapsed : 0.0;
  p.ranges_done = st.ranges_done_before + st.ranges_done_now;
  p.ranges_failed = st.ranges_failed_now;
  p.ranges_total = st.ranges_total;
  const uint64_t finished = p.ranges_done + p.ranges_failed;
  if (st.ranges_done_now > 0 && st.ranges_total > finished) {
    const double per_range =
        elapsed / static_cast<double>(st.ranges_done_now + st.ranges_failed_now);
    p.eta_seconds = per_range * static_cast<double>(st.ranges_total - finished);
  } else if (st.ranges_total == finished) {
    p.eta_seconds = 0;
  }
  p.finished = st.workers_running == 0;
  return p;
}

std::string Runner::progress_text() const {
  const auto& st = *state_;
  uint64_t rows = 0, differences = 0;
  for (const auto& job : st.jobs) {
    rows += job->counts().rows_read;
    differences += job->counts().missing + job->counts().mismatched + job->counts().extra;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
  const uint64_t done = st.ranges_done_before + st.ranges_done_now + st.ranges_failed_now;
  std::string eta = "?";
  if (st.ranges_done_now > 0 && st.ranges_total > done) {
    const double per_range =
        elapsed / static_cast<double>(st.ranges_done_now + st.ranges_failed_now);
    eta = fmt::format("{:.0f}s", per_range * static_cast<double>(st.ranges_total - done));
  } else if (st.ranges_total == done) {
    eta = "0s";
  }
  std::string text =
      fmt::format("{}: {} rows, {:.0f} rows/s, ranges {}/{}", command_name(options_.command), rows,
                  elapsed > 0 ? static_cast<double>(rows) / elapsed : 0.0, done, st.ranges_total);
  if (st.ranges_failed_now) text += fmt::format(" ({} failed)", st.ranges_failed_now);
  // The tables in progress (a bounded number are at once), each with its ranges done.
  size_t shown = 0;
  for (const auto& job : st.jobs) {
    const auto& c = job->counts();
    const uint64_t finished = c.ranges_done_before + c.ranges_done + c.ranges_failed;
    if (finished == 0 || finished >= c.ranges_total) continue;
    if (shown++ == 3) {
      text += ", ...";
      break;
    }
    text += fmt::format(", {} {}/{}", job->table().id(), finished, c.ranges_total);
  }
  if (options_.command == Command::Validate) text += fmt::format(", {} differences", differences);
  return text + ", ETA " + eta;
}

asio::awaitable<void> Runner::report_progress() {
  auto& st = *state_;
  auto last_log = std::chrono::steady_clock::now();
  auto last_report = last_log;
  while (st.workers_running > 0) {
    co_await sleep_for(std::chrono::milliseconds(options_.progress_line ? 500 : 100));
    if (options_.on_progress &&
        std::chrono::steady_clock::now() - last_report >= std::chrono::seconds(2)) {
      last_report = std::chrono::steady_clock::now();
      options_.on_progress(progress());
    }
    if (options_.progress_line) {
      std::fprintf(stderr, "\r%s\033[K", progress_text().c_str());
    } else if (std::chrono::steady_clock::now() - last_log >= options_.progress_interval) {
      last_log = std::chrono::steady_clock::now();
      spdlog::info("{}", progress_text());
    }
  }
  if (options_.progress_line) std::fprintf(stderr, "\r%s\033[K\n", progress_text().c_str());
  spdlog::info("{}", progress_text());
  if (options_.on_progress) options_.on_progress(progress());
}

}  // namespace zdm::migrate
