// Credentials and configuration: defaults for every host (ClientOptions) and
// per-host overrides (HostConfig), in parallel-ssh's vocabulary.
#pragma once

#include <pssh/event.hpp>
#include <pssh/export.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace pssh {

using duration = std::chrono::milliseconds;

/// A private key from a file or from memory. Key material given with
/// `memory()` is parsed in memory and never written to disk.
class PSSH_API PrivateKey {
 public:
  /// "~" at the start of `path` is expanded to the home directory.
  static PrivateKey file(const std::string& path, std::string passphrase = {});
  static PrivateKey memory(std::string pem, std::string passphrase = {});

  bool in_memory() const noexcept { return in_memory_; }
  /// The expanded path, or "<in-memory key>".
  const std::string& path() const noexcept { return path_; }
  const std::string& pem() const noexcept { return pem_; }
  const std::string& passphrase() const noexcept { return passphrase_; }
  bool operator==(const PrivateKey&) const = default;

 private:
  PrivateKey() = default;
  bool in_memory_ = false;
  std::string path_, pem_, passphrase_;
};

enum class HostKeyPolicy {
  strict,      ///< refuse unknown and changed keys
  accept_new,  ///< record unknown keys in known_hosts, refuse changed ones
  ignore,      ///< accept any key (for throwaway hosts only)
};

/// A bastion / jump host the targets are reached through.
struct ProxyConfig {
  std::string host{};
  int port = 22;
  std::optional<std::string> user{}, password{};
  std::optional<PrivateKey> pkey{};
  bool operator==(const ProxyConfig&) const = default;
};

/// Defaults for every host of a client.
struct ClientOptions {
  /// Login name. Empty: ~/.ssh/config's User for the host, else the current user.
  std::string user{};
  std::optional<std::string> password{};
  int port = 22;
  std::optional<PrivateKey> pkey{};
  std::optional<std::string> cert_file{};  ///< OpenSSH certificate for pkey
  bool allow_agent = true;
  bool identity_auth = true;  ///< try ~/.ssh/id_* or the config's IdentityFile
  bool forward_agent = false;
  bool gssapi_auth = false;
  std::optional<std::string> gssapi_server_identity{};  ///< default: the host name
  std::optional<std::string> gssapi_client_identity{};  ///< default: the cached principal
  bool gssapi_delegate_credentials = false;
  int num_retries = 3;  ///< extra connection attempts after a failed one
  duration retry_delay = std::chrono::seconds(5);
  duration timeout = std::chrono::seconds(60);  ///< each blocking session step
  std::size_t pool_size = 100;                  ///< hosts worked on at once
  std::optional<ProxyConfig> proxy{};
  bool ipv6_only = false;
  bool compress = false;
  /// Liveness of idle connections: a keepalive request after this long
  /// without traffic, and the host is lost (Timeout) when 3 in a row go
  /// unanswered; TCP keepalive and TCP_USER_TIMEOUT (4 intervals) on every
  /// socket. A vanished host thus ends within about 4 intervals (2 minutes
  /// by default). 0: off.
  duration keepalive = std::chrono::seconds(30);
  HostKeyPolicy host_key_policy = HostKeyPolicy::accept_new;
  std::string known_hosts = "~/.ssh/known_hosts";
  /// OpenSSH client config honoured for HostName, User, Port, IdentityFile,
  /// ProxyJump, ForwardAgent, Compression and ServerAliveInterval (explicit
  /// options win); nullopt: read none.
  std::optional<std::string> ssh_config = "~/.ssh/config";
  /// Bytes of unread output kept per host and stream before the host's reader
  /// stops reading from the server (back-pressure). 0: unlimited.
  std::size_t max_buffered_output = 0;
  /// Progress events. Called from worker threads, concurrently for different
  /// hosts, in order for one host: keep it short and thread-safe. A host's
  /// events have all been delivered when join() returns. An exception thrown
  /// by the handler is caught and dropped (logged by the host logger, if on):
  /// the host's work and result go on unchanged, later events still come.
  std::function<void(const Event&)> on_event{};
  /// An OpenSSH ProxyCommand: run through `/bin/sh -c` for each connection
  /// (prefixed with `exec`, as ssh(1) does); its stdin and stdout are the
  /// connection to the host. %h (the HostName),
  /// %p (port), %r (remote user), %n (the host as given) and %% are
  /// expanded; "none": no command. Not together with `proxy`.
  std::optional<std::string> proxy_command{};

  /// Defaults read from PSSH_USER, PSSH_PAR (pool_size), PSSH_TIMEOUT
  /// (seconds) and PSSH_OPTIONS (OpenSSH options, space-separated
  /// "Key=Value"); std::invalid_argument naming the variable for a bad value.
  /// pssh/env.hpp's read_environment() also gives PSSH_HOSTS, PSSH_OUTDIR
  /// and PSSH_VERBOSE.
  PSSH_API static ClientOptions from_env();
};

/// Per-host overrides: every field that is set replaces the client's, so a
/// host can also turn a flag off.
struct HostConfig {
  std::optional<std::string> alias{};  ///< how output and events name the host
  std::optional<std::string> user{};
  std::optional<std::string> password{};
  std::optional<int> port{};
  std::optional<PrivateKey> pkey{};
  std::optional<std::string> cert_file{};
  std::optional<bool> allow_agent{}, identity_auth{}, forward_agent{}, gssapi_auth{};
  std::optional<int> num_retries{};
  std::optional<duration> retry_delay{}, timeout{};
  std::optional<ProxyConfig> proxy{};
  std::optional<bool> ipv6_only{}, compress{};
  std::optional<duration> keepalive{};
  std::optional<HostKeyPolicy> host_key_policy{};
  std::optional<std::string> known_hosts{};
  std::optional<std::string> proxy_command{};  ///< see ClientOptions::proxy_command
  bool operator==(const HostConfig&) const = default;
};

}  // namespace pssh
