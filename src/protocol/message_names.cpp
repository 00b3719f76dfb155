// Wire names of the message-layer enumerations.
#include <array>

#include "protocol/messages.hpp"

namespace zdm::protocol {

namespace {

template <class E, size_t N>
std::optional<E> find_by_name(const std::array<std::pair<E, std::string_view>, N>& table,
                              std::string_view name) {
  for (const auto& [value, text] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

template <class E, size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, text] : table) {
    if (v == value) return text;
  }
  return "UNKNOWN";
}

constexpr std::array<std::pair<Consistency, std::string_view>, 11> kConsistencies{{
    {Consistency::Any, "ANY"},
    {Consistency::One, "ONE"},
    {Consistency::Two, "TWO"},
    {Consistency::Three, "THREE"},
    {Consistency::Quorum, "QUORUM"},
    {Consistency::All, "ALL"},
    {Consistency::LocalQuorum, "LOCAL_QUORUM"},
    {Consistency::EachQuorum, "EACH_QUORUM"},
    {Consistency::Serial, "SERIAL"},
    {Consistency::LocalSerial, "LOCAL_SERIAL"},
    {Consistency::LocalOne, "LOCAL_ONE"},
}};

constexpr std::array<std::pair<ErrorCode, std::string_view>, 21> kErrorCodes{{
    {ErrorCode::ServerError, "SERVER_ERROR"},
    {ErrorCode::ProtocolError, "PROTOCOL_ERROR"},
    {ErrorCode::BadCredentials, "BAD_CREDENTIALS"},
    {ErrorCode::Unavailable, "UNAVAILABLE"},
    {ErrorCode::Overloaded, "OVERLOADED"},
    {ErrorCode::IsBootstrapping, "IS_BOOTSTRAPPING"},
    {ErrorCode::TruncateError, "TRUNCATE_ERROR"},
    {ErrorCode::WriteTimeout, "WRITE_TIMEOUT"},
    {ErrorCode::ReadTimeout, "READ_TIMEOUT"},
    {ErrorCode::ReadFailure, "READ_FAILURE"},
    {ErrorCode::FunctionFailure, "FUNCTION_FAILURE"},
    {ErrorCode::WriteFailure, "WRITE_FAILURE"},
    {ErrorCode::CdcWriteFailure, "CDC_WRITE_FAILURE"},
    {ErrorCode::CasWriteUnknown, "CAS_WRITE_UNKNOWN"},
    {ErrorCode::SyntaxError, "SYNTAX_ERROR"},
    {ErrorCode::Unauthorized, "UNAUTHORIZED"},
    {ErrorCode::Invalid, "INVALID"},
    {ErrorCode::ConfigError, "CONFIG_ERROR"},
    {ErrorCode::AlreadyExists, "ALREADY_EXISTS"},
    {ErrorCode::Unprepared, "UNPREPARED"},
    {ErrorCode::ClientWriteFailure, "CLIENT_WRITE_FAILURE"},
}};

constexpr std::array<std::pair<WriteType, std::string_view>, 8> kWriteTypes{{
    {WriteType::Simple, "SIMPLE"},
    {WriteType::Batch, "BATCH"},
    {WriteType::UnloggedBatch, "UNLOGGED_BATCH"},
    {WriteType::Counter, "COUNTER"},
    {WriteType::BatchLog, "BATCH_LOG"},
    {WriteType::Cas, "CAS"},
    {WriteType::View, "VIEW"},
    {WriteType::Cdc, "CDC"},
}};

constexpr std::array<std::pair<SchemaChangeType, std::string_view>, 3> kChangeTypes{{
    {SchemaChangeType::Created, "CREATED"},
    {SchemaChangeType::Updated, "UPDATED"},
    {SchemaChangeType::Dropped, "DROPPED"},
}};

constexpr std::array<std::pair<SchemaChangeTarget, std::string_view>, 5> kTargets{{
    {SchemaChangeTarget::Keyspace, "KEYSPACE"},
    {SchemaChangeTarget::Table, "TABLE"},
    {SchemaChangeTarget::Type, "TYPE"},
    {SchemaChangeTarget::Function, "FUNCTION"},
    {SchemaChangeTarget::Aggregate, "AGGREGATE"},
}};

}  // namespace

std::string_view consistency_name(Consistency c) { return name_of(kConsistencies, c); }
std::optional<Consistency> consistency_from_name(std::string_view name) {
  return find_by_name(kConsistencies, name);
}
std::optional<Consistency> consistency_from_code(uint16_t code) {
  if (code > static_cast<uint16_t>(Consistency::LocalOne)) return std::nullopt;
  return static_cast<Consistency>(code);
}

std::string_view error_code_name(ErrorCode code) { return name_of(kErrorCodes, code); }
std::optional<ErrorCode> error_code_from_int(int32_t code) {
  for (const auto& [value, text] : kErrorCodes) {
    if (static_cast<int32_t>(value) == code) return value;
  }
  return std::nullopt;
}

std::string_view write_type_name(WriteType t) { return name_of(kWriteTypes, t); }
std::optional<WriteType> write_type_from_name(std::string_view name) {
  return find_by_name(kWriteTypes, name);
}

std::string_view schema_change_type_name(SchemaChangeType t) { return name_of(kChangeTypes, t); }
std::optional<SchemaChangeType> schema_change_type_from_name(std::string_view name) {
  return find_by_name(kChangeTypes, name);
}

std::string_view schema_change_target_name(SchemaChangeTarget t) { return name_of(kTargets, t); }
std::optional<SchemaChangeTarget> schema_change_target_from_name(std::string_view name) {
  return find_by_name(kTargets, name);
}

std::string_view topology_change_type_name(TopologyChangeType t) {
  switch (t) {
    case TopologyChangeType::NewNode:
      return "NEW_NODE";
    case TopologyChangeType::RemovedNode:
      return "REMOVED_NODE";
    case TopologyChangeType::MovedNode:
      return "MOVED_NODE";
  }
  return "UNKNOWN";
}

std::string_view status_change_type_name(StatusChangeType t) {
  return t == StatusChangeType::Up ? "UP" : "DOWN";
}

std::string_view batch_type_name(BatchType t) {
  switch (t) {
    case BatchType::Logged:
      return "LOGGED";
    case BatchType::Unlogged:
      return "UNLOGGED";
    case BatchType::Counter:
      return "COUNTER";
  }
  return "UNKNOWN";
}

}  // namespace zdm::protocol
