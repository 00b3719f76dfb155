#include "proxy/cluster/virtual_topology.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "common/md5.hpp"
#include "protocol/cql_lexer.hpp"

namespace zdm::proxy {

using protocol::CqlLexer;
using protocol::CqlToken;
using protocol::CqlTokenKind;
using protocol::DataType;
using protocol::ErrorCode;
using protocol::ErrorMessage;
using protocol::TypeId;

namespace {

constexpr std::string_view kMurmur3 = "org.apache.cassandra.dht.Murmur3Partitioner";
constexpr std::string_view kRandom = "org.apache.cassandra.dht.RandomPartitioner";
constexpr std::string_view kRack = "rack0";

[[gnu::cold]] tl::unexpected<ErrorMessage> invalid(std::string message) {
  return tl::unexpected(ErrorMessage{ErrorCode::Invalid, std::move(message), {}});
}

[[gnu::cold]] tl::unexpected<ErrorMessage> syntax_error(std::string_view cql, const CqlToken& at,
                                                        std::string_view expected) {
  const auto lc = protocol::line_column(cql, at.offset);
  const std::string_view near = at.kind == CqlTokenKind::End ? "end of input" : at.text;
  return tl::unexpected(ErrorMessage{
      ErrorCode::SyntaxError,
      fmt::format("line {}:{} {} expected near '{}'", lc.line, lc.column - 1, expected, near),
      {}});
}

[[gnu::cold]] tl::unexpected<ErrorMessage> lexical_error(std::string_view cql, const CqlToken& at) {
  const auto lc = protocol::line_column(cql, at.offset);
  return tl::unexpected(
      ErrorMessage{ErrorCode::SyntaxError,
                   fmt::format("line {}:{} {} near '{}'", lc.line, lc.column - 1,
                               at.error != nullptr ? at.error : "unexpected input", at.text),
                   {}});
}

Bytes text_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes int_bytes(int32_t v) {
  Bytes out;
  ByteWriter(out).write_i32(v);
  return out;
}

Bytes bigint_bytes(int64_t v) {
  Bytes out;
  ByteWriter(out).write_i64(v);
  return out;
}

Bytes uuid_bytes(const Uuid& u) { return Bytes(u.begin(), u.end()); }

// set<text> in the v3+ collection encoding: [int] count, then [int] length + bytes each.
Bytes text_set_bytes(const std::vector<std::string>& items) {
  Bytes out;
  ByteWriter w(out);
  w.write_i32(static_cast<int32_t>(items.size()));
  for (const std::string& item : items) {
    w.write_i32(static_cast<int32_t>(item.size()));
    out.insert(out.end(), item.begin(), item.end());
  }
  return out;
}

std::optional<Bytes> parse_inet(std::string_view text) {
  const std::string s(text);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v4);
    return Bytes(p, p + 4);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v6);
    return Bytes(p, p + 16);
  }
  return std::nullopt;
}

std::optional<Bytes> parse_uuid_text(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c != '-') hex.push_back(c);
  }
  auto bytes = from_hex(hex);
  if (!bytes || bytes->size() != 16) return std::nullopt;
  return *bytes;
}

std::vector<SystemColumn> make_local_columns() {
  const auto text = DataType::simple(TypeId::Varchar);
  const auto inet = DataType::simple(TypeId::Inet);
  const auto i32 = DataType::simple(TypeId::Int);
  const auto uuid = DataType::simple(TypeId::Uuid);
  // clang-format off
  return {
      {"key", text},
      {"bootstrapped", text},
      {"broadcast_address", inet},
      {"broadcast_port", i32},
      {"cluster_name", text},
      {"cql_version", text},
      {"data_center", text},
      {"gossip_generation", i32},
      {"host_id", uuid},
      {"listen_address", inet},
      {"listen_port", i32},
      {"native_protocol_version", text},
      {"partitioner", text},
      {"rack", text},
      {"release_version", text},
      {"rpc_address", inet},
      {"rpc_port", i32},
      {"schema_version", uuid},
      {"tokens", DataType::set_of(text)},
      {"truncated_at", DataType::map_of(uuid, DataType::simple(TypeId::Blob))},
  };
  // clang-format on
}

