/// \file
/// ParallelClient runs commands on many hosts at once; Client on one.
#pragma once

#include <pssh/export.hpp>
#include <pssh/options.hpp>
#include <pssh/output.hpp>
#include <pssh/shell.hpp>
#include <pssh/transfer.hpp>

#include <map>
#include <memory>
#include <optional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pssh {

/// Per-host values for a command template: a list for `{}` / `{0}`, a map for
/// `{name}`. A template without a `{}` field may be written as parallel-ssh's
/// docs write it, `%s` (list) and `%(name)s` (map), `%%` for a '%'; any other
/// `%` conversion is a HostArgumentError before any host starts. Values are
/// inserted as they are, not shell-quoted: see shell_quote().
using HostArgs = std::variant<std::vector<std::string>, std::map<std::string, std::string>>;

/// How run_command() runs a command; best written with designated
/// initializers: `{.sudo = true, .command_timeout = 30s}`.
struct RunOptions {
  bool sudo = false;  ///< run the command as root through sudo; see sudo_password
  std::optional<std::string> user{};   ///< run as this user (through sudo -u)
  /// The password sudo asks for (with `sudo` or `user`): pssh answers sudo's
  /// prompt itself, on the command's stdin, and takes the prompt out of the
  /// output; the caller's stdin reaches the command after it. Sent only
  /// when sudo asks (never with NOPASSWD). A refused password is the host's
  /// SudoError, and so is a prompt when this is unset.
  ///
  ///     client.run_command("apt-get update", {.sudo = true, .sudo_password = password});
  std::optional<std::string> sudo_password{};
  std::optional<std::string> shell{};  ///< e.g. "bash -c": the command is quoted and given to it
  bool use_pty = false;              ///< stderr then arrives on stdout
  /// Throw from run_command the first error of a host that failed before
  /// run_command returned (hosts still waiting for a worker then report
  /// theirs in their HostOutput, like any later failure).
  bool stop_on_errors = true;
  std::optional<duration> read_timeout{};  ///< per output stream: Timeout when idle
  /// The whole command, from its start: the host then reports Timeout (the
  /// command gets TERM). Unset: none.
  std::optional<duration> command_timeout{};
  std::vector<HostArgs> host_args{};       ///< one per host, substituted into the command
  /// Of the remote output, decoded to UTF-8: iconv's names (`iconv -l`) or
  /// Python's codec names ("latin-1", "utf_8", "cp1252", "utf_16_le"). Lines
  /// of UTF-16 and UTF-32 are cut after decoding (see OutputRange).
  std::string encoding = "utf-8";
  /// Also encode the command from UTF-8 to `encoding` (parallel-ssh's way);
  /// by default it goes out as written.
  bool encode_command = false;
  /// Variables for the command, sent as SSH "env" requests before it
  /// starts; they win over the ssh config's SetEnv and SendEnv. The
  /// server's AcceptEnv decides: a variable it refuses is left out, and the
  /// command runs all the same (as with ssh(1)).
  std::map<std::string, std::string> env{};
  /// One map per host (or none), each over `env` for its host: what a host
  /// alone is given (pssh's PSSH_HOST, PSSH_NODENUM). Sent as `env` is.
  std::vector<std::map<std::string, std::string>> host_env{};
  /// Takes every host's output as it arrives, in place of the buffers that
  /// stdout_lines()/stdout_chunks() read (they then end empty): for writing
  /// many hosts' output to files or pipes without a reader thread per host.
  /// Called on the host's worker, in order for one host and concurrently
  /// for different ones, with the bytes as the server sent them (as chunks
  /// are); each host's calls are over when it is finished(). The host reads
  /// no more from its server while the sink runs, so a slow sink holds the
  /// command back as a full buffer would. What the sink throws becomes the
  /// host's error (a non-std exception: a SessionError saying so), and its
  /// command is ended as close_channel() does (TERM, channel closed). A
  /// sink still running when a timeout or cancel() has waited out its
  /// grace period loses the connection, and the host reports that stop.
  OutputSink on_output{};
};

