// The path of a byte of output: sshd -> socket -> libssh decodes the packet
// into the channel's buffer (in ssh_event_dopoll or any other libssh call of
// the worker) -> Pump::read_output, the one place output leaves libssh ->
// SudoPrompt::filter, through sudo, takes its markers out ->
// HostState::append, which hands the bytes to RunOptions::on_output or
// appends them to the host's buffer -> HostState::next_line (cut there) or
// next_chunk -> the caller's LineRange or ChunkRange.
#include "engine/command_pump.hpp"

#include "ssh/agent_forward.hpp"

#include "config/remote_env.hpp"

#include "text/text.hpp"

#include <pssh/errors.hpp>

#include <libssh/callbacks.h>
#include <libssh/server.h>  // ssh_send_keepalive, which clients may send too

#include <poll.h>
#include <unistd.h>

#include <map>

extern char** environ;

namespace pssh::detail {
namespace {

/// What libssh reports on the channel while packets are processed, whichever
/// call processes them. Output is not taken here but by Pump::read_output:
/// what is not read stays in libssh's channel buffer, whose unread bytes
/// keep the SSH window closed (back-pressure on the server).
struct ChannelEvents {
  std::optional<int> status;
  std::optional<std::string> signal;
  /// Output reached libssh's channel buffer since the pump last looked.
  /// Any libssh call may take it off the socket (reading the other stream,
  /// writing stdin, a keepalive): the pump must not then wait on a socket
  /// that has nothing more to say (it stalled until the next keepalive).
  bool output_arrived = false;
  bool exited() const { return status || signal; }
};

/// Takes nothing (libssh keeps the bytes in the channel's buffer for
/// Pump::read_output); only notes that they came.
int on_data(ssh_session, ssh_channel, void*, uint32_t, int, void* user) {
  static_cast<ChannelEvents*>(user)->output_arrived = true;
  return 0;
}

void on_exit_status(ssh_session, ssh_channel, int status, void* user) {
  static_cast<ChannelEvents*>(user)->status = status;
}

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int, const char*, const char*,
                    void* user) {
  static_cast<ChannelEvents*>(user)->signal = signal != nullptr ? signal : "";
}

/// A killed command exits "128 + signal number", as shells report it.
int exit_code_for_signal(const std::string& name) {
  static const std::map<std::string, int> numbers{
      {"HUP", 1},   {"INT", 2},   {"QUIT", 3},  {"ILL", 4},   {"ABRT", 6},  {"FPE", 8},
      {"KILL", 9},  {"USR1", 10}, {"SEGV", 11}, {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14},
      {"TERM", 15}};
  auto found = numbers.find(name);
  return found == numbers.end() ? 255 : 128 + found->second;
}

/// Any libssh call on the session may poll the wake fd (it shares the
/// event's poll context), so a wake-up is remembered, not just drained.
int drain_wake_fd(socket_t fd, int, void* user) {
  std::uint64_t count;
  [[maybe_unused]] auto n = ::read(fd, &count, sizeof count);
  *static_cast<bool*>(user) = true;
  return 0;
}

/// Waits on the session's socket and the host's wake fd at once, so that
/// output, stdin writes, reads freeing buffer room and stop requests all wake
/// the worker, and idle waiting costs no CPU.
class Waiter {
 public:
  Waiter(ssh_session session, int wake_fd)
      : event_(ssh_event_new()), session_(session), wake_fd_(wake_fd) {
    if (!event_ || ssh_event_add_session(event_.get(), session_) != SSH_OK ||
        ssh_event_add_fd(event_.get(), wake_fd_, POLLIN, drain_wake_fd, &woken_) != SSH_OK) {
      throw std::runtime_error("cannot set up the event loop");
    }
  }
  ~Waiter() {
    ssh_event_remove_fd(event_.get(), wake_fd_);
    ssh_event_remove_session(event_.get(), session_);
  }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  enum class Woke { activity, idle, error };
  /// Waits for the socket or the wake fd, at most `timeout_ms` (-1: no limit).
  Woke wait(int timeout_ms) {
    if (std::exchange(woken_, false)) return Woke::activity;
    switch (ssh_event_dopoll(event_.get(), timeout_ms)) {
      case SSH_ERROR:
        return Woke::error;
      case SSH_AGAIN:
        return Woke::idle;
      default:
        return Woke::activity;
    }
  }
  ssh_event event() const noexcept { return event_.get(); }

