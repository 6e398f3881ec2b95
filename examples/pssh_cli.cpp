// pssh: run a command (or copy files) on many hosts, in the spirit of
// pssh/pdsh/clush, built on the library alone. `pssh --help` for usage.
#include "askpass.hpp"
#include "cli_output.hpp"
#include "cli_results.hpp"

#include <pssh/json.hpp>
#include <pssh/pssh.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* usage_text = R"(usage: pssh [options] command...
       pssh [options] --copy LOCAL REMOTE
       pssh [options] --slurp REMOTE LOCAL_DIR
       pssh [options] -G HOST
       pssh [output options] --merge RESULTS.jsonl...

Hosts (at least one source; ranges like web[01-20] and 10.0.0.[1-5,9] expand):
  -H HOST            [user@]host[:port]; repeatable
  -h FILE            hosts file: one [user@]host[:port] per line, '#' comments
  --inventory FILE   JSON inventory {"defaults": {...}, "hosts": [...]}; its
                     defaults come first, then PSSH_*, then the options here
  (PSSH_HOSTS names a hosts file when no other source is given)

Connection:
  -l USER            login name (PSSH_USER)
  -p PORT            port
  -P N               hosts worked on at once (PSSH_PAR; default 100)
  -t SECONDS         per-host command timeout; 0: none (default)
  -x OPTION          OpenSSH option, e.g. -x StrictHostKeyChecking=no or
                     -x "IdentityFile=~/.ssh/ops ConnectTimeout=5" (PSSH_OPTIONS);
                     it beats the ssh config, as ssh's -o
  -F FILE            read this ssh config alone (default: ~/.ssh/config,
                     then /etc/ssh/ssh_config), as ssh -F
  -G HOST            print the settings pssh would use for HOST, as ssh -G
                     does, and exit

Output:
  (default)          lines as they arrive: "host: line"
  -i                 each host's output as one block when it finishes, after
                     its status line: [1] 12:00:01 [SUCCESS] web01
  -o DIR, -e DIR     each host's stdout / stderr streamed to DIR/<host>
                     (DIR/<host>.N, N its place in the host list, when
                     several hosts share a name; PSSH_OUTDIR for -o); only
                     the status lines are printed, unless -i is given too
  -b                 gather hosts with identical output (dshbak -c style),
                     each group's hosts folded: web[01-03,07],db1
  --json             one JSON array of every host's result at the end,
                     in host-list order
  --jsonl            one JSON object per host as it finishes

Re-runs, and fleets larger than one machine:
  --failed FILE      write the hosts that failed to FILE as a hosts file
                     (user, port and alias kept): pssh -h FILE re-runs them
  --succeeded FILE   the same for the hosts that succeeded
  --shard I/N        work on the I-th (from 0) of N even, contiguous slices
                     of the host list; its --jsonl carries what --merge needs
  --merge FILE...    one run's report from the shards' --jsonl files: -b,
                     --json, --jsonl or "host: line", --failed, --succeeded
                     and the exit status; a host with no result (a shard
                     that did not finish) is an error (status 1)

Command:
  --sudo             run through sudo
  -A, --askpass      ask once for sudo's password (with --sudo), on the
                     terminal without echo, or from the program PSSH_ASKPASS
                     names (its stdout); pssh answers each host's sudo prompt
  --pty              with a PTY (stderr arrives on stdout)
  --no-stdin         close every command's stdin at once, without reading ours

Standard input: when it is not a terminal, pssh reads it to its end once and
sends it to every host's command, then closes their stdin (as clush does);
on a terminal, or with --no-stdin, the commands' stdin is closed at once.

Exit status: 0 all hosts succeeded; 1 another error; 2 usage error;
3 a host timed out or its command was killed by a signal; 4 a connection
or authentication error; 5 a remote command exited non-zero. When several
apply, the lowest non-zero of 1, 4, 3, 5 wins.
On a terminal a progress line (done/failed/running) is shown on stderr.
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Mode { stream, inline_blocks, gather, json, jsonl };

