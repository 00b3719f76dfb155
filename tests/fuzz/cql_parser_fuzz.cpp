// Fuzz target for the embedded node's CQL statement parser over arbitrary text.
// Properties: parsing terminates without crashing (nesting is bounded), a
// success names its statement kind, and every failure is a syntax error in
// Cassandra's "line L:C ..." style.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "node/cql/cql_parser.hpp"

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string owned(reinterpret_cast<const char*>(data), size);
  auto parsed = zdm::node::parse_cql(owned);
  if (parsed) {
    check(!zdm::node::statement_kind_name(*parsed).empty());
  } else {
    check(parsed.error().code == zdm::Errc::Malformed);
    check(std::string_view(parsed.error().message).starts_with("line "));
  }
  return 0;
}
