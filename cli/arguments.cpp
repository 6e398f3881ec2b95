#include "arguments.hpp"

#include "groups.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>

namespace cli {
namespace {

constexpr const char* version_text = "pssh 0.2.0 (pssh 2.3 compatible)\n";

enum ToolMask : unsigned {
  ssh = 1u << static_cast<unsigned>(Tool::ssh),
  scp = 1u << static_cast<unsigned>(Tool::scp),
  slurp = 1u << static_cast<unsigned>(Tool::slurp),
  rsync = 1u << static_cast<unsigned>(Tool::rsync),
  nuke = 1u << static_cast<unsigned>(Tool::nuke),
  every = ssh | scp | slurp | rsync | nuke,
  copies = scp | slurp | rsync,
};

/// What the options say before the client's options can be made: the
/// inventory (anywhere on the line) is their base.
struct Parsed {
  Arguments a;
  std::vector<std::string> host_files, host_strings;
  std::optional<std::string> host_glob, inventory, groups_file;
  std::vector<std::string> excludes;  ///< --exclude: host patterns, @groups, globs
  std::optional<std::size_t> pick;    ///< --pick N
  std::optional<std::string> user, port, par, ssh_config;
  std::optional<double> timeout;  ///< -t, in seconds as given
  /// -O, PSSH_OPTIONS and the -o of -x/-X, in the order given: ssh's options.
  std::vector<std::string> ssh_options;
  std::vector<std::string> extra;  ///< -x (split as a shell does) and -X
  std::vector<std::string> ssh_args;  ///< prsync's -S, split as rsync splits its -e
  bool help = false, version = false;
};

using Apply = void (*)(Parsed&, const std::string&);

/// One option of the family: its letter and long name, the value it takes
/// (empty: a flag), the tools that accept it, the PSSH_* variable that
/// gives it before the command line, and its --help text.
struct Option {
  char letter;
  std::string_view name;
  std::string_view value;
  unsigned tools;
  std::string_view variable;
  std::string_view help;
  Apply apply;
};

/// -t's seconds, in decimal ("30", "0.5"); 0 or less is none, as in pssh 2.3.
double seconds_of(std::string_view option, const std::string& text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (!text.empty() && error == std::errc() && end == text.data() + text.size() && std::isfinite(value)) return value;
  throw UsageError(std::string(option) + " " + text + ": expected a number of seconds (0: none)");
}

/// -p's and --pick's count: digits only, at least 1.
std::size_t count_of(std::string_view option, const std::string& text) {
  std::size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1)
    throw UsageError(std::string(option) + " " + text + ": expected a whole number of at least 1");
  return value;
}

Shard shard_of(const std::string& text) {
  try {
    return parse_shard(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

std::vector<std::string> shell_words(std::string_view text);

// The table: pssh 2.3's options first, with its letters, then ours.
const Option options[] = {
    {'h', "hosts", "HOST_FILE", every, "PSSH_HOSTS", "hosts file (each line \"[user@]host[:port] [user]\")",
     [](Parsed& p, const std::string& v) { p.host_files.push_back(v); }},
    {'H', "host", "HOST_STRING", every, "",
     "additional host entries (\"[user@]host[:port]\", several separated by spaces; ranges: web[01-20])",
     [](Parsed& p, const std::string& v) { p.host_strings.push_back(v); }},
    {'l', "user", "USER", every, "PSSH_USER", "username (OPTIONAL)",
     [](Parsed& p, const std::string& v) { p.user = v; }},
    {'p', "par", "PAR", every, "PSSH_PAR", "max number of parallel threads (OPTIONAL; default 32)",
     [](Parsed& p, const std::string& v) { p.par = v; }},
    {'o', "outdir", "OUTDIR", every, "PSSH_OUTDIR", "output directory for stdout files (OPTIONAL)",
     [](Parsed& p, const std::string& v) { p.a.out_dir = v; }},
    {'e', "errdir", "ERRDIR", every, "PSSH_ERRDIR", "output directory for stderr files (OPTIONAL)",
     [](Parsed& p, const std::string& v) { p.a.err_dir = v; }},
    {'t', "timeout", "TIMEOUT", every, "PSSH_TIMEOUT",
     "timeout (secs) (0 = no timeout) per host (OPTIONAL; pssh and pnuke: 60)",
     [](Parsed& p, const std::string& v) { p.timeout = seconds_of("-t", v); }},
    {'O', "option", "OPTION", every, "PSSH_OPTIONS", "SSH option (OPTIONAL), as ssh's -o Key=Value",
     [](Parsed& p, const std::string& v) { p.ssh_options.push_back(v); }},
    {'v', "verbose", "", every, "PSSH_VERBOSE",
     "turn on warning and diagnostic messages: a host's error also in its stderr output (OPTIONAL)",
     [](Parsed& p, const std::string&) { p.a.verbose = true; }},
    {'A', "askpass", "", every, "PSSH_ASKPASS",
     "Ask for a password (OPTIONAL): for the login, and sudo's with --sudo",
     [](Parsed& p, const std::string&) { p.a.askpass = true; }},
    {'x', "extra-args", "ARGS", every, "",
     "Extra command-line arguments, with processing for spaces, quotes, and backslashes "
     "(ssh's, scp's for pscp and pslurp: -o -i -p/-P -l -F -J -C -A -a -4 -6 -q -T -t; rsync's for prsync)",
     [](Parsed& p, const std::string& v) {
       auto words = shell_words(v);
       p.extra.insert(p.extra.end(), words.begin(), words.end());
     }},
    {'X', "extra-arg", "ARG", every, "", "Extra command-line argument",
     [](Parsed& p, const std::string& v) { p.extra.push_back(v); }},
    {'g', "host-glob", "HOST_GLOB", every, "", "Shell-style glob to filter hosts (OPTIONAL)",
     [](Parsed& p, const std::string& v) { p.host_glob = v; }},
    {'i', "inline", "", ssh | nuke, "PSSH_INLINE", "inline aggregated output and error for each server",
     [](Parsed& p, const std::string&) { p.a.inline_output = true; }},
    {'\0', "inline-stdout", "", ssh | nuke, "", "inline standard output for each server",
     [](Parsed& p, const std::string&) { p.a.inline_stdout = true; }},
    {'I', "send-input", "", ssh, "", "read from standard input and send as input to ssh",
     [](Parsed& p, const std::string&) { p.a.send_input = true; }},
    {'P', "print", "", ssh | nuke, "PSSH_PRINT", "print output as we get it",
     [](Parsed& p, const std::string&) { p.a.print = true; }},
    {'r', "recursive", "", copies, "PSSH_RECURSIVE", "recusively copy directories (OPTIONAL)",
     [](Parsed& p, const std::string&) { p.a.recursive = true; }},
    {'a', "archive", "", rsync, "PSSH_ARCHIVE", "use rsync -a (archive mode) (OPTIONAL)",
     [](Parsed& p, const std::string&) { p.a.archive = true; }},
    {'z', "compress", "", rsync, "PSSH_COMPRESS", "use rsync compression (OPTIONAL)",
     [](Parsed& p, const std::string&) { p.a.compress = true; }},
    {'S', "ssh-args", "ARGS", rsync, "",
     "extra arguments for ssh: its options as -x takes them for pssh (-o -i -p -l -F -J -C -4 -6 ...)",
     [](Parsed& p, const std::string& v) {
       auto words = shell_words(v);
       p.ssh_args.insert(p.ssh_args.end(), words.begin(), words.end());
     }},
    {'L', "localdir", "LOCALDIR", slurp, "PSSH_LOCALDIR", "output directory for remote file copies",
     [](Parsed& p, const std::string& v) { p.a.local_dir = v; }},
    {'\0', "version", "", every, "", "show program's version number and exit",
     [](Parsed& p, const std::string&) { p.version = true; }},
    {'\0', "help", "", every, "", "show this help message and exit",
     [](Parsed& p, const std::string&) { p.help = true; }},
    // Ours, where they do not take a letter of pssh 2.3's.
    {'\0', "groups", "FILE", every, "",
     "node groups for @name in -H (and --exclude), as ClusterShell writes them (\"web: web[01-20] db1\"); "
     "default: ~/.config/clustershell/groups.d/local.cfg, /etc/clustershell/groups.d/local.cfg or /etc/clustershell/groups",
     [](Parsed& p, const std::string& v) { p.groups_file = v; }},
    {'\0', "exclude", "PATTERN", every & ~rsync, "", "leave out the hosts PATTERN names: web[3-5], @group or a glob (repeatable)",
     [](Parsed& p, const std::string& v) { p.excludes.push_back(v); }},
    {'\0', "pick", "N", every, "", "work on N hosts of the list, chosen at random (after --exclude)",
     [](Parsed& p, const std::string& v) { p.pick = count_of("--pick", v); }},
    {'\0', "port", "PORT", every, "", "port for hosts that give none (default: the ssh config's, else 22)",
     [](Parsed& p, const std::string& v) { p.port = v; }},
    {'F', "", "FILE", every, "", "read this ssh config alone (default: ~/.ssh/config, then /etc/ssh/ssh_config)",
     [](Parsed& p, const std::string& v) { p.ssh_config = v; }},
    {'G', "", "HOST", ssh, "", "print the settings pssh would use for HOST, as ssh -G does, and exit",
     [](Parsed& p, const std::string& v) { p.a.show_config = v; }},
    {'\0', "inventory", "FILE", every, "",
     "JSON inventory {\"defaults\": {...}, \"hosts\": [...]}: its defaults come first, then PSSH_*, then the options here",
     [](Parsed& p, const std::string& v) { p.inventory = v; }},
    {'b', "", "", ssh | nuke, "", "gather hosts with identical output, each group's hosts folded: web[01-03],db1",
     [](Parsed& p, const std::string&) { p.a.report = Report::gather; }},
    {'\0', "diff", "", ssh | nuke, "",
     "show each output that differs from the one most hosts gave as a unified diff against it (clush's --diff)",
     [](Parsed& p, const std::string&) { p.a.report = Report::diff; }},
    {'\0', "json", "", ssh | nuke, "", "one JSON array of every host's result at the end, in host-list order",
     [](Parsed& p, const std::string&) { p.a.report = Report::json; }},
    {'\0', "jsonl", "", ssh | nuke, "", "one JSON object per host as it finishes",
     [](Parsed& p, const std::string&) { p.a.report = Report::jsonl; }},
    {'\0', "failed", "FILE", every, "", "write the hosts that failed to FILE as a hosts file: pssh -h FILE re-runs them",
     [](Parsed& p, const std::string& v) { p.a.failed_file = v; }},
    {'\0', "succeeded", "FILE", every, "", "the same for the hosts that succeeded",
     [](Parsed& p, const std::string& v) { p.a.succeeded_file = v; }},
    {'\0', "shard", "I/N", ssh, "",
     "work on the I-th (from 0) of N even, contiguous slices of the host list; its --jsonl carries what --merge needs",
     [](Parsed& p, const std::string& v) { p.a.shard = shard_of(v); }},
    {'\0', "merge", "", ssh, "",
     "the operands are the shards' --jsonl files: one run's report (-b, --json, --jsonl, --failed, "
     "--succeeded, the exit status); a host with no result is an error",
     [](Parsed& p, const std::string&) { p.a.merge = true; }},
    {'\0', "sudo", "", ssh, "", "run the command through sudo (-A answers its password prompt)",
     [](Parsed& p, const std::string&) { p.a.sudo = true; }},
    {'\0', "pty", "", ssh, "", "run the command with a PTY (stderr arrives on stdout)",
     [](Parsed& p, const std::string&) { p.a.pty = true; }},
    {'\0', "no-stdin", "", ssh, "", "close every command's stdin at once (the default without -I)",
     [](Parsed& p, const std::string&) { p.a.send_input = false; }},
};

bool accepts(const Option& option, Tool tool) {
  return (option.tools & (1u << static_cast<unsigned>(tool))) != 0;
}

const Option& short_option(Tool tool, char letter) {
  for (const Option& option : options)
    if (option.letter == letter && accepts(option, tool)) return option;
  throw UsageError(std::string("no such option: -") + letter + " (see --help)");
}

/// An exact long name, or the one long name that starts with it (as
/// optparse allows: --out for --outdir).
const Option& long_option(Tool tool, std::string_view name) {
  std::vector<const Option*> starting;
  for (const Option& option : options) {
    if (option.name.empty() || !accepts(option, tool) || !option.name.starts_with(name)) continue;
    if (option.name == name) return option;
    starting.push_back(&option);
  }
  if (starting.size() == 1) return *starting.front();
  if (starting.empty()) throw UsageError("no such option: --" + std::string(name) + " (see --help)");
  std::string candidates;
  for (const Option* option : starting) candidates += (candidates.empty() ? "--" : ", --") + std::string(option->name);
  throw UsageError("ambiguous option: --" + std::string(name) + " (" + candidates + "?)");
}

/// Words as a POSIX shell splits them (Python's shlex.split, which -x uses
/// in pssh 2.3): quotes and backslashes, no expansions.
std::vector<std::string> shell_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (++i == text.size()) throw UsageError("-x " + std::string(text) + ": no escaped character after the last \\");
      word += text[i];
    } else if (c == '\'') {
      auto end = text.find('\'', i + 1);
      if (end == std::string_view::npos) throw UsageError("-x " + std::string(text) + ": no closing quotation");
      word += text.substr(i + 1, end - i - 1);
      i = end;
    } else if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) ++i;
        word += text[i];
      }
      if (i >= text.size()) throw UsageError("-x " + std::string(text) + ": no closing quotation");
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

/// pssh 2.3 takes any non-empty value of a flag's variable as "on".
void apply_environment(Tool tool, Parsed& p) {
  for (const Option& option : options) {
    if (option.variable.empty() || !accepts(option, tool)) continue;
    const char* value = std::getenv(std::string(option.variable).c_str());
    if (value == nullptr || *value == '\0') continue;
    try {
      option.apply(p, value);
    } catch (const UsageError& e) {
      throw UsageError(std::string(option.variable) + ": " + e.what());
    }
  }
}

/// optparse's reading: options until the first operand (or "--"), short
/// letters grouped ("-iP") and values attached ("-p64", "--par=64").
std::size_t read_options(Tool tool, const std::vector<std::string>& args, Parsed& p) {
  std::size_t i = 0;
  auto value_after = [&](std::string_view spelling) -> std::string {
    if (++i >= args.size()) throw UsageError(std::string(spelling) + " option requires an argument");
    return args[i];
  };
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return i + 1;
    if (arg.size() < 2 || arg[0] != '-') return i;
    if (arg[1] == '-') {
      std::string name = arg.substr(2), value;
      auto equals = name.find('=');
      bool attached = equals != std::string::npos;
      if (attached) {
        value = name.substr(equals + 1);
        name.erase(equals);
      }
      const Option& option = long_option(tool, name);
      if (option.value.empty() && attached) throw UsageError("--" + std::string(option.name) + " option does not take a value");
      if (!option.value.empty() && !attached) value = value_after("--" + std::string(option.name));
      option.apply(p, value);
      if (p.help || p.version) return i + 1;  // optparse acts on them at once
      continue;
    }
    for (std::size_t k = 1; k < arg.size(); ++k) {
      const Option& option = short_option(tool, arg[k]);
      if (option.value.empty()) {
        option.apply(p, {});
        continue;
      }
      option.apply(p, k + 1 < arg.size() ? arg.substr(k + 1) : value_after(std::string("-") + arg[k]));
      break;
    }
  }
  return i;
}

