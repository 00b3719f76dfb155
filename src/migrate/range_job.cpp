#include "migrate/range_job.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "migrate/cql_values.hpp"
#include "migrate/range_reader.hpp"
#include "protocol/value.hpp"

namespace zdm::migrate {

namespace asio = boost::asio;
using protocol::Row;

namespace {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string literal(const Column& column, const std::optional<Bytes>& cell) {
  if (!cell) return "null";
  auto value = protocol::decode_value(column.type, *cell, protocol::ProtocolVersion::V4);
  return value ? protocol::to_cql_literal(*value, column.type) : "0x" + to_hex(*cell);
}

}  // namespace

struct TableJob::Candidate {
  std::optional<Row> origin;
  std::optional<Row> target;
};

TableJob::TableJob(JobShared& shared, const Table& table, const Schema& origin_schema,
                   Partitioner p)
    : shared_(shared),
      table_(table),
      layout_(table, origin_schema, p),
      writer_(shared.target, layout_, shared.settings.write_consistency,
              shared.settings.fallback_timestamp) {
  counters_ = table.is_counter_table();
  for (const auto& slot : layout_.cells()) {
    if (table.columns[slot.column].is_list()) has_lists_ = true;
  }
}

asio::awaitable<Result<void>> TableJob::prepare() {
  std::shared_ptr<client::Session> sessions[2] = {shared_.origin, shared_.target};
  for (int side = 0; side < 2; ++side) {
    const char* name = side == 0 ? "origin" : "target";
    struct Query {
      std::shared_ptr<const client::PreparedStatement>* slot;
      std::string cql;
    } queries[] = {{&range_bounded_[side], layout_.range_query(true)},
                   {&range_open_[side], layout_.range_query(false)},
                   {&row_full_[side], layout_.row_query(true)},
                   {&row_partition_[side], layout_.row_query(false)}};
    for (auto& q : queries) {
      auto p = co_await sessions[side]->prepare(q.cql);
      if (!p) {
        co_return fail(Errc::Io, fmt::format("preparing '{}' on {} failed: {}", q.cql, name,
                                             p.error().to_string()));
      }
      *q.slot = *p;
    }
  }
  co_return Result<void>{};
}

asio::awaitable<Result<std::optional<Row>>> TableJob::read_row(bool origin, const Row& key_row) {
  const int side = origin ? 0 : 1;
  const bool static_row = layout_.is_static_only(key_row);
  auto statement = client::Statement::bound(static_row ? row_partition_[side] : row_full_[side],
                                            layout_.key_values(key_row, !static_row));
  statement.consistency = shared_.settings.read_consistency;
  statement.idempotence = client::Idempotence::Idempotent;
  statement.skip_metadata = true;  // cells are read by position
  auto& session = origin ? shared_.origin : shared_.target;
  auto r = co_await session->async_execute(std::move(statement), asio::use_awaitable);
  if (!r) {
    co_return fail(Errc::Io, fmt::format("reading {} from {}: {}", layout_.key_text(key_row),
                                         origin ? "origin" : "target", r.error().to_string()));
  }
  auto* rows = r->rows();
  if (!rows || rows->rows.empty()) co_return std::optional<Row>{};
  // A static-only read returns the partition's first row: it is the same row only when static.
  if (static_row && !layout_.is_static_only(rows->rows.front())) {
    Row only_static = rows->rows.front();
    for (size_t i = 0; i < table_.clustering_count; ++i) {
      only_static[layout_.key_index(table_.partition_key_count + i)].reset();
    }
    for (const auto& slot : layout_.cells()) {
      if (table_.columns[slot.column].kind == ColumnKind::Static) continue;
      only_static[slot.value].reset();
      if (slot.writetime) only_static[*slot.writetime].reset();
      if (slot.ttl) only_static[*slot.ttl].reset();
    }
    co_return std::optional<Row>(std::move(only_static));
  }
  co_return std::optional<Row>(rows->rows.front());
}

asio::awaitable<Result<void>> TableJob::write_all(StatementList statements) {
  for (auto& s : statements) {
    auto r = co_await shared_.target->async_execute(std::move(s), asio::use_awaitable);
    if (!r) co_return fail(Errc::Io, "writing to target: " + r.error().to_string());
  }
  co_return Result<void>{};
}

std::optional<Token> TableJob::routing_token(const TokenRange& range) const {
  // Murmur3 ranges are read from the node owning their end; the session has no Random ring.
  if (layout_.partitioner() != Partitioner::Murmur3) return std::nullopt;
  return Token{static_cast<int64_t>(range.end)};
}

std::unique_ptr<RangeReader> TableJob::range_reader(int side, const TokenRange& range) const {
  const auto p = layout_.partitioner();
  const bool bounded = range.end != max_token(p);
  std::vector<protocol::BoundValue> bounds{protocol::BoundValue::set(encode_token(p, range.start))};
  if (bounded) bounds.push_back(protocol::BoundValue::set(encode_token(p, range.end)));
  return std::make_unique<RangeReader>(
      side == 0 ? shared_.origin : shared_.target,
      bounded ? range_bounded_[side] : range_open_[side], std::move(bounds), read_settings(),
      routing_token(range), side == 0 ? shared_.origin_rate.get() : shared_.target_rate.get(),
      shared_.memory.get(), row_bytes_hint_);
}

// The writes that copy one row: its cells (lists only where target's differ), or for a
// counter table the deltas that bring target to origin's values.
asio::awaitable<Result<void>> TableJob::plan_copy(Row& row, std::vector<bool>& write,
                                                  StatementList& out, WriteCounts& wc) {
  const auto& slots = layout_.cells();
  if (counters_ || has_lists_) {
    auto current = co_await read_row(false, row);
    if (!current) co_return tl::unexpected(current.error());
    if (counters_) {
      std::vector<std::optional<int64_t>> deltas(slots.size());
      for (size_t s = 0; s < slots.size(); ++s) {
        if (!write[s] || !row[slots[s].value]) continue;
        const bool exists = *current && (**current)[slots[s].value].has_value();
        const int64_t have = exists ? decode_bigint(*(**current)[slots[s].value]) : 0;
        const int64_t delta = decode_bigint(*row[slots[s].value]) - have;
        if (delta != 0 || !exists) deltas[s] = delta;  // `+ 0` creates a row at zero
      }
      co_return co_await writer_.plan_counters(row, deltas, out, wc);
    }
    for (size_t s = 0; s < slots.size(); ++s) {
      // Re-writing a list at the same timestamp would append its elements again.
      if (table_.columns[slots[s].column].is_list() && *current &&
          (**current)[slots[s].value] == row[slots[s].value]) {
        write[s] = false;
      }
    }
  }
  co_return co_await writer_.plan_row(row, write, true, out, wc, CellUse::Move);
}

client::Statement TableJob::make_batch(StatementList statements) const {
  auto statement = client::Statement::batch_of(std::move(statements));
  statement.consistency = shared_.settings.write_consistency;
  statement.idempotence = client::Idempotence::Idempotent;
  return statement;
}

asio::awaitable<void> TableJob::send(InFlight& in_flight, client::Statement statement, size_t bytes,
                                     std::optional<Token> routing) {
  co_await in_flight.acquire(bytes);
  // The bytes move from a page (charged to the budget until it was used up) into the write:
  // charged again, without waiting, so that page reads wait while writes hold memory and a
  // write never waits for a read (no deadlock).
  ByteBudget* budget = shared_.memory.get();
  if (budget) budget->charge(bytes);
  if (!statement.prepared && routing) statement.routing_token = routing;
  InFlight* flight = &in_flight;
  shared_.target->execute(
      std::move(statement), [flight, budget, bytes](client::ClientResult<client::QueryResult> r) {
        if (budget) budget->release(bytes);
        flight->release(bytes, r ? std::string() : "writing to target: " + r.error().to_string());
      });
}

asio::awaitable<Result<TableJob::Outcome>> TableJob::copy(
    TokenRange range, RangeCounts& out, std::function<asio::awaitable<void>()> progress) {
  const std::optional<Token> routing = routing_token(range);
  auto reader = range_reader(0, range);
  auto executor = co_await asio::this_coro::executor;
  InFlight in_flight(executor, shared_.settings.writes_in_flight,
                     shared_.settings.write_bytes_in_flight);
  std::optional<Row> previous;  // for static cells: written with a partition's first row only
  const auto& slots = layout_.cells();
  std::vector<bool> write(slots.size());
  WriteCounts wc;
  // Rows of one range go together in UNLOGGED batches: they share the range's replicas.
  const size_t batch_size = shared_.settings.batch_size;
  StatementList batch;
  size_t batch_bytes = 0;
  size_t batch_partitions = 0;
  std::optional<TokenValue> batch_token;  // the partition of the last row batched
  auto flush = [&]() -> asio::awaitable<void> {
    if (batch.empty()) co_return;
    const size_t bytes = batch_bytes;
    client::Statement statement =
        batch.size() == 1 ? std::move(batch.front()) : make_batch(std::move(batch));
    batch.clear();
    batch_bytes = 0;
    batch_partitions = 0;
    batch_token.reset();
    co_await send(in_flight, std::move(statement), bytes, routing);
  };
  while (true) {
    auto filled = co_await reader->fill();
    if (!filled) {
      co_await in_flight.drain();
      co_return tl::unexpected(filled.error());
    }
    if (reader->exhausted()) break;
    for (Row* next = reader->current(); next; reader->advance(), next = reader->current()) {
      Row& row = *next;
      ++out.rows_read;
      const bool first_of_partition = !previous || !layout_.same_partition(*previous, row);
      for (size_t s = 0; s < slots.size(); ++s) {
        write[s] = first_of_partition || table_.columns[slots[s].column].kind != ColumnKind::Static;
      }
      StatementList statements;
      auto planned = co_await plan_copy(row, write, statements, wc);
      if (!planned) {
        co_await in_flight.drain();
        co_return tl::unexpected(planned.error());
      }
      if (!statements.empty()) ++out.rows_written;
      // Partitions are counted by token (rows come in token order; a collision only makes a
      // batch smaller than it could be).
      const TokenValue token = layout_.token(row);
      if (!counters_ && batch_size > 1 && batch_token != token) {
        if (batch_partitions >= shared_.settings.batch_partitions) co_await flush();
        ++batch_partitions;
        batch_token = token;
      }
      for (auto& statement : statements) {
        size_t bytes = 0;
        for (const auto& v : statement.values) bytes += v.bytes.size();
        // Counter updates are not idempotent and cannot share a batch with other writes.
        if (counters_ || batch_size <= 1 || bytes > kMaxBatchBytes) {
          co_await send(in_flight, std::move(statement), bytes, routing);
          continue;
        }
        if (batch_bytes + bytes > kMaxBatchBytes) co_await flush();
        batch.push_back(std::move(statement));
        batch_bytes += bytes;
        if (batch.size() >= batch_size) co_await flush();
      }
      if (table_.has_static()) previous = row;
    }
    co_await flush();
    if (in_flight.failures() > 0) break;
    if (progress) co_await progress();
    if (shared_.stop && shared_.stop->load()) {
      co_await in_flight.drain();
      co_return Outcome::Interrupted;
    }
  }
  co_await in_flight.drain();
  if (reader->row_bytes() > 0) row_bytes_hint_ = reader->row_bytes();
  out.cells_written += wc.cells;
  out.writetime_estimated += wc.writetime_estimated;
  if (in_flight.failures() > 0) {
    co_return fail(Errc::Io, fmt::format("{} writes failed; first: {}", in_flight.failures(),
                                         in_flight.first_error()));
  }
  co_return Outcome::Done;
}

namespace {

enum class CellDiff : uint8_t { Same, Mismatch, TargetNewer };

}  // namespace

// Compares one cell of two rows of the same key.
static CellDiff compare_cell(const TableLayout& layout, const JobSettings& settings, const Row& o,
                             const Row& t, const CellSlot& slot) {
  const auto& ov = o[slot.value];
  const auto& tv = t[slot.value];
  const bool counter = layout.table().columns[slot.column].is_counter();
  const int64_t owt = layout.writetime(o, slot);
  const int64_t twt = layout.writetime(t, slot);
  const bool known = owt != kNoWritetime && twt != kNoWritetime;
  if (ov != tv) {
    if (!counter && tv && (!ov || known) && twt != kNoWritetime &&
        (owt == kNoWritetime || twt > owt)) {
      return ov ? CellDiff::TargetNewer : CellDiff::Mismatch;
    }
    return CellDiff::Mismatch;
  }
  if (!ov || counter || !known) return CellDiff::Same;
  if (twt - owt > settings.writetime_tolerance_us) return CellDiff::TargetNewer;
  if (owt - twt > settings.writetime_tolerance_us) return CellDiff::Mismatch;
  const int32_t ottl = layout.ttl(o, slot);
  const int32_t tttl = layout.ttl(t, slot);
  if ((ottl == 0) != (tttl == 0)) return CellDiff::Mismatch;
  if (ottl - tttl > settings.ttl_tolerance_s || tttl - ottl > settings.ttl_tolerance_s) {
    return CellDiff::Mismatch;
  }
  return CellDiff::Same;
}

static bool rows_differ(const TableLayout& layout, const JobSettings& settings, const Row& o,
                        const Row& t) {
  for (const auto& slot : layout.cells()) {
    if (compare_cell(layout, settings, o, t, slot) != CellDiff::Same) return true;
  }
  return false;
}

static int64_t newest_writetime(const TableLayout& layout, const Row& row) {
  int64_t newest = kNoWritetime;
  for (const auto& slot : layout.cells()) {
    newest = std::max(newest, layout.writetime(row, slot));
  }
  return newest;
}

asio::awaitable<Result<TableJob::Outcome>> TableJob::validate(
    TokenRange range, RangeCounts& out, std::function<asio::awaitable<void>()> progress) {
  const int64_t started_us = now_us();
  auto origin_reader = range_reader(0, range);
  auto target_reader = range_reader(1, range);
  RangeReader& origin = *origin_reader;
  RangeReader& target = *target_reader;
  std::vector<Candidate> candidates;
  size_t since_progress = 0;
  while (true) {
    auto a = co_await origin.fill();
    if (!a) co_return fail(Errc::Io, "reading origin: " + a.error().message);
    auto b = co_await target.fill();
    if (!b) co_return fail(Errc::Io, "reading target: " + b.error().message);
    const Row* o = origin.current();
    const Row* t = target.current();
    if (!o && !t) break;
    int order = !o ? 1 : !t ? -1 : layout_.compare(*o, *t);
    if (order < 0) {
      candidates.push_back(Candidate{*o, std::nullopt});
    } else if (order > 0) {
      candidates.push_back(Candidate{std::nullopt, *t});
    } else if (rows_differ(layout_, shared_.settings, *o, *t)) {
      candidates.push_back(Candidate{*o, *t});
    }
    if (o && order <= 0) {
      ++out.rows_read;
      origin.advance();
    }
    if (t && order >= 0) target.advance();
    if (candidates.size() >= 256) {
      auto settled = co_await settle(candidates, started_us, out);
      if (!settled) co_return tl::unexpected(settled.error());
    }
    if (++since_progress >= static_cast<size_t>(shared_.settings.page_size)) {
      since_progress = 0;
      if (progress) co_await progress();
      if (shared_.stop && shared_.stop->load()) co_return Outcome::Interrupted;
    }
  }
  auto settled = co_await settle(candidates, started_us, out);
  if (!settled) co_return tl::unexpected(settled.error());
  if (origin.row_bytes() > 0) row_bytes_hint_ = origin.row_bytes();
  co_return Outcome::Done;
}

// The writes that give target origin's value for the mismatched cells: origin's cells with their
// writetime and TTL, a delete (at target's writetime) for a cell origin does not have, or the
// counter deltas.
asio::awaitable<Result<void>> TableJob::plan_repair(Row& origin, const Row& target,
                                                    const std::vector<size_t>& mismatched,
                                                    int64_t started_us, StatementList& out,
                                                    WriteCounts& wc) {
  const auto& slots = layout_.cells();
  if (counters_) {
    std::vector<std::optional<int64_t>> deltas(slots.size());
    for (size_t i : mismatched) {
      const auto& ov = origin[slots[i].value];
      const auto& tv = target[slots[i].value];
      deltas[i] = (ov ? decode_bigint(*ov) : 0) - (tv ? decode_bigint(*tv) : 0);
    }
    co_return co_await writer_.plan_counters(origin, deltas, out, wc);
  }
  std::vector<bool> write(slots.size(), false), erase(slots.size(), false);
  int64_t erase_ts = kNoWritetime;
  for (size_t i : mismatched) {
    if (origin[slots[i].value]) {
      write[i] = true;
    } else {
      erase[i] = true;
      erase_ts = std::max(erase_ts, layout_.writetime(target, slots[i]));
    }
  }
  auto planned = co_await writer_.plan_row(origin, write, false, out, wc);
  if (!planned) co_return tl::unexpected(planned.error());
  if (erase_ts == kNoWritetime) erase_ts = started_us;
  co_return co_await writer_.plan_delete_cells(target, erase, erase_ts, out);
}

bool TableJob::repaired(const std::optional<Row>& origin, const std::optional<Row>& target) const {
  if (!origin || !target) return origin.has_value() == target.has_value();
  for (const auto& slot : layout_.cells()) {
    if (compare_cell(layout_, shared_.settings, *origin, *target, slot) == CellDiff::Mismatch) {
      return false;
    }
  }
  return true;
}

asio::awaitable<Result<void>> TableJob::validate_keys(
    std::vector<std::vector<std::optional<Bytes>>> keys, RangeCounts& out) {
  std::vector<Candidate> candidates;
  const int64_t started_us = now_us();
  for (auto& key : keys) {
    if (key.size() != layout_.key_count()) {
      co_return fail(Errc::InvalidArgument,
                     fmt::format("{}: a key has {} columns, the table's primary key {}",
                                 table_.id(), key.size(), layout_.key_count()));
    }
    Row row(layout_.width());
    for (size_t i = 0; i < key.size(); ++i) row[layout_.key_index(i)] = std::move(key[i]);
    ++out.rows_read;
    candidates.push_back(Candidate{std::move(row), std::nullopt});
    if (candidates.size() >= 256) {
      auto settled = co_await settle(candidates, started_us, out);
      if (!settled) co_return tl::unexpected(settled.error());
    }
  }
  co_return co_await settle(candidates, started_us, out);
}

asio::awaitable<Result<void>> TableJob::settle(std::vector<Candidate>& candidates,
                                               int64_t started_us, RangeCounts& out) {
  // Candidates are independent: up to kSettleInFlight of them are re-read and repaired at once.
  auto executor = co_await asio::this_coro::executor;
  InFlight in_flight(executor, kSettleInFlight);
  for (auto& c : candidates) {
    co_await in_flight.acquire();
    InFlight* flight = &in_flight;
    asio::co_spawn(executor, settle_one(c, started_us, out),
                   [flight](std::exception_ptr e, Result<void> r) {
                     std::string error;
                     if (e) error = "settling a difference failed with an exception";
                     if (!e && !r) error = r.error().message;
                     flight->release(0, std::move(error));
                   });
  }
  co_await in_flight.drain();
  candidates.clear();
  if (in_flight.failures() > 0) co_return fail(Errc::Io, in_flight.first_error());
  co_return Result<void>{};
}

// Re-reads one candidate from both clusters before it counts, classifies it, and repairs it when
// asked.
asio::awaitable<Result<void>> TableJob::settle_one(Candidate& c, int64_t started_us,
                                                   RangeCounts& out) {
  const auto& slots = layout_.cells();
  const auto& fix = shared_.settings.fix;
  const Row& key = c.origin ? *c.origin : *c.target;
  auto o = co_await read_row(true, key);
  if (!o) co_return tl::unexpected(o.error());
  auto t = co_await read_row(false, key);
  if (!t) co_return tl::unexpected(t.error());
  const bool live_change = (*o && newest_writetime(layout_, **o) >= started_us) ||
                           (*t && newest_writetime(layout_, **t) >= started_us);
  if (!*o && !*t) {
    ++out.changed_during_validation;  // deleted on both while the range was read
    co_return Result<void>{};
  }
  if (live_change) {
    ++out.changed_during_validation;
    co_return Result<void>{};
  }
  StatementList repair;
  WriteCounts wc;
  bool repairable = false;
  if (*o && !*t) {
    ++out.missing;
    write_diff("missing", &**o, nullptr, {});
    if (fix.missing) {
      std::vector<bool> all(slots.size(), true);
      auto planned = co_await writer_.plan_row(**o, all, true, repair, wc);
      if (!planned) co_return tl::unexpected(planned.error());
      repairable = true;
    }
  } else if (!*o && *t) {
    ++out.extra;
    write_diff("extra", nullptr, &**t, {});
    if (fix.extra) {
      int64_t ts = newest_writetime(layout_, **t);
      auto planned =
          co_await writer_.plan_delete_row(**t, ts == kNoWritetime ? started_us : ts, repair);
      if (!planned) co_return tl::unexpected(planned.error());
      repairable = true;
    }
  } else {
    std::vector<size_t> mismatched, newer;
    for (size_t i = 0; i < slots.size(); ++i) {
      switch (compare_cell(layout_, shared_.settings, **o, **t, slots[i])) {
        case CellDiff::Same:
          break;
        case CellDiff::Mismatch:
          mismatched.push_back(i);
          break;
        case CellDiff::TargetNewer:
          newer.push_back(i);
          break;
      }
    }
    if (!newer.empty()) {
      ++out.target_newer;
      write_diff("target_newer", &**o, &**t, newer);
    }
    if (mismatched.empty()) co_return Result<void>{};
    ++out.mismatched;
    write_diff("mismatch", &**o, &**t, mismatched);
    if (fix.mismatch) {
      auto planned = co_await plan_repair(**o, **t, mismatched, started_us, repair, wc);
      if (!planned) co_return tl::unexpected(planned.error());
      repairable = true;
    }
  }
  if (repairable) {
    auto written = co_await write_all(std::move(repair));
    if (!written) co_return tl::unexpected(written.error());
    ++out.rows_written;
    out.cells_written += wc.cells;
    // A repair counts once target reads back as origin: a deletion on target newer than
    // origin's write shadows it, and is left alone.
    auto after = co_await read_row(false, key);
    if (!after) co_return tl::unexpected(after.error());
    if (repaired(*o, *after)) {
      ++out.fixed;
    } else {
      ++out.fix_shadowed;
    }
  }
  co_return Result<void>{};
}

void TableJob::write_diff(std::string_view kind, const Row* origin, const Row* target,
                          const std::vector<size_t>& slots) {
  if (!shared_.diff_file) return;
  const Row& key = origin ? *origin : *target;
  nlohmann::json keys = nlohmann::json::object();
  nlohmann::json hex = nlohmann::json::array();
  for (size_t i = 0; i < layout_.key_count(); ++i) {
    const auto& cell = key[layout_.key_index(i)];
    keys[table_.columns[i].name] = literal(table_.columns[i], cell);
    hex.push_back(cell ? to_hex(*cell) : nullptr);
  }
  nlohmann::json columns = nlohmann::json::array();
  for (size_t i : slots) {
    const auto& slot = layout_.cells()[i];
    const Column& column = table_.columns[slot.column];
    nlohmann::json c = {{"name", column.name},
                        {"origin", literal(column, (*origin)[slot.value])},
                        {"target", literal(column, (*target)[slot.value])}};
    int64_t owt = layout_.writetime(*origin, slot);
    int64_t twt = layout_.writetime(*target, slot);
    c["origin_writetime"] = owt == kNoWritetime ? nlohmann::json(nullptr) : nlohmann::json(owt);
    c["target_writetime"] = twt == kNoWritetime ? nlohmann::json(nullptr) : nlohmann::json(twt);
    columns.push_back(std::move(c));
  }
  nlohmann::json line = {{"keyspace", table_.keyspace},
                         {"table", table_.name},
                         {"kind", kind},
                         {"key", keys},
                         {"key_hex", hex},
                         {"columns", columns}};
  *shared_.diff_file << line.dump() << '\n';
}

}  // namespace zdm::migrate