std::vector<SystemColumn> make_peers_columns() {
  const auto text = DataType::simple(TypeId::Varchar);
  const auto inet = DataType::simple(TypeId::Inet);
  const auto uuid = DataType::simple(TypeId::Uuid);
  // clang-format off
  return {
      {"peer", inet},
      {"data_center", text},
      {"host_id", uuid},
      {"preferred_ip", inet},
      {"rack", text},
      {"release_version", text},
      {"rpc_address", inet},
      {"schema_version", uuid},
      {"tokens", DataType::set_of(text)},
  };
  // clang-format on
}

// A column named in the statement: unquoted names fold to lower case.
std::optional<size_t> resolve_column(SystemTable table, const CqlToken& token) {
  if (token.kind != CqlTokenKind::Identifier && token.kind != CqlTokenKind::QuotedIdentifier) {
    return std::nullopt;
  }
  const auto& columns = system_table_columns(table);
  const std::string name = protocol::cql_token_value(token);
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return i;
  }
  return std::nullopt;
}

bool is_name(const CqlToken& t) {
  return t.kind == CqlTokenKind::Identifier || t.kind == CqlTokenKind::QuotedIdentifier;
}

// Selection entries before the table is known (columns are resolved after FROM).
struct PendingSelector {
  bool count = false;
  CqlToken column;
  std::string alias;
};

class SelectParser {
 public:
  SelectParser(std::string_view cql, std::string_view session_keyspace)
      : cql_(cql), session_keyspace_(session_keyspace), lexer_(cql) {
    advance();
  }

