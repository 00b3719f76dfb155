#include "common/metrics.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/process_metrics.hpp"

namespace zdm::metrics {
namespace {

TEST(MetricsText, UnlabelledCounterAndGaugeExposeHelpTypeAndValue) {
  Registry r;
  r.counter("zdm_pscache_miss_total", "Running total of misses").inc(3);
  r.gauge("zdm_client_connections_total", "Open connections").set(-2);
  EXPECT_EQ(r.expose(),
            "# HELP zdm_client_connections_total Open connections\n"
            "# TYPE zdm_client_connections_total gauge\n"
            "zdm_client_connections_total -2\n"
            "# HELP zdm_pscache_miss_total Running total of misses\n"
            "# TYPE zdm_pscache_miss_total counter\n"
            "zdm_pscache_miss_total 3\n");
}

TEST(MetricsText, LabelledChildrenAreSortedAndLabelValuesEscaped) {
  Registry r;
  auto& f = r.counter_family("zdm_x_total", "help with \\ and\nnewline", {"node", "error"});
  f.labels({"b", "other"}).inc();
  f.labels({"a\"q\\\n", "x"}).inc(2);
  EXPECT_EQ(r.expose(),
            "# HELP zdm_x_total help with \\\\ and\\nnewline\n"
            "# TYPE zdm_x_total counter\n"
            "zdm_x_total{node=\"a\\\"q\\\\\\n\",error=\"x\"} 2\n"
            "zdm_x_total{node=\"b\",error=\"other\"} 1\n");
}

TEST(MetricsText, LabelledFamilyWithoutChildrenIsOmitted) {
  Registry r;
  r.counter_family("zdm_empty_total", "nothing yet", {"node"});
  EXPECT_EQ(r.expose(), "");
}

TEST(MetricsText, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  auto& f = r.histogram_family("zdm_d_seconds", "latency", {"type"}, ms_to_seconds({1, 10, 100}));
  auto& h = f.labels({"writes"});
  h.observe(0.0005);  // <= 1 ms
  h.observe(0.001);   // bound is inclusive (le)
  h.observe(0.05);    // <= 100 ms
  h.observe(3.0);     // +Inf only
  EXPECT_EQ(r.expose(),
            "# HELP zdm_d_seconds latency\n"
            "# TYPE zdm_d_seconds histogram\n"
            "zdm_d_seconds_bucket{type=\"writes\",le=\"0.001\"} 2\n"
            "zdm_d_seconds_bucket{type=\"writes\",le=\"0.01\"} 2\n"
            "zdm_d_seconds_bucket{type=\"writes\",le=\"0.1\"} 3\n"
            "zdm_d_seconds_bucket{type=\"writes\",le=\"+Inf\"} 4\n"
            "zdm_d_seconds_sum{type=\"writes\"} 3.0515\n"
            "zdm_d_seconds_count{type=\"writes\"} 4\n");
}

TEST(MetricsText, UnlabelledHistogramHasOnlyLeLabel) {
  Registry r(1);
  auto& h = r.histogram("h_seconds", "h", {0.5});
  h.observe_duration(std::chrono::milliseconds(250));
  const auto text = r.expose();
  EXPECT_NE(text.find("h_seconds_bucket{le=\"0.5\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_sum 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count 1\n"), std::string::npos) << text;
}

TEST(MetricsText, FamiliesAreSortedByNameAcrossRegistrationOrderAndCollectors) {
  Registry r;
  r.counter("zz_total", "z");
  r.add_collector([](std::vector<FamilySnapshot>& out) {
    auto& f = out.emplace_back();
    f.name = "mm_value";
    f.help = "m";
    f.type = MetricType::Gauge;
    f.samples.emplace_back().value = 1.5;
  });
  r.counter("aa_total", "a");
  const auto families = r.collect();
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "aa_total");
  EXPECT_EQ(families[1].name, "mm_value");
  EXPECT_EQ(families[2].name, "zz_total");
}

TEST(MetricsValues, FormatsLikePrometheus) {
  EXPECT_EQ(format_value(1.0), "1");
  EXPECT_EQ(format_value(0.001), "0.001");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_value(NAN), "NaN");
}

TEST(MetricsValues, MsToSecondsMatchesReferenceDefaults) {
  const auto s = ms_to_seconds(std::span<const double>(kDefaultLatencyBucketsMs));
  ASSERT_EQ(s.size(), 17u);
  EXPECT_EQ(format_value(s.front()), "0.001");
  EXPECT_EQ(format_value(s[4]), "0.025");
  EXPECT_EQ(format_value(s.back()), "15");
}

