#include "output.hpp"

#include "results.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <system_error>

namespace fs = std::filesystem;

namespace cli {
namespace {

/// What a host may keep in memory per stream (-i blocks, a partial line);
/// the rest waits in a temporary file.
constexpr std::size_t held_in_memory = 32 * 1024;

void write_all(std::FILE* out, std::string_view bytes) {
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), out);
}

}  // namespace

Console::Console() : stdout_tty_(::isatty(1) != 0), stderr_tty_(::isatty(2) != 0) {}

void Console::line(std::FILE* out, std::string_view text) {
  exclusive([&] {
    write_all(out, text);
    std::fputc('\n', out);
  });
}

void Console::progress(std::size_t done, std::size_t failed, std::size_t total) {
  if (!stderr_tty_) return;
  std::lock_guard lock(mutex_);
  std::fflush(stdout);  // what is above the progress line stays above it
  std::fprintf(stderr, "\r\033[K[%zu/%zu done, %zu failed, %zu running]", done, total, failed,
               total - done);
  std::fflush(stderr);
}

void Console::finish() {
  std::lock_guard lock(mutex_);
  clear_progress();
  std::fflush(stdout);
}

void Console::clear_progress() {
  if (!stderr_tty_) return;
  std::fflush(stdout);
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

void SpillBuffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  last_ = bytes.back();
  if (!spill_ && memory_.size() + bytes.size() <= limit_) {
    memory_.append(bytes);
    return;
  }
  if (!spill_) {
    spill_.reset(std::tmpfile());
    if (!spill_) throw std::system_error(errno, std::generic_category(), "cannot create a temporary file");
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), spill_.get()) != bytes.size())
    throw std::system_error(errno, std::generic_category(), "cannot write a temporary file");
}

void SpillBuffer::write_to(std::FILE* out) {
  write_all(out, memory_);
  memory_.clear();
  if (spill_) {
    std::rewind(spill_.get());
    char chunk[64 * 1024];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, spill_.get())) > 0;)
      write_all(out, std::string_view(chunk, n));
    spill_.reset();
  }
  last_ = '\n';
}

std::vector<std::string> output_file_names(const std::vector<std::string>& names) {
  std::map<std::string, int> seen;
  std::vector<std::string> files;
  for (const auto& name : names) {
    int before = seen[name]++;
    files.push_back(before == 0 ? name : name + "." + std::to_string(before));
  }
  return files;
}

struct HostStreams::PerStream {
  int file = -1;
  SpillBuffer held{held_in_memory};     // -i, --inline-stdout: printed after the status line
  SpillBuffer partial{held_in_memory};  // -P: the line not yet complete
  bool pending_cr = false;  // a PTY's '\r' that may be half of a "\r\n" split across chunks
  ~PerStream() {
    if (file >= 0) ::close(file);
  }
};

struct HostStreams::PerHost {
  PerStream out, err;
  PerStream& of(pssh::Stream stream) { return stream == pssh::Stream::out ? out : err; }
};

HostStreams::HostStreams(Show show, std::optional<std::string> out_dir,
                         std::optional<std::string> err_dir, std::vector<std::string> names,
                         std::vector<std::string> prefixes, bool strip_cr, Console& console)
    : show_(show),
      out_dir_(std::move(out_dir)),
      err_dir_(std::move(err_dir)),
      names_(std::move(names)),
      prefixes_(std::move(prefixes)),
      file_names_(output_file_names(names_)),
      strip_cr_(strip_cr),
      console_(console) {
  for (const auto& dir : {out_dir_, err_dir_})
    if (dir) fs::create_directories(*dir);
  for (std::size_t i = 0; i < file_names_.size(); ++i) hosts_.push_back(std::make_unique<PerHost>());
}

HostStreams::~HostStreams() = default;

void HostStreams::take(const pssh::HostOutput& host, pssh::Stream stream, std::string_view bytes) {
  PerStream& s = hosts_.at(host.index())->of(stream);
  write_file(s, stream == pssh::Stream::out ? out_dir_ : err_dir_, file_names_[host.index()], bytes);
  if (show_.lines) print_lines(host, stream, s, bytes);
  if (stream == pssh::Stream::out ? show_.inline_stdout : show_.inline_stderr) s.held.append(bytes);
}

void HostStreams::write_file(PerStream& s, const std::optional<std::string>& dir,
                             const std::string& name, std::string_view bytes) {
  if (!dir) return;
  std::string path = (fs::path(*dir) / name).string();
  if (s.file < 0) {
    s.file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.file < 0) throw std::system_error(errno, std::generic_category(), "cannot create " + path);
  }
  while (!bytes.empty()) {
    ssize_t n = ::write(s.file, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "cannot write " + path);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void HostStreams::print_lines(const pssh::HostOutput& host, pssh::Stream stream, PerStream& s,
                              std::string_view bytes) {
  std::string joined;
  if (s.pending_cr) {
    joined = "\r" + std::string(bytes);
    bytes = joined;
    s.pending_cr = false;
  }
  if (strip_cr_ && !bytes.empty() && bytes.back() == '\r') {
    s.pending_cr = true;
    bytes.remove_suffix(1);
  }
  std::size_t last_newline = bytes.rfind('\n');
  if (last_newline == std::string_view::npos) {
    s.partial.append(bytes);
    return;
  }
  std::FILE* out = stream == pssh::Stream::out ? stdout : stderr;
  std::string prefix = prefixes_[host.index()] + ": ";
  console_.exclusive([&] {
    std::string_view complete = bytes.substr(0, last_newline + 1);
    for (bool first = true; !complete.empty(); first = false) {
      std::size_t end = complete.find('\n');
      std::string_view line = complete.substr(0, end);
      write_all(out, prefix);
      if (first) s.partial.write_to(out);
      if (strip_cr_ && !line.empty() && line.back() == '\r') line.remove_suffix(1);
      write_all(out, line);
      std::fputc('\n', out);
      complete.remove_prefix(end + 1);
    }
  });
  s.partial.append(bytes.substr(last_newline + 1));
}

void HostStreams::finish(const pssh::HostOutput& host, std::size_t place, const Outcome& outcome) {
  std::unique_ptr<PerHost> done = std::move(hosts_.at(host.index()));
  for (auto stream : {pssh::Stream::out, pssh::Stream::err}) {
    PerStream& s = done->of(stream);
    if (s.pending_cr) s.partial.append("\r");
    if (s.partial.empty()) continue;
    std::FILE* out = stream == pssh::Stream::out ? stdout : stderr;
    console_.exclusive([&] {
      write_all(out, prefixes_[host.index()] + ": ");
      s.partial.write_to(out);
      std::fputc('\n', out);
    });
  }
  std::string status = status_line(place, names_[host.index()], outcome);
  console_.exclusive([&] {
    write_all(stdout, status + "\n");
    auto print_held = [&](SpillBuffer& held) {
      bool ends_line = held.ends_line();
      held.write_to(stdout);
      if (!ends_line) std::fputc('\n', stdout);
    };
    if (!done->out.held.empty()) print_held(done->out.held);
    if (done->err.held.empty()) return;
    write_all(stdout, "Stderr: ");
    print_held(done->err.held);
  });
}

}  // namespace cli
