/// \file
/// What a command run gives back per host: streaming output, stdin, exit state.
#pragma once

#include <pssh/errors.hpp>
#include <pssh/export.hpp>
#include <pssh/options.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <iosfwd>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pssh {

/// One host's run inside the library; the handles below share it.
class HostState;
/// The library's way in to a handle's HostState.
struct HostAccess;

/// A blocking input range over one output stream of one host, by lines
/// (LineRange) or by chunks (ChunkRange). What is read is taken out of the
/// host's buffer; iterating again later resumes where the last read stopped,
/// and line and chunk reads of one stream share it (each byte goes to one).
/// With a read timeout set, waiting longer than it throws Timeout.
///
/// Lines keep their bytes (binary-safe), decoded from RunOptions::encoding,
/// without the trailing "\n" (and "\r\n" with a PTY); a last line without
/// "\n" is kept. With max_buffered_output set, a line longer than it arrives
/// in pieces of that many bytes: reading by lines then cannot tell a piece
/// from a line, so read by chunks when lines may be that long.
///
/// Chunks are the bytes as the server sent them, not decoded or split
/// ("\r\n" kept with a PTY): each read takes everything received since the
/// last one, at most about max_buffered_output. For files, pipes, terminals.
///
/// An encoding whose newline is not the byte "\n" (UTF-16, UTF-32, EBCDIC)
/// is decoded as the output arrives, before lines are cut: then chunks, the
/// on_output sink and lines are all UTF-8, and bytes that do not decode are
/// kept as they are.
class PSSH_API OutputRange {
 public:
  /// What one item of the range is.
  enum class Unit { line, chunk };
  /// \var Unit::line
  /// A line, decoded, without its newline.

  /// \var Unit::chunk
  /// The bytes received since the last read.

  /// Takes each item out of the host's buffer as it advances, blocking
  /// until the next one arrives or the stream ends.
  class PSSH_API iterator {
   public:
    ///@{
    /// The standard library's iterator traits: an input iterator of strings.
    using iterator_category = std::input_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string*;
    using reference = const std::string&;
    ///@}

    iterator() = default;
    /// The current line or chunk, valid until the iterator advances.
    const std::string& operator*() const { return *item_; }
    /// The same, by pointer.
    const std::string* operator->() const { return &*item_; }
    /// Waits for the next item, or the end of the stream; Timeout after the
    /// read timeout.
    iterator& operator++();
    /// As ++it; an input iterator's old position cannot be kept.
    void operator++(int) { ++*this; }
    /// At the end: the stream ended and everything was read.
    bool operator==(std::default_sentinel_t) const { return !item_.has_value(); }

   private:
    friend class OutputRange;
    iterator(std::shared_ptr<HostState> state, Stream stream, Unit unit);
    std::shared_ptr<HostState> state_;
    Stream stream_ = Stream::out;
    Unit unit_ = Unit::line;
    std::optional<std::string> item_;
  };

  /// Waits for the first item (where the last read stopped).
  iterator begin() { return iterator(state_, stream_, unit_); }
  /// The end of the stream.
  std::default_sentinel_t end() const { return {}; }

 private:
  friend class HostOutput;
  OutputRange(std::shared_ptr<HostState> state, Stream stream, Unit unit)
      : state_(std::move(state)), stream_(stream), unit_(unit) {}
  std::shared_ptr<HostState> state_;
  Stream stream_;
  Unit unit_;
};
using LineRange = OutputRange;   ///< an OutputRange read by lines
using ChunkRange = OutputRange;  ///< an OutputRange read by chunks

/// Writes to the remote command's stdin. Calls are queued and sent by the
/// host's worker, so they are safe from any thread and never block on the network.
class PSSH_API StdinWriter {
 public:
  /// Queues `data`; returns at once.
  void write(std::string_view data);
  /// Waits until everything written so far was handed to the SSH channel.
  /// A host still waiting for a worker (more hosts than pool_size) sends
  /// nothing before it starts: flush or close the running hosts first.
  void flush();
  /// Sends EOF after the queued data.
  void close();

 private:
  friend class HostOutput;
  explicit StdinWriter(std::shared_ptr<HostState> state) : state_(std::move(state)) {}
  std::shared_ptr<HostState> state_;
};

/// One host's share of a run. Cheap to copy: copies refer to the same run.
class PSSH_API HostOutput {
 public:
  /// As given to the client.
  const std::string& host() const;
  /// HostConfig::alias, else the host.
  const std::string& alias() const;
  /// Position in the client's host list (duplicates have distinct indexes).
  std::size_t index() const;

  /// stdout by lines (see OutputRange); reading blocks until a line comes.
  LineRange stdout_lines() const { return {state_, Stream::out, OutputRange::Unit::line}; }
  /// stderr by lines.
  LineRange stderr_lines() const { return {state_, Stream::err, OutputRange::Unit::line}; }
  /// stdout as the server's bytes (see OutputRange).
  ChunkRange stdout_chunks() const { return {state_, Stream::out, OutputRange::Unit::chunk}; }
  /// stderr as the server's bytes.
  ChunkRange stderr_chunks() const { return {state_, Stream::err, OutputRange::Unit::chunk}; }
  /// Writes to the command's stdin (see StdinWriter).
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
  /// How long reading the output waits for a line or chunk; zero: forever.
  void set_read_timeout(duration timeout) const;

 private:
  friend struct HostAccess;
  explicit HostOutput(std::shared_ptr<HostState> state);
  std::shared_ptr<HostState> state_;
};

/// A run's outputs, one per host, in the client's host list order.
using Output = std::vector<HostOutput>;

/// A run's hosts in two lists, each in the run's order.
struct SplitOutput {
  Output succeeded;  ///< finished with exit code 0: no error, no signal
  Output failed;     ///< every other host, those not finished yet included
};
/// Splits a (joined) run, e.g.\ to run again on the failed hosts alone:
///
///     auto [ok, failed] = pssh::split_output(output);
///     for (auto& h : failed) retry_hosts.push_back(hosts[h.index()]);
PSSH_API SplitOutput split_output(const Output& output);

/// RunOptions::on_output: takes each host's output as it arrives.
using OutputSink = std::function<void(const HostOutput& host, Stream stream, std::string_view bytes)>;

/// join() ran out of time. Both lists are usable; a later join() waits for
/// the unfinished ones. A run-level error, not a host's: it is no Timeout.
class PSSH_API JoinTimeout : public Error {
 public:
  /// Made by join(): the run's hosts, done and not done when time ran out.
  JoinTimeout(const std::string& message, Output finished, Output unfinished)
      : Error("", message), finished_(std::move(finished)), unfinished_(std::move(unfinished)) {}
  ErrorKind kind() const noexcept override { return ErrorKind::join_timeout; }
  /// The hosts done when the time ran out.
  const Output& finished_output() const noexcept { return finished_; }
  /// The hosts still working; a later join() waits for them.
  const Output& unfinished_output() const noexcept { return unfinished_; }

 private:
  Output finished_, unfinished_;
};

/// Prints "[host]\tline" to `out` for every line as the caller reads it
/// (lines only: chunks and the on_output sink are not logged)
/// (pass nullptr to stop). The stream must outlive the logging.
PSSH_API void enable_host_logger(std::ostream* out);
/// enable_host_logger(&out).
inline void enable_host_logger(std::ostream& out) { enable_host_logger(&out); }

}  // namespace pssh
