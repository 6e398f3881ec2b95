/// \file
/// The pssh tools' environment variables and OpenSSH "-o Key=Value" options.
#pragma once

#include <pssh/errors.hpp>
#include <pssh/export.hpp>
#include <pssh/hosts.hpp>
#include <pssh/options.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pssh {

/// Everything the environment says (see ClientOptions::from_env()).
struct Environment {
  ClientOptions options{};       ///< PSSH_USER, PSSH_PAR, PSSH_OPTIONS
  /// PSSH_TIMEOUT (seconds): for RunOptions::command_timeout, as pssh's -t.
  std::optional<duration> command_timeout{};
  std::vector<HostEntry> hosts{};  ///< PSSH_HOSTS: a hosts file (read_hosts_file)
  std::optional<std::string> outdir{};  ///< PSSH_OUTDIR
  bool verbose = false;                 ///< PSSH_VERBOSE: 1/yes/true or 0/no/false
};

/// Reads the environment over `base`. ConfigError naming the
/// variable for a bad value ("PSSH_PAR='many': expected a positive number").
PSSH_API Environment read_environment(ClientOptions base = {});

/// Applies one OpenSSH option ("Port=2222", "User deploy"), as ssh's -o:
/// it sets the ClientOptions field the keyword stands for, so it beats the
/// ssh config (a later call replaces an earlier one). The keyword has the
/// one meaning it has in an ssh config file (StrictHostKeyChecking no means
/// HostKeyPolicy::ignore, as in ssh(1); see README "OpenSSH options").
/// Keywords pssh ignores in a config are accepted and dropped.
/// ConfigError for a bad value, a keyword pssh cannot honour, or
/// one with no option field (Ciphers, SendEnv, ...: set those in a config).
PSSH_API void apply_ssh_option(ClientOptions& options, std::string_view option);
/// The same for one host's overrides.
PSSH_API void apply_ssh_option(HostConfig& config, std::string_view option);

/// The settings pssh will use for `host` with `options` (and `config`), as
/// `ssh -G` prints them: pairs of a lower-case keyword and its value, in
/// ssh's spelling ("stricthostkeychecking" "true", one "identityfile" pair
/// per file), for every keyword pssh supports. The ssh configs named in
/// `options` are read (and `Match exec` commands run) as for a connection.
/// Nothing is connected and no key is loaded. HostArgumentError for a
/// config line the host cannot be reached with.
PSSH_API std::vector<std::pair<std::string, std::string>> effective_ssh_options(
    const std::string& host, const ClientOptions& options, const HostConfig& config = {});

}  // namespace pssh
