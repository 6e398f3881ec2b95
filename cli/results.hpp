// What the pssh command makes of finished hosts: exit statuses, the -b view,
// host lists for re-runs, shards and their merge. A host's result is the
// library's to_json(HostOutput) object, so a run and a merge of its shards'
// --jsonl files report alike.
#pragma once

#include "output.hpp"
#include "tool.hpp"

#include <pssh/errors.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cli {

/// One host's exit status, as pssh 2.3 reads ssh's and scp's: 0 success;
/// 3 a timeout or an interrupt (pssh 2.3 kills ssh); 4 what makes ssh exit
/// 255 (no connection, SSH session or login, a command killed by a signal or
/// exiting 255); 5 a non-zero exit, or a copy that failed on the host; 1 any
/// other error. pscp and prsync report 4 for every failure but 3, as pssh
/// 2.3's do.
int status_of(Tool tool, pssh::ErrorKind kind, std::optional<int> exit_code, bool signalled);
/// The same for a --jsonl result (--merge), as pssh reports.
int status_of(const nlohmann::json& result);
/// The run's status from two: the first of 1, 3, 4, 5 either holds.
int combine(int a, int b);
/// pssh 2.3's words for how a host ended.
Outcome outcome_of(const nlohmann::json& result);

/// A finished host as the status line and the exit status see it.
struct Result {
  int status = 0;
  Outcome outcome;
  std::optional<std::string> error;  ///< the host's error message, for -v
};
/// A command's host.
Result result_of(Tool tool, const pssh::HostOutput& host);
/// A copy's host.
Result result_of(Tool tool, const std::exception_ptr& error);

/// pssh 2.3's status line: "[3] 12:00:01 [SUCCESS] web1", "[4] 12:00:02
/// [FAILURE] web2 Exited with error code 1"; `place` counts finished hosts.
std::string status_line(std::size_t place, const std::string& name, const Outcome& outcome);

/// -b: hosts with identical output under one header, folded ("web[01-03]");
/// --diff: each output against the most common one.
class Gathered {
 public:
  void add(const nlohmann::json& result);
  void print(std::FILE* out) const;
  /// As clush --diff: a unified diff of each other output against the one
  /// most hosts gave ("--- web[01-09] (9)", "+++ web10"); nothing when all
  /// agree. A tie goes to the output of the host first in the list.
  void print_diff(std::FILE* out) const;

 private:
  struct Group {
    std::vector<std::string> aliases;
    std::size_t first = 0;  ///< the smallest place in the host list
  };
  std::map<std::string, Group> groups_by_text_;
};

/// --shard I/N: the I-th (from 0, as Kubernetes' JOB_COMPLETION_INDEX) of N
/// contiguous slices of the host list, as even as they can be.
struct Shard {
  std::size_t index = 0, count = 1;
  std::size_t first(std::size_t hosts) const { return hosts * index / count; }
  std::size_t end(std::size_t hosts) const { return hosts * (index + 1) / count; }
};
/// std::invalid_argument unless `text` is "I/N" with 0 <= I < N.
Shard parse_shard(const std::string& text);

/// Writes one hosts-file line each (--failed, --succeeded); std::runtime_error
/// naming the file if it cannot be written.
void write_host_list(const std::string& path, const std::vector<std::string>& lines);

/// --merge: the results of --jsonl files, in host-list order.
struct Merged {
  std::vector<nlohmann::json> results;
  /// Hosts of the shards' lists with no result (a shard that did not run
  /// or did not finish), folded: "12-49".
  std::string missing;
};
/// std::runtime_error naming the file and line for a line that is not a
/// result, a host given twice, or shards of different host lists.
Merged merge_results(const std::vector<std::string>& files);

}  // namespace cli
