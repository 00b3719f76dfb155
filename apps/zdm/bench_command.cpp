// zdm bench: a CQL load generator. Drives a cluster (or a proxy, or `zdm node`) with key/value or
// wide-row reads and writes from N threads, each with its own event loop and client Session, and
// reports throughput and latency percentiles from mergeable log-linear histograms.
//
// `--count N --mix writes` writes keys 0..N-1 exactly once each; `--verify --count N` reads them
// back and reports rows that are missing or hold another value than the one derived from the key.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "client/latency_histogram.hpp"
#include "client/session.hpp"
#include "commands.hpp"
#include "common/bytes.hpp"
#include "protocol/compression.hpp"
#include "protocol/messages.hpp"

namespace zdm::cli {
namespace {

namespace asio = boost::asio;
using client::ClientResult;
using client::LatencyHistogram;
using client::QueryResult;
using client::Session;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::vector<std::string> contact_points{"127.0.0.1:9042"};
  std::string keyspace = "zdm_bench";
  std::string workload = "kv";
  std::string mix = "writes";
  bool simple = false;
  int concurrency = 64;
  int connections = 2;
  int threads = 1;
  double rate = 0;
  std::string duration = "10s";
  uint64_t count = 0;  // 0: run for --duration
  uint64_t partitions = 100000;
  int value_size = 100;
  int protocol_version = 0;
  std::string compression = "none";
  std::string consistency = "LOCAL_ONE";
  std::string user;
  std::string password;
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool tls_no_verify_hostname = false;
  std::string json;
  bool create_schema = true;
  std::string warmup = "2s";
  std::string timeout = "12s";
  bool verify = false;
  bool progress = true;
};

// "10s", "500ms", "2m", "1h", "1.5s"; a bare number is seconds.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = text.substr(pos);
  double scale = 1e9;
  if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "m" || unit == "min") {
    scale = 60e9;
  } else if (unit == "h") {
    scale = 3600e9;
  } else if (!unit.empty() && unit != "s") {
    return std::nullopt;
  }
  if (value < 0) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<int64_t>(value * scale));
}

// SplitMix64: the value bytes of a key, so that a verifier can recompute them.
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Bytes value_for_key(uint64_t key, size_t size) {
  Bytes out(size);
  uint64_t state = key;
  for (size_t i = 0; i < size; i += 8) {
    state = splitmix64(state);
    for (size_t j = 0; j < 8 && i + j < size; ++j)
      out[i + j] = static_cast<uint8_t>(state >> (8 * j));
  }
  return out;
}

Bytes bigint_bytes(int64_t v) {
  Bytes out(8);
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(u);
    u >>= 8;
  }
  return out;
}

enum class OpKind { Read, Write };

struct Stats {
  LatencyHistogram reads;
  LatencyHistogram writes;
  std::map<std::string, uint64_t> errors;
  uint64_t verified = 0;
  uint64_t missing = 0;
  uint64_t mismatched = 0;
  std::vector<uint64_t> bad_keys;  // first few missing/mismatched keys
  void merge(const Stats& o) {
    reads.merge(o.reads);
    writes.merge(o.writes);
    for (const auto& [k, v] : o.errors) errors[k] += v;
    verified += o.verified;
    missing += o.missing;
    mismatched += o.mismatched;
    for (uint64_t k : o.bad_keys) {
      if (bad_keys.size() < 10) bad_keys.push_back(k);
    }
  }
};

// What every thread shares: the plan and progress counters.
struct Shared {
  const BenchOptions* opts = nullptr;
  double read_ratio = 0;  // probability of a read
  bool wide = false;
  bool count_mode = false;
  Clock::time_point start;
  Clock::time_point warmup_end;
  Clock::time_point end;
  std::atomic<uint64_t> next_key{0};
  std::atomic<uint64_t> done_ops{0};
  std::atomic<uint64_t> failed_ops{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> recording{false};
  protocol::Consistency consistency = protocol::Consistency::LocalOne;
};

class ThreadRun;

struct Worker {
  ThreadRun* run = nullptr;
  std::unique_ptr<asio::steady_timer> timer;
  uint64_t rng = 0;
  uint64_t issued = 0;  // for the rate schedule
};

class ThreadRun : public std::enable_shared_from_this<ThreadRun> {
 public:
  ThreadRun(Shared& shared, int index, int concurrency, int connections, double rate)
      : shared_(shared),
        index_(index),
        concurrency_(concurrency),
        connections_(connections),
        rate_(rate) {}

