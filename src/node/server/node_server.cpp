#include "node/server/node_server.hpp"

#include <algorithm>
#include <future>
#include <optional>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zdm::node {

namespace asio = boost::asio;
using protocol::ProtocolVersion;

Result<std::vector<ProtocolVersion>> parse_protocol_versions(std::string_view text) {
  std::vector<ProtocolVersion> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty() && (item.front() == 'v' || item.front() == 'V')) item.remove_prefix(1);
    if (item == "65" || item == "dse_v1" || item == "DSE_V1" || item == "DseV1") {
      out.push_back(ProtocolVersion::DseV1);
    } else if (item == "66" || item == "dse_v2" || item == "DSE_V2" || item == "DseV2") {
      out.push_back(ProtocolVersion::DseV2);
    } else if (item == "3") {
      out.push_back(ProtocolVersion::V3);
    } else if (item == "4") {
      out.push_back(ProtocolVersion::V4);
    } else if (item == "5") {
      out.push_back(ProtocolVersion::V5);
    } else {
      return fail(Errc::InvalidArgument,
                  fmt::format("protocol version '{}' is not served; choose from 3, 4, 5, "
                              "dse_v1 (65), dse_v2 (66)",
                              item));
    }
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<CassandraVersion> parse_cassandra_version(std::string_view text) {
  // major.minor, optionally .patch (digits)
  std::string_view t = text;
  std::optional<CassandraVersion> version;
  if (t.starts_with("2.2")) {
    version = CassandraVersion::V2_2;
  } else if (t.starts_with("4.0")) {
    version = CassandraVersion::V4_0;
  }
  if (version) t.remove_prefix(3);
  if (version && !t.empty()) {
    if (t.size() < 2 || t.front() != '.' ||
        !std::all_of(t.begin() + 1, t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      version.reset();
    }
  }
  if (!version) {
    return fail(Errc::InvalidArgument,
                fmt::format("Cassandra version '{}' is not supported; choose 2.2 (answers like "
                            "2.2.18) or 4.0 (like 4.0.11)",
                            text));
  }
  return *version;
}

NodeServer::NodeServer(NodeServerOptions options) : options_(std::move(options)) {}

NodeServer::~NodeServer() { stop(); }

uint16_t NodeServer::port() const { return listener_ ? listener_->port() : 0; }

std::optional<uint16_t> NodeServer::admin_port() const {
  if (!admin_) return std::nullopt;
  return admin_->port();
}

uint64_t NodeServer::open_connections() const {
  return shared_.connections.load(std::memory_order_relaxed);
}

std::string NodeServer::ready_line() const {
  std::string line =
      fmt::format("zdm node: listening on {} (cql{})",
                  net::HostPort{options_.listen.host, port()}.to_string(), tls_ ? ", tls" : "");
  if (admin_) {
    line += fmt::format(", admin on {}",
                        net::HostPort{options_.admin->host, admin_->port()}.to_string());
  }
  return line;
}

Result<void> NodeServer::start() {
  if (started_) return fail(Errc::InvalidArgument, "the node server is already started");
  started_ = true;
  if (options_.protocol_versions.empty()) {
    return fail(Errc::InvalidArgument, "at least one protocol version must be served");
  }
  std::sort(options_.protocol_versions.begin(), options_.protocol_versions.end());
  const bool v22 = options_.identity.cassandra_version == CassandraVersion::V2_2;
  if (v22) {  // Cassandra 2.2's newest protocol is v4
    std::erase_if(options_.protocol_versions, [](ProtocolVersion v) {
      return v != ProtocolVersion::V3 && v != ProtocolVersion::V4;
    });
    if (options_.protocol_versions.empty()) {
      return fail(Errc::InvalidArgument, "Cassandra 2.2 mode serves protocol v3 and v4 only");
    }
  }

  if (options_.tls) {
    auto ctx = net::make_server_tls_context(*options_.tls);
    if (!ctx) return tl::unexpected(ctx.error());
    tls_ = std::move(*ctx);
  }
  for (auto& rule : options_.faults) {
    if (auto id = faults_.add_rule(rule); !id) return tl::unexpected(id.error());
  }

  threads_ = std::make_unique<net::IoThreads>(options_.threads);
  for (size_t i = 0; i < threads_->size(); ++i) {
    registries_.push_back(std::make_unique<ConnectionRegistry>());
  }
  auto listener = net::Listener::bind(
      *threads_, options_.listen,
      [this](asio::ip::tcp::socket socket, size_t index) { accept(std::move(socket), index); });
  if (!listener) return tl::unexpected(listener.error());
  listener_ = std::move(*listener);

  // What the node says about itself in system.local must match where it really listens.
  NodeIdentity identity = options_.identity;
  identity.native_port = listener_->port();
  const auto address = listener_->local_endpoint().address();
  identity.listen_address = address.is_unspecified() ? "127.0.0.1" : address.to_string();
  processor_ = std::make_unique<QueryProcessor>(storage_, std::move(identity),
                                                QueryProcessorOptions{options_.prepared_id_salt});
  if (auto ok = processor_->install_system_tables(); !ok) {
    return fail(ok.error().code,
                fmt::format("cannot install the system tables: {}", ok.error().message));
  }
  if (!options_.users.empty()) authenticator_ = std::make_unique<Authenticator>(options_.users);

  shared_.processor = processor_.get();
  shared_.faults = &faults_;
  shared_.authenticator = authenticator_.get();
  shared_.authenticator_kind = options_.authenticator;
  shared_.versions = options_.protocol_versions;
  shared_.v5_beta = options_.v5_beta;
  shared_.cql_version = processor_->identity().cql_version;
  std::vector<std::string> labels;
  for (auto v : shared_.versions) {
    labels.push_back(
        NodeServerShared::version_label(v, shared_.v5_beta && v == ProtocolVersion::V5));
  }
  shared_.cassandra_version = options_.identity.cassandra_version;
  if (v22) {  // 2.2 has no PROTOCOL_VERSIONS in SUPPORTED (added in 4.0)
    shared_.supported.options = {
        {"CQL_VERSION", {shared_.cql_version}},
        {"COMPRESSION", {"snappy", "lz4"}},
    };
  } else {
    shared_.supported.options = {
        {"CQL_VERSION", {shared_.cql_version}},
        {"COMPRESSION", {"lz4", "snappy"}},
        {"PROTOCOL_VERSIONS", labels},
    };
  }

  // DDL runs on some io thread; each thread's registry hears about it on its own thread.
  processor_->set_schema_change_listener([this](const protocol::SchemaChange& change) {
    for (size_t i = 0; i < registries_.size(); ++i) {
      asio::post(threads_->context(i), [registry = registries_[i].get(), change] {
        registry->broadcast_schema_change(change);
      });
    }
  });

  if (options_.admin) {
    AdminHooks hooks;
    hooks.clear_prepared = [this] { processor_->clear_prepared(); };
    hooks.open_connections = [this] { return open_connections(); };
    auto admin =
        NodeAdminHttp::bind(threads_->context(0), *options_.admin, faults_, std::move(hooks));
    if (!admin) return tl::unexpected(admin.error());
    admin_ = std::move(*admin);
  }

  threads_->start();
  running_ = true;
  listener_->start();
  if (admin_) admin_->start();
  spdlog::info("{}", ready_line());
  return {};
}

void NodeServer::accept(asio::ip::tcp::socket socket, size_t thread_index) {
  net::Stream stream = tls_ ? net::Stream(std::move(socket), tls_) : net::Stream(std::move(socket));
  auto connection = std::make_shared<NodeConnection>(std::move(stream), shared_,
                                                     *registries_[thread_index], options_.framing);
  connection->open();
}

void NodeServer::stop() {
  if (stopped_ || !threads_) return;
  stopped_ = true;
  if (!running_) {  // start() failed part way: nothing runs, nothing to close
    threads_->stop();
    return;
  }
  if (listener_) listener_->stop();
  if (admin_) admin_->stop();
  processor_->set_schema_change_listener(nullptr);
  // Close every connection on its own thread, and wait until that is done.
  std::vector<std::future<void>> done;
  for (size_t i = 0; i < registries_.size(); ++i) {
    auto promise = std::make_shared<std::promise<void>>();
    done.push_back(promise->get_future());
    asio::post(threads_->context(i), [registry = registries_[i].get(), promise] {
      registry->close_all();
      promise->set_value();
    });
  }
  for (auto& f : done) f.wait();
  threads_->stop();
}

}  // namespace zdm::node
