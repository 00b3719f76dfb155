#include "proxy/session/upstream_connection.hpp"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/tls.hpp"
#include "protocol/message_codec.hpp"
#include "proxy/cluster/astra_metadata.hpp"
#include "proxy/cluster/cluster_tls.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string_view upstream_role_name(UpstreamRole role) {
  switch (role) {
    case UpstreamRole::Origin:
      return "origin";
    case UpstreamRole::Target:
      return "target";
    case UpstreamRole::Async:
      return "async";
  }
  return "?";
}

UpstreamConnection::UpstreamConnection(net::Stream stream, UpstreamRole role, std::string node,
                                       int max_stream_ids, const NodeMetrics* metrics,
                                       net::FramedConnectionOptions options)
    : FramedConnection(std::move(stream), net::ConnectionRole::Client, options),
      role_(role),
      node_(std::move(node)),
      ids_(max_stream_ids),
      metrics_(metrics) {}

UpstreamConnection::~UpstreamConnection() {
  if (metrics_ && metrics_->used_stream_ids) metrics_->used_stream_ids->dec(published_ids_);
}

void UpstreamConnection::attach(UpstreamHandler* handler) {
  handler_ = handler;
  if (metrics_ && metrics_->connections && !counted_) {
    metrics_->connections->inc();
    counted_ = true;
  }
  start();
}

void UpstreamConnection::detach() {
  handler_ = nullptr;
  close();
}

Result<void> UpstreamConnection::forward(ByteView wire, int16_t stream) {
  // Patching in place saves copying the frame for each cluster; the decoder never reads a
  // delivered frame's bytes again.
  protocol::patch_stream_id(const_cast<uint8_t*>(wire.data()), protocol::StreamId{stream});
  return send_encoded(wire);
}

void UpstreamConnection::schedule_flush() {
  if (flush_scheduled_ || is_closed()) return;
  flush_scheduled_ = true;
  asio::post(executor(), [self = std::static_pointer_cast<UpstreamConnection>(shared_from_this())] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void UpstreamConnection::publish_stream_ids() {
  if (!metrics_ || !metrics_->used_stream_ids) return;
  const int now = ids_.in_use();
  if (now != published_ids_) {
    metrics_->used_stream_ids->inc(now - published_ids_);
    published_ids_ = now;
  }
}

void UpstreamConnection::on_frame(const protocol::Frame& frame) {
  if (handler_) handler_->on_upstream_frame(*this, frame);
}

void UpstreamConnection::on_write_done() {
  if (handler_) handler_->on_upstream_written(*this);
}

void UpstreamConnection::on_closed() {
  if (counted_ && metrics_ && metrics_->connections) {
    metrics_->connections->dec();
    counted_ = false;
  }
  if (auto* h = handler_) {
    handler_ = nullptr;
    h->on_upstream_closed(*this);
  }
}

}  // namespace zdm::proxy

namespace zdm::proxy {

Bytes plain_sasl_token(std::string_view username, std::string_view password) {
  Bytes token;
  token.reserve(username.size() + password.size() + 2);
  token.push_back(0);
  token.insert(token.end(), username.begin(), username.end());
  token.push_back(0);
  token.insert(token.end(), password.begin(), password.end());
  return token;
}

Bytes auth_response_frame(protocol::ProtocolVersion version, int16_t stream, ByteView token) {
  protocol::AuthResponseMessage m;
  m.token = Bytes(token.begin(), token.end());
  return protocol::encode_frame(
      protocol::make_request(version, protocol::StreamId{stream}, protocol::RequestBody(m)));
}

}  // namespace zdm::proxy
