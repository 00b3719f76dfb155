#pragma once
// Fault injection for the embedded node: rules that match a request by opcode and/or a regex on
// its statement text and then delay it, answer it with a CQL error, drop the connection, or never
// answer; with a probability (seeded) and a limit on how many times they fire. Also counts the
// requests seen per opcode and per statement kind.
//
// Rules can change at run time (admin HTTP) while io threads evaluate them: the rule list is an
// immutable snapshot swapped atomically; per-rule counters and the random state are atomics. With
// no rules, the per-request cost is one relaxed atomic load plus the counters.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/cql_lexer.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"

namespace zdm::node {

enum class FaultAction : uint8_t {
  Delay,       // answer normally after delay_ms
  Error,       // answer with a CQL error (after delay_ms if set)
  Drop,        // close the connection (after delay_ms if set)
  NoResponse,  // never answer (the request is not executed)
};
std::string_view fault_action_name(FaultAction action);  // "delay", "error", "drop", "no_response"

struct FaultRule {
  // Which requests: an opcode, or when unset any of QUERY, PREPARE, EXECUTE, BATCH.
  std::optional<protocol::Opcode> opcode;
  // ECMAScript regex searched (not fully matched) in the statement text: QUERY and PREPARE text,
  // the prepared statement's text for EXECUTE, any child statement of a BATCH. Empty: any.
  std::string query_pattern;
  FaultAction action = FaultAction::Error;
  uint32_t delay_ms = 0;
  protocol::ErrorCode error_code = protocol::ErrorCode::ServerError;
  std::string error_message;  // empty: a message like Cassandra's for the code
  // Error only: execute the request first, then answer with the error (a write that was applied
  // although the client saw a timeout, as happens with real clusters).
  bool apply = false;
  double probability = 1.0;       // 0..1, drawn from a generator seeded with `seed`
  std::optional<uint64_t> count;  // fire at most this many times
  uint64_t seed = 1;
  std::string name;  // free label for humans
};

// A rule from `key=value,key=value` (keys: opcode, query, action, delay_ms, error, message, apply,
// probability, count, seed, name; a value may be single-quoted to hold commas, '' is a quote) or
// from a JSON object with the same keys. Examples:
//   action=error,error=WRITE_TIMEOUT,opcode=EXECUTE,query='^INSERT INTO ks\.t'
//   {"action":"delay","delay_ms":200,"query":"SELECT"}
Result<FaultRule> parse_fault_spec(std::string_view spec);
Result<FaultRule> parse_fault_json(std::string_view json_text);
std::string fault_rule_json(const FaultRule& rule);  // the JSON object form

// Cassandra-like details for an injected error: consistency from the request, 0 of 1 replicas
// answered, SIMPLE/BATCH write type, the prepared id for UNPREPARED.
protocol::ErrorMessage make_fault_error(const FaultRule& rule, const protocol::RequestBody& request,
                                        protocol::ProtocolVersion version);

class FaultInjector {
 public:
  struct Rule;  // a compiled FaultRule with its counters

  // What to do with one request; keeps the rule alive.
  struct Decision {
    std::shared_ptr<const Rule> rule;
    const FaultRule& spec() const;
  };

  FaultInjector();
  ~FaultInjector();

  // Returns the rule's id. Fails on an invalid regex or probability.
  Result<uint64_t> add_rule(FaultRule rule);
  bool remove_rule(uint64_t id);
  void clear_rules();
  // JSON array of the rules with id, matched and fired counts.
  std::string rules_json() const;

  // Cheap check before gathering statement texts.
  bool has_rules() const { return rule_count_.load(std::memory_order_relaxed) != 0; }
  // Whether some rule looks at statement text (so EXECUTE needs its prepared text).
  bool needs_text() const { return text_rules_.load(std::memory_order_relaxed) != 0; }
  // The first rule that matches and fires, if any.
  std::optional<Decision> evaluate(protocol::Opcode opcode,
                                   std::span<const std::string_view> texts) const;

  // PREPARE texts by prepared id, so EXECUTE can be matched by its statement text.
  void remember_prepared(ByteView id, std::string_view text);
  std::optional<std::string> prepared_text(ByteView id) const;

  // Counters.
  void count_request(protocol::Opcode opcode) {
    by_opcode_[static_cast<uint8_t>(opcode)].fetch_add(1, std::memory_order_relaxed);
  }
  void count_statement(protocol::StatementKind kind) {
    by_kind_[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t requests(protocol::Opcode opcode) const {
    return by_opcode_[static_cast<uint8_t>(opcode)].load(std::memory_order_relaxed);
  }
  uint64_t statements(protocol::StatementKind kind) const {
    return by_kind_[static_cast<size_t>(kind)].load(std::memory_order_relaxed);
  }
  uint64_t faults_fired() const { return fired_.load(std::memory_order_relaxed); }
  // {"requests":{"QUERY":n,...},"statements":{"SELECT":n,...},"faults_fired":n}
  std::string counters_json() const;
  void reset_counters();

 private:
  using RuleList = std::vector<std::shared_ptr<Rule>>;
  void publish(std::shared_ptr<const RuleList> rules);

  mutable std::mutex writer_mu_;  // serializes rule changes (control plane only)
  std::atomic<std::shared_ptr<const RuleList>> rules_;
  std::atomic<size_t> rule_count_{0};
  std::atomic<size_t> text_rules_{0};
  uint64_t next_id_ = 1;

  std::array<std::atomic<uint64_t>, 256> by_opcode_{};
  std::array<std::atomic<uint64_t>, 32> by_kind_{};
  mutable std::atomic<uint64_t> fired_{0};

  mutable std::shared_mutex prepared_mu_;
  std::unordered_map<std::string, std::string> prepared_;  // id bytes -> query text
};

}  // namespace zdm::node
