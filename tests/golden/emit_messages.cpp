// Prints, as JSON, whole response frames produced by OUR encoder for every response kind (every
// error code, every result kind with rows of several types, every event, the envelope flags) in
// every version, with the fields each frame is meant to carry. test_messages_decode.py decodes the
// frames with the DataStax Python driver and checks the fields.
//
// Output: [{"name", "version", "stream", "opcode", "flags", "frame", "envelope", "kind",
//           "expected"}, ...]
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "../unit/protocol/message_samples.hpp"
#include "protocol/messages.hpp"

namespace zdm::protocol {
namespace {

std::string str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string hex_or_null(const std::optional<Bytes>& b) { return b ? str(to_hex(*b)) : "null"; }

template <class T, class F>
std::string list(const std::vector<T>& items, F&& each) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += each(items[i]);
  }
  return out + "]";
}

std::string strings(const std::vector<std::string>& items) {
  return list(items, [](const std::string& s) { return str(s); });
}

// The type as the driver's cql_parameterized_type() prints it.
std::string cql_type(const DataType& t) {
  switch (t.id) {
    case TypeId::Ascii:
      return "ascii";
    case TypeId::Bigint:
      return "bigint";
    case TypeId::Blob:
      return "blob";
    case TypeId::Boolean:
      return "boolean";
    case TypeId::Counter:
      return "counter";
    case TypeId::Decimal:
      return "decimal";
    case TypeId::Double:
      return "double";
    case TypeId::Float:
      return "float";
    case TypeId::Int:
      return "int";
    case TypeId::Timestamp:
      return "timestamp";
    case TypeId::Uuid:
      return "uuid";
    case TypeId::Varchar:
      return "varchar";
    case TypeId::Varint:
      return "varint";
    case TypeId::Timeuuid:
      return "timeuuid";
    case TypeId::Inet:
      return "inet";
    case TypeId::Date:
      return "date";
    case TypeId::Time:
      return "time";
    case TypeId::Smallint:
      return "smallint";
    case TypeId::Tinyint:
      return "tinyint";
    case TypeId::Duration:
      return "duration";
    case TypeId::List:
      return "list<" + cql_type(t.params.at(0)) + ">";
    case TypeId::Set:
      return "set<" + cql_type(t.params.at(0)) + ">";
    case TypeId::Map:
      return "map<" + cql_type(t.params.at(0)) + ", " + cql_type(t.params.at(1)) + ">";
    case TypeId::Tuple: {
      // The driver names tuples as frozen, as CQL requires them to be.
      std::string out = "frozen<tuple<";
      for (size_t i = 0; i < t.params.size(); ++i) {
        if (i > 0) out += ", ";
        out += cql_type(t.params[i]);
      }
      return out + ">>";
    }
    default:
      return "unsupported";
  }
}

std::string columns(const std::vector<ColumnSpec>& cols) {
  return list(cols, [](const ColumnSpec& c) {
    return fmt::format(R"({{"keyspace": {}, "table": {}, "name": {}, "type": {}}})",
                       str(c.keyspace), str(c.table), str(c.name), str(cql_type(c.type)));
  });
}

std::string schema_change(const SchemaChange& c) {
  return fmt::format(
      R"({{"change_type": {}, "target": {}, "keyspace": {}, "name": {}, "argument_types": {}}})",
      str(schema_change_type_name(c.change)), str(schema_change_target_name(c.target)),
      str(c.keyspace), str(c.name), strings(c.argument_types));
}

