// The command lines of the pssh 2.3 family (pssh, pscp, pslurp, prsync,
// pnuke) and this project's additions: one table of options, read by the
// parser, the PSSH_* variables and --help alike.
#pragma once

#include "results.hpp"
#include "tool.hpp"

#include <pssh/hosts.hpp>
#include <pssh/json.hpp>
#include <pssh/env.hpp>
#include <pssh/options.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cli {

/// A bad command line: status 2, as optparse's.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// How finished hosts are reported.
enum class Report {
  status,  ///< pssh 2.3's status line per host (with -i, -P, -o, -e as asked)
  gather,  ///< -b: identical outputs together, hosts folded
  diff,    ///< --diff: each output as a unified diff against the most common one
  json,    ///< --json: one array at the end
  jsonl,   ///< --jsonl: one object per host as it finishes
};

struct Arguments {
  Tool tool = Tool::ssh;
  std::vector<pssh::HostEntry> hosts;
  bool hosts_given = false;  ///< -h, -H, PSSH_HOSTS or --inventory: a list, perhaps empty
  std::optional<std::string> default_user;  ///< -l: status lines show other users
  pssh::ClientOptions options;
  /// -t (PSSH_TIMEOUT): each host's whole job, as RunOptions::command_timeout
  std::optional<pssh::duration> command_timeout;
  Report report = Report::status;
  bool print = false;             ///< -P: "host: line" as lines arrive
  bool inline_output = false;     ///< -i: status line, stdout, "Stderr: " stderr
  bool inline_stdout = false;     ///< --inline-stdout: status line, stdout
  bool send_input = false;        ///< -I: our stdin goes to every command
  bool verbose = false;           ///< -v: a host's error also in its stderr output
  bool askpass = false;           ///< -A: ask once for the password
  std::optional<std::string> password;  ///< what -A was answered
  std::optional<std::string> out_dir, err_dir;
  bool sudo = false, pty = false;
  bool recursive = false;         ///< -r (pscp, pslurp, prsync)
  bool archive = false, compress = false;  ///< prsync's -a and -z: rsync's
  std::vector<std::string> rsync_args;     ///< prsync's -x and -X: given to rsync as they are
  std::optional<std::string> local_dir;  ///< -L (pslurp)
  std::vector<std::string> operands;     ///< the command's words, or the paths
  std::string command;                   ///< pssh, pnuke: what runs on every host
  std::optional<std::string> show_config;  ///< -G HOST
  std::optional<std::string> failed_file, succeeded_file;
  std::optional<Shard> shard;
  bool merge = false;            ///< --merge: operands are the shards' --jsonl files
  std::size_t listed_hosts = 0;  ///< before --shard took its slice
  std::size_t shard_first = 0;   ///< the slice's first host in the whole list
};

/// The command line of `tool` over the PSSH_* variables. UsageError for a
/// bad line (exit 2); other errors (a hosts file that cannot be read, a bad
/// ssh option) as std::exception (exit 1). --help and --version print and
/// exit 0.
Arguments parse_arguments(Tool tool, const std::vector<std::string>& args);

/// How status lines name each host, as pssh 2.3 does: "user@" when the
/// entry names another user than -l, ":port" when it names a port; an
/// inventory's alias instead, where it gives one.
std::vector<std::string> status_names(const Arguments& a);
/// Each host as a hosts-file line, for --failed and --succeeded.
std::vector<std::string> host_lines(const Arguments& a);
/// --failed and --succeeded: `lines[k]` is the hosts-file line of host k,
/// `statuses[k]` its exit status.
void write_host_lists(const Arguments& a, const std::vector<std::string>& lines, const std::vector<int>& statuses);

/// One option of a tool as --help, the man pages and the shell completion
/// show it, from the table the parser reads.
struct OptionDoc {
  std::string letter;    ///< "-p"; empty for a long name only
  std::string name;      ///< "--par"; empty for a letter only
  std::string value;     ///< "PAR"; empty for a flag
  std::string help;
  std::string variable;  ///< "PSSH_PAR": gives it before the command line; may be empty
};
/// Every option `tool` accepts, in the table's order.
std::vector<OptionDoc> option_docs(Tool tool);
/// What follows the program's name in a usage line: "[OPTIONS] command [...]".
std::string_view usage_line(Tool tool);
/// The exit statuses of `tool`, as a paragraph.
std::string_view exit_status_text(Tool tool);

/// `tool --help`.
std::string help_text(Tool tool);

}  // namespace cli
