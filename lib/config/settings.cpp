// Layering of settings and loading of private keys.
#include "config/settings.hpp"

#include "config/ssh_config.hpp"

#include <pssh/errors.hpp>

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pssh {

PrivateKey PrivateKey::file(const std::string& path, std::string passphrase) {
  PrivateKey key;
  key.path_ = detail::expand_home(path);
  key.passphrase_ = std::move(passphrase);
  return key;
}

PrivateKey PrivateKey::memory(std::string pem, std::string passphrase) {
  PrivateKey key;
  key.in_memory_ = true;
  key.path_ = "<in-memory key>";
  key.pem_ = std::move(pem);
  key.passphrase_ = std::move(passphrase);
  return key;
}

namespace detail {
namespace {

std::string home_directory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) return pw->pw_dir;
  return "/";
}

std::string current_user() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) return pw->pw_name;
  if (const char* user = std::getenv("USER"); user != nullptr) return user;
  return "root";
}

/// "[::1]" -> "::1": IPv6 literals may be bracketed in host lists.
std::string strip_brackets(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

/// %h, %u, %d and %% in IdentityFile, as ssh(1) expands them.
std::string expand_tokens(const std::string& text, const std::string& host,
                          const std::string& user) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    switch (text[++i]) {
      case 'h': out += host; break;
      case 'u': out += user; break;
      case 'd': out += home_directory(); break;
      case '%': out += '%'; break;
      default: out += '%'; out += text[i];
    }
  }
  return out;
}

/// ProxyCommand's tokens, as ssh(1) expands them: %h the HostName, %p the
/// port, %r the remote user, %n the host as given, %%. Any other token is
/// refused, as ssh(1) refuses it, rather than run a command that was
/// probably meant otherwise.
std::string expand_proxy_command(const std::string& command, const std::string& name,
                                 const HostSettings& s) {
  std::string out;
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (command[i] != '%') {
      out += command[i];
      continue;
    }
    char token = i + 1 < command.size() ? command[++i] : '\0';
    switch (token) {
      case 'h': out += s.hostname; break;
      case 'p': out += std::to_string(s.port); break;
      case 'r': out += s.user; break;
      case 'n': out += name; break;
      case '%': out += '%'; break;
      default:
        throw HostArgumentError(s.host, "ProxyCommand '" + command + "' for " + s.host +
                                            " has an unknown token '%" +
                                            std::string(token ? 1 : 0, token) +
                                            "'; use %h, %p, %r, %n, or %% for a percent sign");
    }
  }
  return out;
}

}  // namespace

std::string expand_home(const std::string& path) {
  if (path == "~") return home_directory();
  if (path.rfind("~/", 0) == 0) return home_directory() + path.substr(1);
  return path;
}

std::string HostSettings::destination() const {
  std::string where = hostname.find(':') != std::string::npos ? "[" + hostname + "]" : hostname;
  return user + "@" + where + ":" + std::to_string(port);
}

SharedKey KeyCache::load(const PrivateKey& key, const std::optional<std::string>& cert_file,
                         const std::string& host) {
  std::string cert = cert_file ? expand_home(*cert_file) : std::string();
  auto id = std::make_tuple(key.in_memory(), key.in_memory() ? key.pem() : key.path(),
                            key.passphrase(), cert);
  if (auto found = keys_.find(id); found != keys_.end()) return found->second;

  const char* passphrase = key.passphrase().empty() ? nullptr : key.passphrase().c_str();
  ssh_key raw = nullptr;
  int rc;
  if (key.in_memory()) {
    rc = ssh_pki_import_privkey_base64(key.pem().c_str(), passphrase, nullptr, nullptr, &raw);
  } else {
    if (::access(key.path().c_str(), R_OK) != 0) {
      throw PKeyFileError(host, "cannot read private key file " + key.path() + " for " + host +
                                    ": " + std::strerror(errno) + "; check the pkey path");
    }
    rc = ssh_pki_import_privkey_file(key.path().c_str(), passphrase, nullptr, nullptr, &raw);
  }
  KeyPtr loaded(raw);
  if (rc != SSH_OK || !loaded) {
    throw PKeyFileError(host, "cannot load private key " + key.path() + " for " + host +
                                  ": not a private key libssh supports, or the passphrase " +
                                  (passphrase ? "is wrong" : "is missing"));
  }
  if (!cert.empty()) {
    ssh_key raw_cert = nullptr;
    if (ssh_pki_import_cert_file(cert.c_str(), &raw_cert) != SSH_OK) {
      throw PKeyFileError(host, "cannot load certificate " + cert + " for " + host +
                                    "; check cert_file");
    }
    KeyPtr certificate(raw_cert);
    if (ssh_pki_copy_cert_to_privkey(certificate.get(), loaded.get()) != SSH_OK) {
      throw PKeyFileError(host, "certificate " + cert + " does not belong to private key " +
                                    key.path() + " (for " + host + ")");
    }
  }
  SharedKey shared(loaded.release(), KeyDeleter());
  keys_.emplace(std::move(id), shared);
  return shared;
}

