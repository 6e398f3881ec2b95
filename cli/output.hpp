// How the pssh command takes each host's bytes as they arrive (the library's
// on_output sink): into files (-o/-e), into a block per host after its
// status line (-i, --inline-stdout), as "host: line" (-P), in bounded memory
// whatever the output's size and shape.
#pragma once

#include <pssh/output.hpp>

#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cli {

/// Standard output and error shared by every host's worker, and the
/// progress line on a terminal that output must not tear.
class Console {
 public:
  Console();
  /// Runs `write` with the console to itself: nothing else is written
  /// between (the progress line is cleared first).
  template <class Write>
  void exclusive(Write write) {
    std::lock_guard lock(mutex_);
    clear_progress();
    write();
    if (stdout_tty_) std::fflush(stdout);
  }
  void line(std::FILE* out, std::string_view text);
  void progress(std::size_t done, std::size_t failed, std::size_t total);
  /// Clears the progress line and flushes what is buffered.
  void finish();

 private:
  void clear_progress();
  const bool stdout_tty_, stderr_tty_;
  std::mutex mutex_;
};

/// Bytes kept in memory up to a limit and in an unlinked temporary file past it.
class SpillBuffer {
 public:
  explicit SpillBuffer(std::size_t memory_limit) : limit_(memory_limit) {}
  void append(std::string_view bytes);
  bool empty() const { return memory_.empty() && !spill_; }
  bool ends_line() const { return last_ == '\n'; }
  /// Writes everything to `out` in order and empties the buffer.
  void write_to(std::FILE* out);

 private:
  std::size_t limit_;
  std::string memory_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> spill_{nullptr, &std::fclose};
  char last_ = '\n';
};

/// What is printed of each host besides its status line (pssh 2.3's).
struct Show {
  bool lines = false;          ///< -P: "host: line" as lines complete
  bool inline_stdout = false;  ///< -i, --inline-stdout: stdout after the status line
  bool inline_stderr = false;  ///< -i: then "Stderr: " and stderr
};

struct Outcome {
  bool success = true;
  std::string failure;  ///< "Exited with error code 1", the error's message, ...
};

/// The file name for each host under -o/-e, as pssh 2.3 names them: its
/// name, and "name.1", "name.2", ... for its later repeats in the list.
std::vector<std::string> output_file_names(const std::vector<std::string>& names);

/// What the command keeps of every host while it runs; `take` is the
/// on_output sink, `finish` runs once the host is finished.
class HostStreams {
 public:
  /// `names`: how status lines name each host; `prefixes`: how -P's lines
  /// do; `strip_cr`: printed lines lose a PTY's "\r" before "\n" (files keep it).
  HostStreams(Show show, std::optional<std::string> out_dir, std::optional<std::string> err_dir,
              std::vector<std::string> names, std::vector<std::string> prefixes, bool strip_cr,
              Console& console);
  ~HostStreams();
  /// Writes each byte to the host's -o/-e file (made by its first bytes, as
  /// pssh 2.3 makes them: a host that wrote nothing has none; one that
  /// cannot be made or written throws, which fails the host), and keeps
  /// what -P and -i print.
  void take(const pssh::HostOutput& host, pssh::Stream stream, std::string_view bytes);
  /// Closes the host's files and prints its status line and what Show asks;
  /// `place` is its [N].
  void finish(const pssh::HostOutput& host, std::size_t place, const Outcome& outcome);

 private:
  struct PerStream;
  struct PerHost;
  void write_file(PerStream& s, const std::optional<std::string>& dir, const std::string& name,
                  std::string_view bytes);
  void print_lines(const pssh::HostOutput& host, pssh::Stream stream, PerStream& s,
                   std::string_view bytes);

  const Show show_;
  const std::optional<std::string> out_dir_, err_dir_;
  const std::vector<std::string> names_, prefixes_, file_names_;
  const bool strip_cr_;
  Console& console_;
  std::vector<std::unique_ptr<PerHost>> hosts_;
};

}  // namespace cli
