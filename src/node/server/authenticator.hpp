#pragma once
// The node's PasswordAuthenticator: SASL PLAIN over AUTH_RESPONSE, checked against the users given
// at start (`--user name:password`), with Cassandra's class name and error messages so drivers
// and their auth providers behave as against a real cluster.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm::node {

inline constexpr std::string_view kPasswordAuthenticatorClass =
    "org.apache.cassandra.auth.PasswordAuthenticator";
// DSE's authenticator: the client names a SASL mechanism first ("PLAIN"), the server answers the
// challenge "PLAIN-START", then the PLAIN token follows. A PLAIN token sent straight away is also
// accepted, as DSE does for clients with a plain PasswordAuthenticator provider.
inline constexpr std::string_view kDseAuthenticatorClass =
    "com.datastax.bdp.cassandra.auth.DseAuthenticator";

enum class AuthenticatorKind : uint8_t { Password, Dse };

// "PasswordAuthenticator" / "DseAuthenticator", with or without the package name.
Result<AuthenticatorKind> parse_authenticator_kind(std::string_view name);

struct UserCredential {
  std::string name;
  std::string password;
};

// "name:password" (the password may itself contain ':').
Result<UserCredential> parse_user_spec(std::string_view spec);

class Authenticator {
 public:
  explicit Authenticator(const std::vector<UserCredential>& users);

  // Checks a SASL PLAIN token ([authzid] NUL authcid NUL password). Returns the user name, or the
  // message of a BadCredentials error: "Provided username x and/or password are incorrect".
  Result<std::string> authenticate(ByteView token) const;

 private:
  std::unordered_map<std::string, std::string> passwords_;
};

}  // namespace zdm::node
