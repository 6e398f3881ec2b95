#include "cli_results.hpp"

#include <pssh/hosts.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <stdexcept>

namespace cli {

int status_of(pssh::ErrorKind kind, std::optional<int> exit_code, bool signalled) {
  using enum pssh::ErrorKind;
  switch (kind) {
    case none:
      if (signalled) return 3;
      return exit_code.value_or(0) == 0 ? 0 : 5;
    case timeout:
    case join_timeout:
      return 3;
    case connection:
    case session:
    case no_ipv6_address:
    case unknown_host:
    case authentication:
    case host_key:
    case proxy:
    case pkey_file:
    case sudo:
      return 4;
    default:
      return 1;
  }
}

int status_of(const nlohmann::json& result) {
  const auto& type = result["error_type"];
  const auto& code = result["exit_code"];
  // A name this build does not know (a newer pssh's report) is an error all the same.
  auto error = type.is_null() ? pssh::ErrorKind::none
                              : pssh::error_kind_named(type.get<std::string>()).value_or(pssh::ErrorKind::other);
  return status_of(error, code.is_null() ? std::nullopt : std::optional<int>(code.get<int>()),
                   !result["signal"].is_null());
}

int combine(int a, int b) {
  for (int status : {1, 4, 3, 5})
    if (a == status || b == status) return status;
  return 0;
}

Outcome outcome_of(const nlohmann::json& result) {
  if (status_of(result) == 0) return {};
  if (!result["error"].is_null()) return {false, result["error"].get<std::string>()};
  if (!result["signal"].is_null()) return {false, "Killed by signal " + result["signal"].get<std::string>()};
  return {false, "Exited with error code " + std::to_string(result["exit_code"].get<int>())};
}

void Gathered::add(const nlohmann::json& result) {
  std::string err = result["stderr"].get<std::string>();
  Outcome outcome = outcome_of(result);
  std::string text = result["stdout"].get<std::string>() + (err.empty() ? "" : "stderr:\n" + err) +
                     (outcome.success ? "" : "(" + outcome.failure + ")\n");
  aliases_by_text_[text].push_back(result["alias"].get<std::string>());
}

void Gathered::print(std::FILE* out) const {
  for (const auto& [text, aliases] : aliases_by_text_) {
    std::string names = pssh::fold_hosts(aliases);
    std::string rule(std::min<std::size_t>(names.size(), 72), '-');
    std::string block = rule + '\n' + names + '\n' + rule + '\n' + text;
    std::fwrite(block.data(), 1, block.size(), out);
  }
}

Shard parse_shard(const std::string& text) {
  Shard shard;
  auto slash = text.find('/');
  auto number = [&](std::string_view digits, std::size_t& value) {
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return !digits.empty() && error == std::errc() && end == digits.data() + digits.size();
  };
  std::string_view whole = text;
  if (slash == std::string::npos || !number(whole.substr(0, slash), shard.index) ||
      !number(whole.substr(slash + 1), shard.count) || shard.index >= shard.count) {
    throw std::invalid_argument("--shard " + text + ": expected I/N with 0 <= I < N, e.g. 0/4");
  }
  return shard;
}

void write_host_list(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream file(path, std::ios::trunc);
  for (const std::string& line : lines) file << line << '\n';
  file.flush();
  if (!file) throw std::runtime_error("cannot write the host list " + path);
}

Merged merge_results(const std::vector<std::string>& files) {
  std::map<std::size_t, nlohmann::json> by_index;
  std::optional<std::pair<std::size_t, std::size_t>> shard_lists;  // (shards, hosts)
  for (const std::string& path : files) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("--merge: cannot read " + path);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      auto where = [&] { return path + " line " + std::to_string(number); };
      nlohmann::json result = nlohmann::json::parse(line, nullptr, false);
      if (!result.is_object() || !result.contains("index") || !result["index"].is_number_unsigned() ||
          !result.contains("alias") || !result.contains("stdout")) {
        throw std::runtime_error("--merge: " + where() + " is not a host's result from pssh --jsonl");
      }
      if (result.contains("shard")) {
        std::pair<std::size_t, std::size_t> lists{result["shard"]["count"], result["shard"]["hosts"]};
        if (shard_lists && *shard_lists != lists) {
          throw std::runtime_error("--merge: " + where() + " comes from a run of " +
                                   std::to_string(lists.first) + " shards of " +
                                   std::to_string(lists.second) + " hosts, unlike the lines before");
        }
        shard_lists = lists;
      }
      std::size_t index = result["index"];
      if (!by_index.emplace(index, std::move(result)).second) {
        throw std::runtime_error("--merge: " + where() + " repeats host #" + std::to_string(index) +
                                 " (the same shard given twice?)");
      }
    }
  }
  Merged merged;
  std::vector<std::string> missing;
  for (std::size_t i = 0; shard_lists && i < shard_lists->second; ++i)
    if (!by_index.contains(i)) missing.push_back(std::to_string(i));
  merged.missing = pssh::fold_hosts(missing);
  for (auto& [index, result] : by_index) merged.results.push_back(std::move(result));
  return merged;
}

}  // namespace cli
