// Node groups as clush and pdsh users keep them: "@web" wherever a host
// pattern is taken, from a groups file in ClusterShell's format.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cli {

/// The groups of one file: lines "name: nodeset", '#' comments, a nodeset
/// being patterns separated by spaces or commas outside brackets (ranges
/// such as web[01-20] expand; "@other" takes another group's hosts).
class Groups {
 public:
  /// No groups: every "@name" is an error.
  Groups() = default;
  /// std::runtime_error naming the file and line for a line that is not
  /// "name: nodeset", or a group named twice.
  static Groups read(const std::string& path);
  /// The file `--groups` names, else ClusterShell's own local groups
  /// (~/.config/clustershell/groups.d/local.cfg, then
  /// /etc/clustershell/groups.d/local.cfg, then /etc/clustershell/groups),
  /// else none.
  static Groups find(const std::optional<std::string>& given);

  /// The hosts `pattern` names, in order: patterns separated by commas
  /// outside brackets ("@web,@db"), each "@name" the group's hosts, anything
  /// else expanded as a host pattern (pssh::expand_hosts).
  /// std::runtime_error for an unknown group or one that names itself.
  std::vector<std::string> expand(std::string_view pattern) const;

 private:
  std::vector<std::string> expand(std::string_view pattern, std::vector<std::string>& within) const;
  std::string file_;
  std::map<std::string, std::string, std::less<>> nodesets_;
};

}  // namespace cli
