// "[user@]host[:port]" as host lists, -H, ProxyJump (ssh config, -x, JSON,
// PSSH_OPTIONS) and ssh(1)'s destination write it: one reading, one error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pssh::detail {

/// Where to connect, as written; what it leaves out comes from the options,
/// the ssh config or the defaults.
struct Endpoint {
  std::optional<std::string> user;
  /// An IPv6 literal keeps its brackets ("[::1]"; they come off where the
  /// address is used) and host-list ranges are not expanded here.
  std::string host;
  std::optional<int> port;
};

/// Reads "host", "user@host", "host:port", "user@host:port", "[v6]",
/// "[v6]:port", "user@[v6]:port" and a bare IPv6 address (several colons:
/// no port), each also as ssh(1)'s URI "ssh://[user@]host[:port]". A
/// HostArgumentError (naming no host) quotes `text`, says what is wrong and
/// what to write; callers put where it was written in front of it.
Endpoint parse_endpoint(std::string_view text);

/// ProxyJump's value: endpoints separated by commas, first hop first;
/// "none" gives none. parse_endpoint's error for the first bad hop.
std::vector<Endpoint> parse_jump_hops(std::string_view value);

/// A port as ssh_config's Port and "host:port" take it: digits only,
/// 1-65535. HostArgumentError "'x' is not a port number (1-65535)".
int parse_port(std::string_view text);

}  // namespace pssh::detail
