// Move-only owners for every libssh handle and file descriptor pssh holds.
#pragma once

#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <unistd.h>

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
/// Private keys are loaded once per client and shared by its hosts' sessions.
using SharedKey = std::shared_ptr<ssh_key_struct>;
using SftpPtr = std::unique_ptr<sftp_session_struct, SftpDeleter>;
using SftpFilePtr = std::unique_ptr<sftp_file_struct, SftpFileDeleter>;
using SftpDirPtr = std::unique_ptr<sftp_dir_struct, SftpDirDeleter>;
using SftpAttributesPtr = std::unique_ptr<sftp_attributes_struct, SftpAttributesDeleter>;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace pssh::detail
