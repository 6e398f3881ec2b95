// Temporary-then-rename local files and per-file progress.
#include "files/local_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace pssh::detail {
namespace fs = std::filesystem;

namespace {
constexpr std::uint64_t progress_every = 1 << 20;
}

void throw_local_error(const std::string& what, const fs::path& path) {
  throw std::system_error(errno, std::generic_category(), "cannot " + what + " " + path.string());
}

PartialFile::PartialFile(fs::path final_path, mode_t mode)
    : final_(std::move(final_path)), temp_(final_.string() + ".pssh-partial") {
  ::unlink(temp_.c_str());
  // The kernel applies the umask to the mode.
  fd_.reset(::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 0777));
  if (!fd_) throw_local_error("create", temp_);
}

PartialFile::~PartialFile() {
  if (!committed_) ::unlink(temp_.c_str());
}

void PartialFile::write(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd_.get(), data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_local_error("write", temp_);
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void PartialFile::commit() {
  if (::close(fd_.release()) != 0) throw_local_error("write", temp_);
  if (::rename(temp_.c_str(), final_.c_str()) != 0) throw_local_error("rename into place", final_);
  committed_ = true;
}

void make_local_directories(const fs::path& path) {
  std::error_code error;
  if (!path.empty()) fs::create_directories(path, error);
  if (error) throw std::system_error(error, "cannot create directory " + path.string());
}

TransferProgress::TransferProgress(const TransferContext& context, std::string path, std::uint64_t total)
    : context_(context), path_(std::move(path)), total_(total) {
  context_.progress(path_, 0, total_);
}

void TransferProgress::add(std::uint64_t bytes) {
  done_ += bytes;
  if (done_ - reported_ >= progress_every) report();
}

void TransferProgress::done() {
  if (reported_ != done_ || done_ == 0) report();
}

void TransferProgress::report() {
  reported_ = done_;
  context_.progress(path_, done_, std::max(total_, done_));
}

}  // namespace pssh::detail
