#pragma once
// Pages through one token range of one cluster, keeping the next page in flight while the current
// one is used (a range's reads overlap its writes or comparisons) unless pages are large. The first
// page is 1 row (unless the table's row size is known from its other ranges), the following ones
// grow 8x a page toward the page size while they hold under about 8 MiB; a page is fetched ahead
// only while the process's ByteBudget allows. Memory is bounded by the workers times the larger of
// 8 MiB and one row, whatever the table size.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/session.hpp"
#include "migrate/flow_control.hpp"

namespace zdm::migrate {

struct ReadSettings {
  protocol::Consistency consistency = protocol::Consistency::LocalQuorum;
  int32_t page_size = 1000;
};

class RangeReader {
 public:
  RangeReader(std::shared_ptr<client::Session> session,
              std::shared_ptr<const client::PreparedStatement> query,
              std::vector<protocol::BoundValue> values, ReadSettings settings,
              std::optional<Token> routing, RateLimiter* rate, ByteBudget* memory = nullptr,
              size_t row_bytes_hint = 0);
  ~RangeReader();
  RangeReader(const RangeReader&) = delete;
  RangeReader& operator=(const RangeReader&) = delete;

  // The current row, or nullptr when the loaded page is used up.
  protocol::Row* current() { return index_ < page_.rows.size() ? &page_.rows[index_] : nullptr; }
  void advance() { ++index_; }
  bool exhausted() { return !current() && done_; }
  // The average row size seen (0 before the first page): a hint for the table's next ranges.
  size_t row_bytes() const { return row_bytes_; }

  // Loads the next page when the current one is used up; no-op otherwise.
  boost::asio::awaitable<Result<void>> fill();

 private:
  void start_fetch(size_t held);
  size_t estimate() const;  // bytes the next page is expected to hold
  void adapt_page_size();   // sets page_size_ and page_bytes_

  static constexpr size_t kPageBytes = 8 * 1024 * 1024;
  // The first page of a range is small: its rows' size is not known yet.
  static constexpr int32_t kFirstPageRows = 1;
  // A page this large is not fetched ahead: with huge rows one page per range is enough.
  static constexpr size_t kPrefetchBytes = 2 * 1024 * 1024;
  std::shared_ptr<client::Session> session_;
  std::shared_ptr<const client::PreparedStatement> query_;
  std::vector<protocol::BoundValue> values_;
  ReadSettings settings_;
  std::optional<Token> routing_;
  RateLimiter* rate_;
  ByteBudget* memory_;
  size_t page_held_ = 0;   // charged to memory_ for page_
  size_t fetch_held_ = 0;  // charged for the page being fetched
  size_t row_bytes_ = 0;   // average row size seen so far
  int32_t page_size_;
  size_t page_bytes_ = 0;
  protocol::RowsResult page_;
  size_t index_ = 0;
  std::optional<Bytes> paging_state_;
  bool done_ = false;
  bool fetching_ = false;
  std::optional<client::ClientResult<client::QueryResult>> fetched_;
  boost::asio::steady_timer wake_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zdm::migrate
