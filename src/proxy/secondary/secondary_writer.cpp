#include "proxy/secondary/secondary_writer.hpp"

#include <algorithm>
#include <future>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zdm::proxy {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTick = std::chrono::milliseconds(50);
constexpr auto kReplayRetry = std::chrono::seconds(1);
constexpr size_t kReplayInFlight = 256;
constexpr auto kCommitEvery = std::chrono::milliseconds(200);
constexpr auto kFallbackEvery = std::chrono::seconds(5);

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view append_failure_text(journal::AppendError e) {
  return e == journal::AppendError::Full ? "the journal is full (ZDM_JOURNAL_MAX_BYTES)"
                                         : "the journal could not be written";
}

}  // namespace

SecondaryWriter::SecondaryWriter(SecondaryWriterOptions options)
    : options_(std::move(options)), tick_(io_), replay_rate_(options_.replay_rate) {
  for (auto& c : local_counters_) counters_.push_back(&c);
}

Result<std::unique_ptr<SecondaryWriter>> SecondaryWriter::start(SecondaryWriterOptions options,
                                                                metrics::Registry* registry,
                                                                const std::string& prefix) {
  auto journal = journal::Journal::open(options.journal);
  if (!journal) {
    return fail(journal.error().code,
                fmt::format("journal {} (ZDM_JOURNAL_DIR): {}", options.journal.dir.string(),
                            journal.error().message));
  }
  std::unique_ptr<SecondaryWriter> w(new SecondaryWriter(std::move(options)));
  w->journal_ = std::move(*journal);
  w->read_at_ = w->journal_->cursor();
  w->committable_ = w->read_at_;
  const auto stats = w->journal_->stats();
  if (stats.pending_records > 0 || !w->journal_->corrupt().empty()) {
    spdlog::warn(
        "journal {}: {} write(s) ({} bytes) owed to the secondary from an earlier run, {} "
        "corrupt record(s) skipped; replaying them",
        w->options_.journal.dir.string(), stats.pending_records, stats.pending_bytes,
        w->journal_->corrupt().size());
    for (const auto& c : w->journal_->corrupt()) {
      spdlog::error("journal {}: corrupt record in segment {} at offset {}: {}",
                    w->options_.journal.dir.string(), c.segment, c.offset, c.reason);
    }
  }
  w->origin_sender_ =
      std::make_unique<journal::RecordSender>(w->io_.get_executor(), w->options_.origin);
  w->target_sender_ =
      std::make_unique<journal::RecordSender>(w->io_.get_executor(), w->options_.target);
  if (registry) w->register_metrics(*registry, prefix);
  w->publish_stats();
  w->last_tick_ = Clock::now();
  w->arm_tick();
  w->thread_ = std::thread([raw = w.get()] {
    auto guard = asio::make_work_guard(raw->io_);
    raw->io_.run();
  });
  return w;
}

SecondaryWriter::~SecondaryWriter() { stop(); }

void SecondaryWriter::register_metrics(metrics::Registry& registry, const std::string& prefix) {
  auto& family = registry.counter_family(
      prefix + "secondary_writes_total",
      "Writes answered after the primary alone (ZDM_SECONDARY_WRITE_MODE=async), by what became "
      "of the secondary's copy: applied, journaled (to be replayed), set_aside (rejected by the "
      "secondary for a reason that will not change), lost (neither sent nor journaled: see the "
      "log)",
      {"outcome"});
  counters_.clear();
  for (const char* outcome : {"applied", "journaled", "set_aside", "lost"}) {
    counters_.push_back(&family.labels({outcome}));
  }
  counters_.push_back(&registry.counter(prefix + "journal_replayed_total",
                                        "Journaled writes replayed to the secondary"));
  counters_.push_back(
      &registry.counter(prefix + "journal_fallbacks_total",
                        "Times the journal could not take more and the proxy switched back to "
                        "ZDM_SECONDARY_WRITE_MODE=sync"));
  auto gauge = [&](std::string name, std::string help, std::function<double()> fn) {
    gauges_.push_back(
        &registry.gauge_function(prefix + std::move(name), std::move(help), std::move(fn)));
  };
  gauge("journal_pending_records", "Writes in the journal not yet replayed to the secondary",
        [this] { return static_cast<double>(pending_records_.load()); });
  gauge("journal_pending_bytes",
        "Bytes of journal not yet replayed (the bound is "
        "ZDM_JOURNAL_MAX_BYTES)",
        [this] { return static_cast<double>(pending_bytes_.load()); });
  gauge("journal_oldest_pending_age_seconds",
        "Age of the oldest journaled write not yet replayed (0: none)", [this] {
          const int64_t oldest = oldest_pending_ms_.load();
          return oldest > 0 ? std::max(0.0, static_cast<double>(unix_ms() - oldest) / 1000.0) : 0.0;
        });
  gauge("journal_set_aside_records",
        "Writes the secondary rejected for a reason that will not change, kept in "
        "aside.zdmj with the error (zdm journal inspect --aside)",
        [this] { return static_cast<double>(aside_records_.load()); });
  gauge("journal_corrupt_records", "Journal records skipped because their CRC or length is wrong",
        [this] { return static_cast<double>(corrupt_records_.load()); });
  gauge("secondary_writes_in_flight", "Background copies sent to the secondary, not answered yet",
        [this] { return static_cast<double>(in_flight_count_.load()); });
  gauge("secondary_write_lag_seconds",
        "Age of the oldest write the primary applied that the secondary does not have yet "
        "(in flight or journaled)",
        [this] { return status().lag_seconds; });
}