/// An rsync word that names a remote shell: --rsh, or -e alone or among
/// grouped letters ("-ave") before any letter whose value follows it.
bool gives_remote_shell(std::string_view word) {
  if (word.starts_with("--")) return word.starts_with("--rsh");
  if (!word.starts_with("-")) return false;
  for (char letter : word.substr(1)) {
    if (letter == 'e') return true;
    if (std::string_view("BfMT@").find(letter) != std::string_view::npos) return false;  // the rest is a value
  }
  return false;
}

/// What pssh 2.3 hands to ssh (pssh's and pnuke's -x and -X, prsync's -S)
/// or scp (pscp's and pslurp's -x and -X), read as the options they set.
/// What has no meaning here (a forwarding, a bandwidth limit) is refused,
/// not dropped.
void apply_ssh_args(Tool tool, const std::vector<std::string>& args, std::string_view spelling, Parsed& p) {
  bool scp_like = tool == Tool::scp || tool == Tool::slurp;
  std::string program = scp_like ? "scp" : "ssh";
  std::string option(spelling);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-')
      throw UsageError(option + " " + arg + ": only " + program + "'s options can be given here");
    for (std::size_t k = 1; k < arg.size(); ++k) {
      char letter = arg[k];
      auto value = [&] {
        std::string text = k + 1 < arg.size() ? arg.substr(k + 1) : std::string();
        if (text.empty()) {
          if (++i >= args.size()) throw UsageError(option + ": " + program + "'s -" + letter + " needs a value");
          text = args[i];
        }
        k = arg.size();
        return text;
      };
      auto unsupported = [&]() -> void {
        throw UsageError(option + ": " + program + "'s -" + std::string(1, letter) + " is not supported (pssh is not " +
                         program + "); give ssh options as -O Key=Value");
      };
      switch (letter) {
        case 'o': p.ssh_options.push_back(value()); break;
        case 'i': p.ssh_options.push_back("IdentityFile=" + value()); break;
        case 'J': p.ssh_options.push_back("ProxyJump=" + value()); break;
        case 'F': p.ssh_config = value(); break;
        case 'C': p.ssh_options.push_back("Compression=yes"); break;
        case '4': p.ssh_options.push_back("AddressFamily=inet"); break;
        case '6': p.ssh_options.push_back("AddressFamily=inet6"); break;
        case 'A': p.ssh_options.push_back("ForwardAgent=yes"); break;
        case 'a': p.ssh_options.push_back("ForwardAgent=no"); break;
        case 'q': case 'T': break;  // quiet, and no PTY: what pssh does anyway
        case 't': scp_like || tool == Tool::rsync ? unsupported() : void(p.a.pty = true); break;
        case 'p': scp_like ? unsupported() : p.ssh_options.push_back("Port=" + value()); break;
        case 'P': scp_like ? p.ssh_options.push_back("Port=" + value()) : unsupported(); break;
        case 'l': scp_like ? unsupported() : p.ssh_options.push_back("User=" + value()); break;
        case 'r': scp_like ? void(p.a.recursive = true) : unsupported(); break;
        default: unsupported();
      }
    }
  }
}