 private:
  bool woken_ = false;
  EventPtr event_;
  ssh_session session_;
  int wake_fd_;
};


/// The error a command stopped by a timeout or cancel reports: the host
/// reports that error and no exit code (a close_channel() is not an error).
void throw_if_stopped(StopReason reason, const HostState& state, const CommandSpec& spec) {
  std::string what = spec.shell ? "shell" : "command";
  if (reason == StopReason::timeout) {
    throw Timeout(state.host, what + " on " + state.host + " did not finish within " +
                                  duration_text(spec.timeout.value_or(duration::zero())) +
                                  " (timeout); it was sent TERM");
  }
  if (reason == StopReason::cancelled) {
    throw Cancelled(state.host, what + " on " + state.host + " was cancelled; it was sent TERM");
  }
}

/// Asks the server to set one variable for the command. libssh 0.10 always
/// wants a reply to an "env" request, and OpenSSH answers a variable its
/// AcceptEnv does not allow with a failure, which libssh returns as
/// SSH_ERROR with SSH_REQUEST_DENIED while the channel stays open. ssh(1)
/// wants no reply and never learns of a refusal: here too a refused variable
/// is left out and the command runs. Only a broken connection is an error.
void request_env(Session& session, ssh_channel ch, const std::string& name,
                 const std::string& value) {
  if (session.step([&] { return ssh_channel_request_env(ch, name.c_str(), value.c_str()); }) ==
      SSH_OK)
    return;
  std::string what = "sending the environment variable " + name;
  session.throw_if_cut(what);
  bool refused = ssh_get_error_code(session.handle()) == SSH_REQUEST_DENIED &&
                 ssh_is_connected(session.handle()) != 0 && ssh_channel_is_open(ch) != 0;
  if (!refused) session.fail<SessionError>(what);
}

class Pump {
 public:
  Pump(Session& session, HostState& state, const CommandSpec& spec, ssh_channel channel,
       AgentForwarding* agents, SudoPrompt* sudo)
      : session_(session),
        state_(state),
        spec_(spec),
        channel_(channel),
        agents_(agents),
        sudo_(sudo) {}

  /// Moves output and stdin until the command exits (and its output is all
  /// taken) or is stopped.
  StopReason run(ChannelEvents& events) {
    try {
      return pump(events);
    } catch (const CutAfterClose&) {
      return StopReason::closed_by_caller;
    }
  }

 private:
  /// The connection was cut after close_channel() (the worker was in the
  /// on_output sink past the grace period): no error, as for any close.
  struct CutAfterClose {};

  StopReason pump(ChannelEvents& events) {
    Waiter waiter(session_.handle(), state_.wake_fd());
    struct DetachAgents {
      AgentForwarding* agents;
      ssh_event event;
      ~DetachAgents() {
        if (agents) agents->detach(event);
      }
    } detach{agents_, waiter.event()};
    duration keepalive = session_.settings().keepalive;
    int wait_ms = keepalive > duration::zero() ? static_cast<int>(keepalive.count()) : -1;
    for (;;) {
      // A cut connection may still deliver what the server keeps sending
      // (a cut shuts only its reading side, and Linux queues what comes):
      // the cut, not the end of that stream, ends the command.
      if (session_.was_cut()) lost_connection();
      bool progressed = read_output();
      progressed |= write_stdin();
      if (agents_) progressed |= agents_->pump(waiter.event());
      if (!stop_seen_ && state_.stop_reason() != StopReason::none) {
        stop();
        if (state_.stop_reason() == StopReason::closed_by_caller) return StopReason::closed_by_caller;
        progressed = true;
      }
      if (ended(events)) return stop_seen_ ? state_.stop_reason() : StopReason::none;
      progressed |= std::exchange(events.output_arrived, false);
      if (!progressed) {
        switch (waiter.wait(wait_ms)) {
          case Waiter::Woke::error:
            lost_connection();
          case Waiter::Woke::activity:
            break;
          case Waiter::Woke::idle:
            send_keepalive();
            break;
        }
      }
    }
  }