/// How ParallelClient::join() waits.
struct JoinOptions {
  std::optional<duration> join_timeout{};  ///< JoinTimeout after this; unset: wait for every host
  bool consume_output = false;      ///< discard output nobody has read
};

/// Quotes `text` for a POSIX shell, for use inside command templates.
PSSH_API std::string shell_quote(std::string_view text);
/// `text` for a template (a command with host_args, a path with copy_args)
/// that must stay as it is: its braces doubled ("a{b}" gives "a{{b}}").
PSSH_API std::string literal_template(std::string_view text);

/// Runs commands on many hosts at once. Each host's blocking SSH session works
/// on a pool of `pool_size` workers; connections are kept between commands.
/// All member functions may be called from any thread, concurrently; an
/// operation works on the host list as it was when the operation began.
/// Do not destroy, disconnect() or join() a client from its own on_event
/// handler: those wait for the workers, and the handler runs on one.
///
///     pssh::ParallelClient client({"web1", "web2"}, {.user = "deploy"});
///     auto output = client.run_command("uptime", {.stop_on_errors = false});
///     client.join(output);
///     for (auto& h : output)
///       for (auto& line : h.stdout_lines()) std::cout << h.host() << ": " << line << '\n';
class PSSH_API ParallelClient {
 public:
  /// `host_config`, if not empty, has one entry per host (HostArgumentError
  /// otherwise). A private key (pkey, identities) that cannot be read,
  /// decrypted or joined to its certificate is a PKeyFileError here.
  ParallelClient(std::vector<std::string> hosts, ClientOptions options = {},
                 std::vector<HostConfig> host_config = {});
  /// Cancels what still runs and waits for the workers.
  ~ParallelClient();
  ParallelClient(const ParallelClient&) = delete;
  ParallelClient& operator=(const ParallelClient&) = delete;
  /// The moved-from client may only be destroyed or assigned to.
  ParallelClient(ParallelClient&&) noexcept;
  /// Ends this client's work first, as the destructor does.
  ParallelClient& operator=(ParallelClient&&) noexcept;

  /// Returns once every host's command has started or failed, or the host
  /// waits for a free worker (more hosts than pool_size): it never waits for
  /// a queued host, so the first hosts' output and stdin can be used while
  /// the rest start as workers free up. Output streams while commands run.
  Output run_command(const std::string& command, const RunOptions& options = {});
  /// Waits for every host of `output`; JoinTimeout if `join_timeout` passes first.
  /// (A template only so that `join({})` means the overload below, the last
  /// run with default options, instead of being ambiguous.)
  template <class = void>
  void join(const Output& output, const JoinOptions& options = {}) {
    join_output(output, options);
  }
  /// Joins the last run.
  void join(const JoinOptions& options = {});
  /// True when every host of `output` is done. Never blocks.
  bool finished(const Output& output) const;
  /// The last run_command()'s output (what join() without an output waits
  /// for); empty before the first.
  Output get_last_output() const;

  /// Connects and authenticates every host now; throws the first host's error
  /// after all were tried (the others stay connected).
  void connect_auth();