  CqlResult<SystemSelect> parse() {
    // Lexical errors (unterminated strings, stray characters) first: a cold path, so a second
    // pass over the text is fine.
    for (CqlLexer scan(cql_);;) {
      const CqlToken t = scan.next();
      if (t.kind == CqlTokenKind::End) break;
      if (t.kind == CqlTokenKind::Error) {
        return lexical_error(cql_, t);
      }
    }
    if (!current_.is_keyword("select")) return syntax_error(cql_, current_, "SELECT");
    advance();
    if ((current_.is_keyword("json") || current_.is_keyword("distinct")) && !next_is_from()) {
      return invalid(fmt::format("SELECT {} is not supported on tables answered by the proxy",
                                 protocol::cql_token_value(current_)));
    }

    std::vector<PendingSelector> pending;
    bool star = false;
    if (current_.is_symbol("*")) {
      star = true;
      advance();
    } else {
      for (;;) {
        PendingSelector sel;
        if (current_.is_keyword("count") && peek().is_symbol("(")) {
          advance();
          advance();
          if (!(current_.is_symbol("*") ||
                (current_.kind == CqlTokenKind::Integer && current_.text == "1"))) {
            return syntax_error(cql_, current_, "'*' or 1");
          }
          advance();
          if (!current_.is_symbol(")")) return syntax_error(cql_, current_, "')'");
          advance();
          sel.count = true;
        } else if (is_name(current_)) {
          if (peek().is_symbol("(")) {
            return invalid(fmt::format(
                "only columns and count(*) may be selected from tables answered by the proxy, "
                "not {}(...)",
                protocol::cql_token_value(current_)));
          }
          sel.column = current_;
          advance();
        } else {
          return syntax_error(cql_, current_, "a column name");
        }
        if (current_.is_keyword("as")) {
          advance();
          if (!is_name(current_)) return syntax_error(cql_, current_, "an alias");
          sel.alias = protocol::cql_token_value(current_);
          advance();
        }
        pending.push_back(std::move(sel));
        if (!current_.is_symbol(",")) break;
        advance();
      }
    }

    if (!current_.is_keyword("from")) return syntax_error(cql_, current_, "FROM");
    advance();
    if (!is_name(current_)) return syntax_error(cql_, current_, "a table name");
    CqlToken first = current_;
    advance();
    std::string keyspace(session_keyspace_);
    std::string table_name = protocol::cql_token_value(first);
    if (current_.is_symbol(".")) {
      advance();
      if (!is_name(current_)) return syntax_error(cql_, current_, "a table name");
      keyspace = protocol::cql_token_value(first);
      table_name = protocol::cql_token_value(current_);
      advance();
    }
    SystemSelect select;
    if (keyspace != "system") {
      return invalid(
          fmt::format("{}.{} is not a table answered by the proxy", keyspace, table_name));
    }
    if (table_name == "local") {
      select.table = SystemTable::Local;
    } else if (table_name == "peers") {
      select.table = SystemTable::Peers;
    } else if (table_name == "peers_v2") {
      // As the reference: drivers then fall back to system.peers.
      return invalid("unconfigured table peers_v2");
    } else {
      return invalid(fmt::format("system.{} is not a table answered by the proxy", table_name));
    }

    const auto& columns = system_table_columns(select.table);
    if (star) {
      for (size_t i = 0; i < columns.size(); ++i) {
        select.selectors.push_back(
            {SystemSelect::Selector::Kind::Column, i, std::string(columns[i].name)});
      }
    } else {
      for (PendingSelector& sel : pending) {
        if (sel.count) {
          select.selectors.push_back({SystemSelect::Selector::Kind::Count, 0,
                                      sel.alias.empty() ? "count" : std::move(sel.alias)});
          continue;
        }
        auto index = resolve_column(select.table, sel.column);
        if (!index) {
          return invalid(
              fmt::format("Undefined column name {}", protocol::cql_token_value(sel.column)));
        }
        select.selectors.push_back(
            {SystemSelect::Selector::Kind::Column, *index,
             sel.alias.empty() ? std::string(columns[*index].name) : std::move(sel.alias)});
      }
    }

    if (current_.is_keyword("where")) {
      advance();
      for (;;) {
        if (!is_name(current_)) return syntax_error(cql_, current_, "a column name");
        auto index = resolve_column(select.table, current_);
        if (!index) {
          return invalid(
              fmt::format("Undefined column name {}", protocol::cql_token_value(current_)));
        }
        advance();
        if (!current_.is_symbol("=")) {
          return invalid(
              "only equality restrictions (column = value) are supported on tables "
              "answered by the proxy");
        }
        advance();
        SystemSelect::Restriction restriction;
        restriction.column = *index;
        if (take_bind_marker()) {
          restriction.bind_index = select.bind_count++;
        } else {
          auto value = literal_for(columns[*index], current_);
          if (!value) return tl::unexpected(value.error());
          restriction.value = std::move(*value);
          advance();
        }
        select.where.push_back(std::move(restriction));
        if (!current_.is_keyword("and")) break;
        advance();
      }
    }

    if (current_.is_keyword("limit")) {
      advance();
      if (take_bind_marker()) {
        select.limit_bind_index = select.bind_count++;
      } else if (current_.kind == CqlTokenKind::Integer) {
        int64_t n = 0;
        const auto [end, ec] =
            std::from_chars(current_.text.data(), current_.text.data() + current_.text.size(), n);
        if (ec != std::errc() || n <= 0 || n > std::numeric_limits<int32_t>::max()) {
          return invalid("LIMIT must be strictly positive");
        }
        select.limit = static_cast<int32_t>(n);
        advance();
      } else {
        return syntax_error(cql_, current_, "a LIMIT value");
      }
    }
    if (current_.is_keyword("allow")) {
      advance();
      if (!current_.is_keyword("filtering")) return syntax_error(cql_, current_, "FILTERING");
      advance();
    }
    if (current_.is_symbol(";")) advance();
    if (current_.kind != CqlTokenKind::End) return syntax_error(cql_, current_, "end of statement");
    return select;
  }

 private:
  void advance() { current_ = lexer_.next(); }
  CqlToken peek() const {
    CqlLexer ahead = lexer_;
    return ahead.next();
  }
  bool next_is_from() const { return peek().is_keyword("from"); }

  // `?` or `:name`.
  bool take_bind_marker() {
    if (current_.is_symbol("?")) {
      advance();
      return true;
    }
    if (current_.is_symbol(":") && is_name(peek())) {
      advance();
      advance();
      return true;
    }
    return false;
  }