struct Arguments {
  std::vector<pssh::HostEntry> hosts;
  std::optional<pssh::Inventory> inventory;
  pssh::ClientOptions options;
  std::optional<double> command_timeout;
  Mode mode = Mode::stream;
  std::optional<std::string> out_dir, err_dir;
  bool sudo = false, pty = false, no_stdin = false, askpass = false;
  std::optional<std::string> sudo_password;  ///< asked for after parsing (-A)
  std::vector<std::string> copy, slurp;
  std::string command;
  std::optional<std::string> show_config;  ///< -G HOST
  std::optional<std::string> failed_file, succeeded_file;
  std::optional<cli::Shard> shard;
  std::size_t listed_hosts = 0;  ///< before --shard took its slice
  std::size_t shard_first = 0;   ///< the slice's first host in the whole list
  std::vector<std::string> merge;
};

/// Everything on our standard input, read once for every host.
std::string read_stdin() {
  std::string text;
  char buffer[65536];
  for (ssize_t n; (n = ::read(0, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("cannot read stdin: ") + std::strerror(errno));
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

std::string next_value(int& i, int argc, char** argv) {
  if (i + 1 >= argc) throw UsageError(std::string(argv[i]) + " needs a value");
  return argv[++i];
}

double number_of(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size() && value >= 0) return value;
  } catch (const std::exception&) {
  }
  throw UsageError(flag + " " + text + ": expected a non-negative number");
}

void apply_options(pssh::ClientOptions& options, const std::string& text) {
  std::istringstream words(text);
  for (std::string word; words >> word;) pssh::apply_ssh_option(options, word);
}

Arguments parse(int argc, char** argv) {
  Arguments a;
  // The command line's options, applied once the base is known: the
  // inventory's defaults, then the PSSH_* variables, then these in order,
  // then -l and -p (which beat -x User= and Port=).
  std::vector<std::function<void(pssh::ClientOptions&)>> given, given_last;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help") {
      std::cout << usage_text;
      std::exit(0);
    } else if (arg == "-H") {
      for (auto& e : pssh::parse_host_entry(next_value(i, argc, argv))) a.hosts.push_back(e);
    } else if (arg == "-h") {
      for (auto& e : pssh::read_hosts_file(next_value(i, argc, argv))) a.hosts.push_back(e);
    } else if (arg == "--inventory") {
      a.inventory = pssh::load_inventory(next_value(i, argc, argv));
    } else if (arg == "-l") {
      given_last.push_back([user = next_value(i, argc, argv)](pssh::ClientOptions& o) { o.user = user; });
    } else if (arg == "-p") {
      // ssh's -p is its Port option: read as the library reads every port.
      pssh::HostConfig with_port;
      try {
        pssh::apply_ssh_option(with_port, "Port=" + next_value(i, argc, argv));
      } catch (const pssh::ConfigError& e) {
        throw UsageError(std::string("-p: ") + e.what());
      }
      given_last.push_back([port = with_port.port](pssh::ClientOptions& o) { o.port = port; });
    } else if (arg == "-P") {
      double n = number_of(arg, next_value(i, argc, argv));
      if (n < 1) throw UsageError("-P: expected at least 1");
      given.push_back([n](pssh::ClientOptions& o) { o.pool_size = static_cast<std::size_t>(n); });
    } else if (arg == "-t") {
      double t = number_of(arg, next_value(i, argc, argv));
      if (t > 0) a.command_timeout = t;
    } else if (arg == "-F") {
      std::string file = next_value(i, argc, argv);
      if (!std::ifstream(file)) throw UsageError("-F " + file + ": cannot read the ssh config file");
      given.push_back([file](pssh::ClientOptions& o) {
        o.ssh_config = file;
        o.system_ssh_config.reset();
      });
    } else if (arg == "-G") {
      a.show_config = next_value(i, argc, argv);
    } else if (arg == "-x") {
      pssh::ClientOptions checked;  // a bad option is reported now, before any other
      std::string text = next_value(i, argc, argv);
      apply_options(checked, text);
      given.push_back([text](pssh::ClientOptions& o) { apply_options(o, text); });
    } else if (arg == "-i") {
      a.mode = Mode::inline_blocks;
    } else if (arg == "-b") {
      a.mode = Mode::gather;
    } else if (arg == "--json") {
      a.mode = Mode::json;
    } else if (arg == "--jsonl") {
      a.mode = Mode::jsonl;
    } else if (arg == "-o") {
      a.out_dir = next_value(i, argc, argv);
    } else if (arg == "-e") {
      a.err_dir = next_value(i, argc, argv);
    } else if (arg == "--sudo") {
      a.sudo = true;
    } else if (arg == "-A" || arg == "--askpass") {
      a.askpass = true;
    } else if (arg == "--pty") {
      a.pty = true;
    } else if (arg == "--no-stdin") {
      a.no_stdin = true;
    } else if (arg == "--failed") {
      a.failed_file = next_value(i, argc, argv);
    } else if (arg == "--succeeded") {
      a.succeeded_file = next_value(i, argc, argv);
    } else if (arg == "--shard") {
      try {
        a.shard = cli::parse_shard(next_value(i, argc, argv));
      } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
      }
    } else if (arg == "--merge") {
      for (++i; i < argc; ++i) a.merge.push_back(argv[i]);
      if (a.merge.empty()) throw UsageError("--merge needs the --jsonl files of the shards");
    } else if (arg == "--copy" || arg == "--slurp") {
      auto& target = arg == "--copy" ? a.copy : a.slurp;
      target = {next_value(i, argc, argv), next_value(i, argc, argv)};
    } else if (arg == "--") {
      ++i;
      break;
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError("unknown option " + arg + " (see --help)");
    } else {
      break;
    }
  }
  for (; i < argc; ++i) a.command += (a.command.empty() ? "" : " ") + std::string(argv[i]);
  pssh::Environment env = pssh::read_environment(a.inventory ? a.inventory->defaults : pssh::ClientOptions{});
  a.options = env.options;
  for (const auto& apply : given) apply(a.options);
  for (const auto& apply : given_last) apply(a.options);
  if (!a.out_dir) a.out_dir = env.outdir;
  if (a.inventory) {
    for (std::size_t k = 0; k < a.inventory->hosts.size(); ++k)
      a.hosts.push_back({a.inventory->hosts[k], a.inventory->host_config[k]});
  }
  if (a.show_config) {
    if (!a.command.empty()) throw UsageError("-G takes no command");
    return a;
  }
  if (!a.merge.empty()) {
    if (!a.hosts.empty() || a.shard || !a.copy.empty() || !a.slurp.empty())
      throw UsageError("--merge takes its hosts from the result files: no hosts, command or --shard");
    return a;
  }
  if (a.hosts.empty()) a.hosts = env.hosts;
  if (a.hosts.empty()) throw UsageError("no hosts: give -H, -h, --inventory or PSSH_HOSTS");
  int actions = !a.command.empty() + !a.copy.empty() + !a.slurp.empty();
  if (actions != 1) throw UsageError("give exactly one of: a command, --copy, --slurp, --merge");
  if (a.askpass && !a.sudo) throw UsageError("-A asks for sudo's password: give --sudo too");
  a.listed_hosts = a.hosts.size();
  if (a.shard) {
    a.shard_first = a.shard->first(a.hosts.size());
    a.hosts = {a.hosts.begin() + a.shard_first, a.hosts.begin() + a.shard->end(a.hosts.size())};
    if (a.hosts.empty())
      throw UsageError("--shard: this slice of " + std::to_string(a.listed_hosts) + " hosts is empty");
  }
  return a;
}