pssh::ClientOptions client_options(const Parsed& p, const std::optional<pssh::Inventory>& inventory,
                                   std::optional<pssh::duration> timeout) {
  pssh::ClientOptions o;
  if (inventory) {
    o = inventory->defaults;
  } else {
    // As pssh 2.3 runs ssh: 32 at once, one connection attempt, and -t
    // bounds the connection as well as what follows it.
    o.pool_size = 32;
    o.num_retries = 1;
    if (timeout) o.connect_timeout = o.timeout = *timeout;
  }
  // As ssh takes -o options: the first value given wins. PSSH_OPTIONS and
  // -O come before -x's, as pssh 2.3 hands them to ssh.
  for (auto text = p.ssh_options.rbegin(); text != p.ssh_options.rend(); ++text) {
    try {
      pssh::apply_ssh_option(o, *text);
    } catch (const pssh::ConfigError& e) {
      throw UsageError(std::string("-O: ") + e.what());
    }
  }
  if (p.ssh_config) {
    if (!std::ifstream(*p.ssh_config)) throw UsageError("-F " + *p.ssh_config + ": cannot read the ssh config file");
    o.ssh_config = *p.ssh_config;
    o.system_ssh_config.reset();
  }
  if (p.par) o.pool_size = count_of("-p", *p.par);
  if (p.user) o.user = *p.user;
  if (p.port) {
    // Read as the library reads every port.
    pssh::HostConfig with_port;
    try {
      pssh::apply_ssh_option(with_port, "Port=" + *p.port);
    } catch (const pssh::ConfigError& e) {
      throw UsageError(std::string("--port: ") + e.what());
    }
    o.port = with_port.port;
  }
  return o;
}