  std::string error;  // setup failure
  Stats stats;
  std::string protocol;

  void thread_main() {
    asio::co_spawn(
        io_, [self = shared_from_this()]() { return self->main(); }, asio::detached);
    io_.run();
  }

 private:
  asio::awaitable<void> main() {
    const BenchOptions& o = *shared_.opts;
    client::SessionOptions so;
    for (const auto& cp : o.contact_points) {
      auto ep = client::parse_endpoint(cp);
      if (!ep) {
        error = ep.error().to_string();
        co_return;
      }
      so.contact_points.push_back(*ep);
    }
    so.connections_per_host = connections_;
    so.consistency = shared_.consistency;
    if (o.protocol_version != 0) {
      so.connection.protocol_version = static_cast<protocol::ProtocolVersion>(o.protocol_version);
    }
    if (o.compression != "none") {
      so.connection.compression = *protocol::compression_from_name(o.compression);
    }
    so.connection.username = o.user;
    so.connection.password = o.password;
    so.connection.tls.enabled = o.tls || !o.tls_ca.empty();
    so.connection.tls.ca_file = o.tls_ca;
    so.connection.tls.cert_file = o.tls_cert;
    so.connection.tls.key_file = o.tls_key;
    so.connection.tls.verify_hostname = !o.tls_no_verify_hostname;
    so.connection.request_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(*parse_duration(o.timeout));
    so.listen_events = false;
    auto session = co_await Session::connect(so);
    if (!session) {
      error = session.error().to_string();
      co_return;
    }
    session_ = *session;
    protocol = std::string(protocol::protocol_version_name(session_->version()));
    const std::string table = fmt::format("{}.{}", o.keyspace, shared_.wide ? "wide" : "kv");
    std::string insert = shared_.wide
                             ? fmt::format("INSERT INTO {} (pk, ck, value) VALUES (?, ?, ?)", table)
                             : fmt::format("INSERT INTO {} (key, value) VALUES (?, ?)", table);
    std::string select = shared_.wide
                             ? fmt::format("SELECT value FROM {} WHERE pk = ? AND ck = ?", table)
                             : fmt::format("SELECT value FROM {} WHERE key = ?", table);
    if (!o.simple) {
      auto w = co_await session_->prepare(insert);
      if (!w) {
        error = w.error().to_string();
        session_->close();
        co_return;
      }
      auto r = co_await session_->prepare(select);
      if (!r) {
        error = r.error().to_string();
        session_->close();
        co_return;
      }
      insert_ = *w;
      select_ = *r;
    }
    workers_.resize(static_cast<size_t>(concurrency_));
    active_ = concurrency_;
    for (size_t i = 0; i < workers_.size(); ++i) {
      workers_[i].run = this;
      workers_[i].timer = std::make_unique<asio::steady_timer>(io_);
      workers_[i].rng = splitmix64(static_cast<uint64_t>(index_) * 1000003u + i + 1);
    }
    for (auto& w : workers_) next(w);
  }

  // Key index -> (partition key, clustering key) in the wide table.
  std::pair<int64_t, int64_t> wide_key(uint64_t key) const {
    uint64_t parts = std::max<uint64_t>(1, shared_.opts->partitions);
    return {static_cast<int64_t>(key % parts), static_cast<int64_t>(key / parts)};
  }