void SecondaryWriter::submit(journal::WriteRecord record) {
  bool post = false;
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      // After stop() nothing can carry it: say so (sessions are drained before the writer stops).
      counter(kLost).inc();
      spdlog::error(
          "a write the primary applied reached the secondary writer after it stopped and is "
          "not on {}: {}",
          record.cluster, journal::describe_record(record));
      return;
    }
    queue_.push_back(std::move(record));
    queued_.fetch_add(1, std::memory_order_relaxed);
    post = !std::exchange(drain_posted_, true);
  }
  if (post) asio::post(io_, [this] { drain_queue(); });
}

void SecondaryWriter::set_replay_rate(int64_t records_per_second) {
  replay_rate_.store(std::max<int64_t>(1, records_per_second));
}

void SecondaryWriter::drain_queue() {
  std::vector<journal::WriteRecord> batch;
  {
    std::lock_guard lock(queue_mu_);
    batch.swap(queue_);
    drain_posted_ = false;
  }
  for (auto& record : batch) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    send_live(std::move(record));
  }
  if (journal_->stats().pending_records > 0) check_room();
}

journal::RecordSender& SecondaryWriter::sender_for(const std::string& cluster) {
  return cluster == "ORIGIN" ? *origin_sender_ : *target_sender_;
}

void SecondaryWriter::send_live(journal::WriteRecord record) {
  if (static_cast<int64_t>(in_flight_.size()) >= options_.max_in_flight) {
    return journal_copy(std::move(record),
                        fmt::format("more than {} copies in flight to the secondary "
                                    "(ZDM_SECONDARY_WRITE_MAX_IN_FLIGHT)",
                                    options_.max_in_flight));
  }
  const uint64_t id = next_id_++;
  auto [it, inserted] = in_flight_.emplace(id, InFlight{std::move(record), Clock::now()});
  in_flight_count_.store(static_cast<int64_t>(in_flight_.size()));
  sender_for(it->second.record.cluster)
      .send(it->second.record,
            [this, id](journal::SendOutcome outcome) { on_live_outcome(id, outcome); });
}

void SecondaryWriter::on_live_outcome(uint64_t id, const journal::SendOutcome& outcome) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;  // journaled by stop()
  journal::WriteRecord record = std::move(it->second.record);
  in_flight_.erase(it);
  in_flight_count_.store(static_cast<int64_t>(in_flight_.size()));
  switch (outcome.kind) {
    case journal::SendOutcome::Kind::Applied:
      counter(kApplied).inc();
      return;
    case journal::SendOutcome::Kind::Transient:
      return journal_copy(std::move(record), outcome.error);
    case journal::SendOutcome::Kind::Permanent:
      set_aside(std::move(record), outcome.error);
      return;
  }
}

void SecondaryWriter::set_aside(journal::WriteRecord record, const std::string& error) {
  spdlog::warn("{} rejected a write for a reason that will not change ({}); kept aside in {}: {}",
               record.cluster, error, options_.journal.dir.string(),
               journal::describe_record(record));
  if (auto r = journal_->set_aside(record, error); !r) {
    counter(kLost).inc();
    spdlog::error("could not keep the rejected write aside ({}); it is not on {}",
                  r.error().message, record.cluster);
    return;
  }
  counter(kSetAside).inc();
}