  /// The command is over and nothing of its output waits in libssh. Each
  /// stream ends on its own once the server sent EOF and libssh holds none
  /// of it: stdout read to its end does not wait for stderr to be read.
  bool ended(const ChannelEvents& events) {
    if (!ssh_channel_is_eof(channel_) && !ssh_channel_is_closed(channel_)) return false;
    bool drained = true;
    for (Stream stream : {Stream::out, Stream::err}) {
      bool& ended = stream_ended_[stream == Stream::err ? 1 : 0];
      if (ended) continue;
      int pending = ssh_channel_poll(channel_, stream == Stream::err ? 1 : 0);
      if (pending == SSH_ERROR) lost_connection();
      if (pending > 0) {
        drained = false;
      } else {
        if (sudo_ && stream == sudo_->stream()) deliver_held(stream);
        state_.end_stream(stream);
        ended = true;
      }
    }
    return drained && (events.exited() || ssh_channel_is_closed(channel_));
  }

  /// Takes what waits in libssh's channel buffers, as far as the host's
  /// buffers have room, and lets libssh process what waits on the socket.
  bool read_output() {
    bool progressed = false;
    for (Stream stream : {Stream::out, Stream::err}) {
      std::size_t room = std::min(state_.room(stream), sizeof buffer_);
      if (room == 0) continue;
      int n = ssh_channel_read_nonblocking(channel_, buffer_, static_cast<std::uint32_t>(room),
                                           stream == Stream::err ? 1 : 0);
      if (n == SSH_ERROR) lost_connection();
      if (n > 0) {
        deliver(stream, std::string_view(buffer_, static_cast<std::size_t>(n)));
        progressed = true;
      }
    }
    return progressed;
  }

  /// Hands output to the host, less sudo's markers (bytes that may begin
  /// one wait for the next packet).
  void deliver(Stream stream, std::string_view bytes) {
    ending_on_error([&] {
      bool from_sudo = sudo_ && stream == sudo_->stream();
      append(stream, from_sudo ? sudo_->filter(bytes) : bytes);
      if (from_sudo) sudo_->check();
    });
  }

  /// At the end of sudo's stream, what its watcher held back is output.
  void deliver_held(Stream stream) {
    ending_on_error([&] { append(stream, sudo_->flush()); });
  }

  void append(Stream stream, std::string_view bytes) {
    if (!bytes.empty()) state_.append(stream, bytes);
  }

  /// An on_output sink that throws fails the host, as sudo refusing does:
  /// its command is ended as close_channel() would, not left running (nor
  /// sudo waiting for a password). Something not derived from
  /// std::exception is replaced by a SessionError that says so: every
  /// reader of errors expects a message.
  template <class Work>
  void ending_on_error(Work work) {
    try {
      work();
    } catch (const std::exception&) {
      hang_up();
      throw;
    } catch (...) {
      hang_up();
      throw SessionError(state_.host, "the on_output sink threw a non-std exception for " +
                                          state_.host + "; its command was ended");
    }
  }

  void hang_up() {
    ssh_channel_request_send_signal(channel_, "TERM");
    ssh_channel_close(channel_);
  }

