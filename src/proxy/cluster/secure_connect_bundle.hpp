#pragma once
// Astra secure connect bundles (ZDM_{ORIGIN,TARGET}_SECURE_CONNECT_BUNDLE_PATH): a zip holding
// config.json (metadata service host and port, keyspace, local DC), ca.crt (the CA of the
// metadata service and of the SNI proxy), cert and key (the client certificate for mutual TLS).
// Entry names are the ones the DataStax drivers read.
//
// Control plane: read once at startup (and again when the control connection reconnects); errors
// name the bundle and say what is missing or malformed. The zip reader is bounded (entry count,
// sizes, no zip64, no encryption) because the file comes from the user, not from us.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm::proxy {

// Limits of the zip reader: a bundle is a few kilobytes; anything far bigger is not a bundle.
inline constexpr size_t kMaxZipEntries = 256;
inline constexpr size_t kMaxZipEntryBytes = 4 * 1024 * 1024;

// The entries of a zip archive by name ("dir/file"); directories are skipped. Supports "stored"
// and "deflate" entries and checks each entry's CRC-32.
Result<std::map<std::string, std::string>> read_zip_entries(ByteView zip);

struct SecureConnectBundle {
  std::string source;     // the bundle's path (for messages)
  std::string host;       // metadata service host (config.json "host")
  uint16_t port = 0;      // metadata service port (config.json "port")
  std::string keyspace;   // optional ("keyspace")
  std::string local_dc;   // optional ("localDC"); the metadata service's answer wins
  uint16_t cql_port = 0;  // optional ("cql_port"); 0 when absent
  std::string ca_pem;     // ca.crt
  std::string cert_pem;   // cert
  std::string key_pem;    // key (secret: never logged)
};

// Parses a bundle already in memory; `source` names it in error messages.
Result<SecureConnectBundle> parse_secure_connect_bundle(ByteView zip, std::string source);
// Reads and parses the bundle at `path`.
Result<SecureConnectBundle> read_secure_connect_bundle(const std::string& path);

// config.json alone (exposed for tests): fills host, port, keyspace, local_dc and cql_port.
Result<void> parse_bundle_config_json(std::string_view json, SecureConnectBundle& bundle);

}  // namespace zdm::proxy
