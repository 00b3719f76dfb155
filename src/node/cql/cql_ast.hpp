#pragma once
// The syntax tree of the CQL the embedded node understands, as produced by parse_cql()
// (node/cql/cql_parser.hpp) and consumed by the executor.
//
// Plain value types: every name is an owned std::string already case-folded (an unquoted identifier
// lowercased, a quoted one verbatim with doubled quotes undone), so the executor compares names
// with ==. Nothing here points into the statement text.
//
// Bind markers (`?` and `:name`) are numbered 0, 1, 2, ... in order of appearance in the whole
// statement text (a BEGIN BATCH ... APPLY BATCH included); Statement::bind_markers lists them in
// that order so the executor can build PREPARE metadata once it knows each marker's column.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/data_type.hpp"

namespace zdm::node::cql {

// A heap-allocated value with value semantics (copies deep), for recursive AST nodes.
template <class T>
class Box {
 public:
  Box() : ptr_(std::make_unique<T>()) {}
  Box(T value) : ptr_(std::make_unique<T>(std::move(value))) {}  // NOLINT: implicit by design
  Box(const Box& other) : ptr_(std::make_unique<T>(*other.ptr_)) {}
  Box(Box&& other) noexcept = default;
  Box& operator=(const Box& other) {
    if (this != &other) ptr_ = std::make_unique<T>(*other.ptr_);
    return *this;
  }
  Box& operator=(Box&& other) noexcept = default;
  ~Box() = default;

  T& operator*() { return *ptr_; }
  const T& operator*() const { return *ptr_; }
  T* operator->() { return ptr_.get(); }
  const T* operator->() const { return ptr_.get(); }
  T& get() { return *ptr_; }
  const T& get() const { return *ptr_; }

 private:
  std::unique_ptr<T> ptr_;
};

// ---------------------------------------------------------------------------------------------
// Terms (values)

enum class LiteralKind : uint8_t {
  String,    // 'text' or $$text$$; text holds the value without quotes ('' undone)
  Integer,   // 42, -42 (text as written)
  Float,     // 1.5, -2e3, NaN, -Infinity (text as written)
  Boolean,   // true / false (text lowercased: "true" or "false")
  Uuid,      // 8-4-4-4-12 hex (text as written)
  Blob,      // 0xCAFE (text as written, with the 0x prefix)
  Duration,  // 1h30m, 12mo (text as written)
  Null,      // null (text "null")
};

struct Literal {
  LiteralKind kind = LiteralKind::Null;
  std::string text;

  friend bool operator==(const Literal&, const Literal&) = default;
};

// `?` (name empty) or `:name` (name case-folded like any identifier).
struct BindMarker {
  uint32_t index = 0;  // 0-based, order of appearance in the statement
  std::string name;

  bool named() const { return !name.empty(); }
  friend bool operator==(const BindMarker&, const BindMarker&) = default;
};

struct Term;

// name(args), e.g. now(), toTimestamp(now()), blobAsInt(0x00000001), system.uuid().
struct FunctionCall {
  std::string keyspace;  // "system" in system.now(); empty when unqualified
  std::string name;      // lowercased unless quoted
  std::vector<Term> args;
};

// [t1, t2, ...]
struct ListLiteral {
  std::vector<Term> elements;
};

// {t1, t2, ...} with at least one element. Note: `{}` parses as an empty MapLiteral, which
// Cassandra also accepts for set columns.
struct SetLiteral {
  std::vector<Term> elements;
};

struct MapEntry;
// {k1: v1, k2: v2, ...} or {}
struct MapLiteral {
  std::vector<MapEntry> entries;
};

// (t1, t2, ...): a tuple value, also the right-hand side of multi-column relations.
struct TupleLiteral {
  std::vector<Term> elements;
};

struct UdtField;
// {field1: v1, field2: v2}: keys are identifiers (not terms), so the literal is a UDT value.
struct UdtLiteral {
  std::vector<UdtField> fields;
};

// (type) term, e.g. (int) ?, (bigint) 3, (frozen<list<int>>) ?.
struct TypeHint {
  std::string type_text;  // raw CQL type text as written (the executor resolves UDTs)
  Box<Term> term;
};

struct Term {
  std::variant<Literal, BindMarker, FunctionCall, ListLiteral, SetLiteral, MapLiteral, TupleLiteral,
               UdtLiteral, TypeHint>
      value;

