/// \file
/// JSON for options, per-host settings, inventories and results, with
/// nlohmann_json (the only pssh header that needs it).
///
///     auto inventory = pssh::load_inventory("fleet.json");
///     pssh::ParallelClient client(inventory.hosts, inventory.defaults, inventory.host_config);
///     auto output = client.run_command("uptime");
///     client.join(output);
///     std::cout << pssh::to_json(output).dump(2);
#pragma once

#include <pssh/client.hpp>
#include <pssh/errors.hpp>
#include <pssh/export.hpp>
#include <pssh/options.hpp>
#include <pssh/output.hpp>

#include <nlohmann/json.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace pssh {

/// A JSON document that does not fit, with the path to the value:
/// "hosts[3].port: expected an integer".
class PSSH_API JsonError : public ConfigError {
 public:
  /// `message` names the path to the value and what was expected.
  explicit JsonError(const std::string& message) : ConfigError("", message) {}
  ErrorKind kind() const noexcept override { return ErrorKind::json; }
};

/// Hosts with their settings:
/// {"defaults": {...ClientOptions}, "hosts": ["web[01-20]", "ops@db:2222",
///  {"host": "db1", "port": 2222, "alias": "db"}]}
struct Inventory {
  ClientOptions defaults{};          ///< "defaults": for every host
  std::vector<std::string> hosts{};  ///< ranges expanded
  std::vector<HostConfig> host_config{};  ///< one per host
};

///@{
/// Durations are seconds (numbers); keys are the C++ field names; a private
/// key is a path, {"file": path, "passphrase": ..., "certificate_file": path}
/// or {"pem": ...}, and "identities" a list of them. Keys held only in memory
/// (and certificates given as text) are never written out: a list keeps its
/// file keys only. on_event and agent (a pssh::Agent) are not serialisable:
/// options read back have neither.
/// "ssh_options": ["StrictHostKeyChecking=no", ...] (options and each host)
/// is read after the other keys, each through apply_ssh_option(); it is
/// never written (to_json writes the fields it set). Reading a value that
/// does not fit is a JsonError naming its path.
PSSH_API nlohmann::json to_json(const ClientOptions& options);
PSSH_API ClientOptions client_options_from_json(const nlohmann::json& json);
PSSH_API nlohmann::json to_json(const HostConfig& config);
PSSH_API HostConfig host_config_from_json(const nlohmann::json& json);
/// Hosts are written one object each, ranges expanded.
PSSH_API nlohmann::json to_json(const Inventory& inventory);
PSSH_API Inventory inventory_from_json(const nlohmann::json& json);
///@}
/// Reads and parses a file; JsonError naming the file for bad JSON.
PSSH_API Inventory load_inventory(const std::string& path);

/// One host's result: host, alias, index, exit_code, signal, stdout, stderr
/// (the output not read yet, as text; bytes that are not UTF-8 become
/// U+FFFD), error_type (error_kind_name(): "ConnectionError", ... or null)
/// and error.
PSSH_API nlohmann::json to_json(const HostOutput& output);
/// An array of to_json(HostOutput).
PSSH_API nlohmann::json to_json(const Output& output);

}  // namespace pssh
