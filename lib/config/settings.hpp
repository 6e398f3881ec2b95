// One host's effective settings: HostConfig over ClientOptions over
// ~/.ssh/config, with paths expanded and keys loaded.
#pragma once

#include "config/ssh_config.hpp"

#include <pssh/options.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pssh::detail {

/// A private key parsed by the ssh layer (ssh/keys.hpp): settings carry
/// it to the session without knowing what it is.
struct LoadedKey;

/// Parses the program's keys for resolve_settings (ssh/keys.hpp's KeyCache).
class KeyLoader {
 public:
  /// `key` with its certificate; PKeyFileError naming `host` and the key
  /// (`name`, from key_name()) if it cannot be used.
  virtual std::shared_ptr<const LoadedKey> load(const PrivateKey& key, const std::string& name,
                                                const std::string& host) = 0;

 protected:
  ~KeyLoader() = default;
};

/// How messages name a key: its path, else `memory_name` ("in-memory key
/// #2"). Never its text.
std::string key_name(const PrivateKey& key, const std::string& memory_name);
/// How messages name a key's certificate: its path, or "(in memory)".
std::string certificate_name(const PrivateKey& key);

/// A key held by the program (pkey or one of identities), loaded.
struct ProgramKey {
  std::shared_ptr<const LoadedKey> key;
  std::string label;  ///< for messages: its path or "in-memory key #N", its certificate's
  std::string path;   ///< its file, for -G; empty for a key in memory
};

struct HostSettings {
  std::string host;      ///< as the caller wrote it: names the host in messages
  std::string alias;     ///< HostConfig::alias or host
  std::size_t index = 0;
  std::string hostname;  ///< what is resolved (HostName, as ssh(1) makes it)
  std::string user;
  int port = 22;
  std::optional<std::string> password;
  /// pkey, then identities (HostConfig's, else ClientOptions'), in the order
  /// tried; `key` is empty for -G, which loads none.
  std::vector<ProgramKey> program_keys;
  std::vector<std::string> identity_files;     ///< expanded; tried when identity_auth
  std::vector<std::string> certificate_files;  ///< expanded; tried with each identity file
  bool allow_agent = true, identity_auth = true, forward_agent = false, gssapi_auth = false;
  bool identities_only = false;  ///< only program_keys and identity_files; no agent
  std::shared_ptr<const Agent> agent;  ///< the program's agent, asked instead of the system's
  /// IdentityAgent as ssh -G shows it (tokens expanded); nullopt: $SSH_AUTH_SOCK.
  std::optional<std::string> identity_agent;
  std::optional<std::string> gssapi_server_identity, gssapi_client_identity;
  bool gssapi_delegate_credentials = false;
  int num_retries = 3;
  duration retry_delay{}, timeout{};
  duration connect_timeout{};  ///< TCP connect and SSH handshake
  std::optional<ProxyConfig> proxy;       ///< ClientOptions/HostConfig proxy
  std::optional<std::string> proxy_jump;  ///< the ssh config's ProxyJump
  bool ipv6_only = false, compress = false;
  duration keepalive{};
  int keepalive_count_max = 3;  ///< ServerAliveCountMax
  HostKeyPolicy host_key_policy = HostKeyPolicy::accept_new;
  std::string known_hosts;  ///< the file checked and written
  std::vector<std::string> known_hosts_files;  ///< every UserKnownHostsFile, for -G
  /// The system-wide file read after known_hosts ("/dev/null": none).
  std::string global_known_hosts;
  std::vector<std::string> global_known_hosts_files;  ///< every GlobalKnownHostsFile as written, for -G
  /// known_hosts' name for the host instead of hostname (lower case, no port).
  std::optional<std::string> host_key_alias;
  /// The ssh config's algorithm lists, handed to libssh as written.
  std::optional<std::string> ciphers, macs, kex_algorithms, host_key_algorithms;
  /// What the host cannot be connected with (an unsupported or bad ssh
  /// config line): its HostArgumentError, thrown when the host is worked on.
  std::optional<std::string> config_error;
  /// Values as written, which ssh -G shows unexpanded.
  struct {
    std::vector<std::string> identity_files, certificate_files;
    std::optional<std::string> proxy_command;
  } written;
  std::optional<std::string> proxy_command;  ///< ProxyCommand, tokens expanded; nullopt: none
  std::vector<std::string> send_env;         ///< SendEnv patterns of local variable names
  std::vector<std::pair<std::string, std::string>> set_env;  ///< SetEnv NAME=VALUE

  /// "user@host:port", how messages name the destination.
  std::string destination() const;
};

/// "~" or "~/x" at the start of `path` becomes the home directory.
std::string expand_home(const std::string& path);

/// Resolves every setting for hosts[index]: HostConfig > ClientOptions >
/// ssh config > built-in default, each field taken from the first that
/// sets it. Loads pkey and identities through `keys` (none: not loaded,
/// for -G): PKeyFileError naming the host and the key.
/// HostArgumentError naming the host for a bad or unsupported config line.
HostSettings resolve_settings(const std::string& host, std::size_t index,
                              const ClientOptions& options, const HostConfig& config,
                              const SshConfigFile& ssh_config, KeyLoader* keys);

/// The settings as `ssh -G` prints them: lower-case keyword and value, in
/// ssh's spelling, for every keyword pssh supports.
std::vector<std::pair<std::string, std::string>> ssh_g_lines(const HostSettings& s);

/// The agent socket the host's IdentityAgent names; nullopt: no agent.
std::optional<std::string> agent_socket_path(const HostSettings& s);

}  // namespace pssh::detail