  /// Sends queued stdin within the channel's window only, so that a command
  /// that does not read its stdin never blocks the pump (its output is still
  /// read, and stop requests still seen). The rest waits for a window adjust.
  /// Through sudo, the password goes first, and the caller's stdin only once
  /// sudo started the command.
  bool write_stdin() {
    if (sudo_ && sudo_->holds_stdin()) {
      std::size_t n = send(sudo_->answer());
      sudo_->answer_sent(n);
      return n > 0;
    }
    bool closed = state_.take_stdin(stdin_);
    // Written after EOF, or after the command closed its channel (`head -n1`
    // exits while the caller writes on): nobody can read it, and it is no
    // error of the host's. It counts as sent, so flush() does not wait.
    if (eof_sent_ || ssh_channel_is_closed(channel_)) return drop_stdin();
    std::size_t n = send(std::string_view(stdin_).substr(stdin_offset_));
    if (ssh_channel_is_closed(channel_)) return drop_stdin();
    stdin_offset_ += n;
    state_.stdin_sent(n);
    bool progressed = n > 0;
    if (stdin_offset_ == stdin_.size()) {
      stdin_.clear();
      stdin_offset_ = 0;
      if (closed && !eof_sent_) {
        ssh_channel_send_eof(channel_);
        eof_sent_ = true;
      }
    }
    return progressed;
  }

  /// Writes what of `bytes` the window takes; 0 when the command closed its
  /// channel (nobody reads any more).
  std::size_t send(std::string_view bytes) {
    std::size_t size = std::min(bytes.size(), std::size_t{ssh_channel_window_size(channel_)});
    if (size == 0 || ssh_channel_is_closed(channel_)) return 0;
    int n = session_.step([&] {
      return ssh_channel_write(channel_, bytes.data(), static_cast<std::uint32_t>(size));
    });
    if (n != SSH_ERROR) return static_cast<std::size_t>(n);
    if (ssh_channel_is_closed(channel_)) return 0;
    lost_connection();
  }

  bool drop_stdin() {
    if (stdin_offset_ < stdin_.size()) state_.stdin_sent(stdin_.size() - stdin_offset_);
    stdin_.clear();
    stdin_offset_ = 0;
    return false;
  }

  /// Signals the command (sshd delivers it to the process). A close ends
  /// the channel now; after a timeout or cancel the command gets the grace
  /// period to exit before the stop hook cuts the connection.
  void stop() {
    stop_seen_ = true;
    if (state_.stop_reason() == StopReason::closed_by_caller) {
      hang_up();
      return;
    }
    ssh_channel_request_send_signal(channel_, "TERM");
    if (!eof_sent_) ssh_channel_send_eof(channel_);
    eof_sent_ = true;
  }

  /// ssh_send_keepalive waits for the server's answer, so a dead connection
  /// shows as this step running out of time.
  void send_keepalive() {
    duration interval = session_.settings().keepalive;
    int count_max = session_.settings().keepalive_count_max;
    session_.step_within(interval * count_max,
                         [&] { return ssh_send_keepalive(session_.handle()); });
    if (session_.deadline_passed() && state_.stop_reason() == StopReason::none) {
      throw Timeout(state_.host, "no answer from " + state_.host + " to a keepalive within " +
                                     duration_text(interval * count_max) +
                                     "; the connection is dead (keepalive " +
                                     duration_text(interval) + ")");
    }
    if (session_.was_cut()) lost_connection();
  }

  /// A stop the pump had no time to see (the worker was in the on_output
  /// sink when the grace period ended and the connection was cut) is still
  /// the host's outcome, not a lost connection.
  [[noreturn]] void lost_connection() {
    StopReason reason = state_.stop_reason();
    throw_if_stopped(reason, state_, spec_);
    if (reason == StopReason::closed_by_caller) throw CutAfterClose{};
    session_.fail<ConnectionError>("running the command (connection lost)");
  }

