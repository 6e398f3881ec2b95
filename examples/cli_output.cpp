#include "cli_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
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

std::string now_text() {
  std::time_t t = std::time(nullptr);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", std::localtime(&t));
  return text;
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

std::vector<std::string> output_file_names(const std::vector<std::string>& aliases) {
  std::map<std::string, int> uses;
  for (const auto& alias : aliases) ++uses[alias];
  std::vector<std::string> names;
  for (std::size_t i = 0; i < aliases.size(); ++i)
    names.push_back(uses[aliases[i]] == 1 ? aliases[i] : aliases[i] + "." + std::to_string(i + 1));
  return names;
}

struct HostStreams::PerStream {
  int file = -1;
  SpillBuffer held{held_in_memory};
  bool pending_cr = false;  // a PTY's '\r' that may be half of a "\r\n" split across chunks
  ~PerStream() {
    if (file >= 0) ::close(file);
  }
};

struct HostStreams::PerHost {
  PerStream out, err;
  PerStream& of(pssh::Stream stream) { return stream == pssh::Stream::out ? out : err; }
};

HostStreams::HostStreams(Layout layout, std::optional<std::string> out_dir,
                         std::optional<std::string> err_dir, std::vector<std::string> file_names,
                         bool strip_cr, Console& console)
    : layout_(layout),
      out_dir_(std::move(out_dir)),
      err_dir_(std::move(err_dir)),
      file_names_(std::move(file_names)),
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
  if (layout_ == Layout::lines) print_lines(host, stream, s, bytes);
  else if (layout_ == Layout::blocks) s.held.append(bytes);
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
    s.held.append(bytes);
    return;
  }
  std::FILE* out = stream == pssh::Stream::out ? stdout : stderr;
  std::string prefix = host.alias() + ": ";
  console_.exclusive([&] {
    std::string_view complete = bytes.substr(0, last_newline + 1);
    for (bool first = true; !complete.empty(); first = false) {
      std::size_t end = complete.find('\n');
      std::string_view line = complete.substr(0, end);
      write_all(out, prefix);
      if (first) s.held.write_to(out);
      if (strip_cr_ && !line.empty() && line.back() == '\r') line.remove_suffix(1);
      write_all(out, line);
      std::fputc('\n', out);
      complete.remove_prefix(end + 1);
    }
  });
  s.held.append(bytes.substr(last_newline + 1));
}

bool HostStreams::finish(const pssh::HostOutput& host, std::size_t place, Outcome outcome) {
  std::unique_ptr<PerHost> done = std::move(hosts_.at(host.index()));
  const std::string& name = file_names_[host.index()];
  bool files_written = true;
  for (auto stream : {pssh::Stream::out, pssh::Stream::err}) {
    // A host that wrote nothing still gets its (empty) file, as with pssh.
    // One that cannot be made is this host's failure, not the run's.
    PerStream& s = done->of(stream);
    try {
      if (s.file < 0) write_file(s, stream == pssh::Stream::out ? out_dir_ : err_dir_, name, {});
    } catch (const std::exception& e) {
      if (outcome.success) outcome = {false, e.what()};
      files_written = false;
    }
    if (s.pending_cr) s.held.append("\r");
  }
  std::string status = "[" + std::to_string(place) + "] " + now_text() + " " +
                       (outcome.success ? "[SUCCESS] " : "[FAILURE] ") + host.alias() +
                       (outcome.success ? "" : " " + outcome.failure);
  switch (layout_) {
    case Layout::lines:
      for (auto stream : {pssh::Stream::out, pssh::Stream::err}) {
        PerStream& s = done->of(stream);
        if (s.held.empty()) continue;
        std::FILE* out = stream == pssh::Stream::out ? stdout : stderr;
        console_.exclusive([&] {
          write_all(out, host.alias() + ": ");
          s.held.write_to(out);
          std::fputc('\n', out);
        });
      }
      if (!outcome.success) console_.line(stderr, host.alias() + ": " + outcome.failure);
      break;
    case Layout::status_only:
      console_.line(stdout, status);
      break;
    case Layout::blocks:
      console_.exclusive([&] {
        write_all(stdout, status + "\n");
        bool ends_line = done->out.held.ends_line();
        done->out.held.write_to(stdout);
        if (!ends_line) std::fputc('\n', stdout);
        if (done->err.held.empty()) return;
        write_all(stdout, "Stderr: ");
        ends_line = done->err.held.ends_line();
        done->err.held.write_to(stdout);
        if (!ends_line) std::fputc('\n', stdout);
      });
      break;
  }
  return files_written;
}

}  // namespace cli
