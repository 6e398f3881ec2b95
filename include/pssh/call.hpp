/// \file
/// One-call helpers for sequential programs (parallax's call/copy/slurp):
/// connect, do one thing on every host, wait, return every host's result.
/// They never throw for one host's failure; bad local input still throws.
#pragma once

#include <pssh/client.hpp>
#include <pssh/export.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace pssh {

/// One host's result from call(), copy() or slurp().
struct CallResult {
  std::string host{};              ///< HostConfig::alias when given, else the host as listed
  std::size_t index = 0;           ///< its position in the host list
  std::optional<int> exit_code{};  ///< empty if the host failed (or for copies)
  ///@{
  std::string out{}, err{};        ///< the output, each line ending in '\\n'
  ///@}
  std::exception_ptr error{};      ///< ConnectionError, Timeout, SFTPIOError, ...
  /// The error's message, or "".
  PSSH_API std::string error_message() const;
  /// No error, and exit code 0 where there is one.
  bool ok() const { return !error && exit_code.value_or(0) == 0; }
};

/// One result per host, in the host list's order (a repeated host has one
/// result per time it is listed).
using CallResults = std::vector<CallResult>;

/// Runs `command` on every host and waits. Output is kept in full
/// (max_buffered_output is ignored).
///
///     for (const auto& r : pssh::call({"web1", "web2"}, "uptime"))
///       std::cout << r.host << ": " << (r.ok() ? r.out : r.error_message());
PSSH_API CallResults call(const std::vector<std::string>& hosts, const std::string& command,
                          const ClientOptions& options = {}, RunOptions run = {},
                          const std::vector<HostConfig>& host_config = {});

/// Copies a local file (a tree with `recurse`) to `remote` on every host (SFTP).
PSSH_API CallResults copy(const std::vector<std::string>& hosts, const std::string& local,
                          const std::string& remote, const ClientOptions& options = {},
                          const CopyOptions& copy_options = {},
                          const std::vector<HostConfig>& host_config = {});

/// Copies `remote` from every host to `<local_dir>/<host>/<name of remote>`,
/// creating the directories (SFTP).
PSSH_API CallResults slurp(const std::vector<std::string>& hosts, const std::string& remote,
                           const std::string& local_dir, const ClientOptions& options = {},
                           const CopyOptions& copy_options = {},
                           const std::vector<HostConfig>& host_config = {});

}  // namespace pssh
