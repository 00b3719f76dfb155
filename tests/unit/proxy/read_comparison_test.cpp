#include "proxy/session/read_comparison.hpp"

#include <gtest/gtest.h>

#include "common/metrics.hpp"
#include "protocol/frame_codec.hpp"
#include "protocol/message_codec.hpp"

namespace zdm::proxy {
namespace {

using protocol::DataType;
using protocol::ProtocolVersion;
using protocol::TypeId;

Bytes int_cell(int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  return Bytes{static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
               static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)};
}
Bytes text_cell(std::string_view s) { return Bytes(s.begin(), s.end()); }

protocol::Row kv(int32_t k, std::optional<std::string_view> v) {
  protocol::Row row;
  row.push_back(int_cell(k));
  if (v)
    row.push_back(text_cell(*v));
  else
    row.push_back(std::nullopt);
  return row;
}

struct RowsOptions {
  bool no_metadata = false;
  bool global = true;
  std::optional<Bytes> paging_state;
  std::optional<Bytes> new_metadata_id;
  bool with_collection = false;
};

// A RESULT ROWS response for (k int, v text[, m map<text, frozen<list<int>>>]) as the codec
// encodes it, and its header.
struct Encoded {
  protocol::FrameHeader header;
  Bytes body;
};

Encoded rows_response(ProtocolVersion v, const std::vector<protocol::Row>& rows,
                      const RowsOptions& o = {}) {
  protocol::RowsResult r;
  r.metadata.global_table_spec = o.global;
  r.metadata.global_keyspace = "ks";
  r.metadata.global_table = "kv";
  r.metadata.no_metadata = o.no_metadata;
  r.metadata.paging_state = o.paging_state;
  r.metadata.new_metadata_id = o.new_metadata_id;
  r.metadata.columns = {{"ks", "kv", "k", DataType::simple(TypeId::Int)},
                        {"ks", "kv", "v", DataType::simple(TypeId::Varchar)}};
  if (o.with_collection) {
    r.metadata.columns.push_back(
        {"ks", "kv", "m",
         DataType::map_of(DataType::simple(TypeId::Varchar),
                          DataType::list_of(DataType::simple(TypeId::Int)))});
  }
  r.metadata.column_count = static_cast<int32_t>(r.metadata.columns.size());
  if (o.no_metadata) r.metadata.columns.clear();
  r.rows = rows;
  if (o.with_collection) {
    for (auto& row : r.rows) row.push_back(Bytes{0, 0, 0, 0});
  }
  protocol::ResultMessage result;
  result.result = std::move(r);
  auto m = protocol::make_response(v, protocol::StreamId{1}, protocol::ResponseBody(result));
  Bytes frame = protocol::encode_frame(m);
  auto h = protocol::decode_frame_header(frame);
  EXPECT_TRUE(h);
  return {*h, Bytes(frame.begin() + protocol::kFrameHeaderSize, frame.end())};
}

RowsDigest digest(ProtocolVersion v, const Encoded& e) {
  auto peek = peek_response(e.header, e.body);
  EXPECT_TRUE(peek) << peek.error().to_string();
  RowsDigest d;
  d.add_response(v, *peek);
  return d;
}

RowsDigest digest_rows(ProtocolVersion v, const std::vector<protocol::Row>& rows,
                       const RowsOptions& o = {}) {
  return digest(v, rows_response(v, rows, o));
}

const ProtocolVersion kVersions[] = {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5};

TEST(RowsDigest, SameRowsInAnotherOrderMatch) {
  for (auto v : kVersions) {
    auto a = digest_rows(v, {kv(1, "a"), kv(2, "b"), kv(3, "c")});
    auto b = digest_rows(v, {kv(3, "c"), kv(1, "a"), kv(2, "b")});
    ASSERT_EQ(a.kind(), RowsDigest::Kind::Rows);
    EXPECT_EQ(a.row_count(), 3);
    EXPECT_EQ(compare_digests(a, b), ComparisonResult::Match);
  }
}

TEST(RowsDigest, AChangedValueAMissingRowAndADuplicateMismatch) {
  for (auto v : kVersions) {
    auto base = digest_rows(v, {kv(1, "a"), kv(2, "b")});
    EXPECT_EQ(compare_digests(base, digest_rows(v, {kv(1, "a"), kv(2, "B")})),
              ComparisonResult::Mismatch);
    EXPECT_EQ(compare_digests(base, digest_rows(v, {kv(1, "a")})), ComparisonResult::Mismatch);
    // Same set of distinct rows, different multiplicities.
    auto twice = digest_rows(v, {kv(1, "a"), kv(1, "a"), kv(2, "b")});
    auto thrice = digest_rows(v, {kv(1, "a"), kv(2, "b"), kv(2, "b")});
    EXPECT_EQ(compare_digests(twice, thrice), ComparisonResult::Mismatch);
  }
}

TEST(RowsDigest, NullDiffersFromEmpty) {
  auto null_v = digest_rows(ProtocolVersion::V4, {kv(1, std::nullopt)});
  auto empty_v = digest_rows(ProtocolVersion::V4, {kv(1, "")});
  EXPECT_EQ(compare_digests(null_v, empty_v), ComparisonResult::Mismatch);
}

TEST(RowsDigest, MetadataDoesNotTakePartOnlyCellsDo) {
  for (auto v : kVersions) {
    const std::vector<protocol::Row> rows = {kv(1, "a"), kv(2, "b")};
    auto full = digest_rows(v, rows);
    RowsOptions no_metadata;
    no_metadata.no_metadata = true;
    RowsOptions per_column_specs;
    per_column_specs.global = false;
    auto skipped = digest_rows(v, rows, no_metadata);
    auto per_column = digest_rows(v, rows, per_column_specs);
    EXPECT_EQ(compare_digests(full, skipped), ComparisonResult::Match);
    EXPECT_EQ(compare_digests(full, per_column), ComparisonResult::Match);
  }
  // v5: a changed result metadata id sits between the paging state and the column specs.
  RowsOptions changed;
  changed.new_metadata_id = Bytes{1, 2, 3, 4};
  changed.paging_state = Bytes{9, 9};
  auto a = digest_rows(ProtocolVersion::V5, {kv(1, "a")}, changed);
  ASSERT_EQ(a.kind(), RowsDigest::Kind::Rows);
  EXPECT_TRUE(a.has_more_pages());
  EXPECT_EQ(compare_digests(a, digest_rows(ProtocolVersion::V5, {kv(1, "a")})),
            ComparisonResult::Match);
}

TEST(RowsDigest, NestedCollectionTypesAreSkipped) {
  RowsOptions o;
  o.with_collection = true;
  auto a = digest_rows(ProtocolVersion::V4, {kv(1, "a")}, o);
  ASSERT_EQ(a.kind(), RowsDigest::Kind::Rows);
  EXPECT_EQ(a.row_count(), 1);
}

TEST(RowsDigest, ErrorsAndOtherResultsAreNotRowComparisons) {
  protocol::ErrorMessage e;
  e.code = protocol::ErrorCode::ReadTimeout;
  e.message = "timeout";
  protocol::ReadTimeoutInfo info;
  e.detail = info;
  auto m = protocol::make_response(ProtocolVersion::V4, protocol::StreamId{1},
                                   protocol::ResponseBody(e));
  Bytes frame = protocol::encode_frame(m);
  auto h = protocol::decode_frame_header(frame);
  ASSERT_TRUE(h);
  auto err = digest(ProtocolVersion::V4,
                    Encoded{*h, Bytes(frame.begin() + protocol::kFrameHeaderSize, frame.end())});
  EXPECT_EQ(err.kind(), RowsDigest::Kind::Error);
  auto rows = digest_rows(ProtocolVersion::V4, {kv(1, "a")});
  EXPECT_EQ(compare_digests(rows, err), ComparisonResult::Error);
  EXPECT_EQ(compare_digests(err, rows), ComparisonResult::Error);

  protocol::ResultMessage r;
  r.result = protocol::SetKeyspaceResult{"ks"};
  auto sk = protocol::make_response(ProtocolVersion::V4, protocol::StreamId{1},
                                    protocol::ResponseBody(r));
  Bytes f2 = protocol::encode_frame(sk);
  auto h2 = protocol::decode_frame_header(f2);
  ASSERT_TRUE(h2);
  auto other = digest(ProtocolVersion::V4,
                      Encoded{*h2, Bytes(f2.begin() + protocol::kFrameHeaderSize, f2.end())});
  EXPECT_EQ(other.kind(), RowsDigest::Kind::OtherResult);
  EXPECT_EQ(compare_digests(rows, other), ComparisonResult::Skipped);
}

TEST(RowsDigest, TruncatedOrLyingBodiesAreMalformedNotACrash) {
  auto e = rows_response(ProtocolVersion::V4, {kv(1, "a"), kv(2, "bb")});
  auto peek = peek_response(e.header, e.body);
  ASSERT_TRUE(peek);
  const ByteView full = peek->message;
  for (size_t n = 0; n < full.size(); ++n) {
    RowsDigest d;
    EXPECT_FALSE(d.add_rows(ProtocolVersion::V4, full.first(n))) << n;
  }
  // A row count far beyond the body is refused before any loop.
  Bytes lying = {0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff};
  RowsDigest d;
  EXPECT_FALSE(d.add_rows(ProtocolVersion::V4, lying));
  // Zero columns: the count alone is the content.
  Bytes no_columns = {0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
  EXPECT_TRUE(d.add_rows(ProtocolVersion::V4, no_columns));
  EXPECT_EQ(d.row_count(), 0x7fffffff);
}

TEST(RowsDigest, RandomlyCorruptedBodiesNeverCrash) {
  auto e = rows_response(ProtocolVersion::V5, {kv(1, "a"), kv(2, std::nullopt), kv(3, "ccc")});
  auto peek = peek_response(e.header, e.body);
  ASSERT_TRUE(peek);
  const Bytes original(peek->message.begin(), peek->message.end());
  uint64_t seed = 42;
  auto next = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes mutated = original;
    for (int flips = 1 + static_cast<int>(next() % 4); flips > 0; --flips) {
      mutated[4 + next() % (mutated.size() - 4)] = static_cast<uint8_t>(next());
    }
    RowsDigest d;
    if (d.add_rows(ProtocolVersion::V5, mutated)) ++accepted;
  }
  EXPECT_GT(accepted, 0);  // cell bytes changed: still a well-formed ROWS body
}

TEST(RowsDigest, DescribeDifferenceNamesTheDifferingRowsLeadingColumn) {
  auto a = digest_rows(ProtocolVersion::V4, {kv(1, "a"), kv(2, "b")});
  auto b = digest_rows(ProtocolVersion::V4, {kv(1, "a"), kv(7, "x"), kv(8, "y")});
  const auto text = describe_difference(a, b);
  EXPECT_NE(text.find("rows primary=2 secondary=3"), std::string::npos) << text;
  EXPECT_NE(text.find("only on the primary has leading column 0x00000002"), std::string::npos)
      << text;
  EXPECT_NE(text.find("only on the secondary has leading column 0x0000000"), std::string::npos)
      << text;
}

TEST(ReadComparisons, WhicheverAnswerArrivesLastDecidesAndCountsPerTable) {
  metrics::Registry registry;
  auto& family = registry.counter_family("cmp_total", "help", {"keyspace", "table", "result"});
  ComparisonCounters counters(&family, "ks", "kv");
  ReadComparisons c(4, ProtocolVersion::V4);
  auto same = rows_response(ProtocolVersion::V4, {kv(1, "a")});
  auto other = rows_response(ProtocolVersion::V4, {kv(1, "z")});
  auto peek_same = peek_response(same.header, same.body);
  auto peek_other = peek_response(other.header, other.body);
  ASSERT_TRUE(peek_same && peek_other);

  auto t1 = c.open(&counters, "SELECT v FROM kv WHERE k = 1");
  c.primary(t1, *peek_same);
  EXPECT_EQ(c.open_count(), 1u);
  c.secondary(t1, *peek_same);
  EXPECT_EQ(c.open_count(), 0u);

  auto t2 = c.open(&counters, "SELECT v FROM kv WHERE k = 1");
  c.secondary(t2, *peek_other);
  c.primary(t2, *peek_same);

  auto t3 = c.open(&counters, "q");
  c.primary(t3, *peek_same);
  c.abandon(t3, ComparisonResult::Timeout);
  // A stale ticket (its entry reused) is ignored.
  auto t4 = c.open(&counters, "q");
  c.secondary(t3, *peek_other);
  c.primary(t4, *peek_same);
  EXPECT_EQ(c.open_count(), 1u);
  c.clear();
  EXPECT_EQ(c.open_count(), 0u);

  EXPECT_EQ(c.count(ComparisonResult::Match), 1u);
  EXPECT_EQ(c.count(ComparisonResult::Mismatch), 1u);
  EXPECT_EQ(c.count(ComparisonResult::Timeout), 1u);
  const auto text = registry.expose();
  EXPECT_NE(text.find("cmp_total{keyspace=\"ks\",table=\"kv\",result=\"match\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cmp_total{keyspace=\"ks\",table=\"kv\",result=\"mismatch\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("cmp_total{keyspace=\"ks\",table=\"kv\",result=\"timeout\"} 1"),
            std::string::npos);
  EXPECT_EQ(text.find("result=\"error\""), std::string::npos);  // bound on first use only
}

TEST(ReadComparisons, BoundedOpenFailsWhenFull) {
  ReadComparisons c(2, ProtocolVersion::V4);
  EXPECT_TRUE(c.open(nullptr, "a").valid());
  EXPECT_TRUE(c.open(nullptr, "b").valid());
  EXPECT_FALSE(c.open(nullptr, "c").valid());
}

TEST(MismatchLog, AllowsAtMostTheBudgetPerMinute) {
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += mismatch_log_allowed(1000000) ? 1 : 0;
  EXPECT_EQ(allowed, 100);
  int limited = 0;
  for (int i = 0; i < 100; ++i) limited += mismatch_log_allowed(0) ? 1 : 0;
  EXPECT_EQ(limited, 0);
}

}  // namespace
}  // namespace zdm::proxy