void write_file(const std::optional<std::string>& dir, const std::string& name, const std::string& text) {
  if (!dir) return;
  fs::create_directories(*dir);
  std::ofstream(fs::path(*dir) / name, std::ios::binary) << text;
}

/// --failed and --succeeded: `lines[k]` is the hosts-file line of host k,
/// `statuses[k]` its exit status.
void write_host_lists(const Arguments& a, const std::vector<std::string>& lines,
                      const std::vector<int>& statuses) {
  std::vector<std::string> failed, succeeded;
  for (std::size_t k = 0; k < lines.size(); ++k) (statuses[k] == 0 ? succeeded : failed).push_back(lines[k]);
  if (a.failed_file) cli::write_host_list(*a.failed_file, failed);
  if (a.succeeded_file) cli::write_host_list(*a.succeeded_file, succeeded);
}

std::vector<std::string> host_lines(const Arguments& a) {
  std::vector<std::string> lines;
  for (const auto& e : a.hosts) lines.push_back(pssh::format_host_entry(e));
  return lines;
}

/// Whether the hosts' bytes stream through the sink (bounded memory), or
/// every host's output is needed whole at its end (-b, --json).
bool streams(Mode mode) { return mode == Mode::stream || mode == Mode::inline_blocks; }

/// --json and -b print once every host is done.
void print_results(Mode mode, std::vector<nlohmann::json>& results, const cli::Gathered& gathered) {
  if (mode == Mode::json) {
    std::sort(results.begin(), results.end(),
              [](const auto& x, const auto& y) { return x["index"] < y["index"]; });
    std::cout << nlohmann::json(results).dump(2) << '\n';
  }
  if (mode == Mode::gather) {
    std::cout.flush();
    gathered.print(stdout);
  }
}