  CqlResult<Bytes> literal_for(const SystemColumn& column, const CqlToken& token) const {
    const auto bad = [&]() {
      return invalid(fmt::format("Invalid value {} for column {}", token.text, column.name));
    };
    switch (column.type.id) {
      case TypeId::Varchar:
      case TypeId::Ascii:
        if (token.kind != CqlTokenKind::String && token.kind != CqlTokenKind::DollarString) {
          return bad();
        }
        return text_bytes(protocol::cql_token_value(token));
      case TypeId::Inet: {
        if (token.kind != CqlTokenKind::String) return bad();
        auto v = parse_inet(protocol::cql_token_value(token));
        if (!v) return bad();
        return *v;
      }
      case TypeId::Uuid: {
        if (token.kind != CqlTokenKind::Uuid) return bad();
        auto v = parse_uuid_text(token.text);
        if (!v) return bad();
        return *v;
      }
      case TypeId::Int: {
        int32_t n = 0;
        const auto [end, ec] =
            std::from_chars(token.text.data(), token.text.data() + token.text.size(), n);
        if (token.kind != CqlTokenKind::Integer || ec != std::errc() ||
            end != token.text.data() + token.text.size()) {
          return bad();
        }
        return int_bytes(n);
      }
      default:
        return invalid(fmt::format(
            "restricting column {} is not supported on tables answered by the proxy", column.name));
    }
  }

  std::string_view cql_;
  std::string_view session_keyspace_;
  CqlLexer lexer_;
  CqlToken current_;
};

protocol::ColumnSpec column_spec(SystemTable table, std::string name, DataType type) {
  return protocol::ColumnSpec{"system", std::string(system_table_name(table)), std::move(name),
                              std::move(type)};
}

