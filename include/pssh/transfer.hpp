/// \file
/// File copies to and from hosts: options, and the per-host Transfer handle.
#pragma once

#include <pssh/export.hpp>
#include <pssh/output.hpp>

#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pssh {

/// How copy_file(), copy_remote_file(), scp_send(), scp_recv() and the
/// one-call copy() and slurp() copy.
struct CopyOptions {
  bool recurse = false;  ///< copy a directory tree (a directory without it: ConfigError)
  /// As scp: when the remote target is an existing directory, the file (or
  /// tree) goes into it under its own name (`copy_file("app.conf", "/etc")`
  /// writes /etc/app.conf). copy_file only: scp_send with it is ConfigError.
  bool into_directory = false;
  /// One map per host, substituted as `{name}` into both paths. Values are
  /// inserted as they are.
  std::vector<std::map<std::string, std::string>> copy_args{};
  /// copy_remote_file on a ParallelClient writes each host's copy to
  /// `<local><suffix_separator><host>` unless copy_args are given (then the
  /// template names it). nullopt: no suffix (Client keeps the name).
  std::optional<std::string> suffix_separator = "_";
};

/// One host's file copy, running on the client's workers. Cheap to copy.
class PSSH_API Transfer {
 public:
  /// As given to the client.
  const std::string& host() const;
  /// HostConfig::alias, else the host.
  const std::string& alias() const;
  /// Position in the client's host list.
  std::size_t index() const;
  /// Never blocks.
  bool finished() const;
  /// Blocks until the copy is over (done or failed).
  void wait() const;
  /// SFTPError, SFTPIOError, SCPError, std::system_error (local I/O), ... or null.
  std::exception_ptr exception() const;

 private:
  friend class ParallelClient;  // the copy functions make them
  explicit Transfer(std::shared_ptr<HostState> state);

  std::shared_ptr<HostState> state_;
};

/// Waits for every transfer, then rethrows the first host's error, if any
/// (parallel-ssh's `joinall(raise_error=True)`).
PSSH_API void join(const std::vector<Transfer>& transfers);

}  // namespace pssh
