// Fuzz target for the proxy's client session: arbitrary client bytes go through a real
// proxy::ClientSession whose two upstream connections (origin, target) reach in-process stub
// nodes on the same io_context through socket pairs (SessionContext::set_connector). The stubs
// answer every request they can decode (READY, SUPPORTED, PREPARED with ids that differ per
// cluster, RESULT Void, SET_KEYSPACE for USE), so valid inputs reach the ready phase:
// classification, prepared-id mapping, EXECUTE/BATCH rewriting for target, joining of dual answers.
//
// Input: byte 0 selects options, then chunks [u16 big-endian length][bytes]; each chunk is written
// to the client socket and the io_context runs until idle before the next one (a driver waits for
// READY before it sends requests; a short last chunk is sent as it is).
//   option bit 0: primary cluster TARGET          bit 1: DUAL_ASYNC_ON_SECONDARY
//   option bit 2: clusters speak v4 at most        bit 3: ZDM_REPLACE_CQL_FUNCTIONS
//   option bit 4: 64-byte read buffer (every frame arrives in pieces)
// Property: nothing crashes, reads out of bounds or leaks (ASan/UBSan in the fuzz build), and the
// io_context becomes idle (bounded work per input). Session, stubs and io_context are rebuilt per
// input, so inputs are independent.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "net/framed_connection.hpp"
#include "protocol/message_codec.hpp"
#include "proxy/cluster/control_connection.hpp"
#include "proxy/cluster/virtual_topology.hpp"
#include "proxy/routing/prepared_cache.hpp"
#include "proxy/session/client_session.hpp"

using namespace zdm;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// ZDM_FUZZ_TRACE=1: print what the client receives (to check that seeds reach the ready phase).
bool trace() {
  static const bool on = std::getenv("ZDM_FUZZ_TRACE") != nullptr;
  return on;
}
void print_frames(ByteView bytes) {
  // Best effort: v4 frame headers only (v5 segments are printed as raw sizes).
  while (bytes.size() >= protocol::kFrameHeaderSize && (bytes[0] & 0x80) && bytes[4] <= 0x10) {
    const uint32_t length = (uint32_t{bytes[5]} << 24) | (uint32_t{bytes[6]} << 16) |
                            (uint32_t{bytes[7]} << 8) | bytes[8];
    std::fprintf(stderr, "  <- v%d stream %d opcode 0x%02x length %u\n", bytes[0] & 0x7F,
                 static_cast<int16_t>((bytes[2] << 8) | bytes[3]), bytes[4], length);
    if (bytes.size() < protocol::kFrameHeaderSize + length) return;
    bytes = bytes.subspan(protocol::kFrameHeaderSize + length);
  }
  if (!bytes.empty()) std::fprintf(stderr, "  <- %zu bytes\n", bytes.size());
}

// A node that answers what it can decode and never blocks.
class StubNode final : public net::FramedConnection {
 public:
  StubNode(net::Stream stream, uint8_t id_prefix)
      : FramedConnection(std::move(stream), net::ConnectionRole::Server), id_prefix_(id_prefix) {}

