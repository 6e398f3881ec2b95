// pssh, pscp, pslurp, prsync and pnuke: pssh 2.3's command family on the library's
// connections, one program that acts on the name it is called by. `--help`
// for each name's options.
#include "arguments.hpp"
#include "askpass.hpp"
#include "interrupts.hpp"
#include "mailbox.hpp"
#include "output.hpp"
#include "results.hpp"
#include "rsync.hpp"

#include <pssh/json.hpp>
#include <pssh/pssh.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

namespace fs = std::filesystem;

namespace {

using cli::Arguments;
using cli::Report;
using cli::Tool;
using cli::Interrupts;
using cli::Routed;
using cli::status_names;
using cli::host_lines;
using cli::write_host_lists;

/// Everything on our standard input, read once for every host (-I).
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

/// A host's -o and -e files, NAME in each directory, for the reports that
/// write them at its end; none for no text, as pssh 2.3 makes its files.
/// False, with the reason on stderr, if one cannot be written: the host then
/// counts as failed (status 1).
bool write_files(const Arguments& a, const std::string& name, const std::string& out, const std::string& err,
                 cli::Console& console) {
  try {
    for (const auto& [dir, text] : {std::pair{&a.out_dir, &out}, std::pair{&a.err_dir, &err}}) {
      if (!*dir || text->empty()) continue;
      fs::create_directories(**dir);
      auto path = fs::path(**dir) / name;
      std::ofstream file(path, std::ios::binary);
      file << *text;
      file.flush();
      if (!file) throw std::runtime_error("cannot write " + path.string());
    }
    return true;
  } catch (const std::exception& e) {
    console.line(stderr, name + ": " + e.what());
    return false;
  }
}

/// --json and -b print once every host is done.
void print_results(Report report, std::vector<nlohmann::json>& results, const cli::Gathered& gathered) {
  if (report == Report::json) {
    std::sort(results.begin(), results.end(),
              [](const auto& x, const auto& y) { return x["index"] < y["index"]; });
    std::cout << nlohmann::json(results).dump(2) << '\n';
  }
  if (report == Report::gather || report == Report::diff) {
    std::cout.flush();
    report == Report::gather ? gathered.print(stdout) : gathered.print_diff(stdout);
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

/// pssh and pnuke: the command on every host, reported as each finishes.
int run_command(const Arguments& a, pssh::ClientOptions options, const std::vector<std::string>& hosts,
                const std::vector<pssh::HostConfig>& config, cli::Console& console, Interrupts& interrupts) {
  // Read before any host starts: an interrupt meanwhile ends pssh, which has started nothing.
  std::string input = a.send_input ? read_stdin() : std::string();
  cli::Mailbox<std::size_t> order(hosts.size());  // the hosts as they finish
  options.on_event = cli::host_ends(order);
  options.line_events = false;  // only the ends are followed; lines would cost a copy each
  // -b and --json compare or print each host's whole output at the end: no
  // cap, or a line longer than it would come in pieces. The status report
  // takes the bytes through on_output, which no cap holds.
  if (a.report != Report::status) options.max_buffered_output = 0;
  pssh::ParallelClient client(hosts, options, config);
  Routed routed(interrupts, client);

  pssh::RunOptions run{.sudo = a.sudo, .sudo_password = a.sudo ? a.password : std::nullopt,
                       .use_pty = a.pty, .stop_on_errors = false};
  run.command_timeout = a.command_timeout;
  // pssh 2.3's variables, for a server whose AcceptEnv takes them.
  for (std::size_t k = 0; k < a.hosts.size(); ++k) {
    run.host_env.push_back({{"PSSH_NODENUM", std::to_string(a.shard_first + k)},
                            {"PSSH_NUMNODES", std::to_string(a.listed_hosts)},
                            {"PSSH_HOST", a.hosts[k].host}});
  }
  std::vector<std::string> names = status_names(a);
  std::optional<cli::HostStreams> host_streams;
  if (a.report == Report::status) {
    std::vector<std::string> prefixes;  // -P names a host by its name alone, as pssh 2.3
    for (const auto& e : a.hosts) prefixes.push_back(e.config.alias.value_or(e.host));
    host_streams.emplace(cli::Show{.lines = a.print,
                                   .inline_stdout = a.inline_output || a.inline_stdout,
                                   .inline_stderr = a.inline_output},
                         a.out_dir, a.err_dir, names, std::move(prefixes), a.pty, console);
    run.on_output = [&host_streams](const pssh::HostOutput& h, pssh::Stream stream, std::string_view bytes) {
      host_streams->take(h, stream, bytes);
    };
  }
  pssh::Output output = client.run_command(a.command, run);
  for (pssh::HostOutput& h : output) {
    pssh::StdinWriter in = h.stdin_writer();
    if (!input.empty()) in.write(input);
    in.close();
  }

  std::vector<int> statuses(output.size(), 0);
  std::size_t done = 0, failed = 0;
  int status = 0;
  cli::Gathered gathered;
  std::vector<nlohmann::json> results;  // --json, in host-list order at the end
  std::vector<std::string> file_names = cli::output_file_names(names);
  console.progress(0, 0, output.size());
  while (done < output.size()) {
    std::size_t k = order.next();  // the command's own timeout ends every host
    pssh::HostOutput& h = output[k];
    client.join(pssh::Output{h});  // its last event came just before it is finished
    ++done;
    cli::Result result = cli::result_of(a.tool, h);
    if (host_streams) {
      if (a.verbose && result.error) {
        try {
          host_streams->take(h, pssh::Stream::err, *result.error + "\n");
        } catch (const std::exception&) {
          // The stderr file cannot be written: the host failed already, and its status line says why.
        }
      }
      host_streams->finish(h, done, result.outcome);
    }
    nlohmann::json json;
    if (!host_streams) {  // else printed and written as it came
      json = pssh::to_json(h);
      json["index"] = a.shard_first + k;
      if (!write_files(a, file_names[k], json["stdout"].get<std::string>(), json["stderr"].get<std::string>(),
                       console))
        result.status = cli::combine(result.status, 1);
    }
    statuses[k] = result.status;
    failed += result.status != 0;
    status = cli::combine(status, result.status);
    console.progress(done, failed, output.size());
    if (host_streams) continue;
    if (a.report == Report::gather || a.report == Report::diff) {
      gathered.add(json);
    } else if (a.report == Report::jsonl) {
      if (a.shard) {
        json["shard"] = {{"index", a.shard->index}, {"count", a.shard->count},
                         {"hosts", a.listed_hosts}, {"entry", pssh::format_host_entry(a.hosts[k])}};
      }
      console.line(stdout, json.dump());
    } else {
      results.push_back(std::move(json));
    }
  }
  console.finish();
  print_results(a.report, results, gathered);
  write_host_lists(a, host_lines(a), statuses);
  return status;
}

/// pscp and pslurp: copies on every host, each reported with its status
/// line; -o and -e get a file per host, as scp's output there (pssh has
/// none; a host's error goes to its -e file).
int run_copies(const Arguments& a, pssh::ClientOptions options, const std::vector<std::string>& hosts,
               const std::vector<pssh::HostConfig>& config, cli::Console& console, Interrupts& interrupts) {
  cli::Mailbox<std::size_t> order(hosts.size());  // the hosts as they finish
  options.on_event = cli::host_ends(order);
  options.line_events = false;
  pssh::ParallelClient client(hosts, options, config);
  Routed routed(interrupts, client);
  std::vector<std::string> names = status_names(a);
  std::vector<std::string> file_names = cli::output_file_names(names);

  // One round per copy, every host at once: pscp's sources one after
  // another (as scp copies them), pslurp's one remote file.
  std::vector<std::function<std::vector<pssh::Transfer>()>> rounds;
  if (a.tool == Tool::scp) {
    // As scp: one source goes into the target if it is a directory, or
    // becomes it; several go into it, made if missing.
    std::vector<std::string> sources;
    for (auto source = a.operands.begin(); source + 1 != a.operands.end(); ++source) {
      std::string path = *source;
      while (path.size() > 1 && path.back() == '/') path.pop_back();  // "conf.d/" is conf.d
      // Every source is checked before any host is touched.
      std::error_code error;
      fs::file_type type = fs::status(path, error).type();
      if (error) throw std::runtime_error("cannot copy " + path + ": " + error.message());
      if (type == fs::file_type::directory && !a.recursive)
        throw std::runtime_error(path + " is a directory: give -r to copy it");
      if (type != fs::file_type::directory && type != fs::file_type::regular)
        throw std::runtime_error(path + " is not a regular file (a pipe, socket or device): it cannot be copied");
      sources.push_back(std::move(path));
    }
    const std::string& remote = a.operands.back();
    for (const std::string& source : sources) {
      std::string target = sources.size() == 1 ? remote : (fs::path(remote) / fs::path(source).filename()).string();
      pssh::CopyOptions copy{.recurse = a.recursive, .into_directory = sources.size() == 1};
      rounds.push_back([&client, source, target, copy] { return client.copy_file(source, target, copy); });
    }
  } else {
    // pslurp: DIR/<host>/LOCAL, DIR being -L or here.
    fs::path base = a.local_dir.value_or(".");
    pssh::CopyOptions copy{.recurse = a.recursive, .suffix_separator = std::nullopt};
    for (const std::string& folder : file_names) {
      fs::create_directories(base / folder);
      copy.copy_args.push_back({{"dir", (base / folder).string()}});
    }
    rounds.push_back([&client, &a, copy] {
      return client.copy_remote_file(pssh::literal_template(a.operands[0]),
                                     "{dir}/" + pssh::literal_template(a.operands[1]), copy);
    });
  }

  std::vector<int> statuses(hosts.size(), 0);
  std::vector<cli::Outcome> outcomes(hosts.size());
  std::vector<std::string> errors(hosts.size());
  std::vector<bool> reported(hosts.size(), false);
  std::size_t done = 0, failed = 0;
  int status = 0;
  // A host's status line comes with its last round, or when an interrupt
  // ends the rounds early.
  auto report = [&](std::size_t k) {
    reported[k] = true;
    ++done;
    if (!write_files(a, file_names[k], "", errors[k], console)) statuses[k] = cli::combine(statuses[k], 1);
    failed += statuses[k] != 0;
    status = cli::combine(status, statuses[k]);
    console.line(stdout, cli::status_line(done, names[k], outcomes[k]));
    if (a.verbose && !errors[k].empty()) console.line(stderr, names[k] + ": " + errors[k].substr(0, errors[k].size() - 1));
    console.progress(done, failed, hosts.size());
  };
  console.progress(0, 0, hosts.size());
  for (std::size_t round = 0; round < rounds.size() && !interrupts.interrupted(); ++round) {
    order.clear();
    std::vector<pssh::Transfer> transfers = rounds[round]();
    for (std::size_t finished = 0; finished < transfers.size(); ++finished) {
      std::size_t k = order.next();
      transfers[k].wait();  // its last event came just before it is finished
      cli::Result result = cli::result_of(a.tool, transfers[k].exception());
      statuses[k] = cli::combine(statuses[k], result.status);
      if (outcomes[k].success) outcomes[k] = result.outcome;
      if (result.error) errors[k] += *result.error + "\n";
      if (round + 1 == rounds.size()) report(k);
    }
  }
  for (std::size_t k = 0; k < hosts.size(); ++k) {
    if (reported[k]) continue;
    if (outcomes[k].success) {  // copies left undone by the interrupt
      outcomes[k] = {false, "Interrupted"};
      statuses[k] = 3;
    }
    report(k);
  }
  console.finish();
  write_host_lists(a, host_lines(a), statuses);
  return status;
}

/// --merge: the shards' results reported as one run of every host.
int run_merge(const Arguments& a, cli::Console& console) {
  cli::Merged merged = cli::merge_results(a.operands);
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
    if (a.report == Report::gather || a.report == Report::diff) {
      gathered.add(result);
    } else if (a.report == Report::jsonl) {
      console.line(stdout, result.dump());
    } else if (a.report == Report::json) {
      results.push_back(std::move(result));
    } else {
      print_host_lines(console, alias, result["stdout"], stdout);
      print_host_lines(console, alias, result["stderr"], stderr);
      if (host_status != 0) console.line(stderr, alias + ": " + cli::outcome_of(result).failure);
    }
  }
  console.finish();
  print_results(a.report, results, gathered);
  write_host_lists(a, lines, statuses);
  if (!merged.missing.empty()) {
    std::cerr << "pssh: --merge: no result for the hosts at places " << merged.missing
              << " of the host list (counted from 0): did a shard not finish?\n";
    status = cli::combine(status, 1);
  }
  return status;
}

/// Each running host may hold two output files and two spill files (-o,
/// -e, -i) on top of what the library reserves for its connections: this
/// program uses no select(), so it takes all the descriptors it may.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

int run(Arguments& a) {
  if (a.show_config) {
    for (const auto& [keyword, value] : pssh::effective_ssh_options(*a.show_config, a.options))
      std::cout << keyword << ' ' << value << '\n';
    return 0;
  }
  cli::Console console;
  if (a.merge) return run_merge(a, console);
  pssh::ClientOptions options = a.options;
  if (a.askpass) {
    // pssh 2.3 gives it to ssh, for a password login or a key's passphrase;
    // here it is the login's password, and sudo's too with --sudo.
    a.password = cli::ask_password("Password: ");
    options.password = a.password;
  }
  std::vector<std::string> hosts;
  std::vector<pssh::HostConfig> config;
  for (const auto& e : a.hosts) {
    hosts.push_back(e.host);
    config.push_back(e.config);
  }
  for (const auto& dir : {a.out_dir, a.err_dir})
    if (dir) fs::create_directories(*dir);
  // Before the client's threads, which must not take the signals.
  Interrupts interrupts;
  if (a.tool == Tool::scp || a.tool == Tool::slurp) return run_copies(a, options, hosts, config, console, interrupts);
  if (a.tool == Tool::rsync) return cli::run_rsync(a, options, hosts, config, console, interrupts);
  return run_command(a, options, hosts, config, console, interrupts);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && argv[1] == cli::bridge_option)  // rsync runs us as its remote shell, for prsync
    return cli::run_bridge(std::vector<std::string>(argv + 2, argv + argc));
  // Inherited as ignored, SIGCHLD would let the kernel reap our children
  // (rsync, SSH_ASKPASS) before we read how they ended.
  std::signal(SIGCHLD, SIG_DFL);
  raise_descriptor_limit();
  Tool tool = cli::tool_named(argv[0]);
  std::string name(cli::tool_name(tool));
  Arguments a;
  try {
    a = cli::parse_arguments(tool, std::vector<std::string>(argv + 1, argv + argc));
  } catch (const cli::UsageError& e) {
    std::cerr << "Usage: " << name << " " << cli::usage_line(tool) << "\n" << name << ": error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << '\n';
    return 1;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << '\n';
    return 1;
  }
}
