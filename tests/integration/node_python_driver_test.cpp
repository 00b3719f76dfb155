// The node server in-process, driven by the DataStax Python driver (an independent client): version
// negotiation from DSE_V2 down, system tables, DDL, prepared statements, auth, compression and
// fault injection through the admin endpoint. Skipped when /usr/bin/python3 lacks the driver.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "node/server/node_server.hpp"

namespace zdm::node {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

bool driver_available() {
  std::string cmd = std::string(kPython) + " -c 'import cassandra' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Runs the check script; returns its exit status and appends its output to `output`.
int run_check(const std::string& args, std::string& output) {
  std::string cmd = std::string("timeout 180 ") + kPython + " " + ZDM_INTEGRATION_DIR +
                    "/python_driver_check.py " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) output += buf;
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class NodePythonDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!driver_available()) GTEST_SKIP() << "python3-cassandra is not installed";
  }
  void start(NodeServerOptions options) {
    options.listen = net::HostPort{"127.0.0.1", 0};
    options.admin = net::HostPort{"127.0.0.1", 0};
    options.threads = 2;
    server_ = std::make_unique<NodeServer>(std::move(options));
    auto ok = server_->start();
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
  }
  std::string base_args() const {
    return "--port " + std::to_string(server_->port()) + " --admin-port " +
           std::to_string(*server_->admin_port());
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  std::unique_ptr<NodeServer> server_;
};

TEST_F(NodePythonDriverTest, NegotiatesV5AndRunsStatements) {
  start({});
  std::string out;
  EXPECT_EQ(run_check(base_args() + " --expect-version 5", out), 0) << out;
}

TEST_F(NodePythonDriverTest, DowngradesWhenV5IsDisabled) {
  NodeServerOptions options;
  options.protocol_versions = {protocol::ProtocolVersion::V3, protocol::ProtocolVersion::V4};
  start(options);
  std::string out;
  EXPECT_EQ(run_check(base_args() + " --expect-version 4", out), 0) << out;
}

TEST_F(NodePythonDriverTest, AuthenticatesWithPasswordAuthenticator) {
  NodeServerOptions options;
  options.users = {{"cassandra", "cassandra"}};
  start(options);
  std::string out;
  EXPECT_EQ(run_check(base_args() + " --user cassandra:cassandra", out), 0) << out;
}

TEST_F(NodePythonDriverTest, CompressedConnections) {
  start({});
  for (const char* args :
       {" --protocol-version 4 --compression lz4", " --protocol-version 4 --compression snappy",
        " --protocol-version 5 --compression lz4"}) {
    std::string out;
    EXPECT_EQ(run_check(base_args() + args, out), 0) << args << "\n" << out;
  }
}

}  // namespace
}  // namespace zdm::node
