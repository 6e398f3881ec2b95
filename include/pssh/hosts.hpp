/// \file
/// Host lists as people write them: ranges, hosts files, "[user@]host[:port]".
#pragma once

#include <pssh/errors.hpp>
#include <pssh/export.hpp>
#include <pssh/options.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pssh {

/// Expands numeric ranges: "web[01-03].example.com" gives web01, web02,
/// web03 (leading zeros keep the width); "10.0.0.[1-3,9]" four addresses;
/// several groups multiply; commas outside brackets separate patterns, as
/// in clush and pdsh ("web[1-2],db1": web1, web2, db1). Brackets holding
/// anything but digits, ',' and '-' are kept as they are ("[::1]",
/// "[fe80::1]:22"). ConfigError for a reversed or empty range, or
/// more than 100000 hosts.
PSSH_API std::vector<std::string> expand_hosts(std::string_view pattern);

/// The inverse of expand_hosts, as clush folds node sets: hosts that differ
/// in numeric fields become ranges ("web01", "web02", "web03", "web07",
/// "db1" give "db1,web[01-03,07]"), with their zero padding, in as many
/// fields as differ ("r[1-2]n[1-4]", "10.0.[1-2].[1-254]"). The hosts are
/// taken as a set: expand_hosts(fold_hosts(h)) gives each name of h once.
/// Names holding '[', ']' or ',' are kept whole (an
/// IPv6 literal "[::1]" stays as it is), and digit runs of more than 9
/// digits are not folded.
PSSH_API std::string fold_hosts(const std::vector<std::string>& hosts);

/// One host of a hosts file or a command line.
struct HostEntry {
  std::string host;   ///< without user and port
  HostConfig config;  ///< user and port, if the entry named them
};

/// Parses "[user@]host[:port]" ("user@[::1]:2222" for IPv6; a bare IPv6
/// address has no port; "ssh://[user@]host[:port]" as OpenSSH writes it) and
/// expands ranges. ConfigError naming the entry and saying what to
/// write for a bad port, an empty user or host, or text after "[v6]".
PSSH_API std::vector<HostEntry> parse_host_entry(std::string_view entry);

/// Reads a hosts file as the pssh tools do: one entry per line (optionally
/// followed by a user), '#' comments, blank lines skipped. A word
/// "alias=NAME" on the line sets HostConfig::alias. std::system_error if it
/// cannot be read; ConfigError naming file and line.
PSSH_API std::vector<HostEntry> read_hosts_file(const std::string& path);

/// The hosts-file line read_hosts_file reads back as `entry`: its host, user,
/// port and alias ("ops@[::1]:2222 alias=db"); the rest of its HostConfig
/// is not written. ConfigError for a name or alias a hosts file
/// cannot hold (white space, '#', an empty host).
PSSH_API std::string format_host_entry(const HostEntry& entry);

}  // namespace pssh
