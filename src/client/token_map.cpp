#include "client/token_map.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace zdm::client {

Result<void> TokenMap::add_host(HostIndex host, std::span<const std::string> tokens) {
  std::vector<int64_t> parsed;
  parsed.reserve(tokens.size());
  for (const auto& text : tokens) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return fail(Errc::Malformed, fmt::format("token '{}' of host {} is not a Murmur3 token "
                                               "(only Murmur3Partitioner is supported)",
                                               text, host));
    }
    parsed.push_back(value);
  }
  for (int64_t t : parsed) ring_.emplace_back(t, host);
  return {};
}

void TokenMap::add_token(HostIndex host, int64_t token) { ring_.emplace_back(token, host); }

void TokenMap::build() { std::sort(ring_.begin(), ring_.end()); }

std::optional<HostIndex> TokenMap::owner(Token token) const {
  if (ring_.empty()) return std::nullopt;
  auto it = std::lower_bound(ring_.begin(), ring_.end(), token.value,
                             [](const auto& entry, int64_t t) { return entry.first < t; });
  if (it == ring_.end()) it = ring_.begin();
  return it->second;
}

std::optional<Bytes> routing_key(std::span<const uint16_t> pk_indexes,
                                 std::span<const protocol::BoundValue> values) {
  if (pk_indexes.empty()) return std::nullopt;
  auto component = [&](uint16_t index) -> const Bytes* {
    if (index >= values.size()) return nullptr;
    const auto& v = values[index];
    if (v.kind != ValueView::Kind::Set) return nullptr;
    return &v.bytes;
  };
  if (pk_indexes.size() == 1) {
    const Bytes* b = component(pk_indexes[0]);
    if (b == nullptr) return std::nullopt;
    return *b;
  }
  std::vector<ByteView> parts;
  parts.reserve(pk_indexes.size());
  for (uint16_t index : pk_indexes) {
    const Bytes* b = component(index);
    if (b == nullptr) return std::nullopt;
    parts.emplace_back(*b);
  }
  auto key = composite_partition_key_checked(parts);
  if (!key) return std::nullopt;
  return std::move(*key);
}

}  // namespace zdm::client
