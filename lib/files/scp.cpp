// SCP spoken by pssh itself over an exec channel: `scp -t` receives what we
// send, `scp -f` sends what we fetch. libssh 0.10's ssh_scp_* API is marked
// deprecated, and the protocol is a handful of text records, so owning it
// costs less than silencing the deprecation and inheriting its blocking
// calls without our deadlines. As parallel-ssh does, SFTP makes the remote
// parent directories.
#include "files/scp.hpp"

#include "text/text.hpp"
#include "config/command_text.hpp"
#include "files/local_file.hpp"
#include "files/sftp.hpp"

#include <pssh/errors.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>
#include <vector>

namespace pssh::detail {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t chunk = 64 * 1024;
constexpr std::size_t longest_record = 4096;

std::string octal_mode(mode_t mode) {
  char text[8];
  auto [end, ec] = std::to_chars(text, text + sizeof text, mode & 0777, 8);
  std::string digits(text, end);
  return std::string(4 - std::min<std::size_t>(4, digits.size()), '0') + digits;
}

/// The remote command's side of the channel: blocking reads and writes, each
/// a session step under the watchdog's deadline.
class ScpChannel {
 public:
  ScpChannel(Session& session, TransferContext& context, const std::string& command)
      : session_(session), context_(context), channel_(session.open_channel<SCPError>("opening a channel for scp")) {
    if (session.step([&] { return ssh_channel_request_exec(channel_.get(), command.c_str()); }) != SSH_OK)
      session.fail<SCPError>("starting scp");
  }

  const std::string& host() const { return context_.host(); }