  /// Copies a local file (or tree, with `recurse`) to `remote` on every host
  /// over SFTP, creating missing remote directories. A local directory without
  /// `recurse` is ConfigError, a missing local file
  /// std::system_error, both before any host is touched.
  ///
  ///     pssh::join(client.copy_file("app.conf", "/etc/app/app.conf"));
  std::vector<Transfer> copy_file(const std::string& local, const std::string& remote,
                                  const CopyOptions& options = {});
  /// Copies `remote` from every host to `<local>_<host>` (see CopyOptions).
  /// A remote directory without `recurse` is that host's SFTPIOError.
  std::vector<Transfer> copy_remote_file(const std::string& remote, const std::string& local,
                                         const CopyOptions& options = {});
  ///@{
  /// copy_file and copy_remote_file over SCP (the remote needs an `scp`
  /// program; missing remote directories are still made over SFTP).
  std::vector<Transfer> scp_send(const std::string& local, const std::string& remote,
                                 const CopyOptions& options = {});
  std::vector<Transfer> scp_recv(const std::string& remote, const std::string& local,
                                 const CopyOptions& options = {});
  ///@}
  /// Opens an interactive shell on every host; returns once each has started
  /// or failed (with stop_on_errors, the first failure is thrown).
  ///
  ///     auto shells = client.open_shell();
  ///     client.run_shell_commands(shells, {"cd /srv", "ls"});
  ///     client.join_shells(shells, 10s);
  ///     for (auto& s : shells) for (auto& line : s.stdout_lines()) ...
  std::vector<Shell> open_shell(const ShellOptions& options = {});
  ///@{
  /// Sends the commands to every shell that has not failed; ShellError if one
  /// was joined.
  void run_shell_commands(std::vector<Shell>& shells, std::string_view commands);
  void run_shell_commands(std::vector<Shell>& shells, const std::vector<std::string>& commands);
  void run_shell_commands(std::vector<Shell>& shells, std::initializer_list<std::string> commands) {
    run_shell_commands(shells, std::vector<std::string>(commands));
  }
  ///@}
  /// Ends every shell's input and waits for them to exit; JoinTimeout (with
  /// the shells' outputs) if `timeout` passes first.
  void join_shells(std::vector<Shell>& shells, std::optional<duration> timeout = {});
  /// Replaces the host list, keeping the connections of hosts whose index,
  /// host and HostConfig are unchanged.
  void set_hosts(std::vector<std::string> hosts, std::vector<HostConfig> host_config = {});
  /// A copy: set_hosts() may replace the list from another thread.
  std::vector<std::string> hosts() const;
  /// Aborts everything in flight, queued hosts included; each affected host
  /// reports Cancelled and no exit code. Never lost, whatever the host does
  /// at that moment (connecting, waiting for a worker or an agent, running).
  void cancel();
  /// Closes every connection (after cancelling what runs); the next command reconnects.
  void disconnect();

 private:
  void join_output(const Output& output, const JoinOptions& options);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// One host, the same engine and options.
class PSSH_API Client {
 public:
  /// As ParallelClient's constructor, with one host and a pool of one.
  explicit Client(std::string host, ClientOptions options = {}, HostConfig host_config = {});

  /// As ParallelClient::run_command(); `host_args` beyond the first are ignored.
  HostOutput run_command(const std::string& command, RunOptions options = {});
  /// Waits for the command's exit; Timeout after `timeout`.
  void wait_finished(const HostOutput& output, std::optional<duration> timeout = {});
  /// Connects and logs in now; throws the host's error.
  void connect_auth() { client_.connect_auth(); }
  /// Blocking copies; throw the host's error.
  void copy_file(const std::string& local, const std::string& remote, const CopyOptions& options = {});
  /// Keeps the local name: no host suffix.
  void copy_remote_file(const std::string& remote, const std::string& local, CopyOptions options = {});
  /// copy_file over SCP.
  void scp_send(const std::string& local, const std::string& remote, const CopyOptions& options = {});
  /// copy_remote_file over SCP.
  void scp_recv(const std::string& remote, const std::string& local, CopyOptions options = {});
  /// The shell closes itself (ends its input) when it goes out of scope.
  Shell open_shell(const ShellOptions& options = {});
  /// As ParallelClient::cancel(): from any thread, the host reports Cancelled.
  void cancel() { client_.cancel(); }
  /// Closes the connection; the next command reconnects.
  void disconnect() { client_.disconnect(); }

 private:
  ParallelClient client_;
};

}  // namespace pssh
