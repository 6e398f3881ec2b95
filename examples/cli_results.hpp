// What the pssh command makes of finished hosts: exit statuses, the -b view,
// host lists for re-runs, shards and their merge. A host's result is the
// library's to_json(HostOutput) object, so a run and a merge of its shards'
// --jsonl files report alike.
#pragma once

#include "cli_output.hpp"

#include <pssh/errors.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cli {

/// One host's exit status: 0 success, 3 a timeout or a signal, 4 no
/// connection, SSH session or login, 5 a non-zero exit, 1 any other error.
int status_of(pssh::ErrorKind kind, std::optional<int> exit_code, bool signalled);
int status_of(const nlohmann::json& result);
/// The run's status from two: the first of 1, 4, 3, 5 either holds.
int combine(int a, int b);
/// pssh 2.3's words for how a host ended.
Outcome outcome_of(const nlohmann::json& result);

/// -b: hosts with identical output under one header, folded ("web[01-03]").
class Gathered {
 public:
  void add(const nlohmann::json& result);
  void print(std::FILE* out) const;

 private:
  std::map<std::string, std::vector<std::string>> aliases_by_text_;
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
