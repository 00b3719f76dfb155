// describe(): short human summaries of messages for the debugging CLI and logs.
#include <fmt/format.h>

#include "protocol/cql_type.hpp"
#include "protocol/message_codec.hpp"

namespace zdm::protocol {

namespace {

constexpr size_t kMaxQueryChars = 120;

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, std::min(text.size(), kMaxQueryChars))) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == '"') out += '\\';
    out += c;
  }
  if (text.size() > kMaxQueryChars) out += "...";
  out += '"';
  return out;
}

std::string short_hex(ByteView bytes) {
  constexpr size_t kMax = 16;
  std::string out = to_hex(bytes.subspan(0, std::min(bytes.size(), kMax)));
  if (bytes.size() > kMax) out += "...";
  return out;
}

std::string columns_text(const std::vector<ColumnSpec>& columns) {
  std::string out = "[";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ", ";
    out += columns[i].name + " " + format_cql_type(columns[i].type);
  }
  return out + "]";
}

std::string inet_text(const Inet& inet) {
  std::string addr;
  if (inet.address.size() == 4) {
    addr = fmt::format("{}.{}.{}.{}", inet.address[0], inet.address[1], inet.address[2],
                       inet.address[3]);
  } else {
    addr = "[" + to_hex(inet.address) + "]";
  }
  return fmt::format("{}:{}", addr, inet.port);
}

std::string parameters_text(const QueryParameters& p) {
  std::string out = fmt::format(" consistency={}", consistency_name(p.consistency));
  if (p.page_size) out += fmt::format(" page_size={}", *p.page_size);
  if (p.page_size_in_bytes) out += " page_size_in_bytes";
  if (p.values)
    out += fmt::format(" values={}{}", p.values->size(), p.named_values ? " named" : "");
  if (p.skip_metadata) out += " skip_metadata";
  if (p.paging_state) out += fmt::format(" paging_state={}", short_hex(*p.paging_state));
  if (p.serial_consistency)
    out += fmt::format(" serial={}", consistency_name(*p.serial_consistency));
  if (p.default_timestamp) out += fmt::format(" timestamp={}", *p.default_timestamp);
  if (p.keyspace) out += fmt::format(" keyspace={}", *p.keyspace);
  if (p.now_in_seconds) out += fmt::format(" now_in_seconds={}", *p.now_in_seconds);
  if (p.continuous_paging) {
    out += fmt::format(" continuous_paging(max_pages={} pages_per_second={}",
                       p.continuous_paging->max_pages, p.continuous_paging->max_pages_per_second);
    if (p.continuous_paging->next_pages) {
      out += fmt::format(" next_pages={}", *p.continuous_paging->next_pages);
    }
    out += ")";
  }
  return out;
}

std::string schema_change_text(const SchemaChange& c) {
  std::string out = fmt::format("{} {} {}", schema_change_type_name(c.change),
                                schema_change_target_name(c.target), c.keyspace);
  if (c.target != SchemaChangeTarget::Keyspace) out += "." + c.name;
  if (c.target == SchemaChangeTarget::Function || c.target == SchemaChangeTarget::Aggregate) {
    out += fmt::format("({})", fmt::join(c.argument_types, ", "));
  }
  return out;
}

std::string rows_metadata_text(const RowsMetadata& m) {
  std::string out = fmt::format("columns={}", m.column_count);
  if (!m.no_metadata) out += " " + columns_text(m.columns);
  if (m.no_metadata) out += " no_metadata";
  if (m.paging_state)
    out += fmt::format(" has_more_pages paging_state={}", short_hex(*m.paging_state));
  if (m.new_metadata_id) out += fmt::format(" new_metadata_id={}", short_hex(*m.new_metadata_id));
  if (m.continuous_page_number)
    out += fmt::format(" continuous_page={}", *m.continuous_page_number);
  if (m.last_continuous_page) out += " last_continuous_page";
  return out;
}

