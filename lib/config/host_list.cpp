// Host ranges, "[user@]host[:port]" entries and hosts files.
#include <pssh/hosts.hpp>

#include "config/endpoint.hpp"

#include <pssh/errors.hpp>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace pssh {
namespace {

constexpr std::size_t max_expanded_hosts = 100000;

[[noreturn]] void too_many_hosts(std::string_view pattern) {
  throw ConfigError("", "host range '" + std::string(pattern) + "' gives more than " +
                              std::to_string(max_expanded_hosts) + " hosts");
}

int parse_number(std::string_view text, std::string_view pattern) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    throw ConfigError("", "host range '" + std::string(pattern) + "': '" + std::string(text) +
                                "' is not a number");
  }
  return value;
}

bool is_range_group(std::string_view inside) {
  return !inside.empty() && inside.find_first_not_of("0123456789,-") == std::string_view::npos;
}

/// The values of one "[1-3,9]" group, keeping the width of zero-padded bounds.
std::vector<std::string> range_values(std::string_view inside, std::string_view pattern) {
  std::vector<std::string> values;
  while (!inside.empty()) {
    auto comma = inside.find(',');
    std::string_view part = inside.substr(0, comma);
    inside.remove_prefix(comma == std::string_view::npos ? inside.size() : comma + 1);
    auto dash = part.find('-');
    std::string_view first = part.substr(0, dash);
    std::string_view last = dash == std::string_view::npos ? first : part.substr(dash + 1);
    int from = parse_number(first, pattern), to = parse_number(last, pattern);
    if (to < from) {
      throw ConfigError("", "host range '" + std::string(pattern) + "': " + std::string(part) +
                                  " runs backwards");
    }
    std::size_t width = first.size() > 1 && first[0] == '0' ? first.size() : 0;
    for (int i = from; i <= to; ++i) {
      std::string number = std::to_string(i);
      if (number.size() < width) number.insert(0, width - number.size(), '0');
      values.push_back(std::move(number));
      if (values.size() > max_expanded_hosts) too_many_hosts(pattern);
    }
  }
  return values;
}

/// One pattern without top-level commas.
std::vector<std::string> expand_pattern(std::string_view pattern) {
  std::vector<std::string> hosts{""};
  std::size_t i = 0;
  while (i < pattern.size()) {
    auto open = pattern.find('[', i);
    auto close = open == std::string_view::npos ? open : pattern.find(']', open);
    if (close == std::string_view::npos || !is_range_group(pattern.substr(open + 1, close - open - 1))) {
      std::size_t end = close == std::string_view::npos ? pattern.size() : close + 1;
      for (auto& h : hosts) h += pattern.substr(i, end - i);
      i = end;
      continue;
    }
    std::string_view literal = pattern.substr(i, open - i);
    auto values = range_values(pattern.substr(open + 1, close - open - 1), pattern);
    if (hosts.size() * values.size() > max_expanded_hosts) too_many_hosts(pattern);
    std::vector<std::string> next;
    for (const auto& h : hosts)
      for (const auto& v : values) next.push_back(h + std::string(literal) + v);
    hosts = std::move(next);
    i = close + 1;
  }
  return hosts;
}

}  // namespace

std::vector<std::string> expand_hosts(std::string_view pattern) {
  std::vector<std::string> hosts;
  std::size_t depth = 0, start = 0;
  for (std::size_t i = 0; i <= pattern.size(); ++i) {
    char c = i < pattern.size() ? pattern[i] : ',';
    if (c == '[') ++depth;
    if (c == ']' && depth > 0) --depth;
    if (c != ',' || depth > 0) continue;
    if (i == start && pattern.size() > 0) {
      throw ConfigError("", "host list '" + std::string(pattern) + "' has an empty entry");
    }
    auto part = expand_pattern(pattern.substr(start, i - start));
    if (hosts.size() + part.size() > max_expanded_hosts) too_many_hosts(pattern);
    hosts.insert(hosts.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    start = i + 1;
  }
  return hosts;
}

std::vector<HostEntry> parse_host_entry(std::string_view entry) {
  detail::Endpoint endpoint;
  try {
    endpoint = detail::parse_endpoint(entry);
  } catch (const HostArgumentError& e) {
    // Like every host-list error, a ConfigError (hosts.hpp).
    throw ConfigError("", "host entry " + std::string(e.what()));
  }
  HostConfig config{.user = std::move(endpoint.user), .port = endpoint.port};
  std::vector<HostEntry> entries;
  for (auto& host : expand_hosts(endpoint.host)) entries.push_back({std::move(host), config});
  return entries;
}

std::vector<HostEntry> read_hosts_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::system_error(errno, std::generic_category(), "cannot read hosts file " + path);
  // A directory opens, then reads as nothing.
  if (std::error_code ignored; std::filesystem::is_directory(path, ignored))
    throw std::system_error(EISDIR, std::generic_category(), "cannot read hosts file " + path);
  std::vector<HostEntry> entries;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    auto end = line.find_first_of(" \t\r", first);
    std::string host = line.substr(first, end - first);
    // The pssh tools allow "host user" as well as "user@host"; "alias=NAME"
    // is ours (format_host_entry writes it).
    std::string user, alias;
    std::istringstream words(end == std::string::npos ? std::string() : line.substr(end));
    for (std::string word; words >> word;) {
      if (word.starts_with("alias=")) alias = word.substr(6);
      else if (user.empty()) user = word;
    }
    try {
      for (auto& entry : parse_host_entry(host)) {
        if (!user.empty()) entry.config.user = user;
        if (!alias.empty()) entry.config.alias = alias;
        entries.push_back(std::move(entry));
      }
    } catch (const ConfigError& e) {
      throw ConfigError("", path + " line " + std::to_string(number) + ": " + e.what());
    }
  }
  return entries;
}

std::string format_host_entry(const HostEntry& entry) {
  auto check = [&](std::string_view what, const std::string& name) {
    if (name.empty() || name.find_first_of(" \t\r\n#") != std::string::npos) {
      throw ConfigError("", std::string(what) + " '" + name +
                                  "' cannot be written to a hosts file (empty, or white space or '#' in it)");
    }
  };
  check("host", entry.host);
  std::string line;
  if (entry.config.user) {
    check("user", *entry.config.user);
    line = *entry.config.user + '@';
  }
  bool bare_v6 = entry.host.find(':') != std::string::npos && entry.host.front() != '[';
  if (entry.config.port) {
    line += (bare_v6 ? "[" + entry.host + "]" : entry.host) + ':' + std::to_string(*entry.config.port);
  } else {
    line += entry.host;
  }
  if (entry.config.alias && *entry.config.alias != entry.host) {
    check("alias", *entry.config.alias);
    line += " alias=" + *entry.config.alias;
  }
  return line;
}

}  // namespace pssh
