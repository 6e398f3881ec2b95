// The ssh_config(5) reader: files, blocks, Include, Match, and the passes.
#include "config/ssh_config.hpp"

#include "text/text.hpp"
#include "config/settings.hpp"

#include <pssh/errors.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace pssh::detail {
namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_address(const std::string& host) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

/// Runs `command` through /bin/sh -c, its stdin and stdout on /dev/null as
/// ssh(1) does; true if it exits 0. OptionError if it cannot start or is
/// still running after `limit` (then its whole process group is killed).
bool run_match_exec(const std::string& command, duration limit) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attributes, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) throw OptionError("Match exec '" + command + "' could not start: " + std::strerror(rc));
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, std::chrono::milliseconds(20))) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (done < 0 && errno != EINTR) throw OptionError("Match exec '" + command + "': waitpid failed");
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw OptionError("Match exec '" + command + "' did not finish within " +
                        duration_text(limit) + " and was killed; make the command end sooner");
    }
    std::this_thread::sleep_for(pause);
  }
}

constexpr int max_include_depth = 16;  // as ssh(1)

/// One host's reading of its configs: the Host/Match state of each file,
/// the first-wins options, and what Match and the tokens need.
class ConfigReader {
 public:
  ConfigReader(const std::string& host, const std::string& label, const LookupContext& context,
               const IncludeReader& include)
      : original_(host), host_(host), label_(label), context_(context), include_(include) {}

  void pass(const std::vector<ConfigText>& configs, bool final_pass) {
    final_ = final_pass;
    for (const ConfigText& config : configs) {
      bool active = true;  // lines before the first Host apply to every host
      read(config.text, config.origin, config.system, 0, active, false);
    }
  }

  bool wants_final() const { return want_final_; }
  void set_host(std::string host) { host_ = std::move(host); }
  SshOptions options;

 private:
  void read(std::string_view text, const std::string& origin, bool system, int depth, bool& active,
            bool never_match) {
    std::size_t line_number = 0;
    while (!text.empty()) {
      auto end = text.find('\n');
      std::string_view raw = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      ++line_number;
      std::string where = origin + " line " + std::to_string(line_number);
      try {
        auto line = split_option_line(raw);
        if (!line) continue;
        if (line->keyword == "host") {
          active = !never_match && host_matches(line->args);
        } else if (line->keyword == "match") {
          active = match(line->args) && !never_match;
        } else if (line->keyword == "include") {
          include(line->args, system, depth, active, never_match);
        } else {
          apply_option(options, *line, active);
        }
      } catch (const OptionError& e) {
        throw HostArgumentError(label_, "ssh config for " + label_ + ": " + where + ": " + e.what());
      }
    }
  }

  void include(const std::vector<std::string>& patterns, bool system, int depth, bool& active, bool never_match) {
    if (!include_) return;
    if (depth + 1 >= max_include_depth) {
      throw OptionError("Include nests more than " + std::to_string(max_include_depth) +
                        " files deep (a loop?); fix the ssh config");
    }
    bool outer = active;
    for (const std::string& pattern : patterns) {
      std::vector<IncludedFile> files;
      try {
        files = include_(pattern, system);
      } catch (const Error& e) {
        throw OptionError(e.what());
      }
      for (const IncludedFile& file : files) {
        // An included file starts in its includer's state; its Host and
        // Match lines do not change the includer's.
        read(file.text, file.path, system, depth + 1, active, never_match || !outer);
        active = outer;
      }
    }
  }

  /// ssh(1)'s Host: any pattern matching, and a matching negated one refuses.
  bool host_matches(const std::vector<std::string>& patterns) const {
    bool matched = false;
    for (std::string_view pattern : patterns) {
      bool negated = pattern.front() == '!';
      if (negated) pattern.remove_prefix(1);
      if (match_pattern(host_, pattern)) {
        if (negated) return false;
        matched = true;
      }
    }
    return matched;
  }

  std::string remote_user() const {
    return context_.user.value_or(options.user.value_or(LocalFacts::get().user));
  }

