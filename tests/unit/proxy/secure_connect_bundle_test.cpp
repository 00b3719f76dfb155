// Secure connect bundles: zips written by an independent writer (Python's zipfile, the module the
// DataStax Python driver reads bundles with), stored and deflated, plus broken archives.
#include "proxy/cluster/secure_connect_bundle.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "testdata/test_pki.hpp"

namespace zdm::proxy {
namespace {

using testing::TempDir;

const char* kConfigJson = R"({
  "host": "abc-us-east1.db.astra.datastax.com",
  "port": 29080,
  "cql_port": 29042,
  "keyspace": "shop",
  "localDC": "us-east1",
  "caCertLocation": "./ca.crt",
  "keyLocation": "./key",
  "certLocation": "./cert"
})";

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries standard_entries(const std::string& config = kConfigJson) {
  return {{"config.json", config},
          {"ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"},
          {"cert", "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n"},
          {"key", "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"},
          {"identity.jks", std::string(300, '\x01')}};
}

// Writes a zip with Python's zipfile; `method` is "ZIP_STORED" or "ZIP_DEFLATED".
std::string python_zip(const TempDir& dir, const std::string& method, const Entries& entries) {
  std::string args;
  int i = 0;
  for (const auto& [name, content] : entries) {
    const std::string file = dir.write("entry" + std::to_string(i++), content);
    args += " '" + name + "' '" + file + "'";
  }
  const std::string out = dir.path("bundle.zip");
  const std::string cmd =
      "/usr/bin/python3 -c \"import sys, zipfile\n"
      "z = zipfile.ZipFile(sys.argv[1], 'w', zipfile." +
      method +
      ")\n"
      "a = sys.argv[2:]\n"
      "[z.write(a[i + 1], a[i]) for i in range(0, len(a), 2)]\n"
      "z.close()\" '" +
      out + "'" + args;
  if (std::system(cmd.c_str()) != 0) return {};
  return out;
}

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(SecureConnectBundle, ReadsDeflatedBundleWrittenByPythonZipfile) {
  TempDir dir("scb");
  const std::string zip = python_zip(dir, "ZIP_DEFLATED", standard_entries());
  ASSERT_FALSE(zip.empty()) << "python3 zipfile failed";
  auto bundle = read_secure_connect_bundle(zip);
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  EXPECT_EQ(bundle->host, "abc-us-east1.db.astra.datastax.com");
  EXPECT_EQ(bundle->port, 29080);
  EXPECT_EQ(bundle->cql_port, 29042);
  EXPECT_EQ(bundle->keyspace, "shop");
  EXPECT_EQ(bundle->local_dc, "us-east1");
  EXPECT_EQ(bundle->ca_pem, standard_entries()[1].second);
  EXPECT_EQ(bundle->cert_pem, standard_entries()[2].second);
  EXPECT_EQ(bundle->key_pem, standard_entries()[3].second);
  EXPECT_EQ(bundle->source, zip);
}

TEST(SecureConnectBundle, ReadsStoredEntries) {
  TempDir dir("scb");
  const std::string zip = python_zip(dir, "ZIP_STORED", standard_entries());
  ASSERT_FALSE(zip.empty());
  auto entries = read_zip_entries(read_all(zip));
  ASSERT_TRUE(entries.has_value()) << entries.error().message;
  EXPECT_EQ(entries->size(), 5u);
  EXPECT_EQ(entries->at("identity.jks"), std::string(300, '\x01'));
  auto bundle = read_secure_connect_bundle(zip);
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  EXPECT_EQ(bundle->port, 29080);
}

TEST(SecureConnectBundle, InflatesLargeCompressibleEntry) {
  TempDir dir("scb");
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i % 97) + "\n";
  Entries entries = standard_entries();
  entries.emplace_back("data/big.csv", big);
  const std::string zip = python_zip(dir, "ZIP_DEFLATED", entries);
  ASSERT_FALSE(zip.empty());
  auto read = read_zip_entries(read_all(zip));
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(read->at("data/big.csv"), big);
}

TEST(SecureConnectBundle, AcceptsPortAsStringAndEntriesInOneFolder) {
  TempDir dir("scb");
  Entries entries;
  for (auto& [name, content] : standard_entries(R"({"host":"h.example","port":"443"})")) {
    entries.emplace_back("bundle/" + name, content);
  }
  const std::string zip = python_zip(dir, "ZIP_DEFLATED", entries);
  ASSERT_FALSE(zip.empty());
  auto bundle = read_secure_connect_bundle(zip);
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  EXPECT_EQ(bundle->port, 443);
  EXPECT_EQ(bundle->cql_port, 0);
  EXPECT_TRUE(bundle->keyspace.empty());
}

