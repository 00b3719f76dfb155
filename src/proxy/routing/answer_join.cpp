#include "proxy/routing/answer_join.hpp"

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

JoinResult join_answers(const JoinInput& in) {
  JoinResult out;
  const bool origin_failed = in.origin && in.origin->failed;
  const bool target_failed = in.target && in.target->failed;
  if (in.origin && in.target) {
    const auto outcome = join_responses(origin_failed, target_failed, in.primary, in.kind);
    out.pick = outcome.pick;
    out.failed_on = outcome.failed_on;
    if (in.kind == JoinKind::Prepare && outcome.failed_on == FailedOn::None) {
      out.record_prepared = true;
      out.hide_function_markers = in.functions_replaced;
    }
  } else {
    out.pick = in.origin ? ClusterType::Origin : ClusterType::Target;
    if (origin_failed) out.failed_on = FailedOn::Origin;
    if (target_failed) out.failed_on = FailedOn::Target;
  }
  out.unprepared_with_origin_id =
      out.pick == ClusterType::Target && in.target && in.target->unprepared();
  const bool target_only = in.target && in.target->unprepared() && !origin_failed;
  const bool origin_only = in.origin && in.origin->unprepared() && !target_failed;
  out.keep_function_values = target_only || origin_only;
  return out;
}

std::optional<std::string_view> keyspace_set_by(const ResponsePeek& peek) {
  if (peek.failed() || !peek.is(protocol::ResultKind::SetKeyspace)) return std::nullopt;
  ByteReader r(peek.message);
  if (!r.read_i32()) return std::nullopt;
  auto ks = r.read_string();
  if (!ks) return std::nullopt;
  return *ks;
}

NodeError node_error_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::ReadTimeout:
      return NodeError::ReadTimeout;
    case ErrorCode::ReadFailure:
      return NodeError::ReadFailure;
    case ErrorCode::WriteTimeout:
      return NodeError::WriteTimeout;
    case ErrorCode::WriteFailure:
      return NodeError::WriteFailure;
    case ErrorCode::Overloaded:
      return NodeError::Overloaded;
    case ErrorCode::Unavailable:
      return NodeError::Unavailable;
    case ErrorCode::Unprepared:
      return NodeError::Unprepared;
    default:
      return NodeError::Other;
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
    info.write_type =
        kind == TimeoutKind::BatchWrite ? protocol::WriteType::Batch : protocol::WriteType::Simple;
    error.detail = info;
  }
  return error;
}

}  // namespace zdm::proxy
