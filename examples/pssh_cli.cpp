// pssh: run a command (or copy files) on many hosts, in the spirit of
// pssh/pdsh/clush, built on the library alone. `pssh --help` for usage.
#include "askpass.hpp"
#include "cli_output.hpp"

#include <pssh/json.hpp>
#include <pssh/pssh.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
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

Hosts (at least one source; ranges like web[01-20] and 10.0.0.[1-5,9] expand):
  -H HOST            [user@]host[:port]; repeatable
  -h FILE            hosts file: one [user@]host[:port] per line, '#' comments
  --inventory FILE   JSON inventory {"defaults": {...}, "hosts": [...]}
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
  -b                 gather hosts with identical output (dshbak -c style)
  --json             one JSON array of every host's result at the end
  --jsonl            one JSON object per host as it finishes

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
  pssh::Environment env = pssh::read_environment();
  a.options = env.options;
  a.out_dir = env.outdir;
  std::optional<std::string> user;
  std::optional<int> port;
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
      user = next_value(i, argc, argv);
    } else if (arg == "-p") {
      double p = number_of(arg, next_value(i, argc, argv));
      if (p < 1 || p > 65535) throw UsageError("-p: expected a port (1-65535)");
      port = static_cast<int>(p);
    } else if (arg == "-P") {
      double n = number_of(arg, next_value(i, argc, argv));
      if (n < 1) throw UsageError("-P: expected at least 1");
      a.options.pool_size = static_cast<std::size_t>(n);
    } else if (arg == "-t") {
      double t = number_of(arg, next_value(i, argc, argv));
      if (t > 0) a.command_timeout = t;
    } else if (arg == "-F") {
      std::string file = next_value(i, argc, argv);
      if (!std::ifstream(file)) throw UsageError("-F " + file + ": cannot read the ssh config file");
      a.options.ssh_config = file;
      a.options.system_ssh_config.reset();
    } else if (arg == "-G") {
      a.show_config = next_value(i, argc, argv);
    } else if (arg == "-x") {
      apply_options(a.options, next_value(i, argc, argv));
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
  if (a.inventory) {
    pssh::ClientOptions defaults = a.inventory->defaults;
    for (std::size_t k = 0; k < a.inventory->hosts.size(); ++k)
      a.hosts.push_back({a.inventory->hosts[k], a.inventory->host_config[k]});
    defaults.pool_size = a.options.pool_size;
    a.options = defaults;
  }
  if (user) a.options.user = *user;
  if (port) a.options.port = *port;
  if (a.show_config) {
    if (!a.command.empty()) throw UsageError("-G takes no command");
    return a;
  }
  if (a.hosts.empty()) a.hosts = env.hosts;
  if (a.hosts.empty()) throw UsageError("no hosts: give -H, -h, --inventory or PSSH_HOSTS");
  int actions = !a.command.empty() + !a.copy.empty() + !a.slurp.empty();
  if (actions != 1) throw UsageError("give exactly one of: a command, --copy, --slurp");
  if (a.askpass && !a.sudo) throw UsageError("-A asks for sudo's password: give --sudo too");
  return a;
}

/// How bad a host's outcome is, for the exit status.
int status_of(const std::exception_ptr& error, std::optional<int> exit_code,
              const std::optional<std::string>& signal) {
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const pssh::Timeout&) {
      return 3;
    } catch (const pssh::ConnectionError&) {
      return 4;
    } catch (const pssh::UnknownHostError&) {
      return 4;
    } catch (const pssh::AuthenticationError&) {
      return 4;
    } catch (const pssh::HostKeyError&) {
      return 4;
    } catch (const pssh::ProxyError&) {
      return 4;
    } catch (const pssh::PKeyFileError&) {
      return 4;
    } catch (...) {
      return 1;
    }
  }
  if (signal) return 3;
  return exit_code.value_or(0) == 0 ? 0 : 5;
}

int combine(int a, int b) {
  for (int status : {1, 4, 3, 5})
    if (a == status || b == status) return status;
  return 0;
}

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a non-std exception";
  }
}

std::string read_all(pssh::LineRange lines) {
  std::string text;
  for (const auto& l : lines) text += l + '\n';
  return text;
}

void write_file(const std::optional<std::string>& dir, const std::string& name, const std::string& text) {
  if (!dir) return;
  fs::create_directories(*dir);
  std::ofstream(fs::path(*dir) / name, std::ios::binary) << text;
}

/// pssh 2.3's words for how a host ended.
cli::Outcome outcome_of(const pssh::HostOutput& h, int host_status) {
  if (host_status == 0) return {};
  if (h.exception()) return {false, message_of(h.exception())};
  if (h.exit_signal()) return {false, "Killed by signal " + *h.exit_signal()};
  return {false, "Exited with error code " + std::to_string(*h.exit_code())};
}

/// Whether the hosts' bytes stream through the sink (bounded memory), or
/// every host's output is needed whole at its end (-b, --json).
bool streams(Mode mode) { return mode == Mode::stream || mode == Mode::inline_blocks; }

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
  std::size_t done = 0, failed = 0;
  int status = 0;
  std::map<std::string, std::map<std::size_t, std::string>> groups;  // output -> hosts by index (-b)
  nlohmann::json all = nlohmann::json::array();
  while (done < output.size()) {
    for (std::size_t k = 0; k < output.size(); ++k) {
      pssh::HostOutput& h = output[k];
      if (reported[k] || !h.finished()) continue;
      reported[k] = true;
      ++done;
      int host_status = status_of(h.exception(), h.exit_code(), h.exit_signal());
      if (host_streams && !host_streams->finish(h, done, outcome_of(h, host_status)))
        host_status = combine(host_status, 1);
      failed += host_status != 0;
      status = combine(status, host_status);
      if (host_streams) continue;  // printed and written as it came
      if (a.mode == Mode::json || a.mode == Mode::jsonl) {
        nlohmann::json j = pssh::to_json(h);
        write_file(a.out_dir, file_names[k], j["stdout"].get<std::string>());
        write_file(a.err_dir, file_names[k], j["stderr"].get<std::string>());
        if (a.mode == Mode::jsonl) console.line(stdout, j.dump());
        else all.push_back(std::move(j));
      } else {
        std::string out = read_all(h.stdout_lines()), err = read_all(h.stderr_lines());
        write_file(a.out_dir, file_names[k], out);
        write_file(a.err_dir, file_names[k], err);
        auto outcome = outcome_of(h, host_status);
        groups[out + (err.empty() ? "" : "stderr:\n" + err) +
               (outcome.success ? "" : "(" + outcome.failure + ")\n")]
            .emplace(h.index(), h.alias());
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
  if (a.mode == Mode::json) std::cout << all.dump(2) << '\n';
  for (const auto& [text, hosts] : groups) {
    std::string names;
    for (const auto& [index, h] : hosts) names += (names.empty() ? "" : ",") + h;
    std::string rule(std::min<std::size_t>(names.size(), 72), '-');
    std::cout << rule << '\n' << names << '\n' << rule << '\n' << text;
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
  int status = 0;
  for (const auto& [host, result] : results) {
    int host_status = status_of(result.error, std::nullopt, std::nullopt);
    status = combine(status, host_status);
    console.line(host_status == 0 ? stdout : stderr,
                 host + ": " + (result.error ? result.error_message() : "OK"));
  }
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
    if (a.command.empty()) return run_transfer(a, hosts, config, console);
    pssh::ParallelClient client(hosts, a.options, config);
    return run_command(a, client, console);
  } catch (const std::exception& e) {
    std::cerr << "pssh: " << e.what() << '\n';
    return 1;
  }
}
