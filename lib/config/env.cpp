// PSSH_* variables and OpenSSH-style options.
#include "text/text.hpp"
#include "config/endpoint.hpp"
#include "config/ssh_options.hpp"

#include <pssh/errors.hpp>

#include <pssh/env.hpp>
#include <pssh/options.hpp>

#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace pssh {
namespace {

using detail::lower;

std::optional<double> number(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> yes_no(std::string_view text) {
  std::string value = lower(text);
  if (value == "1" || value == "yes" || value == "true") return true;
  if (value == "0" || value == "no" || value == "false" || value.empty()) return false;
  return std::nullopt;
}

duration seconds(double value) {
  return std::chrono::duration_cast<duration>(std::chrono::duration<double>(value));
}

std::optional<std::string> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

[[noreturn]] void bad(const std::string& what, std::string_view value, const std::string& expected) {
  throw ConfigError("", what + "='" + std::string(value) + "': expected " + expected);
}

}  // namespace

namespace {

/// The fields of `target` (ClientOptions or HostConfig) that `option` set:
/// the one place where a keyword becomes an option field.
template <class Target>
void set_fields(Target& target, const detail::SshOptions& o) {
  if (o.hostname || o.ciphers || o.macs || o.kex_algorithms || o.host_key_algorithms ||
      o.server_alive_count_max || !o.send_env.empty() || o.set_env) {
    throw detail::OptionError("pssh has no option field for it; set it in an ssh config file (a Host block)");
  }
  if (o.user) target.user = *o.user;
  if (o.port) target.port = *o.port;
  if (!o.identity_files.empty()) target.pkey = PrivateKey::file(o.identity_files.front());
  if (!o.certificate_files.empty()) target.cert_file = o.certificate_files.front();
  if (o.identities_only) target.identities_only = *o.identities_only;
  if (o.identity_agent) target.identity_agent = *o.identity_agent;
  if (o.host_key_alias) target.host_key_alias = *o.host_key_alias;
  if (o.forward_agent) target.forward_agent = *o.forward_agent;
  if (o.compression) target.compress = *o.compression;
  if (o.gssapi_authentication) target.gssapi_auth = *o.gssapi_authentication;
  if (o.gssapi_delegate_credentials) target.gssapi_delegate_credentials = *o.gssapi_delegate_credentials;
  if (o.gssapi_server_identity) target.gssapi_server_identity = *o.gssapi_server_identity;
  if (o.gssapi_client_identity) target.gssapi_client_identity = *o.gssapi_client_identity;
  if (o.server_alive_interval) target.keepalive = std::chrono::seconds(*o.server_alive_interval);
  if (o.connection_attempts) target.num_retries = *o.connection_attempts;
  if (o.connect_timeout) {
    if (*o.connect_timeout > 0) target.connect_timeout = std::chrono::seconds(*o.connect_timeout);
    else target.connect_timeout.reset();
  }
  if (o.strict_host_key_checking) target.host_key_policy = *o.strict_host_key_checking;
  if (o.user_known_hosts_files) target.known_hosts = o.user_known_hosts_files->front();
  if (o.global_known_hosts_files) target.global_known_hosts = o.global_known_hosts_files->front();
  if (o.address_family) target.ipv6_only = *o.address_family == "inet6";
  if (o.proxy_command) {
    if (lower(*o.proxy_command) == "none") target.proxy_command.reset();
    else target.proxy_command = *o.proxy_command;
    target.proxy.reset();
  }
  if (o.proxy_jump) {
    target.proxy.reset();
    target.proxy_command.reset();
    if (lower(*o.proxy_jump) == "none") return;
    auto hops = detail::parse_jump_hops(*o.proxy_jump);  // checked by apply_option
    if (hops.size() != 1) throw detail::OptionError("takes one [user@]host[:port] here; chain hops in an ssh config");
    target.proxy = ProxyConfig{.host = hops[0].host, .port = hops[0].port, .user = hops[0].user,
                               .password = std::nullopt, .pkey = std::nullopt};
  }
}

template <class Target>
void apply_option_to(Target& target, std::string_view option) {
  std::string what = "ssh option '" + std::string(option) + "'";
  try {
    auto line = detail::split_option_line(option);
    if (!line) bad("ssh option", option, "Key=Value");
    if (line->keyword == "host" || line->keyword == "match" || line->keyword == "include")
      throw detail::OptionError("belongs in an ssh config file, not in an option");
    detail::SshOptions parsed;
    detail::apply_option(parsed, *line, true);
    set_fields(target, parsed);
  } catch (const detail::OptionError& e) {
    throw ConfigError("", what + ": " + e.what());
  } catch (const ConfigError&) {
    throw;  // names the option already
  } catch (const Error& e) {
    throw ConfigError("", what + ": " + e.what());
  }
}

}  // namespace

void apply_ssh_option(ClientOptions& options, std::string_view option) { apply_option_to(options, option); }

void apply_ssh_option(HostConfig& config, std::string_view option) { apply_option_to(config, option); }

namespace {

/// PSSH_USER, PSSH_PAR and PSSH_OPTIONS over `options`.
ClientOptions options_from_environment(ClientOptions options) {
  if (auto user = variable("PSSH_USER")) options.user = *user;
  if (auto par = variable("PSSH_PAR")) {
    auto n = number(*par);
    if (!n || *n < 1 || *n != static_cast<double>(static_cast<std::size_t>(*n)))
      bad("PSSH_PAR", *par, "a positive whole number");
    options.pool_size = static_cast<std::size_t>(*n);
  }
  if (auto ssh_options = variable("PSSH_OPTIONS")) {
    std::string_view rest = *ssh_options;
    while (!rest.empty()) {
      auto start = rest.find_first_not_of(" \t\n");
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      auto end = rest.find_first_of(" \t\n");
      std::string_view option = rest.substr(0, end);
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
      try {
        apply_ssh_option(options, option);
      } catch (const ConfigError& e) {
        throw ConfigError("", std::string("PSSH_OPTIONS: ") + e.what());
      }
    }
  }
  return options;
}

}  // namespace

Environment read_environment(ClientOptions base) {
  Environment env;
  env.options = options_from_environment(std::move(base));
  if (auto timeout = variable("PSSH_TIMEOUT")) {
    auto n = number(*timeout);
    if (!n || *n <= 0) bad("PSSH_TIMEOUT", *timeout, "a positive number of seconds");
    env.command_timeout = seconds(*n);
  }
  if (auto hosts = variable("PSSH_HOSTS")) {
    try {
      env.hosts = read_hosts_file(*hosts);
    } catch (const std::exception& e) {
      throw ConfigError("", std::string("PSSH_HOSTS: ") + e.what());
    }
  }
  if (auto outdir = variable("PSSH_OUTDIR")) env.outdir = *outdir;
  if (auto verbose = variable("PSSH_VERBOSE")) {
    auto b = yes_no(*verbose);
    if (!b) bad("PSSH_VERBOSE", *verbose, "1/yes/true or 0/no/false");
    env.verbose = *b;
  }
  return env;
}

ClientOptions ClientOptions::from_env() { return options_from_environment({}); }

}  // namespace pssh
