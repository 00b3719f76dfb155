#include "migrate/range_reader.hpp"

#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace zdm::migrate {

namespace asio = boost::asio;

RangeReader::RangeReader(std::shared_ptr<client::Session> session,
                         std::shared_ptr<const client::PreparedStatement> query,
                         std::vector<protocol::BoundValue> values, ReadSettings settings,
                         std::optional<Token> routing, RateLimiter* rate, ByteBudget* memory,
                         size_t row_bytes_hint)
    : session_(std::move(session)),
      query_(std::move(query)),
      values_(std::move(values)),
      settings_(settings),
      routing_(routing),
      rate_(rate),
      memory_(memory),
      row_bytes_(row_bytes_hint),
      page_size_(row_bytes_hint == 0 ? std::min(settings.page_size, kFirstPageRows)
                                     : static_cast<int32_t>(std::clamp<size_t>(
                                           kPageBytes / row_bytes_hint, 1,
                                           static_cast<size_t>(settings.page_size)))),
      wake_(session_->executor(), asio::steady_timer::time_point::max()) {}

// A fetch still in flight completes into nothing: the callback sees `alive_` false.
RangeReader::~RangeReader() {
  *alive_ = false;
  if (memory_) memory_->release(page_held_ + fetch_held_);
}

size_t RangeReader::estimate() const {
  return static_cast<size_t>(page_size_) * (row_bytes_ ? row_bytes_ : 256);
}

void RangeReader::start_fetch(size_t held) {
  fetch_held_ = held;
  auto statement = client::Statement::bound(query_, values_);
  statement.page_size = page_size_;
  statement.paging_state = paging_state_;
  statement.consistency = settings_.consistency;
  statement.idempotence = client::Idempotence::Idempotent;
  statement.routing_token = routing_;
  statement.skip_metadata = true;  // cells are read by position
  fetching_ = true;
  session_->execute(std::move(statement),
                    [this, alive = alive_](client::ClientResult<client::QueryResult> r) {
                      if (!*alive) return;
                      fetched_ = std::move(r);
                      fetching_ = false;
                      wake_.cancel();
                    });
}

asio::awaitable<Result<void>> RangeReader::fill() {
  while (!current() && !done_) {
    if (memory_) memory_->release(page_held_);  // the used-up page
    page_held_ = 0;
    page_.rows.clear();
    if (!fetching_ && !fetched_) {
      const size_t held = estimate();
      if (memory_) memory_->charge(held);  // never waits (see ByteBudget)
      start_fetch(held);
    }
    while (fetching_) {
      boost::system::error_code ec;
      co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    auto r = std::move(*fetched_);
    fetched_.reset();
    if (!r) co_return fail(Errc::Io, r.error().to_string());
    auto* rows = std::get_if<protocol::RowsResult>(&r->result.result);
    if (!rows) co_return fail(Errc::Io, "a range read did not answer with rows");
    page_ = std::move(*rows);
    index_ = 0;
    adapt_page_size();
    // What the page really holds replaces what was expected.
    page_held_ = fetch_held_;
    fetch_held_ = 0;
    if (memory_ && page_bytes_ > page_held_) memory_->charge(page_bytes_ - page_held_);
    if (memory_ && page_bytes_ < page_held_) memory_->release(page_held_ - page_bytes_);
    page_held_ = page_bytes_;
    paging_state_ = page_.metadata.paging_state;
    done_ = !paging_state_.has_value();
    // The next page while this one is used, when it is small and memory allows.
    if (!done_ && page_bytes_ <= kPrefetchBytes && (!memory_ || memory_->try_acquire(estimate()))) {
      start_fetch(estimate());
    }
    if (rate_) co_await rate_->take(page_.rows.size());
  }
  co_return Result<void>{};
}

void RangeReader::adapt_page_size() {
  size_t bytes = 0;
  for (const auto& row : page_.rows) {
    for (const auto& cell : row) bytes += cell ? cell->size() + 4 : 4;
  }
  page_bytes_ = bytes;
  if (page_.rows.empty() || bytes == 0) return;
  const size_t per_row = bytes / page_.rows.size() + 1;
  row_bytes_ = per_row;
  const auto fit = static_cast<int32_t>(std::clamp<size_t>(kPageBytes / per_row, 1, 1'000'000));
  // Grow at most 8x a page: a range of small rows reaches the page size after a few pages, one
  // of 10 MB cells never asks for more than fits.
  const int64_t grown = static_cast<int64_t>(page_size_) * 8;
  page_size_ = static_cast<int32_t>(std::min<int64_t>({settings_.page_size, fit, grown}));
}

}  // namespace zdm::migrate