/// Hosts files and the inventory first (filtered by -g, as pssh 2.3
/// filters its hosts files), then -H ("@name" a group's hosts); then
/// --exclude leaves hosts out and --pick chooses among the rest.
std::vector<pssh::HostEntry> host_list(const Parsed& p, const std::optional<pssh::Inventory>& inventory) {
  std::optional<Groups> groups;  // read only when a pattern names one
  auto expand = [&](const std::string& pattern) {
    if (!pattern.starts_with("@")) return pssh::expand_hosts(pattern);
    if (!groups) groups = Groups::find(p.groups_file);
    return groups->expand(pattern);
  };
  std::vector<pssh::HostEntry> hosts;
  auto add_listed = [&](pssh::HostEntry entry) {
    if (!p.host_glob || ::fnmatch(p.host_glob->c_str(), entry.host.c_str(), 0) == 0) hosts.push_back(std::move(entry));
  };
  for (const std::string& file : p.host_files)
    for (auto& entry : pssh::read_hosts_file(file)) add_listed(std::move(entry));
  if (inventory) {
    for (std::size_t k = 0; k < inventory->hosts.size(); ++k) add_listed({inventory->hosts[k], inventory->host_config[k]});
  }
  for (const std::string& text : p.host_strings)
    for (const std::string& word : shell_words(text))
      for (const std::string& host : word.starts_with("@") ? expand(word) : std::vector<std::string>{word})
        for (auto& entry : pssh::parse_host_entry(host)) hosts.push_back(std::move(entry));
  // --exclude: a glob matches host names; anything else names entries as
  // -H does, and leaves out the hosts with that name (and that user and
  // port, where it gives them).
  std::vector<std::string> globs;
  std::vector<pssh::HostEntry> excluded;
  for (const std::string& pattern : p.excludes) {
    for (const std::string& word : shell_words(pattern)) {
      if (word.find_first_of("*?") != std::string::npos) {
        globs.push_back(word);
        continue;
      }
      for (const std::string& host : expand(word))
        for (auto& entry : pssh::parse_host_entry(host)) excluded.push_back(std::move(entry));
    }
  }
  std::erase_if(hosts, [&](const pssh::HostEntry& entry) {
    auto named = [&](const pssh::HostEntry& x) {
      return x.host == entry.host && (!x.config.user || x.config.user == entry.config.user) &&
             (!x.config.port || x.config.port == entry.config.port);
    };
    auto globbed = [&](const std::string& glob) { return ::fnmatch(glob.c_str(), entry.host.c_str(), 0) == 0; };
    return std::any_of(excluded.begin(), excluded.end(), named) || std::any_of(globs.begin(), globs.end(), globbed);
  });
  if (p.pick && *p.pick < hosts.size()) {
    // N places chosen at random, kept in the list's order.
    std::vector<std::size_t> places(hosts.size());
    std::iota(places.begin(), places.end(), std::size_t{0});
    std::shuffle(places.begin(), places.end(), std::mt19937{std::random_device{}()});
    places.resize(*p.pick);
    std::sort(places.begin(), places.end());
    std::vector<pssh::HostEntry> picked;
    for (std::size_t place : places) picked.push_back(std::move(hosts[place]));
    hosts = std::move(picked);
  }
  return hosts;
}

