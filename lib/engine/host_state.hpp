// One host's run, shared by its worker and the caller: output buffers,
// stdin queue, exit state, and the run's one stop source. The worker fills it
// from the SSH channel; HostOutput (the caller's handle) drains it.
#pragma once

#include "base/stop_source.hpp"
#include "base/unique_fd.hpp"
#include "base/watchdog.hpp"
#include "text/encoding.hpp"

#include <pssh/errors.hpp>
#include <pssh/event.hpp>
#include <pssh/options.hpp>
#include <pssh/output.hpp>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

namespace pssh::detail {

struct HostSettings;

struct RunSettings {
  bool pty = false;
  std::optional<duration> read_timeout;
  std::size_t max_buffered = 0;  ///< per stream; 0 unlimited
  std::string encoding = "utf-8";
  std::function<void(const Event&)> on_event;
  bool line_events = true;  ///< ClientOptions::line_events
  OutputSink on_output;  ///< RunOptions::on_output: takes the bytes instead of the buffers
};

/// Where the next line of `unread` ends: at its '\n', after `cap` bytes of a
/// line longer than `cap` (0: no cap), or at the end once the stream ended.
/// A line's "\r\n" counts as its end, not its content, when `pty`: a line
/// of `cap` bytes stays whole then too. `searched` carries over the bytes
/// already known to hold no '\n', so a long line growing chunk by chunk is
/// scanned once.
struct LineCut {
  std::size_t length = 0;  ///< bytes of the line (its '\r' included)
  std::size_t taken = 0;   ///< with its '\n'
  bool at_newline = false;  ///< not a piece of a longer line or a last line
};
std::optional<LineCut> cut_line(std::string_view unread, std::size_t cap, bool pty, bool ended,
                                std::size_t& searched);

}  // namespace pssh::detail

namespace pssh {

/// One host's run (the opaque type of output.hpp), shared by its worker and
/// the caller's handles.
class HostState : public std::enable_shared_from_this<HostState> {
 public:
  HostState(const detail::HostSettings& host, const detail::RunSettings& run);
  HostState(const HostState&) = delete;
  HostState& operator=(const HostState&) = delete;

  const std::string host, alias;
  const std::size_t index;

  // Worker side.
  void emit(Event::Kind kind, std::string text = {}, std::optional<int> exit_code = {}) const;
  /// A transfer event: `done` of `total` bytes of `path`.
  void progress(const std::string& path, std::uint64_t done, std::uint64_t total) const;
  /// Output as it arrived: to the on_output sink, else into the buffer (one
  /// copy, no splitting); line events are cut here when there is a handler.
  /// Output in an encoding whose lines cannot be cut at the byte '\n'
  /// (UTF-16, UTF-32) is decoded to UTF-8 first. What the sink throws comes
  /// out of here.
  void append(Stream stream, std::string_view bytes);
  /// Bytes the buffer takes before the cap (SIZE_MAX when unlimited): zero
  /// while the caller has not read enough, unless a reader waits on the
  /// other stream with nothing it can take (see the definition).
  std::size_t room(Stream stream) const;
  /// No more output comes on `stream`: its last partial line event goes out
  /// and its readers see the end.
  void end_stream(Stream stream);
  /// The host waits for a free worker or for its connection's previous work.
  void set_waiting();
  /// A worker has taken the host (it connects, then runs the job).
  void set_working();
  void set_started();
  bool started() const;
  void set_exit(int code, std::optional<std::string> signal);
  void fail(std::exception_ptr error);
  /// The host's work is over: ends both streams (with their last partial
  /// lines) and wakes every waiter. Call last, whatever ended the work.
  void finish();
  detail::StopReason stop_reason() const;
  /// Cancelled ("<what> on <host> was cancelled") once a stop reached the host.
  void throw_if_cancelled(const std::string& what) const;
  /// Appends the queued stdin bytes to `into`; true once the caller closed stdin.
  bool take_stdin(std::string& into);
  void stdin_sent(std::size_t bytes);
  int wake_fd() const noexcept { return wake_fd_.get(); }

  /// The run's stop: the session serves it, the worker's stop callback
  /// listens on its token.
  const detail::StopSource& stop_source() const noexcept { return stop_; }
  /// A stop of `cancel` (the client's cancel()) stops this run too, at
  /// once if it was requested already. Once, before the work is queued.
  void follow(std::stop_token cancel);

  // Caller side (any thread).
  std::optional<std::string> next_line(Stream stream);
  /// Everything unread on `stream` at once; nullopt once it ended.
  std::optional<std::string> next_chunk(Stream stream);
  void write_stdin(std::string_view data);
  void close_stdin();
  void flush_stdin();
  /// The one way to stop a host's work: records the reason (first wins),
  /// runs the worker's stop hook and wakes its pump.
  void request_stop(detail::StopReason reason);
  void set_read_timeout(duration timeout);
  /// Nobody will read: output is dropped from now on. `log`: the host
  /// logger, if on, logs each line first (join's consume_output, as
  /// parallel-ssh's docs use it); a Shell going away logs nothing.
  void discard_output(bool log);
  /// Waits until the host has started its command, failed, finished, or is
  /// waiting for a worker: never for something only the caller can unblock.
  void wait_dispatched();
  /// From now on the buffers take all the output, max_buffered_ or not:
  /// whoever waits for the end reads after it, and a cap would hold the
  /// command back for ever (join() before reading; a later run on the same
  /// connection, which waits for this one).
  void keep_all();
  /// keep_all(), then waits for the end.
  bool wait_finished_until(std::optional<detail::Clock::time_point> deadline);

