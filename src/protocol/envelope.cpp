// The envelope around a message ([<tracing_id>][<warnings>][<custom_payload>]), the entry points
// decode_message / encode_message / encode_frame, and validate_for_version.
#include "protocol/message_codec.hpp"

namespace zdm::protocol {

namespace {

// Header flags each version defines (compression, tracing; custom payload and warning from v4;
// beta from v5).
uint8_t allowed_frame_flags(ProtocolVersion v) {
  if (v == ProtocolVersion::V3) return frame_flags::kCompression | frame_flags::kTracing;
  uint8_t allowed = frame_flags::kCompression | frame_flags::kTracing |
                    frame_flags::kCustomPayload | frame_flags::kWarning;
  if (version_byte(v) >= 5) allowed |= frame_flags::kUseBeta;
  return allowed;
}

bool is_request_opcode(Opcode op) {
  switch (op) {
    case Opcode::Startup:
    case Opcode::Options:
    case Opcode::Query:
    case Opcode::Prepare:
    case Opcode::Execute:
    case Opcode::Batch:
    case Opcode::Register:
    case Opcode::AuthResponse:
    case Opcode::DseRevise:
      return true;
    default:
      return false;
  }
}

Result<CustomPayload> read_custom_payload(ByteReader& r) {
  ZDM_TRY(auto map, r.read_bytes_map());
  CustomPayload payload;
  payload.reserve(map.size());
  for (const auto& [key, value] : map) {
    payload.emplace_back(
        std::string(key),
        value ? std::optional<Bytes>(Bytes(value->begin(), value->end())) : std::nullopt);
  }
  return payload;
}

Result<Message> decode_body(const FrameHeader& header, ByteReader& r) {
  const ProtocolVersion v = header.version;
  const bool response = header.direction == Direction::Response;
  ZDM_CHECK(codec::check_flags(header.flags, allowed_frame_flags(v), "frame header", v));
  if (is_request_opcode(header.opcode) == response) {
    return fail(Errc::Malformed,
                fmt::format("opcode {} cannot travel in a {} frame", opcode_name(header.opcode),
                            response ? "response" : "request"));
  }
  Message m;
  m.version = v;
  m.stream = header.stream;
  m.envelope.tracing = header.has_flag(frame_flags::kTracing);
  m.envelope.use_beta = header.has_flag(frame_flags::kUseBeta);
  if (m.envelope.tracing && response) {
    ZDM_TRY(m.envelope.tracing_id, r.read_uuid());
  }
  if (header.has_flag(frame_flags::kWarning)) {
    if (!response) return fail(Errc::Malformed, "warning flag is set on a request");
    ZDM_TRY(m.envelope.warnings, codec::read_owned_string_list(r));
  }
  if (header.has_flag(frame_flags::kCustomPayload)) {
    ZDM_TRY(m.envelope.custom_payload, read_custom_payload(r));
  }
  if (response) {
    ZDM_TRY(ResponseBody body, codec::decode_response(header.opcode, r, v));
    m.body = std::move(body);
  } else {
    ZDM_TRY(RequestBody body, codec::decode_request(header.opcode, r, v));
    m.body = std::move(body);
  }
  if (!r.empty()) {
    return fail(Errc::Malformed, fmt::format("{} trailing bytes after the message", r.remaining()));
  }
  return m;
}

bool writes_tracing_id(const Message& m) {
  return m.envelope.tracing && m.direction() == Direction::Response;
}
bool writes_warnings(const Message& m) {
  return m.envelope.warnings && m.direction() == Direction::Response &&
         m.version != ProtocolVersion::V3;
}
bool writes_custom_payload(const Message& m) {
  return m.envelope.custom_payload && m.version != ProtocolVersion::V3;
}

}  // namespace

Opcode Message::opcode() const {
  if (const auto* request = std::get_if<RequestBody>(&body)) return codec::request_opcode(*request);
  return codec::response_opcode(std::get<ResponseBody>(body));
}

Message make_request(ProtocolVersion version, StreamId stream, RequestBody body) {
  Message m;
  m.version = version;
  m.stream = stream;
  m.body = std::move(body);
  return m;
}

Message make_response(ProtocolVersion version, StreamId stream, ResponseBody body) {
  Message m;
  m.version = version;
  m.stream = stream;
  m.body = std::move(body);
  return m;
}

Result<Message> decode_message(const FrameHeader& header, ByteView body) {
  ByteReader r(body);
  auto m = decode_body(header, r);
  if (!m) {
    // Say which message, which version and where, whatever the inner error was.
    return fail(m.error().code,
                fmt::format("{} {} ({}) at body offset {} of {}: {}", opcode_name(header.opcode),
                            header.direction == Direction::Response ? "response" : "request",
                            protocol_version_name(header.version), r.position(), body.size(),
                            m.error().message));
  }
  return m;
}

uint8_t envelope_flags(const Message& m) {
  uint8_t flags = 0;
  if (m.envelope.tracing) flags |= frame_flags::kTracing;
  if (writes_warnings(m)) flags |= frame_flags::kWarning;
  if (writes_custom_payload(m)) flags |= frame_flags::kCustomPayload;
  if (m.envelope.use_beta && version_byte(m.version) >= 5) flags |= frame_flags::kUseBeta;
  return flags;
}

void encode_message_to(const Message& m, Bytes& out) {
  ByteWriter w(out);
  if (writes_tracing_id(m)) w.write_uuid(m.envelope.tracing_id);
  if (writes_warnings(m)) codec::write_string_list(w, *m.envelope.warnings);
  if (writes_custom_payload(m)) w.write_bytes_map(*m.envelope.custom_payload);
  if (const auto* request = std::get_if<RequestBody>(&m.body)) {
    codec::encode_request(*request, m.version, w);
  } else {
    codec::encode_response(std::get<ResponseBody>(m.body), m.version, w);
  }
}

Bytes encode_message(const Message& m) {
  Bytes out;
  encode_message_to(m, out);
  return out;
}

Bytes encode_frame(const Message& m) {
  Bytes out(kFrameHeaderSize);
  encode_message_to(m, out);
  FrameHeader h;
  h.version = m.version;
  h.direction = m.direction();
  h.flags = envelope_flags(m);
  h.stream = m.stream;
  h.opcode = m.opcode();
  h.body_length = static_cast<uint32_t>(out.size() - kFrameHeaderSize);
  encode_frame_header(h, out.data());
  return out;
}

}  // namespace zdm::protocol