/// The operands as `tool` takes them.
void take_operands(Tool tool, std::vector<std::string> operands, Arguments& a) {
  a.operands = std::move(operands);
  std::size_t n = a.operands.size();
  if (a.merge) {
    if (n == 0) throw UsageError("--merge needs the --jsonl files of the shards");
    if (!a.hosts.empty() || a.shard) throw UsageError("--merge takes its hosts from the result files: no hosts or --shard");
    return;
  }
  if (a.show_config) {
    if (n != 0) throw UsageError("-G takes no command");
    return;
  }
  switch (tool) {
    case Tool::ssh:
      for (const auto& word : a.operands) a.command += (a.command.empty() ? "" : " ") + word;
      // With -I and no command, the script on stdin is the login shell's input, as with ssh.
      if (a.command.empty() && a.send_input) a.command = "exec \"${SHELL:-/bin/sh}\"";
      if (a.command.empty()) throw UsageError("Command not specified.");
      break;
    case Tool::nuke:
      if (n != 1) throw UsageError(n == 0 ? "Pattern not specified." : "Extra arguments given after the pattern.");
      a.command = "pkill -9 " + a.operands[0];
      break;
    case Tool::scp:
    case Tool::rsync:
      if (n < 2) throw UsageError(n == 0 ? "Paths not specified." : "Remote path not specified.");
      break;
    case Tool::slurp:
      if (n != 2) {
        throw UsageError(n == 0 ? "Paths not specified."
                         : n == 1 ? "Local path not specified."
                                  : "Extra arguments given after the local path.");
      }
      break;
  }
  // As pssh 2.3: no -h or -H at all is an error; a list that comes out
  // empty (an empty file, a -g nothing matches) is a run of no hosts.
  if (!a.hosts_given) throw UsageError("Hosts not specified.");
}

}  // namespace

