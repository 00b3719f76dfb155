// Our timeuuid helpers against uuids built by the DataStax driver and read by Python's uuid module
// (gen_timeuuid.py).
#include <string>

#include <gtest/gtest.h>

#include "common/timeuuid.hpp"
#include "golden_data.hpp"

namespace zdm {
namespace {

TEST(TimeuuidGolden, AgreesWithPythonOnTimestampsAndLayout) {
  const auto data = golden::load("timeuuid.json");
  ASSERT_TRUE(data.is_object());
  const auto& cases = data.at("cases");
  ASSERT_GE(cases.size(), 100u);
  for (const auto& c : cases) {
    const std::string text = c.at("uuid").get<std::string>();
    SCOPED_TRACE(text);
    auto u = uuid_from_string(text);
    ASSERT_TRUE(u.has_value()) << u.error().to_string();
    EXPECT_EQ(uuid_version(*u), c.at("version").get<int>());
    EXPECT_EQ(*timeuuid_ticks(*u), c.at("ticks").get<int64_t>());
    EXPECT_EQ(*timeuuid_unix_millis(*u), c.at("unix_millis").get<int64_t>());
    const Uuid rebuilt =
        make_timeuuid(c.at("ticks").get<int64_t>(), c.at("clock_seq").get<uint16_t>(),
                      c.at("node").get<uint64_t>());
    EXPECT_EQ(uuid_to_string(rebuilt), text);
    // The driver's min_uuid_from_time derives ticks from a float (seconds), which can be off by
    // a few ticks (about 1 us at these magnitudes); allow 20 ticks.
    auto driver_min =
        uuid_from_string(c.at("min_uuid_time_prefix").get<std::string>() + "-8080-808080808080");
    ASSERT_TRUE(driver_min.has_value());
    EXPECT_EQ(*timeuuid_unix_millis(min_timeuuid(c.at("ms").get<int64_t>())),
              c.at("ms").get<int64_t>());
    const int64_t ours = *timeuuid_ticks(min_timeuuid(c.at("ms").get<int64_t>()));
    const int64_t theirs = *timeuuid_ticks(*driver_min);
    EXPECT_LE(ours > theirs ? ours - theirs : theirs - ours, 20)
        << "ticks " << ours << " vs " << theirs;
  }
}

}  // namespace
}  // namespace zdm
