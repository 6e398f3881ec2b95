// Name resolution, TCP connect with a deadline, and the local agent: pssh opens the socket
// itself and hands it to libssh, so that connect is bounded and abortable.
#pragma once

#include "base/clock.hpp"
#include "base/unique_fd.hpp"

#include <pssh/options.hpp>

#include <sys/socket.h>

#include <stop_token>
#include <string>
#include <vector>

namespace pssh::detail {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
  std::string text;  ///< "10.0.0.1" or "::1", for messages
};

/// All addresses of `hostname` (IPv6 only if asked). UnknownHostError when the
/// name does not resolve, NoIPv6AddressFoundError when it has no IPv6 address,
/// Timeout when DNS has not answered by `deadline`; empty if `stop` is
/// requested first.
std::vector<Address> resolve(const std::string& label, const std::string& hostname, int port,
                             bool ipv6_only, Clock::time_point deadline, std::stop_token stop);

/// A non-blocking socket with connect() started towards `address`.
UniqueFd start_connect(const Address& address, int& error);

/// A non-blocking connection to the local agent at `path` (see
/// agent_socket_path), or an empty fd (no agent, or its backlog is full:
/// connect never waits).
UniqueFd connect_local_agent(const std::optional<std::string>& path);

/// Lets the kernel notice a peer that vanished without a reset: TCP
/// keepalive probes after `interval` idle, and TCP_USER_TIMEOUT for data
/// unacknowledged for 4 intervals (as keepalive answers are waited for).
/// Nothing when `interval` is zero.
void keep_alive(int fd, duration interval);

/// Waits until the connect started on `fd` completes or `deadline` passes.
/// Returns 0 on success, the socket error (or ETIMEDOUT) otherwise.
int finish_connect(int fd, Clock::time_point deadline);

}  // namespace pssh::detail