  void write(const char* data, std::size_t size) {
    while (size > 0) {
      auto length = static_cast<std::uint32_t>(std::min(size, chunk));
      int n = session_.step([&] { return ssh_channel_write(channel_.get(), data, length); });
      if (n < 0) session_.fail<SCPError>("sending over scp");
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  void send(std::string_view text) { write(text.data(), text.size()); }
  /// "Go on": the one-byte acknowledgement of the protocol.
  void ok() { send(std::string_view("\0", 1)); }

  /// Up to `size` bytes; nothing at the end of the stream.
  std::size_t read_some(char* data, std::size_t size) {
    auto length = static_cast<std::uint32_t>(std::min(size, chunk));
    int n = session_.step([&] { return ssh_channel_read(channel_.get(), data, length, 0); });
    if (n < 0) session_.fail<SCPError>("receiving over scp");
    return static_cast<std::size_t>(n);
  }
  void read_exact(char* data, std::size_t size) {
    while (size > 0) {
      std::size_t n = read_some(data, size);
      if (n == 0) throw SCPError(host(), "scp on " + host() + " ended in the middle of a transfer" + remote_error());
      data += n;
      size -= n;
    }
  }
  /// The next byte, or nothing if the remote scp closed its output.
  std::optional<char> next_byte() {
    char byte;
    if (read_some(&byte, 1) == 0) return std::nullopt;
    return byte;
  }
  std::string read_line() {
    std::string line;
    for (char c = 0; read_exact(&c, 1), c != '\n';) {
      line += c;
      if (line.size() > longest_record)
        throw SCPError(host(), "scp on " + host() + " sent a record longer than " +
                                   std::to_string(longest_record) + " bytes");
    }
    return line;
  }

  /// The remote scp's answer to what was just sent: 0 goes on, 1 (warning)
  /// and 2 (error) carry its message.
  void expect_ok(const std::string& about) {
    char status = 0;
    read_exact(&status, 1);
    if (status == 0) return;
    throw SCPError(host(), "scp on " + host() + " refused " + about + ": " + reply_message(status));
  }
  std::string reply_message(char status) {
    if (status == 1 || status == 2) return printable(read_line());
    return "unexpected reply byte " + std::to_string(static_cast<unsigned char>(status));
  }

  /// Ends our side and waits for the remote scp to exit; SCPError unless 0.
  void finish() {
    session_.step([&] { return ssh_channel_send_eof(channel_.get()); });
    char rest[256];
    while (read_some(rest, sizeof rest) > 0) {
    }
    int status = session_.step([&] { return ssh_channel_get_exit_status(channel_.get()); });
    if (status != 0) {
      throw SCPError(host(), "scp on " + host() + " exited with status " + std::to_string(status) +
                                 remote_error());
    }
  }

 private:
  /// What the remote scp wrote to stderr, if anything arrived.
  std::string remote_error() {
    char text[512];
    int n = ssh_channel_read_nonblocking(channel_.get(), text, sizeof text, 1);
    if (n <= 0) return "";
    std::string message(text, static_cast<std::size_t>(n));
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    return ": " + printable(message);
  }

  Session& session_;
  TransferContext& context_;
  ChannelPtr channel_;
};

class Sender {
 public:
  Sender(ScpChannel& scp, TransferContext& context) : scp_(scp), context_(context) {}

  void file(const fs::path& local, const std::string& name, const std::string& remote) {
    context_.throw_if_cancelled("file transfer");
    check_name(name);
    UniqueFd fd(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_local_error("open", local);
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) throw_local_error("inspect", local);
    auto size = static_cast<std::uint64_t>(info.st_size);
    scp_.send("C" + octal_mode(info.st_mode) + " " + std::to_string(size) + " " + name + "\n");
    scp_.expect_ok("the file " + remote);
    TransferProgress progress(context_, remote, size);
    std::vector<char> buffer(chunk);
    for (std::uint64_t left = size; left > 0;) {
      ssize_t n = ::read(fd.get(), buffer.data(), std::min<std::uint64_t>(chunk, left));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_local_error("read", local);
      if (n == 0) {
        throw std::system_error(EIO, std::generic_category(),
                                "cannot send " + local.string() + ": it shrank during the transfer");
      }
      scp_.write(buffer.data(), static_cast<std::size_t>(n));
      left -= static_cast<std::uint64_t>(n);
      progress.add(static_cast<std::uint64_t>(n));
      context_.throw_if_cancelled("file transfer");
    }
    scp_.ok();
    scp_.expect_ok("the file " + remote);
    progress.done();
  }

  void tree(const fs::path& local, const std::string& name, const std::string& remote) {
    check_name(name);
    auto mode = static_cast<mode_t>(fs::status(local).permissions()) & 0777;
    scp_.send("D" + octal_mode(mode) + " 0 " + name + "\n");
    scp_.expect_ok("the directory " + remote);
    for (const fs::directory_entry& entry : fs::directory_iterator(local)) {
      std::string child = entry.path().filename().string();
      if (entry.is_symlink()) continue;  // not followed out of the tree
      if (entry.is_directory()) tree(entry.path(), child, remote + "/" + child);
      else if (entry.is_regular_file()) file(entry.path(), child, remote + "/" + child);
    }
    scp_.send("E\n");
    scp_.expect_ok("the end of directory " + remote);
  }

 private:
  void check_name(const std::string& name) const {
    if (name.find('\n') != std::string::npos) {
      throw SCPError(context_.host(), "cannot send '" + printable(name) + "' to " + context_.host() +
                                      " over scp: the protocol cannot carry a newline in a name");
    }
  }

  ScpChannel& scp_;
  TransferContext& context_;
};

/// Follows the records the remote `scp -f` sends until it is done.
class Receiver {
 public:
  Receiver(ScpChannel& scp, TransferContext& context, std::string remote, fs::path target, bool recurse)
      : scp_(scp), context_(context), remote_(std::move(remote)), target_(std::move(target)), recurse_(recurse) {}

  void run() {
    const std::string& remote = remote_;
    scp_.ok();  // ready
    while (std::optional<char> first = scp_.next_byte()) {
      if (*first == 1 || *first == 2)
        throw SCPError(host(), "scp on " + host() + " cannot send " + remote + ": " + scp_.reply_message(*first));
      ScpRecord record = parse_scp_record(*first + scp_.read_line(), host());
      switch (record.type) {
        case 'T':
          break;  // times are not kept
        case 'E':
          if (levels_.empty()) throw SCPError(host(), "scp on " + host() + " left a directory it never entered");
          levels_.pop_back();
          break;
        case 'D':
          enter(record);
          break;
        default:
          file(record);
      }
      if (record.type != 'C') scp_.ok();
    }
    if (!levels_.empty())
      throw SCPError(host(), "scp on " + host() + " ended inside a directory of " + remote);
  }

 private:
  const std::string& host() const { return context_.host(); }

  /// A directory being received: where it lands, and its remote path for
  /// messages and events.
  struct Level {
    fs::path local;
    std::string remote;
  };

  /// Where a record lands: the target itself at the top, else a checked name
  /// inside the current directory.
  Level place(const ScpRecord& record) const {
    if (levels_.empty()) return {target_, remote_};
    if (!is_safe_entry_name(record.name)) {
      throw SCPError(host(), "refusing remote entry '" + printable(record.name) + "' from " + host() +
                                 ": the name would leave the local directory " + target_.string());
    }
    return {levels_.back().local / record.name, levels_.back().remote + "/" + record.name};
  }

  void enter(const ScpRecord& record) {
    if (!recurse_) throw SCPError(host(), "scp on " + host() + " sent a directory, but recurse is off");
    Level level = place(record);
    // Owner rights are kept so that the tree can be filled in.
    if (::mkdir(level.local.c_str(), (record.mode & 0777) | 0700) != 0 &&
        !(errno == EEXIST && fs::is_directory(level.local)))
      throw_local_error("create directory", level.local);
    levels_.push_back(std::move(level));
  }

  void file(const ScpRecord& record) {
    context_.throw_if_cancelled("file transfer");
    auto [where, source] = place(record);
    if (levels_.empty()) make_local_directories(where.parent_path());
    PartialFile out(where, record.mode);
    scp_.ok();
    TransferProgress progress(context_, source, record.size);
    std::vector<char> buffer(chunk);
    for (std::uint64_t left = record.size; left > 0;) {
      std::size_t n = scp_.read_some(buffer.data(), std::min<std::uint64_t>(chunk, left));
      if (n == 0) throw SCPError(host(), "scp on " + host() + " ended in the middle of " + source);
      out.write(buffer.data(), n);
      left -= n;
      progress.add(n);
      context_.throw_if_cancelled("file transfer");
    }
    scp_.expect_ok("to finish " + source);
    out.commit();
    progress.done();
    scp_.ok();
  }

  ScpChannel& scp_;
  TransferContext& context_;
  std::string remote_;
  fs::path target_;
  bool recurse_;
  std::vector<Level> levels_;
};

}  // namespace

ScpRecord parse_scp_record(std::string_view line, const std::string& host) {
  auto malformed = [&] {
    return SCPError(host, "scp on " + host + " sent a malformed record: '" + printable(line) + "'");
  };
  ScpRecord record;
  if (line.empty()) throw malformed();
  record.type = line.front();
  if (record.type == 'E') {
    if (line.size() != 1) throw malformed();
    return record;
  }
  if (record.type == 'T') return record;
  if (record.type != 'C' && record.type != 'D') throw malformed();
  std::string_view rest = line.substr(1);
  auto mode_end = rest.find(' ');
  unsigned int mode = 0;
  auto [mode_ptr, mode_error] = std::from_chars(rest.data(), rest.data() + std::min(mode_end, rest.size()), mode, 8);
  if (mode_end == std::string_view::npos || mode_end == 0 || mode_end > 4 || mode_error != std::errc() ||
      mode_ptr != rest.data() + mode_end)
    throw malformed();
  rest.remove_prefix(mode_end + 1);
  auto size_end = rest.find(' ');
  auto [size_ptr, size_error] =
      std::from_chars(rest.data(), rest.data() + std::min(size_end, rest.size()), record.size);
  if (size_end == std::string_view::npos || size_end == 0 || size_error != std::errc() ||
      size_ptr != rest.data() + size_end)
    throw malformed();
  record.mode = static_cast<mode_t>(mode);
  record.name = rest.substr(size_end + 1);
  if (record.name.empty()) throw malformed();
  return record;
}

void scp_send(Session& session, TransferContext& context, const std::string& local,
              const std::string& remote, const CopyMode& mode) {
  auto slash = remote.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : remote.substr(0, slash);
  std::string name = slash == std::string::npos ? remote : remote.substr(slash + 1);
  if (name.empty())
    throw SCPError(context.host(), "remote path '" + remote + "' for " + context.host() + " names no file; add its name");
  bool tree = mode.recurse && fs::is_directory(local);
  // mkdir -p in the same command: one channel per transfer (tinysshd allows
  // one per connection) and no SFTP needed. -d: the target must be a
  // directory; -p: modes are set as sent, not umasked.
  std::string quoted = shell_quote(parent);
  ScpChannel scp(session, context, "mkdir -p -- " + quoted + " && scp -t -d -p " + (tree ? "-r " : "") + quoted);
  scp.expect_ok("the transfer to " + parent);
  Sender sender(scp, context);
  if (tree) sender.tree(local, name, remote);
  else sender.file(local, name, remote);
  scp.finish();
}

void scp_recv(Session& session, TransferContext& context, const std::string& remote,
              const std::string& local, const CopyMode& mode) {
  ScpChannel scp(session, context, std::string("scp -f ") + (mode.recurse ? "-r " : "") + shell_quote(remote));
  Receiver(scp, context, remote, local, mode.recurse).run();
  scp.finish();
}

}  // namespace pssh::detail
