// zdm journal status|inspect|replay: the write journal of the proxy's async secondary writes
// (docs/journal.md). status and inspect only read (a live proxy may hold the directory); replay
// takes the directory's lock and sends the pending records to a cluster, in order.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cluster_settings.hpp"
#include "commands.hpp"
#include "journal/journal.hpp"
#include "journal/record_sender.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::cli {
namespace {

namespace asio = boost::asio;
using journal::CorruptRecord;
using journal::JournalStats;
using journal::WriteRecord;

constexpr int kExitRemains = 1;
constexpr int kExitBadUsage = 2;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "zdm journal: %s\n", message.c_str());
  return kExitBadUsage;
}

nlohmann::json record_json(const WriteRecord& r) {
  nlohmann::json statements = nlohmann::json::array();
  for (const auto& s : r.statements) {
    statements.push_back({{"query", s.query},
                          {"prepared", s.prepared},
                          {"prepared_id", to_hex(s.prepared_id)},
                          {"values", s.values.size()}});
  }
  nlohmann::json j = {{"kind", journal::record_kind_name(r.kind)},
                      {"cluster", r.cluster},
                      {"keyspace", r.keyspace},
                      {"consistency", protocol::consistency_name(r.consistency)},
                      {"timestamp", r.timestamp},
                      {"created_ms", r.created_ms},
                      {"reason", r.reason},
                      {"statements", statements}};
  if (r.kind == journal::RecordKind::Batch) {
    j["batch_type"] = protocol::batch_type_name(r.batch_type);
  }
  return j;
}

std::string corrupt_line(const CorruptRecord& c) {
  return c.segment == 0
             ? fmt::format("CORRUPT aside.zdmj offset {}: {}", c.offset, c.reason)
             : fmt::format("CORRUPT segment {} offset {}: {}", c.segment, c.offset, c.reason);
}

// ---------------------------------------------------------------------------------------------
// status

struct StatusOptions {
  std::string dir;
  bool json = false;
};

