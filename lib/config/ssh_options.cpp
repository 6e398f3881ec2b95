// The keyword table: what each ssh_config keyword means to pssh.
#include "config/ssh_options.hpp"

#include "config/endpoint.hpp"
#include "text/text.hpp"

#include <pssh/errors.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>

namespace pssh::detail {
namespace {

/// One line being applied: its arguments and where its value goes.
struct Apply {
  SshOptions& o;
  const OptionLine& line;
  bool active;

  [[noreturn]] void bad(const std::string& what) const {
    throw OptionError(line.keyword + " " + line.rest + ": " + what);
  }

  const std::string& one() const {
    if (line.args.size() != 1) bad("takes exactly one argument; remove the rest of the line");
    return line.args[0];
  }

  /// The one argument read by a shared parser (parse_port, ...), whose
  /// error becomes this line's.
  template <class Parse>
  auto parsed(Parse parse) const {
    try {
      return parse(one());
    } catch (const HostArgumentError& e) {
      bad(e.what());
    }
  }

  template <class T>
  void set(std::optional<T>& field, T value) const {
    if (active && !field) field = std::move(value);
  }

  bool flag() const {
    std::string v = lower(one());
    if (v == "yes" || v == "true") return true;
    if (v == "no" || v == "false") return false;
    bad("expected yes or no");
  }

  int integer(int least) const {
    const std::string& v = one();
    int n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < least)
      bad("expected a whole number of at least " + std::to_string(least));
    return n;
  }

  /// ssh(1)'s time format: "90", "1m30s", "2h"; "none" (ConnectTimeout) is 0.
  int seconds() const {
    const std::string& v = one();
    if (lower(v) == "none") return 0;
    long total = 0;
    for (std::size_t i = 0; i < v.size();) {
      std::size_t start = i;
      while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
      if (i == start) bad("expected a time such as 30, 30s, 5m or 1h");
      if (i - start > 9) bad("the time is too long");
      long n = std::stol(v.substr(start, i - start));
      long unit = 1;
      if (i < v.size()) {
        switch (std::tolower(static_cast<unsigned char>(v[i++]))) {
          case 's': unit = 1; break;
          case 'm': unit = 60; break;
          case 'h': unit = 3600; break;
          case 'd': unit = 86400; break;
          case 'w': unit = 604800; break;
          default: bad("expected a time such as 30, 30s, 5m or 1h");
        }
      }
      total += n * unit;
      if (total > 1000000000) bad("the time is too long");
    }
    return static_cast<int>(total);
  }