std::optional<Bytes> source_value(const ClusterLocalInfo& cluster, std::string_view name) {
  auto it = cluster.local_row.find(std::string(name));
  if (it == cluster.local_row.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::string_view system_table_name(SystemTable t) {
  switch (t) {
    case SystemTable::Local:
      return "local";
    case SystemTable::Peers:
      return "peers";
    case SystemTable::PeersV2:
      return "peers_v2";
  }
  return "?";
}

const std::vector<SystemColumn>& system_table_columns(SystemTable table) {
  static const std::vector<SystemColumn> local = make_local_columns();
  static const std::vector<SystemColumn> peers = make_peers_columns();
  static const std::vector<SystemColumn> none;
  switch (table) {
    case SystemTable::Local:
      return local;
    case SystemTable::Peers:
      return peers;
    case SystemTable::PeersV2:
      return none;
  }
  return none;
}

CqlResult<SystemSelect> parse_system_select(std::string_view cql,
                                            std::string_view session_keyspace) {
  return SelectParser(cql, session_keyspace).parse();
}

protocol::PreparedMetadata system_select_variables(const SystemSelect& select) {
  protocol::PreparedMetadata meta;
  meta.global_table_spec = true;
  meta.global_keyspace = "system";
  meta.global_table = std::string(system_table_name(select.table));
  meta.columns.resize(static_cast<size_t>(select.bind_count));
  const auto& columns = system_table_columns(select.table);
  for (const auto& r : select.where) {
    if (r.bind_index < 0) continue;
    const auto& column = columns[r.column];
    meta.columns[static_cast<size_t>(r.bind_index)] =
        column_spec(select.table, std::string(column.name), column.type);
    // The partition key is the first column of both tables.
    if (r.column == 0) meta.pk_indexes.push_back(static_cast<uint16_t>(r.bind_index));
  }
  if (select.limit_bind_index >= 0) {
    meta.columns[static_cast<size_t>(select.limit_bind_index)] =
        column_spec(select.table, "[limit]", DataType::simple(TypeId::Int));
  }
  return meta;
}

protocol::RowsMetadata system_select_result_metadata(const SystemSelect& select) {
  protocol::RowsMetadata meta;
  meta.global_table_spec = true;
  meta.global_keyspace = "system";
  meta.global_table = std::string(system_table_name(select.table));
  const auto& columns = system_table_columns(select.table);
  for (const auto& sel : select.selectors) {
    DataType type = sel.kind == SystemSelect::Selector::Kind::Count
                        ? DataType::simple(TypeId::Bigint)
                        : columns[sel.column].type;
    meta.columns.push_back(column_spec(select.table, sel.output_name, std::move(type)));
  }
  meta.column_count = static_cast<int32_t>(meta.columns.size());
  return meta;
}

Bytes local_prepared_id(std::string_view cql, std::string_view keyspace) {
  Md5Hasher hasher;
  hasher.update(cql);
  hasher.update(keyspace);
  auto digest = hasher.finish();
  if (!digest) {
    // MD5 unavailable (FIPS): any stable 16 bytes will do as an identifier.
    Bytes fallback(16, 0);
    uint64_t h = 1469598103934665603ull;
    for (char c : cql) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    for (char c : keyspace) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    for (size_t i = 0; i < 8; ++i) fallback[i] = static_cast<uint8_t>(h >> (8 * i));
    return fallback;
  }
  return Bytes(digest->begin(), digest->end());
}

CqlResult<LocallyPrepared> prepare_system_select(std::string_view cql,
                                                 std::string_view session_keyspace,
                                                 protocol::ProtocolVersion version) {
  auto select = parse_system_select(cql, session_keyspace);
  if (!select) return tl::unexpected(select.error());
  LocallyPrepared out;
  out.result.id = local_prepared_id(cql, session_keyspace);
  out.result.metadata = system_select_variables(*select);
  out.result.result_metadata = system_select_result_metadata(*select);
  if (protocol::uses_prepared_metadata(version)) {
    Md5Hasher hasher;
    for (const auto& column : out.result.result_metadata.columns) {
      hasher.update(column.name);
      hasher.update(std::string_view("\0", 1));
    }
    auto digest = hasher.finish();
    out.result.result_metadata_id = digest ? Bytes(digest->begin(), digest->end()) : out.result.id;
  }
  out.select = std::move(*select);
  return out;
}

std::vector<int64_t> virtual_tokens(size_t index, size_t count, size_t num_tokens) {
  std::vector<int64_t> tokens;
  if (count == 0 || num_tokens == 0) return tokens;
  // 128-bit so that step * position and the subtraction cannot overflow (GNU extension).
  __extension__ typedef unsigned __int128 u128;
  __extension__ typedef __int128 i128;
  const u128 two_pow_64 = static_cast<u128>(1) << 64;
  const u128 step = two_pow_64 / static_cast<u128>(num_tokens * count);
  const i128 two_pow_63 = static_cast<i128>(static_cast<u128>(1) << 63);
  tokens.reserve(num_tokens);
  for (size_t t = 0; t < num_tokens; ++t) {
    const u128 position = static_cast<u128>(t) * count + index;
    const i128 token = static_cast<i128>(step * position) - two_pow_63;
    tokens.push_back(static_cast<int64_t>(token));
  }
  return tokens;
}

Result<Uuid> virtual_host_id(std::string_view ip_address) {
  auto bytes = parse_inet(ip_address);
  if (!bytes) {
    return fail(Errc::InvalidArgument,
                fmt::format("'{}' is not an IP address (virtual host id)", ip_address));
  }
  std::array<uint8_t, 32> input{};  // 16-byte nil namespace, then the 16-byte address
  if (bytes->size() == 4) {
    input[16 + 10] = 0xff;
    input[16 + 11] = 0xff;
    std::copy(bytes->begin(), bytes->end(), input.begin() + 28);
  } else {
    std::copy(bytes->begin(), bytes->end(), input.begin() + 16);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr) != 1 ||
      length < 16) {
    return fail(Errc::Unsupported, "SHA-1 is not available from OpenSSL (virtual host id)");
  }
  Uuid id{};
  std::copy(digest, digest + 16, id.begin());
  id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x50);  // version 5
  id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return id;
}

