// SendEnv pattern matching and the order in which the sources win.
#include "config/remote_env.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace pssh::detail {
namespace {

bool matches(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

/// The SendEnv patterns left once every "-pattern" removed what it matches.
std::vector<std::string> send_patterns(const std::vector<std::string>& send_env) {
  std::vector<std::string> patterns;
  for (const std::string& entry : send_env) {
    if (entry.starts_with('-')) {
      std::string removing = entry.substr(1);
      std::erase_if(patterns, [&](const std::string& kept) { return matches(removing, kept); });
    } else if (!entry.empty()) {
      patterns.push_back(entry);
    }
  }
  return patterns;
}

}  // namespace

std::map<std::string, std::string> remote_environment(const HostSettings& host,
                                                      const std::map<std::string, std::string>& run_env,
                                                      const char* const* local) {
  std::map<std::string, std::string> env;
  auto patterns = send_patterns(host.send_env);
  for (const char* const* entry = local; !patterns.empty() && entry && *entry; ++entry) {
    std::string_view text(*entry);
    auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    std::string name(text.substr(0, equals));
    if (std::any_of(patterns.begin(), patterns.end(),
                    [&](const std::string& p) { return matches(p, name); }))
      env[name] = std::string(text.substr(equals + 1));
  }
  for (const auto& [name, value] : host.set_env) env[name] = value;
  for (const auto& [name, value] : run_env) env[name] = value;
  return env;
}

}  // namespace pssh::detail
