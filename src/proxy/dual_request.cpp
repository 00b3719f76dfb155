#include "proxy/dual_request.hpp"

#include <fmt/format.h>

namespace zdm::proxy {

using protocol::ErrorCode;

JoinOutcome join_responses(bool origin_failed, bool target_failed, ClusterType primary,
                           JoinKind kind) {
  if (origin_failed && target_failed) return {ClusterType::Origin, FailedOn::Both};
  if (origin_failed) return {ClusterType::Origin, FailedOn::Origin};
  if (target_failed) return {ClusterType::Target, FailedOn::Target};
  if (kind == JoinKind::Prepare) return {ClusterType::Origin, FailedOn::None};
  return {primary, FailedOn::None};
}

Result<ResponsePeek> peek_response(const protocol::FrameHeader& header, ByteView body) {
  if (header.direction != protocol::Direction::Response) {
    return fail(Errc::InvalidArgument, "peek_response: not a response frame");
  }
  ByteReader r(body);
  if (header.has_flag(protocol::frame_flags::kTracing)) {
    if (auto ok = r.skip(16); !ok) return tl::unexpected(ok.error());
  }
  if (header.has_flag(protocol::frame_flags::kWarning)) {
    auto warnings = r.read_string_list();
    if (!warnings) return tl::unexpected(warnings.error());
  }
  if (header.has_flag(protocol::frame_flags::kCustomPayload)) {
    auto payload = r.read_bytes_map();
    if (!payload) return tl::unexpected(payload.error());
  }
  ResponsePeek peek;
  peek.opcode = header.opcode;
  peek.message = r.rest();
  if (header.opcode == protocol::Opcode::Error) {
    auto code = r.read_i32();
    if (!code) return tl::unexpected(code.error());
    // An unknown code is still a failure; ServerError stands in for it.
    peek.error = protocol::error_code_from_int(*code).value_or(ErrorCode::ServerError);
  } else if (header.opcode == protocol::Opcode::Result) {
    auto kind = r.read_i32();
    if (!kind) return tl::unexpected(kind.error());
    peek.result_kind = *kind;
  }
  return peek;
}

admin::NodeError node_error_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::ReadTimeout:
      return admin::NodeError::ReadTimeout;
    case ErrorCode::ReadFailure:
      return admin::NodeError::ReadFailure;
    case ErrorCode::WriteTimeout:
      return admin::NodeError::WriteTimeout;
    case ErrorCode::WriteFailure:
      return admin::NodeError::WriteFailure;
    case ErrorCode::Overloaded:
      return admin::NodeError::Overloaded;
    case ErrorCode::Unavailable:
      return admin::NodeError::Unavailable;
    case ErrorCode::Unprepared:
      return admin::NodeError::Unprepared;
    default:
      return admin::NodeError::Other;
  }
}

protocol::ErrorMessage make_timeout_error(TimeoutKind kind, uint16_t consistency,
                                          int64_t timeout_ms) {
  const auto cl = protocol::consistency_from_code(consistency).value_or(protocol::Consistency::One);
  protocol::ErrorMessage error;
  if (kind == TimeoutKind::Read) {
    error.code = ErrorCode::ReadTimeout;
    error.message = fmt::format(
        "Operation timed out in the proxy after {} ms - received only 0 responses.", timeout_ms);
    protocol::ReadTimeoutInfo info;
    info.consistency = cl;
    info.received = 0;
    info.block_for = 1;
    info.data_present = false;
    error.detail = info;
  } else {
    error.code = ErrorCode::WriteTimeout;
    error.message = fmt::format(
        "Operation timed out in the proxy after {} ms - received only 0 responses.", timeout_ms);
    protocol::WriteTimeoutInfo info;
    info.consistency = cl;
    info.received = 0;
    info.block_for = 1;
    info.write_type = kind == TimeoutKind::BatchWrite ? protocol::WriteType::Batch
                                                      : protocol::WriteType::Simple;
    error.detail = info;
  }
  return error;
}

}  // namespace zdm::proxy