  /// A keyword pssh cannot honour: an error for the hosts it applies to.
  void refuse(const std::string& what_to_do) const {
    if (active) bad("pssh cannot honour this (it would change the route, the identity or "
                    "host-key checking); " + what_to_do);
  }
  /// Refused unless its value is one of `harmless`.
  void refuse_unless(std::initializer_list<const char*> harmless, const std::string& what_to_do) const {
    std::string v = lower(one());
    for (const char* ok : harmless)
      if (v == ok) return;
    refuse(what_to_do);
  }
};

void check_environment_references(const Apply& a, const std::string& value) {
  try {
    expand_environment(value, a.line.keyword);
  } catch (const OptionError& e) {
    a.bad(e.what());
  }
}

/// IdentityFile, CertificateFile: every file counts, each once, in the
/// order first met (ssh_config(5)).
void add_file_once(Apply& a, std::vector<std::string>& files) {
  check_environment_references(a, a.one());
  if (a.active && std::find(files.begin(), files.end(), a.one()) == files.end())
    files.push_back(a.one());
}

using Handler = void (*)(Apply&);

const std::map<std::string, Handler>& keyword_table() {
  static const std::map<std::string, Handler> table = {
      {"hostname", [](Apply& a) { a.set(a.o.hostname, a.one()); }},
      {"user", [](Apply& a) { a.set(a.o.user, a.one()); }},
      {"port", [](Apply& a) { a.set(a.o.port, a.parsed(parse_port)); }},
      {"identityfile", [](Apply& a) { add_file_once(a, a.o.identity_files); }},
      {"certificatefile", [](Apply& a) { add_file_once(a, a.o.certificate_files); }},
      {"identitiesonly", [](Apply& a) { a.set(a.o.identities_only, a.flag()); }},
      {"identityagent",
       [](Apply& a) {
         const std::string& v = a.one();
         check_environment_references(a, v);
         if (v.size() > 1 && v[0] == '$' && v[1] != '{' &&
             !std::all_of(v.begin() + 1, v.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
           a.bad("'" + v + "' is not an environment variable name");
         a.set(a.o.identity_agent, v);
       }},
      // As ssh(1): a ProxyJump other than none also obtains ProxyCommand
      // (as "none"), so whichever of the two comes first wins; ProxyJump
      // none leaves ProxyCommand free.
      {"proxyjump",
       [](Apply& a) {
         a.parsed(parse_jump_hops);  // checked even where inactive, as ssh(1)
         if (!a.active || a.o.proxy_command || a.o.proxy_jump) return;
         a.o.proxy_jump = a.one();
         if (lower(a.one()) != "none") a.o.proxy_command = "none";
       }},
      {"proxycommand", [](Apply& a) { a.set(a.o.proxy_command, a.line.rest); }},
      {"forwardagent",
       [](Apply& a) {
         std::string v = lower(a.one());
         if (v == "yes" || v == "true" || v == "no" || v == "false") {
           a.set(a.o.forward_agent, a.flag());
         } else {
           a.refuse("pssh forwards $SSH_AUTH_SOCK only: use ForwardAgent yes");
         }
       }},
      {"compression", [](Apply& a) { a.set(a.o.compression, a.flag()); }},
      {"gssapiauthentication", [](Apply& a) { a.set(a.o.gssapi_authentication, a.flag()); }},
      {"gssapidelegatecredentials", [](Apply& a) { a.set(a.o.gssapi_delegate_credentials, a.flag()); }},
      {"gssapiserveridentity", [](Apply& a) { a.set(a.o.gssapi_server_identity, a.one()); }},
      {"gssapiclientidentity", [](Apply& a) { a.set(a.o.gssapi_client_identity, a.one()); }},
      {"serveraliveinterval", [](Apply& a) { a.set(a.o.server_alive_interval, a.seconds()); }},
      {"serveralivecountmax", [](Apply& a) { a.set(a.o.server_alive_count_max, a.integer(1)); }},
      {"connectionattempts", [](Apply& a) { a.set(a.o.connection_attempts, a.integer(1)); }},
      {"connecttimeout", [](Apply& a) { a.set(a.o.connect_timeout, a.seconds()); }},
      {"stricthostkeychecking",
       [](Apply& a) {
         std::string v = lower(a.one());
         HostKeyPolicy policy;
         if (v == "yes" || v == "true" || v == "ask") policy = HostKeyPolicy::strict;
         else if (v == "accept-new") policy = HostKeyPolicy::accept_new;
         else if (v == "no" || v == "false" || v == "off") policy = HostKeyPolicy::ignore;
         else a.bad("expected yes, ask, accept-new or no");
         a.set(a.o.strict_host_key_checking, policy);
       }},
      {"userknownhostsfile",
       [](Apply& a) {
         for (const auto& file : a.line.args) check_environment_references(a, file);
         a.set(a.o.user_known_hosts_files, a.line.args);
       }},
      {"hostkeyalias", [](Apply& a) { a.set(a.o.host_key_alias, a.one()); }},
      {"ciphers", [](Apply& a) { a.set(a.o.ciphers, a.one()); }},
      {"macs", [](Apply& a) { a.set(a.o.macs, a.one()); }},
      {"kexalgorithms", [](Apply& a) { a.set(a.o.kex_algorithms, a.one()); }},
      {"hostkeyalgorithms", [](Apply& a) { a.set(a.o.host_key_algorithms, a.one()); }},
      {"sendenv",
       [](Apply& a) {
         for (const std::string& name : a.line.args) {
           if (name.empty() || name.find('=') != std::string::npos)
             a.bad("'" + name + "' is not an environment variable name or pattern");
           if (!a.active) continue;
           auto& list = a.o.send_env;
           if (name.front() == '-') {
             std::string_view pattern = std::string_view(name).substr(1);
             std::erase_if(list, [&](const std::string& e) { return match_pattern(e, pattern); });
           } else {
             list.push_back(name);
           }
         }
       }},
      {"setenv",
       [](Apply& a) {
         std::vector<std::pair<std::string, std::string>> pairs;
         for (const std::string& item : a.line.args) {
           auto eq = item.find('=');
           if (eq == std::string::npos || eq == 0) a.bad("'" + item + "' is not NAME=VALUE");
           std::string name = item.substr(0, eq);
           // A name given twice on one line keeps its first value, as in ssh(1).
           if (std::none_of(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == name; }))
             pairs.emplace_back(name, item.substr(eq + 1));
         }
         a.set(a.o.set_env, std::move(pairs));
       }},
      {"addressfamily",
       [](Apply& a) {
         std::string v = lower(a.one());
         if (v != "any" && v != "inet" && v != "inet6") a.bad("expected any, inet or inet6");
         if (v == "inet") a.refuse("pssh has no IPv4-only mode; use AddressFamily any or an IPv4 address");
         else a.set(a.o.address_family, v);
       }},
      {"ignoreunknown", [](Apply& a) { a.set(a.o.ignore_unknown, a.one()); }},
      {"bindaddress", [](Apply& a) { a.refuse("remove BindAddress for the hosts pssh reaches"); }},
      {"bindinterface", [](Apply& a) { a.refuse("remove BindInterface for the hosts pssh reaches"); }},
      {"proxyusefdpass",
       [](Apply& a) {
         if (a.flag()) a.refuse("use ProxyUseFdpass no");
       }},
      {"canonicalizehostname",
       [](Apply& a) {
         a.refuse_unless({"no", "false"}, "write the full name in HostName and use CanonicalizeHostname no");
       }},
      {"pkcs11provider",
       [](Apply& a) { a.refuse_unless({"none"}, "give the key as IdentityFile or through the agent"); }},
      {"smartcarddevice",
       [](Apply& a) { a.refuse_unless({"none"}, "give the key as IdentityFile or through the agent"); }},
      {"securitykeyprovider",
       [](Apply& a) { a.refuse_unless({"internal"}, "use an agent that holds the security key"); }},
      {"knownhostscommand",
       [](Apply& a) { a.refuse_unless({"none"}, "write the host keys to UserKnownHostsFile"); }},
      {"verifyhostkeydns",
       [](Apply& a) { a.refuse_unless({"no", "false"}, "write the host keys to UserKnownHostsFile"); }},
      {"globalknownhostsfile", [](Apply& a) { a.set(a.o.global_known_hosts_files, a.line.args); }},
      {"revokedhostkeys", [](Apply& a) { a.refuse("pssh cannot check a revocation list; remove it"); }},
      {"tunnel", [](Apply& a) { a.refuse_unless({"no", "false"}, "use Tunnel no"); }},
      {"hostbasedauthentication",
       [](Apply& a) {
         if (a.flag()) a.refuse("use public keys (IdentityFile or the agent)");
       }},
      {"pubkeyauthentication",
       [](Apply& a) {
         std::string v = lower(a.one());
         if (v == "no" || v == "false") a.refuse("set ClientOptions allow_agent and identity_auth to false instead");
       }},
      {"nohostauthenticationforlocalhost",
       [](Apply& a) {
         if (a.flag()) a.refuse("use StrictHostKeyChecking for those hosts");
       }},
  };
  return table;
}

/// OpenSSH 9.2's other keywords (Debian's GSSAPI ones and deprecated ones
/// included): nothing pssh does depends on them.
bool ignored_keyword(const std::string& keyword) {
  static const char* const names[] = {
      "addkeystoagent", "batchmode", "canonicaldomains", "canonicalizefallbacklocal",
      "canonicalizemaxdots", "canonicalizepermittedcnames", "casignaturealgorithms",
      "challengeresponseauthentication", "checkhostip", "cipher", "clearallforwardings",
      "compressionlevel", "controlmaster", "controlpath", "controlpersist", "dsaauthentication",
      "dynamicforward", "enableescapecommandline", "enablesshkeysign", "escapechar",
      "exitonforwardfailure", "fallbacktorsh", "fingerprinthash", "forkafterauthentication",
      "forwardx11", "forwardx11timeout", "forwardx11trusted", "gatewayports",
      "gssapikexalgorithms", "gssapikeyexchange", "gssapirenewalforcesrekey", "gssapitrustdns",
      "hashknownhosts", "hostbasedacceptedalgorithms", "hostbasedkeytypes", "ipqos",
      "kbdinteractiveauthentication", "kbdinteractivedevices", "localcommand", "localforward",
      "loglevel", "logverbose", "numberofpasswordprompts", "passwordauthentication",
      "permitlocalcommand", "permitremoteopen", "preferredauthentications", "protocol",
      "pubkeyacceptedalgorithms", "pubkeyacceptedkeytypes", "rekeylimit", "remotecommand",
      "remoteforward", "requesttty", "requiredrsasize", "rhostsrsaauthentication",
      "rsaauthentication", "sessiontype", "stdinnull", "streamlocalbindmask",
      "streamlocalbindunlink", "syslogfacility", "tcpkeepalive", "tunneldevice",
      "updatehostkeys", "useprivilegedport", "useroaming", "usersh", "visualhostkey",
      "xauthlocation"};
  return std::binary_search(std::begin(names), std::end(names), keyword,
                            [](const std::string& x, const std::string& y) { return x < y; });
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f'; }

}  // namespace

std::vector<std::string> split_arguments(std::string_view s) {
  std::vector<std::string> args;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_space(s[i])) {
      ++i;
      continue;
    }
    if (s[i] == '#') break;
    std::string arg;
    char quote = 0;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c == '\\' && i + 1 < s.size() &&
          (s[i + 1] == '\'' || s[i + 1] == '"' || s[i + 1] == '\\' || (quote == 0 && s[i + 1] == ' '))) {
        arg += s[++i];
      } else if (quote == 0 && is_space(c)) {
        break;
      } else if (quote == 0 && (c == '"' || c == '\'')) {
        quote = c;
      } else if (quote != 0 && c == quote) {
        quote = 0;
      } else {
        arg += c;
      }
    }
    if (quote != 0) throw OptionError("a quote is not closed; close it");
    args.push_back(std::move(arg));
  }
  return args;
}