Result<VirtualTopology> VirtualTopology::create(const VirtualTopologyConfig& config,
                                                const ClusterLocalInfo& cluster) {
  if (config.addresses.empty()) {
    return fail(Errc::InvalidArgument, "virtual topology needs at least one proxy address");
  }
  if (config.index >= config.addresses.size()) {
    return fail(Errc::InvalidArgument,
                fmt::format("proxy topology index {} is outside the {} proxy address(es)",
                            config.index, config.addresses.size()));
  }
  if (config.num_tokens < 1 || config.num_tokens > 256) {
    return fail(Errc::InvalidArgument,
                fmt::format("proxy topology num tokens {} must be 1..256", config.num_tokens));
  }

  std::optional<Bytes> partitioner = source_value(cluster, "partitioner");
  if (partitioner) {
    const std::string_view name = as_chars(*partitioner);
    if (name != kMurmur3 && name != kRandom) {
      return fail(Errc::Unsupported,
                  fmt::format("the cluster uses {}; the proxy supports Murmur3Partitioner "
                              "(and presents RandomPartitioner as Murmur3)",
                              name));
    }
  }

  VirtualTopology topology;
  topology.index_ = config.index;
  for (size_t i = 0; i < config.addresses.size(); ++i) {
    VirtualHost host;
    host.address = config.addresses[i];
    auto bytes = parse_inet(host.address);
    if (!bytes) {
      return fail(Errc::InvalidArgument,
                  fmt::format("proxy topology address '{}' is not an IP address", host.address));
    }
    host.address_bytes = std::move(*bytes);
    auto id = virtual_host_id(host.address);
    if (!id) return tl::unexpected(id.error());
    host.host_id = *id;
    host.tokens = virtual_tokens(i, config.addresses.size(), config.num_tokens);
    topology.hosts_.push_back(std::move(host));
  }

  const std::optional<Bytes> dc = text_bytes(cluster.datacenter);
  const std::optional<Bytes> rack = text_bytes(kRack);
  const std::optional<Bytes> release = source_value(cluster, "release_version");
  const std::optional<Bytes> schema = source_value(cluster, "schema_version");
  auto tokens_of = [](const VirtualHost& h) {
    std::vector<std::string> text;
    for (int64_t t : h.tokens) text.push_back(std::to_string(t));
    return text_set_bytes(text);
  };

  const VirtualHost& self = topology.hosts_[config.index];
  protocol::Row local;
  for (const SystemColumn& column : system_table_columns(SystemTable::Local)) {
    const std::string_view n = column.name;
    std::optional<Bytes> v;
    if (n == "key") {
      v = text_bytes("local");
    } else if (n == "bootstrapped") {
      v = text_bytes("COMPLETED");
    } else if (n == "broadcast_address" || n == "listen_address" || n == "rpc_address") {
      v = self.address_bytes;
    } else if (n == "data_center") {
      v = dc;
    } else if (n == "host_id") {
      v = uuid_bytes(self.host_id);
    } else if (n == "partitioner") {
      v = text_bytes(kMurmur3);
    } else if (n == "rack") {
      v = rack;
    } else if (n == "rpc_port") {
      v = int_bytes(config.native_port);
    } else if (n == "tokens") {
      v = tokens_of(self);
    } else if (n == "truncated_at") {
      v = std::nullopt;
    } else {
      // cluster_name, cql_version, release_version, schema_version, native_protocol_version,
      // gossip_generation, broadcast_port, listen_port: the real node's values.
      v = source_value(cluster, n);
    }
    local.push_back(std::move(v));
  }
  topology.local_rows_.push_back(std::move(local));

  for (size_t i = 0; i < topology.hosts_.size(); ++i) {
    if (i == config.index) continue;
    const VirtualHost& host = topology.hosts_[i];
    protocol::Row row;
    for (const SystemColumn& column : system_table_columns(SystemTable::Peers)) {
      const std::string_view n = column.name;
      std::optional<Bytes> v;
      if (n == "peer" || n == "preferred_ip" || n == "rpc_address") {
        v = host.address_bytes;
      } else if (n == "data_center") {
        v = dc;
      } else if (n == "host_id") {
        v = uuid_bytes(host.host_id);
      } else if (n == "rack") {
        v = rack;
      } else if (n == "release_version") {
        v = release;
      } else if (n == "schema_version") {
        v = schema;
      } else if (n == "tokens") {
        v = tokens_of(host);
      }
      row.push_back(std::move(v));
    }
    topology.peer_rows_.push_back(std::move(row));
  }
  return topology;
}

const std::vector<protocol::Row>& VirtualTopology::table_rows(SystemTable table) const {
  static const std::vector<protocol::Row> none;
  switch (table) {
    case SystemTable::Local:
      return local_rows_;
    case SystemTable::Peers:
      return peer_rows_;
    case SystemTable::PeersV2:
      return none;
  }
  return none;
}