std::string error_detail_text(const ErrorDetail& detail) {
  struct Visitor {
    std::string operator()(std::monostate) { return ""; }
    std::string operator()(const UnavailableInfo& i) {
      return fmt::format(" consistency={} required={} alive={}", consistency_name(i.consistency),
                         i.required, i.alive);
    }
    std::string operator()(const WriteTimeoutInfo& i) {
      std::string out = fmt::format(" consistency={} received={} block_for={} write_type={}",
                                    consistency_name(i.consistency), i.received, i.block_for,
                                    write_type_name(i.write_type));
      if (i.contentions) out += fmt::format(" contentions={}", *i.contentions);
      return out;
    }
    std::string operator()(const ReadTimeoutInfo& i) {
      return fmt::format(" consistency={} received={} block_for={} data_present={}",
                         consistency_name(i.consistency), i.received, i.block_for, i.data_present);
    }
    std::string operator()(const ReadFailureInfo& i) {
      return fmt::format(" consistency={} received={} block_for={} failures={} data_present={}",
                         consistency_name(i.consistency), i.received, i.block_for, i.num_failures,
                         i.data_present);
    }
    std::string operator()(const FunctionFailureInfo& i) {
      return fmt::format(" function={}.{}({})", i.keyspace, i.function,
                         fmt::join(i.arg_types, ", "));
    }
    std::string operator()(const WriteFailureInfo& i) {
      return fmt::format(" consistency={} received={} block_for={} failures={} write_type={}",
                         consistency_name(i.consistency), i.received, i.block_for, i.num_failures,
                         write_type_name(i.write_type));
    }
    std::string operator()(const AlreadyExistsInfo& i) {
      return fmt::format(" keyspace={} table={}", i.keyspace, i.table);
    }
    std::string operator()(const UnpreparedInfo& i) {
      return fmt::format(" id={}", short_hex(i.id));
    }
    std::string operator()(const CasWriteUnknownInfo& i) {
      return fmt::format(" consistency={} received={} block_for={}",
                         consistency_name(i.consistency), i.received, i.block_for);
    }
  };
  return std::visit(Visitor{}, detail);
}

std::string token_text(const std::optional<Bytes>& token) {
  return token ? fmt::format(" token={} bytes", token->size()) : " token=null";
}

struct Describer {
  std::string operator()(const StartupMessage& m) {
    std::string out = "STARTUP";
    for (const auto& [k, v] : m.options) out += fmt::format(" {}={}", k, v);
    return out;
  }
  std::string operator()(const OptionsMessage&) { return "OPTIONS"; }
  std::string operator()(const QueryMessage& m) {
    return "QUERY " + quoted(m.query) + parameters_text(m.parameters);
  }
  std::string operator()(const PrepareMessage& m) {
    std::string out = "PREPARE " + quoted(m.query);
    if (m.keyspace) out += " keyspace=" + *m.keyspace;
    return out;
  }
  std::string operator()(const ExecuteMessage& m) {
    std::string out = "EXECUTE id=" + short_hex(m.id);
    if (!m.result_metadata_id.empty())
      out += " result_metadata_id=" + short_hex(m.result_metadata_id);
    return out + parameters_text(m.parameters);
  }
  std::string operator()(const BatchMessage& m) {
    size_t prepared = 0;
    for (const auto& s : m.statements) prepared += s.kind == BatchStatement::Kind::Prepared;
    std::string out =
        fmt::format("BATCH {} statements={} (prepared={}) consistency={}", batch_type_name(m.type),
                    m.statements.size(), prepared, consistency_name(m.consistency));
    if (m.serial_consistency)
      out += fmt::format(" serial={}", consistency_name(*m.serial_consistency));
    if (m.default_timestamp) out += fmt::format(" timestamp={}", *m.default_timestamp);
    if (m.keyspace) out += " keyspace=" + *m.keyspace;
    if (m.now_in_seconds) out += fmt::format(" now_in_seconds={}", *m.now_in_seconds);
    if (!m.statements.empty() && m.statements[0].kind == BatchStatement::Kind::Query) {
      out += "\n  first: " + quoted(m.statements[0].query);
    }
    return out;
  }
  std::string operator()(const RegisterMessage& m) {
    return fmt::format("REGISTER {}", fmt::join(m.event_types, ","));
  }
  std::string operator()(const AuthResponseMessage& m) {
    return "AUTH_RESPONSE" + token_text(m.token);
  }
  std::string operator()(const ReviseRequestMessage& m) {
    std::string out =
        fmt::format("REVISE_REQUEST {} target_stream={}",
                    m.revision == RevisionType::CancelContinuousPaging ? "CANCEL_CONTINUOUS_PAGING"
                                                                       : "MORE_CONTINUOUS_PAGES",
                    m.target_stream);
    if (m.next_pages) out += fmt::format(" next_pages={}", *m.next_pages);
    return out;
  }

