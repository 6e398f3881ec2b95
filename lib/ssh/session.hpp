// One host's SSH connection: our own socket, the libssh session on it, and
// the deadline around every blocking libssh call.
#pragma once

#include "base/stop_source.hpp"
#include "base/unique_fd.hpp"
#include "base/watchdog.hpp"
#include "config/settings.hpp"
#include "net/proxy_command.hpp"
#include "ssh/handles.hpp"
#include "ssh/proxy_hub.hpp"

#include <pssh/errors.hpp>
#include <pssh/event.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

namespace pssh::detail {

class Session {
 public:
  /// `hub`, if set, is the proxy the host is reached through.
  Session(HostSettings settings, std::shared_ptr<ProxyHub> hub, Watchdog& watchdog);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const HostSettings& settings() const noexcept { return settings_; }
  ssh_session handle() const noexcept { return session_.get(); }
  Watchdog& watchdog() const noexcept { return watchdog_; }

  /// The run the session works for from now on (before open() and each
  /// piece of work): its token ends the session's waits (name resolution,
  /// a proxy, the agent, the pause before a retry), and its reason names a
  /// cut connection in errors. A stop does not cut the connection itself:
  /// the engine calls cut() when the stop's grace period ends. nullptr:
  /// none (between runs: the run's state may go before the session).
  void serve(const StopSource* run) noexcept { run_ = run; }
  /// The run's stop token; a session serving no run has one never stopped.
  std::stop_token stop_token() const noexcept { return run_ ? run_->token() : std::stop_token(); }
  /// Cancelled if the run served was asked to stop: a wait its token ended
  /// returns before the connection is cut.
  void throw_if_stopped(std::string_view what) const;
  /// Connects, checks the host key and logs in, making failed connections
  /// up to `num_retries` attempts in all. `progress` hears connecting/connected/authenticated.
  void open(const std::function<void(Event::Kind)>& progress);
  /// Connected, logged in, and not cut.
  bool is_open() const;
  /// is_open(), after taking in what the server sent while the connection
  /// was idle: a server that hung up since the last use (tinysshd after its
  /// one session, an idle timeout, a restart) is noticed here, before a
  /// command is given to a dead connection.
  bool still_open();
  /// The server takes one session channel per connection (tinysshd): a
  /// connection that served one is not used again.
  bool one_channel_only() const;

  /// Opens a session channel; E names the failure (what: "opening a
  /// channel", "starting SFTP", ...). A refusal of the work's first channel
  /// is remembered (refused_first_channel): nothing ran on the host then.
  template <class E = SessionError>
  ChannelPtr open_channel(std::string_view what) {
    ChannelPtr channel(ssh_channel_new(handle()));
    if (channel && step([&] { return ssh_channel_open_session(channel.get()); }) == SSH_OK) {
      ++channels_opened_;
      return channel;
    }
    refused_first_channel_ = channels_opened_ == channels_before_work_ && !was_cut();
    fail<E>(what);
  }
  /// Marks the start of one piece of work (a command, a transfer, a shell).
  void begin_work() noexcept {
    channels_before_work_ = channels_opened_;
    refused_first_channel_ = false;
  }
  /// The server refused or dropped the current work's first channel, before
  /// anything ran on it: the work may be tried again on a new connection.
  bool refused_first_channel() const noexcept { return refused_first_channel_; }
  /// Channels opened on this connection so far.
  std::size_t channels_opened() const noexcept { return channels_opened_; }
  /// Ends a channel as OpenSSH does before it is freed: our EOF, then the
  /// server's EOF (a short, bounded wait). Dropbear, given the next channel
  /// while the last one's process still exits, closed the new channel at
  /// once (about one SFTP start in ten back to back).
  void finish_channel(ssh_channel channel) noexcept;

