#include "proxy/session/deadline_list.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace zdm::proxy {
namespace {

using Clock = DeadlineList::Clock;
using std::chrono::milliseconds;

std::vector<uint32_t> drain(DeadlineList& list) {
  std::vector<uint32_t> order;
  while (auto first = list.first()) {
    order.push_back(*first);
    list.remove(*first);
  }
  return order;
}

TEST(DeadlineList, SameTimeoutKeepsSendOrder) {
  DeadlineList list;
  const auto t0 = Clock::now();
  EXPECT_TRUE(list.insert(4, t0 + milliseconds(10)));  // the first is the head
  EXPECT_FALSE(list.insert(1, t0 + milliseconds(11)));
  EXPECT_FALSE(list.insert(7, t0 + milliseconds(12)));
  EXPECT_EQ(drain(list), (std::vector<uint32_t>{4, 1, 7}));
  EXPECT_TRUE(list.empty());
}

TEST(DeadlineList, AShorterTimeoutGoesBeforeLaterDeadlines) {
  DeadlineList list;
  const auto t0 = Clock::now();
  list.insert(0, t0 + milliseconds(100));
  list.insert(1, t0 + milliseconds(200));
  EXPECT_FALSE(list.insert(2, t0 + milliseconds(150)));  // between the two
  EXPECT_TRUE(list.insert(3, t0 + milliseconds(50)));    // a new head: re-arm the timer
  EXPECT_EQ(drain(list), (std::vector<uint32_t>{3, 0, 2, 1}));
}

TEST(DeadlineList, RemovalFromAnywhereAndReinsertion) {
  DeadlineList list;
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < 5; ++i) list.insert(i, t0 + milliseconds(i));
  list.remove(2);  // middle
  list.remove(0);  // head
  list.remove(4);  // tail
  list.remove(4);  // not linked: nothing
  EXPECT_FALSE(list.contains(2));
  EXPECT_TRUE(list.contains(3));
  list.insert(2, t0 + milliseconds(10));
  EXPECT_EQ(list.deadline(2), t0 + milliseconds(10));
  EXPECT_EQ(drain(list), (std::vector<uint32_t>{1, 3, 2}));
  list.insert(9, t0);  // grows to fit
  list.clear();
  EXPECT_TRUE(list.empty());
  EXPECT_FALSE(list.contains(9));
}

}  // namespace
}  // namespace zdm::proxy