  bool finished() const;
  std::optional<int> exit_code() const;
  std::optional<std::string> exit_signal() const;
  std::exception_ptr error() const;

 private:
  /// One stream's unread output as it came (a line costs its bytes: the
  /// cap bounds the memory really used). Lines are cut when read.
  struct Buffer {
    std::string bytes;          // unread from `read_from` on
    std::size_t read_from = 0;
    std::size_t searched = 0;   // unread bytes known to hold no '\n'
    bool ended = false;
    int readers_waiting = 0;
    bool starved = false;  // a waiting reader found nothing it can take
    std::string_view unread() const { return std::string_view(bytes).substr(read_from); }
    std::size_t held() const { return bytes.size() - read_from; }
    bool drained() const { return read_from == bytes.size(); }
    /// Drops `count` read bytes: all at once when the reader caught up, else
    /// once they are most of the string (amortised O(1) per byte).
    void consume(std::size_t count);
  };
  /// The worker's cut of a stream into line events.
  struct EventLines {
    std::string partial;
    std::size_t searched = 0;
  };
  enum class Phase { submitted, waiting, working, started, finished };

  Buffer& buffer(Stream s) { return s == Stream::out ? out_ : err_; }
  const Buffer& buffer(Stream s) const { return s == Stream::out ? out_ : err_; }
  const Buffer& other_than(Stream s) const { return s == Stream::out ? err_ : out_; }
  /// A cut line as the caller gets it: without a PTY's '\r', in UTF-8.
  std::string finish_line(std::string_view raw, const detail::LineCut& cut, detail::Recoder* recoder) const;
  std::optional<detail::LineCut> cut(std::string_view unread, bool ended, std::size_t& searched) const {
    return detail::cut_line(unread, max_buffered_, pty_, ended, searched);
  }
  /// Tells the event handler about the lines `bytes` completes.
  void announce_lines(Stream stream, std::string_view bytes, bool ended);
  /// Waits until `ready` (under the lock), counted as a waiting reader;
  /// Timeout ("no <what> from ...") after read_timeout.
  template <class Ready>
  void wait_for_output(std::unique_lock<std::mutex>& lock, Stream stream, const char* what,
                       Ready ready);
  /// The buffer holds the bytes past the cap that show whether a line of
  /// exactly `cap` bytes ends there ('\n', or "\r\n" with a PTY): the
  /// reader can then always cut, and such a line stays whole.
  std::size_t capacity() const { return max_buffered_ + (pty_ ? 2 : 1); }
  bool full(const Buffer& b) const { return max_buffered_ != 0 && b.held() >= capacity(); }
  /// Logs and drops the buffer's complete lines (all, once it ended); under
  /// the lock, so that lines of one stream are logged in their order.
  void log_discarded(Buffer& b);
  void deliver(const Event& event) const;
  void wake() const;

  const bool pty_;
  const std::size_t max_buffered_;
  const std::function<void(const Event&)> on_event_;
  const bool line_events_;  ///< on_event_ takes Event::Kind::line
  const OutputSink on_output_;
  /// append() after decoding, if any.
  void take(Stream stream, std::string_view bytes);

  // Lines of an ASCII-compatible encoding are cut first and decoded one by
  // one (binary output stays intact between them); the others are decoded as
  // they arrive, a stream each, and then cut as UTF-8.
  std::unique_ptr<detail::Recoder> event_recoder_;  // remote encoding -> UTF-8; worker only
  std::unique_ptr<detail::Recoder> reader_recoder_;  // the same for readers, under the lock
  std::unique_ptr<detail::Recoder> arrival_decoder_[2];  // stdout, stderr; worker only
  EventLines event_lines_[2];  // stdout, stderr; worker only

  mutable std::mutex mutex_;
  // Two, so that each wait is woken only by what it waits for: a join that
  // waits for the end must not wake for every chunk of output (each needless
  // wake-up is two context switches).
  std::condition_variable changed_;        // output, end of a stream, stdin sent
  std::condition_variable phase_changed_;  // waiting, started, finished
  Buffer out_, err_;
  bool discard_ = false;  // nobody reads: output is dropped
  bool keep_all_ = false;  // someone waits for the end: no cap
  int flushing_ = 0;  // flush_stdin() calls waiting: no cap meanwhile
  bool log_discarded_ = false;  // ... after the host logger, if on, logged it
  std::optional<duration> read_timeout_;
  Phase phase_ = Phase::submitted;
  std::optional<int> exit_code_;
  std::optional<std::string> exit_signal_;
  std::exception_ptr error_;
  detail::StopSource stop_;
  std::string stdin_queue_;
  bool stdin_eof_ = false;
  std::size_t stdin_written_ = 0, stdin_sent_ = 0;
  detail::UniqueFd wake_fd_;
  // Last: it goes first, so a cancel never reaches a half-destroyed state.
  std::optional<std::stop_callback<std::function<void()>>> cancel_link_;
};

/// How the library reaches the state behind a caller's handle.
struct HostAccess {
  static const std::shared_ptr<HostState>& state_of(const HostOutput& output) { return output.state_; }
  static HostOutput output_of(std::shared_ptr<HostState> state) { return HostOutput(std::move(state)); }
};

}  // namespace pssh
