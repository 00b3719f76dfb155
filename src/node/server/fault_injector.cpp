#include "node/server/fault_injector.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zdm::node {

using protocol::ErrorCode;
using protocol::Opcode;

struct FaultInjector::Rule {
  uint64_t id = 0;
  FaultRule spec;
  std::optional<std::regex> pattern;
  mutable std::atomic<uint64_t> matched{0};
  mutable std::atomic<uint64_t> fired{0};
  mutable std::atomic<uint64_t> rng{0};
};

const FaultRule& FaultInjector::Decision::spec() const { return rule->spec; }

namespace {

constexpr ErrorCode kAllErrorCodes[] = {
    ErrorCode::ServerError,     ErrorCode::ProtocolError,   ErrorCode::BadCredentials,
    ErrorCode::Unavailable,     ErrorCode::Overloaded,      ErrorCode::IsBootstrapping,
    ErrorCode::TruncateError,   ErrorCode::WriteTimeout,    ErrorCode::ReadTimeout,
    ErrorCode::ReadFailure,     ErrorCode::FunctionFailure, ErrorCode::WriteFailure,
    ErrorCode::CdcWriteFailure, ErrorCode::CasWriteUnknown, ErrorCode::SyntaxError,
    ErrorCode::Unauthorized,    ErrorCode::Invalid,         ErrorCode::ConfigError,
    ErrorCode::AlreadyExists,   ErrorCode::Unprepared,      ErrorCode::ClientWriteFailure,
};

constexpr protocol::StatementKind kAllStatementKinds[] = {
    protocol::StatementKind::Other,    protocol::StatementKind::Select,
    protocol::StatementKind::Insert,   protocol::StatementKind::Update,
    protocol::StatementKind::Delete,   protocol::StatementKind::Batch,
    protocol::StatementKind::Use,      protocol::StatementKind::Create,
    protocol::StatementKind::Alter,    protocol::StatementKind::Drop,
    protocol::StatementKind::Truncate, protocol::StatementKind::Grant,
    protocol::StatementKind::Revoke,   protocol::StatementKind::List,
};

// Compares names ignoring case and '_' so WRITE_TIMEOUT, write_timeout and WriteTimeout all work.
bool loose_equals(std::string_view a, std::string_view b) {
  size_t i = 0;
  size_t j = 0;
  for (;;) {
    while (i < a.size() && a[i] == '_') ++i;
    while (j < b.size() && b[j] == '_') ++j;
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[j]))) {
      return false;
    }
    ++i;
    ++j;
  }
}

Result<uint64_t> parse_uint(std::string_view key, std::string_view text) {
  uint64_t value = 0;
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return fail(Errc::InvalidArgument,
                fmt::format("fault rule: {} must be a non-negative integer, not '{}'", key, text));
  }
  return value;
}

Result<Opcode> parse_opcode(std::string_view text) {
  for (unsigned b = 0; b < 256; ++b) {
    auto op = protocol::opcode_from_byte(static_cast<uint8_t>(b));
    if (op && loose_equals(protocol::opcode_name(*op), text)) return *op;
  }
  return fail(Errc::InvalidArgument,
              fmt::format("fault rule: unknown opcode '{}' (QUERY, PREPARE, EXECUTE, BATCH, "
                          "STARTUP, OPTIONS, REGISTER, AUTH_RESPONSE)",
                          text));
}

Result<ErrorCode> parse_error_code(std::string_view text) {
  for (auto code : kAllErrorCodes) {
    if (loose_equals(protocol::error_code_name(code), text)) return code;
  }
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
    auto value = parse_uint("error", text);
    if (!value) return tl::unexpected(value.error());
    if (auto code = protocol::error_code_from_int(static_cast<int32_t>(*value))) return *code;
  }
  return fail(Errc::InvalidArgument,
              fmt::format("fault rule: unknown error code '{}' (e.g. WRITE_TIMEOUT, READ_TIMEOUT, "
                          "UNAVAILABLE, OVERLOADED, SERVER_ERROR, or a number like 0x1100)",
                          text));
}

