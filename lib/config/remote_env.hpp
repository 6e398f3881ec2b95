// The environment a command's channel asks the server for: the ssh config's
// SendEnv and SetEnv, and the run's own variables.
#pragma once

#include "config/settings.hpp"

#include <map>
#include <string>

namespace pssh::detail {

/// The variables to send for `host`: the local variables (`local`, as
/// `environ`) whose names match its SendEnv patterns, then its SetEnv, then
/// `run_env`; for the same name the later wins. SendEnv patterns are
/// fnmatch(3) patterns taken in order, and "-pattern" drops the patterns
/// given before that it matches, as ssh_config(5) says.
std::map<std::string, std::string> remote_environment(const HostSettings& host,
                                                      const std::map<std::string, std::string>& run_env,
                                                      const char* const* local);

}  // namespace pssh::detail
