// SFTP transfers. Reads are pipelined: libssh's async reads keep
// `reads_in_flight` requests outstanding, so a download is not one round trip
// per chunk. libssh 0.10's sftp_write waits for each reply: writes use large
// chunks to have fewer round trips. Every libssh call runs as a session step,
// under the watchdog's deadline.
#include "files/sftp.hpp"

#include "files/local_file.hpp"

#include <pssh/errors.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <filesystem>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace pssh::detail {
namespace fs = std::filesystem;
namespace {

constexpr std::uint32_t read_chunk = 64 * 1024;
constexpr std::size_t reads_in_flight = 16;
// OpenSSH's sftp-server takes messages up to 256 KiB.
constexpr std::size_t write_chunk = 128 * 1024;

std::string server_reason(int code) {
  switch (code) {
    case SSH_FX_EOF: return "unexpected end of file";
    case SSH_FX_NO_SUCH_FILE: return "no such file or directory";
    case SSH_FX_PERMISSION_DENIED: return "permission denied";
    case SSH_FX_FAILURE: return "the server failed (a full disk, or a directory in the way)";
    case SSH_FX_BAD_MESSAGE: return "bad message";
    case SSH_FX_NO_CONNECTION:
    case SSH_FX_CONNECTION_LOST: return "connection lost";
    case SSH_FX_OP_UNSUPPORTED: return "operation not supported by the server";
    case SSH_FX_NO_SUCH_PATH: return "no such path";
    case SSH_FX_FILE_ALREADY_EXISTS: return "already exists";
    case SSH_FX_WRITE_PROTECT: return "write-protected file system";
    default: return "SFTP error " + std::to_string(code);
  }
}

std::string remote_join(const std::string& directory, const std::string& name) {
  if (directory.empty()) return name;
  return directory.back() == '/' ? directory + name : directory + "/" + name;
}

class Sftp {
 public:
  Sftp(Session& session, TransferContext& context) : session_(session), context_(context) {
    ChannelPtr channel = session.open_channel<SFTPError>("starting SFTP");
    if (session.step([&] { return ssh_channel_request_subsystem(channel.get(), "sftp"); }) != SSH_OK) {
      if (!ssh_is_connected(session.handle())) session.fail<SFTPError>("starting SFTP");
      session.throw_if_cut("starting SFTP");
      throw SFTPError(context.host(), "starting SFTP on " + session.settings().destination() +
                                      " failed: the server refused the sftp subsystem; enable it "
                                      "there (OpenSSH: Subsystem sftp, tinysshd: -x sftp=...) or "
                                      "copy with scp_send/scp_recv");
    }
    // sftp_free frees the channel it was given.
    sftp_.reset(sftp_new_channel(session.handle(), channel.get()));
    if (!sftp_) session.fail<SFTPError>("starting SFTP");
    channel.release();
    if (session.step([&] { return sftp_init(sftp_.get()); }) != SSH_OK)
      session.fail<SFTPError>("starting SFTP (is the sftp subsystem enabled?)");
  }
  ~Sftp() { session_.finish_channel(sftp_->channel); }
  Sftp(const Sftp&) = delete;
  Sftp& operator=(const Sftp&) = delete;

  /// The path's attributes, following symlinks; null if it does not exist.
  SftpAttributesPtr stat(const std::string& path) {
    SftpAttributesPtr attributes(step([&] { return sftp_stat(sftp_.get(), path.c_str()); }));
    if (!attributes && sftp_get_error(sftp_.get()) != SSH_FX_NO_SUCH_FILE) fail("inspect", path);
    return attributes;
  }

  /// mkdir -p.
  void make_directories(const std::string& path) {
    if (path.empty()) return;
    std::string prefix = path.front() == '/' ? "/" : "";
    for (std::size_t start = 0; start < path.size();) {
      std::size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      if (end > start) {
        prefix = remote_join(prefix, path.substr(start, end - start));
        ensure_directory(prefix, 0755);
      }
      start = end + 1;
    }
  }

  void send_file(const fs::path& local, const std::string& remote) {
    context_.throw_if_cancelled("file transfer");
    UniqueFd fd(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_local_error("open", local);
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) throw_local_error("inspect", local);
    mode_t mode = info.st_mode & 0777;
    SftpFilePtr file(step([&] {
      return sftp_open(sftp_.get(), remote.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    }));
    if (!file) fail("create", remote);
    TransferProgress progress(context_, remote, static_cast<std::uint64_t>(info.st_size));
    std::vector<char> buffer(write_chunk);
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_local_error("read", local);
      if (n == 0) break;
      if (step([&] { return sftp_write(file.get(), buffer.data(), static_cast<std::size_t>(n)); }) != n)
        fail("write", remote);
      progress.add(static_cast<std::uint64_t>(n));
      context_.throw_if_cancelled("file transfer");
    }
    if (step([&] { return sftp_close(file.release()); }) != SSH_OK) fail("write", remote);
    // The server's umask applied when the file was made.
    set_mode(remote, mode);
    progress.done();
  }