  client::Statement make_statement(OpKind kind, uint64_t key) const {
    const BenchOptions& o = *shared_.opts;
    client::Statement s;
    s.idempotence = client::Idempotence::Idempotent;
    std::vector<protocol::BoundValue> values;
    if (shared_.wide) {
      auto [pk, ck] = wide_key(key);
      values.push_back(protocol::BoundValue::set(bigint_bytes(pk)));
      values.push_back(protocol::BoundValue::set(bigint_bytes(ck)));
    } else {
      values.push_back(protocol::BoundValue::set(bigint_bytes(static_cast<int64_t>(key))));
    }
    if (kind == OpKind::Write) {
      values.push_back(
          protocol::BoundValue::set(value_for_key(key, static_cast<size_t>(o.value_size))));
    }
    if (!o.simple) {
      s.prepared = kind == OpKind::Write ? insert_ : select_;
      s.values = std::move(values);
      return s;
    }
    // Simple statements carry literals: no bind markers for the server to type.
    const std::string table = fmt::format("{}.{}", o.keyspace, shared_.wide ? "wide" : "kv");
    std::string where =
        shared_.wide ? fmt::format("pk = {} AND ck = {}", wide_key(key).first, wide_key(key).second)
                     : fmt::format("key = {}", key);
    if (kind == OpKind::Read) {
      s.query = fmt::format("SELECT value FROM {} WHERE {}", table, where);
    } else if (shared_.wide) {
      s.query = fmt::format("INSERT INTO {} (pk, ck, value) VALUES ({}, {}, 0x{})", table,
                            wide_key(key).first, wide_key(key).second, to_hex(values.back().bytes));
    } else {
      s.query = fmt::format("INSERT INTO {} (key, value) VALUES ({}, 0x{})", table, key,
                            to_hex(values.back().bytes));
    }
    s.routing_key = values.front().bytes;
    if (shared_.wide) s.routing_key = values.front().bytes;
    return s;
  }

  void next(Worker& w) {
    if (shared_.stop.load(std::memory_order_relaxed)) return finish(w);
    const BenchOptions& o = *shared_.opts;
    uint64_t key = 0;
    if (shared_.count_mode) {
      key = shared_.next_key.fetch_add(1, std::memory_order_relaxed);
      if (key >= o.count) return finish(w);
    } else {
      if (Clock::now() >= shared_.end) return finish(w);
      w.rng = splitmix64(w.rng);
      key = w.rng % std::max<uint64_t>(1, o.partitions);
      if (shared_.wide) key = w.rng % (std::max<uint64_t>(1, o.partitions) * 16);
    }
    OpKind kind = OpKind::Write;
    if (o.verify) {
      kind = OpKind::Read;
    } else if (shared_.read_ratio >= 1.0) {
      kind = OpKind::Read;
    } else if (shared_.read_ratio > 0) {
      w.rng = splitmix64(w.rng);
      kind = static_cast<double>(w.rng >> 11) * 0x1.0p-53 < shared_.read_ratio ? OpKind::Read
                                                                               : OpKind::Write;
    }
    // With a rate, each worker keeps its share of the schedule; latency counts from the
    // scheduled time so that a stalled server is not hidden (coordinated omission).
    Clock::time_point scheduled = Clock::now();
    if (rate_ > 0) {
      double per_worker = rate_ / static_cast<double>(concurrency_);
      scheduled = shared_.start + std::chrono::nanoseconds(static_cast<int64_t>(
                                      static_cast<double>(w.issued) * 1e9 / per_worker));
      ++w.issued;
      if (scheduled > Clock::now()) {
        w.timer->expires_at(scheduled);
        w.timer->async_wait([this, &w, kind, key, scheduled](const boost::system::error_code& ec) {
          if (ec) return finish(w);
          issue(w, kind, key, scheduled);
        });
        return;
      }
    }
    issue(w, kind, key, scheduled);
  }

  void issue(Worker& w, OpKind kind, uint64_t key, Clock::time_point scheduled) {
    session_->execute(make_statement(kind, key),
                      [this, &w, kind, key, scheduled](ClientResult<QueryResult> r) {
                        complete(w, kind, key, scheduled, std::move(r));
                      });
  }