Arguments parse_arguments(Tool tool, const std::vector<std::string>& args) {
  Parsed p;
  p.a.tool = tool;
  apply_environment(tool, p);
  std::size_t first_operand = read_options(tool, args, p);
  if (p.help) {
    std::cout << help_text(tool);
    std::exit(0);
  }
  if (p.version) {
    std::cout << version_text;
    std::exit(0);
  }
  if (tool == Tool::rsync) {
    // prsync hands -x and -X to rsync, which must not be given another remote shell.
    for (const std::string& arg : p.extra) {
      if (gives_remote_shell(arg))
        throw UsageError("-x/-X " + arg + ": prsync runs rsync over its own connections; give ssh's options "
                         "with -S or -O (and an rsync option's value that starts with -e as --option=-e...)");
    }
    p.a.rsync_args = std::move(p.extra);
    apply_ssh_args(tool, p.ssh_args, "-S", p);
  } else {
    apply_ssh_args(tool, p.extra, "-x/-X", p);
  }
  std::optional<pssh::Inventory> inventory;
  if (p.inventory) inventory = pssh::load_inventory(*p.inventory);
  Arguments a = std::move(p.a);
  std::optional<double> seconds = p.timeout;
  if (!seconds && (tool == Tool::ssh || tool == Tool::nuke)) seconds = 60;
  // 0 or less is none, and so is more than a year (no clock counts that far).
  if (seconds && *seconds > 0 && *seconds <= 366 * 24 * 3600.0)
    a.command_timeout = std::chrono::duration_cast<pssh::duration>(std::chrono::duration<double>(*seconds));
  a.options = client_options(p, inventory, a.command_timeout);
  a.default_user = p.user;
  a.hosts = host_list(p, inventory);
  a.hosts_given = !p.host_files.empty() || !p.host_strings.empty() || inventory.has_value();
  take_operands(tool, {args.begin() + static_cast<std::ptrdiff_t>(first_operand), args.end()}, a);
  a.listed_hosts = a.hosts.size();
  if (a.shard && p.pick) throw UsageError("--pick with --shard: each shard would pick its own hosts; pick once, into a hosts file");
  if (a.shard) {
    a.shard_first = a.shard->first(a.hosts.size());
    a.hosts = {a.hosts.begin() + static_cast<std::ptrdiff_t>(a.shard_first),
               a.hosts.begin() + static_cast<std::ptrdiff_t>(a.shard->end(a.listed_hosts))};
    if (a.hosts.empty())
      throw UsageError("--shard: this slice of " + std::to_string(a.listed_hosts) + " hosts is empty");
  }
  return a;
}

