#include "protocol/cql_lexer.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zdm::protocol {
namespace {

struct Tok {
  CqlTokenKind kind;
  std::string text;
  bool operator==(const Tok&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Tok& t) {
  return os << cql_token_kind_name(t.kind) << "(" << t.text << ")";
}

std::vector<Tok> lex(std::string_view text) {
  std::vector<Tok> out;
  CqlLexer lexer(text);
  for (CqlToken t = lexer.next(); t.kind != CqlTokenKind::End; t = lexer.next()) {
    out.push_back({t.kind, std::string(t.text)});
    if (out.size() > 1000) break;
  }
  return out;
}

using K = CqlTokenKind;

TEST(CqlLexer, LexesSimpleSelectWithPositions) {
  const std::string_view q = "SELECT a, b FROM ks.tbl WHERE k = ?;";
  CqlLexer lexer(q);
  const CqlToken select = lexer.next();
  EXPECT_TRUE(select.is_keyword("select"));
  EXPECT_EQ(select.offset, 0u);
  const CqlToken a = lexer.next();
  EXPECT_EQ(a.offset, 7u);
  EXPECT_EQ(a.text, "a");
  EXPECT_EQ(lex(q), (std::vector<Tok>{{K::Identifier, "SELECT"},
                                      {K::Identifier, "a"},
                                      {K::Symbol, ","},
                                      {K::Identifier, "b"},
                                      {K::Identifier, "FROM"},
                                      {K::Identifier, "ks"},
                                      {K::Symbol, "."},
                                      {K::Identifier, "tbl"},
                                      {K::Identifier, "WHERE"},
                                      {K::Identifier, "k"},
                                      {K::Symbol, "="},
                                      {K::Symbol, "?"},
                                      {K::Symbol, ";"}}));
}

TEST(CqlLexer, HandlesDoubledQuotesInStringsAndQuotedIdentifiers) {
  EXPECT_EQ(lex("'it''s' \"Col\"\"X\""),
            (std::vector<Tok>{{K::String, "'it''s'"}, {K::QuotedIdentifier, "\"Col\"\"X\""}}));
  CqlLexer lexer("'it''s' \"Col\"\"X\" $$a'b$c$$");
  EXPECT_EQ(cql_token_value(lexer.next()), "it's");
  EXPECT_EQ(cql_token_value(lexer.next()), "Col\"X");
  EXPECT_EQ(cql_token_value(lexer.next()), "a'b$c");
}

TEST(CqlLexer, KeepsCommentMarkersInsideStrings) {
  EXPECT_EQ(lex("'-- not a comment' '/* nor */'"),
            (std::vector<Tok>{{K::String, "'-- not a comment'"}, {K::String, "'/* nor */'"}}));
}

TEST(CqlLexer, SkipsAllCommentStyles) {
  EXPECT_EQ(lex("-- line\n// other\n/* block\n * more */ x /**/y--tail"),
            (std::vector<Tok>{{K::Identifier, "x"}, {K::Identifier, "y"}}));
}

TEST(CqlLexer, UnterminatedConstructsBecomeErrorTokensThenEnd) {
  for (std::string_view text : {"x 'abc", "x \"abc", "x $$abc", "x /* abc"}) {
    CqlLexer lexer(text);
    EXPECT_TRUE(lexer.next().is_keyword("x"));
    const CqlToken err = lexer.next();
    EXPECT_EQ(err.kind, K::Error) << text;
    EXPECT_NE(err.error, nullptr);
    EXPECT_EQ(err.offset, 2u);
    EXPECT_EQ(err.end(), text.size());
    EXPECT_EQ(lexer.next().kind, K::End);
    EXPECT_EQ(lexer.next().kind, K::End);
  }
}

TEST(CqlLexer, UnexpectedCharacterIsAnErrorAndLexingContinues) {
  EXPECT_EQ(lex("a @ b \xC3\xA9 c"), (std::vector<Tok>{{K::Identifier, "a"},
                                                       {K::Error, "@"},
                                                       {K::Identifier, "b"},
                                                       {K::Error, "\xC3\xA9"},
                                                       {K::Identifier, "c"}}));
}

TEST(CqlLexer, LexesNumbers) {
  EXPECT_EQ(lex("42 -7 3.14 1. 1e10 2.5E-3 -1.5e+2 NaN -Infinity infinity"),
            (std::vector<Tok>{{K::Integer, "42"},
                              {K::Integer, "-7"},
                              {K::Float, "3.14"},
                              {K::Float, "1."},
                              {K::Float, "1e10"},
                              {K::Float, "2.5E-3"},
                              {K::Float, "-1.5e+2"},
                              {K::Float, "NaN"},
                              {K::Float, "-Infinity"},
                              {K::Float, "infinity"}}));
}

TEST(CqlLexer, LexesUuidsBlobsAndDurations) {
  EXPECT_EQ(lex("123e4567-e89b-12d3-a456-426614174000 deadbeef-e89b-12d3-a456-426614174000 "
                "0xCAFE 0x 1h30m 12mo"),
            (std::vector<Tok>{{K::Uuid, "123e4567-e89b-12d3-a456-426614174000"},
                              {K::Uuid, "deadbeef-e89b-12d3-a456-426614174000"},
                              {K::Blob, "0xCAFE"},
                              {K::Blob, "0x"},
                              {K::Duration, "1h30m"},
                              {K::Duration, "12mo"}}));
  EXPECT_EQ(lex("0xZZ")[0].kind, K::Error);
}

TEST(CqlLexer, LexesAllOperatorsAndPunctuation) {
  EXPECT_EQ(lex("( ) , ; . * = < > <= >= != + - ? : [ ] { } / %").size(), 22u);
  EXPECT_EQ(lex("a<=b>=c!=d"), (std::vector<Tok>{{K::Identifier, "a"},
                                                 {K::Symbol, "<="},
                                                 {K::Identifier, "b"},
                                                 {K::Symbol, ">="},
                                                 {K::Identifier, "c"},
                                                 {K::Symbol, "!="},
                                                 {K::Identifier, "d"}}));
  EXPECT_EQ(lex("a - b"),
            (std::vector<Tok>{{K::Identifier, "a"}, {K::Symbol, "-"}, {K::Identifier, "b"}}));
}

TEST(CqlLexer, BooleansAreIdentifiers) {
  EXPECT_EQ(lex("true FALSE"),
            (std::vector<Tok>{{K::Identifier, "true"}, {K::Identifier, "FALSE"}}));
}

TEST(CqlLexer, KeywordComparisonIgnoresAsciiCaseOnly) {
  EXPECT_TRUE(iequals("SeLeCt", "select"));
  EXPECT_FALSE(iequals("select", "selects"));
  CqlLexer lexer("\"select\"");
  EXPECT_FALSE(lexer.next().is_keyword("select"));  // quoted identifiers are never keywords
}

TEST(CqlLexer, ReportsLineAndColumn) {
  const std::string_view text = "SELECT\n  x\nFROM";
  const LineColumn lc = line_column(text, text.find('x'));
  EXPECT_EQ(lc.line, 2u);
  EXPECT_EQ(lc.column, 3u);
}

TEST(ClassifyStatement, RecognisesDmlKinds) {
  EXPECT_EQ(classify_statement("SELECT * FROM t").kind, StatementKind::Select);
  EXPECT_EQ(classify_statement("insert into t (a) values (1)").kind, StatementKind::Insert);
  EXPECT_EQ(classify_statement("Update t SET a = 1 WHERE k = 2").kind, StatementKind::Update);
  EXPECT_EQ(classify_statement("DELETE FROM t WHERE k = 1").kind, StatementKind::Delete);
  EXPECT_EQ(classify_statement("BEGIN BATCH INSERT INTO t (k) VALUES (1) APPLY BATCH").kind,
            StatementKind::Batch);
  EXPECT_EQ(classify_statement("begin unlogged batch apply batch").kind, StatementKind::Batch);
  EXPECT_EQ(classify_statement("BEGIN COUNTER BATCH APPLY BATCH").kind, StatementKind::Batch);
  EXPECT_EQ(classify_statement("BEGIN TRANSACTION").kind, StatementKind::Other);
}

TEST(ClassifyStatement, SkipsCommentsAndOddSpacingBeforeKeyword) {
  const StatementInfo s =
      classify_statement("  -- leading\n/* block */\t\n  sElEcT\n*\nFROM\n  system . \"local\"  ");
  EXPECT_EQ(s.kind, StatementKind::Select);
  EXPECT_TRUE(s.selects_from("system", "local"));
}

TEST(ClassifyStatement, ExtractsKeyspaceAndTableOfSelect) {
  const StatementInfo a = classify_statement("SELECT peer, rpc_address FROM system.peers");
  EXPECT_TRUE(a.selects_from("system", "peers"));
  EXPECT_FALSE(a.selects_from("system", "local"));

  const StatementInfo b = classify_statement("select * from SYSTEM.LOCAL where key='local'");
  EXPECT_TRUE(b.selects_from("system", "local"));
  EXPECT_EQ(b.keyspace.text, "SYSTEM");
  EXPECT_EQ(b.keyspace.value(), "system");

  const StatementInfo c = classify_statement("SELECT * FROM \"MyKs\".\"My\"\"Table\"");
  EXPECT_TRUE(c.keyspace.quoted);
  EXPECT_EQ(c.keyspace.value(), "MyKs");
  EXPECT_EQ(c.table.value(), "My\"Table");
  EXPECT_TRUE(c.table.matches("My\"Table"));
  EXPECT_FALSE(c.keyspace.matches("myks"));

  const StatementInfo d = classify_statement("SELECT a FROM tbl");
  EXPECT_TRUE(d.keyspace.empty());
  EXPECT_EQ(d.table.text, "tbl");

  // Quoted names that differ in case from the system tables are other tables.
  EXPECT_FALSE(
      classify_statement("SELECT * FROM \"System\".local").selects_from("system", "local"));
}

TEST(ClassifyStatement, SkipsSelectionsWithFunctionsCastsAndCollections) {
  const StatementInfo s = classify_statement(
      "SELECT JSON now(), token(k), CAST(x AS text), m['from'], writetime(v), {1: 2} "
      "FROM ks.t WHERE token(k) > 0");
  EXPECT_TRUE(s.json);
  EXPECT_TRUE(s.selects_from("ks", "t"));

  const StatementInfo d = classify_statement("SELECT DISTINCT k FROM ks.t");
  EXPECT_TRUE(d.distinct);
  EXPECT_TRUE(d.selects_from("ks", "t"));

  const StatementInfo j = classify_statement("SELECT json FROM ks.t");  // a column named json
  EXPECT_FALSE(j.json);
  EXPECT_TRUE(j.selects_from("ks", "t"));

  const StatementInfo q = classify_statement("SELECT \"from\" FROM ks.t");
  EXPECT_TRUE(q.selects_from("ks", "t"));
}

TEST(ClassifyStatement, ExtractsTablesOfWrites) {
  const StatementInfo i = classify_statement("INSERT INTO ks.t JSON '{\"k\": 1}'");
  EXPECT_EQ(i.kind, StatementKind::Insert);
  EXPECT_EQ(i.keyspace.text, "ks");
  EXPECT_EQ(i.table.text, "t");
  EXPECT_TRUE(i.json);

  const StatementInfo u = classify_statement("UPDATE \"Ks\".t USING TTL 5 SET a = 1 WHERE k = 1");
  EXPECT_EQ(u.keyspace.value(), "Ks");
  EXPECT_EQ(u.table.text, "t");

  const StatementInfo d = classify_statement("DELETE m['k'], l[0] FROM ks.t WHERE k = 1");
  EXPECT_EQ(d.kind, StatementKind::Delete);
  EXPECT_EQ(d.keyspace.text, "ks");
  EXPECT_EQ(d.table.text, "t");

  const StatementInfo t = classify_statement("TRUNCATE TABLE ks.t");
  EXPECT_EQ(t.kind, StatementKind::Truncate);
  EXPECT_EQ(t.table.text, "t");
  EXPECT_EQ(classify_statement("truncate t").table.text, "t");
}

TEST(ClassifyStatement, ExtractsUseKeyspaceQuotedOrNot) {
  const StatementInfo a = classify_statement("USE my_ks;");
  EXPECT_EQ(a.kind, StatementKind::Use);
  EXPECT_EQ(a.keyspace.value(), "my_ks");
  const StatementInfo b = classify_statement("use \"MyKs\"");
  EXPECT_EQ(b.kind, StatementKind::Use);
  EXPECT_TRUE(b.keyspace.quoted);
  EXPECT_EQ(b.keyspace.value(), "MyKs");
  const StatementInfo c = classify_statement("USE MyKs");
  EXPECT_EQ(c.keyspace.value(), "myks");
  EXPECT_EQ(classify_statement("USE").kind, StatementKind::Other);
}

TEST(ClassifyStatement, RecognisesDdlWithObjectKind) {
  struct Case {
    const char* cql;
    StatementKind kind;
    SchemaObjectKind object;
    const char* keyspace;
    const char* name;
  };
  const Case cases[] = {
      {"CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy'}",
       StatementKind::Create, SchemaObjectKind::Keyspace, "ks", ""},
      {"create table ks.t (k int primary key)", StatementKind::Create, SchemaObjectKind::Table,
       "ks", "t"},
      {"CREATE COLUMNFAMILY t (k int PRIMARY KEY)", StatementKind::Create, SchemaObjectKind::Table,
       "", "t"},
      {"ALTER TABLE ks.t ADD v text", StatementKind::Alter, SchemaObjectKind::Table, "ks", "t"},
      {"DROP TABLE IF EXISTS ks.t", StatementKind::Drop, SchemaObjectKind::Table, "ks", "t"},
      {"CREATE INDEX ON ks.t (v)", StatementKind::Create, SchemaObjectKind::Index, "", ""},
      {"CREATE CUSTOM INDEX idx ON t (v) USING 'StorageAttachedIndex'", StatementKind::Create,
       SchemaObjectKind::Index, "", "idx"},
      {"DROP INDEX ks.idx", StatementKind::Drop, SchemaObjectKind::Index, "ks", "idx"},
      {"CREATE MATERIALIZED VIEW ks.mv AS SELECT * FROM ks.t", StatementKind::Create,
       SchemaObjectKind::MaterializedView, "ks", "mv"},
      {"CREATE TYPE ks.addr (street text)", StatementKind::Create, SchemaObjectKind::Type, "ks",
       "addr"},
      {"CREATE OR REPLACE FUNCTION ks.f (a int) RETURNS NULL ON NULL INPUT RETURNS int "
       "LANGUAGE java AS $$ return a; $$",
       StatementKind::Create, SchemaObjectKind::Function, "ks", "f"},
      {"DROP AGGREGATE ks.agg", StatementKind::Drop, SchemaObjectKind::Aggregate, "ks", "agg"},
      {"CREATE TRIGGER trg ON t USING 'x'", StatementKind::Create, SchemaObjectKind::Trigger, "",
       ""},
      {"CREATE ROLE alice WITH PASSWORD = 'x'", StatementKind::Create, SchemaObjectKind::Role, "",
       ""},
      {"ALTER USER bob WITH PASSWORD 'y'", StatementKind::Alter, SchemaObjectKind::User, "", ""},
      {"DROP KEYSPACE \"Ks\"", StatementKind::Drop, SchemaObjectKind::Keyspace, "Ks", ""},
      {"CREATE SCHEMA ks2", StatementKind::Create, SchemaObjectKind::Keyspace, "ks2", ""},
      {"CREATE SOMETHING x", StatementKind::Create, SchemaObjectKind::Unknown, "", ""},
  };
  for (const Case& c : cases) {
    const StatementInfo s = classify_statement(c.cql);
    EXPECT_EQ(s.kind, c.kind) << c.cql;
    EXPECT_EQ(s.object, c.object) << c.cql;
    EXPECT_EQ(s.keyspace.value(), c.keyspace) << c.cql;
    EXPECT_EQ(s.table.value(), c.name) << c.cql;
  }
}

TEST(ClassifyStatement, RecognisesAuthStatements) {
  EXPECT_EQ(classify_statement("GRANT SELECT ON ks.t TO alice").kind, StatementKind::Grant);
  EXPECT_EQ(classify_statement("revoke all on keyspace ks from bob").kind, StatementKind::Revoke);
  EXPECT_EQ(classify_statement("LIST ROLES").kind, StatementKind::List);
  EXPECT_EQ(classify_statement("list all permissions of alice").kind, StatementKind::List);
}

TEST(ClassifyStatement, AnythingElseIsOther) {
  for (std::string_view q : {"", "   ", "-- only a comment", "/* unterminated", "'string first'",
                             "\"select\" * from t", "EXPLAIN SELECT", "(SELECT 1)", "@"}) {
    EXPECT_EQ(classify_statement(q).kind, StatementKind::Other) << q;
  }
}

TEST(FindFunctionCalls, FindsNowAndUuidOutsideStringsAndComments) {
  const std::string_view q =
      "INSERT INTO t (k, a, b, c) VALUES (now(), 'now()', uuid ( ), NOW()) -- now()\n"
      "/* uuid() */";
  const auto calls = find_function_calls(q, {"now", "uuid"});
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(q.substr(calls[0].begin, calls[0].end - calls[0].begin), "now()");
  EXPECT_EQ(calls[0].name, "now");
  EXPECT_EQ(q.substr(calls[1].begin, calls[1].end - calls[1].begin), "uuid ( )");
  EXPECT_EQ(calls[1].name, "uuid");
  EXPECT_EQ(q.substr(calls[2].begin, calls[2].end - calls[2].begin), "NOW()");
}

TEST(FindFunctionCalls, IncludesSystemQualifierAndSkipsOtherKeyspaces) {
  const std::string_view q = "SELECT system.now(), myks.now(), \"now\"(), now, now(1) FROM t";
  const auto calls = find_function_calls(q, {"now"});
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(q.substr(calls[0].begin, calls[0].end - calls[0].begin), "system.now()");
  EXPECT_EQ(q.substr(calls[1].begin, calls[1].end - calls[1].begin), "\"now\"()");
}

TEST(FindFunctionCalls, ReturnsNothingWhenAbsent) {
  EXPECT_TRUE(find_function_calls("SELECT * FROM t WHERE k = 'now()'", {"now"}).empty());
  EXPECT_TRUE(find_function_calls("", {"now"}).empty());
}

}  // namespace
}  // namespace zdm::protocol
