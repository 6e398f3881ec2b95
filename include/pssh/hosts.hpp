// Host lists as people write them: ranges, hosts files, "[user@]host[:port]".
#pragma once

#include <pssh/export.hpp>
#include <pssh/options.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pssh {

/// Expands numeric ranges: "web[01-03].example.com" gives web01, web02,
/// web03 (leading zeros keep the width); "10.0.0.[1-3,9]" four addresses;
/// several groups multiply. Brackets holding anything but digits, ',' and '-'
/// are kept as they are ("[::1]", "[fe80::1]:22"). std::invalid_argument for
/// a reversed or empty range, or more than 100000 hosts.
PSSH_API std::vector<std::string> expand_hosts(std::string_view pattern);

/// One host of a hosts file or a command line.
struct HostEntry {
  std::string host;
  HostConfig config;  ///< user and port, if the entry named them
};

/// Parses "[user@]host[:port]" ("user@[::1]:2222" for IPv6) and expands ranges.
/// std::invalid_argument naming the entry for a bad port or an empty host.
PSSH_API std::vector<HostEntry> parse_host_entry(std::string_view entry);

/// Reads a hosts file as the pssh tools do: one entry per line (optionally
/// followed by a user), '#' comments, blank lines skipped. std::system_error
/// if it cannot be read; std::invalid_argument naming file and line.
PSSH_API std::vector<HostEntry> read_hosts_file(const std::string& path);

}  // namespace pssh
