// Move-only owners for every libssh handle pssh holds.
#pragma once

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <memory>
#include <utility>

namespace pssh::detail {

struct SessionDeleter {
  void operator()(ssh_session s) const noexcept { ssh_free(s); }
};
struct ChannelDeleter {
  void operator()(ssh_channel c) const noexcept { ssh_channel_free(c); }
};
struct KeyDeleter {
  void operator()(ssh_key k) const noexcept { ssh_key_free(k); }
};
struct SftpDeleter {
  void operator()(sftp_session s) const noexcept { sftp_free(s); }
};
struct SftpFileDeleter {
  void operator()(sftp_file f) const noexcept { sftp_close(f); }
};
struct SftpDirDeleter {
  void operator()(sftp_dir d) const noexcept { sftp_closedir(d); }
};
struct SftpAttributesDeleter {
  void operator()(sftp_attributes a) const noexcept { sftp_attributes_free(a); }
};

struct EventDeleter {
  void operator()(ssh_event e) const noexcept { ssh_event_free(e); }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;
using EventPtr = std::unique_ptr<ssh_event_struct, EventDeleter>;
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;
using SftpPtr = std::unique_ptr<sftp_session_struct, SftpDeleter>;
using SftpFilePtr = std::unique_ptr<sftp_file_struct, SftpFileDeleter>;
using SftpDirPtr = std::unique_ptr<sftp_dir_struct, SftpDirDeleter>;
using SftpAttributesPtr = std::unique_ptr<sftp_attributes_struct, SftpAttributesDeleter>;

}  // namespace pssh::detail
