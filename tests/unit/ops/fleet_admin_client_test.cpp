// The operations API client: addresses, answers, failures named by proxy and kind, the token and
// the headers a change carries, and how the fleet is listed.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "fleet_fake_proxy.hpp"
#include "ops/admin_client.hpp"
#include "ops/fleet.hpp"

namespace zdm::ops {
namespace {

using testing::FakeProxy;
using namespace std::chrono_literals;

AdminClient client_for(uint16_t port, std::string token = "secret",
                       std::chrono::milliseconds timeout = 2s) {
  return AdminClient(AdminAddress{"127.0.0.1", port},
                     AdminClientOptions{timeout, std::move(token), "zdm ctl (alice@ops-1)"});
}

// A file in the test's temporary directory, removed at the end of the scope.
struct TempFile {
  explicit TempFile(const std::string& content) {
    path = ::testing::TempDir() + "zdm_fleet_" + std::to_string(getpid()) + "_" +
           std::to_string(counter++);
    std::ofstream(path) << content;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
  static inline int counter = 0;
};

TEST(FleetAdminClient, ParsesHostPortAndBracketedIpv6) {
  auto a = parse_admin_address("10.0.0.7:14001");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "10.0.0.7");
  EXPECT_EQ(a->port, 14001);
  EXPECT_EQ(a->to_string(), "10.0.0.7:14001");
  auto v6 = parse_admin_address("[::1]:14001");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:14001");
}

TEST(FleetAdminClient, RefusesAddressesWithoutAUsablePort) {
  for (const char* bad : {"10.0.0.7", "10.0.0.7:", "10.0.0.7:0", "10.0.0.7:70000", ":14001",
                          "10.0.0.7:14x", "::1:14001", "[::1]14001"}) {
    auto a = parse_admin_address(bad);
    EXPECT_FALSE(a) << bad;
    if (!a) {
      EXPECT_NE(a.error().message.find(bad), std::string::npos) << a.error().message;
    }
  }
}

TEST(FleetAdminClient, GetReturnsTheAnswerWithoutSendingTheToken) {
  FakeProxy proxy;
  auto answer = client_for(proxy.port()).get("/api/v1/config");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ((*answer)["generation"], 1);
  EXPECT_EQ((*answer)["config"]["primary_cluster"], "ORIGIN");
  auto requests = proxy.with([](testing::FakeState& s) { return s.requests; });
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].authorization, "");
}

TEST(FleetAdminClient, PatchCarriesTokenActorAndIfMatch) {
  FakeProxy proxy;
  auto answer =
      client_for(proxy.port()).patch("/api/v1/config", {{"primary_cluster", "TARGET"}}, int64_t{1});
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ((*answer)["generation"], 2);
  auto patches = proxy.change_patches();
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_EQ(patches[0].authorization, "Bearer secret");
  EXPECT_EQ(patches[0].actor, "zdm ctl (alice@ops-1)");
  EXPECT_EQ(patches[0].if_match, "1");
  EXPECT_EQ(nlohmann::json::parse(patches[0].body),
            nlohmann::json({{"primary_cluster", "TARGET"}}));
}

TEST(FleetAdminClient, UnreachableProxyIsNamedWithTheReason) {
  const uint16_t port = testing::refused_port();
  auto answer = client_for(port).get("/api/v1/status");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, AdminErrorKind::Unreachable);
  EXPECT_NE(answer.error().message.find("proxy 127.0.0.1:" + std::to_string(port) +
                                        " unreachable: connection refused"),
            std::string::npos)
      << answer.error().message;
}

TEST(FleetAdminClient, SilentProxyIsNoAnswerAfterTheTimeout) {
  // Accepts connections and never answers, like a proxy stopped with SIGSTOP.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  auto answer = client_for(acceptor.local_endpoint().port(), "secret", 300ms)
                    .patch("/api/v1/config", {{"read_mode", "PRIMARY_ONLY"}}, std::nullopt);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, AdminErrorKind::NoAnswer);
  EXPECT_NE(answer.error().message.find("no answer to PATCH /api/v1/config within 300 ms"),
            std::string::npos)
      << answer.error().message;
}

