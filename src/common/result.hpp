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

// Early return on failure, the one family used across the code base:
//   ZDM_TRY(lhs, expr)             lhs = *expr (a declaration or an lvalue), or return the error
//   ZDM_TRY_OR(lhs, expr, ret)     the same, returning `ret` on failure; `ret` may use
//                                  `try_error` (the zdm::Error&), e.g. to name the field
//   ZDM_CHECK(expr)                for Result<void>: return the error, if any
//   ZDM_CHECK_OR(expr, ret)        the same, returning `ret`
// At most one ZDM_TRY per line (the temporary is named after the line).
#define ZDM_TRY_CONCAT_INNER(a, b) a##b
#define ZDM_TRY_CONCAT(a, b) ZDM_TRY_CONCAT_INNER(a, b)
#define ZDM_TRY_IMPL(tmp, lhs, expr, ret)                   \
  auto tmp = (expr);                                        \
  if (!tmp) {                                               \
    [[maybe_unused]] ::zdm::Error& try_error = tmp.error(); \
    return ret;                                             \
  }                                                         \
  lhs = std::move(*tmp)
#define ZDM_TRY_OR(lhs, expr, ret) \
  ZDM_TRY_IMPL(ZDM_TRY_CONCAT(zdm_try_result_, __LINE__), lhs, expr, ret)
#define ZDM_TRY(lhs, expr) ZDM_TRY_OR(lhs, expr, ::tl::unexpected(std::move(try_error)))
#define ZDM_CHECK_OR(expr, ret)                                             \
  do {                                                                      \
    auto zdm_check_result_ = (expr);                                        \
    if (!zdm_check_result_) {                                               \
      [[maybe_unused]] ::zdm::Error& try_error = zdm_check_result_.error(); \
      return ret;                                                           \
    }                                                                       \
  } while (false)
#define ZDM_CHECK(expr) ZDM_CHECK_OR(expr, ::tl::unexpected(std::move(try_error)))
