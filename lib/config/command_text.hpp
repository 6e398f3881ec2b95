// The command text each host receives: host_args substituted into the
// template, then wrapped for shell, sudo and user.
#pragma once

#include <pssh/client.hpp>

#include <string>
#include <string_view>

namespace pssh::detail {

/// The fields a template may have: `{}` ones always; a command's also
/// Python's, as parallel-ssh's host_args (a path's not: '%' is common in
/// file names).
enum class Fields { braces, braces_or_python };

/// Substitutes `args` into `templ`: `{}` takes the next positional value,
/// `{N}` the Nth, `{name}` a named one; `{{` and `}}` are literal braces.
/// With Fields::braces_or_python, a template without any brace may use
/// Python's `%s` and `%(name)s` instead (`%%` is a '%'). HostArgumentError
/// naming `host` for a missing value or a malformed template.
std::string format_command(std::string_view templ, const HostArgs& args, const std::string& host,
                           Fields fields = Fields::braces_or_python);

/// What a run's sudo prints around its work: `prompt` asks for the
/// password (`sudo -p`), `started` comes from the shell sudo starts, once
/// sudo has let the command run. Random per run, so that no output holds
/// them by chance.
struct SudoMarkers {
  std::string prompt, started;
  static SudoMarkers random();
};

/// Applies RunOptions::shell, sudo and user to `command`; through sudo, the
/// command prints `markers.started` to stderr first.
std::string wrap_command(const std::string& command, const RunOptions& options,
                         const SudoMarkers& markers);

}  // namespace pssh::detail