std::string error_detail(const ErrorDetail& detail) {
  struct Visitor {
    std::string counts(Consistency c, int32_t received, int32_t block_for) {
      return fmt::format(R"("consistency": {}, "received": {}, "block_for": {})",
                         static_cast<int>(c), received, block_for);
    }
    std::string reasons(const std::vector<FailureReason>& rs) {
      return list(rs, [](const FailureReason& r) {
        return fmt::format(R"({{"endpoint": {}, "code": {}}})", str(to_hex(r.endpoint)), r.code);
      });
    }
    std::string operator()(std::monostate) { return "null"; }
    std::string operator()(const UnavailableInfo& i) {
      return fmt::format(R"({{"consistency": {}, "required": {}, "alive": {}}})",
                         static_cast<int>(i.consistency), i.required, i.alive);
    }
    std::string operator()(const WriteTimeoutInfo& i) {
      return fmt::format(R"({{{}, "write_type": {}}})",
                         counts(i.consistency, i.received, i.block_for),
                         str(write_type_name(i.write_type)));
    }
    std::string operator()(const ReadTimeoutInfo& i) {
      return fmt::format(R"({{{}, "data_present": {}}})",
                         counts(i.consistency, i.received, i.block_for), i.data_present);
    }
    std::string operator()(const ReadFailureInfo& i) {
      return fmt::format(R"({{{}, "num_failures": {}, "reasons": {}, "data_present": {}}})",
                         counts(i.consistency, i.received, i.block_for), i.num_failures,
                         reasons(i.reasons), i.data_present);
    }
    std::string operator()(const FunctionFailureInfo& i) {
      return fmt::format(R"({{"keyspace": {}, "function": {}, "arg_types": {}}})", str(i.keyspace),
                         str(i.function), strings(i.arg_types));
    }
    std::string operator()(const WriteFailureInfo& i) {
      return fmt::format(R"({{{}, "num_failures": {}, "reasons": {}, "write_type": {}}})",
                         counts(i.consistency, i.received, i.block_for), i.num_failures,
                         reasons(i.reasons), str(write_type_name(i.write_type)));
    }
    std::string operator()(const AlreadyExistsInfo& i) {
      return fmt::format(R"({{"keyspace": {}, "table": {}}})", str(i.keyspace), str(i.table));
    }
    std::string operator()(const UnpreparedInfo& i) {
      return fmt::format(R"({{"id": {}}})", str(to_hex(i.id)));
    }
    std::string operator()(const CasWriteUnknownInfo& i) {
      return fmt::format("{{{}}}", counts(i.consistency, i.received, i.block_for));
    }
  };
  return std::visit(Visitor{}, detail);
}

std::string rows_metadata(const RowsMetadata& m) {
  return fmt::format(
      R"("columns": {}, "column_count": {}, "no_metadata": {}, "paging_state": {}, )"
      R"("new_metadata_id": {}, "continuous_page_number": {}, "last_continuous_page": {})",
      columns(m.columns), m.column_count, m.no_metadata, hex_or_null(m.paging_state),
      hex_or_null(m.new_metadata_id),
      m.continuous_page_number ? std::to_string(*m.continuous_page_number) : "null",
      m.last_continuous_page);
}

std::string result(const ResultMessage& m) {
  struct Visitor {
    std::string operator()(const VoidResult&) { return "{}"; }
    std::string operator()(const RowsResult& r) {
      return fmt::format(R"({{{}, "rows": {}}})", rows_metadata(r.metadata),
                         list(r.rows, [](const Row& row) { return list(row, hex_or_null); }));
    }
    std::string operator()(const SetKeyspaceResult& r) {
      return fmt::format(R"({{"keyspace": {}}})", str(r.keyspace));
    }
    std::string operator()(const PreparedResult& p) {
      return fmt::format(
          R"({{"id": {}, "result_metadata_id": {}, "bind_columns": {}, "pk_indexes": {}, )"
          R"("result": {{{}}}}})",
          str(to_hex(p.id)), str(to_hex(p.result_metadata_id)), columns(p.metadata.columns),
          list(p.metadata.pk_indexes, [](uint16_t i) { return std::to_string(i); }),
          rows_metadata(p.result_metadata));
    }
    std::string operator()(const SchemaChangeResult& r) {
      return fmt::format(R"({{"change": {}}})", schema_change(r.change));
    }
  };
  return fmt::format(R"({{"result_kind": {}, "body": {}}})", static_cast<int>(m.kind()),
                     std::visit(Visitor{}, m.result));
}