/// "alias: line" for every line of `text` (each ends in '\n').
void print_host_lines(cli::Console& console, const std::string& alias, const std::string& text,
                      std::FILE* out) {
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    console.line(out, alias + ": " + text.substr(start, end - start));
    start = end + 1;
  }
}

int run_command(const Arguments& a, pssh::ParallelClient& client, cli::Console& console) {
  pssh::RunOptions run{.sudo = a.sudo, .sudo_password = a.sudo_password, .use_pty = a.pty,
                       .stop_on_errors = false};
  if (a.command_timeout)
    run.timeout = std::chrono::duration_cast<pssh::duration>(std::chrono::duration<double>(*a.command_timeout));
  std::vector<std::string> aliases;
  for (const auto& e : a.hosts) aliases.push_back(e.config.alias.value_or(e.host));
  std::vector<std::string> file_names = cli::output_file_names(aliases);
  std::optional<cli::HostStreams> host_streams;
  if (streams(a.mode)) {
    cli::Layout layout = a.mode == Mode::inline_blocks ? cli::Layout::blocks
                         : a.out_dir || a.err_dir      ? cli::Layout::status_only
                                                       : cli::Layout::lines;
    host_streams.emplace(layout, a.out_dir, a.err_dir, file_names, a.pty, console);
    run.on_output = [&host_streams](const pssh::HostOutput& h, pssh::Stream stream, std::string_view bytes) {
      host_streams->take(h, stream, bytes);
    };
  }
  std::string input = a.no_stdin || ::isatty(0) ? std::string() : read_stdin();
  pssh::Output output = client.run_command(a.command, run);
  for (pssh::HostOutput& h : output) {
    pssh::StdinWriter in = h.stdin_writer();
    if (!input.empty()) in.write(input);
    in.close();
  }

  std::vector<bool> reported(output.size(), false);
  std::vector<int> statuses(output.size(), 0);
  std::size_t done = 0, failed = 0;
  int status = 0;
  cli::Gathered gathered;
  std::vector<nlohmann::json> results;  // --json, in host-list order at the end
  while (done < output.size()) {
    for (std::size_t k = 0; k < output.size(); ++k) {
      pssh::HostOutput& h = output[k];
      if (reported[k] || !h.finished()) continue;
      reported[k] = true;
      ++done;
      nlohmann::json result = pssh::to_json(h);
      result["index"] = a.shard_first + k;
      int host_status = cli::status_of(result);
      if (host_streams && !host_streams->finish(h, done, cli::outcome_of(result)))
        host_status = cli::combine(host_status, 1);
      statuses[k] = host_status;
      failed += host_status != 0;
      status = cli::combine(status, host_status);
      if (host_streams) continue;  // printed and written as it came
      write_file(a.out_dir, file_names[k], result["stdout"].get<std::string>());
      write_file(a.err_dir, file_names[k], result["stderr"].get<std::string>());
      if (a.mode == Mode::gather) {
        gathered.add(result);
      } else if (a.mode == Mode::jsonl) {
        if (a.shard) {
          result["shard"] = {{"index", a.shard->index}, {"count", a.shard->count},
                             {"hosts", a.listed_hosts}, {"entry", pssh::format_host_entry(a.hosts[k])}};
        }
        console.line(stdout, result.dump());
      } else {
        results.push_back(std::move(result));
      }
    }
    console.progress(done, failed, output.size());
    if (done == output.size()) break;
    try {
      client.join(output, {.timeout = 50ms});
    } catch (const pssh::JoinTimeout&) {
    }
  }
  console.finish();
  print_results(a.mode, results, gathered);
  write_host_lists(a, host_lines(a), statuses);
  return status;
}