  Session& session_;
  HostState& state_;
  const CommandSpec& spec_;
  ssh_channel channel_;
  AgentForwarding* agents_;
  SudoPrompt* sudo_;
  bool eof_sent_ = false;
  bool stream_ended_[2] = {false, false};  // stdout, stderr
  std::string stdin_;  // taken from the host's queue, not yet in the window
  std::size_t stdin_offset_ = 0;
  bool stop_seen_ = false;  // the command was signalled (or hung up) for the run's stop
  char buffer_[32 * 1024];
};

/// Channel callbacks for one scope. They point into the caller's stack
/// frame, and libssh keeps a channel freed before the server closed it (it
/// may still hand it late packets), so they come off on every way out,
/// throws included.
class ScopedChannelCallbacks {
 public:
  ScopedChannelCallbacks(ssh_channel channel, ssh_channel_callbacks callbacks)
      : channel_(channel), callbacks_(callbacks) {
    ssh_set_channel_callbacks(channel_, callbacks_);
  }
  ~ScopedChannelCallbacks() { ssh_remove_channel_callbacks(channel_, callbacks_); }
  ScopedChannelCallbacks(const ScopedChannelCallbacks&) = delete;
  ScopedChannelCallbacks& operator=(const ScopedChannelCallbacks&) = delete;

 private:
  ssh_channel channel_;
  ssh_channel_callbacks callbacks_;
};

}  // namespace

void run_on_channel(Session& session, HostState& state, const CommandSpec& spec) {
  ChannelPtr channel = session.open_channel("opening a channel");
  ssh_channel ch = channel.get();

  std::optional<AgentForwarding> agents;
  if (session.settings().forward_agent) agents.emplace(session, ch);

  ChannelEvents events;
  ssh_channel_callbacks_struct callbacks{};
  callbacks.userdata = &events;
  callbacks.channel_exit_status_function = on_exit_status;
  callbacks.channel_exit_signal_function = on_exit_signal;
  callbacks.channel_data_function = on_data;
  ssh_callbacks_init(&callbacks);
  ScopedChannelCallbacks installed(ch, &callbacks);

  if (spec.pty && session.step([&] { return ssh_channel_request_pty_size(ch, "xterm", 80, 24); }) !=
                      SSH_OK)
    session.fail<SessionError>("requesting a PTY");
  for (const auto& [name, value] : remote_environment(session.settings(), spec.env, environ))
    request_env(session, ch, name, value);
  if (spec.shell) {
    if (session.step([&] { return ssh_channel_request_shell(ch); }) != SSH_OK)
      session.fail<ShellError>("starting a shell");
  } else if (session.step([&] { return ssh_channel_request_exec(ch, spec.command.c_str()); }) !=
             SSH_OK) {
    session.fail<SessionError>("starting the command");
  }
  state.set_started();
  state.emit(Event::Kind::started);

  Watchdog::Ticket command_deadline;
  if (spec.timeout) {
    command_deadline = session.watchdog().arm(
        Clock::now() + *spec.timeout, [&state] { state.request_stop(StopReason::timeout); });
  }
  std::optional<SudoPrompt> sudo;
  if (spec.sudo) sudo.emplace(*spec.sudo, spec.pty, session.settings().user, state.host);
  StopReason stopped = Pump(session, state, spec, ch, agents ? &*agents : nullptr,
                            sudo ? &*sudo : nullptr)
                           .run(events);
  command_deadline.disarm();

  throw_if_stopped(stopped, state, spec);
  if (sudo && stopped == StopReason::none) sudo->check_ended();
  if (events.status) state.set_exit(*events.status, events.signal);
  else if (events.signal) state.set_exit(exit_code_for_signal(*events.signal), events.signal);
  if (stopped == StopReason::none) {
    if (!events.exited()) {
      throw SessionError(state.host, "command on " + state.host +
                                         " ended without an exit status; the server closed the channel");
    }
    if (!ssh_channel_is_closed(ch)) session.step([&] { return ssh_channel_close(ch); });
  }
}

}  // namespace pssh::detail