std::optional<OptionLine> split_option_line(std::string_view line) {
  while (!line.empty() && (is_space(line.back()) || line.back() == '\n')) line.remove_suffix(1);
  std::size_t i = 0;
  while (i < line.size() && is_space(line[i])) ++i;
  std::size_t start = i;
  while (i < line.size() && !is_space(line[i]) && line[i] != '=') ++i;
  if (i == start || line[start] == '#') return std::nullopt;
  OptionLine out;
  out.keyword = lower(line.substr(start, i - start));
  // One '=' may separate the keyword from its value, with spaces around it.
  while (i < line.size() && is_space(line[i])) ++i;
  if (i < line.size() && line[i] == '=') ++i;
  while (i < line.size() && is_space(line[i])) ++i;
  out.rest = std::string(line.substr(i));
  if (out.rest.empty()) throw OptionError(out.keyword + " has no argument; give one");
  out.args = split_arguments(out.rest);
  if (out.args.empty()) throw OptionError(out.keyword + " has no argument; give one");
  return out;
}

void apply_option(SshOptions& options, const OptionLine& line, bool active) {
  Apply apply{options, line, active};
  const auto& table = keyword_table();
  if (auto found = table.find(line.keyword); found != table.end()) {
    found->second(apply);
    return;
  }
  if (ignored_keyword(line.keyword)) return;
  if (options.ignore_unknown && match_pattern_list(line.keyword, *options.ignore_unknown, true) == 1)
    return;
  throw OptionError("'" + line.keyword + "' is not an OpenSSH client keyword; fix the spelling, "
                    "or list it in IgnoreUnknown before it");
}

