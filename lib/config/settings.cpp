// Layering of settings: HostConfig over ClientOptions over the ssh configs.
#include "config/settings.hpp"

#include "config/host_options.hpp"

#include "text/text.hpp"
#include "config/ssh_config.hpp"

#include <pssh/env.hpp>
#include <pssh/errors.hpp>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace pssh {
namespace detail {
namespace {

std::string home_directory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) return pw->pw_dir;
  return "/";
}

/// "[::1]" -> "::1": IPv6 literals may be bracketed in host lists.
std::string strip_brackets(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

}  // namespace

std::string key_name(const PrivateKey& key, const std::string& memory_name) {
  return key.in_memory() ? memory_name : key.path();
}

std::string certificate_name(const PrivateKey& key) {
  return key.certificate_file().empty() ? "(in memory)" : key.certificate_file();
}

std::string expand_home(const std::string& path) {
  if (path == "~") return home_directory();
  if (path.rfind("~/", 0) == 0) return home_directory() + path.substr(1);
  return path;
}

std::string HostSettings::destination() const {
  std::string where = hostname.find(':') != std::string::npos ? "[" + hostname + "]" : hostname;
  return user + "@" + where + ":" + std::to_string(port);
}

namespace {

/// The program's value if set, else the config's.
template <class T>
std::optional<T> first_set(const std::optional<T>& program, const std::optional<T>& file) {
  return program ? program : file;
}

/// first_set(), else the built-in default.
template <class T>
T layered(const std::optional<T>& program, const std::optional<T>& file, T fallback) {
  return first_set(program, file).value_or(std::move(fallback));
}

std::string yes_no(bool value) { return value ? "yes" : "no"; }

/// ClientOptions::timeout's default.
constexpr duration default_step_timeout = std::chrono::seconds(60);

/// The tokens of CertificateFile, IdentityAgent, IdentityFile and
/// UserKnownHostsFile (ssh_config(5) TOKENS), with the host's final values.
Tokens path_tokens(const HostSettings& s, const std::string& original) {
  const LocalFacts& local = LocalFacts::get();
  std::string port = std::to_string(s.port);
  return Tokens{{{'C', connection_hash(local.hostname, s.hostname, port, s.user)},
                 {'L', local.short_hostname},
                 {'d', expand_home("~")},
                 {'h', s.hostname},
                 {'i', local.uid},
                 {'k', s.host_key_alias.value_or(original)},
                 {'l', local.hostname},
                 {'n', original},
                 {'p', port},
                 {'r', s.user},
                 {'u', local.user}}};
}

/// "~", ${VAR} and %-tokens in a path, as ssh(1) expands them.
std::string expand_path(const std::string& path, const Tokens& tokens, const std::string& keyword) {
  return tokens.expand(expand_environment(expand_home(path), keyword), keyword);
}

/// A known-hosts keyword's files, each through `expand`: the program's,
/// else the ssh config's, else `fallback`.
template <class Expand>
std::vector<std::string> known_hosts_files(const std::optional<std::string>& program,
                                           const std::optional<std::vector<std::string>>& file,
                                           const std::string& fallback, Expand expand) {
  if (program) return {expand(*program)};
  if (!file) return {fallback};
  std::vector<std::string> files;
  for (const auto& f : *file) files.push_back(expand(f));
  return files;
}

/// pkey (with cert_file), then the identities.
void load_program_keys(HostSettings& s, const HostConfig& wanted, KeyLoader* keys) {
  auto add = [&](PrivateKey key, const std::string& memory_name) {
    std::string name = key_name(key, memory_name);
    std::string label = name;
    if (key.has_certificate()) label += " with certificate " + certificate_name(key);
    auto loaded = keys != nullptr ? keys->load(key, name, s.host) : nullptr;
    s.program_keys.push_back({std::move(loaded), std::move(label), key.in_memory() ? "" : key.path()});
  };
  const auto& pkey = wanted.pkey;
  const auto& cert = wanted.cert_file;
  if (pkey && cert && pkey->has_certificate()) {
    throw HostArgumentError(s.host, "pkey for " + s.host +
                                        " carries a certificate and cert_file is set too; give one of them");
  }
  if (pkey) add(cert ? pkey->with_certificate_file(*cert) : *pkey, "in-memory pkey");
  if (!wanted.identities) return;
  const auto& identities = *wanted.identities;
  for (std::size_t i = 0; i < identities.size(); ++i)
    add(identities[i], "in-memory key #" + std::to_string(i + 1));
}

void resolve(HostSettings& s, const std::string& name, const HostConfig& wanted,
             const SshConfigFile& ssh_config, KeyLoader* keys) {
  LookupContext context;
  context.user = wanted.user;
  context.port = wanted.port;
  context.exec_timeout = wanted.timeout.value_or(default_step_timeout);
  SshConfigEntry entry = ssh_config.lookup(name, s.host, context);
  const SshOptions& file = entry.options;

  s.hostname = entry.hostname;
  s.user = layered(wanted.user, file.user, LocalFacts::get().user);
  s.port = layered(wanted.port, file.port, 22);
  if (s.port < 1 || s.port > 65535) {
    throw HostArgumentError(s.host, "port " + std::to_string(s.port) + " for " + s.host +
                                        " is not a port number (1-65535)");
  }
  s.password = wanted.password;
  load_program_keys(s, wanted, keys);
  s.allow_agent = wanted.allow_agent.value_or(true);
  s.identity_auth = wanted.identity_auth.value_or(true);
  s.forward_agent = layered(wanted.forward_agent, file.forward_agent, false);
  s.gssapi_auth = layered(wanted.gssapi_auth, file.gssapi_authentication, false);
  s.gssapi_server_identity = first_set(wanted.gssapi_server_identity, file.gssapi_server_identity);
  s.gssapi_client_identity = first_set(wanted.gssapi_client_identity, file.gssapi_client_identity);
  s.gssapi_delegate_credentials =
      layered(wanted.gssapi_delegate_credentials, file.gssapi_delegate_credentials, false);
  s.num_retries = layered(wanted.num_retries, file.connection_attempts, 3);
  s.retry_delay = wanted.retry_delay.value_or(std::chrono::seconds(5));
  s.timeout = wanted.timeout.value_or(default_step_timeout);
  std::optional<duration> file_connect_timeout;
  if (file.connect_timeout.value_or(0) > 0) file_connect_timeout = std::chrono::seconds(*file.connect_timeout);
  s.connect_timeout = layered(wanted.connect_timeout, file_connect_timeout, s.timeout);
  std::optional<bool> file_ipv6;
  if (file.address_family) file_ipv6 = *file.address_family == "inet6";
  s.ipv6_only = layered(wanted.ipv6_only, file_ipv6, false);
  s.compress = layered(wanted.compress, file.compression, false);
  std::optional<duration> file_keepalive;
  if (file.server_alive_interval) file_keepalive = std::chrono::seconds(*file.server_alive_interval);
  s.keepalive = layered(wanted.keepalive, file_keepalive, duration(std::chrono::seconds(30)));
  s.keepalive_count_max = file.server_alive_count_max.value_or(3);
  s.host_key_policy = layered(wanted.host_key_policy, file.strict_host_key_checking, HostKeyPolicy::accept_new);
  s.identities_only = layered(wanted.identities_only, file.identities_only, false);
  auto alias = first_set(wanted.host_key_alias, file.host_key_alias);
  if (alias) s.host_key_alias = lower(*alias);
  Tokens tokens = path_tokens(s, name);

  s.known_hosts_files =
      known_hosts_files(wanted.known_hosts, file.user_known_hosts_files,
                        expand_home("~/.ssh/known_hosts"),
                        [&](const std::string& f) { return expand_path(f, tokens, "UserKnownHostsFile"); });
  // As written (ssh -G shows them so): ssh_config(5) gives this keyword no
  // tokens, and "~" is expanded only for use. ssh also reads
  // ssh_known_hosts2 by default, a name OpenSSH calls obsolete.
  s.global_known_hosts_files =
      known_hosts_files(wanted.global_known_hosts, file.global_known_hosts_files,
                        "/etc/ssh/ssh_known_hosts", [](const std::string& f) { return f; });
  // libssh checks one file of each (and writes the user's), the first: as
  // ssh(1) writes there.
  auto usable = [](const std::string& file) { return file == "none" ? "/dev/null" : expand_home(file); };
  s.known_hosts = usable(s.known_hosts_files.front());
  s.global_known_hosts = usable(s.global_known_hosts_files.front());

  auto agent = first_set(wanted.identity_agent, file.identity_agent);
  if (agent) s.identity_agent = expand_path(*agent, tokens, "IdentityAgent");
  s.ciphers = file.ciphers;
  s.macs = file.macs;
  s.kex_algorithms = file.kex_algorithms;
  s.host_key_algorithms = file.host_key_algorithms;

  s.written.identity_files = file.identity_files;
  if (file.identity_files.empty()) {
    for (const char* key : {"id_ed25519", "id_ecdsa", "id_rsa"})
      s.written.identity_files.push_back(std::string("~/.ssh/") + key);
  }
  for (const auto& f : s.written.identity_files)
    s.identity_files.push_back(expand_path(f, tokens, "IdentityFile"));
  s.written.certificate_files = file.certificate_files;
  for (const auto& f : file.certificate_files)
    s.certificate_files.push_back(expand_path(f, tokens, "CertificateFile"));

  // The route: the program's (see requested_options), else the config's
  // first of ProxyJump and ProxyCommand obtained (the other was not kept).
  Tokens proxy_tokens{{{'h', s.hostname}, {'n', name}, {'p', std::to_string(s.port)}, {'r', s.user}}};
  bool runs_command = wanted.proxy_command && lower(*wanted.proxy_command) != "none";
  if (wanted.proxy && runs_command) {
    throw HostArgumentError(s.host, "both a ProxyCommand and a proxy are set for " + s.host +
                                        "; give one of them");
  }
  if (wanted.proxy) s.proxy = *wanted.proxy;
  else if (runs_command) s.written.proxy_command = *wanted.proxy_command;
  if (!wanted.proxy && !wanted.proxy_command) {  // "none" routes directly
    if (file.proxy_jump && lower(*file.proxy_jump) != "none") s.proxy_jump = file.proxy_jump;
    if (file.proxy_command && lower(*file.proxy_command) != "none") s.written.proxy_command = file.proxy_command;
  }
  if (s.written.proxy_command) s.proxy_command = proxy_tokens.expand(*s.written.proxy_command, "ProxyCommand");
  s.send_env = file.send_env;
  s.set_env = file.set_env.value_or(std::vector<std::pair<std::string, std::string>>{});
}

}  // namespace

