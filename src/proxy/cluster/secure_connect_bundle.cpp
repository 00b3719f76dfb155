#include "proxy/cluster/secure_connect_bundle.hpp"

#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zdm::proxy {

namespace {

// Zip structures (APPNOTE.TXT): little-endian, unlike everything else in the project.
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
constexpr uint32_t kCentralFileHeaderSig = 0x02014b50;
constexpr uint32_t kLocalFileHeaderSig = 0x04034b50;
constexpr size_t kEndOfCentralDirSize = 22;
constexpr size_t kCentralFileHeaderSize = 46;
constexpr size_t kLocalFileHeaderSize = 30;
constexpr size_t kMaxCommentSize = 0xffff;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;

std::optional<uint16_t> le16(ByteView b, size_t at) {
  if (at > b.size() || b.size() - at < 2) return std::nullopt;
  return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}

std::optional<uint32_t> le32(ByteView b, size_t at) {
  if (at > b.size() || b.size() - at < 4) return std::nullopt;
  return static_cast<uint32_t>(b[at]) | (static_cast<uint32_t>(b[at + 1]) << 8) |
         (static_cast<uint32_t>(b[at + 2]) << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}

tl::unexpected<Error> zip_error(std::string what) {
  return fail(Errc::Malformed, fmt::format("not a valid zip archive: {}", what));
}

// Raw deflate (no zlib header), output bounded by the size the directory announced.
Result<std::string> inflate_raw(ByteView in, size_t expected, const std::string& name) {
  std::string out(expected, '\0');
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return fail(Errc::Compression, "zlib inflateInit2 failed");
  }
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  // One extra byte of room detects data that inflates past the announced size.
  char overflow = 0;
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  if (rc != Z_STREAM_END && zs.avail_out == 0) {
    zs.next_out = reinterpret_cast<Bytef*>(&overflow);
    zs.avail_out = 1;
    rc = inflate(&zs, Z_FINISH);
  }
  const size_t produced = static_cast<size_t>(zs.total_out);
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != expected) {
    return fail(Errc::Compression,
                fmt::format("zip entry '{}' does not inflate to its announced {} bytes "
                            "(zlib status {}, {} bytes produced)",
                            name, expected, rc, produced));
  }
  return out;
}

}  // namespace

