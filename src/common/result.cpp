#include "common/result.hpp"

namespace zdm {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::Truncated:
      return "truncated";
    case Errc::Malformed:
      return "malformed";
    case Errc::Unsupported:
      return "unsupported";
    case Errc::ChecksumMismatch:
      return "checksum mismatch";
    case Errc::TooLarge:
      return "too large";
    case Errc::Compression:
      return "compression";
    case Errc::InvalidArgument:
      return "invalid argument";
    case Errc::Io:
      return "i/o";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string out(errc_name(code));
  out += ": ";
  out += message;
  return out;
}

tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace zdm