bool match_pattern(std::string_view s, std::string_view p) {
  // Iterative '*' backtracking, as OpenSSH's match_pattern.
  std::size_t si = 0, pi = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++si;
      ++pi;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

int match_pattern_list(std::string_view subject, std::string_view list, bool lower_case) {
  std::string s = lower_case ? lower(subject) : std::string(subject);
  int result = 0;
  while (true) {
    auto comma = list.find(',');
    std::string pattern(list.substr(0, comma));
    bool negated = !pattern.empty() && pattern.front() == '!';
    if (negated) pattern.erase(0, 1);
    if (lower_case) pattern = lower(pattern);
    if (match_pattern(s, pattern)) {
      if (negated) return -1;
      result = 1;
    }
    if (comma == std::string_view::npos) return result;
    list.remove_prefix(comma + 1);
  }
}

std::string Tokens::expand(const std::string& text, const std::string& keyword) const {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size())
      throw OptionError(keyword + " '" + text + "' ends in a lone '%'; write %% for a percent sign");
    char token = text[++i];
    if (token == '%') {
      out += '%';
      continue;
    }
    auto found = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == token; });
    if (found == values.end())
      throw OptionError(keyword + " '" + text + "' uses %" + std::string(1, token) +
                        ", which " + keyword + " does not accept (see ssh_config(5) TOKENS)");
    out += found->second;
  }
  return out;
}

std::string expand_environment(const std::string& text, const std::string& keyword) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i];
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string::npos)
      throw OptionError(keyword + " '" + text + "' has an unclosed ${; close it with }");
    std::string name = text.substr(i + 2, close - i - 2);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr)
      throw OptionError(keyword + " '" + text + "' names ${" + name + "}, which is not set; set it");
    out += value;
    i = close;
  }
  return out;
}

}  // namespace pssh::detail
