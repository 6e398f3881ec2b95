// The buffers between a host's worker and the caller.
#include "engine/host_state.hpp"

#include "text/logging.hpp"
#include "config/settings.hpp"

#include "text/text.hpp"

#include <pssh/errors.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

namespace pssh {

using namespace detail;

HostState::HostState(const HostSettings& settings, const RunSettings& run)
    : host(settings.host),
      alias(settings.alias),
      index(settings.index),
      pty_(run.pty),
      max_buffered_(run.max_buffered),
      on_event_(run.on_event),
      line_events_(run.on_event && run.line_events),
      on_output_(run.on_output),
      read_timeout_(run.read_timeout),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "cannot create eventfd");
  if (needs_decoding_before_lines(run.encoding)) {
    for (auto& decoder : arrival_decoder_) decoder = std::make_unique<Recoder>(run.encoding, "UTF-8");
  } else if (!is_utf8(run.encoding)) {
    reader_recoder_ = std::make_unique<Recoder>(run.encoding, "UTF-8");
    if (line_events_) event_recoder_ = std::make_unique<Recoder>(run.encoding, "UTF-8");
  }
}

std::optional<LineCut> detail::cut_line(std::string_view unread, std::size_t cap, bool pty, bool ended,
                                std::size_t& searched) {
  std::size_t line_end = pty ? 2 : 1;  // "\n", or "\r\n"
  std::size_t window = cap == 0 ? unread.size() : std::min(unread.size(), cap + line_end);
  std::size_t newline = unread.substr(0, window).find('\n', std::min(searched, window));
  if (newline != std::string_view::npos) {
    searched = 0;
    bool fits = cap == 0 || newline <= cap || (pty && newline == cap + 1 && unread[cap] == '\r');
    if (fits) return LineCut{newline, newline + 1, true};
    return LineCut{cap, cap, false};
  }
  searched = window;
  if (cap != 0 && unread.size() >= cap + line_end) {
    searched = 0;
    return LineCut{cap, cap, false};
  }
  if (ended && !unread.empty()) {
    searched = 0;
    return LineCut{unread.size(), unread.size(), false};
  }
  return std::nullopt;
}

void HostState::Buffer::consume(std::size_t count) {
  read_from += count;
  searched = 0;
  if (read_from == bytes.size()) {
    bytes.clear();
    read_from = 0;
  } else if (read_from >= 64 * 1024 && read_from * 2 >= bytes.size()) {
    bytes.erase(0, read_from);
    read_from = 0;
  }
}

void HostState::deliver(const Event& event) const {
  // The handler is the caller's code: whatever it throws must not end the
  // worker, unwind through libssh or cost the host its result. It is dropped
  // (and logged when the host logger is on); later events still come.
  try {
    on_event_(event);
  } catch (const std::exception& e) {
    log_host_line(alias, std::string("on_event handler threw: ") + e.what());
  } catch (...) {
    log_host_line(alias, "on_event handler threw a non-std exception");
  }
}

void HostState::emit(Event::Kind kind, std::string text, std::optional<int> exit_code) const {
  if (!on_event_) return;
  deliver({.kind = kind, .host = host, .alias = alias, .index = index, .text = std::move(text),
           .exit_code = exit_code});
}

void HostState::progress(const std::string& path, std::uint64_t done, std::uint64_t total) const {
  if (!on_event_) return;
  deliver({.kind = Event::Kind::transfer, .host = host, .alias = alias, .index = index,
           .text = path, .bytes_done = done, .bytes_total = total});
}

