// The part of OpenSSH's client config pssh honours for a host.
#pragma once

#include <pssh/options.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pssh::detail {

struct SshConfigEntry {
  std::optional<std::string> hostname, user, proxy_jump;
  std::optional<int> port;
  std::optional<bool> forward_agent, compression;
  std::optional<int> server_alive_interval;  ///< seconds
  std::vector<std::string> identity_files;  ///< as written: "~" and %-tokens unexpanded
};

/// Settings for `host` from config text, first value winning as in ssh(1).
/// `Host` patterns support `*`, `?` and `!`; `Match` blocks and `Include` are
/// skipped. `origin` names the text in errors (a bad Port throws pssh::Error).
SshConfigEntry lookup_ssh_config(std::string_view text, const std::string& host,
                                 const std::string& origin);

/// ProxyJump's "[user@]host[:port]" hops (comma-separated, "ssh://" allowed),
/// first hop first; "none" gives none. A bad port throws pssh::Error naming
/// `host` and `origin`.
std::vector<ProxyConfig> parse_proxy_jump(const std::string& value, const std::string& host,
                                          const std::string& origin);

}  // namespace pssh::detail
