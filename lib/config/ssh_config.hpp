// The part of OpenSSH's client config pssh honours for a host.
#pragma once

#include <pssh/options.hpp>

#include <functional>
#include <map>
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
  std::optional<int> connection_attempts;
  std::optional<HostKeyPolicy> strict_host_key_checking;  ///< "no" reads as accept_new
  std::optional<std::string> user_known_hosts_file;       ///< the first file named
  /// Algorithm lists as written, for libssh (which reads "+", "-" and "^").
  std::optional<std::string> ciphers, macs, kex_algorithms, host_key_algorithms;
  std::vector<std::string> identity_files;  ///< as written: "~" and %-tokens unexpanded
};

struct IncludedFile {
  std::string path, text;
};
/// The files an `Include` argument names, in order (see read_included_files).
using IncludeReader = std::function<std::vector<IncludedFile>(const std::string& pattern)>;

/// Settings for `host` from config text, first value winning as in ssh(1).
/// `Host` patterns support `*`, `?` and `!`. `Match` understands `all`, `host`
/// (after HostName) and `originalhost`; a block with another criterion
/// (exec, user, ...) is skipped.
/// `Include` reads through `include` (none: Include is ignored), 16 deep at
/// most, and applies only where it stands in a matching block, as in ssh(1).
/// `origin` names the text in errors (a bad Port throws pssh::Error).
SshConfigEntry lookup_ssh_config(std::string_view text, const std::string& host,
                                 const std::string& origin, const IncludeReader& include = {});

/// ssh(1)'s reading of an Include argument met in the config file at
/// `origin`: "~" expanded, a relative path taken from ~/.ssh (from /etc/ssh
/// in a config under /etc/ssh), glob patterns in sorted order. A file that
/// matches but cannot be read throws pssh::Error naming it.
std::vector<IncludedFile> read_included_files(const std::string& pattern, const std::string& origin);

/// A client's ssh config, read once. The files its Includes name are read on
/// first use and kept, so that a thousand hosts do not read them a thousand
/// times. Not thread-safe: hosts are resolved on one thread (set_hosts).
class SshConfigFile {
 public:
  SshConfigFile() = default;  ///< none: every lookup is empty
  explicit SshConfigFile(std::string path);  ///< a missing file reads as empty, as in ssh(1)
  const std::string& path() const { return path_; }
  SshConfigEntry lookup(const std::string& host) const;

 private:
  std::string path_, text_;
  mutable std::map<std::string, std::vector<IncludedFile>> included_;  // by Include argument
};

/// One ProxyJump hop as written; what it leaves out comes from the hop's
/// own config entry, as when ssh(1) runs the jump.
struct JumpHop {
  std::string host;
  std::optional<int> port;
  std::optional<std::string> user;
};

/// ProxyJump's "[user@]host[:port]" hops (comma-separated, "ssh://" allowed),
/// first hop first; "none" gives none. A bad port throws pssh::Error naming
/// `host` and `origin`.
std::vector<JumpHop> parse_proxy_jump(const std::string& value, const std::string& host,
                                          const std::string& origin);

}  // namespace pssh::detail
