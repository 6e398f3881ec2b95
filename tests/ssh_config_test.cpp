// Differential test: `ssh -G` (OpenSSH 9.2) and pssh's effective_ssh_options()
// over the configs in tests/ssh_config_corpus must agree on every keyword
// pssh supports.
#include "common.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace {

using Values = std::map<std::string, std::vector<std::string>>;  // keyword -> values, in order

/// The keywords compared: every one pssh supports and prints.
const std::set<std::string> compared = {
    "user", "hostname", "port", "addressfamily", "compression", "forwardagent",
    "gssapiauthentication", "identitiesonly", "stricthostkeychecking", "connectionattempts",
    "connecttimeout", "serveralivecountmax", "serveraliveinterval", "hostkeyalias",
    "identityagent", "identityfile", "certificatefile", "userknownhostsfile", "globalknownhostsfile",
    "sendenv", "setenv",
    "proxyjump", "proxycommand", "ciphers", "macs", "kexalgorithms", "hostkeyalgorithms"};

/// Keywords whose built-in default differs on purpose (pssh: accept-new, 3
/// attempts, a 60 s connect limit, 30 s keepalive, three default keys, one
/// known_hosts file and one system-wide file; ssh: ask, 1, none, 0, seven
/// keys, two files and two): compared unless both sides show their own
/// default, i.e. unless no config set it.
const std::set<std::string> own_defaults = {"stricthostkeychecking", "connectionattempts",
                                            "connecttimeout", "serveraliveinterval",
                                            "identityfile", "userknownhostsfile",
                                            "globalknownhostsfile"};

/// Algorithm lists: OpenSSH prints them resolved against its own defaults
/// (and without a config, its whole default list), libssh has other
/// defaults; only a plain list a config wrote is compared.
const std::set<std::string> algorithm_lists = {"ciphers", "macs", "kexalgorithms", "hostkeyalgorithms"};

/// ssh(1) expands "~" and %d from the password database, pssh from $HOME
/// (which the suite points at a temporary directory): the one rewrite made.
std::string with_home(std::string value) {
  std::string pw_dir = ::getpwuid(::geteuid())->pw_dir;
  std::string home = std::getenv("HOME");
  for (std::size_t at; (at = value.find(pw_dir + "/")) != std::string::npos;)
    value.replace(at, pw_dir.size(), home);
  return value;
}

Values ssh_g(const fs::path& config, const std::string& host) {
  std::string out;
  int status = rig::run({"ssh", "-F", config.string(), "-G", host}, &out);
  REQUIRE_MESSAGE(status == 0, "ssh -G " << host << " with " << config << " failed");
  Values values;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto space = line.find(' ');
    values[line.substr(0, space)].push_back(with_home(line.substr(space + 1)));
  }
  return values;
}

Values pssh_g(const std::string& host, const pssh::ClientOptions& options) {
  Values values;
  for (auto& [keyword, value] : pssh::effective_ssh_options(host, options)) values[keyword].push_back(value);
  return values;
}

pssh::ClientOptions reading(const fs::path& user, std::optional<fs::path> system) {
  pssh::ClientOptions options;
  options.ssh_config = user.string();
  options.system_ssh_config = system ? std::optional(system->string()) : std::nullopt;
  return options;
}

std::string joined(const std::vector<std::string>& values) {
  std::string text;
  for (const auto& v : values) text += "[" + v + "]";
  return text.empty() ? "(none)" : text;
}

/// The corpus copied to `dir`, with @DIR@ naming `dir` (Include paths).
void copy_corpus(const fs::path& dir) {
  fs::path source = SSH_CONFIG_CORPUS;
  for (const auto& entry : fs::recursive_directory_iterator(source)) {
    if (!entry.is_regular_file()) continue;
    std::string text = rig::read_file(entry.path());
    for (std::size_t at; (at = text.find("@DIR@")) != std::string::npos;) text.replace(at, 5, dir.string());
    fs::path target = dir / fs::relative(entry.path(), source);
    fs::create_directories(target.parent_path());
    rig::write_file(target, text);
  }
}

