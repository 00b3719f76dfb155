// zdm ctl's procedure against fake proxies: proxy by proxy with If-Match, and every proxy already
// changed put back when a later one fails (error answers, unreachable, conflict, never ready).
#include "ops/fleet_change.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fleet_fake_proxy.hpp"

namespace zdm::ops {
namespace {

using testing::FakeProxy;
using testing::FakeState;
using namespace std::chrono_literals;

class CtlFleet : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) proxies_.push_back(std::make_unique<FakeProxy>());
  }

  Fleet fleet(const std::string& token = "secret") const {
    Fleet f;
    for (const auto& p : proxies_) {
      f.proxies.emplace_back(AdminAddress{"127.0.0.1", p->port()},
                             AdminClientOptions{2s, token, "zdm ctl (test@host)"});
    }
    return f;
  }

  FleetChangeResult change(const nlohmann::json& settings, const std::string& token = "secret") {
    ChangeOptions options;
    options.ready_timeout = 400ms;
    options.poll_interval = 20ms;
    lines_.clear();
    return change_fleet(fleet(token), settings, options,
                        [this](const std::string& line) { lines_.push_back(line); });
  }

  FakeProxy& proxy(size_t i) { return *proxies_[i]; }

  std::vector<std::unique_ptr<FakeProxy>> proxies_;
  std::vector<std::string> lines_;
};

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST_F(CtlFleet, PhaseFourChangesEveryProxyInOrderWithIfMatchAndActor) {
  proxy(1).with([](FakeState& s) { s.generation = 7; });
  auto result = change(*phase_settings(4));
  ASSERT_TRUE(result.ok) << joined(describe_failure(result));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(proxy(i).text("primary_cluster"), "TARGET") << i;
    auto patches = proxy(i).change_patches();
    ASSERT_EQ(patches.size(), 1u) << i;
    EXPECT_EQ(patches[0].if_match, i == 1 ? "7" : "1");
    EXPECT_EQ(patches[0].actor, "zdm ctl (test@host)");
    EXPECT_EQ(patches[0].authorization, "Bearer secret");
  }
  EXPECT_EQ(proxy(1).generation(), 8);
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_EQ(lines_[0],
            proxy(0).address() + "  generation 1 -> 2  primary_cluster ORIGIN -> TARGET  ready");
  EXPECT_EQ(lines_[1],
            proxy(1).address() + "  generation 7 -> 8  primary_cluster ORIGIN -> TARGET  ready");
}

TEST_F(CtlFleet, ProxiesAlreadyThereAreReportedUnchanged) {
  auto result = change(*phase_settings(1));
  ASSERT_TRUE(result.ok) << joined(describe_failure(result));
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_EQ(lines_[0], proxy(0).address() + "  generation 1 (unchanged)  ready");
  EXPECT_EQ(proxy(0).generation(), 1);
}

TEST_F(CtlFleet, SecondProxyAnswering400PutsTheFirstBack) {
  proxy(1).with([](FakeState& s) { s.fail_patch = 400; });
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.failed_proxy, proxy(1).address());
  EXPECT_NE(result.failure.find("answered 400: injected failure"), std::string::npos)
      << result.failure;
  // The first proxy took the change and was put back, with If-Match on the generation it left.
  EXPECT_EQ(proxy(0).text("primary_cluster"), "ORIGIN");
  EXPECT_EQ(proxy(0).generation(), 3);
  auto patches = proxy(0).change_patches();
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[1].if_match, "2");
  EXPECT_EQ(nlohmann::json::parse(patches[1].body),
            nlohmann::json({{"primary_cluster", "ORIGIN"}, {"read_mode", "PRIMARY_ONLY"}}));
  // A 400 changes nothing: the failed proxy is not patched again, the third never.
  EXPECT_EQ(proxy(1).change_patches().size(), 1u);
  EXPECT_TRUE(proxy(2).change_patches().empty());
  ASSERT_EQ(result.restored.size(), 1u);
  EXPECT_EQ(result.restored[0], proxy(0).address() + " (generation 2 -> 3)");
  auto text = joined(describe_failure(result));
  EXPECT_NE(
      text.find("FAILED: proxy " + proxy(1).address() + ": PATCH /api/v1/config answered 400"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("put back to their old values: " + proxy(0).address()), std::string::npos)
      << text;
}

TEST_F(CtlFleet, SecondProxyAnswering500IsPutBackTooLastChangedFirst) {
  proxy(1).with([](FakeState& s) {
    s.fail_patch = 500;
    s.fail_patch_once = true;
  });
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.failed_proxy, proxy(1).address());
  // A 500 may have applied: that proxy gets the old values too, before the first one.
  ASSERT_EQ(result.restored.size(), 2u);
  EXPECT_EQ(result.restored[0].rfind(proxy(1).address(), 0), 0u) << result.restored[0];
  EXPECT_EQ(result.restored[1].rfind(proxy(0).address(), 0), 0u) << result.restored[1];
  EXPECT_EQ(proxy(0).text("primary_cluster"), "ORIGIN");
  EXPECT_EQ(proxy(1).text("primary_cluster"), "ORIGIN");
  EXPECT_TRUE(proxy(2).change_patches().empty());
}

