// Reading OpenSSH client configs as ssh(1) does: the user's file, then the
// system's, Host and Match blocks, Include, a second pass for `Match final`.
#pragma once

#include "config/endpoint.hpp"
#include "config/ssh_options.hpp"

#include <pssh/options.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pssh::detail {

/// A host's view of its configs.
struct SshConfigEntry {
  SshOptions options;
  /// HostName with %h expanded (else the host), lower case unless an
  /// address, as ssh(1) names the host it connects to.
  std::string hostname;
};

/// What Match and the tokens see besides the configs: values set
/// explicitly, which ssh(1) would have from its command line.
struct LookupContext {
  std::optional<std::string> user;  ///< the remote user, if set explicitly
  std::optional<int> port;
  /// A `Match exec` command still running after this is killed, and the
  /// host's lookup fails: a hung command must not hang the library.
  duration exec_timeout = std::chrono::seconds(60);
  /// False: a `Match exec` that would run is an error (fuzzing runs no input).
  bool run_exec = true;
};

struct IncludedFile {
  std::string path, text;
};
/// The files an `Include` argument names, in order; `system` says the
/// Include stands in the system config (see read_included_files).
using IncludeReader =
    std::function<std::vector<IncludedFile>(const std::string& pattern, bool system)>;

/// One config's text; `system` for /etc/ssh/ssh_config and what it includes.
struct ConfigText {
  std::string origin;  ///< names the file in errors
  std::string_view text;
  bool system = false;
};

/// Settings for `host` (as given, without brackets) from `configs`, read in
/// order with the first value winning, as ssh(1) reads the user's file and
/// then the system's. Host patterns (`*`, `?`, `!`) are matched as ssh(1)
/// does (case-sensitive); Match knows all, canonical, final, exec, host,
/// originalhost, user and localuser, each negatable with "!". When a
/// `Match final` exists the configs are read a second time with `final`
/// true and the host name as HostName made it (ssh(1) with
/// CanonicalizeHostname off). `Include` reads through `include` (none:
/// ignored), 16 deep at most, and applies only where it stands in a
/// matching block. Every error is a HostArgumentError naming `label`, the
/// file and line.
SshConfigEntry lookup_ssh_config(const std::vector<ConfigText>& configs, const std::string& host,
                                 const std::string& label, const LookupContext& context = {},
                                 const IncludeReader& include = {});
/// One config text, for tests and fuzzing.
SshConfigEntry lookup_ssh_config(std::string_view text, const std::string& host,
                                 const std::string& origin, const IncludeReader& include = {});

/// ssh(1)'s reading of an Include argument: "~" expanded, a relative path
/// taken from ~/.ssh (from /etc/ssh when `system`), glob patterns in sorted
/// order. A file that matches but cannot be read throws pssh::Error.
std::vector<IncludedFile> read_included_files(const std::string& pattern, bool system);

/// A client's ssh configs (the user's, then the system's), read once. The
/// files their Includes name are read on first use and kept, so that a
/// thousand hosts do not read them a thousand times. Not thread-safe: hosts
/// are resolved on one thread (set_hosts).
class SshConfigFile {
 public:
  SshConfigFile() = default;  ///< none: every lookup is empty
  /// A missing file reads as empty, as in ssh(1); nullopt: none.
  SshConfigFile(std::optional<std::string> user_path, std::optional<std::string> system_path);
  /// The user's file, for messages (empty if none).
  const std::string& path() const { return user_.path; }
  SshConfigEntry lookup(const std::string& host, const std::string& label,
                        const LookupContext& context) const;

 private:
  struct File {
    std::string path, text;
    bool present = false;
  };
  File user_, system_;
  mutable std::map<std::pair<std::string, bool>, std::vector<IncludedFile>> included_;
};

/// ProxyJump's hops (parse_jump_hops), first hop first; "none" gives none.
/// What a hop leaves out comes from the hop's own config entry, as when
/// ssh(1) runs the jump. A bad hop is a HostArgumentError naming `host` and
/// `origin`.
std::vector<Endpoint> parse_proxy_jump(const std::string& value, const std::string& host,
                                       const std::string& origin);

/// The local facts tokens and Match use, read once: user name, uid and
/// host names. (%d is $HOME, read at each use, as "~" everywhere in pssh.)
struct LocalFacts {
  std::string user, uid, hostname, short_hostname;
  static const LocalFacts& get();
};

/// %C: ssh(1)'s connection hash, SHA-1 of %l%h%p%r in hex.
std::string connection_hash(const std::string& local_host, const std::string& host,
                            const std::string& port, const std::string& user);

}  // namespace pssh::detail
