#pragma once
// Frame body compression of the native protocol (spec section 5), as Cassandra and the drivers do
// it: LZ4 bodies are a 4-byte big-endian uncompressed length followed by a raw LZ4 block; Snappy
// bodies are raw Snappy. The algorithm is chosen by the STARTUP "COMPRESSION" option. In v5 the
// same raw LZ4 block (without the length prefix) compresses segment payloads instead.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm::protocol {

enum class Compression : uint8_t { None, Lz4, Snappy };

// Parses the STARTUP "COMPRESSION" option value ("lz4", "snappy"; case-insensitive, as Cassandra
// lower-cases it). Unknown names fail with Errc::Unsupported.
Result<Compression> compression_from_name(std::string_view name);
std::string_view compression_name(Compression c);  // "none", "lz4", "snappy"

// Default bound on the uncompressed size a compressed body may declare: the spec's 256 MB frame
// cap.
inline constexpr size_t kDefaultMaxUncompressedLength = 256u * 1024 * 1024;

// Compresses a frame body. Compression::None copies the input. Appending variants reuse the
// caller's buffer (the hot path); the Result<Bytes> ones allocate.
Result<void> compress_body_into(Compression c, ByteView body, Bytes& out);
Result<Bytes> compress_body(Compression c, ByteView body);

// Decompresses a frame body. The uncompressed length the input declares is checked against
// `max_uncompressed` and against what the compressed size can possibly expand to BEFORE anything
// is allocated; corrupt input fails with Errc::Compression, an over-large declaration with
// Errc::TooLarge. An empty input decompresses to an empty body (for both algorithms).
Result<void> decompress_body_into(Compression c, ByteView body, Bytes& out,
                                  size_t max_uncompressed = kDefaultMaxUncompressedLength);
Result<Bytes> decompress_body(Compression c, ByteView body,
                              size_t max_uncompressed = kDefaultMaxUncompressedLength);

// Raw LZ4 blocks (no length prefix), as v5 segments carry them.
// Appends the compressed block of `in` to `out`.
Result<void> lz4_compress_block(ByteView in, Bytes& out);
// Appends exactly `uncompressed_length` bytes decoded from `in` to `out`; any other outcome
// (corrupt block, shorter or longer output) is Errc::Compression.
Result<void> lz4_decompress_block(ByteView in, size_t uncompressed_length, Bytes& out);

}  // namespace zdm::protocol