Result<FaultAction> parse_action(std::string_view text) {
  for (auto a :
       {FaultAction::Delay, FaultAction::Error, FaultAction::Drop, FaultAction::NoResponse}) {
    if (loose_equals(fault_action_name(a), text)) return a;
  }
  if (loose_equals(text, "noanswer") || loose_equals(text, "hang")) return FaultAction::NoResponse;
  return fail(
      Errc::InvalidArgument,
      fmt::format("fault rule: unknown action '{}' (delay, error, drop, no_response)", text));
}

Result<bool> parse_bool(std::string_view key, std::string_view text) {
  if (loose_equals(text, "true") || text == "1" || loose_equals(text, "yes")) return true;
  if (loose_equals(text, "false") || text == "0" || loose_equals(text, "no")) return false;
  return fail(Errc::InvalidArgument,
              fmt::format("fault rule: {} must be true or false, not '{}'", key, text));
}

Result<void> set_field(FaultRule& rule, std::string_view key, std::string_view value) {
  if (key == "opcode") {
    auto op = parse_opcode(value);
    if (!op) return tl::unexpected(op.error());
    rule.opcode = *op;
  } else if (key == "query" || key == "pattern") {
    rule.query_pattern = std::string(value);
  } else if (key == "action") {
    auto a = parse_action(value);
    if (!a) return tl::unexpected(a.error());
    rule.action = *a;
  } else if (key == "delay_ms" || key == "delay") {
    auto v = parse_uint(key, value);
    if (!v) return tl::unexpected(v.error());
    if (*v > 3600 * 1000) return fail(Errc::InvalidArgument, "fault rule: delay_ms over an hour");
    rule.delay_ms = static_cast<uint32_t>(*v);
  } else if (key == "error" || key == "code") {
    auto c = parse_error_code(value);
    if (!c) return tl::unexpected(c.error());
    rule.error_code = *c;
  } else if (key == "message") {
    rule.error_message = std::string(value);
  } else if (key == "apply") {
    auto b = parse_bool(key, value);
    if (!b) return tl::unexpected(b.error());
    rule.apply = *b;
  } else if (key == "probability") {
    double p = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), p);
    if (ec != std::errc() || ptr != value.data() + value.size() || !(p >= 0.0 && p <= 1.0)) {
      return fail(Errc::InvalidArgument,
                  fmt::format("fault rule: probability must be from 0 to 1, not '{}'", value));
    }
    rule.probability = p;
  } else if (key == "count") {
    auto v = parse_uint(key, value);
    if (!v) return tl::unexpected(v.error());
    rule.count = *v;
  } else if (key == "seed") {
    auto v = parse_uint(key, value);
    if (!v) return tl::unexpected(v.error());
    rule.seed = *v;
  } else if (key == "name") {
    rule.name = std::string(value);
  } else {
    return fail(Errc::InvalidArgument,
                fmt::format("fault rule: unknown key '{}' (opcode, query, action, delay_ms, "
                            "error, message, apply, probability, count, seed, name)",
                            key));
  }
  return {};
}

// Splitmix64: a counter-based generator, so one atomic fetch_add gives each draw its own state.
double next_uniform(std::atomic<uint64_t>& state, uint64_t seed) {
  uint64_t z = seed + state.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed) +
               0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

bool is_statement_opcode(Opcode op) {
  return op == Opcode::Query || op == Opcode::Prepare || op == Opcode::Execute ||
         op == Opcode::Batch;
}

nlohmann::json rule_to_json(const FaultRule& rule) {
  nlohmann::json j;
  if (rule.opcode) j["opcode"] = std::string(protocol::opcode_name(*rule.opcode));
  if (!rule.query_pattern.empty()) j["query"] = rule.query_pattern;
  j["action"] = std::string(fault_action_name(rule.action));
  if (rule.delay_ms != 0) j["delay_ms"] = rule.delay_ms;
  if (rule.action == FaultAction::Error) {
    j["error"] = std::string(protocol::error_code_name(rule.error_code));
    if (!rule.error_message.empty()) j["message"] = rule.error_message;
    if (rule.apply) j["apply"] = true;
  }
  j["probability"] = rule.probability;
  if (rule.count) j["count"] = *rule.count;
  j["seed"] = rule.seed;
  if (!rule.name.empty()) j["name"] = rule.name;
  return j;
}

}  // namespace