/// --merge: the shards' results reported as one run of every host.
int run_merge(const Arguments& a, cli::Console& console) {
  cli::Merged merged = cli::merge_results(a.merge);
  int status = 0;
  cli::Gathered gathered;
  std::vector<nlohmann::json> results;
  std::vector<std::string> lines;
  std::vector<int> statuses;
  for (nlohmann::json& result : merged.results) {
    int host_status = cli::status_of(result);
    status = cli::combine(status, host_status);
    statuses.push_back(host_status);
    lines.push_back(result.contains("shard")
                        ? result["shard"]["entry"].get<std::string>()
                        : pssh::format_host_entry({result["host"], {.alias = result["alias"].get<std::string>()}}));
    result.erase("shard");
    std::string alias = result["alias"];
    if (a.mode == Mode::gather) {
      gathered.add(result);
    } else if (a.mode == Mode::jsonl) {
      console.line(stdout, result.dump());
    } else if (a.mode == Mode::json) {
      results.push_back(std::move(result));
    } else {
      print_host_lines(console, alias, result["stdout"], stdout);
      print_host_lines(console, alias, result["stderr"], stderr);
      if (host_status != 0) console.line(stderr, alias + ": " + cli::outcome_of(result).failure);
    }
  }
  console.finish();
  print_results(a.mode, results, gathered);
  write_host_lists(a, lines, statuses);
  if (!merged.missing.empty()) {
    std::cerr << "pssh: --merge: no result for the hosts at places " << merged.missing
              << " of the host list (counted from 0): did a shard not finish?\n";
    status = cli::combine(status, 1);
  }
  return status;
}

/// --copy and --slurp are the library's copy() and slurp().
int run_transfer(const Arguments& a, const std::vector<std::string>& hosts,
                 const std::vector<pssh::HostConfig>& config, cli::Console& console) {
  pssh::CallResults results =
      !a.copy.empty()
          ? pssh::copy(hosts, a.copy[0], a.copy[1], a.options,
                       {.recurse = fs::is_directory(a.copy[0])}, config)
          : pssh::slurp(hosts, a.slurp[0], a.slurp[1], a.options, {.recurse = true}, config);
  auto status_of = [](const pssh::CallResult& result) {
    return cli::status_of(pssh::error_kind(result.error), std::nullopt, false);
  };
  int status = 0;
  std::vector<int> statuses;  // in host-list order, for --failed and --succeeded
  for (const pssh::CallResult& result : results) {
    statuses.push_back(status_of(result));
    status = cli::combine(status, statuses.back());
    console.line(statuses.back() == 0 ? stdout : stderr,
                 result.host + ": " + (result.error ? result.error_message() : "OK"));
  }
  write_host_lists(a, host_lines(a), statuses);
  return status;
}

}  // namespace

/// Each running host may hold two output files and two spill files (-o,
/// -e, -i) on top of what the library reserves for its connections: this
/// program uses no select(), so it takes all the descriptors it may.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

int main(int argc, char** argv) {
  raise_descriptor_limit();
  Arguments a;
  try {
    a = parse(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "pssh: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "pssh: " << e.what() << '\n';
    return 2;
  }
  try {
    if (a.show_config) {
      for (const auto& [keyword, value] : pssh::effective_ssh_options(*a.show_config, a.options))
        std::cout << keyword << ' ' << value << '\n';
      return 0;
    }
    if (a.askpass) a.sudo_password = cli::ask_password("[pssh] sudo password: ");
    cli::Console console;
    std::vector<std::string> hosts;
    std::vector<pssh::HostConfig> config;
    for (const auto& e : a.hosts) {
      hosts.push_back(e.host);
      config.push_back(e.config);
    }
    if (!a.merge.empty()) return run_merge(a, console);
    if (a.command.empty()) return run_transfer(a, hosts, config, console);
    pssh::ClientOptions options = a.options;
    // -b and --json compare or print each host's whole output at the end:
    // no cap, or a line longer than it would come in pieces. The streaming
    // modes take the bytes through on_output, which no cap holds.
    if (!streams(a.mode)) options.max_buffered_output = 0;
    pssh::ParallelClient client(hosts, options, config);
    return run_command(a, client, console);
  } catch (const std::exception& e) {
    std::cerr << "pssh: " << e.what() << '\n';
    return 1;
  }
}
