#include "results.hpp"

#include "unified_diff.hpp"

#include <pssh/hosts.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace cli {

int status_of(Tool tool, pssh::ErrorKind kind, std::optional<int> exit_code, bool signalled) {
  using enum pssh::ErrorKind;
  int status = 1;
  switch (kind) {
    case none:
      status = signalled || exit_code == 255 ? 4 : exit_code.value_or(0) == 0 ? 0 : 5;
      break;
    case timeout:
    case join_timeout:
    case cancelled:
      status = 3;
      break;
    case connection:
    case session:
    case no_ipv6_address:
    case unknown_host:
    case authentication:
    case host_key:
    case proxy:
    case pkey_file:
    case sudo:
      status = 4;
      break;
    case sftp:
    case sftp_io:
    case scp:
      status = 5;  // scp exits 1
      break;
    case system:  // a local file: scp's own failure for a copy, ours for a command
      status = tool == Tool::scp || tool == Tool::slurp ? 5 : 1;
      break;
    default:
      break;
  }
  return (tool == Tool::scp || tool == Tool::rsync) && status == 5 ? 4 : status;
}

namespace {

/// pssh 2.3's words where it has them; the library's message otherwise.
Outcome outcome_for(pssh::ErrorKind kind, const std::string& message, std::optional<int> exit_code,
                    const std::optional<std::string>& signal) {
  using enum pssh::ErrorKind;
  switch (kind) {
    case none:
      if (signal) return {false, "Killed by signal " + *signal};
      if (exit_code.value_or(0) != 0) return {false, "Exited with error code " + std::to_string(*exit_code)};
      return {};
    case timeout:
    case join_timeout:
      return {false, "Timed out"};
    case cancelled:
      return {false, "Interrupted"};
    default:
      return {false, message};
  }
}

pssh::ErrorKind kind_of(const nlohmann::json& result) {
  const auto& type = result["error_type"];
  // A name this build does not know (a newer pssh's report) is an error all the same.
  return type.is_null() ? pssh::ErrorKind::none
                        : pssh::error_kind_named(type.get<std::string>()).value_or(pssh::ErrorKind::other);
}

std::optional<int> exit_code_of(const nlohmann::json& result) {
  const auto& code = result["exit_code"];
  return code.is_null() ? std::nullopt : std::optional<int>(code.get<int>());
}

std::optional<std::string> text_of(const nlohmann::json& value) {
  return value.is_null() ? std::nullopt : std::optional<std::string>(value.get<std::string>());
}

}  // namespace

int status_of(const nlohmann::json& result) {
  return status_of(Tool::ssh, kind_of(result), exit_code_of(result), !result["signal"].is_null());
}

int combine(int a, int b) {
  for (int status : {1, 3, 4, 5})
    if (a == status || b == status) return status;
  return 0;
}

Outcome outcome_of(const nlohmann::json& result) {
  return outcome_for(kind_of(result), text_of(result["error"]).value_or(""), exit_code_of(result),
                     text_of(result["signal"]));
}

Result result_of(Tool tool, const pssh::HostOutput& host) {
  std::exception_ptr error = host.exception();
  pssh::ErrorKind kind = pssh::error_kind(error);
  std::optional<std::string> message;
  if (error) message = pssh::error_message(error);
  return {status_of(tool, kind, host.exit_code(), host.exit_signal().has_value()),
          outcome_for(kind, message.value_or(""), host.exit_code(), host.exit_signal()), message};
}

Result result_of(Tool tool, const std::exception_ptr& error) {
  if (!error) return {};
  pssh::ErrorKind kind = pssh::error_kind(error);
  std::string message = pssh::error_message(error);
  return {status_of(tool, kind, std::nullopt, false), outcome_for(kind, message, std::nullopt, std::nullopt),
          message};
}

std::string status_line(std::size_t place, const std::string& name, const Outcome& outcome) {
  std::time_t now = std::time(nullptr);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&now));
  return "[" + std::to_string(place) + "] " + clock + (outcome.success ? " [SUCCESS] " : " [FAILURE] ") + name +
         (outcome.success ? "" : " " + outcome.failure);
}

void Gathered::add(const nlohmann::json& result) {
  std::string err = result["stderr"].get<std::string>();
  Outcome outcome = outcome_of(result);
  std::string text = result["stdout"].get<std::string>() + (err.empty() ? "" : "stderr:\n" + err) +
                     (outcome.success ? "" : "(" + outcome.failure + ")\n");
  std::size_t index = result.value("index", std::size_t{0});
  auto [group, made] = groups_by_text_.try_emplace(text, Group{{}, index});
  group->second.aliases.push_back(result["alias"].get<std::string>());
  group->second.first = std::min(group->second.first, index);
}

void Gathered::print(std::FILE* out) const {
  for (const auto& [text, group] : groups_by_text_) {
    std::string names = pssh::fold_hosts(group.aliases);
    std::string rule(std::min<std::size_t>(names.size(), 72), '-');
    std::string block = rule + '\n' + names + '\n' + rule + '\n' + text;
    std::fwrite(block.data(), 1, block.size(), out);
  }
}

void Gathered::print_diff(std::FILE* out) const {
  std::vector<std::pair<const std::string*, const Group*>> groups;
  for (const auto& [text, group] : groups_by_text_) groups.push_back({&text, &group});
  std::sort(groups.begin(), groups.end(), [](const auto& x, const auto& y) { return x.second->first < y.second->first; });
  if (groups.size() < 2) return;
  auto common = std::max_element(groups.begin(), groups.end(), [](const auto& x, const auto& y) {
    return x.second->aliases.size() < y.second->aliases.size();  // the first of the largest
  });
  auto label = [](const Group& group) {
    std::string names = pssh::fold_hosts(group.aliases);
    return group.aliases.size() == 1 ? names : names + " (" + std::to_string(group.aliases.size()) + ")";
  };
  for (const auto& [text, group] : groups) {
    if (group == common->second) continue;
    std::string diff = unified_diff(label(*common->second), label(*group), *common->first, *text);
    std::fwrite(diff.data(), 1, diff.size(), out);
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
