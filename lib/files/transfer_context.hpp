// What a file transfer needs of the run it belongs to, and nothing more:
// the host's name for messages, where progress goes, whether it was
// cancelled. The engine answers for its host's run; files/ knows no higher type.
#pragma once

#include <cstdint>
#include <string>

namespace pssh::detail {

/// How one host's copy goes (CopyOptions, as the files layer needs it).
struct CopyMode {
  bool recurse = false;         ///< a directory is copied as a tree
  bool into_directory = false;  ///< an existing remote directory target receives the source under its name
};

class TransferContext {
 public:
  /// The host as the caller named it, for messages.
  virtual const std::string& host() const = 0;
  /// `done` of `total` bytes of `path` have moved.
  virtual void progress(const std::string& path, std::uint64_t done, std::uint64_t total) const = 0;
  /// Cancelled ("<what> on <host> was cancelled") once the run was cancelled.
  virtual void throw_if_cancelled(const std::string& what) const = 0;

 protected:
  ~TransferContext() = default;
};

}  // namespace pssh::detail