  /// The name Match host and the tokens see: HostName so far, %h expanded.
  std::string match_host() const {
    if (final_ || !options.hostname) return host_;
    return Tokens{{{'h', original_}}}.expand(*options.hostname, "HostName");
  }

  bool match(const std::vector<std::string>& words) {
    if (words.empty()) throw OptionError("Match needs criteria; use Match all for every host");
    bool result = true;
    for (std::size_t i = 0; i < words.size(); ++i) {
      std::string criterion = lower(words[i]);
      bool negated = !criterion.empty() && criterion.front() == '!';
      if (negated) criterion.erase(0, 1);
      if (criterion == "all") {
        // OpenSSH 9.2 refuses anything after "all", and takes what comes before.
        if (i + 1 < words.size()) throw OptionError("nothing may follow 'all' in a Match line");
        if (result) result = !negated;
        continue;
      }
      if (criterion == "canonical" || criterion == "final") {
        // ssh(1) with CanonicalizeHostname off: only `Match final` asks for a
        // second pass, and both match in that pass alone.
        if (criterion == "final") want_final_ |= !negated;
        if (final_ == negated) result = false;
        continue;
      }
      if (i + 1 >= words.size())
        throw OptionError("Match " + criterion + " needs an argument");
      const std::string& argument = words[++i];
      bool matched;
      if (criterion == "host") {
        matched = match_pattern_list(match_host(), argument, true) == 1;
      } else if (criterion == "originalhost") {
        matched = match_pattern_list(original_, argument, true) == 1;
      } else if (criterion == "user") {
        matched = match_pattern_list(remote_user(), argument, false) == 1;
      } else if (criterion == "localuser") {
        matched = match_pattern_list(LocalFacts::get().user, argument, false) == 1;
      } else if (criterion == "exec") {
        // As ssh(1): not run once an earlier criterion failed (but run in an
        // Include that an inactive block reads, whose Match never applies).
        if (!result) continue;
        if (!context_.run_exec) throw OptionError("Match exec is not run here");
        matched = run_match_exec(exec_tokens().expand(argument, "Match exec"), context_.exec_timeout);
      } else {
        throw OptionError("Match " + criterion + " is not a criterion OpenSSH knows (all, canonical, "
                          "final, exec, host, originalhost, user, localuser)");
      }
      if (matched == negated) result = false;
    }
    return result;
  }

  Tokens exec_tokens() const {
    const LocalFacts& local = LocalFacts::get();
    std::string host = match_host();
    std::string port = std::to_string(context_.port.value_or(options.port.value_or(22)));
    std::string user = remote_user();
    return Tokens{{{'C', connection_hash(local.hostname, host, port, user)},
                   {'L', local.short_hostname},
                   {'d', expand_home("~")},
                   {'h', host},
                   {'k', options.host_key_alias.value_or(host)},
                   {'l', local.hostname},
                   {'n', original_},
                   {'p', port},
                   {'r', user},
                   {'u', local.user},
                   {'i', local.uid}}};
  }

  const std::string& original_;
  std::string host_;
  const std::string& label_;
  const LookupContext& context_;
  const IncludeReader& include_;
  bool final_ = false, want_final_ = false;
};

// SHA-1 (FIPS 180-4), for %C alone.
std::string sha1_hex(const std::string& message) {
  std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string data = message;
  std::uint64_t bits = static_cast<std::uint64_t>(message.size()) * 8;
  data += static_cast<char>(0x80);
  while (data.size() % 64 != 56) data += '\0';
  for (int i = 7; i >= 0; --i) data += static_cast<char>((bits >> (i * 8)) & 0xff);
  auto rotl = [](std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (std::size_t chunk = 0; chunk < data.size(); chunk += 64) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      w[i] = 0;
      for (int k = 0; k < 4; ++k)
        w[i] = (w[i] << 8) | static_cast<unsigned char>(data[chunk + static_cast<std::size_t>(i * 4 + k)]);
    }
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rotl(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  char hex[41];
  for (int i = 0; i < 5; ++i) std::snprintf(hex + i * 8, 9, "%08x", h[i]);
  return hex;
}

}  // namespace