TEST(FleetAdminClient, ErrorStatusCarriesTheProxysMessageAndATokenHint) {
  FakeProxy proxy;
  auto wrong = client_for(proxy.port(), "not-the-token")
                   .patch("/api/v1/config", nlohmann::json::object(), std::nullopt);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, AdminErrorKind::HttpStatus);
  EXPECT_EQ(wrong.error().status, 401u);
  EXPECT_NE(wrong.error().message.find("answered 401: missing or wrong bearer token"),
            std::string::npos)
      << wrong.error().message;
  auto none =
      client_for(proxy.port(), "").patch("/api/v1/config", nlohmann::json::object(), std::nullopt);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no token was sent: set ZDM_ADMIN_TOKEN"), std::string::npos)
      << none.error().message;
}

TEST(FleetAdminClient, UnknownPathIsAnErrorNamingThePath) {
  FakeProxy proxy;
  auto answer = client_for(proxy.port()).get("/api/v1/nothing");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().status, 404u);
  EXPECT_NE(answer.error().message.find("GET /api/v1/nothing answered 404"), std::string::npos)
      << answer.error().message;
}

TEST(FleetAdminClient, TokenFileWinsOverTheEnvironmentAndLosesItsLineEnd) {
  // As the proxy reads admin_token_file: the first line, trailing blanks and CR dropped.
  TempFile file("s3cret \r\nsecond line\n");
  auto from_file = resolve_token(file.path, "from-env");
  ASSERT_TRUE(from_file) << from_file.error().message;
  EXPECT_EQ(*from_file, "s3cret");
  auto from_env = resolve_token("", "from-env\n");
  ASSERT_TRUE(from_env);
  EXPECT_EQ(*from_env, "from-env");
  auto none = resolve_token("", nullptr);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, "");
}

// ZDM_ADMIN_TOKEN of this process, set or unset for one test.
struct ScopedTokenEnv {
  explicit ScopedTokenEnv(const char* value) {
    if (const char* old = std::getenv("ZDM_ADMIN_TOKEN")) saved = old;
    if (value) {
      setenv("ZDM_ADMIN_TOKEN", value, 1);
    } else {
      unsetenv("ZDM_ADMIN_TOKEN");
    }
  }
  ~ScopedTokenEnv() {
    if (saved) {
      setenv("ZDM_ADMIN_TOKEN", saved->c_str(), 1);
    } else {
      unsetenv("ZDM_ADMIN_TOKEN");
    }
  }
  std::optional<std::string> saved;
};

const char* kYamlFleet =
    "origin_contact_points: 10.0.0.1\n"
    "target_contact_points: 10.1.0.1\n"
    "proxy_topology_addresses: 10.2.0.1, 10.2.0.2\n";

TEST(FleetAdminClient, WithConfigAndNoOtherTokenTheYamlsTokenIsUsed) {
  TempFile yaml(std::string(kYamlFleet) + "admin_token: yaml-token\n");
  FleetFlags flags{"", yaml.path, "", "5s"};
  {
    ScopedTokenEnv env(nullptr);
    auto fleet = open_fleet(flags, "zdm ctl (test@host)");
    ASSERT_TRUE(fleet) << fleet.error().message;
    ASSERT_EQ(fleet->proxies.size(), 2u);
    EXPECT_EQ(fleet->proxies[1].options().token, "yaml-token");
    EXPECT_EQ(fleet->proxies[1].options().actor, "zdm ctl (test@host)");
  }
  {
    ScopedTokenEnv env("env-token");
    auto fleet = open_fleet(flags, "a");
    ASSERT_TRUE(fleet) << fleet.error().message;
    EXPECT_EQ(fleet->proxies[0].options().token, "env-token");
  }
}

TEST(FleetAdminClient, WithConfigTheYamlsTokenFileIsRead) {
  TempFile token("file-token\n");
  TempFile yaml(std::string(kYamlFleet) + "admin_token_file: " + token.path + "\n");
  ScopedTokenEnv env(nullptr);
  auto fleet = open_fleet(FleetFlags{"", yaml.path, "", "5s"}, "a");
  ASSERT_TRUE(fleet) << fleet.error().message;
  EXPECT_EQ(fleet->proxies[0].options().token, "file-token");
}