std::vector<std::string> status_names(const Arguments& a) {
  std::vector<std::string> names;
  for (const auto& e : a.hosts) {
    if (e.config.alias) {
      names.push_back(*e.config.alias);
      continue;
    }
    std::string name = e.host;  // an IPv6 address keeps the brackets it was given with
    if (e.config.user && e.config.user != a.default_user) name = *e.config.user + "@" + name;
    if (e.config.port) name += ":" + std::to_string(*e.config.port);
    names.push_back(std::move(name));
  }
  return names;
}

std::vector<std::string> host_lines(const Arguments& a) {
  std::vector<std::string> lines;
  for (const auto& e : a.hosts) lines.push_back(pssh::format_host_entry(e));
  return lines;
}

void write_host_lists(const Arguments& a, const std::vector<std::string>& lines,
                      const std::vector<int>& statuses) {
  std::vector<std::string> failed, succeeded;
  for (std::size_t k = 0; k < lines.size(); ++k) (statuses[k] == 0 ? succeeded : failed).push_back(lines[k]);
  if (a.failed_file) write_host_list(*a.failed_file, failed);
  if (a.succeeded_file) write_host_list(*a.succeeded_file, succeeded);
}


std::vector<OptionDoc> option_docs(Tool tool) {
  std::vector<OptionDoc> docs;
  for (const Option& option : options) {
    if (!accepts(option, tool)) continue;
    docs.push_back({option.letter == '\0' ? "" : std::string("-") + option.letter,
                    option.name.empty() ? "" : "--" + std::string(option.name), std::string(option.value),
                    std::string(option.help), std::string(option.variable)});
  }
  return docs;
}

