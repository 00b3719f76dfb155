// Our peek API over request frames encoded by the DataStax Python driver (gen_peek.py), and
// replace_prepared_id(s) against the frames the driver encodes with the replacement ids.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "golden_data.hpp"
#include "protocol/peek.hpp"

namespace zdm::protocol {
namespace {

using nlohmann::json;

Bytes unhex(const std::string& hex) {
  auto b = from_hex(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b ? *b : Bytes{};
}

std::string hex(ByteView b) { return to_hex(b); }

template <class T>
void expect_optional(const json& want, const std::optional<T>& got, const char* field) {
  if (want.is_null()) {
    EXPECT_FALSE(got.has_value()) << field;
  } else {
    ASSERT_TRUE(got.has_value()) << field;
    EXPECT_EQ(*got, want.get<T>()) << field;
  }
}

void expect_optional_keyspace(const json& want, const std::optional<std::string_view>& got) {
  if (want.is_null()) {
    EXPECT_FALSE(got.has_value()) << "keyspace";
  } else {
    ASSERT_TRUE(got.has_value()) << "keyspace";
    EXPECT_EQ(std::string(*got), want.get<std::string>());
  }
}

void expect_params(const json& e, const QueryParamsPeek& p) {
  EXPECT_EQ(p.consistency, e.at("consistency").get<uint16_t>());
  EXPECT_EQ(p.value_count, e.at("value_count").get<uint16_t>());
  if (e.contains("page_size"))
    expect_optional<int32_t>(e.at("page_size"), p.page_size, "page size");
  if (e.contains("serial_consistency")) {
    expect_optional<uint16_t>(e.at("serial_consistency"), p.serial_consistency, "serial");
  }
  if (e.contains("timestamp")) {
    expect_optional<int64_t>(e.at("timestamp"), p.default_timestamp, "timestamp");
  }
  if (e.contains("paging_state")) {
    if (e.at("paging_state").is_null()) {
      EXPECT_FALSE(p.paging_state.has_value());
    } else {
      ASSERT_TRUE(p.paging_state.has_value());
      EXPECT_EQ(hex(*p.paging_state), e.at("paging_state").get<std::string>());
    }
  }
  if (e.contains("keyspace")) expect_optional_keyspace(e.at("keyspace"), p.keyspace);
  if (e.contains("continuous_paging")) {
    EXPECT_EQ(p.has_flag(query_flags::kContinuousPaging), e.at("continuous_paging").get<bool>());
  }
  EXPECT_FALSE(p.now_in_seconds.has_value());  // the driver never sends it
}

void check_replace(const FrameHeader& header, ByteView body, const json& replace) {
  std::map<std::string, Bytes> mapping;
  for (const auto& [old_hex, new_hex] : replace.at("map").items()) {
    mapping[old_hex] = unhex(new_hex.get<std::string>());
  }
  auto rewritten = replace_prepared_ids(header, body, [&](ByteView old) -> std::optional<ByteView> {
    auto it = mapping.find(to_hex(old));
    if (it == mapping.end()) return std::nullopt;
    return ByteView(it->second);
  });
  ASSERT_TRUE(rewritten.has_value()) << rewritten.error().to_string();
  FrameHeader out_header = header;
  out_header.body_length = static_cast<uint32_t>(rewritten->size());
  Bytes frame;
  append_frame_header(out_header, frame);
  frame.insert(frame.end(), rewritten->begin(), rewritten->end());
  EXPECT_EQ(to_hex(frame), replace.at("frame").get<std::string>());

  if (header.opcode == Opcode::Execute) {
    // The single-id form gives the same bytes.
    auto single = replace_prepared_id(header, body, mapping.begin()->second);
    ASSERT_TRUE(single.has_value());
    EXPECT_EQ(*single, *rewritten);
  }
}

TEST(PeekGolden, ExtractsDriverEncodedFieldsInEveryVersion) {
  const json data = golden::load("peek.json");
  ASSERT_TRUE(data.is_object());
  const auto& cases = data.at("cases");
  ASSERT_GE(cases.size(), 50u);
  std::map<int, int> per_version;
  for (const auto& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const Bytes frame = unhex(c.at("frame").get<std::string>());
    auto header = decode_frame_header(frame);
    ASSERT_TRUE(header.has_value()) << header.error().to_string();
    ASSERT_EQ(header->body_length + kFrameHeaderSize, frame.size());
    const ByteView body = ByteView(frame).subspan(kFrameHeaderSize);
    const json& e = c.at("expect");
    ++per_version[c.at("version").get<int>()];

    auto any = peek_request(*header, body);
    ASSERT_TRUE(any.has_value()) << any.error().to_string();
    switch (header->opcode) {
      case Opcode::Query: {
        const auto& q = std::get<QueryPeek>(*any);
        EXPECT_EQ(std::string(q.query), e.at("query").get<std::string>());
        expect_params(e, q.params);
        break;
      }
      case Opcode::Execute: {
        const auto& x = std::get<ExecutePeek>(*any);
        EXPECT_EQ(hex(x.prepared_id), e.at("prepared_id").get<std::string>());
        if (e.at("result_metadata_id").is_null()) {
          EXPECT_FALSE(x.result_metadata_id.has_value());
        } else {
          ASSERT_TRUE(x.result_metadata_id.has_value());
          EXPECT_EQ(hex(*x.result_metadata_id), e.at("result_metadata_id").get<std::string>());
        }
        EXPECT_EQ(header->has_flag(frame_flags::kCustomPayload),
                  e.at("custom_payload").get<bool>());
        expect_params(e, x.params);
        break;
      }
      case Opcode::Prepare: {
        const auto& p = std::get<PreparePeek>(*any);
        EXPECT_EQ(std::string(p.query), e.at("query").get<std::string>());
        expect_optional_keyspace(e.at("keyspace"), p.keyspace);
        break;
      }
      case Opcode::Batch: {
        const auto& b = std::get<BatchPeek>(*any);
        EXPECT_EQ(b.batch_type, e.at("batch_type").get<uint8_t>());
        EXPECT_EQ(b.consistency, e.at("consistency").get<uint16_t>());
        expect_optional<uint16_t>(e.at("serial_consistency"), b.serial_consistency, "serial");
        expect_optional<int64_t>(e.at("timestamp"), b.default_timestamp, "timestamp");
        expect_optional_keyspace(e.at("keyspace"), b.keyspace);
        const auto& children = e.at("children");
        ASSERT_EQ(b.child_count(), children.size());
        size_t i = 0;
        for (const BatchChildPeek& child : b.children) {
          const auto& want = children.at(i++);
          EXPECT_EQ(static_cast<int>(child.kind), want.at("kind").get<int>());
          EXPECT_EQ(child.value_count, want.at("value_count").get<uint16_t>());
          if (child.kind == BatchChildPeek::Kind::Prepared) {
            EXPECT_EQ(hex(child.prepared_id), want.at("prepared_id").get<std::string>());
          } else {
            EXPECT_EQ(std::string(child.query), want.at("query").get<std::string>());
          }
        }
        EXPECT_EQ(i, children.size());
        break;
      }
      case Opcode::Register: {
        const auto& r = std::get<RegisterPeek>(*any);
        EXPECT_EQ(r.count, e.at("events").size());
        EXPECT_EQ(r.events, event_types::kTopologyChange | event_types::kStatusChange |
                                event_types::kSchemaChange);
        EXPECT_EQ(r.unknown_count, 0);
        break;
      }
      default:
        ADD_FAILURE() << "unexpected opcode " << opcode_name(header->opcode);
    }
    if (c.contains("replace")) check_replace(*header, body, c.at("replace"));
  }
  for (int v : {3, 4, 5, 0x41, 0x42}) EXPECT_GE(per_version[v], 10) << "version " << v;
}

}  // namespace
}  // namespace zdm::protocol
