// validate_for_version: what a Message holds that its version cannot carry. The encoder never
// fails; it drops such fields. Callers that build messages by hand check here first.
#include "protocol/message_codec.hpp"

namespace zdm::protocol {

namespace {

struct Problems {
  ProtocolVersion v;
  std::vector<std::string> found;

  void add(std::string what) { found.push_back(std::move(what)); }
  void need(bool ok, std::string_view what) {
    if (!ok) add(std::string(what));
  }
};

void check_values(Problems& p, const std::vector<BoundValue>& values, std::string_view where) {
  if (supports_unset_values(p.v)) return;
  for (const auto& value : values) {
    if (value.kind == ValueView::Kind::Unset) {
      p.add(fmt::format("{} has an unset value, which needs v4+", where));
      return;
    }
  }
}

void check_parameters(Problems& p, const QueryParameters& q) {
  if (q.values) {
    check_values(p, *q.values, "query parameters");
    p.need(!q.named_values || q.value_names.size() == q.values->size(),
           "named values need one name per value");
  }
  p.need(!q.keyspace || uses_keyspace_flag(p.v), "per-query keyspace needs v5 or DSE_V2");
  p.need(!q.now_in_seconds || uses_now_in_seconds(p.v), "now_in_seconds needs v5");
  p.need(!q.page_size_in_bytes || uses_continuous_paging(p.v), "page size in bytes needs DSE");
  if (q.continuous_paging) {
    p.need(uses_continuous_paging(p.v), "continuous paging needs DSE_V1/DSE_V2");
    p.need(q.continuous_paging->next_pages.has_value() == (p.v == ProtocolVersion::DseV2),
           "continuous paging next_pages is present exactly in DSE_V2");
  }
}

void check_rows_metadata(Problems& p, const RowsMetadata& m) {
  p.need(!m.new_metadata_id || uses_prepared_metadata(p.v), "new metadata id needs v5 or DSE_V2");
  p.need(!m.new_metadata_id || !m.no_metadata, "new metadata id contradicts no_metadata");
  p.need((!m.continuous_page_number && !m.last_continuous_page) || uses_continuous_paging(p.v),
         "continuous paging fields need DSE_V1/DSE_V2");
  p.need(m.no_metadata || static_cast<size_t>(m.column_count) == m.columns.size(),
         "column_count differs from the number of column specs");
  p.need(m.column_count >= 0, "column_count is negative");
}

void check_schema_change(Problems& p, const SchemaChange& c) {
  p.need(p.v != ProtocolVersion::V3 || (c.target != SchemaChangeTarget::Function &&
                                        c.target != SchemaChangeTarget::Aggregate),
         "FUNCTION and AGGREGATE schema changes need v4+");
}

template <class Info>
bool detail_is(const ErrorDetail& d) {
  return std::holds_alternative<Info>(d);
}

void check_error(Problems& p, const ErrorMessage& m) {
  bool matches = true;
  switch (m.code) {
    case ErrorCode::Unavailable:
      matches = detail_is<UnavailableInfo>(m.detail);
      break;
    case ErrorCode::WriteTimeout: {
      matches = detail_is<WriteTimeoutInfo>(m.detail);
      if (matches) {
        const auto& info = std::get<WriteTimeoutInfo>(m.detail);
        p.need(info.contentions.has_value() ==
                   (p.v == ProtocolVersion::V5 && info.write_type == WriteType::Cas),
               "WRITE_TIMEOUT contentions are present exactly for CAS in v5");
      }
      break;
    }
    case ErrorCode::ReadTimeout:
      matches = detail_is<ReadTimeoutInfo>(m.detail);
      break;
    case ErrorCode::ReadFailure: {
      matches = detail_is<ReadFailureInfo>(m.detail);
      if (matches && !uses_error_code_map(p.v)) {
        p.need(std::get<ReadFailureInfo>(m.detail).reasons.empty(), "reason map needs v5");
      }
      break;
    }
    case ErrorCode::FunctionFailure:
      matches = detail_is<FunctionFailureInfo>(m.detail);
      break;
    case ErrorCode::WriteFailure: {
      matches = detail_is<WriteFailureInfo>(m.detail);
      if (matches && !uses_error_code_map(p.v)) {
        p.need(std::get<WriteFailureInfo>(m.detail).reasons.empty(), "reason map needs v5");
      }
      break;
    }
    case ErrorCode::AlreadyExists:
      matches = detail_is<AlreadyExistsInfo>(m.detail);
      break;
    case ErrorCode::Unprepared:
      matches = detail_is<UnpreparedInfo>(m.detail);
      break;
    case ErrorCode::CasWriteUnknown:
      matches = detail_is<CasWriteUnknownInfo>(m.detail);
      break;
    default:
      matches = detail_is<std::monostate>(m.detail);
      break;
  }
  if (!matches) p.add(fmt::format("ERROR detail does not match code {}", error_code_name(m.code)));
}

struct BodyChecker {
  Problems& p;

