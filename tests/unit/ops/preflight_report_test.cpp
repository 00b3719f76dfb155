#include "ops/preflight_report.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zdm::ops::test {
namespace {

TEST(PreflightReport, ExitCodeFollowsTheWorstResult) {
  PreflightReport report;
  EXPECT_EQ(report.exit_code(), 0);
  report.add({"a", CheckResult::Pass, "fine", ""});
  EXPECT_EQ(report.worst(), CheckResult::Pass);
  EXPECT_EQ(report.exit_code(), 0);
  report.add({"b", CheckResult::Warn, "hmm", "look"});
  EXPECT_EQ(report.worst(), CheckResult::Warn);
  EXPECT_EQ(report.exit_code(), 3);
  report.add({"c", CheckResult::Fail, "bad", "fix"});
  report.add({"d", CheckResult::Warn, "hmm", "look"});
  EXPECT_EQ(report.worst(), CheckResult::Fail);
  EXPECT_EQ(report.exit_code(), 1);
}

TEST(PreflightReport, TextHasOneLinePerCheckAndAdviceUnderWarnAndFail) {
  PreflightReport report;
  report.add({"origin reachable", CheckResult::Pass, "10.0.0.1:9042 answered", "unused"});
  report.add({"partitioners", CheckResult::Warn, "they differ", "expect other routing"});
  report.note("something skipped");
  EXPECT_EQ(report.text(),
            "PASS  origin reachable: 10.0.0.1:9042 answered\n"
            "WARN  partitioners: they differ\n"
            "      what to do: expect other routing\n"
            "note: something skipped\n"
            "preflight: 1 passed, 1 warning(s), 0 failed: WARN\n");
}

TEST(PreflightReport, JsonListsEveryCheckAndTheWorst) {
  PreflightReport report;
  report.add({"schema shop.t", CheckResult::Fail, "column 'v' is int on origin but text on target",
              "fix it"});
  report.add({"x", CheckResult::Pass, "ok", ""});
  auto doc = nlohmann::json::parse(report.json());
  ASSERT_EQ(doc["checks"].size(), 2u);
  EXPECT_EQ(doc["checks"][0]["name"], "schema shop.t");
  EXPECT_EQ(doc["checks"][0]["result"], "fail");
  EXPECT_EQ(doc["checks"][0]["detail"], "column 'v' is int on origin but text on target");
  EXPECT_EQ(doc["checks"][0]["advice"], "fix it");
  EXPECT_EQ(doc["checks"][1]["result"], "pass");
  EXPECT_EQ(doc["worst"], "fail");
}

TEST(PreflightReport, JsonSurvivesBytesThatAreNotUtf8) {
  PreflightReport report;
  report.add({"schema ks.\xff", CheckResult::Fail, "bad \xfe name", ""});
  auto doc = nlohmann::json::parse(report.json());
  EXPECT_EQ(doc["worst"], "fail");
}

}  // namespace
}  // namespace zdm::ops::test