TEST_F(CtlFleet, SecondProxyUnreachableAfterTheChecksPutsTheFirstBack) {
  // The second proxy dies while the first one takes its change.
  proxy(0).with([this](FakeState& s) { s.on_change_patch = [this] { proxy(1).stop(); }; });
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.failed_proxy, proxy(1).address());
  EXPECT_NE(result.failure.find("unreachable: connection refused"), std::string::npos)
      << result.failure;
  EXPECT_EQ(proxy(0).text("primary_cluster"), "ORIGIN");
  ASSERT_EQ(result.restored.size(), 1u);
  EXPECT_TRUE(result.not_restored.empty());
  EXPECT_TRUE(proxy(2).change_patches().empty());
}

TEST_F(CtlFleet, UnreachableProxyIsFoundBeforeAnythingChanges) {
  proxy(2).stop();
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_TRUE(result.nothing_changed);
  EXPECT_EQ(result.failed_proxy, proxy(2).address());
  EXPECT_TRUE(proxy(0).change_patches().empty());
  EXPECT_TRUE(proxy(1).change_patches().empty());
  EXPECT_EQ(proxy(0).text("primary_cluster"), "ORIGIN");
  auto text = joined(describe_failure(result));
  EXPECT_NE(text.find("nothing was changed on any proxy"), std::string::npos) << text;
}

TEST_F(CtlFleet, WrongTokenOnAnyProxyChangesNothing) {
  proxy(2).with([](FakeState& s) { s.token = "another"; });
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_TRUE(result.nothing_changed);
  EXPECT_EQ(result.failed_proxy, proxy(2).address());
  EXPECT_NE(result.failure.find("answered 401"), std::string::npos) << result.failure;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(proxy(i).change_patches().empty()) << i;
    EXPECT_EQ(proxy(i).generation(), 1) << i;
  }
}

TEST_F(CtlFleet, ReadOnlyProxyChangesNothing) {
  proxy(1).with([](FakeState& s) { s.token.clear(); });
  auto result = change(*phase_settings(3));
  ASSERT_FALSE(result.ok);
  EXPECT_TRUE(result.nothing_changed);
  EXPECT_NE(result.failure.find("answered 403"), std::string::npos) << result.failure;
  EXPECT_TRUE(proxy(0).change_patches().empty());
}

TEST_F(CtlFleet, GenerationConflictFailsAndPutsTheFirstBack) {
  proxy(1).with([](FakeState& s) { s.concurrent_change = true; });
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.failed_proxy, proxy(1).address());
  EXPECT_NE(result.failure.find("generation conflict: it is at generation 2, not 1"),
            std::string::npos)
      << result.failure;
  EXPECT_EQ(proxy(0).text("primary_cluster"), "ORIGIN");
  EXPECT_EQ(proxy(1).text("primary_cluster"), "ORIGIN");
  ASSERT_EQ(result.restored.size(), 1u);
}

TEST_F(CtlFleet, PuttingBackLeavesAProxyThatSomeoneElseChangedSince) {
  // While the second proxy is asked, someone else changes the first one again.
  proxy(1).with([this](FakeState& s) {
    s.fail_patch = 400;
    s.on_change_patch = [this] { proxy(0).with([](FakeState& f) { f.generation += 5; }); };
  });
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_TRUE(result.restored.empty());
  ASSERT_EQ(result.not_restored.size(), 1u);
  EXPECT_NE(result.not_restored[0].find("changed by someone else since"), std::string::npos)
      << result.not_restored[0];
  EXPECT_EQ(proxy(0).text("primary_cluster"), "TARGET");  // left as the other writer has it
  auto text = joined(describe_failure(result));
  EXPECT_NE(text.find("NOT put back: " + proxy(0).address()), std::string::npos) << text;
}

TEST_F(CtlFleet, ProxyNeverReadyAfterItsChangeIsPutBackWithTheOthers) {
  proxy(1).with([](FakeState& s) { s.ready_after_change = false; });
  auto result = change(*phase_settings(4));
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.failed_proxy, proxy(1).address());
  EXPECT_NE(result.failure.find("not ready within 400 ms after the change (status DOWN)"),
            std::string::npos)
      << result.failure;
  ASSERT_EQ(result.restored.size(), 2u);
  EXPECT_EQ(result.restored[0], proxy(1).address() + " (generation 2 -> 3)");
  EXPECT_EQ(proxy(0).text("primary_cluster"), "ORIGIN");
  EXPECT_EQ(proxy(1).text("primary_cluster"), "ORIGIN");
  EXPECT_TRUE(proxy(2).change_patches().empty());
}

