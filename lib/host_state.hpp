// One host's run, shared by its worker and the caller: output buffers,
// stdin queue, exit state, stop requests. The worker fills it from the SSH
// channel; HostOutput (the caller's handle) drains it.
#pragma once

#include "encoding.hpp"
#include "handles.hpp"
#include "watchdog.hpp"

#include <pssh/errors.hpp>
#include <pssh/event.hpp>
#include <pssh/options.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pssh::detail {

struct HostSettings;

enum class StopReason { none, closed_by_caller, timeout, cancelled };

struct RunSettings {
  bool pty = false;
  std::optional<duration> read_timeout;
  std::size_t max_buffered = 0;  ///< per stream; 0 unlimited
  std::string encoding = "utf-8";
  std::function<void(const Event&)> on_event;
};

class HostState {
 public:
  HostState(const HostSettings& host, const RunSettings& run);
  HostState(const HostState&) = delete;
  HostState& operator=(const HostState&) = delete;

  const std::string host, alias;
  const std::size_t index;

  // Worker side.
  void emit(Event::Kind kind, std::string text = {}, std::optional<int> exit_code = {}) const;
  /// A transfer event: `done` of `total` bytes of `path`.
  void progress(const std::string& path, std::uint64_t done, std::uint64_t total) const;
  void append(Stream stream, std::string_view bytes);
  /// Bytes the buffer takes before the cap (SIZE_MAX when unlimited): zero
  /// while the caller has not read enough.
  std::size_t room(Stream stream) const;
  void set_started();
  void set_exit(int code, std::optional<std::string> signal);
  void fail(std::exception_ptr error);
  /// The host's work is over; wakes every waiter. Call last.
  void finish();
  StopReason stop_reason() const;
  /// Cancelled ("<what> on <host> was cancelled") once cancel() reached the host.
  void throw_if_cancelled(const std::string& what) const;
  struct StdinChunk {
    std::string data;
    bool eof = false;
  };
  StdinChunk take_stdin();
  void stdin_sent(std::size_t bytes);
  int wake_fd() const noexcept { return wake_fd_.get(); }
  void clear_wake() const;

  // Caller side.
  std::optional<std::string> next_line(Stream stream);
  void write_stdin(std::string_view data);
  void close_stdin();
  void flush_stdin();
  void request_stop(StopReason reason);
  void set_read_timeout(duration timeout);
  void discard_output();
  void wait_started();
  bool wait_finished_until(std::optional<Clock::time_point> deadline);

  bool finished() const;
  std::optional<int> exit_code() const;
  std::optional<std::string> exit_signal() const;
  std::exception_ptr error() const;

 private:
  struct Buffer {
    std::deque<std::string> lines;
    std::string partial;        // the unfinished last line: worker only
    std::size_t bytes = 0;      // held in `lines` and `partial`, for the cap
    std::size_t partial_bytes = 0;
    bool ended = false;
  };
  Buffer& buffer(Stream s) { return s == Stream::out ? out_ : err_; }
  const Buffer& buffer(Stream s) const { return s == Stream::out ? out_ : err_; }
  void push_line(Stream stream, std::string line);
  void set_partial_bytes(Stream stream);
  bool full(const Buffer& b) const { return max_buffered_ != 0 && b.bytes >= max_buffered_; }
  void end_streams();
  void wake() const;

  const bool pty_;
  const std::size_t max_buffered_;
  const std::function<void(const Event&)> on_event_;
  std::unique_ptr<Recoder> recoder_;  // remote encoding -> UTF-8; worker only

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Buffer out_, err_;
  bool discard_ = false;
  std::optional<duration> read_timeout_;
  bool started_ = false, finished_ = false;
  std::optional<int> exit_code_;
  std::optional<std::string> exit_signal_;
  std::exception_ptr error_;
  StopReason stop_ = StopReason::none;
  std::string stdin_queue_;
  bool stdin_eof_ = false;
  std::size_t stdin_written_ = 0, stdin_sent_ = 0;
  UniqueFd wake_fd_;
};

}  // namespace pssh::detail
