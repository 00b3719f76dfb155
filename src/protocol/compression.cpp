#include "protocol/compression.hpp"

#include <lz4.h>

#include <algorithm>
#include <cctype>
#include <climits>

#include <fmt/format.h>
#include <snappy-c.h>

namespace zdm::protocol {
namespace {

// An LZ4 block expands at most ~255:1 (one extension byte adds at most 255 to a length), Snappy
// at most ~22:1 (a 3-byte copy tag yields at most 64 bytes). A declared length beyond these
// bounds cannot be honest, so it is rejected before the output buffer is sized for it.
constexpr size_t kLz4MaxRatio = 255;
constexpr size_t kSnappyMaxRatio = 32;
constexpr size_t kRatioSlack = 64;

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

size_t expansion_bound(size_t compressed, size_t ratio) {
  if (compressed > (SIZE_MAX - kRatioSlack) / ratio) return SIZE_MAX;
  return compressed * ratio + kRatioSlack;
}

Result<void> check_declared_length(std::string_view algo, size_t declared, size_t compressed,
                                   size_t ratio, size_t max_uncompressed) {
  if (declared > max_uncompressed) {
    return fail(Errc::TooLarge,
                fmt::format("{} body declares {} uncompressed bytes, over the limit of {}", algo,
                            declared, max_uncompressed));
  }
  if (declared > expansion_bound(compressed, ratio)) {
    return fail(Errc::Compression,
                fmt::format("{} body declares {} uncompressed bytes, impossible for {} "
                            "compressed bytes",
                            algo, declared, compressed));
  }
  return {};
}

Result<void> lz4_body_compress(ByteView body, Bytes& out) {
  if (body.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE) || body.size() > UINT32_MAX) {
    return fail(Errc::TooLarge, fmt::format("lz4 cannot compress a body of {} bytes", body.size()));
  }
  size_t at = out.size();
  out.resize(at + 4);
  store_be32(out.data() + at, static_cast<uint32_t>(body.size()));
  return lz4_compress_block(body, out);
}

Result<void> lz4_body_decompress(ByteView body, Bytes& out, size_t max_uncompressed) {
  if (body.empty()) return {};
  if (body.size() < 4) {
    return fail(
        Errc::Compression,
        fmt::format("lz4 body of {} bytes is shorter than its 4-byte length prefix", body.size()));
  }
  size_t declared = load_be32(body.data());
  ByteView block = body.subspan(4);
  if (declared == 0 && block.empty()) return {};  // a bare zero prefix: nothing to decode
  if (auto ok =
          check_declared_length("lz4", declared, block.size(), kLz4MaxRatio, max_uncompressed);
      !ok) {
    return ok;
  }
  return lz4_decompress_block(block, declared, out);
}

Result<void> snappy_body_compress(ByteView body, Bytes& out) {
  size_t at = out.size();
  size_t capacity = snappy_max_compressed_length(body.size());
  out.resize(at + capacity);
  size_t written = capacity;
  snappy_status st = snappy_compress(reinterpret_cast<const char*>(body.data()), body.size(),
                                     reinterpret_cast<char*>(out.data() + at), &written);
  if (st != SNAPPY_OK) {
    out.resize(at);
    return fail(Errc::Compression,
                fmt::format("snappy failed to compress a body of {} bytes (status {})", body.size(),
                            static_cast<int>(st)));
  }
  out.resize(at + written);
  return {};
}

Result<void> snappy_body_decompress(ByteView body, Bytes& out, size_t max_uncompressed) {
  if (body.empty()) return {};
  const char* src = reinterpret_cast<const char*>(body.data());
  size_t declared = 0;
  if (snappy_uncompressed_length(src, body.size(), &declared) != SNAPPY_OK) {
    return fail(Errc::Compression, fmt::format("snappy body of {} bytes has a corrupt length "
                                               "header",
                                               body.size()));
  }
  if (auto ok =
          check_declared_length("snappy", declared, body.size(), kSnappyMaxRatio, max_uncompressed);
      !ok) {
    return ok;
  }
  size_t at = out.size();
  out.resize(at + declared);
  size_t written = declared;
  char empty_target = 0;  // never hand the library a null output pointer
  char* target = declared == 0 ? &empty_target : reinterpret_cast<char*>(out.data() + at);
  snappy_status st = snappy_uncompress(src, body.size(), target, &written);
  if (st != SNAPPY_OK || written != declared) {
    out.resize(at);
    return fail(Errc::Compression, fmt::format("snappy body of {} bytes is corrupt (status {})",
                                               body.size(), static_cast<int>(st)));
  }
  return {};
}

}  // namespace