TEST(MetricsRegistry, SameShapeReturnsSameFamilyAndOtherShapeThrows) {
  Registry r;
  auto& a = r.counter_family("c_total", "c", {"x"});
  auto& b = r.counter_family("c_total", "c", {"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.labels({"1"}), &b.labels({"1"}));
  EXPECT_THROW(r.counter_family("c_total", "c", {"y"}), std::invalid_argument);
  EXPECT_THROW(r.gauge_family("c_total", "c", {"x"}), std::invalid_argument);
  r.histogram_family("h", "h", {}, {1, 2});
  EXPECT_NO_THROW(r.histogram_family("h", "h", {}, {2, 1}));  // same after sorting
  EXPECT_THROW(r.histogram_family("h", "h", {}, {1, 3}), std::invalid_argument);
}

TEST(MetricsRegistry, RejectsInvalidNames) {
  Registry r;
  EXPECT_THROW(r.counter("1abc", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("a-b", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter_family("ok", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.counter_family("ok", "x", {"__x"}), std::invalid_argument);
  EXPECT_THROW(r.counter_family("ok", "x", {"a:b"}), std::invalid_argument);
  EXPECT_NO_THROW(r.counter("ns:sub_total", "x"));
}

TEST(MetricsGauge, FunctionGaugeIsEvaluatedAtScrapeAndCanBeCleared) {
  Registry r;
  double source = 7;
  auto& g = r.gauge_function("zdm_pscache_entries_total", "entries", [&source] { return source; });
  g.set(1);
  EXPECT_NE(r.expose().find("zdm_pscache_entries_total 7\n"), std::string::npos);
  source = 9;
  EXPECT_NE(r.expose().find("zdm_pscache_entries_total 9\n"), std::string::npos);
  g.clear_function();
  EXPECT_NE(r.expose().find("zdm_pscache_entries_total 1\n"), std::string::npos);
}

TEST(MetricsConcurrency, TwoThreadsLoseNoIncrements) {
  for (size_t shards : {size_t{1}, size_t{4}}) {
    Registry r(shards);
    auto& c = r.counter("c_total", "c");
    auto& g = r.gauge("g", "g");
    auto& h = r.histogram("h", "h", {0.5});
    constexpr int kPerThread = 200'000;
    auto work = [&] {
      for (int i = 0; i < kPerThread; ++i) {
        c.inc();
        g.inc();
        h.observe((i % 2) == 0 ? 0.25 : 1.0);
      }
    };
    std::thread t1(work);
    std::thread t2(work);
    t1.join();
    t2.join();
    EXPECT_EQ(c.value(), 2u * kPerThread);
    EXPECT_EQ(g.value(), 2 * kPerThread);
    SampleSnapshot s;
    h.snapshot(s);
    EXPECT_EQ(s.count, 2u * kPerThread) << "shards=" << shards;
    EXPECT_EQ(s.cumulative[0], 1u * kPerThread);
    EXPECT_DOUBLE_EQ(s.sum, kPerThread * 0.25 + kPerThread * 1.0);
  }
}

TEST(MetricsHistogram, ShardCountRoundsUpToPowerOfTwo) {
  EXPECT_EQ(Histogram({1}, 3).shards(), 4u);
  EXPECT_EQ(Histogram({1}, 0).shards(), 1u);
  EXPECT_EQ(Histogram({1, INFINITY}, 1).bounds().size(), 1u);  // +Inf is implied
}

// ---- process metrics ----

TEST(ProcessMetrics, ParsesStatWithSpacesAndParensInComm) {
  // Fields after comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime=11 stime=12 cutime cstime priority nice threads itreal starttime=19 vsize=20 rss=21
  const std::string stat =
      "42 (we (i)rd) name) S 1 42 42 0 -1 4194304 100 0 0 0 250 150 0 0 20 0 4 0 1000 "
      "123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
  auto stats = parse_proc_stat(stat, 100, 4096, 1'700'000'000);
  ASSERT_TRUE(stats) << stats.error().to_string();
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 4.0);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1'700'000'010.0);
  EXPECT_DOUBLE_EQ(stats->virtual_memory_bytes, 123456789.0);
  EXPECT_DOUBLE_EQ(stats->resident_memory_bytes, 300.0 * 4096);
}

TEST(ProcessMetrics, RejectsTruncatedOrGarbageStat) {
  EXPECT_FALSE(parse_proc_stat("", 100, 4096, 0));
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(
      parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 ab 1 0 0 20 0 1 0 1 1 1 0", 100, 4096, 0));
}

TEST(ProcessMetrics, ParsesBootTimeAndMaxOpenFiles) {
  EXPECT_EQ(*parse_boot_time("cpu  1 2 3\nbtime 1796003750\nprocesses 9\n"), 1796003750.0);
  EXPECT_FALSE(parse_boot_time("cpu 1\n"));
  const std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max open files            20000                40000                files     \n";
  EXPECT_EQ(*parse_max_open_files(limits), 20000.0);
  EXPECT_TRUE(std::isinf(*parse_max_open_files(
      "Max open files            unlimited            unlimited            files\n")));
  EXPECT_FALSE(parse_max_open_files("Max processes 10 10\n"));
}

TEST(ProcessMetrics, ReadsThisProcessAndExposesAllSixFamilies) {
  auto stats = read_process_stats();
  ASSERT_TRUE(stats) << stats.error().to_string();
  EXPECT_GT(stats->resident_memory_bytes, 0);
  EXPECT_GE(stats->virtual_memory_bytes, stats->resident_memory_bytes);
  ASSERT_TRUE(stats->open_fds.has_value());
  EXPECT_GE(*stats->open_fds, 3);  // stdin, stdout, stderr at least
  ASSERT_TRUE(stats->max_fds.has_value());
  EXPECT_GE(*stats->max_fds, *stats->open_fds);

  Registry r;
  register_process_metrics(r);
  const auto text = r.expose();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    EXPECT_NE(text.find(std::string("\n") + name + " "), std::string::npos) << name << "\n" << text;
  }
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace zdm::metrics