  /// Runs one blocking libssh call under the session timeout: when it passes,
  /// the watchdog cuts the connection and the call returns with an error.
  template <class Call>
  auto step(Call&& call) {
    return step_within(settings_.timeout, std::forward<Call>(call));
  }
  /// step() with its own limit.
  template <class Call>
  auto step_within(duration limit, Call&& call) {
    // No step starts on a cut connection: it could only fail.
    throw_if_cut("the session");
    set_backstop(limit);
    step_limit_ = limit;
    auto ticket = watchdog_.arm(Clock::now() + limit, [this] { cut_at_deadline(); });
    return call();
  }
  /// step() for a login method: `method` makes its ssh_userauth_* calls
  /// through answered(), with libssh non-blocking. Between a call's tries
  /// the worker waits on the connection itself, so a server that hangs up
  /// mid-call (sshd at MaxAuthTries) ends the call at once: libssh 0.10's
  /// own wait closes its descriptor at the server's disconnect and then
  /// sleeps out its timeout. A cut (deadline, stop) wakes the wait too.
  template <class Method>
  int login_step(Method&& method) {
    return step([&] {
      ssh_set_blocking(handle(), 0);
      struct Blocking {
        ssh_session ssh;
        ~Blocking() { ssh_set_blocking(ssh, 1); }
      } restore{handle()};
      return method();
    });
  }
  /// Within login_step(): `call` (one ssh_userauth_* call) again until the
  /// server has answered; SSH_AUTH_ERROR once the connection is gone.
  template <class Call>
  int answered(Call&& call) {
    for (;;) {
      int rc = call();
      if (rc != SSH_AUTH_AGAIN) return rc;
      if (!wait_for_server()) return SSH_AUTH_ERROR;
    }
  }
  /// The connection was cut: by a stop of the run, or by a step's deadline.
  bool was_cut() const noexcept { return cut_.load(); }
  /// The cut was a step's own deadline (a keepalive unanswered, ...).
  bool deadline_passed() const noexcept { return deadline_passed_.load(); }
  /// Throws the error a failed step (named by `what`) stands for: Timeout or
  /// Cancelled if the connection was cut, else an error of type E with
  /// libssh's message.
  template <class E = SessionError>
  [[noreturn]] void fail(std::string_view what) const {
    throw_if_cut(what);
    throw_if_proxy_failed(what);
    throw E(settings_.host, failure_message(what));
  }
  /// Cancelled, or Timeout naming the step's limit, if the connection was
  /// cut; the run's stop outranks the step's deadline.
  void throw_if_cut(std::string_view what) const;
  /// ProxyError if the session's tunnel broke (the proxy refused or was
  /// lost), or its ProxyCommand ended or closed the connection.
  void throw_if_proxy_failed(std::string_view what) const;
  std::string failure_message(std::string_view what) const;

  /// Cuts the connection: every blocking call on the session returns now,
  /// and none starts (any thread).
  void cut() noexcept;
  /// libssh asks the agent over this connection (a duplicate, which libssh
  /// closes) instead of its own: cut() cuts ours, so a hung agent cannot
  /// outlast a deadline or a cancel. False if libssh would not take it.
  bool use_agent_socket(UniqueFd agent);
  void close() noexcept;

 private:
  /// Waits until the connection can be read (or written, if libssh has
  /// output pending), is closed, or is cut; false if it is gone already.
  bool wait_for_server();
  void connect_once(const std::function<void(Event::Kind)>& progress);
  UniqueFd connect_socket();
  UniqueFd connect_through_proxy();
  /// The server's first line (its banner, or what a server that is not SSH
  /// says), read without taking it from the socket: libssh reads it again.
  /// Nothing if the server closed the connection without a word.
  std::optional<std::string> peek_first_line(int fd);
  /// SessionError saying what the server did when the handshake failed
  /// (one that open() tries again).
  [[noreturn]] void fail_handshake(const std::optional<std::string>& first_line);
  UniqueFd start_proxy_command();
  void sleep_before_retry();
  /// libssh's own timeout, a backstop 2 s after the step's deadline: when a
  /// write fails (the server reset the connection), libssh 0.10 closes its
  /// descriptor and polls descriptor -1 until this timeout, where no cut
  /// reaches it; so it follows each step's own limit, not the longest one.
  void set_backstop(duration limit);
  /// The watchdog's action when a step's own limit passes.
  void cut_at_deadline() noexcept;
  /// cut()'s work on whatever descriptors the session has now; fd_mutex_ held.
  void shut_down_locked() noexcept;
  [[noreturn]] void throw_stopped(StopReason reason, std::string_view what) const;
  void set_algorithms(ssh_session s) const;

  HostSettings settings_;
  std::shared_ptr<ProxyHub> hub_;
  Watchdog& watchdog_;
  std::shared_ptr<Tunnel> tunnel_;  // when reached through a proxy
  UniqueFd socket_;  // declared before session_: outlives it
  int libssh_fd_ = -1;  // socket_'s duplicate given to libssh (see close())
  bool libssh_connected_ = false;
  SessionPtr session_;
  bool authenticated_ = false;
  std::size_t channels_opened_ = 0, channels_before_work_ = 0;
  bool refused_first_channel_ = false;
  mutable std::mutex fd_mutex_;  // guards fd_ and agent_ against cut() from other threads
  int fd_ = -1;
  UniqueFd agent_;  // see use_agent_socket()
  // The transport when settings_.proxy_command is set; replaced only by the
  // session's own thread, read by cut() under fd_mutex_.
  std::unique_ptr<ProxyCommand> proxy_command_;
  const StopSource* run_ = nullptr;  // see serve()
  std::atomic<bool> cut_{false};     // see was_cut(); reset when a new connection starts
  std::atomic<bool> deadline_passed_{false};
  duration step_limit_{};  // the running (or last) step's limit, for messages
};

/// Checks the server's key against known_hosts per host_key_policy.
void verify_host_key(Session& session);
/// Logs in with the configured methods, in order; AuthenticationError if none works.
void authenticate(Session& session);

}  // namespace pssh::detail
