// The buffers between a host's worker and the caller.
#include "host_state.hpp"

#include "logging.hpp"
#include "settings.hpp"

#include "text.hpp"

#include <pssh/errors.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

namespace pssh::detail {
HostState::HostState(const HostSettings& settings, const RunSettings& run)
    : host(settings.host),
      alias(settings.alias),
      index(settings.index),
      pty_(run.pty),
      max_buffered_(run.max_buffered),
      on_event_(run.on_event),
      read_timeout_(run.read_timeout),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "cannot create eventfd");
  if (!is_utf8(run.encoding)) recoder_ = std::make_unique<Recoder>(run.encoding, "UTF-8");
}

void HostState::emit(Event::Kind kind, std::string text, std::optional<int> exit_code) const {
  if (!on_event_) return;
  Event e{.kind = kind, .host = host, .alias = alias, .index = index, .text = std::move(text),
          .exit_code = exit_code};
  on_event_(e);
}

void HostState::progress(const std::string& path, std::uint64_t done, std::uint64_t total) const {
  if (!on_event_) return;
  Event e{.kind = Event::Kind::transfer, .host = host, .alias = alias, .index = index, .text = path,
          .bytes_done = done, .bytes_total = total};
  on_event_(e);
}

void HostState::wake() const {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

void HostState::clear_wake() const {
  std::uint64_t count;
  [[maybe_unused]] auto n = ::read(wake_fd_.get(), &count, sizeof count);
}

void HostState::push_line(Stream stream, std::string line) {
  if (pty_ && !line.empty() && line.back() == '\r') line.pop_back();
  if (recoder_) line = recoder_->convert(line);
  if (on_event_) {
    Event e{.kind = Event::Kind::line, .host = host, .alias = alias, .index = index,
            .stream = stream, .text = line};
    on_event_(e);
  }
  std::lock_guard lock(mutex_);
  if (discard_) return;
  Buffer& b = buffer(stream);
  b.bytes += line.size();
  b.lines.push_back(std::move(line));
  changed_.notify_all();
}

void HostState::append(Stream stream, std::string_view bytes) {
  // Only the worker touches `partial`, so it is split outside the lock.
  Buffer& b = buffer(stream);
  for (auto newline = bytes.find('\n'); newline != std::string_view::npos;
       newline = bytes.find('\n')) {
    b.partial.append(bytes.substr(0, newline));
    push_line(stream, std::exchange(b.partial, {}));
    bytes.remove_prefix(newline + 1);
  }
  b.partial.append(bytes);
  // A line longer than the cap would hold the reader and the worker waiting
  // for each other: it is delivered in pieces of the cap's size.
  if (max_buffered_ != 0 && b.partial.size() >= max_buffered_)
    push_line(stream, std::exchange(b.partial, {}));
  set_partial_bytes(stream);
}

void HostState::set_partial_bytes(Stream stream) {
  Buffer& b = buffer(stream);
  std::lock_guard lock(mutex_);
  if (discard_) return;
  b.bytes = b.bytes - b.partial_bytes + b.partial.size();
  b.partial_bytes = b.partial.size();
}

std::size_t HostState::room(Stream stream) const {
  if (max_buffered_ == 0) return SIZE_MAX;
  std::lock_guard lock(mutex_);
  const Buffer& b = buffer(stream);
  if (discard_) return SIZE_MAX;
  return full(b) ? 0 : max_buffered_ - b.bytes;
}

void HostState::end_streams() {
  for (Stream s : {Stream::out, Stream::err}) {
    Buffer& b = buffer(s);
    if (!b.partial.empty()) push_line(s, std::exchange(b.partial, {}));
    set_partial_bytes(s);
  }
  std::lock_guard lock(mutex_);
  out_.ended = err_.ended = true;
  changed_.notify_all();
}

void HostState::set_started() {
  std::lock_guard lock(mutex_);
  started_ = true;
  changed_.notify_all();
}

void HostState::set_exit(int code, std::optional<std::string> signal) {
  end_streams();
  std::lock_guard lock(mutex_);
  exit_code_ = code;
  exit_signal_ = std::move(signal);
}

void HostState::fail(std::exception_ptr error) {
  end_streams();
  std::lock_guard lock(mutex_);
  error_ = std::move(error);
}

void HostState::finish() {
  // The last event goes out before waiters wake: when join() returns, every
  // event of the host has been delivered.
  if (error_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      emit(Event::Kind::failed, e.what());
    }
  } else {
    emit(Event::Kind::finished, {}, exit_code_);
  }
  std::lock_guard lock(mutex_);
  started_ = finished_ = true;
  changed_.notify_all();
}

