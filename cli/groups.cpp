#include "groups.hpp"

#include <pssh/hosts.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace cli {
namespace {

std::string trimmed(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return "";
  auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

/// A nodeset's patterns: separated by spaces, or by commas outside brackets
/// ("web[1,3],db1" is two).
std::vector<std::string> patterns_of(std::string_view nodeset) {
  std::vector<std::string> patterns;
  std::string current;
  int depth = 0;
  for (char c : nodeset) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ' ' || c == '\t' || (c == ',' && depth == 0)) {
      if (!current.empty()) patterns.push_back(std::move(current));
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty()) patterns.push_back(std::move(current));
  return patterns;
}

}  // namespace

Groups Groups::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the groups file " + path);
  Groups groups;
  groups.file_ = path;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::string text = trimmed(line);
    if (text.empty()) continue;
    auto colon = text.find(':');
    std::string name = colon == std::string::npos ? "" : trimmed(text.substr(0, colon));
    auto where = [&] { return path + " line " + std::to_string(number); };
    if (name.empty() || name.find_first_of(" \t@") != std::string::npos)
      throw std::runtime_error(where() + ": expected \"name: nodeset\", e.g. \"web: web[01-20]\"");
    if (!groups.nodesets_.emplace(name, trimmed(text.substr(colon + 1))).second)
      throw std::runtime_error(where() + ": the group " + name + " is defined twice");
  }
  return groups;
}

Groups Groups::find(const std::optional<std::string>& given) {
  if (given) return read(*given);
  std::vector<std::string> candidates;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    candidates.push_back(std::string(home) + "/.config/clustershell/groups.d/local.cfg");
  candidates.push_back("/etc/clustershell/groups.d/local.cfg");
  candidates.push_back("/etc/clustershell/groups");
  for (const auto& path : candidates) {
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) return read(path);
  }
  return {};
}

std::vector<std::string> Groups::expand(std::string_view pattern) const {
  std::vector<std::string> hosts, within;
  for (const std::string& part : patterns_of(pattern)) {  // "@web,@db" as clush reads it
    auto more = expand(part, within);
    hosts.insert(hosts.end(), more.begin(), more.end());
  }
  return hosts;
}

std::vector<std::string> Groups::expand(std::string_view pattern, std::vector<std::string>& within) const {
  if (!pattern.starts_with("@")) return pssh::expand_hosts(pattern);
  std::string name(pattern.substr(1));
  auto found = nodesets_.find(name);
  if (found == nodesets_.end()) {
    throw std::runtime_error("no group @" + name +
                             (file_.empty() ? " (no groups file: give --groups FILE)" : " in " + file_));
  }
  if (std::find(within.begin(), within.end(), name) != within.end())
    throw std::runtime_error("the group @" + name + " in " + file_ + " names itself");
  within.push_back(name);
  std::vector<std::string> hosts;
  for (const std::string& part : patterns_of(found->second)) {
    auto more = expand(part, within);
    hosts.insert(hosts.end(), more.begin(), more.end());
  }
  within.pop_back();
  return hosts;
}

}  // namespace cli
