#pragma once
// What `zdm preflight` found: one Check per line (PASS/WARN/FAIL, what was seen, what to do), the
// worst result, the exit code, and the text and JSON forms (docs/preflight.md).

#include <string>
#include <string_view>
#include <vector>

namespace zdm::ops {

enum class CheckResult { Pass, Warn, Fail };

std::string_view check_result_name(CheckResult r);   // "pass"
std::string_view check_result_label(CheckResult r);  // "PASS"

struct Check {
  std::string name;  // "origin reachable", "schema shop.orders"
  CheckResult result = CheckResult::Pass;
  std::string detail;  // what was seen
  std::string advice;  // what to do (WARN/FAIL); empty for PASS
};

// Exit codes of `zdm preflight`.
inline constexpr int kPreflightExitPass = 0;
inline constexpr int kPreflightExitFail = 1;
inline constexpr int kPreflightExitUsage = 2;  // bad flags, unreadable configuration
inline constexpr int kPreflightExitWarn = 3;

class PreflightReport {
 public:
  void add(Check check) { checks_.push_back(std::move(check)); }
  void add(std::vector<Check> checks);
  // A line that is not a check (e.g. checks skipped because a cluster is unreachable).
  void note(std::string text) { notes_.push_back(std::move(text)); }

  const std::vector<Check>& checks() const { return checks_; }
  const std::vector<std::string>& notes() const { return notes_; }
  const Check* find(std::string_view name) const;
  CheckResult worst() const;  // Pass when there is no check
  int exit_code() const;

  // "PASS  name: detail" per check, "      what to do: advice" under WARN/FAIL, then the notes
  // and a summary line.
  std::string text() const;
  // {"checks":[{"name","result","detail","advice"}],"worst":"pass|warn|fail","notes":[...]}
  std::string json() const;

 private:
  std::vector<Check> checks_;
  std::vector<std::string> notes_;
};

}  // namespace zdm::ops
