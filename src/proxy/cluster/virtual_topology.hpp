#pragma once
// The proxy answers `system.local` and `system.peers` itself and presents the N proxy instances
// as a ring of N virtual nodes (the reference's "virtualization"): drivers balance over the
// proxies, and token-aware routing keeps working because each virtual node owns disjoint,
// interleaved token ranges. `system.peers_v2` is refused, as by the reference, so that drivers
// fall back to `system.peers`.
//
// VirtualTopology is an immutable snapshot: build a new one when the control connection's view
// changes and swap it in; readers never lock. The column sets and types are Cassandra 4.0's.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/messages.hpp"
#include "protocol/version.hpp"

namespace zdm::proxy {

enum class SystemTable : uint8_t { Local, Peers, PeersV2 };
std::string_view system_table_name(SystemTable t);  // "local"

// A failure to report to the client as a CQL error (Invalid, SyntaxError), not a proxy fault.
template <class T>
using CqlResult = tl::expected<T, protocol::ErrorMessage>;

// A parsed `SELECT ... FROM system.local|peers [WHERE col = term [AND ...]] [LIMIT n]`. Owns its
// strings (it is kept in the prepared cache for EXECUTE).
struct SystemSelect {
  struct Selector {
    enum class Kind : uint8_t { Column, Count };
    Kind kind = Kind::Column;
    size_t column = 0;        // index into the table's columns (Column only)
    std::string output_name;  // alias, column name, or "count"
  };
  struct Restriction {
    size_t column = 0;
    std::optional<Bytes> value;  // a literal, serialized with the column's type
    int bind_index = -1;         // >= 0: the value comes from this bind marker
  };

  SystemTable table = SystemTable::Local;
  std::vector<Selector> selectors;  // `*` expands to every column in table order
  std::vector<Restriction> where;
  std::optional<int32_t> limit;
  int limit_bind_index = -1;
  int bind_count = 0;
};

// Parses an intercepted SELECT. `session_keyspace` applies when the table is unqualified. Errors
// are what Cassandra would answer: Invalid "Undefined column name x", Invalid "unconfigured table
// peers_v2", SyntaxError for text the parser cannot follow.
CqlResult<SystemSelect> parse_system_select(std::string_view cql,
                                            std::string_view session_keyspace);

// The bind-marker and result metadata of a parsed select (PREPARE answered by the proxy).
protocol::PreparedMetadata system_select_variables(const SystemSelect& select);
protocol::RowsMetadata system_select_result_metadata(const SystemSelect& select);

// PREPARE of an intercepted query, answered locally: the id is MD5(query text + keyspace), so
// every proxy instance hands out the same id for the same statement.
struct LocallyPrepared {
  SystemSelect select;
  protocol::PreparedResult result;
};
CqlResult<LocallyPrepared> prepare_system_select(std::string_view cql,
                                                 std::string_view session_keyspace,
                                                 protocol::ProtocolVersion version);
Bytes local_prepared_id(std::string_view cql, std::string_view keyspace);

// One proxy instance as a virtual node.
struct VirtualHost {
  std::string address;  // textual IP
  Bytes address_bytes;  // 4 or 16 bytes, as an [inet] value
  Uuid host_id{};
  std::vector<int64_t> tokens;
};

// Token t of virtual host i among `count` hosts with `num_tokens` each:
// floor(2^64 / (num_tokens * count)) * (t * count + i) - 2^63 (computed in 128 bits).
std::vector<int64_t> virtual_tokens(size_t index, size_t count, size_t num_tokens);
// Name-based (SHA-1, version 5) UUID of the address under the nil namespace, over the address's
// 16-byte form (IPv4 mapped into ::ffff:0:0/96), as the reference derives its host ids.
Result<Uuid> virtual_host_id(std::string_view ip_address);

struct VirtualTopologyConfig {
  std::vector<std::string> addresses;  // every proxy instance, the same list on each
  size_t index = 0;                    // this instance
  size_t num_tokens = 8;
  uint16_t native_port = 14002;  // the proxy's listen port (rpc_port)
};

// What the proxy copies from the real cluster: the control connection's system.local row
// (column name -> serialized value, null as nullopt) and the datacenter the proxy uses.
struct ClusterLocalInfo {
  std::map<std::string, std::optional<Bytes>> local_row;
  std::string datacenter;
};

class VirtualTopology {
 public:
  // Fails on bad addresses/index/token counts and on a partitioner other than Murmur3 (Random is
  // presented as Murmur3, as by the reference).
  static Result<VirtualTopology> create(const VirtualTopologyConfig& config,
                                        const ClusterLocalInfo& cluster);

  const std::vector<VirtualHost>& hosts() const { return hosts_; }
  const VirtualHost& local_host() const { return hosts_[index_]; }

  // Answers a parsed select with bound values (EXECUTE of a locally prepared statement; QUERY
  // passes its values too, or none). Returns a ResultMessage (Rows) or an ErrorMessage.
  protocol::ResponseBody execute(const SystemSelect& select,
                                 std::span<const protocol::BoundValue> values = {}) const;
  // QUERY: parse then execute.
  protocol::ResponseBody query(std::string_view cql, std::string_view session_keyspace,
                               std::span<const protocol::BoundValue> values = {}) const;

  // The full tables, in column order (tests and `zdm status`).
  const std::vector<protocol::Row>& table_rows(SystemTable table) const;

 private:
  VirtualTopology() = default;

  std::vector<VirtualHost> hosts_;
  size_t index_ = 0;
  std::vector<protocol::Row> local_rows_;  // exactly one
  std::vector<protocol::Row> peer_rows_;   // every other host
};

// Column names and types of Cassandra 4.0's tables, in SELECT * order.
struct SystemColumn {
  std::string_view name;
  protocol::DataType type;
};
const std::vector<SystemColumn>& system_table_columns(SystemTable table);

}  // namespace zdm::proxy