int run_status(const StatusOptions& o) {
  std::vector<CorruptRecord> corrupt;
  auto stats = journal::inspect_stats(o.dir, &corrupt);
  if (!stats) return usage_error(stats.error().message);
  auto holder = journal::journal_lock_holder(o.dir);
  std::optional<double> age_s;
  if (stats->oldest_pending_created_ms) {
    age_s = static_cast<double>(now_ms() - *stats->oldest_pending_created_ms) / 1000.0;
  }
  if (o.json) {
    nlohmann::json j = {{"dir", o.dir},
                        {"pending_records", stats->pending_records},
                        {"pending_bytes", stats->pending_bytes},
                        {"segments", stats->segments},
                        {"aside_records", stats->aside_records},
                        {"corrupt_records", stats->corrupt_records},
                        {"oldest_pending_created_ms", nullptr},
                        {"oldest_pending_age_s", nullptr},
                        {"locked_by_pid", nullptr}};
    if (stats->oldest_pending_created_ms) {
      j["oldest_pending_created_ms"] = *stats->oldest_pending_created_ms;
      j["oldest_pending_age_s"] = *age_s;
    }
    if (holder) j["locked_by_pid"] = *holder;
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("journal %s\n", o.dir.c_str());
  std::printf("  pending:  %llu records, %llu bytes in %llu segment(s)\n",
              static_cast<unsigned long long>(stats->pending_records),
              static_cast<unsigned long long>(stats->pending_bytes),
              static_cast<unsigned long long>(stats->segments));
  if (age_s) std::printf("  oldest:   %.1f s old\n", *age_s);
  std::printf("  aside:    %llu records (zdm journal inspect --aside)\n",
              static_cast<unsigned long long>(stats->aside_records));
  std::printf("  corrupt:  %llu damaged region(s)\n",
              static_cast<unsigned long long>(stats->corrupt_records));
  for (const auto& c : corrupt) std::printf("    %s\n", corrupt_line(c).c_str());
  if (holder) {
    std::printf("  in use by pid %ld (a proxy appends and replays it)\n", *holder);
  } else {
    std::printf("  not in use (zdm journal replay may take it)\n");
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// inspect

struct InspectOptions {
  std::string dir;
  size_t limit = 100;
  bool aside = false;
  bool json = false;
};

int run_inspect(const InspectOptions& o) {
  std::vector<CorruptRecord> corrupt;
  size_t shown = 0;
  size_t total = 0;
  auto print = [&](const WriteRecord& r, std::optional<journal::JournalPosition> at) {
    ++total;
    if (shown >= o.limit) return;
    ++shown;
    if (o.json) {
      nlohmann::json j = record_json(r);
      if (at) {
        j["segment"] = at->segment;
        j["offset"] = at->offset;
      }
      std::printf("%s\n", j.dump().c_str());
    } else if (at) {
      std::printf("%llu:%llu %s\n", static_cast<unsigned long long>(at->segment),
                  static_cast<unsigned long long>(at->offset), journal::describe_record(r).c_str());
    } else {
      std::printf("%s\n", journal::describe_record(r).c_str());
    }
  };
  if (o.aside) {
    auto records = journal::read_aside_file(o.dir, &corrupt);
    if (!records) return usage_error(records.error().message);
    for (const auto& r : *records) print(r, std::nullopt);
  } else {
    auto visited = journal::for_each_pending(
        o.dir, [&](const journal::JournalEntry& e) { print(e.record, e.position); }, &corrupt);
    if (!visited) return usage_error(visited.error().message);
  }
  for (const auto& c : corrupt) {
    if (o.json) {
      std::printf("%s\n", nlohmann::json({{"corrupt", true},
                                          {"segment", c.segment},
                                          {"offset", c.offset},
                                          {"reason", c.reason}})
                              .dump()
                              .c_str());
    } else {
      std::printf("%s\n", corrupt_line(c).c_str());
    }
  }
  if (!o.json) {
    std::fprintf(stderr, "%zu %s record(s)%s, %zu damaged region(s)\n", total,
                 o.aside ? "set-aside" : "pending",
                 shown < total ? fmt::format(" ({} shown, --limit)", shown).c_str() : "",
                 corrupt.size());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// replay

struct ReplayOptions {
  std::string dir;
  std::string to;
  std::string cluster;  // "", TARGET or ORIGIN
  std::string config_path;
  std::string username;
  std::string password;
  double rate = 5000;
  int request_timeout_ms = 12000;
  int progress_s = 5;
};

struct ReplayCounts {
  uint64_t replayed = 0;
  uint64_t set_aside = 0;
  uint64_t other_cluster = 0;
};

asio::awaitable<journal::SendOutcome> send_record(journal::RecordSender& sender,
                                                  const WriteRecord& record) {
  auto initiate = [&sender, &record](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    sender.send(record, [shared](journal::SendOutcome o) { (*shared)(std::move(o)); });
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>,
                                          void(journal::SendOutcome)>(initiate,
                                                                      asio::use_awaitable);
}

int run_replay(const ReplayOptions& o) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("zdm journal"));
  if (o.to.empty() && o.config_path.empty()) {
    return usage_error("replay: give --to HOST[:PORT][,HOST...] (or --config)");
  }
  if (!o.cluster.empty() && o.cluster != "TARGET" && o.cluster != "ORIGIN") {
    return usage_error("--cluster: TARGET or ORIGIN, not '" + o.cluster + "'");
  }
  if (!(o.rate > 0)) return usage_error("--rate: records per second, more than 0");
  // The destination's settings as the proxy reads them (credentials, TLS), --to over them.
  const bool origin = o.cluster == "ORIGIN";
  auto loaded = load_cluster_config(o.config_path, o.to, o.to);
  if (!loaded) return usage_error("invalid configuration: " + loaded.error().message);
  SessionDefaults defaults;
  defaults.request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
  defaults.driver_name = "zdm-journal-replay";
  auto settings = session_options(
      *loaded, origin ? proxy::ClusterType::Origin : proxy::ClusterType::Target, defaults);
  if (!settings) return usage_error(settings.error().message);
  if (!o.username.empty()) settings->session.connection.username = o.username;
  if (!o.password.empty()) settings->session.connection.password = o.password;
  settings->session.discover_peers = true;
  const char* which = origin ? "ORIGIN" : "TARGET";

  journal::JournalOptions jo;
  jo.dir = o.dir;
  if (!std::filesystem::is_directory(jo.dir)) {
    return usage_error(fmt::format("{} is not a journal directory (no such directory)", o.dir));
  }
  auto opened = journal::Journal::open(jo);
  if (!opened) {
    std::string message = opened.error().message;
    if (message.find("is in use by pid") != std::string::npos) {
      message += "; stop that proxy or let it replay";
    }
    return usage_error(message);
  }
  journal::Journal& j = **opened;
  const uint64_t pending_at_start = j.stats().pending_records;
  std::fprintf(stderr, "zdm journal: replaying %llu pending record(s) of %s to %s (%s), %.0f/s\n",
               static_cast<unsigned long long>(pending_at_start), o.dir.c_str(),
               o.to.empty() ? "the configured cluster" : o.to.c_str(),
               o.cluster.empty() ? "records owed to any cluster" : o.cluster.c_str(), o.rate);

  asio::io_context io{1};
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool interrupted = false;
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) interrupted = true;
  });
  ReplayCounts counts;
  std::string failure;  // the Transient failure (or I/O error) that stopped the replay
  int exit_code = kExitRemains;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto astra = co_await resolve_astra(*settings, which);
        if (!astra) {
          failure = astra.error().message;
          co_return;
        }
        journal::RecordSender sender(io.get_executor(), settings->session);
        asio::steady_timer timer(io);
        using Clock = std::chrono::steady_clock;
        const auto slot = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(1.0 / o.rate));
        auto next_slot = Clock::now();
        auto last_commit = Clock::now();
        auto last_progress = Clock::now();
        const auto started = Clock::now();
        journal::JournalPosition pos = j.cursor();
        journal::JournalPosition commit_to = pos;
        bool commit_blocked = false;  // a record owed to another cluster stays pending
        uint64_t uncommitted = 0;
        auto commit = [&]() -> bool {
          if (commit_to == j.cursor()) return true;
          auto c = j.commit(commit_to);
          if (!c) {
            failure = "cannot save the replay cursor: " + c.error().message;
            return false;
          }
          uncommitted = 0;
          last_commit = Clock::now();
          return true;
        };
        while (!interrupted) {
          auto next = j.read_next(pos);
          if (!next) {
            failure = "cannot read the journal: " + next.error().message;
            break;
          }
          if (!*next) break;
          const journal::JournalEntry& entry = **next;
          if (!o.cluster.empty() && entry.record.cluster != o.cluster) {
            ++counts.other_cluster;
            commit_blocked = true;
            pos = entry.next;
            continue;
          }
          if (Clock::now() < next_slot) {
            timer.expires_at(next_slot);
            co_await timer.async_wait(asio::use_awaitable);
          }
          next_slot = std::max(next_slot + slot, Clock::now() - slot * 100);
          auto outcome = co_await send_record(sender, entry.record);
          if (outcome.kind == journal::SendOutcome::Kind::Transient) {
            failure = fmt::format("record at {}:{} ({}) failed: {}", entry.position.segment,
                                  entry.position.offset, journal::describe_record(entry.record),
                                  outcome.error);
            break;
          }
          if (outcome.kind == journal::SendOutcome::Kind::Permanent) {
            auto aside = j.set_aside(entry.record, outcome.error);
            if (!aside) {
              failure = "cannot set a record aside: " + aside.error().message;
              break;
            }
            ++counts.set_aside;
            spdlog::warn("set aside (will not succeed by retrying): {}: {}",
                         journal::describe_record(entry.record), outcome.error);
          } else {
            ++counts.replayed;
          }
          pos = entry.next;
          if (!commit_blocked) {
            commit_to = pos;
            ++uncommitted;
          }
          const auto now = Clock::now();
          if (uncommitted >= 1000 || now - last_commit >= std::chrono::seconds(1)) {
            if (!commit()) break;
          }
          if (now - last_progress >= std::chrono::seconds(o.progress_s)) {
            last_progress = now;
            const double secs = std::chrono::duration<double>(now - started).count();
            std::fprintf(stderr,
                         "zdm journal: replayed %llu, set aside %llu, %.0f records/s, %llu "
                         "pending\n",
                         static_cast<unsigned long long>(counts.replayed),
                         static_cast<unsigned long long>(counts.set_aside),
                         static_cast<double>(counts.replayed + counts.set_aside) / secs,
                         static_cast<unsigned long long>(j.stats().pending_records));
          }
        }
        if (failure.empty() || failure.rfind("cannot save", 0) != 0) (void)commit();
        sender.close();
      },
      [&](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            failure = ex.what();
          }
        }
        signals.cancel();
        io.stop();
      });
  io.run();

  const JournalStats stats = j.stats();
  const uint64_t corrupt = j.corrupt().size();
  std::printf(
      "journal replay %s: replayed %llu, set aside %llu, corrupt skipped %llu, remaining %llu\n",
      o.dir.c_str(), static_cast<unsigned long long>(counts.replayed),
      static_cast<unsigned long long>(counts.set_aside), static_cast<unsigned long long>(corrupt),
      static_cast<unsigned long long>(stats.pending_records));
  for (const auto& c : j.corrupt())
    std::fprintf(stderr, "zdm journal: %s\n", corrupt_line(c).c_str());
  if (!failure.empty()) {
    std::fprintf(stderr,
                 "zdm journal: stopped: %s\nzdm journal: %llu record(s) remain; re-running the "
                 "same command resumes after the last record replayed\n",
                 failure.c_str(), static_cast<unsigned long long>(stats.pending_records));
    return kExitRemains;
  }
  if (interrupted) {
    std::fprintf(stderr, "zdm journal: interrupted; re-running the same command resumes\n");
    return kExitRemains;
  }
  if (counts.other_cluster > 0) {
    std::fprintf(stderr,
                 "zdm journal: %llu record(s) owed to the other cluster stay pending; the cursor "
                 "stays before the first of them, so replaying them later resends the records "
                 "after it (same write timestamps: harmless except for counters and list "
                 "appends)\n",
                 static_cast<unsigned long long>(counts.other_cluster));
  }
  std::string problems;
  if (stats.pending_records > 0) problems += fmt::format(", {} remain", stats.pending_records);
  if (counts.set_aside > 0) {
    problems +=
        fmt::format(", {} set aside (zdm journal inspect {} --aside)", counts.set_aside, o.dir);
  }
  if (corrupt > 0) problems += fmt::format(", {} damaged region(s) skipped", corrupt);
  if (!problems.empty()) {
    std::fprintf(stderr, "zdm journal: not everything was replayed%s\n", problems.c_str());
    return kExitRemains;
  }
  exit_code = 0;
  return exit_code;
}

}  // namespace

