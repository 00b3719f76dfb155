#include "node/server/authenticator.hpp"

#include <fmt/format.h>

namespace zdm::node {

Result<UserCredential> parse_user_spec(std::string_view spec) {
  const auto colon = spec.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return fail(Errc::InvalidArgument,
                fmt::format("user '{}' is not name:password, e.g. cassandra:cassandra", spec));
  }
  return UserCredential{std::string(spec.substr(0, colon)), std::string(spec.substr(colon + 1))};
}

Result<AuthenticatorKind> parse_authenticator_kind(std::string_view name) {
  auto short_name = [](std::string_view full) { return full.substr(full.rfind('.') + 1); };
  if (name == kPasswordAuthenticatorClass || name == short_name(kPasswordAuthenticatorClass)) {
    return AuthenticatorKind::Password;
  }
  if (name == kDseAuthenticatorClass || name == short_name(kDseAuthenticatorClass)) {
    return AuthenticatorKind::Dse;
  }
  return fail(Errc::InvalidArgument,
              fmt::format("authenticator '{}' is not served; choose PasswordAuthenticator or "
                          "DseAuthenticator ({} or {})",
                          name, kPasswordAuthenticatorClass, kDseAuthenticatorClass));
}

Authenticator::Authenticator(const std::vector<UserCredential>& users) {
  for (const auto& u : users) passwords_[u.name] = u.password;
}

Result<std::string> Authenticator::authenticate(ByteView token) const {
  // Same parsing as Cassandra's PlainTextSaslAuthenticator: scan from the end, password after the
  // last NUL, user between the previous NUL and it; the optional authzid is ignored.
  const std::string_view text = as_chars(token);
  const auto last = text.rfind('\0');
  if (last == std::string_view::npos) {
    return fail(Errc::InvalidArgument, "Authentication ID must not be null");
  }
  const std::string_view password = text.substr(last + 1);
  const std::string_view head = text.substr(0, last);
  const auto before = head.rfind('\0');
  const std::string_view user = before == std::string_view::npos ? head : head.substr(before + 1);
  if (user.empty()) return fail(Errc::InvalidArgument, "Authentication ID must not be null");
  if (password.empty()) return fail(Errc::InvalidArgument, "Password must not be null");
  const auto it = passwords_.find(std::string(user));
  if (it == passwords_.end() || it->second != password) {
    return fail(Errc::InvalidArgument,
                fmt::format("Provided username {} and/or password are incorrect", user));
  }
  return std::string(user);
}

}  // namespace zdm::node
