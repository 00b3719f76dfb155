#pragma once
// Shared by proxy_config.cpp (settings, loading) and proxy_config_validation.cpp: not for use
// outside the configuration code.

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "protocol/version.hpp"

namespace zdm::proxy::config_detail {

std::string to_upper(std::string_view s);
std::string_view trim(std::string_view s);
// "invalid setting <YAML key> / <ZDM_ variable>: <what>".
[[gnu::cold]] tl::unexpected<Error> invalid(std::string_view setting, std::string_view what);
bool is_ip_literal(const std::string& text);
// "v3", "4", "DseV2", ... (case-insensitive); `*is_v2` set for v2, which the proxy does not speak.
std::optional<protocol::ProtocolVersion> version_from_name(std::string_view name, bool* is_v2);

}  // namespace zdm::proxy::config_detail
