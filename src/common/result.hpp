#pragma once
// Result<T>: the error-returning convention of the data path (no exceptions there).

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace zdm {

// Broad class of a failure; the message says what failed and where.
enum class Errc {
  Truncated,         // input ended before the value it announced
  Malformed,         // input is structurally invalid
  Unsupported,       // valid but not supported (unknown version, opcode, type)
  ChecksumMismatch,  // CRC check failed
  TooLarge,          // a length exceeds a configured or protocol bound
  Compression,       // compressing or decompressing failed
  InvalidArgument,   // caller passed something unusable
  Io,                // operating-system level failure
};

std::string_view errc_name(Errc code);

struct Error {
  Errc code;
  std::string message;

  // "malformed: [string] length 70000 exceeds the 12 bytes left"
  std::string to_string() const;
};

template <class T>
using Result = tl::expected<T, Error>;

// Builds the failure branch of a Result. Cold: errors are off the hot path.
[[gnu::cold]] tl::unexpected<Error> fail(Errc code, std::string message);

}  // namespace zdm
