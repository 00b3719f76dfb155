#pragma once
// One invocation of `zdm migrate` or `zdm validate`: reads and checks the schemas, finds or
// creates the run on target, starts the workers that claim and process ranges, shows progress,
// and returns the report and the exit code.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "client/session.hpp"
#include "common/metrics.hpp"
#include "migrate/range_job.hpp"
#include "migrate/run_report.hpp"
#include "migrate/run_state.hpp"

namespace zdm::migrate {

enum class Command : uint8_t { Migrate, Validate };
std::string_view command_name(Command c);

// Where a run stands, for whoever follows it from outside (`--report-to`: the proxies' status
// page). Counts are this process's; ranges count every worker of the run.
struct ProgressSnapshot {
  std::string command;  // "migrate", "validate"
  std::string run_id;
  uint64_t rows = 0;
  double rows_per_second = 0;
  uint64_t ranges_done = 0;
  uint64_t ranges_total = 0;
  uint64_t ranges_failed = 0;
  uint64_t differences = 0;  // validate: missing + mismatched + extra so far
  double eta_seconds = -1;   // -1: not known yet
  bool finished = false;
};

struct RunOptions {
  Command command = Command::Migrate;
  std::vector<std::string> keyspaces;
  std::vector<std::string> tables;  // "ks.t"
  size_t workers = 8;
  size_t parallel_tables = 2;
  size_t splits = 0;               // per table; 0: 16 per worker, at least 64
  double max_rows_per_second = 0;  // per side
  std::string run_id;
  bool resume = false;
  bool create_schema = false;
  bool schema_only = false;  // create (or check) the schema on target, copy nothing
  std::chrono::milliseconds lease{60000};
  int retries = 5;
  std::chrono::milliseconds retry_backoff{1000};
  JobSettings job;
  std::string diff_file;
  std::string keys_from;       // validate only the rows of this diff file (no ranges, no run state)
  bool progress_line = false;  // a \r-updated line (terminal) instead of periodic log lines
  std::chrono::milliseconds progress_interval{10000};
  // Called on the run's thread about every 2 s and once at the end; must return quickly.
  std::function<void(const ProgressSnapshot&)> on_progress;
};

struct RunOutcome {
  RunReport report;
  int exit_code = 0;
  std::string message;  // why it failed, for exit codes 1 and 2
};

class Runner {
 public:
  Runner(std::shared_ptr<client::Session> origin, std::shared_ptr<client::Session> target,
         RunOptions options, metrics::Registry* metrics);
  ~Runner();

  boost::asio::awaitable<RunOutcome> run();
  // Stop claiming ranges; the ranges in flight are released (SIGINT/SIGTERM).
  void request_stop() { stop_ = true; }

 private:
  struct State;
  boost::asio::awaitable<RunOutcome> prepare_and_run();
  boost::asio::awaitable<Result<void>> resolve_scope();
  boost::asio::awaitable<Result<void>> check_target_schema();
  Result<void> set_up_shared(boost::asio::any_io_executor executor);
  boost::asio::awaitable<RunOutcome> check_keys();
  boost::asio::awaitable<Result<void>> prepare_jobs();
  void start_workers(boost::asio::any_io_executor executor);
  boost::asio::awaitable<RunOutcome> conclude();
  boost::asio::awaitable<Result<void>> open_run();
  boost::asio::awaitable<Result<void>> plan_run();
  boost::asio::awaitable<void> worker(size_t index);
  boost::asio::awaitable<void> process(size_t job_index, RangeRecord range);
  boost::asio::awaitable<void> report_progress();
  std::string progress_text() const;
  ProgressSnapshot progress() const;

  std::shared_ptr<client::Session> origin_;
  std::shared_ptr<client::Session> target_;
  RunOptions options_;
  metrics::Registry* metrics_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<State> state_;
};

}  // namespace zdm::migrate
