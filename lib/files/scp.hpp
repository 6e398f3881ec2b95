// Copying files and trees to and from one host over SCP, on an open session.
#pragma once

#include "ssh/session.hpp"
#include "files/transfer_context.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace pssh::detail {

/// Sends a local file (or, with `recurse`, a tree) to `remote`; missing
/// remote parent directories are made over SFTP. Throws the host's error.
void scp_send(Session& session, TransferContext& context, const std::string& local,
              const std::string& remote, const CopyMode& mode);

/// Fetches a remote file (or, with `recurse`, a tree) to `local`, each file
/// under a temporary name until complete.
void scp_recv(Session& session, TransferContext& context, const std::string& remote,
              const std::string& local, const CopyMode& mode);

/// One control record of the SCP protocol: `C0644 12 name` (a file),
/// `D0755 0 name` (enter a directory), `E` (leave it), `T...` (times).
struct ScpRecord {
  char type = 0;
  mode_t mode = 0;
  std::uint64_t size = 0;
  std::string name;
};

/// Parses a record line (without its '\n') sent by `host`; SCPError if it is
/// malformed. Remote records are outside input: nothing here trusts them.
ScpRecord parse_scp_record(std::string_view line, const std::string& host);

}  // namespace pssh::detail
