#include "ops/preflight_report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zdm::ops {

std::string_view check_result_name(CheckResult r) {
  switch (r) {
    case CheckResult::Pass:
      return "pass";
    case CheckResult::Warn:
      return "warn";
    case CheckResult::Fail:
      return "fail";
  }
  return "fail";
}

std::string_view check_result_label(CheckResult r) {
  switch (r) {
    case CheckResult::Pass:
      return "PASS";
    case CheckResult::Warn:
      return "WARN";
    case CheckResult::Fail:
      return "FAIL";
  }
  return "FAIL";
}

void PreflightReport::add(std::vector<Check> checks) {
  for (auto& c : checks) checks_.push_back(std::move(c));
}

const Check* PreflightReport::find(std::string_view name) const {
  for (const auto& c : checks_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

CheckResult PreflightReport::worst() const {
  CheckResult worst = CheckResult::Pass;
  for (const auto& c : checks_) {
    if (c.result == CheckResult::Fail) return CheckResult::Fail;
    if (c.result == CheckResult::Warn) worst = CheckResult::Warn;
  }
  return worst;
}

int PreflightReport::exit_code() const {
  switch (worst()) {
    case CheckResult::Pass:
      return kPreflightExitPass;
    case CheckResult::Warn:
      return kPreflightExitWarn;
    case CheckResult::Fail:
      return kPreflightExitFail;
  }
  return kPreflightExitFail;
}

std::string PreflightReport::text() const {
  std::string out;
  size_t counts[3] = {0, 0, 0};
  for (const auto& c : checks_) {
    ++counts[static_cast<size_t>(c.result)];
    out += fmt::format("{}  {}: {}\n", check_result_label(c.result), c.name, c.detail);
    if (c.result != CheckResult::Pass && !c.advice.empty()) {
      out += fmt::format("      what to do: {}\n", c.advice);
    }
  }
  for (const auto& n : notes_) out += fmt::format("note: {}\n", n);
  out += fmt::format("preflight: {} passed, {} warning(s), {} failed: {}\n", counts[0], counts[1],
                     counts[2], check_result_label(worst()));
  return out;
}

std::string PreflightReport::json() const {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  auto list = nlohmann::ordered_json::array();
  for (const auto& c : checks_) {
    nlohmann::ordered_json item = nlohmann::ordered_json::object();
    item["name"] = c.name;
    item["result"] = std::string(check_result_name(c.result));
    item["detail"] = c.detail;
    item["advice"] = c.advice;
    list.push_back(std::move(item));
  }
  doc["checks"] = std::move(list);
  doc["worst"] = std::string(check_result_name(worst()));
  doc["notes"] = notes_;
  // Names, queries and messages from the clusters are not ours to trust: never throw on them.
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace zdm::ops