std::string event(const EventMessage& m) {
  struct Visitor {
    std::string operator()(const TopologyChangeEvent& e) {
      return fmt::format(
          R"({{"event_type": "TOPOLOGY_CHANGE", "change": {}, "address": {}, "port": {}}})",
          str(topology_change_type_name(e.change)), str(to_hex(e.address.address)), e.address.port);
    }
    std::string operator()(const StatusChangeEvent& e) {
      return fmt::format(
          R"({{"event_type": "STATUS_CHANGE", "change": {}, "address": {}, "port": {}}})",
          str(status_change_type_name(e.change)), str(to_hex(e.address.address)), e.address.port);
    }
    std::string operator()(const SchemaChangeEvent& e) {
      return fmt::format(R"({{"event_type": "SCHEMA_CHANGE", "change": {}}})",
                         schema_change(e.change));
    }
  };
  return std::visit(Visitor{}, m.event);
}

std::pair<std::string, std::string> kind_and_expected(const ResponseBody& body) {
  struct Visitor {
    std::pair<std::string, std::string> operator()(const ErrorMessage& e) {
      return {"error",
              fmt::format(R"({{"code": {}, "message": {}, "detail": {}}})",
                          static_cast<int32_t>(e.code), str(e.message), error_detail(e.detail))};
    }
    std::pair<std::string, std::string> operator()(const ReadyMessage&) { return {"ready", "{}"}; }
    std::pair<std::string, std::string> operator()(const AuthenticateMessage& m) {
      return {"authenticate", fmt::format(R"({{"authenticator": {}}})", str(m.authenticator))};
    }
    std::pair<std::string, std::string> operator()(const SupportedMessage& m) {
      std::string options = "{";
      for (size_t i = 0; i < m.options.size(); ++i) {
        if (i > 0) options += ", ";
        options += str(m.options[i].first) + ": " + strings(m.options[i].second);
      }
      return {"supported", fmt::format(R"({{"options": {}}}}})", options)};
    }
    std::pair<std::string, std::string> operator()(const ResultMessage& m) {
      return {"result", result(m)};
    }
    std::pair<std::string, std::string> operator()(const EventMessage& m) {
      return {"event", event(m)};
    }
    std::pair<std::string, std::string> operator()(const AuthChallengeMessage& m) {
      return {"auth_challenge", fmt::format(R"({{"token": {}}})", hex_or_null(m.token))};
    }
    std::pair<std::string, std::string> operator()(const AuthSuccessMessage& m) {
      return {"auth_success", fmt::format(R"({{"token": {}}})", hex_or_null(m.token))};
    }
  };
  return std::visit(Visitor{}, body);
}

std::string envelope(const Envelope& e) {
  std::string payload = "null";
  if (e.custom_payload) {
    payload = "{";
    for (size_t i = 0; i < e.custom_payload->size(); ++i) {
      if (i > 0) payload += ", ";
      payload +=
          str((*e.custom_payload)[i].first) + ": " + hex_or_null((*e.custom_payload)[i].second);
    }
    payload += "}";
  }
  return fmt::format(R"({{"tracing_id": {}, "warnings": {}, "custom_payload": {}}})",
                     e.tracing ? str(to_hex(e.tracing_id)) : "null",
                     e.warnings ? strings(*e.warnings) : "null", payload);
}

}  // namespace
}  // namespace zdm::protocol

int main() {
  using namespace zdm::protocol;
  std::string out = "[\n";
  bool first = true;
  for (ProtocolVersion v : samples::all_versions()) {
    for (const auto& sample : samples::responses(v)) {
      const Message& m = sample.message;
      if (auto valid = validate_for_version(m); !valid) {
        std::fprintf(stderr, "%s: %s\n", sample.name.c_str(), valid.error().to_string().c_str());
        return 1;
      }
      zdm::Bytes frame = encode_frame(m);
      auto [kind, expected] = kind_and_expected(std::get<ResponseBody>(m.body));
      if (!first) out += ",\n";
      first = false;
      out += fmt::format(
          R"( {{"name": {}, "version": {}, "stream": {}, "opcode": {}, "flags": {}, "frame": {}, )"
          R"("envelope": {}, "kind": {}, "expected": {}}})",
          str(sample.name), version_byte(v), m.stream.value, static_cast<int>(m.opcode()),
          envelope_flags(m), str(zdm::to_hex(frame)), envelope(m.envelope), str(kind), expected);
    }
  }
  out += "\n]\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}
