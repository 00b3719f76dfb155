// zdm status against fake proxies: one row per proxy, requests/s from two samples, the fleet's
// readiness and agreement on its live settings (naming the one that differs), clients, JSON.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fleet_fake_proxy.hpp"
#include "ops/status_view.hpp"

namespace zdm::ops {
namespace {

using testing::FakeProxy;
using testing::FakeState;
using namespace std::chrono_literals;

class StatusFleet : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) proxies_.push_back(std::make_unique<FakeProxy>());
  }
  Fleet fleet() const {
    Fleet f;
    for (const auto& p : proxies_) {
      f.proxies.emplace_back(AdminAddress{"127.0.0.1", p->port()},
                             AdminClientOptions{2s, "", "zdm status (test@host)"});
    }
    return f;
  }
  std::vector<ProxySnapshot> snapshot(bool clients = false,
                                      std::chrono::milliseconds interval = 0ms) {
    return take_snapshot(fleet(), SnapshotOptions{clients, interval});
  }
  FakeProxy& proxy(size_t i) { return *proxies_[i]; }

  std::vector<std::unique_ptr<FakeProxy>> proxies_;
};

nlohmann::json python_client() {
  return {{"address", "127.0.0.1:51234"},
          {"driver_name", "DataStax Python Driver"},
          {"driver_version", "3.25.0"},
          {"protocol_version", 4},
          {"keyspace", "shop"},
          {"connected_at", "2026-12-06T15:01:02Z"},
          {"last_request_at", "2026-12-06T15:09:40Z"},
          {"requests", 5310}};
}

TEST_F(StatusFleet, ReadyProxiesThatAgreeExitZero) {
  proxy(0).with([](FakeState& s) { s.generation = 4; });
  proxy(1).with([](FakeState& s) { s.generation = 4; });
  auto snaps = snapshot();
  auto summary = summarize(snaps);
  EXPECT_TRUE(summary.all_ready);
  EXPECT_TRUE(summary.agree);
  EXPECT_EQ(summary.generations, std::vector<int64_t>{4});
  EXPECT_TRUE(summary.problems.empty());
  EXPECT_EQ(status_exit_code(summary), 0);
  auto text = render_status_text(snaps, summary);
  EXPECT_NE(text.find("fleet: 2 of 2 ready, configuration agrees, generation 4 (primary_cluster "
                      "ORIGIN, read_mode PRIMARY_ONLY)"),
            std::string::npos)
      << text;
}

TEST_F(StatusFleet, RowsShowEachProxysCounters) {
  proxy(1).with([](FakeState& s) {
    s.config["primary_cluster"] = "TARGET";
    s.status_extra = {{"failed_writes", {{"origin", 3}, {"target", 2}, {"both", 1}}},
                      {"failed_reads", {{"origin", 0}, {"target", 7}}},
                      {"async_read_errors", 9},
                      {"read_comparison", {{"compared", 1000}, {"mismatches", 4}}},
                      {"latency_p99_ms", {{"reads", 1.9}, {"writes", 2.7}}}};
    s.clients = nlohmann::json::array({python_client()});
  });
  auto snaps = snapshot();
  auto text = render_status_text(snaps, summarize(snaps));
  const std::string row = proxy(1).address();
  auto at = text.find("\n" + row);
  ASSERT_NE(at, std::string::npos) << text;
  auto line = text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  for (const char* cell : {"  4  ", "  ready  ", "3/2/1", "0/7", "  9  ", "4 (1000)", "1.9/2.7"}) {
    EXPECT_NE(line.find(cell), std::string::npos) << cell << " not in: " << line;
  }
}

