// The local side of file transfers, shared by SFTP and SCP: downloads land
// under a temporary name and are renamed when complete, progress is reported
// per file, and local OS errors are std::system_error.
#pragma once

#include "base/unique_fd.hpp"
#include "files/transfer_context.hpp"

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace pssh::detail {

/// Throws std::system_error for errno: "cannot <what> <path>: <reason>".
[[noreturn]] void throw_local_error(const std::string& what, const std::filesystem::path& path);

/// A local file written as `<final>.pssh-partial` and renamed into place by
/// commit(); removed otherwise, so a failed download leaves no half file.
class PartialFile {
 public:
  /// `mode` is masked to 0777 (never setuid/setgid/sticky from a remote host)
  /// and by the process umask.
  PartialFile(std::filesystem::path final_path, mode_t mode);
  ~PartialFile();
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  void write(const char* data, std::size_t size);
  void commit();

 private:
  std::filesystem::path final_, temp_;
  UniqueFd fd_;
  bool committed_ = false;
};

/// Creates a local directory (and its parents) for a download.
void make_local_directories(const std::filesystem::path& path);

/// Reports one file's transfer progress to the host's events, at most once
/// per MiB and once at the end.
class TransferProgress {
 public:
  TransferProgress(const TransferContext& context, std::string path, std::uint64_t total);
  void add(std::uint64_t bytes);
  void done();

 private:
  void report();
  const TransferContext& context_;
  std::string path_;
  std::uint64_t total_, done_ = 0, reported_ = 0;
};

}  // namespace pssh::detail
