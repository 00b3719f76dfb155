// JSON log lines: stable fields, valid JSON whatever the message holds.
#include "common/log_format.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace zdm::logging {
namespace {

TEST(LogFormat, ParsesTextAndJsonOnly) {
  EXPECT_EQ(*parse_log_format(""), LogFormat::Text);
  EXPECT_EQ(*parse_log_format("TEXT"), LogFormat::Text);
  EXPECT_EQ(*parse_log_format("Json"), LogFormat::Json);
  auto bad = parse_log_format("xml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("ZDM_LOG_FORMAT"), std::string::npos);
}

TEST(LogFormat, JsonLinesHaveStableFieldsAndEscapeTheMessage) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("zdm test", sink);
  logger.set_formatter(make_json_formatter());
  logger.warn("a \"quoted\" value\nover two lines\t{}", std::string("\x01"));
  logger.info("second");
  std::istringstream lines(out.str());
  std::string first, second;
  ASSERT_TRUE(std::getline(lines, first));
  ASSERT_TRUE(std::getline(lines, second));
  const auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["logger"], "zdm test");
  EXPECT_EQ(j["msg"], "a \"quoted\" value\nover two lines\t\x01");
  EXPECT_TRUE(j["pid"].is_number_integer());
  EXPECT_TRUE(j["thread"].is_number_integer());
  const std::string ts = j["ts"];
  ASSERT_EQ(ts.size(), 24u) << ts;  // 2026-12-06T15:01:02.123Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(nlohmann::json::parse(second)["level"], "info");
}

}  // namespace
}  // namespace zdm::logging
