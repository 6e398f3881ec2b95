// What a command run gives back per host: streaming output, stdin, exit state.
#pragma once

#include <pssh/errors.hpp>
#include <pssh/export.hpp>
#include <pssh/options.hpp>

#include <cstddef>
#include <exception>
#include <iosfwd>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pssh {

class HostOutput;
namespace detail {
class HostState;
std::shared_ptr<HostState> state_of(const HostOutput& output);
HostOutput output_of(std::shared_ptr<HostState> state);
}  // namespace detail

/// A blocking input range over one output stream of one host. Each line is
/// taken out of the host's buffer as it is read; iterating again later resumes
/// where the last read stopped. Lines keep their bytes (binary-safe) without the
/// trailing "\n" (and "\r\n" with a PTY); a last line without "\n" is kept.
/// With a read timeout set, waiting longer than it for a line throws Timeout.
class PSSH_API LineRange {
 public:
  class PSSH_API iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string*;
    using reference = const std::string&;

    iterator() = default;
    const std::string& operator*() const { return *line_; }
    const std::string* operator->() const { return &*line_; }
    iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !line_.has_value(); }

   private:
    friend class LineRange;
    iterator(std::shared_ptr<detail::HostState> state, Stream stream);
    std::shared_ptr<detail::HostState> state_;
    Stream stream_ = Stream::out;
    std::optional<std::string> line_;
  };

  iterator begin() { return iterator(state_, stream_); }
  std::default_sentinel_t end() const { return {}; }

 private:
  friend class HostOutput;
  LineRange(std::shared_ptr<detail::HostState> state, Stream stream)
      : state_(std::move(state)), stream_(stream) {}
  std::shared_ptr<detail::HostState> state_;
  Stream stream_;
};

/// Writes to the remote command's stdin. Calls are queued and sent by the
/// host's worker, so they are safe from any thread and never block on the network.
class PSSH_API StdinWriter {
 public:
  void write(std::string_view data);
  /// Waits until everything written so far was handed to the SSH channel.
  /// A host still waiting for a worker (more hosts than pool_size) sends
  /// nothing before it starts: flush or close the running hosts first.
  void flush();
  /// Sends EOF after the queued data.
  void close();

 private:
  friend class HostOutput;
  explicit StdinWriter(std::shared_ptr<detail::HostState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::HostState> state_;
};

/// One host's share of a run. Cheap to copy: copies refer to the same run.
class PSSH_API HostOutput {
 public:
  const std::string& host() const;
  /// HostConfig::alias, else the host.
  const std::string& alias() const;
  /// Position in the client's host list (duplicates have distinct indexes).
  std::size_t index() const;

  LineRange stdout_lines() const { return LineRange(state_, Stream::out); }
  LineRange stderr_lines() const { return LineRange(state_, Stream::err); }
  StdinWriter stdin_writer() const { return StdinWriter(state_); }

  /// Set once the command exited; empty while it runs, if the host failed,
  /// and after a timeout or cancel (the host reports that error instead).
  std::optional<int> exit_code() const;
  /// The signal name (e.g. "KILL") if the command was killed by one.
  std::optional<std::string> exit_signal() const;
  /// The host's error (ConnectionError, Timeout, ...) or null.
  std::exception_ptr exception() const;
  /// The host's work is over: exited, failed or cancelled. Never blocks.
  bool finished() const;
  /// Ends the command: signals it (TERM) and closes the channel, as a PTY
  /// session's hang-up would. Both output streams then end after what was
  /// received; the host reports no error, and an exit code only if the
  /// server sent one first. Before the command started: Cancelled.
  void close_channel() const;
  /// How long stdout_lines()/stderr_lines() wait for a line; zero: forever.
  void set_read_timeout(duration timeout) const;

 private:
  friend std::shared_ptr<detail::HostState> detail::state_of(const HostOutput& output);
  friend HostOutput detail::output_of(std::shared_ptr<detail::HostState> state);
  explicit HostOutput(std::shared_ptr<detail::HostState> state);
  std::shared_ptr<detail::HostState> state_;
};

using Output = std::vector<HostOutput>;

/// join() ran out of time. Both lists are usable; a later join() waits for
/// the unfinished ones.
class PSSH_API JoinTimeout : public Timeout {
 public:
  JoinTimeout(const std::string& message, Output finished, Output unfinished)
      : Timeout("", message), finished_(std::move(finished)), unfinished_(std::move(unfinished)) {}
  const Output& finished_output() const noexcept { return finished_; }
  const Output& unfinished_output() const noexcept { return unfinished_; }

 private:
  Output finished_, unfinished_;
};

/// Prints "[host]\tline" to `out` for every line as the caller reads it
/// (pass nullptr to stop). The stream must outlive the logging.
PSSH_API void enable_host_logger(std::ostream* out);
inline void enable_host_logger(std::ostream& out) { enable_host_logger(&out); }

}  // namespace pssh
