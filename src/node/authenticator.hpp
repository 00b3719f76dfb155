#pragma once
// The node's PasswordAuthenticator: SASL PLAIN over AUTH_RESPONSE, checked against the users given
// at start (`--user name:password`), with Cassandra's class name and error messages so drivers
// and their auth providers behave as against a real cluster.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm::node {

inline constexpr std::string_view kPasswordAuthenticatorClass =
    "org.apache.cassandra.auth.PasswordAuthenticator";

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
