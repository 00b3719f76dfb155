// Request frames encoded by the DataStax Python driver (gen_messages.py): our decoder must read
// the fields the driver put in, and our encoder must reproduce the driver's bytes exactly.
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "golden_data.hpp"
#include "protocol/messages.hpp"

namespace zdm::protocol {
namespace {

using nlohmann::json;

std::string hex(ByteView b) { return to_hex(b); }

void check_value(const json& expected, const BoundValue& actual) {
  const std::string kind = expected.at("kind");
  if (kind == "null") {
    EXPECT_EQ(actual.kind, ValueView::Kind::Null);
  } else if (kind == "unset") {
    EXPECT_EQ(actual.kind, ValueView::Kind::Unset);
  } else {
    ASSERT_EQ(actual.kind, ValueView::Kind::Set);
    EXPECT_EQ(hex(actual.bytes), expected.at("hex").get<std::string>());
  }
}

void check_values(const json& expected, const std::vector<BoundValue>& actual) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) check_value(expected[i], actual[i]);
}

void check_consistency(const json& expected, std::optional<Consistency> actual) {
  if (expected.is_null()) {
    EXPECT_FALSE(actual);
  } else {
    ASSERT_TRUE(actual);
    EXPECT_EQ(consistency_name(*actual), expected.get<std::string>());
  }
}

template <class T>
void check_optional(const json& expected, const std::optional<T>& actual) {
  if (expected.is_null()) {
    EXPECT_FALSE(actual);
  } else {
    ASSERT_TRUE(actual);
    EXPECT_EQ(*actual, expected.get<T>());
  }
}

void check_parameters(const json& f, const QueryParameters& p) {
  check_consistency(f.at("consistency"), p.consistency);
  if (f.at("values").is_null()) {
    EXPECT_FALSE(p.values);
  } else {
    ASSERT_TRUE(p.values);
    check_values(f.at("values"), *p.values);
  }
  EXPECT_FALSE(p.named_values);
  EXPECT_EQ(p.skip_metadata, f.at("skip_metadata").get<bool>());
  check_optional(f.at("page_size"), p.page_size);
  if (f.at("paging_state").is_null()) {
    EXPECT_FALSE(p.paging_state);
  } else {
    ASSERT_TRUE(p.paging_state);
    EXPECT_EQ(hex(*p.paging_state), f.at("paging_state").get<std::string>());
  }
  check_consistency(f.at("serial_consistency"), p.serial_consistency);
  check_optional(f.at("timestamp"), p.default_timestamp);
  check_optional(f.at("keyspace"), p.keyspace);
  EXPECT_FALSE(p.now_in_seconds);
  EXPECT_FALSE(p.page_size_in_bytes);
  const json& cp = f.at("continuous_paging");
  if (cp.is_null()) {
    EXPECT_FALSE(p.continuous_paging);
  } else {
    ASSERT_TRUE(p.continuous_paging);
    EXPECT_EQ(p.continuous_paging->max_pages, cp.at("max_pages").get<int32_t>());
    EXPECT_EQ(p.continuous_paging->max_pages_per_second,
              cp.at("max_pages_per_second").get<int32_t>());
    check_optional(cp.at("next_pages"), p.continuous_paging->next_pages);
  }
}