Result<std::map<std::string, std::string>> read_zip_entries(ByteView zip) {
  if (zip.size() < kEndOfCentralDirSize) return zip_error("too short for an end record");
  // The end record sits at the very end, followed only by an optional comment.
  size_t eocd = std::string::npos;
  const size_t lowest = zip.size() - kEndOfCentralDirSize > kMaxCommentSize
                            ? zip.size() - kEndOfCentralDirSize - kMaxCommentSize
                            : 0;
  for (size_t at = zip.size() - kEndOfCentralDirSize + 1; at-- > lowest;) {
    if (le32(zip, at) == kEndOfCentralDirSig) {
      eocd = at;
      break;
    }
  }
  if (eocd == std::string::npos) return zip_error("no end-of-central-directory record");
  const uint16_t disk = *le16(zip, eocd + 4);
  const uint16_t entries = *le16(zip, eocd + 10);
  const uint32_t dir_size = *le32(zip, eocd + 12);
  const uint32_t dir_offset = *le32(zip, eocd + 16);
  if (entries == 0xffff || dir_offset == 0xffffffff || dir_size == 0xffffffff) {
    return fail(Errc::Unsupported, "zip64 archives are not supported (a bundle is small)");
  }
  if (disk != 0) return fail(Errc::Unsupported, "multi-volume zip archives are not supported");
  if (entries > kMaxZipEntries) {
    return fail(Errc::TooLarge, fmt::format("zip archive has {} entries (at most {} accepted)",
                                            entries, kMaxZipEntries));
  }
  if (static_cast<uint64_t>(dir_offset) + dir_size > eocd) {
    return zip_error("central directory lies outside the file");
  }

  std::map<std::string, std::string> out;
  size_t pos = dir_offset;
  const size_t dir_end = static_cast<size_t>(dir_offset) + dir_size;
  for (uint16_t i = 0; i < entries; ++i) {
    if (pos + kCentralFileHeaderSize > dir_end || le32(zip, pos) != kCentralFileHeaderSig) {
      return zip_error(fmt::format("central directory entry {} is truncated or corrupt", i));
    }
    const uint16_t flags = *le16(zip, pos + 8);
    const uint16_t method = *le16(zip, pos + 10);
    const uint32_t crc = *le32(zip, pos + 16);
    const uint32_t packed_size = *le32(zip, pos + 20);
    const uint32_t size = *le32(zip, pos + 24);
    const uint16_t name_len = *le16(zip, pos + 28);
    const uint16_t extra_len = *le16(zip, pos + 30);
    const uint16_t comment_len = *le16(zip, pos + 32);
    const uint32_t local_offset = *le32(zip, pos + 42);
    const size_t next = pos + kCentralFileHeaderSize + name_len + extra_len + comment_len;
    if (next > dir_end) return zip_error(fmt::format("central directory entry {} overruns", i));
    std::string name(as_chars(zip.subspan(pos + kCentralFileHeaderSize, name_len)));
    pos = next;

    if (!name.empty() && name.back() == '/') continue;  // a directory
    if (flags & 0x1) {
      return fail(Errc::Unsupported, fmt::format("zip entry '{}' is encrypted", name));
    }
    if (size > kMaxZipEntryBytes || packed_size > kMaxZipEntryBytes) {
      return fail(Errc::TooLarge,
                  fmt::format("zip entry '{}' is {} bytes (at most {} accepted)", name,
                              std::max(size, packed_size), kMaxZipEntryBytes));
    }
    // Sizes come from the central directory: the local header may defer them (flag bit 3).
    if (static_cast<uint64_t>(local_offset) + kLocalFileHeaderSize > dir_offset ||
        le32(zip, local_offset) != kLocalFileHeaderSig) {
      return zip_error(fmt::format("local header of '{}' is missing or corrupt", name));
    }
    const size_t data_at = static_cast<size_t>(local_offset) + kLocalFileHeaderSize +
                           *le16(zip, local_offset + 26) + *le16(zip, local_offset + 28);
    if (data_at > dir_offset || dir_offset - data_at < packed_size) {
      return zip_error(fmt::format("data of '{}' runs past the central directory", name));
    }
    ByteView packed = zip.subspan(data_at, packed_size);
    std::string data;
    if (method == kMethodStored) {
      if (packed_size != size) {
        return zip_error(fmt::format("stored entry '{}' has different sizes", name));
      }
      data.assign(as_chars(packed));
    } else if (method == kMethodDeflate) {
      auto inflated = inflate_raw(packed, size, name);
      if (!inflated) return tl::unexpected(inflated.error());
      data = std::move(*inflated);
    } else {
      return fail(Errc::Unsupported,
                  fmt::format("zip entry '{}' uses compression method {} (only stored and "
                              "deflate are supported)",
                              name, method));
    }
    const uLong actual = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()),
                               static_cast<uInt>(data.size()));
    if (actual != crc) {
      return fail(Errc::ChecksumMismatch,
                  fmt::format("zip entry '{}' fails its CRC-32 check (corrupt archive)", name));
    }
    out.insert_or_assign(std::move(name), std::move(data));
  }
  return out;
}