void add_journal_command(CLI::App& app) {
  auto* journal = app.add_subcommand(
      "journal",
      "the write journal of the proxy's async secondary writes: copies owed to a cluster that "
      "failed, timed out or could not be sent (docs/journal.md)");
  journal->require_subcommand(1);

  auto status = std::make_shared<StatusOptions>();
  auto* st = journal->add_subcommand(
      "status",
      "pending records and bytes, the oldest pending record's age, set-aside and damaged records. "
      "Only reads: safe on a directory a running proxy holds.\nExit codes: 0 shown; 2 no such "
      "journal");
  st->add_option("dir", status->dir, "the journal directory (ZDM_JOURNAL_DIR of the proxy)")
      ->required();
  st->add_flag("--json", status->json, "one JSON object");
  st->callback([status]() { set_exit_code(run_status(*status)); });

  auto inspect = std::make_shared<InspectOptions>();
  auto* in = journal->add_subcommand(
      "inspect",
      "the pending records in replay order, one line each (SEGMENT:OFFSET kind -> cluster ks= "
      "cl= ts= values= \"query\"), then the damaged regions (CORRUPT segment S offset O: why). "
      "Only reads.\nExit codes: 0 shown; 2 no such journal");
  in->add_option("dir", inspect->dir, "the journal directory")->required();
  in->add_option("--limit", inspect->limit, "show at most this many records")
      ->capture_default_str();
  in->add_flag("--aside", inspect->aside,
               "the records set aside (refused by the destination for good) with their error");
  in->add_flag("--json", inspect->json, "one JSON object per line");
  in->callback([inspect]() { set_exit_code(run_inspect(*inspect)); });

  auto replay = std::make_shared<ReplayOptions>();
  auto* rp = journal->add_subcommand(
      "replay",
      "send the pending records, in order, to a cluster, with their original write timestamps "
      "and consistency. Takes the journal's lock (refused while a proxy holds it). The cursor is "
      "saved as records are replayed: an interrupted replay resumes where it stopped. A record "
      "the cluster refuses for good (Invalid, SyntaxError, Unauthorized, ConfigError, "
      "AlreadyExists) is set aside (inspect --aside); the first other failure (timeout, "
      "unavailable, connection) stops the replay.\nCredentials and TLS: the proxy's ZDM_TARGET_* "
      "(or ZDM_ORIGIN_* with --cluster ORIGIN) settings, or --config.\nExit codes: 0 every record "
      "replayed, none set aside or damaged; 1 records remain, were set aside or were damaged "
      "(the message says which); 2 bad usage, or the journal cannot be opened");
  rp->add_option("dir", replay->dir, "the journal directory")->required();
  rp->add_option("--to", replay->to,
                 "the destination's contact points HOST[:PORT][,HOST...] (overrides "
                 "ZDM_TARGET_CONTACT_POINTS/PORT)");
  rp->add_option("--cluster", replay->cluster,
                 "only the records owed to this cluster (TARGET or ORIGIN); default: every "
                 "record. Its ZDM_<CLUSTER>_* settings give credentials and TLS");
  rp->add_option("--rate", replay->rate, "records per second at most")->capture_default_str();
  rp->add_option("--config", replay->config_path,
                 "the proxy's YAML file; without it, ZDM_* environment variables");
  rp->add_option("--username", replay->username, "overrides ZDM_<CLUSTER>_USERNAME");
  rp->add_option("--password", replay->password, "overrides ZDM_<CLUSTER>_PASSWORD");
  rp->add_option("--request-timeout-ms", replay->request_timeout_ms, "timeout of one write")
      ->capture_default_str();
  rp->add_option("--progress-seconds", replay->progress_s, "a progress line every N seconds")
      ->capture_default_str();
  rp->callback([replay]() { set_exit_code(run_replay(*replay)); });
}

}  // namespace zdm::cli
