#include "migrate/range_reader.hpp"

#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace zdm::migrate {

namespace asio = boost::asio;

RangeReader::RangeReader(std::shared_ptr<client::Session> session,
                         std::shared_ptr<const client::PreparedStatement> query,
                         std::vector<protocol::BoundValue> values, ReadSettings settings,
                         std::optional<Token> routing, RateLimiter* rate)
    : session_(std::move(session)),
      query_(std::move(query)),
      values_(std::move(values)),
      settings_(settings),
      routing_(routing),
      rate_(rate),
      page_size_(std::min(settings.page_size, kFirstPageRows)),
      wake_(session_->executor(), asio::steady_timer::time_point::max()) {}

// A fetch still in flight completes into nothing: the callback sees `alive_` false.
RangeReader::~RangeReader() { *alive_ = false; }

void RangeReader::start_fetch() {
  auto statement = client::Statement::bound(query_, values_);
  statement.page_size = page_size_;
  statement.paging_state = paging_state_;
  statement.consistency = settings_.consistency;
  statement.idempotence = client::Idempotence::Idempotent;
  statement.routing_token = routing_;
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
    if (!fetching_ && !fetched_) start_fetch();
    while (fetching_) {
      boost::system::error_code ec;
      wake_.expires_at(asio::steady_timer::time_point::max());
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
    paging_state_ = page_.metadata.paging_state;
    done_ = !paging_state_.has_value();
    if (!done_) start_fetch();  // the next page while this one is used
    if (rate_) co_await rate_->take(page_.rows.size());
  }
  co_return Result<void>{};
}

void RangeReader::adapt_page_size() {
  size_t bytes = 0;
  for (const auto& row : page_.rows) {
    for (const auto& cell : row) bytes += cell ? cell->size() + 4 : 4;
  }
  if (page_.rows.empty() || bytes == 0) return;
  const size_t per_row = bytes / page_.rows.size() + 1;
  const auto fit = static_cast<int32_t>(std::clamp<size_t>(kPageBytes / per_row, 1, 1'000'000));
  // Grow at most 8x a page: a range of small rows reaches the page size after a few pages, one
  // of 10 MB cells never asks for more than fits.
  const int64_t grown = static_cast<int64_t>(page_size_) * 8;
  page_size_ = static_cast<int32_t>(std::min<int64_t>({settings_.page_size, fit, grown}));
}

}  // namespace zdm::migrate