namespace {

// A port given as a JSON number or as a numeric string (both seen in the wild).
std::optional<uint16_t> json_port(const nlohmann::json& v) {
  int64_t n = -1;
  if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (n <= 0 || n > 65535) return std::nullopt;
  return static_cast<uint16_t>(n);
}

std::string optional_string(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

// Bundles made by hand sometimes add a top-level folder: accept "x/config.json" when there is no
// "config.json", as long as only one entry has that file name.
const std::string* find_entry(const std::map<std::string, std::string>& entries,
                              const std::string& name) {
  if (auto it = entries.find(name); it != entries.end()) return &it->second;
  const std::string* found = nullptr;
  for (const auto& [path, data] : entries) {
    const auto slash = path.rfind('/');
    if (slash != std::string::npos && path.compare(slash + 1, std::string::npos, name) == 0) {
      if (found != nullptr) return nullptr;
      found = &data;
    }
  }
  return found;
}

}  // namespace

Result<void> parse_bundle_config_json(std::string_view json, SecureConnectBundle& bundle) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return fail(Errc::Malformed, "config.json is not valid JSON");
  }
  if (!doc.is_object()) return fail(Errc::Malformed, "config.json is not a JSON object");
  auto host = doc.find("host");
  if (host == doc.end() || !host->is_string() || host->get_ref<const std::string&>().empty()) {
    return fail(Errc::Malformed,
                "config.json has no \"host\" (the metadata service host name) as a non-empty "
                "string");
  }
  auto port_it = doc.find("port");
  if (port_it == doc.end()) {
    return fail(Errc::Malformed, "config.json has no \"port\" (the metadata service port)");
  }
  auto port = json_port(*port_it);
  if (!port) {
    return fail(Errc::Malformed,
                fmt::format("config.json \"port\" is {} (expected a port number 1..65535)",
                            port_it->dump()));
  }
  bundle.host = host->get<std::string>();
  bundle.port = *port;
  bundle.keyspace = optional_string(doc, "keyspace");
  bundle.local_dc = optional_string(doc, "localDC");
  bundle.cql_port = 0;
  if (auto cql = doc.find("cql_port"); cql != doc.end()) {
    if (auto p = json_port(*cql)) bundle.cql_port = *p;
  }
  return {};
}

Result<SecureConnectBundle> parse_secure_connect_bundle(ByteView zip, std::string source) {
  auto with_source = [&](const Error& e) {
    return fail(e.code, fmt::format("secure connect bundle '{}': {}", source, e.message));
  };
  auto entries = read_zip_entries(zip);
  if (!entries) return with_source(entries.error());

  SecureConnectBundle bundle;
  struct Wanted {
    const char* name;
    std::string* into;
  };
  std::string config_json;
  const Wanted wanted[] = {{"config.json", &config_json},
                           {"ca.crt", &bundle.ca_pem},
                           {"cert", &bundle.cert_pem},
                           {"key", &bundle.key_pem}};
  for (const auto& w : wanted) {
    const std::string* data = find_entry(*entries, w.name);
    if (data == nullptr) {
      return with_source(
          Error{Errc::Malformed, fmt::format("the zip has no '{}' entry (a bundle holds "
                                             "config.json, ca.crt, cert and key; download it "
                                             "again from the Astra console)",
                                             w.name)});
    }
    *w.into = *data;
  }
  if (auto ok = parse_bundle_config_json(config_json, bundle); !ok) {
    return with_source(ok.error());
  }
  bundle.source = std::move(source);
  return bundle;
}

Result<SecureConnectBundle> read_secure_connect_bundle(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Errc::Io, fmt::format("secure connect bundle '{}' cannot be read: {}", path,
                                      std::strerror(errno)));
  }
  // Bounded read: a bundle is kilobytes, so a huge file is a wrong path, not a bundle.
  constexpr size_t kMaxBundleBytes = 64 * 1024 * 1024;
  std::string data;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > kMaxBundleBytes) {
      return fail(Errc::TooLarge,
                  fmt::format("secure connect bundle '{}' is larger than {} MiB: not a bundle",
                              path, kMaxBundleBytes >> 20));
    }
  }
  if (in.bad()) {
    return fail(Errc::Io, fmt::format("secure connect bundle '{}': read error", path));
  }
  return parse_secure_connect_bundle(as_bytes(data), path);
}

}  // namespace zdm::proxy
