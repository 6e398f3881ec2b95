// Copying files and trees to and from one host over SFTP, on an open session.
// Remote paths are the server's; "~/" at the start is the login's home, as
// scp takes it.
#pragma once

#include "ssh/session.hpp"
#include "files/transfer_context.hpp"

#include <string>
#include <string_view>

namespace pssh::detail {

/// Sends a local file (or, with `recurse`, a tree) to `remote`, creating
/// missing remote parent directories; with `into_directory`, to
/// remote/<its name> when `remote` is a directory, as scp does. Throws the
/// host's error.
void sftp_send(Session& session, TransferContext& context, const std::string& local,
               const std::string& remote, const CopyMode& mode);

/// Fetches a remote file (or, with `recurse`, a tree) to `local`. Each file is
/// written under a temporary name and renamed when complete; local modes are
/// the remote ones without setuid/setgid/sticky, masked by the umask.
void sftp_recv(Session& session, TransferContext& context, const std::string& remote,
               const std::string& local, const CopyMode& mode);

/// A directory entry name that stays inside its directory: not empty, ".",
/// "..", and without '/'. Remote listings are outside input.
bool is_safe_entry_name(std::string_view name);

}  // namespace pssh::detail
