// The command text each host receives: host_args substituted into the
// template, then wrapped for shell, sudo and user.
#pragma once

#include <pssh/client.hpp>

#include <string>
#include <string_view>

namespace pssh::detail {

/// Substitutes `args` into `templ`: `{}` takes the next positional value,
/// `{N}` the Nth, `{name}` a named one; `{{` and `}}` are literal braces.
/// HostArgumentError naming `host` for a missing value or a malformed template.
std::string format_command(std::string_view templ, const HostArgs& args, const std::string& host);

/// Applies RunOptions::shell, sudo and user to `command`.
std::string wrap_command(const std::string& command, const RunOptions& options);

}  // namespace pssh::detail