void SecondaryWriter::journal_copy(journal::WriteRecord record, const std::string& reason) {
  record.reason = reason;
  const auto error = journal_->append(record);
  if (!error) {
    counter(kJournaled).inc();
    check_room();
    return;
  }
  counter(kLost).inc();
  const std::string why =
      fmt::format("{}: {}", append_failure_text(*error), journal_->last_error());
  spdlog::error(
      "a write the primary applied is NOT on {}: its copy failed ({}) and {}. Write: {}. After "
      "the migration's copy, run `zdm validate --fix missing,mismatch` on keyspace '{}' to "
      "repair it",
      record.cluster, reason, why, journal::describe_record(record), record.keyspace);
  fallback(why);
}

// Back to sync while the journal can still take every copy already acknowledged (in flight, at
// most max_in_flight, or queued, about max_queued(): accepting()): those may all fail and need a
// place.
void SecondaryWriter::check_room() {
  const auto stats = journal_->stats();
  const double record_bytes =
      stats.pending_records > 0
          ? static_cast<double>(stats.pending_bytes) / static_cast<double>(stats.pending_records)
          : 256.0;
  const size_t owed = in_flight_.size() + queued_.load();
  const double limit = options_.fallback_fraction * static_cast<double>(options_.journal.max_bytes);
  if (static_cast<double>(stats.pending_bytes) + static_cast<double>(owed) * record_bytes > limit) {
    fallback(fmt::format(
        "the journal holds {} bytes and {} more copies may need it, over {:.0f}% of "
        "ZDM_JOURNAL_MAX_BYTES ({})",
        stats.pending_bytes, owed, options_.fallback_fraction * 100, options_.journal.max_bytes));
  }
}

bool SecondaryWriter::accepting() const {
  return queued_.load(std::memory_order_relaxed) < max_queued();
}

size_t SecondaryWriter::max_queued() const {
  return std::max<size_t>(256, 4 * static_cast<size_t>(options_.max_in_flight));
}

void SecondaryWriter::fallback(const std::string& reason) {
  const auto now = Clock::now();
  if (last_fallback_ != Clock::time_point{} && now - last_fallback_ < kFallbackEvery) return;
  last_fallback_ = now;
  counter(kFallbacks).inc();
  spdlog::error(
      "secondary writes: {}; switching to ZDM_SECONDARY_WRITE_MODE=sync (writes wait for both "
      "clusters again). Free space or raise the bound, then set it back to async",
      reason);
  if (options_.on_fallback) options_.on_fallback(reason);
}

void SecondaryWriter::arm_tick() {
  tick_.expires_after(kTick);
  tick_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_.load()) return;
    on_tick();
    arm_tick();
  });
}

void SecondaryWriter::on_tick() {
  const auto now = Clock::now();
  journal_->sync_if_due(now);
  const double dt = std::chrono::duration<double>(now - last_tick_).count();
  last_tick_ = now;
  if (options_.replay_rate_source) set_replay_rate(options_.replay_rate_source());
  const auto rate = static_cast<double>(replay_rate_.load());
  replay_tokens_ = std::min(replay_tokens_ + rate * dt, std::max(1.0, rate * 0.2));
  replay_step();
  if (committable_ > journal_->cursor() && now - last_commit_ >= kCommitEvery) {
    if (auto r = journal_->commit(committable_); !r) {
      spdlog::error("journal {}: the replay position could not be saved: {}",
                    options_.journal.dir.string(), r.error().message);
    }
    last_commit_ = now;
  }
  publish_stats();
}

void SecondaryWriter::replay_step() {
  if (replay_failed_) return;  // waiting for the replays in flight, then resume_at_
  if (Clock::now() < resume_at_) return;
  while (replay_tokens_ >= 1.0 && replay_outstanding_ < kReplayInFlight) {
    auto entry = journal_->read_next(read_at_);
    if (!entry) {
      spdlog::error("journal {}: reading for replay failed: {}", options_.journal.dir.string(),
                    entry.error().message);
      resume_at_ = Clock::now() + kReplayRetry;
      return;
    }
    if (!*entry) return;  // nothing more
    read_at_ = (*entry)->next;
    replay_tokens_ -= 1.0;
    replaying_.push_back(Replaying{(*entry)->next, false});
    ++replay_outstanding_;
    const size_t slot = replaying_.size() - 1;
    auto record = std::make_shared<journal::WriteRecord>(std::move((*entry)->record));
    sender_for(record->cluster)
        .send(*record, [this, slot, record, epoch = replay_epoch_](journal::SendOutcome outcome) {
          if (epoch != replay_epoch_) return;
          on_replay_outcome(slot, *record, outcome);
        });
  }
}

