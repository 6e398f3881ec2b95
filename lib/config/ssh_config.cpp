// A small reader for ssh_config(5): Host and Match blocks, Include, and the
// keys pssh uses.
#include "config/ssh_config.hpp"

#include "config/settings.hpp"
#include "text/text.hpp"

#include <pssh/errors.hpp>

#include <fnmatch.h>
#include <glob.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace pssh::detail {
namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (std::isspace(static_cast<unsigned char>(line[i])) || line[i] == '='))
      ++i;
    if (i >= line.size()) break;
    std::string word;
    if (line[i] == '"') {
      auto close = line.find('"', i + 1);
      if (close == std::string_view::npos) close = line.size();
      word = line.substr(i + 1, close - i - 1);
      i = close + 1;
    } else {
      std::size_t start = i;
      // '=' separates only the keyword from its value.
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) &&
             !(words.empty() && line[i] == '='))
        ++i;
      word = line.substr(start, i - start);
    }
    words.push_back(std::move(word));
  }
  return words;
}

int parse_port(std::string_view value) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
  if (ec != std::errc() || ptr != value.data() + value.size() || port < 1 || port > 65535) return 0;
  return port;
}

/// ssh(1)'s pattern list: "*" and "?" wildcards, "!" negates, and a negated
/// match wins.
bool patterns_match(const std::vector<std::string>& patterns, const std::string& subject) {
  bool matched = false;
  for (std::string_view pattern : patterns) {
    bool negated = !pattern.empty() && pattern.front() == '!';
    if (negated) pattern.remove_prefix(1);
    if (::fnmatch(lower(std::string(pattern)).c_str(), lower(subject).c_str(), 0) == 0) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (auto comma = list.find(','); comma != std::string::npos; comma = list.find(',', start)) {
    parts.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  parts.push_back(list.substr(start));
  return parts;
}

}  // namespace

namespace {

constexpr int max_include_depth = 16;  // as ssh(1)

/// One config file (or included file) applied to `entry`. Each file has its
/// own Host state, starting from its includer's, as in ssh(1).
class ConfigReader {
 public:
  ConfigReader(const std::string& host, const IncludeReader& include)
      : host_(host), include_(include) {}

  void read(std::string_view text, const std::string& origin, int depth) {
    bool active = true;  // lines before the first Host apply to every host
    std::size_t line_number = 0;
    while (!text.empty()) {
      auto end = text.find('\n');
      std::string_view line = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      ++line_number;
      auto words = split_words(line);
      if (words.empty() || words[0].front() == '#') continue;
      std::string key = lower(words[0]);
      if (key == "host") {
        active = patterns_match({words.begin() + 1, words.end()}, host_);
        continue;
      }
      if (key == "match") {
        active = match(words);
        continue;
      }
      if (!active || words.size() < 2) continue;
      std::string where = origin + " line " + std::to_string(line_number);
      if (key == "include") {
        include(words, where, depth);
      } else {
        apply(key, words[1], where);
      }
    }
  }

  SshConfigEntry entry;

 private:
  void include(const std::vector<std::string>& words, const std::string& where, int depth) {
    if (!include_) return;
    if (depth + 1 >= max_include_depth) {
      throw Error(host_, where + ": Include nests more than " + std::to_string(max_include_depth) +
                             " files deep (a loop?); fix the ssh config");
    }
    for (std::size_t i = 1; i < words.size(); ++i)
      for (const IncludedFile& file : include_(words[i])) read(file.text, file.path, depth + 1);
  }

  void apply(const std::string& key, const std::string& value, const std::string& where) {
    if (key == "hostname" && !entry.hostname) {
      entry.hostname = value;
    } else if (key == "user" && !entry.user) {
      entry.user = value;
    } else if (key == "proxyjump" && !entry.proxy_jump) {
      entry.proxy_jump = value;
    } else if (key == "forwardagent" && !entry.forward_agent) {
      entry.forward_agent = lower(value) == "yes";
    } else if (key == "compression" && !entry.compression) {
      entry.compression = lower(value) == "yes";
    } else if (key == "serveraliveinterval" && !entry.server_alive_interval) {
      entry.server_alive_interval = parse_count(value, 0, "ServerAliveInterval", where);
    } else if (key == "connectionattempts" && !entry.connection_attempts) {
      entry.connection_attempts = parse_count(value, 1, "ConnectionAttempts", where);
    } else if (key == "stricthostkeychecking" && !entry.strict_host_key_checking) {
      entry.strict_host_key_checking = parse_strictness(value, where);
    } else if (key == "userknownhostsfile" && !entry.user_known_hosts_file) {
      entry.user_known_hosts_file = value;
    } else if (key == "ciphers" && !entry.ciphers) {
      entry.ciphers = value;
    } else if (key == "macs" && !entry.macs) {
      entry.macs = value;
    } else if (key == "kexalgorithms" && !entry.kex_algorithms) {
      entry.kex_algorithms = value;
    } else if (key == "hostkeyalgorithms" && !entry.host_key_algorithms) {
      entry.host_key_algorithms = value;
    } else if (key == "identityfile") {
      entry.identity_files.push_back(value);
    } else if (key == "port" && !entry.port) {
      int port = parse_port(value);
      if (port == 0) {
        throw Error(host_, where + ": Port '" + value +
                               "' is not a port number (1-65535); fix the ssh config");
      }
      entry.port = port;
    }
  }

  /// `Match all`, and `host` / `originalhost` with comma-separated patterns,
  /// each criterion negatable with "!". A block with any other criterion
  /// (exec, user, canonical, ...) does not apply: pssh cannot judge it.
  bool match(const std::vector<std::string>& words) const {
    if (words.size() == 2 && lower(words[1]) == "all") return true;
    if (words.size() < 3 || words.size() % 2 == 0) return false;
    for (std::size_t i = 1; i + 1 < words.size(); i += 2) {
      std::string criterion = lower(words[i]);
      bool negated = criterion.front() == '!';
      if (negated) criterion.erase(0, 1);
      std::string subject;
      if (criterion == "host") subject = entry.hostname.value_or(host_);
      else if (criterion == "originalhost") subject = host_;
      else return false;
      if (patterns_match(split_commas(words[i + 1]), subject) == negated) return false;
    }
    return true;
  }

  int parse_count(const std::string& value, int least, const char* key, const std::string& where) const {
    int count = -1;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
    if (ec != std::errc() || ptr != value.data() + value.size() || count < least) {
      throw Error(host_, where + ": " + key + " '" + value + "' is not a whole number of at least " +
                             std::to_string(least) + "; fix the ssh config");
    }
    return count;
  }

  HostKeyPolicy parse_strictness(const std::string& value, const std::string& where) const {
    std::string v = lower(value);
    // A library cannot ask: "ask" is strict. "no" would let a changed key
    // through in ssh(1); pssh never takes that from a config file.
    if (v == "yes" || v == "ask") return HostKeyPolicy::strict;
    if (v == "accept-new" || v == "no" || v == "off") return HostKeyPolicy::accept_new;
    throw Error(host_, where + ": StrictHostKeyChecking '" + value +
                           "' is not yes, ask, accept-new or no; fix the ssh config");
  }

  const std::string& host_;
  const IncludeReader& include_;
};

}  // namespace

SshConfigEntry lookup_ssh_config(std::string_view text, const std::string& host,
                                 const std::string& origin, const IncludeReader& include) {
  ConfigReader reader(host, include);
  reader.read(text, origin, 0);
  return std::move(reader.entry);
}

std::vector<IncludedFile> read_included_files(const std::string& pattern, const std::string& origin) {
  std::string path = expand_home(pattern);
  if (path.empty() || path.front() != '/') {
    bool system = origin.rfind("/etc/ssh/", 0) == 0;
    path = (system ? std::string("/etc/ssh") : expand_home("~/.ssh")) + "/" + path;
  }
  struct Matches {
    glob_t found{};
    ~Matches() { ::globfree(&found); }
  } matches;
  std::vector<IncludedFile> files;
  if (::glob(path.c_str(), 0, nullptr, &matches.found) != 0) return files;
  for (std::size_t i = 0; i < matches.found.gl_pathc; ++i) {
    std::string name = matches.found.gl_pathv[i];
    auto text = read_text(name);
    if (!text) {
      throw Error("", "cannot read " + name + ", included from " + origin +
                          "; fix its permissions or the Include line");
    }
    files.push_back({name, std::move(*text)});
  }
  return files;
}

SshConfigFile::SshConfigFile(std::string path)
    : path_(std::move(path)), text_(read_text(path_).value_or("")) {}

SshConfigEntry SshConfigFile::lookup(const std::string& host) const {
  return lookup_ssh_config(text_, host, path_, [this](const std::string& pattern) {
    auto [cached, added] = included_.try_emplace(pattern);
    if (added) cached->second = read_included_files(pattern, path_);
    return cached->second;
  });
}

std::vector<JumpHop> parse_proxy_jump(const std::string& value, const std::string& host,
                                      const std::string& origin) {
  std::vector<JumpHop> hops;
  if (lower(value) == "none") return hops;
  std::string_view rest = value;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view hop = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    if (hop.rfind("ssh://", 0) == 0) hop.remove_prefix(6);
    JumpHop proxy;
    if (auto at = hop.rfind('@'); at != std::string_view::npos) {
      proxy.user = std::string(hop.substr(0, at));
      hop.remove_prefix(at + 1);
    }
    // "[v6]:port" or "name:port"; a bare IPv6 address has several colons.
    auto close = hop.rfind(']');
    auto colon = hop.rfind(':');
    bool has_port = colon != std::string_view::npos &&
                    (close != std::string_view::npos ? colon > close : hop.find(':') == colon);
    if (has_port) {
      proxy.port = parse_port(hop.substr(colon + 1));
      if (*proxy.port == 0) {
        throw Error(host, origin + ": ProxyJump '" + value + "' has a bad port; use [user@]host[:port]");
      }
      hop = hop.substr(0, colon);
    }
    if (hop.empty()) {
      throw Error(host, origin + ": ProxyJump '" + value + "' has an empty host; use [user@]host[:port]");
    }
    proxy.host = std::string(hop);
    hops.push_back(std::move(proxy));
  }
  return hops;
}

}  // namespace pssh::detail
