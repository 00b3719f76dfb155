#include "proxy/session/handshake_relay.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocol/messages.hpp"
#include "proxy/session/upstream_connection.hpp"

namespace zdm::proxy {

using protocol::Opcode;

HandshakeStep HandshakeRelay::on_startup_answer(ClusterType from, Opcode opcode, ByteView wire,
                                                std::string_view authenticator) {
  Leg& l = leg(from);
  l.answered = true;
  l.opcode = opcode;
  l.held.assign(wire.begin(), wire.end());
  l.dse = opcode == Opcode::Authenticate &&
          authenticator.find("DseAuthenticator") != std::string_view::npos;
  if (!leg(other(from)).answered) return {};
  return both_answered();
}

HandshakeStep HandshakeRelay::both_answered() {
  HandshakeStep step;
  // A refusal goes to the client unchanged so that the driver steps down; origin's first.
  for (ClusterType c : {ClusterType::Origin, ClusterType::Target}) {
    const Leg& l = leg(c);
    if (l.opcode != Opcode::Ready && l.opcode != Opcode::Authenticate) {
      step.to_client = l.held;
      step.failed = true;
      return step;
    }
  }
  const bool origin_auth = leg(ClusterType::Origin).opcode == Opcode::Authenticate;
  const bool target_auth = leg(ClusterType::Target).opcode == Opcode::Authenticate;
  if (!origin_auth && !target_auth) {
    step.to_client = leg(settings_.primary).held;
    step.ready = true;
    return step;
  }
  ClusterType client = origin_auth ? ClusterType::Origin : ClusterType::Target;
  if (origin_auth && target_auth) {
    client =
        settings_.forward_client_credentials_to_origin ? ClusterType::Origin : ClusterType::Target;
    const ClusterType proxy = other(client);
    leg(proxy).auth = Auth::Proxy;
    const std::string& user =
        proxy == ClusterType::Origin ? settings_.origin_username : settings_.target_username;
    // Without configured credentials the client's own are used, once it sends them.
    if (!user.empty()) proxy_login(proxy, std::nullopt, step);
  }
  client_auth_ = client;
  leg(client).auth = Auth::Client;
  step.to_client = leg(client).held;
  step.client_authenticates = true;
  return step;
}

HandshakeStep HandshakeRelay::on_auth_answer(ClusterType from, Opcode opcode, ByteView wire,
                                             std::optional<ByteView> challenge) {
  HandshakeStep step;
  Leg& l = leg(from);
  if (l.auth == Auth::Client) {
    if (opcode == Opcode::AuthChallenge) {
      step.to_client.assign(wire.begin(), wire.end());
    } else if (opcode == Opcode::AuthSuccess) {
      l.auth = Auth::Done;
      l.held.assign(wire.begin(), wire.end());
      finish_if_done(step);
    } else {
      l.auth = Auth::Failed;
      step.to_client.assign(wire.begin(), wire.end());
      step.failed = true;
    }
  } else if (l.auth == Auth::Proxy) {
    if (opcode == Opcode::AuthSuccess || opcode == Opcode::Ready) {
      l.auth = Auth::Done;
      finish_if_done(step);
    } else if (opcode == Opcode::AuthChallenge) {
      proxy_login(from, challenge, step);
    } else {
      spdlog::warn("{} rejected the proxy's credentials", cluster_type_name(from));
      l.auth = Auth::Failed;
      l.held.assign(wire.begin(), wire.end());
      finish_if_done(step);
    }
  }
  return step;
}

HandshakeStep HandshakeRelay::on_client_auth_response(std::optional<ByteView> token) {
  HandshakeStep step;
  // Only a PLAIN initial response ("\0user\0pass") is worth keeping for the other connections.
  if (token && !token->empty() && (*token)[0] == 0 && client_credentials_.empty()) {
    client_credentials_.assign(token->begin(), token->end());
    if (client_auth_) {
      const ClusterType proxy = other(*client_auth_);
      if (leg(proxy).auth == Auth::Proxy && leg(proxy).rounds == 0) {
        proxy_login(proxy, std::nullopt, step);
      }
    }
  }
  return step;
}

void HandshakeRelay::proxy_login(ClusterType c, std::optional<ByteView> challenge,
                                 HandshakeStep& step) {
  Leg& l = leg(c);
  if (++l.rounds > 5) {
    return fail_proxy_login(
        c,
        fmt::format("authentication with {} did not finish after 5 rounds", cluster_type_name(c)),
        step);
  }
  const bool origin = c == ClusterType::Origin;
  const std::string& user = origin ? settings_.origin_username : settings_.target_username;
  const std::string& pass = origin ? settings_.origin_password : settings_.target_password;
  Bytes token;
  if (l.dse && !challenge) {
    // DseAuthenticator: name the mechanism; it answers "PLAIN-START", then the token follows.
    const auto mechanism = as_bytes(std::string_view("PLAIN"));
    token.assign(mechanism.begin(), mechanism.end());
  } else if (challenge && l.dse && as_chars(*challenge) != "PLAIN-START") {
    return fail_proxy_login(c,
                            fmt::format("{} sent an unexpected SASL challenge (only PLAIN is "
                                        "supported)",
                                        cluster_type_name(c)),
                            step);
  } else {
    token = user.empty() ? client_credentials_ : plain_sasl_token(user, pass);
  }
  step.send.push_back({c, std::move(token)});
}

void HandshakeRelay::fail_proxy_login(ClusterType c, std::string message, HandshakeStep& step) {
  Leg& l = leg(c);
  l.auth = Auth::Failed;
  protocol::ErrorMessage e;
  e.code = protocol::ErrorCode::BadCredentials;
  e.message = std::move(message);
  l.held = protocol::encode_frame(
      protocol::make_response(settings_.version, protocol::StreamId{0}, protocol::ResponseBody(e)));
  finish_if_done(step);
}

void HandshakeRelay::finish_if_done(HandshakeStep& step) {
  if (!client_auth_ || leg(*client_auth_).auth != Auth::Done) return;
  const Leg& proxy = leg(other(*client_auth_));
  if (proxy.auth == Auth::Failed) {
    step.to_client = proxy.held;
    step.failed = true;
    return;
  }
  if (proxy.auth == Auth::Proxy) return;  // the proxy's own login is still going on
  step.to_client = leg(*client_auth_).held;
  step.ready = true;
}

}  // namespace zdm::proxy