void HostState::wake() const {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

std::string HostState::finish_line(std::string_view raw, const LineCut& cut, Recoder* recoder) const {
  if (pty_ && cut.at_newline && !raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  return recoder ? recoder->convert(raw) : std::string(raw);
}

void HostState::announce_lines(Stream stream, std::string_view bytes, bool ended) {
  EventLines& lines = event_lines_[stream == Stream::err ? 1 : 0];
  lines.partial.append(bytes);
  std::string_view rest = lines.partial;
  while (auto line = cut(rest, ended, lines.searched)) {
    deliver({.kind = Event::Kind::line, .host = host, .alias = alias, .index = index,
             .stream = stream,
             .text = finish_line(rest.substr(0, line->length), *line, event_recoder_.get())});
    rest.remove_prefix(line->taken);
  }
  lines.partial.erase(0, lines.partial.size() - rest.size());
}

void HostState::append(Stream stream, std::string_view bytes) {
  if (auto& decoder = arrival_decoder_[stream == Stream::err ? 1 : 0]) {
    std::string text = decoder->feed(bytes, false);
    if (!text.empty()) take(stream, text);
    return;
  }
  take(stream, bytes);
}

void HostState::take(Stream stream, std::string_view bytes) {
  // Line events go out before the bytes can be read, as they always have.
  if (line_events_) announce_lines(stream, bytes, false);
  if (on_output_) {
    on_output_(HostAccess::output_of(shared_from_this()), stream, bytes);
    return;
  }
  std::lock_guard lock(mutex_);
  Buffer& b = buffer(stream);
  if (discard_) {
    if (!log_discarded_ || !host_logger_enabled()) return;
    b.bytes.append(bytes);
    log_discarded(b);
    return;
  }
  b.bytes.append(bytes);
  b.starved = false;  // until a waiting reader looks again
  changed_.notify_all();
}

void HostState::log_discarded(Buffer& b) {
  // Nobody reads, so only this bounds a line that never ends: it is
  // logged in pieces, as a reader with that cap would get it.
  constexpr std::size_t piece = 64 * 1024;
  std::size_t cap = max_buffered_ != 0 ? max_buffered_ : piece;
  while (auto found = cut_line(b.unread(), cap, pty_, b.ended, b.searched)) {
    log_host_line(alias, finish_line(b.unread().substr(0, found->length), *found, reader_recoder_.get()));
    b.consume(found->taken);
  }
}

std::size_t HostState::room(Stream stream) const {
  if (max_buffered_ == 0 || on_output_) return SIZE_MAX;
  std::lock_guard lock(mutex_);
  const Buffer& b = buffer(stream);
  if (discard_ || keep_all_ || flushing_ > 0) return SIZE_MAX;
  if (!full(b)) return capacity() - b.held();
  // Both streams share one SSH window: data of the other stream may be stuck
  // behind this one's. A caller that reads stdout to its end before stderr
  // would then wait for ever; this stream goes over its cap instead, for as
  // long as a reader waits on the other stream with nothing it can take (a
  // partial line is nothing to a line reader: see wait_for_output).
  const Buffer& other = other_than(stream);
  if (other.starved && !other.ended) return 32 * 1024;
  return 0;
}

void HostState::end_stream(Stream stream) {
  // Taken out first: finish() ends both streams again, and must not hand
  // the rest to an on_output sink a second time if it threw the first.
  if (auto decoder = std::move(arrival_decoder_[stream == Stream::err ? 1 : 0])) {
    std::string rest = decoder->feed({}, true);  // a cut last character, kept as it is
    // finish() runs on a worker that must not throw: what the sink throws
    // here becomes the host's error, unless it has one already.
    if (!rest.empty()) {
      try {
        take(stream, rest);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }
  if (line_events_) announce_lines(stream, {}, true);
  std::lock_guard lock(mutex_);
  Buffer& b = buffer(stream);
  b.ended = true;
  changed_.notify_all();
  if (discard_ && log_discarded_ && host_logger_enabled()) log_discarded(b);  // a last line without '\n'
}

void HostState::set_waiting() {
  std::lock_guard lock(mutex_);
  if (phase_ == Phase::submitted || phase_ == Phase::working) phase_ = Phase::waiting;
  phase_changed_.notify_all();
}

void HostState::set_working() {
  std::lock_guard lock(mutex_);
  if (phase_ == Phase::submitted || phase_ == Phase::waiting) phase_ = Phase::working;
}

void HostState::set_started() {
  std::lock_guard lock(mutex_);
  phase_ = Phase::started;
  phase_changed_.notify_all();
}

bool HostState::started() const {
  std::lock_guard lock(mutex_);
  return phase_ == Phase::started;
}

void HostState::set_exit(int code, std::optional<std::string> signal) {
  std::lock_guard lock(mutex_);
  exit_code_ = code;
  exit_signal_ = std::move(signal);
}

void HostState::fail(std::exception_ptr error) {
  std::lock_guard lock(mutex_);
  error_ = std::move(error);
}

void HostState::finish() {
  end_stream(Stream::out);
  end_stream(Stream::err);
  // The last event goes out before waiters wake: when join() returns, every
  // event of the host has been delivered.
  if (error_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      emit(Event::Kind::failed, e.what());
    } catch (...) {
      emit(Event::Kind::failed, "a non-std exception");
    }
  } else {
    emit(Event::Kind::finished, {}, exit_code_);
  }
  std::lock_guard lock(mutex_);
  phase_ = Phase::finished;
  changed_.notify_all();  // flush_stdin waits for the end too
  phase_changed_.notify_all();
}

StopReason HostState::stop_reason() const { return stop_.reason(); }

void HostState::follow(std::stop_token cancel) {
  cancel_link_.emplace(std::move(cancel), [this] { request_stop(StopReason::cancelled); });
}

void HostState::throw_if_cancelled(const std::string& what) const {
  if (stop_reason() == StopReason::cancelled) throw Cancelled(host, what + " on " + host + " was cancelled");
}

bool HostState::take_stdin(std::string& into) {
  std::lock_guard lock(mutex_);
  into.append(stdin_queue_);
  stdin_queue_.clear();
  return stdin_eof_;
}

void HostState::stdin_sent(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  stdin_sent_ += bytes;
  changed_.notify_all();
}

template <class Ready>
void HostState::wait_for_output(std::unique_lock<std::mutex>& lock, Stream stream,
                                const char* what, Ready ready) {
  Buffer& b = buffer(stream);
  // A starved reader lets the other stream go over its cap (see room());
  // the lock is held from here to the end, the Timeout's unwinding included.
  struct Waiting {
    Buffer& b;
    explicit Waiting(Buffer& buffer) : b(buffer) { ++b.readers_waiting; }
    ~Waiting() {
      if (--b.readers_waiting == 0) b.starved = false;
    }
  } waiting(b);
  std::optional<Clock::time_point> deadline;
  if (read_timeout_ && read_timeout_->count() > 0) deadline = Clock::now() + *read_timeout_;
  while (!ready()) {
    // Only new bytes clear it (append): a reader that could take some
    // leaves it to the others still waiting.
    b.starved = true;
    // The worker may hold this stream's data back behind the other, full one.
    if (full(other_than(stream))) wake();
    if (!deadline) {
      changed_.wait(lock);
    } else if (changed_.wait_until(lock, *deadline) == std::cv_status::timeout && !ready()) {
      throw Timeout(host, std::string("no ") + what + " from " + host + " on " +
                              (stream == Stream::out ? "stdout" : "stderr") + " within " +
                              duration_text(*read_timeout_) +
                              " (read_timeout); read again to go on waiting");
    }
  }
}

std::optional<std::string> HostState::next_line(Stream stream) {
  std::unique_lock lock(mutex_);
  Buffer& b = buffer(stream);
  std::optional<LineCut> found;
  wait_for_output(lock, stream, "output line", [&] {
    found = cut(b.unread(), b.ended, b.searched);
    return found || b.ended;
  });
  if (!found) return std::nullopt;
  bool was_full = full(b);
  std::string line = finish_line(b.unread().substr(0, found->length), *found, reader_recoder_.get());
  b.consume(found->taken);
  lock.unlock();
  if (was_full) wake();
  log_host_line(alias, line);
  return line;
}

std::optional<std::string> HostState::next_chunk(Stream stream) {
  std::unique_lock lock(mutex_);
  Buffer& b = buffer(stream);
  wait_for_output(lock, stream, "output", [&] { return !b.drained() || b.ended; });
  if (b.drained()) return std::nullopt;
  bool was_full = full(b);
  std::string chunk;
  if (b.read_from == 0) chunk.swap(b.bytes);  // the common case: no copy
  else chunk.assign(b.unread());
  b.consume(b.held());
  lock.unlock();
  if (was_full) wake();
  return chunk;
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
  // The command may answer its input before it reads more (cat): while this
  // waits nobody reads, so a capped stream would stop it for ever.
  ++flushing_;
  if (full(out_) || full(err_)) wake();
  changed_.wait(lock, [&] { return stdin_sent_ >= target || phase_ == Phase::finished; });
  --flushing_;
}

void HostState::request_stop(StopReason reason) {
  if (finished()) return;
  if (stop_.request(reason)) wake();
}

void HostState::set_read_timeout(duration timeout) {
  std::lock_guard lock(mutex_);
  read_timeout_ = timeout;
}

void HostState::discard_output(bool log) {
  {
    std::lock_guard lock(mutex_);
    discard_ = true;
    log_discarded_ = log;
    for (Buffer* b : {&out_, &err_}) {
      if (log && host_logger_enabled()) {
        log_discarded(*b);  // a partial last line waits for its end
      } else {
        b->bytes = {};
        b->read_from = b->searched = 0;
      }
    }
  }
  wake();
}

void HostState::wait_dispatched() {
  std::unique_lock lock(mutex_);
  phase_changed_.wait(lock, [&] {
    return phase_ == Phase::waiting || phase_ == Phase::started || phase_ == Phase::finished;
  });
}

void HostState::keep_all() {
  std::lock_guard lock(mutex_);
  if (keep_all_) return;
  keep_all_ = true;
  if (full(out_) || full(err_)) wake();  // the worker waits for room: there is now
}

bool HostState::wait_finished_until(std::optional<Clock::time_point> deadline) {
  keep_all();
  std::unique_lock lock(mutex_);
  if (!deadline) {
    phase_changed_.wait(lock, [&] { return phase_ == Phase::finished; });
    return true;
  }
  return phase_changed_.wait_until(lock, *deadline, [&] { return phase_ == Phase::finished; });
}

bool HostState::finished() const {
  std::lock_guard lock(mutex_);
  return phase_ == Phase::finished;
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

}  // namespace pssh