std::string_view fault_action_name(FaultAction action) {
  switch (action) {
    case FaultAction::Delay:
      return "delay";
    case FaultAction::Error:
      return "error";
    case FaultAction::Drop:
      return "drop";
    case FaultAction::NoResponse:
      return "no_response";
  }
  return "unknown";
}

Result<FaultRule> parse_fault_spec(std::string_view spec) {
  size_t first = spec.find_first_not_of(" \t\n");
  if (first != std::string_view::npos && spec[first] == '{') return parse_fault_json(spec);
  FaultRule rule;
  size_t pos = 0;
  bool any = false;
  while (pos < spec.size()) {
    const auto eq = spec.find('=', pos);
    if (eq == std::string_view::npos) {
      return fail(Errc::InvalidArgument,
                  fmt::format("fault rule '{}': expected key=value at offset {}", spec, pos));
    }
    const std::string_view key = spec.substr(pos, eq - pos);
    std::string value;
    size_t next = eq + 1;
    if (next < spec.size() && spec[next] == '\'') {
      // Quoted value: '' stands for one quote; ends at a lone quote.
      ++next;
      bool closed = false;
      while (next < spec.size()) {
        if (spec[next] == '\'') {
          if (next + 1 < spec.size() && spec[next + 1] == '\'') {
            value.push_back('\'');
            next += 2;
            continue;
          }
          ++next;
          closed = true;
          break;
        }
        value.push_back(spec[next++]);
      }
      if (!closed) {
        return fail(Errc::InvalidArgument,
                    fmt::format("fault rule '{}': unterminated quote in {}", spec, key));
      }
      if (next < spec.size() && spec[next] != ',') {
        return fail(Errc::InvalidArgument,
                    fmt::format("fault rule '{}': expected ',' after the quoted {}", spec, key));
      }
    } else {
      const auto comma = spec.find(',', next);
      const size_t end = comma == std::string_view::npos ? spec.size() : comma;
      value = std::string(spec.substr(next, end - next));
      next = end;
    }
    if (auto ok = set_field(rule, key, value); !ok) return tl::unexpected(ok.error());
    any = true;
    pos = next < spec.size() ? next + 1 : next;
  }
  if (!any) return fail(Errc::InvalidArgument, "fault rule is empty");
  return rule;
}

Result<FaultRule> parse_fault_json(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(Errc::InvalidArgument, "fault rule: expected a JSON object");
  }
  FaultRule rule;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string value;
    if (it->is_string()) {
      value = it->get<std::string>();
    } else if (it->is_boolean()) {
      value = it->get<bool>() ? "true" : "false";
    } else if (it->is_number_unsigned() || it->is_number_integer()) {
      value = it->dump();
    } else if (it->is_number_float()) {
      value = fmt::format("{}", it->get<double>());
    } else if (it->is_null()) {
      continue;
    } else {
      return fail(Errc::InvalidArgument,
                  fmt::format("fault rule: {} must be a string, number or boolean", it.key()));
    }
    if (auto ok = set_field(rule, it.key(), value); !ok) return tl::unexpected(ok.error());
  }
  return rule;
}

std::string fault_rule_json(const FaultRule& rule) { return rule_to_json(rule).dump(); }

