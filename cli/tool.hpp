// Which program of the family runs: chosen by the name it is called by.
#pragma once

#include <string>
#include <string_view>

namespace cli {

/// pssh 2.3's programs.
enum class Tool { ssh, scp, slurp, rsync, nuke };

/// "pssh", "pscp", "pslurp", "prsync" or "pnuke".
constexpr std::string_view tool_name(Tool tool) {
  switch (tool) {
    case Tool::scp: return "pscp";
    case Tool::slurp: return "pslurp";
    case Tool::rsync: return "prsync";
    case Tool::nuke: return "pnuke";
    case Tool::ssh: break;
  }
  return "pssh";
}

/// The tool a program path names: "pscp" or Debian's "parallel-scp" and so
/// on; pssh for any other name.
inline Tool tool_named(std::string_view program_path) {
  std::string_view name = program_path.substr(program_path.rfind('/') + 1);
  for (Tool tool : {Tool::scp, Tool::slurp, Tool::rsync, Tool::nuke}) {
    std::string_view short_name = tool_name(tool);
    if (name == short_name || name == "parallel-" + std::string(short_name.substr(1))) return tool;
  }
  return Tool::ssh;
}

}  // namespace cli
