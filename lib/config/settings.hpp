// One host's effective settings: HostConfig over ClientOptions over
// ~/.ssh/config, with paths expanded and keys loaded.
#pragma once

#include "ssh/handles.hpp"
#include "config/ssh_config.hpp"

#include <pssh/options.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace pssh::detail {

class ProxyHub;

struct HostSettings {
  std::string host;      ///< as the caller wrote it: names the host in messages
  std::string alias;     ///< HostConfig::alias or host
  std::size_t index = 0;
  std::string hostname;  ///< what is resolved and checked against known_hosts
  std::string user;
  int port = 22;
  std::optional<std::string> password;
  SharedKey pkey;                ///< loaded ClientOptions/HostConfig pkey (+ cert)
  std::string pkey_description;  ///< its path, for messages
  std::vector<std::string> identity_files;  ///< expanded; tried when identity_auth
  bool allow_agent = true, identity_auth = true, forward_agent = false, gssapi_auth = false;
  std::optional<std::string> gssapi_server_identity, gssapi_client_identity;
  bool gssapi_delegate_credentials = false;
  int num_retries = 3;
  duration retry_delay{}, timeout{};
  std::optional<ProxyConfig> proxy;       ///< ClientOptions/HostConfig proxy
  std::optional<std::string> proxy_jump;  ///< the ssh config's ProxyJump
  std::shared_ptr<ProxyHub> proxy_hub;    ///< the tunnel the host is reached through
  bool ipv6_only = false, compress = false;
  duration keepalive{};
  HostKeyPolicy host_key_policy = HostKeyPolicy::accept_new;
  std::string known_hosts;
  /// The ssh config's algorithm lists, handed to libssh as written.
  std::optional<std::string> ciphers, macs, kex_algorithms, host_key_algorithms;
  std::optional<std::string> proxy_command;  ///< ProxyCommand, tokens expanded; nullopt: none
  std::vector<std::string> send_env;         ///< SendEnv patterns of local variable names
  std::vector<std::pair<std::string, std::string>> set_env;  ///< SetEnv NAME=VALUE

  /// "user@host:port", how messages name the destination.
  std::string destination() const;
};

/// "~" or "~/x" at the start of `path` becomes the home directory.
std::string expand_home(const std::string& path);

/// Loads private keys once per client: hosts that share a key share the handle.
class KeyCache {
 public:
  /// PKeyFileError naming `host` if the key cannot be read or decrypted.
  SharedKey load(const PrivateKey& key, const std::optional<std::string>& cert_file,
                 const std::string& host);

 private:
  std::map<std::tuple<bool, std::string, std::string, std::string>, SharedKey> keys_;
};

/// Resolves every setting for hosts[index].
HostSettings resolve_settings(const std::string& host, std::size_t index,
                              const ClientOptions& options, const HostConfig& config,
                              const SshConfigFile& ssh_config, KeyCache& keys);

}  // namespace pssh::detail
