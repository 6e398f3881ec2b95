// A ProxyCommand: an OpenSSH-style command whose stdin and stdout are the
// connection to the host, started and ended by this process.
#pragma once

#include "ssh/handles.hpp"
#include "engine/watchdog.hpp"

#include <pssh/options.hpp>

#include <sys/types.h>

#include <optional>
#include <string>

namespace pssh::detail {

/// `/bin/sh -c "exec COMMAND"` (as ssh(1) runs it) in a process group of its own, with one end of a
/// socketpair as its stdin and stdout and its stderr kept in memory. Owns the
/// process: the destructor ends the whole group (so that what the shell
/// started dies too) and reaps the shell, and every descriptor is closed.
class ProxyCommand {
 public:
  /// Starts `command`; std::system_error if it cannot be started.
  explicit ProxyCommand(std::string command);
  /// TERM to the group, KILL after `kill_grace` if the shell still lives, reaped.
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

  /// How long the destructor lets the group end after TERM before KILL.
  static constexpr duration kill_grace = std::chrono::milliseconds(200);

 private:
  /// True once the shell was reaped (its status is in status_).
  bool reap(bool wait) noexcept;
  /// reap() until `deadline`; false if the shell still runs then.
  bool wait_exit(Clock::time_point deadline) noexcept;
  /// The last lines the command wrote to stderr, on one line.
  std::string stderr_tail() const;

  std::string command_;
  UniqueFd connection_;
  UniqueFd stderr_;  // a memfd: the command never blocks on it, and no thread reads it
  pid_t pid_ = -1;   // also the process group's id
  UniqueFd pidfd_;   // readable once the shell exits; empty if the kernel has none
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace pssh::detail
