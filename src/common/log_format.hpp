#pragma once
// How every zdm subcommand writes its log (stderr): text (spdlog's default pattern) or, with
// ZDM_LOG_FORMAT=json, one JSON object per line for log shippers, with stable field names:
//   {"ts":"2026-12-06T15:01:02.123Z","level":"warn","logger":"zdm proxy","pid":4242,
//    "thread":4243,"msg":"..."}
// `ts` is UTC with milliseconds (RFC 3339); `level` is trace, debug, info, warn, error or
// critical; `msg` is the message as the text format prints it.

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

#include "common/result.hpp"

namespace zdm::logging {

enum class LogFormat { Text, Json };

// "text" or "json" (case-insensitive); anything else fails naming ZDM_LOG_FORMAT.
Result<LogFormat> parse_log_format(std::string_view text);

std::unique_ptr<spdlog::formatter> make_json_formatter();

// Reads ZDM_LOG_FORMAT from the environment and, for json, makes every logger (those that exist
// and those created later through spdlog's registry) write JSON lines.
Result<LogFormat> apply_log_format_from_environment();

}  // namespace zdm::logging