TEST_F(StatusFleet, ColumnsAreAligned) {
  proxy(1).with([](FakeState& s) {
    s.status_extra = {{"failed_writes", {{"origin", 123456}, {"target", 0}, {"both", 0}}}};
  });
  auto snaps = snapshot();
  auto text = render_status_text(snaps, summarize(snaps));
  // Each column starts at the same offset on the header and on every row.
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  ASSERT_GE(lines.size(), 3u);
  const auto header = lines[0];
  for (const char* column : {"PHASE", "GEN", "STATUS", "FAILED WRITES O/T/BOTH", "P99 MS"}) {
    const size_t offset = header.find(column);
    ASSERT_NE(offset, std::string::npos) << column;
    for (size_t r = 1; r <= 2; ++r) {
      ASSERT_GT(lines[r].size(), offset) << lines[r];
      EXPECT_EQ(lines[r][offset - 1], ' ') << column << " in: " << lines[r];
      EXPECT_NE(lines[r][offset], ' ') << column << " in: " << lines[r];
    }
  }
}

TEST_F(StatusFleet, DisagreementNamesTheSettingAndEachValue) {
  proxy(1).with([](FakeState& s) {
    s.config["read_mode"] = "DUAL_ASYNC_ON_SECONDARY";
    s.config["proxy_listen_port"] = 15002;  // not a live setting: not compared
    s.generation = 2;
  });
  auto snaps = snapshot();
  auto summary = summarize(snaps);
  EXPECT_TRUE(summary.all_ready);
  EXPECT_FALSE(summary.agree);
  ASSERT_EQ(summary.differences.size(), 1u);
  EXPECT_EQ(summary.differences[0].setting, "read_mode");
  EXPECT_EQ(summary.differences[0].describe(), "read_mode differs: " + proxy(0).address() +
                                                   " PRIMARY_ONLY, " + proxy(1).address() +
                                                   " DUAL_ASYNC_ON_SECONDARY");
  EXPECT_EQ(summary.generations, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(status_exit_code(summary), 1);
  auto json = status_json(snaps, summary, false);
  EXPECT_EQ(json["fleet"]["agree"], false);
  EXPECT_EQ(json["fleet"]["generation"], nullptr);
  EXPECT_EQ(json["fleet"]["differences"][0]["setting"], "read_mode");
  EXPECT_EQ(json["fleet"]["differences"][0]["values"][proxy(1).address()],
            "DUAL_ASYNC_ON_SECONDARY");
  auto text = render_status_text(snaps, summary);
  EXPECT_NE(text.find("configuration DIFFERS"), std::string::npos) << text;
  EXPECT_NE(text.find("  - read_mode differs: "), std::string::npos) << text;
}

TEST_F(StatusFleet, UnreachableProxyIsAReportedRowAndExitOne) {
  proxy(1).stop();
  auto snaps = snapshot();
  auto summary = summarize(snaps);
  EXPECT_EQ(summary.reachable, 1u);
  EXPECT_FALSE(summary.all_ready);
  EXPECT_TRUE(summary.agree);  // among those that answered
  EXPECT_EQ(status_exit_code(summary), 1);
  auto json = status_json(snaps, summary, false);
  EXPECT_EQ(json["proxies"][0]["reachable"], true);
  EXPECT_EQ(json["proxies"][1]["reachable"], false);
  EXPECT_NE(json["proxies"][1]["error"].get<std::string>().find("unreachable"), std::string::npos);
  EXPECT_EQ(json["fleet"]["ready"], false);
  auto text = render_status_text(snaps, summary);
  EXPECT_NE(text.find(proxy(1).address() + "  -"), std::string::npos) << text;
  EXPECT_NE(text.find("UNREACHABLE"), std::string::npos) << text;
  EXPECT_NE(text.find("fleet: 1 of 2 ready"), std::string::npos) << text;
}

TEST_F(StatusFleet, NoProxyAnsweringAgreesOnNothing) {
  proxy(0).stop();
  proxy(1).stop();
  auto snaps = snapshot();
  auto summary = summarize(snaps);
  EXPECT_FALSE(summary.agree);
  EXPECT_EQ(summary.problems.size(), 2u);
  EXPECT_NE(render_status_text(snaps, summary).find("fleet: 0 of 2 ready, no proxy answered"),
            std::string::npos);
}

TEST_F(StatusFleet, NotReadyProxyExitsOne) {
  proxy(0).with([](FakeState& s) {
    s.ready = false;
    s.status = "STARTUP";
  });
  auto summary = summarize(snapshot());
  EXPECT_FALSE(summary.all_ready);
  EXPECT_EQ(status_exit_code(summary), 1);
  ASSERT_EQ(summary.problems.size(), 1u);
  EXPECT_EQ(summary.problems[0], "proxy " + proxy(0).address() + " is not ready (status STARTUP)");
}

TEST_F(StatusFleet, RequestsPerSecondComeFromTwoSamples) {
  proxy(0).with([](FakeState& s) { s.requests_per_status = 500; });  // +500 between samples
  auto snaps = snapshot(false, 100ms);
  ASSERT_TRUE(snaps[0].requests_per_second);
  // 500 requests over at least the 100 ms interval.
  EXPECT_GT(*snaps[0].requests_per_second, 0.0);
  EXPECT_LE(*snaps[0].requests_per_second, 5000.0);
  ASSERT_TRUE(snaps[1].requests_per_second);
  EXPECT_EQ(*snaps[1].requests_per_second, 0.0);
  EXPECT_FALSE(snapshot()[0].requests_per_second);  // one sample: no rate
}

TEST_F(StatusFleet, ClientsAreListedAcrossTheFleet) {
  proxy(0).with([](FakeState& s) { s.clients = nlohmann::json::array({python_client()}); });
  proxy(1).with([](FakeState& s) {
    auto c = python_client();
    c["driver_name"] = "DataStax Node.js Driver";
    c["driver_version"] = "4.8.0";
    c["keyspace"] = "";
    s.clients = nlohmann::json::array({c, python_client()});
  });
  auto snaps = snapshot(true);
  auto text = render_clients_text(snaps);
  EXPECT_NE(text.find("3 client connections"), std::string::npos) << text;
  EXPECT_NE(text.find("DataStax Python Driver 3.25.0"), std::string::npos) << text;
  EXPECT_NE(text.find("DataStax Node.js Driver 4.8.0"), std::string::npos) << text;
  EXPECT_NE(text.find(proxy(1).address() + "  127.0.0.1:51234"), std::string::npos) << text;
  auto json = status_json(snaps, summarize(snaps), true);
  ASSERT_EQ(json["proxies"][1]["clients"].size(), 2u);
  EXPECT_EQ(json["proxies"][1]["clients"][0]["driver_name"], "DataStax Node.js Driver");
  EXPECT_EQ(json["proxies"][0]["clients"][0]["requests"], 5310);
}

TEST_F(StatusFleet, JsonCarriesTheProxysStatusAndLiveSettings) {
  auto snaps = snapshot();
  auto json = status_json(snaps, summarize(snaps), false);
  ASSERT_EQ(json["proxies"].size(), 2u);
  const auto& p = json["proxies"][0];
  EXPECT_EQ(p["address"], proxy(0).address());
  EXPECT_EQ(p["status"]["phase"], 1);
  EXPECT_EQ(p["status"]["ready"], true);
  EXPECT_EQ(p["settings"]["read_mode"], "PRIMARY_ONLY");
  EXPECT_FALSE(p["settings"].contains("proxy_listen_port"));
  EXPECT_FALSE(p.contains("clients"));
  EXPECT_EQ(json["fleet"]["ready"], true);
  EXPECT_EQ(json["fleet"]["agree"], true);
  EXPECT_EQ(json["fleet"]["generation"], 1);
}

TEST_F(StatusFleet, AnswerOfAnotherShapeIsReportedNotShownAsZeros) {
  proxy(0).with([](FakeState& s) { s.status_extra = {{"requests_total", "many"}}; });
  auto snaps = snapshot();
  ASSERT_TRUE(snaps[0].error);
  EXPECT_NE(snaps[0].error->find("'requests_total' is not a number"), std::string::npos)
      << *snaps[0].error;
}

TEST(StatusTable, PadsShortRowsAndTrimsTrailingSpaces) {
  auto text = render_table({"A", "BB", "C"}, {{"xxxx", "y"}, {"1", "2", "3"}});
  EXPECT_EQ(text, "A     BB  C\nxxxx  y\n1     2   3\n");
}

}  // namespace
}  // namespace zdm::ops