  std::string operator()(const ErrorMessage& m) {
    return fmt::format("ERROR {} (0x{:04x}) {}{}", error_code_name(m.code),
                       static_cast<int32_t>(m.code), quoted(m.message),
                       error_detail_text(m.detail));
  }
  std::string operator()(const ReadyMessage&) { return "READY"; }
  std::string operator()(const AuthenticateMessage& m) { return "AUTHENTICATE " + m.authenticator; }
  std::string operator()(const SupportedMessage& m) {
    std::string out = "SUPPORTED";
    for (const auto& [k, v] : m.options) out += fmt::format(" {}=[{}]", k, fmt::join(v, ","));
    return out;
  }
  std::string operator()(const ResultMessage& m) {
    struct Result {
      std::string operator()(const VoidResult&) { return "RESULT VOID"; }
      std::string operator()(const RowsResult& r) {
        return fmt::format("RESULT ROWS rows={} {}", r.rows.size(), rows_metadata_text(r.metadata));
      }
      std::string operator()(const SetKeyspaceResult& r) {
        return "RESULT SET_KEYSPACE " + r.keyspace;
      }
      std::string operator()(const PreparedResult& r) {
        std::string out = "RESULT PREPARED id=" + short_hex(r.id);
        if (!r.result_metadata_id.empty()) {
          out += " result_metadata_id=" + short_hex(r.result_metadata_id);
        }
        out += fmt::format(" bind_markers={} {}", r.metadata.columns.size(),
                           columns_text(r.metadata.columns));
        if (!r.metadata.pk_indexes.empty()) {
          out += fmt::format(" pk_indexes=[{}]", fmt::join(r.metadata.pk_indexes, ","));
        }
        return out + "\n  result " + rows_metadata_text(r.result_metadata);
      }
      std::string operator()(const SchemaChangeResult& r) {
        return "RESULT SCHEMA_CHANGE " + schema_change_text(r.change);
      }
    };
    return std::visit(Result{}, m.result);
  }
  std::string operator()(const EventMessage& m) {
    struct Event {
      std::string operator()(const TopologyChangeEvent& e) {
        return fmt::format("EVENT TOPOLOGY_CHANGE {} {}", topology_change_type_name(e.change),
                           inet_text(e.address));
      }
      std::string operator()(const StatusChangeEvent& e) {
        return fmt::format("EVENT STATUS_CHANGE {} {}", status_change_type_name(e.change),
                           inet_text(e.address));
      }
      std::string operator()(const SchemaChangeEvent& e) {
        return "EVENT SCHEMA_CHANGE " + schema_change_text(e.change);
      }
    };
    return std::visit(Event{}, m.event);
  }
  std::string operator()(const AuthChallengeMessage& m) {
    return "AUTH_CHALLENGE" + token_text(m.token);
  }
  std::string operator()(const AuthSuccessMessage& m) {
    return "AUTH_SUCCESS" + token_text(m.token);
  }
};

}  // namespace

std::string describe(const Message& m) {
  std::string out;
  if (const auto* request = std::get_if<RequestBody>(&m.body)) {
    out = std::visit(Describer{}, *request);
  } else {
    out = std::visit(Describer{}, std::get<ResponseBody>(m.body));
  }
  if (m.envelope.tracing) {
    out += m.direction() == Direction::Response ? " tracing_id=" + to_hex(m.envelope.tracing_id)
                                                : std::string(" tracing");
  }
  if (m.envelope.custom_payload) {
    out += fmt::format(" custom_payload={}", m.envelope.custom_payload->size());
  }
  if (m.envelope.warnings) {
    out += fmt::format(" warnings={}", m.envelope.warnings->size());
    for (const auto& w : *m.envelope.warnings) out += "\n  warning: " + w;
  }
  return out;
}

}  // namespace zdm::protocol