protocol::ResponseBody VirtualTopology::execute(
    const SystemSelect& select, std::span<const protocol::BoundValue> values) const {
  const auto error = [](std::string message) -> protocol::ResponseBody {
    return ErrorMessage{ErrorCode::Invalid, std::move(message), {}};
  };
  if (values.size() != static_cast<size_t>(select.bind_count)) {
    return error(fmt::format("There were {} markers(?) in CQL but {} bound variables",
                             select.bind_count, values.size()));
  }
  if (select.table == SystemTable::PeersV2) return error("unconfigured table peers_v2");
  const auto& columns = system_table_columns(select.table);

  // Resolve the restriction values (literal or bound).
  std::vector<ByteView> wanted;
  wanted.reserve(select.where.size());
  for (const auto& r : select.where) {
    if (r.bind_index < 0) {
      wanted.emplace_back(*r.value);
      continue;
    }
    const protocol::BoundValue& v = values[static_cast<size_t>(r.bind_index)];
    if (v.kind == ValueView::Kind::Null) {
      return error(
          fmt::format("Invalid null value in condition for column {}", columns[r.column].name));
    }
    if (v.kind == ValueView::Kind::Unset) {
      return error(fmt::format("Invalid unset value for column {}", columns[r.column].name));
    }
    wanted.emplace_back(v.bytes);
  }
  std::optional<int32_t> limit = select.limit;
  if (select.limit_bind_index >= 0) {
    const protocol::BoundValue& v = values[static_cast<size_t>(select.limit_bind_index)];
    if (v.kind != ValueView::Kind::Set || v.bytes.size() != 4) {
      return error("Invalid value for LIMIT: expected a non-null int");
    }
    const int32_t n = static_cast<int32_t>(
        (static_cast<uint32_t>(v.bytes[0]) << 24) | (static_cast<uint32_t>(v.bytes[1]) << 16) |
        (static_cast<uint32_t>(v.bytes[2]) << 8) | static_cast<uint32_t>(v.bytes[3]));
    if (n <= 0) return error("LIMIT must be strictly positive");
    limit = n;
  }

  std::vector<const protocol::Row*> matching;
  for (const protocol::Row& row : table_rows(select.table)) {
    bool ok = true;
    for (size_t i = 0; ok && i < select.where.size(); ++i) {
      const auto& cell = row[select.where[i].column];
      ok = cell.has_value() &&
           std::equal(cell->begin(), cell->end(), wanted[i].begin(), wanted[i].end());
    }
    if (ok) matching.push_back(&row);
  }

  protocol::RowsResult result;
  result.metadata = system_select_result_metadata(select);
  const bool aggregate =
      std::any_of(select.selectors.begin(), select.selectors.end(),
                  [](const auto& s) { return s.kind == SystemSelect::Selector::Kind::Count; });
  if (aggregate) {
    // Cassandra: aggregates see every matching row; plain columns take the first row's values.
    protocol::Row out;
    for (const auto& sel : select.selectors) {
      if (sel.kind == SystemSelect::Selector::Kind::Count) {
        out.push_back(bigint_bytes(static_cast<int64_t>(matching.size())));
      } else {
        out.push_back(matching.empty() ? std::nullopt : (*matching.front())[sel.column]);
      }
    }
    result.rows.push_back(std::move(out));
  } else {
    for (const protocol::Row* row : matching) {
      if (limit && result.rows.size() >= static_cast<size_t>(*limit)) break;
      protocol::Row out;
      out.reserve(select.selectors.size());
      for (const auto& sel : select.selectors) out.push_back((*row)[sel.column]);
      result.rows.push_back(std::move(out));
    }
  }
  return protocol::ResultMessage{std::move(result)};
}

protocol::ResponseBody VirtualTopology::query(std::string_view cql,
                                              std::string_view session_keyspace,
                                              std::span<const protocol::BoundValue> values) const {
  auto select = parse_system_select(cql, session_keyspace);
  if (!select) return select.error();
  return execute(*select, values);
}

}  // namespace zdm::proxy