  void send_tree(const fs::path& local, const std::string& remote) {
    make_directories(remote);
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(local)) {
      std::string target = remote_join(remote, entry.path().lexically_relative(local).generic_string());
      if (entry.is_symlink()) continue;  // not followed out of the tree
      if (entry.is_directory()) {
        ensure_directory(target, static_cast<mode_t>(entry.status().permissions()) & 0777);
      } else if (entry.is_regular_file()) {
        send_file(entry.path(), target);
      }
    }
  }

  void recv_file(const std::string& remote, const fs::path& local, std::uint64_t size,
                 mode_t mode) {
    context_.throw_if_cancelled("file transfer");
    SftpFilePtr file(step([&] { return sftp_open(sftp_.get(), remote.c_str(), O_RDONLY, 0); }));
    if (!file) fail("open", remote);
    // No setuid, setgid or sticky bit from a remote host.
    PartialFile out(local, mode & 0777);
    TransferProgress progress(context_, remote, size);
    std::deque<std::pair<int, std::uint32_t>> requests;  // id, length
    std::uint64_t requested = 0;
    auto request_more = [&] {
      while (requests.size() < reads_in_flight && requested < size) {
        auto length = static_cast<std::uint32_t>(std::min<std::uint64_t>(read_chunk, size - requested));
        int id = step([&] { return sftp_async_read_begin(file.get(), length); });
        if (id < 0) fail("read", remote);
        requests.emplace_back(id, length);
        requested += length;
      }
    };
    std::vector<char> buffer(read_chunk);
    request_more();
    while (!requests.empty()) {
      // Not structured bindings: clang 14 cannot capture those in lambdas.
      int id = requests.front().first;
      std::uint32_t length = requests.front().second;
      requests.pop_front();
      int n = step([&] { return sftp_async_read(file.get(), buffer.data(), read_chunk, static_cast<std::uint32_t>(id)); });
      if (n < 0) fail("read", remote);
      if (static_cast<std::uint32_t>(n) != length) {
        // Every reply must still be collected before the handle is closed.
        for (const auto& request : requests) {
          int pending = request.first;
          step([&] { return sftp_async_read(file.get(), buffer.data(), read_chunk, static_cast<std::uint32_t>(pending)); });
        }
        throw SFTPIOError(host(), "cannot read " + remote + " on " + host() + ": it changed size during the transfer; " +
                                      local.string() + " was not written");
      }
      out.write(buffer.data(), static_cast<std::size_t>(n));
      progress.add(static_cast<std::uint64_t>(n));
      context_.throw_if_cancelled("file transfer");
      request_more();
    }
    // A file that says it is empty may have content all the same (/proc,
    // /sys): it is read to its end.
    for (ssize_t n; size == 0 && (n = step([&] { return sftp_read(file.get(), buffer.data(), read_chunk); })) != 0;) {
      if (n < 0) fail("read", remote);
      out.write(buffer.data(), static_cast<std::size_t>(n));
      progress.add(static_cast<std::uint64_t>(n));
      context_.throw_if_cancelled("file transfer");
    }
    if (step([&] { return sftp_close(file.release()); }) != SSH_OK) fail("read", remote);
    out.commit();
    progress.done();
  }

  void recv_tree(const std::string& remote, const fs::path& local) {
    if (::mkdir(local.c_str(), 0777) != 0 && errno != EEXIST) throw_local_error("create directory", local);
    for (const SftpAttributesPtr& entry : list(remote)) {
      std::string name = entry->name != nullptr ? entry->name : "";
      if (name == "." || name == "..") continue;
      if (!is_safe_entry_name(name)) {
        throw SFTPIOError(host(), "refusing remote entry '" + name + "' in " + remote + " on " + host() +
                                      ": the name would leave the local directory " + local.string());
      }
      std::string child = remote_join(remote, name);
      switch (entry->type) {
        case SSH_FILEXFER_TYPE_DIRECTORY:
          recv_tree(child, local / name);
          break;
        case SSH_FILEXFER_TYPE_REGULAR:
          recv_file(child, local / name, entry->size, static_cast<mode_t>(entry->permissions));
          break;
        default:  // symlinks are not followed, devices and sockets not copied
          break;
      }
    }
  }

  const std::string& host() const { return context_.host(); }

