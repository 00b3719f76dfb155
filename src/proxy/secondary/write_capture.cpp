#include "proxy/secondary/write_capture.hpp"

#include <variant>

#include "protocol/cql_lexer.hpp"
#include "protocol/message_codec.hpp"
#include "protocol/messages.hpp"

namespace zdm::proxy {

using protocol::CqlLexer;
using protocol::CqlToken;
using protocol::CqlTokenKind;

std::string_view async_write_check_name(AsyncWriteCheck check) {
  switch (check) {
    case AsyncWriteCheck::Eligible:
      return "eligible";
    case AsyncWriteCheck::NotAWrite:
      return "not an INSERT, UPDATE, DELETE or BATCH";
    case AsyncWriteCheck::Conditional:
      return "a conditional write (IF ...)";
    case AsyncWriteCheck::ReadsCurrentValue:
      return "counter or collection arithmetic (c = c + ...)";
    case AsyncWriteCheck::CounterBatch:
      return "a COUNTER batch";
    case AsyncWriteCheck::NamedValues:
      return "values bound by name";
    case AsyncWriteCheck::UnknownStatement:
      return "a prepared statement the proxy does not know";
    case AsyncWriteCheck::CustomPayload:
      return "a custom payload without a client timestamp";
    case AsyncWriteCheck::Malformed:
      return "a body that does not decode";
  }
  return "?";
}

AsyncWriteCheck check_async_statement(std::string_view cql) {
  CqlLexer lexer(cql);
  CqlToken token = lexer.next();
  if (token.is_keyword("BEGIN")) {
    // BEGIN [UNLOGGED | LOGGED | COUNTER] BATCH ...
    token = lexer.next();
    if (token.is_keyword("COUNTER")) return AsyncWriteCheck::CounterBatch;
  } else if (!token.is_keyword("INSERT") && !token.is_keyword("UPDATE") &&
             !token.is_keyword("DELETE")) {
    return AsyncWriteCheck::NotAWrite;
  }
  bool in_set = false;  // between SET and WHERE of an UPDATE
  for (; !token.is(CqlTokenKind::End); token = lexer.next()) {
    if (token.is(CqlTokenKind::Error)) return AsyncWriteCheck::Malformed;
    if (token.is_keyword("IF")) return AsyncWriteCheck::Conditional;
    if (token.is_keyword("SET")) {
      in_set = true;
    } else if (token.is_keyword("WHERE") || token.is_keyword("UPDATE") ||
               token.is_keyword("INSERT") || token.is_keyword("DELETE") ||
               token.is_keyword("APPLY")) {
      in_set = false;
    } else if (in_set && (token.is_symbol("+") || token.is_symbol("-"))) {
      return AsyncWriteCheck::ReadsCurrentValue;
    }
  }
  return AsyncWriteCheck::Eligible;
}

namespace {

journal::RecordStatement statement_of(std::string query, bool prepared, ByteView id,
                                      std::vector<protocol::BoundValue> values) {
  journal::RecordStatement s;
  s.query = std::move(query);
  s.prepared = prepared;
  s.prepared_id.assign(id.begin(), id.end());
  s.values = std::move(values);
  return s;
}

CaptureResult refuse(AsyncWriteCheck check) { return CaptureResult{std::nullopt, check}; }

// Fills the record from a QUERY or EXECUTE; the statement text's check decides.
AsyncWriteCheck capture_single(const protocol::QueryParameters& p, std::string query, bool prepared,
                               ByteView id, journal::WriteRecord& record) {
  const AsyncWriteCheck check = check_async_statement(query);
  if (check != AsyncWriteCheck::Eligible) return check;
  if (p.named_values) return AsyncWriteCheck::NamedValues;
  record.consistency = p.consistency;
  record.serial_consistency = p.serial_consistency;
  record.statements.push_back(statement_of(std::move(query), prepared, id,
                                           p.values.value_or(std::vector<protocol::BoundValue>{})));
  return AsyncWriteCheck::Eligible;
}

}  // namespace

CaptureResult capture_write(const CaptureInput& in) {
  const protocol::FrameHeader& h = *in.header;
  auto message = protocol::decode_message(h, in.body);
  if (!message) return refuse(AsyncWriteCheck::Malformed);
  auto* request = std::get_if<protocol::RequestBody>(&message->body);
  if (!request) return refuse(AsyncWriteCheck::Malformed);

  CapturedWrite out;
  journal::WriteRecord& record = out.record;
  record.cluster = std::string(cluster_type_name(in.secondary));
  record.keyspace = std::string(in.keyspace);
  record.created_ms = in.now_ms;
  std::optional<int64_t>* timestamp = nullptr;  // where the request carries its timestamp

  if (auto* q = std::get_if<protocol::QueryMessage>(request)) {
    record.kind = journal::RecordKind::Query;
    if (q->parameters.keyspace) record.keyspace = *q->parameters.keyspace;
    auto check = capture_single(q->parameters, q->query, false, {}, record);
    if (check != AsyncWriteCheck::Eligible) return refuse(check);
    timestamp = &q->parameters.default_timestamp;
  } else if (auto* e = std::get_if<protocol::ExecuteMessage>(request)) {
    record.kind = journal::RecordKind::Execute;
    auto entry = in.prepared ? in.prepared->find(e->id) : nullptr;
    if (!entry) return refuse(AsyncWriteCheck::UnknownStatement);
    // The statement resolves its unqualified names in the keyspace it was prepared in.
    record.keyspace = entry->keyspace;
    auto check = capture_single(e->parameters, entry->query, true, e->id, record);
    if (check != AsyncWriteCheck::Eligible) return refuse(check);
    timestamp = &e->parameters.default_timestamp;
  } else if (auto* b = std::get_if<protocol::BatchMessage>(request)) {
    record.kind = journal::RecordKind::Batch;
    if (b->type == protocol::BatchType::Counter) return refuse(AsyncWriteCheck::CounterBatch);
    if (b->keyspace) record.keyspace = *b->keyspace;
    record.batch_type = b->type;
    record.consistency = b->consistency;
    record.serial_consistency = b->serial_consistency;
    for (auto& child : b->statements) {
      std::string query;
      const bool prepared = child.kind == protocol::BatchStatement::Kind::Prepared;
      if (prepared) {
        auto entry = in.prepared ? in.prepared->find(child.id) : nullptr;
        if (!entry) return refuse(AsyncWriteCheck::UnknownStatement);
        query = entry->query;
        // A batch runs in one keyspace: a child prepared in another keeps the synchronous path.
        if (!entry->keyspace.empty() && entry->keyspace != record.keyspace) {
          if (!record.keyspace.empty()) return refuse(AsyncWriteCheck::UnknownStatement);
          record.keyspace = entry->keyspace;
        }
      } else {
        query = child.query;  // copied: the message may be encoded again below
      }
      const AsyncWriteCheck check = check_async_statement(query);
      if (check != AsyncWriteCheck::Eligible) return refuse(check);
      record.statements.push_back(statement_of(std::move(query), prepared, child.id, child.values));
    }
    timestamp = &b->default_timestamp;
  } else {
    return refuse(AsyncWriteCheck::NotAWrite);
  }

  if (*timestamp) {
    record.timestamp = **timestamp;
    return CaptureResult{std::move(out), AsyncWriteCheck::Eligible};
  }
  // No client timestamp: the proxy sets one, in the body the primary gets too.
  if (h.flags & protocol::frame_flags::kCustomPayload)
    return refuse(AsyncWriteCheck::CustomPayload);
  record.timestamp = in.now_us;
  *timestamp = in.now_us;
  Bytes body;
  ByteWriter w(body);
  protocol::codec::encode_request(*request, h.version, w);
  out.body_with_timestamp = std::move(body);
  return CaptureResult{std::move(out), AsyncWriteCheck::Eligible};
}

}  // namespace zdm::proxy
