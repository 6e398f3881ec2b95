// The pssh tools' environment variables and OpenSSH "-o Key=Value" options.
#pragma once

#include <pssh/export.hpp>
#include <pssh/hosts.hpp>
#include <pssh/options.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pssh {

/// Everything the environment says (see ClientOptions::from_env()).
struct Environment {
  ClientOptions options{};       ///< PSSH_USER, PSSH_PAR, PSSH_TIMEOUT, PSSH_OPTIONS
  std::vector<HostEntry> hosts{};  ///< PSSH_HOSTS: a hosts file (read_hosts_file)
  std::optional<std::string> outdir{};  ///< PSSH_OUTDIR
  bool verbose = false;                 ///< PSSH_VERBOSE: 1/yes/true or 0/no/false
};

/// Reads the environment over `base`. std::invalid_argument naming the
/// variable for a bad value ("PSSH_PAR='many': expected a positive number").
PSSH_API Environment read_environment(ClientOptions base = {});

/// Applies one OpenSSH-style option ("Port=2222", "User deploy"): Port, User,
/// IdentityFile, StrictHostKeyChecking (yes/accept-new/no),
/// UserKnownHostsFile, ConnectTimeout, ConnectionAttempts,
/// ServerAliveInterval, Compression, ForwardAgent, ProxyJump (one hop),
/// GSSAPIAuthentication. std::invalid_argument for others or a bad value.
PSSH_API void apply_ssh_option(ClientOptions& options, std::string_view option);

}  // namespace pssh
