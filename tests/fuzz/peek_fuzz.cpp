// Fuzz target for the hot-path peek API. Input: one selector byte, then a request body.
//   selector bits 0-2: protocol version (index into the five supported, modulo 5)
//   selector bits 3-5: opcode (QUERY, EXECUTE, PREPARE, BATCH, REGISTER, OPTIONS; modulo 6)
//   selector bit 6:    custom-payload frame flag
// Properties: peek never crashes or reads outside the body; when a peek of EXECUTE or BATCH
// succeeds, rewriting its prepared ids succeeds and the rewritten body peeks to the new ids with
// every other field unchanged.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <variant>
#include <vector>

#include "protocol/peek.hpp"

using namespace zdm;
using namespace zdm::protocol;

namespace {

constexpr ProtocolVersion kVersions[] = {ProtocolVersion::V3, ProtocolVersion::V4,
                                         ProtocolVersion::V5, ProtocolVersion::DseV1,
                                         ProtocolVersion::DseV2};
constexpr Opcode kOpcodes[] = {Opcode::Query, Opcode::Execute,  Opcode::Prepare,
                               Opcode::Batch, Opcode::Register, Opcode::Options};

void check(bool ok) {
  if (!ok) std::abort();
}

bool same_optional_view(const std::optional<ByteView>& a, const std::optional<ByteView>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return std::equal(a->begin(), a->end(), b->begin(), b->end());
}

void check_same_params(const QueryParamsPeek& a, const QueryParamsPeek& b) {
  check(a.consistency == b.consistency && a.flags == b.flags && a.value_count == b.value_count);
  check(a.page_size == b.page_size && a.serial_consistency == b.serial_consistency);
  check(a.default_timestamp == b.default_timestamp && a.keyspace == b.keyspace);
  check(a.now_in_seconds == b.now_in_seconds);
  check(same_optional_view(a.paging_state, b.paging_state));
}

const uint8_t kNewId[] = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00, 0x11, 0x22};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  FrameHeader header;
  header.version = kVersions[(selector & 0x07) % 5];
  header.opcode = kOpcodes[((selector >> 3) & 0x07) % 6];
  header.direction = Direction::Request;
  header.flags = (selector & 0x40) != 0 ? frame_flags::kCustomPayload : 0;
  // An exactly-sized copy so that any overread is outside the allocation.
  const std::vector<uint8_t> body(data + 1, data + size);
  header.body_length = static_cast<uint32_t>(body.size());

  auto peek = peek_request(header, body);
  if (!peek) return 0;

  if (auto* e = std::get_if<ExecutePeek>(&*peek)) {
    auto rewritten = replace_prepared_id(header, body, ByteView(kNewId));
    check(rewritten.has_value());
    const std::vector<uint8_t> copy(rewritten->begin(), rewritten->end());
    auto again = peek_execute(header, copy);
    check(again.has_value());
    check(std::equal(again->prepared_id.begin(), again->prepared_id.end(), std::begin(kNewId),
                     std::end(kNewId)));
    check(same_optional_view(again->result_metadata_id, e->result_metadata_id));
    check_same_params(again->params, e->params);
  }
  if (auto* b = std::get_if<BatchPeek>(&*peek)) {
    size_t prepared = 0;
    for (const BatchChildPeek& child : b->children) {
      if (child.kind == BatchChildPeek::Kind::Prepared) ++prepared;
    }
    auto rewritten = replace_prepared_ids(
        header, body, [](ByteView) { return std::optional<ByteView>(ByteView(kNewId)); });
    check(rewritten.has_value());
    const std::vector<uint8_t> copy(rewritten->begin(), rewritten->end());
    auto again = peek_batch(header, copy);
    check(again.has_value());
    check(again->child_count() == b->child_count() && again->consistency == b->consistency);
    check(again->flags == b->flags && again->keyspace == b->keyspace);
    check(again->default_timestamp == b->default_timestamp);
    size_t seen = 0;
    for (const BatchChildPeek& child : again->children) {
      if (child.kind != BatchChildPeek::Kind::Prepared) continue;
      ++seen;
      check(std::equal(child.prepared_id.begin(), child.prepared_id.end(), std::begin(kNewId),
                       std::end(kNewId)));
    }
    check(seen == prepared);
  }
  return 0;
}
