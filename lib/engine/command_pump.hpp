// Running one command on a channel of an open session and pumping its
// output into the host's buffers until it exits.
#pragma once

#include "ssh/session.hpp"
#include "engine/host_state.hpp"
#include "engine/sudo_prompt.hpp"

#include <map>
#include <optional>
#include <string>

namespace pssh::detail {

struct CommandSpec {
  std::string command{};  ///< final text, already in the remote encoding
  bool shell = false;   ///< an interactive login shell instead of `command`
  bool pty = false;
  std::optional<duration> timeout{};  ///< whole command
  std::map<std::string, std::string> env{};  ///< RunOptions/ShellOptions::env
  std::optional<SudoSpec> sudo{};  ///< the command runs through sudo
};

/// Runs `spec` and fills `state` (started, output, exit). Throws the host's
/// error; the caller records it.
void run_on_channel(Session& session, HostState& state, const CommandSpec& spec);

}  // namespace pssh::detail

namespace pssh::detail {

/// How long a stopped command (timeout, cancel) may take to exit after TERM
/// before its connection is cut.
inline constexpr duration stop_grace = std::chrono::milliseconds(500);

}  // namespace pssh::detail
