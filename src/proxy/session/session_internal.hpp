#pragma once
// Shared by the files of ClientSession (client_session.cpp, session_handshake.cpp,
// session_requests.cpp, session_answers.cpp): owner values of upstream stream ids and the pending
// bits of a slot. Not for use outside the session.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "proxy/proxy_config.hpp"

namespace zdm::proxy::session_detail {

using Clock = std::chrono::steady_clock;

// Owner values of upstream stream ids that are not client requests.
inline constexpr uint32_t kHandshakeOwner = 0xFFFF0000u;
inline constexpr uint32_t kHeartbeatOwner = 0xFFFF0001u;

// Slot::pending bits: which clusters still owe an answer.
inline constexpr uint8_t kOriginBit = 1;
inline constexpr uint8_t kTargetBit = 2;
inline uint8_t bit_of(ClusterType c) { return c == ClusterType::Origin ? kOriginBit : kTargetBit; }

// A session stops reading its client while an upstream connection has more than this queued
// (a slow or stalled node), and resumes below half of it.
inline constexpr size_t kUpstreamBacklogBytes = 4 * 1024 * 1024;

}  // namespace zdm::proxy::session_detail
