// A ProxyCommand: an OpenSSH-style command whose stdin and stdout are the
// connection to the host, started and ended by this process.
#pragma once

#include "base/clock.hpp"
#include "base/unique_fd.hpp"

#include <pssh/options.hpp>

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>

namespace pssh::detail {

/// `/bin/sh -c "exec COMMAND"` (as ssh(1) runs it) in a process group of its
/// own, with one end of a socketpair as its stdin and stdout and its stderr
/// kept in memory. Owns the process: the destructor ends the whole group (so
/// that what the command started dies too) and reaps the command, and every
/// descriptor is closed.
class ProxyCommand {
 public:
  /// Starts `command`; std::system_error if it cannot be started.
  explicit ProxyCommand(std::string command);
  /// TERM to the group; once the command exited, or `kill_grace` passed,
  /// KILL to what is left of the group; the command reaped.
  ~ProxyCommand();
  ProxyCommand(const ProxyCommand&) = delete;
  ProxyCommand& operator=(const ProxyCommand&) = delete;

  const std::string& command() const noexcept { return command_; }
  /// Our end of the connection, once: the caller owns it from here on.
  UniqueFd take_connection() noexcept { return std::move(connection_); }
  /// TERM to the group now. Safe from any thread, at any time (abort()).
  void terminate() noexcept;
  /// How the command ended, if it has within `limit`: "exited with status
  /// 1: <the end of its stderr>". Never waits longer.
  std::optional<std::string> exit_within(duration limit);
  /// It has exited with status 0 (as seen by exit_within).
  bool exited_successfully() const noexcept {
    return exit_ && exit_->si_code == CLD_EXITED && exit_->si_status == 0;
  }

  /// How long the destructor lets the group end after TERM before KILL.
  static constexpr duration kill_grace = std::chrono::milliseconds(200);

 private:
  /// True once the command has exited (its status is in exit_). It is not
  /// reaped: until the destructor, its pid (the group's id) stays taken,
  /// so a kill of the group never reaches a stranger that reused it.
  bool exited() noexcept;
  /// exited() until `deadline`; false if the command still runs then.
  bool wait_exit(Clock::time_point deadline) noexcept;
  /// The last lines the command wrote to stderr, on one line.
  std::string stderr_tail() const;

  std::string command_;
  UniqueFd connection_;
  UniqueFd stderr_;  // a memfd: the command never blocks on it, and no thread reads it
  pid_t pid_ = -1;   // also the process group's id
  UniqueFd pidfd_;   // readable once the shell exits; empty if the kernel has none
  std::optional<siginfo_t> exit_;
};

}  // namespace pssh::detail