std::string connection_hash(const std::string& local_host, const std::string& host,
                            const std::string& port, const std::string& user) {
  return sha1_hex(local_host + host + port + user);
}

const LocalFacts& LocalFacts::get() {
  static const LocalFacts facts = [] {
    LocalFacts f;
    const passwd* pw = ::getpwuid(::geteuid());
    f.user = pw != nullptr ? pw->pw_name : "root";
    f.uid = std::to_string(::geteuid());
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) == 0) f.hostname = name.data();
    f.short_hostname = f.hostname.substr(0, f.hostname.find('.'));
    return f;
  }();
  return facts;
}

SshConfigEntry lookup_ssh_config(const std::vector<ConfigText>& configs, const std::string& host,
                                 const std::string& label, const LookupContext& context,
                                 const IncludeReader& include) {
  ConfigReader reader(host, label, context, include);
  reader.pass(configs, false);
  SshConfigEntry entry;
  // As ssh(1) after its first pass: HostName's %h, then lower case.
  try {
    entry.hostname = reader.options.hostname
                         ? Tokens{{{'h', host}}}.expand(*reader.options.hostname, "HostName")
                         : host;
  } catch (const OptionError& e) {
    throw HostArgumentError(label, "ssh config for " + label + ": " + e.what());
  }
  if (!is_address(entry.hostname)) entry.hostname = lower(entry.hostname);
  if (reader.wants_final()) {
    reader.options.hostname = entry.hostname;
    reader.set_host(entry.hostname);
    reader.pass(configs, true);
  }
  entry.options = std::move(reader.options);
  return entry;
}

SshConfigEntry lookup_ssh_config(std::string_view text, const std::string& host,
                                 const std::string& origin, const IncludeReader& include) {
  return lookup_ssh_config({{origin, text, false}}, host, host, {}, include);
}

std::vector<IncludedFile> read_included_files(const std::string& pattern, bool system) {
  std::string path = system ? pattern : expand_home(pattern);
  if (path.empty() || path.front() != '/')
    path = (system ? std::string("/etc/ssh") : expand_home("~/.ssh")) + "/" + path;
  struct Matches {
    glob_t found{};
    ~Matches() { ::globfree(&found); }
  } matches;
  std::vector<IncludedFile> files;
  if (::glob(path.c_str(), 0, nullptr, &matches.found) != 0) return files;
  for (std::size_t i = 0; i < matches.found.gl_pathc; ++i) {
    std::string name = matches.found.gl_pathv[i];
    auto text = read_text(name);
    if (!text) throw Error("", "cannot read " + name + " (Include " + pattern + "); fix its permissions or the Include line");
    files.push_back({name, std::move(*text)});
  }
  return files;
}

SshConfigFile::SshConfigFile(std::optional<std::string> user_path,
                             std::optional<std::string> system_path) {
  for (auto [file, path] : {std::pair{&user_, &user_path}, std::pair{&system_, &system_path}}) {
    if (!*path) continue;
    file->path = expand_home(**path);
    file->text = read_text(file->path).value_or("");
    file->present = true;
  }
}

SshConfigEntry SshConfigFile::lookup(const std::string& host, const std::string& label,
                                     const LookupContext& context) const {
  std::vector<ConfigText> configs;
  if (user_.present) configs.push_back({user_.path, user_.text, false});
  if (system_.present) configs.push_back({system_.path, system_.text, true});
  return lookup_ssh_config(configs, host, label, context, [this](const std::string& pattern, bool system) {
    auto [cached, added] = included_.try_emplace({pattern, system});
    if (added) cached->second = read_included_files(pattern, system);
    return cached->second;
  });
}

std::vector<Endpoint> parse_proxy_jump(const std::string& value, const std::string& host,
                                       const std::string& origin) {
  try {
    return parse_jump_hops(value);
  } catch (const HostArgumentError& e) {
    throw HostArgumentError(host, origin + ": ProxyJump " + e.what());
  }
}

}  // namespace pssh::detail