  void complete(Worker& w, OpKind kind, uint64_t key, Clock::time_point scheduled,
                ClientResult<QueryResult> r) {
    auto now = Clock::now();
    bool record = shared_.count_mode || shared_.opts->verify || now >= shared_.warmup_end;
    if (!r) {
      if (record) ++stats.errors[r.error().label()];
      shared_.failed_ops.fetch_add(1, std::memory_order_relaxed);
      if (errors_logged_++ < 3) {
        std::fprintf(stderr, "zdm bench: %s\n", r.error().to_string().c_str());
      }
    } else {
      if (record) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - scheduled).count();
        (kind == OpKind::Read ? stats.reads : stats.writes).record(static_cast<uint64_t>(ns));
      }
      if (shared_.opts->verify) check(key, *r);
    }
    shared_.done_ops.fetch_add(1, std::memory_order_relaxed);
    next(w);
  }

  void check(uint64_t key, const QueryResult& r) {
    ++stats.verified;
    const auto* rows = r.rows();
    bool bad = false;
    if (rows == nullptr || rows->rows.empty() || rows->rows.front().empty()) {
      ++stats.missing;
      bad = true;
    } else {
      const auto& cell = rows->rows.front().front();
      if (!cell || *cell != value_for_key(key, static_cast<size_t>(shared_.opts->value_size))) {
        ++stats.mismatched;
        bad = true;
      }
    }
    if (bad && stats.bad_keys.size() < 10) stats.bad_keys.push_back(key);
  }

  void finish(Worker&) {
    if (--active_ == 0 && session_) {
      session_->close();
      io_.stop();  // reconnect timers may still be pending; the run is over
    }
  }

  Shared& shared_;
  int index_;
  int concurrency_;
  int connections_;
  double rate_;
  asio::io_context io_{1};
  std::shared_ptr<Session> session_;
  std::shared_ptr<const client::PreparedStatement> insert_;
  std::shared_ptr<const client::PreparedStatement> select_;
  std::vector<Worker> workers_;
  int active_ = 0;
  int errors_logged_ = 0;
};

// Creates the keyspace and table on a short-lived session.
std::string create_schema(const BenchOptions& o, bool wide) {
  asio::io_context io;
  std::string error;
  client::SessionOptions so;
  for (const auto& cp : o.contact_points) {
    auto ep = client::parse_endpoint(cp);
    if (!ep) return ep.error().to_string();
    so.contact_points.push_back(*ep);
  }
  if (o.protocol_version != 0) {
    so.connection.protocol_version = static_cast<protocol::ProtocolVersion>(o.protocol_version);
  }
  so.connection.username = o.user;
  so.connection.password = o.password;
  so.connection.tls.enabled = o.tls || !o.tls_ca.empty();
  so.connection.tls.ca_file = o.tls_ca;
  so.connection.tls.cert_file = o.tls_cert;
  so.connection.tls.key_file = o.tls_key;
  so.connection.tls.verify_hostname = !o.tls_no_verify_hostname;
  so.listen_events = false;
  so.discover_peers = false;
  std::vector<std::string> statements = {
      fmt::format("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = "
                  "{{'class': 'SimpleStrategy', 'replication_factor': 1}}",
                  o.keyspace),
      wide ? fmt::format("CREATE TABLE IF NOT EXISTS {}.wide (pk bigint, ck bigint, value blob, "
                         "PRIMARY KEY (pk, ck))",
                         o.keyspace)
           : fmt::format("CREATE TABLE IF NOT EXISTS {}.kv (key bigint PRIMARY KEY, value blob)",
                         o.keyspace)};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto session = co_await Session::connect(so);
        if (!session) {
          error = session.error().to_string();
          co_return;
        }
        for (const auto& cql : statements) {
          auto r = co_await (*session)->query(cql);
          if (!r) {
            error = fmt::format("{}: {}", cql, r.error().to_string());
            break;
          }
        }
        (*session)->close();
      },
      asio::detached);
  io.run();
  return error;
}

std::string latency_json(const LatencyHistogram& h) {
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  return fmt::format(
      "{{\"count\": {}, \"mean\": {:.1f}, \"p50\": {:.1f}, \"p90\": {:.1f}, \"p99\": {:.1f}, "
      "\"p999\": {:.1f}, \"max\": {:.1f}}}",
      h.count(), h.mean() / 1000.0, us(h.percentile(0.5)), us(h.percentile(0.9)),
      us(h.percentile(0.99)), us(h.percentile(0.999)), us(h.max()));
}

