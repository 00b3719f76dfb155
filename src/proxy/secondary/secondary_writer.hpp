#pragma once
// The secondary cluster's copy of writes answered after the primary alone
// (ZDM_SECONDARY_WRITE_MODE=async; docs/async-writes.md).
//
// Sessions hand over a WriteRecord once the primary applied the write (submit, any thread). The
// writer, on its own thread, sends it to the secondary through the CQL client (statements
// prepared by text, the record's timestamp and consistency). A copy that fails, times out, finds
// the secondary unreachable or does not fit the in-flight bound is appended to the journal
// (ZDM_JOURNAL_DIR) before it is forgotten; a copy the secondary rejects for a reason that will
// not change (schema, syntax) is set aside with the error. The journal is replayed in order at a
// bounded rate (ZDM_JOURNAL_REPLAY_RATE), alongside the live copies, whenever it holds records;
// a replay that fails on a transient error pauses and tries again a second later. Since both
// clusters get the same timestamps, a copy replayed after newer writes changes nothing they wrote.
//
// When the journal cannot take more (the writer switches back once what it holds plus the copies
// still queued or in flight would pass 90% of ZDM_JOURNAL_MAX_BYTES, so those still fit; or a
// failed write: disk full), `on_fallback`
// is called once and the proxy switches to ZDM_SECONDARY_WRITE_MODE=sync; a copy that then
// cannot be journaled is counted as lost and logged with what to run. stop() journals every copy
// still queued or in flight and syncs the journal.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/session.hpp"
#include "common/metrics.hpp"
#include "common/result.hpp"
#include "journal/journal.hpp"
#include "journal/record_sender.hpp"
#include "journal/write_record.hpp"

namespace zdm::proxy {

struct SecondaryWriterOptions {
  journal::JournalOptions journal;
  client::SessionOptions origin;  // how to reach each cluster (contact points, credentials, TLS)
  client::SessionOptions target;
  int64_t max_in_flight = 4096;
  int64_t replay_rate = 5000;                   // records per second
  std::function<int64_t()> replay_rate_source;  // read every tick when set (a live setting)
  double fallback_fraction = 0.9;               // of max_bytes: switch back to sync beyond it
  // Called (on the writer's thread) when the journal cannot be trusted to take more copies.
  std::function<void(const std::string& reason)> on_fallback;
};

struct SecondaryWriterStatus {
  int64_t in_flight = 0;
  uint64_t applied = 0, journaled = 0, set_aside = 0, lost = 0, replayed = 0, fallbacks = 0;
  journal::JournalStats journal;
  double lag_seconds = 0;  // age of the oldest write not yet on the secondary
};

class SecondaryWriter {
 public:
  // Opens the journal (taking its lock), counts what it holds and starts the writer's thread.
  static Result<std::unique_ptr<SecondaryWriter>> start(SecondaryWriterOptions options,
                                                        metrics::Registry* registry,
                                                        const std::string& prefix);
  ~SecondaryWriter();
  SecondaryWriter(const SecondaryWriter&) = delete;
  SecondaryWriter& operator=(const SecondaryWriter&) = delete;

  // The primary applied this write: copy it to record.cluster. Thread-safe, never blocks on I/O.
  void submit(journal::WriteRecord record);
  void set_replay_rate(int64_t records_per_second);
  // False while more than max(256, 4 x max_in_flight) copies wait for the writer's thread (it
  // falls behind): the sessions then keep writes synchronous (backpressure), so the copies owed
  // stay bounded and the journal's reserve can hold them. Any thread.
  bool accepting() const;
  size_t max_queued() const;
  // Journals what is queued or in flight, syncs, stops the thread. Idempotent.
  void stop();
  SecondaryWriterStatus status() const;

 private:
  explicit SecondaryWriter(SecondaryWriterOptions options);
  void drain_queue();
  void send_live(journal::WriteRecord record);
  void on_live_outcome(uint64_t id, const journal::SendOutcome& outcome);
  void journal_copy(journal::WriteRecord record, const std::string& reason);
  void fallback(const std::string& reason);
  void check_room();
  void on_tick();
  void arm_tick();
  void replay_step();
  void on_replay_outcome(size_t slot, const journal::WriteRecord& record,
                         const journal::SendOutcome& outcome);
  void set_aside(journal::WriteRecord record, const std::string& error);
  journal::RecordSender& sender_for(const std::string& cluster);
  void publish_stats();
  void register_metrics(metrics::Registry& registry, const std::string& prefix);

  SecondaryWriterOptions options_;
  boost::asio::io_context io_;
  boost::asio::steady_timer tick_;
  std::thread thread_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<journal::RecordSender> origin_sender_, target_sender_;

  // submit() -> writer thread
  std::mutex queue_mu_;
  std::vector<journal::WriteRecord> queue_;
  bool drain_posted_ = false;
  std::atomic<size_t> queued_{0};  // submitted, not yet taken by the writer thread
  bool stopping_ = false;          // under queue_mu_

  // Writer thread only.
  struct InFlight {
    journal::WriteRecord record;
    std::chrono::steady_clock::time_point sent;
  };
  std::unordered_map<uint64_t, InFlight> in_flight_;
  uint64_t next_id_ = 1;
  // Replay: entries read from the journal and sent, in journal order; the cursor moves past a
  // prefix of them once each is done.
  struct Replaying {
    journal::JournalPosition next;  // the position after this record
    bool done = false;
  };
  std::vector<Replaying> replaying_;
  size_t replay_done_prefix_ = 0;
  size_t replay_outstanding_ = 0;
  uint64_t replay_epoch_ = 0;
  journal::JournalPosition read_at_;      // next record to read for replay
  journal::JournalPosition committable_;  // every record before it is done
  bool replay_failed_ = false;  // a transient failure: finish the round, then wait resume_at_
  std::chrono::steady_clock::time_point resume_at_{};
  std::chrono::steady_clock::time_point last_commit_{};
  std::chrono::steady_clock::time_point last_fallback_{};
  double replay_tokens_ = 0;
  std::chrono::steady_clock::time_point last_tick_{};
  std::atomic<int64_t> replay_rate_;

  // Totals: the registry's counters, or local ones without a registry (tests).
  enum CounterIndex : size_t { kApplied, kJournaled, kSetAside, kLost, kReplayed, kFallbacks };
  metrics::Counter& counter(CounterIndex i) { return *counters_[i]; }
  std::array<metrics::Counter, 6> local_counters_;
  std::vector<metrics::Counter*> counters_;

  // Published for metrics and status (any thread).
  std::atomic<int64_t> in_flight_count_{0};
  std::atomic<uint64_t> pending_records_{0}, pending_bytes_{0}, aside_records_{0},
      corrupt_records_{0};
  std::atomic<int64_t> oldest_pending_ms_{0};  // 0: none
  std::atomic<int64_t> oldest_in_flight_ms_{0};
  std::vector<metrics::Gauge*> gauges_;
  std::atomic<bool> stopped_{false};
};

}  // namespace zdm::proxy