Result<Compression> compression_from_name(std::string_view name) {
  if (equals_ignore_case(name, "lz4")) return Compression::Lz4;
  if (equals_ignore_case(name, "snappy")) return Compression::Snappy;
  return fail(Errc::Unsupported,
              fmt::format("unsupported COMPRESSION option '{}' (supported: lz4, snappy)", name));
}

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::None:
      return "none";
    case Compression::Lz4:
      return "lz4";
    case Compression::Snappy:
      return "snappy";
  }
  return "unknown";
}

Result<void> compress_body_into(Compression c, ByteView body, Bytes& out) {
  switch (c) {
    case Compression::None:
      out.insert(out.end(), body.begin(), body.end());
      return {};
    case Compression::Lz4:
      return lz4_body_compress(body, out);
    case Compression::Snappy:
      return snappy_body_compress(body, out);
  }
  return fail(Errc::InvalidArgument, "unknown compression algorithm");
}

Result<Bytes> compress_body(Compression c, ByteView body) {
  Bytes out;
  if (auto ok = compress_body_into(c, body, out); !ok) return tl::unexpected(ok.error());
  return out;
}

Result<void> decompress_body_into(Compression c, ByteView body, Bytes& out,
                                  size_t max_uncompressed) {
  switch (c) {
    case Compression::None:
      if (body.size() > max_uncompressed) {
        return fail(Errc::TooLarge, fmt::format("body of {} bytes is over the limit of {}",
                                                body.size(), max_uncompressed));
      }
      out.insert(out.end(), body.begin(), body.end());
      return {};
    case Compression::Lz4:
      return lz4_body_decompress(body, out, max_uncompressed);
    case Compression::Snappy:
      return snappy_body_decompress(body, out, max_uncompressed);
  }
  return fail(Errc::InvalidArgument, "unknown compression algorithm");
}

Result<Bytes> decompress_body(Compression c, ByteView body, size_t max_uncompressed) {
  Bytes out;
  if (auto ok = decompress_body_into(c, body, out, max_uncompressed); !ok) {
    return tl::unexpected(ok.error());
  }
  return out;
}

Result<void> lz4_compress_block(ByteView in, Bytes& out) {
  if (in.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return fail(Errc::TooLarge, fmt::format("lz4 cannot compress {} bytes", in.size()));
  }
  int src_size = static_cast<int>(in.size());
  int bound = LZ4_compressBound(src_size);
  size_t at = out.size();
  out.resize(at + static_cast<size_t>(bound));
  const char empty_source = 0;  // never hand the library a null input pointer
  const char* source = in.empty() ? &empty_source : reinterpret_cast<const char*>(in.data());
  int written =
      LZ4_compress_default(source, reinterpret_cast<char*>(out.data() + at), src_size, bound);
  if (written <= 0) {
    out.resize(at);
    return fail(Errc::Compression, fmt::format("lz4 failed to compress {} bytes", in.size()));
  }
  out.resize(at + static_cast<size_t>(written));
  return {};
}

Result<void> lz4_decompress_block(ByteView in, size_t uncompressed_length, Bytes& out) {
  if (in.size() > static_cast<size_t>(INT_MAX) ||
      uncompressed_length > static_cast<size_t>(INT_MAX)) {
    return fail(Errc::TooLarge, fmt::format("lz4 block of {} bytes declaring {} is too large",
                                            in.size(), uncompressed_length));
  }
  if (uncompressed_length > expansion_bound(in.size(), kLz4MaxRatio)) {
    return fail(Errc::Compression,
                fmt::format("lz4 block declares {} uncompressed bytes, impossible for {} "
                            "compressed bytes",
                            uncompressed_length, in.size()));
  }
  size_t at = out.size();
  out.resize(at + uncompressed_length);
  char empty_target = 0;  // never hand the library a null output pointer
  char* target =
      uncompressed_length == 0 ? &empty_target : reinterpret_cast<char*>(out.data() + at);
  // LZ4_decompress_safe never writes past dstCapacity and reports corrupt input as negative.
  int written =
      LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()), target,
                          static_cast<int>(in.size()), static_cast<int>(uncompressed_length));
  if (written < 0 || static_cast<size_t>(written) != uncompressed_length) {
    out.resize(at);
    return fail(Errc::Compression,
                fmt::format("lz4 block of {} bytes is corrupt or does not decode to the declared "
                            "{} bytes (result {})",
                            in.size(), uncompressed_length, written));
  }
  return {};
}

}  // namespace zdm::protocol