TEST(SecureConnectBundle, NotAZipSaysSo) {
  TempDir dir("scb");
  const std::string path = dir.write("bundle.zip", "this is a text file, not a bundle\n");
  auto bundle = read_secure_connect_bundle(path);
  ASSERT_FALSE(bundle.has_value());
  EXPECT_NE(bundle.error().message.find("not a valid zip"), std::string::npos)
      << bundle.error().message;
  EXPECT_NE(bundle.error().message.find(path), std::string::npos);
}

TEST(SecureConnectBundle, MissingFileNamesThePath) {
  auto bundle = read_secure_connect_bundle("/nonexistent/zdm/bundle.zip");
  ASSERT_FALSE(bundle.has_value());
  EXPECT_NE(bundle.error().message.find("/nonexistent/zdm/bundle.zip"), std::string::npos);
  EXPECT_NE(bundle.error().message.find("cannot be read"), std::string::npos);
}

TEST(SecureConnectBundle, MissingEntryIsNamed) {
  TempDir dir("scb");
  Entries entries = standard_entries();
  entries.erase(entries.begin() + 3);  // key
  const std::string zip = python_zip(dir, "ZIP_DEFLATED", entries);
  ASSERT_FALSE(zip.empty());
  auto bundle = read_secure_connect_bundle(zip);
  ASSERT_FALSE(bundle.has_value());
  EXPECT_NE(bundle.error().message.find("no 'key' entry"), std::string::npos)
      << bundle.error().message;
}

TEST(SecureConnectBundle, BadJsonAndMissingFieldsAreReported) {
  TempDir dir("scb");
  struct Case {
    const char* config;
    const char* expected;
  };
  const Case cases[] = {
      {"{not json", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"port": 29080})", "no \"host\""},
      {R"({"host": "h", "keyspace": "k"})", "no \"port\""},
      {R"({"host": "h", "port": 70000})", "\"port\" is 70000"},
      {R"({"host": "h", "port": "abc"})", "\"port\" is \"abc\""},
  };
  for (const auto& c : cases) {
    const std::string zip = python_zip(dir, "ZIP_DEFLATED", standard_entries(c.config));
    ASSERT_FALSE(zip.empty());
    auto bundle = read_secure_connect_bundle(zip);
    ASSERT_FALSE(bundle.has_value()) << c.config;
    EXPECT_NE(bundle.error().message.find(c.expected), std::string::npos)
        << c.config << " -> " << bundle.error().message;
    EXPECT_NE(bundle.error().message.find("config.json"), std::string::npos);
  }
}

TEST(SecureConnectBundle, CorruptedDataFailsTheChecksumOrInflate) {
  TempDir dir("scb");
  const std::string zip = python_zip(dir, "ZIP_STORED", standard_entries());
  ASSERT_FALSE(zip.empty());
  Bytes bytes = read_all(zip);
  // Flip one byte inside the first entry's data (config.json, stored right after its header).
  const size_t at = 30 + std::string("config.json").size() + 5;
  ASSERT_LT(at, bytes.size());
  bytes[at] ^= 0x20;
  auto entries = read_zip_entries(bytes);
  ASSERT_FALSE(entries.has_value());
  EXPECT_EQ(entries.error().code, Errc::ChecksumMismatch) << entries.error().message;

  const std::string deflated = python_zip(dir, "ZIP_DEFLATED", standard_entries());
  Bytes dbytes = read_all(deflated);
  dbytes[at] ^= 0xff;
  EXPECT_FALSE(read_zip_entries(dbytes).has_value());
}

// Every prefix and a sweep of single-byte corruptions: always an error or a result, never a crash
// (the sanitizer build checks the bounds).
TEST(SecureConnectBundle, TruncatedOrMangledArchivesNeverCrash) {
  TempDir dir("scb");
  const std::string zip = python_zip(dir, "ZIP_DEFLATED", standard_entries());
  ASSERT_FALSE(zip.empty());
  const Bytes bytes = read_all(zip);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = read_zip_entries(ByteView(bytes.data(), n));
    EXPECT_FALSE(r.has_value()) << "prefix of " << n << " bytes";
  }
  size_t failures = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    Bytes mangled = bytes;
    mangled[i] = static_cast<uint8_t>(mangled[i] ^ 0xa5);
    if (!parse_secure_connect_bundle(mangled, "mangled").has_value()) ++failures;
  }
  EXPECT_GT(failures, 0u);  // headers, sizes and data are checked, not just read
}

TEST(SecureConnectBundle, ParsesConfigJsonAlone) {
  SecureConnectBundle b;
  ASSERT_TRUE(parse_bundle_config_json(kConfigJson, b).has_value());
  EXPECT_EQ(b.host, "abc-us-east1.db.astra.datastax.com");
  EXPECT_EQ(b.port, 29080);
  EXPECT_EQ(b.local_dc, "us-east1");
}

}  // namespace
}  // namespace zdm::proxy