 private:
  void on_frame(const protocol::Frame& frame) override {
    const auto& h = frame.header;
    if (trace()) {
      std::fprintf(stderr, "  stub %02x <- stream %d opcode 0x%02x\n", id_prefix_, h.stream.value,
                   static_cast<int>(h.opcode));
    }
    auto request = protocol::decode_message(h, frame.body);
    if (!request)
      return answer(h, protocol::ErrorMessage{
                           protocol::ErrorCode::ProtocolError, request.error().message, {}});
    const auto* body = std::get_if<protocol::RequestBody>(&request->body);
    if (!body)
      return answer(
          h, protocol::ErrorMessage{protocol::ErrorCode::ProtocolError, "not a request", {}});
    if (const auto* s = std::get_if<protocol::StartupMessage>(body)) {
      protocol::Compression c = protocol::Compression::None;
      for (const auto& [k, v] : s->options) {
        if (k != "COMPRESSION") continue;
        if (auto known = protocol::compression_from_name(v)) c = *known;
      }
      answer(h, protocol::ReadyMessage{});
      if (protocol::uses_segments(h.version)) {
        if (c == protocol::Compression::Snappy) c = protocol::Compression::None;
        if (!enable_segments(c)) close();
      } else {
        enable_compression(c);
      }
      return;
    }
    if (std::holds_alternative<protocol::OptionsMessage>(*body)) {
      protocol::SupportedMessage s;
      s.options.emplace_back("COMPRESSION", std::vector<std::string>{"lz4", "snappy"});
      return answer(h, s);
    }
    if (std::holds_alternative<protocol::AuthResponseMessage>(*body)) {
      return answer(h, protocol::AuthSuccessMessage{});
    }
    if (const auto* q = std::get_if<protocol::QueryMessage>(body)) {
      if (q->query.rfind("USE ", 0) == 0) {
        return answer(h, protocol::ResultMessage{protocol::SetKeyspaceResult{"ks"}});
      }
      return answer(h, protocol::ResultMessage{protocol::VoidResult{}});
    }
    if (const auto* p = std::get_if<protocol::PrepareMessage>(body)) {
      protocol::PreparedResult prepared;
      // Ids differ per cluster, so EXECUTE and BATCH for target get rewritten.
      prepared.id = Bytes{id_prefix_, static_cast<uint8_t>(p->query.size()),
                          static_cast<uint8_t>(p->query.empty() ? 0 : p->query[0])};
      if (protocol::uses_prepared_metadata(h.version)) prepared.result_metadata_id = Bytes{1};
      return answer(h, protocol::ResultMessage{prepared});
    }
    if (std::holds_alternative<protocol::RegisterMessage>(*body)) {
      answer(h, protocol::ReadyMessage{});
      protocol::SchemaChangeEvent e;
      e.change.keyspace = "ks";
      return answer_on(h.version, protocol::StreamId{-1}, protocol::EventMessage{e});
    }
    answer(h, protocol::ResultMessage{protocol::VoidResult{}});
  }

  void answer(const protocol::FrameHeader& h, protocol::ResponseBody body) {
    answer_on(h.version, h.stream, std::move(body));
  }
  void answer_on(protocol::ProtocolVersion v, protocol::StreamId stream,
                 protocol::ResponseBody body) {
    (void)send(protocol::make_response(v, stream, std::move(body)));
    flush();
  }

  uint8_t id_prefix_;
};

// Both ends of a Unix stream socket pair, each behind a tcp::socket (only read, write and close
// are used on them). Unix sockets deliver a write into the peer's buffer within the syscall, so
// "nothing ready" really means idle; loopback TCP may defer delivery to a softirq.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  tcp::socket a(io), b(io);
  a.assign(tcp::v4(), fds[0]);
  b.assign(tcp::v4(), fds[1]);
  return {std::move(a), std::move(b)};
}

// A stub cluster: one StubNode per connection the session opens.
struct StubCluster {
  StubCluster(asio::io_context& io_context, uint8_t prefix) : io(io_context), id_prefix(prefix) {}
  net::Stream connect() {
    auto [mine, theirs] = socket_pair(io);
    auto node = std::make_shared<StubNode>(net::Stream(std::move(mine)), id_prefix);
    nodes.push_back(node);
    node->start();
    return net::Stream(std::move(theirs));
  }
  void close_all() {
    for (auto& n : nodes) n->close();
    nodes.clear();
  }

  asio::io_context& io;
  uint8_t id_prefix;
  std::vector<std::shared_ptr<StubNode>> nodes;
};

std::shared_ptr<const proxy::ClusterView> stub_view(proxy::ClusterType cluster, uint16_t port,
                                                    protocol::ProtocolVersion version) {
  auto view = std::make_shared<proxy::ClusterView>();
  view->cluster = cluster;
  proxy::ClusterNode node;
  node.address = "127.0.0.1";
  node.port = port;
  node.datacenter = "dc1";
  view->nodes = {node};
  view->assigned = {node};
  view->version = version;
  // Sessions negotiate with the client against client_version (default v4): without this, v5
  // clients get "unsupported version" and v5 seeds never reach the ready phase.
  view->client_version = version;
  view->supported.options.emplace_back("COMPRESSION", std::vector<std::string>{"lz4", "snappy"});
  view->local.datacenter = "dc1";
  return view;
}