HostSettings resolve_settings(const std::string& host, std::size_t index,
                              const ClientOptions& options, const HostConfig& config,
                              const SshConfigFile& ssh_config, KeyCache& keys) {
  HostSettings s;
  s.host = host;
  s.index = index;
  s.alias = config.alias.value_or(host);
  std::string name = strip_brackets(host);
  SshConfigEntry file = ssh_config.lookup(name);

  s.hostname = file.hostname ? expand_tokens(*file.hostname, name, "") : name;
  // Explicit settings beat the ssh config; ClientOptions' defaults do not.
  if (config.user) s.user = *config.user;
  else if (!options.user.empty()) s.user = options.user;
  else s.user = file.user.value_or(current_user());
  if (config.port) s.port = *config.port;
  else if (options.port != 22) s.port = options.port;
  else s.port = file.port.value_or(22);
  if (s.port < 1 || s.port > 65535) {
    throw HostArgumentError(host, "port " + std::to_string(s.port) + " for " + host +
                                      " is not a port number (1-65535)");
  }

  s.password = config.password ? config.password : options.password;
  const auto& pkey = config.pkey ? config.pkey : options.pkey;
  const auto& cert = config.cert_file ? config.cert_file : options.cert_file;
  if (pkey) {
    s.pkey = keys.load(*pkey, cert, host);
    s.pkey_description = pkey->path();
  }
  s.allow_agent = config.allow_agent.value_or(options.allow_agent);
  s.identity_auth = config.identity_auth.value_or(options.identity_auth);
  // Flags: a host's setting, else the client's if turned on, else the ssh config's.
  s.forward_agent = config.forward_agent.value_or(options.forward_agent ||
                                                  file.forward_agent.value_or(false));
  s.gssapi_auth = config.gssapi_auth.value_or(options.gssapi_auth);
  s.gssapi_server_identity = options.gssapi_server_identity;
  s.gssapi_client_identity = options.gssapi_client_identity;
  s.gssapi_delegate_credentials = options.gssapi_delegate_credentials;
  static const ClientOptions defaults;
  s.num_retries = config.num_retries.value_or(
      options.num_retries == defaults.num_retries && file.connection_attempts
          ? *file.connection_attempts - 1
          : options.num_retries);
  s.retry_delay = config.retry_delay.value_or(options.retry_delay);
  s.timeout = config.timeout.value_or(options.timeout);
  s.proxy = config.proxy ? config.proxy : options.proxy;
  if (!s.proxy) s.proxy_jump = file.proxy_jump;
  const auto& proxy_command = config.proxy_command ? config.proxy_command : options.proxy_command;
  if (proxy_command && *proxy_command != "none") {
    if (s.proxy) {
      throw HostArgumentError(host, "both a ProxyCommand and a proxy are set for " + host +
                                        "; give one of them");
    }
    s.proxy_command = expand_proxy_command(*proxy_command, name, s);
    s.proxy_jump.reset();  // an explicit ProxyCommand beats the ssh config's ProxyJump
  }
  s.ipv6_only = config.ipv6_only.value_or(options.ipv6_only);
  s.compress = config.compress.value_or(options.compress || file.compression.value_or(false));
  s.keepalive = config.keepalive.value_or(
      options.keepalive == defaults.keepalive && file.server_alive_interval
          ? std::chrono::seconds(*file.server_alive_interval)
          : options.keepalive);
  s.host_key_policy = config.host_key_policy.value_or(
      options.host_key_policy == defaults.host_key_policy
          ? file.strict_host_key_checking.value_or(options.host_key_policy)
          : options.host_key_policy);
  s.known_hosts = expand_home(config.known_hosts.value_or(
      options.known_hosts == defaults.known_hosts && file.user_known_hosts_file
          ? expand_tokens(*file.user_known_hosts_file, name, s.user)
          : options.known_hosts));
  s.ciphers = file.ciphers;
  s.macs = file.macs;
  s.kex_algorithms = file.kex_algorithms;
  s.host_key_algorithms = file.host_key_algorithms;

  if (file.identity_files.empty()) {
    for (const char* name_of_key : {"id_ed25519", "id_ecdsa", "id_rsa"})
      s.identity_files.push_back(home_directory() + "/.ssh/" + name_of_key);
  } else {
    for (const auto& f : file.identity_files)
      s.identity_files.push_back(expand_home(expand_tokens(f, name, s.user)));
  }
  return s;
}

}  // namespace detail
}  // namespace pssh
