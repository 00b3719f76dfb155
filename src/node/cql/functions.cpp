// Cassandra's native scalar functions (time and uuid functions, blob conversions).

#include <cctype>

#include <fmt/format.h>

#include "node/cql/executor.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"

namespace zdm::node::exec {

using protocol::TypeId;

namespace {

DataType simple(TypeId id) { return DataType::simple(id); }

Bytes be64(int64_t v) {
  Bytes out(8);
  for (size_t i = 0; i < 8; ++i)
    out[7 - i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
  return out;
}
Bytes be32(uint32_t v) {
  Bytes out(4);
  store_be32(out.data(), v);
  return out;
}
int64_t load64(ByteView b) {
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return static_cast<int64_t>(v);
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint32_t days_of_millis(int64_t ms) {
  return static_cast<uint32_t>(floor_div(ms, 86'400'000) + protocol::kDateEpoch);
}

std::optional<TypeId> native_type_from_name(std::string_view name) {
  static const std::pair<std::string_view, TypeId> kTypes[] = {
      {"ascii", TypeId::Ascii},       {"bigint", TypeId::Bigint},
      {"blob", TypeId::Blob},         {"boolean", TypeId::Boolean},
      {"counter", TypeId::Counter},   {"decimal", TypeId::Decimal},
      {"double", TypeId::Double},     {"float", TypeId::Float},
      {"int", TypeId::Int},           {"timestamp", TypeId::Timestamp},
      {"uuid", TypeId::Uuid},         {"text", TypeId::Varchar},
      {"varchar", TypeId::Varchar},   {"varint", TypeId::Varint},
      {"timeuuid", TypeId::Timeuuid}, {"inet", TypeId::Inet},
      {"date", TypeId::Date},         {"time", TypeId::Time},
      {"smallint", TypeId::Smallint}, {"tinyint", TypeId::Tinyint},
      {"duration", TypeId::Duration},
  };
  for (const auto& [n, id] : kTypes) {
    if (n == name) return id;
  }
  return std::nullopt;
}

}  // namespace

std::optional<FunctionInfo> find_function(const std::string& raw) {
  std::string name;
  for (char c : raw) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto tu = simple(TypeId::Timeuuid);
  const auto ts = simple(TypeId::Timestamp);
  if (name == "now") return FunctionInfo{Function::Now, tu, {}};
  if (name == "currenttimeuuid") return FunctionInfo{Function::CurrentTimeuuid, tu, {}};
  if (name == "uuid") return FunctionInfo{Function::Uuid, simple(TypeId::Uuid), {}};
  if (name == "currenttimestamp") return FunctionInfo{Function::CurrentTimestamp, ts, {}};
  if (name == "currentdate") return FunctionInfo{Function::CurrentDate, simple(TypeId::Date), {}};
  if (name == "currenttime") return FunctionInfo{Function::CurrentTime, simple(TypeId::Time), {}};
  if (name == "totimestamp") return FunctionInfo{Function::ToTimestamp, ts, {tu}};
  if (name == "todate") return FunctionInfo{Function::ToDate, simple(TypeId::Date), {tu}};
  if (name == "tounixtimestamp") {
    return FunctionInfo{Function::ToUnixTimestamp, simple(TypeId::Bigint), {tu}};
  }
  if (name == "dateof") return FunctionInfo{Function::DateOf, ts, {tu}};
  if (name == "unixtimestampof") {
    return FunctionInfo{Function::UnixTimestampOf, simple(TypeId::Bigint), {tu}};
  }
  if (name == "mintimeuuid") return FunctionInfo{Function::MinTimeuuid, tu, {ts}};
  if (name == "maxtimeuuid") return FunctionInfo{Function::MaxTimeuuid, tu, {ts}};
  if (name == "token") return FunctionInfo{Function::Token, simple(TypeId::Bigint), {}};
  if (name.rfind("blobas", 0) == 0) {
    if (auto t = native_type_from_name(name.substr(6))) {
      return FunctionInfo{Function::BlobAs, simple(*t), {simple(TypeId::Blob)}};
    }
  }
  if (name.size() > 6 && name.compare(name.size() - 6, 6, "asblob") == 0) {
    if (auto t = native_type_from_name(name.substr(0, name.size() - 6))) {
      return FunctionInfo{Function::AsBlob, simple(TypeId::Blob), {simple(*t)}};
    }
  }
  return std::nullopt;
}

CqlResult<EvalValue> call_function(Function f, const DataType& return_type,
                                   std::span<const DataType> arg_types,
                                   std::span<const EvalValue> args, const ExecContext& ctx) {
  const int64_t now_ms = floor_div(ctx.now_micros, 1000);
  // Every function of one argument returns null for a null argument.
  if (!args.empty() && !args[0].is_set()) return EvalValue::null();
  auto arg_millis = [&]() -> CqlResult<int64_t> {
    const ByteView b = args[0].bytes;
    switch (arg_types[0].id) {
      case TypeId::Timeuuid: {
        if (b.size() != 16) return invalid("Invalid timeuuid value");
        Uuid u{};
        std::copy(b.begin(), b.end(), u.begin());
        auto ms = timeuuid_unix_millis(u);
        if (!ms) return invalid(ms.error().message);
        return *ms;
      }
      case TypeId::Timestamp:
        if (b.size() != 8) return invalid("Invalid timestamp value");
        return load64(b);
      case TypeId::Date:
        if (b.size() != 4) return invalid("Invalid date value");
        return (static_cast<int64_t>(load_be32(b.data())) - int64_t{protocol::kDateEpoch}) *
               86'400'000;
      default:
        return invalid(fmt::format("Invalid argument type {} for a time function",
                                   protocol::format_cql_type(arg_types[0])));
    }
  };
  switch (f) {
    case Function::Now:
    case Function::CurrentTimeuuid: {
      Uuid u = ctx.services != nullptr ? ctx.services->timeuuids.next() : random_uuid();
      return EvalValue::set(Bytes(u.begin(), u.end()));
    }
    case Function::Uuid: {
      Uuid u = random_uuid();
      return EvalValue::set(Bytes(u.begin(), u.end()));
    }
    case Function::CurrentTimestamp:
      return EvalValue::set(be64(now_ms));
    case Function::CurrentDate:
      return EvalValue::set(be32(days_of_millis(now_ms)));
    case Function::CurrentTime: {
      const int64_t day_ns = 86'400'000'000'000;
      int64_t ns = (ctx.now_micros * 1000) % day_ns;
      if (ns < 0) ns += day_ns;
      return EvalValue::set(be64(ns));
    }
    case Function::ToTimestamp:
    case Function::DateOf: {
      auto ms = arg_millis();
      if (!ms) return tl::unexpected(ms.error());
      return EvalValue::set(be64(*ms));
    }
    case Function::ToDate: {
      auto ms = arg_millis();
      if (!ms) return tl::unexpected(ms.error());
      return EvalValue::set(be32(days_of_millis(*ms)));
    }
    case Function::ToUnixTimestamp:
    case Function::UnixTimestampOf: {
      auto ms = arg_millis();
      if (!ms) return tl::unexpected(ms.error());
      return EvalValue::set(be64(*ms));
    }
    case Function::MinTimeuuid:
    case Function::MaxTimeuuid: {
      auto ms = arg_millis();
      if (!ms) return tl::unexpected(ms.error());
      Uuid u = f == Function::MinTimeuuid ? min_timeuuid(*ms) : max_timeuuid(*ms);
      return EvalValue::set(Bytes(u.begin(), u.end()));
    }
    case Function::BlobAs: {
      auto ok = validate_value(return_type, args[0].bytes, "blob");
      if (!ok) return tl::unexpected(ok.error());
      return args[0];
    }
    case Function::AsBlob:
      return args[0];
    case Function::Token:
      break;
  }
  return invalid("function cannot be evaluated here");
}

}  // namespace zdm::node::exec
