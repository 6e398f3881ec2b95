// The one list of per-host options. ClientOptions and HostConfig declare the
// same fields (designated initializers need them as direct members); every
// walk over them goes through this list: JSON both ways and the layering
// of a HostConfig over the ClientOptions. What an option does is its own
// code: its OpenSSH keyword (config/env.cpp), its resolution against the
// ssh config and its `ssh -G` line (config/settings.cpp). The field counts
// below fail the build when a field is declared but not listed.
#pragma once

#include <pssh/options.hpp>

#include <cstddef>
#include <optional>
#include <vector>

namespace pssh::detail {

/// Calls `visit(key, field...)` for every per-host option, with the field of
/// each of `settings` (ClientOptions or HostConfig) side by side. `key` is
/// the option's name in JSON.
template <class Visit, class... Settings>
constexpr void visit_host_options(Visit&& visit, Settings&... settings) {
  visit("user", settings.user...);
  visit("password", settings.password...);
  visit("port", settings.port...);
  visit("pkey", settings.pkey...);
  visit("cert_file", settings.cert_file...);
  visit("identities", settings.identities...);
  visit("allow_agent", settings.allow_agent...);
  visit("identity_auth", settings.identity_auth...);
  visit("forward_agent", settings.forward_agent...);
  visit("gssapi_auth", settings.gssapi_auth...);
  visit("gssapi_server_identity", settings.gssapi_server_identity...);
  visit("gssapi_client_identity", settings.gssapi_client_identity...);
  visit("gssapi_delegate_credentials", settings.gssapi_delegate_credentials...);
  visit("num_retries", settings.num_retries...);
  visit("retry_delay", settings.retry_delay...);
  visit("timeout", settings.timeout...);
  visit("connect_timeout", settings.connect_timeout...);
  visit("proxy", settings.proxy...);
  visit("proxy_command", settings.proxy_command...);
  visit("ipv6_only", settings.ipv6_only...);
  visit("compress", settings.compress...);
  visit("keepalive", settings.keepalive...);
  visit("host_key_policy", settings.host_key_policy...);
  visit("known_hosts", settings.known_hosts...);
  visit("global_known_hosts", settings.global_known_hosts...);
  visit("identities_only", settings.identities_only...);
  visit("identity_agent", settings.identity_agent...);
  visit("host_key_alias", settings.host_key_alias...);
}

/// The list's length, counted off the list itself.
constexpr std::size_t host_option_count() {
  std::size_t count = 0;
  HostConfig config;
  visit_host_options([&count](const char*, auto&) { ++count; }, config);
  return count;
}

/// Fields of ClientOptions that are the client's alone (the pool, the ssh
/// config files, the output cap, the event handler, the program's agent).
inline constexpr std::size_t client_only_option_count = 7;

namespace field_count {
struct AnyField {
  template <class T>
  operator T() const;  // never defined: only counted
};
/// The number of fields aggregate initialization of T takes.
template <class T, class... Fields>
constexpr std::size_t of() {
  if constexpr (requires { T{Fields{}..., AnyField{}}; }) return of<T, Fields..., AnyField>();
  else return sizeof...(Fields);
}
}  // namespace field_count

static_assert(field_count::of<HostConfig>() == host_option_count() + 1,  // + alias
              "a HostConfig field is missing from visit_host_options");
static_assert(field_count::of<ClientOptions>() == host_option_count() + client_only_option_count,
              "a ClientOptions field is missing from visit_host_options (or from the client-only count)");

/// The option a host asks for: the host's own value if set, else the client's.
template <class T>
std::optional<T> inherit(const std::optional<T>& host, const std::optional<T>& client) {
  return host ? host : client;
}
/// The client's identities are a list (empty: none), the host's a replacement.
template <class T>
std::optional<std::vector<T>> inherit(const std::optional<std::vector<T>>& host, const std::vector<T>& client) {
  if (host) return host;
  if (client.empty()) return std::nullopt;
  return client;
}

/// What the program asks for `host`: each option of `host` that is set,
/// else the client's. The ssh config and the built-in defaults come after.
/// The route is one choice: a host that names a proxy or a ProxyCommand
/// replaces the client's route whole.
inline HostConfig requested_options(const ClientOptions& client, const HostConfig& host) {
  HostConfig wanted;
  wanted.alias = host.alias;
  visit_host_options([](const char*, auto& out, const auto& mine, const auto& theirs) { out = inherit(mine, theirs); },
                     wanted, host, client);
  if (host.proxy || host.proxy_command) {
    wanted.proxy = host.proxy;
    wanted.proxy_command = host.proxy_command;
  }
  return wanted;
}

}  // namespace pssh::detail
