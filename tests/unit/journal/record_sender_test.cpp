#include "journal/record_sender.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "journal_test_util.hpp"

namespace zdm::journal {
namespace {

using Kind = SendOutcome::Kind;

TEST(RecordSenderTest, ClassifiesOnlyLastingRefusalsAsPermanent) {
  using protocol::ErrorCode;
  for (auto code : {ErrorCode::Invalid, ErrorCode::SyntaxError, ErrorCode::Unauthorized,
                    ErrorCode::ConfigError, ErrorCode::AlreadyExists}) {
    EXPECT_EQ(classify(code), Kind::Permanent) << protocol::error_code_name(code);
  }
  for (auto code : {ErrorCode::ServerError, ErrorCode::Unavailable, ErrorCode::Overloaded,
                    ErrorCode::IsBootstrapping, ErrorCode::TruncateError, ErrorCode::WriteTimeout,
                    ErrorCode::ReadTimeout, ErrorCode::WriteFailure, ErrorCode::Unprepared,
                    ErrorCode::ProtocolError}) {
    EXPECT_EQ(classify(code), Kind::Transient) << protocol::error_code_name(code);
  }
}

TEST(RecordSenderTest, ClientFailuresAreTransientAndServerOnesFollowTheirCode) {
  client::ClientError timeout{client::ClientErrc::Timeout, "no response", {}, {}, true};
  EXPECT_EQ(outcome_of(timeout, "EXECUTE").kind, Kind::Transient);
  client::ClientError invalid{
      client::ClientErrc::Server, "unconfigured table t", protocol::ErrorCode::Invalid, {}, true};
  auto out = outcome_of(invalid, "PREPARE");
  EXPECT_EQ(out.kind, Kind::Permanent);
  EXPECT_NE(out.error.find("PREPARE: "), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("unconfigured table t"), std::string::npos) << out.error;
}

// A closed port: the connect fails, every send completes once as Transient, never inline, and
// the next send within the reconnect interval fails fast with the same error.
TEST(RecordSenderTest, FailsFastAsTransientWhileTheClusterIsDown) {
  boost::asio::io_context io;
  uint16_t port = 0;
  {
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  client::SessionOptions base;
  base.contact_points.push_back(client::Endpoint{"127.0.0.1", port});
  base.connection.connect_timeout = std::chrono::milliseconds(2000);
  RecordSender sender(io.get_executor(), base, std::chrono::hours(1));
  std::vector<SendOutcome> outcomes;
  bool returned = false;
  for (int i = 0; i < 2; ++i) {
    sender.send(testing::insert_record(i), [&](SendOutcome o) {
      EXPECT_TRUE(returned) << "done ran inline";
      outcomes.push_back(std::move(o));
    });
  }
  returned = true;
  io.run_for(std::chrono::seconds(10));
  ASSERT_EQ(outcomes.size(), 2u);
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.kind, Kind::Transient);
    EXPECT_NE(o.error.find("cannot connect to 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << o.error;
  }
  EXPECT_FALSE(sender.healthy());
  // Within the interval: no new connect, an immediate failure naming the next attempt.
  io.restart();
  sender.send(testing::insert_record(3), [&](SendOutcome o) { outcomes.push_back(std::move(o)); });
  io.run_for(std::chrono::seconds(1));
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_NE(outcomes[2].error.find("next attempt in"), std::string::npos) << outcomes[2].error;
}

}  // namespace
}  // namespace zdm::journal
