/// \file
/// Interactive shells: one login shell per host, fed commands over its stdin.
#pragma once

#include <pssh/export.hpp>
#include <pssh/output.hpp>

#include <map>
#include <optional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace pssh {

/// How ParallelClient::open_shell() and Client::open_shell() open shells.
struct ShellOptions {
  bool use_pty = false;  ///< with a PTY the shell echoes commands and prints prompts
  /// How long reading stdout/stderr waits for a line before Timeout; none: forever.
  std::optional<duration> read_timeout{};
  std::string encoding = "utf-8";  ///< of the commands and the output
  /// open_shell throws the first host's error, after closing the shells that
  /// did start (the caller gets none of them to end).
  bool stop_on_errors = true;
  /// Variables for the shell, as RunOptions::env.
  std::map<std::string, std::string> env{};
};

/// One host's interactive shell. Every command run on it shares one channel,
/// one shell process and one output stream. Reading the output before join()
/// blocks until the shell prints a line (or read_timeout passes).
/// Destroying an unjoined shell ends its input without waiting: commands
/// already sent still run.
class PSSH_API Shell {
 public:
  ~Shell();
  /// The moved-from shell may only be destroyed or assigned to.
  Shell(Shell&&) noexcept;
  /// Ends this shell's input first, as the destructor does.
  Shell& operator=(Shell&&) noexcept;
  Shell(const Shell&) = delete;
  Shell& operator=(const Shell&) = delete;

  /// As given to the client.
  const std::string& host() const { return output_.host(); }
  /// HostConfig::alias, else the host.
  const std::string& alias() const { return output_.alias(); }

  ///@{
  /// Sends `commands` (one command or several lines) followed by a newline.
  /// ShellError once the shell was joined; the host's error if it failed.
  void run(std::string_view commands);
  void run(const std::vector<std::string>& commands);
  /// run({"cd /srv", "ls"}): without it, two literals would also read as a
  /// string_view's (first, last).
  void run(std::initializer_list<std::string> commands) { run(std::vector<std::string>(commands)); }
  ///@}
  /// Ends the input ("exit", then EOF) and waits for the shell to exit;
  /// Timeout if `timeout` passes first (join again to wait longer).
  void join(std::optional<duration> timeout = {});
  /// Ends the input without waiting. Idempotent.
  void end_input();
  /// join() or end_input() was called: run() no longer works.
  bool joined() const noexcept { return input_ended_; }

  /// The shell's stdout by lines, as HostOutput::stdout_lines().
  LineRange stdout_lines() const { return output_.stdout_lines(); }
  /// The shell's stderr by lines.
  LineRange stderr_lines() const { return output_.stderr_lines(); }
  /// The exit status of the shell: its last command's. Empty until it exited.
  std::optional<int> exit_code() const { return output_.exit_code(); }
  /// The host's error (ConnectionError, Timeout, ...) or null.
  std::exception_ptr exception() const { return output_.exception(); }
  /// The shell exited or failed. Never blocks.
  bool finished() const { return output_.finished(); }
  /// The underlying run (for join timeouts and loggers).
  const HostOutput& output() const noexcept { return output_; }

 private:
  // Made by open_shell() only: a Shell ends its input when destroyed, which
  // would end a command's stdin if one could wrap any HostOutput.
  friend class ParallelClient;
  /// `output` is the shell's run, `encoding` that of the commands sent.
  Shell(HostOutput output, std::string encoding);

  HostOutput output_;
  std::string encoding_;
  bool input_ended_ = false;
};

}  // namespace pssh