HostSettings resolve_settings(const std::string& host, std::size_t index,
                              const ClientOptions& options, const HostConfig& config,
                              const SshConfigFile& ssh_config, KeyLoader* keys) {
  HostSettings s;
  s.host = host;
  s.index = index;
  s.alias = config.alias.value_or(host);
  std::string name = strip_brackets(host);
  try {
    resolve(s, name, requested_options(options, config), ssh_config, keys);
    s.agent = options.agent;
  } catch (const OptionError& e) {
    throw HostArgumentError(host, "ssh config for " + host + ": " + e.what());
  }
  return s;
}

std::vector<std::pair<std::string, std::string>> ssh_g_lines(const HostSettings& s) {
  std::vector<std::pair<std::string, std::string>> lines;
  auto add = [&](const char* key, std::string value) { lines.emplace_back(key, std::move(value)); };
  auto seconds = [](duration d) { return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()); };
  add("host", strip_brackets(s.host));
  add("user", s.user);
  add("hostname", s.hostname);
  add("port", std::to_string(s.port));
  add("addressfamily", s.ipv6_only ? "inet6" : "any");
  add("compression", yes_no(s.compress));
  add("forwardagent", yes_no(s.forward_agent));
  add("gssapiauthentication", yes_no(s.gssapi_auth));
  add("gssapidelegatecredentials", yes_no(s.gssapi_delegate_credentials));
  add("identitiesonly", yes_no(s.identities_only));
  const char* strictness = s.host_key_policy == HostKeyPolicy::strict   ? "true"
                           : s.host_key_policy == HostKeyPolicy::ignore ? "false"
                                                                        : "accept-new";
  add("stricthostkeychecking", strictness);
  add("connectionattempts", std::to_string(std::max(s.num_retries, 1)));
  add("connecttimeout", seconds(s.connect_timeout));
  add("serveralivecountmax", std::to_string(s.keepalive_count_max));
  add("serveraliveinterval", seconds(s.keepalive));
  if (s.host_key_alias) add("hostkeyalias", *s.host_key_alias);
  if (s.identity_agent) add("identityagent", *s.identity_agent);
  for (const auto& key : s.program_keys)
    if (!key.path.empty()) add("identityfile", key.path);
  for (const auto& f : s.written.identity_files) add("identityfile", f);
  for (const auto& f : s.written.certificate_files) add("certificatefile", f);
  auto joined = [](const std::vector<std::string>& files) {
    std::string all;
    for (const auto& f : files) all += (all.empty() ? "" : " ") + f;
    return all;
  };
  add("userknownhostsfile", joined(s.known_hosts_files));
  add("globalknownhostsfile", joined(s.global_known_hosts_files));
  for (const auto& name : s.send_env) add("sendenv", name);
  for (const auto& [name, value] : s.set_env) add("setenv", name + "=" + value);
  const std::pair<const char*, const std::optional<std::string>*> lists[] = {
      {"ciphers", &s.ciphers}, {"macs", &s.macs}, {"kexalgorithms", &s.kex_algorithms},
      {"hostkeyalgorithms", &s.host_key_algorithms}};
  for (auto [key, value] : lists)
    if (*value) add(key, **value);
  if (s.proxy) {
    add("proxyjump", (s.proxy->user ? *s.proxy->user + "@" : "") + s.proxy->host +
                         (s.proxy->port ? ":" + std::to_string(*s.proxy->port) : ""));
  } else if (s.proxy_jump) {
    // As ssh -G: the hops before the last as written, the last rebuilt.
    auto hops = parse_proxy_jump(*s.proxy_jump, s.host, "ProxyJump");
    auto comma = s.proxy_jump->rfind(',');
    std::string text = comma == std::string::npos ? "" : s.proxy_jump->substr(0, comma + 1);
    const Endpoint& last = hops.back();
    text += (last.user ? *last.user + "@" : "") + last.host +
            (last.port ? ":" + std::to_string(*last.port) : "");
    add("proxyjump", text);
  }
  if (s.written.proxy_command) add("proxycommand", *s.written.proxy_command);
  return lines;
}

std::optional<std::string> agent_socket_path(const HostSettings& s) {
  auto from_environment = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
  if (!s.identity_agent || *s.identity_agent == "SSH_AUTH_SOCK") return from_environment("SSH_AUTH_SOCK");
  if (*s.identity_agent == "none") return std::nullopt;
  if (s.identity_agent->front() == '$') return from_environment(s.identity_agent->c_str() + 1);
  return s.identity_agent;
}

}  // namespace detail
std::vector<std::pair<std::string, std::string>> effective_ssh_options(const std::string& host,
                                                                  const ClientOptions& options,
                                                                  const HostConfig& config) {
  detail::SshConfigFile files(options.ssh_config, options.system_ssh_config);
  return detail::ssh_g_lines(detail::resolve_settings(host, 0, options, config, files, nullptr));
}

}  // namespace pssh