 private:
  template <class Call>
  auto step(Call&& call) -> std::invoke_result_t<Call&> {
    return session_.step(std::forward<Call>(call));
  }

  [[noreturn]] void fail(const std::string& what, const std::string& path) const {
    session_.throw_if_cut(what + " " + path);
    throw SFTPIOError(host(), "cannot " + what + " " + path + " on " + host() + ": " +
                                  server_reason(sftp_get_error(sftp_.get())));
  }

  void set_mode(const std::string& path, mode_t mode) {
    if (step([&] { return sftp_chmod(sftp_.get(), path.c_str(), mode); }) != SSH_OK)
      fail("set the mode of", path);
  }

  void ensure_directory(const std::string& path, mode_t mode) {
    if (SftpAttributesPtr existing = stat(path)) {
      if (existing->type != SSH_FILEXFER_TYPE_DIRECTORY) {
        throw SFTPIOError(host(), "cannot create directory " + path + " on " + host() +
                                      ": a file of that name is in the way");
      }
      return;
    }
    if (step([&] { return sftp_mkdir(sftp_.get(), path.c_str(), mode); }) != SSH_OK) {
      // Another host's upload to the same machine may have made it meanwhile.
      SftpAttributesPtr now = stat(path);
      if (now && now->type == SSH_FILEXFER_TYPE_DIRECTORY) return;
      fail("create directory", path);
    }
    set_mode(path, mode);
  }

  std::vector<SftpAttributesPtr> list(const std::string& path) {
    SftpDirPtr directory(step([&] { return sftp_opendir(sftp_.get(), path.c_str()); }));
    if (!directory) fail("list", path);
    std::vector<SftpAttributesPtr> entries;
    for (;;) {
      SftpAttributesPtr entry(step([&] { return sftp_readdir(sftp_.get(), directory.get()); }));
      if (entry) {
        entries.push_back(std::move(entry));
      } else if (sftp_dir_eof(directory.get()) != 0) {
        break;
      } else {
        fail("list", path);
      }
    }
    if (step([&] { return sftp_closedir(directory.release()); }) != SSH_OK) fail("list", path);
    return entries;
  }

  Session& session_;
  TransferContext& context_;
  SftpPtr sftp_;
};

}  // namespace

namespace {

/// SFTP paths start in the login's home: "~/x" is "x" there, as scp takes it.
std::string from_home(const std::string& remote) {
  if (remote == "~") return ".";
  return remote.starts_with("~/") ? remote.substr(2) : remote;
}

/// The last name of `path`, whatever slashes end it ("conf.d/" gives "conf.d").
std::string last_name(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  return p.has_filename() ? p.filename().string() : p.parent_path().filename().string();
}

}  // namespace

bool is_safe_entry_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

void sftp_send(Session& session, TransferContext& context, const std::string& local,
               const std::string& remote, const CopyMode& mode) {
  Sftp sftp(session, context);
  std::string target = from_home(remote);
  if (mode.into_directory) {
    SftpAttributesPtr attributes = sftp.stat(target);
    if (attributes && attributes->type == SSH_FILEXFER_TYPE_DIRECTORY) target = remote_join(target, last_name(local));
  }
  if (mode.recurse && fs::is_directory(local)) {
    sftp.send_tree(local, target);
    return;
  }
  if (auto slash = target.rfind('/'); slash != std::string::npos && slash > 0)
    sftp.make_directories(target.substr(0, slash));
  sftp.send_file(local, target);
}

void sftp_recv(Session& session, TransferContext& context, const std::string& remote,
               const std::string& local, const CopyMode& mode) {
  Sftp sftp(session, context);
  const std::string remote_path = from_home(remote);
  SftpAttributesPtr attributes = sftp.stat(remote_path);
  if (!attributes) {
    throw SFTPIOError(context.host(), "cannot copy " + remote + " from " + context.host() +
                                      ": no such file or directory");
  }
  if (attributes->type == SSH_FILEXFER_TYPE_DIRECTORY) {
    if (!mode.recurse) {
      throw SFTPIOError(context.host(), remote + " on " + context.host() +
                                        " is a directory; set recurse to copy it");
    }
    sftp.recv_tree(remote_path, local);
    return;
  }
  if (attributes->type != SSH_FILEXFER_TYPE_REGULAR) {
    throw SFTPIOError(context.host(), remote + " on " + context.host() +
                                      " is not a regular file (a pipe, socket or device); it was not copied");
  }
  fs::path target(local);
  make_local_directories(target.parent_path());
  sftp.recv_file(remote_path, target, attributes->size, static_cast<mode_t>(attributes->permissions));
}

}  // namespace pssh::detail