/// "# name: a b c" in a corpus file's header.
std::vector<std::string> header(const std::string& text, const std::string& name) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line) && line.rfind("#", 0) == 0;) {
    if (line.rfind("# " + name + ":", 0) != 0) continue;
    std::istringstream list(line.substr(name.size() + 3));
    for (std::string word; list >> word;) words.push_back(word);
  }
  return words;
}

}  // namespace

TEST_SUITE("ssh_config") {
  TEST_CASE("ssh -G and pssh agree on every supported keyword over the corpus") {
    rig::TempDir dir;
    copy_corpus(dir.path());
    rig::write_file(dir.path() / "empty", "");
    Values ssh_defaults = ssh_g(dir.path() / "empty", "default-host");
    Values pssh_defaults = pssh_g("default-host", reading(dir.path() / "empty", std::nullopt));

    std::vector<fs::path> configs;
    for (const auto& entry : fs::directory_iterator(dir.path()))
      if (entry.path().extension() == ".conf") configs.push_back(entry.path());
    std::sort(configs.begin(), configs.end());
    REQUIRE(configs.size() >= 30);
    int compared_values = 0;
    for (const fs::path& config : configs) {
      std::string text = rig::read_file(config);
      for (const std::string& assignment : header(text, "env")) {
        auto eq = assignment.find('=');
        ::setenv(assignment.substr(0, eq).c_str(), assignment.substr(eq + 1).c_str(), 1);
      }
      // ssh -F reads one file: one that includes the user's file and then
      // the system's reads them as ssh(1) reads ~/.ssh/config and then
      // /etc/ssh/ssh_config (each file starts in the state of the line that
      // includes it; the corpus's system files use absolute Include paths).
      auto system = header(text, "system");
      fs::path ssh_config = config;
      std::optional<fs::path> system_file;
      if (!system.empty()) {
        system_file = dir.path() / system[0];
        ssh_config = config.string() + ".both";
        rig::write_file(ssh_config, "Include " + config.string() + "\nInclude " + system_file->string() + "\n");
      }
      auto hosts = header(text, "hosts");
      REQUIRE_MESSAGE(!hosts.empty(), config << " names no hosts");
      for (const std::string& host : hosts) {
        INFO(config.filename().string() << " host " << host);
        Values ssh = ssh_g(ssh_config, host);
        Values ours = pssh_g(host, reading(config, system_file));
        for (const std::string& keyword : compared) {
          const auto& theirs = ssh[keyword];
          const auto& mine = ours[keyword];
          if (own_defaults.count(keyword) && theirs == ssh_defaults[keyword] &&
              mine == pssh_defaults[keyword])
            continue;
          if (algorithm_lists.count(keyword) &&
              (mine.empty() || std::string("+-^").find(mine[0][0]) != std::string::npos))
            continue;
          INFO("keyword " << keyword << ": ssh " << joined(theirs) << ", pssh " << joined(mine));
          CHECK(mine == theirs);
          ++compared_values;
        }
      }
    }
    MESSAGE(compared_values << " keyword values compared");
  }

  TEST_CASE("a config ssh -G refuses is the host's HostArgumentError in pssh") {
    rig::TempDir dir;
    copy_corpus(dir.path());
    int refused = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      if (entry.path().extension() != ".bad") continue;
      INFO(entry.path().filename().string());
      CHECK(rig::run({"sh", "-c", "exec ssh -F \"$0\" -G h 2>/dev/null >/dev/null", entry.path().string()}) != 0);
      CHECK_THROWS_AS(pssh::effective_ssh_options("h", reading(entry.path(), std::nullopt)),
                      pssh::HostArgumentError);
      ++refused;
    }
    CHECK(refused >= 8);
  }
}