StopReason HostState::stop_reason() const {
  std::lock_guard lock(mutex_);
  return stop_;
}

void HostState::throw_if_cancelled(const std::string& what) const {
  if (stop_reason() == StopReason::cancelled) throw Cancelled(host, what + " on " + host + " was cancelled");
}

HostState::StdinChunk HostState::take_stdin() {
  std::lock_guard lock(mutex_);
  StdinChunk chunk{std::move(stdin_queue_), stdin_eof_};
  stdin_queue_.clear();
  stdin_eof_ = false;
  return chunk;
}

void HostState::stdin_sent(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  stdin_sent_ += bytes;
  changed_.notify_all();
}

std::optional<std::string> HostState::next_line(Stream stream) {
  std::unique_lock lock(mutex_);
  Buffer& b = buffer(stream);
  auto ready = [&] { return !b.lines.empty() || b.ended; };
  if (read_timeout_ && read_timeout_->count() > 0) {
    if (!changed_.wait_for(lock, *read_timeout_, ready)) {
      throw Timeout(host, "no output line from " + host + " on " +
                              (stream == Stream::out ? "stdout" : "stderr") + " within " +
                              duration_text(*read_timeout_) +
                              " (read_timeout); read again to go on waiting");
    }
  } else {
    changed_.wait(lock, ready);
  }
  if (b.lines.empty()) return std::nullopt;
  std::string line = std::move(b.lines.front());
  b.lines.pop_front();
  bool was_full = full(b);
  b.bytes -= line.size();
  lock.unlock();
  if (was_full) wake();
  log_host_line(alias, line);
  return line;
}

void HostState::write_stdin(std::string_view data) {
  {
    std::lock_guard lock(mutex_);
    stdin_queue_.append(data);
    stdin_written_ += data.size();
  }
  wake();
}

void HostState::close_stdin() {
  {
    std::lock_guard lock(mutex_);
    stdin_eof_ = true;
  }
  wake();
}

void HostState::flush_stdin() {
  std::unique_lock lock(mutex_);
  std::size_t target = stdin_written_;
  changed_.wait(lock, [&] { return stdin_sent_ >= target || finished_; });
}

void HostState::request_stop(StopReason reason) {
  {
    std::lock_guard lock(mutex_);
    if (finished_ || stop_ != StopReason::none) return;
    stop_ = reason;
  }
  wake();
}

void HostState::set_read_timeout(duration timeout) {
  std::lock_guard lock(mutex_);
  read_timeout_ = timeout;
}

void HostState::discard_output() {
  {
    std::lock_guard lock(mutex_);
    discard_ = true;
    out_.lines.clear();
    err_.lines.clear();
    out_.bytes = err_.bytes = out_.partial_bytes = err_.partial_bytes = 0;
  }
  wake();
}

void HostState::wait_started() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return started_; });
}

bool HostState::wait_finished_until(std::optional<Clock::time_point> deadline) {
  std::unique_lock lock(mutex_);
  if (!deadline) {
    changed_.wait(lock, [&] { return finished_; });
    return true;
  }
  return changed_.wait_until(lock, *deadline, [&] { return finished_; });
}

bool HostState::finished() const {
  std::lock_guard lock(mutex_);
  return finished_;
}

std::optional<int> HostState::exit_code() const {
  std::lock_guard lock(mutex_);
  return exit_code_;
}

std::optional<std::string> HostState::exit_signal() const {
  std::lock_guard lock(mutex_);
  return exit_signal_;
}

std::exception_ptr HostState::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

}  // namespace pssh::detail