TEST_F(CtlFleet, ProxyNotReadyBeforeTheChangeIsNotHeldToIt) {
  // An emergency rollback while target is down: the proxies report DOWN before and after.
  proxy(0).with([](FakeState& s) {
    s.config["primary_cluster"] = "TARGET";
    s.ready = false;
    s.status = "DOWN";
  });
  auto result = change(rollback_settings());
  ASSERT_TRUE(result.ok) << joined(describe_failure(result));
  EXPECT_EQ(proxy(0).text("primary_cluster"), "ORIGIN");
  ASSERT_FALSE(lines_.empty());
  EXPECT_NE(lines_[0].find("not ready (status DOWN; it was not ready before the change either)"),
            std::string::npos)
      << lines_[0];
}

TEST_F(CtlFleet, SettingThatCannotChangeLiveIsRefusedBeforeAnythingChanges) {
  auto result = change({{"read_mode", "DUAL_ASYNC_ON_SECONDARY"}, {"proxy_listen_port", 9999}});
  ASSERT_FALSE(result.ok);
  EXPECT_TRUE(result.nothing_changed);
  EXPECT_NE(result.failure.find("'proxy_listen_port' cannot change while the proxy runs"),
            std::string::npos)
      << result.failure;
  auto unknown = change({{"no_such_setting", 1}});
  ASSERT_FALSE(unknown.ok);
  EXPECT_NE(unknown.failure.find("'no_such_setting' is not a setting of this proxy"),
            std::string::npos)
      << unknown.failure;
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(proxy(i).change_patches().empty()) << i;
}

TEST_F(CtlFleet, SetSendsNumbersAndBooleansAsJson) {
  auto settings = parse_assignments({"read_comparison_rate=0.25", "replace_cql_functions=true"});
  ASSERT_TRUE(settings) << settings.error().message;
  auto result = change(*settings);
  ASSERT_TRUE(result.ok) << joined(describe_failure(result));
  auto body = nlohmann::json::parse(proxy(0).change_patches().at(0).body);
  EXPECT_EQ(body["read_comparison_rate"], 0.25);
  EXPECT_EQ(body["replace_cql_functions"], true);
  EXPECT_NE(lines_[0].find("read_comparison_rate 0 -> 0.25"), std::string::npos) << lines_[0];
}

TEST(CtlSettings, PhasesMapToPrimaryClusterAndReadMode) {
  EXPECT_EQ(*phase_settings(1),
            nlohmann::json({{"primary_cluster", "ORIGIN"}, {"read_mode", "PRIMARY_ONLY"}}));
  EXPECT_EQ(*phase_settings(3), nlohmann::json({{"primary_cluster", "ORIGIN"},
                                                {"read_mode", "DUAL_ASYNC_ON_SECONDARY"}}));
  EXPECT_EQ(*phase_settings(4),
            nlohmann::json({{"primary_cluster", "TARGET"}, {"read_mode", "PRIMARY_ONLY"}}));
  EXPECT_EQ(rollback_settings(), *phase_settings(1));
  for (int bad : {0, 2, 5, -1}) EXPECT_FALSE(phase_settings(bad)) << bad;
}

TEST(CtlSettings, AssignmentsKeepStringsAndParseNumbersAndBooleans) {
  auto s = parse_assignments({"READ_MODE=PRIMARY_ONLY", "zdm_read_comparison_rate=0.1",
                              "replace_cql_functions=false", "proxy_request_timeout_ms=500",
                              "log_level=TRUE", "x="});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)["read_mode"], "PRIMARY_ONLY");
  EXPECT_EQ((*s)["read_comparison_rate"], 0.1);
  EXPECT_EQ((*s)["replace_cql_functions"], false);
  EXPECT_EQ((*s)["proxy_request_timeout_ms"], 500);
  EXPECT_EQ((*s)["log_level"], "TRUE");
  EXPECT_EQ((*s)["x"], "");
}

TEST(CtlSettings, AssignmentsWithoutKeyOrEqualsOrTwiceAreUsageErrors) {
  EXPECT_FALSE(parse_assignments({}));
  auto no_eq = parse_assignments({"read_mode"});
  ASSERT_FALSE(no_eq);
  EXPECT_NE(no_eq.error().message.find("expected KEY=VALUE"), std::string::npos);
  EXPECT_FALSE(parse_assignments({"=1"}));
  EXPECT_FALSE(parse_assignments({"read_mode=A", "READ_MODE=B"}));
}

}  // namespace
}  // namespace zdm::ops