  bool is_bind_marker() const { return std::holds_alternative<BindMarker>(value); }
  bool is_null() const {
    const auto* lit = std::get_if<Literal>(&value);
    return lit != nullptr && lit->kind == LiteralKind::Null;
  }
};

struct MapEntry {
  Term key;
  Term value;
};

struct UdtField {
  std::string name;
  Term value;
};

// ---------------------------------------------------------------------------------------------
// Shared clauses

// [ks.]name; keyspace empty when the statement did not qualify the name (session keyspace applies).
struct QualifiedName {
  std::string keyspace;
  std::string name;

  friend bool operator==(const QualifiedName&, const QualifiedName&) = default;
};

// USING TTL x AND TIMESTAMP y (either, both, in any order). Terms are integers or bind markers.
struct UsingClause {
  std::optional<Term> ttl;
  std::optional<Term> timestamp;
};

enum class Operator : uint8_t {
  Eq,           // =
  Lt,           // <
  Le,           // <=
  Gt,           // >
  Ge,           // >=
  Ne,           // !=
  In,           // IN (...) or IN ?
  Contains,     // CONTAINS
  ContainsKey,  // CONTAINS KEY
  Like,         // LIKE (parsed; the executor may reject)
  IsNotNull,    // IS NOT NULL (materialized view filters; parsed, no value)
};

// One WHERE restriction.
struct Relation {
  enum class Kind : uint8_t {
    Column,       // col op term; col IN ...; col CONTAINS [KEY] term
    MultiColumn,  // (c1, c2) op (t1, t2) | ?; (c1, c2) IN ((..), (..)) | (?, ?) | ?
    Token,        // token(a, b) op term
    Element,      // col[key] op term (map element)
  };
  Kind kind = Kind::Column;
  // Column/Element: one column. MultiColumn: the tuple's columns. Token: the token() arguments.
  std::vector<std::string> columns;
  Operator op = Operator::Eq;
  std::optional<Term> element_key;  // Element only: the key in col[key]
  // Right-hand side for every operator except IN-with-a-list and IS NOT NULL. For `IN ?` it is the
  // marker (and in_marker is true). Multi-column: a TupleLiteral or a bind marker.
  Term value;
  // IN (t1, t2, ...): the listed terms (possibly none), in_marker false. Multi-column IN: each
  // element is a TupleLiteral or a bind marker.
  std::vector<Term> in_values;
  bool in_marker = false;  // IN ? / IN :name
};

// One IF condition of a conditional UPDATE/DELETE.
struct Condition {
  std::string column;
  std::optional<Term> element_key;  // IF m[k] = v / l[i] = v
  std::string field;                // IF udt.field = v (empty otherwise)
  Operator op = Operator::Eq;       // Eq, Ne, Lt, Le, Gt, Ge, In, Contains, ContainsKey
  Term value;                       // as Relation::value (may be a null literal: IF c = null)
  std::vector<Term> in_values;      // IN (...)
  bool in_marker = false;
};

// A table/keyspace property: name = constant | {map}. `WITH CLUSTERING ORDER BY` and `COMPACT
// STORAGE` are not properties (see CreateTable).
struct PropertyMapEntry {
  Literal key;
  Literal value;
};
struct Property {
  std::string name;  // lowercased, e.g. "replication", "default_time_to_live", "comment"
  // A constant (an unquoted word such as `ALL` becomes a String literal with its text as written)
  // or, when is_map, the map entries.
  Literal value;
  bool is_map = false;
  std::vector<PropertyMapEntry> map;
};

// ---------------------------------------------------------------------------------------------
// DDL

struct UseStatement {
  std::string keyspace;
};

struct CreateKeyspace {
  std::string keyspace;
  bool if_not_exists = false;
  std::vector<Property> properties;  // replication = {...}, durable_writes = bool, ...
};

struct AlterKeyspace {
  std::string keyspace;
  bool if_exists = false;
  std::vector<Property> properties;
};

struct DropKeyspace {
  std::string keyspace;
  bool if_exists = false;
};

// A column or UDT field declaration: name and CQL type.
struct ColumnDecl {
  std::string name;
  // The type as written (whitespace trimmed), e.g. "frozen<map<text, ks.addr>>", "'Custom'".
  std::string type_text;
  // Parsed when the type needs no UDT resolution; nullopt when it names a user type (or is
  // otherwise unparsable without the catalog): resolve type_text with parse_cql_type + resolver.
  std::optional<protocol::DataType> type;
  bool is_static = false;    // `STATIC` (CreateTable only)
  bool primary_key = false;  // inline `PRIMARY KEY` (CreateTable only)
};

struct ClusteringOrder {
  std::string column;
  bool descending = false;
};

struct CreateTable {
  QualifiedName table;
  bool if_not_exists = false;
  std::vector<ColumnDecl> columns;  // in declaration order
  // Filled from either the inline `col type PRIMARY KEY` or the PRIMARY KEY ((a, b), c) clause.
  std::vector<std::string> partition_key;
  std::vector<std::string> clustering_key;
  std::vector<ClusteringOrder> clustering_order;  // WITH CLUSTERING ORDER BY (...), as written
  bool compact_storage = false;
  std::vector<Property> properties;  // every other WITH option, as written
};

struct AlterTable {
  enum class Kind : uint8_t {
    Add,         // ADD col type [, col type] | ADD (col type, ...)
    Drop,        // DROP col | DROP (c1, c2)
    AlterType,   // ALTER col TYPE type (parsed; the executor may reject)
    Rename,      // RENAME a TO b [AND c TO d]
    Properties,  // WITH opts
  };
  QualifiedName table;
  bool if_exists = false;  // ALTER TABLE IF EXISTS
  Kind kind = Kind::Properties;
  bool if_column_exists = false;     // ADD IF NOT EXISTS / DROP IF EXISTS (Cassandra 4.1+)
  std::vector<ColumnDecl> added;     // Add; AlterType: one entry (column and new type)
  std::vector<std::string> dropped;  // Drop
  std::vector<std::pair<std::string, std::string>> renames;  // Rename: (from, to)
  std::vector<Property> properties;                          // Properties
  std::optional<Term> drop_timestamp;                        // DROP ... USING TIMESTAMP t
};

struct DropTable {
  QualifiedName table;
  bool if_exists = false;
};

struct Truncate {
  QualifiedName table;
};

struct CreateType {
  QualifiedName type;
  bool if_not_exists = false;
  std::vector<ColumnDecl> fields;
};

struct AlterType {
  enum class Kind : uint8_t {
    Add,     // ADD field type
    Rename,  // RENAME a TO b [AND c TO d]
  };
  QualifiedName type;
  Kind kind = Kind::Add;
  std::vector<ColumnDecl> added;
  std::vector<std::pair<std::string, std::string>> renames;
};

struct DropType {
  QualifiedName type;
  bool if_exists = false;
};

// A recognised statement the node does not implement (CREATE INDEX, GRANT, ...). The executor
// answers Invalid "<kind> statements are not supported by zdm node".
struct Unsupported {
  std::string kind;  // upper case, e.g. "CREATE INDEX", "CREATE MATERIALIZED VIEW", "GRANT"
};

// ---------------------------------------------------------------------------------------------
// DML

struct Insert {
  QualifiedName table;
  std::vector<std::string> columns;  // (cols) VALUES (terms): parallel to values
  std::vector<Term> values;
  bool json = false;                // INSERT ... JSON
  std::optional<Term> json_value;   // the JSON string literal or bind marker
  bool json_default_unset = false;  // DEFAULT UNSET (DEFAULT NULL is the default)
  bool if_not_exists = false;
  UsingClause using_clause;
};

struct Assignment {
  enum class Kind : uint8_t {
    Set,         // c = term
    Add,         // c = c + term, c += term (collections append/union; counters increment)
    Prepend,     // c = term + c (lists)
    Subtract,    // c = c - term, c -= term (collections remove; counters decrement)
    SetElement,  // c[key] = term (map key or list index)
    SetField,    // c.field = term (non-frozen UDT)
  };
  Kind kind = Kind::Set;
  std::string column;
  std::optional<Term> key;  // SetElement only
  std::string field;        // SetField only
  Term value;
};

struct Update {
  QualifiedName table;
  UsingClause using_clause;
  std::vector<Assignment> assignments;
  std::vector<Relation> where;
  bool if_exists = false;
  std::vector<Condition> conditions;  // IF c = v AND ...
};

// One target of DELETE: a whole column, an element (m[k], l[i]) or a UDT field.
struct DeleteTarget {
  std::string column;
  std::optional<Term> key;
  std::string field;
};

struct Delete {
  QualifiedName table;
  std::vector<DeleteTarget> targets;  // empty: delete the whole row(s)/partition
  UsingClause using_clause;           // only TIMESTAMP is valid (TTL parsed, executor rejects)
  std::vector<Relation> where;
  bool if_exists = false;
  std::vector<Condition> conditions;
};

struct Batch {
  enum class Type : uint8_t { Logged, Unlogged, Counter };
  Type type = Type::Logged;
  UsingClause using_clause;
  std::vector<std::variant<Insert, Update, Delete>> statements;
};

// ---------------------------------------------------------------------------------------------
// SELECT

struct Selector;

// A column by name (fields and elements are FieldSelector / ElementSelector around it).
struct ColumnSelector {
  std::string name;
};

// WRITETIME(c), TTL(c) (and Cassandra 5's MAXWRITETIME(c)).
struct WritetimeSelector {
  enum class Kind : uint8_t { Writetime, Ttl, MaxWritetime };
  Kind kind = Kind::Writetime;
  std::string column;
};

// f(args): count(*), count(1), count(c), min/max/sum/avg(c), token(a, b), now(), toDate(c), ...
struct FunctionSelector {
  std::string keyspace;  // empty unless qualified (system.now())
  std::string name;      // lowercased unless quoted
  std::vector<Selector> args;
  bool star = false;  // count(*): args is empty
};

// CAST(x AS type)
struct CastSelector {
  Box<Selector> arg;
  std::string type_text;  // lowercased CQL type name, e.g. "text", "int", "bigint"
};

// sel.field
struct FieldSelector {
  Box<Selector> base;
  std::string field;
};

// sel[key] (Cassandra 4.0+ element selection; parsed)
struct ElementSelector {
  Box<Selector> base;
  Term key;
};

// A literal, bind marker or other term used as a selector (SELECT 1, 'a' FROM ...).
struct TermSelector {
  Term term;
};

struct Selector {
  std::variant<ColumnSelector, WritetimeSelector, FunctionSelector, CastSelector, FieldSelector,
               ElementSelector, TermSelector>
      value;
  std::string alias;  // AS alias; empty when none
};

struct Ordering {
  std::string column;
  bool descending = false;
};

struct Select {
  QualifiedName table;
  bool json = false;
  bool distinct = false;
  bool select_all = false;  // SELECT *: selectors is empty
  std::vector<Selector> selectors;
  std::vector<Relation> where;
  std::vector<std::string> group_by;
  std::vector<Ordering> order_by;
  std::optional<Term> per_partition_limit;  // integer literal or bind marker
  std::optional<Term> limit;                // integer literal or bind marker
  bool allow_filtering = false;
};

// ---------------------------------------------------------------------------------------------
// The statement

struct Statement {
  std::variant<Select, Insert, Update, Delete, Batch, UseStatement, CreateKeyspace, AlterKeyspace,
               DropKeyspace, CreateTable, AlterTable, DropTable, Truncate, CreateType, AlterType,
               DropType, Unsupported>
      body;
  // Every bind marker of the statement in order of appearance; bind_markers[i].index == i.
  std::vector<BindMarker> bind_markers;

  uint32_t bind_count() const { return static_cast<uint32_t>(bind_markers.size()); }
};

}  // namespace zdm::node::cql
