// PSSH_* variables and OpenSSH-style options.
#include "text/text.hpp"

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
  throw std::invalid_argument(what + "='" + std::string(value) + "': expected " + expected);
}

}  // namespace

void apply_ssh_option(ClientOptions& options, std::string_view option) {
  auto split = option.find_first_of("= ");
  if (split == std::string_view::npos) bad("ssh option", option, "Key=Value");
  std::string key = lower(option.substr(0, split));
  std::string value(option.substr(option.find_first_not_of("= ", split) == std::string_view::npos
                                      ? option.size()
                                      : option.find_first_not_of("= ", split)));
  std::string what = "ssh option " + std::string(option.substr(0, split));
  auto positive = [&](double low) {
    auto n = number(value);
    if (!n || *n < low) bad(what, value, "a number of at least " + std::to_string(static_cast<int>(low)));
    return *n;
  };
  auto flag = [&] {
    auto b = yes_no(value);
    if (!b) bad(what, value, "yes or no");
    return *b;
  };
  if (key == "port") {
    double port = positive(1);
    if (port > 65535) bad(what, value, "a port (1-65535)");
    options.port = static_cast<int>(port);
  } else if (key == "user") {
    options.user = value;
  } else if (key == "identityfile") {
    options.pkey = PrivateKey::file(value);
  } else if (key == "stricthostkeychecking") {
    std::string v = lower(value);
    if (v == "yes") options.host_key_policy = HostKeyPolicy::strict;
    else if (v == "accept-new") options.host_key_policy = HostKeyPolicy::accept_new;
    else if (v == "no" || v == "off") options.host_key_policy = HostKeyPolicy::ignore;
    else bad(what, value, "yes, accept-new or no");
  } else if (key == "userknownhostsfile") {
    options.known_hosts = value;
  } else if (key == "connecttimeout") {
    options.timeout = seconds(positive(1));
  } else if (key == "connectionattempts") {
    options.num_retries = static_cast<int>(positive(1)) - 1;
  } else if (key == "serveraliveinterval") {
    options.keepalive = seconds(positive(0));
  } else if (key == "compression") {
    options.compress = flag();
  } else if (key == "forwardagent") {
    options.forward_agent = flag();
  } else if (key == "gssapiauthentication") {
    options.gssapi_auth = flag();
  } else if (key == "proxyjump") {
    auto hops = parse_host_entry(value);
    if (hops.size() != 1) bad(what, value, "one [user@]host[:port]");
    options.proxy = ProxyConfig{.host = hops[0].host,
                                .port = hops[0].config.port.value_or(22),
                                .user = hops[0].config.user,
                                .password = std::nullopt,
                                .pkey = std::nullopt};
  } else if (key == "proxycommand") {
    options.proxy_command = value;  // tokens are expanded per host
  } else {
    throw std::invalid_argument(what + " is not supported; pssh understands Port, User, "
                                "IdentityFile, StrictHostKeyChecking, UserKnownHostsFile, "
                                "ConnectTimeout, ConnectionAttempts, ServerAliveInterval, "
                                "Compression, ForwardAgent, ProxyJump, ProxyCommand, "
                                "GSSAPIAuthentication");
  }
}

namespace {

/// PSSH_USER, PSSH_PAR, PSSH_TIMEOUT and PSSH_OPTIONS over `options`.
ClientOptions options_from_environment(ClientOptions options) {
  if (auto user = variable("PSSH_USER")) options.user = *user;
  if (auto par = variable("PSSH_PAR")) {
    auto n = number(*par);
    if (!n || *n < 1 || *n != static_cast<double>(static_cast<std::size_t>(*n)))
      bad("PSSH_PAR", *par, "a positive whole number");
    options.pool_size = static_cast<std::size_t>(*n);
  }
  if (auto timeout = variable("PSSH_TIMEOUT")) {
    auto n = number(*timeout);
    if (!n || *n <= 0) bad("PSSH_TIMEOUT", *timeout, "a positive number of seconds");
    options.timeout = seconds(*n);
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
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("PSSH_OPTIONS: ") + e.what());
      }
    }
  }
  return options;
}

}  // namespace

Environment read_environment(ClientOptions base) {
  Environment env;
  env.options = options_from_environment(std::move(base));
  if (auto hosts = variable("PSSH_HOSTS")) {
    try {
      env.hosts = read_hosts_file(*hosts);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("PSSH_HOSTS: ") + e.what());
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