  void operator()(const StartupMessage&) {}
  void operator()(const OptionsMessage&) {}
  void operator()(const QueryMessage& m) { check_parameters(p, m.parameters); }
  void operator()(const PrepareMessage& m) {
    p.need(!m.keyspace || uses_keyspace_flag(p.v), "PREPARE keyspace needs v5 or DSE_V2");
  }
  void operator()(const ExecuteMessage& m) { check_parameters(p, m.parameters); }
  void operator()(const BatchMessage& m) {
    for (const auto& s : m.statements) check_values(p, s.values, "BATCH statement");
    p.need(!m.keyspace || uses_keyspace_flag(p.v), "BATCH keyspace needs v5 or DSE_V2");
    p.need(!m.now_in_seconds || uses_now_in_seconds(p.v), "BATCH now_in_seconds needs v5");
  }
  void operator()(const RegisterMessage&) {}
  void operator()(const AuthResponseMessage&) {}
  void operator()(const ReviseRequestMessage& m) {
    p.need(uses_continuous_paging(p.v), "REVISE_REQUEST needs DSE_V1/DSE_V2");
    const bool more = m.revision == RevisionType::MoreContinuousPages;
    p.need(!more || p.v == ProtocolVersion::DseV2, "REVISE_REQUEST for more pages needs DSE_V2");
    p.need(m.next_pages.has_value() == more, "next_pages is present exactly for more pages");
  }

  void operator()(const ErrorMessage& m) { check_error(p, m); }
  void operator()(const ReadyMessage&) {}
  void operator()(const AuthenticateMessage&) {}
  void operator()(const SupportedMessage&) {}
  void operator()(const ResultMessage& m) {
    if (const auto* rows = std::get_if<RowsResult>(&m.result)) {
      check_rows_metadata(p, rows->metadata);
      for (const auto& row : rows->rows) {
        if (static_cast<int64_t>(row.size()) != rows->metadata.column_count) {
          p.add("a row's cell count differs from column_count");
          break;
        }
      }
    } else if (const auto* prepared = std::get_if<PreparedResult>(&m.result)) {
      check_rows_metadata(p, prepared->result_metadata);
      p.need(version_byte(p.v) >= 4 || prepared->metadata.pk_indexes.empty(),
             "pk indexes need v4+");
    } else if (const auto* change = std::get_if<SchemaChangeResult>(&m.result)) {
      check_schema_change(p, change->change);
    }
  }
  void operator()(const EventMessage& m) {
    if (const auto* topology = std::get_if<TopologyChangeEvent>(&m.event)) {
      p.need(topology->change != TopologyChangeType::MovedNode || p.v == ProtocolVersion::V3,
             "MOVED_NODE exists only in v3");
    } else if (const auto* schema = std::get_if<SchemaChangeEvent>(&m.event)) {
      check_schema_change(p, schema->change);
    }
  }
  void operator()(const AuthChallengeMessage&) {}
  void operator()(const AuthSuccessMessage&) {}
};

}  // namespace

Result<void> validate_for_version(const Message& m) {
  Problems p{m.version, {}};
  const bool request = m.direction() == Direction::Request;
  p.need(!m.envelope.warnings || (!request && m.version != ProtocolVersion::V3),
         "warnings need a v4+ response");
  p.need(!m.envelope.custom_payload || m.version != ProtocolVersion::V3,
         "custom payload needs v4+");
  if (const auto* body = std::get_if<RequestBody>(&m.body)) {
    std::visit(BodyChecker{p}, *body);
  } else {
    std::visit(BodyChecker{p}, std::get<ResponseBody>(m.body));
  }
  if (p.found.empty()) return {};
  return fail(Errc::InvalidArgument,
              fmt::format("{} in {} cannot be encoded as given: {}", opcode_name(m.opcode()),
                          protocol_version_name(m.version), fmt::join(p.found, "; ")));
}

}  // namespace zdm::protocol