TEST(FleetAdminClient, WithProxiesAndNoTokenNoneIsSent) {
  ScopedTokenEnv env(nullptr);
  auto fleet = open_fleet(FleetFlags{"127.0.0.1:14001", "", "", "250ms"}, "a");
  ASSERT_TRUE(fleet) << fleet.error().message;
  EXPECT_EQ(fleet->proxies[0].options().token, "");
  EXPECT_EQ(fleet->proxies[0].options().timeout, std::chrono::milliseconds(250));
  EXPECT_FALSE(open_fleet(FleetFlags{"127.0.0.1:14001", "", "", "0s"}, "a"));
}

TEST(FleetAdminClient, UnreadableOrEmptyTokenFileIsAnError) {
  auto missing = resolve_token("/nonexistent/zdm-token", "x");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/zdm-token"), std::string::npos);
  TempFile empty("\n");
  EXPECT_FALSE(resolve_token(empty.path, "x"));
}

TEST(FleetAdminClient, ParsesDurations) {
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("500ms"), 500ms);
  EXPECT_EQ(*parse_duration("2m"), 120s);
  EXPECT_EQ(*parse_duration("1.5"), 1500ms);
  EXPECT_FALSE(parse_duration("soon"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("3h"));
}

TEST(FleetAdminClient, FleetNeedsExactlyOneSourceAndNoDuplicates) {
  EXPECT_FALSE(fleet_addresses(FleetFlags{}));
  EXPECT_FALSE(fleet_addresses(FleetFlags{"127.0.0.1:1", "proxy.yaml", "", "5s"}));
  EXPECT_FALSE(fleet_addresses(FleetFlags{"127.0.0.1:1,127.0.0.1:1", "", "", "5s"}));
  auto bad = fleet_addresses(FleetFlags{"127.0.0.1:1,nope", "", "", "5s"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--proxies: 'nope'"), std::string::npos)
      << bad.error().message;
  auto two = fleet_addresses(FleetFlags{"127.0.0.1:14001, 127.0.0.2:14001", "", "", "5s"});
  ASSERT_TRUE(two) << two.error().message;
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].to_string(), "127.0.0.2:14001");
}

TEST(FleetAdminClient, FleetFromTheProxyYamlIsEachTopologyAddressAtTheMetricsPort) {
  TempFile yaml(
      "origin_contact_points: 10.0.0.1\n"
      "target_contact_points: 10.1.0.1\n"
      "proxy_topology_addresses: 10.2.0.1, 10.2.0.2, 10.2.0.3\n"
      "metrics_port: 14005\n");
  auto fleet = fleet_addresses(FleetFlags{"", yaml.path, "", "5s"});
  ASSERT_TRUE(fleet) << fleet.error().message;
  ASSERT_EQ(fleet->size(), 3u);
  EXPECT_EQ((*fleet)[0].to_string(), "10.2.0.1:14005");
  EXPECT_EQ((*fleet)[2].to_string(), "10.2.0.3:14005");
}

TEST(FleetAdminClient, FleetFromAYamlWithoutTopologyIsTheListenAddress) {
  TempFile yaml(
      "origin_contact_points: 10.0.0.1\n"
      "target_contact_points: 10.1.0.1\n"
      "proxy_listen_address: 10.2.0.9\n");
  auto fleet = fleet_addresses(FleetFlags{"", yaml.path, "", "5s"});
  ASSERT_TRUE(fleet) << fleet.error().message;
  ASSERT_EQ(fleet->size(), 1u);
  EXPECT_EQ((*fleet)[0].to_string(), "10.2.0.9:14001");
}

TEST(FleetAdminClient, BadYamlIsAnErrorNamingTheFile) {
  TempFile yaml("no_such_setting: 1\n");
  auto fleet = fleet_addresses(FleetFlags{"", yaml.path, "", "5s"});
  ASSERT_FALSE(fleet);
  EXPECT_NE(fleet.error().message.find(yaml.path), std::string::npos) << fleet.error().message;
}

}  // namespace
}  // namespace zdm::ops
