// The one OpenSSH options model: every ssh_config(5) keyword pssh knows and
// its one meaning, read from one table by the config reader, by
// apply_ssh_option (-x, PSSH_OPTIONS) and by the JSON loader's "ssh_options".
#pragma once

#include <pssh/options.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pssh::detail {

/// A bad keyword or value; the caller adds the host and where it was written.
struct OptionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Values as obtained: the first one obtained wins, as in ssh_config(5).
/// Paths and commands are kept as written (tokens unexpanded): they are
/// expanded once the host's user and port are known.
struct SshOptions {
  std::optional<std::string> hostname, user, proxy_jump, proxy_command, identity_agent,
      host_key_alias, address_family, gssapi_server_identity, gssapi_client_identity;
  std::optional<int> port, connection_attempts, server_alive_interval, server_alive_count_max;
  std::optional<int> connect_timeout;  ///< seconds; 0 reads as "none"
  std::optional<bool> forward_agent, compression, identities_only, gssapi_authentication,
      gssapi_delegate_credentials;
  /// ssh(1)'s meaning: yes and ask -> strict (a library cannot ask),
  /// accept-new -> accept_new, no/off -> ignore.
  std::optional<HostKeyPolicy> strict_host_key_checking;
  std::optional<std::vector<std::string>> user_known_hosts_files, global_known_hosts_files;
  /// Algorithm lists as written, handed to libssh (which reads "+", "-", "^").
  std::optional<std::string> ciphers, macs, kex_algorithms, host_key_algorithms;
  std::vector<std::string> identity_files, certificate_files;  ///< each once, as ssh(1)
  /// Appended by every matching line, as ssh(1) does (a second pass repeats them).
  std::vector<std::string> send_env;
  std::optional<std::vector<std::pair<std::string, std::string>>> set_env;
  std::optional<std::string> ignore_unknown;  ///< IgnoreUnknown's pattern list
};

/// One "Keyword args..." line. `rest` is the text after the keyword as
/// written (ProxyCommand takes it whole); `args` is it split as ssh(1) does.
struct OptionLine {
  std::string keyword;  ///< lower case
  std::vector<std::string> args;
  std::string rest;
};

/// Splits "Keyword value", "Keyword=value" or "Keyword = value" and the
/// arguments as ssh(1) does (quotes, backslash escapes, "#" comments).
/// Nullopt for a blank or comment line; OptionError for a keyword without
/// an argument or an unclosed quote.
std::optional<OptionLine> split_option_line(std::string_view line);

/// ssh(1)'s argument splitting of `text`: "..." and '...' quotes, a
/// backslash escaping a quote, a backslash or a space, and a word starting
/// with '#' ending the line.
std::vector<std::string> split_arguments(std::string_view text);

/// Checks `line` and, when `active` (its block applies), stores its value in
/// `options` unless one was obtained before. A value is checked even in a
/// block that does not apply, as ssh(1) does. OptionError for a keyword that
/// is not OpenSSH's, a bad value, or (when active) a keyword that would
/// change the route, the identity or host-key checking in a way pssh cannot
/// honour. Keywords that do not matter to pssh are accepted and dropped.
/// Host, Match and Include are the reader's, not this function's.
void apply_option(SshOptions& options, const OptionLine& line, bool active);

/// ssh(1)'s '*' and '?' pattern match of one pattern (case-sensitive).
bool match_pattern(std::string_view subject, std::string_view pattern);

/// ssh(1)'s pattern list ("a,b,!c"): 1 if a pattern matches, -1 if a negated
/// one does (it wins), 0 otherwise.
int match_pattern_list(std::string_view subject, std::string_view list, bool lower_case);

/// Values for %-tokens; a token without a value is an error where it is used.
struct Tokens {
  std::vector<std::pair<char, std::string>> values;
  /// `text` with %x replaced; OptionError naming `keyword` for an unknown
  /// token or a lone '%'.
  std::string expand(const std::string& text, const std::string& keyword) const;
};

/// ${NAME} replaced by the environment's value; OptionError naming
/// `keyword` for a variable that is not set.
std::string expand_environment(const std::string& text, const std::string& keyword);

}  // namespace pssh::detail