std::string latency_line(const char* label, const LatencyHistogram& h) {
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  return fmt::format(
      "  {:<7} {:>10} ops  latency ms: p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  "
      "p99.9 {:.3f}  max {:.3f}\n",
      label, h.count(), ms(h.percentile(0.5)), ms(h.percentile(0.9)), ms(h.percentile(0.99)),
      ms(h.percentile(0.999)), ms(h.max()));
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int run_bench(const BenchOptions& o) {
  auto fail_usage = [](const std::string& what) {
    std::fprintf(stderr, "zdm bench: %s\n", what.c_str());
    return 2;
  };
  Shared shared;
  shared.opts = &o;
  if (o.workload != "kv" && o.workload != "wide")
    return fail_usage("--workload must be kv or wide");
  shared.wide = o.workload == "wide";
  if (o.mix == "writes") {
    shared.read_ratio = 0;
  } else if (o.mix == "reads") {
    shared.read_ratio = 1;
  } else if (o.mix.rfind("mixed:", 0) == 0) {
    try {
      shared.read_ratio = std::stod(o.mix.substr(6));
    } catch (const std::exception&) {
      return fail_usage("--mix mixed:R needs a read ratio R in [0, 1], e.g. mixed:0.5");
    }
    if (shared.read_ratio < 0 || shared.read_ratio > 1) {
      return fail_usage("--mix mixed:R needs a read ratio R in [0, 1]");
    }
  } else {
    return fail_usage("--mix must be writes, reads or mixed:R");
  }
  auto duration = parse_duration(o.duration);
  auto warmup = parse_duration(o.warmup);
  auto timeout = parse_duration(o.timeout);
  if (!duration || !warmup || !timeout) {
    return fail_usage("--duration, --warmup and --timeout take values like 10s, 500ms, 2m");
  }
  if (o.verify && o.count == 0) return fail_usage("--verify needs --count N (keys 0..N-1)");
  if (o.concurrency < 1 || o.threads < 1 || o.connections < 1) {
    return fail_usage("--concurrency, --threads and --connections must be at least 1");
  }
  if (o.value_size < 0) return fail_usage("--value-size must be >= 0");
  if (o.protocol_version != 0 &&
      !protocol::protocol_version_from_byte(static_cast<uint8_t>(o.protocol_version))) {
    return fail_usage("--protocol-version must be 3, 4, 5, 65 (DSE_V1) or 66 (DSE_V2)");
  }
  if (o.compression != "none" && !protocol::compression_from_name(o.compression)) {
    return fail_usage("--compression must be lz4, snappy or none");
  }
  auto consistency = protocol::consistency_from_name(o.consistency);
  if (!consistency) return fail_usage("--consistency: unknown level " + o.consistency);
  shared.consistency = *consistency;
  shared.count_mode = o.count > 0;

  if (o.create_schema && !o.verify) {
    auto error = create_schema(o, shared.wide);
    if (!error.empty()) {
      std::fprintf(stderr, "zdm bench: creating the schema: %s\n", error.c_str());
      return 2;
    }
  }

  const int threads = std::min(o.threads, o.concurrency);
  std::vector<std::shared_ptr<ThreadRun>> runs;
  for (int i = 0; i < threads; ++i) {
    int conc = o.concurrency / threads + (i < o.concurrency % threads ? 1 : 0);
    int conns = std::max(1, o.connections / threads + (i < o.connections % threads ? 1 : 0));
    double rate = o.rate > 0 ? o.rate * conc / o.concurrency : 0;
    runs.push_back(std::make_shared<ThreadRun>(shared, i, conc, conns, rate));
  }
  shared.start = Clock::now();
  shared.warmup_end = shared.count_mode ? shared.start : shared.start + *warmup;
  shared.end = shared.warmup_end + *duration;
  std::vector<std::thread> pool;
  std::atomic<int> running{threads};
  std::mutex mu;
  std::condition_variable cv;
  for (auto& r : runs) {
    pool.emplace_back([r, &running, &mu, &cv] {
      r->thread_main();
      std::lock_guard lock(mu);
      --running;
      cv.notify_all();
    });
  }
  // Progress once a second while the threads run.
  uint64_t last_ops = 0;
  auto last_time = Clock::now();
  {
    std::unique_lock lock(mu);
    while (running.load() > 0) {
      cv.wait_for(lock, std::chrono::seconds(1));
      if (running.load() == 0 || !o.progress) continue;
      auto now = Clock::now();
      uint64_t ops = shared.done_ops.load();
      double secs = std::chrono::duration<double>(now - last_time).count();
      double elapsed = std::chrono::duration<double>(now - shared.start).count();
      std::fprintf(stderr, "[%6.1fs] %10llu ops  %9.0f ops/s  errors %llu%s\n", elapsed,
                   static_cast<unsigned long long>(ops),
                   secs > 0 ? static_cast<double>(ops - last_ops) / secs : 0.0,
                   static_cast<unsigned long long>(shared.failed_ops.load()),
                   !shared.count_mode && now < shared.warmup_end ? "  (warmup)" : "");
      last_ops = ops;
      last_time = now;
    }
  }
  for (auto& t : pool) t.join();
  auto finished = Clock::now();

  Stats total;
  std::string protocol_name;
  for (auto& r : runs) {
    if (!r->error.empty()) {
      std::fprintf(stderr, "zdm bench: %s\n", r->error.c_str());
      return 2;
    }
    total.merge(r->stats);
    protocol_name = r->protocol;
  }
  LatencyHistogram all;
  all.merge(total.reads);
  all.merge(total.writes);
  uint64_t errors = 0;
  for (const auto& [k, v] : total.errors) errors += v;
  double measured = std::chrono::duration<double>(
                        finished - (shared.count_mode ? shared.start : shared.warmup_end))
                        .count();
  double throughput = measured > 0 ? static_cast<double>(all.count()) / measured : 0;

  std::string mode = o.verify ? "verify" : o.mix;
  std::string summary = fmt::format(
      "zdm bench: {} {} {}, concurrency {}, {} connection(s), {} thread(s), protocol {}, "
      "compression {}\n"
      "  ops {} ok, {} errors in {:.2f} s: {:.0f} ops/s\n",
      o.workload, o.simple ? "simple" : "prepared", mode, o.concurrency, o.connections, threads,
      protocol_name, o.compression, all.count(), errors, measured, throughput);
  summary += latency_line("all", all);
  if (total.reads.count() && total.writes.count()) {
    summary += latency_line("reads", total.reads);
    summary += latency_line("writes", total.writes);
  }
  if (!total.errors.empty()) {
    summary += "  errors:";
    for (const auto& [k, v] : total.errors) summary += fmt::format(" {}={}", k, v);
    summary += "\n";
  }
  if (o.verify) {
    summary += fmt::format("  verify: {} keys checked, {} missing, {} mismatched", total.verified,
                           total.missing, total.mismatched);
    if (!total.bad_keys.empty()) {
      summary += "; first bad keys:";
      for (uint64_t k : total.bad_keys) summary += fmt::format(" {}", k);
    }
    summary += "\n";
  }

  std::string errors_json;
  for (const auto& [k, v] : total.errors) {
    errors_json += fmt::format("{}\"{}\": {}", errors_json.empty() ? "" : ", ", json_escape(k), v);
  }
  std::string json = fmt::format(
      "{{\"workload\": \"{}\", \"mode\": \"{}\", \"statements\": \"{}\", \"concurrency\": {}, "
      "\"connections\": {}, \"threads\": {}, \"protocol\": \"{}\", \"compression\": \"{}\", "
      "\"rate\": {}, \"ops\": {}, \"errors\": {}, \"errors_by_type\": {{{}}}, "
      "\"duration_s\": {:.3f}, \"throughput_ops_s\": {:.1f}, \"latency_us\": {}, "
      "\"reads\": {}, \"writes\": {}",
      o.workload, json_escape(mode), o.simple ? "simple" : "prepared", o.concurrency, o.connections,
      threads, protocol_name, o.compression, o.rate, all.count(), errors, errors_json, measured,
      throughput, latency_json(all), latency_json(total.reads), latency_json(total.writes));
  if (o.verify) {
    json += fmt::format(", \"verify\": {{\"checked\": {}, \"missing\": {}, \"mismatched\": {}}}",
                        total.verified, total.missing, total.mismatched);
  }
  json += "}\n";

  if (o.json == "-") {
    std::fputs(json.c_str(), stdout);
    std::fputs(summary.c_str(), stderr);
  } else {
    std::fputs(summary.c_str(), stdout);
    if (!o.json.empty()) {
      std::FILE* f = std::fopen(o.json.c_str(), "w");
      if (f == nullptr) {
        std::fprintf(stderr, "zdm bench: cannot write --json %s\n", o.json.c_str());
        return 2;
      }
      std::fputs(json.c_str(), f);
      std::fclose(f);
    }
  }
  // A deterministic writer or verifier must not pass silently over a lost row.
  if ((shared.count_mode || o.verify) &&
      (errors > 0 || total.missing > 0 || total.mismatched > 0)) {
    return 1;
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "CQL load generator: throughput and latency percentiles");
  cmd->footer(
      "Examples:\n"
      "  zdm bench --contact-points 127.0.0.1:9042 --mix reads --duration 30s\n"
      "  zdm bench --count 100000 --mix writes        # writes keys 0..99999 exactly once\n"
      "  zdm bench --count 100000 --verify            # reads them back, reports missing rows\n"
      "Values are derived from the key, so --verify needs the same --workload, --value-size\n"
      "and --partitions as the writer. Exit code 1 when --count/--verify saw errors or bad rows.");
  cmd->add_option("--contact-points", o->contact_points, "host:port of one or more nodes")
      ->delimiter(',');
  cmd->add_option("--keyspace", o->keyspace, "keyspace of the bench tables");
  cmd->add_option("--workload", o->workload,
                  "kv (key bigint primary key, value blob) or wide "
                  "(pk, ck clustering, value)");
  cmd->add_option("--mix", o->mix, "writes, reads, or mixed:R with R the read ratio (mixed:0.5)");
  cmd->add_flag("--simple,!--prepared", o->simple,
                "simple statements with literals, or prepared statements (default)");
  cmd->add_option("--concurrency", o->concurrency, "requests in flight");
  cmd->add_option("--connections", o->connections, "connections per host (total over threads)");
  cmd->add_option("--threads", o->threads, "event-loop threads, each with its own session");
  cmd->add_option("--rate", o->rate, "target ops/s; 0 = unlimited");
  cmd->add_option("--duration", o->duration, "measured run time after warmup (10s, 500ms, 2m)");
  cmd->add_option("--count", o->count, "run exactly N operations on keys 0..N-1 instead");
  cmd->add_option("--partitions", o->partitions, "key space size (kv) / partitions (wide)");
  cmd->add_option("--value-size", o->value_size, "value bytes");
  cmd->add_option("--protocol-version", o->protocol_version,
                  "3, 4, 5, 65 (DSE_V1), 66 (DSE_V2); default: negotiate from v5");
  cmd->add_option("--compression", o->compression, "lz4, snappy or none");
  cmd->add_option("--consistency", o->consistency, "consistency level, e.g. LOCAL_QUORUM");
  cmd->add_option("--user", o->user, "user name (SASL PLAIN)");
  cmd->add_option("--password", o->password, "password");
  cmd->add_flag("--tls", o->tls, "connect with TLS (system trust store unless --tls-ca)");
  cmd->add_option("--tls-ca", o->tls_ca, "PEM CA file; implies --tls");
  cmd->add_option("--tls-cert", o->tls_cert, "PEM client certificate (mutual TLS)");
  cmd->add_option("--tls-key", o->tls_key, "PEM client key");
  cmd->add_flag("--tls-no-verify-hostname", o->tls_no_verify_hostname,
                "do not check the server certificate's name");
  cmd->add_option("--json", o->json, "write a JSON report to a file, or - for stdout");
  cmd->add_flag("--create-schema,!--no-create-schema", o->create_schema,
                "create the keyspace and table if missing (default on)");
  cmd->add_option("--warmup", o->warmup, "unmeasured time before --duration starts");
  cmd->add_option("--timeout", o->timeout, "per-request timeout");
  cmd->add_flag("--verify", o->verify, "read keys 0..N-1 (--count) and check their values");
  cmd->add_flag("--progress,!--no-progress", o->progress, "progress line on stderr every second");
  cmd->callback([o] { set_exit_code(run_bench(*o)); });
}

}  // namespace zdm::cli