void SecondaryWriter::on_replay_outcome(size_t slot, const journal::WriteRecord& record,
                                        const journal::SendOutcome& outcome) {
  --replay_outstanding_;
  switch (outcome.kind) {
    case journal::SendOutcome::Kind::Applied:
      counter(kReplayed).inc();
      replaying_[slot].done = true;
      break;
    case journal::SendOutcome::Kind::Permanent:
      set_aside(record, outcome.error);
      replaying_[slot].done = true;
      break;
    case journal::SendOutcome::Kind::Transient:
      if (!replay_failed_) {
        spdlog::warn("journal replay to {} paused: {}; retrying in {} s", record.cluster,
                     outcome.error, kReplayRetry.count());
      }
      replay_failed_ = true;
      break;
  }
  while (replay_done_prefix_ < replaying_.size() && replaying_[replay_done_prefix_].done) {
    committable_ = replaying_[replay_done_prefix_].next;
    ++replay_done_prefix_;
  }
  if (replay_outstanding_ > 0) {
    replay_step();  // keep the window full (the tokens still bound the rate)
    return;
  }
  // Nothing in flight: start the next round from the first record not done (after a failure,
  // the records after it that did apply are sent again: same timestamps, same cells).
  replaying_.clear();
  replay_done_prefix_ = 0;
  if (replay_failed_) {
    replay_failed_ = false;
    ++replay_epoch_;
    read_at_ = std::max(committable_, journal_->cursor());
    resume_at_ = Clock::now() + kReplayRetry;
  }
}

void SecondaryWriter::publish_stats() {
  const auto s = journal_->stats();
  pending_records_.store(s.pending_records);
  pending_bytes_.store(s.pending_bytes);
  aside_records_.store(s.aside_records);
  corrupt_records_.store(s.corrupt_records);
  oldest_pending_ms_.store(s.oldest_pending_created_ms.value_or(0));
  int64_t oldest = 0;
  for (const auto& [id, f] : in_flight_) {
    if (oldest == 0 || f.record.created_ms < oldest) oldest = f.record.created_ms;
  }
  oldest_in_flight_ms_.store(oldest);
}

SecondaryWriterStatus SecondaryWriter::status() const {
  SecondaryWriterStatus s;
  s.in_flight = in_flight_count_.load();
  s.applied = counters_[kApplied]->value();
  s.journaled = counters_[kJournaled]->value();
  s.set_aside = counters_[kSetAside]->value();
  s.lost = counters_[kLost]->value();
  s.replayed = counters_[kReplayed]->value();
  s.fallbacks = counters_[kFallbacks]->value();
  s.journal.pending_records = pending_records_.load();
  s.journal.pending_bytes = pending_bytes_.load();
  s.journal.aside_records = aside_records_.load();
  s.journal.corrupt_records = corrupt_records_.load();
  const int64_t pending = oldest_pending_ms_.load();
  if (pending > 0) s.journal.oldest_pending_created_ms = pending;
  int64_t oldest = oldest_in_flight_ms_.load();
  if (pending > 0 && (oldest == 0 || pending < oldest)) oldest = pending;
  if (oldest > 0) s.lag_seconds = std::max(0.0, static_cast<double>(unix_ms() - oldest) / 1000.0);
  return s;
}

void SecondaryWriter::stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(io_, [this, &done] {
    // Copies not yet answered by the secondary go to the journal: the replay (this proxy's next
    // start, or `zdm journal replay`) sends them.
    std::vector<journal::WriteRecord> queued;
    {
      std::lock_guard lock(queue_mu_);
      queued.swap(queue_);
    }
    size_t journaled = 0;
    for (auto& record : queued) {
      journal_copy(std::move(record), "queued when the proxy stopped");
      ++journaled;
    }
    for (auto& [id, f] : in_flight_) {
      journal_copy(std::move(f.record), "in flight when the proxy stopped");
      ++journaled;
    }
    in_flight_.clear();
    in_flight_count_.store(0);
    if (committable_ > journal_->cursor()) (void)journal_->commit(committable_);
    if (auto r = journal_->sync(); !r) {
      spdlog::error("journal {}: final sync failed: {}", options_.journal.dir.string(),
                    r.error().message);
    }
    if (journaled > 0) {
      spdlog::info("secondary writes: {} copy(ies) not yet confirmed journaled at shutdown",
                   journaled);
    }
    stopped_.store(true);
    tick_.cancel();
    origin_sender_->close();
    target_sender_->close();
    done.set_value();
  });
  if (thread_.joinable()) {
    finished.wait();
    io_.stop();
    thread_.join();
  }
  for (auto* g : gauges_) g->clear_function();
  gauges_.clear();
}

}  // namespace zdm::proxy