// Runs ready handlers and drains what the session wrote to the client until nothing moves.
// Loopback and socketpair writes land in the peer's buffer synchronously, so a few empty polls in
// a row mean idle. Bounded: a session that keeps itself busy forever is a finding.
void run_until_idle(asio::io_context& io, int client_fd) {
  std::array<uint8_t, 65536> sink{};
  int quiet = 0;
  for (int round = 0; round < 100000; ++round) {
    size_t work = io.poll();
    for (;;) {
      const ssize_t n = ::recv(client_fd, sink.data(), sink.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      if (trace()) print_frames(ByteView(sink.data(), static_cast<size_t>(n)));
      ++work;
    }
    if (work == 0) {
      if (++quiet >= 3) return;
    } else {
      quiet = 0;
    }
  }
  std::abort();  // never idle
}

void write_all(asio::io_context& io, int fd, const uint8_t* data, size_t size) {
  size_t done = 0;
  int stalls = 0;
  while (done < size) {
    const ssize_t n = ::send(fd, data + done, size - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      stalls = 0;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return;  // the session closed
    if (++stalls > 2) return;  // the session stopped reading (backpressure): enough
    run_until_idle(io, fd);
  }
}

struct Quiet {
  Quiet() { spdlog::set_level(trace() ? spdlog::level::debug : spdlog::level::off); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Quiet quiet;
  if (size < 1) return 0;
  const uint8_t options = data[0];
  const auto version =
      (options & 4) ? protocol::ProtocolVersion::V4 : protocol::ProtocolVersion::V5;

  proxy::ProxyConfig config;
  config.primary_cluster = (options & 1) ? proxy::ClusterType::Target : proxy::ClusterType::Origin;
  config.read_mode =
      (options & 2) ? proxy::ReadMode::DualAsyncOnSecondary : proxy::ReadMode::PrimaryOnly;
  config.replace_cql_functions = (options & 8) != 0;
  net::FramedConnectionOptions framing;
  if (options & 16) framing.read_buffer_size = 64;

  {
    // Declared before the io_context: handlers it destroys may still hold the session.
    proxy::PreparedCache cache(64);
    proxy::SessionContext ctx(config, nullptr, &cache);
    asio::io_context io;
    StubCluster origin(io, 0x0A);
    StubCluster target(io, 0x0B);
    auto origin_view = stub_view(proxy::ClusterType::Origin, 1, version);
    ctx.set_view(proxy::ClusterType::Origin, origin_view);
    ctx.set_view(proxy::ClusterType::Target, stub_view(proxy::ClusterType::Target, 2, version));
    ctx.set_connector([&](asio::any_io_executor executor, proxy::ClusterType cluster,
                          const proxy::ClusterNode&, proxy::StreamCallback done) {
      auto& stub = cluster == proxy::ClusterType::Origin ? origin : target;
      asio::post(executor, [stream = std::make_shared<net::Stream>(stub.connect()),
                            done = std::move(done)]() mutable { done(std::move(*stream)); });
    });
    proxy::VirtualTopologyConfig tc;
    tc.addresses = {"127.0.0.1"};
    if (auto topology = proxy::VirtualTopology::create(tc, origin_view->local)) {
      ctx.set_topology(std::make_shared<const proxy::VirtualTopology>(std::move(*topology)));
    }

    auto [session_end, client_end] = socket_pair(io);
    const int client_fd = client_end.native_handle();
    auto session =
        std::make_shared<proxy::ClientSession>(net::Stream(std::move(session_end)), ctx, framing);
    session->open();
    run_until_idle(io, client_fd);

    size_t at = 1;
    while (at < size && !session->is_closed()) {
      size_t chunk = size - at;
      if (size - at >= 2) {
        const size_t declared = (size_t{data[at]} << 8) | data[at + 1];
        at += 2;
        chunk = std::min(declared, size - at);
      }
      write_all(io, client_fd, data + at, chunk);
      at += chunk;
      run_until_idle(io, client_fd);
    }

    if (trace()) {
      const auto& st = session->stats();
      std::fprintf(stderr, "  session: %s, %llu requests, %llu dual, %llu answered locally\n",
                   session->is_closed() ? "closed" : "open",
                   static_cast<unsigned long long>(st.requests),
                   static_cast<unsigned long long>(st.dual_requests),
                   static_cast<unsigned long long>(st.local_answers));
    }
    // The client goes away, then the nodes: the session closes through both paths.
    boost::system::error_code ignored;
    client_end.close(ignored);
    run_until_idle(io, -1);
    origin.close_all();
    target.close_all();
    session->close();
    run_until_idle(io, -1);
    session.reset();
    // Handlers still pending (connect deadlines, timers) are destroyed with the io_context.
  }
  return 0;
}
