#include "migrate/run_report.hpp"

#include <nlohmann/json.hpp>

namespace zdm::migrate {

void TableCounts::add(const RangeCounts& r) {
  rows_read += r.rows_read;
  rows_written += r.rows_written;
  cells_written += r.cells_written;
  writetime_estimated += r.writetime_estimated;
  missing += r.missing;
  mismatched += r.mismatched;
  extra += r.extra;
  fixed += r.fixed;
  fix_shadowed += r.fix_shadowed;
  target_newer += r.target_newer;
  changed_during_validation += r.changed_during_validation;
}

TableCounts RunReport::totals() const {
  TableCounts t;
  for (const auto& table : tables) {
    t.add(table.counts);
    t.ranges_total += table.counts.ranges_total;
    t.ranges_done += table.counts.ranges_done;
    t.ranges_failed += table.counts.ranges_failed;
    t.ranges_done_before += table.counts.ranges_done_before;
  }
  return t;
}

uint64_t RunReport::remaining_differences() const {
  TableCounts t = totals();
  uint64_t found = t.missing + t.mismatched + t.extra;
  uint64_t left = found > t.fixed ? found - t.fixed : 0;
  return left + t.target_newer;
}

namespace {

nlohmann::json counts_json(const TableCounts& c) {
  return {{"ranges_total", c.ranges_total},
          {"ranges_done", c.ranges_done},
          {"ranges_failed", c.ranges_failed},
          {"ranges_done_before", c.ranges_done_before},
          {"rows_read", c.rows_read},
          {"rows_written", c.rows_written},
          {"cells_written", c.cells_written},
          {"writetime_estimated", c.writetime_estimated},
          {"missing", c.missing},
          {"mismatched", c.mismatched},
          {"extra", c.extra},
          {"fixed", c.fixed},
          {"fix_shadowed", c.fix_shadowed},
          {"target_newer", c.target_newer},
          {"changed_during_validation", c.changed_during_validation}};
}

}  // namespace

std::string RunReport::to_json() const {
  nlohmann::json tables_json = nlohmann::json::array();
  for (const auto& t : tables) {
    auto j = counts_json(t.counts);
    j["keyspace"] = t.keyspace;
    j["table"] = t.table;
    tables_json.push_back(std::move(j));
  }
  nlohmann::json out = {{"command", command},    {"run_id", run_id},
                        {"status", status},      {"elapsed_s", elapsed_s},
                        {"tables", tables_json}, {"totals", counts_json(totals())}};
  return out.dump(2);
}

}  // namespace zdm::migrate
