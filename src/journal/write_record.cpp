#include "journal/write_record.hpp"

#include <fmt/format.h>

namespace zdm::journal {

namespace {

constexpr uint16_t kNoSerial = 0xFFFF;
constexpr size_t kDescribeQueryChars = 120;

// Bound on counts read from a payload: each statement or value takes at least 4 bytes, so a
// count larger than the bytes left is malformed (and never allocates).
Result<uint32_t> read_count(ByteReader& in, const char* what, size_t min_item_bytes) {
  ZDM_TRY(uint32_t n, in.read_u32());
  if (static_cast<uint64_t>(n) * min_item_bytes > in.remaining()) {
    return fail(Errc::Malformed,
                fmt::format("{} count {} exceeds the {} bytes left", what, n, in.remaining()));
  }
  return n;
}

[[gnu::cold]] tl::unexpected<Error> in_context(const std::string& where, const Error& e) {
  return fail(e.code, where + ": " + e.message);
}

Result<RecordStatement> decode_statement(ByteReader& in) {
  RecordStatement s;
  ZDM_TRY(auto query, in.read_long_string());
  s.query.assign(query);
  ZDM_TRY(uint8_t flags, in.read_u8());
  if ((flags & ~uint8_t{1}) != 0) {
    return fail(Errc::Malformed, fmt::format("unknown statement flags 0x{:02x}", flags));
  }
  s.prepared = (flags & 1) != 0;
  ZDM_TRY(auto id, in.read_short_bytes());
  s.prepared_id.assign(id.begin(), id.end());
  ZDM_TRY(uint32_t count, read_count(in, "value", 4));
  s.values.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    auto v = in.read_value();
    if (!v) return in_context(fmt::format("value {}", i + 1), v.error());
    if (v->kind == ValueView::Kind::Set) {
      s.values.push_back(protocol::BoundValue::set(Bytes(v->bytes.begin(), v->bytes.end())));
    } else if (v->kind == ValueView::Kind::Null) {
      s.values.push_back(protocol::BoundValue::null());
    } else {
      s.values.push_back(protocol::BoundValue::unset());
    }
  }
  return s;
}

}  // namespace

std::string_view record_kind_name(RecordKind kind) {
  switch (kind) {
    case RecordKind::Query:
      return "QUERY";
    case RecordKind::Execute:
      return "EXECUTE";
    case RecordKind::Batch:
      return "BATCH";
  }
  return "UNKNOWN";
}

void encode_record_into(const WriteRecord& r, Bytes& out) {
  ByteWriter w(out);
  w.write_u8(kRecordFormatVersion);
  w.write_u8(static_cast<uint8_t>(r.kind));
  w.write_string(r.cluster);
  w.write_string(r.keyspace);
  w.write_u16(static_cast<uint16_t>(r.consistency));
  w.write_u16(r.serial_consistency ? static_cast<uint16_t>(*r.serial_consistency) : kNoSerial);
  w.write_i64(r.timestamp);
  w.write_u8(static_cast<uint8_t>(r.batch_type));
  w.write_i64(r.created_ms);
  w.write_long_string(r.reason);
  w.write_u32(static_cast<uint32_t>(r.statements.size()));
  for (const auto& s : r.statements) {
    w.write_long_string(s.query);
    w.write_u8(s.prepared ? 1 : 0);
    w.write_short_bytes(s.prepared_id);
    w.write_u32(static_cast<uint32_t>(s.values.size()));
    for (const auto& v : s.values) {
      switch (v.kind) {
        case ValueView::Kind::Set:
          w.write_value(ValueView::set(v.bytes));
          break;
        case ValueView::Kind::Null:
          w.write_value(ValueView::null());
          break;
        case ValueView::Kind::Unset:
          w.write_value(ValueView::unset());
          break;
      }
    }
  }
}

Bytes encode_record(const WriteRecord& r) {
  Bytes out;
  encode_record_into(r, out);
  return out;
}

Result<WriteRecord> decode_record(ByteView payload) {
  ByteReader in(payload);
  WriteRecord r;
  ZDM_TRY(uint8_t version, in.read_u8());
  if (version != kRecordFormatVersion) {
    return fail(Errc::Unsupported,
                fmt::format("record format version {} (this zdm reads version {})", version,
                            kRecordFormatVersion));
  }
  ZDM_TRY(uint8_t kind, in.read_u8());
  if (kind < 1 || kind > 3) return fail(Errc::Malformed, fmt::format("unknown kind {}", kind));
  r.kind = static_cast<RecordKind>(kind);
  ZDM_TRY(auto cluster, in.read_string());
  r.cluster.assign(cluster);
  ZDM_TRY(auto keyspace, in.read_string());
  r.keyspace.assign(keyspace);
  ZDM_TRY(uint16_t cl, in.read_u16());
  auto consistency = protocol::consistency_from_code(cl);
  if (!consistency) return fail(Errc::Malformed, fmt::format("unknown consistency {}", cl));
  r.consistency = *consistency;
  ZDM_TRY(uint16_t serial, in.read_u16());
  if (serial != kNoSerial) {
    auto sc = protocol::consistency_from_code(serial);
    if (!sc) return fail(Errc::Malformed, fmt::format("unknown serial consistency {}", serial));
    r.serial_consistency = *sc;
  }
  ZDM_TRY(r.timestamp, in.read_i64());
  ZDM_TRY(uint8_t batch_type, in.read_u8());
  if (batch_type > 2)
    return fail(Errc::Malformed, fmt::format("unknown batch type {}", batch_type));
  r.batch_type = static_cast<protocol::BatchType>(batch_type);
  ZDM_TRY(r.created_ms, in.read_i64());
  ZDM_TRY(auto reason, in.read_long_string());
  r.reason.assign(reason);
  ZDM_TRY(uint32_t count, read_count(in, "statement", 4));
  if (r.kind != RecordKind::Batch && count != 1) {
    return fail(Errc::Malformed, fmt::format("a {} record has {} statements (expected 1)",
                                             record_kind_name(r.kind), count));
  }
  r.statements.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    auto s = decode_statement(in);
    if (!s) return in_context(fmt::format("statement {}", i + 1), s.error());
    r.statements.push_back(std::move(*s));
  }
  if (!in.empty()) {
    return fail(Errc::Malformed, fmt::format("{} bytes after the record", in.remaining()));
  }
  return r;
}

std::string describe_record(const WriteRecord& r) {
  std::string query;
  size_t values = 0;
  for (const auto& s : r.statements) {
    if (!query.empty()) query += "; ";
    query += s.query;
    values += s.values.size();
  }
  for (char& c : query) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (query.size() > kDescribeQueryChars) {
    query.resize(kDescribeQueryChars);
    query += "...";
  }
  std::string kind(record_kind_name(r.kind));
  if (r.kind == RecordKind::Batch) {
    kind += fmt::format(" {} x{}", protocol::batch_type_name(r.batch_type), r.statements.size());
  } else if (!r.statements.empty() && r.statements[0].prepared) {
    kind += " prepared";
  }
  std::string line = fmt::format(
      "{} -> {} ks={} cl={} ts={} values={} created_ms={} \"{}\"", kind,
      r.cluster.empty() ? "?" : r.cluster, r.keyspace.empty() ? "-" : r.keyspace,
      protocol::consistency_name(r.consistency), r.timestamp, values, r.created_ms, query);
  if (!r.reason.empty()) line += fmt::format(" reason=\"{}\"", r.reason);
  return line;
}

}  // namespace zdm::journal