protocol::ErrorMessage make_fault_error(const FaultRule& rule, const protocol::RequestBody& request,
                                        protocol::ProtocolVersion version) {
  using namespace protocol;
  Consistency cl = Consistency::One;
  WriteType write_type = WriteType::Simple;
  Bytes prepared_id;
  if (const auto* q = std::get_if<QueryMessage>(&request)) {
    cl = q->parameters.consistency;
  } else if (const auto* e = std::get_if<ExecuteMessage>(&request)) {
    cl = e->parameters.consistency;
    prepared_id = e->id;
  } else if (const auto* b = std::get_if<BatchMessage>(&request)) {
    cl = b->consistency;
    write_type = b->type == BatchType::Logged     ? WriteType::Batch
                 : b->type == BatchType::Unlogged ? WriteType::UnloggedBatch
                                                  : WriteType::Counter;
  }
  ErrorMessage error{rule.error_code, rule.error_message, {}};
  std::string default_message = "Injected fault";
  // Failure maps name a replica in v5; the node names itself.
  std::vector<FailureReason> reasons;
  if (uses_error_code_map(version)) reasons.push_back(FailureReason{Bytes{127, 0, 0, 1}, 0});
  switch (rule.error_code) {
    case ErrorCode::Unavailable:
      error.detail = UnavailableInfo{cl, 1, 0};
      default_message = fmt::format("Cannot achieve consistency level {}", consistency_name(cl));
      break;
    case ErrorCode::WriteTimeout:
      error.detail = WriteTimeoutInfo{cl, 0, 1, write_type, std::nullopt};
      default_message = "Operation timed out - received only 0 responses.";
      break;
    case ErrorCode::ReadTimeout:
      error.detail = ReadTimeoutInfo{cl, 0, 1, false};
      default_message = "Operation timed out - received only 0 responses.";
      break;
    case ErrorCode::ReadFailure:
      error.detail = ReadFailureInfo{cl, 0, 1, 1, reasons, false};
      default_message = "Operation failed - received 0 responses and 1 failures";
      break;
    case ErrorCode::WriteFailure:
      error.detail = WriteFailureInfo{cl, 0, 1, 1, reasons, write_type};
      default_message = "Operation failed - received 0 responses and 1 failures";
      break;
    case ErrorCode::CasWriteUnknown:
      error.detail = CasWriteUnknownInfo{cl, 0, 1};
      default_message =
          "CAS operation result is unknown - proposal accepted by 0 but not a "
          "quorum.";
      break;
    case ErrorCode::Unprepared:
      default_message = fmt::format(
          "Prepared query with ID {} not found (either the query was "
          "not prepared on this host (maybe the host has been "
          "restarted?) or you have prepared too many queries and it "
          "has been evicted from the internal cache)",
          to_hex(prepared_id));
      error.detail = UnpreparedInfo{std::move(prepared_id)};
      break;
    case ErrorCode::AlreadyExists:
      error.detail = AlreadyExistsInfo{};
      break;
    case ErrorCode::FunctionFailure:
      error.detail = FunctionFailureInfo{};
      break;
    case ErrorCode::Overloaded:
      default_message = "Server is in overloaded state. Cannot accept more requests at this point";
      break;
    case ErrorCode::IsBootstrapping:
      default_message = "Cannot read from a bootstrapping node";
      break;
    default:
      break;
  }
  if (error.message.empty()) error.message = std::move(default_message);
  return error;
}

FaultInjector::FaultInjector() : rules_(std::make_shared<const RuleList>()) {}
FaultInjector::~FaultInjector() = default;

void FaultInjector::publish(std::shared_ptr<const RuleList> rules) {
  size_t text = 0;
  for (const auto& r : *rules)
    if (r->pattern) ++text;
  rule_count_.store(rules->size(), std::memory_order_relaxed);
  text_rules_.store(text, std::memory_order_relaxed);
  rules_.store(std::move(rules), std::memory_order_release);
}