std::string_view usage_line(Tool tool) {
  switch (tool) {
    case Tool::scp:
    case Tool::rsync: return "[OPTIONS] local [...] remote";
    case Tool::slurp: return "[OPTIONS] remote local";
    case Tool::nuke: return "[OPTIONS] pattern";
    case Tool::ssh: break;
  }
  return "[OPTIONS] command [...]";
}

std::string_view exit_status_text(Tool tool) {
  if (tool == Tool::scp || tool == Tool::rsync) {
    return "0 success; 1 another error; 2 usage error; 3 a host timed out or was interrupted (prsync: or its "
           "rsync was killed by a signal); 4 any other failure. The first of 1, 3, 4 that holds wins.";
  }
  return "0 success; 1 another error (a hosts file that cannot be read); 2 usage error; 3 a host timed out "
         "or was interrupted; 4 what makes ssh exit 255: a host could not be reached or logged in to, or "
         "its command was killed by a signal or exited 255; 5 a command exited non-zero (pslurp: or a copy "
         "failed on the host). The first of 1, 3, 4, 5 that holds wins.";
}

std::string help_text(Tool tool) {
  std::string text = "Usage: " + std::string(tool_name(tool)) + " " + std::string(usage_line(tool)) + "\n\nOptions:\n";
  for (const OptionDoc& option : option_docs(tool)) {
    std::string spelling = option.letter + (option.letter.empty() || option.name.empty() ? "" : ", ") + option.name;
    if (!option.value.empty()) spelling += " " + option.value;
    text += "  " + spelling + "\n        " + option.help;
    if (!option.variable.empty()) text += " [" + option.variable + "]";
    text += "\n";
  }
  return text + "\nExit status: " + std::string(exit_status_text(tool)) + "\n";
}

}  // namespace cli