void check_fields(const json& f, const RequestBody& body) {
  if (const auto* m = std::get_if<StartupMessage>(&body)) {
    const json& options = f.at("options");
    ASSERT_EQ(m->options.size(), options.size());
    for (size_t i = 0; i < options.size(); ++i) {
      EXPECT_EQ(m->options[i].first, options[i][0].get<std::string>());
      EXPECT_EQ(m->options[i].second, options[i][1].get<std::string>());
    }
  } else if (std::holds_alternative<OptionsMessage>(body)) {
    EXPECT_TRUE(f.empty());
  } else if (const auto* q = std::get_if<QueryMessage>(&body)) {
    EXPECT_EQ(q->query, f.at("query").get<std::string>());
    check_parameters(f, q->parameters);
  } else if (const auto* e = std::get_if<ExecuteMessage>(&body)) {
    EXPECT_EQ(hex(e->id), f.at("id").get<std::string>());
    const json& metadata_id = f.at("result_metadata_id");
    EXPECT_EQ(hex(e->result_metadata_id),
              metadata_id.is_null() ? std::string() : metadata_id.get<std::string>());
    check_parameters(f, e->parameters);
  } else if (const auto* p = std::get_if<PrepareMessage>(&body)) {
    EXPECT_EQ(p->query, f.at("query").get<std::string>());
    check_optional(f.at("keyspace"), p->keyspace);
  } else if (const auto* b = std::get_if<BatchMessage>(&body)) {
    EXPECT_EQ(batch_type_name(b->type), f.at("type").get<std::string>());
    const json& statements = f.at("statements");
    ASSERT_EQ(b->statements.size(), statements.size());
    for (size_t i = 0; i < statements.size(); ++i) {
      const auto& s = b->statements[i];
      if (statements[i].at("kind") == "query") {
        ASSERT_EQ(s.kind, BatchStatement::Kind::Query);
        EXPECT_EQ(s.query, statements[i].at("query").get<std::string>());
      } else {
        ASSERT_EQ(s.kind, BatchStatement::Kind::Prepared);
        EXPECT_EQ(hex(s.id), statements[i].at("id").get<std::string>());
      }
      check_values(statements[i].at("values"), s.values);
    }
    check_consistency(f.at("consistency"), b->consistency);
    check_consistency(f.at("serial_consistency"), b->serial_consistency);
    check_optional(f.at("timestamp"), b->default_timestamp);
    check_optional(f.at("keyspace"), b->keyspace);
  } else if (const auto* r = std::get_if<RegisterMessage>(&body)) {
    EXPECT_EQ(r->event_types, f.at("event_types").get<std::vector<std::string>>());
  } else if (const auto* a = std::get_if<AuthResponseMessage>(&body)) {
    ASSERT_TRUE(a->token);
    EXPECT_EQ(hex(*a->token), f.at("token").get<std::string>());
  } else if (const auto* rv = std::get_if<ReviseRequestMessage>(&body)) {
    EXPECT_EQ(static_cast<int32_t>(rv->revision), f.at("revision_type").get<int32_t>());
    EXPECT_EQ(rv->target_stream, f.at("target_stream").get<int32_t>());
    check_optional(f.at("next_pages"), rv->next_pages);
  } else {
    ADD_FAILURE() << "unexpected request kind";
  }
}

TEST(MessagesGolden, DecodesDriverRequestFramesAndReencodesThemByteForByte) {
  json records = golden::load("messages.json");
  ASSERT_TRUE(records.is_array());
  ASSERT_GE(records.size(), 100u);
  std::set<std::pair<int, int>> version_opcodes;
  for (const auto& record : records) {
    const std::string name = record.at("name");
    const int version = record.at("version");
    SCOPED_TRACE(fmt::format("{} version 0x{:02x}", name, version));
    auto frame = from_hex(record.at("frame").get<std::string>());
    ASSERT_TRUE(frame);
    auto header = decode_frame_header(*frame);
    ASSERT_TRUE(header) << header.error().to_string();
    EXPECT_EQ(version_byte(header->version), version);
    ASSERT_EQ(header->body_length, frame->size() - kFrameHeaderSize);
    auto m = decode_message(*header, ByteView(*frame).subspan(kFrameHeaderSize));
    ASSERT_TRUE(m) << m.error().to_string();

    EXPECT_EQ(m->stream.value, record.at("stream").get<int>());
    EXPECT_EQ(static_cast<int>(m->opcode()), record.at("opcode").get<int>());
    EXPECT_EQ(m->direction(), Direction::Request);
    EXPECT_EQ(m->envelope.tracing, record.at("tracing").get<bool>());
    const json& payload = record.at("custom_payload");
    if (payload.is_null()) {
      EXPECT_FALSE(m->envelope.custom_payload);
    } else {
      ASSERT_TRUE(m->envelope.custom_payload);
      ASSERT_EQ(m->envelope.custom_payload->size(), payload.size());
      for (const auto& [key, value] : *m->envelope.custom_payload) {
        ASSERT_TRUE(value);
        EXPECT_EQ(hex(*value), payload.at(key).get<std::string>());
      }
    }
    check_fields(record.at("fields"), std::get<RequestBody>(m->body));
    EXPECT_TRUE(validate_for_version(*m));
    EXPECT_EQ(hex(encode_frame(*m)), record.at("frame").get<std::string>());
    version_opcodes.insert({version, record.at("opcode").get<int>()});
  }
  // Every request opcode in every version it exists in: 8 in v3/v4/v5, 9 with REVISE in DSE.
  EXPECT_EQ(version_opcodes.size(), 3u * 8u + 2u * 9u);
}

}  // namespace
}  // namespace zdm::protocol