Result<uint64_t> FaultInjector::add_rule(FaultRule spec) {
  if (!(spec.probability >= 0.0 && spec.probability <= 1.0)) {
    return fail(Errc::InvalidArgument, "fault rule: probability must be from 0 to 1");
  }
  auto rule = std::make_shared<Rule>();
  if (!spec.query_pattern.empty()) {
    // std::regex reports bad patterns by exception; this is the control plane, turn it into an
    // error here so the data path only ever sees compiled patterns.
    try {
      rule->pattern.emplace(spec.query_pattern, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return fail(Errc::InvalidArgument, fmt::format("fault rule: invalid query regex '{}': {}",
                                                     spec.query_pattern, e.what()));
    }
  }
  rule->spec = std::move(spec);
  std::lock_guard lock(writer_mu_);
  rule->id = next_id_++;
  auto current = rules_.load(std::memory_order_acquire);
  auto next = std::make_shared<RuleList>(*current);
  next->push_back(rule);
  publish(std::move(next));
  return rule->id;
}

bool FaultInjector::remove_rule(uint64_t id) {
  std::lock_guard lock(writer_mu_);
  auto current = rules_.load(std::memory_order_acquire);
  auto next = std::make_shared<RuleList>();
  for (const auto& r : *current) {
    if (r->id != id) next->push_back(r);
  }
  const bool removed = next->size() != current->size();
  publish(std::move(next));
  return removed;
}

void FaultInjector::clear_rules() {
  std::lock_guard lock(writer_mu_);
  publish(std::make_shared<const RuleList>());
}

std::string FaultInjector::rules_json() const {
  auto current = rules_.load(std::memory_order_acquire);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : *current) {
    auto j = rule_to_json(r->spec);
    j["id"] = r->id;
    j["matched"] = r->matched.load(std::memory_order_relaxed);
    j["fired"] = r->fired.load(std::memory_order_relaxed);
    out.push_back(std::move(j));
  }
  return out.dump();
}

std::optional<FaultInjector::Decision> FaultInjector::evaluate(
    Opcode opcode, std::span<const std::string_view> texts) const {
  if (!has_rules()) return std::nullopt;
  auto current = rules_.load(std::memory_order_acquire);
  for (const auto& r : *current) {
    if (r->spec.opcode ? *r->spec.opcode != opcode : !is_statement_opcode(opcode)) continue;
    if (r->pattern) {
      bool found = false;
      for (auto t : texts) {
        if (std::regex_search(t.begin(), t.end(), *r->pattern)) {
          found = true;
          break;
        }
      }
      if (!found) continue;
    }
    r->matched.fetch_add(1, std::memory_order_relaxed);
    if (r->spec.probability < 1.0 && next_uniform(r->rng, r->spec.seed) >= r->spec.probability) {
      continue;
    }
    if (r->spec.count) {
      uint64_t fired = r->fired.load(std::memory_order_relaxed);
      bool spent = false;
      do {
        if (fired >= *r->spec.count) {
          spent = true;
          break;
        }
      } while (!r->fired.compare_exchange_weak(fired, fired + 1, std::memory_order_relaxed));
      if (spent) continue;
    } else {
      r->fired.fetch_add(1, std::memory_order_relaxed);
    }
    fired_.fetch_add(1, std::memory_order_relaxed);
    return Decision{r};
  }
  return std::nullopt;
}

void FaultInjector::remember_prepared(ByteView id, std::string_view text) {
  std::string key(as_chars(id));
  {
    std::shared_lock read(prepared_mu_);
    if (auto it = prepared_.find(key); it != prepared_.end() && it->second == text) return;
  }
  std::unique_lock write(prepared_mu_);
  prepared_[std::move(key)] = std::string(text);
}

std::optional<std::string> FaultInjector::prepared_text(ByteView id) const {
  std::shared_lock lock(prepared_mu_);
  auto it = prepared_.find(std::string(as_chars(id)));
  if (it == prepared_.end()) return std::nullopt;
  return it->second;
}

std::string FaultInjector::counters_json() const {
  nlohmann::json requests = nlohmann::json::object();
  for (auto op : {Opcode::Startup, Opcode::Options, Opcode::Query, Opcode::Prepare, Opcode::Execute,
                  Opcode::Register, Opcode::Batch, Opcode::AuthResponse}) {
    requests[std::string(protocol::opcode_name(op))] = this->requests(op);
  }
  nlohmann::json kinds = nlohmann::json::object();
  for (auto k : kAllStatementKinds) {
    kinds[std::string(protocol::statement_kind_name(k))] = statements(k);
  }
  nlohmann::json out;
  out["requests"] = std::move(requests);
  out["statements"] = std::move(kinds);
  out["faults_fired"] = faults_fired();
  return out.dump();
}

void FaultInjector::reset_counters() {
  for (auto& c : by_opcode_) c.store(0, std::memory_order_relaxed);
  for (auto& c : by_kind_) c.store(0, std::memory_order_relaxed);
  fired_.store(0, std::memory_order_relaxed);
}

}  // namespace zdm::node
